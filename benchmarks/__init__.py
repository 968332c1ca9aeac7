"""Developer benchmarks, kept out of the installed package (they import the app and build
sample models). Each runs from a source checkout with ``python -m benchmarks.NAME`` and prints
our figure beside a reference figure measured in the same run. The user-facing
``nsfw-desktop bench`` is ``nsfw_desktop.scan.benchmark``."""
