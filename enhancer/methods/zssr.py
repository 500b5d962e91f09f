"""Zero-Shot Super-Resolution (ZSSR; Shocher, Cohen, Irani, CVPR 2018): a CNN learned on the photo itself.

No training data: at run time a small CNN (``enhancer.nets.zssr_net``) learns to undo the downscaling of the
input's own downscaled copies, then is applied to the input. One scale step runs as:

1. *Fathers*: the input and copies of it shrunk to between ``FATHER_MIN_SCALE`` and 1 of its size (drawn with a
   preference for larger ones). Each iteration crops one, turns it by one of the 8 rotations/flips and shrinks
   it by the scale (bicubic, or a given blur kernel) to make its *LR son*, optionally with noise.
2. *Training*: the son, enlarged back by bicubic, goes through the net, which predicts the missing residual;
   Adam on the L1 distance to the father. The paper's learning-rate policy watches how well the net rebuilds
   the input from its own son and divides the rate by 10 when that stops improving; it stops at 9e-6.
3. *Output*: the input in the 8 rotations/flips through the net, turned back, the per-pixel median, then
   back-projection so that shrinking the output reproduces the input. Inference goes through the tiler.

Scales go gradually in ``quality``: x2 as the authors' six steps through x1.5 (the x1.5 result joins the
fathers), x4 as x2, x2.5, x3, x3.5, x4 (each result joins the fathers). ``zssr_upscale`` is the plain
numpy entry point (the KernelGAN method calls it with its estimated kernel); ``run_zssr`` is the registered
method.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from enhancer.imaging.image import ImageData
from enhancer.imaging.resize import central_crop, downscale_with_kernel_torch, imresize, imresize_torch
from enhancer.imaging.tiling import run_tiled
from enhancer.methods.registry import Method, MethodResult, RunContext, option, register
from enhancer.nets.zssr_net import PAPER_DEPTH, PAPER_WIDTH, ZSSRNet
from enhancer.runtime.devices import preset_for_device, torch_device
from enhancer.runtime.jobs import Progress

# --- The paper's constants (ZSSR, CVPR 2018, and its authors' default configuration) ---------------------
PAPER_LEARNING_RATE = 1e-3
PAPER_CROP = 128
PAPER_MAX_ITERATIONS = 3000
PAPER_MIN_ITERATIONS = 256  # also the least number of iterations between two learning-rate drops
PAPER_MIN_LEARNING_RATE = 9e-6  # training stops once the rate falls below this
LR_DROP_FACTOR = 10.0
LR_CHECK_EVERY = 60  # iterations between two looks at the reconstruction-error trend
LR_SLOPE_RANGE = 256  # the trend is a line fitted to the errors of the last this-many iterations
LR_SLOPE_RATIO = 1.5  # drop the rate when -1.5 * slope < the slope's standard deviation
RECONSTRUCTION_EVERY = 50  # iterations between two measurements of the reconstruction error
FATHER_MIN_SCALE = 0.5  # fathers: the input and copies down to half its size
FATHER_LEVELS = 11  # copies at scales 1.0, 0.95, ..., 0.5
UNRESAMPLED_FATHER_PROBABILITY = 0.5  # share of pairs taken from the input's own pixel grid
# The authors' affine fathers (their public configuration): 5 % plain crops of the input, 45 % crops turned by
# one of the 8 rotations/flips, 50 % warped: scale uniform in [0.5, 1], x/y scale difference ~ N(0, 0.25),
# shear ~ N(0, 0.1), any rotation angle, a random mirror; bicubic.
PLAIN_FATHER_PROBABILITY = 0.05
WARP_SCALE_DIFF_SIGMA = 0.25
WARP_SHEAR_SIGMA = 0.1
PAPER_BACK_PROJECTION = 10
KERNEL_MODE_BACK_PROJECTION = 2  # given-kernel mode: 2 back-projection iterations, no rotations/flips
REAL_PHOTO_NOISE = 0.0125  # real-image mode: Gaussian noise on the sons, no back-projection
DIHEDRAL = 8
# The authors' gradual x2 (their public configuration, "~0.3 dB better results, 6x runtime"): (vertical,
# horizontal) factors from the input, one training run each with the same net; only isotropic results are
# worth an inference, the x1.5 one joining the fathers.
GRADUAL_X2_STEPS = ((1, 1.5), (1.5, 1), (1.5, 1.5), (1.5, 2), (2, 1.5), (2, 2))

# --- Engineering limits --------------------------------------------------------------------------------
RECONSTRUCTION_MAX_SIDE = 256  # the reconstruction error is measured on a central crop of at most this
REPORT_EVERY = 5  # iterations between two progress reports (cancel is checked every iteration)
COSINE_FLOOR = 0.01  # the cosine policy ends at this fraction of the initial rate
# The paper's policy stops by itself, so progress counts against an expected length, held below 1 until the
# policy stops. A fresh net's first run is long, later steps continue from it and stop sooner (the timing logs
# of the 25 quality runs in docs/reports, 129 steps: first runs 0.70 of the cap in gradual x2, 0.92 in x4;
# later ones 0.53 and 0.41); once later steps have run, their mean replaces the guess. Each step's share of
# the bar follows its expected seconds: these lengths times its crops' area, plus its inference.
FIRST_RUN_SHARE_OF_CAP = 0.8
LATER_RUN_SHARE_OF_CAP = 0.47
# Seconds per father pixel and iteration, and per output pixel and ensemble member (2 threads: 0.17 s per
# 128 px iteration in the quality logs, 36 s of inference for 2.6 MP x 8 members; a fast x2 of a 256 px photo
# predicted 1.8 s of inference, measured 1.9 s). Only their ratio matters for the bar.
TRAIN_SECONDS_PER_PIXEL = 1.04e-5
INFER_SECONDS_PER_PIXEL = 1.7e-6
# An iteration's fixed cost (optimiser step, sampling, reconstruction checks), as father pixels: fitted to the
# x4 logs, where 64 px crops took 0.044 s an iteration and 128 px ones 0.14 s.
ITERATION_OVERHEAD_PIXELS = 1500
UNFINISHED_TRAINING_CAP = 0.95
TILE_OUTPUT_SIDE = {"cpu": 640, "cuda": 2048}  # largest output tile side: bounds memory and cancel latency
# Extra tile context (input pixels) per back-projection iteration, and at most: with 1 and 12, tiles of 80
# matched the untiled butterfly x2 to 5e-7 (none of its 8-bit pixels differed; without any, 271 did).
BACK_PROJECTION_CONTEXT = 1
MAX_BACK_PROJECTION_CONTEXT = 12

PRESETS = ("quality", "fast")
SWITCH_CHOICES = ("auto", "on", "off")
LR_POLICIES = ("paper", "cosine")
# Gradual x4's steps after its x2 stage: straight to x4, through x3, through x2.5, x3, x3.5, or x2's six-step
# pattern moved to x2-x4.
X4_PATHS = {
    "x2": ((4, 4),),
    "x3": ((3, 3), (4, 4)),
    "halves": ((2.5, 2.5), (3, 3), (3.5, 3.5), (4, 4)),
    "six": ((2, 3), (3, 2), (3, 3), (3, 4), (4, 3), (4, 4)),
}
# Ensemble members in an order whose prefixes are subgroups of the 8: {id}, {id, transpose},
# {id, transpose, rot180, anti-transpose}, then the rest. Index = rotations + 4 * flipped.
ENSEMBLE_ORDER = (0, 5, 2, 7, 1, 4, 3, 6)


@dataclass(frozen=True)
class ZSSRConfig:
    """Every setting of one ZSSR run, fully resolved: what ``zssr_upscale`` runs with.

    ``preset_config`` gives the presets; ``dataclasses.replace`` changes a field.
    """

    width: int = PAPER_WIDTH
    depth: int = PAPER_DEPTH
    crop_size: int = PAPER_CROP
    batch_size: int = 1  # crops per iteration (the paper: 1)
    max_iterations: int = PAPER_MAX_ITERATIONS
    min_iterations: int = PAPER_MIN_ITERATIONS
    learning_rate: float = PAPER_LEARNING_RATE
    lr_policy: str = "paper"  # "paper" (adaptive, stops by itself) or "cosine" (exactly max_iterations)
    augment: bool = True  # fathers in the 8 rotations/flips
    warp_fathers: bool = False  # half the fathers affine-warped (any angle, shear); else a bicubic pyramid
    ensemble: int = DIHEDRAL  # self-ensemble members (median), 1..8
    back_projection: int = PAPER_BACK_PROJECTION
    back_project_members: bool = True  # the authors back-project each ensemble member before the median too
    noise_std: float = 0.0
    gradual: bool = True  # x4 as x2, then the steps of x4_path
    gradual_x2: bool = True  # x2 in the authors' six steps through x1.5 (their account: ~0.3 dB, 6x the time)
    gradual_x2_in_x4: bool = False  # gradual x4's x2 stage in those six steps too (measured worse on train/)
    x4_path: str = "halves"  # gradual x4's steps after x2: see X4_PATHS (halves: +0.52 dB on Set5, 2.3x)
    mixed_precision: bool = False  # bf16 autocast, CUDA only

    def __post_init__(self) -> None:
        if self.x4_path not in X4_PATHS:
            raise ValueError(f"x4_path must be one of {tuple(X4_PATHS)}, got {self.x4_path!r}")
        if self.lr_policy not in LR_POLICIES:
            raise ValueError(f"lr_policy must be one of {LR_POLICIES}, got {self.lr_policy!r}")
        if not 1 <= self.ensemble <= DIHEDRAL:
            raise ValueError(f"ensemble must be 1..{DIHEDRAL}, got {self.ensemble}")
        if (
            self.max_iterations < 1
            or self.crop_size < 8
            or self.depth < 2
            or self.width < 1
            or self.batch_size < 1
        ):
            raise ValueError(f"invalid ZSSR configuration {self}")


FAST = ZSSRConfig(
    width=PAPER_WIDTH,
    depth=PAPER_DEPTH,
    crop_size=64,
    max_iterations=600,
    learning_rate=PAPER_LEARNING_RATE,
    lr_policy="cosine",
    ensemble=4,
    back_projection=PAPER_BACK_PROJECTION,
    back_project_members=False,
    gradual=False,
    gradual_x2=False,
    mixed_precision=True,
)


def preset_config(
    preset: str = "quality", *, kernel_mode: bool = False, real_photo: bool = False
) -> ZSSRConfig:
    """The configuration of a preset, adjusted for given-kernel mode and/or real-photo mode as the paper does.

    ``quality`` is the paper's configuration; ``fast`` trades a little PSNR for a run that fits a CPU.
    Given-kernel mode turns off rotations/flips (a non-symmetric kernel does not survive them) and gradual x2
    (a kernel is given for integer scales only) and uses 2 back-projection iterations; real-photo mode adds
    noise to the sons and skips back-projection.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    config = ZSSRConfig() if preset == "quality" else FAST
    if kernel_mode:
        config = replace(
            config,
            augment=False,
            gradual_x2=False,
            gradual_x2_in_x4=False,
            x4_path="x2",  # KernelGAN gives kernels for x2 and x4 only
            ensemble=1,
            back_projection=min(config.back_projection, KERNEL_MODE_BACK_PROJECTION),
        )
    if real_photo:
        config = replace(config, noise_std=REAL_PHOTO_NOISE, back_projection=0)
    return config


