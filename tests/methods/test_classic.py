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
