"""Pixel recursive super resolution (Dahl, Norouzi, Shlens, ICCV 2017): several plausible x4 faces from a tiny one.

An 8x8 face becomes 32x32 by drawing every HR sub-pixel in turn from the summed logits of a conditioning
network (sees the LR) and a PixelCNN prior (sees the pixels drawn so far): each sample is a different face
that agrees with the input. Details are invented, and the user is told so. An input larger than 8x8 is
area-downscaled (after a centre crop to a square) first. The networks are in ``enhancer.nets.pixelrsr``,
their training in ``enhancer.train.pixelrsr_train``; the weights ship as ``models/pixelrsr.pt``.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from enhancer.imaging.image import ImageData
from enhancer.imaging.resize import imresize
from enhancer.methods.irn import MANIFEST_NAME, models_dir
from enhancer.methods.registry import Method, MethodResult, RunContext, option, register
from enhancer.nets.pixelrsr import HR_SIDE, LR_SIDE, SCALE, ConditioningNet, PixelRecursiveSR, sample
from enhancer.runtime.devices import torch_device

MAX_SAMPLES = 16
DEFAULT_TEMPERATURE = 0.8
INVENTED_NOTE = "details are invented: each sample is one plausible face, not the true one"


@dataclass(frozen=True)
class PixelRSROptions:
    samples: int = option(
        1,
        "how many different faces to draw, to choose from (each under a second on a CPU)",
        minimum=1,
        maximum=MAX_SAMPLES,
        app_default=4,
    )
    temperature: float = option(
        DEFAULT_TEMPERATURE,
        "how adventurous the faces are: 1 draws freely, lower is smoother and more alike, 0 the single most "
        "likely face",
        minimum=0.0,
        maximum=1.5,
    )


@dataclass(frozen=True)
class PixelRSRModel:
    path: Path
    sha256: str
    config: dict[str, int]


def find_model(kind: str = "pixelrsr") -> PixelRSRModel:
    """The shipped model (``pixelrsr``, or the benchmark's ``pixelrsr-l2`` baseline) from the manifest."""
    manifest_path = models_dir() / MANIFEST_NAME
    if not manifest_path.exists():
        raise ValueError(f"no models: {manifest_path} is missing")
    for entry in json.loads(manifest_path.read_text())["models"]:
        if entry.get("method") == kind:
            path = models_dir() / entry["file"]
            if not path.exists():
                raise ValueError(f"pixelrsr model file {path} is missing")
            return PixelRSRModel(path, entry["sha256"], dict(entry["config"]))
    raise ValueError(f"no {kind} model in {manifest_path}")


def load_network(path: Path | str, device: torch.device) -> PixelRecursiveSR | ConditioningNet:
    """Weights are data: ``weights_only`` loading of {"config": ..., "state_dict": ...}."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    config = payload["config"]
    network = ConditioningNet(**config) if "channels" in config else PixelRecursiveSR(**config)
    network.load_state_dict(payload["state_dict"])
    return network.eval().to(device)


_LOCK = threading.Lock()


@cache
def _cached_network(path: str, device: str) -> PixelRecursiveSR:
    return load_network(path, torch.device(device))


def network_for(device: torch.device) -> PixelRecursiveSR:
    with _LOCK:
        return _cached_network(str(find_model().path), str(device))


def face_input(image: ImageData) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """The 8x8 RGB (and alpha) the network takes, and a note when the input had to be cropped or shrunk."""
    if image.width < LR_SIDE or image.height < LR_SIDE:
        raise ValueError(
            f"pixelrsr needs a face of at least {LR_SIDE}×{LR_SIDE} pixels, got {image.width}×{image.height}"
        )
    pixels, alpha = image.pixels, image.alpha
    notes = []
    if image.width != image.height:
        side = min(image.width, image.height)
        top, left = (image.height - side) // 2, (image.width - side) // 2
        pixels = pixels[top : top + side, left : left + side]
        alpha = None if alpha is None else alpha[top : top + side, left : left + side]
        notes.append(f"centre-cropped to {side}×{side}")
    side = pixels.shape[0]
    if side != LR_SIDE:
        pixels = np.stack([_area_resize(pixels[:, :, c]) for c in range(3)], axis=2)
        alpha = None if alpha is None else _area_resize(alpha)
        notes.append(f"area-downscaled {side}×{side} → {LR_SIDE}×{LR_SIDE}")
    return pixels, alpha, "; ".join(notes) or None


def _area_resize(plane: np.ndarray) -> np.ndarray:
    resized = Image.fromarray(plane.astype(np.float32), mode="F").resize(
        (LR_SIDE, LR_SIDE), Image.Resampling.BOX
    )
    return np.asarray(resized, dtype=np.float32)


def draw_faces(
    network: PixelRecursiveSR,
    lr_rgb8: np.ndarray,
    count: int,
    temperature: float,
    seed: int,
    progress: Any = None,
    device: torch.device | None = None,
) -> np.ndarray:
    """``count`` samples (count, 32, 32, 3) uint8 for one 8x8 uint8 face; sample k uses seed + k."""
    device = device or torch.device("cpu")
    lr = torch.from_numpy(lr_rgb8).permute(2, 0, 1).float().unsqueeze(0) * (2.0 / 255.0) - 1.0
    lr = lr.expand(count, -1, -1, -1).to(device)
    uniforms = torch.stack(
        [
            torch.rand(3, HR_SIDE, HR_SIDE, generator=torch.Generator().manual_seed(seed + k))
            for k in range(count)
        ]
    ).to(device)
    levels = sample(network, lr, temperature, uniforms, progress)
    values = levels.float() * (255.0 / (network.levels - 1))
    return values.round().clamp(0, 255).byte().permute(0, 2, 3, 1).cpu().numpy()


def run_pixelrsr(image: ImageData, scale: int, options: PixelRSROptions, context: RunContext) -> MethodResult:
    if scale != SCALE:
        raise ValueError(f"pixelrsr enlarges x{SCALE} only (8×8 → 32×32)")
    device = torch_device(context.device)
    context.progress.report(0.0, "loading model")
    network = network_for(device)
    pixels, alpha, note = face_input(image)
    lr8 = np.clip(np.round(pixels * 255.0), 0, 255).astype(np.uint8)
    seed = context.seed if context.seed is not None else secrets.randbelow(2**31)

    def on_row(fraction: float) -> None:
        context.progress.report(fraction, "drawing faces", f"{options.samples} sample(s)")

    faces = draw_faces(network, lr8, options.samples, options.temperature, seed, on_row, device)
    big_alpha = None if alpha is None else np.clip(imresize(alpha, scale=SCALE), 0.0, 1.0).astype(np.float32)
    results = []
    for face in faces:
        values = face.astype(np.float32) / 255.0
        if image.grey:  # a grey face stays grey: the luma of the drawn colours
            values = np.repeat((values @ np.array([0.299, 0.587, 0.114], np.float32))[:, :, None], 3, axis=2)
        results.append(image.with_pixels(values, big_alpha))
    info = {
        "device": device.type,
        "seed": str(seed),
        "samples": str(options.samples),
        "temperature": f"{options.temperature:g}",
        "note": INVENTED_NOTE,
    }
    if note:
        info["input"] = note
    return MethodResult(results[0], info=info, samples=results)


register(
    Method(
        id="pixelrsr",
        name="Pixel recursive, faces ×4",
        purpose="A tiny face (8×8 pixels, e.g. in an old group photo) drawn as several plausible 32×32 faces to "
        "choose from; the details are invented, not recovered. Trained on small LFW portraits.",
        scales=(SCALE,),
        options_type=PixelRSROptions,
        devices=("cpu", "cuda"),
        run=run_pixelrsr,
    )
)
