"""IRN on a big photo: shrink a 12 MP photo x4 and restore it, end to end through the CLI as a user runs it,
per engine: wall seconds, ms per megapixel and peak memory (each command in its own process), the round trip's
PSNR-Y, and tiled against whole on a crop small enough to run whole.

``python -m enhancer.bench.irn_big --photo PHOTO --size 4000x3000 --scale 4 --engines onnx,bf16,int8 --json r.json``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from enhancer.imaging.colour import quantize_8bit
from enhancer.imaging.io import load_image
from enhancer.imaging.metrics import psnr_y
from enhancer.methods.irn import (
    _tile_layout,
    choose_engine,
    find_model,
    restore_pixels,
    session_for,
    shrink_pixels,
)
from enhancer.runtime.devices import describe_machine

WHOLE_CROP = (1024, 768)  # HR crop for tiled vs whole: small enough to run as one tile


def _peak_of_running(pid: int, done: threading.Event, seen: list[int]) -> None:
    """Poll the child's own high-water mark (``VmHWM``, kB) until ``done``. Its ``ru_maxrss`` would not do:
    Linux carries the forking parent's peak into the child's across ``exec``."""
    status = Path(f"/proc/{pid}/status")
    while not done.wait(0.05):
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    seen.append(int(line.split()[1]))
        except (OSError, ValueError):
            return


def timed_command(args: list[str]) -> dict[str, float]:
    """Run ``python -m enhancer ARGS`` in its own process: wall seconds, CPU seconds and peak RSS."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "enhancer", *args])
    done, seen = threading.Event(), [0]
    watcher = threading.Thread(target=_peak_of_running, args=(process.pid, done, seen), daemon=True)
    watcher.start()
    _, status, usage = os.wait4(process.pid, 0)
    done.set()
    watcher.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise RuntimeError(f"enhancer {' '.join(args)} failed with exit status {process.returncode}")
    peak_kb = max(seen) if max(seen) > 0 else usage.ru_maxrss  # no /proc: the (upper bound) rusage figure
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_gb": round(peak_kb / 1024**2, 2),  # kilobytes
    }


def tiled_against_whole(hr: np.ndarray, scale: int, engine: str) -> dict[str, float]:
    """Round trip of an HR crop as the app tiles it and as one tile: PSNR-Y of each and their difference."""
    model = find_model(scale)
    down, _ = session_for(model.shrink_path, "cpu", engine, model.int8_calibration)
    up, _ = session_for(model.restore_path, "cpu", engine, model.int8_calibration)
    tile, overlap = _tile_layout(scale, 512, engine)
    scores = {}
    for name, (size, margin) in {"tiled": (tile, overlap), "whole": (10**6, 0)}.items():
        lr = shrink_pixels(hr, down, scale, tile=size, overlap=margin)
        lr = quantize_8bit(lr)  # the saved 8-bit PNG
        restored = restore_pixels(lr, up, scale, tile=size, overlap=margin)
        scores[name] = psnr_y(np.clip(restored, 0, 1), hr, border=scale)
    return {
        "crop": [hr.shape[1], hr.shape[0]],
        "tile_lr": tile,
        "overlap_lr": overlap,
        "tiled_psnr_y": round(scores["tiled"], 4),
        "whole_psnr_y": round(scores["whole"], 4),
        "difference_db": round(scores["tiled"] - scores["whole"], 4),
    }


def measure(photo: Path, size: tuple[int, int], scale: int, engines: list[str], work: Path) -> dict:
    width, height = size
    with Image.open(photo) as image:
        big = image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
    hr_path = work / "photo.png"
    big.save(hr_path)
    hr = load_image(hr_path).pixels
    hr_mp = width * height / 1e6
    report: dict = {
        "photo": photo.name,
        "size": [width, height],
        "scale": scale,
        "machine": describe_machine(),
        "auto_engine": choose_engine("auto", "cpu", scale, find_model(scale).int8_calibration is not None),
        "rows": [],
    }
    for engine in engines:
        small, restored = work / f"small-{engine}", work / f"restored-{engine}"
        common = ["--engine", engine, "--device", "cpu", "--quiet"]
        shrink = timed_command(
            ["shrink", str(hr_path), "--scale", str(scale), "--out-dir", str(small), *common]
        )
        restore = timed_command(["restore", str(small / "photo.png"), "--out-dir", str(restored), *common])
        out = load_image(restored / "photo.png").pixels
        row = {
            "engine": engine,
            "shrink": {**shrink, "ms_per_mp": round(shrink["seconds"] * 1000 / hr_mp)},
            "restore": {**restore, "ms_per_mp": round(restore["seconds"] * 1000 / hr_mp)},
            "round_trip_psnr_y": round(psnr_y(out, hr, border=scale), 4),
        }
        crop_w, crop_h = (min(a, b) // scale * scale for a, b in zip(WHOLE_CROP, size, strict=True))
        top, left = (height - crop_h) // 2, (width - crop_w) // 2
        row["tiled_vs_whole"] = tiled_against_whole(
            np.ascontiguousarray(hr[top : top + crop_h, left : left + crop_w]), scale, engine
        )
        print(json.dumps(row), flush=True)
        report["rows"].append(row)
    baseline = next((r for r in report["rows"] if r["engine"] == "onnx"), None)
    if baseline is not None:
        for row in report["rows"]:
            for direction in ("shrink", "restore"):
                row[direction]["speedup_vs_onnx"] = round(
                    baseline[direction]["seconds"] / row[direction]["seconds"], 2
                )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, required=True, help="any photo; resized to --size")
    parser.add_argument("--size", default="4000x3000", help="WIDTHxHEIGHT of the HR (default 12 MP)")
    parser.add_argument("--scale", type=int, choices=(2, 4), default=4)
    parser.add_argument("--engines", default="onnx,bf16,int8", help="comma-separated: onnx, bf16, int8")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as work:
        report = measure(args.photo, (width, height), args.scale, args.engines.split(","), Path(work))
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
