"""The job role's policy: scoped to the spec's scripts, prefixes, database and key; wildcards acknowledged."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from glue_etl.glue_example import example, workload_example


@pytest.fixture(scope="module")
def dev() -> Template:
    return Template.from_stack(example()[1].stages["Dev"].stack)


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.from_stack(cdk.Stack.of(workload_example()[1]))


def _all_statements(template: Template) -> list[dict]:
    out = []
    for kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
        for policy in template.find_resources(kind).values():
            out.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return out


def test_no_assume_role_no_s3_star_no_inline_policies_in_the_workload(dev):
    assert dev.find_resources("AWS::IAM::Policy") == {}
    for statement in _all_statements(dev):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert "sts:AssumeRole" not in actions
        assert not any(a.endswith("*") for a in actions), actions
    for role in dev.find_resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"] or all(
            "aws:policy" not in json.dumps(arn) for arn in role["Properties"]["ManagedPolicyArns"]
        )


def test_job_role_is_scoped_to_the_spec(dev):
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for k, p in dev.find_resources("AWS::IAM::ManagedPolicy").items()
        if k.startswith("WorkloadJobPolicy")
    ]
    by_sid = {s["Sid"]: s for s in policy}
    scripts = json.dumps(by_sid["ReadJobScripts"]["Resource"])
    assert scripts.count("/scripts/") == 3
    assert "*" not in scripts
    data = json.dumps(by_sid["WriteDataBucket"]["Resource"])
    assert "/neherlab_denormalized/*" in data
    assert "/glue-temp/*" in data
    assert by_sid["ListDataBucket"]["Condition"] == {
        "StringLike": {"s3:prefix": ["glue-temp/*", "neherlab_denormalized/*"]}
    }
    source = json.dumps(by_sid["ReadSource1"]["Resource"])
    assert ":s3:::covid19-harmonized-dataset/covid19tos3/*" in source
    assert by_sid["ReadSource1"]["Action"] == "s3:GetObject"  # the public source is never written
    assert by_sid["PutEventsOnDefaultBus"]["Action"] == "events:PutEvents"
    assert "event-bus/default" in json.dumps(by_sid["PutEventsOnDefaultBus"]["Resource"])
    assert by_sid["GlueJobMetrics"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Glue"}}
    assert "database/covid19db" in json.dumps(by_sid["GlueCatalog"]["Resource"])
    assert "glue:DeleteTable" not in by_sid["GlueCatalog"]["Action"]


def test_policy_covers_nested_prefixes_once_and_deletes_tables_only_when_asked(template):
    (policy,) = [p for k, p in template.find_resources("AWS::IAM::ManagedPolicy").items() if "JobPolicy" in k]
    by_sid = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    writes = json.dumps(by_sid["WriteDataBucket"]["Resource"])
    assert "/clean/*" in writes
    assert "/clean/daily/*" not in writes  # covered by clean/
    assert "/stream/*" in writes
    assert "/raw/*" in json.dumps(by_sid["ReadDataBucket"]["Resource"])
    assert by_sid["ListDataBucket"]["Condition"]["StringLike"]["s3:prefix"] == [
        "clean/*",
        "glue-temp/*",
        "raw/*",
        "stream/*",
    ]
    assert {"glue:DeleteTable", "glue:BatchDeletePartition"} <= set(by_sid["GlueCatalog"]["Action"])
    assert "PutEventsOnDefaultBus" not in by_sid
