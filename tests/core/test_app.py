"""create_app() (core/app.py) reads context like the CDK CLI and runs under it unchanged."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pipeline_constructs import create_app
from pipeline_constructs.core.app import read_cdk_context, run_by_cdk_cli


@pytest.fixture
def not_under_the_cli(monkeypatch, tmp_path):
    for name in ("CDK_CONTEXT_JSON", "CONTEXT_OVERFLOW_LOCATION_ENV", "CDK_OUTDIR"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def _write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def test_outside_the_cli_it_reads_the_files_the_cli_reads_with_the_cli_precedence(not_under_the_cli, tmp_path):
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    _write(
        app_dir / "cdk.json",
        {"app": "python app.py", "output": "out", "context": {"a": "cdk.json", "pipeline-constructs:x": 1}},
    )
    _write(app_dir / "cdk.context.json", {"a": "cdk.context.json", "b": "cdk.context.json"})
    _write(not_under_the_cli / ".cdk.json", {"context": {"b": "user", "c": "user"}})
    app = create_app(app_dir, context={"c": "default", "d": "default"})
    assert [app.node.try_get_context(k) for k in "abcd"] == ["cdk.json", "cdk.context.json", "user", "default"]
    assert app.node.try_get_context("pipeline-constructs:x") == 1
    assert Path(app.outdir) == app_dir / "out"  # cdk.json's output, not a temporary folder


def test_the_default_app_dir_is_the_script_folder(not_under_the_cli, tmp_path, monkeypatch):
    app_dir = tmp_path / "team-app"
    app_dir.mkdir()
    (app_dir / "app.py").write_text("")
    _write(app_dir / "cdk.json", {"app": "python app.py", "context": {"k": "v"}})
    monkeypatch.setattr(sys, "argv", [str(app_dir / "app.py")])
    monkeypatch.chdir(tmp_path)
    app = create_app()
    assert app.node.try_get_context("k") == "v"
    assert Path(app.outdir) == app_dir / "cdk.out"


def test_cdk_outdir_wins_over_cdk_json_outside_the_cli(not_under_the_cli, tmp_path, monkeypatch):
    _write(tmp_path / "cdk.json", {"app": "x", "output": "out"})
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path / "from-env"))
    assert Path(create_app(tmp_path).outdir) == tmp_path / "from-env"


def test_under_the_cli_the_files_are_not_read_again(not_under_the_cli, tmp_path, monkeypatch):
    # The CLI already merged cdk.json into CDK_CONTEXT_JSON, which the app's jsii process reads itself
    # (the subprocess tests in test_first_run.py run that path end to end).
    _write(tmp_path / "cdk.json", {"app": "x", "context": {"k": "from-file"}})
    monkeypatch.setenv("CDK_CONTEXT_JSON", json.dumps({"aws:cdk:bundling-stacks": ["**"]}))
    assert run_by_cdk_cli()
    app = create_app(tmp_path, context={"other": 1}, outdir=tmp_path / "ignored")
    assert app.node.try_get_context("k") is None
    assert app.node.try_get_context("other") == 1
    assert Path(app.outdir) != tmp_path / "ignored"


def test_a_broken_cdk_json_names_the_file(tmp_path):
    (tmp_path / "cdk.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"cdk\.json: is invalid: expected a JSON object"):
        read_cdk_context(tmp_path, home=tmp_path)
