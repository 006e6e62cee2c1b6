"""`pipeline-constructs check`: the packs run over every template; the verdict is the template-only audit's."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cli.cli_helpers import HAND, NESTED, check_json, cli, run, write_unhardened_assembly
from pipeline_constructs.cli import main
from pipeline_constructs.core.compliance import PACK_NAMES
from pipeline_constructs.core.compliance.audit import audit_assembly

#: Counted by hand from the templates of nag_hand and cdk-nag's RULES.md (AwsSolutions pack):
#: a bucket raises S1 (access logs) and S10 (SSL), a queue SQS3 (DLQ) and SQS4 (SSL), a topic SNS3 (SSL),
#: a role with an inline s3:* on * IAM5[Action::s3:*] and IAM5[Resource::*].
HAND_COUNT = {
    # (rule, template, logical id): acknowledged, and by what
    ("AwsSolutions-S1", "A.template.json", "Logs"): True,  # v3 exact id on the resource
    ("AwsSolutions-S10", "A.template.json", "Logs"): False,
    ("AwsSolutions-SQS3", "A.template.json", "Queue"): False,  # acknowledged in the manifest only
    ("AwsSolutions-SQS4", "A.template.json", "Queue"): True,  # template-level Metadata
    ("AwsSolutions-IAM5[Action::s3:*]", "A.template.json", "Worker"): True,  # v2 applies_to
    ("AwsSolutions-IAM5[Resource::*]", "A.template.json", "Worker"): False,
    ("AwsSolutions-SNS3", "assembly-Stage/StageB.template.json", "Alerts"): True,  # v2 bare id
    ("AwsSolutions-IAM5[Action::s3:*]", "assembly-Stage/StageB.template.json", "Deployer"): True,  # v2 bare id
    ("AwsSolutions-IAM5[Resource::*]", "assembly-Stage/StageB.template.json", "Deployer"): True,  # v2 bare id
    ("AwsSolutions-S1", "assembly-Stage/StageBInner.nested.template.json", "Data"): True,  # nested stack
    ("AwsSolutions-S10", "assembly-Stage/StageBInner.nested.template.json", "Data"): False,
}


def as_counts(pair: tuple[int, int]) -> dict[str, int]:
    return {"unacknowledged": pair[0], "acknowledged": pair[1]}


def keyed(findings) -> dict[tuple[str, str, str], bool]:
    return {(f["rule"], f["template"], f["logical_id"]): f["acknowledged"] for f in findings}


def test_counts_equal_a_hand_count_and_the_audit(capsys):
    status, data = check_json(capsys, HAND, "--pack", "AwsSolutions")
    assert status == 1
    assert keyed(data["findings"]) == HAND_COUNT
    assert data["summary"] == {"AwsSolutions": {"unacknowledged": 4, "acknowledged": 7}}
    audit = audit_assembly(HAND, packs=["AwsSolutions"])
    assert keyed(data["findings"]) == {(f.rule, f.template, f.logical_id): f.acknowledged for f in audit.findings}
    assert data["templates"] == [
        "A.template.json",
        "assembly-Stage/StageB.template.json",
        "assembly-Stage/StageBInner.nested.template.json",
    ]
    rules = {r["rule"]: (r["unacknowledged"], r["acknowledged"]) for r in data["rules"]}
    assert rules == {
        "AwsSolutions-IAM5": (1, 3),
        "AwsSolutions-S1": (0, 2),
        "AwsSolutions-S10": (2, 0),
        "AwsSolutions-SNS3": (0, 1),
        "AwsSolutions-SQS3": (1, 0),
        "AwsSolutions-SQS4": (0, 1),
    }
    where = {(f["rule"], f["logical_id"]): f["acknowledged_at"] for f in data["findings"] if f["acknowledged"]}
    assert where[("AwsSolutions-SQS4", "Queue")] == "template"
    assert where[("AwsSolutions-S1", "Logs")] == "resource"


def test_strict_reading_of_bare_rule_ids(capsys):
    """--strict: a bare v2 id covers only the bare rule, as cdk-nag v3 reads it."""
    status, data = check_json(capsys, HAND, "--pack", "AwsSolutions", "--strict")
    assert status == 1
    expected = dict(HAND_COUNT)
    expected[("AwsSolutions-IAM5[Action::s3:*]", "assembly-Stage/StageB.template.json", "Deployer")] = False
    expected[("AwsSolutions-IAM5[Resource::*]", "assembly-Stage/StageB.template.json", "Deployer")] = False
    assert keyed(data["findings"]) == expected
    audit = audit_assembly(HAND, packs=["AwsSolutions"], bare_rule_covers_findings=False)
    assert data["summary"]["AwsSolutions"] == as_counts(audit.counts()["AwsSolutions"])


def test_every_pack_by_default_and_several_packs(capsys):
    status, data = check_json(capsys, HAND)
    assert status == 1
    assert data["packs"] == list(PACK_NAMES)
    audit = audit_assembly(HAND)
    assert data["summary"] == {p: as_counts(c) for p, c in audit.counts().items()}
    status, data = check_json(capsys, HAND, "--pack", "NIST.800.53.R5", "--pack", "HIPAA.Security")
    assert status == 1
    assert list(data["summary"]) == ["NIST.800.53.R5", "HIPAA.Security"]
    assert all(f["rule"].startswith(("NIST.800.53.R5-", "HIPAA.Security-")) for f in data["findings"])


def _one_template(tmp_path: Path, resources: dict, metadata: dict | None = None) -> Path:
    template = {"Resources": resources, **({"Metadata": metadata} if metadata else {})}
    (tmp_path / "S.template.json").write_text(json.dumps(template))
    manifest = {
        "version": "36.0.0",
        "artifacts": {"S": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "S.template.json"}}},
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def test_exit_0_exactly_when_nothing_is_unacknowledged(tmp_path, capsys):
    acked = {"rules_to_suppress": [{"id": "AwsSolutions-S1", "reason": "r"}, {"id": "AwsSolutions-S10", "reason": "r"}]}
    out = _one_template(tmp_path, {"B": {"Type": "AWS::S3::Bucket", "Metadata": {"cdk_nag": acked}}})
    status, data = check_json(capsys, out, "--pack", "AwsSolutions")
    assert (status, data["verdict"], data["summary"]) == (
        0,
        "ok",
        {"AwsSolutions": {"unacknowledged": 0, "acknowledged": 2}},
    )
    # the same bucket with one acknowledgment less fails
    acked["rules_to_suppress"].pop()
    _one_template(tmp_path, {"B": {"Type": "AWS::S3::Bucket", "Metadata": {"cdk_nag": acked}}})
    status, data = check_json(capsys, out, "--pack", "AwsSolutions")
    assert (status, data["verdict"]) == (1, "FAIL")


def test_an_unreadable_template_is_exit_2_not_a_pass(tmp_path, capsys):
    out = _one_template(tmp_path, {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Missing"}}}})
    status, data = check_json(capsys, out, "--pack", "AwsSolutions")
    assert status == 2
    assert data["verdict"] == "INCOMPLETE"
    assert [e["template"] for e in data["errors"]] == ["S.template.json"]
    status = main(["check", str(out), "--pack", "AwsSolutions"])
    assert status == 2
    assert "could not be checked" in capsys.readouterr().out


def test_unknown_pack_is_one_line_exit_2(capsys):
    assert main(["check", str(HAND), "--pack", "AwsSolution"]) == 2
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1
    assert "AwsSolution" in err
    assert "NIST.800.53.R5" in err


def test_junit_report_for_codebuild(tmp_path, capsys):
    target = tmp_path / "reports" / "cdk-nag.xml"
    status = main(["check", str(HAND), "--format", "junit", "-o", str(target)])
    out, _ = capsys.readouterr()
    assert status == 1
    assert out.startswith("FAIL: ")
    assert out.strip().endswith(f"-> {target}")
    root = ET.parse(target).getroot()
    audit = audit_assembly(HAND)
    assert root.tag == "testsuites"
    assert int(root.get("tests")) == len(audit.findings)
    assert int(root.get("failures")) == len(audit.unacknowledged)
    assert [s.get("name") for s in root.iter("testsuite")] == list(PACK_NAMES)
    cases = list(root.iter("testcase"))
    assert len(cases) == len(audit.findings)
    names = {(c.get("classname"), c.get("name")) for c in cases}
    assert len(names) == len(cases)  # one test case per rule x resource
    failed = {(c.get("classname"), c.get("name")) for c in cases if c.find("failure") is not None}
    assert failed == {(f.rule, f"{f.template}#{f.logical_id}") for f in audit.unacknowledged}
    for suite in root.iter("testsuite"):
        assert int(suite.get("tests")) == len(list(suite.iter("testcase")))
        assert int(suite.get("failures")) == sum(1 for c in suite.iter("testcase") if c.find("failure") is not None)
    acked = next(c for c in cases if c.get("classname") == "AwsSolutions-SQS4")
    assert "every queue of this stack" in acked.find("system-out").text


def test_text_and_markdown_report_per_pack_and_per_rule(capsys):
    status = main(["check", str(HAND), "--pack", "AwsSolutions"])
    out, _ = capsys.readouterr()
    assert status == 1
    assert "Per rule:" in out
    assert "AwsSolutions-SQS3" in out
    assert "validation plugin 'CloudFormation Validate' (not a cdk-nag pack, not counted)" in out
    assert out.rstrip().splitlines()[-1].startswith("FAIL: 4 unacknowledged findings (AwsSolutions 4), 7 acknowledged")
    status = main(["check", str(HAND), "--pack", "AwsSolutions", "--format", "markdown", "--summary"])
    out, _ = capsys.readouterr()
    assert "| AwsSolutions | 4 | 7 |" in out
    assert "| `AwsSolutions-S10` | error | 2 | 0 |" in out
    assert "`AwsSolutions-SNS3`" not in out  # --summary: only rules with unacknowledged findings


@pytest.mark.synth
def test_counts_equal_the_audit_on_our_waves_app(waves_out, capsys):
    status, data = check_json(capsys, waves_out)
    audit = audit_assembly(waves_out)
    assert status == 1
    assert len(data["templates"]) == len(audit.templates) == 23  # stage assemblies, nested stacks, support stacks
    assert keyed(data["findings"]) == {(f.rule, f.template, f.logical_id): f.acknowledged for f in audit.findings}
    assert data["summary"] == {p: as_counts(c) for p, c in audit.counts().items()}
    nested = [t for t in data["templates"] if t.endswith(".nested.template.json")]
    assert len(nested) == 8
    # v2-style suppressions written as template metadata count: resource level (with applies_to regexes)...
    acked = {f["rule"] for f in data["findings"] if f["acknowledged"]}
    assert {"AwsSolutions-S1", "AwsSolutions-SNS3"} <= acked
    assert any(r.startswith("AwsSolutions-IAM5[Resource::<Data") for r in acked)
    # ...and the v3 acknowledgment kept in the manifest only is shown, not counted
    assert data["app_output"]["manifest_only_acknowledged"] == 8


def test_two_thousand_findings_well_under_a_minute(tmp_path):
    """The whole command (CLI start, jsii start, five packs, rendering), as a pipeline would run it."""
    out = write_unhardened_assembly(tmp_path / "cdk.out", stacks=2, pairs_per_stack=35, acknowledged_every=3)
    start = time.perf_counter()
    proc = cli("check", out, "--format", "json", "-o", tmp_path / "report.json")
    seconds = time.perf_counter() - start
    assert proc.returncode == 1, proc.stderr
    data = json.loads((tmp_path / "report.json").read_text())
    assert len(data["findings"]) >= 2000
    assert sum(1 for f in data["findings"] if f["acknowledged"]) == 2 * 12 * 2  # S1 and S10 on every 3rd bucket
    print(f"check: {len(data['findings'])} findings over {len(data['templates'])} templates in {seconds:.1f}s")
    assert seconds < 45, f"check took {seconds:.1f}s for {len(data['findings'])} findings"


@pytest.mark.synth
def test_counts_equal_the_audit_on_our_typescript_app(ts_out, capsys):
    """A TypeScript app synthesized with the CLI's defaults (version reporting on: CDKMetadata resources)."""
    status, data = check_json(capsys, ts_out)
    audit = audit_assembly(ts_out)
    assert status == 1
    assert not data["errors"]
    assert keyed(data["findings"]) == {(f.rule, f.template, f.logical_id): f.acknowledged for f in audit.findings}
    assert any('"CDKMetadata"' in (ts_out / t).read_text() for t in data["templates"])


