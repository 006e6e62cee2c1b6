"""A new user's first run: the README quick start, as written, on a machine with neither dotnet nor Docker.

The quick start is copied out of README.md into a fresh app folder (with the example's .NET projects
beside it) and run twice with a ``PATH`` that holds no ``dotnet`` and no ``docker``: as ``python app.py``
and as the CDK CLI runs it (``CDK_CONTEXT_JSON`` with the CLI's own ``aws:cdk:bundling-stacks``). The
.NET packaging rules themselves (one warning line, an error where packaging is required) are tested on
the construct, in ``test_function.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT

CDK_CLI = ROOT / ".tools" / "node_modules" / ".bin" / "cdk"
NOT_PACKAGED = "pipeline-constructs: .NET function not packaged"


def _quick_start() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README.md has a Quick start with a python block"
    return match.group(1)


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("first-app")
    (folder / "app.py").write_text(_quick_start(), encoding="utf-8")
    (folder / "cdk.json").write_text(json.dumps({"app": "python app.py"}), encoding="utf-8")
    (folder / "requirements.txt").write_text("pipeline-constructs[nag]\n", encoding="utf-8")
    shutil.copytree(EXAMPLES / "dotnet_lambda" / "src", folder / "src")
    shutil.copytree(EXAMPLES / "dotnet_lambda" / "test", folder / "test")
    return folder


def _no_tools_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    empty_bin = tmp_path / "bin"  # no dotnet, no docker
    empty_bin.mkdir(exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "JSII_NODE", "TMPDIR")}
    return {**keep, "PATH": str(empty_bin), **extra}


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.synth
def test_readme_quick_start_runs_as_python_app_py_without_dotnet_or_docker(app_dir, tmp_path):
    proc = _run([sys.executable, "app.py"], app_dir, _no_tools_env(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    notices = [line for line in proc.stderr.splitlines() if line.startswith(NOT_PACKAGED)]
    assert len(notices) == 1, proc.stderr  # one line for both targets' functions
    assert "install the .NET SDK" in notices[0]
    manifest = json.loads((app_dir / "cdk.out" / "manifest.json").read_text())  # beside app.py, not a temp folder
    assert "Pipeline" in manifest["artifacts"]


@pytest.mark.synth
def test_readme_quick_start_runs_as_the_cdk_cli_runs_it(app_dir, tmp_path):
    # What `cdk synth` passes: its context (cdk.json, -c) in CDK_CONTEXT_JSON, with its own bundling-stacks.
    context = {"aws:cdk:bundling-stacks": ["**"], "pipeline-constructs:nag": "false"}
    out = tmp_path / "cli.out"
    env = _no_tools_env(tmp_path, CDK_CONTEXT_JSON=json.dumps(context), CDK_OUTDIR=str(out))
    proc = _run([sys.executable, "app.py"], app_dir, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sum(line.startswith(NOT_PACKAGED) for line in proc.stderr.splitlines()) == 1
    assert (out / "manifest.json").is_file()


@pytest.mark.synth
@pytest.mark.skipif(not CDK_CLI.is_file(), reason="the CDK CLI is not installed (make cdk-synth installs it)")
def test_readme_quick_start_runs_under_the_real_cdk_cli(app_dir, tmp_path):
    node = Path(os.environ.get("JSII_NODE", ""))
    venv_bin = Path(sys.executable).parent
    env = _no_tools_env(tmp_path)
    env["PATH"] = os.pathsep.join([str(venv_bin), str(node.parent), env["PATH"]])
    proc = _run([str(CDK_CLI), "synth", "-q", "--no-notices", "-o", str(tmp_path / "real.out")], app_dir, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sum(NOT_PACKAGED in line for line in proc.stderr.splitlines()) == 1
