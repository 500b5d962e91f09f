"""The bundled sample photo: NASA's public-domain astronaut portrait shipped inside scikit-image.

It is reduced to 256×256 with MATLAB bicubic so that enlarging it shows something worth looking at, and
written once to the user's cache folder (never into the package, which may be read-only).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SAMPLE_SIDE = 256


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "enhancer"


def sample_image_path() -> Path:
    """Path of the sample PNG, created on first use."""
    from enhancer.imaging.image import ImageData
    from enhancer.imaging.io import save_image
    from enhancer.imaging.resize import imresize

    path = _cache_dir() / "sample-astronaut-256.png"
    if path.exists():
        return path
    from skimage import data

    photo = data.astronaut().astype(np.float32) / 255.0
    small = imresize(photo, output_shape=(SAMPLE_SIDE, SAMPLE_SIDE))
    save_image(ImageData(np.clip(small, 0.0, 1.0)), path, overwrite=True)
    return path
