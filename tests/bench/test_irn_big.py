"""The big-photo IRN bench, on a small photo: each engine's commands run, are timed and scored."""

import json

from enhancer.bench import irn_big
from enhancer.samples import sample_image_path


def test_irn_big_times_both_engines_end_to_end(tmp_path):
    report_path = tmp_path / "report.json"
    code = irn_big.main(
        ["--photo", str(sample_image_path()), "--size", "192x128", "--scale", "4", "--json", str(report_path)]
    )
    assert code == 0
    report = json.loads(report_path.read_text())
    assert [row["engine"] for row in report["rows"]] == ["onnx", "bf16"]
    for row in report["rows"]:
        for direction in ("shrink", "restore"):
            assert row[direction]["seconds"] > 0 and row[direction]["peak_rss_gb"] > 0.05
        assert row["round_trip_psnr_y"] > 25  # a real restoration, not noise
        # the crop is a single tile at this size, so tiled and whole agree exactly
        assert abs(row["tiled_vs_whole"]["difference_db"]) < 0.01
    assert report["rows"][0]["restore"]["speedup_vs_onnx"] == 1.0
