"""One small threading helper: run a slow call (load, save, probe devices) off the GUI thread.

The call runs on a worker thread; its result or exception comes back to the GUI thread through a queued
Qt signal, so callbacks may touch widgets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _CallRelay(QObject):
    """Lives on the GUI thread; the worker emits through it."""

    done = Signal(object)
    failed = Signal(object)


class _BackgroundCall(QRunnable):
    def __init__(self, function: Callable[[], Any], relay: _CallRelay) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.function = function
        self.relay = relay

    def run(self) -> None:
        try:
            value = self.function()
        except Exception as exc:  # every failure goes back to the GUI as a message
            self.relay.failed.emit(exc)
        else:
            self.relay.done.emit(value)


class BackgroundCalls(QObject):
    """A small pool for slow calls that are not jobs; ``threads=1`` keeps them in submission order."""

    def __init__(self, parent: QObject | None = None, threads: int = 1) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._pending: set[_BackgroundCall] = set()

    def submit(
        self,
        function: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        """Run ``function()`` on a worker; call ``on_done(value)`` or ``on_error(exc)`` on the GUI thread."""
        relay = _CallRelay(self)
        call = _BackgroundCall(function, relay)
        self._pending.add(call)

        def finish(callback: Callable[[Any], None] | None, value: Any) -> None:
            self._pending.discard(call)
            relay.deleteLater()
            if callback is not None:
                callback(value)

        relay.done.connect(lambda value: finish(on_done, value))
        relay.failed.connect(lambda exc: finish(on_error, exc))
        self._pool.start(call)

    @property
    def busy(self) -> bool:
        """True while a call is queued, running, or its callback has not run yet."""
        return bool(self._pending)

    def wait(self, msecs: int = -1) -> bool:
        """Block until the workers are idle (for shutdown); True if they finished in time."""
        return self._pool.waitForDone(msecs)
