"""ZSSR: learns something real in a few iterations, uses a given kernel, reports progress, cancels, repeats itself."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
import torch
from skimage import data

from enhancer.imaging.image import ImageData
from enhancer.imaging.metrics import psnr_y
from enhancer.imaging.resize import downscale_with_kernel, imresize
from enhancer.methods import zssr
from enhancer.methods.registry import RunContext, get_method
from enhancer.runtime import devices
from enhancer.runtime.jobs import CancelToken, JobCancelled, Progress

# Small enough for a 2-core CI machine: a narrow, shallow net and a few dozen iterations.
TINY = replace(
    zssr.preset_config("fast"),
    width=16,
    depth=4,
    crop_size=32,
    max_iterations=12,
    min_iterations=4,
    ensemble=2,
    back_projection=2,
)


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """These tests check behaviour, not speed: one thread keeps them quick on a busy shared machine, where
    two OpenMP threads fighting other processes for two cores run several times slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setattr(devices, "use_all_cores", lambda: None)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A 96 x 192 crop of scikit-image's astronaut (RGB float32 in [0, 1]): texture, edges and smooth skin."""
    return (data.astronaut()[40:136, 160:352].astype(np.float32) / 255.0).copy()


def _gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r**2) / (2 * sigma**2))
    k = np.outer(g, g)
    return (k / k.sum()).astype(np.float32)


def test_trained_net_beats_bicubic_on_a_held_out_crop(photo):
    """Train on the left half's LR only; the right half (never seen) must come out better than bicubic."""
    hr = photo
    lr = np.clip(imresize(hr, scale=0.5), 0, 1).astype(np.float32)
    seen, held_out = lr[:, :48], lr[:, 48:]
    config = replace(TINY, width=32, depth=6, max_iterations=250, ensemble=1, back_projection=0)
    rng = np.random.default_rng(0)
    generator = torch.Generator().manual_seed(0)
    device = torch.device("cpu")
    net = zssr.ZSSRNet(3, config.width, config.depth)
    net.reset_parameters(generator)
    degradation = zssr._Degradation(2, None, device)
    zssr._train(net, [seen], degradation, config, rng, generator, device, Progress(), "test")
    out = zssr._infer(net, held_out, degradation, config, device, 512, Progress(), "test")
    reference = hr[:, 96:]
    bicubic = np.clip(imresize(held_out, scale=2), 0, 1)
    # 250 iterations gave +0.99 to +1.17 dB over seeds 0-2 (80 gave +0.16 to +0.27: too close to call).
    assert psnr_y(out, reference, 2) > psnr_y(bicubic, reference, 2) + 0.5


def test_output_shape_range_and_scale_three(photo):
    lr = np.clip(imresize(photo[:48, :60], scale=1 / 3), 0, 1).astype(np.float32)
    out = zssr.zssr_upscale(lr, 3, TINY, seed=0, device="cpu")
    assert out.shape == (lr.shape[0] * 3, lr.shape[1] * 3, 3)
    assert out.dtype == np.float32 and out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("warp", [False, True])
def test_same_seed_same_output_on_cpu(photo, warp):
    lr = np.clip(imresize(photo[:64, :64], scale=0.5), 0, 1).astype(np.float32)
    config = replace(TINY, warp_fathers=warp)
    a = zssr.zssr_upscale(lr, 2, config, seed=7, device="cpu")
    b = zssr.zssr_upscale(lr, 2, config, seed=7, device="cpu")
    c = zssr.zssr_upscale(lr, 2, config, seed=8, device="cpu")
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


class _ScriptedRandom:
    """Stands in for the sampler's generator: returns the scripted values in order."""

    def __init__(self, values: list[float]) -> None:
        self.values = list(values)

    def uniform(self, low: float, high: float) -> float:
        return self.values.pop(0)

    normal = uniform

    def random(self) -> float:
        return self.values.pop(0)


