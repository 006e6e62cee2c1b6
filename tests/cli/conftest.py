"""Cloud assemblies of our own apps (Python and TypeScript), synthesized once per session by the CLI itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cli.cli_helpers import APPS, HAND_MADE, PLAIN_APP, cli, copy_ts_app, pipelines_at
from pipeline_constructs.cli.model import Pipeline


def _synth(app: Path, out: Path, *extra: str) -> Path:
    proc = cli("synth", app, "-o", out, "--quiet", *extra)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="session")
def plain_out(tmp_path_factory) -> Path:
    """A plain CDK Pipelines app (aws-cdk-lib only): waves, two cross-region support stacks, gates."""
    out = tmp_path_factory.mktemp("plain") / "cdk.out"
    proc = cli("synth", PLAIN_APP, "-o", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "1 pipeline" in proc.stdout
    return out


@pytest.fixture(scope="session")
def waves_out(tmp_path_factory) -> Path:
    """Two CDK Pipelines, waves, five regions, three accounts, nested stacks, v2-style suppressions."""
    return _synth(APPS / "waves_app", tmp_path_factory.mktemp("waves") / "cdk.out")


@pytest.fixture(scope="session")
def plain_cp_out(tmp_path_factory) -> Path:
    """A plain aws_codepipeline.Pipeline in a nested stack, a YAML buildspec, another validation plugin."""
    return _synth(APPS / "plain_codepipeline_app", tmp_path_factory.mktemp("plain-cp") / "cdk.out")


@pytest.fixture(scope="session")
def nag_v2_out(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The plain app behaving as a cdk-nag v2 app with 2 error annotations: the synth fails, the assembly is written."""
    out = tmp_path_factory.mktemp("nag-v2") / "cdk.out"
    proc = cli("synth", APPS / "plain_codepipeline_app", "-o", out, "--quiet", "-c", "emulate-nag-v2=true")
    return out, proc


@pytest.fixture(scope="session")
def ts_app(tmp_path_factory) -> Path:
    """The TypeScript app with node_modules built offline from the wheels' npm tarballs."""
    return copy_ts_app(tmp_path_factory.mktemp("ts"))


@pytest.fixture(scope="session")
def ts_out(ts_app, tmp_path_factory) -> Path:
    return _synth(ts_app, tmp_path_factory.mktemp("ts-out") / "cdk.out")


@pytest.fixture(scope="session")
def all_pipelines(waves_out, plain_cp_out, ts_out) -> list[Pipeline]:
    """Every pipeline of our apps and hand-made assemblies."""
    return [p for path in [*HAND_MADE, waves_out, plain_cp_out, ts_out] for p in pipelines_at(path)]