@dataclass(frozen=True)
class ZSSROptions:
    """ZSSR's user-facing options: a preset, and overrides of its settings (empty/auto = the preset's)."""

    preset: str = option(
        "auto",
        "fast: about a minute per photo on a CPU; quality: the authors' configuration, sharper, but up to "
        "1-2 hours per photo on a CPU (minutes on a GPU); auto: quality on a GPU, fast on a CPU",
        choices=("auto", *PRESETS),
    )
    iterations: int | None = option(
        None,
        "most training iterations per scale step (quality: 3000, fast: 600)",
        minimum=10,
        maximum=20000,
        label="Training steps",
        advanced=True,
    )
    crop_size: int | None = option(
        None,
        "side of the training crops (quality: 128, fast: 64)",
        minimum=16,
        maximum=512,
        label="Training patch size",
        advanced=True,
    )
    learning_rate: float | None = option(
        None,
        "initial Adam learning rate (1e-3)",
        minimum=1e-5,
        maximum=1e-2,
        label="Learning rate",
        advanced=True,
    )
    lr_policy: str = option(
        "auto",
        "paper: drop on plateau and stop by itself; cosine: fixed iterations",
        choices=("auto", *LR_POLICIES),
        label="Learning schedule",
        advanced=True,
    )
    width: int | None = option(
        None, "channels per hidden layer (64)", minimum=8, maximum=256, label="Network width", advanced=True
    )
    depth: int | None = option(
        None, "conv layers (8)", minimum=2, maximum=24, label="Network depth", advanced=True
    )
    ensemble: int | None = option(
        None,
        "self-ensemble members, median (quality: 8, fast: 4)",
        minimum=1,
        maximum=8,
        label="Averaged views",
        advanced=True,
    )
    back_projection: int | None = option(
        None,
        "back-projection iterations (10; 0 turns it off)",
        minimum=0,
        maximum=50,
        label="Consistency passes",
        advanced=True,
    )
    member_back_projection: str = option(
        "auto",
        "back-project each ensemble member before the median too (quality: on, fast: off)",
        choices=SWITCH_CHOICES,
        label="Consistency per view",
        advanced=True,
    )
    warp_fathers: str = option(
        "auto",
        "half the training copies warped: any angle, shear (the authors'; off: no gain measured)",
        choices=SWITCH_CHOICES,
        label="Warped training copies",
        advanced=True,
    )
    gradual: str = option(
        "auto",
        "x4 gradually, through x2 and then x4_path (quality: on, fast: off)",
        choices=SWITCH_CHOICES,
        label="Enlarge x4 in steps",
        advanced=True,
    )
    gradual_x2: str = option(
        "auto",
        "x2 in the authors' six steps through x1.5 (quality: on, fast: off; ~0.3 dB better, 6x the time)",
        choices=SWITCH_CHOICES,
        label="Enlarge x2 in steps",
        advanced=True,
    )
    gradual_x2_in_x4: str = option(
        "auto",
        "gradual x4's x2 stage in those six steps too (off: -0.04 dB on train/ images, 2.2x the time)",
        choices=SWITCH_CHOICES,
        label="x4: its x2 in steps",
        advanced=True,
    )
    x4_path: str = option(
        "auto",
        "gradual x4's steps after x2: x2: straight to x4; x3: through x3; halves: through x2.5, x3, x3.5 "
        "(quality; +0.52 dB on Set5 for 2.3x the time); six: x2's six-step pattern from x2 to x4",
        choices=("auto", *X4_PATHS),
        label="x4 steps after x2",
        advanced=True,
    )
    real_photo: bool = option(
        False,
        "for a photo straight from a phone or the web (noise, JPEG): trains on noisy copies so as not to sharpen the noise",
        label="Real photo (noisy or compressed)",
    )
    noise_std: float | None = option(
        None,
        "how much noise the training copies get (real photo: 0.0125)",
        minimum=0.0,
        maximum=0.2,
        label="Training noise",
        advanced=True,
    )
    kernel_file: str | None = option(
        None,
        "a .npy blur kernel the photo was made with: training copies are blurred with it instead of bicubic",
        label="Blur kernel file",
        advanced=True,
    )
    mixed_precision: str = option(
        "auto",
        "bf16 on CUDA (fast: on); ignored on CPU",
        choices=SWITCH_CHOICES,
        label="GPU half precision",
        advanced=True,
    )


