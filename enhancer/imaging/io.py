"""Reading and writing image files: the only place that knows about file formats.

``load_image`` turns a PNG, JPEG, WebP, TIFF, BMP or GIF into an upright ``ImageData`` (EXIF orientation
applied, ICC profile, EXIF and PNG text kept, 16-bit precision kept). ``save_image`` writes one back
atomically, refusing to overwrite the inputs. Pillow does the work except where it would lose bits: it holds
16-bit data only for plain grey, so 16-bit colour or grey-with-alpha PNGs go through ``imagecodecs`` and such
TIFFs through ``tifffile``.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import tifffile
from PIL import Image, ImageCms, PngImagePlugin

from enhancer.imaging.image import ImageData, ImageError

# Pillow's codes for JPEG chroma subsampling (shared by the trainer's JPEG simulation and the benchmarks).
PILLOW_SUBSAMPLING = {"4:4:4": 0, "4:2:0": 2}
DEFAULT_MAX_PIXELS = 100_000_000
"""Largest width x height ``load_image`` decodes unless told otherwise (a 10000 x 10000 photo)."""

SUPPORTED_SUFFIXES = (
    ".png",
    ".jpg",
    ".jpeg",
    ".jpe",
    ".jfif",
    ".webp",
    ".tif",
    ".tiff",
    ".bmp",
    ".dib",
    ".gif",
)
"""Suffixes (lowercase) that ``find_images`` picks up from a folder."""

# load_image checks width x height itself, against a limit the caller chooses, before anything is decoded;
# Pillow's own global check would refuse large images the caller allowed.
Image.MAX_IMAGE_PIXELS = None

# Only these decoders are tried, so an odd file never reaches a rarely used Pillow plugin (EPS runs
# Ghostscript, for one). The JPEG decoder also opens MPO, the multi-picture JPEG many cameras write.
_PILLOW_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF")
_FORMAT_NAMES = "PNG, JPEG, WebP, TIFF, BMP or GIF"

_OUTPUT_FORMATS = {
    "png": "PNG",
    "jpeg": "JPEG",
    "jpg": "JPEG",
    "webp": "WEBP",
    "tiff": "TIFF",
    "tif": "TIFF",
    "bmp": "BMP",
}
_SUFFIX_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".jfif": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".dib": "BMP",
}
_ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF"})
_DEEP_FORMATS = frozenset({"PNG", "TIFF"})
_METADATA_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "TIFF"})

_ORIENTATION = 0x0112
_ICC_TIFF_TAG = 34675
# TIFF tags that describe how a TIFF file lays out its pixels. Pillow reports a TIFF's whole first directory
# as its EXIF; these must not travel into another file's EXIF, where they would describe nothing.
# XMP (700) goes too: it may repeat the orientation, which no longer holds once the pixels are turned.
_TIFF_LAYOUT_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 284, 301, 317, 320, 322, 323, 324}
    | {325, 330, 338, 339, 340, 341, 347, 513, 514, 530, 700, 32997, 32998, 33723, 34377, 34675, 37724}
    | {50838, 50839}
)
_PNG_METADATA_CHUNKS = frozenset({b"iCCP", b"tEXt", b"zTXt", b"iTXt", b"eXIf"})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_XMP_KEY = "XML:com.adobe.xmp"  # the iTXt keyword that holds a PNG's XMP packet
# ImageMagick's and exiv2's older place for it (hex in a zTXt chunk): ImageMagick carries only this one over
# when it converts a PNG into a JPEG, so XMP is written in both.
_PNG_RAW_XMP_KEY = "Raw profile type xmp"
_XMP_FORMATS = frozenset({"PNG", "JPEG", "WEBP"})  # where XMP is read and written (not TIFF)
_XMP_ORIENTATION_ATTRIBUTE = re.compile(rb'(tiff:Orientation\s*=\s*")\d+"')
_XMP_ORIENTATION_ELEMENT = re.compile(rb"(<tiff:Orientation>)\s*\d+\s*(</tiff:Orientation>)")
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

_GREY_MODES = frozenset({"L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_KEPT_MODES = _GREY_MODES | {"RGB", "RGBA"}


def load_image(path: Path | str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageData:
    """Read the first frame of an image file, upright, as float RGB in [0, 1].

    Args:
        path: The file to read.
        max_pixels: Refuse images whose header claims more pixels than this, before decoding them.

    Returns:
        The pixels with alpha, grey flag, bit depth (16 for 16-bit and float sources, else 8), ICC profile,
        EXIF (orientation reset to 1) and PNG text chunks.

    Raises:
        ImageError: The file is missing, empty, not an image, damaged, unsupported or too large.
    """
    path = Path(path)
    _check_readable_file(path)
    try:
        with Image.open(path, formats=_PILLOW_FORMATS) as im:
            _check_pixel_count(path, im.width, im.height, max_pixels)
            im.load()
            image = _image_from_pillow(path, im)
            frames = getattr(im, "n_frames", 1)
            if getattr(im, "is_animated", False) and frames > 1:
                image.notices.append(f"an animated image of {frames} frames: only the first frame is used")
            return image
    except ImageError:
        raise
    except Image.UnidentifiedImageError:
        if _starts_with(path, _TIFF_SIGNATURES):
            return _load_tiff_with_tifffile(path, max_pixels)
        raise ImageError(path, f"not a {_FORMAT_NAMES} image, or an unsupported variant of one") from None
    except Exception as exc:  # Pillow's decoders raise many types for bad data; all mean "unreadable".
        raise ImageError(path, _read_failure(exc)) from exc


def save_image(
    image: ImageData,
    path: Path | str,
    *,
    format: str | None = None,
    quality: int = 95,
    overwrite: bool = False,
    protect: Iterable[Path | str] = (),
) -> Path:
    """Write an image atomically, keeping grey, alpha, 16 bits, ICC, EXIF and PNG text where the format can.

    Args:
        image: What to write; pixel values are clipped to [0, 1] and rounded.
        path: Where to write; a missing parent folder is created.
        format: png, jpeg/jpg, webp, tiff/tif or bmp; by default taken from the suffix of ``path``.
        quality: JPEG and WebP quality, 1 to 100 (100 makes WebP lossless).
        overwrite: Replace an existing file (never one listed in ``protect``).
        protect: Files never to be written over (the inputs of a run); leave it empty to replace one on purpose.

    Returns:
        The path written.

    Raises:
        ImageError: The format is unknown, the target exists or is protected, or writing failed; no partial
            file is left behind.
    """
    path = Path(path)
    fmt = _output_format(path, format)
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be 1 to 100, got {quality}")
    _check_destination(path, overwrite=overwrite, protect=protect)
    samples = _quantised_samples(image, fmt)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageError(path, f"cannot create the folder {path.parent}: {exc.strerror or exc}") from exc
    _write_atomically(path, lambda fh: _encode(fh, samples, image, fmt, quality), overwrite=overwrite)
    return path


def _broken_link(path: Path) -> str | None:
    """Why a symbolic link cannot be followed (a loop, or a dangling target), else None."""
    if not path.is_symlink():
        return None
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return "a symbolic link loop"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
        return "a symbolic link to nothing (its target is missing)"
    return None


def find_images(paths: Iterable[Path | str], skipped: list[str] | None = None) -> list[Path]:
    """Expand folders into the images they hold (not recursively, sorted); keep files as given.

    A file named explicitly is kept whatever its suffix, so that ``load_image`` reports what is wrong with it
    — except a broken symbolic link (a loop or a missing target), which is left out like one inside a folder.
    Each such link is described in ``skipped`` (one line each), so a caller can say why it was left out.
    Hidden files in folders (names starting with a dot, such as unfinished temporary outputs) are skipped.
    A file reached twice is listed once.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for given in paths:
        given = Path(given)
        broken = _broken_link(given)
        if broken is not None:
            if skipped is not None:
                skipped.append(f"{given}: {broken}; skipped")
            continue
        if given.is_dir():
            candidates = []
            for child in sorted(given.iterdir()):
                if child.suffix.lower() not in SUPPORTED_SUFFIXES or child.name.startswith("."):
                    continue
                broken = _broken_link(child)
                if broken is not None:
                    if skipped is not None:
                        skipped.append(f"{child}: {broken}; skipped")
                elif child.is_file():
                    candidates.append(child)
        else:
            candidates = [given]
        for candidate in candidates:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found


