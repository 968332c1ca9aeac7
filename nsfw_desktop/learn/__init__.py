"""Measuring a model on labelled photos and learning a personal policy from review marks."""