def test_warped_fathers_follow_the_transform_and_stay_inside_the_image(photo):
    sampler = zssr._FatherSampler([photo], 2, 64, True, np.random.default_rng(0), warp=True)
    # size 1, no x/y difference, no mirror, angle 0, no shear, centre (100.5, 47.5): a plain crop.
    sampler.rng = _ScriptedRandom([1.0, 0.0, 0.9, 0.0, 0.0, 0.0, 100.5, 47.5])
    assert np.allclose(sampler._warped(sampler.tensors[0]), photo[16:80, 69:133], atol=1e-6)
    # Half size, a quarter turn, centre (95, 47): crop pixel (i, j) samples the photo at row 2j, column 142 - 2i.
    sampler.rng = _ScriptedRandom([0.5, 0.0, 0.9, math.pi / 2, 0.0, 0.0, 95.0, 47.0])
    expected = photo[0:96:2, 142:46:-2].transpose(1, 0, 2)
    warped = sampler._warped(sampler.tensors[0])
    assert warped.shape == (48, 48, 3)
    assert np.allclose(warped, expected, atol=1e-5)
    flat = np.full((40, 50, 3), 0.3, dtype=np.float32)  # the corners of a turned crop are mirrored, not black
    flat_sampler = zssr._FatherSampler([flat], 2, 128, True, np.random.default_rng(1), warp=True)
    for _ in range(20):
        father = flat_sampler.draw()
        assert father.shape[0] % 2 == 0 and father.shape[1] % 2 == 0
        assert np.allclose(father, 0.3, atol=1e-5)


def test_given_kernel_makes_the_sons_and_the_back_projection(photo, monkeypatch):
    """The sons come from the kernel, and the output shrunk with that kernel reproduces the input."""
    kernel = _gaussian_kernel(9, 1.6)
    hr = photo[:64, :64]
    lr = np.clip(downscale_with_kernel(hr, kernel, 2), 0, 1).astype(np.float32)
    seen_kernels = []
    original = zssr.downscale_with_kernel_torch

    def spy(x, k, scale):
        seen_kernels.append(np.asarray(k.detach().cpu() if torch.is_tensor(k) else k))
        return original(x, k, scale)

    monkeypatch.setattr(zssr, "downscale_with_kernel_torch", spy)
    config = replace(zssr.preset_config("fast", kernel_mode=True), **_tiny_fields(), back_projection=8)
    out = zssr.zssr_upscale(lr, 2, config, kernel=kernel, seed=0, device="cpu")
    assert len(seen_kernels) >= config.max_iterations
    np.testing.assert_allclose(seen_kernels[0], kernel, atol=1e-7)

    bicubic_config = replace(config, back_projection=8)
    out_bicubic = zssr.zssr_upscale(lr, 2, bicubic_config, seed=0, device="cpu")

    def inconsistency(sr: np.ndarray) -> float:
        return float(np.abs(downscale_with_kernel(sr, kernel, 2) - lr).mean())

    assert inconsistency(out) < 0.5 * inconsistency(out_bicubic)


def _tiny_fields() -> dict:
    return {"width": 16, "depth": 4, "crop_size": 32, "max_iterations": 12, "min_iterations": 4}


def test_kernel_mode_and_real_photo_mode_follow_the_paper():
    kernel_mode = zssr.preset_config("quality", kernel_mode=True)
    assert not kernel_mode.augment and kernel_mode.ensemble == 1 and kernel_mode.back_projection == 2
    real = zssr.preset_config("quality", real_photo=True)
    assert real.noise_std == pytest.approx(0.0125) and real.back_projection == 0
    quality = zssr.preset_config("quality")
    assert (quality.width, quality.depth, quality.crop_size, quality.max_iterations) == (64, 8, 128, 3000)
    assert quality.lr_policy == "paper" and quality.ensemble == 8 and quality.back_projection == 10
    assert quality.back_project_members and not zssr.preset_config("fast").back_project_members
    assert not quality.warp_fathers  # opt-in: no gain measured (docs/BENCHMARKS.md)
    assert quality.gradual_x2 and not zssr.preset_config("fast").gradual_x2
    assert not kernel_mode.gradual_x2  # a kernel is given for integer scales