TEMPORARY_PATTERN = re.compile(r"^\..+\.tmp-[0-9a-f]{8}$")  # what _create_temporary_beside names


def remove_stale_temporaries(folder: Path, older_than: float) -> list[Path]:
    """Delete our own unfinished temporary outputs (``.NAME.tmp-XXXXXXXX``) left in ``folder`` by a run that
    was killed, if last changed before ``older_than`` (a time.time() value: the start of this run)."""
    removed = []
    try:
        children = list(folder.iterdir())
    except OSError:
        return removed
    for child in children:
        if not TEMPORARY_PATTERN.match(child.name) or child.is_symlink() or not child.is_file():
            continue
        with contextlib.suppress(OSError):
            if child.stat().st_mtime < older_than:
                child.unlink()
                removed.append(child)
    return removed


# --- loading ---------------------------------------------------------------------------------------------


def _check_readable_file(path: Path) -> None:
    try:
        if path.is_dir():
            raise ImageError(path, "is a folder, not an image file")
        if not path.exists():
            raise ImageError(path, "file not found")
        if not path.is_file():
            raise ImageError(path, "not a regular file")
        if path.stat().st_size == 0:
            raise ImageError(path, "file is empty (0 bytes)")
    except OSError as exc:
        raise ImageError(path, f"cannot read: {exc.strerror or exc}") from exc


