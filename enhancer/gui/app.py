"""The app's entry point: ``enhancer`` with no arguments and ``enhancer gui FILE...`` call ``main``."""

from __future__ import annotations

import sys
import traceback
from types import TracebackType

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from enhancer.gui.main_window import MainWindow
from enhancer.gui.platform_check import missing_library_report
from enhancer.gui.theme import apply_theme
from enhancer.resources import icon_paths


def create_application(argv: list[str] | None = None) -> QApplication:
    """The ``QApplication`` (the existing one if there is one), named and themed."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName("Enhancer")
    app.setApplicationName("Enhancer")
    app.setDesktopFileName("enhancer")  # matches resources/enhancer.desktop (Wayland finds the icon by it)
    icon = QIcon()
    for path in icon_paths():
        icon.addFile(str(path))
    app.setWindowIcon(icon)
    from enhancer.gui.settings import AppSettings

    apply_theme(app, AppSettings().theme)
    return app


def main(files: list[str]) -> int:
    """Open the main window with ``files`` loaded; returns the exit status when the window closes."""
    if QApplication.instance() is None and (problem := missing_library_report()):
        print(problem, file=sys.stderr)  # Qt would abort with a message naming at most one of them
        return 1
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
