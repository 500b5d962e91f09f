"""Keep Python 3.10/3.11 alive under PySide6 builds that drop a reference to ``None`` on every void call.

PySide6-Essentials 6.12.0's abi3 wheels hand back ``None`` from C++ ``void`` methods without taking a new
reference. On Python 3.12+ ``None`` is immortal (PEP 683) and nothing happens; on 3.10/3.11 every such call
(each ``update()``, each ``processEvents()``) lowers ``None``'s count, and after some minutes of use CPython
aborts with "none_dealloc: deallocating None". 6.11.3 does not have the bug.

``guard_none_refcount`` probes for the leak and, only when it is there, raises ``None``'s count by 2**40,
which makes it as good as immortal, as 3.12 does by design.
"""

from __future__ import annotations

import ctypes
import sys

PROBE_CALLS = 64
IMMORTAL_BOOST = 1 << 40


def pyside_leaks_none_references() -> bool:
    """True when calling a void Qt method takes a reference from ``None`` (the PySide6 6.12.0 bug)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(PROBE_CALLS):
        probe.setObjectName("probe")  # a void method
    return sys.getrefcount(None) <= before - PROBE_CALLS // 2


def guard_none_refcount() -> bool:
    """Make ``None`` effectively immortal if this PySide6 leaks its references; True if it had to."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not pyside_leaks_none_references():
        return False
    count = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt is PyObject's first field in release builds
    before = sys.getrefcount(None)
    count.value += IMMORTAL_BOOST
    if abs(sys.getrefcount(None) - before - IMMORTAL_BOOST) > PROBE_CALLS:  # not the expected layout: undo
        count.value -= IMMORTAL_BOOST
        return False
    return True