def test_options_override_the_preset_and_are_validated():
    method = get_method("zssr")
    options = method.make_options({"preset": "fast", "--iterations": "40", "ensemble": "2", "gradual": "on"})
    config = zssr.resolve_config(options)
    assert config.max_iterations == 40 and config.ensemble == 2 and config.gradual
    assert config.crop_size == zssr.FAST.crop_size and not config.back_project_members
    switched = method.make_options({"preset": "fast", "member_back_projection": "on", "warp_fathers": "on"})
    assert zssr.resolve_config(switched).back_project_members and zssr.resolve_config(switched).warp_fathers
    assert not zssr.resolve_config(method.make_options({"warp_fathers": "off"})).warp_fathers
    with pytest.raises(ValueError):
        method.make_options({"ensemble": "9"})
    with pytest.raises(ValueError):
        method.make_options({"preset": "slow"})


def test_progress_reports_stages_figures_and_eta(photo):
    lr = np.clip(imresize(photo[:48, :48], scale=0.5), 0, 1).astype(np.float32)
    updates = []
    zssr.zssr_upscale(lr, 2, TINY, progress=Progress(updates.append), seed=0, device="cpu")
    stages = {u.stage for u in updates}
    assert {"training", "ensemble", "back-projection"} <= stages
    training = [u for u in updates if u.stage == "training"]
    assert training[-1].figures["iteration"] == TINY.max_iterations
    assert {"iteration", "loss", "lr"} <= set(training[0].figures)
    fractions = [u.fraction for u in updates]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert any(u.eta_s is not None for u in updates)


def test_progress_of_the_self_stopping_policy_counts_against_an_expected_length():
    config = zssr.preset_config("quality")  # cap 3000, the paper's policy
    # A fresh net's first run is expected longer than the steps that continue it...
    assert zssr.expected_run_lengths(config, 5, []) == [2400, 1410, 1410, 1410, 1410]
    assert zssr.expected_run_lengths(config, 4, [2900]) == [1410] * 4  # ...whatever the first one ran
    # then the continuing runs' own mean
    assert zssr.expected_run_lengths(config, 2, [2900, 1000, 1400]) == [1200, 1200]
    assert zssr.expected_run_lengths(zssr.preset_config("fast"), 3, [10]) == [600] * 3  # fixed lengths
    assert zssr.training_fraction(600, 1200, 3000) == pytest.approx(0.5)
    assert zssr.training_fraction(1500, 1200, 3000) == zssr.UNFINISHED_TRAINING_CAP  # longer than expected
    assert zssr.training_fraction(1500, 3000, 3000) == pytest.approx(0.5)  # a fixed length is exact


def test_gradual_progress_with_the_paper_policy_only_moves_forward(photo):
    lr = np.clip(imresize(photo[:40, :40], scale=0.5), 0, 1).astype(np.float32)
    config = replace(TINY, lr_policy="paper", gradual_x2=True, max_iterations=30)
    updates = []
    summary: dict[str, float] = {}
    zssr.zssr_upscale(lr, 2, config, progress=Progress(updates.append), seed=0, device="cpu", summary=summary)
    fractions = [u.fraction for u in updates]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert sum(1 for key in summary if key.endswith("_iterations")) == len(zssr.GRADUAL_X2_STEPS)
    # The first (fresh) run gets the bar's share its expected seconds have: 24 iterations of 24 + 5 x 14,
    # weighted by the crops each step can draw and the inference the isotropic steps add.
    steps = [(float(v), float(h)) for v, h in zssr.GRADUAL_X2_STEPS]
    plans = zssr.plan_steps(config, steps, lr.shape[:2])
    expected_end, _ = zssr.step_span(config, 0.0, plans, [24, 14, 14, 14, 14, 14])
    first_step = [u.fraction for u in updates if "(step 1/" in u.detail]
    assert first_step[-1] == pytest.approx(expected_end)
    assert 0.1 < expected_end < 0.5


def test_cancel_stops_within_a_second(photo):
    lr = np.clip(imresize(photo[:64, :64], scale=0.5), 0, 1).astype(np.float32)
    config = replace(TINY, max_iterations=100_000)
    token = CancelToken()
    errors = []

    def work() -> None:
        try:
            zssr.zssr_upscale(lr, 2, config, progress=Progress(cancel=token), seed=0, device="cpu")
        except JobCancelled as error:
            errors.append(error)

    worker = threading.Thread(target=work)
    worker.start()
    time.sleep(0.5)
    cancelled_at = time.monotonic()
    token.cancel()
    worker.join(timeout=10)
    assert not worker.is_alive() and errors
    assert time.monotonic() - cancelled_at < 1.0


