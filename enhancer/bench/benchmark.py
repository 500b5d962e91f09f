"""``enhancer bench``: degrade each HR image by the protocol, run a method and the bicubic baseline, score both."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from enhancer.bench.protocol import bicubic_degrade
from enhancer.imaging.colour import quantize_8bit
from enhancer.imaging.image import ImageData, ImageError
from enhancer.imaging.io import find_images, load_image, save_image
from enhancer.imaging.metrics import psnr_y, ssim_y
from enhancer.imaging.resize import central_crop
from enhancer.runtime.devices import describe_machine
from enhancer.runtime.jobs import CancelToken, ProgressListener
from enhancer.runtime.runner import Job, run_job, validate_job

BASELINE_METHOD = "bicubic"


@dataclass
class Score:
    """One method's result on one image."""

    psnr: float
    ssim: float
    seconds: float


@dataclass
class BenchRow:
    """All scores for one HR image, keyed by method id."""

    image: str
    size: tuple[int, int]
    scores: dict[str, Score] = field(default_factory=dict)
    info: dict[str, dict[str, str]] = field(default_factory=dict)  # what each method reported of its run


@dataclass
class BenchConfig:
    """What to measure."""

    method_id: str
    scale: int
    dataset: Path
    limit: int | None = None
    skip: int = 0  # leave out the first this-many images (a long run split over processes)
    options: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    seed: int | None = 0
    save_dir: Path | None = None
    center_crop: int | None = None  # measure only each HR image's central N x N (quick, repeatable checks)


@dataclass
class BenchReport:
    """Per-image rows and means, with the machine they were measured on."""

    config: BenchConfig
    machine: str
    rows: list[BenchRow] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # image name -> why it could not be measured

    def methods(self) -> list[str]:
        return list(self.rows[0].scores) if self.rows else []

    def mean(self, method_id: str) -> Score:
        scores = [row.scores[method_id] for row in self.rows]
        return Score(
            psnr=float(np.mean([s.psnr for s in scores])),
            ssim=float(np.mean([s.ssim for s in scores])),
            seconds=float(np.mean([s.seconds for s in scores])),
        )

    def to_json(self) -> dict[str, Any]:
        config = asdict(self.config)
        config["dataset"] = str(self.config.dataset)
        config["save_dir"] = str(self.config.save_dir) if self.config.save_dir else None
        return {
            "config": config,
            "machine": self.machine,
            "rows": [asdict(row) for row in self.rows],
            "failed": dict(self.failed),
            "mean": {m: asdict(self.mean(m)) for m in self.methods()},
        }


def _score(output: np.ndarray, reference: np.ndarray, scale: int, grey: bool, seconds: float) -> Score:
    return Score(
        psnr=psnr_y(output, reference, border=scale, grey=grey),
        ssim=ssim_y(output, reference, border=scale, grey=grey),
        seconds=seconds,
    )


def select_images(paths: list[Path], skip: int = 0, limit: int | None = None) -> list[Path]:
    """The ``limit`` images after the first ``skip`` (all the rest when ``limit`` is None)."""
    return paths[skip : None if limit is None else skip + limit]


class ImageFailed(Exception):
    """One image of a benchmark could not be measured; the run goes on with the next."""

    def __init__(self, image: str, reason: str) -> None:
        super().__init__(f"{image}: {reason}")
        self.image, self.reason = image, reason


def iter_benchmark(
    config: BenchConfig,
    listener: ProgressListener | None = None,
    cancel: CancelToken | None = None,
    resume_from: BenchReport | None = None,
) -> Iterator[tuple[BenchRow | ImageFailed, BenchReport]]:
    """Measure image by image, yielding each row (or the failure of a bad file) as it is done.

    A file that cannot be read or measured is listed in ``report.failed`` and skipped, so one bad file never
    costs the images already measured. ``resume_from``: a report of the same run that was cut short; its
    rows are kept and its images not measured again.
    """
    paths = find_images([config.dataset])
    if not paths:
        raise FileNotFoundError(f"no images found in {config.dataset}")
    paths = select_images(paths, config.skip, config.limit)
    action = "shrink" if _is_round_trip(config.method_id) else "upscale"
    validate_job(
        Job(paths[0], config.method_id, config.scale, config.options, config.device, action=action)
    )  # fail once, early
    report = BenchReport(config, describe_machine())
    if resume_from is not None:
        check_same_run(resume_from.config, config)
        report.rows = list(resume_from.rows)
        report.failed = dict(resume_from.failed)
        if resume_from.machine != report.machine:
            report.machine = f"{resume_from.machine} + {report.machine}"
    done = {row.image for row in report.rows} | set(report.failed)
    for path in paths:
        if path.stem in done:
            continue
        try:
            row = _measure_image(config, path, listener, cancel)
        except (ImageError, ValueError, RuntimeError, OSError, MemoryError) as error:
            failure = ImageFailed(path.stem, str(error))
            report.failed[path.stem] = failure.reason
            yield failure, report
            continue
        report.rows.append(row)
        yield row, report


