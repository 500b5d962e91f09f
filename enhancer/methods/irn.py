"""IRN: shrink an image for sharing and restore it later (invertible rescaling, REFERENCE.md §2).

``shrink`` runs the trained forward graph: the HR image becomes an 8-bit LR image (the shipped models/ ONNX
files, onnxruntime, CUDA when there is a GPU) carrying a marker (scale, model sha256, original size) in a PNG
text chunk (``MARKER_KEY``) and in its XMP packet, which editors and converters carry over into a JPEG.
``restore`` runs the exact inverse on that LR with z = 0 or z ~ N(0, I), with the model the marker names.
IRN only inverts its own downscaling, so restoring an image without the marker is refused unless ``force``.

Each scale has a standard model (best when the small file stays lossless) and may have a JPEG-robust one
(``survive_jpeg``; trained with a JPEG re-save between shrink and restore) for files that a messenger or
website will re-encode.

Both directions run tile by tile (``enhancer.imaging.tiling.run_tiled``) with progress and cancel between
tiles. Sides that are not multiples of the scale are padded by mirroring before shrinking and the restore
crops back to the size in the marker.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from enhancer.imaging.colour import rgb_to_y
from enhancer.imaging.image import ImageData
from enhancer.imaging.io import uint8_samples
from enhancer.imaging.resize import imresize
from enhancer.imaging.tiling import run_tiled
from enhancer.imaging.xmp import read_property, with_property, without_property
from enhancer.methods.registry import Method, MethodResult, RunContext, option, register
from enhancer.runtime.devices import (
    TORCH_BFLOAT16,
    TORCH_INT8,
    cpu_has_native_bfloat16,
    cuda_available,
    onnx_providers,
    onnx_session,
    provider_in_words,
    use_all_cores,
)

MARKER_KEY = "enhancer-irn"
# The same marker in XMP: a property of our own namespace.
XMP_NAMESPACE = "urn:enhancer:irn:1"
XMP_PREFIX = "enhancer"
XMP_PROPERTY = "irn"
VARIANTS = ("standard", "jpeg")  # jpeg: trained to survive a JPEG re-save of the small file
IRN_SCALES = (2, 4)
MODELS_ENV = "ENHANCER_MODELS_DIR"  # lets an installed copy find models/ elsewhere
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
MANIFEST_NAME = "manifest.json"
# Tiles, in LR pixels (x4's are smaller: its first level runs at twice the LR size), and the context each
# borrows from its neighbours. IRN's receptive field spans hundreds of pixels but decays fast: on Kodak photos
# 8 px of context keep the tiled round trip within 0.0002 dB of the untiled one (24 px: 0.0001) at both
# scales, the feather band hiding seams of at most 3/255. At x4, where each LR pixel costs 16 output
# pixels' work, 4 px hold it too (Kodak, 64 px tiles: within 0.0002 dB, seams at most 2.5/255; 2 px:
# 6.1/255) with 8 % less work on 192 px tiles.
TILE_LR = {2: 512, 4: 320}
# The torch engines (bf16, int8) are fastest on tiles that stay in cache: 4.1-4.8 s per output MP for x4
# tiles of 64-192 px against 7.2 s at 512 (bf16, this AMD EPYC), so their tiles are small.
TILE_LR_TORCH = {2: 384, 4: 192}
OVERLAP_LR = {2: 8, 4: 4}
Z_MODES = ("zero", "sample")
ENGINES = ("auto", "onnx", "bf16", "int8")
TORCH_ENGINES = ("bf16", "int8")
# What each engine computes in (reported with a result).
PRECISION = {"onnx": "float32", "bf16": "bfloat16", "int8": "int8 and bfloat16"}
# Where ``auto`` picks bf16 on such a CPU: the round trip holds (Set5 x4 32.103 vs 32.105 dB for float32 with the
# x4 model before the 2026-12-04 campaign); at x2 bfloat16 costs 0.043 dB (40.256 vs 40.299), so x2 stays
# float32 unless asked. There the int8 engine, where the model is calibrated for it, holds the round trip as
# bfloat16 does (Set5 x4 34.153 vs bf16's 34.153, float32 34.169) and is faster again.
BFLOAT16_AUTO_SCALES = (4,)

NOT_SHRUNK_MESSAGE = (
    "this image was not made by Enhancer's IRN shrink (it has no IRN marker). IRN restores only images it "
    "shrank itself; on any other small image it is no better than ordinary upscaling. Use an upscale method, "
    "or pass --force (with --scale) to restore it anyway"
)


@dataclass(frozen=True)
class IRNOptions:
    """Options of IRN: the engine for both directions, the rest for restore."""

    z: str = option(
        "zero",
        "restore: the detail IRN dropped when shrinking: zero (its mean, repeatable) or sample (a random "
        "draw, repeatable with --seed)",
        choices=Z_MODES,
        label="Lost detail",
        advanced=True,
    )
    force: bool = option(
        False,
        "restore: also restore an image without IRN's marker (scale from --scale)",
        label="Restore any image",
        advanced=True,
    )
    engine: str = option(
        "auto",
        "how to compute: auto (int8, or bf16 for a model not calibrated for int8, for x4 on a CPU that "
        "computes bfloat16 natively: two to three times as fast for the same quality; onnx otherwise and on a "
        "GPU), onnx (onnxruntime, float32), bf16 (torch, bfloat16 sub-networks; at x2 0.04 dB below float32) "
        "or int8 (torch, int8 and bfloat16 sub-networks)",
        choices=ENGINES,
        label="Engine",
        advanced=True,
    )
    survive_jpeg: bool = option(
        False,
        "shrink: use the model trained to survive a JPEG re-save (for sharing through a messenger or website, "
        "which re-encode photos; worse if the file stays lossless: about 1.3 dB at x2, 0.8 dB at x4). "
        "restore: the model for a file without its marker (with force); a marked file names its own model",
        label="Survive JPEG",
    )


@dataclass(frozen=True)
class IRNMarker:
    """What a shrunk LR file says about itself (a small JSON in the PNG text chunk ``MARKER_KEY``)."""

    scale: int
    model_sha256: str
    width: int
    height: int
    grey: bool = False
    variant: str = "standard"
    # What binds the marker to the pixels it was written for (absent in markers of older versions): the
    # sha256 of the 8-bit LR samples, and a fingerprint that survives re-encoding (a small thumbnail of Y).
    lr_sha256: str | None = None
    fingerprint: str | None = None

    @property
    def lr_size(self) -> tuple[int, int]:
        """(width, height) of the LR that shrink wrote: the HR padded to multiples of the scale, divided."""
        return -(-self.width // self.scale), -(-self.height // self.scale)

    def to_text(self) -> str:
        values: dict[str, Any] = {
            "scale": self.scale,
            "model_sha256": self.model_sha256,
            "width": self.width,
            "height": self.height,
        }
        if self.grey:
            values["grey"] = True
        if self.variant != "standard":
            values["variant"] = self.variant
        if self.lr_sha256 is not None:
            values["lr_sha256"] = self.lr_sha256
        if self.fingerprint is not None:
            values["fingerprint"] = self.fingerprint
        return json.dumps(values, separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str) -> IRNMarker:
        try:
            values = json.loads(text)
            marker = cls(
                scale=int(values["scale"]),
                model_sha256=str(values["model_sha256"]),
                width=int(values["width"]),
                height=int(values["height"]),
                grey=bool(values.get("grey", False)),
                variant=str(values.get("variant", "standard")),
                lr_sha256=_optional_text(values.get("lr_sha256")),
                fingerprint=_optional_text(values.get("fingerprint")),
            )
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as error:
            raise ValueError(f"the IRN marker is damaged ({error}): {text[:80]!r}") from None
        if (
            marker.scale not in IRN_SCALES
            or marker.width < 1
            or marker.height < 1
            or marker.variant not in VARIANTS
        ):
            raise ValueError(f"the IRN marker holds impossible values: {text[:80]!r}")
        return marker


def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


FINGERPRINT_SIDE = 16  # the fingerprint: block means of the LR's Y on a 16 x 16 grid, 8-bit
DIFFERENT_PICTURE_DB = 30.0  # a fingerprint further than this from the marker's: not the picture shrunk
NOT_THE_PICTURE = "this is not the picture IRN shrank"


def lr_digest(pixels: np.ndarray) -> str:
    """sha256 of the 8-bit RGB samples of an LR (what an 8-bit PNG of it holds)."""
    samples = np.ascontiguousarray(uint8_samples(pixels))
    return hashlib.sha256(f"{samples.shape}".encode() + samples.tobytes()).hexdigest()


def lr_fingerprint(pixels: np.ndarray) -> np.ndarray:
    """A FINGERPRINT_SIDE² thumbnail of the LR's Y (block means): nearly unchanged by JPEG or WebP re-encoding."""
    from PIL import Image

    y = rgb_to_y(np.clip(pixels, 0.0, 1.0)).astype(np.float32)
    thumb = Image.fromarray(y, mode="F").resize((FINGERPRINT_SIDE, FINGERPRINT_SIDE), Image.Resampling.BOX)
    return np.clip(np.rint(np.asarray(thumb)), 0, 255).astype(np.uint8)


