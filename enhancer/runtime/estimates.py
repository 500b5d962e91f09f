"""How long a job will take, said before it starts, from rates measured on this machine.

Each (method, preset, scale, action, device) has a time model: a fixed part (training runs a set number of
steps whatever the photo's size) plus a part per output megapixel (or per drawn sample for a generative
method), seeded from the figures in docs/BENCHMARKS.md for a 2-core CPU. Every finished run refines a speed
factor for its key (a geometric running mean of measured / modelled time), kept in a small JSON file in the
user's config folder, so estimates soon fit this machine. GPU seeds were never measured (no GPU was lent):
they are the CPU's divided by ``GPU_SPEEDUP_GUESS`` and are said to be rough until a run refines them.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from enhancer.runtime.devices import preset_for_device, torch_device

GPU_SPEEDUP_GUESS = 20.0
ASK_FIRST_SECONDS = 600.0  # a job estimated longer than this asks first and offers the fast preset
LEARNING_WEIGHT = 0.5  # how far one run moves the speed factor (in log space)


@dataclass(frozen=True)
class TimeModel:
    fixed_s: float
    per_output_mp_s: float = 0.0
    per_sample_s: float = 0.0


# Seconds on our 2-core dev CPUs (docs/BENCHMARKS.md; Set5-sized photos give 0.1-0.3 output MP at x2 / x4).
CPU_MODELS: dict[str, TimeModel] = {
    "bicubic": TimeModel(0.05, 0.3),
    "lanczos": TimeModel(0.05, 0.3),
    "zssr/fast/x2": TimeModel(20.0, 40.0),
    "zssr/fast/x3": TimeModel(20.0, 40.0),
    "zssr/fast/x4": TimeModel(20.0, 40.0),
    "zssr/quality/x2": TimeModel(2500.0, 2000.0),
    "zssr/quality/x3": TimeModel(700.0, 1000.0),
    "zssr/quality/x4": TimeModel(900.0, 1000.0),
    "kernelgan/fast": TimeModel(30.0, 40.0),
    "kernelgan/quality": TimeModel(300.0, 500.0),
    "irn/shrink": TimeModel(0.5, 15.0),
    "irn/restore": TimeModel(0.5, 15.0),
    "pixelrsr": TimeModel(0.3, 0.0, 0.4),
}
FALLBACK_MODEL = TimeModel(5.0, 60.0)  # a method we have no figure for (e.g. a user's model)


@dataclass(frozen=True)
class Estimate:
    seconds: float
    device: str  # "CPU" or "GPU", in words
    measured: bool  # refined by at least one run on this machine

    def text(self) -> str:
        """``about 40 s on this CPU`` (``roughly ..., not yet measured here`` before any run on a GPU)."""
        rough = "" if self.measured or self.device == "CPU" else " (a rough guess until one has run here)"
        return f"about {describe_seconds(self.seconds)} on this {self.device}{rough}"


def describe_seconds(seconds: float) -> str:
    """``under a second``, ``40 s``, ``3 min``, ``1 h 10 min``, rounded as a person would say it."""
    if seconds < 1:
        return "under a second"
    if seconds < 60:
        return f"{round(seconds)} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"


def rate_key(method_id: str, preset: str | None, scale: int, action: str, device_kind: str) -> str:
    """The key a time model and its speed factor are kept under, e.g. ``zssr/fast/x2@cpu``."""
    if method_id == "zssr":
        base = f"zssr/{preset}/x{scale}"
    elif method_id == "kernelgan":
        base = f"kernelgan/{preset}"
    elif method_id == "irn":
        base = f"irn/{action}"
    else:
        base = method_id
    return f"{base}@{device_kind}"


def _save_best_effort(path: Path, data: dict) -> None:
    """Write ``data`` as JSON atomically; a file that cannot be written never fails a job."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
        temporary.replace(path)
    except OSError:
        pass


def default_rates_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "enhancer" / "rates.json"


