"""``enhancer --self-test`` runs every method and the window, and fails loudly when something is missing."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from enhancer.cli import main
from enhancer.methods import irn


@pytest.fixture
def models_with_a_small_pixelrsr(tmp_path, monkeypatch):
    """The shipped models plus, where none is shipped yet, a small pixelrsr (so the test needs no training)."""
    import shutil

    from enhancer.nets.pixelrsr import PixelRecursiveSR
    from enhancer.train.pixelrsr_export import export_pixelrsr

    folder = tmp_path / "models"
    shutil.copytree(irn.DEFAULT_MODELS_DIR, folder)
    manifest = (folder / "manifest.json").read_text()
    if '"pixelrsr"' not in manifest:
        torch.manual_seed(0)
        export_pixelrsr(
            PixelRecursiveSR(prior_layers=2, prior_channels=6, conditioning_channels=6, levels=16), folder
        )
    monkeypatch.setenv(irn.MODELS_ENV, str(folder))
    return folder


def test_self_test_passes_on_a_working_install(models_with_a_small_pixelrsr, capsys):
    assert main(["--self-test"]) == 0
    out = capsys.readouterr().out
    for line in (
        "ok    bicubic upscale",
        "ok    irn shrink",
        "ok    irn x2 shrink + restore, survive JPEG",
        "ok    irn x4 shrink + restore, survive JPEG",
        "ok    zssr upscale",
        "ok    kernelgan kernel",
        "ok    pixelrsr upscale",
        "ok    main window",
        "all checks passed",
        "torch ",
        "onnxruntime ",
    ):
        assert line in out


def test_self_test_fails_when_a_model_is_missing(models_with_a_small_pixelrsr, capsys):
    (models_with_a_small_pixelrsr / "irn_x2_up.onnx").unlink()
    assert main(["--self-test", "--no-gui"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  shipped models load" in out and "irn_x2_up.onnx" in out
    assert "FAIL  irn shrink" in out and "2 failed" in out