def encode_fingerprint(thumb: np.ndarray) -> str:
    return base64.b64encode(thumb.tobytes()).decode("ascii")


def decode_fingerprint(text: str) -> np.ndarray:
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if len(raw) != FINGERPRINT_SIDE * FINGERPRINT_SIDE:
        raise ValueError("the IRN marker's fingerprint has the wrong length")
    return np.frombuffer(raw, dtype=np.uint8).reshape(FINGERPRINT_SIDE, FINGERPRINT_SIDE)


@dataclass(frozen=True)
class LRCheck:
    """How an LR compares with its marker: ``untouched`` (the very pixels shrink wrote), ``unverified`` (a
    marker without a digest), ``re-encoded`` (changed, thumbnail still matching) or ``different`` (another
    picture); ``message`` says it to the user for the last two."""

    state: Literal["untouched", "unverified", "re-encoded", "different"]
    message: str | None = None


def check_lr_against_marker(pixels: np.ndarray, marker: IRNMarker) -> LRCheck:
    """Refuse an LR whose size is not the one shrink wrote; else say whether its pixels changed, and how."""
    height, width = pixels.shape[:2]
    if (width, height) != marker.lr_size:
        w, h = marker.lr_size
        raise ValueError(
            f"this image is {width}×{height}, but IRN shrank it to {w}×{h}: it was resized after shrinking "
            "and cannot be restored (restore the small file that shrink wrote)"
        )
    if marker.lr_sha256 is None:
        return LRCheck("unverified")
    if lr_digest(pixels) == marker.lr_sha256:
        return LRCheck("untouched")
    if marker.fingerprint is None:
        return LRCheck(
            "re-encoded",
            "the pixels changed after shrinking (e.g. re-saved as JPEG): the restored photo will be worse",
        )
    expected = decode_fingerprint(marker.fingerprint).astype(np.float64)
    mse = float(np.mean((lr_fingerprint(pixels).astype(np.float64) - expected) ** 2))
    db = math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
    if db < DIFFERENT_PICTURE_DB:
        return LRCheck(
            "different",
            f"{NOT_THE_PICTURE} (its thumbnail differs from the marker's: {db:.1f} dB): "
            "the result is not a restoration of anything",
        )
    return LRCheck(
        "re-encoded",
        "the pixels changed after shrinking (re-encoded, e.g. as JPEG; the thumbnail still matches at "
        f"{'∞' if math.isinf(db) else f'{db:.1f}'} dB): IRN cannot undo that, so the restored photo will be "
        "worse than the round trip promises, possibly worse than plain bicubic",
    )


