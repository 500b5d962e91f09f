"""Train pixel recursive SR (REFERENCE.md §5) on the 32x32 LFW faces; a developer's tool.

The faces are split by person (the name before the last ``_NNNN``) into train, validation (checkpoint choice)
and test (reported numbers only) with a fixed hash, so no identity crosses splits. LR = MATLAB-bicubic x1/4 of
the HR, rounded to 8 bits, as a user's small photo would be.

Objectives: ``pixelrsr`` (Dahl et al.: NLL of conditioning + prior logits, plus NLL of the conditioning logits
alone) and ``l2`` (the pixel-independent regression baseline: the conditioning network with 3 outputs and an
MSE loss, same batch and iterations). Examples::

    nice -n 10 python -m enhancer.train.pixelrsr_train --threads 2 --minutes 120 --out out/pixelrsr/main
    nice -n 10 python -m enhancer.train.pixelrsr_train --resume --minutes 60 --out out/pixelrsr/main
    python -m enhancer.train.pixelrsr_train --objective l2 --iterations 2000 --out out/pixelrsr/l2
    python -m enhancer.train.pixelrsr_train --device cuda --batch 64 --minutes 10 --out out/pixelrsr/main --resume
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from enhancer.imaging.resize import imresize
from enhancer.nets.pixelrsr import (
    HR_SIDE,
    LR_SIDE,
    ConditioningNet,
    PixelRecursiveSR,
    nll_bits_per_dim,
    to_unit_range,
)

DEFAULT_FACES = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "faces" / "LFW"
SPLIT_BUCKETS = 10  # a person's hash modulo this: 0 = test, 1 = validation, else train
TEST_BUCKET, VALIDATION_BUCKET = 0, 1


def person_of(path: Path) -> str:
    """``Aaron_Eckhart_0001.png`` -> ``Aaron_Eckhart``."""
    return path.stem.rsplit("_", 1)[0]


def split_of(person: str) -> str:
    bucket = int(hashlib.sha256(person.encode()).hexdigest()[:8], 16) % SPLIT_BUCKETS
    return {TEST_BUCKET: "test", VALIDATION_BUCKET: "validation"}.get(bucket, "train")


def face_split(folder: Path | str = DEFAULT_FACES) -> dict[str, list[Path]]:
    """The faces of ``folder`` by split (``train``, ``validation``, ``test``), people disjoint, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no face folder at {folder} (see ../shared/datasets/README.md)")
    splits: dict[str, list[Path]] = {"train": [], "validation": [], "test": []}
    for path in sorted(folder.glob("*.png")):
        splits[split_of(person_of(path))].append(path)
    return splits


def load_faces(paths: list[Path]) -> np.ndarray:
    """(N, 32, 32, 3) uint8 RGB."""
    faces = []
    for path in paths:
        with Image.open(path) as im:
            array = np.asarray(im.convert("RGB"))
        if array.shape != (HR_SIDE, HR_SIDE, 3):
            raise ValueError(f"{path}: expected a {HR_SIDE}x{HR_SIDE} face, got {array.shape}")
        faces.append(array)
    return np.stack(faces)


def bicubic_lr(hr: np.ndarray) -> np.ndarray:
    """(N, 32, 32, 3) uint8 -> (N, 8, 8, 3) uint8: MATLAB bicubic x1/4, rounded to 8 bits."""
    n = hr.shape[0]
    planes = hr.transpose(1, 2, 0, 3).reshape(HR_SIDE, HR_SIDE, n * 3).astype(np.float64) / 255.0
    small = imresize(planes, output_shape=(LR_SIDE, LR_SIDE))
    small = small.reshape(LR_SIDE, LR_SIDE, n, 3).transpose(2, 0, 1, 3)
    return np.clip(np.round(small * 255.0), 0, 255).astype(np.uint8)


def to_levels(images: np.ndarray, levels: int) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> level indices (N, 3, H, W)."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).long()
    if levels == 256:
        return x
    return torch.div(x * levels, 256, rounding_mode="floor")


