"""MATLAB rgb2ycbcr luma and 8-bit rounding."""

import numpy as np
import pytest

from enhancer.imaging.colour import quantize_8bit, rgb_to_y


def test_y_range_and_primaries():
    rgb = np.array([[[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]], dtype=np.float32)
    y = rgb_to_y(rgb)
    np.testing.assert_allclose(y[0], [16, 235, 16 + 65.481, 16 + 128.553, 16 + 24.966], atol=1e-4)
    assert y.dtype == np.float64


def test_y_rejects_grey():
    with pytest.raises(ValueError):
        rgb_to_y(np.zeros((4, 4)))


def test_quantize_clips_and_rounds_halves_up():
    x = np.array([-0.2, 0.0, 0.5 / 255, 1.49 / 255, 100.5 / 255, 1.0, 1.3])
    q = quantize_8bit(x)
    np.testing.assert_allclose(q * 255, [0, 0, 1, 1, 101, 255, 255], atol=1e-9)
    assert quantize_8bit(x.astype(np.float32)).dtype == np.float32


def test_quantize_is_idempotent():
    x = np.random.default_rng(0).random((10, 10))
    q = quantize_8bit(x)
    np.testing.assert_array_equal(quantize_8bit(q), q)
