import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from enhancer.gui.compare_view import SIDE_BY_SIDE_MODE, WIPE_MODE, CompareView
from enhancer.gui.image_convert import image_to_qimage, to_8bit
from enhancer.gui.library import ImageEntry
from enhancer.imaging.image import ImageData
from enhancer.methods.registry import MethodResult
from tests.gui.conftest import gradient_image


def entry_of(image: ImageData, label: str, made_from: ImageEntry | None = None) -> ImageEntry:
    result = MethodResult(image) if made_from is not None else None
    return ImageEntry(label, image, image_to_qimage(image), result=result, made_from=made_from)


def enlarged(image: ImageData, scale: int) -> ImageData:
    return image.with_pixels(np.repeat(np.repeat(image.pixels, scale, 0), scale, 1))


def solid(colour: tuple[float, float, float], side: int = 100) -> ImageData:
    return ImageData(pixels=np.tile(np.array(colour, dtype=np.float32), (side, side, 1)))


@pytest.fixture
def view(qtbot):
    compare = CompareView()
    qtbot.addWidget(compare)
    compare.resize(1000, 420)
    compare.show()
    qtbot.waitExposed(compare)
    return compare


@pytest.fixture
def entries():
    source = entry_of(gradient_image(24, 16), "input")
    return (
        source,
        entry_of(enlarged(source.image, 2), "x2 a", source),
        entry_of(enlarged(source.image, 2), "x2 b", source),
    )


def wheel(widget, position: QPointF, notches: int) -> None:
    event = QWheelEvent(
        position,
        widget.mapToGlobal(position),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_panes_share_zoom_and_pan(view, entries, qtbot):
    view.set_entries(list(entries))
    view.set_pane_count(3)
    for index, entry in enumerate(entries):
        view.show_in_pane(index, entry)
    qtbot.waitUntil(lambda: view.canvases()[0].width() < 400)  # the grid is laid out for 3 panes
    first, _, third = view.canvases()
    cursor = QPointF(first.width() / 3, first.height() / 2)
    under_cursor = first.reference_point(cursor)
    zoom_before = view.state.zoom

    wheel(first, cursor, 2)

    assert view.state.zoom == pytest.approx(zoom_before * 1.25**2)
    assert first.reference_point(cursor).x() == pytest.approx(under_cursor.x())
    rects = {canvas.image_rect().getRect() for canvas in view.canvases()}
    assert len(rects) == 1, "every pane shows the picture at the same place and size"

    before = first.image_rect()
    qtbot.mousePress(third, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(third, QPoint(130, 90))
    qtbot.mouseRelease(third, Qt.MouseButton.LeftButton, pos=QPoint(130, 90))
    after = first.image_rect()
    assert (after.x() - before.x(), after.y() - before.y()) == pytest.approx((30, -10))


def test_input_is_drawn_at_the_result_size(view, entries):
    source, result, _ = entries
    view.show_in_pane(0, source)
    view.show_in_pane(1, result)
    assert view.state.reference_size.toSize().toTuple() == (48, 32)
    input_canvas, result_canvas = view.canvases()
    assert input_canvas.image_rect() == result_canvas.image_rect()


def test_pixels_are_sharp_above_100_percent(view, entries):
    source, result, _ = entries
    view.show_in_pane(0, source)
    view.show_in_pane(1, result)
    view.zoom_to(400)
    canvas = view.canvases()[1]
    picture = canvas.grab().toImage()
    corner = canvas.state.to_view(QPointF(10, 6), canvas.view_size()).toPoint()
    expected = tuple(int(v) for v in to_8bit(result.image.pixels[6, 10]))
    block = {
        picture.pixelColor(corner.x() + dx, corner.y() + dy).getRgb()[:3]
        for dx in range(4)
        for dy in range(4)
    }
    assert block == {expected}, "one result pixel fills a 4 x 4 block at 400 %, unblended"


def test_wipe_divider_follows_a_drag(view, qtbot):
    red, blue = entry_of(solid((1, 0, 0)), "red"), entry_of(solid((0, 0, 1)), "blue")
    view.set_entries([red, blue])
    view.set_mode(WIPE_MODE)
    view.set_wipe_entries(red, blue)
    canvas = view.wipe_canvas
    qtbot.waitUntil(lambda: canvas.isVisible())
    y = canvas.height() // 2
    start = round(canvas.divider_x())
    target = canvas.width() // 2 - 60

    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(start, y))
    qtbot.mouseMove(canvas, QPoint(target, y))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(target, y))

    assert canvas.divider == pytest.approx(target / canvas.width(), abs=0.01)
    picture = canvas.grab().toImage()
    assert picture.pixelColor(target - 15, y + 30).getRgb()[:3] == (255, 0, 0)
    assert picture.pixelColor(target + 15, y + 30).getRgb()[:3] == (0, 0, 255)


