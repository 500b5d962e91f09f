"""IRN's network speed on one torch device: ms per megapixel of a whole photo in each direction (float32 and
bfloat16 autocast) and training iterations per second at a given batch, for the record of what a device buys.

This times the network alone, one image at a time with no tiling, on random pixels, with the shipped model's
weights where one is installed (a randomly initialised net computes denormal numbers: 14 % slower on the dev
CPU, x2 on 256 px; a GPU computes them at full speed); ``irn_big`` times the app's tiled path end to end on the CPU.

``python -m enhancer.bench.irn_device_speed --device cuda --size 4000x3000 --json speed.json``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from enhancer.nets.irn import IRN, state_dict_from_onnx
from enhancer.runtime.devices import describe_machine
from enhancer.train.irn_train import irn_losses

PRECISIONS = ("float32", "bfloat16")


def shipped_or_random(scale: int) -> tuple[IRN, str]:
    """IRN with the installed standard model's weights, else randomly initialised; and which it is."""
    net = IRN(scale)
    try:  # the method module needs the whole app's dependencies, which a bare GPU machine may lack
        from enhancer.methods.irn import find_model

        path = find_model(scale).restore_path
    except (ImportError, ValueError):
        return net, "random"
    net.load_state_dict(state_dict_from_onnx(path)[0])
    return net, path.name


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(run: Callable[[], object], device: torch.device, repeats: int, warmups: int = 1) -> float:
    """Median wall seconds of ``run`` after ``warmups`` untimed calls (device work waited for)."""
    for _ in range(warmups):
        run()
    _synchronise(device)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        _synchronise(device)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def inference_speed(
    scale: int, hr_size: tuple[int, int], device: torch.device, precision: str, repeats: int
) -> dict[str, float]:
    """Shrink (HR -> LR) and restore (LR, z = 0 -> HR) of one ``hr_size`` photo: ms per HR megapixel."""
    width, height = (side // scale * scale for side in hr_size)
    net, weights = shipped_or_random(scale)
    net = net.to(device).eval()
    generator = torch.Generator().manual_seed(0)
    hr = torch.rand((1, 3, height, width), generator=generator).to(device)
    megapixels = width * height / 1e6
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")
    with torch.inference_mode(), autocast:
        lr_and_z = net(hr)  # also the shrink's warm-up
        lr, z = IRN.split(lr_and_z)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        shrink = median_seconds(lambda: net(hr), device, repeats, warmups=0)
        restore = median_seconds(lambda: net.inverse(IRN.join(lr, torch.zeros_like(z))), device, repeats)
    figures = {
        "scale": scale,
        "hr_size": f"{width}x{height}",
        "precision": precision,
        "weights": weights,
        "shrink_ms_per_mp": round(shrink * 1000 / megapixels, 2),
        "restore_ms_per_mp": round(restore * 1000 / megapixels, 2),
        "shrink_seconds": round(shrink, 4),
        "restore_seconds": round(restore, 4),
    }
    if device.type == "cuda":
        figures["peak_gpu_gb"] = round(torch.cuda.max_memory_allocated(device) / 1024**3, 2)
    return figures


def training_speed(
    scale: int, batch: int, patch: int, device: torch.device, amp: bool, steps: int
) -> dict[str, float]:
    """Iterations per second of the standard recipe's step (losses, backward, Adam) on random patches."""
    net, weights = shipped_or_random(scale)
    net = net.to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    patches = [torch.rand((batch, 3, patch, patch), generator=generator) for _ in range(4)]
    state = {"index": 0}

    def step() -> None:
        hr = patches[state["index"] % len(patches)].to(device).contiguous(memory_format=torch.channels_last)
        state["index"] += 1
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            losses = irn_losses(net, hr, z_std=0.0)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        optimizer.step()

    for _ in range(3):
        step()
    _synchronise(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    _synchronise(device)
    seconds = time.perf_counter() - started
    return {
        "scale": scale,
        "batch": batch,
        "patch": patch,
        "amp": amp,
        "weights": weights,
        "iterations_per_second": round(steps / seconds, 2),
    }


def parse_size(text: str) -> tuple[int, int]:
    width, height = (int(part) for part in text.lower().split("x"))
    return width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m enhancer.bench.irn_device_speed", description=__doc__)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--scales", default="2,4")
    parser.add_argument("--size", default="4000x3000", help="HR photo WxH (12 MP by default)")
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train-batch", type=int, default=16, help="0 skips the training speed")
    parser.add_argument("--train-patch", type=int, default=144)
    parser.add_argument("--train-steps", type=int, default=50)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    scales = [int(s) for s in args.scales.split(",")]
    report: dict[str, object] = {"machine": describe_machine(), "device": str(device), "inference": []}
    if device.type == "cuda":
        report["gpu"] = torch.cuda.get_device_name(device)
    report["torch"] = torch.__version__
    for scale in scales:
        for precision in args.precisions.split(","):
            figures = inference_speed(scale, parse_size(args.size), device, precision, args.repeats)
            report["inference"].append(figures)
            print(json.dumps(figures), flush=True)
    if args.train_batch:
        report["training"] = []
        for scale in scales:
            for amp in (False, True):
                figures = training_speed(
                    scale, args.train_batch, args.train_patch, device, amp, args.train_steps
                )
                report["training"].append(figures)
                print(json.dumps(figures), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
