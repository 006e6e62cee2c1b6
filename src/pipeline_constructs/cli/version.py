"""The installed distribution's version (from the git tag, via hatch-vcs)."""

from __future__ import annotations

from importlib import metadata


def version() -> str:
    try:
        return metadata.version("pipeline-constructs")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0+unknown"
