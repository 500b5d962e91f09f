"""IRN training: a 2-iteration smoke run on a tiny generated dataset, resume, x2 -> x4 seeding, losses."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image

from enhancer.nets.irn import IRN
from enhancer.train.irn_train import (
    TrainConfig,
    find_training_images,
    irn_losses,
    load_initial_weights,
    quantise_straight_through,
    split_validation,
    train,
    validate,
)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_dataset(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "train"
    for source in ("a", "b"):
        (folder / source).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 256, size=(40 + 4 * i, 44, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / source / f"{i}.png")
    return folder


def test_two_iterations_then_resume(tiny_dataset, tmp_path):
    out = tmp_path / "run"
    config = TrainConfig(
        scale=2,
        data=str(tiny_dataset),
        out=str(out),
        iterations=2,
        batch=2,
        patch=16,
        validation_images=2,
        validate_every=2,
        threads=1,
    )
    checkpoint_path = train(config)
    checkpoint = torch.load(checkpoint_path, weights_only=False)
    assert checkpoint["iteration"] == 2 and checkpoint["scale"] == 2
    assert checkpoint["train_seconds"] > 0 and checkpoint["hardware"]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [entry["iteration"] for entry in log] == [2, 2]
    assert all(np.isfinite(entry["val_psnr_y"]) for entry in log)

    config.iterations, config.resume = 3, True
    train(config)
    assert torch.load(checkpoint_path, weights_only=False)["iteration"] == 3


def test_validation_images_are_held_out_from_every_source(tiny_dataset):
    paths = find_training_images(tiny_dataset)
    training, validation = split_validation(paths, 2)
    assert len(validation) == 2 and not set(training) & set(validation)
    assert {p.parent.name for p in validation} == {"a", "b"}


def test_x4_first_level_can_start_from_an_x2_model(tmp_path):
    x2 = IRN(2)
    torch.nn.init.normal_(x2.blocks[0][0].f.convs[-1].weight)
    path = tmp_path / "x2.pt"
    torch.save({"net": x2.state_dict(), "iteration": 5, "scale": 2}, path)
    x4 = IRN(4)
    assert load_initial_weights(x4, path) == 0  # a new model: its iteration count starts again
    torch.testing.assert_close(x4.blocks[0][0].f.convs[-1].weight, x2.blocks[0][0].f.convs[-1].weight)
    assert not x4.blocks[1][0].f.convs[-1].weight.any()


def test_losses_are_finite_and_quantisation_passes_gradients():
    lr = torch.tensor([0.1234, 0.5, 1.2], requires_grad=True)
    quantised = quantise_straight_through(lr)
    assert torch.allclose(quantised * 255, torch.round(quantised * 255))
    quantised.sum().backward()
    assert torch.equal(lr.grad, torch.ones(3))
    losses = irn_losses(IRN(2), torch.rand(2, 3, 16, 16))
    assert set(losses) == {"total", "forward", "backward", "distribution"}
    assert all(torch.isfinite(v) for v in losses.values())


def test_a_jpeg_robust_run_with_a_repair_from_a_plain_checkpoint_exports_its_variant(tiny_dataset, tmp_path):
    from enhancer.train.irn_export import export_irn, load_checkpoint

    plain = TrainConfig(
        scale=2,
        data=str(tiny_dataset),
        out=str(tmp_path / "plain"),
        iterations=1,
        batch=2,
        patch=32,
        validation_images=2,
        validate_every=1,
        threads=1,
    )
    train(plain)
    robust = dataclasses.replace(
        plain,
        out=str(tmp_path / "robust"),
        iterations=3,
        robust="jpeg",
        clean_share=0.0,
        repair=True,
        forward_weight=16.0,
        init=str(tmp_path / "plain" / "latest.pt"),
    )
    train(robust)
    log = [json.loads(line) for line in (tmp_path / "robust" / "log.jsonl").read_text().splitlines()]
    assert log[0]["iteration"] == 1  # carried on from the plain run's iteration count
    assert all(np.isfinite(entry["val_jpeg90_psnr_y"]) for entry in log)
    best = torch.load(tmp_path / "robust" / "best.pt", weights_only=False)
    assert best["best"] == max(entry["val_jpeg90_psnr_y"] for entry in log)
    assert (
        best["train_seconds"]
        > torch.load(tmp_path / "plain" / "latest.pt", weights_only=False)["train_seconds"]
    )
    net, facts = load_checkpoint(tmp_path / "robust" / "latest.pt")
    assert net.repair is not None and facts["recipe"]["robust"] == "jpeg" and facts["recipe"]["repair"]
    assert any(float(p.abs().sum()) > 0 for p in net.repair.convs[-1].parameters())  # it trained
    entries = export_irn(net, tmp_path / "models", training=facts, variant="jpeg")
    assert {e["file"] for e in entries} == {"irn_x2_jpeg_down.onnx", "irn_x2_jpeg_up.onnx"}
    assert all(e["repair"] and e["variant"] == "jpeg" for e in entries)


def test_validation_scores_a_sampled_z_repeatably_without_touching_the_training_rng():
    net = IRN(2)
    torch.nn.init.normal_(net.blocks[0][0].f.convs[-1].weight, std=0.05)  # z matters to the restore
    crops = [np.random.default_rng(i).random((32, 32, 3), dtype=np.float32) for i in range(2)]
    torch.manual_seed(7)
    first = validate(net, crops, torch.device("cpu"))
    after_first = torch.rand(1)
    torch.manual_seed(7)
    second = validate(net, crops, torch.device("cpu"))
    assert torch.equal(torch.rand(1), after_first)  # validation drew its z from its own seed
    assert first == second
    assert first["val_sample_psnr_y"] < first["val_psnr_y"]  # an untrained net: a random z hurts


def test_init_repair_takes_the_repair_from_another_robust_checkpoint(tmp_path):
    from enhancer.train.irn_train import load_repair_weights

    donor = IRN(2, repair=True)
    for parameter in donor.repair.parameters():
        torch.nn.init.normal_(parameter)
    torch.save({"net": donor.state_dict()}, tmp_path / "robust.pt")
    net = IRN(2, repair=True)
    load_repair_weights(net, tmp_path / "robust.pt")
    for mine, theirs in zip(net.repair.parameters(), donor.repair.parameters(), strict=True):
        assert torch.equal(mine, theirs)
    assert not torch.equal(net.blocks[0][0].f.convs[0].weight, donor.blocks[0][0].f.convs[0].weight)
    torch.save({"net": IRN(2).state_dict()}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="no JPEGRepair"):
        load_repair_weights(net, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="needs --repair"):
        load_repair_weights(IRN(2), tmp_path / "robust.pt")
