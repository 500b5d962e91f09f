"""The app's entry point: ``enhancer`` with no arguments and ``enhancer gui FILE...`` call ``main``."""

from __future__ import annotations

import sys
import traceback
from types import TracebackType

from PySide6.QtWidgets import QApplication

from enhancer.gui.main_window import MainWindow
from enhancer.gui.theme import apply_theme


def create_application(argv: list[str] | None = None) -> QApplication:
    """The ``QApplication`` (the existing one if there is one), named and themed."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName("Enhancer")
    app.setApplicationName("Enhancer")
    from enhancer.gui.settings import AppSettings

    apply_theme(app, AppSettings().theme)
    return app


def main(files: list[str]) -> int:
    """Open the main window with ``files`` loaded; returns the exit status when the window closes."""
    app = create_application()
    window = MainWindow()
    previous_hook = sys.excepthook

    def report_unexpected(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        traceback.print_exception(kind, error, tb)
        window.show_error(f"Unexpected error: {error}  (details printed on the console)")

    sys.excepthook = report_unexpected  # a bug in one slot should not take the whole app down silently
    try:
        window.show()
        window.open_paths(files)
        return app.exec()
    finally:
        sys.excepthook = previous_hook