class RateBook:
    """Speed factors learned from finished runs, read from and written to one JSON file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_rates_path()
        self.factors: dict[str, dict[str, float]] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.factors = {
                str(k): {"factor": float(v["factor"]), "runs": int(v["runs"])} for k, v in data.items()
            }
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            self.factors = {}  # no file yet, or a damaged one: start from the seeds

    def _model(self, key: str) -> TimeModel:
        base, device_kind = key.rsplit("@", 1)
        model = CPU_MODELS.get(base, FALLBACK_MODEL)
        if device_kind == "cuda":
            return TimeModel(
                model.fixed_s / GPU_SPEEDUP_GUESS,
                model.per_output_mp_s / GPU_SPEEDUP_GUESS,
                model.per_sample_s / GPU_SPEEDUP_GUESS,
            )
        return model

    def modelled(self, key: str, output_mp: float, samples: int = 1) -> float:
        model = self._model(key)
        return model.fixed_s + model.per_output_mp_s * output_mp + model.per_sample_s * samples

    def estimate(self, key: str, output_mp: float, samples: int = 1) -> Estimate:
        known = self.factors.get(key)
        factor = known["factor"] if known else 1.0
        device = "GPU" if key.endswith("@cuda") else "CPU"
        return Estimate(factor * self.modelled(key, output_mp, samples), device, known is not None)

    def record(self, key: str, output_mp: float, seconds: float, samples: int = 1) -> None:
        """Fold one finished run into the key's speed factor and save (best effort: never fails a job)."""
        modelled = self.modelled(key, output_mp, samples)
        if modelled <= 0 or seconds <= 0:
            return
        known = self.factors.get(key, {"factor": 1.0, "runs": 0})
        log_factor = (1 - LEARNING_WEIGHT) * math.log(known["factor"]) + LEARNING_WEIGHT * math.log(
            seconds / modelled
        )
        self.factors[key] = {"factor": math.exp(log_factor), "runs": known["runs"] + 1}
        _save_best_effort(self.path, self.factors)


def job_key(method_id: str, options: dict, scale: int, action: str, device: str) -> tuple[str, int]:
    """(rate key, samples) of a job as the user described it (preset ``auto`` resolved for the device)."""
    device_kind = torch_device(device).type if device != "cpu" else "cpu"
    preset = options.get("preset")
    preset = preset_for_device(preset, device) if preset else None
    samples = int(options.get("samples", 1) or 1)
    return rate_key(method_id, preset, scale, action, device_kind), samples


def output_megapixels(width: int, height: int, scale: int, action: str) -> float:
    if action == "shrink":
        return width * height / (scale * scale) / 1e6
    if action == "kernel":
        return width * height / 1e6
    return width * height * scale * scale / 1e6


def default_shares_path() -> Path:
    return default_rates_path().with_name("stage-shares.json")


class StageShares:
    """Each multi-stage job's share of time in its first stage, as measured on this machine.

    A progress bar split by a fixed share makes the ETA wrong wherever the machine's balance differs (KernelGAN's
    estimation took 29 % of a `fast` run on a quiet 2-core CPU, under 10 % while another job shared the cores),
    so each finished run moves the share it used towards the one it measured.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_shares_path()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.shares = {str(k): min(max(float(v), 0.02), 0.98) for k, v in data.items()}
        except (OSError, ValueError, TypeError, AttributeError):
            self.shares = {}

    def share(self, key: str, default: float) -> float:
        return self.shares.get(key, default)

    def record(self, key: str, measured: float, default: float) -> None:
        """Fold one run's measured share in (half way, like the speed factors); best effort, never fails."""
        if not 0.0 < measured < 1.0:
            return
        known = self.share(key, default)
        self.shares[key] = min(max((1 - LEARNING_WEIGHT) * known + LEARNING_WEIGHT * measured, 0.02), 0.98)
        _save_best_effort(self.path, self.shares)
