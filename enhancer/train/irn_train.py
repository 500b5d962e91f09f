"""Train IRN (REFERENCE.md §2) on random patches of natural photographs; a developer's tool.

Losses (IRN paper, Xiao et al. 2020), each summed over a sample's pixels and averaged over the batch:
forward L2 between the produced LR and the MATLAB-bicubic LR of the HR patch (weight 4 at x2, 16 at x4);
backward L1 between the HR patch and f^-1(quantised LR, z ~ N(0, I)) (weight 1); distribution loss
sum(z^2) / batch (weight 1). The LR is rounded to 8 bits with a straight-through gradient.

``--robust jpeg`` trains the variant that survives sharing (issue #24 part 2): between shrink and restore the
8-bit LR goes through a real JPEG save and load (a random quality in ``--jpeg-quality``, 4:2:0 or 4:4:4) whose
gradient comes from a differentiable model of the codec (``enhancer.train.jpeg_simulation``); a share of the
iterations (``--clean-share``) keeps the lossless round trip. Its validation adds the round trip through JPEG
q90 4:2:0 (``val_jpeg90_psnr_y``), the figure that decides whether a checkpoint is better. ``--repair`` adds
the restore-side ``JPEGRepair`` (trained on the re-encoded iterations only; it starts as the identity, so a
run can add it to a robust checkpoint), and ``--forward-weight`` raises the LR guidance so the small file
still looks like a plain downscale while the backward loss grows with the JPEG error.

Checkpoints (network, optimiser, iteration, training time and hardware) go to ``--out``/``latest.pt``;
``--resume`` continues from one, ``--init`` starts from weights: a checkpoint, a shipped ONNX file
(``models/irn_x2_down.onnx``: its initialisers are the parameters by name and its metadata holds the
iteration count, so the learning-rate schedule carries on), or, for x4, an x2 model that seeds the first
level (the second starts as the identity). Examples::

    # What the shipped CPU models were trained with (1 thread; z = 0 in the backward loss, see --z-std):
    python -m enhancer.train.irn_train --scale 2 --threads 1 --batch 4 --patch 48 --channels-last \
        --z-std 0 --lr-milestones 900 --minutes 36 --out out/irn/x2
    python -m enhancer.train.irn_train --scale 4 --threads 1 --batch 4 --patch 64 --channels-last \
        --z-std 0 --init out/irn/x2/latest.pt --minutes 36 --out out/irn/x4
    # A GPU session continuing from the shipped weights with the paper's recipe (z ~ N(0, I)):
    python -m enhancer.train.irn_train --scale 2 --device cuda --init models/irn_x2_down.onnx \
        --batch 16 --patch 144 --iterations 500000 --channels-last --out out/irn/x2
    #   (--amp, bfloat16 autocast, also on a CPU: 21 % more iterations per minute than float32 on an
    #    AVX-512 BF16 CPU, docs/BENCHMARKS.md "Recipes per CPU hour"; --compile: never measured.)
    # The issue #24 campaign on the CPU (bfloat16, both threads); the shipped x2 has lr halved at 15,800:
    python -m enhancer.train.irn_train --scale 2 --init models/irn_x2_down.onnx --resume --batch 4 --patch 48 \
        --lr-milestones 900,15800 --z-std 0 --amp --channels-last --threads 2 --out out/campaign/x2
    # The JPEG-robust variant, fine-tuned from the shipped x2 model:
    python -m enhancer.train.irn_train --scale 2 --init models/irn_x2_down.onnx --robust jpeg --amp \
        --threads 2 --batch 4 --patch 48 --channels-last --z-std 0 --lr-milestones 900 --out out/irn/x2-jpeg
    # A stronger standard model under it later: its IRN, the previous robust run's JPEGRepair
    python -m enhancer.train.irn_train --scale 2 --init out/campaign/x2/best.pt --robust jpeg --repair \
        --init-repair out/robust/x2-fw8/best.pt --forward-weight 8 --amp --threads 2 --batch 4 --patch 96 \
        --channels-last --z-std 0 --lr-milestones 900,15100,17000 --out out/robust/x2-campaign  # to 17,600, then
    #   scripts/irn_gpu_burst.sh --prepare out/robust/x2-campaign/best.pt and its GPU call: shipped 19,500
    # x4 likewise, from the shipped x4 model with the x2 robust run's JPEGRepair (it works on the LR):
    python -m enhancer.train.irn_train --scale 4 --init out/campaign/x4/best.pt --robust jpeg --repair \
        --init-repair out/robust/x2-fw8/best.pt --forward-weight 32 --amp --threads 2 --batch 4 --patch 96 \
        --channels-last --z-std 0 --lr 1e-4 --lr-milestones 100000 --out out/robust/x4
    # then export (replaces the files of that scale and variant in models/ and their manifest entries):
    python -m enhancer.train.irn_export --scale 2 --checkpoint out/irn/x2/latest.pt
"""

