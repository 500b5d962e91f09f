"""The bundled sample photos (``resources/samples``; origin and licences in resources/README.md)."""

from __future__ import annotations

from pathlib import Path

from enhancer.resources import DEFAULT_SAMPLE, SAMPLES, sample_path

SAMPLE_SIDE = 256  # the astronaut sample: small enough that enlarging it shows something worth looking at


def sample_image_path(name: str = DEFAULT_SAMPLE) -> Path:
    """Path of a bundled sample photo (read-only: never written to)."""
    return sample_path(name)


__all__ = ["SAMPLES", "SAMPLE_SIDE", "sample_image_path"]
