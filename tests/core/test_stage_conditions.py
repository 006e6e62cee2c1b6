"""Stage conditions on the built pipeline (core/stage_conditions.py): BeforeEntry windows, OnSuccess alarm
bakes, OnFailure rollback/retry, the IAM the alarm rules need, and cdk-nag over the result."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from constructs import Construct
from core.deployment_model import SOURCE, WINDOW, install_fake_steps, service, stage, target
from helpers import PIPELINE_ENV, pipeline_props, policy_statements, stage_names

from pipeline_constructs.core.compliance import unacknowledged_findings
from pipeline_constructs.core.compliance.audit import audit_assembly
from pipeline_constructs.core.compliance.iam import iam_statement_problems
from pipeline_constructs.core.conditions import AlarmBake, DeploymentWindow, HealthGate, OnFailure
from pipeline_constructs.core.pipeline import SecurePipeline
from pipeline_constructs.core.stage_conditions import (
    AlarmWatch,
    StageConditions,
    VariableSkip,
    add_stage_conditions,
    stage_condition_properties,
)
from pipeline_constructs.core.targets import DeploymentTarget, deploy_targets
from pipeline_constructs.testing import deterministic_app

RULE_WINDOW = {
    "Name": "DeploymentWindow",
    "RuleTypeId": {"Category": "Rule", "Owner": "AWS", "Provider": "DeploymentWindow", "Version": "1"},
    "Configuration": {"Cron": "* * 9-16 ? * MON-FRI", "TimeZone": "Europe/Berlin"},
}


def _alarm_rule(name: str, alarm: str, region: str, states: str = "ALARM", wait: str = "30") -> dict[str, Any]:
    return {
        "Name": name,
        "RuleTypeId": {"Category": "Rule", "Owner": "AWS", "Provider": "CloudWatchAlarm", "Version": "1"},
        "Configuration": {"AlarmName": alarm, "AlarmStates": states, "WaitTime": wait},
        "Region": region,
    }


def _synth(targets: list[DeploymentTarget], outdir: str | None = None):  # type: ignore[no-untyped-def]
    app = deterministic_app(outdir=outdir)
    stack = cdk.Stack(app, "Delivery", env=PIPELINE_ENV)
    secure = SecurePipeline(
        stack, "Pipeline", synth=pipelines.ShellStep("Synth", input=SOURCE, commands=["x"]), targets=targets
    )
    deploy_targets(Construct(stack, "Owner"), secure.pipeline, targets, service, secure=secure)
    return app, stack, Template.from_stack(stack)


PROD = [
    target("Dev"),
    target(
        "Eu",
        wave="Prod",
        account="222222222222",
        deployment_window=WINDOW,
        on_failure=OnFailure.rollback(),
        bake=AlarmBake(alarm_names=("orders-errors", "orders-latency")),
        health_gate=HealthGate(),
        manual_approval=True,
    ),
    target(
        "Us",
        "us-east-1",
        wave="Prod",
        account="222222222222",
        deployment_window=WINDOW,
        on_failure=OnFailure.rollback(),
        bake=AlarmBake(
            alarm_names=("orders-errors",), wait=cdk.Duration.minutes(15), states=("ALARM", "INSUFFICIENT_DATA")
        ),
        health_gate=HealthGate(),
    ),
]


@pytest.fixture(scope="module")
def prod(tmp_path_factory):  # type: ignore[no-untyped-def]
    mp = pytest.MonkeyPatch()
    install_fake_steps(mp)
    try:
        outdir = str(tmp_path_factory.mktemp("conditions"))
        app, stack, template = _synth(PROD, outdir)
        app.synth()
        yield app, stack, template
    finally:
        mp.undo()


# -- the rendered conditions --------------------------------------------------------------------------


def test_the_window_guards_the_deploy_stage_and_its_health_stage(prod):
    _, _, template = prod
    props = pipeline_props(template)
    assert stage_names(props)[-3:] == ["Dev", "Prod-Health", "Prod"]
    before = {"Conditions": [{"Result": "FAIL", "Rules": [RULE_WINDOW]}]}
    assert stage(props, "Prod")["BeforeEntry"] == before
    assert stage(props, "Prod-Health")["BeforeEntry"] == before
    assert {"BeforeEntry", "OnSuccess", "OnFailure"}.isdisjoint(stage(props, "Dev"))


def test_the_bake_watches_every_alarm_of_the_wave_in_its_targets_region(prod):
    _, _, template = prod
    on_success = stage(pipeline_props(template), "Prod")["OnSuccess"]
    assert on_success == {
        "Conditions": [
            {
                "Result": "ROLLBACK",
                "Rules": [
                    _alarm_rule("Bake-Eu-1", "orders-errors", "eu-west-1"),
                    _alarm_rule("Bake-Eu-2", "orders-latency", "eu-west-1"),
                    _alarm_rule("Bake-Us-1", "orders-errors", "us-east-1", "ALARM,INSUFFICIENT_DATA", "15"),
                ],
            }
        ]
    }


def test_the_failed_stage_rolls_back_but_the_health_stage_does_not(prod):
    _, _, template = prod
    props = pipeline_props(template)
    assert stage(props, "Prod")["OnFailure"] == {"Result": "ROLLBACK"}
    assert "OnFailure" not in stage(props, "Prod-Health")
    assert "OnSuccess" not in stage(props, "Prod-Health")


def test_the_pipeline_is_v2(prod):
    _, _, template = prod
    assert pipeline_props(template)["PipelineType"] == "V2"


def test_retry_renders_its_mode():
    _, _, template = _synth([target("Dev", on_failure=OnFailure.retry(all_actions=True))])
    assert stage(pipeline_props(template), "Dev")["OnFailure"] == {
        "Result": "RETRY",
        "RetryConfiguration": {"RetryMode": "ALL_ACTIONS"},
    }


def test_conditions_find_their_stage_by_name_whatever_comes_before():
    app = deterministic_app()
    stack = cdk.Stack(app, "Delivery", env=PIPELINE_ENV)
    secure = SecurePipeline(stack, "Pipeline", synth=pipelines.ShellStep("Synth", input=SOURCE, commands=["x"]))
    secure.pipeline.add_wave("Lint", post=[pipelines.ShellStep("Lint", commands=["true"])])
    deploy_targets(
        Construct(stack, "Owner"), secure.pipeline, [target("Dev"), target("Qa", deployment_window=WINDOW)], service
    )
    secure.pipeline.add_wave("After", post=[pipelines.ShellStep("Report", commands=["true"])])
    props = pipeline_props(Template.from_stack(stack))
    assert stage_names(props)[-4:] == ["Lint", "Dev", "Qa", "After"]
    assert [s["Name"] for s in props["Stages"] if "BeforeEntry" in s] == ["Qa"]


# -- IAM ----------------------------------------------------------------------------------------------


def _alarm_arn(region: str, name: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":cloudwatch:{region}:111111111111:alarm:{name}"]]}


def test_the_pipeline_role_may_describe_exactly_the_watched_alarms(prod):
    _, _, template = prod
    statements = [
        s
        for s in policy_statements(template, "AWS::IAM::Policy", "PipelineRole")
        if "cloudwatch" in json.dumps(s["Action"])
    ]
    assert statements == [
        {
            "Sid": "ReadBakeAlarms",
            "Effect": "Allow",
            "Action": "cloudwatch:DescribeAlarms",
            "Resource": [
                _alarm_arn("eu-west-1", "orders-errors"),
                _alarm_arn("eu-west-1", "orders-latency"),
                _alarm_arn("us-east-1", "orders-errors"),
            ],
        }
    ]
    # the alarms are read in the pipeline's account (111111111111), not the target's (222222222222)
    (role,) = [r for k, r in template.find_resources("AWS::IAM::Role").items() if k.startswith("PipelineRole")]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "codepipeline.amazonaws.com"
    }


def test_no_alarm_no_cloudwatch_grant():
    _, _, template = _synth([target("Dev", deployment_window=WINDOW, on_failure=OnFailure.rollback())])
    assert "cloudwatch:" not in json.dumps(policy_statements(template, "AWS::IAM::Policy"))


def test_every_iam_statement_keeps_the_librarys_rules(prod):
    _, _, template = prod
    assert [str(p) for p in iam_statement_problems(template.to_json(), "Delivery")] == []


# -- compliance ---------------------------------------------------------------------------------------


def test_no_unacknowledged_finding_in_the_tree_or_the_templates(prod):
    app, _, _ = prod
    assert [str(f) for f in unacknowledged_findings(app)] == []
    audit = audit_assembly(app.outdir, bare_rule_covers_findings=False)
    assert audit.errors == []
    assert [str(f) for f in audit.unacknowledged] == []


# -- errors -------------------------------------------------------------------------------------------


def test_stage_conditions_need_a_v2_pipeline():
    app = deterministic_app()
    stack = cdk.Stack(app, "Delivery", env=PIPELINE_ENV)
    pipeline = pipelines.CodePipeline(
        stack,
        "Pipeline",
        synth=pipelines.ShellStep("Synth", input=SOURCE, commands=["x"]),
        pipeline_type=codepipeline.PipelineType.V1,
    )
    deploy_targets(Construct(stack, "Owner"), pipeline, [target("Dev", on_failure=OnFailure.rollback())], service)
    with pytest.raises(
        RuntimeError, match=r"Delivery/Pipeline: stage conditions .* need a V2 pipeline \(pipeline_type='V1'\)"
    ):
        app.synth()


def test_a_v1_pipeline_without_conditions_still_synthesizes():
    app = deterministic_app()
    stack = cdk.Stack(app, "Delivery", env=PIPELINE_ENV)
    pipeline = pipelines.CodePipeline(
        stack, "Pipeline", synth=pipelines.ShellStep("Synth", input=SOURCE, commands=["x"])
    )
    deploy_targets(Construct(stack, "Owner"), pipeline, [target("Dev")], service)
    assert "BeforeEntry" not in json.dumps(pipeline_props(Template.from_stack(stack)))


def test_properties_of_a_stage_with_every_condition():
    bake = AlarmBake(alarm_names=("a",), wait=cdk.Duration.minutes(5))
    conditions = StageConditions(
        stage_name="Prod",
        deployment_window=DeploymentWindow(cron="* 0/30 8-17 ? * 2-6 2025-2030", time_zone="UTC+01:00"),
        on_failure=OnFailure.retry(),
        alarms=(AlarmWatch(target="Eu", region="eu-central-1", alarm_name="a", bake=bake),),
    )
    assert stage_condition_properties(conditions) == {
        "BeforeEntry": {
            "Conditions": [
                {
                    "Result": "FAIL",
                    "Rules": [
                        {
                            **RULE_WINDOW,
                            "Configuration": {"Cron": "* 0/30 8-17 ? * 2-6 2025-2030", "TimeZone": "UTC+01:00"},
                        }
                    ],
                }
            ]
        },
        "OnSuccess": {
            "Conditions": [{"Result": "ROLLBACK", "Rules": [_alarm_rule("Bake-Eu-1", "a", "eu-central-1", wait="5")]}]
        },
        "OnFailure": {"Result": "RETRY", "RetryConfiguration": {"RetryMode": "FAILED_ACTIONS"}},
    }
    assert stage_condition_properties(StageConditions(stage_name="Dev")) == {}
    assert StageConditions(stage_name="Dev").empty


def test_more_than_five_rules_in_one_condition_is_an_error():
    bake = AlarmBake(alarm_names=("a",))
    watches = tuple(AlarmWatch(target=f"T{i}", region="eu-west-1", alarm_name="a", bake=bake) for i in range(6))
    with pytest.raises(
        ValueError, match=r"stage 'Prod' would watch 6 alarms and a CodePipeline condition holds 5 rules"
    ):
        stage_condition_properties(StageConditions(stage_name="Prod", alarms=watches))


# -- VariableSkip: BeforeEntry SKIP on a VariableCheck rule ---------------------------------------------


def test_a_variable_skip_renders_one_skip_condition_with_its_variable_check():
    skip = VariableSkip(rule_name="PipelineChanged", variable="#{Build.CHANGED}", operator="NE", value="false")
    assert stage_condition_properties(StageConditions(stage_name="UpdatePipeline", skip_unless=skip)) == {
        "BeforeEntry": {
            "Conditions": [
                {
                    "Result": "SKIP",
                    "Rules": [
                        {
                            "Name": "PipelineChanged",
                            "RuleTypeId": {
                                "Category": "Rule",
                                "Owner": "AWS",
                                "Provider": "VariableCheck",
                                "Version": "1",
                            },
                            "Configuration": {"Variable": "#{Build.CHANGED}", "Operator": "NE", "Value": "false"},
                        }
                    ],
                }
            ]
        }
    }
    assert not StageConditions(stage_name="UpdatePipeline", skip_unless=skip).empty


@pytest.mark.parametrize("operator", ["eq", "GT", "", "EQUALS"])
def test_a_variable_skip_names_the_allowed_operators(operator):
    with pytest.raises(ValueError, match=r"VariableSkip.operator: .* is not one of CONTAINS, EQ, MATCHES, NE"):
        VariableSkip(rule_name="R", variable="#{A.B}", operator=operator, value="x")


def test_a_window_and_a_skip_on_one_stage_is_an_error():
    skip = VariableSkip(rule_name="R", variable="#{A.B}", operator="NE", value="false")
    with pytest.raises(ValueError, match=r"stage 'Prod' would have two BeforeEntry conditions"):
        stage_condition_properties(StageConditions(stage_name="Prod", deployment_window=WINDOW, skip_unless=skip))


def test_two_registrations_of_one_before_entry_on_a_built_stage_is_an_error():
    app = deterministic_app()
    stack = cdk.Stack(app, "Delivery", env=PIPELINE_ENV)
    secure = SecurePipeline(stack, "Pipeline", synth=pipelines.ShellStep("Synth", input=SOURCE, commands=["x"]))
    deploy_targets(Construct(stack, "Owner"), secure.pipeline, [target("Dev", deployment_window=WINDOW)], service)
    skip = VariableSkip(rule_name="R", variable="#{A.B}", operator="NE", value="false")
    add_stage_conditions(secure.pipeline, StageConditions(stage_name="Dev", skip_unless=skip))
    with pytest.raises(RuntimeError, match=r"stage 'Dev' was given two BeforeEntry conditions"):
        Template.from_stack(stack)


def test_a_skip_lands_on_its_stage_of_the_built_pipeline():
    app = deterministic_app()
    stack = cdk.Stack(app, "Delivery", env=PIPELINE_ENV)
    secure = SecurePipeline(stack, "Pipeline", synth=pipelines.ShellStep("Synth", input=SOURCE, commands=["x"]))
    deploy_targets(Construct(stack, "Owner"), secure.pipeline, [target("Dev")], service)
    skip = VariableSkip(rule_name="R", variable="#{A.B}", operator="NE", value="false")
    add_stage_conditions(secure.pipeline, StageConditions(stage_name="UpdatePipeline", skip_unless=skip))
    props = pipeline_props(Template.from_stack(stack))
    entered = {s["Name"]: s["BeforeEntry"] for s in props["Stages"] if "BeforeEntry" in s}
    assert list(entered) == ["UpdatePipeline"]
    assert entered["UpdatePipeline"]["Conditions"][0]["Result"] == "SKIP"
