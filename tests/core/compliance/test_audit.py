"""The template-only cdk-nag check (core.compliance.audit): what an auditor sees."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from pipeline_constructs.core.compliance.audit import (
    AckEntry,
    assembly_templates,
    audit_assembly,
    audit_templates,
    finding_is_acknowledged,
    template_acknowledgments,
)


def test_v3_exact_finding_and_bare_rule():
    entries = [AckEntry("AwsSolutions-IAM5[Action::s3:*]", "r"), AckEntry("AwsSolutions-S1", "r")]
    assert finding_is_acknowledged("AwsSolutions-IAM5[Action::s3:*]", entries) is entries[0]
    assert finding_is_acknowledged("AwsSolutions-IAM5[Resource::*]", entries) is None
    assert finding_is_acknowledged("AwsSolutions-S1", entries) is entries[1]
    assert finding_is_acknowledged("AwsSolutions-S10", entries) is None
    assert finding_is_acknowledged("HIPAA.Security-S1", entries) is None


def test_v2_applies_to_strings_and_regexes():
    entries = [AckEntry("AwsSolutions-IAM5", "r", ("Action::s3:GetObject*", "/^Resource::<Bucket.*>\\/\\*$/g"))]
    assert finding_is_acknowledged("AwsSolutions-IAM5[Action::s3:GetObject*]", entries)
    assert finding_is_acknowledged("AwsSolutions-IAM5[Resource::<Bucket1.Arn>/*]", entries)
    assert finding_is_acknowledged("AwsSolutions-IAM5[Resource::*]", entries) is None
    assert finding_is_acknowledged("AwsSolutions-IAM5[Action::s3:PutObject]", entries) is None
    assert finding_is_acknowledged("AwsSolutions-IAM6", entries) is None


def test_bare_rule_covers_findings_only_in_the_v2_reading():
    entries = [AckEntry("AwsSolutions-IAM5", "r")]
    assert finding_is_acknowledged("AwsSolutions-IAM5[Resource::*]", entries) is entries[0]
    assert finding_is_acknowledged("AwsSolutions-IAM5[Resource::*]", entries, bare_rule_covers_findings=False) is None


def test_template_acknowledgments_reads_resource_and_template_level():
    template = {
        "Metadata": {"cdk_nag": {"rules_to_suppress": [{"id": "AwsSolutions-S1", "reason": "stack wide"}]}},
        "Resources": {
            "A": {
                "Type": "AWS::SQS::Queue",
                "Metadata": {
                    "cdk_nag": {
                        "rules_to_suppress": [
                            {"id": "AwsSolutions-IAM5", "reason": "v2", "applies_to": ["Action::x", {"regex": "/y/"}]},
                            {"id": "Annotation::AwsSolutions-SQS3", "reason": "v3"},
                            {"reason": "no id"},
                        ]
                    }
                },
            },
            "B": {"Type": "AWS::SQS::Queue"},
        },
    }
    per_resource, stack_level = template_acknowledgments(template)
    assert per_resource == {
        "A": [AckEntry("AwsSolutions-IAM5", "v2", ("Action::x", "/y/")), AckEntry("AwsSolutions-SQS3", "v3")]
    }
    assert stack_level == [AckEntry("AwsSolutions-S1", "stack wide", (), True)]


def _two_queue_app(outdir: Path) -> Path:
    app = cdk.App(outdir=str(outdir), context={"aws:cdk:bundling-stacks": []})
    stage = cdk.Stage(app, "Dev")
    stack = cdk.Stack(stage, "Queues", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    acked = sqs.Queue(stack, "Acked", enforce_ssl=True)
    sqs.Queue(stack, "Plain", enforce_ssl=True)
    cfn = acked.node.default_child
    assert isinstance(cfn, sqs.CfnQueue)
    cfn.add_metadata(
        "cdk_nag", {"rules_to_suppress": [{"id": "AwsSolutions-SQS3", "reason": "consumers retry from source"}]}
    )
    # in-memory only: an auditor must not see it
    cdk.Validations.of(stack.node.find_child("Plain")).acknowledge(
        cdk.Acknowledgment(id="AwsSolutions-SQS3", reason="only in the construct tree, not in the template")
    )
    parent = cdk.Stack(app, "Parent", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    nested = cdk.NestedStack(parent, "Inner")
    s3.Bucket(nested, "Bucket")
    app.synth()
    return outdir


def test_assembly_templates_reach_nested_assemblies_and_nested_stacks(tmp_path):
    out = _two_queue_app(tmp_path / "out")
    names = sorted(str(p.relative_to(out.resolve())) for p in assembly_templates(out))
    assert len(names) == 3
    assert "Parent.template.json" in names
    assert any(n.startswith("assembly-Dev/") for n in names)
    assert any(n.endswith(".nested.template.json") for n in names)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.template.json")) == names


def test_audit_counts_only_acknowledgments_written_in_the_template(tmp_path):
    out = _two_queue_app(tmp_path / "out")
    audit = audit_assembly(out, packs=["AwsSolutions"])
    assert audit.errors == []
    sqs3 = {(f.logical_id.startswith("Acked"), f.acknowledged) for f in audit.findings if f.rule == "AwsSolutions-SQS3"}
    assert sqs3 == {(True, True), (False, False)}
    nested = [f for f in audit.unacknowledged if f.template.endswith(".nested.template.json")]
    assert {f.rule for f in nested} >= {"AwsSolutions-S1"}
    assert not audit.ok
    unacked, acked = audit.counts()["AwsSolutions"]
    assert (unacked, acked) == (len(audit.unacknowledged), 1)


def test_unloadable_template_is_an_error_not_a_pass(tmp_path):
    bad = tmp_path / "Bad.template.json"
    bad.write_text(json.dumps({"Resources": {"X": {"Type": "AWS::SQS::Queue", "Properties": {"Fn::Bogus": 1}}}}))
    audit = audit_templates([bad], packs=["AwsSolutions"])
    assert audit.errors
    assert audit.errors[0][0] == str(bad)
    assert not audit.ok


def test_unknown_pack_is_rejected():
    with pytest.raises(ValueError, match=r"packs = \['Nope'\] is invalid: expected names among AwsSolutions"):
        audit_templates([], packs=["Nope"])


def test_not_an_assembly(tmp_path):
    with pytest.raises(ValueError, match="not a cloud assembly"):
        assembly_templates(tmp_path)
