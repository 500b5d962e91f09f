"""Users' model files: detected from their weights alone, read as data (never code), exported to ONNX."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from enhancer.nets.user_models import (
    PARITY_TOLERANCE,
    ModelFileError,
    describe_model_file,
    export_onnx,
    onnx_parity,
)
from tests.user_model_fixtures import save_model, tiny_model


@pytest.mark.parametrize(
    ("kind", "architecture", "scale"),
    [("esrgan", "ESRGAN", 4), ("compact", "Compact", 4), ("swinir", "SwinIR", 2)],
)
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_three_architectures_are_detected_from_pth_and_safetensors(
    tmp_path, kind, architecture, scale, suffix
):
    path = save_model(tiny_model(kind), tmp_path / f"{kind}{suffix}")
    facts = describe_model_file(path)
    assert (facts.architecture, facts.scale, facts.input_channels, facts.purpose) == (
        architecture,
        scale,
        3,
        "SR",
    )
    assert facts.parameters == sum(p.numel() for p in tiny_model(kind).parameters())


def test_weights_wrapped_as_training_code_saves_them_are_found(tmp_path):
    path = save_model(tiny_model("esrgan"), tmp_path / "net_g.pth", wrap="params_ema")
    assert describe_model_file(path).architecture == "ESRGAN"


class _WritesAMarker:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    state = tiny_model("compact").state_dict()
    state["payload"] = _WritesAMarker(str(marker))
    path = tmp_path / "evil.pth"
    torch.save(state, path)
    with pytest.raises(ModelFileError, match="never code"):
        describe_model_file(path)
    assert not marker.exists()
    # the same file through plain pickle would have run it: the marker proves the test's payload is real
    pickle.loads(pickle.dumps(_WritesAMarker(str(marker))))
    assert marker.exists()


def test_bad_files_each_get_one_clear_line(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("not a model")
    truncated = tmp_path / "cut.pth"
    whole = save_model(tiny_model("esrgan"), tmp_path / "whole.pth").read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    unknown = tmp_path / "unknown.pth"
    torch.save({"encoder.weight": torch.zeros(3, 3), "decoder.bias": torch.zeros(3)}, unknown)
    picture = tmp_path / "photo.jpg"
    picture.write_bytes(b"\xff\xd8\xff")
    for path, words in [
        (text, "not a readable model file"),
        (truncated, "not a readable model file"),
        (unknown, "does not know"),
        (picture, "not a model file"),
        (tmp_path / "missing.pth", "no such file"),
    ]:
        with pytest.raises(ModelFileError, match=words) as caught:
            describe_model_file(path)
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize("kind", ["esrgan", "compact", "swinir"])
def test_onnx_export_matches_torch(tmp_path, kind):
    weights = save_model(tiny_model(kind), tmp_path / f"{kind}.pth")
    facts = describe_model_file(weights)
    target = tmp_path / f"{kind}.onnx"
    assert export_onnx(weights, target, facts) is None
    example = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(1))
    if kind == "swinir":
        example = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    assert onnx_parity(tiny_model(kind), target, example) <= PARITY_TOLERANCE


def test_a_plain_onnx_model_is_probed_for_its_scale(tmp_path):
    weights = save_model(tiny_model("compact"), tmp_path / "c.pth")
    exported = tmp_path / "compact.onnx"
    assert export_onnx(weights, exported, describe_model_file(weights)) is None
    facts = describe_model_file(exported)
    assert (facts.architecture, facts.scale, facts.input_channels) == ("ONNX", 4, 3)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(exported.read_bytes()[:100])
    with pytest.raises(ModelFileError, match="not a loadable ONNX model"):
        describe_model_file(broken)
    assert np.isfinite(facts.scale)
