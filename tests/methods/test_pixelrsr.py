"""Pixel recursive SR method: job API and CLI on a small exported model, seeds, naming, odd inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from enhancer.cli import main as cli_main
from enhancer.imaging.image import ImageData
from enhancer.methods import irn, pixelrsr
from enhancer.nets.pixelrsr import PixelRecursiveSR
from enhancer.runtime.jobs import CancelToken, JobCancelled
from enhancer.runtime.runner import Job, run_job
from enhancer.train.pixelrsr_export import export_pixelrsr


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """A small random model, exported the way the shipped one is (so tests never depend on training)."""
    torch.manual_seed(0)
    network = PixelRecursiveSR(prior_layers=2, prior_channels=6, conditioning_channels=6, levels=32)
    folder = tmp_path_factory.mktemp("pixelrsr_models")
    export_pixelrsr(network, folder, training={"iterations": 0})
    return folder


@pytest.fixture(autouse=True)
def use_models(models_dir, monkeypatch):
    monkeypatch.setenv(irn.MODELS_ENV, str(models_dir))


def face(side: int = 8, seed: int = 0) -> ImageData:
    rng = np.random.default_rng(seed)
    return ImageData(rng.random((side, side, 3), dtype=np.float32))


def _run(image: ImageData, seed: int | None = 3, **options) -> object:
    return run_job(Job(image, "pixelrsr", 4, options, "cpu", seed=seed))


def test_draws_32x32_faces_repeatably_per_seed():
    image = face()
    a = _run(image, samples=2)
    assert a.image.pixels.shape == (32, 32, 3) and len(a.samples) == 2
    assert not np.array_equal(a.samples[0].pixels, a.samples[1].pixels)
    b = _run(image, samples=1)
    np.testing.assert_array_equal(b.image.pixels, a.samples[0].pixels)  # sample k depends on seed + k only
    c = _run(image, seed=4, samples=1)
    assert not np.array_equal(c.image.pixels, b.image.pixels)
    assert a.info["seed"] == "3" and "invented" in a.info["note"]


def test_greedy_ignores_the_seed():
    image = face()
    a = _run(image, seed=1, temperature=0.0)
    b = _run(image, seed=2, temperature=0.0)
    np.testing.assert_array_equal(a.image.pixels, b.image.pixels)


def test_larger_input_is_cropped_and_area_downscaled_and_said_so():
    rng = np.random.default_rng(1)
    wide = ImageData(rng.random((32, 40, 3), dtype=np.float32), alpha=np.ones((32, 40), np.float32))
    result = _run(wide)
    assert "centre-cropped to 32×32" in result.info["input"] and "area-downscaled" in result.info["input"]
    assert result.image.alpha.shape == (32, 32)
    assert "input" not in _run(face()).info


def test_grey_face_stays_grey_and_tiny_input_is_refused():
    grey = np.repeat(np.random.default_rng(2).random((8, 8, 1), dtype=np.float32), 3, axis=2)
    result = _run(ImageData(grey, grey=True))
    assert result.image.grey
    np.testing.assert_allclose(result.image.pixels[:, :, 0], result.image.pixels[:, :, 2])
    with pytest.raises(ValueError, match="at least 8×8"):
        _run(ImageData(np.zeros((6, 6, 3), np.float32)))


def test_options_are_validated_and_scale_is_x4_only():
    with pytest.raises(ValueError, match="samples"):
        _run(face(), samples=17)
    with pytest.raises(ValueError, match="scale"):
        run_job(Job(face(), "pixelrsr", 2, {}, "cpu"))


def test_cancel_stops_the_drawing():
    cancel = CancelToken()
    rows = []

    def listener(update):
        if update.stage == "drawing faces":
            rows.append(update.fraction)
            cancel.cancel()

    with pytest.raises(JobCancelled):
        run_job(Job(face(), "pixelrsr", 4, {}, "cpu", seed=0), listener, cancel)
    assert len(rows) == 1


def test_cli_names_one_output_or_numbered_samples(tmp_path):
    source = tmp_path / "face.png"
    Image.fromarray((face().pixels * 255).astype(np.uint8)).save(source)
    out = tmp_path / "out"
    flags = ["--method", "pixelrsr", "--scale", "4", "--seed", "3", "--quiet", "--out-dir", str(out)]
    assert cli_main(["upscale", str(source), *flags, "--samples", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["face.png"]
    first = np.asarray(Image.open(out / "face.png"))
    assert first.shape == (32, 32, 3)
    assert cli_main(["upscale", str(source), *flags, "--samples", "3"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["face.png", "face_1.png", "face_2.png", "face_3.png"]
    np.testing.assert_array_equal(np.asarray(Image.open(out / "face_1.png")), first)
    # the numbered outputs exist now: a second run refuses before any work
    assert cli_main(["upscale", str(source), *flags, "--samples", "3"]) == 1


def test_model_file_is_loaded_as_data_only(models_dir):
    payload = torch.load(models_dir / "pixelrsr.pt", weights_only=True)
    assert set(payload) == {"config", "state_dict"}
    assert pixelrsr.find_model().config == payload["config"]


def test_onnx_graphs_match_the_torch_networks(models_dir):
    """The shipped graphs against the torch modules they were exported from: each step, then whole samples."""
    from enhancer.nets.pixelrsr import IncrementalPrior

    network = pixelrsr.load_network(models_dir / "pixelrsr.pt", torch.device("cpu"))
    face_sampler = pixelrsr.sampler()
    rng = np.random.default_rng(0)
    lr = (rng.random((3, 3, 8, 8), dtype=np.float32) * 2 - 1).astype(np.float32)
    conditioning = face_sampler.sessions["conditioning"].run(None, {"lr": lr})[0]
    with torch.no_grad():
        np.testing.assert_allclose(
            conditioning, network.conditioning(torch.from_numpy(lr)).numpy(), atol=1e-4
        )
    # Teacher-forced prior logits: torch's incremental evaluation against the two graphs, row by row.
    x = (rng.random((3, 3, 32, 32), dtype=np.float32) * 2 - 1).astype(np.float32)
    incremental = IncrementalPrior(network.prior, 3, 32, 32, torch.device("cpu"))
    layers, channels = face_sampler.layers, face_sampler.channels
    above0, above = np.zeros((3, 3, 32), np.float32), np.zeros((layers - 1, 3, channels, 32), np.float32)
    worst = 0.0
    for i in (0, 1, 2, 17):
        with torch.no_grad():
            for k in range(i):  # bring the torch caches to row i
                incremental.start_row(k, torch.from_numpy(x))
            incremental.start_row(i, torch.from_numpy(x))
        above0 = x[:, :, i - 2] if i > 1 else np.zeros((3, 3, 32), np.float32)
        above = np.zeros_like(above)
        for k in range(i):  # the graph's caches the same way
            row0 = x[:, :, k - 1] if k > 0 else np.zeros((3, 3, 32), np.float32)
            above0_k = x[:, :, k - 2] if k > 1 else np.zeros((3, 3, 32), np.float32)
            _, above = face_sampler.sessions["vertical_row"].run(
                None, {"above0": above0_k, "row0": row0, "above": above}
            )
        row0 = x[:, :, i - 1] if i > 0 else np.zeros((3, 3, 32), np.float32)
        from_vertical, _ = face_sampler.sessions["vertical_row"].run(
            None, {"above0": above0, "row0": row0, "above": above}
        )
        lefts = np.zeros((layers - 1, 3, channels), np.float32)
        left0 = np.zeros((3, 3), np.float32)
        for j in range(5):
            current = np.ascontiguousarray(x[:, :, i, j])
            feeds = {
                "left0": left0,
                "current0": current,
                "lefts": lefts,
                "from_vertical": np.ascontiguousarray(from_vertical[..., j]),
            }
            logits, lefts = face_sampler.sessions["horizontal_step"].run(None, feeds)
            with torch.no_grad():
                for colour in range(3):
                    expected = incremental.logits(j, colour, torch.from_numpy(current)).numpy()
                    worst = max(worst, float(np.abs(logits[:, colour] - expected).max()))
            left0 = current
    assert worst < 1e-4
    # Whole greedy samples: every drawn value is the argmax of the torch model on the sample itself (teacher
    # forcing), but where torch's two best logits are within float32 noise of each other.
    from enhancer.nets.pixelrsr import to_unit_range

    ours = face_sampler.sample(lr, 0.0, pixelrsr.sample_uniforms(3, 0))
    with torch.no_grad():
        full, _ = network(torch.from_numpy(lr), to_unit_range(torch.from_numpy(ours), network.levels))
    top2 = full.topk(2, dim=2).values
    near_tie = (top2[:, :, 0] - top2[:, :, 1]) < 1e-3
    agrees = full.argmax(dim=2).numpy() == ours
    assert (agrees | near_tie.numpy()).all()
    assert agrees.mean() > 0.99
