"""Enhancer: enlarge and restore photos with research super-resolution methods."""

__version__ = "0.1.0"
