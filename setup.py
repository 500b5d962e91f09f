"""Everything is in pyproject.toml except one thing it cannot say: the top-level ``resources/`` folder is
installed as the package ``enhancer_resources`` (so pip installs and the frozen app load it alike)."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["enhancer", "enhancer.*"]), "enhancer_resources"],
    package_dir={"enhancer_resources": "resources"},
    package_data={"enhancer_resources": ["icons/*", "samples/*", "styles/*", "*.desktop", "README.md"]},
)
