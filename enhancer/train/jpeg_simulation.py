"""JPEG in the training loop: the real codec's output with a differentiable approximation's gradient.

Training IRN to survive sharing (issue #24 part 2, as IRN-CRM and SAIN do; REFERENCE.md §2) puts a JPEG
re-save between shrink and restore. The restore half must see exactly what a real encoder makes, so the
forward value is Pillow's libjpeg round trip of the 8-bit LR; the gradient comes from our own model of the
same steps (``approximate_jpeg``: JFIF YCbCr, optional 4:2:0 chroma averaging, 8x8 DCT-II, division by the
IJG tables scaled for the quality, rounding, and back), where rounding passes the gradient of the cubic
``round(x) + (x - round(x))^3`` of Shin & Song ("JPEG-resistant adversarial images", 2017), so that
coefficients which JPEG zeroes pass little gradient.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from enhancer.imaging.io import PILLOW_SUBSAMPLING

BLOCK = 8
# The IJG's example tables (ITU-T T.81 Annex K, K.1 and K.2), row by row; libjpeg scales them by quality.
LUMINANCE_TABLE = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)
CHROMINANCE_TABLE = (
    (17, 18, 24, 47, 99, 99, 99, 99),
    (18, 21, 26, 66, 99, 99, 99, 99),
    (24, 26, 56, 99, 99, 99, 99, 99),
    (47, 66, 99, 99, 99, 99, 99, 99),
    (99, 99, 99, 99, 99, 99, 99, 99),
    (99, 99, 99, 99, 99, 99, 99, 99),
    (99, 99, 99, 99, 99, 99, 99, 99),
    (99, 99, 99, 99, 99, 99, 99, 99),
)
# JFIF's full-range BT.601 conversion.
RGB_TO_YCBCR = ((0.299, 0.587, 0.114), (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))
CHROMA_OFFSET = 128.0
SUBSAMPLINGS = ("4:4:4", "4:2:0")


@dataclass(frozen=True)
class JPEGSetting:
    """One re-save: a libjpeg quality (1-100) and the chroma subsampling."""

    quality: int
    subsampling: str = "4:2:0"

    def __post_init__(self) -> None:
        if not 1 <= self.quality <= 100:
            raise ValueError(f"JPEG quality must be 1-100, got {self.quality}")
        if self.subsampling not in SUBSAMPLINGS:
            raise ValueError(f"subsampling must be one of {SUBSAMPLINGS}, got {self.subsampling!r}")


@cache  # called on every training iteration with a handful of distinct arguments
def quantisation_table(base: tuple[tuple[int, ...], ...], quality: int) -> torch.Tensor:
    """libjpeg's ``jpeg_quality_scaling``: the base table scaled for ``quality``, entries in 1..255."""
    scaling = 5000 / quality if quality < 50 else 200 - 2 * quality
    table = np.floor((np.asarray(base, dtype=np.float64) * scaling + 50) / 100)
    return torch.from_numpy(np.clip(table, 1, 255).astype(np.float32))


@cache
def dct_matrix() -> torch.Tensor:
    """The orthonormal 8-point DCT-II: coefficients = D @ block @ D.T."""
    k = np.arange(BLOCK)[:, None]
    n = np.arange(BLOCK)[None, :]
    matrix = np.cos((2 * n + 1) * k * math.pi / (2 * BLOCK)) * math.sqrt(2 / BLOCK)
    matrix[0] /= math.sqrt(2)
    return torch.from_numpy(matrix.astype(np.float32))


def soft_round(x: torch.Tensor) -> torch.Tensor:
    """round(x) in value, with the gradient of Shin & Song's cubic: 3 (x - round(x))^2."""
    rounded = torch.round(x).detach()
    cubic = (x - rounded) ** 3
    return rounded + cubic - cubic.detach()


