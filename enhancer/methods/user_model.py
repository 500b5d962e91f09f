"""Your own models: every model in the user's folder is a method ``model:<name>``, beside the built-ins.

Each runs tiled (overlap and feathered blending from ``imaging/tiling``) through onnxruntime — the file itself
when it is ONNX, else an export made once and cached by sha256 — or with torch where the export fails. The tile
side comes from free memory (shown, overridable); out of memory, the tile is halved and tried again, then the
CPU is used. Grey, alpha and 16-bit photos are handled as the built-ins handle them.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from enhancer.imaging.image import ImageData
from enhancer.imaging.resize import imresize
from enhancer.imaging.tiling import MIN_TILE, run_tiled, tile_size_for_budget
from enhancer.methods.registry import Method, MethodResult, RunContext, option, register, unregister
from enhancer.runtime.devices import onnx_session, provider_in_words, torch_device
from enhancer.runtime.model_library import ModelEntry, ModelLibrary

TILE_OVERLAP = 16  # input pixels of context per side: covers a CNN's receptive field at these sizes
MAX_AUTO_TILE = 512
# Bytes per output pixel a tile holds while it runs (activations included), by how heavy the architecture is;
# measured peaks are in docs/BENCHMARKS.md ("Your own models"). Transformers hold attention maps besides.
BYTES_PER_OUTPUT_PIXEL = {"SwinIR": 6000, "HAT": 9000, "DAT": 8000, "Swin2SR": 6000, "ATD": 9000}
DEFAULT_BYTES_PER_OUTPUT_PIXEL = 2500
MEMORY_SHARE = 0.5  # of the memory free now, the most a tile may use
ENGINES = ("auto", "onnx", "torch")


@dataclass(frozen=True)
class UserModelOptions:
    model_tile: int = option(
        0,
        "Largest piece of the photo worked on at once, in pixels; 0 picks it from free memory. Smaller uses "
        "less memory and is a little slower.",
        minimum=0,
        maximum=4096,
        label="Tile size",
        advanced=True,
    )
    engine: str = option(
        "auto",
        "What runs the model: onnxruntime (auto: when the model exports) or torch.",
        choices=ENGINES,
        label="Engine",
        advanced=True,
    )


class _OutOfMemory(Exception):
    pass


def _is_out_of_memory(error: BaseException) -> bool:
    text = str(error).lower()
    return "out of memory" in text or "failed to allocate" in text or "bad_alloc" in text


def free_memory_bytes(device: str) -> int:
    """Memory free now on the device that will run the model."""
    if device == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info()
        return int(free)
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def auto_tile_size(entry: ModelEntry, device: str) -> tuple[int, str]:
    """(tile side, why) from free memory and the architecture's appetite."""
    per_pixel = BYTES_PER_OUTPUT_PIXEL.get(entry.architecture, DEFAULT_BYTES_PER_OUTPUT_PIXEL)
    free = free_memory_bytes(device)
    tile = min(MAX_AUTO_TILE, tile_size_for_budget(per_pixel, int(free * MEMORY_SHARE), entry.scale))
    return tile, f"{tile} px from {free / 2**30:.1f} GB free"


_LOCK = threading.Lock()


@cache
def _torch_model(path: str, device: str) -> Any:
    from enhancer.nets.user_models import load_descriptor

    descriptor = load_descriptor(Path(path))
    return descriptor.model.to(device).eval()


@cache
def _session(path: str, device: str) -> tuple[Any, str]:
    return onnx_session(path, device)


def _ensure_onnx(library: ModelLibrary, entry: ModelEntry, context: RunContext) -> Path | None:
    """The ONNX file to run, exporting it on first use; ``None`` (and the reason kept) where it cannot."""
    onnx = library.onnx_path(entry)
    if entry.is_onnx or onnx.is_file():
        return onnx
    if entry.onnx_note:
        return None
    from enhancer.nets.user_models import describe_model_file, export_onnx

    context.progress.report(0.0, "preparing the model", "exporting it to ONNX (once)")
    facts = describe_model_file(library.model_path(entry))
    note = export_onnx(library.model_path(entry), onnx, facts)
    if note:
        entry.onnx_note = note
        library.update(entry)
        return None
    return onnx


