"""Exporting a comparison: the on-screen composition and a contact sheet, checked pixel by pixel."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QGuiApplication

from enhancer.gui.export import CAPTION_PX, SHEET_CELL_PX, contact_sheet
from enhancer.imaging.image import ImageData
from enhancer.imaging.io import load_image, save_image
from tests.gui.test_compare_view import entry_of, solid
from tests.gui.test_main_window import open_and_wait, run_and_wait


def test_the_composition_is_the_view_with_a_caption(window, qtbot, image_file, tmp_path):
    open_and_wait(window, qtbot, image_file)
    run_and_wait(window, qtbot, "bicubic", scale=2)
    window.compare.zoom_to(200)
    shown = window.compare.stack.currentWidget().grab().toImage()
    target = tmp_path / "comparison.png"
    window.export_comparison(target)
    qtbot.waitUntil(target.exists, timeout=10_000)
    written = load_image(target)
    assert (written.width, written.height) == (shown.width(), shown.height() + CAPTION_PX)
    middle = shown.pixelColor(shown.width() // 2, shown.height() // 2)
    got = np.round(written.pixels[shown.height() // 2, shown.width() // 2] * 255).astype(int)
    assert tuple(got) == (middle.red(), middle.green(), middle.blue())
    window.copy_comparison()
    assert QGuiApplication.clipboard().image().height() == shown.height() + CAPTION_PX


def test_a_contact_sheet_puts_every_result_in_its_cell_with_its_numbers():
    red, green = entry_of(solid((1.0, 0.0, 0.0)), "input"), None
    green = entry_of(solid((0.0, 1.0, 0.0)), "green", made_from=red)
    blue = entry_of(solid((0.0, 0.0, 1.0)), "blue", made_from=red)
    sheet = contact_sheet([red, green, blue], {id(green): "12.34 dB · SSIM 0.500"}, "title")
    assert (sheet.width(), sheet.height()) == (3 * SHEET_CELL_PX, CAPTION_PX + SHEET_CELL_PX + 2 * CAPTION_PX)
    centre_y = CAPTION_PX + SHEET_CELL_PX // 2
    for column, colour in enumerate(("#ff0000", "#00ff00", "#0000ff")):
        assert sheet.pixelColor(column * SHEET_CELL_PX + SHEET_CELL_PX // 2, centre_y).name() == colour
    assert sheet.pixelColor(2, 2) == QColor(34, 35, 39)


def test_the_contact_sheet_of_the_app_has_the_input_and_its_results(window, qtbot, image_file, tmp_path):
    open_and_wait(window, qtbot, image_file)
    run_and_wait(window, qtbot, "bicubic", scale=2)
    run_and_wait(window, qtbot, "lanczos", scale=2)
    assert [e.short_label for e in window.contact_sheet_entries()][1:] == ["bicubic ×2", "lanczos ×2"]
    target = tmp_path / "sheet.png"
    window.export_contact_sheet(target)
    qtbot.waitUntil(target.exists, timeout=10_000)
    assert load_image(target).width == 3 * SHEET_CELL_PX
    save_image(ImageData(np.zeros((4, 4, 3), np.float32)), tmp_path / "x.png")  # the folder stays writable