def test_members_are_back_projected_before_the_median_when_asked(photo, monkeypatch):
    """The authors' final test back-projects each member, takes the median, and back-projects that again."""
    lr = np.clip(imresize(photo[:32, :32], scale=0.5), 0, 1).astype(np.float32)
    device = torch.device("cpu")
    net = zssr.ZSSRNet(3, 8, 4)
    net.reset_parameters(torch.Generator().manual_seed(3))
    degradation = zssr._Degradation(2, None, device)
    calls = []
    real_back_project = zssr._back_project

    def counting(sr, lr_, degradation_, iterations):
        calls.append(iterations)
        return real_back_project(sr, lr_, degradation_, iterations)

    monkeypatch.setattr(zssr, "_back_project", counting)
    outputs = {}
    for members in (False, True):
        calls.clear()
        config = replace(TINY, ensemble=4, back_projection=3, back_project_members=members)
        outputs[members] = zssr._infer(net, lr, degradation, config, device, 512, Progress(), "t")
        assert calls == [3] * (5 if members else 1)
    assert np.abs(outputs[True] - outputs[False]).max() > 1e-4


@pytest.mark.parametrize(("members", "step"), [(False, 2), (True, 2), (True, 1.5)])
def test_tiled_inference_matches_one_piece(photo, members, step):
    lr = np.clip(imresize(photo[:, :160], scale=0.5), 0, 1).astype(np.float32)  # 48 x 80
    device = torch.device("cpu")
    net = zssr.ZSSRNet(3, 8, 4)
    net.reset_parameters(torch.Generator().manual_seed(3))
    degradation = zssr._Degradation(zssr._step(step), None, device)
    config = replace(TINY, ensemble=2, back_projection=2, back_project_members=members)
    whole = zssr._infer(net, lr, degradation, config, device, 512, Progress(), "t")
    tiled = zssr._infer(net, lr, degradation, config, device, 44, Progress(), "t")
    assert np.abs(whole - tiled).max() < 2e-3


def test_gradual_x4_goes_through_x2(photo):
    lr = np.clip(imresize(photo[:64, :64], scale=0.25), 0, 1).astype(np.float32)
    summary: dict[str, float] = {}
    out = zssr.zssr_upscale(lr, 4, replace(TINY, gradual=True), seed=0, device="cpu", summary=summary)
    assert out.shape == (64, 64, 3)
    assert "x2_iterations" in summary and "x4_iterations" in summary


def test_gradual_x4_can_run_its_x2_stage_in_the_six_steps(photo):
    lr = np.clip(imresize(photo[:64, :64], scale=0.25), 0, 1).astype(np.float32)
    summary: dict[str, float] = {}
    config = replace(TINY, gradual=True, gradual_x2_in_x4=True, x4_path="x2", max_iterations=10)
    out = zssr.zssr_upscale(lr, 4, config, seed=0, device="cpu", summary=summary)
    assert out.shape == (64, 64, 3)
    names = ["x1-1.5", "x1.5-1", "x1.5", "x1.5-2", "x2-1.5", "x2", "x4"]
    assert [key[: -len("_iterations")] for key in summary if key.endswith("_iterations")] == names
    method = get_method("zssr")
    assert not zssr.preset_config("quality").gradual_x2_in_x4  # measured worse on train/ (docs/BENCHMARKS.md)
    assert zssr.resolve_config(method.make_options({"gradual_x2_in_x4": "on"})).gradual_x2_in_x4
    assert not zssr.preset_config("quality", kernel_mode=True).gradual_x2_in_x4


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("x3", ["x2", "x3", "x4"]),
        ("halves", ["x2", "x2.5", "x3", "x3.5", "x4"]),
        ("six", ["x2", "x2-3", "x3-2", "x3", "x3-4", "x4-3", "x4"]),
    ],
)
def test_gradual_x4_can_go_on_from_x2_in_more_steps(photo, path, names):
    lr = np.clip(imresize(photo[:64, :64], scale=0.25), 0, 1).astype(np.float32)
    summary: dict[str, float] = {}
    config = replace(TINY, gradual=True, x4_path=path, max_iterations=6)
    out = zssr.zssr_upscale(lr, 4, config, seed=0, device="cpu", summary=summary)
    assert out.shape == (64, 64, 3)
    assert [key[: -len("_iterations")] for key in summary if key.endswith("_iterations")] == names
    assert zssr.resolve_config(get_method("zssr").make_options({"x4_path": path})).x4_path == path
    assert zssr.preset_config("quality").x4_path == "halves"  # best on train/ images (docs/BENCHMARKS.md)
    assert zssr.preset_config("quality", kernel_mode=True).x4_path == "x2"  # kernels exist for x2 and x4 only


