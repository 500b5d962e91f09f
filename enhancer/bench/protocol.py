"""The evaluation protocol of every paper we cite (REFERENCE.md §1): mod-crop, MATLAB bicubic, 8-bit LR.

Blind SR is measured the DIV2KRK way instead (KernelGAN, REFERENCE.md §4): each HR image is blurred with its
own random anisotropic Gaussian kernel and subsampled; ``aniso_degrade`` does that.
"""

from __future__ import annotations

import numpy as np

from enhancer.imaging.colour import quantize_8bit
from enhancer.imaging.kernels import gaussian_on_grid
from enhancer.imaging.resize import downscale_with_kernel, imresize, mod_crop

# DIV2KRK's kernels (KernelGAN, NeurIPS 2019): 11x11, the covariance's eigenvalues (variances) uniform in
# [0.35, 5] at x2 (the authors' generator; the paper's text says about [0.6, 5]), a uniform angle in [0, pi),
# multiplicative uniform noise up to 0.25, normalised. x4 applies the x2 kernel twice.
DIV2KRK_KERNEL_SIZE = 11
DIV2KRK_MIN_VARIANCE = 0.35
DIV2KRK_MAX_VARIANCE = 5.0
DIV2KRK_NOISE = 0.25


def bicubic_degrade(hr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(mod-cropped HR, its 8-bit LR made with MATLAB bicubic), as float32 in [0, 1]."""
    hr = mod_crop(hr, scale).astype(np.float32)
    lr = quantize_8bit(imresize(hr, scale=1.0 / scale)).astype(np.float32)
    return hr, lr


def random_aniso_kernel(
    rng: np.random.Generator,
    size: int = DIV2KRK_KERNEL_SIZE,
    *,
    scale: int = 2,
    min_variance: float = DIV2KRK_MIN_VARIANCE,
    max_variance: float = DIV2KRK_MAX_VARIANCE,
    noise: float = DIV2KRK_NOISE,
) -> np.ndarray:
    """A DIV2KRK-style random anisotropic Gaussian blur kernel (size x size, float64, sums to 1).

    The Gaussian's mean sits on the x``scale`` grid centre (``kernels.grid_centre``), so the LR it makes is
    aligned with a bicubic one and the benchmark's HR reference needs no shift.
    """
    variances = rng.uniform(min_variance, max_variance, size=2)
    angle = rng.uniform(0.0, np.pi)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    precision = rotation @ np.diag(1.0 / variances) @ rotation.T
    kernel = gaussian_on_grid(size, precision, scale)
    kernel *= 1.0 + rng.uniform(-noise, noise, size=kernel.shape)
    return kernel / kernel.sum()


def aniso_degrade(hr: np.ndarray, scale: int, kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mod-cropped HR, its 8-bit LR): blur with the x2 ``kernel`` and keep every 2nd pixel, twice for x4.

    No noise is added (DIV2KRK has none).
    """
    if scale not in (2, 4):
        raise ValueError(f"the anisotropic degradation supports x2 and x4, got x{scale}")
    hr = mod_crop(hr, scale).astype(np.float32)
    lr = hr
    for _ in range(scale // 2):
        lr = downscale_with_kernel(lr, kernel, 2)
    return hr, quantize_8bit(lr).astype(np.float32)
