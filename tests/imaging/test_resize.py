"""MATLAB bicubic resize: hand-worked values, sizes, torch parity, kernel downscaling, the oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from enhancer.imaging.colour import quantize_8bit
from enhancer.imaging.metrics import psnr_y
from enhancer.imaging.resize import (
    bicubic_kernel,
    central_crop,
    cubic,
    downscale_with_kernel,
    downscale_with_kernel_torch,
    imresize,
    imresize_torch,
    mod_crop,
)

EVAL_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "eval"
ORACLE_TOLERANCE_DB = 0.03
# Bicubic down then up, mean PSNR-Y (dB), REFERENCE.md section 1.
ORACLE = {("Set5", 2): 33.66, ("Set5", 4): 28.42, ("Set14", 2): 30.24, ("Set14", 4): 26.00}

# MATLAB imresize([1 2 3 4], 2) along the row, worked by hand from its algorithm: output 1 sits at input 0.75
# and takes taps at positions -1, 0, 1, 2 (1-based) with cubic weights -0.0234375, 0.2265625, 0.8671875,
# -0.0703125; positions -1 and 0 mirror to 2 and 1. Interior samples reproduce the ramp (cubic convolution
# is exact on linear functions) except where a mirrored tap breaks the line.
RAMP_X2 = [0.90625, 1.1796875, 1.7265625, 2.25, 2.75, 3.2734375, 3.8203125, 4.09375]


def _random(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape)


def test_cubic_kernel_values():
    x = np.array([0.0, 0.25, 0.75, 1.0, 1.25, 1.75, 2.0, 2.5])
    expected = [1.0, 0.8671875, 0.2265625, 0.0, -0.0703125, -0.0234375, 0.0, 0.0]
    np.testing.assert_allclose(cubic(x), expected, atol=1e-15)


def test_ramp_upscaled_by_two_matches_matlab():
    row = np.array([[1.0, 2.0, 3.0, 4.0]])
    out = imresize(row, 2)
    assert out.shape == (2, 8)
    np.testing.assert_allclose(out[0], RAMP_X2, atol=1e-12)
    np.testing.assert_allclose(out[1], RAMP_X2, atol=1e-12)


def test_ramp_interior_is_reproduced_exactly():
    ramp = np.tile(np.arange(40.0), (6, 1))
    up = imresize(ramp, 3)
    positions = (np.arange(120) + 0.5) / 3 - 0.5
    np.testing.assert_allclose(up[0, 6:-6], positions[6:-6], atol=1e-12)
    down = imresize(ramp, 0.5)
    positions = (np.arange(20) + 0.5) * 2 - 0.5
    np.testing.assert_allclose(down[0, 3:-3], positions[3:-3], atol=1e-12)


@pytest.mark.parametrize("scale", [0.5, 1 / 3, 0.3, 2, 2.5])
def test_constant_stays_constant(scale):
    image = np.full((17, 23, 3), 0.4)
    np.testing.assert_allclose(imresize(image, scale), 0.4, atol=1e-12)


@pytest.mark.parametrize(
    ("size", "scale", "expected"), [(10, 0.3, 3), (10, 0.25, 3), (7, 1 / 3, 3), (9, 1 / 3, 3), (5, 1.5, 8)]
)
def test_output_size_is_ceiling(size, scale, expected):
    assert imresize(np.zeros((size, size)), scale).shape == (expected, expected)


def test_output_shape_and_dtype():
    image = _random((20, 30, 2)).astype(np.float32)
    out = imresize(image, output_shape=(13, 45))
    assert out.shape == (13, 45, 2)
    assert out.dtype == np.float32
    with pytest.raises(ValueError):
        imresize(image, 2, output_shape=(4, 4))
    with pytest.raises(TypeError):
        imresize(np.zeros((4, 4), dtype=np.uint8), 2)


def test_each_dimension_has_its_own_factor():
    image = _random((24, 24))
    out = imresize(image, output_shape=(12, 48))
    separately = imresize(imresize(image, output_shape=(12, 24)), output_shape=(12, 48))
    np.testing.assert_allclose(out, separately, atol=1e-12)


def test_given_scale_shapes_the_kernel_not_the_size_ratio():
    # MATLAB keeps the requested factor for the kernel and grid; an output_shape implies factor out / in.
    column = _random((11, 1))
    by_scale = imresize(column, 0.3)
    assert by_scale.shape == (4, 1)
    assert np.abs(by_scale - imresize(column, output_shape=(4, 1))).max() > 1e-3
    np.testing.assert_allclose(imresize(column[:10], 0.7), imresize(column[:10], output_shape=(7, 1)))


def test_no_clipping():
    image = np.zeros((8, 8))
    image[3:5, 3:5] = 1.0
    out = imresize(image, 2)
    assert out.min() < 0 and out.max() > 1


RESIZE_ARGS = [{"scale": 0.5}, {"scale": 1 / 3}, {"scale": 2}, {"output_shape": (11, 40)}]


@pytest.mark.parametrize("kwargs", RESIZE_ARGS)
def test_torch_matches_numpy(kwargs):
    image = _random((21, 27, 3))
    expected = imresize(image, **kwargs)
    x = torch.from_numpy(image).permute(2, 0, 1)[None]
    out = imresize_torch(x, **kwargs)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5)
    out32 = imresize_torch(x.float(), **kwargs)
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32[0].permute(1, 2, 0).numpy(), expected, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_on_cuda_matches_cpu():
    x = torch.rand(2, 3, 19, 23, dtype=torch.float64)
    expected = imresize_torch(x, 1 / 3)
    np.testing.assert_allclose(imresize_torch(x.cuda(), 1 / 3).cpu().numpy(), expected.numpy(), atol=1e-10)
    kernel = bicubic_kernel(2)
    expected = downscale_with_kernel_torch(x, kernel, 2)
    out = downscale_with_kernel_torch(x.cuda(), kernel, 2).cpu()
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-10)


def test_unit_scale_returns_a_copy():
    image = _random((5, 6))
    out = imresize(image, 1)
    np.testing.assert_array_equal(out, image)
    assert out is not image


def test_torch_gradient_flows():
    x = torch.rand(1, 3, 12, 12, requires_grad=True)
    imresize_torch(x, 0.5).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_mod_crop():
    assert mod_crop(np.zeros((13, 10, 3)), 4).shape == (12, 8, 3)
    assert mod_crop(np.zeros((12, 9)), 3).shape == (12, 9)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_kernel_matches_imresize(scale):
    kernel = bicubic_kernel(scale)
    assert kernel.shape == ((4 * scale,) * 2 if scale % 2 == 0 else (4 * scale - 1,) * 2)
    assert kernel.sum() == pytest.approx(1.0)
    image = _random((6 * scale + 1, 5 * scale + 2, 3))
    expected = imresize(image, 1 / scale)
    out = downscale_with_kernel(image, kernel, scale)
    assert out.shape == expected.shape
    # Same weights and the same mirrored borders, so they agree everywhere, not only away from the borders.
    np.testing.assert_allclose(out, expected, atol=1e-12)
    x = torch.from_numpy(image).permute(2, 0, 1)[None]
    out_t = downscale_with_kernel_torch(x, kernel, scale)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(out_t, expected, atol=1e-12)


def test_padded_bicubic_kernel_is_still_equivalent():
    image = _random((40, 36))
    expected = imresize(image, 0.5)
    for size in (9, 12, 13):  # odd sizes (as KernelGAN's) place the kernel half a pixel off and compensate
        out = downscale_with_kernel(image, bicubic_kernel(2, size), 2)
        np.testing.assert_allclose(out, expected, atol=1e-12)


def test_kernel_downscale_sampling_grid():
    # A delta kernel picks the HR pixel the convention names: odd K (scale - 1) // 2, even K scale // 2 - 1.
    image = np.arange(64.0).reshape(8, 8)
    delta3 = np.zeros((3, 3))
    delta3[1, 1] = 1
    np.testing.assert_array_equal(downscale_with_kernel(image, delta3, 4), image[1::4, 1::4])
    delta2 = np.zeros((2, 2))
    delta2[0, 0] = 1  # geometric centre half a pixel down-right of tap 0
    np.testing.assert_array_equal(downscale_with_kernel(image, delta2, 2), image[::2, ::2])


def test_kernel_downscale_torch_is_differentiable_in_kernel():
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    kernel = torch.from_numpy(bicubic_kernel(2, 13)).requires_grad_()
    out = downscale_with_kernel_torch(x, kernel, 2)
    assert out.shape == (2, 3, 8, 8)
    out.sum().backward()
    assert kernel.grad is not None and kernel.grad.abs().sum() > 0
    expected = downscale_with_kernel(x[1].permute(1, 2, 0).numpy(), kernel.detach().numpy(), 2)
    np.testing.assert_allclose(out[1].detach().permute(1, 2, 0).numpy(), expected, atol=1e-12)


def _oracle_psnr(folder: str, scale: int) -> float:
    from PIL import Image

    scores = []
    for path in sorted((EVAL_DIR / folder).glob("*.png")):
        with Image.open(path) as file:
            grey = file.mode == "L"
            hr = np.asarray(file.convert("L" if grey else "RGB"), dtype=np.float64) / 255
        hr = mod_crop(hr, scale)
        lr = quantize_8bit(imresize(hr, 1 / scale))
        scores.append(psnr_y(imresize(lr, scale), hr, scale, grey=grey))
    if not scores:
        pytest.skip(f"no images in {EVAL_DIR / folder}")
    return float(np.mean(scores))


@pytest.mark.parametrize(("folder", "scale"), list(ORACLE))
def test_bicubic_oracle(folder, scale):
    if not (EVAL_DIR / folder).is_dir():
        pytest.skip(f"evaluation images not present at {EVAL_DIR / folder}")
    measured = _oracle_psnr(folder, scale)
    assert measured == pytest.approx(ORACLE[folder, scale], abs=ORACLE_TOLERANCE_DB)


def test_central_crop_takes_the_middle_window_cut_to_a_multiple():
    image = np.arange(7 * 10).reshape(7, 10)
    window = central_crop(image, 4)
    assert window.shape == (4, 4)
    assert window[0, 0] == image[1, 3]  # (7 - 4) // 2, (10 - 4) // 2
    assert central_crop(image, 100).shape == (7, 10)  # never larger than the image
    assert central_crop(image, 100, multiple=3).shape == (6, 9)
    with pytest.raises(ValueError):
        central_crop(image, 0)
