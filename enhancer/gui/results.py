"""The images panel (opened inputs) and the results panel (every result so far, its details and kernel)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from enhancer.gui.kernel_view import KernelView
from enhancer.gui.library import ImageEntry, ImageLibrary
from enhancer.methods.registry import get_method

THUMBNAIL_SIZE = QSize(48, 48)
SAMPLE_ZOOM = 4  # the samples gallery shows 32x32 faces at 128x128, nearest (each pixel a sharp block)
# What a result's details say, in a user's words, in this order; anything else a method reports (training
# figures, kernel statistics) follows under "Technical". ``provider`` repeats ``device`` in code words.
INFO_LABELS = {
    "method": "Method",
    "action": "Task",
    "scale": "Scale",
    "model": "Model",
    "preset": "Quality",
    "device": "Ran on",
    "seconds": "Took",
    "seconds_total": "Took in all",
    "engine": "Computed with",
    "jpeg_repair": "JPEG repair",
    "z": "Lost detail (z)",
    "samples": "Samples",
    "temperature": "Temperature",
    "seed": "Seed",
    "notice": "Note",
    "note": "Note",
    "device_note": "Note",
    "engine_note": "Note",
    "input": "Note",
    "warning": "Warning",
}
INFO_HIDDEN = ("provider", "precision")  # precision is told with the engine
INFO_VALUES = {
    "engine": {"bf16": "PyTorch", "int8": "PyTorch", "onnx": "onnxruntime", "torch": "PyTorch"},
    "precision": {
        "bfloat16": "bfloat16 convolutions, float32 elsewhere (fast on this CPU)",
        "int8 and bfloat16": "int8 and bfloat16 convolutions, float32 elsewhere (fastest on this CPU)",
        "float16": "float16 (half precision)",
    },
    "jpeg_repair": {
        "on": "on (the small file was re-encoded)",
        "off": "off (the untouched small file: the exact inverse)",
    },
    "z": {"zero": "zero (the default restoration)", "sample": "sampled (one of many)"},
}


def thumbnail(entry: ImageEntry) -> QIcon:
    """A small picture; a quick nearest step first keeps huge images from stalling the GUI thread."""
    keep = Qt.AspectRatioMode.KeepAspectRatio
    coarse = entry.display.scaled(THUMBNAIL_SIZE * 4, keep, Qt.TransformationMode.FastTransformation)
    return QIcon(
        QPixmap.fromImage(coarse.scaled(THUMBNAIL_SIZE, keep, Qt.TransformationMode.SmoothTransformation))
    )


def result_details(entry: ImageEntry) -> str:
    """Size plus what the method reported, in a user's words; research figures after them."""
    lines = [f"{entry.label}", f"size {entry.size_text}"]
    info = entry.result.info if entry.result is not None else {}
    for key, label in INFO_LABELS.items():
        if key not in info:
            continue
        value = info[key]
        text = _words(key, value)
        if key in ("seconds", "seconds_total") and _is_number(value):
            text = f"{float(value):.2f} s"
        elif key == "scale":
            text = f"×{value}"
        elif key == "method":
            text = _method_name(str(value))
        elif key == "engine" and "precision" in info:
            text += f", {_words('precision', info['precision'])}"
        lines.append(f"{label}: {text}")
    technical = [
        f"{key} {value}" for key, value in info.items() if key not in INFO_LABELS and key not in INFO_HIDDEN
    ]
    if technical:
        lines += ["Technical:", *technical]
    return "\n".join(lines)


def _words(key: str, value: object) -> str:
    return INFO_VALUES.get(key, {}).get(str(value), str(value))


def _method_name(method_id: str) -> str:
    try:
        return get_method(method_id).name
    except KeyError:
        return method_id


def _is_number(text: str) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


