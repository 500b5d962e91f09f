import numpy as np
import pytest
from PySide6.QtGui import QImage

from enhancer.gui.image_convert import image_to_qimage, kernel_to_qimage, qimage_to_image, to_8bit
from enhancer.imaging.image import ImageData
from tests.gui.conftest import gradient_image


def test_round_trip_keeps_8bit_values():
    image = gradient_image(7, 5)
    qimage = image_to_qimage(image)
    assert (qimage.width(), qimage.height()) == (7, 5)
    assert qimage.format() == QImage.Format.Format_RGB32
    colour = qimage.pixelColor(6, 4)
    assert (colour.red(), colour.green(), colour.blue()) == tuple(to_8bit(image.pixels[4, 6]))
    back = qimage_to_image(qimage)
    assert back.alpha is None
    np.testing.assert_array_equal(to_8bit(back.pixels), to_8bit(image.pixels))


def test_alpha_survives_and_is_premultiplied_for_painting():
    pixels = np.full((4, 4, 3), 0.5, dtype=np.float32)
    alpha = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    qimage = image_to_qimage(ImageData(pixels=pixels, alpha=alpha))
    assert qimage.format() == QImage.Format.Format_ARGB32_Premultiplied
    back = qimage_to_image(qimage)
    assert back.alpha is not None
    np.testing.assert_allclose(back.alpha, alpha, atol=1 / 255)


def test_kernel_picture_is_white_at_its_peak():
    kernel = np.zeros((5, 5))
    kernel[2, 2], kernel[2, 3] = 0.8, 0.2
    picture = kernel_to_qimage(kernel)
    assert picture.pixelColor(2, 2).red() == 255
    assert picture.pixelColor(3, 2).red() == round(0.25 * 255)
    assert picture.pixelColor(0, 0).red() == 0
    with pytest.raises(ValueError):
        kernel_to_qimage(np.zeros(3))
