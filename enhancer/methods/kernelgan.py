"""Blind super-resolution: KernelGAN (Bell-Kligler, Shocher, Irani, NeurIPS 2019) estimates the photo's own
downscaling kernel, then ZSSR super-resolves with it.

The right kernel for an image is the one that best keeps the distribution of its patches across scales. A
deep linear generator G (``enhancer.nets.kernelgan``) shrinks crops of the input by 2 and a patch
discriminator D learns to tell G's output from crops of the input itself; once D cannot, G's collapsed
kernel is the estimate. Regularisers keep that kernel a plausible blur: it sums to one, has little mass far
from its centre, is sparse and centred; early on it is also pulled towards bicubic. The x4 kernel follows
analytically (the x2 kernel applied twice); the estimate is cleaned (small taps zeroed, re-centred on the
resize grid) and handed to ZSSR in given-kernel mode (``enhancer.methods.zssr``).

Where we depart from the paper's description (each measured on train/ images, see docs/BENCHMARKS.md):

- G's output is computed with its collapsed kernel (``shrink_with_kernel``): the same function of the
  weights, so the same gradients, at a fraction of the cost.
- D judges real and fake crops in one batch. With one crop per call, as described, BatchNorm normalises
  each crop by its own statistics and wipes out the contrast and sharpness differences D should see; the
  estimates then barely move from bicubic. So G's crops are cut to make its output as large as D's crops.
- Sharing BatchNorm also lets D see brightness, so G's output is made with its kernel scaled to sum 1
  (the sum-to-one prior still holds the raw kernel's scale). Otherwise a kernel summing to 0.9 darkens G's
  output, D learns that at once, and G chases the kernel's sum instead of its shape.
- The boundaries term is a sum over the taps, as the paper writes it; the sparsity term is a mean (as a
  sum, with the paper's weight 5, it would outweigh the adversarial loss many times over), weighted 2.
  D is fooled more easily by too wide a kernel than by too narrow a one (blurred crops pass for the
  input's flat areas), so the GAN alone drifts wide; sparsity pulls back and the boundaries term removes
  the stray far taps. Their weights were tuned on train/ images (``BOUNDARY_PENALTY``): mean kernel
  correlation 0.760 with the first guess, 0.885 with these (on the first ``fast`` schedule).
- The bicubic-likeness term compares kernels rather than images (see ``BICUBIC_CLOSE``).
- ``fast`` updates G and D from one pass through D (``_simultaneous_step``) instead of alternating, with
  a higher learning rate over its shorter run (see ``FAST``).
- Wide blurs squeezed inside the boundaries prior come out hollow: a ring or two lobes around a dip (even
  negative taps) at the centre of mass. The paper's clean-up keeps that shape and ZSSR then ghosts. The
  ``kernel_model`` option replaces such an estimate by the Gaussian with 0.7 of its covariance (``auto``,
  the default; hollow estimates overshoot the blur), or every estimate by the Gaussian with its covariance,
  narrowed the same way when hollow (``gaussian``); ``free`` is the paper's clean-up alone (see
  ``KERNEL_MODELS``).

``estimate_kernel`` is the plain numpy entry point (the benchmark and the ``kernel`` command use it);
``run_kernelgan`` is the registered method, whose ``kernel`` action returns the estimate alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy import ndimage

from enhancer.imaging.image import ImageData
from enhancer.imaging.kernels import (
    centre_of_mass,
    crop,
    embed,
    gaussian_on_grid,
    grid_centre,
    normalise,
    recentre,
    two_step_kernel,
)
from enhancer.imaging.resize import bicubic_kernel, imresize
from enhancer.methods.registry import Method, MethodResult, RunContext, option, register
from enhancer.methods.zssr import ZSSRConfig, zssr_upscale
from enhancer.methods.zssr import preset_config as zssr_preset_config
from enhancer.nets.kernelgan import (
    G_STRIDE,
    PAPER_D_LAYERS,
    PAPER_D_WIDTH,
    PAPER_G_WIDTH,
    KernelDiscriminator,
    KernelGenerator,
    shrink_with_kernel,
)
from enhancer.runtime.devices import preset_for_device, torch_device
from enhancer.runtime.estimates import StageShares
from enhancer.runtime.jobs import Progress

# --- The paper's constants (KernelGAN, NeurIPS 2019) ---------------------------------------------------
PAPER_ITERATIONS = 3000
PAPER_LEARNING_RATE = 2e-4  # Adam, G and D alike
PAPER_BETAS = (0.5, 0.999)
PAPER_LR_DROP_EVERY = 750  # the learning rate is multiplied by LR_DROP_FACTOR this often
LR_DROP_FACTOR = 0.1
PAPER_D_CROP = 32  # D's crops (the paper's G crops are 64 px; see _train for ours)
D_INPUT_NOISE = 1.0 / 255.0  # std of the noise added to everything D looks at
SUM_TO_ONE_WEIGHT = 0.5  # |1 - sum k|
BOUNDARIES_WEIGHT = 0.5  # sum |k * m| over the taps, m growing away from the centre
SPARSITY_WEIGHT = 2.0  # mean |k|^SPARSITY_POWER; tuned on train/ images (see the module notes)
SPARSITY_POWER = 0.5
CENTRE_WEIGHT = 1.0  # centre of mass on the centre, switched on with sparsity
BICUBIC_WEIGHT = 5.0  # k close to the bicubic kernel, early on only
BICUBIC_DECAY = 100.0  # ... its weight divided by this ...
PAPER_WEIGHT_UPDATE_EVERY = 200  # ... every this many iterations once k stays close to bicubic
POST_LARGEST = 40  # post-processing: taps below POST_KEEP_FRACTION x the 40th largest are zeroed
POST_KEEP_FRACTION = 0.75
X2 = 2  # G always shrinks by 2; x4 is derived

# --- Our own choices -----------------------------------------------------------------------------------
# The paper's bicubic-likeness term compares G's output with a bicubic shrink; ours compares the kernels
# themselves (relative squared error against the bicubic kernel on the same grid), which needs no image and
# has a scale-free threshold: k counts as "near bicubic" once the error stays below it for a few iterations.
BICUBIC_CLOSE = 0.4
BICUBIC_PATIENCE = 3
# m's value scale and reach: 0 on the central taps, growing like 1 - Gaussian on the BOUNDARY_RINGS outer
# rings of taps. Tuned on train/ images with DIV2KRK-style kernels (mean kernel correlation, 6 images, the
# first fast schedule: 30 and 2 rings 0.760; 120 and 2 rings 0.861; 120 and 3 rings 0.885; 120 and 4 rings 0.865).
BOUNDARY_PENALTY = 120.0
BOUNDARY_RINGS = 3
SPARSITY_EPS = 1e-12  # keeps the gradient of |k|^0.5 finite at 0
# The networks' operations are tiny (a 13x13 kernel, 32x32 crops): on a CPU one thread beats several, whose
# start-up per operation costs more than they save (measured: ~4x faster on a loaded 2-core machine).
CPU_THREADS = 1
REPORT_EVERY = 10  # iterations between two progress reports (cancel is checked every iteration)
MIN_SIDE = 32  # smallest image side KernelGAN accepts

# Kernel models: "free" is the paper's post-processed estimate; "gaussian" the anisotropic Gaussian with the
# raw estimate's covariance (narrowed when hollow, see HOLLOW_SPREAD); "auto" keeps the free estimate
# unless it is hollow (see ``hollowness``), then takes the narrowed Gaussian. A hollow estimate is a ring or two lobes around a dip at its
# centre of mass, which no lens or sensor blur has; it comes from wide blurs squeezed inside the boundaries
# prior, and ZSSR given it ghosts (the Gaussian instead gained 0.8-2.8 dB on 3 hollow train/ images).
KERNEL_MODELS = ("auto", "free", "gaussian")
HOLLOW_LIMIT = 0.6  # hollow: the value at the centre of mass is below this fraction of the peak
# A hollow estimate overshoots the blur: its covariance was 1.07-2.13x the truth's (mean 1.43) on the 6
# hollow ones among 80 train/ images. Its Gaussian gets the covariance times this, about 1 / 1.43.
HOLLOW_SPREAD = 0.7
GAUSSIAN_MIN_VARIANCE = 0.1  # px^2 added to the fitted covariance: keeps a one-tap estimate invertible

PRESETS = ("quality", "fast")
KERNELGAN_SCALES = (2, 4)
# Share of the progress bar given to kernel estimation (the rest is ZSSR) until this machine has measured its
# own (``StageShares``): 15.5 s of a 52.8 s `fast` x2 run on a quiet 2-core CPU (docs/BENCHMARKS.md); quality's
# ZSSR stage runs far longer than its estimation.
ESTIMATION_SHARE = {"quality": 0.12, "fast": 0.3}


@dataclass(frozen=True)
class KernelGANConfig:
    """Every setting of one kernel estimation, fully resolved. ``preset_config`` gives the presets."""

    iterations: int = PAPER_ITERATIONS
    learning_rate: float = PAPER_LEARNING_RATE
    lr_drop_every: int = PAPER_LR_DROP_EVERY
    weight_update_every: int = PAPER_WEIGHT_UPDATE_EVERY
    g_width: int = PAPER_G_WIDTH
    d_width: int = PAPER_D_WIDTH
    d_layers: int = PAPER_D_LAYERS
    d_crop: int = PAPER_D_CROP
    batch: int = 1
    alternating: bool = True  # the paper's G step then D step; False: both from one pass (faster)

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.lr_drop_every < 1 or self.weight_update_every < 1:
            raise ValueError(f"invalid KernelGAN configuration {self}")
        if self.d_crop < 8 or self.batch < 1:
            raise ValueError(f"invalid KernelGAN configuration {self}")


QUALITY = KernelGANConfig()
# The CPU preset (chosen on train/ images, see docs/BENCHMARKS.md): a fifth of the iterations, G and D
# updated from one pass through D, and a 5x higher learning rate dropped once, half-way. The paper's
# schedule compressed to fit (2e-4, dropped every 150) stops learning before the kernel leaves bicubic's
# roundness: mean correlation 0.879 on 6 train/ images, against 0.941 now (1e-3 dropped at 200, 400 or
# 600: 0.938-0.944; 6e-4: 0.934). Longer runs drift (1200 iterations at 6e-4: 0.908). D's 32-px crops (the
# paper's) beat 24-px ones; a narrower D (32 channels) leaves the kernel as narrow as bicubic's.
FAST = KernelGANConfig(
    iterations=600, learning_rate=1e-3, lr_drop_every=300, weight_update_every=40, alternating=False
)


def preset_config(preset: str = "quality") -> KernelGANConfig:
    """``quality``: the paper's 3000 iterations; ``fast``: a shorter schedule for a CPU."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    return QUALITY if preset == "quality" else FAST


