"""int8 calibration of an exported IRN: its file, the manifest, and a superseded model keeping its own."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from enhancer.nets.irn import IRN, DenseBlock
from enhancer.train.irn_export import export_irn, keep_previous, read_manifest
from enhancer.train.irn_int8 import CALIBRATION_FOLDER, CALIBRATION_IMAGES, calibrate, calibration_images


def _small_irn(seed: int) -> IRN:
    torch.manual_seed(seed)
    net = IRN(2, blocks_per_level=1)
    for module in net.modules():
        if isinstance(module, DenseBlock):
            torch.nn.init.normal_(module.convs[-1].weight, 0.0, 0.02)
    return net.eval()


@pytest.fixture
def training_images(tmp_path):
    folder = tmp_path / "train" / CALIBRATION_FOLDER
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(CALIBRATION_IMAGES):
        Image.fromarray(rng.integers(0, 256, (200, 210, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    return tmp_path / "train"


def test_calibration_images_are_centre_crops_of_the_first_images(training_images):
    crops = calibration_images(training_images / CALIBRATION_FOLDER, 4, count=3, crop=50)
    assert [tuple(c.shape) for c in crops] == [(1, 3, 48, 48)] * 3  # a multiple of the scale
    with Image.open(training_images / CALIBRATION_FOLDER / "00.png") as first:
        expected = np.asarray(first, dtype=np.float32)[76:124, 81:129] / 255
    np.testing.assert_allclose(crops[0][0].numpy().transpose(1, 2, 0), expected)
    with pytest.raises(ValueError, match="calibration needs 99"):
        calibration_images(training_images / CALIBRATION_FOLDER, 4, count=99)


def test_calibrate_writes_scales_for_the_weights_and_names_them_in_the_manifest(tmp_path, training_images):
    models = tmp_path / "models"
    export_irn(_small_irn(1), models, training={"iterations": 1})
    path = calibrate(models, 2, "standard", training_images)
    facts = json.loads(path.read_text())
    entries = read_manifest(models)["models"]
    assert path.name == "irn_x2.int8.json"
    assert {e["int8_calibration"] for e in entries} == {path.name}
    assert facts["weights_sha256"] == entries[0]["external_data_sha256"]
    for direction in ("shrink", "restore"):
        assert set(facts[direction]) == {"blocks.0.0.f", "blocks.0.0.g", "blocks.0.0.h"}
        assert all(len(v) == 5 and min(v) > 0 for v in facts[direction].values())
    # Replaced with --keep-previous: the old model keeps its own scales under its own name.
    keep_previous(models, 2)
    export_irn(_small_irn(2), models, training={"iterations": 2})
    old = [e for e in read_manifest(models)["models"] if e.get("superseded")]
    new = [e for e in read_manifest(models)["models"] if not e.get("superseded")]
    assert {e["int8_calibration"] for e in old} == {f"irn_x2-{facts['weights_sha256'][:8]}.int8.json"}
    assert json.loads((models / old[0]["int8_calibration"]).read_text()) == facts
    assert not any("int8_calibration" in e for e in new)  # a new model is calibrated anew
    with pytest.raises(ValueError, match="no current IRN x4"):
        calibrate(models, 4, "standard", training_images)
