"""One path for work: the CLI and the GUI both describe a ``Job`` and hand it to ``run_job``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enhancer.imaging.image import ImageData
from enhancer.methods.registry import Method, MethodResult, RunContext, get_method
from enhancer.runtime.jobs import CancelToken, Progress, ProgressListener

# A result is held as float32 RGB (12 bytes a pixel) and saved through 8/16-bit samples: measured peaks of
# 23.6 MB per output megapixel (docs/BENCHMARKS.md). 400 MP keeps a job under ~10 GB on our 24 GB machines.
MAX_OUTPUT_PIXELS = 400_000_000
BYTES_PER_OUTPUT_PIXEL = 24


@dataclass
class Job:
    """An image (a file or pixels already loaded), a method, a scale and options."""

    source: Path | ImageData
    method_id: str
    scale: int
    options: dict[str, Any] | Any = field(default_factory=dict)
    device: str = "auto"
    action: str = "upscale"
    tile_size: int = 512
    seed: int | None = None
    max_pixels: int | None = None

    @property
    def label(self) -> str:
        name = self.source.name if isinstance(self.source, Path) else "image"
        return f"{name} · {self.method_id} ×{self.scale}"


def validate_job(job: Job) -> tuple[Method, Any]:
    """Check method, action, scale and options before any heavy work; raises ``ValueError``/``KeyError``."""
    method = get_method(job.method_id)
    if job.action not in method.actions:
        raise ValueError(f"{method.id} cannot {job.action} (it can: {', '.join(method.actions)})")
    if job.scale not in method.scales:
        scales = ", ".join(map(str, method.scales))
        raise ValueError(f"{method.id} does not support scale {job.scale} (supported: {scales})")
    if isinstance(job.options, method.options_type):
        options = job.options
    else:
        options = method.make_options(job.options)
    return method, options


def run_job(
    job: Job, listener: ProgressListener | None = None, cancel: CancelToken | None = None
) -> MethodResult:
    """Load (if needed), run the method with progress and cancel, and time it (``info['seconds']``)."""
    from enhancer.imaging.io import DEFAULT_MAX_PIXELS, load_image

    method, options = validate_job(job)
    progress = Progress(listener, cancel)
    progress.report(0.0, "loading")
    if isinstance(job.source, ImageData):
        image = job.source
    else:
        image = load_image(job.source, max_pixels=job.max_pixels or DEFAULT_MAX_PIXELS)
    enlarged = job.action in ("upscale", "restore")
    output_pixels = image.width * image.height * job.scale * job.scale if enlarged else 0
    if output_pixels > MAX_OUTPUT_PIXELS:
        raise ValueError(
            f"the result would be {image.width * job.scale}×{image.height * job.scale} = "
            f"{output_pixels / 1e6:.0f} MP, over the limit of {MAX_OUTPUT_PIXELS / 1e6:.0f} MP (about "
            f"{MAX_OUTPUT_PIXELS * BYTES_PER_OUTPUT_PIXEL / 2**30:.0f} GB of memory); use a smaller scale or crop"
        )
    context = RunContext(
        progress=progress, device=job.device, tile_size=job.tile_size, seed=job.seed, action=job.action
    )
    started = time.perf_counter()
    result = method.run(image, job.scale, options, context)
    result.info.setdefault("seconds", f"{time.perf_counter() - started:.3f}")
    result.info.setdefault("method", method.id)
    result.info.setdefault("scale", str(job.scale))
    notices = [*image.notices, *([result.info["notice"]] if "notice" in result.info else [])]
    if notices:
        result.info["notice"] = "; ".join(dict.fromkeys(notices))
    progress.report(1.0, "done")
    return result
