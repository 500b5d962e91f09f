"""The user's model folder: add, list, info and remove, with a manifest that never lies."""

from __future__ import annotations

import json

import pytest

from enhancer.nets.user_models import ModelFileError
from enhancer.runtime.model_library import ModelLibrary
from tests.user_model_fixtures import save_model, tiny_model


def test_add_list_info_remove_round_trip(tmp_path):
    source = save_model(tiny_model("esrgan"), tmp_path / "RealESRGAN_x4plus.pth")
    library = ModelLibrary(tmp_path / "models")
    entry = library.add(source)
    assert entry.name == "RealESRGAN_x4plus" and entry.method_id == "model:RealESRGAN_x4plus"
    assert (entry.architecture, entry.scale, entry.size_bytes) == ("ESRGAN", 4, source.stat().st_size)
    assert library.model_path(entry).read_bytes() == source.read_bytes()  # a copy: the user's file may move
    manifest = json.loads(library.manifest_path.read_text())
    assert manifest["models"][0]["sha256"] == entry.sha256 and manifest["models"][0]["source"] == str(source)
    assert [e.name for e in ModelLibrary(tmp_path / "models").entries()] == ["RealESRGAN_x4plus"]
    assert "onnxruntime" in library.info("RealESRGAN_x4plus")["runs_with"]
    with pytest.raises(ValueError, match="already added"):
        library.add(source, name="again")
    library.remove("model:RealESRGAN_x4plus")
    assert library.entries() == [] and not library.model_path(entry).exists()
    with pytest.raises(KeyError, match="no model named"):
        library.info("RealESRGAN_x4plus")


def test_a_refused_file_leaves_the_folder_untouched(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_text("no")
    library = ModelLibrary(tmp_path / "models")
    with pytest.raises(ModelFileError):
        library.add(bad)
    assert not library.folder.exists() or not any(library.folder.iterdir())


def test_names_are_checked_and_kept_apart(tmp_path):
    library = ModelLibrary(tmp_path / "models")
    library.add(save_model(tiny_model("compact", seed=1), tmp_path / "a.pth"), name="Compact x4")
    with pytest.raises(ValueError, match="exists already"):
        library.add(save_model(tiny_model("compact", seed=2), tmp_path / "b.pth"), name="Compact x4")
    with pytest.raises(ValueError, match="a model name is"):
        library.add(save_model(tiny_model("compact", seed=3), tmp_path / "c.pth"), name="../evil")
