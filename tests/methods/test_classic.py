import numpy as np
import pytest

from enhancer.imaging.image import ImageData
from enhancer.imaging.resize import imresize
from enhancer.methods.registry import RunContext, get_method
from enhancer.runtime.jobs import CancelToken, JobCancelled, Progress


def _image(h=20, w=30, alpha=False):
    rng = np.random.default_rng(3)
    pixels = rng.random((h, w, 3), dtype=np.float32)
    return ImageData(
        pixels, alpha=np.linspace(0, 1, h * w, dtype=np.float32).reshape(h, w) if alpha else None
    )


@pytest.mark.parametrize("method_id", ["bicubic", "lanczos"])
def test_classic_methods_enlarge_pixels_and_alpha(method_id):
    image = _image(alpha=True)
    result = get_method(method_id).run(image, 3, get_method(method_id).make_options(), RunContext())
    assert result.image.pixels.shape == (60, 90, 3)
    assert result.image.alpha is not None and result.image.alpha.shape == (60, 90)
    assert result.image.pixels.min() >= 0.0 and result.image.pixels.max() <= 1.0


def test_bicubic_is_matlab_imresize():
    image = _image()
    result = get_method("bicubic").run(image, 2, get_method("bicubic").make_options(), RunContext())
    expected = np.clip(imresize(image.pixels, scale=2), 0, 1)
    np.testing.assert_allclose(result.image.pixels, expected, atol=1e-6)


def test_classic_method_stops_when_cancelled():
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(JobCancelled):
        get_method("lanczos").run(
            _image(), 2, get_method("lanczos").make_options(), RunContext(Progress(None, cancel))
        )


@pytest.mark.parametrize("method_id, kernel", [("bicubic", "bicubic"), ("lanczos", "lanczos3")])
@pytest.mark.parametrize("tile_size", [64, 100])
def test_tiled_classic_equals_the_whole_image_bit_for_bit(method_id, kernel, tile_size):
    image = _image(h=97, w=131, alpha=True)
    context = RunContext(tile_size=tile_size)
    result = get_method(method_id).run(image, 3, get_method(method_id).make_options(), context)
    whole = np.clip(imresize(image.pixels, scale=3, method=kernel), 0, 1)
    assert np.array_equal(result.image.pixels, whole)  # not close: equal
    assert np.array_equal(result.image.alpha, np.clip(imresize(image.alpha, scale=3, method=kernel), 0, 1))


def test_tiled_classic_reports_each_tile():
    fractions = []
    progress = Progress(lambda update: fractions.append(update.fraction))
    get_method("bicubic").run(
        _image(h=64, w=64), 4, get_method("bicubic").make_options(), RunContext(progress, tile_size=64)
    )
    assert len(fractions) >= 16 + 1  # 256 x 256 output in 64-px tiles, plus the start


def test_lanczos3_kernel_interpolates_and_rings_more_than_bicubic():
    from enhancer.imaging.resize import lanczos3

    assert lanczos3(np.array([0.0]))[0] == 1.0 and abs(lanczos3(np.array([1.0, 2.0, 3.5]))).max() < 1e-12
    step = np.zeros((8, 16), np.float32)
    step[:, 8:] = 1.0
    bicubic_edge = imresize(step, scale=4)[4]
    lanczos_edge = imresize(step, scale=4, method="lanczos3")[4]
    assert lanczos_edge.min() < bicubic_edge.min() < 0  # its wider kernel overshoots more at an edge