# --- Crops ---------------------------------------------------------------------------------------------


class _CropSampler:
    """Random crops of one image, drawn with probability proportional to its local gradient magnitude."""

    def __init__(self, image: torch.Tensor, rng: np.random.Generator) -> None:
        self.image = image  # 1 x C x H x W
        self.rng = rng
        grey = image[0].float().mean(dim=0).cpu().numpy().astype(np.float64)
        magnitude = np.zeros_like(grey)
        magnitude[:, :-1] += np.abs(np.diff(grey, axis=1))
        magnitude[:-1, :] += np.abs(np.diff(grey, axis=0))
        self.magnitude = magnitude
        self._tables: dict[int, tuple[np.ndarray, int]] = {}

    def _table(self, size: int) -> tuple[np.ndarray, int]:
        """Cumulative probabilities of every top-left corner for crops of ``size`` (and the row width)."""
        if size not in self._tables:
            h, w = self.magnitude.shape
            local = ndimage.uniform_filter(self.magnitude, size=max(size // 2, 1), mode="reflect")
            centre = size // 2
            weights = local[centre : centre + h - size + 1, centre : centre + w - size + 1]
            # A flat image still gets uniform crops; a little floor keeps flat areas reachable.
            weights = weights + 0.01 * weights.mean() + 1e-12
            cumulative = np.cumsum(weights.ravel())
            self._tables[size] = (cumulative / cumulative[-1], weights.shape[1])
        return self._tables[size]

    def crop(self, size: int) -> torch.Tensor:
        cumulative, width = self._table(size)
        index = int(np.searchsorted(cumulative, self.rng.random(), side="right"))
        index = min(index, cumulative.size - 1)
        top, left = divmod(index, width)
        return self.image[:, :, top : top + size, left : left + size]


# --- Regularisers --------------------------------------------------------------------------------------


def _boundary_mask(size: int, centre: float) -> np.ndarray:
    """m of the boundaries loss: 0 on the central taps, growing like 1 - Gaussian towards the border."""
    taps = np.arange(size, dtype=np.float64) - centre
    distance2 = taps[:, None] ** 2 + taps[None, :] ** 2
    mask = BOUNDARY_PENALTY * (1.0 - np.exp(-distance2 / (2.0 * size**2)))
    inner = slice(BOUNDARY_RINGS, size - BOUNDARY_RINGS)
    mask[inner, inner] = 0.0
    return mask


class _Regularisers:
    """The kernel priors and their schedule: bicubic-likeness first, then sparsity and centring."""

    def __init__(self, size: int, device: torch.device, config: KernelGANConfig) -> None:
        self.centre = grid_centre(size, X2)
        self.taps = torch.arange(size, dtype=torch.float32, device=device)
        self.mask = torch.as_tensor(_boundary_mask(size, self.centre), dtype=torch.float32, device=device)
        bicubic = embed(bicubic_kernel(X2), size, X2)
        self.bicubic = torch.as_tensor(bicubic, dtype=torch.float32, device=device)
        self.bicubic_energy = float((bicubic**2).sum())
        self.update_every = config.weight_update_every
        self.bicubic_weight = BICUBIC_WEIGHT
        self.sparsity_weight = 0.0
        self.centre_weight = 0.0
        self.close_count = 0
        self.near_bicubic = False

    def loss(self, k: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        total_mass = k.sum()
        sum_to_one = torch.abs(1.0 - total_mass)
        boundaries = torch.sum(torch.abs(k) * self.mask)
        sparsity = torch.mean((k * k + SPARSITY_EPS) ** (SPARSITY_POWER / 2))
        row = (k.sum(dim=1) * self.taps).sum() / total_mass
        col = (k.sum(dim=0) * self.taps).sum() / total_mass
        centring = 0.5 * ((row - self.centre) ** 2 + (col - self.centre) ** 2)
        bicubic = ((k - self.bicubic) ** 2).sum() / self.bicubic_energy
        loss = (
            SUM_TO_ONE_WEIGHT * sum_to_one
            + BOUNDARIES_WEIGHT * boundaries
            + self.sparsity_weight * sparsity
            + self.centre_weight * centring
            + self.bicubic_weight * bicubic
        )
        return loss, {"bicubic": float(bicubic.detach()), "sum": float(total_mass.detach())}

    def step(self, iteration: int, bicubic_error: float) -> None:
        """After each iteration: switch sparsity and centring on once k stays near bicubic, then decay."""
        if not self.near_bicubic:
            self.close_count = self.close_count + 1 if bicubic_error < BICUBIC_CLOSE else 0
            if self.close_count >= BICUBIC_PATIENCE:
                self.near_bicubic = True
                self.sparsity_weight = SPARSITY_WEIGHT
                self.centre_weight = CENTRE_WEIGHT
        elif (iteration + 1) % self.update_every == 0:
            self.bicubic_weight /= BICUBIC_DECAY


# --- Estimation ----------------------------------------------------------------------------------------


def _keep_largest_taps(kernel: np.ndarray) -> np.ndarray:
    """The paper's clean-up: taps below 0.75 x the 40th largest (and negative ones) set to zero."""
    kernel = np.asarray(kernel, dtype=np.float64)
    ordered = np.sort(kernel.ravel())[::-1]
    threshold = POST_KEEP_FRACTION * ordered[min(POST_LARGEST, ordered.size) - 1]
    cleaned = np.clip(np.where(kernel < threshold, 0.0, kernel), 0.0, None)
    if cleaned.sum() <= 0:
        raise ValueError("the estimated kernel has no positive taps")
    return cleaned


def postprocess_kernel(kernel: np.ndarray, scale: int = X2) -> np.ndarray:
    """Zero the taps below 0.75 x the 40th largest, then re-centre on the resize grid and normalise."""
    return recentre(_keep_largest_taps(kernel), scale)


def hollowness(kernel: np.ndarray) -> float:
    """The cleaned kernel's value at its own centre of mass, as a fraction of its peak (1: a plain bump).

    A single blur bump has its mass centred on high values; a ring, or two lobes with a valley between
    them, has its centre of mass in the dip.
    """
    cleaned = _keep_largest_taps(kernel)
    centre = centre_of_mass(cleaned)
    value = ndimage.map_coordinates(cleaned, [[centre[0]], [centre[1]]], order=1)[0]
    return float(value / cleaned.max())


def gaussian_kernel(kernel: np.ndarray, scale: int = X2, spread: float = 1.0) -> np.ndarray:
    """The anisotropic Gaussian with the (positive part of the) kernel's covariance times ``spread``, on the
    same grid, centred on the resize grid and normalised: the estimate's blur direction, as one bump."""
    positive = normalise(np.clip(np.asarray(kernel, dtype=np.float64), 0.0, None))
    rows, cols = np.indices(positive.shape, dtype=np.float64)
    mean_row, mean_col = centre_of_mass(positive)
    offsets = np.stack([(rows - mean_row).ravel(), (cols - mean_col).ravel()])
    covariance = spread * (offsets * positive.ravel()) @ offsets.T + GAUSSIAN_MIN_VARIANCE * np.eye(2)
    return normalise(gaussian_on_grid(positive.shape[0], np.linalg.inv(covariance), scale))


def model_kernel(raw: np.ndarray, model: str = "auto", scale: int = X2) -> np.ndarray:
    """G's raw x2 kernel turned into the one ZSSR uses, by the kernel model (see ``KERNEL_MODELS``)."""
    if model not in KERNEL_MODELS:
        raise ValueError(f"unknown kernel model {model!r} (choose from {', '.join(KERNEL_MODELS)})")
    hollow = hollowness(raw) < HOLLOW_LIMIT
    if model == "gaussian" or (model == "auto" and hollow):
        return gaussian_kernel(raw, scale, HOLLOW_SPREAD if hollow else 1.0)
    return postprocess_kernel(raw, scale)


def analytic_x4_kernel(kernel_x2: np.ndarray) -> np.ndarray:
    """The x4 kernel from the x2 one: the x2 kernel applied twice (``2 K - 1`` taps: 25 for K = 13)."""
    size = kernel_x2.shape[0]
    return normalise(crop(two_step_kernel(kernel_x2), 2 * size - 1))


@contextmanager
def _cpu_threads(device: torch.device) -> Iterator[None]:
    """Run torch's CPU work on ``CPU_THREADS`` threads inside the block (the setting is process-wide)."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(CPU_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _seeded_modules(
    channels: int, config: KernelGANConfig, seed: int | None, device: torch.device
) -> tuple[KernelGenerator, KernelDiscriminator]:
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        generator = KernelGenerator(width=config.g_width)
        discriminator = KernelDiscriminator(channels=channels, width=config.d_width, layers=config.d_layers)
    return generator.to(device), discriminator.to(device)


def estimate_raw_kernel(
    pixels: np.ndarray,
    config: KernelGANConfig | None = None,
    progress: Progress | None = None,
    device: str = "auto",
    seed: int | None = None,
    summary: dict[str, float] | None = None,
) -> np.ndarray:
    """Train KernelGAN on ``pixels`` (H x W x C float in [0, 1]) and return G's x2 kernel, unprocessed."""
    config = config or QUALITY
    progress = progress or Progress()
    if pixels.ndim != 3:
        raise ValueError(f"expected H x W x C pixels, got shape {pixels.shape}")
    if min(pixels.shape[:2]) < MIN_SIDE:
        raise ValueError(f"a {pixels.shape[1]}x{pixels.shape[0]} image is too small for KernelGAN")
    torch_dev = torch_device(device)
    with _cpu_threads(torch_dev):
        return _train(pixels, config, progress, torch_dev, seed, summary)


def _train(
    pixels: np.ndarray,
    config: KernelGANConfig,
    progress: Progress,
    torch_dev: torch.device,
    seed: int | None,
    summary: dict[str, float] | None,
) -> np.ndarray:
    seed_sequence = np.random.SeedSequence(seed)
    rng = np.random.default_rng(seed_sequence)
    torch_seed = int(seed_sequence.generate_state(1)[0])
    noise = torch.Generator(device=torch_dev).manual_seed(torch_seed)

    image = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32))[None]
    image = image.to(torch_dev)
    sampler = _CropSampler(image, rng)
    generator, discriminator = _seeded_modules(pixels.shape[2], config, torch_seed, torch_dev)
    # D judges real and fake crops in one batch, so they have one size: G's crops are cut so that G's
    # output is D's crop (75 px in for 32 px out; the paper's 64-px G crops come out at 26 px).
    g_crop = min(G_STRIDE * (config.d_crop - 1) + generator.kernel_size, *pixels.shape[:2])
    d_crop = (g_crop - generator.kernel_size) // G_STRIDE + 1
    regularisers = _Regularisers(generator.kernel_size, torch_dev, config)
    optimiser_g = torch.optim.Adam(generator.parameters(), lr=config.learning_rate, betas=PAPER_BETAS)
    optimiser_d = torch.optim.Adam(discriminator.parameters(), lr=config.learning_rate, betas=PAPER_BETAS)
    schedules = [
        torch.optim.lr_scheduler.StepLR(optimiser, config.lr_drop_every, gamma=LR_DROP_FACTOR)
        for optimiser in (optimiser_g, optimiser_d)
    ]

    def judge(x: torch.Tensor) -> torch.Tensor:
        return discriminator(x + D_INPUT_NOISE * torch.randn(x.shape, generator=noise, device=torch_dev))

    started = time.perf_counter()
    progress.report(0.0, "kernel estimation", f"KernelGAN, {config.iterations} iterations")
    g_losses: list[float] = []
    d_losses: list[float] = []
    for iteration in range(config.iterations):
        progress.check()
        real = torch.cat([sampler.crop(d_crop) for _ in range(config.batch)])
        kernel = generator.kernel()
        # G's output for D is made with the kernel scaled to sum 1 (see the module notes).
        g_input = torch.cat([sampler.crop(g_crop) for _ in range(config.batch)])
        fake = shrink_with_kernel(g_input, kernel / kernel.sum())

        prior, figures = regularisers.loss(kernel)
        if config.alternating:
            adversarial, loss_d = _alternating_step(
                judge, discriminator, optimiser_g, optimiser_d, real, fake, prior
            )
        else:
            adversarial, loss_d = _simultaneous_step(judge, optimiser_g, optimiser_d, real, fake, prior)
        for schedule in schedules:
            schedule.step()

        regularisers.step(iteration, figures["bicubic"])
        g_losses.append(adversarial)
        d_losses.append(loss_d)
        if (iteration + 1) % REPORT_EVERY == 0 or iteration + 1 == config.iterations:
            progress.report(
                (iteration + 1) / config.iterations,
                "kernel estimation",
                f"iteration {iteration + 1}/{config.iterations}",
                g_loss=float(np.mean(g_losses[-REPORT_EVERY:])),
                d_loss=float(np.mean(d_losses[-REPORT_EVERY:])),
                kernel_sum=figures["sum"],
            )
    with torch.no_grad():
        raw = generator.kernel().double().cpu().numpy()
    if summary is not None:
        summary.update(
            {
                "kernelgan_iterations": float(config.iterations),
                "kernelgan_seconds": time.perf_counter() - started,
                "kernelgan_g_loss": float(np.mean(g_losses[-50:])),
                "kernelgan_d_loss": float(np.mean(d_losses[-50:])),
            }
        )
    return raw


def _split_scores(
    judge: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """D's score maps of real and fake crops, judged in one batch so BatchNorm sees both (see the module notes)."""
    scores = judge(torch.cat([real, fake]))
    return scores[: len(real)], scores[len(real) :]


def _alternating_step(
    judge: Callable[[torch.Tensor], torch.Tensor],
    discriminator: KernelDiscriminator,
    optimiser_g: torch.optim.Optimizer,
    optimiser_d: torch.optim.Optimizer,
    real: torch.Tensor,
    fake: torch.Tensor,
    prior: torch.Tensor,
) -> tuple[float, float]:
    """The paper's update: a G step against the current D, then a D step. Returns (G's GAN loss, D's loss)."""
    # G: fool D (its maps of G's output should read 1), within the kernel priors. L1 on the score maps.
    discriminator.requires_grad_(False)
    optimiser_g.zero_grad(set_to_none=True)
    adversarial = torch.mean(torch.abs(_split_scores(judge, real, fake)[1] - 1.0))
    (adversarial + prior).backward()
    optimiser_g.step()
    discriminator.requires_grad_(True)
    # D: crops of the input are real (1), G's output is fake (0).
    optimiser_d.zero_grad(set_to_none=True)
    real_scores, fake_scores = _split_scores(judge, real, fake.detach())
    loss_d = 0.5 * (torch.mean(torch.abs(real_scores - 1.0)) + torch.mean(torch.abs(fake_scores)))
    loss_d.backward()
    optimiser_d.step()
    return float(adversarial.detach()), float(loss_d.detach())


class _ReverseGradient(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by ``-factor``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, factor: float) -> torch.Tensor:  # type: ignore[override]
        ctx.factor = factor
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return -ctx.factor * grad, None


def _simultaneous_step(
    judge: Callable[[torch.Tensor], torch.Tensor],
    optimiser_g: torch.optim.Optimizer,
    optimiser_d: torch.optim.Optimizer,
    real: torch.Tensor,
    fake: torch.Tensor,
    prior: torch.Tensor,
) -> tuple[float, float]:
    """G and D updated from one pass through D (about half the cost of ``_alternating_step``).

    D's scores lie in (0, 1), so G's loss mean|D(fake) - 1| has exactly -2 times the gradient of D's fake
    term 0.5 mean|D(fake)|: reversing (and doubling) the gradient where G's output enters D gives G its own
    gradient from D's backward pass.
    """
    optimiser_g.zero_grad(set_to_none=True)
    optimiser_d.zero_grad(set_to_none=True)
    real_scores, fake_scores = _split_scores(judge, real, _ReverseGradient.apply(fake, 2.0))
    loss_d = 0.5 * (torch.mean(torch.abs(real_scores - 1.0)) + torch.mean(torch.abs(fake_scores)))
    (loss_d + prior).backward()
    optimiser_g.step()
    optimiser_d.step()
    return float(torch.mean(1.0 - fake_scores.detach())), float(loss_d.detach())


def estimate_kernel(
    pixels: np.ndarray,
    scale: int = X2,
    config: KernelGANConfig | None = None,
    progress: Progress | None = None,
    device: str = "auto",
    seed: int | None = None,
    summary: dict[str, float] | None = None,
    model: str = "auto",
) -> np.ndarray:
    """The blur kernel that made ``pixels`` (H x W x C float in [0, 1]) from a ``scale`` times larger image.

    x2: KernelGAN's 13x13 estimate, turned into a kernel by ``model`` (``model_kernel``); x4: the analytic
    x4 kernel derived from it. Sums to 1 (float64); correlate-and-subsample convention of
    ``downscale_with_kernel``.
    """
    if scale not in KERNELGAN_SCALES:
        raise ValueError(f"KernelGAN estimates x2 and x4 kernels, got x{scale}")
    raw = estimate_raw_kernel(pixels, config, progress, device, seed, summary)
    kernel = model_kernel(raw, model)
    return kernel if scale == X2 else analytic_x4_kernel(kernel)


# --- The method ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelGANOptions:
    """KernelGAN + ZSSR's user-facing options: a preset for both stages, and overrides."""

    preset: str = option(
        "auto",
        "fast: a few minutes per photo on a CPU; quality: the paper's 3000 KernelGAN iterations and full "
        "ZSSR, up to hours on a CPU; auto: quality on a GPU, fast on a CPU",
        choices=("auto", *PRESETS),
    )
    iterations: int | None = option(
        None,
        f"KernelGAN iterations (quality: {QUALITY.iterations}, fast: {FAST.iterations})",
        minimum=10,
        maximum=20000,
        label="Blur estimation steps",
        advanced=True,
    )
    zssr_iterations: int | None = option(
        None,
        "most ZSSR training iterations per scale step (quality: 3000, fast: 600)",
        minimum=10,
        maximum=20000,
        label="Enlargement training steps",
        advanced=True,
    )
    kernel_model: str = option(
        "auto",
        "free: the estimate as the paper cleans it; gaussian: a Gaussian with its blur; "
        "auto: free unless the estimate is hollow",
        choices=KERNEL_MODELS,
        label="Blur shape",
        advanced=True,
    )


def resolve_config(options: KernelGANOptions) -> KernelGANConfig:
    """The preset's estimation settings; an ``iterations`` override keeps the schedule's proportions."""
    config = preset_config(preset_for_device(options.preset, "auto"))
    if options.iterations is None or options.iterations == config.iterations:
        return config
    ratio = options.iterations / config.iterations
    return replace(
        config,
        iterations=options.iterations,
        lr_drop_every=max(1, round(config.lr_drop_every * ratio)),
        weight_update_every=max(1, round(config.weight_update_every * ratio)),
    )


def zssr_config(options: KernelGANOptions, *, kernel_mode: bool = True) -> ZSSRConfig:
    """The settings of the method's ZSSR stage: the preset's in given-kernel mode, with ``zssr_iterations``.

    ``kernel_mode=False`` gives the same run assuming bicubic (the blind benchmark's baseline): one jump at
    x2 like the kernel's run (a kernel is estimated for integer scales, so no gradual x2).
    """
    preset = preset_for_device(options.preset, "auto")
    config = replace(zssr_preset_config(preset, kernel_mode=kernel_mode), gradual_x2=False)
    if options.zssr_iterations is None:
        return config
    return replace(
        config,
        max_iterations=options.zssr_iterations,
        min_iterations=min(config.min_iterations, options.zssr_iterations),
    )


def run_kernelgan(
    image: ImageData, scale: int, options: KernelGANOptions, context: RunContext
) -> MethodResult:
    """The registered method: estimate the kernel, then (action ``upscale``) ZSSR with it.

    The result's ``extras["kernel"]`` is the kernel for ``scale`` (sums to 1); the ``kernel`` action returns
    the input image unchanged with the kernel.
    """
    options = replace(options, preset=preset_for_device(options.preset, context.device))
    config = resolve_config(options)
    pixels = image.pixels[:, :, :1] if image.grey else image.pixels
    only_kernel = context.action == "kernel"
    shares = StageShares()
    share_key = f"kernelgan/{options.preset}/x{scale}@{torch_device(context.device).type}"
    default_share = ESTIMATION_SHARE[options.preset]
    share = 1.0 if only_kernel else shares.share(share_key, default_share)
    summary: dict[str, float] = {}
    started = time.perf_counter()
    raw_x2 = estimate_raw_kernel(
        pixels, config, context.progress.sub(0.0, share), context.device, context.seed, summary
    )
    estimation_seconds = time.perf_counter() - started
    kernel_x2 = model_kernel(raw_x2, options.kernel_model)
    kernels = {X2: kernel_x2}
    if scale == 4:
        kernels[4] = analytic_x4_kernel(kernel_x2)
    info = {
        "device": str(torch_device(context.device)),
        "preset": options.preset,
        "kernel": f"{kernels[scale].shape[1]}x{kernels[scale].shape[0]}",
        "kernel_hollowness": f"{hollowness(raw_x2):.2f}",
    }
    info.update({name: f"{value:.4g}" for name, value in summary.items()})
    extras = {"kernel": kernels[scale], "kernel_x2": kernel_x2, "kernel_raw": raw_x2}
    if only_kernel:
        info["seconds_total"] = f"{time.perf_counter() - started:.1f}"
        return MethodResult(image.with_pixels(image.pixels, image.alpha), extras=extras, info=info)

    zssr_summary: dict[str, float] = {}
    out = zssr_upscale(
        pixels,
        scale,
        zssr_config(options),
        kernel=kernels,
        progress=context.progress.sub(share, 1.0),
        device=context.device,
        seed=context.seed,
        tile_size=context.tile_size,
        summary=zssr_summary,
    )
    if image.grey:
        out = np.repeat(out, 3, axis=2)
    alpha = None
    if image.alpha is not None:
        alpha = np.clip(imresize(image.alpha, scale=scale), 0.0, 1.0).astype(np.float32)
    info.update({f"zssr_{name}": f"{value:.4g}" for name, value in zssr_summary.items()})
    total_seconds = time.perf_counter() - started
    info["seconds_total"] = f"{total_seconds:.1f}"
    info["estimation_share"] = f"{estimation_seconds / total_seconds:.2f}"
    if options.iterations is None and options.zssr_iterations is None:  # a preset's run, not a tiny test
        shares.record(share_key, estimation_seconds / total_seconds, default_share)
    return MethodResult(image.with_pixels(out, alpha), extras=extras, info=info)


register(
    Method(
        id="kernelgan",
        name="KernelGAN + ZSSR (blind)",
        purpose="A real photo whose blur is unknown (old or scanned photos): estimates the photo's own "
        "downscaling kernel, then ZSSR enlarges with it. Slow (minutes on a CPU). The kernel action only "
        "estimates the kernel.",
        scales=KERNELGAN_SCALES,
        options_type=KernelGANOptions,
        devices=("cpu", "cuda"),
        actions=("upscale", "kernel"),
        run=run_kernelgan,
    )
)
