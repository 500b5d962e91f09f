"""Tests for enhancer.imaging.io: formats, bit depths, metadata, broken files, limits and safe saving."""

from __future__ import annotations

import io
import os
import struct
import time
import zlib
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageFile, ImageOps, PngImagePlugin

from enhancer.imaging import io as image_io
from enhancer.imaging.image import ImageData, ImageError
from enhancer.imaging.io import DEFAULT_MAX_PIXELS, find_images, load_image, save_image

RNG = np.random.default_rng(1234)


def _random(shape: tuple[int, ...], dtype: type = np.uint8) -> np.ndarray:
    return RNG.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"  # Make
    return exif


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png16(samples: np.ndarray, colour_type: int) -> bytes:
    """A 16-bit PNG written by hand (filter 0 on every row), independent of the code under test."""
    height, width = samples.shape[:2]
    rows = samples.reshape(height, -1).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def _png_ihdr(path: Path) -> tuple[int, int]:
    """Bit depth and colour type from a PNG's header."""
    head = path.read_bytes()[:26]
    return head[24], head[25]


def _as_8bit(values: np.ndarray) -> np.ndarray:
    return np.rint(values * 255).astype(np.uint8)


def _as_16bit(values: np.ndarray) -> np.ndarray:
    return np.rint(values * 65535).astype(np.uint16)


def _files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- round trips and bit depths ---------------------------------------------------------------------------


def test_8bit_rgb_png_round_trip_is_exact(tmp_path: Path) -> None:
    original = _random((7, 9, 3))
    Image.fromarray(original).save(tmp_path / "in.png")

    image = load_image(tmp_path / "in.png")
    assert image.pixels.dtype == np.float32 and image.pixels.shape == (7, 9, 3)
    assert (image.alpha, image.grey, image.bit_depth) == (None, False, 8)
    assert image.source == tmp_path / "in.png"
    np.testing.assert_array_equal(_as_8bit(image.pixels), original)

    saved = save_image(image, tmp_path / "out.png")
    with Image.open(saved) as reread:
        assert reread.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(reread), original)


def test_16bit_grey_png_keeps_full_precision(tmp_path: Path) -> None:
    original = _random((6, 5), np.uint16)
    Image.fromarray(original).save(tmp_path / "in.png")  # mode I;16

    image = load_image(tmp_path / "in.png")
    assert (image.grey, image.bit_depth) == (True, 16)
    for channel in range(3):
        np.testing.assert_array_equal(_as_16bit(image.pixels[..., channel]), original)

    save_image(image, tmp_path / "out.png")
    assert _png_ihdr(tmp_path / "out.png") == (16, 0)
    with Image.open(tmp_path / "out.png") as reread:
        np.testing.assert_array_equal(np.asarray(reread), original)


@pytest.mark.parametrize(("channels", "colour_type"), [(3, 2), (4, 6), (2, 4)])
def test_16bit_colour_and_grey_alpha_png_keep_full_precision(
    tmp_path: Path, channels: int, colour_type: int
) -> None:
    original = _random((5, 7, channels), np.uint16)
    (tmp_path / "in.png").write_bytes(_png16(original, colour_type))

    image = load_image(tmp_path / "in.png")
    assert image.bit_depth == 16
    assert image.grey == (channels == 2)
    colour = image.pixels[..., 0] if image.grey else image.pixels
    np.testing.assert_array_equal(_as_16bit(colour), original[..., : 1 if image.grey else 3].squeeze())
    if channels in (2, 4):
        np.testing.assert_array_equal(_as_16bit(image.alpha), original[..., -1])
    else:
        assert image.alpha is None

    image.icc_profile, image.text = _srgb_icc(), {"Enhancer": "zssr x2", "Title": "caf\u00e9 \u2615"}
    image.exif = _exif(1).tobytes()
    save_image(image, tmp_path / "out.png")
    assert _png_ihdr(tmp_path / "out.png") == (16, colour_type)
    np.testing.assert_array_equal(imagecodecs.png_decode((tmp_path / "out.png").read_bytes()), original)
    with Image.open(tmp_path / "out.png") as reread:
        reread.load()
        assert reread.info["icc_profile"] == image.icc_profile
        assert dict(reread.text) == image.text
        assert reread.getexif()[0x010F] == "TestCam"


