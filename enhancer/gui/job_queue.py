"""Jobs run on a background thread through the same ``run_job`` the CLI uses; progress comes back as signals.

Jobs run one at a time in submission order (a queue); each can be cancelled while queued or running.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from enhancer.gui.image_convert import image_to_qimage
from enhancer.gui.library import ImageEntry
from enhancer.methods.registry import MethodResult
from enhancer.runtime.jobs import CancelToken, JobCancelled, ProgressUpdate
from enhancer.runtime.runner import Job, run_job, validate_job

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress signals a second, however often a method reports


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass(eq=False)
class QueuedJob:
    """A job in the queue, what it has reported so far and, when done, its result."""

    job: Job = field(repr=False)
    label: str
    made_from: ImageEntry | None = None
    cancel: CancelToken = field(default_factory=CancelToken, repr=False)
    state: JobState = JobState.QUEUED
    update: ProgressUpdate | None = None
    message: str = ""
    result: MethodResult | None = field(default=None, repr=False)
    display: QImage | None = field(default=None, repr=False)
    started_at: float | None = None
    seconds: float | None = None
    # (rate key, output MP, samples, estimated seconds), set by whoever estimated the job before submitting
    estimate: tuple[str, float, int, float] | None = None


@dataclass(frozen=True)
class _Outcome:
    state: JobState
    result: MethodResult | None = None
    display: QImage | None = None
    message: str = ""


class _JobRelay(QObject):
    """Lives on the GUI thread; workers emit through it, so slots run on the GUI thread."""

    started = Signal(object)
    progressed = Signal(object, object)
    ended = Signal(object, object)


class _ThrottledListener:
    """Passes a method's progress on at most every ``PROGRESS_INTERVAL_S`` (and at every new stage)."""

    def __init__(self, queued: QueuedJob, relay: _JobRelay) -> None:
        self.queued = queued
        self.relay = relay
        self._last_time = 0.0
        self._last_stage = ""

    def __call__(self, update: ProgressUpdate) -> None:
        now = time.monotonic()
        if update.stage != self._last_stage or now - self._last_time >= PROGRESS_INTERVAL_S:
            self._last_time, self._last_stage = now, update.stage
            self.relay.progressed.emit(self.queued, update)


class _JobRunnable(QRunnable):
    def __init__(self, queued: QueuedJob, relay: _JobRelay) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.queued = queued
        self.relay = relay

    def run(self) -> None:
        queued, relay = self.queued, self.relay
        self.queued = None  # the result must not outlive the job's row through this runnable
        if queued.cancel.cancelled:
            relay.ended.emit(queued, _Outcome(JobState.CANCELLED, message="cancelled before it started"))
            return
        relay.started.emit(queued)
        try:
            result = run_job(queued.job, _ThrottledListener(queued, relay), queued.cancel)
            display = image_to_qimage(result.image)  # here, not on the GUI thread: large images take a while
        except JobCancelled:
            relay.ended.emit(queued, _Outcome(JobState.CANCELLED, message="cancelled"))
        except Exception as exc:  # reported in the job's row; the app carries on
            relay.ended.emit(queued, _Outcome(JobState.FAILED, message=failure_text(exc)))
        else:
            relay.ended.emit(queued, _Outcome(JobState.DONE, result=result, display=display))


def failure_text(exc: Exception) -> str:
    """A one-line reason for a failed job."""
    text = str(exc).strip().strip("'\"")
    return text.splitlines()[0] if text else type(exc).__name__


class JobQueue(QObject):
    """Runs jobs one at a time on a worker thread; emits ``added``, ``changed`` and ``finished``."""

    added = Signal(object)
    changed = Signal(object)
    finished = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _JobRelay(self)
        self._relay.started.connect(self._on_started)
        self._relay.progressed.connect(self._on_progressed)
        self._relay.ended.connect(self._on_ended)
        self._jobs: list[QueuedJob] = []
        self._runnables: dict[int, _JobRunnable] = {}
        self._retired: list[_JobRunnable] = []  # kept alive until the pool is surely done with them

    def submit(self, job: Job, label: str | None = None, made_from: ImageEntry | None = None) -> QueuedJob:
        """Queue a job; method, action, scale and options are checked now (``ValueError``/``KeyError``)."""
        validate_job(job)
        if self._pool.activeThreadCount() == 0:
            self._retired.clear()
        queued = QueuedJob(job=job, label=label or job.label, made_from=made_from)
        runnable = _JobRunnable(queued, self._relay)
        self._jobs.append(queued)
        self._runnables[id(queued)] = runnable
        self.added.emit(queued)
        self._pool.start(runnable)
        return queued

    def jobs(self) -> list[QueuedJob]:
        return list(self._jobs)

    def pending(self) -> list[QueuedJob]:
        """Jobs queued or running."""
        return [queued for queued in self._jobs if not queued.state.finished]

    def cancel(self, queued: QueuedJob) -> None:
        """Ask a job to stop; a queued one is dropped at once, a running one stops at its next report."""
        if queued.state.finished:
            return
        queued.cancel.cancel()
        runnable = self._runnables.get(id(queued))
        if queued.state is JobState.QUEUED and runnable is not None and self._pool.tryTake(runnable):
            self._on_ended(queued, _Outcome(JobState.CANCELLED, message="cancelled before it started"))

    def cancel_all(self) -> None:
        for queued in self.pending():
            self.cancel(queued)

    def remove_finished(self) -> list[QueuedJob]:
        """Forget finished jobs; returns them."""
        finished = [queued for queued in self._jobs if queued.state.finished]
        self._jobs = [queued for queued in self._jobs if not queued.state.finished]
        return finished

    def shutdown(self, msecs: int = 5000) -> bool:
        """Cancel everything and wait for the worker (on quit); True if it stopped in time."""
        self.cancel_all()
        return self._pool.waitForDone(msecs)

    def _on_started(self, queued: QueuedJob) -> None:
        if queued.state.finished:
            return
        queued.state = JobState.RUNNING
        queued.started_at = time.monotonic()
        self.changed.emit(queued)

    def _on_progressed(self, queued: QueuedJob, update: ProgressUpdate) -> None:
        if queued.state is not JobState.RUNNING:
            return
        queued.update = update
        self.changed.emit(queued)

    def _on_ended(self, queued: QueuedJob, outcome: _Outcome) -> None:
        if queued.state.finished:
            return
        runnable = self._runnables.pop(id(queued), None)
        if runnable is not None:
            self._retired.append(runnable)
        queued.state = outcome.state
        queued.result, queued.display, queued.message = outcome.result, outcome.display, outcome.message
        if queued.started_at is not None:
            queued.seconds = time.monotonic() - queued.started_at
        self.changed.emit(queued)
        self.finished.emit(queued)
