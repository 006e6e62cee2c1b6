"""cfn-lint reports no errors on the example templates (E3703 is CDK's own Fn::Join style, excluded)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import load_example

from pipeline_constructs.testing import deterministic_app

EXAMPLES = ["dotnet_lambda", "security_gated"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_cfn_lint_has_no_errors(name, tmp_path):
    app = deterministic_app(outdir=str(tmp_path))
    load_example(name).build_app(app)
    app.synth()
    templates = sorted(str(p) for p in Path(tmp_path).rglob("*.template.json"))
    assert len(templates) >= 2
    proc = subprocess.run(
        [sys.executable, "-m", "cfnlint", "--format", "parseable", "--ignore-checks", "E3703", "W", "I", "--", *templates],
        capture_output=True, text=True,
    )
    errors = [line for line in proc.stdout.splitlines() if ":E" in line]
    assert errors == [], "\n".join(errors)
    assert proc.returncode & 2 == 0, proc.stderr  # cfn-lint's exit bitmask: 2 = errors
    assert proc.returncode < 16, proc.stderr  # larger codes: cfn-lint itself failed
