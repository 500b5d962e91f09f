"""The zoom and centre that every compare pane follows, so panes stay aligned pixel for pixel."""

from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, QSizeF, Signal

MIN_ZOOM = 1 / 32
MAX_ZOOM = 64.0
WHEEL_ZOOM_STEP = 1.25  # zoom factor per wheel notch
PRESET_ZOOMS_PERCENT = (100, 200, 400, 800)


class ViewState(QObject):
    """Zoom (device pixels per reference pixel: at 100 % one image pixel is one pixel of the screen, also on
    a HiDPI screen) and the reference point at each view's centre. Views map with ``view_scale``, logical
    pixels per reference pixel, which is the zoom divided by the screen's device pixel ratio.

    Reference pixels are those of the largest image shown; smaller images (the input beside an enlarged
    result) are stretched to that size, so one reference pixel is the same place in every pane.
    """

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._zoom = 1.0
        self._centre = QPointF()
        self._reference = QSizeF()
        self._fitting = True
        self.viewport = QSizeF()  # the size all panes map with (the smallest pane), set by the compare view
        self._pixel_ratio = 1.0

    @property
    def pixel_ratio(self) -> float:
        """Device pixels per logical pixel of the screen the view is on."""
        return self._pixel_ratio

    def set_pixel_ratio(self, ratio: float) -> None:
        ratio = float(ratio) if ratio and ratio > 0 else 1.0
        if ratio != self._pixel_ratio:
            self._pixel_ratio = ratio
            self.changed.emit()

    @property
    def view_scale(self) -> float:
        """Logical view pixels per reference pixel."""
        return self._zoom / self._pixel_ratio

    @property
    def zoom(self) -> float:
        return self._zoom

    @property
    def centre(self) -> QPointF:
        return QPointF(self._centre)

    @property
    def reference_size(self) -> QSizeF:
        return QSizeF(self._reference)

    @property
    def fitting(self) -> bool:
        """True while the view follows "fit" (and refits when panes resize)."""
        return self._fitting

    def set_reference_size(self, size: QSizeF) -> None:
        """Change the reference size, keeping the same part of the picture in view."""
        size = QSizeF(size)
        if size == self._reference:
            return
        old = self._reference
        if old.isEmpty() or size.isEmpty():
            self._centre = QPointF(size.width() / 2, size.height() / 2)
        else:
            ratio = size.width() / old.width()
            self._centre = QPointF(self._centre.x() * ratio, self._centre.y() * size.height() / old.height())
            self._zoom = _clamp_zoom(self._zoom / ratio)
        self._reference = size
        self.changed.emit()

    @staticmethod
    def view_centre(view: QSizeF) -> QPointF:
        """The view point the centre maps to, on whole pixels so that panes of unequal size still align."""
        return QPointF(int(view.width()) // 2, int(view.height()) // 2)

    def to_reference(self, point: QPointF, view: QSizeF) -> QPointF:
        """Reference coordinates of a point in a view of size ``view``."""
        return self._centre + (QPointF(point) - self.view_centre(view)) / self.view_scale

    def to_view(self, point: QPointF, view: QSizeF) -> QPointF:
        """View coordinates of a reference point."""
        return (QPointF(point) - self._centre) * self.view_scale + self.view_centre(view)

    def zoom_about(self, zoom: float, anchor: QPointF, view: QSizeF) -> None:
        """Zoom keeping the reference point under ``anchor`` (the cursor) where it is."""
        under_anchor = self.to_reference(anchor, view)
        self._zoom = _clamp_zoom(zoom)
        self._centre = under_anchor - (anchor - self.view_centre(view)) / self.view_scale
        self._fitting = False
        self._clamp_centre()
        self.changed.emit()

    def set_zoom(self, zoom: float) -> None:
        """Zoom about the current centre."""
        self._zoom = _clamp_zoom(zoom)
        self._fitting = False
        self.changed.emit()

    def pan(self, delta: QPointF) -> None:
        """Move the picture by ``delta`` view pixels."""
        self._centre -= delta / self.view_scale
        self._fitting = False
        self._clamp_centre()
        self.changed.emit()

    def centre_on(self, point: QPointF) -> None:
        self._centre = QPointF(point)
        self._fitting = False
        self._clamp_centre()
        self.changed.emit()

    def fit(self, view: QSizeF) -> None:
        """Show the whole reference picture in a view of size ``view``."""
        self._fitting = True
        if not self._reference.isEmpty() and not view.isEmpty():
            logical = min(view.width() / self._reference.width(), view.height() / self._reference.height())
            self._zoom = _clamp_zoom(logical * self._pixel_ratio)
            self._centre = QPointF(self._reference.width() / 2, self._reference.height() / 2)
        self.changed.emit()

    def _clamp_centre(self) -> None:
        self._centre = QPointF(
            min(max(self._centre.x(), 0.0), self._reference.width()),
            min(max(self._centre.y(), 0.0), self._reference.height()),
        )


def _clamp_zoom(zoom: float) -> float:
    return min(max(zoom, MIN_ZOOM), MAX_ZOOM)
