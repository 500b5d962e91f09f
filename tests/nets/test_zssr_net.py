"""ZSSR's CNN: residual output, the paper's initialisation, its receptive field and the between-layer hook."""

from __future__ import annotations

import math

import pytest
import torch

from enhancer.nets.zssr_net import HE_INIT_GAIN, PAPER_INIT_VARIANCE, ZSSRNet


def test_output_is_input_plus_residual():
    net = ZSSRNet(channels=3, width=8, depth=4)
    net.reset_parameters(torch.Generator().manual_seed(0))
    x = torch.rand(2, 3, 20, 24)
    with torch.no_grad():
        out = net(x)
        residual = x
        for index, conv in enumerate(net.layers):
            residual = conv(residual)
            if index < len(net.layers) - 1:
                residual = torch.relu(residual)
    assert out.shape == x.shape
    torch.testing.assert_close(out, x + residual)


def test_untrained_net_is_near_identity_and_hidden_layers_are_he_initialised():
    net = ZSSRNet(channels=3, width=64, depth=8)
    net.reset_parameters(torch.Generator().manual_seed(1))
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert float((net(x) - x).abs().mean()) < 0.1  # training starts close to plain bicubic
    hidden, last = net.layers[3], net.layers[-1]
    assert float(hidden.weight.detach().std()) == pytest.approx(math.sqrt(HE_INIT_GAIN / (64 * 9)), rel=0.05)
    assert float(last.weight.detach().std()) == pytest.approx(
        math.sqrt(PAPER_INIT_VARIANCE / (64 * 9)), rel=0.1
    )
    assert float(net.layers[0].weight.detach().std()) == pytest.approx(math.sqrt(HE_INIT_GAIN / 27), rel=0.15)
    assert all(float(conv.bias.detach().abs().max()) == 0.0 for conv in net.layers)


def test_same_generator_seed_gives_same_weights():
    a, b = ZSSRNet(width=8, depth=3), ZSSRNet(width=8, depth=3)
    a.reset_parameters(torch.Generator().manual_seed(5))
    b.reset_parameters(torch.Generator().manual_seed(5))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_receptive_radius_bounds_what_a_pixel_sees():
    net = ZSSRNet(channels=1, width=4, depth=5)
    net.reset_parameters(torch.Generator().manual_seed(2))
    radius = net.receptive_radius
    assert radius == 5
    x = torch.rand(
        1, 1, 32, 32, generator=torch.Generator().manual_seed(0)
    ).requires_grad_()  # seeded: an unseeded draw left every ReLU dead about 1 run in 5
    net(x)[0, 0, 16, 16].backward()
    reach = x.grad[0, 0] != 0
    rows, cols = torch.nonzero(reach, as_tuple=True)
    assert int((rows - 16).abs().max()) <= radius and int((cols - 16).abs().max()) <= radius
    assert int(reach.sum()) > 9  # it does see beyond its immediate neighbours


def test_between_layers_hook_runs_once_per_layer():
    net = ZSSRNet(width=4, depth=6)
    calls = []
    with torch.no_grad():
        net(torch.rand(1, 3, 8, 8), between_layers=lambda: calls.append(1))
    assert len(calls) == 6


def test_depth_below_two_is_refused():
    with pytest.raises(ValueError):
        ZSSRNet(depth=1)