def test_gradual_x2_goes_through_the_authors_six_steps(photo, monkeypatch):
    """x1-1.5, x1.5-1, x1.5, x1.5-2, x2-1.5, x2: each trains the same net; only x1.5 and x2 are inferred, and
    the x1.5 result (from an input cropped to even sides) joins the fathers."""
    lr = np.clip(imresize(photo[:62, :90], scale=0.5), 0, 1).astype(np.float32)  # 31 x 45: odd sides
    inferred = []
    real_infer = zssr._infer

    def recording(net, pixels, degradation, *args):
        out = real_infer(net, pixels, degradation, *args)
        inferred.append((degradation.factors, pixels.shape[:2], out.shape[:2]))
        return out

    monkeypatch.setattr(zssr, "_infer", recording)
    summary: dict[str, float] = {}
    config = replace(TINY, gradual_x2=True, warp_fathers=True)
    out = zssr.zssr_upscale(lr, 2, config, seed=0, device="cpu", summary=summary)
    assert out.shape == (62, 90, 3) and out.min() >= 0.0 and out.max() <= 1.0
    names = ["x1-1.5", "x1.5-1", "x1.5", "x1.5-2", "x2-1.5", "x2"]
    assert [key[: -len("_iterations")] for key in summary if key.endswith("_iterations")] == names
    assert inferred == [
        (zssr._step(1.5), (30, 44), (45, 66)),
        (zssr._step(2), (31, 45), (62, 90)),
    ]
    method = get_method("zssr")
    assert zssr.resolve_config(method.make_options({"preset": "fast", "gradual_x2": "on"})).gradual_x2
    assert not zssr.resolve_config(method.make_options({"gradual_x2": "off"})).gradual_x2


def test_anisotropic_step_makes_sons_of_exact_size():
    degradation = zssr._Degradation(zssr._step(1.5, 2), None, torch.device("cpu"))
    assert degradation.multiple == 6 and degradation.grain == 2 and degradation.scale is None
    father = torch.rand(1, 3, 12, 18)
    son = degradation.shrink(father)
    assert tuple(son.shape[2:]) == (8, 9)
    assert tuple(degradation.enlarge(son).shape[2:]) == (12, 18)
    flat = torch.full((1, 3, 12, 18), 0.4)
    assert torch.allclose(degradation.shrink(flat), torch.full((1, 3, 8, 9), 0.4), atol=1e-6)


def test_registered_method_keeps_grey_grey_and_alpha(photo):
    grey = np.repeat(photo[:40, :40].mean(axis=2, keepdims=True), 3, axis=2)
    alpha = np.linspace(0, 1, 40 * 40, dtype=np.float32).reshape(40, 40)
    image = ImageData(grey.astype(np.float32), alpha=alpha, grey=True)
    method = get_method("zssr")
    options = method.make_options(
        {"preset": "fast", "iterations": "10", "width": "16", "depth": "4", "crop_size": "32"}
    )
    result = method.run(image, 2, options, RunContext(device="cpu", seed=0))
    pixels = result.image.pixels
    assert pixels.shape == (80, 80, 3) and result.image.grey
    assert np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 0], pixels[..., 2])
    assert result.image.alpha is not None and result.image.alpha.shape == (80, 80)


def test_kernel_file_option_loads_and_normalises(tmp_path):
    path = tmp_path / "k.npy"
    np.save(path, np.ones((5, 5)) * 3.0)
    kernel = zssr.load_kernel(path)
    assert kernel.shape == (5, 5) and kernel.sum() == pytest.approx(1.0)
    np.save(path, np.ones(5))
    with pytest.raises(ValueError):
        zssr.load_kernel(path)
