"""The sharing benchmark: a lossless PNG changes nothing, JPEG does, and the report holds both methods."""

from __future__ import annotations

import numpy as np

from enhancer.bench.irn_sharing import measure, reencode
from enhancer.imaging.image import ImageData
from enhancer.imaging.io import save_image


def test_png_is_lossless_and_jpeg_is_not():
    rng = np.random.default_rng(0)
    lr8 = (rng.random((16, 20, 3)) * 255).astype(np.uint8)
    assert np.array_equal((reencode(lr8, "PNG", None) * 255).round().astype(np.uint8), lr8)
    assert not np.array_equal((reencode(lr8, "JPEG", 75) * 255).round().astype(np.uint8), lr8)


def test_the_report_scores_irn_and_bicubic_for_each_codec(tmp_path):
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    hr = np.stack([0.5 + 0.4 * np.sin(x / (4 + c)) * np.cos(y / 6) for c in range(3)], 2)
    save_image(ImageData(hr.astype(np.float32)), tmp_path / "a.png")
    report = measure(tmp_path, 2)
    assert report["images"] == 1 and set(report["mean"]) == {
        "png",
        "jpeg-q95",
        "jpeg-q90",
        "jpeg-q90-420",
        "jpeg-q75",
        "webp-q90",
    }
    png, jpeg = report["mean"]["png"]["irn"]["psnr"], report["mean"]["jpeg-q75"]["irn"]["psnr"]
    assert png > jpeg  # re-encoding costs the restore
    assert "cores" in report["machine"] and report["seconds"] > 0


def test_the_jpeg_variant_is_measured_with_its_repair_on_re_encoded_files_only(tmp_path, monkeypatch):
    import torch

    from enhancer.methods import irn
    from enhancer.nets.irn import IRN
    from enhancer.train.irn_export import export_irn

    torch.manual_seed(0)
    models = tmp_path / "models"
    export_irn(IRN(2, blocks_per_level=1, repair=True), models, training={}, variant="jpeg")
    monkeypatch.setenv(irn.MODELS_ENV, str(models))
    y, x = np.mgrid[0:32, 0:48].astype(np.float32)
    hr = np.stack([0.5 + 0.4 * np.sin(x / (4 + c)) * np.cos(y / 6) for c in range(3)], 2)
    save_image(ImageData(hr.astype(np.float32)), tmp_path / "data" / "a.png")
    report = measure(tmp_path / "data", 2, variant="jpeg")
    assert report["variant"] == "jpeg" and report["images"] == 1
    # an untrained net is Haar's low band and nothing else; re-encoding still costs it something
    assert report["mean"]["png"]["irn"]["psnr"] > report["mean"]["jpeg-q75"]["irn"]["psnr"] > 20


def test_a_grey_photo_is_scored_on_its_grey_values_as_the_benchmark_does(tmp_path):
    """Scored as RGB's Y, a grey image would read 1.3 dB higher (Y spans 219 of 255 levels)."""
    from enhancer.bench.benchmark import BenchConfig, run_benchmark

    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    grey = (0.5 + 0.4 * np.sin(x / 5) * np.cos(y / 6)).astype(np.float32)
    image = ImageData(np.repeat(grey[..., None], 3, 2), grey=True)
    save_image(image, tmp_path / "grey.png")
    sharing = measure(tmp_path, 2)["mean"]["png"]
    bench = run_benchmark(BenchConfig("irn", 2, tmp_path)).mean("irn")
    assert abs(sharing["irn"]["psnr"] - bench.psnr) < 0.01
    assert abs(sharing["irn"]["ssim"] - bench.ssim) < 1e-4