@pytest.mark.parametrize(
    ("channels", "photometric", "extrasamples"),
    [(3, "rgb", None), (4, "rgb", [2]), (2, "minisblack", [2]), (1, "minisblack", None)],
)
def test_16bit_tiff_keeps_full_precision(
    tmp_path: Path, channels: int, photometric: str, extrasamples: list[int] | None
) -> None:
    samples = _random((6, 4, channels), np.uint16)
    original = samples[..., 0] if channels == 1 else samples
    tifffile.imwrite(tmp_path / "in.tif", original, photometric=photometric, extrasamples=extrasamples)

    image = load_image(tmp_path / "in.tif")
    assert image.bit_depth == 16
    assert image.grey == (photometric == "minisblack")
    colour_count = 1 if image.grey else 3
    colour = image.pixels[..., :1] if image.grey else image.pixels
    np.testing.assert_array_equal(_as_16bit(colour), samples[..., :colour_count])
    if channels > colour_count:
        np.testing.assert_array_equal(_as_16bit(image.alpha), samples[..., -1])

    save_image(image, tmp_path / "out.tiff")
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out.tiff"), original)


def test_16bit_image_saved_to_an_8bit_format_is_rounded_to_8_bits(tmp_path: Path) -> None:
    pixels = np.full((2, 2, 3), 0.5, np.float32)
    save_image(ImageData(pixels=pixels, bit_depth=16), tmp_path / "out.bmp")
    with Image.open(tmp_path / "out.bmp") as reread:
        assert reread.mode == "RGB"
        assert np.asarray(reread)[0, 0, 0] == 128


@pytest.mark.parametrize(
    ("mode", "suffix", "grey", "bit_depth"),
    [("1", ".png", True, 8), ("L", ".jpg", True, 8), ("I", ".tif", True, 16), ("F", ".tif", True, 16)],
)
def test_other_modes_load_as_rgb(tmp_path: Path, mode: str, suffix: str, grey: bool, bit_depth: int) -> None:
    fill = {"1": 1, "L": 200, "I": 65535, "F": 1.0}[mode]
    Image.new(mode, (5, 3), fill).save(tmp_path / f"in{suffix}")

    image = load_image(tmp_path / f"in{suffix}")
    assert image.pixels.shape == (3, 5, 3)
    assert (image.grey, image.bit_depth) == (grey, bit_depth)
    np.testing.assert_allclose(image.pixels, 200 / 255 if mode == "L" else 1.0, atol=2 / 255)