def read_marker(image: ImageData) -> IRNMarker | None:
    """The image's IRN marker (PNG text chunk, else XMP), or None when it has none."""
    text = image.text.get(MARKER_KEY) or read_property(image.xmp, XMP_NAMESPACE, XMP_PROPERTY)
    return None if text is None else IRNMarker.from_text(text)


def has_marker(image: ImageData) -> bool:
    """Whether the image carries IRN's marker (not whether it is intact: restore checks that)."""
    return (
        bool(image.text.get(MARKER_KEY)) or read_property(image.xmp, XMP_NAMESPACE, XMP_PROPERTY) is not None
    )


def read_marker_from_file(path: Path | str) -> IRNMarker | None:
    """The IRN marker of a PNG, JPEG or WebP file without decoding its pixels (None when absent)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            text = im.info.get(MARKER_KEY)
            xmp = im.info.get("xmp")
    except (OSError, ValueError):
        return None
    if not isinstance(text, str):
        text = read_property(xmp.encode() if isinstance(xmp, str) else xmp, XMP_NAMESPACE, XMP_PROPERTY)
    return IRNMarker.from_text(text) if isinstance(text, str) else None


def marked_metadata(image: ImageData, marker: IRNMarker) -> tuple[dict[str, str], bytes | None]:
    """The text chunks and XMP of a shrunk file: the input's, plus the marker in both."""
    text = marker.to_text()
    xmp = with_property(image.xmp, XMP_NAMESPACE, XMP_PREFIX, XMP_PROPERTY, text)
    return {**image.text, MARKER_KEY: text}, xmp if xmp is not None else image.xmp


