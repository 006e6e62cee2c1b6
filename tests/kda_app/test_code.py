"""FlinkCode (code.py): the placeholder ships with the package."""

from __future__ import annotations

from pathlib import Path

from pipeline_constructs.kda_app import FlinkCode


def test_bootstrap_code_ships_with_the_package():
    assert (Path(FlinkCode.bootstrap()._path) / "README.txt").is_file()  # type: ignore[attr-defined]
