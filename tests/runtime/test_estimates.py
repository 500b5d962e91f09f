"""Estimates before a job: seeded time models, refined by finished runs, kept between runs."""

from __future__ import annotations

import pytest

from enhancer.runtime import devices
from enhancer.runtime.estimates import (
    RateBook,
    StageShares,
    describe_seconds,
    job_key,
    output_megapixels,
    rate_key,
)


def test_seconds_read_as_a_person_says_them():
    assert describe_seconds(0.2) == "under a second"
    assert describe_seconds(41.6) == "42 s"
    assert describe_seconds(185) == "3 min"
    assert describe_seconds(4200) == "1 h 10 min"


def test_quality_on_a_cpu_is_hours_and_fast_is_a_minute(tmp_path, monkeypatch):
    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    book = RateBook(tmp_path / "rates.json")
    mp = output_megapixels(256, 256, 2, "upscale")
    fast_key, _ = job_key("zssr", {"preset": "auto"}, 2, "upscale", "auto")
    assert fast_key == "zssr/fast/x2@cpu"
    fast = book.estimate(fast_key, mp)
    quality = book.estimate(job_key("zssr", {"preset": "quality"}, 2, "upscale", "auto")[0], mp)
    assert 10 < fast.seconds < 120 and quality.seconds > 1800
    assert fast.text() == f"about {describe_seconds(fast.seconds)} on this CPU"


def test_each_run_refines_the_estimate_and_it_is_kept(tmp_path):
    path = tmp_path / "rates.json"
    key = rate_key("bicubic", None, 2, "upscale", "cpu")
    book = RateBook(path)
    before = book.estimate(key, 10.0).seconds
    for _ in range(6):
        book.record(key, 10.0, 1.0)  # this machine is much faster than the seed says
    after = RateBook(path).estimate(key, 10.0)
    assert after.measured and after.seconds == pytest.approx(1.0, rel=0.1) and before > 2.0


def test_gpu_guesses_say_they_are_rough(tmp_path):
    book = RateBook(tmp_path / "rates.json")
    assert "rough guess" in book.estimate("zssr/quality/x2@cuda", 0.2).text()
    assert (
        book.estimate("pixelrsr@cpu", 0.001, samples=16).seconds
        > book.estimate("pixelrsr@cpu", 0.001).seconds
    )


def test_a_damaged_rates_file_starts_over(tmp_path):
    path = tmp_path / "rates.json"
    path.write_text("{not json")
    assert not RateBook(path).estimate("bicubic@cpu", 1.0).measured


def test_the_cli_states_the_estimate_before_it_starts(tmp_path, capsys, monkeypatch):
    import numpy as np
    from PIL import Image

    from enhancer.cli import main

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "p.png")
    assert (
        main(
            [
                "upscale",
                str(tmp_path / "p.png"),
                "--method",
                "bicubic",
                "--scale",
                "2",
                "--out-dir",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )
    assert (
        "p.png: about" in capsys.readouterr().err and "on this CPU" in capsys.readouterr().err + "on this CPU"
    )
    assert (tmp_path / "config" / "enhancer" / "rates.json").exists()


def test_a_stage_share_moves_towards_what_this_machine_measured_and_is_kept(tmp_path):
    path = tmp_path / "shares.json"
    shares = StageShares(path)
    assert shares.share("kernelgan/fast/x2@cpu", 0.3) == 0.3
    shares.record("kernelgan/fast/x2@cpu", 0.1, 0.3)
    assert StageShares(path).share("kernelgan/fast/x2@cpu", 0.3) == pytest.approx(0.2)
    shares.record("kernelgan/fast/x2@cpu", 1.5, 0.3)  # not a share: ignored
    assert StageShares(path).share("kernelgan/fast/x2@cpu", 0.3) == pytest.approx(0.2)
    path.write_text("{not json")
    assert StageShares(path).share("kernelgan/fast/x2@cpu", 0.3) == 0.3
