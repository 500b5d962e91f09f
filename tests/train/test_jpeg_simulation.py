"""The JPEG in IRN's robust training: the real codec's values, a faithful differentiable model's gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from enhancer.resources import sample_path
from enhancer.train.jpeg_simulation import (
    LUMINANCE_TABLE,
    JPEGSetting,
    approximate_jpeg,
    jpeg_round_trip,
    quantisation_table,
    random_setting,
    real_jpeg,
)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / ((a - b) ** 2).mean()))


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    from PIL import Image

    with Image.open(sample_path("astronaut")) as im:
        pixels = np.asarray(im.convert("RGB"))[100:172, 150:238]  # 72 x 88: not multiples of 16
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None].float() / 255


def test_quality_scaling_is_libjpegs():
    assert quantisation_table(LUMINANCE_TABLE, 50).tolist() == [list(r) for r in LUMINANCE_TABLE]
    assert quantisation_table(LUMINANCE_TABLE, 100).eq(1).all()
    assert quantisation_table(LUMINANCE_TABLE, 90)[0, 0] == 3  # floor((16 * 20 + 50) / 100)


@pytest.mark.parametrize("subsampling", ["4:4:4", "4:2:0"])
@pytest.mark.parametrize("quality", [95, 75])
def test_the_approximation_loses_what_the_real_codec_loses(photo, quality, subsampling):
    setting = JPEGSetting(quality, subsampling)
    approximation, real = approximate_jpeg(photo, setting), real_jpeg(photo, setting)
    assert approximation.shape == real.shape == photo.shape
    assert psnr(approximation, real) > 44  # far closer to the codec than the codec is to the input
    assert abs(psnr(approximation, photo) - psnr(real, photo)) < 1.5
    assert psnr(real, photo) < 45  # and the codec does lose something here


def test_the_round_trip_has_the_codecs_values_and_a_gradient(photo):
    setting = JPEGSetting(85, "4:2:0")
    source = photo.clone().requires_grad_(True)
    out = jpeg_round_trip(source, setting)
    torch.testing.assert_close(out.detach(), real_jpeg(photo, setting))
    out.sum().backward()
    assert source.grad is not None and 0.05 < float(source.grad.abs().mean()) < 2


def test_random_settings_stay_in_range():
    rng = np.random.default_rng(0)
    settings = [random_setting(rng, (70, 95), 0.5) for _ in range(200)]
    assert {s.quality for s in settings} <= set(range(70, 96))
    assert {s.subsampling for s in settings} == {"4:4:4", "4:2:0"}
    with pytest.raises(ValueError):
        JPEGSetting(0)
