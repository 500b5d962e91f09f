"""MATLAB-compatible bicubic resizing, kernel downscaling and mod-crop, in numpy and in torch.

The papers' tables are made with MATLAB's ``imresize(..., 'bicubic')``; PIL's and OpenCV's bicubic give
different numbers, so this module reproduces MATLAB's algorithm:

- cubic convolution kernel with a = -0.5 (Keys), four taps wide;
- when shrinking, the kernel is stretched by 1 / scale (MATLAB's default antialiasing);
- output sample ``i`` (0-based) sits at input position ``(i + 0.5) / scale - 0.5``;
- each output's weights are normalised to sum 1, then taps that fall outside the image are mirrored
  ('symmetric': index -1 reads 0, index n reads n - 1);
- output length ``ceil(length * scale)``;
- the dimensions are resized one after the other, the one with the smaller scale first (rows on a tie).

Kernel downscaling (``downscale_with_kernel``) convention: LR pixel ``i`` is the correlation of the image
with the kernel whose geometric centre, ``(K - 1) / 2`` in kernel indices, is placed on HR position
``(i + 0.5) * scale - 0.5`` -- the same grid as ``imresize(image, 1 / scale)``. When kernel size and scale
have different parity that position falls half-way between the places a centre can sit on, and the kernel
is placed half a pixel up/left of it. Equivalently: correlate keeping the image size with tap
``(K - 1) // 2`` on each pixel (the centre of an odd kernel, as ``scipy.ndimage.correlate`` does; for even K
scipy uses tap ``K // 2`` instead), then keep ``blurred[offset::scale]`` with
``offset = (scale - K) // 2 + (K - 1) // 2``: ``(scale - 1) // 2`` for odd K, ``scale // 2 - 1`` for even K.
At x2 that is ``blurred[::2]``, the subsampling ZSSR-style code applies after a centred odd kernel.
``bicubic_kernel`` follows the same convention, so ``downscale_with_kernel(x, bicubic_kernel(s), s)``
reproduces ``imresize(x, 1 / s)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from scipy import sparse

CUBIC_A = -0.5  # Keys' cubic convolution parameter used by MATLAB imresize
CUBIC_SUPPORT = 4.0  # the cubic kernel is non-zero on (-2, 2)
LANCZOS3_SUPPORT = 6.0  # MATLAB's 'lanczos3': sinc(x) sinc(x / 3) on (-3, 3)
SIZE_TOLERANCE = 1e-9  # forgive floating-point noise in size * scale before taking the ceiling
_TORCH_CACHE_SIZE = 64


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5, as MATLAB imresize defines it."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    a = CUBIC_A
    near = ((a + 2) * ax3 - (a + 3) * ax2 + 1) * (ax <= 1)
    far = (a * ax3 - 5 * a * ax2 + 8 * a * ax - 4 * a) * ((ax > 1) & (ax <= 2))
    return near + far


def lanczos3(x: np.ndarray) -> np.ndarray:
    """MATLAB imresize's 'lanczos3' kernel: sinc(x) * sinc(x / 3) for |x| < 3, else 0."""
    return np.sinc(x) * np.sinc(x / 3) * (np.abs(x) < 3)


KERNELS = {"bicubic": (cubic, CUBIC_SUPPORT), "lanczos3": (lanczos3, LANCZOS3_SUPPORT)}


def output_size(size: int, scale: float) -> int:
    """MATLAB's output length for resizing ``size`` samples by ``scale``: ``ceil(size * scale)``."""
    product = size * scale
    return max(1, math.ceil(product - SIZE_TOLERANCE * max(1.0, abs(product))))


def _symmetric_indices(n: int, positions: np.ndarray) -> np.ndarray:
    """Fold (0-based) indices into [0, n) by mirroring at the borders, edge sample repeated ('symmetric')."""
    period = 2 * n
    m = np.mod(positions, period)
    return np.where(m < n, m, period - 1 - m)


