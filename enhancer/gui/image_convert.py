"""Between Enhancer's float pixels and Qt's 8-bit ``QImage``: for display, the clipboard and paste."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from enhancer.imaging.image import ImageData


def to_8bit(values: np.ndarray) -> np.ndarray:
    """Float values in [0, 1] rounded to uint8 (values outside are clipped)."""
    return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def image_to_qimage(image: ImageData) -> QImage:
    """An 8-bit copy in a format Qt paints without converting (RGB32, or premultiplied ARGB32 with alpha).

    Safe to call on a worker thread: ``QImage`` (unlike ``QPixmap``) is not tied to the GUI thread.
    """
    height, width = image.height, image.width
    rgba = np.empty((height, width, 4), dtype=np.uint8)
    rgba[..., :3] = to_8bit(image.pixels)
    if image.alpha is None:
        rgba[..., 3] = 255
        source_format, display_format = QImage.Format.Format_RGBX8888, QImage.Format.Format_RGB32
    else:
        rgba[..., 3] = to_8bit(image.alpha)
        source_format = QImage.Format.Format_RGBA8888
        display_format = QImage.Format.Format_ARGB32_Premultiplied
    wrapped = QImage(rgba.data, width, height, 4 * width, source_format)
    return wrapped.convertToFormat(display_format)  # a copy that owns its pixels; rgba may go


def qimage_to_image(qimage: QImage) -> ImageData:
    """Pixels of a ``QImage`` (e.g. pasted from the clipboard) as an ``ImageData``; alpha kept if used."""
    converted = qimage.convertToFormat(QImage.Format.Format_RGBA8888)
    width, height = converted.width(), converted.height()
    if width == 0 or height == 0:
        raise ValueError("the image is empty")
    rows = np.frombuffer(converted.constBits(), dtype=np.uint8).reshape(height, converted.bytesPerLine())
    rgba = rows[:, : 4 * width].reshape(height, width, 4).astype(np.float32) / 255.0
    alpha = rgba[..., 3].copy() if qimage.hasAlphaChannel() and (rgba[..., 3] < 1.0).any() else None
    return ImageData(pixels=np.ascontiguousarray(rgba[..., :3]), alpha=alpha)


def kernel_to_qimage(kernel: np.ndarray) -> QImage:
    """A 2-D kernel as a grey picture, its largest magnitude white (negative taps clipped to black)."""
    values = np.asarray(kernel, dtype=np.float64)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"a kernel must be a non-empty 2-D array, got shape {values.shape}")
    peak = float(np.abs(values).max()) or 1.0
    grey = np.ascontiguousarray(to_8bit(values / peak))
    height, width = grey.shape
    return QImage(grey.data, width, height, width, QImage.Format.Format_Grayscale8).copy()
