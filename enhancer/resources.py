"""The app's resources (icons, style sheets, sample photos): one loader for the pip install and the frozen app.

They live in the top-level ``resources/`` folder, installed as the package ``enhancer_resources``; nothing
else in the code knows where that is.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

RESOURCE_PACKAGE = "enhancer_resources"
SAMPLES = {
    "astronaut": "samples/astronaut.png",
    "old-photo": "samples/pompeii-coins.png",
}
DEFAULT_SAMPLE = "astronaut"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def resource_root() -> Path:
    """The folder holding the resources (a real folder in both installs: Qt needs file paths)."""
    return Path(str(resources.files(RESOURCE_PACKAGE)))


def resource_path(relative: str) -> Path:
    """``resource_path("styles/app.qss")``; raises ``FileNotFoundError`` naming the install if it is missing."""
    path = resource_root() / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"resource {relative!r} is missing from {resource_root()} (a broken install?)"
        )
    return path


def read_text(relative: str) -> str:
    return resource_path(relative).read_text(encoding="utf-8")


def sample_path(name: str = DEFAULT_SAMPLE) -> Path:
    if name not in SAMPLES:
        raise KeyError(f"no sample {name!r} (there are: {', '.join(SAMPLES)})")
    return resource_path(SAMPLES[name])


def icon_paths() -> list[Path]:
    return [resource_path(f"icons/enhancer-{size}.png") for size in ICON_SIZES]


def is_resource(path: Path) -> bool:
    """Whether ``path`` is one of ours (say, a sample opened in the app: never save next to it)."""
    try:
        return path.resolve().is_relative_to(resource_root().resolve())
    except OSError:
        return False