def test_values_are_clipped_and_rounded_not_truncated(tmp_path: Path) -> None:
    pixels = np.array([[[-0.2, 0.7 / 255, 1.3], [0.4 / 255, 0.6 / 255, 254.6 / 255]]], np.float32)
    save_image(ImageData(pixels=pixels), tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as reread:
        np.testing.assert_array_equal(np.asarray(reread), [[[0, 1, 255], [0, 1, 255]]])


# --- colour models and alpha ------------------------------------------------------------------------------


def test_cmyk_jpeg_loads_as_rgb_and_drops_the_profile(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # red
    cmyk.paste((255, 0, 255, 0), (8, 0, 16, 16))  # green on the right
    cmyk.save(tmp_path / "in.jpg", quality=95, icc_profile=_srgb_icc())  # a profile that does not fit CMYK

    image = load_image(tmp_path / "in.jpg")
    assert (image.grey, image.icc_profile) == (False, None)
    np.testing.assert_allclose(image.pixels[8, 3], [1, 0, 0], atol=0.06)
    np.testing.assert_allclose(image.pixels[8, 12], [0, 1, 0], atol=0.06)


def test_palette_png_with_transparency_gives_alpha(tmp_path: Path) -> None:
    indices = np.array([[0, 1], [2, 1]], np.uint8)
    palette = Image.fromarray(indices).convert("P")
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
    palette.save(tmp_path / "in.png", transparency=1)

    image = load_image(tmp_path / "in.png")
    assert image.alpha is not None
    np.testing.assert_array_equal(image.alpha, [[1, 0], [1, 0]])
    np.testing.assert_array_equal(image.pixels[0, 0], [1, 0, 0])
    np.testing.assert_array_equal(image.pixels[1, 0], [0, 0, 1])


def test_grey_with_alpha_is_saved_back_as_grey_with_alpha(tmp_path: Path) -> None:
    original = _random((4, 6, 2))
    Image.fromarray(original).save(tmp_path / "in.png")

    image = load_image(tmp_path / "in.png")
    assert (image.grey, image.bit_depth) == (True, 8)
    np.testing.assert_array_equal(_as_8bit(image.pixels[..., 2]), original[..., 0])
    np.testing.assert_array_equal(_as_8bit(image.alpha), original[..., 1])

    save_image(image, tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as reread:
        assert reread.mode == "LA"
        np.testing.assert_array_equal(np.asarray(reread), original)


@pytest.mark.parametrize(
    ("suffix", "mode"), [(".jpg", "RGB"), (".bmp", "RGB"), (".webp", "RGBA"), (".tif", "RGBA")]
)
def test_alpha_is_kept_only_where_the_format_has_it(tmp_path: Path, suffix: str, mode: str) -> None:
    alpha = np.array([[0.0, 1.0], [0.5, 1.0]], np.float32)
    image = ImageData(pixels=np.full((2, 2, 3), 0.25, np.float32), alpha=alpha)
    save_image(image, tmp_path / f"out{suffix}", quality=100)
    with Image.open(tmp_path / f"out{suffix}") as reread:
        assert reread.mode == mode
        if mode == "RGBA":
            np.testing.assert_array_equal(np.asarray(reread)[..., 3], _as_8bit(alpha))


def test_first_frame_of_an_animated_gif(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (4, 4), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "in.gif", save_all=True, append_images=frames[1:], duration=100)

    image = load_image(tmp_path / "in.gif")
    np.testing.assert_array_equal(image.pixels[0, 0], [1, 0, 0])


def test_first_page_of_a_multi_page_tiff(tmp_path: Path) -> None:
    pages = [Image.new("L", (3, 2), 10), Image.new("L", (5, 5), 250)]
    pages[0].save(tmp_path / "in.tif", save_all=True, append_images=pages[1:])

    image = load_image(tmp_path / "in.tif")
    assert image.pixels.shape == (2, 3, 3)
    assert _as_8bit(image.pixels)[0, 0, 0] == 10


# --- orientation and metadata -----------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(tmp_path: Path, orientation: int) -> None:
    original = _random((3, 5, 3))
    Image.fromarray(original).save(tmp_path / "in.png", exif=_exif(orientation))
    with Image.open(tmp_path / "in.png") as reference:
        upright = np.asarray(ImageOps.exif_transpose(reference))

    image = load_image(tmp_path / "in.png")
    np.testing.assert_array_equal(_as_8bit(image.pixels), upright)


def test_rotated_jpeg_loads_upright_and_keeps_icc_and_exif(tmp_path: Path) -> None:
    stored = np.zeros((16, 32, 3), np.uint8)  # 16 high, 32 wide
    stored[:8, :8] = 255  # a white marker, top left as stored
    icc = _srgb_icc()
    Image.fromarray(stored).save(tmp_path / "in.jpg", quality=95, icc_profile=icc, exif=_exif(6))

    image = load_image(tmp_path / "in.jpg")
    # Orientation 6: turn 90 degrees clockwise to view, so the stored top left lands top right.
    assert image.pixels.shape == (32, 16, 3)
    assert image.pixels[:8, 8:].mean() > 0.9
    assert image.pixels[:8, :8].mean() < 0.1
    assert image.pixels[8:].mean() < 0.1
    assert image.icc_profile == icc
    loaded_exif = Image.Exif()
    loaded_exif.load(image.exif)
    assert (loaded_exif[0x0112], loaded_exif[0x010F]) == (1, "TestCam")

    for suffix in (".jpg", ".png", ".webp", ".tif"):
        save_image(image, tmp_path / f"out{suffix}")
        with Image.open(tmp_path / f"out{suffix}") as reread:
            reread.load()
            assert reread.size == (16, 32)
            assert reread.info.get("icc_profile") == icc, suffix
            exif = reread.getexif()
            assert (exif.get(0x0112), exif.get(0x010F)) == (1, "TestCam"), suffix


def test_png_text_chunks_survive_a_round_trip(tmp_path: Path) -> None:
    chunks = PngImagePlugin.PngInfo()
    chunks.add_text("Enhancer", "irn x4")
    Image.new("RGB", (2, 2)).save(tmp_path / "in.png", pnginfo=chunks)

    image = load_image(tmp_path / "in.png")
    assert image.text == {"Enhancer": "irn x4"}
    save_image(image, tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as reread:
        assert dict(reread.text) == {"Enhancer": "irn x4"}


def test_tiff_layout_tags_do_not_leak_into_exif(tmp_path: Path) -> None:
    Image.new("RGB", (4, 4)).save(tmp_path / "in.tif", exif=_exif(1))

    image = load_image(tmp_path / "in.tif")
    exif = Image.Exif()
    exif.load(image.exif)
    assert exif.get(0x010F) == "TestCam"
    assert not {256, 257, 258, 273, 279} & set(exif)


# --- files that cannot be read ----------------------------------------------------------------------------


def _truncated(path: Path, kind: str) -> Path:
    Image.fromarray(_random((48, 48, 3))).save(path, kind)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("empty.png", lambda p: p.write_bytes(b"")),
        ("notes.png", lambda p: p.write_text("not a picture\n" * 20)),
        ("half.png", lambda p: _truncated(p, "PNG")),
        ("half.jpg", lambda p: _truncated(p, "JPEG")),
        ("missing.png", lambda p: None),
        ("folder.png", lambda p: p.mkdir()),
        ("picture.psd", lambda p: Image.new("RGB", (2, 2)).save(p, "PPM")),
    ],
)
def test_unreadable_files_raise_image_error_naming_the_file(tmp_path: Path, name: str, make) -> None:
    make(tmp_path / name)
    with pytest.raises(ImageError) as raised:
        load_image(tmp_path / name)
    assert name in str(raised.value)
    assert raised.value.path == tmp_path / name


def _bomb_png(path: Path, width: int, height: int) -> Path:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    chunks = _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)
    return path


def test_decompression_bomb_is_refused_from_the_header_alone(tmp_path: Path) -> None:
    bomb = _bomb_png(tmp_path / "bomb.png", 40000, 40000)
    start = time.perf_counter()
    with pytest.raises(ImageError) as raised:
        load_image(bomb)
    assert time.perf_counter() - start < 1.0
    message = str(raised.value)
    assert "bomb.png" in message and "40000 x 40000" in message and f"{DEFAULT_MAX_PIXELS:,}" in message


def test_max_pixels_is_configurable(tmp_path: Path) -> None:
    Image.new("RGB", (10, 10)).save(tmp_path / "in.png")
    assert load_image(tmp_path / "in.png", max_pixels=100).width == 10
    with pytest.raises(ImageError, match="over the limit of 99"):
        load_image(tmp_path / "in.png", max_pixels=99)


def test_loading_never_turns_on_truncated_loading() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# --- safe saving ------------------------------------------------------------------------------------------


def _small_image() -> ImageData:
    return ImageData(pixels=np.full((2, 3, 3), 0.5, np.float32))


def test_save_refuses_an_existing_file_unless_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"keep me")
    with pytest.raises(ImageError, match="already exists"):
        save_image(_small_image(), target)
    assert target.read_bytes() == b"keep me"

    save_image(_small_image(), target, overwrite=True)
    assert load_image(target).pixels.shape == (2, 3, 3)