def _switch(value: str, default: bool) -> bool:
    return default if value == "auto" else value == "on"


def resolve_config(options: ZSSROptions, *, kernel_mode: bool = False) -> ZSSRConfig:
    """The preset's configuration with the options' overrides applied."""
    preset = preset_for_device(options.preset, "auto")  # run_zssr resolves it for the job's own device first
    base = preset_config(preset, kernel_mode=kernel_mode, real_photo=options.real_photo)
    overrides = {
        "max_iterations": options.iterations,
        "crop_size": options.crop_size,
        "learning_rate": options.learning_rate,
        "width": options.width,
        "depth": options.depth,
        "ensemble": options.ensemble,
        "back_projection": options.back_projection,
        "noise_std": options.noise_std,
        "lr_policy": None if options.lr_policy == "auto" else options.lr_policy,
        "x4_path": None if options.x4_path == "auto" else options.x4_path,
    }
    config = replace(base, **{k: v for k, v in overrides.items() if v is not None})
    return replace(
        config,
        gradual=_switch(options.gradual, config.gradual),
        gradual_x2=_switch(options.gradual_x2, config.gradual_x2),
        gradual_x2_in_x4=_switch(options.gradual_x2_in_x4, config.gradual_x2_in_x4),
        back_project_members=_switch(options.member_back_projection, config.back_project_members),
        warp_fathers=_switch(options.warp_fathers, config.warp_fathers),
        mixed_precision=_switch(options.mixed_precision, config.mixed_precision),
        min_iterations=min(config.min_iterations, config.max_iterations),
    )


def load_kernel(path: str | Path) -> np.ndarray:
    """A 2-D blur kernel from a .npy file, normalised to sum 1."""
    kernel = np.load(Path(path), allow_pickle=False)
    if kernel.ndim != 2 or kernel.size == 0 or not np.all(np.isfinite(kernel)):
        raise ValueError(f"{path}: a kernel must be a finite 2-D array, got shape {kernel.shape}")
    total = float(kernel.sum())
    if abs(total) < 1e-8:
        raise ValueError(f"{path}: the kernel sums to zero")
    return (kernel / total).astype(np.float32)


