"""cfn-lint reports no errors on the example templates (E3703 is CDK's own Fn::Join style, excluded)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE_NAMES as EXAMPLES


@pytest.mark.parametrize("name", EXAMPLES)
def test_cfn_lint_has_no_errors(name, synthesized_example):
    templates = sorted(str(p) for p in Path(synthesized_example(name)).rglob("*.template.json"))
    assert len(templates) >= 2
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--format",
            "parseable",
            "--ignore-checks",
            "E3703",
            "W",
            "I",
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
    )
    errors = [line for line in proc.stdout.splitlines() if ":E" in line]
    assert errors == [], "\n".join(errors)
    # cfn-lint's exit code is a bitmask: 2 errors, 4 warnings, 8 informational; anything else means it failed.
    assert proc.returncode in (0, 4, 8, 12), (proc.returncode, proc.stderr)
