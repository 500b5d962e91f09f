"""Does IRN's small file survive sharing? Shrink each HR, re-encode the 8-bit LR as a messenger or a website
would (JPEG q95/q90/q75, WebP q90), restore, and score against the HR (PSNR-Y / SSIM-Y, border = scale),
beside the PNG round trip and bicubic enlargement of the same re-encoded LR.

``python -m enhancer.bench.irn_sharing --dataset ../shared/datasets/eval/Set5 --scale 2 --json report.json``
(``--variant jpeg``: the JPEG-robust model that ``shrink --robust jpeg`` uses.)
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from enhancer.imaging.io import PILLOW_SUBSAMPLING, load_image
from enhancer.imaging.metrics import score
from enhancer.imaging.resize import imresize, mod_crop
from enhancer.methods.irn import _tile_layout, find_model, restore_pixels, session_for, shrink_pixels
from enhancer.runtime.devices import describe_machine

# (codec, quality, chroma subsampling for JPEG): 4:4:4 at q >= 90 as Enhancer's own JPEG writer does, and
# q90 also at 4:2:0, what Pillow, OpenCV, libjpeg's cjpeg and most messengers write by default.
CODECS = (
    ("PNG", None, None),
    ("JPEG", 95, "4:4:4"),
    ("JPEG", 90, "4:4:4"),
    ("JPEG", 90, "4:2:0"),
    ("JPEG", 75, "4:2:0"),
    ("WEBP", 90, None),
)


def codec_name(codec: str, quality: int | None, subsampling: str | None) -> str:
    name = codec.lower() + (f"-q{quality}" if quality else "")
    return name + ("-420" if subsampling == "4:2:0" and quality and quality >= 90 else "")


def reencode(lr8: np.ndarray, codec: str, quality: int | None, subsampling: str | None = None) -> np.ndarray:
    """The uint8 LR after a save and load in ``codec`` (PNG is lossless), as floats in [0, 1]."""
    buffer = io.BytesIO()
    options: dict[str, int] = {"quality": quality} if quality is not None else {}
    if codec == "JPEG":
        options["subsampling"] = PILLOW_SUBSAMPLING[subsampling or "4:2:0"]
    Image.fromarray(lr8).save(buffer, format=codec, **options)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32) / 255.0


def measure(
    dataset: Path, scale: int, limit: int | None = None, variant: str = "standard", engine: str = "onnx"
) -> dict:
    model = find_model(scale, variant)
    shrink_session, _ = session_for(model.shrink_path, "cpu", engine, model.int8_calibration)
    restore_session, _ = session_for(model.restore_path, "cpu", engine, model.int8_calibration)
    tile, overlap = _tile_layout(scale, 512, engine)
    files = sorted(p for p in dataset.iterdir() if p.suffix.lower() in (".png", ".bmp", ".jpg"))[:limit]
    rows = []
    started = time.perf_counter()
    for path in files:
        original = load_image(path)
        hr = np.ascontiguousarray(mod_crop(original.pixels, scale))
        lr = shrink_pixels(hr, shrink_session, scale, tile=tile, overlap=overlap)
        lr8 = (np.clip(lr, 0, 1) * 255 + 0.5).astype(np.uint8)
        row = {"image": path.stem}
        for codec, quality, subsampling in CODECS:
            name = codec_name(codec, quality, subsampling)
            shared = reencode(lr8, codec, quality, subsampling)
            # as restore does: the repair (JPEG-robust models) only for a re-encoded file
            repair = (codec != "PNG") if model.repair else None
            restored = restore_pixels(
                shared, restore_session, scale, repair=repair, tile=tile, overlap=overlap
            )
            enlarged = np.clip(imresize(shared, scale=scale), 0, 1)
            row[name] = {
                "irn": score(np.clip(restored, 0, 1), hr, scale, original.grey)._asdict(),
                "bicubic": score(enlarged, hr, scale, original.grey)._asdict(),
            }
        rows.append(row)
        print(
            json.dumps(
                {
                    "image": row["image"],
                    **{k: round(v["irn"]["psnr"], 2) for k, v in row.items() if k != "image"},
                }
            ),
            flush=True,
        )
    names = [k for k in rows[0] if k != "image"] if rows else []
    mean = {
        name: {
            method: {m: float(np.mean([r[name][method][m] for r in rows])) for m in ("psnr", "ssim")}
            for method in ("irn", "bicubic")
        }
        for name in names
    }
    return {
        "dataset": str(dataset),
        "scale": scale,
        "variant": variant,
        "engine": engine,
        "model_sha256": model.weights_sha256,
        "images": len(rows),
        "machine": describe_machine(),
        "seconds": round(time.perf_counter() - started, 1),
        "mean": mean,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--scale", type=int, choices=(2, 4), required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--variant", choices=("standard", "jpeg"), default="standard")
    parser.add_argument("--engine", choices=("onnx", "bf16", "int8"), default="onnx")
    args = parser.parse_args(argv)
    report = measure(args.dataset, args.scale, args.limit, args.variant, args.engine)
    for name, methods in report["mean"].items():
        irn, bicubic = methods["irn"], methods["bicubic"]
        print(
            f"{name:10s} IRN {irn['psnr']:.2f} dB / {irn['ssim']:.4f}   bicubic {bicubic['psnr']:.2f} dB / {bicubic['ssim']:.4f}"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