@lru_cache(maxsize=128)
def _contributions(
    in_size: int, out_size: int, scale: float, method: str = "bicubic"
) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and weights (both out_size x taps) for one dimension, as MATLAB's ``contributions``."""
    base, support = KERNELS[method]
    if scale < 1:
        width = support / scale

        def kernel(t: np.ndarray) -> np.ndarray:
            return scale * base(scale * t)
    else:
        width = support
        kernel = base
    # MATLAB works 1-based: u is the input position of output sample x.
    x = np.arange(1, out_size + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = math.ceil(width) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = kernel(u[:, None] - indices)
    weights /= weights.sum(axis=1, keepdims=True)
    keep = np.any(weights != 0, axis=0)
    weights = weights[:, keep]
    indices = _symmetric_indices(in_size, indices[:, keep].astype(np.int64) - 1)
    weights.setflags(write=False)
    indices.setflags(write=False)
    return indices, weights


def _plan(
    shape: tuple[int, int], scale: float | None, output_shape: tuple[int, int] | None
) -> list[tuple[int, int, float]]:
    """(dimension, output length, scale) for each dimension to resize, in MATLAB's order."""
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale and output_shape")
    if scale is not None:
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        scales = (float(scale), float(scale))
        sizes = (output_size(shape[0], scales[0]), output_size(shape[1], scales[1]))
    else:
        assert output_shape is not None
        sizes = (int(output_shape[0]), int(output_shape[1]))
        if min(sizes) < 1:
            raise ValueError(f"output_shape must be positive, got {output_shape}")
        scales = (sizes[0] / shape[0], sizes[1] / shape[1])
    # MATLAB resizes along the dimension with the smaller scale first; sorted() is stable, so rows win ties.
    order = sorted(range(2), key=lambda d: scales[d])
    return [(d, sizes[d], scales[d]) for d in order if not (sizes[d] == shape[d] and scales[d] == 1.0)]


@lru_cache(maxsize=128)
def _sparse_matrix(
    in_size: int, out_size: int, scale: float, dtype: np.dtype, method: str = "bicubic"
) -> sparse.csr_matrix:
    """The (out_size x in_size) resize matrix of one dimension; mirrored taps landing together are summed."""
    indices, weights = _contributions(in_size, out_size, scale, method)
    rows = np.repeat(np.arange(out_size), indices.shape[1])
    data = weights.ravel().astype(dtype)
    return sparse.csr_matrix((data, (rows, indices.ravel())), shape=(out_size, in_size))


def _check_float_image(image: np.ndarray) -> None:
    if not np.issubdtype(image.dtype, np.floating):
        raise TypeError(f"imresize expects a float image, got {image.dtype}")
    if image.ndim not in (2, 3):
        raise ValueError(f"expected H x W or H x W x C, got shape {image.shape}")


def _resize_along(matrix: sparse.csr_matrix, image: np.ndarray, dim: int) -> np.ndarray:
    """One dimension's pass: bring it to the front so one sparse product resizes every column at once."""
    moved = np.ascontiguousarray(image if dim == 0 else image.swapaxes(0, 1))
    resized = (matrix @ moved.reshape(moved.shape[0], -1)).reshape((matrix.shape[0], *moved.shape[1:]))
    return resized if dim == 0 else resized.swapaxes(0, 1)


def imresize(
    image: np.ndarray,
    scale: float | None = None,
    output_shape: tuple[int, int] | None = None,
    method: str = "bicubic",
) -> np.ndarray:
    """Resize an H x W or H x W x C float image like MATLAB's ``imresize(image, scale, method)``.

    Args:
        image: float32 or float64 pixels; no clipping or rounding is applied.
        scale: one factor for both sides; the output size is ``ceil(size * scale)``.
        output_shape: (height, width) instead of a scale; each side then has its own factor.
        method: ``bicubic`` (the papers' protocol) or ``lanczos3``.

    Returns:
        The resized image, same dtype as the input.
    """
    _check_float_image(image)
    steps = _plan(image.shape[:2], scale, output_shape)
    if not steps:
        return image.copy()
    out = image
    for dim, size, dim_scale in steps:
        out = _resize_along(_sparse_matrix(out.shape[dim], size, dim_scale, image.dtype, method), out, dim)
    return np.ascontiguousarray(out, dtype=image.dtype)


def imresize_tiled(
    image: np.ndarray,
    scale: float,
    tile: int = 512,
    method: str = "bicubic",
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """``imresize(image, scale, method=method)`` bit for bit, computed in output tiles of at most
    ``tile`` x ``tile``, so memory beyond the input and the output stays that of one tile.

    Each tile takes the rows of both dimensions' resize matrices that produce it and the input block their
    taps reach (the halo follows from the kernel, mirrored borders included): the same products, summed in
    the same order, as the whole image. ``progress(fraction)`` is called after each tile (it may raise to
    stop).
    """
    _check_float_image(image)
    if tile < 1:
        raise ValueError(f"tile must be positive, got {tile}")
    steps = _plan(image.shape[:2], scale, None)
    if not steps:
        return image.copy()
    matrices = {dim: _sparse_matrix(image.shape[dim], size, s, image.dtype, method) for dim, size, s in steps}
    out_shape = [image.shape[0], image.shape[1]]
    for dim, size, _ in steps:
        out_shape[dim] = size
    out = np.empty((*out_shape, *image.shape[2:]), dtype=image.dtype)
    starts = [range(0, out_shape[0], tile), range(0, out_shape[1], tile)]
    count, done = len(starts[0]) * len(starts[1]), 0
    for top in starts[0]:
        for left in starts[1]:
            window = [slice(top, min(top + tile, out_shape[0])), slice(left, min(left + tile, out_shape[1]))]
            reach, parts = [], {}
            for dim in (0, 1):
                if dim not in matrices:
                    reach.append(window[dim])
                    continue
                rows = matrices[dim][window[dim]]
                first, last = int(rows.indices.min()), int(rows.indices.max())
                reach.append(slice(first, last + 1))
                parts[dim] = rows[:, first : last + 1]
            block = image[reach[0], reach[1]]
            for dim, _, _ in steps:
                block = _resize_along(parts[dim], block, dim)
            out[window[0], window[1]] = block
            done += 1
            if progress is not None:
                progress(done / count)
    return out


@lru_cache(maxsize=_TORCH_CACHE_SIZE)
def _torch_matrix(
    in_size: int, out_size: int, scale: float, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """Dense (out_size x in_size) resize matrix for one dimension, built once per size, device and dtype."""
    matrix = _sparse_matrix(in_size, out_size, scale, np.dtype(np.float64)).toarray()
    return torch.from_numpy(matrix).to(device=device, dtype=dtype)


def imresize_torch(
    x: torch.Tensor, scale: float | None = None, output_shape: tuple[int, int] | None = None
) -> torch.Tensor:
    """MATLAB bicubic ``imresize`` of an N x C x H x W float tensor; differentiable, on x's device/dtype."""
    if x.ndim != 4:
        raise ValueError(f"expected N x C x H x W, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"imresize_torch expects a float tensor, got {x.dtype}")
    steps = _plan((x.shape[2], x.shape[3]), scale, output_shape)
    if not steps:
        return x.clone()
    out = x
    for dim, size, dim_scale in steps:
        in_size = out.shape[2 + dim]
        matrix = _torch_matrix(in_size, size, dim_scale, x.device, x.dtype)
        out = torch.matmul(matrix, out) if dim == 0 else torch.matmul(out, matrix.t())
    return out


def bicubic_kernel(scale: int, size: int | None = None) -> np.ndarray:
    """The 2-D kernel that, with ``downscale_with_kernel``, equals MATLAB bicubic downscaling by ``scale``.

    Its support is 4 * scale taps for an even scale and 4 * scale - 1 for an odd one (the default ``size``);
    a larger ``size`` pads with zeros, a smaller one truncates. Normalised to sum 1.
    """
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    if size is None:
        size = 4 * scale if scale % 2 == 0 else 4 * scale - 1
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    # Tap j lands on HR index start + j; the LR sample sits at (scale - 1) / 2 past the block start.
    taps = np.arange(size) + (scale - size) // 2 - (scale - 1) / 2
    profile = cubic(taps / scale)
    kernel = np.outer(profile, profile)
    return kernel / kernel.sum()


def _kernel_layout(n: int, k: int, scale: int) -> tuple[np.ndarray, int, int]:
    """Mirrored source indices covering every tap, the first tap's offset into them, and the LR length."""
    n_out = math.ceil(n / scale)
    first = (scale - k) // 2  # HR index of tap 0 for LR sample 0 (see the module docstring)
    last = scale * (n_out - 1) + first + k - 1
    start = min(first, 0)
    positions = np.arange(start, max(last, n - 1) + 1)
    return _symmetric_indices(n, positions), first - start, n_out


def downscale_with_kernel(image: np.ndarray, kernel: np.ndarray, scale: int) -> np.ndarray:
    """Blur an H x W (x C) image with ``kernel`` (correlation, symmetric borders); keep every scale-th pixel.

    The kernel is centred on HR position ``(i + 0.5) * scale - 0.5`` for LR pixel ``i`` (half a pixel up/left
    when the kernel's size and the scale differ in parity), matching ``imresize``'s grid; the output is
    ``ceil(H / scale) x ceil(W / scale)``, same dtype as the input.
    """
    if not np.issubdtype(image.dtype, np.floating):
        raise TypeError(f"expected a float image, got {image.dtype}")
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2-D, got shape {kernel.shape}")
    ky, kx = kernel.shape
    rows, oy, out_h = _kernel_layout(image.shape[0], ky, scale)
    cols, ox, out_w = _kernel_layout(image.shape[1], kx, scale)
    padded = image[rows][:, cols]
    weights = kernel.astype(image.dtype)
    out = np.zeros((out_h, out_w, *image.shape[2:]), dtype=image.dtype)
    span_y = scale * (out_h - 1) + 1
    span_x = scale * (out_w - 1) + 1
    for j in range(ky):
        for i in range(kx):
            if weights[j, i] != 0:
                y0, x0 = oy + j, ox + i
                out += weights[j, i] * padded[y0 : y0 + span_y : scale, x0 : x0 + span_x : scale]
    return out


def downscale_with_kernel_torch(
    x: torch.Tensor, kernel: torch.Tensor | np.ndarray, scale: int
) -> torch.Tensor:
    """``downscale_with_kernel`` for an N x C x H x W tensor; differentiable in the image and the kernel."""
    if x.ndim != 4:
        raise ValueError(f"expected N x C x H x W, got shape {tuple(x.shape)}")
    k = torch.as_tensor(kernel, device=x.device, dtype=x.dtype)
    if k.ndim != 2:
        raise ValueError(f"kernel must be 2-D, got shape {tuple(k.shape)}")
    ky, kx = k.shape
    rows, oy, out_h = _kernel_layout(x.shape[2], ky, scale)
    cols, ox, out_w = _kernel_layout(x.shape[3], kx, scale)
    rows_t = torch.from_numpy(rows[oy : oy + scale * (out_h - 1) + ky]).to(x.device)
    cols_t = torch.from_numpy(cols[ox : ox + scale * (out_w - 1) + kx]).to(x.device)
    padded = x.index_select(2, rows_t).index_select(3, cols_t)
    channels = x.shape[1]
    weight = k.expand(channels, 1, ky, kx)
    return F.conv2d(padded, weight, stride=scale, groups=channels)


def mod_crop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom and right edges so both sides are multiples of ``scale`` (the protocol's mod-crop)."""
    h, w = image.shape[:2]
    return image[: h - h % scale, : w - w % scale]


def central_crop(image: np.ndarray, side: int, multiple: int = 1) -> np.ndarray:
    """The central ``side`` x ``side`` window (each side at most the image's), sides cut to a ``multiple``."""
    if side < 1 or multiple < 1:
        raise ValueError(f"side and multiple must be positive, got {side} and {multiple}")
    h, w = image.shape[:2]
    ch = min(side, h) // multiple * multiple
    cw = min(side, w) // multiple * multiple
    top, left = (h - ch) // 2, (w - cw) // 2
    return image[top : top + ch, left : left + cw]