from __future__ import annotations

import argparse
import json
import math
import random
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from enhancer.imaging.metrics import psnr_y
from enhancer.imaging.resize import imresize_torch
from enhancer.nets.irn import IRN, state_dict_from_onnx
from enhancer.train.jpeg_simulation import JPEGSetting, jpeg_round_trip, random_setting

DEFAULT_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "train"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# IRN paper's training recipe (authors' configs).
PAPER_LR = 2e-4
PAPER_BETAS = (0.9, 0.999)
PAPER_WEIGHT_DECAY = 1e-5
PAPER_LR_MILESTONES = (100_000, 200_000, 300_000, 400_000)
PAPER_GRAD_CLIP = 10.0
PAPER_Z_STD = 1.0  # z ~ N(0, I) in the backward pass
FORWARD_WEIGHT = {2: 4.0, 4: 16.0}  # lambda_forw: LR guidance
BACKWARD_WEIGHT = 1.0  # lambda_back: HR reconstruction
DISTRIBUTION_WEIGHT = 1.0  # lambda_distr: z towards N(0, I)
VALIDATION_EVERY = 200
VALIDATION_SEED = 1234  # z drawn for the sampled-z validation figure
VALIDATION_CROP = 192  # centre crop side of each validation image (keeps CPU validation cheap)
ROBUSTNESS = ("none", "jpeg")
# The JPEG-robust variant: qualities a messenger or website uses, half of them with 4:2:0 chroma.
JPEG_QUALITIES = (70, 95)
JPEG_SUBSAMPLED_SHARE = 0.5
CLEAN_SHARE = 0.2  # iterations without JPEG, so the lossless round trip stays good
VALIDATION_JPEG = JPEGSetting(90, "4:2:0")


@dataclass
class TrainConfig:
    scale: int = 2
    data: str = str(DEFAULT_DATA)
    out: str = "out/irn/x2"
    iterations: int = 500_000
    minutes: float | None = None
    batch: int = 16
    patch: int = 144
    lr: float = PAPER_LR
    lr_milestones: tuple[int, ...] = PAPER_LR_MILESTONES
    grad_clip: float = PAPER_GRAD_CLIP
    z_std: float = PAPER_Z_STD
    validation_images: int = 8
    validate_every: int = VALIDATION_EVERY
    save_every: int = 100
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    amp: bool = False
    channels_last: bool = False
    compile: bool = False
    init: str | None = None
    resume: bool = False
    robust: str = "none"
    jpeg_quality: tuple[int, int] = JPEG_QUALITIES
    clean_share: float = CLEAN_SHARE
    repair: bool = False
    init_repair: str | None = None  # a robust checkpoint whose JPEGRepair this run starts from
    forward_weight: float | None = None  # None: the paper's (FORWARD_WEIGHT)


# ---- data ------------------------------------------------------------------------------------------------


def find_training_images(folder: Path) -> list[Path]:
    """Every image below ``folder``, sorted so that the validation hold-out is reproducible."""
    paths = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"no training images found under {folder}")
    return paths