# --- Geometry helpers ----------------------------------------------------------------------------------


def _dihedral(x: torch.Tensor, index: int) -> torch.Tensor:
    """One of the 8 rotations/flips of an N x C x H x W tensor (index = rotations + 4 * flipped)."""
    x = torch.rot90(x, index % 4, dims=(2, 3))
    return x.flip(3) if index >= 4 else x


def _undo_dihedral(x: torch.Tensor, index: int) -> torch.Tensor:
    if index >= 4:
        x = x.flip(3)
    return torch.rot90(x, -(index % 4), dims=(2, 3))


def _to_tensor(pixels: np.ndarray, device: torch.device) -> torch.Tensor:
    """H x W x C numpy -> 1 x C x H x W float32 tensor on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))).unsqueeze(0).to(device)


def _to_numpy(x: torch.Tensor) -> np.ndarray:
    return x[0].permute(1, 2, 0).float().cpu().numpy()


Step = tuple[Fraction, Fraction]  # (vertical, horizontal) enlargement of one scale step


def _step(vertical: float, horizontal: float | None = None) -> Step:
    return (Fraction(vertical), Fraction(vertical if horizontal is None else horizontal))


def _integer_scale(step: Step) -> int | None:
    return int(step[0]) if step[0] == step[1] and step[0].denominator == 1 else None


def _step_name(step: Step) -> str:
    names = [f"{float(f):g}" for f in step]
    return f"x{names[0]}" if step[0] == step[1] else f"x{names[0]}-{names[1]}"


class _Degradation:
    """How a son is made from a father (bicubic or a given kernel), and how back-projection undoes it.

    ``step`` is an integer scale or per-axis rational factors (gradual x2). Fathers with sides that are
    multiples of ``multiple`` make sons of exact size; an inference input needs sides in multiples of ``grain``.
    """

    def __init__(self, step: int | Step, kernel: np.ndarray | None, device: torch.device) -> None:
        self.factors = _step(step) if isinstance(step, int) else step
        vertical, horizontal = self.factors
        self.isotropic = vertical == horizontal
        integer = _integer_scale(self.factors)
        self.scale: int | Fraction | None = integer or (vertical if self.isotropic else None)
        self.multiple = math.lcm(vertical.numerator, horizontal.numerator)
        self.grain = math.lcm(vertical.denominator, horizontal.denominator)
        if kernel is not None and integer is None:
            raise ValueError(f"a blur kernel needs an integer scale, not {_step_name(self.factors)}")
        self.kernel = None if kernel is None else torch.as_tensor(kernel, dtype=torch.float32, device=device)

    def _sized(self, x: torch.Tensor, up: bool) -> tuple[int, int]:
        return tuple(int(n * (f if up else 1 / f)) for n, f in zip(x.shape[2:], self.factors, strict=True))

    def shrink(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel is not None:
            return downscale_with_kernel_torch(x, self.kernel.to(x.dtype), self.scale)
        if isinstance(self.scale, int):
            return imresize_torch(x, scale=1.0 / self.scale)
        return imresize_torch(x, output_shape=self._sized(x, up=False))

    def enlarge(self, x: torch.Tensor, shape: tuple[int, int] | None = None) -> torch.Tensor:
        """Bicubic enlargement by the scale (or to ``shape``): the network's input and back-projection's lift."""
        if shape is None and isinstance(self.scale, int):
            return imresize_torch(x, scale=float(self.scale))
        return imresize_torch(x, output_shape=shape or self._sized(x, up=True))


# --- Training ------------------------------------------------------------------------------------------


class _FatherSampler:
    """Draws random (father crop, rotation/flip) training examples from a pyramid of the sources."""

    def __init__(
        self,
        sources: list[np.ndarray],
        multiple: int,
        crop: int,
        augment: bool,
        rng: np.random.Generator,
        batch: int = 1,
        warp: bool = False,
    ) -> None:
        self.multiple = multiple  # crop sides are multiples of this (the son's size is then exact)
        self.crop = crop
        self.augment = augment
        self.rng = rng
        self.warp = warp and augment and batch == 1  # warped crops vary in size: one per batch
        self.tensors = (
            [torch.from_numpy(s.transpose(2, 0, 1).copy()).unsqueeze(0) for s in sources] if self.warp else []
        )
        self.pyramids: list[list[np.ndarray]] = []
        for source in sources:
            levels = [source]
            for factor in np.linspace(1.0, FATHER_MIN_SCALE, FATHER_LEVELS)[1:]:
                shape = (round(source.shape[0] * factor), round(source.shape[1] * factor))
                if min(shape) < 2 * multiple:
                    break
                levels.append(np.clip(imresize(source, output_shape=shape), 0.0, 1.0))
            self.pyramids.append(levels)
        if batch > 1:  # a batch needs equal crops: no larger than the smallest level
            smallest = min(min(lv.shape[:2]) for levels in self.pyramids for lv in levels)
            self.crop = min(crop, smallest)
        areas = np.array([p[0].shape[0] * p[0].shape[1] for p in self.pyramids], dtype=np.float64)
        self.source_weights = areas / areas.sum()

    def draw(self) -> np.ndarray:
        """One father: a crop (sides multiples of ``multiple``) of a randomly chosen level, randomly turned.

        With ``warp`` the authors' mix instead: a plain crop of the input, a turned crop of a source, or a
        crop of a source warped by a random affine transform.
        """
        source = self.rng.choice(len(self.pyramids), p=self.source_weights)
        if self.warp:
            chooser = self.rng.random()
            if chooser < PLAIN_FATHER_PROBABILITY:
                return self._crop(self.pyramids[0][0], turn=False)
            if chooser < PLAIN_FATHER_PROBABILITY + 1 - UNRESAMPLED_FATHER_PROBABILITY:
                return self._crop(self.pyramids[source][0], turn=True)
            return self._warped(self.tensors[source])
        levels = self.pyramids[source]
        if len(levels) == 1 or self.rng.random() < UNRESAMPLED_FATHER_PROBABILITY:
            level = levels[0]
        else:
            areas = np.array([lv.shape[0] * lv.shape[1] for lv in levels], dtype=np.float64)
            level = levels[self.rng.choice(len(levels), p=areas / areas.sum())]
        return self._crop(level, turn=self.augment)

    def _crop(self, level: np.ndarray, turn: bool) -> np.ndarray:
        h, w = level.shape[:2]
        ch = min(self.crop, h) // self.multiple * self.multiple
        cw = min(self.crop, w) // self.multiple * self.multiple
        top = int(self.rng.integers(0, h - ch + 1))
        left = int(self.rng.integers(0, w - cw + 1))
        father = level[top : top + ch, left : left + cw]
        if turn:
            index = int(self.rng.integers(DIHEDRAL))
            father = np.rot90(father, index % 4, axes=(0, 1))
            if index >= 4:
                father = father[:, ::-1]
        return np.ascontiguousarray(father)

    def _warped(self, source: torch.Tensor) -> np.ndarray:
        """A square crop of ``source`` after a random scale (0.5-1, a little anisotropic), shear, rotation and
        mirror, sampled with bicubic; where the crop's corners leave the image, the image is mirrored."""
        h, w = source.shape[2:]
        size = self.rng.uniform(FATHER_MIN_SCALE, 1.0)
        diff = self.rng.normal(0.0, WARP_SCALE_DIFF_SIGMA)
        scale_x = max(size + diff / 2, FATHER_MIN_SCALE / 2)
        scale_y = max(size - diff / 2, FATHER_MIN_SCALE / 2)
        mirror = -1.0 if self.rng.random() < 0.5 else 1.0
        angle = self.rng.uniform(0.0, 2 * math.pi)
        shear = np.array(
            [[1.0, self.rng.normal(0.0, WARP_SHEAR_SIGMA)], [self.rng.normal(0.0, WARP_SHEAR_SIGMA), 1.0]]
        )
        rotation = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
        forward = shear @ rotation @ np.diag([mirror * scale_x, scale_y])  # source (x, y) -> crop (x, y)
        inverse = np.linalg.inv(forward)
        side = max(min(self.crop, int(size * min(h, w))) // self.multiple * self.multiple, 2 * self.multiple)
        offsets = np.arange(side) - (side - 1) / 2
        grid_x, grid_y = np.meshgrid(offsets, offsets)
        corners = np.array([[-1, -1, 1, 1], [-1, 1, -1, 1]]) * (side - 1) / 2
        reach = np.abs(inverse @ corners).max(axis=1)  # half the crop's footprint in the source, per axis
        centre = [
            self.rng.uniform(reach[i], extent - 1 - reach[i])
            if extent - 1 > 2 * reach[i]
            else (extent - 1) / 2
            for i, extent in enumerate((w, h))
        ]
        points = inverse @ np.stack([grid_x.ravel(), grid_y.ravel()])
        x = (2 * (points[0] + centre[0]) + 1) / w - 1  # grid_sample's coordinates (align_corners=False)
        y = (2 * (points[1] + centre[1]) + 1) / h - 1
        grid = torch.from_numpy(np.stack([x, y], axis=-1).reshape(1, side, side, 2).astype(np.float32))
        father = F.grid_sample(source, grid, mode="bicubic", padding_mode="reflection", align_corners=False)
        return np.ascontiguousarray(father[0].clamp(0.0, 1.0).permute(1, 2, 0).numpy())


class _PaperLearningRate:
    """ZSSR's policy: every 60 iterations fit a line to the recent reconstruction errors; when the slope is not
    clearly negative (-1.5 * slope < its standard deviation) divide the rate by 10; stop below 9e-6.

    The slope's standard deviation is the one of the least-squares fit (``np.polyfit(..., cov=True)``), our
    reading of the paper's "standard deviation" that keeps the comparison in the same units.
    """

    def __init__(self, config: ZSSRConfig) -> None:
        self.rate = config.learning_rate
        self.min_iterations = config.min_iterations
        self.last_change = 0
        self.errors: list[tuple[int, float]] = []

    def record(self, iteration: int, error: float) -> None:
        self.errors.append((iteration, error))

    def update(self, iteration: int) -> float:
        if (iteration + 1) % LR_CHECK_EVERY or iteration - self.last_change <= self.min_iterations:
            return self.rate
        recent = self.errors[-int(LR_SLOPE_RANGE / RECONSTRUCTION_EVERY) :]
        if len(recent) < 4:  # a line with a covariance needs at least 4 points
            return self.rate
        steps, values = np.array(recent, dtype=np.float64).T
        (slope, _), cov = np.polyfit(steps, values, 1, cov=True)
        if -LR_SLOPE_RATIO * slope < math.sqrt(max(cov[0, 0], 0.0)):
            self.rate /= LR_DROP_FACTOR
            self.last_change = iteration
        return self.rate

    def finished(self) -> bool:
        return self.rate < PAPER_MIN_LEARNING_RATE


def _cosine_rate(config: ZSSRConfig, iteration: int) -> float:
    """Cosine decay from the initial rate to ``COSINE_FLOOR`` of it over exactly ``max_iterations``."""
    t = iteration / max(config.max_iterations - 1, 1)
    return config.learning_rate * (COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * t)))


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(
        device_type=device.type, dtype=torch.bfloat16, enabled=enabled and device.type == "cuda"
    )


