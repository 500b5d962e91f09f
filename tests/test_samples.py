from enhancer.imaging.io import load_image
from enhancer.resources import SAMPLES, is_resource
from enhancer.samples import SAMPLE_SIDE, sample_image_path


def test_the_samples_are_real_photos_in_the_resources():
    image = load_image(sample_image_path())
    assert (image.width, image.height) == (SAMPLE_SIDE, SAMPLE_SIDE)
    assert image.pixels.std() > 0.1, "the sample should be a photo, not a flat image"
    for name in SAMPLES:
        path = sample_image_path(name)
        assert is_resource(path)
        assert load_image(path).pixels.std() > 0.05
