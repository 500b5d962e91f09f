"""How good is the ETA? Run jobs and compare the total predicted once 10 % of the bar is done with the truth.

``python -m enhancer.bench.eta IMAGE --job zssr:fast:2 --job kernelgan:fast:2 --json report.json``

``--replay REPORT.json ...`` does the same for ZSSR `quality` runs already logged (bench or eta reports: the
iterations and seconds of every scale step), with the bar's rules as they are now: an hour-long run need
not be run again to check a change of those rules.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from enhancer.methods.zssr import (
    REPORT_EVERY,
    expected_run_lengths,
    plan_steps,
    preset_config,
    step_span,
    training_fraction,
)
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


def replay_zssr(info: dict[str, str], size: tuple[int, int] = (256, 256)) -> float:
    """truth / ETA-predicted total at 10 % for a logged ZSSR ``quality`` run (its ``info``; ``size``: the input's
    height and width), replayed through the bar's current rules: iterations at the logged pace of each step,
    the rest of the time inference."""
    config = preset_config("quality")
    names = [key.removesuffix("_iterations") for key in info if key.endswith("_iterations")]
    factors = []
    for name in names:  # "x2.5" or "x1.5-2" (vertical, horizontal)
        parts = [float(f) for f in name.removeprefix("x").split("-")]
        factors.append((parts[0], parts[-1]))
    plans = plan_steps(config, factors, size)
    total = float(info["seconds_total"])
    elapsed, position, trained = 0.0, 0.0, []
    for number, name in enumerate(names):
        iterations = int(float(info[f"{name}_iterations"]))
        seconds = float(info[f"{name}_train_seconds"])
        lengths = expected_run_lengths(config, len(names) - number, trained)
        end, trained_part = step_span(config, position, plans[number:], lengths)
        split = position + (end - position) * trained_part
        for done in range(REPORT_EVERY, iterations + 1, REPORT_EVERY):
            fraction = position + (split - position) * training_fraction(
                done, lengths[0], config.max_iterations
            )
            if fraction >= 0.1:
                return total / ((elapsed + seconds * done / iterations) / fraction)
        elapsed += seconds
        trained.append(iterations)
        position = end
    raise ValueError("the run never reached 10 % in training")


def _logged_zssr_runs(path: Path) -> list[tuple[str, dict[str, str], tuple[int, int]]]:
    """(image, info, input height and width) of each ZSSR quality run in a bench or an ETA report (an ETA
    report has no size: 256 x 256, the size of the photos those were run on)."""
    data = json.loads(path.read_text())
    rows = data["rows"] if isinstance(data, dict) else data
    runs = []
    for row in rows:
        info = row.get("info", {})
        info = info.get("zssr", info)
        if info.get("preset") == "quality" and "seconds_total" in info:
            if "size" in row:  # a bench row: the HR's width and height; ZSSR enlarged the LR
                scale = int(float(info.get("scale", 1)))
                size = (row["size"][1] // scale, row["size"][0] // scale)
            else:
                size = (256, 256)
            runs.append((str(row.get("image", path.stem)), info, size))
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path, nargs="?")
    parser.add_argument("--job", action="append", help="METHOD:PRESET:SCALE[:ACTION] (PRESET may be empty)")
    parser.add_argument("--replay", type=Path, nargs="+", help="logged ZSSR quality runs to replay instead")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.replay:
        replayed = [
            {
                "report": str(path),
                "image": image,
                "scale": int(float(info.get("scale", 0))) or None,
                "seconds": float(info["seconds_total"]),
                "ratio_truth_over_prediction": round(replay_zssr(info, size), 2),
            }
            for path in args.replay
            for image, info, size in _logged_zssr_runs(path)
        ]
        for row in replayed:
            print(json.dumps(row))
        if args.json:
            args.json.write_text(json.dumps(replayed, indent=1) + "\n")
        return 0
    if args.image is None or not args.job:
        parser.error("give an IMAGE and --job, or --replay")
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
