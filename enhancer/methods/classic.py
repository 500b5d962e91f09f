"""Classic interpolation baselines: MATLAB-exact bicubic and Lanczos-3."""

from __future__ import annotations

import numpy as np

from enhancer.imaging.image import ImageData
from enhancer.imaging.resize import imresize_tiled
from enhancer.methods.registry import Method, MethodResult, NoOptions, RunContext, register

CLASSIC_SCALES = (2, 3, 4, 5, 6, 8)
MIN_TILE = 64  # output tile side floor: smaller tiles only add per-tile overhead


def _enlarge(image: ImageData, scale: int, method: str, context: RunContext) -> MethodResult:
    """Enlarge colour and alpha in output tiles: memory stays bounded, and the result equals the untiled
    resize bit for bit (``imresize_tiled``)."""
    tile = max(MIN_TILE, context.tile_size)
    context.progress.report(0.0, method, f"{image.width}×{image.height} → ×{scale}")
    span = 0.9 if image.alpha is not None else 1.0

    def colour_progress(fraction: float) -> None:
        context.progress.report(span * fraction, method)

    pixels = imresize_tiled(image.pixels, scale, tile, method, colour_progress)
    np.clip(pixels, 0.0, 1.0, out=pixels)
    alpha = None
    if image.alpha is not None:
        alpha = imresize_tiled(image.alpha, scale, tile, method)
        np.clip(alpha, 0.0, 1.0, out=alpha)
    return MethodResult(image.with_pixels(pixels, alpha), info={"device": "cpu"})


def run_bicubic(image: ImageData, scale: int, options: NoOptions, context: RunContext) -> MethodResult:
    """Enlarge with MATLAB ``imresize`` bicubic, the baseline of every paper's table."""
    return _enlarge(image, scale, "bicubic", context)


def run_lanczos(image: ImageData, scale: int, options: NoOptions, context: RunContext) -> MethodResult:
    """Enlarge with MATLAB ``imresize`` 'lanczos3' (sharper than bicubic, with slight ringing)."""
    return _enlarge(image, scale, "lanczos3", context)


register(
    Method(
        id="bicubic",
        name="Bicubic (MATLAB)",
        purpose="Plain interpolation, exactly as MATLAB imresize: the baseline every paper compares with.",
        scales=CLASSIC_SCALES,
        run=run_bicubic,
    )
)
register(
    Method(
        id="lanczos",
        name="Lanczos-3 (MATLAB)",
        purpose="Plain interpolation with a wider kernel than bicubic (MATLAB imresize lanczos3): a little more "
        "fine detail, more ringing at edges.",
        scales=CLASSIC_SCALES,
        run=run_lanczos,
    )
)
