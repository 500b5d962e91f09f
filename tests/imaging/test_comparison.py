"""Difference and SSIM maps, edges and region numbers: zero / one for identical images, the benchmark's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from enhancer.imaging import comparison
from enhancer.imaging.metrics import score


def _pair(h: int = 300, w: int = 200):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    reference = np.stack([0.5 + 0.4 * np.sin(x / (5 + c)) * np.cos(y / 7) for c in range(3)], 2)
    output = np.clip(reference + 0.03 * rng.standard_normal(reference.shape), 0, 1).astype(np.float32)
    return output, reference.astype(np.float32)


def test_an_image_against_itself_has_a_zero_difference_and_an_ssim_of_one():
    _, reference = _pair()
    difference = comparison.difference_map(reference, reference, gain=16)
    assert (difference == comparison.colour_map(np.zeros(1))[0]).all()
    assert np.allclose(comparison.ssim_map(reference, reference), 1.0, atol=1e-6)
    assert comparison.describe(comparison.compare_scores(reference, reference, 2)).startswith(
        "∞ dB · SSIM 1.000"
    )


def test_the_strips_add_up_to_the_whole_image_ssim_map():
    from skimage.metrics import structural_similarity

    from enhancer.imaging.metrics import PSNR_PEAK, SSIM_K1, SSIM_K2, SSIM_SIGMA, luma_levels

    output, reference = _pair(700, 90)  # three strips
    _mean, whole = structural_similarity(
        luma_levels(output, False), luma_levels(reference, False), gaussian_weights=True, sigma=SSIM_SIGMA,
        use_sample_covariance=False, data_range=PSNR_PEAK, K1=SSIM_K1, K2=SSIM_K2, full=True,
    )  # fmt: skip
    np.testing.assert_allclose(comparison.ssim_map(output, reference), whole, atol=1e-5)


def test_the_numbers_are_the_benchmark_s_and_regions_are_scored_alone():
    output, reference = _pair()
    assert comparison.compare_scores(output, reference, 2) == score(output, reference, 2)
    box = (10, 20, 110, 220)
    expected = score(output[20:220, 10:110], reference[20:220, 10:110], 0)
    assert comparison.region_scores(output, reference, box) == expected
    assert comparison.region_scores(output, reference, (0, 0, 3, 3)) is None


def test_the_difference_grows_with_the_gain_and_sizes_must_match():
    output, reference = _pair(40, 40)
    dim = comparison.difference_map(output, reference, gain=1).astype(int).sum()
    bright = comparison.difference_map(output, reference, gain=16).astype(int).sum()
    assert bright > dim
    with pytest.raises(ValueError, match="sizes differ"):
        comparison.difference_map(output, reference[:20])


def test_edges_are_marked_where_the_picture_changes():
    image = np.zeros((40, 40, 3), dtype=np.float32)
    image[:, 20:] = 1.0
    overlay = comparison.edge_overlay(image)
    orange = (overlay == (255, 140, 0)).all(axis=-1)
    assert orange[:, 19:21].all() and not orange[:, :15].any() and not orange[:, 25:].any()
