"""The face benchmark of pixel recursive SR (REFERENCE.md §5) on the held-out LFW test split.

Measures, on people never seen in training: NLL in bits per sub-pixel (8-bit scale) of the full model and of
the conditioning network alone; PSNR / SSIM (Y, border 4: our protocol) of samples at several temperatures
against MATLAB bicubic and against the pixel-independent L2 regression baseline; consistency (MSE on [0, 1]
between the MATLAB-bicubic x1/4 of a sample and the LR input, as Dahl et al. report); diversity (mean
per-pixel standard deviation over several samples of one input); sampling time per batch size.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from enhancer.imaging.metrics import score
from enhancer.imaging.resize import imresize
from enhancer.methods.pixelrsr import OnnxFaceSampler, sample_uniforms
from enhancer.nets.pixelrsr import (
    SCALE,
    ConditioningNet,
    PixelRecursiveSR,
    nll_bits_per_dim,
    sample,
    to_unit_range,
)
from enhancer.train.pixelrsr_train import bicubic_lr, face_split, load_faces, lr_input, to_levels

TEMPERATURES = (1.0, 0.8, 0.0)
DIVERSITY_SAMPLES = 8
BATCH = 64


@dataclass
class FaceBenchConfig:
    faces: Path
    split: str = "test"
    limit: int | None = None  # images that are sampled (NLL always covers the whole split)
    seed: int = 0
    diversity_images: int = 16
    timing_batches: tuple[int, ...] = (1, 4, 16)
    device: str = "cpu"


@dataclass
class FaceBenchReport:
    figures: dict[str, Any] = field(default_factory=dict)


def draw(face_sampler: OnnxFaceSampler, lr: torch.Tensor, temperature: float, seed: int) -> np.ndarray:
    """Samples (N, 32, 32, 3) float in [0, 1] with the shipped sampler; image k uses seed + k."""
    out = []
    for start in range(0, len(lr), BATCH):
        batch = lr[start : start + BATCH].numpy()
        levels = face_sampler.sample(batch, temperature, sample_uniforms(len(batch), seed + start))
        out.append(levels.transpose(0, 2, 3, 1).astype(np.float32) / (face_sampler.levels - 1))
    return np.concatenate(out)


def regress(network: ConditioningNet, lr: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        prediction = network(lr)[:, :, 0].clamp(0, 1)
    return prediction.permute(0, 2, 3, 1).numpy()


def mean_scores(outputs: np.ndarray, references: np.ndarray) -> dict[str, float]:
    scores = [score(o, r, SCALE) for o, r in zip(outputs, references, strict=True)]
    return {
        "psnr_y": float(np.mean([s.psnr for s in scores])),
        "ssim_y": float(np.mean([s.ssim for s in scores])),
    }


def consistency(outputs: np.ndarray, lr_u8: np.ndarray) -> float:
    """Mean squared error on [0, 1] between MATLAB-bicubic x1/4 of each output and its LR input."""
    q = np.round(outputs * 255.0).astype(np.uint8)
    small = bicubic_lr(q).astype(np.float64) / 255.0
    return float(np.mean((small - lr_u8.astype(np.float64) / 255.0) ** 2))


@torch.inference_mode()
def nll(network: PixelRecursiveSR, lr: torch.Tensor, hr_levels: torch.Tensor) -> dict[str, float]:
    full_total = conditioning_total = 0.0
    for start in range(0, len(lr), 128):
        full, conditioning = network(
            lr[start : start + 128], to_unit_range(hr_levels[start : start + 128], network.levels)
        )
        n = len(full)
        full_total += float(nll_bits_per_dim(full, hr_levels[start : start + 128])) * n
        conditioning_total += float(nll_bits_per_dim(conditioning, hr_levels[start : start + 128])) * n
    # With fewer than 256 levels each level spans 256 / levels values: add log2 of that for the 8-bit scale.
    bin_bits = math.log2(256 / network.levels)
    return {
        "nll_bits_per_dim": full_total / len(lr) + bin_bits,
        "nll_conditioning_only_bits_per_dim": conditioning_total / len(lr) + bin_bits,
    }


def run_face_benchmark(
    config: FaceBenchConfig,
    network: PixelRecursiveSR,
    face_sampler: OnnxFaceSampler,
    l2_network: ConditioningNet | None = None,
    log: Any = print,
) -> FaceBenchReport:
    paths = face_split(config.faces)[config.split]
    hr_u8 = load_faces(paths)
    lr_u8 = bicubic_lr(hr_u8)
    lr = lr_input(lr_u8)
    report = FaceBenchReport()
    figures = report.figures
    figures["split"] = f"{config.split}: {len(paths)} images"
    figures.update(nll(network, lr, to_levels(hr_u8, network.levels)))
    log(
        f"NLL (whole split): {figures['nll_bits_per_dim']:.4f} bits/dim, conditioning alone "
        f"{figures['nll_conditioning_only_bits_per_dim']:.4f}"
    )

    count = len(paths) if config.limit is None else min(config.limit, len(paths))
    references = hr_u8[:count].astype(np.float32) / 255.0
    figures["sampled_images"] = count
    bicubic = np.stack(
        [np.clip(imresize(x.astype(np.float64) / 255.0, scale=SCALE), 0, 1) for x in lr_u8[:count]]
    )
    figures["bicubic"] = {
        **mean_scores(bicubic, references),
        "consistency_mse": consistency(bicubic, lr_u8[:count]),
    }
    log(f"bicubic: {figures['bicubic']}")
    if l2_network is not None:
        l2 = regress(l2_network, lr[:count])
        figures["l2_regression"] = {
            **mean_scores(l2, references),
            "consistency_mse": consistency(l2, lr_u8[:count]),
        }
        log(f"L2 regression: {figures['l2_regression']}")
    for temperature in TEMPERATURES:
        started = time.perf_counter()
        outputs = draw(face_sampler, lr[:count], temperature, config.seed)
        key = "greedy" if temperature == 0 else f"temperature_{temperature:g}"
        figures[key] = {
            **mean_scores(outputs, references),
            "consistency_mse": consistency(outputs, lr_u8[:count]),
            "seconds": round(time.perf_counter() - started, 1),
        }
        log(f"{key}: {figures[key]}")

    images = min(config.diversity_images, count)
    stds = []
    for k in range(images):
        repeated = lr[k : k + 1].expand(DIVERSITY_SAMPLES, -1, -1, -1)
        samples = draw(face_sampler, repeated.contiguous(), 1.0, config.seed + 1000 * (k + 1))
        stds.append(float(np.mean(np.std(samples * 255.0, axis=0))))
    figures["diversity"] = {
        "samples": DIVERSITY_SAMPLES,
        "images": images,
        "temperature": 1.0,
        "mean_per_pixel_std_8bit": float(np.mean(stds)),
    }
    log(f"diversity: {figures['diversity']}")
    figures["sampling_seconds"] = time_sampling(network, face_sampler, lr, config.timing_batches)
    log(f"sampling: {figures['sampling_seconds']}")
    return report


def time_sampling(
    network: PixelRecursiveSR, face_sampler: OnnxFaceSampler, lr: torch.Tensor, batches: tuple[int, ...]
) -> dict[str, dict[str, float]]:
    """Seconds per batch and per sample at each batch size (one image repeated, temperature 1), for the
    shipped onnxruntime sampler and for the torch one it was chosen over, in this process."""
    timings = {}
    for size in batches:
        batch = lr[:1].expand(size, -1, -1, -1).contiguous()
        uniforms = sample_uniforms(size, 0)
        started = time.perf_counter()
        face_sampler.sample(batch.numpy(), 1.0, uniforms)
        onnx_seconds = time.perf_counter() - started
        started = time.perf_counter()
        sample(network, batch, 1.0, torch.from_numpy(uniforms))
        torch_seconds = time.perf_counter() - started
        timings[f"batch_{size}"] = {
            "onnxruntime_seconds": round(onnx_seconds, 3),
            "onnxruntime_per_sample": round(onnx_seconds / size, 3),
            "torch_seconds": round(torch_seconds, 3),
            "torch_per_sample": round(torch_seconds / size, 3),
        }
    return timings


FIGURE_ZOOM = 3
FIGURE_COLUMNS = (
    "LR (nearest)",
    "bicubic",
    "L2 regression",
    "T=0.8 #1",
    "T=0.8 #2",
    "T=0.8 #3",
    "greedy",
    "truth",
)


def comparison_figure(
    face_sampler: OnnxFaceSampler,
    l2_network: ConditioningNet | None,
    faces: Path,
    path: Path,
    images: int = 8,
    seed: int = 0,
    split: str = "test",
) -> Path:
    """A grid: one test face per row; LR, bicubic, L2 regression, 3 samples at 0.8, greedy, ground truth."""
    from PIL import Image, ImageDraw

    paths = face_split(faces)[split][:images]
    images = len(paths)
    hr_u8 = load_faces(paths)
    lr_u8 = bicubic_lr(hr_u8)
    lr = lr_input(lr_u8)
    columns = [
        np.repeat(np.repeat(lr_u8, SCALE, axis=1), SCALE, axis=2).astype(np.float32) / 255.0,
        np.stack([np.clip(imresize(x.astype(np.float64) / 255.0, scale=SCALE), 0, 1) for x in lr_u8]),
        regress(l2_network, lr) if l2_network is not None else np.zeros((images, 32, 32, 3), np.float32),
        *(draw(face_sampler, lr, 0.8, seed + 100 * k) for k in range(3)),
        draw(face_sampler, lr, 0.0, seed),
        hr_u8.astype(np.float32) / 255.0,
    ]
    cell, header, gap = 32 * FIGURE_ZOOM, 16, 4
    width = len(columns) * (cell + gap) + gap
    canvas = Image.new("RGB", (width, header + images * (cell + gap) + gap), "white")
    pen = ImageDraw.Draw(canvas)
    for c, title in enumerate(FIGURE_COLUMNS):
        pen.text((gap + c * (cell + gap) + 2, 2), title, fill="black")
    for r in range(images):
        for c, column in enumerate(columns):
            tile = Image.fromarray(np.round(column[r] * 255).astype(np.uint8))
            tile = tile.resize((cell, cell), Image.Resampling.NEAREST)
            canvas.paste(tile, (gap + c * (cell + gap), header + gap + r * (cell + gap)))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path
