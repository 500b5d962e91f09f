"""The blind (DIV2KRK-style) benchmark: reproducible random kernels, the degradation, the report."""

import json

import numpy as np
import pytest
from PIL import Image

from enhancer.bench.blind import (
    PIPELINES,
    BlindConfig,
    format_row,
    format_summary,
    image_kernel,
    iter_blind_benchmark,
)
from enhancer.bench.protocol import aniso_degrade, random_aniso_kernel
from enhancer.cli import main
from enhancer.imaging.kernels import centre_of_mass, grid_centre, two_step_kernel
from enhancer.imaging.resize import downscale_with_kernel

TINY = {"preset": "fast", "iterations": 20, "zssr_iterations": 10}


def _photo(path, size=(72, 64), seed=0):
    rng = np.random.default_rng(seed)
    smooth = np.cumsum(np.cumsum(rng.standard_normal((size[1], size[0], 3)), axis=0), axis=1)
    smooth = (smooth - smooth.min()) / np.ptp(smooth)
    Image.fromarray((smooth * 255).astype(np.uint8)).save(path)
    return path


def test_random_aniso_kernels_are_normalised_centred_and_reproducible():
    kernels = [random_aniso_kernel(np.random.default_rng(seed)) for seed in range(20)]
    for kernel in kernels:
        assert kernel.shape == (11, 11) and kernel.min() >= 0 and kernel.sum() == pytest.approx(1.0)
        # Centred on the x2 grid (5.5), up to the multiplicative noise and the truncation of wide kernels.
        assert np.allclose(centre_of_mass(kernel), grid_centre(11, 2), atol=0.4)
    np.testing.assert_array_equal(kernels[3], random_aniso_kernel(np.random.default_rng(3)))
    np.testing.assert_array_equal(image_kernel(0, 5), image_kernel(0, 5))
    assert not np.array_equal(image_kernel(0, 5), image_kernel(0, 6))
    # Anisotropic: the two principal variances differ for most draws.
    spreads = []
    for kernel in kernels:
        r, c = centre_of_mass(kernel)
        y, x = np.mgrid[:11, :11]
        cov = np.cov(np.stack([(y - r).ravel(), (x - c).ravel()]), aweights=kernel.ravel(), bias=True)
        low, high = np.linalg.eigvalsh(cov)
        spreads.append(high / low)
    assert np.median(spreads) > 1.5


def test_aniso_degrade_blurs_and_subsamples_once_per_factor_of_two():
    rng = np.random.default_rng(0)
    hr = rng.random((50, 46, 3)).astype(np.float32)
    kernel = random_aniso_kernel(rng)
    cropped, lr2 = aniso_degrade(hr, 2, kernel)
    assert cropped.shape == (50, 46, 3) and lr2.shape == (25, 23, 3)
    np.testing.assert_allclose(
        lr2, np.round(downscale_with_kernel(cropped, kernel, 2) * 255) / 255, atol=1e-6
    )
    cropped4, lr4 = aniso_degrade(hr, 4, kernel)
    assert cropped4.shape == (48, 44, 3) and lr4.shape == (12, 11, 3)
    direct = downscale_with_kernel(cropped4.astype(np.float64), two_step_kernel(kernel), 4)
    assert np.abs(lr4 - direct)[3:-3, 3:-3].max() <= 0.5 / 255 + 1e-6
    with pytest.raises(ValueError):
        aniso_degrade(hr, 3, kernel)