def _model_input(pixels: np.ndarray, channels: int) -> np.ndarray:
    """H x W x C -> the model's channel count (grey to colour by repetition, colour to grey by Y is not done:
    a 1-channel model runs on each channel, see ``_run_channels``)."""
    if pixels.shape[2] == channels:
        return pixels
    if channels == 3 and pixels.shape[2] == 1:
        return np.repeat(pixels, 3, axis=2)
    raise ValueError(f"cannot feed {pixels.shape[2]} channels to a {channels}-channel model")


def _fit_requirements(pixels: np.ndarray, entry: ModelEntry) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad (by mirroring) to the model's multiple and minimum; returns the padded tile and the original size."""
    h, w = pixels.shape[:2]
    multiple = max(entry.multiple_of, 1)
    target_h = max(h + (-h) % multiple, entry.min_size)
    target_w = max(w + (-w) % multiple, entry.min_size)
    if entry.square:
        target_h = target_w = max(target_h, target_w)
    if (target_h, target_w) == (h, w):
        return pixels, (h, w)
    mode = "reflect" if min(h, w) > 1 and target_h - h < h and target_w - w < w else "edge"
    return np.pad(pixels, ((0, target_h - h), (0, target_w - w), (0, 0)), mode=mode), (h, w)


class _Runner:
    """Runs one tile through onnxruntime or torch on one device."""

    def __init__(self, entry: ModelEntry, library: ModelLibrary, engine: str, device: str) -> None:
        self.entry, self.library, self.engine, self.device = entry, library, engine, device
        self.provider = "CPUExecutionProvider"
        if engine == "onnx":
            path = library.onnx_path(entry)
            with _LOCK:
                self.session, self.provider = _session(str(path), device)
            self.input_name = self.session.get_inputs()[0].name
            self.half = "float16" in self.session.get_inputs()[0].type
        else:
            with _LOCK:
                self.model = _torch_model(str(library.model_path(entry)), str(torch_device(device)))

    @property
    def precision(self) -> str:
        """The arithmetic the tiles run in: float16 for a half-precision ONNX file, else the weights' dtype."""
        if self.engine == "onnx":
            return "float16" if self.half else "float32"
        return str(next(self.model.parameters()).dtype).removeprefix("torch.")

    @property
    def device_words(self) -> str:
        if self.engine == "onnx":
            return provider_in_words(self.provider)
        return "NVIDIA GPU (CUDA, torch)" if str(torch_device(self.device)).startswith("cuda") else "CPU"

    def __call__(self, tile: np.ndarray) -> np.ndarray:
        fitted, (h, w) = _fit_requirements(_model_input(tile, self.entry.input_channels), self.entry)
        batch = np.ascontiguousarray(fitted.transpose(2, 0, 1)[None], dtype=np.float32)
        try:
            if self.engine == "onnx":
                feed = batch.astype(np.float16) if self.half else batch
                (out,) = self.session.run(None, {self.input_name: feed})[:1]
                out = out.astype(np.float32)
            else:
                import torch

                with torch.inference_mode():
                    tensor = torch.from_numpy(batch).to(next(self.model.parameters()).device)
                    out = self.model(tensor).float().cpu().numpy()
        except Exception as error:
            if _is_out_of_memory(error):
                raise _OutOfMemory(str(error)) from error
            raise
        scale = self.entry.scale
        return np.clip(out[0].transpose(1, 2, 0)[: h * scale, : w * scale], 0.0, 1.0)


def _engine_for(
    options: UserModelOptions, library: ModelLibrary, entry: ModelEntry, context: RunContext
) -> str:
    if options.engine == "torch":
        if entry.is_onnx:
            raise ValueError(f"{entry.name} is an ONNX file: it runs with onnxruntime only")
        return "torch"
    onnx = _ensure_onnx(library, entry, context)
    if onnx is None:
        if options.engine == "onnx":
            raise ValueError(f"{entry.name} cannot run with onnxruntime: {entry.onnx_note}")
        return "torch"
    return "onnx"


