"""Follow the system's light or dark colour scheme.

Where the platform theme already paints in the system's scheme (macOS, Windows 11,
KDE) nothing is changed. Where it does not (GNOME and the bare Fusion style report
the scheme through ``QStyleHints.colorScheme()`` but keep a light palette), the app
switches to Fusion with a dark palette, and back when the system goes light again.
"""

from __future__ import annotations

from PySide6.QtCore import QMetaObject, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

Role = QPalette.ColorRole
Group = QPalette.ColorGroup


def is_dark(palette: QPalette) -> bool:
    """True when window text is lighter than the window behind it."""
    return palette.color(Role.WindowText).lightness() > palette.color(Role.Window).lightness()


def dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        Role.Window: "#2b2b2b", Role.WindowText: "#e6e6e6", Role.Base: "#1f1f1f",
        Role.AlternateBase: "#2f2f2f", Role.ToolTipBase: "#3a3a3a", Role.ToolTipText: "#e6e6e6",
        Role.PlaceholderText: "#8c8c8c", Role.Text: "#e6e6e6", Role.Button: "#353535",
        Role.ButtonText: "#e6e6e6", Role.BrightText: "#ff6b6b", Role.Light: "#4a4a4a",
        Role.Midlight: "#3e3e3e", Role.Mid: "#2e2e2e", Role.Dark: "#1a1a1a", Role.Shadow: "#000000",
        Role.Highlight: "#3d6fd9", Role.HighlightedText: "#ffffff", Role.Link: "#8ab4ff",
        Role.LinkVisited: "#c58af9",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (Role.WindowText, Role.Text, Role.ButtonText):
        palette.setColor(Group.Disabled, role, QColor("#7a7a7a"))
    return palette


def apply_color_scheme(app: QApplication, scheme: Qt.ColorScheme) -> None:
    """Make the palette match ``scheme`` unless it already does; Unknown changes nothing."""
    if scheme == Qt.ColorScheme.Unknown or is_dark(app.palette()) == (scheme == Qt.ColorScheme.Dark):
        return
    if scheme == Qt.ColorScheme.Dark:
        # Native styles (Windows' in particular) ignore parts of a custom palette; Fusion honours it.
        app.setStyle(QStyleFactory.create("Fusion"))
        app.setPalette(dark_palette())
    else:
        app.setPalette(app.style().standardPalette())


def follow_system_theme(app: QApplication) -> QMetaObject.Connection:
    """Match the system's scheme now and whenever it changes; returns the connection,
    which ``QObject.disconnect`` ends."""
    hints = QGuiApplication.styleHints()
    apply_color_scheme(app, hints.colorScheme())
    return hints.colorSchemeChanged.connect(lambda scheme: apply_color_scheme(app, scheme))