def test_check_runs_the_packs_over_every_template(capsys):
    """The verdict is the template-only audit's, not the validation report left in the assembly."""
    from pipeline_constructs.core.compliance.audit import audit_assembly

    status, out, _ = run(capsys, "check", NESTED, "--format", "json")
    data = json.loads(out)
    audit = audit_assembly(NESTED)
    assert status == 1
    assert data["templates"] == [
        "assembly-Ops/OpsPipeline.template.json",
        "assembly-Ops/cross-region-stack-333333333333-us-west-2.template.json",
    ]
    assert data["summary"] == {p: {"unacknowledged": u, "acknowledged": a} for p, (u, a) in audit.counts().items()}
    acked = {(f["rule"], f["logical_id"]) for f in data["findings"] if f["acknowledged"]}
    assert ("AwsSolutions-S1", "Bucket") in acked  # template metadata
    # stack metadata only: shown, not counted
    assert ("Serverless-SQSRedrivePolicy", "Queue") not in acked
    assert data["app_output"]["manifest_only_acknowledged"] == 1


@pytest.mark.synth
def test_check_of_an_app_synthesized_without_packs_finds_its_findings(plain_out, capsys):
    status, out, _ = run(capsys, "check", plain_out, "--summary")
    assert status == 1
    assert "validation-report.json: no cdk-nag pack reported in it" in out
    assert out.rstrip().splitlines()[-1].startswith("FAIL: ")