def test_save_refuses_to_write_onto_an_input(tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    Image.new("RGB", (3, 2)).save(source)
    before = source.read_bytes()
    (tmp_path / "sub").mkdir()
    same_file_spelled_differently = tmp_path / "sub" / ".." / "photo.png"

    with pytest.raises(ImageError, match="input file"):
        save_image(_small_image(), same_file_spelled_differently, protect=[source])
    assert source.read_bytes() == before

    with pytest.raises(ImageError, match="input file"):  # overwrite replaces outputs, never a protected input
        save_image(_small_image(), source, protect=[source], overwrite=True)
    assert source.read_bytes() == before
    save_image(_small_image(), source, overwrite=True)  # unprotected on purpose (--replace-input)
    assert source.read_bytes() != before


def test_failed_save_leaves_no_file_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    existing = tmp_path / "existing.png"
    existing.write_bytes(b"old")

    def fail_replace(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(image_io.os, "replace", fail_replace)
    with pytest.raises(ImageError, match="No space left"):
        save_image(_small_image(), tmp_path / "new.png")
    with pytest.raises(ImageError):
        save_image(_small_image(), existing, overwrite=True)
    assert _files_in(tmp_path) == ["existing.png"]
    assert existing.read_bytes() == b"old"


def test_encoder_failure_midway_leaves_no_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_write(self: Image.Image, fp: io.BufferedWriter, *args: object, **kwargs: object) -> None:
        fp.write(b"\x89PNG partial")
        raise ValueError("encoder broke")

    monkeypatch.setattr(Image.Image, "save", half_write)
    with pytest.raises(ImageError, match="encoder broke"):
        save_image(_small_image(), tmp_path / "out.png")
    assert _files_in(tmp_path) == []


def test_save_creates_the_folder_and_takes_the_format_argument(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "result.img"
    assert save_image(_small_image(), target, format="JPG") == target
    with Image.open(target) as reread:
        assert reread.format == "JPEG"
    assert not [name for name in os.listdir(target.parent) if name.startswith(".")]


@pytest.mark.parametrize(("name", "fmt"), [("out.xyz", None), ("out.png", "gif")])
def test_save_rejects_unknown_formats(tmp_path: Path, name: str, fmt: str | None) -> None:
    with pytest.raises(ImageError, match="out"):
        save_image(_small_image(), tmp_path / name, format=fmt)
    assert _files_in(tmp_path) == []


# --- finding inputs ---------------------------------------------------------------------------------------


def test_find_images_expands_folders_and_keeps_named_files(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("b.png", "a.JPG", "c.tiff", "notes.txt", ".b.png.tmp-1234.png"):
        (folder / name).write_bytes(b"x")
    (folder / "nested.png").mkdir()
    odd = tmp_path / "scan.xyz"
    odd.write_bytes(b"x")

    found = find_images([folder, odd, str(folder / "b.png")])
    assert found == [folder / "a.JPG", folder / "b.png", folder / "c.tiff", odd]


XMP_PACKET = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
    b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmp:Rating="5" tiff:Orientation="6"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


@pytest.mark.parametrize("target", ["png", "jpg", "webp", "16.png"])
def test_xmp_is_kept_across_formats_with_its_orientation_made_upright(tmp_path: Path, target: str) -> None:
    source = tmp_path / "rated.jpg"
    Image.new("RGB", (12, 8), (90, 120, 150)).save(source, xmp=XMP_PACKET)
    loaded = load_image(source)
    assert b'xmp:Rating="5"' in loaded.xmp and b'tiff:Orientation="1"' in loaded.xmp  # pixels are upright
    if target == "16.png":
        loaded.bit_depth = 16
    out = save_image(loaded, tmp_path / f"out.{target}")
    again = load_image(out)
    assert again.xmp == loaded.xmp
    assert image_io._PNG_XMP_KEY not in again.text  # held once, as XMP


def test_a_png_holds_xmp_where_imagemagick_finds_it_too(tmp_path: Path) -> None:
    source = tmp_path / "rated.jpg"
    Image.new("RGB", (12, 8), (90, 120, 150)).save(source, xmp=XMP_PACKET)
    out = save_image(load_image(source), tmp_path / "out.png")
    with Image.open(out) as im:
        raw = im.text[image_io._PNG_RAW_XMP_KEY]
    assert image_io._from_raw_profile(raw) == load_image(source).xmp
    # a PNG that has only ImageMagick's form (as ImageMagick writes it) is read too
    only_raw = PngImagePlugin.PngInfo()
    only_raw.add_text(image_io._PNG_RAW_XMP_KEY, raw, zip=True)
    Image.new("RGB", (4, 4)).save(tmp_path / "magick.png", pnginfo=only_raw)
    loaded = load_image(tmp_path / "magick.png")
    assert loaded.xmp == load_image(source).xmp and image_io._PNG_RAW_XMP_KEY not in loaded.text
    assert image_io._from_raw_profile("\nxmp\n  99\nzz\n") is None


def test_a_format_without_xmp_says_it_is_dropped() -> None:
    image = ImageData(np.zeros((4, 4, 3), np.float32), xmp=XMP_PACKET)
    assert any("XMP" in note for note in image_io.lossy_conversions(image, "tiff"))
    assert not any("XMP" in note for note in image_io.lossy_conversions(image, "jpeg"))
