"""The evaluation protocol of every paper we cite (REFERENCE.md §1): mod-crop, MATLAB bicubic, 8-bit LR."""

from __future__ import annotations

import numpy as np

from enhancer.imaging.colour import quantize_8bit
from enhancer.imaging.resize import imresize, mod_crop


def bicubic_degrade(hr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(mod-cropped HR, its 8-bit LR made with MATLAB bicubic), as float32 in [0, 1]."""
    hr = mod_crop(hr, scale).astype(np.float32)
    lr = quantize_8bit(imresize(hr, scale=1.0 / scale)).astype(np.float32)
    return hr, lr
