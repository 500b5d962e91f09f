"""Classic interpolation baselines: MATLAB-exact bicubic and Lanczos-3."""

from __future__ import annotations

import numpy as np
from PIL import Image

from enhancer.imaging.image import ImageData
from enhancer.imaging.resize import imresize
from enhancer.methods.registry import Method, MethodResult, NoOptions, RunContext, register

CLASSIC_SCALES = (2, 3, 4, 5, 6, 8)


def _enlarge_alpha(image: ImageData, scale: int) -> np.ndarray | None:
    if image.alpha is None:
        return None
    return np.clip(imresize(image.alpha, scale=scale), 0.0, 1.0).astype(np.float32)


def run_bicubic(image: ImageData, scale: int, options: NoOptions, context: RunContext) -> MethodResult:
    """Enlarge with MATLAB ``imresize`` bicubic, the baseline of every paper's table."""
    context.progress.report(0.0, "bicubic", f"{image.width}×{image.height} → ×{scale}")
    channels = []
    for index in range(3):
        channels.append(imresize(image.pixels[:, :, index], scale=scale))
        context.progress.report((index + 1) / 4, "bicubic")
    pixels = np.clip(np.stack(channels, axis=2), 0.0, 1.0)
    alpha = _enlarge_alpha(image, scale)
    return MethodResult(image.with_pixels(pixels, alpha), info={"device": "cpu"})


def _lanczos_plane(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    resized = Image.fromarray(plane.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.float32)


def run_lanczos(image: ImageData, scale: int, options: NoOptions, context: RunContext) -> MethodResult:
    """Enlarge with Lanczos-3 (Pillow, on float planes so no precision is lost)."""
    size = (image.width * scale, image.height * scale)
    context.progress.report(0.0, "lanczos", f"{image.width}×{image.height} → ×{scale}")
    channels = []
    for index in range(3):
        channels.append(_lanczos_plane(image.pixels[:, :, index], size))
        context.progress.report((index + 1) / 4, "lanczos")
    pixels = np.clip(np.stack(channels, axis=2), 0.0, 1.0)
    alpha = None if image.alpha is None else np.clip(_lanczos_plane(image.alpha, size), 0.0, 1.0)
    return MethodResult(image.with_pixels(pixels, alpha), info={"device": "cpu"})


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
        name="Lanczos-3",
        purpose="Sharper plain interpolation than bicubic, with slight ringing at edges.",
        scales=CLASSIC_SCALES,
        run=run_lanczos,
    )
)
