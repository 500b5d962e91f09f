"""Tiled equals untiled processing; progress is reported, cancel honoured, tiles sized for a budget."""

from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

from enhancer.imaging.resize import imresize
from enhancer.imaging.tiling import MIN_TILE, run_tiled, tile_size_for_budget


def _net(scale: int) -> nn.Module:
    """Three 3x3 convolutions (receptive-field radius 3), then pixel shuffle when enlarging."""
    torch.manual_seed(0)
    out_channels = 3 * scale * scale
    layers: list[nn.Module] = [
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, out_channels, 3, padding=1),
    ]
    if scale > 1:
        layers.append(nn.PixelShuffle(scale))
    return nn.Sequential(*layers).eval()


def _as_fn(net: nn.Module):
    def fn(tile: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(tile, dtype=np.float32)).permute(2, 0, 1)[None]
            return net(x)[0].permute(1, 2, 0).numpy()

    return fn


@pytest.mark.parametrize("scale", [1, 2])
def test_tiled_equals_untiled(scale):
    image = np.random.default_rng(0).random((150, 97, 3)).astype(np.float32)
    fn = _as_fn(_net(scale))
    calls = []
    fractions = []

    def counting(tile):
        calls.append(tile.shape)
        assert tile.shape[0] <= 64 and tile.shape[1] <= 64
        return fn(tile)

    tiled = run_tiled(image, counting, scale=scale, tile=64, overlap=8, progress=fractions.append)
    untiled = fn(image)
    assert tiled.shape == untiled.shape == (150 * scale, 97 * scale, 3)
    assert tiled.dtype == np.float32
    np.testing.assert_allclose(tiled, untiled, atol=1e-4)
    assert len(calls) >= 6
    assert len({shape[0] for shape in calls}) > 1 and len({shape[1] for shape in calls}) > 1
    assert fractions[-1] == pytest.approx(1.0) and fractions == sorted(fractions)


def test_hard_core_edges_are_exact_too():
    image = np.random.default_rng(1).random((70, 90, 3)).astype(np.float32)
    fn = _as_fn(_net(1))
    tiled = run_tiled(image, fn, tile=32, overlap=4, feather=0)
    np.testing.assert_allclose(tiled, fn(image), atol=1e-4)


def test_small_image_is_one_call():
    image = np.random.default_rng(2).random((20, 30))
    calls = []

    def enlarge(tile):
        calls.append(tile.shape)
        return np.repeat(np.repeat(tile, 2, axis=0), 2, axis=1)

    out = run_tiled(image, enlarge, scale=2, tile=64, overlap=8)
    assert calls == [(20, 30)]
    assert out.shape == (40, 60)
    np.testing.assert_allclose(out, enlarge(image), atol=1e-6)


def test_channel_count_may_change_and_blend_is_seamless():
    # A pointwise fn has no receptive field, so any blend must reproduce it; the output gains a channel.
    image = np.random.default_rng(3).random((100, 80, 3)).astype(np.float32)

    def fn(tile):
        return np.concatenate([tile, tile.mean(axis=2, keepdims=True)], axis=2)

    out = run_tiled(image, fn, tile=40, overlap=10, feather=10)
    np.testing.assert_allclose(out, fn(image), atol=1e-5)


def test_progress_can_cancel():
    image = np.zeros((100, 100, 3), dtype=np.float32)
    calls = []

    def fn(tile):
        calls.append(1)
        return tile

    def cancel(fraction):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_tiled(image, fn, tile=40, overlap=4, progress=cancel)
    assert len(calls) == 1


def test_wrong_output_shape_is_reported():
    with pytest.raises(ValueError, match="fn returned"):
        run_tiled(np.zeros((10, 10, 3)), lambda tile: tile, scale=2)
    with pytest.raises(ValueError):
        run_tiled(np.zeros((10, 10, 3)), lambda tile: tile, tile=16, overlap=8)


def test_tile_size_for_budget():
    # 1 GiB at 1 KiB per output pixel: 1024 x 1024 output pixels, so 512 input pixels at x2.
    assert tile_size_for_budget(1024, 1 << 30, 2) == 512
    assert tile_size_for_budget(1024, 1 << 30, 4) == 256
    assert tile_size_for_budget(1e6, 1000, 4) == MIN_TILE
    with pytest.raises(ValueError):
        tile_size_for_budget(0, 100, 2)


def test_rational_scale_tiles_land_on_whole_output_pixels():
    """x3/2 (ZSSR's gradual steps): tiles cut at even input pixels give the untiled bicubic enlargement."""
    rng = np.random.default_rng(4)
    image = rng.random((60, 94, 3)).astype(np.float32)

    def enlarge(tile: np.ndarray) -> np.ndarray:
        return imresize(tile, output_shape=(tile.shape[0] * 3 // 2, tile.shape[1] * 3 // 2))

    whole = enlarge(image)
    tiled = run_tiled(image, enlarge, scale=Fraction(3, 2), tile=32, overlap=7)
    assert tiled.shape == whole.shape == (90, 141, 3)
    assert np.abs(tiled - whole).max() < 1e-5
    with pytest.raises(ValueError, match="whole pixels"):
        run_tiled(image[:59], enlarge, scale=Fraction(3, 2), tile=32, overlap=7)
