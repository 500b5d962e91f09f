"""The app's look: Qt's Fusion style, dark (neutral around photos) or light, and a small style sheet.

``system`` (the default) follows the desktop's colour scheme where Qt can read it (Qt 6.5+), else dark.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from enhancer.resources import read_text

STYLE_SHEET = "styles/app.qss"  # in resources/


def dark_palette() -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: QColor(48, 49, 54),
        QPalette.ColorRole.WindowText: QColor(225, 225, 230),
        QPalette.ColorRole.Base: QColor(34, 35, 39),
        QPalette.ColorRole.AlternateBase: QColor(44, 45, 50),
        QPalette.ColorRole.ToolTipBase: QColor(30, 30, 34),
        QPalette.ColorRole.ToolTipText: QColor(230, 230, 235),
        QPalette.ColorRole.Text: QColor(225, 225, 230),
        QPalette.ColorRole.Button: QColor(58, 59, 65),
        QPalette.ColorRole.ButtonText: QColor(230, 230, 235),
        QPalette.ColorRole.BrightText: QColor(255, 90, 90),
        QPalette.ColorRole.Highlight: QColor(64, 120, 200),
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.Link: QColor(110, 165, 240),
        QPalette.ColorRole.PlaceholderText: QColor(140, 140, 148),
    }
    for role, colour in roles.items():
        palette.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 128))
    return palette


THEMES = ("system", "dark", "light")
# The style sheet's colours that are for the dark palette, and their light counterparts.
LIGHT_SHEET_COLOURS = {
    "#2f4a6b": "#d6e4f5",
    "#7a2f2f": "#f6d5d5",
    "#f0f0f0": "#1e1e22",
    "#ff8a80": "#b3261e",
    "#b8b8c0": "#55555d",
    "#c8c8d0": "#404048",
    "#e0b060": "#8a5a00",
    "#5a5a62": "#b0b0b8",
}


def system_prefers_light(app: QApplication) -> bool:
    hints = app.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return scheme is not None and scheme() == Qt.ColorScheme.Light


def resolved_theme(app: QApplication, choice: str) -> str:
    """``dark`` or ``light`` for a choice of ``system``, ``dark`` or ``light``."""
    if choice == "system":
        return "light" if system_prefers_light(app) else "dark"
    return choice if choice in THEMES else "dark"


def apply_theme(app: QApplication, choice: str = "system") -> str:
    """Set the style, palette and style sheet; returns the theme applied (``dark`` or ``light``)."""
    theme = resolved_theme(app, choice)
    app.setStyle("Fusion")
    app.setPalette(dark_palette() if theme == "dark" else app.style().standardPalette())
    sheet = read_text(STYLE_SHEET)
    if theme == "light":
        for dark, light in LIGHT_SHEET_COLOURS.items():
            sheet = sheet.replace(dark, light)
    app.setStyleSheet(sheet)
    app.setProperty("enhancer_theme", theme)
    return theme