def check_same_run(previous: BenchConfig, config: BenchConfig) -> None:
    """Refuse to resume a report of another measurement (ValueError naming what differs)."""
    for key in (*_MERGE_KEYS, "skip", "limit"):
        if getattr(previous, key) != getattr(config, key):
            raise ValueError(
                f"cannot resume: the report measured {key}={getattr(previous, key)!r}, this run {getattr(config, key)!r}"
            )
    if Path(previous.dataset).name != Path(config.dataset).name:
        raise ValueError(f"cannot resume: the report measured {previous.dataset}, this run {config.dataset}")


def _measure_image(
    config: BenchConfig, path: Path, listener: ProgressListener | None, cancel: CancelToken | None
) -> BenchRow:
    methods = (
        [BASELINE_METHOD] if config.method_id == BASELINE_METHOD else [BASELINE_METHOD, config.method_id]
    )
    original = load_image(path)
    if config.center_crop is not None:
        original = original.with_pixels(central_crop(original.pixels, config.center_crop))
    hr, lr = bicubic_degrade(original.pixels, config.scale)
    row = BenchRow(path.stem, (hr.shape[1], hr.shape[0]))
    for method_id in methods:
        if method_id == config.method_id and _is_round_trip(method_id):
            row.scores.update(_round_trip_scores(config, path.stem, original, hr, lr, listener, cancel))
            continue
        options = config.options if method_id == config.method_id else {}
        job = Job(original.with_pixels(lr), method_id, config.scale, options, config.device, seed=config.seed)
        result = run_job(job, listener, cancel)
        output = result.image.pixels
        if output.shape != hr.shape:
            raise RuntimeError(f"{method_id} returned {output.shape} for {path.name}, expected {hr.shape}")
        row.scores[method_id] = _score(output, hr, config.scale, original.grey, float(result.info["seconds"]))
        if method_id == config.method_id:
            row.info[method_id] = {key: str(value) for key, value in result.info.items()}
        if config.save_dir is not None and method_id == config.method_id:
            name = f"{path.stem}_{method_id}_x{config.scale}.png"
            save_image(result.image, config.save_dir / name, overwrite=True)
    return row


def _is_round_trip(method_id: str) -> bool:
    """Methods that shrink and restore (IRN) are measured on the round trip, not on a bicubic LR."""
    from enhancer.methods.registry import get_method

    return set(get_method(method_id).actions) >= {"shrink", "restore"}


def _round_trip_scores(
    config: BenchConfig,
    name: str,
    original: ImageData,
    hr: np.ndarray,
    bicubic_lr: np.ndarray,
    listener: ProgressListener | None,
    cancel: CancelToken | None,
) -> dict[str, Score]:
    """Shrink the HR with the method, round the LR to 8 bits as saving does, restore it; score both ends.

    ``<id>``: the restored image against the HR (seconds: the restore); ``<id>-lr``: the method's LR against
    the bicubic LR, PSNR-Y/SSIM-Y without border crop (seconds: the shrink).
    """
    method_id, scale = config.method_id, config.scale
    shrink = Job(
        original.with_pixels(hr),
        method_id,
        scale,
        config.options,  # the restore's options too: shrink reads only the engine
        config.device,
        action="shrink",
        seed=config.seed,
    )
    shrunk = run_job(shrink, listener, cancel)
    small = shrunk.image.with_pixels(quantize_8bit(shrunk.image.pixels), shrunk.image.alpha)
    restore = Job(small, method_id, scale, config.options, config.device, action="restore", seed=config.seed)
    restored = run_job(restore, listener, cancel)
    output = restored.image.pixels
    if output.shape != hr.shape or small.pixels.shape != bicubic_lr.shape:
        raise RuntimeError(
            f"{method_id} round trip gave {small.pixels.shape} / {output.shape}, expected {hr.shape}"
        )
    if config.save_dir is not None:
        save_image(small, config.save_dir / f"{name}_{method_id}_lr_x{scale}.png", overwrite=True)
        save_image(
            restored.image,
            config.save_dir / f"{name}_{method_id}_x{scale}.png",
            overwrite=True,
        )
    return {
        method_id: _score(output, hr, scale, original.grey, float(restored.info["seconds"])),
        f"{method_id}-lr": Score(
            psnr=psnr_y(small.pixels, bicubic_lr, border=0, grey=original.grey),
            ssim=ssim_y(small.pixels, bicubic_lr, border=0, grey=original.grey),
            seconds=float(shrunk.info["seconds"]),
        ),
    }


