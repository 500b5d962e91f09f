"""GUI tests run offscreen, with settings kept in a temporary folder and a few test-only methods registered."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from enhancer.imaging.image import ImageData
from enhancer.imaging.io import save_image
from enhancer.methods import registry
from enhancer.methods.registry import Method, MethodResult, NoOptions, RunContext, all_methods, option

SLOW_METHOD = "test-slow"
BUSY_METHOD = "test-busy"
KERNEL_METHOD = "test-kernel"
FAILING_METHOD = "test-failing"
OPTIONS_METHOD = "test-options"
IRN_LIKE_METHOD = "test-irn-like"


@dataclass(frozen=True)
class SlowOptions:
    steps: int = option(
        300, "sleeps of 10 ms, each followed by a progress report", minimum=1, maximum=100_000
    )


def run_slow(image: ImageData, scale: int, options: SlowOptions, context: RunContext) -> MethodResult:
    """Sleeps in small steps, reporting progress (so it is cancellable between steps)."""
    for step in range(options.steps):
        time.sleep(0.01)
        context.progress.report((step + 1) / options.steps, "sleeping", f"step {step + 1}/{options.steps}")
    return MethodResult(image.with_pixels(np.repeat(np.repeat(image.pixels, scale, 0), scale, 1)))


@dataclass(frozen=True)
class BusyOptions:
    seconds: float = option(1.5, "how long to keep the CPU busy", minimum=0.1, maximum=30.0)


def run_busy(image: ImageData, scale: int, options: BusyOptions, context: RunContext) -> MethodResult:
    """Keeps the CPU busy with numpy and plain Python (which holds the GIL) for a while."""
    rng = np.random.default_rng(0)
    matrix = rng.random((160, 160))
    started = time.monotonic()
    while time.monotonic() - started < options.seconds:
        matrix = np.tanh(matrix @ matrix)
        total = sum(i * i for i in range(5000))  # pure Python: contends for the GIL
        context.progress.report((time.monotonic() - started) / options.seconds, "busy", total=float(total))
    return MethodResult(image.with_pixels(np.repeat(np.repeat(image.pixels, scale, 0), scale, 1)))


def run_with_kernel(image: ImageData, scale: int, options: NoOptions, context: RunContext) -> MethodResult:
    """Like KernelGAN's result: an image plus an estimated kernel in ``extras``."""
    grid = np.arange(-6, 7)
    kernel = np.exp(-(grid[:, None] ** 2 + grid[None, :] ** 2) / 8.0)
    pixels = np.repeat(np.repeat(image.pixels, scale, 0), scale, 1)
    return MethodResult(image.with_pixels(pixels), extras={"kernel": kernel / kernel.sum()})


def run_failing(image: ImageData, scale: int, options: NoOptions, context: RunContext) -> MethodResult:
    raise RuntimeError("the test method always fails")


@dataclass(frozen=True)
class ManyOptions:
    preset: str = option("quality", "which configuration", choices=("quality", "fast"))
    iterations: int = option(100, "training iterations", minimum=1, maximum=3000)
    learning_rate: float = option(0.001, "Adam learning rate", minimum=1e-6, maximum=0.1)
    real_photo: bool = option(False, "real-photo mode")
    mode: str = option("a", "a choice", choices=("a", "b", "c"))
    note: str = option("", "free text")
    crop: int | None = option(None, "crop side (auto when empty)", minimum=16, maximum=512)


def run_shrink_or_restore(
    image: ImageData, scale: int, options: NoOptions, context: RunContext
) -> MethodResult:
    """Shrinks (marking the result as made by this method) or enlarges, like IRN."""
    if context.action == "shrink":
        small = image.with_pixels(image.pixels[::scale, ::scale])
        small.text = {**image.text, "enhancer-irn": "x2"}
        return MethodResult(small)
    restored = image.with_pixels(np.repeat(np.repeat(image.pixels, scale, 0), scale, 1))
    restored.text = {key: value for key, value in image.text.items() if key != "enhancer-irn"}
    return MethodResult(restored)


def _identity(image: ImageData, scale: int, options: object, context: RunContext) -> MethodResult:
    return MethodResult(image)


TEST_METHODS = (
    Method(SLOW_METHOD, "Test: slow", "Sleeps, for cancel tests", (2,), SlowOptions, run=run_slow),
    Method(BUSY_METHOD, "Test: busy", "Keeps the CPU busy", (2,), BusyOptions, run=run_busy),
    Method(KERNEL_METHOD, "Test: kernel", "Returns a kernel", (2,), run=run_with_kernel),
    Method(FAILING_METHOD, "Test: failing", "Always fails", (2,), run=run_failing),
    Method(
        OPTIONS_METHOD,
        "Test: options",
        "Every kind of option",
        (2, 4),
        ManyOptions,
        ("cpu", "cuda"),
        run=_identity,
    ),
    Method(
        IRN_LIKE_METHOD,
        "Test: IRN-like",
        "Shrinks and restores",
        (2,),
        actions=("shrink", "restore"),
        run=run_shrink_or_restore,
    ),
)


@pytest.fixture(autouse=True)
def test_methods():
    """The test-only methods are in the registry during each GUI test, and gone after it."""
    all_methods()  # the built-in ones first, in their usual order
    for method in TEST_METHODS:
        registry.register(method)
    yield
    for method in TEST_METHODS:
        registry.unregister(method.id)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Nothing a test does reaches the real user's settings."""
    folder = tmp_path_factory.mktemp("qsettings")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    return folder


@pytest.fixture
def settings(tmp_path: Path):
    from enhancer.gui.settings import AppSettings

    return AppSettings(tmp_path / "settings.ini")


def gradient_image(width: int = 24, height: int = 16) -> ImageData:
    """A small colourful image whose every pixel differs from its neighbours."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = np.stack([x / (width - 1), y / (height - 1), ((x + y) % 5) / 4.0], axis=2)
    return ImageData(pixels=pixels.astype(np.float32))


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    return save_image(gradient_image(), tmp_path / "photo.png")


@pytest.fixture
def window(qtbot, settings):
    from enhancer.gui.main_window import MainWindow

    main_window = MainWindow(settings)
    qtbot.addWidget(main_window)
    main_window.resize(1100, 700)
    main_window.show()
    yield main_window
    main_window.close()


def assert_responsive(gaps_ms: list[float]) -> None:
    """The gaps between a 10 ms GUI-thread timer's ticks show an event loop that kept running.

    Work on the GUI thread stops the timer for the whole task (seconds); a shared 2-core CI machine may still
    deschedule the process for a hundred ms or so now and then, so single gaps get a looser bound.
    """
    assert len(gaps_ms) > 50, "the timer ran all along"
    typical = sorted(gaps_ms)[int(0.95 * len(gaps_ms))]
    assert typical < 50, f"95% of the timer's gaps should be under 50 ms, not {typical} ms"
    assert max(gaps_ms) < 400, f"the event loop stalled for {max(gaps_ms)} ms"
