"""Run an image-to-image function tile by tile so that memory stays bounded, with invisible seams.

Layout: the image is cut into a grid of non-overlapping *cores* of near-equal size. Each call of ``fn`` sees
its core plus ``overlap`` pixels of real context from the neighbours on every side that has neighbours (at the
image border it sees the border itself, just as an untiled call would), so a tile is at most ``tile`` pixels.
From each result we keep the core and a band of ``feather`` pixels reaching into the context on every inner
side; across a boundary the two tiles' bands overlap by ``2 * feather`` pixels and are blended with linear
weights, normalised by the accumulated weight sum.

Exactness: an output pixel kept from a tile lies at least ``overlap - feather`` input pixels inside that
tile's inner edges, so wherever ``fn``'s receptive-field radius is at most ``overlap - feather`` every tile
returns exactly what the untiled call would and the blend reproduces the untiled result (up to float
rounding). Where the receptive field is larger, the feather band hides the small disagreement instead of
leaving a hard seam.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

DEFAULT_TILE = 512
DEFAULT_OVERLAP = 16
MIN_TILE = 64  # below this the context overhead dominates


def _cores(length: int, tile: int, overlap: int, step: int = 1) -> list[tuple[int, int]]:
    """Split [0, length) into near-equal cores whose tiles (core + context) fit in ``tile`` pixels.

    Inner bounds are multiples of ``step`` (a rational scale p/q needs multiples of q to land on output pixels).
    """
    if length <= tile:
        return [(0, length)]
    count = math.ceil(length / (tile - 2 * overlap))
    bounds = [round(i * length / count / step) * step for i in range(count)] + [length]
    return list(itertools.pairwise(bounds))


def _ramp(start: int, stop: int, lead: int, trail: int, scale: Fraction) -> np.ndarray:
    """Output-pixel weights along one axis for a kept span [start - lead, stop + trail) of input pixels.

    A band of width ``2 * lead`` centred on ``start`` ramps up from 0 to 1, one of ``2 * trail`` centred on
    ``stop`` ramps down; the neighbour's ramp is the complement, so the weights sum to 1 across a boundary.
    """
    centres = (np.arange(int((start - lead) * scale), int((stop + trail) * scale)) + 0.5) / float(scale)
    weights = np.ones_like(centres)
    if lead:
        weights = np.minimum(weights, (centres - (start - lead)) / (2 * lead))
    if trail:
        weights = np.minimum(weights, ((stop + trail) - centres) / (2 * trail))
    return weights.astype(np.float32)


def run_tiled(
    image: np.ndarray,
    fn: Callable[[np.ndarray], np.ndarray],
    *,
    scale: int | Fraction = 1,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    feather: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Apply ``fn`` to an H x W (x C) image tile by tile; assemble the (H * scale, W * scale, ...) result.

    Args:
        image: float pixels, H x W or H x W x C.
        fn: maps a tile (h x w [x C]) to its enlargement (h * scale x w * scale [x C_out]); any channel count,
            the same for every tile.
        scale: the enlargement ``fn`` applies; a ``Fraction`` p/q needs H and W to be multiples of q (tiles are
            cut at multiples of q, so each maps to whole output pixels).
        tile: largest tile side, in input pixels, context included.
        overlap: context pixels each tile borrows from its neighbours; should cover ``fn``'s receptive field.
        feather: half-width of the blend band; defaults to ``overlap // 2``; 0 keeps hard core edges.
        progress: called with the fraction done after each tile; raising inside it cancels the run.

    Returns:
        The assembled float32 result; 2-D if ``fn`` returns 2-D tiles.
    """
    if image.ndim not in (2, 3):
        raise ValueError(f"expected H x W or H x W x C, got shape {image.shape}")
    if overlap < 0 or tile <= 2 * overlap:
        raise ValueError(f"tile ({tile}) must exceed twice the overlap ({overlap})")
    h, w = image.shape[:2]
    scale = Fraction(scale)
    step = scale.denominator
    if h % step or w % step:
        raise ValueError(f"a {w}x{h} image cannot be enlarged by {scale} in whole pixels")
    overlap = -(-overlap // step) * step
    if tile - 2 * overlap < 2 * step:
        raise ValueError(
            f"tile ({tile}) leaves no core beside twice the overlap ({overlap}) at scale {scale}"
        )
    if feather is None:
        feather = overlap // 2
    rows = _cores(h, tile, overlap, step)
    cols = _cores(w, tile, overlap, step)
    # A band must stay inside the neighbour's context and inside every core.
    smallest_core = min(stop - start for start, stop in rows + cols)
    feather = max(0, min(feather, overlap, smallest_core)) // step * step

    def out(length: int) -> int:
        return int(length * scale)

    result: np.ndarray | None = None
    weight_sum: np.ndarray | None = None
    first_planar = False
    total = len(rows) * len(cols)
    done = 0
    for r0, r1 in rows:
        for c0, c1 in cols:
            t0, t1 = max(r0 - overlap, 0), min(r1 + overlap, h)
            l0, l1 = max(c0 - overlap, 0), min(c1 + overlap, w)
            tile_out = np.asarray(fn(image[t0:t1, l0:l1]))
            expected = (out(t1 - t0), out(l1 - l0))
            if tile_out.shape[:2] != expected or tile_out.ndim not in (2, 3):
                raise ValueError(f"fn returned shape {tile_out.shape} for a tile that should give {expected}")
            planar = tile_out.ndim == 2
            if planar:
                tile_out = tile_out[..., None]
            if result is None:
                result = np.zeros((out(h), out(w), tile_out.shape[2]), dtype=np.float32)
                weight_sum = np.zeros((out(h), out(w)), dtype=np.float32)
                first_planar = planar
            elif tile_out.shape[2] != result.shape[2] or planar != first_planar:
                raise ValueError(
                    f"fn returned {tile_out.shape} but earlier tiles had {result.shape[2]} channels"
                )
            assert weight_sum is not None
            top, bottom = (feather if r0 > 0 else 0), (feather if r1 < h else 0)
            left, right = (feather if c0 > 0 else 0), (feather if c1 < w else 0)
            weights = np.outer(_ramp(r0, r1, top, bottom, scale), _ramp(c0, c1, left, right, scale))
            ys = slice(out(r0 - top), out(r1 + bottom))
            xs = slice(out(c0 - left), out(c1 + right))
            kept = tile_out[
                out(r0 - top - t0) : out(r1 + bottom - t0),
                out(c0 - left - l0) : out(c1 + right - l0),
            ]
            result[ys, xs] += kept * weights[..., None]
            weight_sum[ys, xs] += weights
            del tile_out, kept
            done += 1
            if progress is not None:
                progress(done / total)
    assert result is not None and weight_sum is not None
    for y in range(0, result.shape[0], 256):  # normalise in strips to avoid a full-size temporary
        result[y : y + 256] /= weight_sum[y : y + 256, :, None]
    return result[..., 0] if first_planar else result


def tile_size_for_budget(bytes_per_output_pixel: float, budget_bytes: int, scale: int) -> int:
    """The largest tile side (input pixels) whose output at ``bytes_per_output_pixel`` fits ``budget_bytes``.

    ``bytes_per_output_pixel`` should count everything ``fn`` holds per output pixel (activations included).
    The answer is rounded down to a multiple of 8 and is never below ``MIN_TILE``.
    """
    if bytes_per_output_pixel <= 0 or budget_bytes <= 0 or scale < 1:
        raise ValueError("bytes_per_output_pixel, budget_bytes and scale must be positive")
    side = math.sqrt(budget_bytes / bytes_per_output_pixel) / scale
    return max(MIN_TILE, int(side) // 8 * 8)
