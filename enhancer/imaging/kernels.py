"""Blur kernels on the resize grid: where a kernel's centre belongs, composing steps, comparing, drawing.

Every kernel here is used the way ``resize.downscale_with_kernel`` uses it: correlated with the image, LR
pixel ``i`` taken around HR position ``(i + 0.5) * scale - 0.5``, the grid of MATLAB's ``imresize``. A kernel
whose centre of mass sits on ``grid_centre(size, scale)`` (in kernel indices) therefore makes an LR image
aligned with bicubic's; one whose mass sits elsewhere shifts the picture by the difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from enhancer.imaging.image import ImageData

PICTURE_CELL = 16  # screen pixels per kernel tap in a kernel picture
COMPARE_MARGIN = 1  # empty taps around the larger kernel when comparing, room for the centring shift


def grid_centre(size: int, scale: int) -> float:
    """The kernel index (both axes) that lands on LR pixel i's position ``(i + 0.5) * scale - 0.5``.

    ``downscale_with_kernel`` puts tap 0 on HR index ``scale * i + (scale - size) // 2``, so the position
    is ``0.5 * scale - 0.5 - (scale - size) // 2`` taps in: the geometric centre ``(size - 1) / 2`` when size
    and scale have the same parity, half a tap past it otherwise (6.5 for a 13-tap kernel at x2).
    """
    return 0.5 * scale - 0.5 - (scale - size) // 2


def centre_of_mass(kernel: np.ndarray) -> tuple[float, float]:
    """(row, column) of the kernel's centre of mass, in kernel indices."""
    total = float(kernel.sum())
    if abs(total) < 1e-12:
        raise ValueError("a kernel that sums to zero has no centre of mass")
    rows = np.arange(kernel.shape[0], dtype=np.float64)
    cols = np.arange(kernel.shape[1], dtype=np.float64)
    return float(kernel.sum(axis=1) @ rows) / total, float(kernel.sum(axis=0) @ cols) / total


def gaussian_on_grid(size: int, precision: np.ndarray, scale: int) -> np.ndarray:
    """exp(-d^T P d / 2) on a size x size kernel, d the (row, column) offset from ``grid_centre``; unnormalised."""
    taps = np.arange(size, dtype=np.float64) - grid_centre(size, scale)
    offsets = np.stack(np.meshgrid(taps, taps, indexing="ij"), axis=-1)
    return np.exp(-0.5 * np.einsum("...i,ij,...j->...", offsets, precision, offsets))


def normalise(kernel: np.ndarray) -> np.ndarray:
    """The kernel scaled to sum 1 (float64)."""
    kernel = np.asarray(kernel, dtype=np.float64)
    total = kernel.sum()
    if abs(total) < 1e-12:
        raise ValueError("the kernel sums to zero")
    return kernel / total


def shift_kernel(kernel: np.ndarray, shift: tuple[float, float]) -> np.ndarray:
    """Move a kernel by a (sub-pixel) shift in taps: cubic-spline interpolation, zeros coming in."""
    kernel = np.asarray(kernel, dtype=np.float64)
    if max(abs(shift[0]), abs(shift[1])) < 1e-9:
        return kernel.copy()
    return ndimage.shift(kernel, shift, order=3, mode="grid-constant", cval=0.0)


def recentre(kernel: np.ndarray, scale: int) -> np.ndarray:
    """Shift a non-negative kernel so its centre of mass is on ``grid_centre``; the spline's small negative
    overshoots are clipped, which can leave the centre a few hundredths of a tap off."""
    target = grid_centre(kernel.shape[0], scale), grid_centre(kernel.shape[1], scale)
    row, col = centre_of_mass(kernel)
    return normalise(np.clip(shift_kernel(kernel, (target[0] - row, target[1] - col)), 0.0, None))


def embed(kernel: np.ndarray, size: int, scale: int) -> np.ndarray:
    """Place a square kernel on a larger size x size canvas so it acts exactly as before (grid centres meet)."""
    k = kernel.shape[0]
    if kernel.shape != (k, k):
        raise ValueError(f"expected a square kernel, got shape {kernel.shape}")
    offset = grid_centre(size, scale) - grid_centre(k, scale)
    start = int(offset)
    if start != offset or start < 0 or start + k > size:
        raise ValueError(f"a {k}x{k} kernel does not fit a {size}x{size} canvas at x{scale}")
    canvas = np.zeros((size, size), dtype=np.float64)
    canvas[start : start + k, start : start + k] = kernel
    return canvas


