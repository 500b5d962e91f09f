"""Numbers against a reference, difference / SSIM / edge views, the loupe and the keyboard, offscreen."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QElapsedTimer, QPointF, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from enhancer.gui.comparison_state import DIFFERENCE_MODE, EDGES_MODE, IMAGE_MODE, SSIM_MODE
from enhancer.imaging import comparison
from enhancer.imaging.image import ImageData
from tests.gui.conftest import assert_responsive
from tests.gui.test_compare_view import entry_of, view  # noqa: F401  (the fixture)


def _photo(h: int = 64, w: int = 80, noise: float = 0.0, seed: int = 0) -> ImageData:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    pixels = np.stack([0.5 + 0.4 * np.sin(x / (4 + c)) * np.cos(y / 6) for c in range(3)], 2)
    if noise:
        pixels = pixels + noise * np.random.default_rng(seed).standard_normal(pixels.shape)
    return ImageData(np.clip(pixels, 0, 1).astype(np.float32))


@pytest.fixture
def pair(view):  # noqa: F811
    original = entry_of(_photo(), "original")
    result = entry_of(_photo(noise=0.05), "result", made_from=original)
    view.set_entries([original, result])
    view.show_in_pane(0, original)
    view.show_in_pane(1, result)
    return original, result


def test_numbers_against_the_reference_match_the_metrics(view, qtbot, pair):  # noqa: F811
    original, result = pair
    view.set_active_pane(0)
    view.set_reference_from_focus()
    assert view.comparison.reference is original
    state = view.comparison
    assert state.numbers_for(result) is None  # asked: computed in the background
    qtbot.waitUntil(lambda: state.numbers_for(result) is not None, timeout=5000)
    expected = comparison.describe(comparison.compare_scores(result.image.pixels, original.image.pixels, 0))
    assert state.numbers_for(result).startswith(expected)
    assert state.reference_text(original) == "reference"


def test_zooming_in_adds_the_visible_region_s_numbers(view, qtbot, pair):  # noqa: F811
    original, result = pair
    view.set_reference(original)
    view.zoom_to(800)
    qtbot.waitUntil(lambda: "view " in (view.comparison.numbers_for(result) or ""), timeout=5000)


def test_the_difference_of_an_image_with_itself_is_zero_and_its_ssim_map_one(view, qtbot):  # noqa: F811
    original = entry_of(_photo(), "original")
    same = entry_of(_photo(), "same pixels", made_from=original)
    view.set_entries([original, same])
    view.show_in_pane(0, original)
    view.show_in_pane(1, same)
    view.set_reference(original)
    zero_colour = QColor(*[int(v) for v in comparison.colour_map(np.zeros(1))[0]])
    for mode in (DIFFERENCE_MODE, SSIM_MODE):
        view.set_view_mode(mode)
        qtbot.waitUntil(lambda: view.comparison.picture_for(same) is not None, timeout=5000)
        picture = view.comparison.picture_for(same)
        colours = {picture.pixelColor(x, y).name() for x in range(0, 80, 7) for y in range(0, 64, 7)}
        assert colours == {zero_colour.name()}, mode
    view.set_view_mode(EDGES_MODE)
    qtbot.waitUntil(lambda: view.comparison.picture_for(original) is not None, timeout=5000)
    view.set_view_mode(IMAGE_MODE)
    assert view.comparison.picture_for(same) is None  # the image itself is drawn


def test_a_different_size_gets_no_numbers_but_says_why(view, pair):  # noqa: F811
    original, _result = pair
    small = entry_of(_photo(32, 40), "small")
    view.set_reference(original)
    assert view.comparison.numbers_for(small) is None
    assert "size differs" in view.comparison.reference_text(small)


def test_the_loupe_shows_the_same_spot_magnified_in_every_pane(view, qtbot, pair):  # noqa: F811
    view.toggle_loupe()
    point = QPointF(40, 32)
    view._on_hovered(point)
    canvases = view.canvases()
    assert all(canvas.loupe_point == point for canvas in canvases)
    assert view.change_loupe_factor(1) == 8 and view.change_loupe_factor(-3) == 2
    before = canvases[0].grab().toImage()
    view.toggle_loupe()
    after = canvases[0].grab().toImage()
    assert before != after


def test_the_keyboard_drives_a_comparison(qtbot, window, image_file):
    from PySide6.QtTest import QTest

    from tests.gui.test_main_window import open_and_wait, run_and_wait

    open_and_wait(window, qtbot, image_file)
    run_and_wait(window, qtbot, "bicubic", scale=2)
    compare = window.compare
    compare.setFocus()
    QTest.keyClick(window, Qt.Key.Key_D)
    assert compare.comparison.mode == DIFFERENCE_MODE
    QTest.keyClick(window, Qt.Key.Key_L)
    assert compare.comparison.loupe_on
    QTest.keyClick(window, Qt.Key.Key_R)
    assert compare.comparison.reference is compare.focused_entry()
    QTest.keyClick(window, Qt.Key.Key_Space)  # the focused result flips to its input
    assert compare.focused_entry() is window.library.current_input
    QTest.keyClick(window, Qt.Key.Key_1)
    assert compare.focused_entry() is window.library.results()[0]
    before = compare.active_pane
    QTest.keyClick(window, Qt.Key.Key_P)
    assert compare.active_pane == (before + 1) % compare.pane_count
    rows = dict((what, keys) for keys, what in window.shortcut_rows())
    assert rows["Loupe on/off"] == "L" and rows["Result 1 in the focused pane"] == "1"


@pytest.mark.slow
def test_maps_of_a_12_mp_pair_never_stall_the_event_loop(view, qtbot):  # noqa: F811
    side_h, side_w = 3000, 4000
    rng = np.random.default_rng(0)
    base = rng.random((side_h, side_w, 3), dtype=np.float32)
    original = entry_of(ImageData(base), "original 12 MP")
    result = entry_of(ImageData(np.clip(base + 0.01, 0, 1)), "result 12 MP", made_from=original)
    view.set_entries([original, result])
    view.show_in_pane(0, original)
    view.show_in_pane(1, result)
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def tick() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    started = time.monotonic()
    view.set_reference(original)
    view.set_view_mode(SSIM_MODE)
    qtbot.waitUntil(
        lambda: view.comparison.picture_for(result) is not None and view.comparison.numbers_for(result),
        timeout=240_000,
    )
    timer.stop()
    QApplication.processEvents()
    assert time.monotonic() - started > 0.5, "the maps should take a while: the test measured nothing"
    print(f"12 MP maps: {time.monotonic() - started:.1f} s, longest event-loop gap {max(gaps)} ms")
    assert_responsive(gaps)
    qtbot.waitUntil(lambda: not view.comparison.busy, timeout=120_000)  # leave no work behind for later tests
