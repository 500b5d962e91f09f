"""IRN method: shrink/restore through the job API and the CLI, markers, odd sizes, tiling, progress, cancel."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from enhancer.cli import main as cli_main
from enhancer.imaging.colour import quantize_8bit
from enhancer.imaging.image import ImageData
from enhancer.imaging.io import load_image, save_image
from enhancer.methods import irn
from enhancer.runtime.jobs import CancelToken, JobCancelled
from enhancer.runtime.runner import Job, run_job

pytest.importorskip("onnxruntime")

SHIPPED = Path(__file__).resolve().parents[2] / "models"


def _has_shipped_x2() -> bool:
    manifest = SHIPPED / "manifest.json"
    if not manifest.exists():
        return False
    entries = json.loads(manifest.read_text())["models"]
    return (
        sum(
            e["method"] == "irn"
            and e["scale"] == 2
            and e.get("variant", "standard") == "standard"
            and not e.get(
                "superseded"
            )  # superseded models stay in the manifest: count the current one's graphs
            for e in entries
        )
        == 2
    )


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    """The shipped models, or (in a checkout without them) a small random x2 model exported for the tests."""
    if _has_shipped_x2():
        return SHIPPED
    from enhancer.nets.irn import IRN, DenseBlock
    from enhancer.train.irn_export import export_irn

    torch.manual_seed(0)
    net = IRN(2, blocks_per_level=2)
    for module in net.modules():
        if isinstance(module, DenseBlock):
            torch.nn.init.normal_(module.convs[-1].weight, 0.0, 0.02)
    folder = tmp_path_factory.mktemp("irn_models")
    export_irn(net, folder, training={"iterations": 0})
    return folder


@pytest.fixture(autouse=True)
def use_models(models_dir, monkeypatch):
    monkeypatch.setenv(irn.MODELS_ENV, str(models_dir))


def smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like 8-bit test image: smooth gradients and a few soft shapes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for _ in range(3):
        fx, fy = rng.uniform(0.02, 0.15, 2)
        phase = rng.uniform(0, 6)
        channels.append(0.5 + 0.35 * np.sin(fx * x + phase) * np.cos(fy * y))
    return quantize_8bit(np.stack(channels, axis=2)).astype(np.float32)


def shrink(image: ImageData, scale: int = 2, **job) -> ImageData:
    result = run_job(Job(image, "irn", scale, {}, "cpu", action="shrink", **job))
    return result.image.with_pixels(quantize_8bit(result.image.pixels), result.image.alpha)


def test_odd_size_round_trip_gives_the_original_size_and_keeps_metadata(tmp_path):
    original = ImageData(
        smooth_image(29, 37), icc_profile=b"fake-icc-profile", text={"Comment": "kept"}, source=None
    )
    small = shrink(original)
    assert (small.width, small.height) == (19, 15)  # ceil(37 / 2), ceil(29 / 2)
    marker = irn.read_marker(small)
    assert marker is not None and (marker.scale, marker.width, marker.height) == (2, 37, 29)
    path = save_image(small, tmp_path / "small.png")
    assert irn.read_marker_from_file(path) == marker
    loaded = load_image(path)
    assert loaded.icc_profile == b"fake-icc-profile" and loaded.text["Comment"] == "kept"
    restored = run_job(Job(loaded, "irn", 2, {}, "cpu", action="restore"))
    assert restored.image.pixels.shape == (29, 37, 3)
    assert irn.MARKER_KEY not in restored.image.text
    assert restored.info["device"] == "CPU" and restored.info["provider"] == "CPUExecutionProvider"


def test_restore_refuses_an_image_without_the_marker_unless_forced():
    plain = ImageData(smooth_image(20, 24))
    with pytest.raises(ValueError, match="IRN restores only images it shrank"):
        run_job(Job(plain, "irn", 2, {}, "cpu", action="restore"))
    forced = run_job(Job(plain, "irn", 2, {"force": True}, "cpu", action="restore"))
    assert forced.image.pixels.shape == (40, 48, 3)
    assert "warning" in forced.info


def _restore(small: ImageData) -> object:
    return run_job(Job(small, "irn", 2, {}, "cpu", action="restore"))


def test_restore_checks_the_pixels_the_marker_was_written_for():
    small = shrink(ImageData(smooth_image(64, 64)))
    assert "warning" not in _restore(small).info  # untouched: restored without a word

    # Re-encoded as JPEG but the marker kept: restored, with a warning that says what changed.
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.fromarray(np.rint(small.pixels * 255).astype(np.uint8)).save(buffer, "JPEG", quality=75)
    jpeg = np.asarray(Image.open(BytesIO(buffer.getvalue())).convert("RGB"), dtype=np.float32) / 255
    warned = _restore(small.with_pixels(jpeg, None))
    assert "pixels changed after shrinking" in warned.info["warning"] and "dB" in warned.info["warning"]

    # Another picture of the same size under the marker: said plainly.
    other = small.with_pixels(smooth_image(32, 32, seed=5), None)
    assert "not the picture IRN shrank" in _restore(other).info["warning"]


def test_restore_refuses_a_resized_shrunk_image():
    small = shrink(ImageData(smooth_image(64, 64)))
    resized = small.with_pixels(smooth_image(25, 25), None)
    with pytest.raises(ValueError, match="resized after shrinking"):
        _restore(resized)


def test_older_markers_without_a_digest_still_get_the_size_check():
    small = shrink(ImageData(smooth_image(20, 20)))
    marker = irn.read_marker(small)
    old = irn.IRNMarker(marker.scale, marker.model_sha256, marker.width, marker.height)
    text = {**small.text, irn.MARKER_KEY: old.to_text()}
    changed = ImageData(smooth_image(10, 10, seed=3), text=text)
    assert "warning" not in _restore(changed).info
    with pytest.raises(ValueError, match="resized"):
        _restore(ImageData(smooth_image(12, 10), text=text))


def test_restore_at_the_wrong_scale_is_refused():
    small = shrink(ImageData(smooth_image(16, 16)))
    with pytest.raises(ValueError, match="shrunk at x2"):
        run_job(Job(small, "irn", 4, {}, "cpu", action="restore"))


def test_tiled_restore_and_shrink_match_untiled(models_dir):
    model = irn.find_model(2)
    pixels = smooth_image(96, 112, seed=3)
    down, _ = irn.session_for(model.shrink_path, "cpu")
    up, _ = irn.session_for(model.restore_path, "cpu")
    whole_lr = irn.shrink_pixels(pixels, down, 2, tile=1000, overlap=0)
    tiled_lr = irn.shrink_pixels(pixels, down, 2, tile=40, overlap=12)
    assert np.abs(tiled_lr - whole_lr).max() < 2 / 255
    lr = quantize_8bit(np.clip(whole_lr, 0, 1)).astype(np.float32)
    # A model trained for z = 0 only restores a sampled z as noise (and refuses it): nothing to tile there.
    for z_mode in ("zero", "sample") if model.samples_z else ("zero",):
        whole = irn.restore_pixels(lr, up, 2, z_mode=z_mode, seed=5, tile=1000, overlap=0)
        tiled = irn.restore_pixels(lr, up, 2, z_mode=z_mode, seed=5, tile=40, overlap=12)
        assert whole.shape == (96, 112, 3)
        assert np.abs(tiled - whole).max() < 2 / 255, z_mode
        assert np.abs(tiled - whole).mean() < 0.1 / 255, z_mode


def test_bfloat16_engine_is_the_same_model_within_bfloat16_rounding(models_dir):
    model = irn.find_model(2)
    pixels = smooth_image(64, 80, seed=4)
    results = {}
    for engine in ("onnx", "bf16"):
        down, _ = irn.session_for(model.shrink_path, "cpu", engine)
        up, provider = irn.session_for(model.restore_path, "cpu", engine)
        lr = quantize_8bit(np.clip(irn.shrink_pixels(pixels, down, 2, tile=1000, overlap=0), 0, 1))
        restored = irn.restore_pixels(lr.astype(np.float32), up, 2, tile=1000, overlap=0)
        results[engine] = (lr, restored, provider)
    assert results["bf16"][2] == "TorchBFloat16"
    assert np.abs(results["bf16"][0] - results["onnx"][0]).max() <= 2 / 255  # the LR: a level or two at most
    assert np.abs(results["bf16"][1] - results["onnx"][1]).mean() < 0.5 / 255


def test_bfloat16_engine_tiles_like_the_whole_image(models_dir):
    model = irn.find_model(2)
    pixels = smooth_image(96, 112, seed=3)
    down, _ = irn.session_for(model.shrink_path, "cpu", "bf16")
    up, _ = irn.session_for(model.restore_path, "cpu", "bf16")
    lr = quantize_8bit(np.clip(irn.shrink_pixels(pixels, down, 2, tile=1000, overlap=0), 0, 1)).astype(
        np.float32
    )
    whole = irn.restore_pixels(lr, up, 2, tile=1000, overlap=0)
    tiled = irn.restore_pixels(lr, up, 2, tile=40, overlap=12)
    assert np.abs(tiled - whole).max() < 2 / 255
    assert np.abs(tiled - whole).mean() < 0.1 / 255


def _shipped_current() -> list[irn.IRNModel]:
    """The current shipped models (not the small random one the fixture exports where none are shipped)."""
    if not (SHIPPED / "manifest.json").exists():
        pytest.skip("no shipped models in this checkout")
    return [m for m in irn.installed_models() if not m.superseded and m.shrink_path.parent == SHIPPED]


def test_shipped_models_are_calibrated_for_int8_on_their_own_weights(monkeypatch):
    monkeypatch.setenv(irn.MODELS_ENV, str(SHIPPED))
    current = _shipped_current()
    assert {(m.scale, m.variant) for m in current} >= {(2, "standard"), (4, "standard"), (4, "jpeg")}
    for model in current:  # None also when the file belongs to other weights (a re-export not recalibrated)
        assert model.int8_calibration is not None, (model.scale, model.variant)


def test_int8_engine_is_the_same_model_within_int8_rounding(monkeypatch):
    monkeypatch.setenv(irn.MODELS_ENV, str(SHIPPED))
    model = next(m for m in _shipped_current() if m.scale == 4 and m.variant == "standard")
    pixels = smooth_image(64, 80, seed=4)
    results = {}
    for engine in ("onnx", "int8"):
        down, _ = irn.session_for(model.shrink_path, "cpu", engine, model.int8_calibration)
        up, provider = irn.session_for(model.restore_path, "cpu", engine, model.int8_calibration)
        lr = quantize_8bit(np.clip(irn.shrink_pixels(pixels, down, 4, tile=1000, overlap=0), 0, 1))
        restored = irn.restore_pixels(lr.astype(np.float32), up, 4, tile=1000, overlap=0)
        results[engine] = (lr, restored, provider)
    assert results["int8"][2] == "TorchInt8"
    assert np.abs(results["int8"][0] - results["onnx"][0]).max() < 2.5 / 255  # the LR: a level or two at most
    assert np.abs(results["int8"][1] - results["onnx"][1]).mean() < 0.5 / 255


def test_int8_engine_refuses_a_calibration_made_for_other_weights(monkeypatch):
    monkeypatch.setenv(irn.MODELS_ENV, str(SHIPPED))
    model = next(m for m in _shipped_current() if m.scale == 2 and m.variant == "standard")
    entry = {"int8_calibration": model.int8_calibration.name, "external_data_sha256": "0" * 64}
    assert irn._calibration_for(SHIPPED, entry) is None  # another model's scales would be silently wrong
    assert irn._calibration_for(SHIPPED, {"external_data_sha256": model.weights_sha256}) is None
    with pytest.raises(ValueError, match="no int8 calibration"):
        irn.session_for(model.restore_path, "cpu", "int8", None)


def test_restore_with_the_int8_engine_reports_it(monkeypatch):
    monkeypatch.setenv(irn.MODELS_ENV, str(SHIPPED))
    _shipped_current()
    small = shrink(ImageData(smooth_image(24, 24)))
    result = run_job(Job(small, "irn", 2, {"engine": "int8"}, "cpu", action="restore"))
    assert result.info["engine"] == "int8" and result.info["device"] == "CPU (int8)"
    assert result.info["precision"] == "int8 and bfloat16"


def test_engine_choice(monkeypatch):
    monkeypatch.setattr(irn, "cpu_has_native_bfloat16", lambda: True)
    monkeypatch.setattr(irn, "cuda_available", lambda: False)
    assert irn.choose_engine("auto", "cpu", 4) == "bf16"  # same x4 quality, about twice as fast
    assert irn.choose_engine("auto", "cpu", 4, int8_ready=True) == "int8"  # the same again, faster still
    assert irn.choose_engine("auto", "cpu", 2, int8_ready=True) == "onnx"
    assert irn.choose_engine("auto", "cpu", 2) == "onnx"  # at x2 bfloat16 costs 0.04 dB: float32
    assert irn.choose_engine("onnx", "cpu", 4) == "onnx"
    monkeypatch.setattr(irn, "cpu_has_native_bfloat16", lambda: False)
    assert irn.choose_engine("auto", "cpu", 4) == "onnx"  # emulated bfloat16 would be slower
    assert irn.choose_engine("bf16", "cpu", 2) == "bf16"  # asked for: given
    assert irn.choose_engine("auto", "cpu", 4, int8_ready=True) == "onnx"
    for engine in ("bf16", "int8"):
        with pytest.raises(ValueError, match="runs on the CPU"):
            irn.choose_engine(engine, "cuda", 4)
    with pytest.raises(ValueError, match="engine must be"):
        irn.choose_engine("fast", "cpu", 4)


def test_restore_reports_its_engine():
    small = shrink(ImageData(smooth_image(24, 24)))
    result = run_job(Job(small, "irn", 2, {"engine": "bf16"}, "cpu", action="restore"))
    assert result.info["engine"] == "bf16" and result.info["device"] == "CPU (bfloat16)"


def test_sampled_z_is_repeatable_with_a_seed_or_refused_by_a_zero_z_model():
    small = shrink(ImageData(smooth_image(24, 24)))
    if not irn.find_model(2).samples_z:
        with pytest.raises(ValueError, match="z = 0 only"):
            run_job(Job(small, "irn", 2, {"z": "sample"}, "cpu", action="restore", seed=1))
        return
    results = [
        run_job(Job(small, "irn", 2, {"z": z}, "cpu", action="restore", seed=seed)).image.pixels
        for z, seed in (("sample", 1), ("sample", 1), ("zero", 1))
    ]
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.array_equal(results[0], results[2])


def test_progress_reports_each_tile_and_cancel_stops_between_tiles():
    image = ImageData(smooth_image(200, 208))  # LR 100 x 104: 2 x 2 tiles of 96
    updates = []
    run_job(Job(image, "irn", 2, {}, "cpu", action="shrink", tile_size=64), updates.append)
    tile_reports = [u for u in updates if u.stage == "shrink" and u.detail == "tiles"]
    assert len(tile_reports) >= 4  # a 2 x 2 grid at least
    assert [u.fraction for u in tile_reports] == sorted(u.fraction for u in tile_reports)

    cancel = CancelToken()
    seen = []

    def cancel_after_first_tile(update):
        seen.append(update)
        if update.detail == "tiles":
            cancel.cancel()

    with pytest.raises(JobCancelled):
        run_job(
            Job(image, "irn", 2, {}, "cpu", action="shrink", tile_size=64), cancel_after_first_tile, cancel
        )
    assert sum(u.detail == "tiles" for u in seen) == 1


def test_cli_shrink_then_restore(tmp_path):
    source = tmp_path / "in" / "photo.png"
    save_image(ImageData(smooth_image(30, 42)), source)
    assert (
        cli_main(["shrink", str(source), "--scale", "2", "--out-dir", str(tmp_path / "small"), "--quiet"])
        == 0
    )
    small = tmp_path / "small" / "photo.png"
    assert load_image(small).pixels.shape == (15, 21, 3)
    assert cli_main(["restore", str(small), "--out-dir", str(tmp_path / "big"), "--quiet"]) == 0
    assert load_image(tmp_path / "big" / "photo.png").pixels.shape == (30, 42, 3)
    # an ordinary image is refused, with the reason
    assert cli_main(["restore", str(source), "--out-dir", str(tmp_path / "refused"), "--quiet"]) == 1
    assert not (tmp_path / "refused" / "photo.png").exists()


def test_the_lr_check_tells_untouched_re_encoded_different_and_unverified_apart():
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:40, 0:48].astype(np.float32)
    lr = quantize_8bit(np.stack([x / 47, y / 39, 0.5 + 0.2 * np.sin(x / 4)], 2)).astype(np.float32)
    marker = irn.IRNMarker(
        scale=2,
        model_sha256="0" * 64,
        width=96,
        height=80,
        lr_sha256=irn.lr_digest(lr),
        fingerprint=irn.encode_fingerprint(irn.lr_fingerprint(lr)),
    )
    noisy = quantize_8bit(np.clip(lr + rng.normal(0, 2 / 255, lr.shape), 0, 1)).astype(np.float32)

    assert irn.check_lr_against_marker(lr, marker) == irn.LRCheck("untouched")
    re_encoded = irn.check_lr_against_marker(noisy, marker)
    assert re_encoded.state == "re-encoded" and "changed after shrinking" in re_encoded.message
    different = irn.check_lr_against_marker(lr[::-1].copy(), marker)
    assert different.state == "different" and different.message.startswith(irn.NOT_THE_PICTURE)
    old = irn.IRNMarker(scale=2, model_sha256="0" * 64, width=96, height=80)
    assert irn.check_lr_against_marker(noisy, old) == irn.LRCheck("unverified")
    with pytest.raises(ValueError, match="resized after shrinking"):
        irn.check_lr_against_marker(lr[:, :40], marker)
