"""Your own models, measured: real-size architectures with seeded random weights (no weights can be downloaded
here), torch vs onnxruntime on the CPU, each run in a fresh process for its own peak memory.

``python -m enhancer.bench.user_models --side 128 --json docs/reports/user-models.json``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# Real sizes: Real-ESRGAN's RRDBNet (23 blocks, 64 filters) x4, SwinIR-light x2, Real-ESRGAN's Compact x4.
ARCHITECTURES = ("rrdbnet-x4", "swinir-light-x2", "compact-x4")


def build(kind: str):
    import torch

    from enhancer.nets.user_models import spandrel

    spandrel()
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.ESRGAN import ESRGAN
    from spandrel.architectures.SwinIR import SwinIR

    torch.manual_seed(0)
    if kind == "rrdbnet-x4":
        return ESRGAN(num_filters=64, num_blocks=23, scale=4)
    if kind == "swinir-light-x2":
        return SwinIR(
            img_size=64, window_size=8, embed_dim=60, depths=[6, 6, 6, 6], num_heads=[6, 6, 6, 6],
            mlp_ratio=2.0, upscale=2, upsampler="pixelshuffledirect",
        )  # fmt: skip
    return Compact(num_feat=64, num_conv=32, upscale=4)


def measure_one(kind: str, engine: str, side: int, tile: int, folder: Path) -> dict:
    """One run in this process: seconds, peak RSS, and the result saved for comparison."""
    from enhancer.imaging.image import ImageData
    from enhancer.methods.user_model import register_user_models
    from enhancer.runtime.model_library import ModelLibrary
    from enhancer.runtime.runner import Job, run_job

    library = ModelLibrary(folder / "models")
    entry = library.get(kind)
    register_user_models(folder / "models")
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    pixels = np.clip(np.stack([x, y, (x + y) / 2], 2) + 0.05 * rng.standard_normal((side, side, 3)), 0, 1)
    job = Job(
        ImageData(pixels.astype(np.float32)),
        entry.method_id,
        entry.scale,
        {"engine": engine, "model_tile": tile},
    )
    started = time.perf_counter()
    result = run_job(job)
    seconds = time.perf_counter() - started
    np.save(folder / f"{kind}-{engine}-{tile}.npy", result.image.pixels)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak_mb), "tile": result.info.get("tile")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=512, help="input side in pixels")
    parser.add_argument("--tile", type=int, default=64, help="the tile of the tiled-vs-whole comparison")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--one", nargs=4, metavar=("KIND", "ENGINE", "TILE", "FOLDER"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.one:
        kind, engine, tile, folder = args.one
        print(json.dumps(measure_one(kind, engine, args.side, int(tile), Path(folder))))
        return 0

    import torch

    from enhancer.nets.user_models import describe_model_file, export_onnx
    from enhancer.runtime.model_library import ModelLibrary

    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        library = ModelLibrary(folder / "models")
        for kind in ARCHITECTURES:
            weights = folder / f"{kind}.pth"
            torch.save(build(kind).state_dict(), weights)
            entry = library.add(weights, name=kind)
            started = time.perf_counter()
            note = export_onnx(weights, library.onnx_path(entry), describe_model_file(weights))
            export_seconds = round(time.perf_counter() - started, 1)
            row: dict = {"model": kind, "side": args.side, "export_s": export_seconds, "export_note": note}
            runs = [
                ("torch", args.side),
                *([("onnx", args.side), ("onnx", args.tile)] if note is None else []),
            ]
            for engine, tile in runs:
                command = [sys.executable, "-m", "enhancer.bench.user_models", "--side", str(args.side)]
                command += ["--one", kind, engine, str(tile), str(folder)]
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                row[f"{engine}-{tile}"] = json.loads(done.stdout.strip().splitlines()[-1])
            by_torch = np.load(folder / f"{kind}-torch-{args.side}.npy")
            if note is None:
                whole = np.load(folder / f"{kind}-onnx-{args.side}.npy")
                tiled = np.load(folder / f"{kind}-onnx-{args.tile}.npy")
                row["tiled_vs_whole_max"] = float(np.abs(whole - tiled).max())
                row["onnx_vs_torch_max"] = float(np.abs(whole - by_torch).max())
            print(json.dumps(row), flush=True)
            rows.append(row)
            if args.json:
                args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
