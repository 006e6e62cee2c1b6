"""The acknowledgments the migration builds add after the build: each answers a finding, on the narrowest policy."""

from __future__ import annotations

import re

import aws_cdk as cdk
from conftest import load_example
from redshift_migration.redshift_helpers import as_list, construct, target

from pipeline_constructs.core.compliance import acknowledgments, suspended_acknowledgments, unacknowledged_findings
from pipeline_constructs.testing import deterministic_app

EXAMPLE = load_example("redshift_migration")


def test_every_acknowledgment_answers_a_finding_and_is_specific():
    with suspended_acknowledgments():
        bare = EXAMPLE.build_app(deterministic_app())
        raised = {(f.path, f.rule) for f in unacknowledged_findings(bare)}
    app = EXAMPLE.build_app(deterministic_app())
    app.synth()
    paths = {path for path, _, _ in acknowledgments(app)}
    for own in (
        "Migrations/Test.Migration/BuildRole/DefaultPolicy",
        "Migrations/Prod.Migration/BuildRole/DefaultPolicy",
        "MigrateAndTest/PolicyDocument",
    ):
        assert any(own in p for p in paths), f"the construct's own acknowledgments on {own} must be exercised"
    stale = sorted(
        (path, rule)
        for path, rule, _ in acknowledgments(app)
        if not any(rule == r and (p == path or p.startswith(path + "/")) for p, r in raised)
    )
    assert stale == [], f"acknowledgments without a finding: {stale}"
    for path, rule, reason in acknowledgments(app):
        if rule.startswith("AwsSolutions-IAM5"):
            assert re.search(r"\[(Action|Resource)::.+\]$", rule), (path, rule)
        assert len(reason) >= 40, (path, rule, reason)


def test_the_vpc_policy_keeps_star_only_for_the_describe_calls():
    pipeline = construct(targets=[target("Test"), target("Prod", manual_approval=True)])
    stack = cdk.Stack.of(pipeline)
    pipeline.secure_pipeline.build()
    app = stack.node.root
    assert isinstance(app, cdk.App)
    app.synth()  # runs the after-build rules
    for name, step in pipeline.migration_steps.items():
        policy = step.project.node.find_child("PolicyDocument").node.default_child
        statements = stack.resolve(policy.policy_document)["Statement"]
        eni = {a: s["Resource"] for s in statements for a in as_list(s["Action"]) if "NetworkInterface" in a}
        assert "*" not in as_list(eni["ec2:CreateNetworkInterface"]), name
        assert eni["ec2:DeleteNetworkInterface"] != "*", name
        star = {a for s in statements if s["Resource"] == "*" for a in as_list(s["Action"])}
        assert star, name
        assert all(a.startswith("ec2:Describe") for a in star), (name, star)
