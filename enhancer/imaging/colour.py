"""Colour conversions the evaluation protocol needs: MATLAB's ``rgb2ycbcr`` luma and 8-bit rounding."""

from __future__ import annotations

import numpy as np

# ITU-R BT.601 luma as MATLAB rgb2ycbcr computes it, on the 0..255 scale for RGB in [0, 1].
Y_OFFSET = 16.0
Y_WEIGHTS = (65.481, 128.553, 24.966)
LEVELS_8BIT = 255


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """Y of an H x W x 3 RGB image in [0, 1]: [16, 235] on the 0..255 scale (float64), as MATLAB rgb2ycbcr."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected H x W x 3 RGB, got shape {rgb.shape}")
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    return Y_OFFSET + Y_WEIGHTS[0] * r + Y_WEIGHTS[1] * g + Y_WEIGHTS[2] * b


def to_8bit_levels(x: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and round to the integers 0..255 (float64), halves away from zero as MATLAB does."""
    return np.floor(np.clip(x.astype(np.float64), 0.0, 1.0) * LEVELS_8BIT + 0.5)


def quantize_8bit(x: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and round to multiples of 1/255, as saving an 8-bit file would; keeps a float dtype."""
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
    return (to_8bit_levels(x) / LEVELS_8BIT).astype(dtype)
