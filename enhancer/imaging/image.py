"""The in-memory image every part of Enhancer passes around, and the one error type for bad files."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np


class ImageError(Exception):
    """A file that cannot be read or written as an image; the message names the file and the reason."""

    def __init__(self, path: Path | str | None, reason: str) -> None:
        self.path = Path(path) if path is not None else None
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path is not None else reason)


@dataclass
class ImageData:
    """Pixels as float32 RGB in [0, 1] (H x W x 3), an optional alpha plane, and what saving must keep.

    Grey files are held as three equal channels with ``grey=True`` so every method can treat pixels as RGB
    and the writer stores them as grey again.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    grey: bool = False
    bit_depth: int = 8
    icc_profile: bytes | None = None
    exif: bytes | None = None
    text: dict[str, str] = field(default_factory=dict)
    xmp: bytes | None = None  # the XMP packet (PNG, JPEG, WebP)
    source: Path | None = None
    # What reading lost that the user should hear of (e.g. "first of 12 frames of an animated image").
    notices: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.pixels.ndim != 3 or self.pixels.shape[2] != 3:
            raise ValueError(f"pixels must be H x W x 3, got {self.pixels.shape}")
        if self.alpha is not None and self.alpha.shape != self.pixels.shape[:2]:
            raise ValueError(f"alpha {self.alpha.shape} does not match pixels {self.pixels.shape[:2]}")

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    def with_pixels(self, pixels: np.ndarray, alpha: np.ndarray | None = None) -> ImageData:
        """A copy carrying new pixels (and alpha) but the same metadata, for a method's result."""
        return replace(self, pixels=np.ascontiguousarray(pixels, dtype=np.float32), alpha=alpha)
