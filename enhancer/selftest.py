"""``enhancer --self-test``: does this installation work? Every method on a tiny image, every shipped model
loaded, the main window opened and closed offscreen, versions and devices printed; exit status 1 on any
failure. Meant for a fresh install and for the frozen app (``Enhancer --self-test``).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable

import numpy as np

from enhancer.imaging.image import ImageData

# The smallest settings that still run each method's whole path.
TINY_OPTIONS = {
    "zssr": {"preset": "fast", "iterations": 10, "ensemble": 1},
    "kernelgan": {"preset": "fast", "iterations": 10, "zssr_iterations": 10},
    "pixelrsr": {"samples": 1},
}


def _tiny_image(side: int = 24) -> ImageData:
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    return ImageData(np.stack([x, y, (x + y) / 2], axis=2))


def _check(name: str, work: Callable[[], str], failures: list[str]) -> None:
    started = time.perf_counter()
    try:
        detail = work()
    except Exception as error:  # a self-test reports every failure, whatever its type
        failures.append(name)
        print(f"FAIL  {name}: {type(error).__name__}: {error}")
        traceback.print_exc(limit=3, file=sys.stdout)
        return
    print(f"ok    {name} ({time.perf_counter() - started:.1f} s){': ' + detail if detail else ''}")


def run_self_test(gui: bool = True) -> int:
    import onnxruntime
    import torch

    from enhancer import __version__
    from enhancer.methods.kernelgan import MIN_SIDE as KERNELGAN_MIN_SIDE
    from enhancer.methods.registry import all_methods
    from enhancer.runtime.devices import describe_devices
    from enhancer.runtime.runner import Job, run_job

    print(f"enhancer {__version__}, torch {torch.__version__}, onnxruntime {onnxruntime.__version__}")
    print(
        f"devices: {describe_devices()}; onnxruntime providers: {', '.join(onnxruntime.get_available_providers())}"
    )
    failures: list[str] = []
    _check("shipped models load", _load_shipped_models, failures)
    _check("resources", _find_resources, failures)
    image = _tiny_image()
    for method in all_methods():
        for action in method.actions:
            if action == "restore":
                continue  # run after shrink, on what it made

            def work(method=method, action=action) -> str:
                scale = method.scales[0]
                source = {"pixelrsr": _tiny_image(8), "kernelgan": _tiny_image(KERNELGAN_MIN_SIDE)}.get(
                    method.id, image
                )
                job = Job(
                    source, method.id, scale, TINY_OPTIONS.get(method.id, {}), "auto", action=action, seed=0
                )
                result = run_job(job)
                if "restore" in method.actions and action == "shrink":
                    back = run_job(Job(result.image, method.id, scale, {}, "auto", action="restore"))
                    return f"shrink + restore → {back.image.width}×{back.image.height}"
                return f"{result.image.width}×{result.image.height} on {result.info.get('device', '?')}"

            _check(f"{method.id} {action}", work, failures)
    for scale in (2, 4):
        _check(
            f"irn x{scale} shrink + restore, survive JPEG",
            lambda s=scale: _irn_through_jpeg(image, s),
            failures,
        )
    if gui:
        _check("main window (offscreen)", _open_and_close_window, failures)
    print(f"{len(failures)} failed" if failures else "all checks passed")
    return 1 if failures else 0


def _irn_through_jpeg(image, scale: int) -> str:
    """The JPEG-robust IRN model at ``scale``: shrink, re-save as JPEG q90 keeping the marker (XMP), restore."""
    import io
    import tempfile
    from pathlib import Path

    from PIL import Image

    from enhancer.imaging.colour import quantize_8bit
    from enhancer.imaging.io import load_image, save_image
    from enhancer.methods.irn import read_marker
    from enhancer.runtime.runner import Job, run_job

    small = run_job(Job(image, "irn", scale, {"survive_jpeg": True}, "auto", action="shrink", seed=0)).image
    small = small.with_pixels(quantize_8bit(small.pixels), small.alpha)
    with tempfile.TemporaryDirectory() as folder:
        png = save_image(small, Path(folder) / "small.png")
        buffer = io.BytesIO()
        with Image.open(png) as im:
            im.save(buffer, format="JPEG", quality=90, xmp=im.info["xmp"])
        jpeg = Path(folder) / "small.jpg"
        jpeg.write_bytes(buffer.getvalue())
        shared = load_image(jpeg)
    marker = read_marker(shared)
    if marker is None or marker.variant != "jpeg":
        raise ValueError("the IRN marker did not survive the JPEG re-save")
    back = run_job(Job(shared, "irn", scale, {}, "auto", action="restore"))
    if back.info.get("model") != "JPEG-robust" or "warning" in back.info:
        raise ValueError(f"restored with {back.info.get('model')}: {back.info.get('warning', '')}")
    return f"JPEG q90 with its marker → {back.image.width}×{back.image.height}"


def _load_shipped_models() -> str:
    """Every file in models/manifest.json: its sha256 matches and it loads (ONNX in onnxruntime, torch weights)."""
    import hashlib
    import json

    import onnxruntime
    import torch

    from enhancer.methods.irn import MANIFEST_NAME, models_dir

    folder = models_dir()
    loaded = []
    for entry in json.loads((folder / MANIFEST_NAME).read_text())["models"]:
        files = [entry["file"], *(graph["file"] for graph in entry.get("graphs", {}).values())]
        for name in files:
            path = folder / name
            if name == entry["file"] and "sha256" in entry:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                if digest != entry["sha256"]:
                    raise ValueError(
                        f"{name}: sha256 {digest[:12]}… is not the manifest's {entry['sha256'][:12]}…"
                    )
            if path.suffix == ".onnx":
                onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            else:
                torch.load(path, map_location="cpu", weights_only=True)
            loaded.append(name)
    return f"{len(loaded)} files from {folder}"


def _find_resources() -> str:
    from enhancer.resources import SAMPLES, icon_paths, read_text, resource_root, sample_path

    icons = icon_paths()
    read_text("styles/app.qss")
    samples = [sample_path(name) for name in SAMPLES]
    return f"{len(icons)} icons, the style sheet, {len(samples)} samples in {resource_root()}"


def _open_and_close_window() -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile
    from pathlib import Path

    from enhancer.gui.app import create_application
    from enhancer.gui.main_window import MainWindow
    from enhancer.gui.settings import AppSettings

    app = create_application()
    with tempfile.TemporaryDirectory() as folder:
        window = MainWindow(AppSettings(Path(folder) / "settings.ini"))
        window.show()
        app.processEvents()
        methods = len(window.method_panel.methods)
        window.close()
        app.processEvents()
    return f"{methods} methods listed, platform {app.platformName()}"
