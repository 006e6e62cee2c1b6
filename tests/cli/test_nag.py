"""cli.nag: what the app's own synth said about cdk-nag (validation report, v2 annotations and NagReport files,
manifest-only acknowledgments), shown beside the check's verdict and never changing it."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from cli.cli_helpers import HAND, check_json
from pipeline_constructs.cli import main


def test_manifest_only_acknowledgments_are_shown_and_counted_on_request(capsys):
    assert main(["check", str(HAND), "--pack", "AwsSolutions"]) == 1
    out = capsys.readouterr().out
    assert "1 of the unacknowledged findings are acknowledged in the manifest only" in out
    status, data = check_json(capsys, HAND, "--pack", "AwsSolutions", "--acknowledgments", "assembly")
    assert status == 1
    assert data["summary"] == {"AwsSolutions": {"unacknowledged": 3, "acknowledged": 8}}
    (sqs3,) = [f for f in data["findings"] if f["rule"] == "AwsSolutions-SQS3"]
    assert (sqs3["acknowledged"], sqs3["acknowledged_at"]) == (True, "manifest")
    assert sqs3["reason"].startswith("Acknowledged in the manifest only")


def test_other_plugins_and_the_apps_own_output_are_kept_apart(capsys):
    status, data = check_json(capsys, HAND, "--pack", "AwsSolutions")
    app = data["app_output"]
    assert [p["name"] for p in app["other_plugins"]] == ["CloudFormation Validate", "Team-Policy"]
    assert list(data["summary"]) == ["AwsSolutions"]  # no plugin counted as a pack
    assert app["validation_report"]["state"] == "read"
    assert app["sources"] == {
        "validation report": {"AwsSolutions": {"unacknowledged": 2, "acknowledged": 1}},
        # pack names keep their dots: not split at the first "-"
        "cdk-nag v2 annotations": {
            "AwsSolutions": {"unacknowledged": 1, "acknowledged": 0},
            "NIST.800.53.R5": {"unacknowledged": 1, "acknowledged": 0},
        },
        "cdk-nag v2 NagReport files": {"AwsSolutions": {"unacknowledged": 1, "acknowledged": 2}},
    }
    assert [e["path"] for e in app["other_errors"]] == ["A/Worker/Resource"]
    assert status == 1  # the verdict is the audit's, whatever the plugins said


def test_stale_or_empty_validation_report_does_not_hide_findings(tmp_path, capsys):
    out = tmp_path / "cdk.out"
    shutil.copytree(HAND, out)
    (out / "validation-report.json").write_text(json.dumps({"version": "36.0.0", "pluginReports": []}))
    status, data = check_json(capsys, out, "--pack", "AwsSolutions")
    assert (status, data["app_output"]["validation_report"]["state"]) == (1, "no pack")
    assert data["summary"]["AwsSolutions"]["unacknowledged"] == 4
    shutil.copy(HAND / "validation-report.json", out / "validation-report.json")
    # Stale means older than the manifest; copytree kept the fixture's checkout times, so date both here.
    now = time.time()
    os.utime(out / "manifest.json", (now, now))
    os.utime(out / "validation-report.json", (now - 3600, now - 3600))
    status, data = check_json(capsys, out, "--pack", "AwsSolutions")
    assert (status, data["app_output"]["validation_report"]["state"]) == (1, "stale")
    assert "validation report" not in data["app_output"]["sources"]


@pytest.mark.synth
def test_check_reads_a_failed_cdk_nag_v2_synth(nag_v2_out, capsys):
    out, proc = nag_v2_out
    assert proc.returncode == 1
    status, data = check_json(capsys, out)
    assert status == 1
    sources = data["app_output"]["sources"]
    assert sources["cdk-nag v2 annotations"] == {
        "AwsSolutions": {"unacknowledged": 1, "acknowledged": 0},
        "NIST.800.53.R5": {"unacknowledged": 1, "acknowledged": 0},
    }
    assert sources["cdk-nag v2 NagReport files"] == {"AwsSolutions": {"unacknowledged": 1, "acknowledged": 0}}
    assert [p["name"] for p in data["app_output"]["other_plugins"]] == ["Team-Policy"]
    # the app's v2 errors are among the check's own findings
    findings = {(f["rule"], f["logical_id"]) for f in data["findings"] if not f["acknowledged"]}
    assert any(rule == "AwsSolutions-S1" and lid.startswith("PipelineArtifactsBucket") for rule, lid in findings)