class _EntryList(QListWidget):
    """A list of library entries with thumbnails."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIconSize(THUMBNAIL_SIZE)
        self.setUniformItemSizes(False)
        self.setWordWrap(True)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def add_entry(self, entry: ImageEntry, text: str) -> QListWidgetItem:
        item = QListWidgetItem(thumbnail(entry), text)
        item.setData(Qt.ItemDataRole.UserRole, entry)
        self.addItem(item)
        return item

    def entry_at(self, row: int) -> ImageEntry | None:
        item = self.item(row)
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def current_entry(self) -> ImageEntry | None:
        item = self.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def row_of(self, entry: ImageEntry) -> int:
        return next((row for row in range(self.count()) if self.entry_at(row) is entry), -1)

    def remove_entry(self, entry: ImageEntry) -> None:
        row = self.row_of(entry)
        if row >= 0:
            self.takeItem(row)


class InputsPanel(QWidget):
    """The opened images; the selected one is the current input."""

    close_requested = Signal(object)

    def __init__(self, library: ImageLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.list = _EntryList()
        self.list.setToolTip("Opened images; the selected one is what the method panel runs on")
        close = QPushButton("Close image")
        close.clicked.connect(self._close_current)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(close)
        layout.addLayout(row)
        library.entry_added.connect(self._on_added)
        library.entry_removed.connect(self.list.remove_entry)
        library.current_input_changed.connect(self._on_current_changed)
        self.list.currentItemChanged.connect(self._on_selected)

    def _on_added(self, entry: ImageEntry) -> None:
        if not entry.is_result:
            item = self.list.add_entry(entry, f"{entry.label}\n{entry.size_text}")
            item.setToolTip(str(entry.image.source or entry.label))

    def _on_current_changed(self, entry: ImageEntry | None) -> None:
        row = self.list.row_of(entry) if entry is not None else -1
        if row != self.list.currentRow():
            self.list.setCurrentRow(row)

    def _on_selected(self, *_items: object) -> None:
        entry = self.list.current_entry()
        if entry is not None:
            self.library.set_current_input(entry)

    def _close_current(self) -> None:
        entry = self.list.current_entry()
        if entry is not None:
            self.close_requested.emit(entry)


class ResultsPanel(QWidget):
    """Every result made this session; pick one to put in a pane, save, copy or use as a new input."""

    show_requested = Signal(object)
    save_requested = Signal(object)
    copy_requested = Signal(object)
    use_as_input_requested = Signal(object)
    remove_requested = Signal(object)
    more_samples_requested = Signal(object)

    def __init__(self, library: ImageLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.list = _EntryList()
        self.samples_title = QLabel("Samples: click one to compare it")
        self.samples_gallery = QListWidget()
        self.samples_gallery.setObjectName("samplesGallery")
        self.samples_gallery.setViewMode(QListWidget.ViewMode.IconMode)
        self.samples_gallery.setMovement(QListWidget.Movement.Static)
        self.samples_gallery.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.samples_gallery.setWrapping(True)
        self.samples_gallery.setToolTip(
            "Each is a different face that fits the input; the details are invented"
        )
        self.samples_gallery.itemClicked.connect(self._on_sample_clicked)
        self.more_samples = QPushButton("More samples")
        self.more_samples.setToolTip("Draw as many new faces again, with the next seeds")
        self.more_samples.clicked.connect(lambda: self._emit_for_current(self.more_samples_requested))
        self.list.setToolTip("Double-click to show a result in the active pane; right-click for more")
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.itemDoubleClicked.connect(lambda item: self.show_requested.emit(self._entry_of(item)))
        self.list.currentItemChanged.connect(self._on_selected)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setObjectName("resultDetails")
        self.kernel_title = QLabel("Estimated kernel")
        self.kernel_view = KernelView()
        show = QPushButton("Show")
        show.setToolTip("Put the selected result in the active pane (or the wipe's right side)")
        show.clicked.connect(lambda: self._emit_for_current(self.show_requested))
        save = QPushButton("Save…")
        save.clicked.connect(lambda: self._emit_for_current(self.save_requested))
        buttons = QHBoxLayout()
        buttons.addWidget(show)
        buttons.addWidget(save)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.samples_title)
        layout.addWidget(self.samples_gallery)
        layout.addWidget(self.more_samples)
        layout.addWidget(self.details)
        layout.addWidget(self.kernel_title)
        layout.addWidget(self.kernel_view)
        library.entry_added.connect(self._on_added)
        library.entry_removed.connect(self.list.remove_entry)
        self._on_selected()

    @staticmethod
    def _entry_of(item: QListWidgetItem) -> ImageEntry:
        return item.data(Qt.ItemDataRole.UserRole)

    def current_entry(self) -> ImageEntry | None:
        return self.list.current_entry()

    def select(self, entry: ImageEntry) -> None:
        self.list.setCurrentRow(self.list.row_of(entry))

    def _on_added(self, entry: ImageEntry) -> None:
        if entry.is_result:
            seconds = entry.result.info.get("seconds", "")
            took = f" · {float(seconds):.1f} s" if _is_number(seconds) else ""
            item = self.list.add_entry(entry, f"{entry.label}\n{entry.size_text}{took}")
            item.setToolTip(result_details(entry))
            self.list.setCurrentItem(item)

    def _on_selected(self, *_items: object) -> None:
        entry = self.list.current_entry()
        self.details.setText(result_details(entry) if entry is not None else "No results yet")
        kernel = entry.result.extras.get("kernel") if entry is not None and entry.result else None
        self.kernel_view.set_kernel(kernel)
        self.kernel_title.setVisible(kernel is not None)
        self.kernel_view.setVisible(kernel is not None)
        self._fill_gallery(entry)

    def sample_entries(self, entry: ImageEntry | None) -> list[ImageEntry]:
        """The entries holding the samples of the job that made ``entry`` (empty for other results)."""
        if entry is None or entry.result is None or len(entry.result.samples) < 2:
            return []
        return [e for e in self.library.results() if e.result is entry.result]

    def _fill_gallery(self, entry: ImageEntry | None) -> None:
        siblings = self.sample_entries(entry)
        shown = [
            self.samples_gallery.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.samples_gallery.count())
        ]
        if shown == siblings and siblings:  # same samples (e.g. one was clicked): only move the selection
            for row, sibling in enumerate(siblings):
                self.samples_gallery.item(row).setSelected(sibling is entry)
            return
        self.samples_gallery.clear()
        side = 32 * SAMPLE_ZOOM
        self.samples_gallery.setIconSize(QSize(side, side))
        for number, sibling in enumerate(siblings, start=1):
            big = sibling.display.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio)  # nearest by default
            item = QListWidgetItem(QIcon(QPixmap.fromImage(big)), f"{number}")
            item.setData(Qt.ItemDataRole.UserRole, sibling)
            item.setToolTip(sibling.label)
            self.samples_gallery.addItem(item)
            if sibling is entry:
                item.setSelected(True)
        rows = max(1, -(-len(siblings) // 2))
        self.samples_gallery.setFixedHeight(min(rows, 2) * (side + 28) + 8)
        for widget in (self.samples_title, self.samples_gallery, self.more_samples):
            widget.setVisible(bool(siblings))

    def _on_sample_clicked(self, item: QListWidgetItem) -> None:
        entry = item.data(Qt.ItemDataRole.UserRole)
        self.select(entry)
        self.show_requested.emit(entry)

    def _emit_for_current(self, signal: Signal) -> None:
        entry = self.list.current_entry()
        if entry is not None:
            signal.emit(entry)

    def _context_menu(self, position: QPoint) -> None:
        item = self.list.itemAt(position)
        if item is None:
            return
        entry = self._entry_of(item)
        menu = QMenu(self)
        for text, signal in (
            ("Show in active pane", self.show_requested),
            ("Save…", self.save_requested),
            ("Copy to clipboard", self.copy_requested),
            ("Use as input", self.use_as_input_requested),
            ("Remove", self.remove_requested),
        ):
            menu.addAction(text, lambda s=signal: s.emit(entry))
        menu.exec(self.list.viewport().mapToGlobal(position))