def run_user_model(
    entry: ModelEntry, library: ModelLibrary, image: ImageData, options: UserModelOptions, context: RunContext
) -> MethodResult:
    engine = _engine_for(options, library, entry, context)
    device = context.device
    runner = _Runner(entry, library, engine, device)
    on_gpu = runner.device_words != "CPU"
    if options.model_tile:
        tile, tile_note = options.model_tile, f"{options.model_tile} px (set)"
    else:
        tile, tile_note = auto_tile_size(entry, "cuda" if on_gpu and engine == "torch" else "cpu")
    pixels = image.pixels[:, :, :1] if image.grey else image.pixels
    notes = []
    while True:
        try:
            out = _run_channels(runner, pixels, entry, tile, context)
            break
        except _OutOfMemory:
            if tile // 2 >= MIN_TILE:
                tile //= 2
                notes.append(f"out of memory: tile halved to {tile} px")
            elif device != "cpu":
                device = "cpu"
                runner = _Runner(entry, library, engine, "cpu")
                notes.append("out of memory at the smallest tile: finished on the CPU")
            else:
                raise MemoryError(
                    f"{entry.name} ran out of memory even at {tile} px tiles on the CPU"
                ) from None
    if image.grey:
        out = (
            out.mean(axis=2, keepdims=True).repeat(3, axis=2) if out.shape[2] == 3 else out.repeat(3, axis=2)
        )
    alpha = None
    if image.alpha is not None:
        alpha = np.clip(imresize(image.alpha, scale=entry.scale), 0.0, 1.0).astype(np.float32)
    info = {
        "device": runner.device_words,
        "engine": engine,
        "precision": runner.precision,
        "tile": tile_note if not notes else f"{tile} px",
        "architecture": entry.architecture,
    }
    if notes:
        info["notice"] = "; ".join(notes)
    if engine == "torch" and entry.onnx_note:
        info["engine_note"] = entry.onnx_note
    return MethodResult(image.with_pixels(out.astype(np.float32), alpha), info=info)


def _run_channels(
    runner: _Runner, pixels: np.ndarray, entry: ModelEntry, tile: int, context: RunContext
) -> np.ndarray:
    """The whole photo, tiled; a 1-channel model runs on each colour channel in turn."""
    overlap = TILE_OVERLAP if tile > 2 * TILE_OVERLAP + 16 else max(0, tile // 4)
    whole = tile >= max(pixels.shape[:2]) or entry.tiling == "internal" or entry.square

    def one(plane: np.ndarray, start: float, span: float) -> np.ndarray:
        def progress(fraction: float) -> None:
            context.progress.report(
                start + span * fraction, "enhancing", f"tiles {start + span * fraction:.0%}"
            )

        context.progress.report(start, "enhancing", f"{entry.name} on {runner.device_words}")
        if whole:
            result = runner(plane)
            progress(1.0)
            return result
        return run_tiled(plane, runner, scale=entry.scale, tile=tile, overlap=overlap, progress=progress)

    if entry.input_channels == 1 and pixels.shape[2] == 3:
        planes = [one(pixels[:, :, c : c + 1], c / 3, 1 / 3)[:, :, :1] for c in range(3)]
        return np.concatenate(planes, axis=2)
    return one(pixels, 0.0, 1.0)


def _method_for(entry: ModelEntry, library: ModelLibrary) -> Method:
    def run(image: ImageData, scale: int, options: UserModelOptions, context: RunContext) -> MethodResult:
        return run_user_model(entry, library, image, options, context)

    from enhancer.nets.user_models import PURPOSE_WORDS

    what = PURPOSE_WORDS.get(entry.purpose, entry.purpose)
    licence = f", licence {entry.licence}" if entry.licence else ""
    return Method(
        id=entry.method_id,
        name=f"{entry.name} ({entry.architecture} ×{entry.scale})",
        purpose=f"Your model: {entry.architecture} {what} ×{entry.scale}{licence}. Added from "
        f"{Path(entry.source).name}.",
        scales=(entry.scale,),
        options_type=UserModelOptions,
        devices=("cpu", "cuda"),
        run=run,
    )


_REGISTERED: set[str] = set()


def register_user_models(folder: Path | None = None) -> list[str]:
    """Register every model in the folder as a method (replacing those registered before); their ids."""
    library = ModelLibrary(folder)
    for method_id in _REGISTERED:
        unregister(method_id)
    _REGISTERED.clear()
    for entry in library.entries():
        register(_method_for(entry, library))
        _REGISTERED.add(entry.method_id)
    _torch_model.cache_clear()
    _session.cache_clear()
    return sorted(_REGISTERED)


def is_user_model(method_id: str) -> bool:
    return method_id.startswith("model:")


register_user_models()
