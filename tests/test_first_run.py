"""A new user's first run: the README quick start, as written, on a machine with neither dotnet nor Docker.

The quick start is copied out of README.md into a fresh app folder (with the example's .NET projects
beside it) and run twice with a ``PATH`` that holds no ``dotnet`` and no ``docker``: as ``python app.py``
and as the CDK CLI runs it (``CDK_CONTEXT_JSON`` with the CLI's own ``aws:cdk:bundling-stacks``). The
.NET packaging rules themselves (one warning line, an error where packaging is required) are tested on
the construct.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from conftest import EXAMPLES, ROOT

from pipeline_constructs.dotnet_lambda.pipeline import BundlingUnavailableError, DotnetLambdaFunction

PROJECT = EXAMPLES / "dotnet_lambda" / "src" / "HelloWorld"
HANDLER = "HelloWorld::HelloWorld.Function::FunctionHandler"
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


# ---------------------------------------------------------------- the packaging rule, on the construct


@pytest.fixture
def no_tools(monkeypatch, tmp_path):
    import pipeline_constructs.dotnet_lambda.pipeline as module

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CDK_DOCKER", raising=False)
    monkeypatch.delenv("CODEBUILD_BUILD_ID", raising=False)
    monkeypatch.setattr(module, "_WARNED", set())
    return module


def _function(context: dict[str, object]) -> DotnetLambdaFunction:
    stack = cdk.Stack(cdk.App(context=context), "S")
    return DotnetLambdaFunction(stack, "F", project_dir=PROJECT, handler=HANDLER)


def test_without_tools_auto_mode_warns_once_and_keeps_the_source(no_tools, capsys):
    first, second = _function({}), _function({})
    assert first.packaged is False
    assert second.packaged is False
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(lines) == 1
    assert lines[0].startswith(NOT_PACKAGED)


def test_without_tools_packaging_required_is_one_clear_error(no_tools):
    with pytest.raises(BundlingUnavailableError) as raised:
        _function({"pipeline-constructs:bundling": True})
    message = str(raised.value)
    assert "\n" not in message
    assert "S/F: cannot package the .NET function" in message
    assert "cdk synth -c pipeline-constructs:bundling=false" in message


def test_inside_codebuild_a_missing_tool_is_an_error(no_tools, monkeypatch):
    monkeypatch.setenv("CODEBUILD_BUILD_ID", "build:1")
    with pytest.raises(BundlingUnavailableError, match="neither `dotnet` nor a running Docker engine"):
        _function({})


def test_a_docker_cli_without_an_engine_does_not_count(no_tools, tmp_path, capsys):
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    fake.chmod(0o755)
    assert _function({}).packaged is False
    assert NOT_PACKAGED in capsys.readouterr().err


def test_bundling_off_or_not_selected_never_packages_nor_warns(no_tools, capsys):
    assert _function({"pipeline-constructs:bundling": "false"}).packaged is False
    assert _function({"aws:cdk:bundling-stacks": []}).packaged is False
    assert capsys.readouterr().err == ""


def test_with_dotnet_on_path_the_function_is_packaged(no_tools, tmp_path, monkeypatch):
    fake = tmp_path / "dotnet"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setattr(cdk.Stack, "bundling_required", property(lambda self: False), raising=False)
    stack = cdk.Stack(cdk.App(), "S")
    assert no_tools._should_package(stack) is False  # nothing selected for bundling
    monkeypatch.setattr(cdk.Stack, "bundling_required", property(lambda self: True), raising=False)
    assert no_tools._should_package(stack) is True


def test_a_bad_bundling_value_names_the_context_key(no_tools):
    with pytest.raises(ValueError, match=r"context pipeline-constructs:bundling = 'sometimes' is invalid"):
        _function({"pipeline-constructs:bundling": "sometimes"})
