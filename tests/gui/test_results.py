"""The results panel's details: what a method reported, in a user's words."""

from __future__ import annotations

import pytest

from enhancer.gui.image_convert import image_to_qimage
from enhancer.gui.library import ImageEntry
from enhancer.gui.results import result_details
from enhancer.methods.registry import MethodResult
from enhancer.runtime.runner import Job, run_job
from tests.gui.conftest import gradient_image

pytest.importorskip("onnxruntime")


def test_an_irn_restore_is_described_in_words_not_code_words():
    small = run_job(Job(gradient_image(64, 48), "irn", 2, {"survive_jpeg": True}, "cpu", action="shrink"))
    restored = run_job(Job(small.image, "irn", 2, {}, "cpu", action="restore"))
    entry = ImageEntry("photo.png · IRN ×2", restored.image, image_to_qimage(restored.image), result=restored)

    text = result_details(entry)

    assert "JPEG repair: off (the untouched small file: the exact inverse)" in text
    assert "Method: IRN (shrink & restore)" in text
    assert "Model: JPEG-robust" in text
    assert "Computed with: onnxruntime, float32" in text
    assert "Scale: ×2" in text
    assert "Ran on: " in text
    for code_word in ("jpeg_repair", "ExecutionProvider", "engine", "provider"):
        assert code_word not in text


def test_figures_without_words_come_last_under_technical():
    image = gradient_image(8, 8)
    result = MethodResult(image, info={"method": "kernelgan", "zssr_loss": "0.0123", "seconds": "1.5"})
    text = result_details(ImageEntry("x", image, image_to_qimage(image), result=result))

    lines = text.splitlines()
    assert lines[2:] == ["Method: KernelGAN + ZSSR (blind)", "Took: 1.50 s", "Technical:", "zssr_loss 0.0123"]


@pytest.mark.parametrize(
    ("engine", "precision", "words"),
    [
        ("torch", "float32", "PyTorch, float32"),
        ("onnx", "float16", "onnxruntime, float16 (half precision)"),
        ("onnx", "float32", "onnxruntime, float32"),
        (
            "bf16",
            "bfloat16",
            "PyTorch, bfloat16 convolutions, float32 elsewhere (fast on this CPU)",
        ),
    ],
)
def test_the_engine_is_named_with_its_precision_whichever_method_ran(engine, precision, words):
    image = gradient_image(8, 8)
    result = MethodResult(image, info={"engine": engine, "precision": precision, "architecture": "ESRGAN"})
    text = result_details(ImageEntry("x", image, image_to_qimage(image), result=result))

    assert f"Computed with: {words}" in text.splitlines()
    assert not any(line.startswith("precision") for line in text.splitlines())