def unmarked_metadata(image: ImageData) -> tuple[dict[str, str], bytes | None]:
    """The text chunks and XMP of a restored file: the shrunk file's, less the marker."""
    text = {k: v for k, v in image.text.items() if k != MARKER_KEY}
    return text, without_property(image.xmp, XMP_NAMESPACE, XMP_PREFIX, XMP_PROPERTY)


# ---- models ----------------------------------------------------------------------------------------------


def models_dir() -> Path:
    return Path(os.environ.get(MODELS_ENV) or DEFAULT_MODELS_DIR)


@dataclass(frozen=True)
class IRNModel:
    """A shipped model: its two graphs and the sha256 of the weights they share (the marker's model id).

    ``superseded`` models are kept only to restore files that they shrank; shrink uses the current one.
    """

    scale: int
    shrink_path: Path
    restore_path: Path
    weights_sha256: str
    samples_z: bool = True  # False: trained for z = 0 only, so a sampled z would restore noise
    variant: str = "standard"
    superseded: bool = False
    repair: bool = False  # its restore graph takes a ``repair`` input (JPEGRepair for a re-encoded LR)
    int8_calibration: Path | None = None  # the int8 engine's scales (``enhancer.train.irn_int8``), if any


def installed_models() -> list[IRNModel]:
    """Every IRN model in ``models/manifest.json`` (both graphs of a model share one weights sha256)."""
    folder = models_dir()
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.exists():
        raise ValueError(f"no IRN models: {manifest_path} is missing")
    grouped: dict[str, dict[str, Any]] = {}
    for entry in json.loads(manifest_path.read_text())["models"]:
        if entry.get("method") != "irn":
            continue
        facts = grouped.setdefault(entry["external_data_sha256"], {"paths": {}, "entry": entry})
        facts["paths"][entry["direction"]] = folder / entry["file"]
    models = []
    for sha, facts in grouped.items():
        entry, paths = facts["entry"], facts["paths"]
        if set(paths) != {"shrink", "restore"}:
            continue
        z_std = float(entry.get("training", {}).get("recipe", {}).get("z_std", 1.0))
        models.append(
            IRNModel(
                int(entry["scale"]),
                paths["shrink"],
                paths["restore"],
                sha,
                samples_z=z_std > 0,
                variant=str(entry.get("variant", "standard")),
                superseded=bool(entry.get("superseded", False)),
                repair=bool(entry.get("repair", False)),
                int8_calibration=_calibration_for(folder, entry),
            )
        )
    return models


def _checked(model: IRNModel) -> IRNModel:
    for path in (model.shrink_path, model.restore_path):
        if not path.exists():
            raise ValueError(f"IRN model file {path} is missing")
    return model


