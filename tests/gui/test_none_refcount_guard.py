import sys

import pytest

import enhancer.gui  # noqa: F401  (importing the package applies the guard)
from enhancer.gui.none_refcount_guard import IMMORTAL_BOOST, pyside_leaks_none_references


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12 on")
def test_none_is_kept_alive_exactly_when_pyside_leaks_it():
    boosted = sys.getrefcount(None) > IMMORTAL_BOOST // 2
    assert boosted == pyside_leaks_none_references()
