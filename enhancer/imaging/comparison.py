"""Comparing a result with a reference: numbers (the papers' PSNR/SSIM on Y), difference and SSIM maps, edges.

Maps are computed in row strips (with the SSIM window's context above and below each strip), so a 12 MP pair
never needs more than a few full-size float planes, and a caller on a worker thread gives the GUI the
interpreter back between strips.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from skimage.metrics import structural_similarity

from enhancer.imaging.metrics import PSNR_PEAK, SSIM_K1, SSIM_K2, SSIM_SIGMA, Scores, luma_levels, score

STRIP_ROWS = 256
SSIM_CONTEXT = 8  # rows of context per side: the 11 x 11 Gaussian window reaches 5
GAINS = (1, 2, 4, 8, 16)
# A perceptual dark-to-bright colour map (black, purple, red-orange, yellow, white), as 5 control points.
MAP_COLOURS = np.array(
    [[0, 0, 4], [87, 16, 110], [221, 81, 58], [252, 200, 60], [252, 255, 240]], dtype=np.float64
)


def same_size(output: np.ndarray, reference: np.ndarray) -> bool:
    return output.shape[:2] == reference.shape[:2]


def _check(output: np.ndarray, reference: np.ndarray) -> None:
    if not same_size(output, reference):
        h, w = output.shape[:2]
        rh, rw = reference.shape[:2]
        raise ValueError(f"a {w}×{h} image cannot be compared with a {rw}×{rh} reference (sizes differ)")


def colour_map(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> uint8 RGB through ``MAP_COLOURS``."""
    positions = np.linspace(0.0, 1.0, len(MAP_COLOURS))
    clipped = np.clip(values, 0.0, 1.0)
    channels = [np.interp(clipped, positions, MAP_COLOURS[:, c]) for c in range(3)]
    return np.stack(channels, axis=-1).round().astype(np.uint8)


def difference_map(
    output: np.ndarray, reference: np.ndarray, gain: float = 4.0, grey: bool = False
) -> np.ndarray:
    """|Y(output) - Y(reference)| on the 8-bit scale, times ``gain``, colour-mapped (uint8 H x W x 3)."""
    _check(output, reference)
    result = np.empty((*output.shape[:2], 3), dtype=np.uint8)
    for top in range(0, output.shape[0], STRIP_ROWS):
        rows = slice(top, top + STRIP_ROWS)
        difference = np.abs(luma_levels(output[rows], grey) - luma_levels(reference[rows], grey))
        result[rows] = colour_map(difference * gain / PSNR_PEAK)
    return result


def ssim_map(output: np.ndarray, reference: np.ndarray, grey: bool = False) -> np.ndarray:
    """The local SSIM (Y, the papers' settings) at every pixel, float32 H x W, 1 where the images agree."""
    _check(output, reference)
    h = output.shape[0]
    result = np.empty(output.shape[:2], dtype=np.float32)
    for top in range(0, h, STRIP_ROWS):
        start, stop = max(top - SSIM_CONTEXT, 0), min(top + STRIP_ROWS + SSIM_CONTEXT, h)
        a = luma_levels(output[start:stop], grey)
        b = luma_levels(reference[start:stop], grey)
        if min(a.shape) < 7:
            result[top : top + STRIP_ROWS] = 1.0 if np.array_equal(a, b) else 0.0
            continue
        _mean, local = structural_similarity(
            a, b, gaussian_weights=True, sigma=SSIM_SIGMA, use_sample_covariance=False,
            data_range=PSNR_PEAK, K1=SSIM_K1, K2=SSIM_K2, full=True,
        )  # fmt: skip
        result[top : top + STRIP_ROWS] = local[top - start : top - start + STRIP_ROWS]
    return result


def ssim_picture(local_ssim: np.ndarray) -> np.ndarray:
    """An SSIM map as colours: bright where the images differ (1 - SSIM), dark where they agree."""
    return colour_map(1.0 - local_ssim)


def edge_overlay(image: np.ndarray, grey: bool = False, threshold: float = 0.1) -> np.ndarray:
    """The image dimmed to grey with its edges (Sobel magnitude above ``threshold``) drawn in orange."""
    result = np.empty((*image.shape[:2], 3), dtype=np.uint8)
    for top in range(0, image.shape[0], STRIP_ROWS):
        start, stop = max(top - 1, 0), min(top + STRIP_ROWS + 1, image.shape[0])
        y = luma_levels(image[start:stop], grey) / PSNR_PEAK
        magnitude = np.hypot(ndimage.sobel(y, axis=0), ndimage.sobel(y, axis=1))[top - start :][:STRIP_ROWS]
        base = (y[top - start :][:STRIP_ROWS] * 0.6 * 255).round().astype(np.uint8)
        strip = np.repeat(base[..., None], 3, axis=2)
        strip[magnitude > threshold * 4] = (255, 140, 0)  # the Sobel kernels sum to 4 on a unit step
        result[top : top + STRIP_ROWS] = strip
    return result


def compare_scores(output: np.ndarray, reference: np.ndarray, border: int, grey: bool = False) -> Scores:
    """PSNR-Y and SSIM-Y of the whole image (``border`` pixels cropped), as the benchmark computes them."""
    _check(output, reference)
    return score(output, reference, border, grey)


def region_scores(
    output: np.ndarray, reference: np.ndarray, box: tuple[int, int, int, int], grey: bool = False
) -> Scores | None:
    """The two numbers for the region ``box`` = (left, top, right, bottom); ``None`` if it is too small."""
    _check(output, reference)
    left, top, right, bottom = box
    h, w = output.shape[:2]
    left, right = max(0, left), min(w, right)
    top, bottom = max(0, top), min(h, bottom)
    if right - left < 7 or bottom - top < 7:
        return None
    part = (slice(top, bottom), slice(left, right))
    return score(output[part], reference[part], 0, grey)


def describe(scores: Scores) -> str:
    """``31.24 dB · SSIM 0.912`` (``∞ dB`` for identical images)."""
    psnr = "∞" if math.isinf(scores.psnr) else f"{scores.psnr:.2f}"
    return f"{psnr} dB · SSIM {scores.ssim:.3f}"
