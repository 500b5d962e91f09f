"""The ETA check's replay of logged ZSSR quality runs through the bar's current rules."""

import json

import pytest

from enhancer.bench import eta
from enhancer.methods import zssr

X4_PATH = ((2, 2), (2.5, 2.5), (3, 3), (3.5, 3.5), (4, 4))
SIZE = (64, 64)  # the input: smaller than the crops at first, so the first step's iterations are cheaper


def _info(iterations: list[int], pace: float = 1.0) -> dict:
    """A logged x4 quality run whose every step took what the bar's model says, times ``pace`` for the first."""
    config = zssr.preset_config("quality")
    plans = zssr.plan_steps(config, [(float(v), float(h)) for v, h in X4_PATH], SIZE)
    info = {"preset": "quality", "scale": "4"}
    total = 0.0
    for number, ((v, _), plan, count) in enumerate(zip(X4_PATH, plans, iterations, strict=True)):
        train, infer = zssr.step_seconds(config, plan, count)
        train *= pace if number == 0 else 1.0
        info[f"x{v:g}_iterations"] = str(count)
        info[f"x{v:g}_train_seconds"] = str(train)
        total += train + infer
    info["seconds_total"] = str(total)
    return info


def test_a_run_as_long_as_the_bar_expects_is_predicted_right():
    # the lengths the bar expects: a fresh net's first run 0.8 of the cap, the later ones 0.47
    assert eta.replay_zssr(_info([2400, 1410, 1410, 1410, 1410]), SIZE) == pytest.approx(1.0, abs=0.02)


def test_a_slow_first_step_makes_the_eta_too_long():
    # at 10 % the bar is in the first step: at half the expected pace there, the ETA extrapolates that pace
    assert eta.replay_zssr(_info([2400, 1410, 1410, 1410, 1410], pace=2.0), SIZE) < 0.8


def test_steps_cost_by_their_crops_and_results():
    config = zssr.preset_config("quality")  # crops of 128
    plans = zssr.plan_steps(config, [(2.0, 2.0), (2.5, 2.5)], SIZE)
    assert plans[0].father_area == 64 * 64  # only the 64 x 64 input to crop from
    # then the input and its x2 result (128 x 128), chosen by area: 0.2 x 64^2 + 0.8 x 128^2
    assert plans[1].father_area == pytest.approx(0.2 * 64**2 + 0.8 * 128**2)
    assert plans[1].output_pixels == 160 * 160
    gradual = zssr.plan_steps(config, [(1.0, 1.5), (1.5, 1.5)], SIZE)
    assert gradual[0].output_pixels == 0  # an anisotropic step only trains


def test_replay_reads_bench_reports(tmp_path, capsys):
    report = tmp_path / "bench.json"
    info = _info([2900, 1200, 1500, 1300, 1100])
    row = {"image": "img_001", "size": [SIZE[1] * 4, SIZE[0] * 4], "info": {"zssr": info}}  # the HR's size
    report.write_text(json.dumps({"rows": [row]}))
    out = tmp_path / "replayed.json"
    assert eta.main(["--replay", str(report), "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [row["image"] for row in rows] == ["img_001"]
    assert 0.67 < rows[0]["ratio_truth_over_prediction"] < 1.5
