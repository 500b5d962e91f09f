"""What the compare view shows besides the pictures: a reference, per-pane numbers, map modes and the loupe.

Numbers and maps are computed on a worker thread (``BackgroundCalls``) and cached per (image, reference,
mode, gain); the panes repaint when they arrive, so the UI never waits for them. The numbers of the visible
region are recomputed a moment after the view stops moving.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, QRectF, QTimer, Signal
from PySide6.QtGui import QImage

from enhancer.gui.background import BackgroundCalls
from enhancer.gui.library import ImageEntry
from enhancer.imaging import comparison

IMAGE_MODE, DIFFERENCE_MODE, SSIM_MODE, EDGES_MODE = "image", "difference", "ssim", "edges"
VIEW_MODES = (IMAGE_MODE, DIFFERENCE_MODE, SSIM_MODE, EDGES_MODE)
MODE_NAMES = {
    IMAGE_MODE: "Image",
    DIFFERENCE_MODE: "Difference",
    SSIM_MODE: "SSIM map",
    EDGES_MODE: "Edges",
}
LOUPE_FACTORS = (2, 4, 8, 16)
REGION_DELAY_MS = 250  # after the view stops moving, the visible region's numbers are computed


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """uint8 H x W x 3 -> an RGB32 ``QImage`` that owns its pixels (safe on a worker thread)."""
    height, width = rgb.shape[:2]
    rgba = np.empty((height, width, 4), dtype=np.uint8)
    rgba[..., :3] = rgb
    rgba[..., 3] = 255
    wrapped = QImage(rgba.data, width, height, 4 * width, QImage.Format.Format_RGBX8888)
    return wrapped.convertToFormat(QImage.Format.Format_RGB32)


def _border(entry: ImageEntry) -> int:
    """The protocol's border: the result's scale (0 for an image that is not an enlargement)."""
    if entry.result is None:
        return 0
    try:
        return int(entry.result.info.get("scale", 0))
    except ValueError:
        return 0


class ComparisonState(QObject):
    """Shared by every canvas of one compare view."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.reference: ImageEntry | None = None
        self.mode = IMAGE_MODE
        self.gain = 4
        self.loupe_on = False
        self.loupe_factor = 4
        self.blind = False  # a blind A/B test hides names and numbers
        self._pictures: dict[tuple, QImage] = {}
        self._scores: dict[tuple, str] = {}
        self._regions: dict[int, str] = {}
        self._pending: set[tuple] = set()
        self._background = BackgroundCalls(self)
        self._region_timer = QTimer(self)
        self._region_timer.setSingleShot(True)
        self._region_timer.setInterval(REGION_DELAY_MS)
        self._visible: Callable[[], list[tuple[ImageEntry, QRectF]]] = list
        self._region_timer.timeout.connect(self._compute_regions)

    # -- what is compared -----------------------------------------------------------------------------

    def set_reference(self, entry: ImageEntry | None) -> None:
        self.reference = entry
        self._regions.clear()
        self.changed.emit()
        self.view_moved()

    def set_mode(self, mode: str) -> None:
        if mode not in VIEW_MODES:
            raise ValueError(f"unknown view mode {mode!r}")
        self.mode = mode
        self.changed.emit()

    def cycle_mode(self) -> str:
        self.set_mode(VIEW_MODES[(VIEW_MODES.index(self.mode) + 1) % len(VIEW_MODES)])
        return self.mode

    def set_gain(self, gain: int) -> None:
        self.gain = int(gain)
        self.changed.emit()

    def toggle_loupe(self) -> bool:
        self.loupe_on = not self.loupe_on
        self.changed.emit()
        return self.loupe_on

    def set_loupe_factor(self, factor: int) -> None:
        self.loupe_factor = int(factor)
        self.changed.emit()

    def comparable(self, entry: ImageEntry) -> bool:
        reference = self.reference
        return (
            reference is not None
            and entry is not reference
            and entry.image.pixels.shape == (reference.image.pixels.shape)
        )

    # -- pictures and numbers (computed in the background) --------------------------------------------

    def picture_for(self, entry: ImageEntry) -> QImage | None:
        """What a pane draws for ``entry`` in the current mode; ``None`` while it is computed (or for the
        image mode, and maps that need a reference of the same size)."""
        if self.mode == IMAGE_MODE:
            return None
        if self.mode == EDGES_MODE:
            key: tuple = (id(entry), EDGES_MODE)
        elif self.comparable(entry):
            key = (id(entry), id(self.reference), self.mode, self.gain if self.mode == DIFFERENCE_MODE else 0)
        else:
            return None
        if key in self._pictures:
            return self._pictures[key]
        mode, gain, reference = self.mode, self.gain, self.reference
        self._request(key, lambda: self._make_picture(entry, reference, mode, gain))
        return None

    @staticmethod
    def _make_picture(entry: ImageEntry, reference: ImageEntry | None, mode: str, gain: int) -> QImage:
        image = entry.image
        if mode == EDGES_MODE or reference is None:
            return rgb_to_qimage(comparison.edge_overlay(image.pixels, image.grey))
        if mode == DIFFERENCE_MODE:
            rgb = comparison.difference_map(image.pixels, reference.image.pixels, gain, image.grey)
        else:
            rgb = comparison.ssim_picture(
                comparison.ssim_map(image.pixels, reference.image.pixels, image.grey)
            )
        return rgb_to_qimage(rgb)

    def numbers_for(self, entry: ImageEntry) -> str | None:
        """``31.2 dB · SSIM 0.912`` of the whole image (and ``view …`` of the visible region) vs the reference."""
        if not self.comparable(entry):
            return None
        key = (id(entry), id(self.reference), "scores")
        if key not in self._scores:
            reference = self.reference
            self._request(key, lambda: comparison.describe(
                comparison.compare_scores(entry.image.pixels, reference.image.pixels, _border(entry), entry.image.grey)
            ))  # fmt: skip
            return None
        region = self._regions.get(id(entry))
        return self._scores[key] + (f"   view {region}" if region else "")

    def reference_text(self, entry: ImageEntry) -> str | None:
        if self.reference is entry:
            return "reference"
        if self.reference is not None and not self.comparable(entry):
            return "not comparable (size differs from the reference)"
        return None

    def _request(self, key: tuple, work: Callable[[], object]) -> None:
        if key in self._pending:
            return
        self._pending.add(key)

        def done(value: object) -> None:
            self._pending.discard(key)
            (self._scores if key[-1] == "scores" else self._pictures)[key] = value
            self.changed.emit()

        def failed(error: Exception) -> None:
            self._pending.discard(key)
            if key[-1] == "scores":
                self._scores[key] = f"no numbers ({error})"

        self._background.submit(work, done, failed)

    @property
    def busy(self) -> bool:
        return self._background.busy

    # -- the visible region ---------------------------------------------------------------------------

    def set_visible_source(self, source: Callable[[], list[tuple[ImageEntry, QRectF]]]) -> None:
        """Where to ask which entries are visible and which rectangle of each (in its own pixels)."""
        self._visible = source

    def view_moved(self) -> None:
        self._region_timer.start()

    def _compute_regions(self) -> None:
        reference = self.reference
        if reference is None:
            return
        for entry, rect in self._visible():
            if not self.comparable(entry):
                continue
            box = (int(rect.left()), int(rect.top()), int(rect.right()) + 1, int(rect.bottom()) + 1)
            full = (
                box[0] <= 0 and box[1] <= 0 and box[2] >= entry.image.width and box[3] >= entry.image.height
            )

            def work(entry: ImageEntry = entry, box: tuple = box, full: bool = full) -> tuple[int, str]:
                if full:
                    return id(entry), ""
                scores = comparison.region_scores(
                    entry.image.pixels, reference.image.pixels, box, entry.image.grey
                )
                return id(entry), comparison.describe(scores) if scores else ""

            self._background.submit(work, self._region_done)

    def _region_done(self, value: tuple[int, str]) -> None:
        key, text = value
        self._regions[key] = text
        self.changed.emit()
