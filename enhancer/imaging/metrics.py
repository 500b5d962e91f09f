"""PSNR and SSIM on the Y channel exactly as the super-resolution papers compute them (REFERENCE.md §1).

Both images are rounded to 8 bits, converted to MATLAB's Y (or, for a grey file, taken as its grey values),
put on the 0..255 scale and cropped by ``border`` pixels on every side before scoring.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from skimage.metrics import structural_similarity

from enhancer.imaging.colour import LEVELS_8BIT, rgb_to_y, to_8bit_levels

PSNR_PEAK = 255.0
# SSIM as Wang et al.'s MATLAB code: 11 x 11 Gaussian window (sigma 1.5, radius 3.5 sigma), K1 0.01, K2 0.03.
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


class Scores(NamedTuple):
    """PSNR (dB) and SSIM of one image against its reference."""

    psnr: float
    ssim: float


def luma_levels(image: np.ndarray, grey: bool) -> np.ndarray:
    """The 8-bit-rounded Y (or grey) plane on the 0..255 scale, float64."""
    levels = to_8bit_levels(image)
    if grey or levels.ndim == 2:
        return levels if levels.ndim == 2 else levels[..., 0]
    return rgb_to_y(levels / LEVELS_8BIT)


def _planes(
    output: np.ndarray, reference: np.ndarray, border: int, grey: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Both images as cropped 0..255 Y (or grey) planes, checked to match."""
    if output.shape != reference.shape:
        raise ValueError(f"output {output.shape} and reference {reference.shape} differ in shape")
    if border < 0:
        raise ValueError(f"border must be >= 0, got {border}")
    h, w = output.shape[:2]
    if h <= 2 * border or w <= 2 * border:
        raise ValueError(f"a border of {border} leaves nothing of a {h} x {w} image")
    crop = (slice(border, h - border), slice(border, w - border))
    return luma_levels(output, grey)[crop], luma_levels(reference, grey)[crop]


def psnr_y(output: np.ndarray, reference: np.ndarray, border: int, grey: bool = False) -> float:
    """PSNR (dB, peak 255) on Y of two float RGB images in [0, 1]; ``inf`` when they are equal after rounding.

    With ``grey=True`` (or H x W inputs) the first channel is scored directly, without the Y conversion.
    """
    a, b = _planes(output, reference, border, grey)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(PSNR_PEAK**2 / mse)


def ssim_y(output: np.ndarray, reference: np.ndarray, border: int, grey: bool = False) -> float:
    """SSIM (Wang et al., MATLAB settings) on Y of two float RGB images in [0, 1], prepared as ``psnr_y``."""
    a, b = _planes(output, reference, border, grey)
    return float(
        structural_similarity(
            a,
            b,
            gaussian_weights=True,
            sigma=SSIM_SIGMA,
            use_sample_covariance=False,
            data_range=PSNR_PEAK,
            K1=SSIM_K1,
            K2=SSIM_K2,
        )
    )


def score(output: np.ndarray, reference: np.ndarray, scale: int, grey: bool = False) -> Scores:
    """PSNR-Y and SSIM-Y with the protocol's border of ``scale`` pixels."""
    return Scores(psnr_y(output, reference, scale, grey), ssim_y(output, reference, scale, grey))
