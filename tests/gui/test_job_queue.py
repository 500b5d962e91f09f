import time

import pytest
from PySide6.QtCore import QElapsedTimer, QTimer

from enhancer.gui.job_panel import JobQueuePanel, format_duration
from enhancer.gui.job_queue import JobQueue, JobState
from enhancer.runtime.runner import Job
from tests.gui.conftest import BUSY_METHOD, FAILING_METHOD, SLOW_METHOD, assert_responsive, gradient_image


@pytest.fixture
def queue(qtbot):
    job_queue = JobQueue()
    panel = JobQueuePanel(job_queue)
    qtbot.addWidget(panel)
    panel.show()
    job_queue.panel = panel
    yield job_queue
    job_queue.shutdown(5000)


def test_bicubic_runs_on_the_worker_and_comes_back(queue, qtbot):
    image = gradient_image(20, 12)
    queued = queue.submit(Job(source=image, method_id="bicubic", scale=2))
    with qtbot.waitSignal(queue.finished, timeout=20000):
        pass
    assert queued.state is JobState.DONE, queued.message
    assert (queued.result.image.width, queued.result.image.height) == (40, 24)
    assert (queued.display.width(), queued.display.height()) == (40, 24)
    assert queued.result.info["method"] == "bicubic"
    assert queue.panel.row_for(queued).progress.value() == 1000


def test_a_running_job_cancels_within_a_second(queue, qtbot):
    queued = queue.submit(
        Job(source=gradient_image(), method_id=SLOW_METHOD, scale=2, options={"steps": 3000})
    )
    qtbot.waitUntil(lambda: queued.state is JobState.RUNNING and queued.update is not None, timeout=10000)
    row = queue.panel.row_for(queued)
    qtbot.waitUntil(lambda: "sleeping · step" in row.stage.text())
    qtbot.waitUntil(lambda: row.eta.text().startswith("ETA"), timeout=3000)  # once 1 % is done
    assert row.cancel_button.isVisible()

    started = time.monotonic()
    row.cancel_button.click()
    qtbot.waitUntil(lambda: queued.state is JobState.CANCELLED, timeout=1000)
    assert time.monotonic() - started < 1.0
    assert row.stage.text() == "cancelled"
    assert not row.cancel_button.isVisible()
    assert queued.result is None


def test_queued_jobs_wait_their_turn_and_cancel_at_once(queue, qtbot):
    first = queue.submit(
        Job(source=gradient_image(), method_id=SLOW_METHOD, scale=2, options={"steps": 3000})
    )
    second = queue.submit(Job(source=gradient_image(), method_id=SLOW_METHOD, scale=2, options={"steps": 5}))
    qtbot.waitUntil(lambda: first.state is JobState.RUNNING, timeout=10000)
    assert second.state is JobState.QUEUED
    queue.cancel(second)
    assert second.state is JobState.CANCELLED  # never started
    queue.cancel(first)
    qtbot.waitUntil(lambda: first.state is JobState.CANCELLED, timeout=2000)
    third = queue.submit(Job(source=gradient_image(), method_id=SLOW_METHOD, scale=2, options={"steps": 2}))
    qtbot.waitUntil(lambda: third.state is JobState.DONE, timeout=10000)
    assert queue.panel.summary.text() == "0 running, 0 waiting, 3 finished"
    queue.panel.clear_finished()
    assert queue.jobs() == [] and queue.panel.rows == {}


def test_a_failing_job_is_reported_and_the_queue_goes_on(queue, qtbot):
    failed = queue.submit(Job(source=gradient_image(), method_id=FAILING_METHOD, scale=2))
    fine = queue.submit(Job(source=gradient_image(), method_id="bicubic", scale=2))
    qtbot.waitUntil(lambda: fine.state.finished, timeout=20000)
    assert failed.state is JobState.FAILED
    assert failed.message == "the test method always fails"
    assert "failed: the test method always fails" in queue.panel.row_for(failed).stage.text()
    assert fine.state is JobState.DONE


def test_bad_jobs_are_refused_before_queueing(queue):
    with pytest.raises(ValueError, match="scale"):
        queue.submit(Job(source=gradient_image(), method_id="bicubic", scale=7))
    with pytest.raises(ValueError, match="steps"):
        queue.submit(Job(source=gradient_image(), method_id=SLOW_METHOD, scale=2, options={"steps": 0}))
    assert queue.jobs() == []


def test_the_event_loop_never_stalls_while_a_cpu_heavy_job_runs(queue, qtbot):
    """A 10 ms timer on the GUI thread keeps firing while a 1.5 s job computes."""
    gaps: list[float] = []
    clock = QElapsedTimer()
    last = [0]

    def tick() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    queued = queue.submit(
        Job(source=gradient_image(64, 64), method_id=BUSY_METHOD, scale=2, options={"seconds": 1.5})
    )
    timer.start()
    clock.start()
    qtbot.waitUntil(lambda: queued.state.finished, timeout=20000)
    timer.stop()
    assert queued.state is JobState.DONE, queued.message
    assert_responsive(gaps)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.44, "0.4 s"), (12.4, "12 s"), (185, "3 min 05 s"), (3720, "1 h 02 min")]
)
def test_durations_read_well(seconds, text):
    assert format_duration(seconds) == text
