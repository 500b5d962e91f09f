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
from dataclasses import dataclass, field
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
from enhancer.nets.pixelrsr import HR_SIDE, LR_SIDE, SCALE, ConditioningNet, PixelRecursiveSR

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
        label="Faces to draw",
    )
    temperature: float = option(
        DEFAULT_TEMPERATURE,
        "how adventurous the faces are: 1 draws freely, lower is smoother and more alike, 0 the single most "
        "likely face",
        minimum=0.0,
        maximum=1.5,
        label="Variety",
    )


@dataclass(frozen=True)
class PixelRSRModel:
    path: Path
    sha256: str
    config: dict[str, int]
    graphs: dict[str, Path] = field(default_factory=dict)


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
            graphs = {role: models_dir() / g["file"] for role, g in entry.get("graphs", {}).items()}
            missing = [str(p) for p in graphs.values() if not p.exists()]
            if missing:
                raise ValueError(f"pixelrsr model file(s) missing: {', '.join(missing)}")
            return PixelRSRModel(path, entry["sha256"], dict(entry["config"]), graphs)
    raise ValueError(f"no {kind} model in {manifest_path}")


def load_network(path: Path | str, device: torch.device) -> PixelRecursiveSR | ConditioningNet:
    """Weights are data: ``weights_only`` loading of {"config": ..., "state_dict": ...}."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    config = payload["config"]
    network = ConditioningNet(**config) if "channels" in config else PixelRecursiveSR(**config)
    network.load_state_dict(payload["state_dict"])
    return network.eval().to(device)


def draw_levels_numpy(logits: np.ndarray, temperature: float, uniforms: np.ndarray) -> np.ndarray:
    """``nets.pixelrsr.draw_levels`` in numpy: argmax at temperature 0, else inverse-CDF of softmax(l / T)."""
    if temperature <= 0:
        return logits.argmax(axis=1)
    z = logits.astype(np.float64) / temperature
    p = np.exp(z - z.max(axis=1, keepdims=True))
    cdf = np.cumsum(p, axis=1)
    return np.minimum((cdf < (uniforms * cdf[:, -1])[:, None]).sum(axis=1), logits.shape[1] - 1)


class OnnxFaceSampler:
    """Draws faces with the three shipped graphs on onnxruntime's CPU provider.

    The same computation as ``nets.pixelrsr.sample``: the conditioning net once, one vertical-stack row per
    HR row, one horizontal step per sub-pixel, each layer's left neighbour and row above kept here. The CPU
    provider on purpose: each of the 3072 steps is a few hundred thousand multiply-adds, far too little to
    pay for a GPU round trip.
    """

    def __init__(self, model: PixelRSRModel) -> None:
        self.levels = int(model.config["levels"])
        self.layers = int(model.config["prior_layers"])
        self.channels = int(model.config["prior_channels"])
        self.sessions = {role: _cpu_session(str(path)) for role, path in model.graphs.items()}

    def sample(
        self, lr: np.ndarray, temperature: float, uniforms: np.ndarray, progress: Any = None
    ) -> np.ndarray:
        """Level indices (N, 3, 32, 32) for LR (N, 3, 8, 8) float32 in [-1, 1]; ``uniforms`` (N, 3, 32, 32)."""
        n = lr.shape[0]
        conditioning = self.sessions["conditioning"].run(None, {"lr": lr.astype(np.float32)})[0]
        height, width = conditioning.shape[-2:]
        row_step, column_step = self.sessions["vertical_row"], self.sessions["horizontal_step"]
        levels = np.zeros((n, 3, height, width), dtype=np.int64)
        x = np.full(
            (n, 3, height, width), -1.0, dtype=np.float32
        )  # level 0: what the torch sampler starts from
        above0 = np.zeros((n, 3, width), np.float32)
        above = np.zeros((self.layers - 1, n, self.channels, width), np.float32)
        to_unit = np.float32(2.0 / (self.levels - 1))
        for i in range(height):
            row0 = x[:, :, i - 1].copy() if i > 0 else np.zeros((n, 3, width), np.float32)
            from_vertical, above = row_step.run(None, {"above0": above0, "row0": row0, "above": above})
            above0 = row0
            columns = np.ascontiguousarray(from_vertical.transpose(3, 0, 1, 2))  # (W, L, N, 2C)
            left0 = np.zeros((n, 3), np.float32)
            lefts = np.zeros((self.layers - 1, n, self.channels), np.float32)
            for j in range(width):
                for colour in range(3):
                    feeds = {"left0": left0, "current0": np.ascontiguousarray(x[:, :, i, j]), "lefts": lefts}
                    feeds["from_vertical"] = columns[j]
                    logits, inputs = column_step.run(None, feeds)
                    value = draw_levels_numpy(
                        logits[:, colour] + conditioning[:, colour, :, i, j],
                        temperature,
                        uniforms[:, colour, i, j],
                    )
                    levels[:, colour, i, j] = value
                    x[:, colour, i, j] = value * to_unit - 1.0
                lefts = inputs  # a layer's input at a column never depends on that pixel's own last colour
                left0 = x[:, :, i, j].copy()
            if progress is not None:
                progress((i + 1) / height)
        return levels


def _cpu_session(path: str) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


_LOCK = threading.Lock()


@cache
def _cached_sampler(path: str, sha256: str) -> OnnxFaceSampler:
    return OnnxFaceSampler(find_model())


def sampler() -> OnnxFaceSampler:
    """The shipped model's sampler, built once per process (and again if the model file changes)."""
    model = find_model()
    with _LOCK:
        return _cached_sampler(str(model.path), model.sha256)


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
    face_sampler: OnnxFaceSampler,
    lr_rgb8: np.ndarray,
    count: int,
    temperature: float,
    seed: int,
    progress: Any = None,
) -> np.ndarray:
    """``count`` samples (count, 32, 32, 3) uint8 for one 8x8 uint8 face; sample k uses seed + k."""
    lr = lr_rgb8.transpose(2, 0, 1)[None].astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)
    lr = np.repeat(lr, count, axis=0)
    uniforms = sample_uniforms(count, seed)
    levels = face_sampler.sample(lr, temperature, uniforms, progress)
    values = levels.astype(np.float64) * (255.0 / (face_sampler.levels - 1))
    return np.clip(np.round(values), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def sample_uniforms(count: int, seed: int) -> np.ndarray:
    """The noise of samples seed, seed + 1, ...: (count, 3, 32, 32) in [0, 1), one generator per sample."""
    return np.stack(
        [
            torch.rand(3, HR_SIDE, HR_SIDE, generator=torch.Generator().manual_seed(seed + k)).numpy()
            for k in range(count)
        ]
    )


def run_pixelrsr(image: ImageData, scale: int, options: PixelRSROptions, context: RunContext) -> MethodResult:
    if scale != SCALE:
        raise ValueError(f"pixelrsr enlarges x{SCALE} only (8×8 → 32×32)")
    context.progress.report(0.0, "loading model")
    face_sampler = sampler()
    pixels, alpha, note = face_input(image)
    lr8 = np.clip(np.round(pixels * 255.0), 0, 255).astype(np.uint8)
    seed = context.seed if context.seed is not None else secrets.randbelow(2**31)

    def on_row(fraction: float) -> None:
        context.progress.report(fraction, "drawing faces", f"{options.samples} sample(s)")

    faces = draw_faces(face_sampler, lr8, options.samples, options.temperature, seed, on_row)
    big_alpha = None if alpha is None else np.clip(imresize(alpha, scale=SCALE), 0.0, 1.0).astype(np.float32)
    results = []
    for face in faces:
        values = face.astype(np.float32) / 255.0
        if image.grey:  # a grey face stays grey: the luma of the drawn colours
            values = np.repeat((values @ np.array([0.299, 0.587, 0.114], np.float32))[:, :, None], 3, axis=2)
        results.append(image.with_pixels(values, big_alpha))
    info = {
        "device": "cpu",
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
        devices=("cpu",),  # 3072 tiny sequential steps: a GPU would only add round trips
        run=run_pixelrsr,
    )
)
