"""The queue panel: one row per job with its progress bar, stage, ETA and a Cancel button."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from enhancer.gui.job_queue import JobQueue, JobState, QueuedJob
from enhancer.runtime.jobs import ProgressUpdate, progress_text

PROGRESS_STEPS = 1000


def format_duration(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if seconds < 10:
        return f"{max(seconds, 0.0):.1f} s"
    seconds = max(round(seconds), 0)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def stage_text(update: ProgressUpdate) -> str:
    """``training · iteration 120/3000 · loss 0.0123``."""
    return progress_text(update)


class JobRow(QFrame):
    """One job: title, progress bar, stage line, ETA and Cancel."""

    def __init__(self, queued: QueuedJob, queue: JobQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queued = queued
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(queued.label)
        self.title.setObjectName("jobTitle")
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setTextVisible(True)
        self.stage = QLabel()
        self.stage.setObjectName("jobStage")
        self.eta = QLabel()
        self.eta.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop this job")
        self.cancel_button.clicked.connect(lambda: queue.cancel(queued))
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 4, 6, 4)
        grid.setVerticalSpacing(2)
        grid.addWidget(self.title, 0, 0)
        grid.addWidget(self.eta, 0, 1)
        grid.addWidget(self.progress, 1, 0)
        grid.addWidget(self.cancel_button, 1, 1)
        grid.addWidget(self.stage, 2, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        self.refresh()

    def refresh(self) -> None:
        queued = self.queued
        state = queued.state
        self.cancel_button.setVisible(not state.finished)
        self.setProperty("state", state.value)
        self.style().unpolish(self)
        self.style().polish(self)
        if state is JobState.QUEUED:
            self.progress.setValue(0)
            self.stage.setText("waiting in the queue")
            self.eta.setText("")
        elif state is JobState.RUNNING:
            update = queued.update
            fraction = update.fraction if update else 0.0
            self.progress.setValue(round(fraction * PROGRESS_STEPS))
            self.stage.setText(stage_text(update) if update else "starting")
            if update is not None and update.eta_s is not None:
                self.eta.setText(f"ETA {format_duration(update.eta_s)}")
            elif queued.estimate is not None and queued.started_at is not None:
                # Before the job's own progress can tell (its first percent), the estimate made before it began.
                left = queued.estimate[3] - (time.monotonic() - queued.started_at)
                self.eta.setText(f"ETA ~{format_duration(max(left, 1.0))}")
            else:
                self.eta.setText("")
        elif state is JobState.DONE:
            self.progress.setValue(PROGRESS_STEPS)
            took = f" in {format_duration(queued.seconds)}" if queued.seconds is not None else ""
            self.stage.setText(f"done{took}")
            self.eta.setText("")
        elif state is JobState.CANCELLED:
            self.stage.setText(queued.message or "cancelled")
            self.eta.setText("")
        else:
            self.stage.setText(f"failed: {queued.message}")
            self.stage.setToolTip(queued.message)
            self.eta.setText("")


class JobQueuePanel(QWidget):
    """Rows for every job in the queue, the running one on top, with Cancel all and Clear finished."""

    def __init__(self, queue: JobQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.rows: dict[int, JobRow] = {}
        self.summary = QLabel("No jobs yet")
        cancel_all = QPushButton("Cancel all")
        cancel_all.clicked.connect(queue.cancel_all)
        clear = QPushButton("Clear finished")
        clear.clicked.connect(self.clear_finished)
        header = QHBoxLayout()
        header.addWidget(self.summary, 1)
        header.addWidget(cancel_all)
        header.addWidget(clear)

        self.rows_widget = QWidget()
        self.rows_layout = QVBoxLayout(self.rows_widget)
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.rows_layout.setSpacing(4)
        self.rows_layout.addStretch(1)
        scroll = self.scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.rows_widget)
        scroll.setFrameShape(QFrame.Shape.NoFrame)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(scroll, 1)

        queue.added.connect(self._on_added)
        queue.changed.connect(self._on_changed)
        # Running rows are refreshed every second too, so the ETA counts down (and appears) even while a job
        # is in a stretch without progress reports.
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)
        self._ticker.start()

    def _tick(self) -> None:
        for row in self.rows.values():
            if row.queued.state is JobState.RUNNING:
                row.refresh()

    def row_for(self, queued: QueuedJob) -> JobRow:
        return self.rows[id(queued)]

    def _on_added(self, queued: QueuedJob) -> None:
        row = JobRow(queued, self.queue)
        self.rows[id(queued)] = row
        self.rows_layout.insertWidget(self.rows_layout.count() - 1, row)
        self._reorder()
        self._update_summary()

    def _on_changed(self, queued: QueuedJob) -> None:
        row = self.rows.get(id(queued))
        if row is not None:
            previous = row.property("state")
            row.refresh()
            if previous != row.property("state"):
                self._reorder()
        self._update_summary()

    def ordered_rows(self) -> list[JobRow]:
        """Running first, then waiting (in queue order), then finished (newest first)."""
        jobs = self.queue.jobs()
        position = {id(q): index for index, q in enumerate(jobs)}

        def key(row: JobRow) -> tuple[int, int]:
            state = row.queued.state
            rank = 0 if state is JobState.RUNNING else 1 if state is JobState.QUEUED else 2
            index = position.get(id(row.queued), 0)
            return rank, index if rank < 2 else -index

        return sorted(self.rows.values(), key=key)

    def _reorder(self) -> None:
        """Keep the running job at the top, where it is always visible."""
        for index, row in enumerate(self.ordered_rows()):
            self.rows_layout.removeWidget(row)
            self.rows_layout.insertWidget(index, row)
        self.scroll.verticalScrollBar().setValue(0)

    def clear_finished(self) -> None:
        for queued in self.queue.remove_finished():
            row = self.rows.pop(id(queued), None)
            if row is not None:
                row.hide()
                row.deleteLater()
        self._update_summary()

    def _update_summary(self) -> None:
        jobs = self.queue.jobs()
        running = sum(1 for q in jobs if q.state is JobState.RUNNING)
        waiting = sum(1 for q in jobs if q.state is JobState.QUEUED)
        if not jobs:
            self.summary.setText("No jobs yet")
        else:
            self.summary.setText(
                f"{running} running, {waiting} waiting, {len(jobs) - running - waiting} finished"
            )
