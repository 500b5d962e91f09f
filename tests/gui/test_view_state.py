from PySide6.QtCore import QPointF, QSizeF

from enhancer.gui.view_state import ViewState


def make_state(width: float = 200, height: float = 100) -> ViewState:
    state = ViewState()
    state.set_reference_size(QSizeF(width, height))
    return state


def test_fit_shows_the_whole_picture_centred():
    state = make_state(200, 100)
    state.fit(QSizeF(400, 400))
    assert state.zoom == 2.0
    assert state.centre == QPointF(100, 50)
    assert state.fitting


def test_wheel_zoom_keeps_the_point_under_the_cursor():
    state = make_state()
    view = QSizeF(300, 200)
    cursor = QPointF(200, 60)  # over the picture
    before = state.to_reference(cursor, view)
    state.zoom_about(4.0, cursor, view)
    after = state.to_reference(cursor, view)
    assert state.zoom == 4.0
    assert abs(after.x() - before.x()) < 1e-9 and abs(after.y() - before.y()) < 1e-9
    assert not state.fitting


def test_pan_moves_by_view_pixels_over_zoom():
    state = make_state()
    state.set_zoom(2.0)
    centre = state.centre
    state.pan(QPointF(20, -10))
    assert state.centre == centre - QPointF(10, -5)


def test_bigger_reference_keeps_the_same_region_in_view():
    state = make_state(100, 100)
    state.set_zoom(4.0)
    state.centre_on(QPointF(25, 75))
    state.set_reference_size(QSizeF(400, 400))  # e.g. a x4 result appeared
    assert state.zoom == 1.0
    assert state.centre == QPointF(100, 300)
