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


def test_100_percent_is_one_image_pixel_per_device_pixel_on_a_hidpi_screen():

    state = ViewState()
    state.set_reference_size(QSizeF(400, 300))
    state.set_pixel_ratio(2.0)
    state.set_zoom(1.0)
    view = QSizeF(800, 600)
    # 100 reference pixels span 50 logical pixels = 100 device pixels
    span = state.to_view(QPointF(300, 150), view).x() - state.to_view(QPointF(200, 150), view).x()
    assert span == 50
    state.fit(view)
    assert state.zoom == 4.0  # the whole picture in 800 logical = 1600 device pixels: 4 device pixels each


def test_zoomed_out_views_draw_from_a_smaller_pyramid_level(qtbot):
    from PySide6.QtGui import QImage

    from enhancer.gui.compare_view import pyramid_level

    big = QImage(4000, 3000, QImage.Format.Format_RGB32)
    big.fill(0xFF336699)
    assert pyramid_level(big, 1.0) is big and pyramid_level(big, 0.6) is big
    level = pyramid_level(big, 0.1)
    assert (level.width(), level.height()) == (500, 375)
    assert level.pixel(10, 10) == big.pixel(10, 10)
