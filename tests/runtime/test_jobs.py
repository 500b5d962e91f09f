import threading
import time

import pytest

from enhancer.runtime.jobs import CancelToken, JobCancelled, Progress, ProgressUpdate


def test_progress_maps_sub_ranges_and_derives_eta():
    updates: list[ProgressUpdate] = []
    progress = Progress(updates.append)
    stage = progress.sub(0.5, 1.0)
    time.sleep(0.02)
    stage.report(0.5, "training", "iteration 5", loss=0.25)
    update = updates[-1]
    assert update.fraction == pytest.approx(0.75)
    assert update.stage == "training" and update.figures == {"loss": 0.25}
    assert update.eta_s is not None and update.eta_s == pytest.approx(update.elapsed_s / 3, rel=1e-6)


def test_report_raises_once_cancelled_from_another_thread():
    cancel = CancelToken()
    progress = Progress(None, cancel)
    threading.Thread(target=cancel.cancel).start()
    deadline = time.monotonic() + 2
    with pytest.raises(JobCancelled):
        while time.monotonic() < deadline:
            progress.report(0.1, "working")
    assert cancel.cancelled


def test_fraction_is_clamped():
    updates: list[ProgressUpdate] = []
    Progress(updates.append).report(3.0, "x")
    assert updates[-1].fraction == 1.0
