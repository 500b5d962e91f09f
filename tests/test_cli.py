"""The CLI end to end, in process, on real files made in a temp folder."""

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from enhancer.cli import main


def _png(path: Path, size=(24, 16), mode="RGB") -> Path:
    rng = np.random.default_rng(0)
    channels = 3 if mode == "RGB" else 1
    data = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    Image.fromarray(data.squeeze() if channels == 1 else data, mode).save(path)
    return path


def _bomb_png(path: Path, side: int = 40000) -> Path:
    """A valid PNG signature and IHDR claiming side x side pixels, with almost no data behind it."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat_data = zlib.compress(b"\x00" * 64)
    idat = (
        struct.pack(">I", len(idat_data))
        + b"IDAT"
        + idat_data
        + struct.pack(">I", zlib.crc32(b"IDAT" + idat_data))
    )
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk + idat)
    return path


def _upscale(*inputs: Path, out: Path, flags: str) -> int:
    """``enhancer upscale INPUTS --out-dir OUT FLAGS`` in process; its exit code."""
    return main(["upscale", *map(str, inputs), "--out-dir", str(out), *flags.split()])


def test_methods_lists_builtin_methods(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert "bicubic" in out and "lanczos" in out and "x2" in out


def test_upscale_writes_each_input_enlarged(tmp_path, capsys):
    a = _png(tmp_path / "a.png")
    b = _png(tmp_path / "b.png", size=(10, 12), mode="L")
    out = tmp_path / "out"
    assert _upscale(a, b, out=out, flags="--method bicubic --scale 3 --quiet") == 0
    with Image.open(out / "a.png") as im:
        assert im.size == (72, 48) and im.mode == "RGB"
    with Image.open(out / "b.png") as im:
        assert im.size == (30, 36) and im.mode == "L"


def test_upscale_handles_a_folder_and_format(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    _png(folder / "x.png")
    _png(folder / "y.png")
    out = tmp_path / "out"
    assert _upscale(folder, out=out, flags="--method lanczos --scale 2 --format jpeg --quiet") == 0
    assert sorted(p.name for p in out.iterdir()) == ["x.jpg", "y.jpg"]


@pytest.mark.parametrize("kind", ["zero-byte", "text", "truncated", "bomb"])
def test_hostile_file_gives_one_line_error_and_no_output(tmp_path, capsys, kind):
    bad = tmp_path / f"bad-{kind}.png"
    if kind == "zero-byte":
        bad.write_bytes(b"")
    elif kind == "text":
        bad.write_text("this is not an image\n")
    elif kind == "truncated":
        good = _png(tmp_path / "source.png", size=(64, 64))
        data = good.read_bytes()
        bad.write_bytes(data[: len(data) // 2])
        good.unlink()
    else:
        _bomb_png(bad)
    fine = _png(tmp_path / "fine.png")
    out = tmp_path / "out"
    code = _upscale(bad, fine, out=out, flags="--method bicubic --scale 2 --quiet")
    assert code != 0
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and bad.name in errors[0]
    assert "Traceback" not in errors[0]
    assert sorted(p.name for p in out.iterdir()) == ["fine.png"], "the bad file left output behind"


def test_an_input_is_replaced_only_with_replace_input(tmp_path, capsys):
    source = _png(tmp_path / "photo.png")
    before = source.read_bytes()
    for flags in ("", "--overwrite"):  # --overwrite replaces outputs, never the user's original
        code = _upscale(source, out=tmp_path, flags=f"--method bicubic --scale 2 --quiet {flags}")
        assert code == 1
        assert source.read_bytes() == before
        err = capsys.readouterr().err
        assert "is the input file itself" in err and "--replace-input" in err
    code = _upscale(source, out=tmp_path, flags="--method bicubic --scale 2 --replace-input --quiet")
    assert code == 0
    with Image.open(source) as im:
        assert im.size == (48, 32)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "a temporary file was left behind"


def test_inputs_of_the_same_stem_get_outputs_apart(tmp_path, capsys):
    _png(tmp_path / "a.png")
    Image.fromarray(np.zeros((16, 24, 3), np.uint8)).save(tmp_path / "a.jpg")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"old")
    code = _upscale(
        tmp_path / "a.png",
        tmp_path / "a.jpg",
        out=out,
        flags="--method bicubic --scale 2 --overwrite --quiet",
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["a-jpg.png", "a.png"]
    assert "a-jpg.png instead" in capsys.readouterr().err
    with Image.open(out / "a-jpg.png") as im:
        assert im.getextrema()[0] == (0, 0)  # the black JPEG's result, not the PNG's


def test_stale_temporaries_of_a_killed_run_are_removed(tmp_path, capsys):
    import os

    source = _png(tmp_path / "photo.png")
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".photo.png.tmp-0badf00d"
    stale.write_bytes(b"x" * 100)
    os.utime(stale, (1_000_000_000, 1_000_000_000))
    theirs = out / ".notes.tmp-1234"  # not our pattern: left alone
    theirs.write_bytes(b"keep")
    assert _upscale(source, out=out, flags="--method bicubic --scale 2") == 0
    assert not stale.exists() and theirs.exists()
    assert "removed 1 unfinished temporary file" in capsys.readouterr().err


def test_symlink_loops_and_dangling_links_get_one_line_each(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    _png(folder / "good.png")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    (folder / "gone.png").symlink_to(folder / "missing.png")
    named_loop = tmp_path / "x.png"
    named_loop.symlink_to(tmp_path / "y.png")
    (tmp_path / "y.png").symlink_to(named_loop)
    out = tmp_path / "out"
    code = _upscale(folder, named_loop, out=out, flags="--method bicubic --scale 2 --quiet")
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "loop.png: a symbolic link loop" in err and "gone.png: a symbolic link to nothing" in err
    assert "x.png: a symbolic link loop" in err
    assert sorted(p.name for p in out.iterdir()) == ["good.png"]


def test_rotated_jpeg_with_icc_comes_out_upright_with_metadata(tmp_path):
    # A 40x20 landscape JPEG with a red block at its top-left, tagged orientation 6 (rotate 90° clockwise).
    pixels = np.full((20, 40, 3), 128, np.uint8)
    pixels[:8, :8] = (255, 0, 0)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Enhancer test camera"
    path = tmp_path / "rotated.jpg"
    Image.fromarray(pixels).save(path, quality=95, icc_profile=icc, exif=exif.tobytes())
    out = tmp_path / "out"
    assert _upscale(path, out=out, flags="--method bicubic --scale 2 --quiet") == 0
    with Image.open(out / "rotated.png") as im:
        assert im.size == (40, 80), "orientation 6 must give a portrait image"
        assert im.info.get("icc_profile") == icc
        kept = im.getexif()
        assert kept.get(0x0112, 1) == 1 and kept.get(0x010F) == "Enhancer test camera"
        rgb = np.asarray(im.convert("RGB"))
    # Rotating 90° clockwise moves the top-left corner to the top-right.
    assert rgb[4, -4, 0] > 200 and rgb[4, -4, 1] < 60
    assert rgb[4, 4, 0] < 200


def test_sixteen_bit_png_comes_out_sixteen_bit(tmp_path):
    ramp = (np.arange(32 * 16, dtype=np.uint32).reshape(16, 32) * 127).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(ramp).save(path)
    out = tmp_path / "out"
    assert _upscale(path, out=out, flags="--method bicubic --scale 2 --quiet") == 0
    with Image.open(out / "deep.png") as im:
        assert im.mode in ("I;16", "I;16B", "I") and im.size == (64, 32)
        values = np.asarray(im)
    assert values.max() > 255, "precision beyond 8 bits was lost"
    assert len(np.unique(values)) > 256


def test_unknown_method_and_bad_option_exit_with_usage_error(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    assert _upscale(source, out=tmp_path, flags="--method nope --scale 2") == 2
    assert "unknown method" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        _upscale(source, out=tmp_path, flags="--method bicubic --scale 2 --bogus 1")
    assert exit_info.value.code == 2


def test_unsupported_scale_is_reported(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    code = _upscale(source, out=tmp_path / "o", flags="--method bicubic --scale 7 --quiet")
    assert code == 1
    assert "does not support scale 7" in capsys.readouterr().err


def test_bench_reports_psnr_and_writes_json(tmp_path, capsys):
    data = tmp_path / "hr"
    data.mkdir()
    rng = np.random.default_rng(1)
    smooth = np.cumsum(np.cumsum(rng.normal(size=(40, 44, 3)), 0), 1)
    smooth = (255 * (smooth - smooth.min()) / np.ptp(smooth)).astype(np.uint8)
    Image.fromarray(smooth).save(data / "one.png")
    report = tmp_path / "r.json"
    flags = ["--method", "lanczos", "--scale", "2", "--json", str(report)]
    assert main(["bench", "--dataset", str(data), *flags]) == 0
    out = capsys.readouterr().out
    assert "one" in out and "PSNR-Y" in out and "bicubic" in out
    import json

    parsed = json.loads(report.read_text())
    assert set(parsed["mean"]) == {"bicubic", "lanczos"}
    assert 20 < parsed["mean"]["lanczos"]["psnr"] < 60
    assert parsed["rows"][0]["size"] == [44, 40]


def test_bench_measures_irn_round_trip_with_either_engine(tmp_path, capsys):
    data = tmp_path / "hr"
    data.mkdir()
    from enhancer.samples import sample_image_path

    with Image.open(sample_image_path()) as photo:
        photo.convert("RGB").crop((160, 80, 256, 160)).save(data / "one.png")  # a face and a badge
    import json

    means = {}
    for engine in ("onnx", "bf16", "int8"):
        report = tmp_path / f"{engine}.json"
        flags = ["--method", "irn", "--scale", "4", "--engine", engine, "--json", str(report), "--quiet"]
        assert main(["bench", "--dataset", str(data), *flags]) == 0
        means[engine] = json.loads(report.read_text())["mean"]
    assert set(means["onnx"]) == {"bicubic", "irn", "irn-lr"}
    assert means["onnx"]["irn"]["psnr"] > means["onnx"]["bicubic"]["psnr"] + 2
    # bfloat16 sub-networks: the same model, the same x4 round trip (a 96 x 80 crop: within 0.03 dB; Set5 0.002)
    assert abs(means["bf16"]["irn"]["psnr"] - means["onnx"]["irn"]["psnr"]) < 0.03
    # int8 and bfloat16 sub-networks: likewise (Set5 the same as bf16's)
    assert abs(means["int8"]["irn"]["psnr"] - means["onnx"]["irn"]["psnr"]) < 0.03


def test_bench_center_crop_measures_the_middle_of_each_image(tmp_path, capsys):
    data = tmp_path / "hr"
    data.mkdir()
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 256, (40, 44, 3), dtype=np.uint8)).save(data / "one.png")
    report = tmp_path / "r.json"
    flags = ["--method", "lanczos", "--scale", "2", "--center-crop", "21", "--json", str(report)]
    assert main(["bench", "--dataset", str(data), *flags]) == 0
    import json

    parsed = json.loads(report.read_text())
    assert parsed["rows"][0]["size"] == [20, 20]  # 21 x 21, mod-cropped to x2
    assert parsed["config"]["center_crop"] == 21
    too_small = ["--method", "lanczos", "--scale", "2", "--center-crop", "3"]
    assert main(["bench", "--dataset", str(data), *too_small]) == 2
    assert "--center-crop" in capsys.readouterr().err


def test_bench_merge_adds_up_runs_over_parts_of_a_dataset(tmp_path, capsys):
    import json

    data = tmp_path / "hr"
    data.mkdir()
    rng = np.random.default_rng(3)
    for name in ("a", "b", "c"):
        Image.fromarray(rng.integers(0, 256, (24, 28, 3), dtype=np.uint8)).save(data / f"{name}.png")
    flags = ["bench", "--dataset", str(data), "--method", "lanczos", "--scale", "2"]
    assert main([*flags, "--json", str(tmp_path / "all.json")]) == 0
    assert main([*flags, "--limit", "2", "--json", str(tmp_path / "first.json")]) == 0
    assert main([*flags, "--skip", "2", "--json", str(tmp_path / "rest.json")]) == 0
    capsys.readouterr()
    merged = tmp_path / "merged.json"
    parts = [str(tmp_path / "rest.json"), str(tmp_path / "first.json")]
    assert main(["bench-merge", *parts, "--json", str(merged)]) == 0
    assert "covers 3 of the 3 images" in capsys.readouterr().out
    whole, added = json.loads((tmp_path / "all.json").read_text()), json.loads(merged.read_text())
    assert [row["image"] for row in added["rows"]] == ["a", "b", "c"]
    for method in ("bicubic", "lanczos"):
        assert added["mean"][method]["psnr"] == pytest.approx(whole["mean"][method]["psnr"], abs=1e-9)

    assert main(["bench-merge", str(tmp_path / "first.json")]) == 0
    assert "1 missing" in capsys.readouterr().out
    assert main(["bench-merge", str(tmp_path / "all.json"), str(tmp_path / "rest.json")]) == 1
    assert "more than once: c" in capsys.readouterr().err
    assert main([*flags[:-1], "4", "--skip", "2", "--json", str(tmp_path / "x4.json")]) == 0
    assert main(["bench-merge", str(tmp_path / "first.json"), str(tmp_path / "x4.json")]) == 1
    assert "differ in scale" in capsys.readouterr().err
    (tmp_path / "junk.json").write_text("{")
    assert main(["bench-merge", str(tmp_path / "junk.json")]) == 1
    assert "not a bench report" in capsys.readouterr().err


def test_bench_skips_a_corrupt_file_and_keeps_what_it_measured(tmp_path, capsys):
    data = tmp_path / "set"
    data.mkdir()
    for name in ("a", "c"):
        _png(data / f"{name}.png", size=(16, 16))
    (data / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"broken" * 10)
    report = tmp_path / "r.json"
    flags = ["--method", "lanczos", "--scale", "2", "--json", str(report), "--quiet"]
    assert main(["bench", "--dataset", str(data), *flags]) == 1  # one image failed
    err = capsys.readouterr().err
    assert "b: not measured" in err
    import json

    saved = json.loads(report.read_text())
    assert [row["image"] for row in saved["rows"]] == ["a", "c"] and list(saved["failed"]) == ["b"]
    # the same --json again without --resume would lose it: refused
    assert main(["bench", "--dataset", str(data), *flags]) == 2


def test_bench_resume_measures_only_what_is_missing(tmp_path, capsys):
    import json

    data = tmp_path / "set"
    data.mkdir()
    for name in ("a", "b", "c"):
        _png(data / f"{name}.png", size=(16, 16))
    report = tmp_path / "r.json"
    flags = ["--method", "lanczos", "--scale", "2", "--json", str(report), "--quiet"]
    assert main(["bench", "--dataset", str(data), "--limit", "2", *flags]) == 0
    partial = json.loads(report.read_text())
    # a run killed after one image: its report holds that image only
    partial["rows"] = partial["rows"][:1]
    partial["config"]["limit"] = None
    report.write_text(json.dumps(partial))
    capsys.readouterr()
    assert main(["bench", "--dataset", str(data), *flags, "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resuming: 1 image(s)" in out and out.count("lanczos") >= 2
    whole = json.loads(report.read_text())
    assert [row["image"] for row in whole["rows"]] == ["a", "b", "c"]
    assert whole["rows"][0] == partial["rows"][0]  # kept, not measured again
    # resuming a report of another measurement is refused
    assert (
        main(
            [
                "bench",
                "--dataset",
                str(data),
                "--method",
                "bicubic",
                "--scale",
                "2",
                "--json",
                str(report),
                "--resume",
            ]
        )
        == 2
    )


def test_lossy_conversions_get_a_one_line_notice(tmp_path, capsys):
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "green", "blue")]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 3] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "clear.png")
    out = tmp_path / "out"
    assert _upscale(gif, out=out, flags="--method bicubic --scale 2 --quiet") == 0
    assert "only the first frame" in capsys.readouterr().err
    assert (
        _upscale(tmp_path / "clear.png", out=out, flags="--method bicubic --scale 2 --format jpeg --quiet")
        == 0
    )
    assert "alpha channel is dropped" in capsys.readouterr().err
    assert (
        _upscale(tmp_path / "clear.png", out=tmp_path / "png", flags="--method bicubic --scale 2 --quiet")
        == 0
    )
    assert "notice" not in capsys.readouterr().err


def test_shrinking_16_bit_says_the_restore_is_8_bit(tmp_path, capsys):
    import tifffile

    deep = (np.random.default_rng(0).random((16, 16, 3)) * 65535).astype(np.uint16)
    tifffile.imwrite(tmp_path / "deep.tif", deep)
    assert (
        main(
            [
                "shrink",
                str(tmp_path / "deep.tif"),
                "--scale",
                "2",
                "--out-dir",
                str(tmp_path / "s"),
                "--quiet",
            ]
        )
        == 0
    )
    assert "8 bits of precision, not the original 16" in capsys.readouterr().err


def test_a_result_over_the_output_limit_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    from enhancer.runtime import runner

    monkeypatch.setattr(runner, "MAX_OUTPUT_PIXELS", 1000)
    source = _png(tmp_path / "p.png", size=(20, 20))
    assert _upscale(source, out=tmp_path / "o", flags="--method bicubic --scale 2 --quiet") == 1
    err = capsys.readouterr().err
    assert "the result would be 40×40" in err and "over the limit" in err
    assert not list((tmp_path / "o").glob("*.png"))
