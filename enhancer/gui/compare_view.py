"""The compare view: a wipe (input and result overlaid, a draggable divider) or 2-4 side-by-side panes.

All panes follow one ``ViewState``: zooming or panning one moves them all. Every image is drawn stretched to
the reference size (the largest image shown), so the input lines up pixel for pixel with its enlargements.
Above 100 % pixels are drawn sharp (nearest); below, smoothed.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from enhancer.gui.blind_test import BLIND_ZOOM_PERCENT, LEFT, RIGHT, SAME, BlindTest
from enhancer.gui.comparison_state import (
    DIFFERENCE_MODE,
    LOUPE_FACTORS,
    MODE_NAMES,
    SSIM_MODE,
    VIEW_MODES,
    ComparisonState,
    rgb_to_qimage,
)
from enhancer.gui.image_convert import to_8bit
from enhancer.gui.library import ImageEntry
from enhancer.gui.view_state import PRESET_ZOOMS_PERCENT, WHEEL_ZOOM_STEP, ViewState
from enhancer.imaging.comparison import colour_map
from enhancer.imaging.metrics import PSNR_PEAK

WIPE_MODE = "wipe"
SIDE_BY_SIDE_MODE = "side-by-side"
MIN_PANES, MAX_PANES = 2, 4
DIVIDER_GRAB_PX = 8  # how close to the divider a press must be to drag it
LOUPE_SIDE_PX = 180  # the loupe's square, in screen pixels
BACKGROUND = QColor(38, 38, 42)


_COLOUR_BAR: list[QImage] = []


def colour_bar_image() -> QImage:
    """The map's colours from 0 to 1, as a 256 x 1 picture (made once)."""
    if not _COLOUR_BAR:
        rgb = colour_map(np.linspace(0.0, 1.0, 256))[None]
        _COLOUR_BAR.append(rgb_to_qimage(np.ascontiguousarray(rgb)))
    return _COLOUR_BAR[0]


_PYRAMIDS: dict[int, list[QImage]] = {}
PYRAMID_MIN_SIDE = 256  # no level smaller than this


