"""Guards the PySide6 pin in pyproject.toml: 6.12.0 leaks references to None and aborts Python < 3.12."""

import sys

from PySide6.QtCore import QObject


def test_void_qt_calls_do_not_leak_references_to_none():
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(1000):
        probe.setObjectName("probe")  # a void method
    assert sys.getrefcount(None) > before - 500, (
        "this PySide6 build leaks None references; see pyproject.toml"
    )
