"""acknowledge(): validation, and the one mechanism that writes every acknowledgment into the template."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import aws_cdk as cdk
import jsii
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_constructs import acknowledge
from pipeline_constructs.core.compliance import (
    FINDING_RULES,
    acknowledge_all,
    acknowledgments,
    suspended_acknowledgments,
    written_acknowledgments,
)
from pipeline_constructs.testing import deterministic_app

ENV = cdk.Environment(account="111111111111", region="eu-west-1")
REASON = "a reason that is long enough to be specific"


def _rules(template: dict, logical_prefix: str, kind: str = "AWS::SQS::Queue") -> list[str]:
    (resource,) = [r for k, r in template["Resources"].items() if k.startswith(logical_prefix) and r["Type"] == kind]
    return [e["id"] for e in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])]


def _template(outdir: Path, relative: str) -> dict:
    return json.loads((outdir / relative).read_text())


def test_rule_id_and_reason_are_validated():
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(ValueError, match=r"S: rule_id = 'IAM5' is invalid: expected '<Pack>-<Rule>'"):
        acknowledge(stack, "IAM5", REASON)
    with pytest.raises(ValueError, match=r"reason = 'ok' is invalid: expected a specific reason"):
        acknowledge(stack, "AwsSolutions-S1", "ok")
    acknowledge(stack, "AwsSolutions-IAM5[Action::s3:GetObject*]", REASON)
    assert acknowledgments(stack) == [("S", "AwsSolutions-IAM5[Action::s3:GetObject*]", REASON)]


@pytest.mark.parametrize("rule", sorted(FINDING_RULES))
def test_a_rule_that_reports_findings_needs_the_finding(rule):
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(ValueError, match=rf"rule_id = '{rule}' is invalid: this rule reports findings"):
        acknowledge(stack, rule, REASON)
    acknowledge(stack, f"{rule}[Resource::*]", REASON)


@settings(deadline=None)
@given(st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True), st.sampled_from(["AwsSolutions", "HIPAA.Security"]))
def test_any_rule_outside_the_finding_rules_may_be_acknowledged_bare(rule, pack):
    rule_id = f"{pack}-{rule}"
    stack = cdk.Stack(cdk.App(), "S")
    if rule_id in FINDING_RULES:
        with pytest.raises(ValueError, match="this rule reports findings"):
            acknowledge(stack, rule_id, REASON)
    else:
        acknowledge(stack, rule_id, REASON)


def _nested_app(outdir: Path, context: dict | None = None) -> cdk.App:
    """Acknowledgments in a nested Stage, a nested stack, on an L2 before its children exist, and in an aspect."""
    app = deterministic_app(outdir=str(outdir), context=context)
    stage = cdk.Stage(app, "Prod", env=ENV)
    inner = cdk.Stage(stage, "Inner")
    stack = cdk.Stack(inner, "Data")
    queue = sqs.Queue(stack, "Queue", enforce_ssl=True)
    acknowledge(queue.node.default_child, "AwsSolutions-SQS3", REASON)  # an L1
    later = Construct(stack, "Later")
    acknowledge(later, "AwsSolutions-S1", REASON)  # before the bucket under it exists
    s3.Bucket(later, "Bucket", enforce_ssl=True)
    nested = cdk.NestedStack(stack, "Nested")
    topic_queue = sqs.Queue(nested, "NestedQueue", enforce_ssl=True)
    acknowledge(topic_queue, "AwsSolutions-SQS3", REASON)  # an L2 holding one L1

    @jsii.implements(cdk.IAspect)
    class LateAcknowledgment:
        def visit(self, node: IConstruct) -> None:
            if isinstance(node, sqs.CfnQueue) and node.node.path.endswith("Data/Queue/Resource"):
                acknowledge(node, "AwsSolutions-SQS4", REASON)

    cdk.Aspects.of(stack).add(LateAcknowledgment())
    return app


@pytest.mark.parametrize("nag", ["on", "off"])
def test_acknowledgments_reach_the_template_of_the_stack_holding_the_resource(tmp_path, nag):
    from pipeline_constructs import add_compliance_checks

    app = _nested_app(tmp_path, {"pipeline-constructs:nag": nag == "on"})
    if nag == "on":
        assert add_compliance_checks(app)
    try:
        app.synth()
    except Exception:
        assert nag == "on"
    inner = next(tmp_path.rglob("*Data*.template.json"))
    template = json.loads(inner.read_text())
    assert _rules(template, "Queue") == ["AwsSolutions-SQS3", "AwsSolutions-SQS4"]
    assert _rules(template, "LaterBucket", "AWS::S3::Bucket") == ["AwsSolutions-S1"]
    assert _rules(template, "LaterBucketPolicy", "AWS::S3::BucketPolicy") == ["AwsSolutions-S1"]
    nested = next(tmp_path.rglob("*.nested.template.json"))
    assert _rules(json.loads(nested.read_text()), "NestedQueue") == ["AwsSolutions-SQS3"]


def test_acknowledgments_merge_with_metadata_a_team_wrote(tmp_path):
    app = deterministic_app(outdir=str(tmp_path))
    stack = cdk.Stack(app, "S", env=ENV)
    queue = sqs.Queue(stack, "Q", enforce_ssl=True)
    cfn = queue.node.default_child
    assert isinstance(cfn, cdk.CfnResource)
    cfn.add_metadata("cdk_nag", {"rules_to_suppress": [{"id": "AwsSolutions-SQS3", "reason": "team reason, v2 form"}]})
    acknowledge(cfn, "AwsSolutions-SQS3", REASON)  # same id: the team's entry stays first
    acknowledge(cfn, "Serverless-SQSRedrivePolicy", REASON)
    assert written_acknowledgments(cfn) == [
        {"id": "AwsSolutions-SQS3", "reason": "team reason, v2 form"},
        {"id": "Serverless-SQSRedrivePolicy", "reason": REASON},
    ]
    app.synth()
    assert _rules(_template(tmp_path, "S.template.json"), "Q") == ["AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"]


def test_suspended_acknowledgments_record_nothing(tmp_path):
    app = deterministic_app(outdir=str(tmp_path))
    stack = cdk.Stack(app, "S", env=ENV)
    role = iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    with suspended_acknowledgments():
        acknowledge_all(role, [("AwsSolutions-IAM5[Resource::*]", REASON)])
    assert acknowledgments(app) == []
    app.synth()
    assert "cdk_nag" not in json.dumps(_template(tmp_path, "S.template.json"))


def test_writing_needs_no_cdk_nag(tmp_path):
    """Without cdk-nag installed (its import fails) acknowledgments are still written."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["cdk_nag"] = None  # import cdk_nag now raises ImportError
        import pipeline_constructs.testing
        import aws_cdk as cdk
        from aws_cdk import aws_sqs as sqs
        from pipeline_constructs import acknowledge
        app = cdk.App(outdir={str(tmp_path)!r})
        stage = cdk.Stage(app, "Prod")
        queue = sqs.Queue(cdk.Stack(stage, "S"), "Q")
        acknowledge(queue, "AwsSolutions-SQS3", {REASON!r})
        app.synth()
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    template = json.loads(next(tmp_path.rglob("*S*.template.json")).read_text())
    assert _rules(template, "Q") == ["AwsSolutions-SQS3"]
