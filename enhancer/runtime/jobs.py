"""Progress, cancellation and the job runner shared by the CLI and the GUI (no Qt here)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class JobCancelled(Exception):
    """Raised inside a method when its job was cancelled; the caller treats it as a clean stop."""


class CancelToken:
    """Thread-safe flag a method polls (``raise_if_cancelled``) at least every ~second of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise JobCancelled("cancelled")


@dataclass(frozen=True)
class ProgressUpdate:
    """One report: overall fraction in [0, 1], a stage, a detail line, named figures and the derived ETA."""

    fraction: float
    stage: str
    detail: str = ""
    figures: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0
    eta_s: float | None = None


ProgressListener = Callable[[ProgressUpdate], None]


def progress_text(update: ProgressUpdate, separator: str = " · ") -> str:
    """``training · iteration 120/3000 · loss 0.0123``: each fact once (a figure already named in the detail,
    or a detail that repeats the stage, is left out)."""
    parts = [update.stage]
    if update.detail and update.detail != update.stage:
        parts.append(update.detail)
    said = " ".join(parts)
    for name, value in update.figures.items():
        if name not in said:
            parts.append(f"{name} {value:.4g}")
    return separator.join(part for part in parts if part)


class Progress:
    """What a method is handed to report progress and check for cancellation.

    ``report`` also checks the cancel token, so a method that reports often is cancellable for free.
    ``sub`` gives a child reporter mapped onto a slice of the parent's range, for multi-stage methods.
    """

    def __init__(
        self,
        listener: ProgressListener | None = None,
        cancel: CancelToken | None = None,
        *,
        start: float = 0.0,
        span: float = 1.0,
        _clock_start: float | None = None,
    ) -> None:
        self.listener = listener
        self.cancel = cancel or CancelToken()
        self._start = start
        self._span = span
        self._t0 = time.monotonic() if _clock_start is None else _clock_start

    def report(self, fraction: float, stage: str, detail: str = "", **figures: float) -> None:
        self.cancel.raise_if_cancelled()
        if self.listener is None:
            return
        overall = self._start + self._span * min(max(fraction, 0.0), 1.0)
        elapsed = time.monotonic() - self._t0
        eta = elapsed * (1.0 - overall) / overall if overall > 0.01 else None
        self.listener(ProgressUpdate(overall, stage, detail, dict(figures), elapsed, eta))

    def check(self) -> None:
        """Raise ``JobCancelled`` if cancelled; call it inside loops that do not report."""
        self.cancel.raise_if_cancelled()

    def sub(self, start: float, end: float) -> Progress:
        """A reporter whose [0, 1] maps onto [start, end] of this one."""
        return Progress(
            self.listener,
            self.cancel,
            start=self._start + self._span * start,
            span=self._span * (end - start),
            _clock_start=self._t0,
        )