def test_blind_benchmark_scores_all_four_pipelines_and_the_kernel(tmp_path):
    data = tmp_path / "hr"
    data.mkdir()
    _photo(data / "a.png", seed=1)
    _photo(data / "b.png", seed=2)
    config = BlindConfig(
        scale=2, dataset=data, limit=1, options=TINY, device="cpu", seed=0, save_dir=tmp_path / "out"
    )
    rows = [row for row, _ in iter_blind_benchmark(config)]
    assert len(rows) == 1
    row = rows[0]
    assert list(row.scores) == list(PIPELINES)
    assert all(np.isfinite(s.psnr) and 0 < s.ssim <= 1 for s in row.scores.values())
    assert -1 <= row.kernel_correlation <= 1 and row.kernel_mse >= 0
    np.testing.assert_allclose(np.array(row.true_kernel), image_kernel(0, 0))
    assert np.array(row.estimated_kernel).sum() == pytest.approx(1.0)
    assert (tmp_path / "out" / "a_kernel_true.npy").exists() and (
        tmp_path / "out" / "a_kernel_true.png"
    ).exists()
    assert (tmp_path / "out" / "a_kernelgan_zssr_x2.png").exists()
    assert "kernel corr" in format_row(row)


def test_bench_command_runs_the_aniso_degradation(tmp_path, capsys):
    data = tmp_path / "hr"
    data.mkdir()
    _photo(data / "a.png", size=(64, 64))
    report = tmp_path / "report.json"
    common = ["--degradation", "aniso", "--scale", "2", "--dataset", str(data)]
    argv = ["bench", "--method", "kernelgan", *common]
    argv += ["--preset", "fast", "--iterations", "20", "--zssr-iterations", "10", "--device", "cpu"]
    assert main([*argv, "--quiet", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "kernelgan_zssr" in out and "zssr_true_kernel" in out and "estimated x2 kernel" in out
    saved = json.loads(report.read_text())
    assert saved["degradation"] == "aniso" and len(saved["rows"]) == 1
    assert np.array(saved["rows"][0]["true_kernel"]).shape == (11, 11)
    assert main(["bench", "--method", "bicubic", *common]) == 2


def test_summary_names_every_pipeline(tmp_path):
    from enhancer.bench.benchmark import Score
    from enhancer.bench.blind import BlindReport, BlindRow

    row = BlindRow("x", (4, 4), 1e-4, 0.9, 0.8, {p: Score(30.0, 0.9, 1.0) for p in PIPELINES})
    report = BlindReport(BlindConfig(scale=2, dataset=tmp_path), "test machine", [row])
    text = format_summary(report)
    assert all(p in text for p in PIPELINES) and "0.900" in text


def test_kernels_only_estimates_and_scores_the_kernels_without_enlarging(tmp_path, capsys):
    data = tmp_path / "hr"
    data.mkdir()
    _photo(data / "a.png", size=(64, 64), seed=3)
    report = tmp_path / "kernels.json"
    argv = ["bench", "--method", "kernelgan", "--degradation", "aniso", "--kernels-only", "--scale", "2"]
    argv += ["--dataset", str(data), "--preset", "fast", "--iterations", "20", "--device", "cpu"]
    assert main([*argv, "--quiet", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "estimated x2 kernel" in out and "zssr" not in out
    row = json.loads(report.read_text())["rows"][0]
    assert row["scores"] == {} and row["kernel_seconds"] > 0
    raw, estimate = np.array(row["raw_kernel"]), np.array(row["estimated_kernel"])
    assert raw.shape == estimate.shape == (13, 13) and estimate.sum() == pytest.approx(1.0)
    # --skip leaves out the first images; each keeps the kernel of its place in the folder.
    _photo(data / "b.png", size=(64, 64), seed=4)
    config = BlindConfig(2, data, limit=1, skip=1, options=TINY, device="cpu", kernels_only=True)
    rows = [row for row, _ in iter_blind_benchmark(config)]
    assert [row.image for row in rows] == ["b"]
    np.testing.assert_allclose(np.array(rows[0].true_kernel), image_kernel(0, 1))
    # Without --degradation aniso there are no kernels to score.
    bare = ["bench", "--method", "kernelgan", "--scale", "2", "--dataset", str(data)]
    assert main([*bare, "--kernels-only"]) == 2 and main([*bare, "--skip", "-1"]) == 2
    assert main([*argv, "--skip", "5", "--quiet"]) == 1  # nothing left to measure