def find_model(scale: int, variant: str = "standard") -> IRNModel:
    """The current IRN model for ``scale`` and ``variant``; raises ``ValueError`` if there is none."""
    if variant not in VARIANTS:
        raise ValueError(f"IRN variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    current = [model for model in installed_models() if model.variant == variant and not model.superseded]
    for model in current:
        if model.scale == scale:
            return _checked(model)
    kind = "JPEG-robust " if variant == "jpeg" else ""
    others = sorted(f"x{model.scale}" for model in current)
    there = f": there is one for {', '.join(others)}" if others else f" (models/{MANIFEST_NAME})"
    raise ValueError(f"no {kind}IRN x{scale} model is installed{there}")


def model_for_marker(marker: IRNMarker) -> IRNModel | None:
    """The installed model that shrank a marked file (current or superseded), or None."""
    for model in installed_models():
        if model.weights_sha256 == marker.model_sha256 and model.scale == marker.scale:
            return _checked(model)
    return None


_SESSION_LOCK = threading.Lock()


@cache
def _cached_session(path: str, device: str) -> tuple[Any, str]:
    return onnx_session(path, device)


def device_info(provider: str, device: str) -> dict[str, str]:
    """The result's device entries: in words, the provider's name, and why ``auto`` fell back to the CPU."""
    info = {"device": provider_in_words(provider), "provider": provider}
    fallback = onnx_providers(device).fallback
    if fallback and provider == "CPUExecutionProvider":
        info["device_note"] = fallback
    return info


def session_for(
    path: Path, device: str, engine: str = "onnx", calibration: Path | None = None
) -> tuple[Any, str]:
    """A cached session for a graph (``run(None, feeds)`` as onnxruntime's) and the provider it runs on:
    onnxruntime's, or for the torch engines (``bf16``, ``int8``; int8 needs the model's ``calibration``) the
    network rebuilt from the graph's weights."""
    with _SESSION_LOCK:
        if engine == "bf16":
            return _cached_torch_graph(str(path), "bf16", None), TORCH_BFLOAT16
        if engine == "int8":
            if calibration is None:
                raise ValueError(
                    "this IRN model has no int8 calibration (python -m enhancer.train.irn_int8); use the bf16 "
                    "or onnx engine"
                )
            return _cached_torch_graph(str(path), "int8", str(calibration)), TORCH_INT8
        return _cached_session(str(path), device)


def choose_engine(engine: str, device: str, scale: int, int8_ready: bool = False) -> str:
    """``auto`` -> a torch engine for a CPU job at a scale where it holds the round trip's quality
    (``BFLOAT16_AUTO_SCALES``) on a CPU that computes bfloat16 natively: ``int8`` for a model calibrated for
    it (``int8_ready``), else ``bf16``; ``onnx`` everywhere else."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine in TORCH_ENGINES and device == "cuda":
        raise ValueError(
            f"the {engine} engine runs on the CPU; use --device cpu or the onnx engine for the GPU"
        )
    if engine != "auto":
        return engine
    on_gpu = device == "cuda" or (
        device == "auto" and cuda_available() and onnx_providers("auto").fallback is None
    )
    if scale not in BFLOAT16_AUTO_SCALES or on_gpu or not cpu_has_native_bfloat16():
        return "onnx"
    return "int8" if int8_ready and int8_engine_available() else "bf16"


def int8_engine_available() -> bool:
    """True when this PyTorch has the int8 engine's convolutions (imported only when asked: torch is large)."""
    from enhancer.nets.irn import onednn_int8_available

    return onednn_int8_available()


class TorchGraph:
    """One direction of IRN in torch on the CPU, called like an onnxruntime session: the dense sub-networks in
    bfloat16 (``engine="bf16"``) or int8 (``"int8"``, from the model's calibration), the couplings in float32.

    Rebuilt from the shipped graph's own weights, so it is the same model; its outputs differ from float32's
    by the rounding inside the sub-networks (round trips within 0.02 dB at x4: docs/BENCHMARKS.md).
    """

    def __init__(self, path: Path, engine: str, calibration: Path | None = None) -> None:
        import torch

        from enhancer.nets.irn import bfloat16_inference, int8_inference, irn_from_state, state_dict_from_onnx

        net = irn_from_state(state_dict_from_onnx(path)[0])
        if engine == "int8":
            if calibration is None:
                raise ValueError("the int8 engine needs the model's calibration")
            direction = "shrink" if path.name.endswith("_down.onnx") else "restore"
            self.net = int8_inference(net, _read_int8_scales(calibration, direction))
        else:
            self.net = bfloat16_inference(net)
        self._torch = torch
        use_all_cores()

    def run(self, _outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        with torch.inference_mode():
            if "hr" in feeds:
                out = self.net(torch.from_numpy(feeds["hr"]))[:, :3]
            else:
                repair = bool(feeds["repair"][0]) if "repair" in feeds else False
                lr, z = torch.from_numpy(feeds["lr"]), torch.from_numpy(feeds["z"])
                out = self.net.restore(lr, z, repair=repair)
        return [out.numpy()]


def _calibration_for(folder: Path, entry: dict[str, Any]) -> Path | None:
    """The int8 calibration file of a manifest entry, if it has one made for its weights (a re-exported
    model is never run with the previous weights' scales)."""
    name = entry.get("int8_calibration")
    path = folder / name if name else None
    if path is None or not path.is_file():
        return None
    try:
        made_for = json.loads(path.read_text()).get("weights_sha256")
    except (OSError, ValueError):
        return None
    return path if made_for == entry["external_data_sha256"] else None


def _read_int8_scales(path: Path, direction: str) -> dict[str, list[float]]:
    """One direction's int8 scales from a calibration file (``enhancer.train.irn_int8``)."""
    return json.loads(path.read_text())[direction]


@cache
def _cached_torch_graph(path: str, engine: str, calibration: str | None) -> TorchGraph:
    return TorchGraph(Path(path), engine, Path(calibration) if calibration else None)


# ---- shrink ----------------------------------------------------------------------------------------------


def _pad_to_multiple(pixels: np.ndarray, scale: int) -> np.ndarray:
    """Mirror the bottom/right edges so both sides are multiples of ``scale``."""
    h, w = pixels.shape[:2]
    pad = ((0, -h % scale), (0, -w % scale)) + ((0, 0),) * (pixels.ndim - 2)
    return np.pad(pixels, pad, mode="symmetric") if any(p[1] for p in pad[:2]) else pixels


def space_to_depth(pixels: np.ndarray, scale: int) -> np.ndarray:
    """H x W x C (sides multiples of scale) -> H/s x W/s x (s*s*C): each LR cell holds its s x s HR block."""
    h, w, c = pixels.shape
    blocks = pixels.reshape(h // scale, scale, w // scale, scale, c).transpose(0, 2, 1, 3, 4)
    return blocks.reshape(h // scale, w // scale, scale * scale * c)


def depth_to_space(cells: np.ndarray, scale: int) -> np.ndarray:
    """Inverse of ``space_to_depth``."""
    h, w, depth = cells.shape
    c = depth // (scale * scale)
    blocks = cells.reshape(h, w, scale, scale, c).transpose(0, 2, 1, 3, 4)
    return blocks.reshape(h * scale, w * scale, c)


def _nchw(pixels: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None], dtype=np.float32)


def _hwc(tensor: np.ndarray) -> np.ndarray:
    return tensor[0].transpose(1, 2, 0)


def shrink_pixels(
    pixels: np.ndarray, session: Any, scale: int, *, tile: int, overlap: int, progress=None
) -> np.ndarray:
    """The float LR (not yet rounded) of H x W x 3 pixels whose sides are multiples of ``scale``.

    Tiles are laid out on the LR grid: the HR image is viewed as LR cells of s x s pixels, so ``run_tiled``
    (which assumes an output at least as large as its input) cuts it along cell boundaries.
    """

    def shrink_tile(cells: np.ndarray) -> np.ndarray:
        hr = depth_to_space(cells, scale)
        return _hwc(session.run(None, {"hr": _nchw(hr)})[0])

    cells = space_to_depth(pixels, scale)
    return run_tiled(cells, shrink_tile, scale=1, tile=tile, overlap=overlap, progress=progress)


def shrink_with_irn(
    image: ImageData, scale: int, context: RunContext, options: IRNOptions | None = None
) -> MethodResult:
    """Shrink by ``scale`` with IRN's forward graph into an 8-bit LR carrying the IRN marker."""
    options = options or IRNOptions()
    model = find_model(scale, "jpeg" if options.survive_jpeg else "standard")
    engine = choose_engine(options.engine, context.device, scale, model.int8_calibration is not None)
    session, provider = session_for(model.shrink_path, context.device, engine, model.int8_calibration)
    progress = context.progress
    progress.report(0.0, "shrink", f"{image.width}×{image.height} ÷{scale} on {provider_in_words(provider)}")
    hr = _pad_to_multiple(image.pixels, scale)
    tile, overlap = _tile_layout(scale, context.tile_size, engine)
    lr = shrink_pixels(
        hr,
        session,
        scale,
        tile=tile,
        overlap=overlap,
        progress=lambda f: progress.report(0.95 * f, "shrink", "tiles"),
    )
    lr = np.clip(lr, 0.0, 1.0)
    alpha = None
    if image.alpha is not None:
        alpha = np.clip(imresize(_pad_to_multiple(image.alpha, scale), scale=1 / scale), 0.0, 1.0)
    marker = IRNMarker(
        scale,
        model.weights_sha256,
        image.width,
        image.height,
        grey=image.grey,
        variant=model.variant,
        lr_sha256=lr_digest(lr),
        fingerprint=encode_fingerprint(lr_fingerprint(lr)),
    )
    text, xmp = marked_metadata(image, marker)
    # The LR must stay colour (a grey file would average away what IRN hid in the channels) and 8-bit.
    out = ImageData(
        pixels=lr.astype(np.float32),
        alpha=alpha,
        grey=False,
        bit_depth=8,
        icc_profile=image.icc_profile,
        exif=image.exif,
        text=text,
        xmp=xmp,
        source=image.source,
    )
    info = {
        **device_info(provider, context.device),
        "action": "shrink",
        "engine": engine,
        "precision": PRECISION[engine],
        "model": "JPEG-robust" if model.variant == "jpeg" else "standard",
    }
    if image.bit_depth == 16:
        info["notice"] = (
            "IRN's small file is 8-bit: restoring it gives 8 bits of precision, not the original 16"
        )
    return MethodResult(out, info=info)


# ---- restore ---------------------------------------------------------------------------------------------


def restore_pixels(
    lr: np.ndarray,
    session: Any,
    scale: int,
    *,
    z_mode: str = "zero",
    seed: int | None = None,
    repair: bool | None = None,
    tile: int,
    overlap: int,
    progress=None,
) -> np.ndarray:
    """The restored HR (h*s x w*s x 3 floats) of an LR image, z drawn once for the whole image.

    ``repair`` is for a graph with a repair input: True for a re-encoded LR, False for the exact inverse.
    """
    extra = {} if repair is None else {"repair": np.array([1.0 if repair else 0.0], dtype=np.float32)}
    z_count = 3 * scale * scale - 3
    lr = np.ascontiguousarray(lr, dtype=np.float32)
    if z_mode == "sample":
        z = np.random.default_rng(seed).standard_normal((*lr.shape[:2], z_count), dtype=np.float32)
        source = np.concatenate([lr, z], axis=2)
    elif z_mode == "zero":
        source = lr
    else:
        raise ValueError(f"z must be one of {', '.join(Z_MODES)}, got {z_mode!r}")

    def restore_tile(part: np.ndarray) -> np.ndarray:
        if z_mode == "zero":
            z_tile = np.zeros((1, z_count, *part.shape[:2]), dtype=np.float32)
        else:
            z_tile = _nchw(part[..., 3:])
        return _hwc(session.run(None, {"lr": _nchw(part[..., :3]), "z": z_tile, **extra})[0])

    return run_tiled(source, restore_tile, scale=scale, tile=tile, overlap=overlap, progress=progress)


def restore_with_irn(image: ImageData, scale: int, options: IRNOptions, context: RunContext) -> MethodResult:
    """Restore an LR made by ``shrink_with_irn`` (or, with ``force``, any image) by the exact inverse."""
    marker = read_marker(image)
    notes: dict[str, str] = {}
    untouched = False  # the very pixels shrink wrote: the exact inverse, never a repair
    if marker is None:
        if not options.force:
            raise ValueError(NOT_SHRUNK_MESSAGE)
        notes["warning"] = "no IRN marker: restored anyway (--force)"
    elif marker.scale != scale:
        raise ValueError(
            f"this image was shrunk at x{marker.scale}; restore it at x{marker.scale}, not x{scale}"
        )
    else:
        check = check_lr_against_marker(image.pixels, marker)
        untouched = check.state == "untouched"
        if check.state == "different":
            notes["warning"] = check.message
        elif check.state == "re-encoded" and marker.variant == "jpeg":
            notes["notice"] = (
                "re-encoded after shrinking (e.g. as JPEG by a messenger): this small file was made by the "
                "JPEG-robust model, which was trained for that"
            )
        elif check.state == "re-encoded":
            notes["warning"] = (
                f"{check.message}. For files you will share, shrink with Survive JPEG (--robust jpeg)"
            )
    model = model_for_marker(marker) if marker is not None else None
    if model is None:
        variant = marker.variant if marker is not None else ("jpeg" if options.survive_jpeg else "standard")
        model = find_model(scale, variant)
        if marker is not None:
            other = (
                "shrunk by an IRN model that is not installed (another version of Enhancer?): restored with "
                "the installed one; quality may suffer"
            )
            notes["warning"] = f"{notes['warning']}; {other}" if "warning" in notes else other
    if options.z == "sample" and not model.samples_z:
        raise ValueError(
            f"the installed IRN x{scale} model was trained to restore with z = 0 only (a short CPU training); "
            "a sampled z would give noise. Use --z zero"
        )
    engine = choose_engine(options.engine, context.device, scale, model.int8_calibration is not None)
    session, provider = session_for(model.restore_path, context.device, engine, model.int8_calibration)
    progress = context.progress
    progress.report(0.0, "restore", f"{image.width}×{image.height} ×{scale} on {provider_in_words(provider)}")
    tile, overlap = _tile_layout(scale, context.tile_size, engine)
    hr = restore_pixels(
        image.pixels,
        session,
        scale,
        z_mode=options.z,
        seed=context.seed,
        repair=not untouched if model.repair else None,
        tile=tile,
        overlap=overlap,
        progress=lambda f: progress.report(0.95 * f, "restore", "tiles"),
    )
    if marker is not None:
        hr = hr[: marker.height, : marker.width]
    np.clip(hr, 0.0, 1.0, out=hr)
    alpha = None
    if image.alpha is not None:
        alpha = np.clip(imresize(image.alpha, scale=scale), 0.0, 1.0)[: hr.shape[0], : hr.shape[1]]
    text, xmp = unmarked_metadata(image)
    out = ImageData(
        pixels=hr,
        alpha=alpha,
        grey=marker.grey if marker is not None else image.grey,
        bit_depth=8,
        icc_profile=image.icc_profile,
        exif=image.exif,
        text=text,
        xmp=xmp,
        source=image.source,
    )
    return MethodResult(
        out,
        info={
            "device": provider_in_words(provider),
            "provider": provider,
            "action": "restore",
            "z": options.z,
            "engine": engine,
            "precision": PRECISION[engine],
            "model": "JPEG-robust" if model.variant == "jpeg" else "standard",
            **({"jpeg_repair": "off" if untouched else "on"} if model.repair else {}),
            **notes,
        },
    )


def _tile_layout(scale: int, tile_size: int, engine: str = "onnx") -> tuple[int, int]:
    """(tile, overlap) in LR pixels: the engine's memory-safe tile, smaller if the job asks for less."""
    overlap = OVERLAP_LR[scale]
    largest = TILE_LR_TORCH[scale] if engine in TORCH_ENGINES else TILE_LR[scale]
    tile = min(largest, max(tile_size, 4 * overlap))
    return tile, overlap


def run_irn(image: ImageData, scale: int, options: IRNOptions, context: RunContext) -> MethodResult:
    if context.action == "shrink":
        return shrink_with_irn(image, scale, context, options)
    if context.action == "restore":
        return restore_with_irn(image, scale, options, context)
    raise ValueError(f"IRN can shrink or restore, not {context.action!r}")


register(
    Method(
        id="irn",
        name="IRN (shrink & restore)",
        purpose="Shrink a photo for sharing into a small PNG that IRN can later restore to nearly the original "
        "(only images it shrank itself; keep the small file lossless, or tick Survive JPEG if a messenger or "
        "website will re-save it as JPEG).",
        scales=IRN_SCALES,
        options_type=IRNOptions,
        devices=("cpu", "cuda"),
        actions=("shrink", "restore"),
        run=run_irn,
        restorable=has_marker,
    )
)