def _reconstruction_error(
    net: ZSSRNet, reference: torch.Tensor, degradation: _Degradation, mixed: bool
) -> float:
    """MSE of the net rebuilding ``reference`` from its own son: the signal of the paper's learning-rate policy."""
    with torch.inference_mode(), _autocast(reference.device, mixed):
        son = degradation.shrink(reference)
        rebuilt = net(degradation.enlarge(son, tuple(reference.shape[2:])))
    return float(F.mse_loss(rebuilt.float(), reference))


def training_fraction(done: int, expected: int, cap: int) -> float:
    """Share of a training run done after ``done`` iterations: exact at the cap, an estimate before it."""
    if expected >= cap:
        return done / cap
    return min(done / expected, UNFINISHED_TRAINING_CAP)


def expected_run_lengths(config: ZSSRConfig, remaining: int, finished: list[int]) -> list[int]:
    """How long each of the ``remaining`` training runs is likely to be, after the ``finished`` ones: the fixed
    length, or for the paper's policy (which stops by itself) a share of the cap for a fresh net's first run
    and for the runs that continue it, the latter replaced by the mean of the continuing runs already done."""
    cap = config.max_iterations
    if config.lr_policy != "paper":
        return [cap] * remaining
    continuing = finished[1:]
    later = sum(continuing) / len(continuing) if continuing else LATER_RUN_SHARE_OF_CAP * cap
    lengths = [FIRST_RUN_SHARE_OF_CAP * cap if not finished and i == 0 else later for i in range(remaining)]
    return [max(1, min(cap, round(length))) for length in lengths]


