"""IRN's network speed on a device, on the CPU with a tiny photo: every row is timed and consistent."""

import json

import pytest

from enhancer.bench import irn_device_speed


def test_times_both_directions_and_training_steps(tmp_path):
    report_path = tmp_path / "speed.json"
    args = ["--device", "cpu", "--scales", "2", "--size", "66x50", "--repeats", "1"]
    args += ["--train-batch", "2", "--train-patch", "32", "--train-steps", "2", "--json", str(report_path)]
    assert irn_device_speed.main(args) == 0
    report = json.loads(report_path.read_text())
    assert report["device"] == "cpu" and "cores" in report["machine"]
    assert [row["precision"] for row in report["inference"]] == ["float32", "bfloat16"]
    for row in report["inference"]:
        assert row["hr_size"] == "66x50"  # already a multiple of the scale
        assert row["weights"] == "irn_x2_up.onnx"  # the shipped model, not a random net
        megapixels = 66 * 50 / 1e6
        for direction in ("shrink", "restore"):
            assert row[f"{direction}_seconds"] > 0
            ms_per_mp = row[f"{direction}_seconds"] * 1000 / megapixels
            assert row[f"{direction}_ms_per_mp"] == pytest.approx(ms_per_mp, rel=0.01)
    assert [row["amp"] for row in report["training"]] == [False, True]
    assert all(row["iterations_per_second"] > 0 for row in report["training"])


def test_the_photo_is_cropped_to_a_multiple_of_the_scale():
    row = irn_device_speed.inference_speed(4, (70, 49), irn_device_speed.torch.device("cpu"), "float32", 1)
    assert row["hr_size"] == "68x48"
