"""A picture of a 2-D kernel (KernelGAN's estimate of how the photo was blurred when it was downscaled)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from enhancer.gui.image_convert import kernel_to_qimage


class KernelView(QWidget):
    """The kernel drawn as enlarged grey squares (white = its largest tap), with its size underneath."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kernel: np.ndarray | None = None
        self._picture = QImage()
        self.setMinimumSize(96, 110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setToolTip("The blur kernel KernelGAN estimated for this image (white = strongest weight)")

    def sizeHint(self) -> QSize:
        return QSize(160, 180)

    def set_kernel(self, kernel: np.ndarray | None) -> None:
        self.kernel = None if kernel is None else np.asarray(kernel, dtype=np.float64)
        self._picture = QImage() if self.kernel is None else kernel_to_qimage(self.kernel)
        self.update()

    def caption(self) -> str:
        if self.kernel is None:
            return ""
        rows, columns = self.kernel.shape
        return f"{columns}×{rows} kernel, sum {self.kernel.sum():.3f}"

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        if self._picture.isNull():
            painter.end()
            return
        text_height = painter.fontMetrics().height() + 4
        side = max(min(self.width(), self.height() - text_height) - 8, 8)
        cells = max(self._picture.width(), self._picture.height())
        cell = max(side // cells, 1)
        width, height = cell * self._picture.width(), cell * self._picture.height()
        target = QRectF((self.width() - width) / 2, 4, width, height)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(target, self._picture, QRectF(self._picture.rect()))
        painter.setPen(QColor(120, 120, 126))
        painter.drawRect(target.adjusted(-1, -1, 0, 0))
        painter.setPen(self.palette().color(self.foregroundRole()))
        caption = QRectF(0, target.bottom() + 4, self.width(), text_height)
        painter.drawText(caption, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, self.caption())
        painter.end()
