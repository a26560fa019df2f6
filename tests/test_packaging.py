"""The installed distribution's metadata agrees with the package (one version source)."""

import importlib.metadata

import fastdl


def test_installed_version_is_the_package_version():
    """pyproject.toml reads the version from ``fastdl.__version__``: the two never differ."""
    assert importlib.metadata.version("fastdl") == fastdl.__version__


def test_license_is_an_spdx_expression():
    """The metadata carries ``License-Expression: MIT`` (PEP 639), not a free-text license."""
    metadata = importlib.metadata.metadata("fastdl")
    assert metadata["License-Expression"] == "MIT", dict(metadata)
