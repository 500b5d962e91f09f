"""``enhancer bench --degradation aniso``: blind SR measured the DIV2KRK way (KernelGAN, REFERENCE.md §4).

Each HR image gets its own random anisotropic Gaussian kernel (``protocol.random_aniso_kernel``, drawn from
the seed and the image's place in the sorted folder, so a ``--limit`` run measures a prefix of the full set
with the same kernels). The LR is made with it (``protocol.aniso_degrade``) and four pipelines enlarge it,
all in the same run:

- ``bicubic``: MATLAB bicubic interpolation;
- ``zssr_bicubic``: ZSSR assuming the usual bicubic downscaling (what a non-blind method does);
- ``kernelgan_zssr``: the ``kernelgan`` method, KernelGAN's estimate then ZSSR with it;
- ``zssr_true_kernel``: ZSSR given the true kernel, the ceiling for any kernel estimate.

Each row also says how far the estimated x2 kernel is from the true one (MSE, correlation).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from enhancer.bench.benchmark import Score, select_images
from enhancer.bench.protocol import aniso_degrade, random_aniso_kernel
from enhancer.imaging.io import find_images, load_image, save_image
from enhancer.imaging.kernels import compare_kernels, save_kernel, two_step_kernel
from enhancer.imaging.metrics import psnr_y, ssim_y
from enhancer.imaging.resize import bicubic_kernel, central_crop, imresize
from enhancer.methods.kernelgan import zssr_config
from enhancer.methods.zssr import zssr_upscale
from enhancer.runtime.devices import describe_machine
from enhancer.runtime.jobs import CancelToken, Progress, ProgressListener
from enhancer.runtime.runner import Job, run_job

PIPELINES = ("bicubic", "zssr_bicubic", "kernelgan_zssr", "zssr_true_kernel")
BLIND_METHOD = "kernelgan"


@dataclass
class BlindConfig:
    """What to measure: the dataset, the scale (2 or 4), KernelGAN's options, and the seed of the kernels."""

    scale: int
    dataset: Path
    limit: int | None = None
    skip: int = 0  # leave out the first this-many images (a long run split over processes)
    options: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    seed: int = 0
    save_dir: Path | None = None
    center_crop: int | None = None  # measure only each HR image's central N x N
    kernels_only: bool = False  # estimate the kernels and score them; no image is enlarged


@dataclass
class BlindRow:
    """One image: the true and estimated x2 kernels, how far apart they are, and each pipeline's score."""

    image: str
    size: tuple[int, int]
    kernel_mse: float
    kernel_correlation: float
    bicubic_kernel_correlation: float  # the bicubic kernel against the truth, for scale
    scores: dict[str, Score] = field(default_factory=dict)
    true_kernel: list[list[float]] = field(default_factory=list)
    estimated_kernel: list[list[float]] = field(default_factory=list)
    raw_kernel: list[list[float]] = field(default_factory=list)  # G's kernel before post-processing
    kernel_seconds: float = 0.0


@dataclass
class BlindReport:
    """Per-image rows and means, with the machine they were measured on."""

    config: BlindConfig
    machine: str
    rows: list[BlindRow] = field(default_factory=list)

    @property
    def pipelines(self) -> tuple[str, ...]:
        return () if self.config.kernels_only else PIPELINES

    def mean(self, pipeline: str) -> Score:
        scores = [row.scores[pipeline] for row in self.rows]
        return Score(
            psnr=float(np.mean([s.psnr for s in scores])),
            ssim=float(np.mean([s.ssim for s in scores])),
            seconds=float(np.mean([s.seconds for s in scores])),
        )

    def mean_kernel(self) -> tuple[float, float, float]:
        """Mean kernel MSE, correlation, and the bicubic kernel's correlation."""
        return (
            float(np.mean([r.kernel_mse for r in self.rows])),
            float(np.mean([r.kernel_correlation for r in self.rows])),
            float(np.mean([r.bicubic_kernel_correlation for r in self.rows])),
        )

    def to_json(self) -> dict[str, Any]:
        config = asdict(self.config)
        config["dataset"] = str(self.config.dataset)
        config["save_dir"] = str(self.config.save_dir) if self.config.save_dir else None
        mse, correlation, bicubic_correlation = self.mean_kernel() if self.rows else (0.0, 0.0, 0.0)
        return {
            "config": config,
            "degradation": "aniso",
            "machine": self.machine,
            "rows": [asdict(row) for row in self.rows],
            "mean": {p: asdict(self.mean(p)) for p in self.pipelines} if self.rows else {},
            "mean_kernel": {
                "mse": mse,
                "correlation": correlation,
                "bicubic_correlation": bicubic_correlation,
                "seconds": float(np.mean([r.kernel_seconds for r in self.rows])) if self.rows else 0.0,
            },
        }


def image_kernel(seed: int, index: int) -> np.ndarray:
    """The true x2 kernel of the ``index``-th image of a folder: the same for every run with this seed."""
    return random_aniso_kernel(np.random.default_rng([seed, index]))


def _timed(run: Callable[..., np.ndarray], *args: Any, **kwargs: Any) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    out = run(*args, **kwargs)
    return out, time.perf_counter() - started


