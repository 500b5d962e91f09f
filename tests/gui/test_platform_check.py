"""When Qt's platform plugin cannot load, the app names every missing library and its package."""

from __future__ import annotations

import sys

import pytest

from enhancer.gui import platform_check

LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /opt/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f10)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f20)
\tlibxcb-icccm.so.4 => not found
\tlibweird-thing.so.9 => not found
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the loader check is for Linux")
def test_every_missing_library_is_named_with_its_package(monkeypatch):
    monkeypatch.setattr(platform_check, "run_loader", lambda path: LDD_OUTPUT)
    assert platform_check.missing_libraries("xcb") == [
        "libxcb-icccm.so.4",
        "libxcb-keysyms.so.1",
        "libweird-thing.so.9",
    ]
    report = platform_check.missing_library_report("xcb")
    assert "libxcb-icccm.so.4  (Debian/Ubuntu package libxcb-icccm4)" in report
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in report
    assert "apt-file search libweird-thing.so.9" in report
    assert "libxcb-cursor" not in report  # present, so not blamed (Qt's own message blames it)


def test_the_app_refuses_to_start_with_the_report_instead_of_aborting(monkeypatch, capsys):
    from enhancer.gui import app

    monkeypatch.setattr(app, "missing_library_report", lambda: "Enhancer cannot open a window: libx.so.1")
    monkeypatch.setattr(app.QApplication, "instance", staticmethod(lambda: None))
    assert app.main([]) == 1
    assert "libx.so.1" in capsys.readouterr().err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the loader check is for Linux")
def test_the_plugin_the_tests_use_has_everything_it_needs():
    assert platform_check.missing_libraries("offscreen") == []
    assert platform_check.requested_platform() in ("offscreen", "xcb", "minimal")
