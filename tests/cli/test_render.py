"""cli.render: ``pipeline-constructs show`` as text, JSON and Markdown."""

from __future__ import annotations

import json

import pytest

from cli.cli_helpers import NESTED, run


@pytest.mark.synth
def test_show_plain_pipeline(plain_out, capsys):
    status, out, err = run(capsys, "show", plain_out)
    assert status == 0, err
    assert out.startswith("Pipeline plain-service (stack PlainPipeline, aws://111111111111/eu-west-1")
    assert "7 stages, 25 actions (6 CodeBuild), 2 gates; regions: eu-central-1, eu-west-1, us-east-1" in out
    assert "Critical path: 15 actions, 6 of them CodeBuild (Source/acme_service to Prod/Api.Deploy)" in out
    assert "Prod (run 1-2) permission check: Check.Check -> Check.Confirm" in out
    assert "Prod (run 3) manual approval: Promote: Ship it?" in out


def test_show_json_and_markdown(capsys):
    status, out, _ = run(capsys, "show", NESTED, "--format", "json")
    assert status == 0
    (data,) = json.loads(out)["pipelines"]
    assert data["critical_path_actions"] == 7
    assert data["critical_path_codebuild_actions"] == 2
    assert [s["name"] for s in data["stages"]] == ["Source", "Build", "Prod"]
    status, out, _ = run(capsys, "show", NESTED, "--format", "markdown")
    assert status == 0
    assert "| Prod | 1 | Check | Build/CodeBuild |" in out
