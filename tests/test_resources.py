"""The resources are found through one loader, from the source tree and from an installed wheel alike."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from enhancer.resources import (
    ICON_SIZES,
    SAMPLES,
    icon_paths,
    is_resource,
    read_text,
    resource_path,
    resource_root,
)

SOURCE_RESOURCES = Path(__file__).resolve().parents[1] / "resources"


def _resource_files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def test_every_resource_is_found_and_the_icons_are_the_sizes_they_claim():
    from PIL import Image

    assert len(icon_paths()) == len(ICON_SIZES)
    for size, path in zip(ICON_SIZES, icon_paths(), strict=True):
        assert Image.open(path).size == (size, size)
    assert "{" in read_text("styles/app.qss")
    assert "Exec=Enhancer" in read_text("enhancer.desktop")
    for relative in SAMPLES.values():
        assert resource_path(relative).is_file()
    assert is_resource(resource_path("styles/app.qss")) and not is_resource(Path.home())
    with pytest.raises(FileNotFoundError, match="missing"):
        resource_path("icons/no-such-icon.png")


@pytest.mark.slow
def test_an_installed_wheel_finds_every_resource_outside_the_source_tree(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(SOURCE_RESOURCES.parent), "--no-deps",
         "--no-build-isolation", "-q", "-w", str(wheels)],
        check=True, timeout=300,
    )  # fmt: skip
    (wheel,) = wheels.glob("enhancer-*.whl")
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)  # a pure-Python wheel installs by unpacking
    probe = (
        "import json, enhancer, enhancer.resources as r;"
        "root = r.resource_root();"
        "files = sorted(p.relative_to(root).as_posix() for p in root.rglob('*') if p.is_file() and "
        "'__pycache__' not in p.parts);"
        "print(json.dumps({'enhancer': enhancer.__file__, 'root': str(root), 'files': files,"
        "'samples': [str(r.sample_path(n)) for n in r.SAMPLES]}))"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    found = json.loads(done.stdout)
    assert Path(found["enhancer"]).is_relative_to(target), "the probe imported the source tree, not the wheel"
    assert Path(found["root"]).is_relative_to(target)
    assert _resource_files(SOURCE_RESOURCES) <= set(found["files"])
    assert all(Path(sample).is_file() for sample in found["samples"])


def test_the_source_tree_is_what_the_loader_reads_here():
    assert _resource_files(SOURCE_RESOURCES) <= _resource_files(resource_root())