def test_dragging_away_from_the_divider_pans(view, qtbot):
    red, blue = entry_of(solid((1, 0, 0)), "red"), entry_of(solid((0, 0, 1)), "blue")
    view.set_mode(WIPE_MODE)
    view.set_wipe_entries(red, blue)
    canvas = view.wipe_canvas
    centre = view.state.centre
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(canvas, QPoint(80, 100))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(80, 100))
    assert canvas.divider == 0.5
    assert view.state.centre.x() > centre.x()


def test_readout_gives_position_and_values_of_each_image(view, entries, qtbot):
    source, result, _ = entries
    view.show_in_pane(0, source)
    view.show_in_pane(1, result)
    canvas = view.canvases()[1]
    point = canvas.state.to_view(QPointF(10.5, 5.5), canvas.view_size()).toPoint()
    with qtbot.waitSignal(view.readout_changed) as signal:
        qtbot.mouseMove(canvas, point)
    text = signal.args[0]
    assert text.startswith("x 10  y 5")
    red, green, blue = (int(v) for v in to_8bit(source.image.pixels[2, 5]))
    assert f"input: (5, 2) {red} {green} {blue}" in text
    assert "x2 a: (10, 5)" in text


def test_zoom_presets_fit_and_modes(view, entries):
    source, result, _ = entries
    view.show_in_pane(0, source)
    view.show_in_pane(1, result)
    view.zoom_to(800)
    assert view.state.zoom == 8.0 and not view.state.fitting
    view.fit()
    assert view.state.fitting
    width = view.canvases()[0].width()
    assert view.state.zoom <= width / 48
    view.set_mode(WIPE_MODE)
    assert view.canvases() == [view.wipe_canvas]
    view.set_mode(SIDE_BY_SIDE_MODE)
    view.set_pane_count(4)
    assert len(view.canvases()) == 4 and all(canvas.isVisible() for canvas in view.canvases())


def test_a_pane_shows_what_its_chooser_picks(view, entries):
    source, result, other = entries
    view.set_entries(list(entries))
    chooser = view.panes[1].chooser
    from enhancer.gui.compare_view import chooser_text

    chooser.setCurrentIndex(chooser.findText(chooser_text(other)))
    assert view.pane_entries()[1] is other
    assert view.state.reference_size.toSize().toTuple() == (48, 32)
    view.set_entries([source, result])  # "other" was removed
    assert view.pane_entries()[1] is None


def test_pane_titles_elide_in_the_middle_and_show_the_whole_name_on_hover(qtbot):
    from enhancer.gui.compare_view import EntryChooser

    chooser = EntryChooser()
    qtbot.addWidget(chooser)
    chooser.resize(260, 28)
    chooser.show()
    image = solid((0.5, 0.5, 0.5))
    source = entry_of(image, "holiday-at-the-lake-2019-final.jpg")
    long_name = entry_of(image, "holiday-at-the-lake-2019-final.jpg · zssr quality ×2", made_from=source)
    chooser.set_entries([long_name])
    chooser.set_entry(long_name)
    shown = chooser.displayed_text()
    assert "…" in shown and shown.startswith("zssr quality ×2") and shown.endswith(")")  # both ends kept
    assert chooser.toolTip() == chooser.currentText() and "zssr quality ×2" in chooser.toolTip()
