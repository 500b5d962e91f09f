"""PSNR-Y and SSIM-Y as the evaluation protocol defines them."""

import math

import numpy as np
import pytest

from enhancer.imaging.metrics import psnr_y, score, ssim_y


def _image(seed: int = 0, shape=(32, 40, 3)) -> np.ndarray:
    return np.random.default_rng(seed).random(shape)


def test_identical_images():
    image = _image()
    assert psnr_y(image, image, 2) == math.inf
    assert ssim_y(image, image, 2) == pytest.approx(1.0)


def test_differences_below_8bit_rounding_vanish():
    image = np.round(_image() * 255) / 255
    assert psnr_y(image + 0.3 / 255, image, 0) == math.inf


def test_known_offset():
    # Grey RGB (R = G = B) shifted by 1 level changes Y by (65.481 + 128.553 + 24.966) / 255 = 219 / 255.
    grey = np.full((20, 20, 3), 100 / 255)
    shifted = grey + 1 / 255
    expected = 10 * math.log10(255**2 / (219 / 255) ** 2)
    assert psnr_y(shifted, grey, 4) == pytest.approx(expected, abs=1e-9)


def test_grey_scores_the_channel_directly():
    grey = np.full((20, 20), 100 / 255)
    shifted = grey + 2 / 255
    expected = 10 * math.log10(255**2 / 4)
    assert psnr_y(shifted, grey, 1, grey=True) == pytest.approx(expected)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    assert psnr_y(rgb + 2 / 255, rgb, 1, grey=True) == pytest.approx(expected)


def test_border_is_excluded():
    reference = _image()
    output = reference.copy()
    output[:3] = 0
    output[:, -3:] = 1
    assert psnr_y(output, reference, 3) == math.inf
    assert psnr_y(output, reference, 2) < 40
    assert ssim_y(output, reference, 3) == pytest.approx(1.0)


def test_ssim_drops_with_noise_and_score_pairs_both():
    reference = _image()
    noisy = np.clip(reference + np.random.default_rng(1).normal(0, 0.05, reference.shape), 0, 1)
    result = score(noisy, reference, 2)
    assert result.psnr == pytest.approx(psnr_y(noisy, reference, 2))
    assert result.ssim == pytest.approx(ssim_y(noisy, reference, 2))
    assert 0 < result.ssim < 0.99
    psnr, ssim = result
    assert (psnr, ssim) == (result.psnr, result.ssim)


def test_shape_mismatch_and_bad_border():
    with pytest.raises(ValueError):
        psnr_y(_image(shape=(10, 10, 3)), _image(shape=(10, 12, 3)), 0)
    with pytest.raises(ValueError):
        psnr_y(_image(shape=(10, 10, 3)), _image(shape=(10, 10, 3)), 5)