def crop(kernel: np.ndarray, size: int) -> np.ndarray:
    """Cut the same number of taps off every side (which keeps the kernel's action) down to size x size."""
    cut, odd = divmod(kernel.shape[0] - size, 2)
    if cut < 0 or odd:
        raise ValueError(f"cannot crop a {kernel.shape[0]}-tap kernel evenly to {size} taps")
    return kernel[cut : kernel.shape[0] - cut, cut : kernel.shape[1] - cut] if cut else kernel


def two_step_kernel(kernel: np.ndarray) -> np.ndarray:
    """The x4 kernel equal to shrinking by 2 with ``kernel`` twice (up to the borders' padding).

    Shrinking twice puts tap u of the first step and tap v of the second on HR offset ``u + 2 v``: the x4
    kernel is ``kernel`` convolved with ``kernel`` dilated by 2 (``3 K - 2`` taps), placed on the smallest
    canvas whose x4 grid lines up with the two steps'.
    """
    k = kernel.shape[0]
    if kernel.shape != (k, k):
        raise ValueError(f"expected a square kernel, got shape {kernel.shape}")
    kernel = np.asarray(kernel, dtype=np.float64)
    composed = np.zeros((3 * k - 2, 3 * k - 2))
    for r in range(k):
        for c in range(k):
            composed[2 * r : 2 * r + k, 2 * c : 2 * c + k] += kernel[r, c] * kernel
    # Two x2 steps put composed tap 0 on HR index 4 b + 3 (2 - k) // 2; an N-tap x4 kernel puts its tap 0
    # on 4 b + (4 - N) // 2. Pad at the end until some canvas makes the two agree.
    first = 3 * ((2 - k) // 2)
    size = 3 * k - 2
    while (4 - size) // 2 > first:
        size += 1
    start = first - (4 - size) // 2
    canvas = np.zeros((size, size))
    canvas[start : start + 3 * k - 2, start : start + 3 * k - 2] = composed
    return canvas


def _fits(kernel_size: int, size: int, scale: int) -> bool:
    offset = grid_centre(size, scale) - grid_centre(kernel_size, scale)
    return 0 <= offset <= size - kernel_size


@dataclass(frozen=True)
class KernelError:
    """How far an estimated kernel is from the true one, after their centres of mass are made to meet."""

    mse: float
    correlation: float


def compare_kernels(estimate: np.ndarray, truth: np.ndarray, scale: int) -> KernelError:
    """MSE and Pearson correlation of two kernels (both normalised to sum 1) on a common grid-aligned canvas.

    The estimate is shifted so that its centre of mass meets the truth's first: a kernel estimated from one
    image is only defined up to such a shift, which moves the output but does not blur it.
    """
    size = max(estimate.shape[0], truth.shape[0]) + 2 * COMPARE_MARGIN
    while not all(_fits(k.shape[0], size, scale) for k in (estimate, truth)):
        size += 1
    a = embed(normalise(estimate), size, scale)
    b = embed(normalise(truth), size, scale)
    (ar, ac), (br, bc) = centre_of_mass(a), centre_of_mass(b)
    a = normalise(shift_kernel(a, (br - ar, bc - ac)))
    correlation = float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    return KernelError(mse=float(np.mean((a - b) ** 2)), correlation=correlation)


def kernel_picture(kernel: np.ndarray, cell: int = PICTURE_CELL) -> ImageData:
    """The kernel as a grey picture: each tap a cell x cell square, white for the largest (negatives black)."""
    values = np.clip(np.asarray(kernel, dtype=np.float64), 0.0, None)
    peak = values.max()
    if values.ndim != 2 or peak <= 0:
        raise ValueError("a kernel picture needs a 2-D kernel with a positive tap")
    plane = np.kron(values / peak, np.ones((cell, cell))).astype(np.float32)
    return ImageData(np.repeat(plane[:, :, None], 3, axis=2), grey=True)


def save_kernel(kernel: np.ndarray, path: Path | str, *, overwrite: bool = False) -> tuple[Path, Path]:
    """Write a kernel as ``.npy`` (float64, normalised to sum 1) and beside it as an enlarged PNG picture.

    Returns the two paths written: ``path`` with suffix ``.npy`` and the same name with suffix ``.png``.
    """
    from enhancer.imaging.image import ImageError
    from enhancer.imaging.io import save_image

    array_path = Path(path).with_suffix(".npy")
    picture_path = array_path.with_suffix(".png")
    if array_path.exists() and not overwrite:
        raise ImageError(array_path, "output exists (use --overwrite to replace it)")
    picture = kernel_picture(kernel)
    array_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(array_path, normalise(kernel), allow_pickle=False)
    save_image(picture, picture_path, overwrite=overwrite)
    return array_path, picture_path