def split_validation(paths: list[Path], count: int) -> tuple[list[Path], list[Path]]:
    """(training, validation): every k-th image is held out so the validation set spans every source."""
    if count <= 0:
        return paths, []
    step = max(1, len(paths) // count)
    held = set(paths[step // 2 :: step][:count])
    return [p for p in paths if p not in held], [p for p in paths if p in held]


def load_rgb8(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


class PatchSampler:
    """Random HR patches with the 8 flips/rotations, from images kept in memory as 8-bit arrays."""

    def __init__(self, paths: list[Path], patch: int, seed: int) -> None:
        images = [load_rgb8(p) for p in paths]
        self.images = [im for im in images if min(im.shape[:2]) >= patch]
        if not self.images:
            raise ValueError(f"no training image is at least {patch} x {patch}")
        self.patch = patch
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int) -> torch.Tensor:
        out = np.empty((size, self.patch, self.patch, 3), dtype=np.uint8)
        for i in range(size):
            im = self.images[self.rng.integers(len(self.images))]
            y = self.rng.integers(im.shape[0] - self.patch + 1)
            x = self.rng.integers(im.shape[1] - self.patch + 1)
            crop = im[y : y + self.patch, x : x + self.patch]
            if self.rng.random() < 0.5:
                crop = crop[:, ::-1]
            if self.rng.random() < 0.5:
                crop = crop[::-1]
            out[i] = np.rot90(crop, int(self.rng.integers(4)))
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)


# ---- losses ----------------------------------------------------------------------------------------------


def quantise_straight_through(lr: torch.Tensor) -> torch.Tensor:
    """Round to multiples of 1/255 in [0, 1]; the gradient passes through unchanged."""
    rounded = torch.round(lr.clamp(0.0, 1.0) * 255.0) / 255.0
    return lr + (rounded - lr).detach()


def irn_losses(
    net: IRN,
    hr: torch.Tensor,
    forward_fn: Callable | None = None,
    inverse_fn: Callable | None = None,
    z_std: float = PAPER_Z_STD,
    degrade: Callable[[torch.Tensor], torch.Tensor] | None = None,
    forward_weight: float | None = None,
) -> dict[str, torch.Tensor]:
    """The three IRN losses for a batch of HR patches (N x 3 x H x W, sides multiples of the scale).

    ``forward_fn``/``inverse_fn`` replace ``net``/``net.inverse`` (e.g. their compiled versions). ``z_std``
    scales the z drawn for the backward pass: 1 is the paper; 0 trains the z = 0 restore only, which learns
    far faster on a small budget but leaves ``--z sample`` restores noisy. ``degrade`` (e.g. a JPEG re-save)
    acts on the 8-bit LR before it is restored, and then the net's repair (if any) too.
    """
    forward_fn = forward_fn or net
    inverse_fn = inverse_fn or net.inverse
    batch = hr.shape[0]
    lr, z = IRN.split(forward_fn(hr))
    with torch.no_grad():
        target = imresize_torch(hr.float(), 1.0 / net.scale).to(lr.dtype)
    forward = ((lr - target) ** 2).sum() / batch
    distribution = (z.float() ** 2).sum() / batch
    shared = quantise_straight_through(lr)
    if degrade is not None:
        shared = degrade(shared.float()).to(lr.dtype)
        if net.repair is not None:
            shared = net.repair(shared)
    restored = inverse_fn(IRN.join(shared, torch.randn_like(z) * z_std))
    backward = (restored - hr).abs().sum() / batch
    forward_weight = FORWARD_WEIGHT[net.scale] if forward_weight is None else forward_weight
    total = forward_weight * forward + BACKWARD_WEIGHT * backward + DISTRIBUTION_WEIGHT * distribution
    return {"total": total, "forward": forward, "backward": backward, "distribution": distribution}


# ---- validation ------------------------------------------------------------------------------------------


@torch.no_grad()
def shrink_8bit(net: IRN, hr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(8-bit LR, z) for N x 3 x H x W in [0, 1], as the shipped shrink writes them."""
    lr, z = IRN.split(net(hr))
    return torch.round(lr.clamp(0.0, 1.0) * 255.0) / 255.0, z


@torch.no_grad()
def restore_from(
    net: IRN, lr: torch.Tensor, z_like: torch.Tensor, z_mode: str = "zero", jpeg: JPEGSetting | None = None
) -> torch.Tensor:
    """Restored HR from an 8-bit LR; z is zero or drawn from N(0, I); with ``jpeg`` the LR is re-saved as
    that JPEG first (and the net's repair, if any, applied)."""
    if jpeg is not None:
        lr = jpeg_round_trip(lr, jpeg)
    z = torch.zeros_like(z_like) if z_mode == "zero" else torch.randn_like(z_like)
    return net.restore(lr, z, repair=jpeg is not None).clamp(0.0, 1.0)


def validation_crops(paths: list[Path], crop: int, scale: int) -> list[np.ndarray]:
    crops = []
    for path in paths:
        im = load_rgb8(path).astype(np.float32) / 255.0
        side_y = min(crop, im.shape[0]) // scale * scale
        side_x = min(crop, im.shape[1]) // scale * scale
        y0, x0 = (im.shape[0] - side_y) // 2, (im.shape[1] - side_x) // 2
        crops.append(im[y0 : y0 + side_y, x0 : x0 + side_x])
    return crops


def validate(
    net: IRN, crops: list[np.ndarray], device: torch.device, jpeg: JPEGSetting | None = None
) -> dict[str, float]:
    """Mean round-trip PSNR-Y (z = 0), the same with z drawn from N(0, I) (``val_sample_psnr_y``, what
    ``restore --z sample`` would give; a fixed seed, so checks compare) and LR PSNR-Y against the bicubic LR
    over the validation crops; with ``jpeg`` also the round trip through that JPEG re-save
    (``val_jpeg<quality>_psnr_y``)."""
    net.eval()
    round_trips, sampled, lrs, through_jpeg = [], [], [], []
    for index, crop in enumerate(crops):
        hr = torch.from_numpy(crop).permute(2, 0, 1)[None].to(device)
        lr, z = shrink_8bit(net, hr)  # one forward pass serves every restore below
        restored = restore_from(net, lr, z)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(VALIDATION_SEED + index)
            restored_sampled = restore_from(net, lr, z, z_mode="sample")
        restored_np = restored[0].permute(1, 2, 0).float().cpu().numpy()
        lr_np = lr[0].permute(1, 2, 0).float().cpu().numpy()
        bicubic = imresize_torch(hr, 1.0 / net.scale)[0].permute(1, 2, 0).cpu().numpy()
        round_trips.append(psnr_y(restored_np, crop, border=net.scale))
        sampled.append(
            psnr_y(restored_sampled[0].permute(1, 2, 0).float().cpu().numpy(), crop, border=net.scale)
        )
        lrs.append(psnr_y(lr_np, bicubic, border=1))
        if jpeg is not None:
            shared = restore_from(net, lr, z, jpeg=jpeg)
            through_jpeg.append(
                psnr_y(shared[0].permute(1, 2, 0).float().cpu().numpy(), crop, border=net.scale)
            )
    net.train()
    figures = {
        "val_psnr_y": float(np.mean(round_trips)),
        "val_sample_psnr_y": float(np.mean(sampled)),
        "val_lr_psnr_y": float(np.mean(lrs)),
    }
    if jpeg is not None:
        figures[f"val_jpeg{jpeg.quality}_psnr_y"] = float(np.mean(through_jpeg))
    return figures


# ---- weights ---------------------------------------------------------------------------------------------


def load_initial_weights(net: IRN, source: Path) -> int:
    """Load weights from a checkpoint or a shipped ONNX file; returns the iterations they were trained for.

    An x2 source given to an x4 network seeds its first level (the x4 net's first level has the same shape
    as the whole x2 net) and leaves the second level at its identity initialisation.
    """
    if source.suffix == ".onnx":
        state, iterations = state_dict_from_onnx(source)
    else:
        checkpoint = torch.load(source, map_location="cpu", weights_only=False)
        state, iterations = checkpoint["net"], int(checkpoint.get("iteration", 0))
    own = net.state_dict()
    if set(state) == set(own):
        net.load_state_dict(state)
        return iterations
    if set(state) < set(own) and all(k.startswith("repair.") for k in set(own) - set(state)):
        net.load_state_dict(state, strict=False)  # a repair added to a trained net starts as the identity
        return iterations
    # x2 -> x4: keys "blocks.0.*" exist in both; the rest stays at its initialisation.
    shared = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not shared or any(not k.startswith("blocks.0.") for k in shared):
        raise ValueError(f"{source} does not hold weights for this IRN (x{net.scale})")
    net.load_state_dict(shared, strict=False)
    return 0


def load_repair_weights(net: IRN, source: Path) -> None:
    """Copy the ``JPEGRepair`` of another robust checkpoint into ``net`` (whose IRN may come from elsewhere)."""
    if net.repair is None:
        raise ValueError("--init-repair needs --repair")
    checkpoint = torch.load(source, map_location="cpu", weights_only=False)
    repair = {k.removeprefix("repair."): v for k, v in checkpoint["net"].items() if k.startswith("repair.")}
    if not repair:
        raise ValueError(f"{source} has no JPEGRepair weights")
    net.repair.load_state_dict(repair)


def save_checkpoint(
    path: Path,
    net: IRN,
    optimizer: torch.optim.Optimizer,
    iteration: int,
    config: TrainConfig,
    history: dict | None = None,
) -> None:
    """Write atomically: weights (float32, CPU), optimiser, iteration, config and training history."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    state = {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}
    torch.save(
        {
            "net": state,
            "optimizer": optimizer.state_dict(),
            "iteration": iteration,
            "scale": net.scale,
            "config": asdict(config),
            **(history or {}),
        },
        tmp,
    )
    tmp.replace(path)


# ---- the loop --------------------------------------------------------------------------------------------


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def describe_hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"GPU {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} thread(s))"


def learning_rate(config: TrainConfig, iteration: int) -> float:
    return config.lr * 0.5 ** sum(iteration >= m for m in config.lr_milestones)


def train(config: TrainConfig) -> Path:
    """Run (or continue) training until ``iterations`` or ``minutes``; returns the checkpoint path."""
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    device = pick_device(config.device)
    out = Path(config.out)
    checkpoint_path = out / "latest.pt"
    best_path = out / "best.pt"  # the checkpoint with the best decisive validation figure so far
    log_path = out / "log.jsonl"

    net = IRN(config.scale, repair=config.repair).to(device)
    iteration = 0
    prior_seconds, prior_hardware = 0.0, []
    optimizer = torch.optim.Adam(
        net.parameters(), lr=config.lr, betas=PAPER_BETAS, weight_decay=PAPER_WEIGHT_DECAY
    )
    resumed = config.resume and checkpoint_path.exists()
    if resumed:
        checkpoint = torch.load(checkpoint_path, map_location=device, weights_only=False)
        net.load_state_dict(checkpoint["net"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        iteration = int(checkpoint["iteration"])
        prior_seconds = float(checkpoint.get("train_seconds", 0.0))
        prior_hardware = list(checkpoint.get("hardware", []))
        print(f"resumed {checkpoint_path} at iteration {iteration}", flush=True)
    elif config.init:
        iteration = load_initial_weights(net, Path(config.init))
        if Path(config.init).suffix == ".pt":  # a checkpoint's training time and hardware carry over
            source = torch.load(config.init, map_location="cpu", weights_only=False)
            prior_seconds = float(source.get("train_seconds", 0.0))
            prior_hardware = list(source.get("hardware", []))
        print(f"initialised from {config.init} (iteration {iteration})", flush=True)
    if config.init_repair and not resumed:
        load_repair_weights(net, Path(config.init_repair))
        print(f"JPEGRepair from {config.init_repair}", flush=True)
    if config.channels_last:
        net = net.to(memory_format=torch.channels_last)
    forward_fn = torch.compile(net) if config.compile else None
    inverse_fn = torch.compile(net.inverse) if config.compile else None

    paths = find_training_images(Path(config.data))
    training_paths, validation_paths = split_validation(paths, config.validation_images)
    sampler = PatchSampler(training_paths, config.patch, config.seed + iteration)
    if config.robust not in ROBUSTNESS:
        raise ValueError(f"robust must be one of {ROBUSTNESS}, got {config.robust!r}")
    robust = config.robust == "jpeg"
    jpeg_rng = np.random.default_rng(config.seed + iteration + 1)
    validation_jpeg = VALIDATION_JPEG if robust else None
    decisive = f"val_jpeg{VALIDATION_JPEG.quality}_psnr_y" if robust else "val_psnr_y"
    best: dict[str, float | None] = {"figure": None}
    if config.resume and best_path.exists():
        best["figure"] = torch.load(best_path, map_location="cpu", weights_only=False).get("best")
    crops = validation_crops(validation_paths, VALIDATION_CROP, config.scale)
    print(
        f"x{config.scale} on {device}: {len(sampler.images)} training images, {len(crops)} validation; "
        f"batch {config.batch} x {config.patch}px",
        flush=True,
    )

    stop = {"now": False}

    def request_stop(*_: object) -> None:
        stop["now"] = True

    previous_handlers = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    started = time.monotonic()
    deadline = started + config.minutes * 60 if config.minutes else math.inf
    autocast_type = torch.bfloat16  # CUDA, or a CPU with AVX-512 BF16 / AMX (oneDNN)
    out.mkdir(parents=True, exist_ok=True)
    window: list[float] = []

    def history() -> dict:
        """Cumulative training time and the hardware used, carried across resumes."""
        spent = prior_seconds + time.monotonic() - started
        return {"train_seconds": spent, "hardware": sorted({*prior_hardware, describe_hardware(device)})}

    def log_validation(final: bool = False) -> None:
        entry = {
            "iteration": iteration,
            "hours": history()["train_seconds"] / 3600,
            **validate(net, crops, device, validation_jpeg),
        }
        if final:
            entry["final"] = True
        with log_path.open("a") as fh:
            fh.write(json.dumps(entry) + "\n")
        print(f"validation {entry}", flush=True)
        figure = entry[decisive]
        if best["figure"] is None or figure > best["figure"]:
            best["figure"] = figure
            save_checkpoint(best_path, net, optimizer, iteration, config, {**history(), "best": figure})

    try:
        if iteration > 0 and crops:  # where a resumed or initialised run starts: what it must beat
            log_validation()
        while iteration < config.iterations and not stop["now"] and time.monotonic() < deadline:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, iteration)
            hr = sampler.batch(config.batch).to(device, non_blocking=True)
            if config.channels_last:
                hr = hr.contiguous(memory_format=torch.channels_last)
            degrade = None
            if robust and jpeg_rng.random() >= config.clean_share:
                setting = random_setting(jpeg_rng, config.jpeg_quality, JPEG_SUBSAMPLED_SHARE)
                degrade = lambda lr, setting=setting: jpeg_round_trip(lr, setting)  # noqa: E731
            with torch.autocast(device.type, dtype=autocast_type, enabled=config.amp):
                losses = irn_losses(
                    net, hr, forward_fn, inverse_fn, config.z_std, degrade, config.forward_weight
                )
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            norm = torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
            if torch.isfinite(norm):  # a rare non-finite step is skipped rather than poisoning Adam
                optimizer.step()
            iteration += 1
            window.append(losses["total"].item())
            if iteration % 20 == 0:
                print(
                    f"it {iteration} loss {np.mean(window):.2f} (fw {losses['forward'].item():.3f} "
                    f"bw {losses['backward'].item():.2f} z {losses['distribution'].item():.2f}) "
                    f"lr {learning_rate(config, iteration):.1e} {(time.monotonic() - started) / 60:.1f} min",
                    flush=True,
                )
                window.clear()
            if iteration % config.validate_every == 0 and crops:
                log_validation()
            if iteration % config.save_every == 0:
                save_checkpoint(checkpoint_path, net, optimizer, iteration, config, history())
        save_checkpoint(checkpoint_path, net, optimizer, iteration, config, history())
        if crops:
            log_validation(final=True)
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
    return checkpoint_path


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(
        prog="python -m enhancer.train.irn_train", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--scale", type=int, choices=(2, 4), default=2)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="folder of training images (never eval/)")
    parser.add_argument("--out", default=None, help="checkpoint folder (default out/irn/x<scale>)")
    parser.add_argument("--iterations", type=int, default=500_000)
    parser.add_argument("--minutes", type=float, default=None, help="stop after this many minutes")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=144, help="HR patch side")
    parser.add_argument("--lr", type=float, default=PAPER_LR)
    parser.add_argument(
        "--lr-milestones",
        type=lambda s: tuple(int(v) for v in s.split(",") if v),
        default=PAPER_LR_MILESTONES,
        help="comma-separated iterations at which the learning rate halves",
    )
    parser.add_argument("--grad-clip", type=float, default=PAPER_GRAD_CLIP)
    parser.add_argument(
        "--z-std",
        type=float,
        default=PAPER_Z_STD,
        help="std of the z drawn for the backward loss (paper: 1; 0 trains only the z = 0 restore)",
    )
    parser.add_argument("--validation-images", type=int, default=8)
    parser.add_argument("--validate-every", type=int, default=VALIDATION_EVERY)
    parser.add_argument("--save-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast (CUDA or CPU)")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--init", default=None, help="start from a checkpoint, shipped ONNX or x2 model")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/latest.pt if present")
    parser.add_argument(
        "--robust", choices=ROBUSTNESS, default="none", help="jpeg: train to survive a JPEG re-save of the LR"
    )
    parser.add_argument(
        "--jpeg-quality",
        type=lambda s: tuple(int(v) for v in s.split(",")),
        default=JPEG_QUALITIES,
        help="lowest,highest JPEG quality drawn with --robust jpeg",
    )
    parser.add_argument(
        "--clean-share", type=float, default=CLEAN_SHARE, help="share of --robust iterations without JPEG"
    )
    parser.add_argument("--repair", action="store_true", help="add the restore-side JPEGRepair (--robust)")
    parser.add_argument(
        "--init-repair",
        default=None,
        help="start the JPEGRepair from this robust checkpoint's (a new run only)",
    )
    parser.add_argument(
        "--forward-weight", type=float, default=None, help="LR guidance weight (default: the paper's, 4 / 16)"
    )
    args = parser.parse_args(argv)
    values = vars(args)
    if values["out"] is None:
        values["out"] = f"out/irn/x{args.scale}"
    return TrainConfig(**values)


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
