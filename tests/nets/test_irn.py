"""IRN network: Haar transform, exact invertibility, sizes, and agreement of the exported ONNX graphs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from enhancer.nets.irn import IRN, DenseBlock, haar_forward, haar_inverse, z_channels


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Small tensors run far faster on one thread than on a shared, busy multi-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def perturbed_irn(scale: int, blocks: int = 8, seed: int = 0) -> IRN:
    """An IRN whose blocks are not the identity (the last conv of each dense block starts at zero)."""
    torch.manual_seed(seed)
    net = IRN(scale, blocks_per_level=blocks).eval()
    for module in net.modules():
        if isinstance(module, DenseBlock):
            torch.nn.init.normal_(module.convs[-1].weight, 0.0, 0.02)
            torch.nn.init.normal_(module.convs[-1].bias, 0.0, 0.02)
    return net


def test_haar_low_band_is_the_block_mean_and_inverse_is_exact():
    x = torch.rand(2, 3, 6, 8, dtype=torch.float64)
    y = haar_forward(x)
    assert y.shape == (2, 12, 3, 4)
    expected_mean = x.reshape(2, 3, 3, 2, 4, 2).mean(dim=(3, 5))
    torch.testing.assert_close(y[:, :3], expected_mean)
    torch.testing.assert_close(haar_inverse(y), x)


@pytest.mark.parametrize("scale", [2, 4])
def test_inverse_of_forward_is_identity(scale):
    net = perturbed_irn(scale)
    x = torch.rand(2, 3, 8 * scale, 12 * scale)
    with torch.no_grad():
        y = net(x)
        assert y.shape == (2, 3 + z_channels(scale), 8, 12)
        block_means = torch.nn.functional.avg_pool2d(x, scale)
        assert not torch.allclose(y[:, :3], block_means, atol=1e-3)  # the blocks really act
        restored = net.inverse(y)
    assert (restored - x).abs().max().item() < 1e-5


def test_parameter_counts_match_the_paper():
    counts = {s: sum(p.numel() for p in IRN(s).parameters()) for s in (2, 4)}
    assert abs(counts[2] - 1.66e6) < 0.01e6
    assert abs(counts[4] - 4.35e6) < 0.01e6


def test_fresh_network_is_haar():
    """Zero-initialised last convolutions make every block the identity: LR = 2x2 means."""
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        y = IRN(2)(x)
    torch.testing.assert_close(y, haar_forward(x))


def _shipped(scale: int):
    """The shipped standard model of ``scale`` as the app finds it, or None."""
    from enhancer.methods.irn import find_model

    try:
        return find_model(scale)
    except ValueError:
        return None


@pytest.mark.parametrize("scale", [2, 4])
def test_onnx_graphs_agree_with_torch(scale, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    from enhancer.nets.irn import state_dict_from_onnx
    from enhancer.train.irn_export import export_irn, model_file

    shipped = _shipped(scale)
    if shipped is not None:
        shrink_path, restore_path = shipped.shrink_path, shipped.restore_path
        net = IRN(scale).eval()
        state, _ = state_dict_from_onnx(restore_path)
        net.load_state_dict(state)
    else:  # no shipped model: export a small random one
        net = perturbed_irn(scale, blocks=2)
        export_irn(net, tmp_path, training={"iterations": 0})
        shrink_path, restore_path = (
            tmp_path / model_file(scale, "shrink"),
            tmp_path / model_file(scale, "restore"),
        )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    down = onnxruntime.InferenceSession(str(shrink_path), options, providers=["CPUExecutionProvider"])
    up = onnxruntime.InferenceSession(str(restore_path), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    hr = rng.random((1, 3, 12 * scale, 10 * scale), dtype=np.float32)  # not square: checks dynamic axes
    z = rng.standard_normal((1, z_channels(scale), 12, 10), dtype=np.float32)
    with torch.no_grad():
        lr_torch = net(torch.from_numpy(hr))[:, :3]
    lr_onnx = down.run(None, {"hr": hr})[0]
    assert np.abs(lr_onnx - lr_torch.numpy()).max() < 1e-4
    # z = 0 is the app's default restore; a random z checks the z path too. Models trained for z = 0 blow a
    # random z up to large values (thousands at x4, through 16 couplings), so that case is compared relative
    # to the output's size and with float32's rounding grown along the way.
    for z_case, tolerance in ((np.zeros_like(z), 1e-4), (z, 2e-3)):
        with torch.no_grad():
            hr_torch = net.inverse(torch.cat([lr_torch, torch.from_numpy(z_case)], dim=1)).numpy()
        hr_onnx = up.run(None, {"lr": lr_torch.numpy(), "z": z_case})[0]
        assert (np.abs(hr_onnx - hr_torch) / np.maximum(1.0, np.abs(hr_torch))).max() < tolerance


def test_both_graphs_share_one_weights_file(tmp_path):
    from enhancer.nets.irn import state_dict_from_onnx
    from enhancer.train.irn_export import export_irn, read_manifest

    net = perturbed_irn(2, blocks=1)
    export_irn(net, tmp_path, training={"iterations": 7})
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["irn_x2.weights", "irn_x2_down.onnx", "irn_x2_up.onnx", "manifest.json"]
    parameter_bytes = sum(p.numel() * 4 for p in net.parameters())
    assert (tmp_path / "irn_x2.weights").stat().st_size < parameter_bytes * 1.05
    entries = read_manifest(tmp_path)["models"]
    assert {e["direction"] for e in entries} == {"shrink", "restore"}
    assert all(e["external_data"] == "irn_x2.weights" and e["training"]["iterations"] == 7 for e in entries)
    state, iterations = state_dict_from_onnx(tmp_path / "irn_x2_down.onnx")
    assert iterations == 7
    for key, value in net.state_dict().items():
        torch.testing.assert_close(state[key], value)
    export_irn(net, tmp_path, training={"iterations": 8})  # re-export replaces, not adds
    assert len(list(tmp_path.iterdir())) == 4
    assert len(read_manifest(tmp_path)["models"]) == 2


def test_bfloat16_inference_is_the_same_network_within_bfloat16_rounding():
    from enhancer.nets.irn import BFloat16DenseBlock, bfloat16_inference

    net = perturbed_irn(4, blocks=2).eval()
    fast = bfloat16_inference(net)
    assert all(isinstance(block.f, BFloat16DenseBlock) for level in fast.blocks for block in level)
    assert not any(isinstance(block.f, BFloat16DenseBlock) for level in net.blocks for block in level)
    hr = torch.rand(1, 3, 32, 48)
    with torch.inference_mode():
        y, y_fast = net(hr), fast(hr)
        assert y_fast.dtype == torch.float32 and y_fast.shape == y.shape
        assert (y_fast - y).abs().max() < 0.02
        back = fast.inverse(y)
    assert (back - hr).abs().max() < 0.02  # the couplings stay float32: still (almost) exactly invertible


def test_int8_dense_block_computes_the_float_block_within_int8_rounding():
    from enhancer.nets.irn import Int8DenseBlock

    torch.manual_seed(3)
    block = DenseBlock(3, 9).eval()
    torch.nn.init.normal_(block.convs[-1].weight, 0.0, 0.05)
    x = torch.rand(1, 3, 24, 40) * 0.8 - 0.1
    with torch.inference_mode():
        features = [x]
        for conv in block.convs[:-1]:
            features.append(F.leaky_relu(conv(torch.cat(features, 1)), 0.2))
        reference = block(x)
    scales = [float(f.abs().max()) / 127 for f in features]
    for bfloat16_last in (False, True):
        fast = Int8DenseBlock(block, scales, bfloat16_last=bfloat16_last)
        with torch.inference_mode():
            out = fast(x)
        assert out.dtype == torch.float32 and out.shape == reference.shape
        error = (out - reference).abs().max() / reference.abs().max()
        assert 0 < error < 0.03, bfloat16_last  # int8 levels: close, not bit-equal
    with pytest.raises(ValueError, match="5 int8 scales"):
        Int8DenseBlock(block, scales[:4])


def test_int8_inference_from_its_calibration_keeps_the_round_trip():
    from enhancer.nets.irn import Int8DenseBlock, int8_calibration, int8_inference

    net = perturbed_irn(4, blocks=2).eval()
    images = [torch.rand(1, 3, 32, 48), torch.rand(1, 3, 16, 16)]
    scales = int8_calibration(net, images)
    assert set(scales) == {"shrink", "restore"}
    keys = {f"blocks.{i}.{j}.{n}" for i in range(2) for j in range(2) for n in "fgh"}
    for direction in scales.values():
        assert set(direction) == keys
        assert all(len(v) == 5 and all(s > 0 for s in v) for v in direction.values())
    down, up = int8_inference(net, scales["shrink"]), int8_inference(net, scales["restore"])
    assert all(isinstance(b.g, Int8DenseBlock) and b.g.bfloat16_last for level in up.blocks for b in level)
    assert not any(isinstance(b.f, Int8DenseBlock) for level in net.blocks for b in level)
    hr = images[0]
    with torch.inference_mode():
        y, y_fast = net(hr), down(hr)
        assert (y_fast - y).abs().max() < 0.02
        lr = torch.round(y[:, :3].clamp(0, 1) * 255) / 255
        exact = net.inverse(torch.cat([lr, torch.zeros_like(y[:, 3:])], 1))
        fast = up.inverse(torch.cat([lr, torch.zeros_like(y[:, 3:])], 1))
    assert (fast - exact).abs().mean() < 0.5 / 255
    with pytest.raises(ValueError, match=r"no scales for blocks\.0\.0\.f"):
        int8_inference(net, {})
