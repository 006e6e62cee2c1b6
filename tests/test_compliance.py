"""Compliance wiring: every acknowledgment the library makes answers a real cdk-nag finding."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from conftest import EXAMPLE_NAMES as EXAMPLES
from conftest import load_example

from pipeline_constructs import acknowledge
from pipeline_constructs.core.compliance import (
    PACK_NAMES,
    acknowledgments,
    suspended_acknowledgments,
    unacknowledged_findings,
)
from pipeline_constructs.core.iam_idioms import flatten_cfn_reference, idiom_reason, wildcard_findings
from pipeline_constructs.testing import deterministic_app


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_acknowledgment_matches_a_finding_it_silences(name):
    example = load_example(name)
    with suspended_acknowledgments():
        bare = deterministic_app()
        example.build_app(bare)
        raised = {(f.path, f.rule) for f in unacknowledged_findings(bare)}
    app = deterministic_app()
    example.build_app(app)
    app.synth()
    acks = acknowledgments(app)
    assert acks, "the example must exercise the library's acknowledgments"
    stale = sorted(
        (path, rule)
        for path, rule, _ in acks
        if not any(rule == r and (p == path or p.startswith(path + "/")) for p, r in raised)
    )
    assert stale == [], f"acknowledgments without a finding (remove them): {stale}"
    assert unacknowledged_findings(app) == []


def test_pack_names_are_the_five_packs():
    assert PACK_NAMES == ("AwsSolutions", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321", "Serverless")


def test_acknowledge_requires_a_rule_id_and_a_specific_reason():
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(ValueError, match=r"S: rule_id = 'IAM5' is invalid: expected '<Pack>-<Rule>'"):
        acknowledge(stack, "IAM5", "a reason that is long enough")
    with pytest.raises(ValueError, match=r"reason = 'ok' is invalid: expected a specific reason"):
        acknowledge(stack, "AwsSolutions-IAM5", "ok")
    acknowledge(stack, "AwsSolutions-IAM5[Action::s3:GetObject*]", "scoped to one bucket by the statement")
    assert acknowledgments(stack) == [
        ("S", "AwsSolutions-IAM5[Action::s3:GetObject*]", "scoped to one bucket by the statement")
    ]


def test_unacknowledged_wildcard_stays_a_finding():
    app = deterministic_app()
    stack = cdk.Stack(app, "S")
    role = iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:*"], resources=["*"]))
    rules = {f.rule for f in unacknowledged_findings(app)}
    assert "AwsSolutions-IAM5[Action::s3:*]" in rules
    assert "AwsSolutions-IAM5[Resource::*]" in rules


def test_flatten_matches_cdk_nag_rendering():
    value = {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket1", "Arn"]}, "/*"]]}
    assert flatten_cfn_reference(value) == "<Bucket1.Arn>/*"
    assert flatten_cfn_reference({"Fn::Sub": "arn:${AWS::Partition}:s3:::x"}) == "arn:<AWS::Partition>:s3:::x"
    assert flatten_cfn_reference({"Ref": "AWS::Region"}) == "<AWS::Region>"


def test_idioms_are_recognised_only_when_scoped():
    scoped = {"Effect": "Allow", "Action": ["s3:GetObject*"], "Resource": [{"Fn::GetAtt": ["B", "Arn"]}]}
    everywhere = {"Effect": "Allow", "Action": ["s3:GetObject*"], "Resource": "*"}
    assert idiom_reason("Action::s3:GetObject*", [scoped]) is not None
    assert idiom_reason("Action::s3:GetObject*", [everywhere]) is None
    assert idiom_reason("Action::s3:*", [scoped]) is None
    assert idiom_reason("Resource::*", [{"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": "*"}]) is None
    findings = [f for f, _ in wildcard_findings({"Statement": [everywhere, {"Effect": "Deny", "Action": "*"}]})]
    assert findings == ["Action::s3:GetObject*", "Resource::*"]


@pytest.mark.parametrize(("value", "registered"), [(None, 5), ("false", 0), (False, 0), ("true", 5)])
def test_nag_context_switch(value, registered):
    from pipeline_constructs import add_compliance_checks

    context = {} if value is None else {"pipeline-constructs:nag": value}
    assert len(add_compliance_checks(cdk.App(context=context))) == registered
