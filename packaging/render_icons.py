"""Render resources/nsfw-desktop.svg into the PNG sizes desktops and bundles ask for.

    .venv/bin/python packaging/render_icons.py

Run it after editing the SVG and commit the PNGs: they are the icons that Linux
icon themes (hicolor), the Windows .ico and the macOS .icns are made from.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)  # hicolor's usual sizes, up to the macOS 512


def render(svg: Path, size: int, target: Path) -> None:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG file")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    target.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(target)):
        raise SystemExit(f"could not write {target}")


def main() -> None:
    QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    svg = RESOURCES / "nsfw-desktop.svg"
    for size in SIZES:
        render(svg, size, RESOURCES / "icons" / f"{size}x{size}" / "nsfw-desktop.png")
    sys.stdout.write(f"rendered {len(SIZES)} sizes into {RESOURCES / 'icons'}\n")


if __name__ == "__main__":
    main()
