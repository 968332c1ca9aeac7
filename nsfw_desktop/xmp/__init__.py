"""Screening results as keywords in XMP sidecars, for photo managers (digiKam, Immich,
darktable, Lightroom, PhotoPrism). The photo itself is never opened for writing.

- ``keywords``: which keywords a file's state gets (the one rule), in which fields.
- ``sidecar``: finding a photo's sidecar, merging our keywords into it, writing it safely.
- ``tagging``: doing that for stored results (the CLI, the app, the scan hook).
"""
