"""Every test keeps the user's folders untouched: learned rates and caches go to a temporary home."""

from __future__ import annotations

import os
import tempfile

import pytest

# The user's own models are registered when enhancer.methods is imported: never from the real user folder.
os.environ["ENHANCER_USER_MODELS"] = tempfile.mkdtemp(prefix="enhancer-test-models-")


@pytest.fixture(autouse=True)
def private_config_folder(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
