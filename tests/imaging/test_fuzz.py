"""Fuzzing the loader and the IRN marker parser: every mutated file ends in a clean ``ImageError`` or a
correct image, never another exception, never an image over the pixel limit.

CI runs a bounded number of examples; a longer run: ``ENHANCER_FUZZ_EXAMPLES=20000 python -m pytest
tests/imaging/test_fuzz.py`` (docs/BENCHMARKS.md records one).
"""

from __future__ import annotations

import contextlib
import io
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from enhancer.imaging.image import ImageData, ImageError
from enhancer.imaging.io import load_image
from enhancer.methods import irn

EXAMPLES = int(os.environ.get("ENHANCER_FUZZ_EXAMPLES", "150"))
LIMIT = 4096  # the pixel limit in force while fuzzing: bombs must be refused, not decoded
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _seed_files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    files = {}
    for name, kwargs in {
        "PNG": {},
        "JPEG": {"quality": 80},
        "TIFF": {},
        "WEBP": {"quality": 80},
        "GIF": {"save_all": True, "append_images": [rgb.rotate(90)]},
    }.items():
        buffer = io.BytesIO()
        (rgb.convert("P") if name == "GIF" else rgb).save(buffer, name, **kwargs)
        files[name] = buffer.getvalue()
    rgba = io.BytesIO()
    rgb.convert("RGBA").save(rgba, "PNG")
    files["PNG-RGBA"] = rgba.getvalue()
    return files


SEEDS = _seed_files()


@st.composite
def mutated_files(draw) -> bytes:
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "byte", "truncate", "insert", "delete", "header"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and data:
            data[position] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[position:]
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 16))]
        elif kind == "header" and len(data) > 24:  # where sizes live in PNG/GIF/TIFF/WebP headers
            data[draw(st.integers(0, 24))] = draw(st.sampled_from([0, 0x7F, 0xFF]))
    return bytes(data)


@FUZZ
@given(data=mutated_files())
def test_mutated_files_load_cleanly_or_fail_with_image_error(tmp_path, data):
    path = tmp_path / "fuzzed.img"
    path.write_bytes(data)
    try:
        image = load_image(path, max_pixels=LIMIT)
    except ImageError as error:
        assert str(error).startswith(str(path)) and error.reason
        return
    assert isinstance(image, ImageData)
    assert image.width * image.height <= LIMIT
    assert image.pixels.dtype == np.float32 and np.isfinite(image.pixels).all()
    assert image.pixels.min() >= 0.0 and image.pixels.max() <= 1.0


def _valid_marker() -> dict:
    return {"scale": 2, "model_sha256": "ab" * 32, "width": 37, "height": 29}


@FUZZ
@given(
    st.one_of(
        st.text(max_size=200),
        st.dictionaries(
            st.sampled_from(["scale", "model_sha256", "width", "height", "grey", "lr_sha256", "fingerprint"]),
            st.one_of(
                st.integers(-(2**70), 2**70),
                st.floats(),
                st.text(max_size=40),
                st.none(),
                st.booleans(),
                st.lists(st.integers(), max_size=3),
            ),
        ).map(lambda d: json.dumps({**_valid_marker(), **d})),
    )
)
def test_marker_parser_accepts_valid_markers_and_refuses_the_rest_cleanly(text):
    try:
        marker = irn.IRNMarker.from_text(text)
    except ValueError:
        return
    assert marker.scale in irn.IRN_SCALES and marker.width >= 1 and marker.height >= 1
    if marker.lr_size[0] * marker.lr_size[1] <= LIMIT:  # an LR of the size it claims, checked against it
        pixels = np.zeros((marker.lr_size[1], marker.lr_size[0], 3), np.float32)
        with contextlib.suppress(ValueError):  # a refusal in words is fine; any other exception is not
            irn.check_lr_against_marker(pixels, marker)


def test_a_bomb_over_the_limit_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("L", (3000, 3000)).save(path)  # 9 MP of zeros: a few KB on disk
    with pytest.raises(ImageError, match="over the limit"):
        load_image(path, max_pixels=LIMIT)


def test_found_by_fuzzing_a_tiff_claiming_one_sample_for_rgb(tmp_path):
    data = SEEDS["TIFF"]
    tag = b"\x15\x01\x03\x00\x01\x00\x00\x00\x03\x00"  # SamplesPerPixel (277), SHORT, 1 value: 3
    assert tag in data
    path = tmp_path / "one-sample.tif"
    path.write_bytes(data.replace(tag, tag[:-2] + b"\x01\x00"))
    try:
        image = load_image(path, max_pixels=LIMIT)
    except ImageError as error:
        assert error.reason
    else:
        assert image.pixels.shape[2] == 3


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "NaN", "1e400", "[1]"])
def test_found_by_fuzzing_markers_with_non_integer_numbers(value):
    with pytest.raises(ValueError, match="IRN marker"):
        irn.IRNMarker.from_text(json.dumps(_valid_marker()).replace('"scale": 2', f'"scale": {value}'))
    with pytest.raises(ValueError, match="IRN marker"):
        irn.IRNMarker.from_text(f"[{value}]")
