"""Pixel recursive SR networks: causal masks, the incremental sampler equals the full pass, loss, greedy."""

from __future__ import annotations

import pytest
import torch

from enhancer.nets.pixelrsr import (
    IncrementalPrior,
    PixelRecursiveSR,
    draw_levels,
    nll_bits_per_dim,
    sample,
    to_unit_range,
)

LEVELS = 16


def small_model(seed: int = 0) -> PixelRecursiveSR:
    torch.manual_seed(seed)
    return PixelRecursiveSR(prior_layers=3, prior_channels=6, conditioning_channels=6, levels=LEVELS).eval()


def _order(i: int, j: int, c: int, width: int) -> int:
    return (i * width + j) * 3 + c


@pytest.mark.parametrize("position", [(0, 0, 0), (0, 0, 2), (2, 3, 1), (5, 0, 0), (5, 5, 2), (3, 5, 0)])
def test_prior_logits_see_only_earlier_subpixels(position):
    """Raster order, R then G then B in a pixel: zero gradient at and after (i, j, c), some before it."""
    i, j, c = position
    torch.manual_seed(0)
    model = PixelRecursiveSR(prior_layers=3, prior_channels=24, conditioning_channels=6, levels=LEVELS).eval()
    hr = torch.randn(1, 3, 6, 6, requires_grad=True)
    logits = model.prior(hr)
    (grad,) = torch.autograd.grad(logits[0, c, :, i, j].sum(), hr)
    seen = grad[0].abs() > 0
    for ii in range(6):
        for jj in range(6):
            for cc in range(3):
                if _order(ii, jj, cc, 6) >= _order(i, j, c, 6):
                    assert not seen[cc, ii, jj], f"logit {position} sees ({ii}, {jj}, {cc})"
    # ... and does see the sub-pixel just before (an earlier colour of its pixel, or the last of its left one).
    before = (c - 1, i, j) if c > 0 else (2, i, j - 1) if j > 0 else None
    if before is not None:
        assert seen[before], f"logit {position} does not see the sub-pixel just before it"


def test_no_blind_spot_above_and_left():
    """The last pixel of a 5x5 image sees every pixel before it (the gated stacks leave no blind spot)."""
    torch.manual_seed(1)
    model = PixelRecursiveSR(prior_layers=5, prior_channels=6, conditioning_channels=6, levels=LEVELS).eval()
    hr = torch.randn(1, 3, 5, 5, requires_grad=True)
    (grad,) = torch.autograd.grad(model.prior(hr)[0, 0, :, 4, 4].sum(), hr)
    seen = (grad[0].abs() > 0).any(dim=0)
    seen[4, 4] = True
    assert seen.all(), f"blind spot at {(~seen).nonzero().tolist()}"


def test_incremental_prior_equals_full_pass():
    model = small_model().double()
    x = torch.rand(2, 3, 6, 6, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        full = model.prior(x)
        incremental = IncrementalPrior(model.prior, 2, 6, 6, x.device)
        for i in range(6):
            incremental.start_row(i, x)
            for j in range(6):
                for c in range(3):
                    torch.testing.assert_close(incremental.logits(j, c, x[:, :, i, j]), full[:, c, :, i, j])


def test_greedy_sample_is_the_argmax_of_the_model_on_its_own_output():
    model = small_model().double()
    lr = torch.rand(2, 3, 2, 2, dtype=torch.float64) * 2 - 1
    levels = sample(model, lr, 0.0, torch.rand(2, 3, 8, 8, dtype=torch.float64))
    with torch.no_grad():
        full, _ = model(lr, to_unit_range(levels, LEVELS).double())
    assert torch.equal(full.argmax(dim=2), levels)


def test_temperature_zero_is_argmax_and_low_temperature_concentrates():
    logits = torch.tensor([[0.0, 2.0, 1.0, -1.0]]).repeat(2000, 1)
    u = torch.rand(2000)
    assert torch.equal(draw_levels(logits, 0.0, u), torch.ones(2000, dtype=torch.long))
    hot = (draw_levels(logits, 1.0, u) == 1).float().mean()
    cold = (draw_levels(logits, 0.3, u) == 1).float().mean()
    assert 0.5 < hot < 0.75 and cold > 0.95  # softmax([0, 2, 1, -1]) puts 0.64 on level 1


def test_sample_follows_its_noise():
    model = small_model()
    lr = torch.zeros(1, 3, 2, 2)
    u = torch.rand(1, 3, 8, 8)
    a = sample(model, lr, 1.0, u)
    assert torch.equal(a, sample(model, lr, 1.0, u))
    assert not torch.equal(a, sample(model, lr, 1.0, torch.rand(1, 3, 8, 8)))


def test_loss_falls_on_a_few_images():
    torch.manual_seed(0)
    model = PixelRecursiveSR(prior_layers=2, prior_channels=6, conditioning_channels=8, levels=LEVELS)
    hr = torch.randint(0, LEVELS, (4, 3, 8, 8))
    hr[:, 1] = hr[:, 0]  # learnable structure: G copies R
    lr = torch.rand(4, 3, 2, 2) * 2 - 1
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        full, conditioning = model(lr, to_unit_range(hr, LEVELS))
        loss = nll_bits_per_dim(full, hr) + nll_bits_per_dim(conditioning, hr)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]