def _check_pixel_count(path: Path, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageError(
            path,
            f"image is {width} x {height} = {width * height:,} pixels, over the limit of {max_pixels:,}",
        )


def _read_failure(exc: Exception) -> str:
    if isinstance(exc, MemoryError):
        return "not enough memory to decode this image"
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot read: {exc.strerror}"
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"damaged or unsupported image data ({detail})"


def _starts_with(path: Path, signatures: tuple[bytes, ...]) -> bool:
    with path.open("rb") as fh:
        head = fh.read(8)
    return head.startswith(signatures)


def _image_from_pillow(path: Path, im: Image.Image) -> ImageData:
    icc = im.info.get("icc_profile") or None
    deep = _deep_samples(path, im)
    if deep is not None:
        samples, grey, premultiplied = deep
    else:
        if im.mode == "CMYK":
            converted, icc = _cmyk_to_rgb(im), None  # the CMYK profile is used up; sRGB pixels need none
        else:
            converted = _canonical_mode(im)
        samples, grey, premultiplied = np.asarray(converted), converted.mode in _GREY_MODES, False
    exif, orientation = _exif_and_orientation(im)
    text = {str(key): str(value) for key, value in im.text.items()} if im.format == "PNG" else {}
    text.pop(_PNG_XMP_KEY, None)  # kept as ``xmp`` below
    raw_xmp = text.pop(_PNG_RAW_XMP_KEY, None)
    xmp = im.info.get("xmp") if im.format in _XMP_FORMATS else None
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    if not xmp and raw_xmp:
        xmp = _from_raw_profile(raw_xmp)
    image = _image_from_samples(
        samples,
        grey=grey,
        premultiplied=premultiplied,
        orientation=orientation,
        icc=icc,
        exif=exif,
        text=text,
        source=path,
    )
    image.xmp = _xmp_upright(xmp) if xmp else None
    return image


def _raw_profile_text(data: bytes) -> str:
    """ImageMagick's "Raw profile type" text: a newline, the name, the length, then hex in lines of 72."""
    digits = data.hex()
    lines = "\n".join(digits[i : i + 72] for i in range(0, len(digits), 72))
    return f"\nxmp\n{len(data):8d}\n{lines}\n"


def _from_raw_profile(text: str) -> bytes | None:
    """The bytes of a "Raw profile type" text, or None when it is not one."""
    parts = text.strip().split(None, 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    try:
        data = bytes.fromhex("".join(parts[2].split()))
    except ValueError:
        return None
    return data if len(data) == int(parts[1]) else None


def _xmp_upright(xmp: bytes) -> bytes:
    """The XMP packet with any ``tiff:Orientation`` set to 1, since the pixels are stored upright."""
    xmp = _XMP_ORIENTATION_ATTRIBUTE.sub(rb'\g<1>1"', xmp)
    return _XMP_ORIENTATION_ELEMENT.sub(rb"\g<1>1\g<2>", xmp)


def _deep_samples(path: Path, im: Image.Image) -> tuple[np.ndarray, bool, bool] | None:
    """Full-precision samples, grey and premultiplied, for files Pillow would cut to 8 bits; else None."""
    if im.format == "PNG":
        with path.open("rb") as fh:
            head = fh.read(26)
        # IHDR is always the first chunk: bit depth at byte 24, colour type at 25 (2 RGB, 4 LA, 6 RGBA).
        if head[12:16] == b"IHDR" and head[24] == 16 and head[25] in (2, 4, 6):
            import imagecodecs  # only 16-bit colour PNGs need it (and it is a large import)

            return imagecodecs.png_decode(path.read_bytes()), head[25] == 4, False
        return None
    if im.format == "TIFF" and im.mode in ("RGB", "RGBA"):
        bits = im.tag_v2.get(258, 8)
        if max(bits if isinstance(bits, tuple) else (bits,)) > 8:
            samples, grey, premultiplied, _, _ = _tiff_first_page(path, max_pixels=None)
            return samples, grey, premultiplied
    return None


def _canonical_mode(im: Image.Image) -> Image.Image:
    """Convert Pillow's many modes to the few ``np.asarray`` turns into the samples we want."""
    has_key_colour = "transparency" in im.info
    if im.mode in _KEPT_MODES and not (has_key_colour and im.mode in ("L", "RGB")):
        return im
    if im.mode == "1":
        return im.convert("L")
    if im.mode == "La" or (im.mode == "L" and has_key_colour):
        return im.convert("LA")
    if im.mode in ("PA", "RGBa") or (im.mode in ("P", "RGB") and has_key_colour):
        return im.convert("RGBA")
    return im.convert("RGB")


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if source.profile.xcolor_space.strip() == "CMYK":
                return ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: fall back to the plain formula below
    return im.convert("RGB")


def _exif_and_orientation(im: Image.Image) -> tuple[bytes | None, int]:
    """The EXIF to keep, with orientation reset to 1, and the orientation to apply; bad EXIF is dropped."""
    # EXIF parsers raise many types on junk; the pixels are still good, so junk only costs the EXIF.
    try:
        exif = im.getexif()
        orientation = int(exif.get(_ORIENTATION, 1))
    except Exception:
        return None, 1
    try:
        for tag in _TIFF_LAYOUT_TAGS.intersection(exif):
            del exif[tag]
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        exif_bytes = exif.tobytes() if len(exif) else None
    except Exception:
        exif_bytes = None
    return exif_bytes, orientation if 1 <= orientation <= 8 else 1


def _load_tiff_with_tifffile(path: Path, max_pixels: int) -> ImageData:
    """TIFFs Pillow cannot open at all (16-bit grey with alpha, float colour, ...)."""
    try:
        samples, grey, premultiplied, icc, orientation = _tiff_first_page(path, max_pixels=max_pixels)
    except ImageError:
        raise
    except Exception as exc:  # tifffile and imagecodecs raise many types for bad data.
        raise ImageError(path, _read_failure(exc)) from exc
    try:
        return _image_from_samples(
            samples,
            grey=grey,
            premultiplied=premultiplied,
            orientation=orientation,
            icc=icc,
            exif=None,
            text={},
            source=path,
        )
    except ValueError as exc:  # a layout the checks above did not foresee: still one clear line
        raise ImageError(path, f"damaged or unsupported TIFF layout ({exc})") from exc


def _tiff_first_page(
    path: Path, *, max_pixels: int | None
) -> tuple[np.ndarray, bool, bool, bytes | None, int]:
    """Samples (H x W x S), grey, premultiplied alpha, ICC profile and orientation of a TIFF's first page."""
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        if max_pixels is not None:
            _check_pixel_count(path, page.imagewidth, page.imagelength, max_pixels)
        photometric = int(page.photometric)
        if photometric not in (0, 1, 2):  # min-is-white, min-is-black, RGB
            raise ImageError(path, f"unsupported TIFF colour model {page.photometric.name}")
        samples = page.asarray()
        if page.axes.startswith("S"):
            samples = np.moveaxis(samples, 0, -1)
        if samples.ndim not in (2, 3):
            raise ImageError(path, f"unsupported TIFF layout {page.axes}")
        if photometric == 0:
            samples = _inverted(samples)
        extra = tuple(int(kind) for kind in page.extrasamples)
        icc_tag = page.tags.get(_ICC_TIFF_TAG)
        orientation_tag = page.tags.get(_ORIENTATION)
        icc = bytes(icc_tag.value) if icc_tag is not None else None
        orientation = int(orientation_tag.value) if orientation_tag is not None else 1
    colour_samples = 1 if photometric in (0, 1) else 3
    present = samples.shape[2] if samples.ndim == 3 else 1
    if present < colour_samples:
        raise ImageError(path, f"damaged TIFF: {present} sample(s) per pixel where its colour model needs 3")
    if samples.ndim == 3 and samples.shape[2] > colour_samples:
        # Keep a following alpha sample (1 associated, 2 unassociated); drop other extra samples.
        has_alpha = bool(extra) and extra[0] in (1, 2)
        samples = samples[..., : colour_samples + has_alpha]
        premultiplied = has_alpha and extra[0] == 1
    else:
        premultiplied = False
    return samples, photometric in (0, 1), premultiplied, icc, orientation if 1 <= orientation <= 8 else 1


def _image_from_samples(
    samples: np.ndarray,
    *,
    grey: bool,
    premultiplied: bool,
    orientation: int,
    icc: bytes | None,
    exif: bytes | None,
    text: dict[str, str],
    source: Path,
) -> ImageData:
    """Build ``ImageData`` from H x W or H x W x S samples: grey or RGB first, then an optional alpha."""
    values, bit_depth = _unit_float(samples)
    if values.ndim == 2:
        values = values[..., None]
    colour_count = 1 if grey else 3
    colour = values[..., :colour_count]
    alpha = values[..., colour_count] if values.shape[2] > colour_count else None
    if premultiplied and alpha is not None:
        colour = np.divide(colour, alpha[..., None], out=np.zeros_like(colour), where=alpha[..., None] > 0)
        colour = np.clip(colour, 0.0, 1.0)
    if grey:
        colour = np.repeat(colour, 3, axis=2)
    colour = np.ascontiguousarray(_apply_orientation(colour, orientation))
    if alpha is not None:
        alpha = np.ascontiguousarray(_apply_orientation(alpha, orientation))
    return ImageData(
        pixels=colour,
        alpha=alpha,
        grey=grey,
        bit_depth=bit_depth,
        icc_profile=icc,
        exif=exif,
        text=text,
        source=source,
    )


def _inverted(samples: np.ndarray) -> np.ndarray:
    """Min-is-white samples as min-is-black."""
    if samples.dtype == np.bool_:
        return ~samples
    if samples.dtype.kind == "f":
        return 1.0 - samples
    return np.iinfo(samples.dtype).max - samples


def _unit_float(samples: np.ndarray) -> tuple[np.ndarray, int]:
    """Samples as float32 in [0, 1] and the bit depth to save them with."""
    kind, itemsize = samples.dtype.kind, samples.dtype.itemsize
    if samples.dtype == np.bool_:
        return samples.astype(np.float32), 8
    if kind == "u" and itemsize == 1:
        return samples.astype(np.float32) / np.float32(255), 8
    if kind in ("u", "i") and itemsize == 2:
        return samples.astype(np.float32) / np.float32(65535), 16
    if kind in ("u", "i"):
        # Pillow's mode I (32-bit) usually holds 16-bit grey; otherwise use the type's full range.
        low, high = int(samples.min(initial=0)), int(samples.max(initial=0))
        full = 65535 if low >= 0 and high <= 65535 else np.iinfo(samples.dtype).max
        return np.clip(samples.astype(np.float64) / full, 0.0, 1.0).astype(np.float32), 16
    if kind == "f":
        # Float files have no fixed white; take [0, 1] unless the data is brighter, then scale by its maximum.
        values = np.nan_to_num(samples.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        high = float(values.max(initial=0.0))
        if high > 1.0:
            values /= np.float32(high)
        return np.clip(values, 0.0, 1.0), 16
    raise ValueError(f"unsupported sample type {samples.dtype}")


def _apply_orientation(values: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright for an EXIF orientation (1 to 8), as ``ImageOps.exif_transpose`` does."""
    if orientation == 2:
        return values[:, ::-1]
    if orientation == 3:
        return values[::-1, ::-1]
    if orientation == 4:
        return values[::-1]
    if orientation == 5:
        return values.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(values, -1)
    if orientation == 7:
        return values[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(values, 1)
    return values


# --- saving ----------------------------------------------------------------------------------------------


def _output_format(path: Path, format: str | None) -> str:
    if format is not None:
        fmt = _OUTPUT_FORMATS.get(format.lower().lstrip("."))
        if fmt is None:
            raise ImageError(path, f"cannot save as {format!r}; choose png, jpeg, webp, tiff or bmp")
        return fmt
    fmt = _SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageError(
            path, f"no output format for the suffix {path.suffix!r}; use .png, .jpg, .webp, .tif or .bmp"
        )
    return fmt


def _check_destination(path: Path, *, overwrite: bool, protect: Iterable[Path | str]) -> None:
    if path.is_dir():
        raise ImageError(path, "is a folder, not a file name")
    if any(same_file(path, Path(protected)) for protected in protect):
        raise ImageError(path, "is an input file itself; refusing to write over the original")
    if overwrite:
        return
    if path.exists() or path.is_symlink():
        raise ImageError(path, "already exists; refusing to write over it (overwrite=True allows it)")


def same_file(a: Path | str, b: Path | str) -> bool:
    """True when two paths name one file (the same path, or links / hard links to it)."""
    a, b = Path(a), Path(b)
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):  # a symbolic link loop
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False  # one of them does not exist


def lossy_conversions(image: ImageData, format: str | None, path: Path | str = "out.png") -> list[str]:
    """What saving ``image`` in this format will lose, in words (empty when nothing is lost)."""
    fmt = _output_format(Path(path), format)
    lost = []
    if image.alpha is not None and fmt not in _ALPHA_FORMATS and float(np.min(image.alpha)) < 1.0:
        lost.append(f"{fmt} has no transparency: the alpha channel is dropped")
    if image.bit_depth == 16 and fmt not in _DEEP_FORMATS:
        lost.append(f"{fmt} holds 8 bits per channel: the 16-bit image is saved with 8")
    if image.xmp and fmt not in _XMP_FORMATS:
        lost.append(f"the XMP metadata (keywords, ratings, edit history …) is not written to {fmt}")
    return lost


def uint8_samples(values: np.ndarray) -> np.ndarray:
    """Float samples in [0, 1] as the 8-bit values an 8-bit file written by ``save_image`` holds."""
    values = np.clip(np.nan_to_num(values.astype(np.float32, copy=False), nan=0.0), 0.0, 1.0)
    return np.rint(values * np.float32(255)).astype(np.uint8)


QUANTISE_ROWS = 256  # rows converted at a time: float temporaries stay a strip, not a second whole image


def _quantised_samples(image: ImageData, fmt: str) -> np.ndarray:
    """H x W (grey) or H x W x S uint8/uint16 samples in the layout the file will hold.

    Converted in strips of rows, so that saving a large image needs its samples plus one strip of floats.
    """
    deep = image.bit_depth == 16 and fmt in _DEEP_FORMATS
    keep_alpha = image.alpha is not None and fmt in _ALPHA_FORMATS
    channels = (1 if image.grey else 3) + (1 if keep_alpha else 0)
    top, dtype = (65535, np.uint16) if deep else (255, np.uint8)
    samples = np.empty((image.height, image.width, channels), dtype=dtype)
    for start in range(0, image.height, QUANTISE_ROWS):
        rows = slice(start, start + QUANTISE_ROWS)
        pixels = image.pixels[rows]
        planes = [pixels.mean(axis=2, dtype=np.float32)[..., None] if image.grey else pixels]
        if keep_alpha:
            planes.append(image.alpha[rows][..., None])
        values = np.concatenate(planes, axis=2) if len(planes) > 1 else planes[0]
        values = np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0)
        samples[rows] = np.rint(values * np.float32(top))
    return samples[..., 0] if channels == 1 else samples


def _encode(fh: BinaryIO, samples: np.ndarray, image: ImageData, fmt: str, quality: int) -> None:
    keeps_metadata = fmt in _METADATA_FORMATS
    icc = image.icc_profile if keeps_metadata else None
    exif = _exif_for_saving(image.exif) if keeps_metadata else None
    text = image.text if fmt == "PNG" else {}
    xmp = image.xmp if fmt in _XMP_FORMATS else None
    if samples.dtype == np.uint16 and samples.ndim == 3:
        # 16-bit colour or grey + alpha: Pillow has no such mode.
        if fmt == "PNG":
            import imagecodecs

            encoded = imagecodecs.png_encode(samples)
            fh.write(
                encoded[:33] + _png_metadata_chunks(icc, exif, text, xmp) + encoded[33:]
            )  # 33: after IHDR
        else:
            photometric = "minisblack" if samples.shape[2] == 2 else "rgb"
            extrasamples = [2] if samples.shape[2] in (2, 4) else None  # 2: unassociated alpha
            tifffile.imwrite(
                fh,
                samples,
                photometric=photometric,
                extrasamples=extrasamples,
                iccprofile=icc,
                compression="zlib",
                predictor=True,
            )
        return
    options = _pillow_save_options(fmt, quality, icc, exif, text, xmp)
    Image.fromarray(samples).save(fh, format=fmt, **options)


def _pillow_save_options(
    fmt: str,
    quality: int,
    icc: bytes | None,
    exif: bytes | None,
    text: dict[str, str],
    xmp: bytes | None = None,
) -> dict[str, object]:
    options: dict[str, object] = {}
    if icc:
        options["icc_profile"] = icc
    if exif:
        options["exif"] = exif
    if fmt == "PNG" and (text or xmp):
        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
        if xmp:
            info.add_itxt(_PNG_XMP_KEY, xmp.decode("utf-8", "replace"))
            info.add_text(_PNG_RAW_XMP_KEY, _raw_profile_text(xmp), zip=True)
        options["pnginfo"] = info
    elif xmp and fmt in _XMP_FORMATS:
        options["xmp"] = xmp
    if fmt == "JPEG":
        # At high quality, full-resolution colour (4:4:4) is worth its size for enhanced images.
        options.update(quality=quality, subsampling=PILLOW_SUBSAMPLING["4:4:4" if quality >= 90 else "4:2:0"])
    elif fmt == "WEBP":
        options.update(quality=quality, lossless=quality == 100)
    elif fmt == "TIFF":
        options["compression"] = "tiff_adobe_deflate"
    return options


def _exif_for_saving(exif: bytes | None) -> bytes | None:
    """The EXIF with orientation 1, since the pixels are stored upright; unreadable EXIF is dropped."""
    if not exif:
        return None
    try:
        parsed = Image.Exif()
        parsed.load(exif)
        parsed[_ORIENTATION] = 1
        return parsed.tobytes()
    except Exception:  # EXIF parsers raise many types on junk; better no EXIF than no file.
        return None


def _png_metadata_chunks(
    icc: bytes | None, exif: bytes | None, text: dict[str, str], xmp: bytes | None = None
) -> bytes:
    """ICC, EXIF, text and XMP chunks as Pillow writes them, taken from a 1 x 1 PNG to splice into another."""
    if not (icc or exif or text or xmp):
        return b""
    buffer = io.BytesIO()
    options = _pillow_save_options("PNG", 95, icc, exif, text, xmp)
    Image.new("L", (1, 1)).save(buffer, format="PNG", **options)
    data, chunks, position = buffer.getvalue(), [], len(_PNG_SIGNATURE)
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        end = position + 12 + length  # length, type, data, CRC
        if data[position + 4 : position + 8] in _PNG_METADATA_CHUNKS:
            chunks.append(data[position:end])
        position = end
    return b"".join(chunks)


def _write_atomically(path: Path, write: Callable[[BinaryIO], None], *, overwrite: bool) -> None:
    """Write through a hidden temporary file beside ``path``, then rename it into place."""
    temporary = _create_temporary_beside(path)
    finished = False
    try:
        with temporary.open("wb") as fh:  # by name, not descriptor: tifffile wants a named file
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if not overwrite and (path.exists() or path.is_symlink()):
            raise ImageError(path, "appeared while writing; refusing to write over it")
        os.replace(temporary, path)
        finished = True
    except ImageError:
        raise
    except Exception as exc:  # encoders and the file system raise many types; the caller needs one.
        raise ImageError(path, f"could not write the file ({exc})") from exc
    finally:
        if not finished:
            with contextlib.suppress(OSError):
                temporary.unlink()
    _sync_folder(path.parent)


def _create_temporary_beside(path: Path) -> Path:
    # os.open with 0o666 rather than mkstemp, so the finished file gets the umask's permissions, not 0600.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temporary = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
        try:
            os.close(os.open(temporary, flags, 0o666))
            return temporary
        except FileExistsError:
            continue
        except OSError as exc:
            raise ImageError(path, f"cannot create a file in {path.parent}: {exc.strerror or exc}") from exc
    raise ImageError(path, f"cannot find a free temporary name in {path.parent}")


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable where the system allows it (POSIX); best effort."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
