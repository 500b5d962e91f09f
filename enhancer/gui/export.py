"""Exporting a comparison: the composition on screen (with labels, zoom and numbers) and a contact sheet.

Both are ``QImage``s, saved through ``save_image`` (atomic, never over an existing file unless asked) or put
on the clipboard.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter

from enhancer.gui.library import ImageEntry

CAPTION_PX = 26
SHEET_CELL_PX = 360
SHEET_COLUMNS = 3
SHEET_BACKGROUND = QColor(34, 35, 39)
TEXT_COLOUR = QColor(235, 235, 240)


def with_caption(picture: QImage, caption: str) -> QImage:
    """``picture`` with a strip below it saying what it shows."""
    out = QImage(picture.width(), picture.height() + CAPTION_PX, QImage.Format.Format_RGB32)
    out.fill(SHEET_BACKGROUND)
    painter = QPainter(out)
    painter.drawImage(0, 0, picture)
    painter.setPen(TEXT_COLOUR)
    painter.drawText(
        QRect(8, picture.height(), picture.width() - 16, CAPTION_PX),
        Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
        caption,
    )
    painter.end()
    return out


def contact_sheet(entries: list[ImageEntry], numbers: dict[int, str], title: str) -> QImage:
    """Every entry fitted into a cell with its name and its numbers against the reference (if any)."""
    if not entries:
        raise ValueError("nothing to put on a contact sheet")
    columns = min(SHEET_COLUMNS, len(entries))
    rows = math.ceil(len(entries) / columns)
    cell_h = SHEET_CELL_PX + 2 * CAPTION_PX
    sheet = QImage(columns * SHEET_CELL_PX, CAPTION_PX + rows * cell_h, QImage.Format.Format_RGB32)
    sheet.fill(SHEET_BACKGROUND)
    painter = QPainter(sheet)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    painter.setPen(TEXT_COLOUR)
    bold = QFont(painter.font())
    bold.setBold(True)
    painter.setFont(bold)
    painter.drawText(QRect(8, 0, sheet.width() - 16, CAPTION_PX), Qt.AlignmentFlag.AlignVCenter, title)
    painter.setFont(QFont())
    for index, entry in enumerate(entries):
        column, row = index % columns, index // columns
        x, y = column * SHEET_CELL_PX, CAPTION_PX + row * cell_h
        display = entry.display
        fit = min((SHEET_CELL_PX - 12) / display.width(), (SHEET_CELL_PX - 12) / display.height())
        width, height = display.width() * fit, display.height() * fit
        target = QRectF(x + (SHEET_CELL_PX - width) / 2, y + (SHEET_CELL_PX - height) / 2, width, height)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, fit < 1.0)
        painter.drawImage(target, display, QRectF(display.rect()))
        painter.setPen(TEXT_COLOUR)
        painter.drawText(
            QRect(x + 6, y + SHEET_CELL_PX, SHEET_CELL_PX - 12, CAPTION_PX),
            Qt.AlignmentFlag.AlignVCenter,
            f"{entry.short_label} ({entry.size_text})",
        )
        painter.setPen(QColor(190, 190, 198))
        painter.drawText(
            QRect(x + 6, y + SHEET_CELL_PX + CAPTION_PX, SHEET_CELL_PX - 12, CAPTION_PX),
            Qt.AlignmentFlag.AlignVCenter,
            numbers.get(id(entry), ""),
        )
    painter.end()
    return sheet
