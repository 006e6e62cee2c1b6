"""Team defaults (cdk.json context): explicit argument > team default > library default."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from conftest import EXAMPLE_NAMES, load_example

from pipeline_constructs.core.private.defaults import resolve_default


def test_team_default_from_context_and_explicit_wins():
    from aws_cdk import aws_logs as logs

    app = cdk.App(context={"pipeline-constructs:logRetentionDays": 731})
    stack = cdk.Stack(app, "S")
    assert resolve_default(stack, "logRetentionDays", None, logs.RetentionDays.ONE_YEAR) == logs.RetentionDays.TWO_YEARS
    explicit = logs.RetentionDays.TEN_YEARS
    assert resolve_default(stack, "logRetentionDays", explicit, logs.RetentionDays.ONE_YEAR) == explicit
    assert resolve_default(cdk.Stack(cdk.App(), "T"), "logRetentionDays", None, logs.RetentionDays.ONE_YEAR) == (
        logs.RetentionDays.ONE_YEAR
    )


def test_bad_team_default_names_the_context_key():
    app = cdk.App(context={"pipeline-constructs:computeType": "HUGE"})
    stack = cdk.Stack(app, "S")
    with pytest.raises(
        ValueError, match=r"context pipeline-constructs:computeType = 'HUGE' is invalid: expected one of"
    ):
        resolve_default(stack, "computeType", None, None)


# ---------------------------------------------------------------- team defaults reach every log group


@pytest.mark.synth
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_the_team_log_retention_reaches_every_log_group_the_library_creates(name, tmp_path):
    app = cdk.App(
        outdir=str(tmp_path),
        context={
            "aws:cdk:bundling-stacks": [],
            "pipeline-constructs:logRetentionDays": 731,
            "pipeline-constructs:computeType": "MEDIUM",
        },
    )
    load_example(name).build_app(app)
    assembly = app.synth()
    log_groups: dict[str, object] = {}
    projects: dict[str, object] = {}
    stacks = list(assembly.stacks)
    for nested in assembly.nested_assemblies:
        stacks += list(nested.nested_assembly.stacks)
    for stack in stacks:
        for logical_id, resource in stack.template["Resources"].items():
            where = f"{stack.stack_name}/{logical_id}"
            if resource["Type"] == "AWS::Logs::LogGroup":
                log_groups[where] = resource["Properties"].get("RetentionInDays")
            if resource["Type"] == "AWS::CodeBuild::Project" and "SecurityCheck" not in logical_id:
                projects[where] = resource["Properties"]["Environment"]["ComputeType"]
    assert log_groups, "every example creates log groups"
    assert {k: v for k, v in log_groups.items() if v != 731} == {}
    assert {k: v for k, v in projects.items() if v != "BUILD_GENERAL1_MEDIUM"} == {}
