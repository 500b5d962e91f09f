"""What the app holds: the images opened as inputs and the results made from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from enhancer.imaging.image import ImageData
from enhancer.methods.registry import MethodResult, get_method


@dataclass(eq=False)
class ImageEntry:
    """An opened input or a method's result, with its 8-bit display copy."""

    label: str
    image: ImageData
    display: QImage
    result: MethodResult | None = None
    made_from: ImageEntry | None = None

    def __repr__(self) -> str:
        return f"ImageEntry({self.label!r}, {self.size_text})"

    @property
    def short_label(self) -> str:
        """``bicubic ×4`` for a result labelled ``photo.png · bicubic ×4``; an input's whole label."""
        return self.label.rsplit(" · ", 1)[-1] if self.is_result else self.label

    @property
    def is_result(self) -> bool:
        return self.result is not None

    @property
    def made_by_irn(self) -> bool:
        """True for images IRN shrank (its marker in a PNG text chunk or in XMP): only those can be restored."""
        restorable = get_method("irn").restorable
        return restorable is not None and restorable(self.image)

    @property
    def size_text(self) -> str:
        return f"{self.image.width}×{self.image.height}"

    @property
    def root_input(self) -> ImageEntry:
        """The opened image this entry descends from (itself for an input)."""
        entry = self
        while entry.made_from is not None:
            entry = entry.made_from
        return entry


class ImageLibrary(QObject):
    """Inputs and results in the order they arrived; one input is current."""

    entry_added = Signal(object)
    entry_removed = Signal(object)
    current_input_changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._entries: list[ImageEntry] = []
        self._current: ImageEntry | None = None

    def entries(self) -> list[ImageEntry]:
        return list(self._entries)

    def inputs(self) -> list[ImageEntry]:
        return [entry for entry in self._entries if not entry.is_result]

    def results(self) -> list[ImageEntry]:
        return [entry for entry in self._entries if entry.is_result]

    def results_of(self, source: ImageEntry) -> list[ImageEntry]:
        """Results made (directly or through other results) from ``source``'s opened image, oldest first."""
        root = source.root_input
        return [entry for entry in self.results() if entry.root_input is root]

    @property
    def current_input(self) -> ImageEntry | None:
        return self._current

    def add(self, entry: ImageEntry) -> None:
        """Add an entry; a new input becomes the current one."""
        self._entries.append(entry)
        self.entry_added.emit(entry)
        if not entry.is_result:
            self.set_current_input(entry)

    def remove(self, entry: ImageEntry) -> None:
        if entry not in self._entries:
            return
        self._entries.remove(entry)
        self.entry_removed.emit(entry)
        if entry is self._current:
            inputs = self.inputs()
            self.set_current_input(inputs[-1] if inputs else None)

    def set_current_input(self, entry: ImageEntry | None) -> None:
        if entry is self._current:
            return
        self._current = entry
        self.current_input_changed.emit(entry)

    def source_paths(self) -> list[Path]:
        """Files the inputs came from: saving must never overwrite one of these."""
        return [entry.image.source for entry in self.inputs() if entry.image.source is not None]
