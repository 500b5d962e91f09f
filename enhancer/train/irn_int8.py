"""Calibrate a shipped IRN model for the int8 engine: the scales of its dense blocks' features, per direction.

Runs the model in float32 on a few training images (centre crops of ``train/BSDS500/train``, the first by
name; never ``eval/``), shrinking and then restoring the 8-bit LR as the app does, and keeps the largest
|value| of each dense block's input and hidden outputs (``enhancer.nets.irn.int8_calibration``). Writes
``models/irn_x{s}[_jpeg].int8.json`` (with the sha256 of the weights it was measured on, so a re-exported
model is never run with another model's scales) and names it in both manifest entries.

    python -m enhancer.train.irn_int8 --scale 4            # the current standard and JPEG-robust x4 models
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from enhancer.nets.irn import int8_calibration, irn_from_state, state_dict_from_onnx
from enhancer.train.irn_export import (
    MODELS_DIR,
    VARIANTS,
    _current_entries,
    calibration_file,
    read_manifest,
    update_manifest,
)
from enhancer.train.irn_train import DEFAULT_DATA

CALIBRATION_FOLDER = "BSDS500/train"
CALIBRATION_IMAGES = 8
CALIBRATION_CROP = 192  # HR pixels; 8 crops of 192 px gave scales that hold Set5 x4 within 0.01 dB


def calibration_images(
    folder: Path, scale: int, count: int = CALIBRATION_IMAGES, crop: int = CALIBRATION_CROP
) -> list[torch.Tensor]:
    """Centre crops (1 x 3 x crop x crop in [0, 1]) of the first ``count`` images of ``folder`` by name."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"))
    if len(paths) < count:
        raise ValueError(f"{folder} has {len(paths)} images; calibration needs {count}")
    side = crop - crop % scale
    crops = []
    for path in paths[:count]:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
        h, w = pixels.shape[:2]
        if min(h, w) < side:
            raise ValueError(f"{path} is smaller than the {side} px calibration crop")
        top, left = (h - side) // 2, (w - side) // 2
        patch = pixels[top : top + side, left : left + side].transpose(2, 0, 1)
        crops.append(torch.from_numpy(np.ascontiguousarray(patch))[None])
    return crops


def calibrate(models_dir: Path, scale: int, variant: str, data: Path) -> Path:
    """Calibrate the current (scale, variant) model in ``models_dir``; returns the file written."""
    entries = _current_entries(read_manifest(models_dir), scale, variant)
    if not entries:
        raise ValueError(f"no current IRN x{scale} {variant} model in {models_dir}")
    restore_entry = next(e for e in entries if e["direction"] == "restore")
    net = irn_from_state(state_dict_from_onnx(models_dir / restore_entry["file"])[0])
    folder = data / CALIBRATION_FOLDER
    scales = int8_calibration(net.eval(), calibration_images(folder, scale))
    facts: dict[str, Any] = {
        "weights_sha256": restore_entry["external_data_sha256"],
        "calibration": {
            "images": f"{CALIBRATION_FOLDER}, first {CALIBRATION_IMAGES} by name",
            "crop": CALIBRATION_CROP,
        },
        **scales,
    }
    path = models_dir / calibration_file(restore_entry["external_data"])
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(facts, indent=1) + "\n")
    tmp.replace(path)
    for entry in entries:
        entry["int8_calibration"] = path.name
    update_manifest(models_dir, entries)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m enhancer.train.irn_int8", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--scale", type=int, choices=(2, 4), action="append", required=True)
    parser.add_argument(
        "--variant", choices=VARIANTS, action="append", help="default: every variant installed"
    )
    parser.add_argument("--models", type=Path, default=MODELS_DIR)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the training images (train/)")
    args = parser.parse_args(argv)
    manifest = read_manifest(args.models)
    for scale in args.scale:
        for variant in args.variant or VARIANTS:
            if not args.variant and not _current_entries(manifest, scale, variant):
                continue
            print(f"x{scale} {variant}: {calibrate(args.models, scale, variant, args.data).name}")


if __name__ == "__main__":
    main()
