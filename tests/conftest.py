"""Every test keeps the user's folders untouched: learned rates and caches go to a temporary home."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def private_config_folder(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