@dataclass(frozen=True)
class StepPlan:
    """What a scale step will cost, known before it runs: the mean area of its father crops (crops are at
    most ``crop_size`` and no larger than their source) and, for a step whose result is made, its pixels."""

    father_area: float
    output_pixels: float  # 0 for a step that only trains


def plan_steps(
    config: ZSSRConfig, factors: list[tuple[float, float]], shape: tuple[int, int]
) -> list[StepPlan]:
    """The plan of each step ((vertical, horizontal) factors from the input) of a run on an input of ``shape``
    (height, width): isotropic steps and the last make a result, which joins the sources of later steps."""
    sources = [shape]
    plans = []
    for number, (vertical, horizontal) in enumerate(factors):
        areas = [h * w for h, w in sources]
        crop = config.crop_size
        father_area = sum(
            a / sum(areas) * min(crop, h) * min(crop, w) for a, (h, w) in zip(areas, sources, strict=True)
        )
        enlarges = vertical == horizontal or number == len(factors) - 1
        out = (round(shape[0] * vertical), round(shape[1] * horizontal))
        plans.append(StepPlan(father_area, float(out[0] * out[1]) if enlarges else 0.0))
        if enlarges:
            sources.append(out)
    return plans


def step_seconds(config: ZSSRConfig, plan: StepPlan, iterations: int) -> tuple[float, float]:
    """(training, inference) seconds a step is expected to take, in this CPU's units of the constants above:
    only their ratios matter for the bar."""
    train = (
        TRAIN_SECONDS_PER_PIXEL
        * iterations
        * (config.batch_size * plan.father_area + ITERATION_OVERHEAD_PIXELS)
    )
    return train, INFER_SECONDS_PER_PIXEL * plan.output_pixels * config.ensemble


def step_span(
    config: ZSSRConfig, position: float, plans: list[StepPlan], lengths: list[int]
) -> tuple[float, float]:
    """(end, training part) of the next step's span of the bar, from ``position``: the rest of the bar shared
    by the remaining steps (``plans``, ``lengths``: theirs, the next one first) in proportion to their
    expected seconds; within the span, training takes its share and the rest is inference."""
    seconds = [step_seconds(config, plan, length) for plan, length in zip(plans, lengths, strict=True)]
    train, infer = seconds[0]
    total = sum(t + i for t, i in seconds)
    end = 1.0 if len(plans) == 1 else position + (1.0 - position) * (train + infer) / total
    return end, train / (train + infer)


def _train(
    net: ZSSRNet,
    sources: list[np.ndarray],
    degradation: _Degradation,
    config: ZSSRConfig,
    rng: np.random.Generator,
    generator: torch.Generator,
    device: torch.device,
    progress: Progress,
    label: str,
    expected_iterations: int | None = None,
) -> dict[str, float]:
    """Train ``net`` on father/son pairs from ``sources`` (``sources[0]`` is the input); returns a summary.

    ``expected_iterations`` is what progress counts against (a fresh net's first run when omitted).
    """
    multiple = degradation.multiple
    sampler = _FatherSampler(
        sources, multiple, config.crop_size, config.augment, rng, config.batch_size, config.warp_fathers
    )
    reference = _to_tensor(central_crop(sources[0], RECONSTRUCTION_MAX_SIDE, multiple), device)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    policy = _PaperLearningRate(config) if config.lr_policy == "paper" else None
    expected = expected_iterations or expected_run_lengths(config, 1, [])[0]
    mixed = config.mixed_precision
    losses: list[torch.Tensor] = []  # kept on the device: no sync per iteration on a GPU
    rate = config.learning_rate
    iteration = 0
    net.train()
    for iteration in range(config.max_iterations):
        progress.check()
        rate = policy.update(iteration) if policy is not None else _cosine_rate(config, iteration)
        if policy is not None and policy.finished():
            break
        for group in optimizer.param_groups:
            group["lr"] = rate
        fathers = [sampler.draw() for _ in range(config.batch_size)]
        father = torch.from_numpy(np.stack(fathers).transpose(0, 3, 1, 2).copy()).to(device)
        son = degradation.shrink(father)
        if config.noise_std > 0:
            noise = torch.randn(son.shape, generator=generator, dtype=son.dtype) * config.noise_std
            son = son + noise.to(device)
        with _autocast(device, mixed):
            output = net(degradation.enlarge(son, tuple(father.shape[2:])))
        loss = F.l1_loss(output.float(), father)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
        if policy is not None and (iteration + 1) % RECONSTRUCTION_EVERY == 0:
            policy.record(iteration, _reconstruction_error(net, reference, degradation, mixed))
        if (iteration + 1) % REPORT_EVERY == 0:
            progress.report(
                training_fraction(iteration + 1, expected, config.max_iterations),
                "training",
                f"{label}: iteration {iteration + 1}",
                iteration=iteration + 1,
                loss=float(torch.stack(losses[-REPORT_EVERY:]).mean()),
                lr=rate,
            )
    net.eval()
    final_loss = float(torch.stack(losses[-REPORT_EVERY:]).mean()) if losses else math.nan
    progress.report(
        1.0,
        "training",
        f"{label}: done after {len(losses)} iterations",
        iteration=len(losses),
        loss=final_loss,
        lr=rate,
    )
    return {"iterations": float(len(losses)), "final_loss": final_loss, "final_lr": rate}


