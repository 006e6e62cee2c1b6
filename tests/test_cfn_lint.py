"""cfn-lint reports no errors on the example templates (E3703 is CDK's own Fn::Join style, excluded)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE_NAMES as EXAMPLES
from conftest import load_example

from pipeline_constructs.testing import deterministic_app


@pytest.mark.parametrize("name", EXAMPLES)
def test_cfn_lint_has_no_errors(name, tmp_path):
    app = deterministic_app(outdir=str(tmp_path))
    load_example(name).build_app(app)
    app.synth()
    templates = sorted(str(p) for p in Path(tmp_path).rglob("*.template.json"))
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
