"""Heatmaps: where the model looked in a picture."""
