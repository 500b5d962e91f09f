"""A user's model is a method like the built-ins: registry, CLI, tiled runs, grey and alpha, out of memory."""

from __future__ import annotations

import numpy as np
import pytest

from enhancer.cli import main
from enhancer.imaging.image import ImageData
from enhancer.imaging.io import load_image, save_image
from enhancer.methods import user_model
from enhancer.methods.registry import all_methods, get_method
from enhancer.runtime.model_library import USER_MODELS_ENV, ModelLibrary
from enhancer.runtime.runner import Job, run_job
from tests.user_model_fixtures import save_model, tiny_model


@pytest.fixture
def models_folder(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    monkeypatch.setenv(USER_MODELS_ENV, str(folder))
    yield folder
    monkeypatch.delenv(USER_MODELS_ENV)
    user_model.register_user_models()


def _photo(h: int = 40, w: int = 56, channels: int = 3) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    planes = [0.5 + 0.4 * np.sin(x / 3 + c) * np.cos(y / 5 - c) for c in range(channels)]
    return np.stack(planes, axis=2).astype(np.float32)


def test_an_added_model_is_a_method_in_the_registry_and_the_cli(models_folder, tmp_path, capsys):
    source = save_model(tiny_model("compact"), tmp_path / "compact_x4.pth")
    assert main(["models", "add", str(source), "--name", "Compact x4"]) == 0
    assert "as method model:Compact x4" in capsys.readouterr().out
    assert get_method("model:Compact x4").scales == (4,)
    assert "model:Compact x4" in [m.id for m in all_methods()]
    assert main(["methods"]) == 0 and "model:Compact x4" in capsys.readouterr().out
    photo = tmp_path / "photo.png"
    save_image(ImageData(_photo()), photo)
    out = tmp_path / "out"
    assert (
        main(["upscale", str(photo), "--method", "model:Compact x4", "--scale", "4", "--out-dir", str(out)])
        == 0
    )
    result = load_image(next(out.glob("*.png")))
    assert (result.width, result.height) == (224, 160)
    assert main(["models", "list"]) == 0 and "model:Compact x4" in capsys.readouterr().out
    assert main(["models", "remove", "Compact x4"]) == 0
    with pytest.raises(KeyError):
        get_method("model:Compact x4")


def test_bad_model_file_is_one_line_from_the_cli(models_folder, tmp_path, capsys):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00" * 10)
    assert main(["models", "add", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a readable safetensors file" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("engine", ["onnx", "torch"])
def test_tiled_equals_whole_for_a_convolutional_model(models_folder, tmp_path, engine):
    entry = ModelLibrary().add(save_model(tiny_model("esrgan"), tmp_path / "e.pth"))
    user_model.register_user_models()
    image = ImageData(_photo(72, 88))
    whole = run_job(Job(image, entry.method_id, 4, {"model_tile": 256, "engine": engine}, "cpu"))
    tiled = run_job(Job(image, entry.method_id, 4, {"model_tile": 48, "engine": engine}, "cpu"))
    assert whole.info["engine"] == engine and whole.info["precision"] == "float32"
    assert np.abs(whole.image.pixels - tiled.image.pixels).max() <= 1 / 255


def test_onnx_and_torch_agree_through_the_method(models_folder, tmp_path):
    entry = ModelLibrary().add(save_model(tiny_model("swinir"), tmp_path / "s.pth"))
    user_model.register_user_models()
    image = ImageData(_photo(32, 32))
    by_onnx = run_job(Job(image, entry.method_id, 2, {"engine": "onnx"}, "cpu"))
    by_torch = run_job(Job(image, entry.method_id, 2, {"engine": "torch"}, "cpu"))
    assert np.abs(by_onnx.image.pixels - by_torch.image.pixels).max() <= 1e-3


def test_grey_stays_grey_and_alpha_is_kept(models_folder, tmp_path):
    entry = ModelLibrary().add(save_model(tiny_model("compact"), tmp_path / "c.pth"))
    user_model.register_user_models()
    grey = _photo(24, 24, 1).repeat(3, axis=2)
    alpha = np.linspace(0, 1, 24 * 24, dtype=np.float32).reshape(24, 24)
    result = run_job(Job(ImageData(grey, alpha=alpha, grey=True), entry.method_id, 4, {}, "cpu"))
    pixels = result.image.pixels
    assert pixels.shape == (96, 96, 3) and np.array_equal(pixels[..., 0], pixels[..., 2])
    assert result.image.alpha is not None and result.image.alpha.shape == (96, 96)


def test_out_of_memory_halves_the_tile_and_goes_on(models_folder, tmp_path, monkeypatch):
    entry = ModelLibrary().add(save_model(tiny_model("compact"), tmp_path / "c.pth"))
    user_model.register_user_models()
    real_call = user_model._Runner.__call__

    def tight_memory(self, tile):
        if max(tile.shape[:2]) > 80:
            raise user_model._OutOfMemory("CUDA out of memory")
        return real_call(self, tile)

    monkeypatch.setattr(user_model._Runner, "__call__", tight_memory)
    result = run_job(Job(ImageData(_photo(120, 120)), entry.method_id, 4, {"model_tile": 256}, "cpu"))
    assert result.image.pixels.shape == (480, 480, 3)
    assert "tile halved to 64 px" in result.info["notice"]


def test_the_tile_size_is_chosen_from_free_memory_and_said(models_folder, tmp_path):
    entry = ModelLibrary().add(save_model(tiny_model("compact"), tmp_path / "c.pth"))
    user_model.register_user_models()
    result = run_job(Job(ImageData(_photo()), entry.method_id, 4, {}, "cpu"))
    assert "GB free" in result.info["tile"]


def test_bench_measures_a_user_model_like_any_method(models_folder, tmp_path, capsys):
    from enhancer.imaging.resize import imresize

    ModelLibrary().add(save_model(tiny_model("compact"), tmp_path / "c.pth"), name="compact")
    user_model.register_user_models()
    dataset = tmp_path / "set"
    hr = _photo(64, 64)
    save_image(ImageData(hr), dataset / "a.png")
    assert imresize(hr, scale=0.25).shape == (16, 16, 3)
    report = tmp_path / "r.json"
    code = main(
        [
            "bench",
            "--method",
            "model:compact",
            "--scale",
            "4",
            "--dataset",
            str(dataset),
            "--json",
            str(report),
        ]
    )
    assert code == 0 and report.exists()
    assert "model:compact" in report.read_text()
