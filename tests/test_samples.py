from enhancer.imaging.io import load_image
from enhancer.samples import SAMPLE_SIDE, sample_image_path


def test_sample_is_a_real_photo_written_once(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = sample_image_path()
    assert path.is_relative_to(tmp_path)
    image = load_image(path)
    assert (image.width, image.height) == (SAMPLE_SIDE, SAMPLE_SIDE)
    assert image.pixels.std() > 0.1, "the sample should be a photo, not a flat image"
    stamp = path.stat().st_mtime_ns
    assert sample_image_path() == path and path.stat().st_mtime_ns == stamp
