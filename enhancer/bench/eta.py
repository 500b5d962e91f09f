"""How good is the ETA? Run jobs and compare the total predicted once 10 % of the bar is done with the truth.

``python -m enhancer.bench.eta IMAGE --job zssr:fast:2 --job kernelgan:fast:2 --json report.json``
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from enhancer.runtime.jobs import ProgressUpdate
from enhancer.runtime.runner import Job, run_job


def measure_eta(image: Path, method_id: str, preset: str | None, scale: int, action: str = "upscale") -> dict:
    """One job: real seconds, when the first ETA appeared and the total it predicted at 10 %."""
    first_eta_at: list[float] = []
    predicted_at_10: list[float] = []

    def listen(update: ProgressUpdate) -> None:
        if update.eta_s is None:
            return
        if not first_eta_at:
            first_eta_at.append(update.elapsed_s)
        if update.fraction >= 0.1 and not predicted_at_10:
            predicted_at_10.append(update.elapsed_s + update.eta_s)

    options = {"preset": preset} if preset else {}
    started = time.monotonic()
    result = run_job(Job(Path(image), method_id, scale, options, action=action, seed=0), listen)
    seconds = time.monotonic() - started
    predicted = predicted_at_10[0] if predicted_at_10 else None
    return {
        "method": method_id,
        "preset": preset,
        "scale": scale,
        "action": action,
        "seconds": round(seconds, 1),
        "first_eta_after_s": round(first_eta_at[0], 1) if first_eta_at else None,
        "predicted_total_at_10pct_s": round(predicted, 1) if predicted else None,
        "ratio_truth_over_prediction": round(seconds / predicted, 2) if predicted else None,
        "info": result.info,  # the method's own summary: iterations and seconds per stage
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument(
        "--job", action="append", required=True, help="METHOD:PRESET:SCALE[:ACTION] (PRESET may be empty)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rows = []
    for spec in args.job:
        method_id, preset, scale, *rest = spec.split(":")
        row = measure_eta(args.image, method_id, preset or None, int(scale), rest[0] if rest else "upscale")
        row["image"] = args.image.name
        row["machine"] = f"{platform.processor() or platform.machine()}"
        print(json.dumps(row), flush=True)
        rows.append(row)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
