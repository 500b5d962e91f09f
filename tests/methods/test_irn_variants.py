"""IRN's models: the JPEG-robust variant, superseded models kept for old files, the marker in XMP."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from enhancer.cli import main as cli_main
from enhancer.imaging.colour import quantize_8bit
from enhancer.imaging.image import ImageData
from enhancer.imaging.io import load_image, save_image
from enhancer.methods import irn
from enhancer.runtime.runner import Job, run_job

pytest.importorskip("onnxruntime")


def _random_irn(seed: int, repair: bool = False):
    from enhancer.nets.irn import IRN, DenseBlock, JPEGRepair

    torch.manual_seed(seed)
    net = IRN(2, blocks_per_level=1, repair=repair)
    for module in net.modules():
        if isinstance(module, (DenseBlock, JPEGRepair)):
            torch.nn.init.normal_(module.convs[-1].weight, 0.0, 0.02)
    return net


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    """Three small x2 models: a superseded standard one, the current standard one and a jpeg one."""
    from enhancer.train.irn_export import export_irn, keep_previous

    folder = tmp_path_factory.mktemp("irn_variants")
    export_irn(_random_irn(1), folder, training={"iterations": 1})
    keep_previous(folder, 2)
    export_irn(_random_irn(2), folder, training={"iterations": 2})
    export_irn(_random_irn(3, repair=True), folder, training={"iterations": 3}, variant="jpeg")
    return folder


@pytest.fixture(autouse=True)
def use_models(models_dir, monkeypatch):
    monkeypatch.setenv(irn.MODELS_ENV, str(models_dir))


def photo(height: int = 48, width: int = 64) -> ImageData:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = np.stack([0.5 + 0.3 * np.sin(x / 5), 0.5 + 0.3 * np.cos(y / 7), (x + y) / (x + y).max()], 2)
    return ImageData(quantize_8bit(pixels).astype(np.float32))


def run(image: ImageData, action: str, **options):
    return run_job(Job(image, "irn", 2, options, "cpu", action=action))


def as_jpeg(image: ImageData, tmp_path: Path, name: str, *, keep_xmp: bool) -> Path:
    """What an editor (keep_xmp) or a messenger (not) does: re-save the small PNG as JPEG q90."""
    png = save_image(image, tmp_path / f"{name}.png")
    with Image.open(png) as im:
        xmp = im.info["xmp"]
        options = {"xmp": xmp if isinstance(xmp, bytes) else xmp.encode()} if keep_xmp else {}
        path = tmp_path / f"{name}.jpg"
        im.convert("RGB").save(path, quality=90, **options)
    return path


def test_the_manifest_lists_current_superseded_and_jpeg_models(models_dir):
    models = irn.installed_models()
    assert sorted((m.variant, m.superseded) for m in models) == [
        ("jpeg", False),
        ("standard", False),
        ("standard", True),
    ]
    assert len({m.weights_sha256 for m in models}) == 3
    superseded = next(m for m in models if m.superseded)
    assert superseded.shrink_path.name.startswith("irn_x2-") and superseded.shrink_path.exists()
    assert irn.find_model(2).weights_sha256 != superseded.weights_sha256
    assert irn.find_model(2, "jpeg").variant == "jpeg"
    with pytest.raises(ValueError, match="no JPEG-robust IRN x4 model is installed: there is one for x2"):
        irn.find_model(4, "jpeg")


def test_survive_jpeg_shrinks_with_the_robust_model_and_restore_follows_the_marker():
    small = run(photo(), "shrink", survive_jpeg=True)
    marker = irn.read_marker(small.image)
    assert marker.variant == "jpeg" and small.info["model"] == "JPEG-robust"
    assert marker.model_sha256 == irn.find_model(2, "jpeg").weights_sha256
    restored = run(small.image.with_pixels(quantize_8bit(small.image.pixels)), "restore")
    assert restored.info["model"] == "JPEG-robust" and "warning" not in restored.info


def test_a_file_shrunk_by_a_superseded_model_restores_with_that_model():
    superseded = next(m for m in irn.installed_models() if m.superseded)
    session, _ = irn.session_for(superseded.shrink_path, "cpu")
    original = photo()
    lr = quantize_8bit(np.clip(irn.shrink_pixels(original.pixels, session, 2, tile=64, overlap=8), 0, 1))
    marker = irn.IRNMarker(2, superseded.weights_sha256, original.width, original.height)
    old_file = ImageData(lr.astype(np.float32), text={irn.MARKER_KEY: marker.to_text()})
    restored = run(old_file, "restore")
    assert "warning" not in restored.info
    restore_session, _ = irn.session_for(superseded.restore_path, "cpu")
    expected = np.clip(irn.restore_pixels(lr, restore_session, 2, tile=64, overlap=8), 0, 1)
    np.testing.assert_allclose(restored.image.pixels, expected, atol=1e-6)


def test_a_marker_naming_no_installed_model_restores_with_a_warning():
    small = run(photo(), "shrink").image
    marker = irn.read_marker(small)
    foreign = irn.IRNMarker(2, "0" * 64, marker.width, marker.height)
    stranger = small.with_pixels(quantize_8bit(small.pixels), None)
    stranger.text = {irn.MARKER_KEY: foreign.to_text()}
    stranger.xmp = None
    assert "not installed" in run(stranger, "restore").info["warning"]


def test_the_marker_travels_in_xmp_into_a_jpeg_and_restore_reads_it(tmp_path):
    for robust in (False, True):
        small = run(photo(), "shrink", survive_jpeg=robust).image
        assert irn.MARKER_KEY in small.text and b"urn:enhancer:irn:1" in small.xmp
        jpeg = as_jpeg(small, tmp_path, f"robust-{robust}", keep_xmp=True)
        assert irn.read_marker_from_file(jpeg) == irn.read_marker(small)
        loaded = load_image(jpeg)
        assert loaded.text == {} and irn.read_marker(loaded) == irn.read_marker(small)
        restored = run(loaded, "restore")
        if robust:  # expected for this model: a notice, not a warning
            assert "warning" not in restored.info and "JPEG-robust" in restored.info["notice"]
        else:
            assert "re-encoded" in restored.info["warning"] and "--robust jpeg" in restored.info["warning"]
        assert irn.read_marker(restored.image) is None  # the restored photo carries no stale marker


def test_the_users_own_xmp_is_kept_byte_for_byte_around_the_marker():
    user_xmp = (
        b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4"/>'
        b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )
    original = photo()
    original.xmp = user_xmp
    small = run(original, "shrink").image
    assert b'xmp:Rating="4"' in small.xmp and irn.read_marker(small) is not None
    restored = run(small.with_pixels(quantize_8bit(small.pixels), None), "restore")
    assert restored.image.xmp == user_xmp


def test_cli_robust_shrink_and_a_stripped_file_restored_with_force(tmp_path):
    source = tmp_path / "photo.png"
    save_image(photo(), source)
    assert (
        cli_main(
            ["shrink", str(source), "--scale", "2", "--robust", "jpeg", "--out-dir", str(tmp_path / "s")]
        )
        == 0
    )
    small = load_image(tmp_path / "s" / "photo.png")
    assert irn.read_marker(small).variant == "jpeg"
    # A messenger strips the metadata: refused without --force, restored with the robust model with it.
    stripped = as_jpeg(small, tmp_path, "sent", keep_xmp=False)
    assert irn.read_marker_from_file(stripped) is None
    assert cli_main(["restore", str(stripped), "--out-dir", str(tmp_path / "no"), "--quiet"]) == 1
    assert (
        cli_main(
            [
                *("restore", str(stripped), "--force", "--scale", "2", "--robust", "jpeg"),
                *("--out-dir", str(tmp_path / "big"), "--quiet"),
            ]
        )
        == 0
    )
    big = load_image(tmp_path / "big" / "sent.png")
    assert big.pixels.shape == (48, 64, 3)
    forced = run(load_image(stripped), "restore", force=True, survive_jpeg=True)
    assert forced.info["model"] == "JPEG-robust"
    np.testing.assert_allclose(big.pixels, quantize_8bit(forced.image.pixels), atol=1 / 255 + 1e-6)


def test_an_editor_that_rewrites_our_attribute_as_an_element_still_leaves_a_readable_marker():
    small = run(photo(), "shrink").image
    text = irn.read_marker(small).to_text()
    rewritten = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description rdf:about="" xmlns:enhancer="urn:enhancer:irn:1"><enhancer:irn>'
        + text.replace("&", "&amp;").replace("<", "&lt;").encode()
        + b"</enhancer:irn></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    buffer = io.BytesIO(rewritten)
    small.text, small.xmp = {}, buffer.getvalue()
    assert irn.read_marker(small) == irn.IRNMarker.from_text(text)


@pytest.mark.parametrize("engine", ["onnx", "bf16"])
def test_the_repair_acts_only_on_a_re_encoded_small_file(tmp_path, engine):
    model = irn.find_model(2, "jpeg")
    assert model.repair
    small = run(photo(), "shrink", survive_jpeg=True).image
    small = small.with_pixels(quantize_8bit(small.pixels), None)
    untouched = run(small, "restore", engine=engine)
    assert untouched.info["jpeg_repair"] == "off"
    session, _ = irn.session_for(model.restore_path, "cpu")
    exact = irn.restore_pixels(small.pixels, session, 2, repair=False, tile=64, overlap=8)
    np.testing.assert_allclose(
        untouched.image.pixels, np.clip(exact, 0, 1), atol=2e-2 if engine == "bf16" else 1e-6
    )

    shared = load_image(as_jpeg(small, tmp_path, f"shared-{engine}", keep_xmp=True))
    repaired = run(shared, "restore", engine=engine)
    assert repaired.info["jpeg_repair"] == "on"
    unrepaired = np.clip(
        irn.restore_pixels(shared.pixels, session, 2, repair=False, tile=64, overlap=8), 0, 1
    )
    assert np.abs(repaired.image.pixels - unrepaired).max() > 1e-3  # the repair changed something
    if engine == "bf16":
        onnx = run(shared, "restore", engine="onnx").image.pixels
        np.testing.assert_allclose(repaired.image.pixels, onnx, atol=2e-2)
