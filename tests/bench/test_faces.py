"""The face benchmark of pixel recursive SR end to end on a synthetic face folder and small models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from enhancer.bench.faces import FaceBenchConfig, consistency, run_face_benchmark
from enhancer.cli import main as cli_main
from enhancer.methods import irn
from enhancer.nets.pixelrsr import ConditioningNet, PixelRecursiveSR
from enhancer.train.pixelrsr_export import export_pixelrsr
from enhancer.train.pixelrsr_train import bicubic_lr


@pytest.fixture
def faces(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "faces"
    folder.mkdir()
    y, x = np.mgrid[0:32, 0:32]
    for p in range(30):
        base = (np.sin(x / (3 + p % 5)) + np.cos(y / 4)) * 60 + 128
        array = np.clip(base[:, :, None] + rng.normal(0, 5, (32, 32, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(array).save(folder / f"Someone_{p:02d}_0001.png")
    return folder


@pytest.fixture
def models(tmp_path, monkeypatch):
    torch.manual_seed(0)
    folder = tmp_path / "models"
    export_pixelrsr(
        PixelRecursiveSR(prior_layers=2, prior_channels=6, conditioning_channels=6, levels=16), folder
    )
    export_pixelrsr(ConditioningNet(6, levels=1, blocks=1), folder)
    monkeypatch.setenv(irn.MODELS_ENV, str(folder))
    return folder


def test_consistency_is_zero_for_the_truth_and_grows_with_noise():
    hr = np.random.default_rng(1).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    lr = bicubic_lr(hr)
    assert consistency(hr / 255.0, lr) == 0.0
    noisy = np.clip(hr / 255.0 + np.random.default_rng(2).normal(0, 0.2, hr.shape), 0, 1)
    assert consistency(noisy, lr) > 1e-4


def test_bench_cli_reports_every_figure(faces, models, tmp_path, capsys):
    report = tmp_path / "report.json"
    figure = tmp_path / "grid.png"
    code = cli_main(
        [
            "bench",
            "--method",
            "pixelrsr",
            "--scale",
            "4",
            "--dataset",
            str(faces),
            "--split",
            "validation",
            "--limit",
            "3",
            "--json",
            str(report),
            "--figure",
            str(figure),
        ]
    )
    assert code == 0
    figures = json.loads(report.read_text())
    for key in ("bicubic", "l2_regression", "temperature_1", "temperature_0.8", "greedy"):
        assert {"psnr_y", "ssim_y", "consistency_mse"} <= set(figures[key])
    assert figures["nll_bits_per_dim"] > 0 and figures["diversity"]["mean_per_pixel_std_8bit"] > 0
    assert figures["bicubic"]["psnr_y"] > 15
    assert set(figures["sampling_seconds"]) == {"batch_1", "batch_4", "batch_16"}
    assert Image.open(figure).size[0] > 8 * 96


def test_bench_needs_the_face_folder(models, tmp_path):
    with pytest.raises(FileNotFoundError):
        run_face_benchmark(FaceBenchConfig(tmp_path / "nowhere"), None, None)
