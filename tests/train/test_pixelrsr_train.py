"""Pixel recursive SR training: the person split, the LR protocol, a short run that resumes and exports."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from enhancer.imaging.resize import imresize
from enhancer.train import pixelrsr_export, pixelrsr_train
from enhancer.train.pixelrsr_train import DEFAULT_FACES, TrainConfig, face_split, person_of


def _faces_folder(tmp_path, people: int = 40):
    rng = np.random.default_rng(0)
    folder = tmp_path / "faces"
    folder.mkdir()
    for p in range(people):
        for k in range(1 + p % 2):
            array = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(array).save(folder / f"Person_{p:03d}_{k + 1:04d}.png")
    return folder


def test_split_keeps_people_apart(tmp_path):
    splits = face_split(_faces_folder(tmp_path))
    people = {name: {person_of(p) for p in paths} for name, paths in splits.items()}
    assert people["train"].isdisjoint(people["test"]) and people["train"].isdisjoint(people["validation"])
    assert people["validation"].isdisjoint(people["test"])
    assert sum(map(len, splits.values())) == 60


@pytest.mark.skipif(not DEFAULT_FACES.is_dir(), reason="../shared/datasets/faces/LFW is absent")
def test_lfw_test_split_is_large_enough():
    splits = face_split()
    assert len(splits["test"]) >= 400 and len(splits["validation"]) >= 400


def test_lr_is_matlab_bicubic_rounded_to_8_bits():
    hr = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    lr = pixelrsr_train.bicubic_lr(hr)
    expected = imresize(hr[1].astype(np.float64) / 255.0, output_shape=(8, 8))
    np.testing.assert_array_equal(lr[1], np.clip(np.round(expected * 255), 0, 255).astype(np.uint8))


def test_short_run_resumes_and_exports(tmp_path):
    folder = _faces_folder(tmp_path)
    config = TrainConfig(
        out=str(tmp_path / "run"), faces=str(folder), iterations=4, batch=4, validate_every=2
    )
    config.model.update(prior_layers=2, prior_channels=6, conditioning_channels=6, levels=16)
    pixelrsr_train.train(config)
    config.iterations = 6
    pixelrsr_train.train(config, resume=True)
    checkpoint = torch.load(tmp_path / "run" / "latest.pt", weights_only=False)
    assert checkpoint["state"]["iteration"] == 6 and len(checkpoint["state"]["history"]) == 3
    models = tmp_path / "models"
    pixelrsr_export.main(["--checkpoint", str(tmp_path / "run" / "best.pt"), "--models-dir", str(models)])
    entry = json.loads((models / "manifest.json").read_text())["models"][0]
    assert entry["method"] == "pixelrsr" and entry["config"]["levels"] == 16
    assert entry["training"]["iterations"] in (2, 4, 6)


def test_l2_baseline_trains_the_conditioning_net_alone(tmp_path):
    folder = _faces_folder(tmp_path)
    config = TrainConfig(out=str(tmp_path / "l2"), faces=str(folder), objective="l2", iterations=2, batch=4)
    config.model.update(conditioning_channels=6)
    config.validate_every = 2
    pixelrsr_train.train(config)
    checkpoint = torch.load(tmp_path / "l2" / "best.pt", weights_only=False)
    assert "mse" in checkpoint["state"]["history"][0]["validation"]