def iter_blind_benchmark(
    config: BlindConfig,
    listener: ProgressListener | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[tuple[BlindRow, BlindReport]]:
    """Measure image by image, yielding each row as it is done."""
    from enhancer.methods.registry import get_method

    if config.scale not in (2, 4):
        raise ValueError(f"the aniso benchmark runs at x2 or x4, got x{config.scale}")
    options = get_method(BLIND_METHOD).make_options(config.options)
    paths = find_images([config.dataset])
    if not paths:
        raise FileNotFoundError(f"no images found in {config.dataset}")
    paths = select_images(paths, config.skip, config.limit)
    report = BlindReport(config, describe_machine())
    scale = config.scale
    progress = Progress(listener, cancel)
    for index, path in enumerate(paths, start=config.skip):
        original = load_image(path)
        if config.center_crop is not None:
            original = original.with_pixels(central_crop(original.pixels, config.center_crop))
        kernel = image_kernel(config.seed, index)
        hr, lr = aniso_degrade(original.pixels, scale, kernel)
        pixels = lr[:, :, :1] if original.grey else lr
        true_kernels = {2: kernel, 4: two_step_kernel(kernel)}
        outputs: dict[str, tuple[np.ndarray, float]] = {}

        if not config.kernels_only:
            enlarged, seconds = _timed(imresize, lr, scale=scale)  # the resize is what bicubic costs
            outputs["bicubic"] = (np.clip(enlarged, 0.0, 1.0), seconds)
            for name, kernel_mode, given in (
                ("zssr_bicubic", False, None),
                ("zssr_true_kernel", True, true_kernels),
            ):
                progress.report(0.0, f"{path.stem}: {name}")
                outputs[name] = _timed(
                    zssr_upscale,
                    pixels,
                    scale,
                    zssr_config(options, kernel_mode=kernel_mode),
                    kernel=given,
                    progress=progress,
                    device=config.device,
                    seed=config.seed,
                )
        action = "kernel" if config.kernels_only else "upscale"
        job = Job(
            original.with_pixels(lr), BLIND_METHOD, scale, options, config.device, action, seed=config.seed
        )
        result = run_job(job, listener, cancel)
        estimate = result.extras["kernel_x2"]
        if not config.kernels_only:
            outputs["kernelgan_zssr"] = (result.image.pixels, float(result.info["seconds"]))

        error = compare_kernels(estimate, kernel, 2)
        row = BlindRow(
            image=path.stem,
            size=(hr.shape[1], hr.shape[0]),
            kernel_mse=error.mse,
            kernel_correlation=error.correlation,
            bicubic_kernel_correlation=compare_kernels(bicubic_kernel(2), kernel, 2).correlation,
            true_kernel=kernel.tolist(),
            estimated_kernel=np.asarray(estimate).tolist(),
            raw_kernel=np.asarray(result.extras["kernel_raw"]).tolist(),
            kernel_seconds=float(result.info["kernelgan_seconds"]),
        )
        for name in report.pipelines:
            out, seconds = outputs[name]
            if out.shape[2] == 1:
                out = np.repeat(out, 3, axis=2)
            if out.shape != hr.shape:
                raise RuntimeError(f"{name} returned {out.shape} for {path.name}, expected {hr.shape}")
            row.scores[name] = Score(
                psnr=psnr_y(out, hr, border=scale, grey=original.grey),
                ssim=ssim_y(out, hr, border=scale, grey=original.grey),
                seconds=seconds,
            )
            if config.save_dir is not None:
                save_image(
                    original.with_pixels(out),
                    config.save_dir / f"{path.stem}_{name}_x{scale}.png",
                    overwrite=True,
                )
        if config.save_dir is not None:
            save_image(
                original.with_pixels(lr), config.save_dir / f"{path.stem}_lr_x{scale}.png", overwrite=True
            )
            save_kernel(kernel, config.save_dir / f"{path.stem}_kernel_true.npy", overwrite=True)
            save_kernel(estimate, config.save_dir / f"{path.stem}_kernel_kernelgan.npy", overwrite=True)
        report.rows.append(row)
        yield row, report


def format_row(row: BlindRow) -> str:
    cells = [f"{name} {s.psnr:6.2f} dB {s.ssim:.4f} {s.seconds:6.1f} s" for name, s in row.scores.items()]
    kernel = (
        f"kernel corr {row.kernel_correlation:.3f} (bicubic {row.bicubic_kernel_correlation:.3f}) "
        f"mse {row.kernel_mse:.2e} {row.kernel_seconds:.1f} s"
    )
    return " | ".join([f"{row.image:<10} {kernel}", *cells])


def format_summary(report: BlindReport) -> str:
    config = report.config
    mse, correlation, bicubic_correlation = report.mean_kernel()
    seconds = np.mean([row.kernel_seconds for row in report.rows])
    lines = [
        f"mean over {len(report.rows)} images of {config.dataset.name}, aniso x{config.scale} ({report.machine})",
        f"  estimated x2 kernel: correlation {correlation:.3f} (bicubic kernel: {bicubic_correlation:.3f}), "
        f"MSE {mse:.2e}, {seconds:.1f} s/image to estimate",
    ]
    for name in report.pipelines:
        mean = report.mean(name)
        lines.append(
            f"  {name:<17} PSNR-Y {mean.psnr:6.2f} dB  SSIM-Y {mean.ssim:.4f}  {mean.seconds:8.1f} s/image"
        )
    return "\n".join(lines)


def write_json(report: BlindReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")