def lr_input(lr: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 LR (N, 8, 8, 3) -> the conditioning network's input (N, 3, 8, 8) in [-1, 1]."""
    x = torch.as_tensor(lr).permute(0, 3, 1, 2).float()
    return x * (2.0 / 255.0) - 1.0


@dataclass
class TrainConfig:
    out: str = "out/pixelrsr/main"
    faces: str = str(DEFAULT_FACES)
    objective: str = "pixelrsr"
    iterations: int = 1_000_000
    minutes: float | None = None
    batch: int = 32
    lr: float = 1e-3
    lr_half_life: int = 3000  # iterations; lr = base * 0.5 ** (iteration / half_life)
    grad_clip: float = 1.0
    validate_every: int = 250
    save_minutes: float = 3.0
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    model: dict[str, int] = field(
        default_factory=lambda: {
            "prior_layers": 12,
            "prior_channels": 48,
            "conditioning_channels": 64,
            "conditioning_blocks": 2,
            "levels": 256,
        }
    )


def build_model(config: TrainConfig) -> torch.nn.Module:
    if config.objective == "l2":
        return ConditioningNet(
            config.model["conditioning_channels"], levels=1, blocks=config.model["conditioning_blocks"]
        )
    return PixelRecursiveSR(**config.model)


def losses(model: torch.nn.Module, objective: str, lr: torch.Tensor, hr: torch.Tensor, levels: int) -> dict:
    """Training loss and the figures to log; ``hr`` holds level indices (N, 3, 32, 32)."""
    if objective == "l2":
        prediction = model(lr)[:, :, 0]
        target = hr.float() / (levels - 1)
        mse = F.mse_loss(prediction, target)
        return {"loss": mse, "mse": mse.detach()}
    full, conditioning = model(lr, to_unit_range(hr, levels))
    nll_full = nll_bits_per_dim(full, hr)
    nll_conditioning = nll_bits_per_dim(conditioning, hr)
    return {
        "loss": nll_full + nll_conditioning,
        "nll": nll_full.detach(),
        "nll_cond": nll_conditioning.detach(),
    }


@torch.no_grad()
def evaluate(model: torch.nn.Module, objective: str, lr: torch.Tensor, hr: torch.Tensor, levels: int) -> dict:
    model.eval()
    totals: dict[str, float] = {}
    for start in range(0, len(hr), 128):
        figures = losses(model, objective, lr[start : start + 128], hr[start : start + 128], levels)
        for key, value in figures.items():
            totals[key] = totals.get(key, 0.0) + float(value) * len(hr[start : start + 128])
    model.train()
    return {key: value / len(hr) for key, value in totals.items() if key != "loss"}


def describe_hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {platform.processor() or platform.machine()} ({torch.get_num_threads()} thread(s))"


def train(config: TrainConfig, resume: bool = False) -> Path:
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = torch.device(config.device)
    torch.manual_seed(config.seed)
    splits = face_split(config.faces)
    levels = config.model["levels"]
    train_hr_u8 = load_faces(splits["train"])
    validation_hr_u8 = load_faces(splits["validation"])
    train_lr = lr_input(bicubic_lr(train_hr_u8)).to(device)
    train_hr = to_levels(train_hr_u8, levels).to(device)
    validation_lr = lr_input(bicubic_lr(validation_hr_u8)).to(device)
    validation_hr = to_levels(validation_hr_u8, levels).to(device)

    model = build_model(config).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    state = {"iteration": 0, "seconds": 0.0, "best": math.inf, "history": [], "hardware": []}
    latest = out / "latest.pt"
    if resume and latest.exists():
        checkpoint = torch.load(latest, map_location=device, weights_only=False)
        model.load_state_dict(checkpoint["model"])
        optimiser.load_state_dict(checkpoint["optimiser"])
        state = checkpoint["state"]
        print(f"resumed at iteration {state['iteration']} ({state['seconds'] / 3600:.2f} h)", flush=True)
    hardware = describe_hardware(device)
    if hardware not in state["hardware"]:
        state["hardware"].append(hardware)
    key = "mse" if config.objective == "l2" else "nll"

    stop = {"now": False}

    def request_stop(*_: object) -> None:
        stop["now"] = True

    previous_handlers = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    def save(path: Path) -> None:
        payload = {"model": model.state_dict(), "optimiser": optimiser.state_dict(), "state": state}
        payload["config"] = asdict(config)
        temporary = path.with_suffix(".tmp")
        torch.save(payload, temporary)
        temporary.replace(path)

    generator = torch.Generator().manual_seed(config.seed + state["iteration"])
    session_start = time.monotonic()
    last_save = session_start
    seconds_at_start = state["seconds"]
    running: dict[str, float] = {}
    while state["iteration"] < config.iterations and not stop["now"]:
        if config.minutes is not None and time.monotonic() - session_start > config.minutes * 60:
            break
        indices = torch.randint(0, len(train_hr), (config.batch,), generator=generator).to(device)
        lr, hr = train_lr[indices], train_hr[indices]
        if (
            torch.rand(1, generator=generator).item() < 0.5
        ):  # faces are near-symmetric: mirror half the batches
            lr, hr = lr.flip(3), hr.flip(3)
        for group in optimiser.param_groups:
            group["lr"] = config.lr * 0.5 ** (state["iteration"] / config.lr_half_life)
        figures = losses(model, config.objective, lr, hr, levels)
        optimiser.zero_grad(set_to_none=True)
        figures["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimiser.step()
        state["iteration"] += 1
        state["seconds"] = seconds_at_start + time.monotonic() - session_start
        for name, value in figures.items():
            if name != "loss":
                running[name] = running.get(name, 0.0) + float(value)
        if state["iteration"] % config.validate_every == 0:
            validation = evaluate(model, config.objective, validation_lr, validation_hr, levels)
            trained = {name: value / config.validate_every for name, value in running.items()}
            running = {}
            entry = {"iteration": state["iteration"], "hours": state["seconds"] / 3600, "train": trained}
            entry["validation"] = validation
            state["history"].append(entry)
            improved = validation[key] < state["best"]
            print(json.dumps(entry), "best" if improved else "", flush=True)
            if improved:
                state["best"] = validation[key]
                save(out / "best.pt")
        if time.monotonic() - last_save > config.save_minutes * 60:
            save(latest)
            last_save = time.monotonic()
    save(latest)
    for sig, handler in previous_handlers.items():
        signal.signal(sig, handler)
    print(f"stopped at iteration {state['iteration']} ({state['seconds'] / 3600:.2f} h)", flush=True)
    return latest


def parse_args(argv: list[str] | None = None) -> tuple[TrainConfig, bool]:
    parser = argparse.ArgumentParser(description="Train pixel recursive SR on 32x32 faces (never on test).")
    parser.add_argument("--out", default="out/pixelrsr/main")
    parser.add_argument("--faces", default=str(DEFAULT_FACES))
    parser.add_argument("--objective", choices=("pixelrsr", "l2"), default="pixelrsr")
    parser.add_argument("--iterations", type=int, default=1_000_000)
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-half-life", type=int, default=3000)
    parser.add_argument("--validate-every", type=int, default=250)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prior-layers", type=int, default=12)
    parser.add_argument("--prior-channels", type=int, default=48)
    parser.add_argument("--conditioning-channels", type=int, default=64)
    parser.add_argument("--levels", type=int, default=256)
    parser.add_argument("--resume", action="store_true", help="continue from <out>/latest.pt")
    args = parser.parse_args(argv)
    config = TrainConfig(
        out=args.out,
        faces=args.faces,
        objective=args.objective,
        iterations=args.iterations,
        minutes=args.minutes,
        batch=args.batch,
        lr=args.lr,
        lr_half_life=args.lr_half_life,
        validate_every=args.validate_every,
        device=args.device,
        threads=args.threads,
        seed=args.seed,
    )
    config.model.update(
        prior_layers=args.prior_layers,
        prior_channels=args.prior_channels,
        conditioning_channels=args.conditioning_channels,
        levels=args.levels,
    )
    return config, args.resume


def main(argv: list[str] | None = None) -> None:
    config, resume = parse_args(argv)
    train(config, resume=resume)


if __name__ == "__main__":
    main()