def run_benchmark(config: BenchConfig, listener: ProgressListener | None = None) -> BenchReport:
    """Measure the whole dataset and return the report."""
    *_, (_, report) = iter_benchmark(config, listener)
    return report


def format_row(row: BenchRow) -> str:
    cells = [f"{m} {s.psnr:6.2f} dB {s.ssim:.4f} {s.seconds:7.2f} s" for m, s in row.scores.items()]
    return f"{row.image:<12} " + " | ".join(cells)


def format_summary(report: BenchReport) -> str:
    config = report.config
    lines = [
        f"mean over {len(report.rows)} images of {config.dataset.name}, x{config.scale} ({report.machine})"
    ]
    baseline = report.mean(BASELINE_METHOD)
    for method_id in report.methods():
        mean = report.mean(method_id)
        ratio = mean.seconds / baseline.seconds if baseline.seconds > 0 else float("nan")
        lines.append(
            f"  {method_id:<10} PSNR-Y {mean.psnr:6.2f} dB  SSIM-Y {mean.ssim:.4f}  "
            f"{mean.seconds:8.3f} s/image  ({ratio:.1f}x bicubic's time)"
        )
    if report.failed:
        lines.append(
            f"  not measured ({len(report.failed)}): "
            + "; ".join(f"{k}: {v}" for k, v in report.failed.items())
        )
    return "\n".join(lines)


# What must agree for runs over parts of a dataset to add up to one figure (the device and machine may differ).
_MERGE_KEYS = ("method_id", "scale", "options", "seed", "center_crop")


def read_json(path: Path) -> BenchReport:
    """A report that ``write_json`` wrote (ValueError when the file is not one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        raw = data["config"]
        unknown = set(raw) - {f.name for f in fields(BenchConfig)}
        if unknown:
            raise ValueError(f"unexpected config keys {sorted(unknown)} (a blind benchmark report?)")
        config = BenchConfig(**{**raw, "dataset": Path(raw["dataset"]), "save_dir": None})
        rows = [
            BenchRow(
                row["image"],
                (int(row["size"][0]), int(row["size"][1])),
                {m: Score(**score) for m, score in row["scores"].items()},
                row.get("info", {}),
            )
            for row in data["rows"]
        ]
        failed = {str(k): str(v) for k, v in data.get("failed", {}).items()}
        return BenchReport(config, str(data["machine"]), rows, failed)
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as error:
        raise ValueError(f"{path}: not a bench report ({error})") from error


def merge_reports(reports: list[BenchReport]) -> BenchReport:
    """One report from runs over disjoint parts of a dataset (``--skip``/``--limit``), rows in image order.

    Refuses reports that measured something different or the same image twice, since their mean would not be
    one figure.
    """
    if not reports:
        raise ValueError("no reports to merge")
    first = reports[0].config
    for report in reports[1:]:
        for key in _MERGE_KEYS:
            if getattr(report.config, key) != getattr(first, key):
                raise ValueError(
                    f"reports differ in {key}: {getattr(first, key)!r} and {getattr(report.config, key)!r}"
                )
        if report.config.dataset.name != first.dataset.name:
            raise ValueError(f"reports of different datasets: {first.dataset} and {report.config.dataset}")
    rows = sorted((row for report in reports for row in report.rows), key=lambda row: row.image)
    names = [row.image for row in rows]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"images measured more than once: {', '.join(repeated)}")
    machines = list(dict.fromkeys(report.machine for report in reports))
    config = replace(first, skip=0, limit=None, save_dir=None)
    return BenchReport(config, " + ".join(machines), rows)


def write_json(report: BenchReport, path: Path) -> None:
    """Write atomically (a temporary file renamed into place): a run killed mid-write keeps the last report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")
    os.replace(temporary, path)