# --- Inference -----------------------------------------------------------------------------------------


def _back_project(
    sr: torch.Tensor, lr: torch.Tensor, degradation: _Degradation, iterations: int
) -> torch.Tensor:
    """Make ``sr`` consistent with ``lr``: add the bicubic-lifted error of its shrunk copy, clip, repeat."""
    for _ in range(iterations):
        error = lr - degradation.shrink(sr)
        sr = torch.clamp(sr + degradation.enlarge(error, tuple(sr.shape[2:])), 0.0, 1.0)
    return sr


def _median(members: list[torch.Tensor]) -> torch.Tensor:
    """Per-pixel median (the mean of the two middle values for an even count, as numpy's)."""
    if len(members) == 1:
        return members[0]
    ordered = torch.sort(torch.stack(members), dim=0).values
    n = len(members)
    return 0.5 * (ordered[(n - 1) // 2] + ordered[n // 2])


def _super_resolve_tile(
    net: ZSSRNet,
    tile: np.ndarray,
    degradation: _Degradation,
    config: ZSSRConfig,
    device: torch.device,
    check: Callable[[], None],
) -> np.ndarray:
    """Self-ensemble (median of up to 8 rotations/flips) then back-projection, for one input tile.

    With ``back_project_members`` each member is back-projected before the median as well (the authors' final
    test does both).
    """
    lr = _to_tensor(tile, device)
    members = []
    with torch.inference_mode():
        for index in ENSEMBLE_ORDER[: config.ensemble]:
            with _autocast(device, config.mixed_precision):
                member = _undo_dihedral(net(degradation.enlarge(_dihedral(lr, index)), check).float(), index)
            if config.back_project_members and config.ensemble > 1:
                member = _back_project(torch.clamp(member, 0.0, 1.0), lr, degradation, config.back_projection)
            members.append(member)
        sr = torch.clamp(_median(members), 0.0, 1.0)
        del members
        check()
        sr = _back_project(sr, lr, degradation, config.back_projection)
    return _to_numpy(sr)


def _tile_geometry(
    net: ZSSRNet, scale: int | Fraction, config: ZSSRConfig, device: torch.device, tile_size: int
) -> tuple[int, int]:
    """(tile, overlap) in input pixels: the overlap covers the net's and bicubic's reach plus back-projection."""
    reach = math.ceil(net.receptive_radius / scale) + 2
    passes = 2 if config.back_project_members and config.ensemble > 1 else 1
    reach += min(BACK_PROJECTION_CONTEXT * passes * config.back_projection, MAX_BACK_PROJECTION_CONTEXT)
    tile = min(
        tile_size, int(TILE_OUTPUT_SIDE.get(device.type, TILE_OUTPUT_SIDE["cpu"]) // scale) + 2 * reach
    )
    return max(tile, 2 * reach + 16), reach


def _infer(
    net: ZSSRNet,
    pixels: np.ndarray,
    degradation: _Degradation,
    config: ZSSRConfig,
    device: torch.device,
    tile_size: int,
    progress: Progress,
    label: str,
) -> np.ndarray:
    tile, overlap = _tile_geometry(net, degradation.scale, config, device, tile_size)
    stage = "ensemble" if config.ensemble > 1 else "inference"
    progress.report(
        0.0, stage, f"{label}: {config.ensemble} member(s), then {config.back_projection} back-projection"
    )

    def tile_done(fraction: float) -> None:
        progress.report(fraction, stage, f"{label}: tiles {fraction:.0%}")

    def run_tile(tile_pixels: np.ndarray) -> np.ndarray:
        return _super_resolve_tile(net, tile_pixels, degradation, config, device, progress.check)

    out = run_tiled(pixels, run_tile, scale=degradation.scale, tile=tile, overlap=overlap, progress=tile_done)
    if config.back_projection:
        progress.report(1.0, "back-projection", f"{label}: done inside each tile")
    return np.clip(out, 0.0, 1.0).astype(np.float32)


# --- Entry points --------------------------------------------------------------------------------------


def _scale_steps(scale: int, config: ZSSRConfig) -> list[Step]:
    gradual_x2 = [_step(*factors) for factors in GRADUAL_X2_STEPS]
    if config.gradual and scale == 4:
        x2 = gradual_x2 if config.gradual_x2_in_x4 else [_step(2)]
        return [*x2, *(_step(*factors) for factors in X4_PATHS[config.x4_path])]
    if config.gradual_x2 and scale == 2:
        return gradual_x2
    return [_step(scale)]


def zssr_upscale(
    pixels: np.ndarray,
    scale: int,
    config: ZSSRConfig | None = None,
    *,
    kernel: np.ndarray | Mapping[int, np.ndarray] | None = None,
    progress: Progress | None = None,
    device: str = "auto",
    seed: int | None = None,
    tile_size: int = 512,
    summary: dict[str, float] | None = None,
) -> np.ndarray:
    """Super-resolve ``pixels`` (H x W x C float32 in [0, 1], C = 1 or 3) by ``scale`` (2..4) with ZSSR.

    Args:
        config: the settings; ``preset_config("quality")`` when omitted. For given-kernel mode pass
            ``preset_config(..., kernel_mode=True)``: this function runs the configuration as given.
        kernel: a blur kernel (sums to 1) that made the input: the sons are made with it instead of
            bicubic. For gradual x4 give one per step, ``{2: k2, 4: k4}``; with a single kernel x4 (and
            x2) runs in one step.
        progress: progress and cancel; stages "training", "ensemble"/"inference", "back-projection".
        device: "auto", "cpu" or "cuda".
        seed: fixes crops, flips, noise and initial weights (same output twice on CPU).
        tile_size: largest inference tile side in input pixels.
        summary: filled with training figures (iterations per step, final loss, final learning rate).

    Returns:
        H*scale x W*scale x C float32 in [0, 1].
    """
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
        raise ValueError(f"expected H x W x 1 or H x W x 3 pixels, got {pixels.shape}")
    if not 2 <= scale <= 4:
        raise ValueError(f"ZSSR supports integer scales 2 to 4, got {scale}")
    config = config or preset_config("quality")
    progress = progress or Progress()
    kernels: dict[int, np.ndarray] = {}
    if isinstance(kernel, Mapping):
        kernels = {int(k): np.asarray(v, dtype=np.float32) for k, v in kernel.items()}
    elif kernel is not None:
        kernels = {scale: np.asarray(kernel, dtype=np.float32)}
    steps = _scale_steps(scale, config)
    if kernels and any(_integer_scale(step) not in kernels for step in steps):
        steps = [_step(scale)]
    if kernels and scale not in kernels:
        raise ValueError(f"no kernel given for scale {scale} (given: {sorted(kernels)})")
    if min(pixels.shape[:2]) < 2 * scale:
        raise ValueError(f"a {pixels.shape[1]}x{pixels.shape[0]} image is too small for ZSSR x{scale}")

    torch_dev = torch_device(device)
    seed_sequence = np.random.SeedSequence(seed)
    rng = np.random.default_rng(seed_sequence)
    generator = torch.Generator().manual_seed(int(seed_sequence.generate_state(1)[0]))
    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    net = ZSSRNet(channels=pixels.shape[2], width=config.width, depth=config.depth)
    net.reset_parameters(generator)
    net.to(torch_dev)
    # Training draws one crop at a time; a fixed-size network on CPU is fastest in the default layout.
    sources = [pixels]
    result = pixels
    plans = plan_steps(config, [(float(v), float(h)) for v, h in steps], pixels.shape[:2])
    position = 0.0  # where the bar is when a step starts
    trained: list[int] = []  # iterations each finished step ran: what the next ones are expected to run
    for number, step in enumerate(steps):
        name = _step_name(step)
        label = name + (f" (step {number + 1}/{len(steps)})" if len(steps) > 1 else "")
        degradation = _Degradation(step, kernels.get(_integer_scale(step)), torch_dev)
        last = number == len(steps) - 1
        # The rest of the bar is shared by the remaining steps in proportion to their expected seconds.
        lengths = expected_run_lengths(config, len(steps) - number, trained)
        end, trained_part = step_span(config, position, plans[number:], lengths)
        step_progress = progress.sub(position, end)
        position = end
        # Anisotropic intermediate steps only train; an isotropic one's result joins the fathers.
        enlarges = last or degradation.isotropic
        started = time.perf_counter()
        figures = _train(
            net,
            sources,
            degradation,
            config,
            rng,
            generator,
            torch_dev,
            step_progress.sub(0.0, trained_part),
            label,
            lengths[0],
        )
        trained.append(int(figures["iterations"]))
        figures["train_seconds"] = time.perf_counter() - started
        if summary is not None:
            summary.update({f"{name}_{key}": value for key, value in figures.items()})
        if enlarges:
            h, w = pixels.shape[:2]
            whole = pixels[: h - h % degradation.grain, : w - w % degradation.grain]
            result = _infer(
                net,
                whole,
                degradation,
                config,
                torch_dev,
                tile_size,
                step_progress.sub(trained_part, 1.0),
                label,
            )
            sources = [*sources, result]  # gradual SR: the intermediate result joins the fathers
    return result


def run_zssr(image: ImageData, scale: int, options: ZSSROptions, context: RunContext) -> MethodResult:
    """The registered method: ZSSR on the image's RGB (or grey) pixels; alpha is enlarged with bicubic."""
    kernel = load_kernel(options.kernel_file) if options.kernel_file else None
    options = replace(options, preset=preset_for_device(options.preset, context.device))
    config = resolve_config(options, kernel_mode=kernel is not None)
    pixels = image.pixels[:, :, :1] if image.grey else image.pixels
    summary: dict[str, float] = {}
    started = time.perf_counter()
    out = zssr_upscale(
        pixels,
        scale,
        config,
        kernel=kernel,
        progress=context.progress,
        device=context.device,
        seed=context.seed,
        tile_size=context.tile_size,
        summary=summary,
    )
    if image.grey:
        out = np.repeat(out, 3, axis=2)
    alpha = None
    if image.alpha is not None:
        alpha = np.clip(imresize(image.alpha, scale=scale), 0.0, 1.0).astype(np.float32)
    info = {
        "device": str(torch_device(context.device)),
        "preset": options.preset,
        "seconds_total": f"{time.perf_counter() - started:.1f}",
    }
    info.update({name: f"{value:.4g}" for name, value in summary.items()})
    return MethodResult(image.with_pixels(out, alpha), info=info)


register(
    Method(
        id="zssr",
        name="ZSSR (zero-shot)",
        purpose="A real photo of unknown origin: a small network learns from the photo's own shrunken copies; no "
        "training data. On a CPU the fast preset takes about a minute per small photo, quality (the paper's) "
        "1-2 hours; auto picks fast on a CPU, quality on a GPU.",
        scales=(2, 3, 4),
        options_type=ZSSROptions,
        devices=("cpu", "cuda"),
        run=run_zssr,
    )
)
