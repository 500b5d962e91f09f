"""Blur kernels on the resize grid: centres, composition, comparison and the kernel picture."""

import numpy as np
import pytest

from enhancer.imaging.io import load_image
from enhancer.imaging.kernels import (
    centre_of_mass,
    compare_kernels,
    embed,
    grid_centre,
    kernel_picture,
    recentre,
    save_kernel,
    shift_kernel,
    two_step_kernel,
)
from enhancer.imaging.resize import bicubic_kernel, downscale_with_kernel, imresize


def test_grid_centre_matches_where_bicubic_puts_its_mass():
    assert grid_centre(13, 2) == 6.5 and grid_centre(11, 2) == 5.5 and grid_centre(8, 2) == 3.5
    assert centre_of_mass(bicubic_kernel(2)) == pytest.approx((3.5, 3.5))
    assert centre_of_mass(bicubic_kernel(4)) == pytest.approx((grid_centre(16, 4),) * 2)


def test_a_kernel_centred_on_the_grid_makes_an_lr_aligned_with_bicubic():
    """A symmetric blob on the grid centre shifts nothing: its LR matches bicubic's closely, unlike an
    off-centre copy of the same blob."""
    rng = np.random.default_rng(0)
    image = np.cumsum(np.cumsum(rng.standard_normal((64, 64)), axis=0), axis=1)
    image = (image - image.min()) / np.ptp(image)
    taps = np.arange(13) - grid_centre(13, 2)
    blob = np.exp(-0.5 * (taps[:, None] ** 2 + taps[None, :] ** 2) / 0.8)
    blob /= blob.sum()
    reference = imresize(image, scale=0.5)
    centred = downscale_with_kernel(image, blob, 2)
    shifted = downscale_with_kernel(image, shift_kernel(blob, (1.0, 0.0)), 2)
    inner = (slice(4, -4), slice(4, -4))
    assert np.abs(centred - reference)[inner].mean() < 0.3 * np.abs(shifted - reference)[inner].mean()


def test_two_step_kernel_equals_shrinking_twice():
    rng = np.random.default_rng(1)
    image = rng.random((80, 72))
    for size in (11, 13, 8):
        kernel = rng.random((size, size))
        kernel /= kernel.sum()
        twice = downscale_with_kernel(downscale_with_kernel(image, kernel, 2), kernel, 2)
        once = downscale_with_kernel(image, two_step_kernel(kernel), 4)
        assert once.shape == twice.shape
        np.testing.assert_allclose(once[4:-4, 4:-4], twice[4:-4, 4:-4], atol=1e-12)


def test_embed_keeps_the_kernels_action_and_recentre_moves_mass_to_the_grid_centre():
    rng = np.random.default_rng(2)
    image = rng.random((40, 40))
    kernel = bicubic_kernel(2)
    np.testing.assert_allclose(
        downscale_with_kernel(image, embed(kernel, 14, 2), 2)[3:-3, 3:-3],
        downscale_with_kernel(image, kernel, 2)[3:-3, 3:-3],
        atol=1e-12,
    )
    lopsided = np.zeros((13, 13))
    lopsided[2:6, 3:9] = rng.random((4, 6))
    centred = recentre(lopsided, 2)
    assert centred.sum() == pytest.approx(1.0) and centred.min() >= 0
    assert centre_of_mass(centred) == pytest.approx((6.5, 6.5), abs=0.1)


def test_compare_kernels_aligns_centres_before_scoring():
    taps = np.arange(11) - 5.5
    blob = np.exp(-0.5 * (taps[:, None] ** 2 / 3.0 + taps[None, :] ** 2 / 0.7))
    same = compare_kernels(blob, blob, 2)
    assert same.correlation == pytest.approx(1.0) and same.mse == pytest.approx(0.0, abs=1e-15)
    moved = compare_kernels(embed(shift_kernel(blob, (0.0, 1.0)), 13, 2), blob, 2)
    assert moved.correlation > 0.99
    assert compare_kernels(bicubic_kernel(2), blob, 2).correlation < 0.95


def test_kernel_files_hold_the_normalised_kernel_and_a_picture(tmp_path):
    kernel = np.array([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]])
    array_path, picture_path = save_kernel(kernel, tmp_path / "k.npy")
    saved = np.load(array_path)
    np.testing.assert_allclose(saved, kernel / 8.0)
    picture = load_image(picture_path)
    assert picture.grey and picture.width == 3 * 16
    assert picture.pixels[24, 24, 0] == pytest.approx(1.0) and picture.pixels[0, 0, 0] == 0.0
    assert kernel_picture(kernel, cell=2).pixels.shape == (6, 6, 3)
