"""The big-photo IRN bench, on a small photo: each engine's commands run, are timed and scored."""

import json

import numpy as np

from enhancer.bench import irn_big
from enhancer.samples import sample_image_path


def test_irn_big_times_every_engine_end_to_end(tmp_path):
    report_path = tmp_path / "report.json"
    code = irn_big.main(
        ["--photo", str(sample_image_path()), "--size", "192x128", "--scale", "4", "--json", str(report_path)]
    )
    assert code == 0
    report = json.loads(report_path.read_text())
    assert [row["engine"] for row in report["rows"]] == ["onnx", "bf16", "int8"]
    for row in report["rows"]:
        for direction in ("shrink", "restore"):
            assert row[direction]["seconds"] > 0 and row[direction]["peak_rss_gb"] > 0.05
        assert row["round_trip_psnr_y"] > 25  # a real restoration, not noise
        # the crop is a single tile at this size, so tiled and whole agree exactly
        assert abs(row["tiled_vs_whole"]["difference_db"]) < 0.01
    assert report["rows"][0]["restore"]["speedup_vs_onnx"] == 1.0


def test_peak_memory_is_the_commands_own_not_the_benchmarks():
    ballast = np.ones(700 * 1024**2 // 8)  # 700 MB in this process, which forks the command
    measured = irn_big.timed_command(["--help"])
    assert 0.02 < measured["peak_rss_gb"] < 0.5, measured  # Linux's ru_maxrss would report >= 0.7 GB
    assert ballast.sum() > 0
