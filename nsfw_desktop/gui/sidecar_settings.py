"""The settings dialog's rows for tags in XMP sidecars: on or off, the keyword root, and
the name a new sidecar gets."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit

from nsfw_desktop.config.settings import Settings

NAMINGS = {"darktable": "photo.jpg.xmp (darktable, digiKam, Immich)",
           "lightroom": "photo.xmp (Lightroom, Bridge)"}


class SidecarSettings:
    def __init__(self) -> None:
        self.keep = QCheckBox("Keep tags in XMP sidecars up to date")
        self.explained = QLabel(
            "Photo managers (digiKam, Immich, darktable, Lightroom, PhotoPrism) read keywords from "
            "XMP sidecar files next to the photos. When this is on, scans, review marks, threshold "
            "changes and quarantine write a keyword such as NSFW|flagged or NSFW|reviewed safe into "
            "each file's sidecar, keeping everything else in it. The photos themselves are never "
            "changed. Edit > Write tags for selection does it on request.", wordWrap=True)
        self.root = QLineEdit()
        self.naming = QComboBox()
        for name, text in NAMINGS.items():
            self.naming.addItem(text, name)

    def add_to(self, form: QFormLayout) -> None:
        form.addRow("Photo managers:", self.keep)
        form.addRow("", self.explained)
        form.addRow("Keyword root:", self.root)
        form.addRow("New sidecar name:", self.naming)

    def fill(self, s: Settings) -> None:
        self.keep.setChecked(s.xmp_sidecars)
        self.root.setText(s.xmp_root)
        self.naming.setCurrentIndex(self.naming.findData(s.xmp_naming))

    def changes(self) -> dict:
        """The edited values, as ``Settings.replace`` takes them."""
        return {"xmp_sidecars": self.keep.isChecked(), "xmp_root": self.root.text().strip(),
                "xmp_naming": self.naming.currentData()}