def pyramid_level(picture: QImage, magnification: float) -> QImage:
    """The picture halved as often as the screen allows (magnification = device pixels per picture pixel):
    zoomed-out views of a 12 MP image draw from a few hundred thousand pixels instead of all of them."""
    if magnification >= 0.5 or min(picture.width(), picture.height()) < 2 * PYRAMID_MIN_SIDE:
        return picture
    levels = _PYRAMIDS.setdefault(picture.cacheKey(), [picture])
    if len(_PYRAMIDS) > 64:  # forget the oldest pictures' levels
        for key in list(_PYRAMIDS)[:-32]:
            del _PYRAMIDS[key]
    wanted = int(math.log2(1.0 / magnification))
    while len(levels) <= wanted and min(levels[-1].width(), levels[-1].height()) >= 2 * PYRAMID_MIN_SIDE:
        last = levels[-1]
        levels.append(
            last.scaled(
                last.width() // 2,
                last.height() // 2,
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )
    return levels[min(wanted, len(levels) - 1)]


class ZoomPanCanvas(QWidget):
    """Paints images through the shared ``ViewState``; the wheel zooms about the cursor, a drag pans."""

    hovered = Signal(QPointF)  # reference coordinates under the cursor
    left_view = Signal()
    clicked = Signal()
    resized = Signal()
    fit_requested = Signal()

    def __init__(self, state: ViewState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.comparison: ComparisonState | None = None
        self.loupe_point: QPointF | None = None
        self._drag_last: QPointF | None = None
        self.setMouseTracking(True)
        self.setMinimumSize(120, 90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        state.changed.connect(self.update)

    def view_size(self) -> QSizeF:
        """The size used to map between view and reference: the panes' common one, so they align exactly."""
        viewport = self.state.viewport
        return QSizeF(viewport) if not viewport.isEmpty() else QSizeF(self.size())

    def reference_point(self, point: QPointF) -> QPointF:
        return self.state.to_reference(point, self.view_size())

    def image_rect(self) -> QRectF:
        """Where the reference picture lies in this view."""
        top_left = self.state.to_view(QPointF(0, 0), self.view_size())
        return QRectF(top_left, self.state.reference_size * self.state.view_scale)

    def picture(self, entry: ImageEntry) -> QImage:
        """What is drawn for ``entry``: its display copy, or its map in a comparison mode once computed."""
        if self.comparison is not None:
            mapped = self.comparison.picture_for(entry)
            if mapped is not None:
                return mapped
        return entry.display

    def paint_entry(self, painter: QPainter, entry: ImageEntry) -> None:
        """Draw ``entry`` stretched over the reference rectangle, nearest when magnified."""
        picture = self.picture(entry)
        if self.state.reference_size.isEmpty() or picture.isNull():
            return
        target = self.image_rect()
        magnification = target.width() * self.devicePixelRatioF() / picture.width()
        level = pyramid_level(picture, magnification)
        # Only the visible part is drawn, from the pyramid level nearest the screen's size.
        visible = target.intersected(QRectF(self.rect()))
        if visible.isEmpty():
            return
        sx, sy = level.width() / target.width(), level.height() / target.height()
        source = QRectF(
            (visible.left() - target.left()) * sx,
            (visible.top() - target.top()) * sy,
            visible.width() * sx,
            visible.height() * sy,
        )
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, magnification < 1.0)
        painter.drawImage(visible, level, source)

    def paint_loupe(self, painter: QPainter, entry: ImageEntry) -> None:
        """A magnifier at the shared loupe point: the same spot of the picture in every pane, nearest."""
        state = self.comparison
        if (
            state is None
            or not state.loupe_on
            or self.loupe_point is None
            or self.state.reference_size.isEmpty()
        ):
            return
        picture = self.picture(entry)
        reference = self.state.reference_size
        centre_view = self.state.to_view(self.loupe_point, self.view_size())
        box = QRectF(0, 0, LOUPE_SIDE_PX, LOUPE_SIDE_PX)
        box.moveCenter(centre_view)
        # Source: LOUPE_SIDE_PX screen pixels cover LOUPE_SIDE_PX / (zoom * factor) reference pixels.
        span = LOUPE_SIDE_PX / (self.state.view_scale * state.loupe_factor)
        sx, sy = picture.width() / reference.width(), picture.height() / reference.height()
        source = QRectF(0, 0, span * sx, span * sy)
        source.moveCenter(QPointF(self.loupe_point.x() * sx, self.loupe_point.y() * sy))
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.fillRect(box, BACKGROUND)
        painter.drawImage(box, picture, source)
        painter.setPen(QPen(QColor(255, 255, 255), 2))
        painter.drawRect(box)
        painter.restore()

    def paint_scale_bar(self, painter: QPainter, entry: ImageEntry) -> None:
        """In a map mode, what the colours mean: a bar from agreement (dark) to the map's top value."""
        state = self.comparison
        if state is None or state.mode not in (DIFFERENCE_MODE, SSIM_MODE) or not state.comparable(entry):
            return
        top = f"{PSNR_PEAK / state.gain:.0f} levels" if state.mode == DIFFERENCE_MODE else "SSIM 0"
        bottom = "0" if state.mode == DIFFERENCE_MODE else "SSIM 1"
        painter.save()
        metrics = painter.fontMetrics()
        bar = QRectF(0, 0, 120, 10)
        text_width = metrics.horizontalAdvance(top) + metrics.horizontalAdvance(bottom) + 16
        box = QRectF(self.width() - bar.width() - text_width - 16, 36, bar.width() + text_width + 8, 22)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(QColor(240, 240, 240))
        x = box.left() + 6
        painter.drawText(
            QRectF(x, box.top(), metrics.horizontalAdvance(bottom) + 4, box.height()),
            Qt.AlignmentFlag.AlignVCenter,
            bottom,
        )
        x += metrics.horizontalAdvance(bottom) + 6
        bar.moveTo(x, box.top() + 6)
        painter.drawImage(bar, colour_bar_image())
        painter.drawText(
            QRectF(bar.right() + 6, box.top(), metrics.horizontalAdvance(top) + 4, box.height()),
            Qt.AlignmentFlag.AlignVCenter,
            top,
        )
        painter.restore()

    def paint_numbers(self, painter: QPainter, entry: ImageEntry, right: bool = False, row: int = 0) -> None:
        """The numbers against the reference (or why there are none), in a top corner."""
        if self.comparison is None or self.comparison.blind:
            return
        text = self.comparison.reference_text(entry) or self.comparison.numbers_for(entry)
        if text is None and self.comparison.comparable(entry):
            text = "computing…"
        if text:
            self.paint_label(painter, text, right=right, row=row)

    def paint_hint(self, painter: QPainter, text: str) -> None:
        painter.setPen(QColor(170, 170, 176))
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

    def paint_label(self, painter: QPainter, text: str, right: bool = False, row: int = 0) -> None:
        """A small caption in a top corner (``row`` 1 below the first), readable over any picture."""
        painter.save()
        metrics = painter.fontMetrics()
        box = QRectF(metrics.boundingRect(text)).adjusted(-6, -3, 6, 3)
        x = self.width() - box.width() - 8 if right else 8.0
        box.moveTo(x, 8 + row * (box.height() + 4))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(QColor(240, 240, 240))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()  # the label's brush must not fill what is drawn next

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120.0
        if notches:
            zoom = self.state.zoom * WHEEL_ZOOM_STEP**notches
            self.state.zoom_about(zoom, event.position(), self.view_size())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.clicked.emit()
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_last = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_last is not None:
            self.state.pan(event.position() - self._drag_last)
            self._drag_last = event.position()
        self.hovered.emit(self.reference_point(event.position()))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag_last = None
        self.unsetCursor()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.fit_requested.emit()

    def leaveEvent(self, event: QEvent) -> None:
        self.left_view.emit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.resized.emit()


class PaneCanvas(ZoomPanCanvas):
    """One side-by-side pane showing one image."""

    def __init__(self, state: ViewState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.entry: ImageEntry | None = None
        self.active = False
        self.empty_hint = "Choose an image above, or drop image files onto the window"

    def set_entry(self, entry: ImageEntry | None) -> None:
        self.entry = entry
        self.update()

    def set_active(self, active: bool) -> None:
        self.active = active
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        if self.entry is None:
            self.paint_hint(painter, self.empty_hint)
        else:
            self.paint_entry(painter, self.entry)
            self.paint_numbers(painter, self.entry)
            self.paint_scale_bar(painter, self.entry)
            self.paint_loupe(painter, self.entry)
        if self.active:
            painter.setPen(QPen(QColor(90, 150, 230), 2))
            painter.drawRect(self.rect().adjusted(1, 1, -1, -1))
        painter.end()


class WipeCanvas(ZoomPanCanvas):
    """Two images overlaid: ``left`` shows left of the divider, ``right`` right of it."""

    divider_moved = Signal(float)

    def __init__(self, state: ViewState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.left: ImageEntry | None = None
        self.right: ImageEntry | None = None
        self._divider = 0.5  # as a fraction of the width
        self._dragging_divider = False

    @property
    def divider(self) -> float:
        return self._divider

    def set_divider(self, fraction: float) -> None:
        self._divider = min(max(fraction, 0.0), 1.0)
        self.divider_moved.emit(self._divider)
        self.update()

    def divider_x(self) -> float:
        return self._divider * self.width()

    def set_entries(self, left: ImageEntry | None, right: ImageEntry | None) -> None:
        self.left, self.right = left, right
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        if self.left is None and self.right is None:
            self.paint_hint(painter, "Drop image files onto the window, or use File › Open")
            painter.end()
            return
        x = self.divider_x()
        height = float(self.height())
        for entry, clip in (
            (self.left, QRectF(0, 0, x, height)),
            (self.right, QRectF(x, 0, self.width() - x, height)),
        ):
            if entry is not None:
                painter.setClipRect(clip)
                self.paint_entry(painter, entry)
        painter.setClipping(False)
        self._paint_divider(painter, x)
        if self.left is not None:
            self.paint_label(painter, self.left.short_label)
        if self.right is not None:
            self.paint_label(painter, self.right.short_label, right=True)
            self.paint_numbers(painter, self.right, right=True, row=1)
        loupe_entry = self.right if self.loupe_point is None or self.state.to_view(
            self.loupe_point, self.view_size()
        ).x() >= x else self.left  # fmt: skip
        if loupe_entry is not None:
            self.paint_loupe(painter, loupe_entry)
        painter.end()

    def _paint_divider(self, painter: QPainter, x: float) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(QColor(0, 0, 0, 120), 3))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.setPen(QPen(QColor(250, 250, 250), 1))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        handle = QRectF(x - 11, self.height() / 2 - 11, 22, 22)
        painter.setBrush(QColor(250, 250, 250))
        painter.setPen(QPen(QColor(0, 0, 0, 120), 1))
        painter.drawEllipse(handle)
        painter.setPen(QColor(40, 40, 40))
        painter.drawText(handle, Qt.AlignmentFlag.AlignCenter, "⇔")
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    def _near_divider(self, point: QPointF) -> bool:
        return abs(point.x() - self.divider_x()) <= DIVIDER_GRAB_PX

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._near_divider(event.position()):
            self.clicked.emit()
            self._dragging_divider = True
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._dragging_divider:
            self.set_divider(event.position().x() / max(self.width(), 1))
            self.hovered.emit(self.reference_point(event.position()))
            return
        if self._drag_last is None:
            near = self._near_divider(event.position())
            self.setCursor(Qt.CursorShape.SplitHCursor if near else Qt.CursorShape.ArrowCursor)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._dragging_divider = False
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._near_divider(event.position()):
            self.set_divider(0.5)
        else:
            super().mouseDoubleClickEvent(event)


def chooser_text(entry: ImageEntry) -> str:
    """A pane's title: what made a result first (``lanczos ×2 · photo.png (512×512)``), so that narrow panes,
    elided in the middle, still tell their results apart."""
    if entry.is_result:
        return f"{entry.short_label} · {entry.root_input.label}  ({entry.size_text})"
    return f"{entry.label}  ({entry.size_text})"


class EntryChooser(QComboBox):
    """Picks which image a pane shows: nothing, an input, or any result."""

    entry_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(12)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._updating = False
        self.addItem("(empty)", None)
        self.currentIndexChanged.connect(self._on_index_changed)

    def set_entries(self, entries: list[ImageEntry]) -> None:
        """Replace the choices, keeping the current one if it is still there."""
        current = self.entry()
        self._updating = True
        self.clear()
        self.addItem("(empty)", None)
        for entry in entries:
            self.addItem(chooser_text(entry), entry)
        self._updating = False
        self.set_entry(current if current in entries else None)

    def entry(self) -> ImageEntry | None:
        return self.currentData()

    def paintEvent(self, _event: object) -> None:
        """The current name elided in the middle (``photo.png · … ×2``): both ends say the most."""
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        field = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        option.currentText = self.fontMetrics().elidedText(
            option.currentText, Qt.TextElideMode.ElideMiddle, max(field.width() - 4, 8)
        )
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)

    def displayed_text(self) -> str:
        """What the closed box shows now (for tests): the elided current name."""
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        field = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        return self.fontMetrics().elidedText(
            self.currentText(), Qt.TextElideMode.ElideMiddle, max(field.width() - 4, 8)
        )

    def set_entry(self, entry: ImageEntry | None) -> None:
        """Select ``entry`` (adding it if missing) without emitting ``entry_chosen``."""
        self._updating = True
        index = next((i for i in range(self.count()) if self.itemData(i) is entry), -1)
        if index < 0 and entry is not None:
            self.addItem(chooser_text(entry), entry)
            index = self.count() - 1
        self.setCurrentIndex(max(index, 0))
        self._updating = False

    def _on_index_changed(self, _index: int) -> None:
        self.setToolTip(self.currentText())  # the whole name, however narrow the pane
        if not self._updating:
            self.entry_chosen.emit(self.entry())


class ComparePane(QFrame):
    """A side-by-side pane: a chooser above a canvas."""

    def __init__(self, state: ViewState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chooser = EntryChooser(self)
        self.canvas = PaneCanvas(state, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.chooser)
        layout.addWidget(self.canvas, 1)
        self.chooser.entry_chosen.connect(self.canvas.set_entry)

    @property
    def entry(self) -> ImageEntry | None:
        return self.canvas.entry

    def set_entry(self, entry: ImageEntry | None) -> None:
        self.chooser.set_entry(entry)
        self.canvas.set_entry(entry)


class CompareView(QWidget):
    """Wipe or side-by-side comparison with shared zoom and pan, zoom presets and a pixel readout."""

    readout_changed = Signal(str)
    blind_finished = Signal(str)  # the tally, in words
    mode_changed = Signal(str)
    pane_count_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = ViewState(self)
        self._entries: list[ImageEntry] = []
        self._mode = SIDE_BY_SIDE_MODE
        self._active_pane = 0
        self._last_hover: QPointF | None = None
        self._flipped: dict[int, ImageEntry] = {}  # pane -> the result Space replaced with its source
        self.blind: BlindTest | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        self.wipe_canvas = WipeCanvas(self.state)
        self.wipe_left_chooser = EntryChooser()
        self.wipe_right_chooser = EntryChooser()
        self.panes = [ComparePane(self.state) for _ in range(MAX_PANES)]
        self._pane_count = MIN_PANES

        self.comparison = ComparisonState(self)
        for canvas in self._all_canvases():
            canvas.comparison = self.comparison
        self.comparison.changed.connect(self._repaint_canvases)
        self.comparison.set_visible_source(self.visible_regions)
        self.state.changed.connect(self.comparison.view_moved)

        self._build_toolbar()
        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_wipe_page())
        self.stack.addWidget(self._build_panes_page())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.stack, 1)

        for canvas in self._all_canvases():
            canvas.hovered.connect(self._on_hovered)
            canvas.left_view.connect(self._on_left_view)
            canvas.resized.connect(self._on_canvas_resized)
            canvas.fit_requested.connect(self.fit)
        for index, pane in enumerate(self.panes):
            pane.chooser.entry_chosen.connect(self._update_reference)
            pane.canvas.clicked.connect(lambda i=index: self.set_active_pane(i))
        self.wipe_left_chooser.entry_chosen.connect(self._on_wipe_chosen)
        self.wipe_right_chooser.entry_chosen.connect(self._on_wipe_chosen)
        self.state.changed.connect(self._show_zoom)
        self._apply_mode()
        self._layout_panes()
        self.set_active_pane(1)

    # -- building ---------------------------------------------------------------------------------------

    def _build_toolbar(self) -> None:
        self.toolbar = QWidget()
        rows = QVBoxLayout(self.toolbar)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setSpacing(0)
        top, bottom = QWidget(), QWidget()
        rows.addWidget(top)
        rows.addWidget(bottom)
        row = QHBoxLayout(top)
        row.setContentsMargins(4, 2, 4, 2)
        compare_row = QHBoxLayout(bottom)  # the comparison tools: a row of their own keeps the panes wide
        compare_row.setContentsMargins(4, 0, 4, 2)
        self.mode_buttons = QButtonGroup(self)
        self.wipe_button = self._tool_button("Wipe", "Overlay input and result with a draggable divider")
        self.side_button = self._tool_button("Side by side", "2 to 4 panes with zoom and pan kept in step")
        for button, mode in ((self.wipe_button, WIPE_MODE), (self.side_button, SIDE_BY_SIDE_MODE)):
            button.setCheckable(True)
            self.mode_buttons.addButton(button)
            button.clicked.connect(lambda _=False, m=mode: self.set_mode(m))
            row.addWidget(button)
        self.pane_count_label = QLabel("Panes")
        self.pane_count_box = QSpinBox()
        self.pane_count_box.setRange(MIN_PANES, MAX_PANES)
        self.pane_count_box.setToolTip("How many panes to show side by side")
        self.pane_count_box.valueChanged.connect(self.set_pane_count)
        row.addSpacing(8)
        row.addWidget(self.pane_count_label)
        row.addWidget(self.pane_count_box)
        compare_row.addWidget(QLabel("Show"))
        self.view_mode_box = QComboBox()
        for mode in VIEW_MODES:
            self.view_mode_box.addItem(MODE_NAMES[mode], mode)
        self.view_mode_box.setToolTip(
            "What each pane shows (D cycles): the image, its difference from the reference (amplified), "
            "the local SSIM against the reference (bright = different), or its edges"
        )
        self.view_mode_box.currentIndexChanged.connect(
            lambda _i: self.comparison.set_mode(self.view_mode_box.currentData())
        )
        compare_row.addWidget(self.view_mode_box)
        self.gain_box = QComboBox()
        for gain in (1, 2, 4, 8, 16):
            self.gain_box.addItem(f"×{gain}", gain)
        self.gain_box.setCurrentIndex(2)
        self.gain_box.setToolTip(
            "How much the difference is amplified (×4: a difference of 16 levels is white-hot)"
        )
        self.gain_box.currentIndexChanged.connect(
            lambda _i: self.comparison.set_gain(self.gain_box.currentData())
        )
        compare_row.addWidget(self.gain_box)
        self.reference_button = self._tool_button(
            "Set reference", "Compare every pane with the image in the focused pane (R): numbers and maps"
        )
        self.reference_button.clicked.connect(self.set_reference_from_focus)
        compare_row.addWidget(self.reference_button)
        self.loupe_button = self._tool_button("Loupe", "A magnifier over the same spot in every pane (L)")
        self.loupe_button.setCheckable(True)
        self.loupe_button.toggled.connect(lambda on: on != self.comparison.loupe_on and self.toggle_loupe())
        compare_row.addWidget(self.loupe_button)
        self.blind_button = self._tool_button(
            "Blind A/B", "Two results, names hidden, sides shuffled: pick the better one at 8 spots (B)"
        )
        self.blind_button.clicked.connect(lambda: self.start_blind_test())
        compare_row.addWidget(self.blind_button)
        self.blind_label = QLabel()
        self.blind_label.setObjectName("blindLabel")
        compare_row.addWidget(self.blind_label)
        compare_row.addStretch(1)
        row.addStretch(1)
        self.fit_button = self._tool_button("Fit", "Show the whole picture (double-click a pane)")
        self.fit_button.clicked.connect(self.fit)
        row.addWidget(self.fit_button)
        self.zoom_buttons: dict[int, QToolButton] = {}
        for percent in PRESET_ZOOMS_PERCENT:
            button = self._tool_button(f"{percent}%", f"Zoom to {percent} % of the largest image")
            button.clicked.connect(lambda _=False, p=percent: self.zoom_to(p))
            self.zoom_buttons[percent] = button
            row.addWidget(button)
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(56)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.zoom_label.setToolTip("Zoom: screen pixels per pixel of the largest image shown")
        row.addWidget(self.zoom_label)

    @staticmethod
    def _tool_button(text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        return button

    def _build_wipe_page(self) -> QWidget:
        page = QWidget()
        choosers = QHBoxLayout()
        choosers.setContentsMargins(0, 0, 0, 0)
        choosers.addWidget(QLabel("Left"))
        choosers.addWidget(self.wipe_left_chooser, 1)
        swap = self._tool_button("⇄", "Swap the two sides")
        swap.clicked.connect(self.swap_wipe_sides)
        choosers.addWidget(swap)
        choosers.addWidget(QLabel("Right"))
        choosers.addWidget(self.wipe_right_chooser, 1)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(choosers)
        layout.addWidget(self.wipe_canvas, 1)
        return page

    def _build_panes_page(self) -> QWidget:
        page = QWidget()
        self.grid = QGridLayout(page)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(4)
        return page

    def _layout_panes(self) -> None:
        for pane in self.panes:
            self.grid.removeWidget(pane)
            pane.hide()
        columns = 2 if self._pane_count == 4 else self._pane_count
        for index, pane in enumerate(self.panes[: self._pane_count]):
            self.grid.addWidget(pane, index // columns, index % columns)
            pane.show()
        for column in range(MAX_PANES):
            self.grid.setColumnStretch(column, 1 if column < columns else 0)

    # -- what is shown -------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        if mode not in (WIPE_MODE, SIDE_BY_SIDE_MODE):
            raise ValueError(f"unknown compare mode {mode!r}")
        if mode == self._mode:
            self._apply_mode()
            return
        self._mode = mode
        self._apply_mode()
        self._update_viewport()
        self._update_reference()
        self.mode_changed.emit(mode)

    def _apply_mode(self) -> None:
        wipe = self._mode == WIPE_MODE
        self.stack.setCurrentIndex(0 if wipe else 1)
        self.wipe_button.setChecked(wipe)
        self.side_button.setChecked(not wipe)
        self.pane_count_label.setVisible(not wipe)
        self.pane_count_box.setVisible(not wipe)

    @property
    def pane_count(self) -> int:
        return self._pane_count

    def set_pane_count(self, count: int) -> None:
        count = min(max(int(count), MIN_PANES), MAX_PANES)
        self.pane_count_box.setValue(count)
        if count == self._pane_count:
            return
        self._pane_count = count
        self._layout_panes()
        self._update_viewport()
        self.set_active_pane(min(self._active_pane, count - 1))
        self._update_reference()
        self.pane_count_changed.emit(count)

    @property
    def active_pane(self) -> int:
        return self._active_pane

    def set_active_pane(self, index: int) -> None:
        """The pane a result chosen from the results list goes to."""
        self._active_pane = index
        for i, pane in enumerate(self.panes):
            pane.canvas.set_active(i == index)

    def set_entries(self, entries: list[ImageEntry]) -> None:
        """The images the panes may show; panes showing one that is gone become empty."""
        self._entries = list(entries)
        for chooser in self._choosers():
            chooser.set_entries(self._entries)
        for pane in self.panes:
            if pane.entry is not None and pane.entry not in self._entries:
                pane.set_entry(None)
        left = self.wipe_canvas.left if self.wipe_canvas.left in self._entries else None
        right = self.wipe_canvas.right if self.wipe_canvas.right in self._entries else None
        self.set_wipe_entries(left, right)

    def pane_entries(self) -> list[ImageEntry | None]:
        """What each visible side-by-side pane shows."""
        return [pane.entry for pane in self.panes[: self._pane_count]]

    def show_in_pane(self, index: int, entry: ImageEntry | None) -> None:
        self.panes[index].set_entry(entry)
        self._update_reference()

    def wipe_entries(self) -> tuple[ImageEntry | None, ImageEntry | None]:
        return self.wipe_canvas.left, self.wipe_canvas.right

    def set_wipe_entries(self, left: ImageEntry | None, right: ImageEntry | None) -> None:
        self.wipe_left_chooser.set_entry(left)
        self.wipe_right_chooser.set_entry(right)
        self.wipe_canvas.set_entries(left, right)
        self._update_reference()

    def swap_wipe_sides(self) -> None:
        left, right = self.wipe_entries()
        self.set_wipe_entries(right, left)

    def show_input(self, source: ImageEntry | None, results: list[ImageEntry]) -> None:
        """Show an input and its newest results: the input first (or on the wipe's left)."""
        newest_first = list(reversed(results))
        self.set_wipe_entries(source, newest_first[0] if newest_first else None)
        shown = [source, *newest_first]
        for index, pane in enumerate(self.panes):
            pane.set_entry(shown[index] if index < len(shown) else None)
        self.state.fit(self._fit_view_size())  # a newly shown input starts fitted
        self._update_reference()

    def show_result(self, entry: ImageEntry) -> None:
        """Put a new result beside its input: the wipe's right side, and the first free pane (else the last).
        An IRN restore is compared with the original it was shrunk from, automatically."""
        original = entry.root_input
        restored = entry.result is not None and entry.result.info.get("action") == "restore"
        if restored and original is not entry and original.image.pixels.shape == entry.image.pixels.shape:
            self.set_reference(original)
        left = self.wipe_canvas.left or entry.made_from
        self.set_wipe_entries(left, entry)
        visible = self.pane_entries()
        index = visible.index(None) if None in visible else self._pane_count - 1
        self.panes[index].set_entry(entry)
        self._update_reference()

    def show_chosen(self, entry: ImageEntry) -> None:
        """Put an entry picked from the results list where the user points: the active pane or wipe right."""
        if self._mode == WIPE_MODE:
            self.set_wipe_entries(self.wipe_canvas.left, entry)
        else:
            self.show_in_pane(min(self._active_pane, self._pane_count - 1), entry)

    def shown_entries(self) -> list[ImageEntry]:
        """The images visible in the current mode (no duplicates, no empties)."""
        candidates = list(self.wipe_entries()) if self._mode == WIPE_MODE else self.pane_entries()
        unique: list[ImageEntry] = []
        for entry in candidates:
            if entry is not None and entry not in unique:
                unique.append(entry)
        return unique

    def canvases(self) -> list[ZoomPanCanvas]:
        """The canvases visible in the current mode."""
        if self._mode == WIPE_MODE:
            return [self.wipe_canvas]
        return [pane.canvas for pane in self.panes[: self._pane_count]]

    def _all_canvases(self) -> list[ZoomPanCanvas]:
        return [self.wipe_canvas] + [pane.canvas for pane in self.panes]

    def _choosers(self) -> list[EntryChooser]:
        return [self.wipe_left_chooser, self.wipe_right_chooser] + [pane.chooser for pane in self.panes]

    def _on_wipe_chosen(self, _entry: object) -> None:
        self.wipe_canvas.set_entries(self.wipe_left_chooser.entry(), self.wipe_right_chooser.entry())
        self._update_reference()

    def _update_reference(self, *_args: object) -> None:
        shown = self.shown_entries()
        width = max((entry.image.width for entry in shown), default=0)
        height = max((entry.image.height for entry in shown), default=0)
        self.state.set_reference_size(QSizeF(width, height) if width and height else QSizeF())
        if self.state.fitting:
            self.fit()

    # -- zoom --------------------------------------------------------------------------------------------

    def _fit_view_size(self) -> QSizeF:
        self._update_viewport()
        return QSizeF(self.state.viewport)

    def _update_viewport(self) -> None:
        """Panes of a grid can differ by a pixel; all map through the smallest so that they align."""
        sizes = [canvas.size() for canvas in self.canvases()]
        self.state.viewport = QSizeF(min(s.width() for s in sizes), min(s.height() for s in sizes))

    def fit(self) -> None:
        self.state.fit(self._fit_view_size())

    def zoom_to(self, percent: float) -> None:
        self.state.set_zoom(percent / 100.0)

    def _on_canvas_resized(self) -> None:
        self.state.set_pixel_ratio(self.devicePixelRatioF())  # the screen may have changed
        self._update_viewport()
        if self.state.fitting:
            self.fit()
        else:
            self.state.changed.emit()

    def _show_zoom(self) -> None:
        self.zoom_label.setText(f"{self.state.zoom * 100:.0f} %")

    # -- readout -----------------------------------------------------------------------------------------

    def _on_hovered(self, point: QPointF) -> None:
        self._last_hover = point
        self.readout_changed.emit(self.readout_at(point))
        if self.comparison.loupe_on:
            for canvas in self._all_canvases():
                canvas.loupe_point = point
            self._repaint_canvases()

    def _on_left_view(self) -> None:
        self._last_hover = None
        self.readout_changed.emit("")
        if self.comparison.loupe_on:
            for canvas in self._all_canvases():
                canvas.loupe_point = None
            self._repaint_canvases()

    # -- comparison ----------------------------------------------------------------------------------------

    def _repaint_canvases(self) -> None:
        for canvas in self._all_canvases():
            canvas.update()

    def focused_entry(self) -> ImageEntry | None:
        """The image the user points at: the active pane's, or the wipe's right side."""
        if self._mode == WIPE_MODE:
            return self.wipe_canvas.right or self.wipe_canvas.left
        return self.panes[min(self._active_pane, self._pane_count - 1)].entry

    def focus_next_pane(self) -> int:
        """The next side-by-side pane becomes the focused one (where 1-4, Space and R act)."""
        self.set_active_pane((self._active_pane + 1) % self._pane_count)
        return self._active_pane

    def set_reference(self, entry: ImageEntry | None) -> None:
        self.comparison.set_reference(entry)
        self.reference_button.setText("Set reference" if entry is None else f"Reference: {entry.short_label}")

    def set_reference_from_focus(self) -> None:
        self.set_reference(self.focused_entry())

    def set_view_mode(self, mode: str) -> None:
        self.view_mode_box.setCurrentIndex(VIEW_MODES.index(mode))

    def cycle_view_mode(self) -> str:
        self.set_view_mode(VIEW_MODES[(VIEW_MODES.index(self.comparison.mode) + 1) % len(VIEW_MODES)])
        return self.comparison.mode

    def toggle_loupe(self) -> bool:
        on = self.comparison.toggle_loupe()
        self.loupe_button.setChecked(on)
        if on and self._last_hover is not None:
            self._on_hovered(self._last_hover)
        return on

    def change_loupe_factor(self, step: int) -> int:
        index = LOUPE_FACTORS.index(self.comparison.loupe_factor) + step
        self.comparison.set_loupe_factor(LOUPE_FACTORS[max(0, min(index, len(LOUPE_FACTORS) - 1))])
        return self.comparison.loupe_factor

    def flip_before_after(self) -> None:
        """Space: the wipe's sides swap; in panes, the focused pane shows what its image was made from."""
        if self._mode == WIPE_MODE:
            self.swap_wipe_sides()
            return
        pane = self.panes[min(self._active_pane, self._pane_count - 1)]
        entry = pane.entry
        if entry is None:
            return
        if entry.made_from is not None:
            self._flipped[id(pane)] = entry
            self.show_in_pane(self.panes.index(pane), entry.made_from)
        elif id(pane) in self._flipped:
            self.show_in_pane(self.panes.index(pane), self._flipped.pop(id(pane)))

    def put_result_in_focused_pane(self, number: int, results: list[ImageEntry]) -> None:
        """Keys 1-4: the Nth result of the current input into the focused pane (or the wipe's right)."""
        if 1 <= number <= len(results):
            self.show_chosen(results[number - 1])

    def composition(self) -> QImage:
        """What the compare view shows now (labels and numbers included), captioned with zoom and mode."""
        from enhancer.gui.export import with_caption

        picture = self.stack.currentWidget().grab().toImage()
        parts = [
            "wipe" if self._mode == WIPE_MODE else f"{self._pane_count} panes",
            f"zoom {self.state.zoom * 100:.0f} %",
            MODE_NAMES[self.comparison.mode],
        ]
        if self.comparison.reference is not None:
            parts.append(f"reference: {self.comparison.reference.label}")
        return with_caption(picture, "Enhancer · " + " · ".join(parts))

    # -- blind A/B -----------------------------------------------------------------------------------------

    def start_blind_test(
        self,
        a: ImageEntry | None = None,
        b: ImageEntry | None = None,
        rounds: int = 8,
        seed: int | None = None,
    ) -> BlindTest | None:
        """Compare two results blind: by default the two results shown (the focused one and another)."""
        if a is None or b is None:
            shown = [e for e in self.shown_entries() if e.is_result]
            focused = self.focused_entry()
            if focused in shown:
                shown.remove(focused)
                shown.insert(0, focused)
            if len(shown) < 2:
                self.blind_label.setText("Show two results first, then start the blind test")
                return None
            a, b = shown[0], shown[1]
        self.blind = BlindTest.start(a, b, rounds, seed)
        self.comparison.blind = True
        self.set_mode(SIDE_BY_SIDE_MODE)
        self.set_pane_count(2)
        for pane in self.panes:
            pane.chooser.setVisible(False)
        self._show_blind_round()
        self.setFocus()
        return self.blind

    def _show_blind_round(self) -> None:
        assert self.blind is not None
        left, right = self.blind.sides()
        self.panes[0].canvas.set_entry(left)
        self.panes[1].canvas.set_entry(right)
        self._update_reference()
        self.zoom_to(BLIND_ZOOM_PERCENT)
        self.state.centre_on(QPointF(self.blind.current.x, self.blind.current.y))
        number = len(self.blind.votes) + 1
        self.blind_label.setText(
            f"Spot {number}/{len(self.blind.rounds)}: which is better? ← left · → right · ↓ no difference · Esc stops"
        )

    def blind_vote(self, side: str) -> None:
        if self.blind is None:
            return
        self.blind.vote(side)
        if self.blind.finished:
            self.end_blind_test()
        else:
            self._show_blind_round()

    def end_blind_test(self) -> str:
        """Stop (or finish) the test: names come back, and the tally is said."""
        test, self.blind = self.blind, None
        self.comparison.blind = False
        for pane in self.panes:
            pane.chooser.setVisible(True)
            pane.chooser.set_entry(pane.canvas.entry)
        summary = test.summary() if test is not None and test.votes else "Blind test stopped before any vote"
        self.blind_label.setText(summary)
        self.blind_finished.emit(summary)
        self._repaint_canvases()
        return summary

    def keyPressEvent(self, event: QKeyEvent) -> None:
        votes = {Qt.Key.Key_Left: LEFT, Qt.Key.Key_Right: RIGHT, Qt.Key.Key_Down: SAME}
        if self.blind is not None and event.key() in votes:
            self.blind_vote(votes[event.key()])
        elif self.blind is not None and event.key() == Qt.Key.Key_Escape:
            self.end_blind_test()
        else:
            super().keyPressEvent(event)

    def visible_regions(self) -> list[tuple[ImageEntry, QRectF]]:
        """Each shown image with the rectangle of it that is visible, in its own pixels."""
        regions = []
        reference = self.state.reference_size
        if reference.isEmpty():
            return regions
        for canvas in self.canvases():
            top_left = self.state.to_reference(QPointF(0, 0), canvas.view_size())
            bottom_right = self.state.to_reference(
                QPointF(canvas.width(), canvas.height()), canvas.view_size()
            )
            entries = [canvas.entry] if isinstance(canvas, PaneCanvas) else [canvas.right]
            for entry in entries:
                if entry is None:
                    continue
                sx, sy = entry.image.width / reference.width(), entry.image.height / reference.height()
                regions.append(
                    (entry, QRectF(top_left.x() * sx, top_left.y() * sy,
                                   (bottom_right.x() - top_left.x()) * sx, (bottom_right.y() - top_left.y()) * sy))
                )  # fmt: skip
        return regions

    def readout_at(self, point: QPointF) -> str:
        """Position (in pixels of the largest image) and each shown image's values there, as 8-bit."""
        reference = self.state.reference_size
        if reference.isEmpty():
            return ""
        x, y = math.floor(point.x()), math.floor(point.y())
        if not (0 <= x < reference.width() and 0 <= y < reference.height()):
            return ""
        parts = [f"x {x}  y {y}"]
        for entry in self.shown_entries():
            parts.append(f"{entry.short_label}: {pixel_text(entry, point, reference)}")
        return "   │   ".join(parts)


def pixel_text(entry: ImageEntry, point: QPointF, reference: QSizeF) -> str:
    """``(x, y) R G B [A]`` of the image pixel under a reference point."""
    image = entry.image
    column = min(int(point.x() * image.width / reference.width()), image.width - 1)
    row = min(int(point.y() * image.height / reference.height()), image.height - 1)
    values = [int(v) for v in to_8bit(image.pixels[row, column])]
    if image.alpha is not None:
        values.append(int(to_8bit(image.alpha[row, column])))
    return f"({column}, {row}) " + " ".join(map(str, values))
