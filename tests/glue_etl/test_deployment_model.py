"""GlueEtlPipeline with the deployment model: a Prod wave over two regions behind a deployment window, an alarm
bake and automatic rollback, as the synthesized template shows them (and still compliant)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from glue_etl.glue_example import DEV, SOURCE, spec
from helpers import pipeline_props, pipeline_stack, policy_statements, stage_names

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.core.compliance import unacknowledged_findings
from pipeline_constructs.core.conditions import AlarmBake, DeploymentWindow, OnFailure
from pipeline_constructs.glue_etl import GlueEtlPipeline
from pipeline_constructs.testing import deterministic_app

WINDOW = DeploymentWindow.weekdays(start_hour=8, end_hour=16, time_zone="Europe/Dublin")


def _prod(name: str, region: str, alarm: str) -> DeploymentTarget:
    return DeploymentTarget(
        name=name,
        account="222222222222",
        region=region,
        wave="Prod",
        deployment_window=WINDOW,
        bake=AlarmBake(alarm_names=(alarm,), wait=cdk.Duration.minutes(20)),
        on_failure=OnFailure.rollback(),
    )


@pytest.fixture(scope="module")
def glue():  # type: ignore[no-untyped-def]
    app = deterministic_app()
    stack = pipeline_stack(app, "P")
    construct = GlueEtlPipeline(
        stack,
        "G",
        source=SOURCE,
        spec=spec(),
        targets=[DEV, _prod("ProdEu", "eu-west-1", "etl-failures-eu"), _prod("ProdUs", "us-east-1", "etl-failures-us")],
    )
    template = Template.from_stack(stack)
    return app, construct, template, pipeline_props(template)


def _stage(props: dict, name: str) -> dict:
    return next(s for s in props["Stages"] if s["Name"] == name)


def test_the_prod_wave_is_one_stage_deploying_both_regions_side_by_side(glue):
    _, construct, _, props = glue
    assert stage_names(props)[-2:] == ["Dev", "Prod"]
    prod = _stage(props, "Prod")["Actions"]
    prepare = {a["Name"]: (a["RunOrder"], a.get("Region", "eu-west-1")) for a in prod if a["Name"].endswith(".Prepare")}
    assert sorted(prepare.values()) == [(1, "eu-west-1"), (1, "us-east-1")]
    assert list(construct.stages) == ["Dev", "ProdEu", "ProdUs"]
    assert construct.stages["ProdUs"].region == "us-east-1"


def test_the_prod_stage_has_its_window_bake_and_rollback(glue):
    _, _, _, props = glue
    prod = _stage(props, "Prod")
    (entry,) = prod["BeforeEntry"]["Conditions"]
    assert entry["Result"] == "FAIL"
    assert [r["Configuration"] for r in entry["Rules"]] == [
        {"Cron": "* * 8-15 ? * MON-FRI", "TimeZone": "Europe/Dublin"}
    ]
    (success,) = prod["OnSuccess"]["Conditions"]
    assert success["Result"] == "ROLLBACK"
    assert [(r["RuleTypeId"]["Provider"], r["Region"], r["Configuration"]) for r in success["Rules"]] == [
        ("CloudWatchAlarm", "eu-west-1", {"AlarmName": "etl-failures-eu", "AlarmStates": "ALARM", "WaitTime": "20"}),
        ("CloudWatchAlarm", "us-east-1", {"AlarmName": "etl-failures-us", "AlarmStates": "ALARM", "WaitTime": "20"}),
    ]
    assert prod["OnFailure"] == {"Result": "ROLLBACK"}
    assert {"BeforeEntry", "OnSuccess", "OnFailure"}.isdisjoint(_stage(props, "Dev"))


def test_the_pipeline_role_reads_the_two_alarms(glue):
    _, _, template, _ = glue
    statements = [s for s in policy_statements(template, "AWS::IAM::Policy") if s.get("Sid") == "ReadBakeAlarms"]
    assert len(statements) == 1
    assert statements[0]["Action"] == "cloudwatch:DescribeAlarms"
    assert [r["Fn::Join"][1][2] for r in statements[0]["Resource"]] == [
        ":cloudwatch:eu-west-1:111111111111:alarm:etl-failures-eu",
        ":cloudwatch:us-east-1:111111111111:alarm:etl-failures-us",
    ]


def test_no_unacknowledged_findings(glue):
    app, _, _, _ = glue
    assert [str(f) for f in unacknowledged_findings(app)] == []


def test_a_wave_with_differing_windows_fails_at_construct_time_naming_the_target():
    other = DeploymentTarget(
        name="ProdUs", account="222222222222", region="us-east-1", wave="Prod", on_failure=OnFailure.rollback()
    )
    with pytest.raises(
        ValueError,
        match=r"^P/G: targets\[2\]\.deployment_window = None is invalid: every target of wave 'Prod' shares one stage",
    ):
        GlueEtlPipeline(
            pipeline_stack(deterministic_app(), "P"),
            "G",
            source=SOURCE,
            spec=spec(),
            targets=[DEV, _prod("ProdEu", "eu-west-1", "a"), other],
        )