def _blocks(plane: torch.Tensor) -> torch.Tensor:
    """N x H x W (multiples of 8) -> N x H/8 x W/8 x 8 x 8."""
    n, h, w = plane.shape
    return plane.reshape(n, h // BLOCK, BLOCK, w // BLOCK, BLOCK).transpose(2, 3)


def _unblocks(blocks: torch.Tensor) -> torch.Tensor:
    n, bh, bw = blocks.shape[:3]
    return blocks.transpose(2, 3).reshape(n, bh * BLOCK, bw * BLOCK)


def _quantise_plane(plane: torch.Tensor, table: torch.Tensor, dct: torch.Tensor) -> torch.Tensor:
    """One channel (N x H x W, 0..255, sides multiples of 8) through DCT, quantisation and inverse DCT."""
    coefficients = dct @ _blocks(plane - 128.0) @ dct.T
    quantised = soft_round(coefficients / table) * table
    return _unblocks(dct.T @ quantised @ dct) + 128.0


def approximate_jpeg(images: torch.Tensor, setting: JPEGSetting) -> torch.Tensor:
    """A differentiable model of a JPEG save and load of N x 3 x H x W RGB in [0, 1]."""
    height, width = images.shape[-2:]
    unit = 2 * BLOCK if setting.subsampling == "4:2:0" else BLOCK
    padded = F.pad(images, (0, -width % unit, 0, -height % unit), mode="replicate") * 255.0
    conversion = torch.tensor(RGB_TO_YCBCR, dtype=images.dtype, device=images.device)
    ycbcr = torch.einsum("ij,njhw->nihw", conversion, padded)
    luma, chroma = ycbcr[:, 0], ycbcr[:, 1:] + CHROMA_OFFSET
    if setting.subsampling == "4:2:0":
        chroma = F.avg_pool2d(chroma, 2)
    dct = dct_matrix().to(images.device, images.dtype)
    luma_table = quantisation_table(LUMINANCE_TABLE, setting.quality).to(images.device, images.dtype)
    chroma_table = quantisation_table(CHROMINANCE_TABLE, setting.quality).to(images.device, images.dtype)
    luma = _quantise_plane(luma, luma_table, dct)
    chroma = torch.stack([_quantise_plane(chroma[:, c], chroma_table, dct) for c in range(2)], dim=1)
    if setting.subsampling == "4:2:0":  # libjpeg's "fancy" upsampling is the triangle (bilinear) filter
        chroma = F.interpolate(chroma, scale_factor=2, mode="bilinear", align_corners=False)
    ycbcr = torch.cat([luma[:, None], chroma - CHROMA_OFFSET], dim=1)
    rgb = torch.einsum("ij,njhw->nihw", torch.linalg.inv(conversion), ycbcr)
    return (rgb[:, :, :height, :width] / 255.0).clamp(0.0, 1.0)


def real_jpeg(images: torch.Tensor, setting: JPEGSetting) -> torch.Tensor:
    """Each image of N x 3 x H x W in [0, 1] rounded to 8 bits, saved and loaded by Pillow's libjpeg."""
    samples = (images.detach().float().clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8)
    out = []
    for sample in samples.permute(0, 2, 3, 1).cpu().numpy():
        buffer = io.BytesIO()
        Image.fromarray(sample).save(
            buffer,
            format="JPEG",
            quality=setting.quality,
            subsampling=PILLOW_SUBSAMPLING[setting.subsampling],
        )
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            out.append(np.asarray(decoded.convert("RGB")))
    decoded_batch = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)
    return decoded_batch.to(images.device, images.dtype) / 255.0


def jpeg_round_trip(images: torch.Tensor, setting: JPEGSetting) -> torch.Tensor:
    """What a real JPEG save and load gives, with ``approximate_jpeg``'s gradient."""
    approximation = approximate_jpeg(images, setting)
    return approximation + (real_jpeg(images, setting) - approximation).detach()


def random_setting(rng: np.random.Generator, qualities: tuple[int, int], subsampled: float) -> JPEGSetting:
    """A quality drawn uniformly from ``qualities`` (inclusive) and 4:2:0 with probability ``subsampled``."""
    quality = int(rng.integers(qualities[0], qualities[1] + 1))
    return JPEGSetting(quality, "4:2:0" if rng.random() < subsampled else "4:4:4")
