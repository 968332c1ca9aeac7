"""Benchmarks: each module runs with ``python -m nsfw_desktop.benchmarks.NAME`` and prints
our figure beside a reference figure measured in the same run."""
