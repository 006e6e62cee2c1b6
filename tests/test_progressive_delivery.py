"""The progressive-delivery example's pipeline has every part of the deployment model (issue 13's "done when").

Read from the synthesized pipeline template, as an auditor would: V2, push triggers with file-path
filters, a wave deploying two regions at the same run order, a DeploymentWindow before-entry rule, a
Health gate whose function may call health:DescribeEvents, ROLLBACK on failure of every prod stage, an
OnSuccess CloudWatchAlarm rule, a failed-execution notification rule to a KMS-encrypted topic, and a
Resilience Hub step whose function may call resiliencehub:StartAppAssessment.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.synth

NAME = "progressive_delivery"
#: The prod stages: a one-target wave's stage is named after its target (CDK Pipelines), a wider one after the wave.
PROD_STAGES = ("Prod-EU", "Prod-2")


@pytest.fixture(scope="module")
def template(synthesized_example: Any) -> dict[str, Any]:
    root = Path(synthesized_example(NAME))
    return json.loads((root / "ProgressiveDelivery.template.json").read_text(encoding="utf-8"))


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


@pytest.fixture(scope="module")
def pipeline(template: dict[str, Any]) -> dict[str, Any]:
    (only,) = _resources(template, "AWS::CodePipeline::Pipeline").values()
    return only["Properties"]


def _stages(pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Name"]: s for s in pipeline["Stages"]}


def _rules(condition_block: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [rule for c in (condition_block or {}).get("Conditions", []) for rule in c.get("Rules", [])]


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    policies = [
        *_resources(template, "AWS::IAM::Policy").values(),
        *_resources(template, "AWS::IAM::ManagedPolicy").values(),
    ]
    return [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_v2_pipeline_with_push_triggers_filtered_on_file_paths(pipeline):
    assert pipeline["PipelineType"] == "V2"
    (trigger,) = pipeline["Triggers"]
    assert trigger["ProviderType"] == "CodeStarSourceConnection"
    (push,) = trigger["GitConfiguration"]["Push"]
    assert push["Branches"]["Includes"] == ["main"]
    assert push["FilePaths"]["Includes"] == ["services/orders/**", "pipelines/orders/**"]
    source_actions = [a["Name"] for a in _stages(pipeline)["Source"]["Actions"]]
    assert trigger["GitConfiguration"]["SourceActionName"] in source_actions


def test_the_second_prod_wave_deploys_two_regions_at_the_same_run_orders(pipeline):
    by_run_order: dict[int, set[str]] = defaultdict(set)
    for action in _stages(pipeline)["Prod-2"]["Actions"]:
        if action["ActionTypeId"]["Provider"] == "CloudFormation":
            by_run_order[action["RunOrder"]].add(action["Name"].split(".")[0])
    assert by_run_order, "the wave deploys stacks"
    assert all(targets == {"Prod-US", "Prod-AP"} for targets in by_run_order.values())
    assert "Prod-EU" in _stages(pipeline)


@pytest.mark.parametrize("stage", PROD_STAGES)
def test_prod_stages_enter_only_in_the_window_and_roll_back(pipeline, stage):
    stages = _stages(pipeline)
    for name in (stage, f"{stage}-Health"):
        rules = _rules(stages[name].get("BeforeEntry"))
        (window,) = [r for r in rules if r["RuleTypeId"]["Provider"] == "DeploymentWindow"]
        assert window["Configuration"] == {"Cron": "* * 9-16 ? * MON-FRI", "TimeZone": "Europe/Berlin"}
    assert stages[stage]["OnFailure"]["Result"] == "ROLLBACK"
    alarms = [r for r in _rules(stages[stage].get("OnSuccess")) if r["RuleTypeId"]["Provider"] == "CloudWatchAlarm"]
    assert {r["Region"] for r in alarms} == ({"eu-west-1"} if stage == "Prod-EU" else {"us-east-1", "ap-southeast-2"})
    assert all(r["Configuration"]["AlarmName"].startswith("orders-service-errors-") for r in alarms)
    assert all(c["Result"] == "ROLLBACK" for c in stages[stage]["OnSuccess"]["Conditions"])


def test_non_prod_stages_have_no_conditions(pipeline):
    for name in ("Dev", "Staging"):
        stage = _stages(pipeline)[name]
        assert not {"BeforeEntry", "OnSuccess", "OnFailure"} & set(stage)


@pytest.mark.parametrize("stage", PROD_STAGES)
def test_each_prod_stage_follows_its_health_gate(pipeline, stage):
    names = [s["Name"] for s in pipeline["Stages"]]
    assert names.index(f"{stage}-Health") == names.index(stage) - 1
    checks = _stages(pipeline)[f"{stage}-Health"]["Actions"]
    assert checks
    assert all(a["ActionTypeId"]["Provider"] == "Lambda" for a in checks)


def test_the_health_gate_function_may_call_describe_events(template):
    assert any("health:DescribeEvents" in _actions(s) for s in _statements(template) if s["Effect"] == "Allow")


def test_staging_is_followed_by_a_resilience_assessment_that_may_start_assessments(pipeline, template):
    staging = _stages(pipeline)["Staging"]["Actions"]
    (step,) = [a for a in staging if a["Name"].startswith("Resilience-Staging")]
    deploys = [a["RunOrder"] for a in staging if a["ActionTypeId"]["Provider"] == "CloudFormation"]
    assert step["RunOrder"] > max(deploys)
    assert any(
        "resiliencehub:StartAppAssessment" in _actions(s) for s in _statements(template) if s["Effect"] == "Allow"
    )


def test_failed_executions_notify_a_kms_encrypted_topic(template):
    (rule,) = _resources(template, "AWS::CodeStarNotifications::NotificationRule").values()
    assert "codepipeline-pipeline-pipeline-execution-failed" in rule["Properties"]["EventTypeIds"]
    (target,) = rule["Properties"]["Targets"]
    assert target["TargetType"] == "SNS"
    topics = _resources(template, "AWS::SNS::Topic")
    (topic_id,) = [k for k in topics if {"Ref": k} == target["TargetAddress"]]
    assert "KmsMasterKeyId" in topics[topic_id]["Properties"]


def test_the_bake_alarms_exist_in_the_pipeline_account_in_each_prod_region(synthesized_example):
    root = Path(synthesized_example(NAME))
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    alarm_stacks = {
        k: v
        for k, v in manifest["artifacts"].items()
        if k.startswith("ServiceAlarms-") and v["type"] == "aws:cloudformation:stack"
    }
    assert {v["environment"] for v in alarm_stacks.values()} == {
        f"aws://111111111111/{r}" for r in ("eu-west-1", "us-east-1", "ap-southeast-2")
    }


def test_every_acknowledged_bake_alarm_is_watched_by_a_rollback_rule_in_its_region(synthesized_example, pipeline):
    """The example's acknowledgment says its alarms are bake signals a CloudWatchAlarm rule reads: check that
    each alarm so acknowledged is named by an OnSuccess ROLLBACK rule of the pipeline, in the alarm's region."""
    watched = {
        (rule["Region"], rule["Configuration"]["AlarmName"])
        for stage in pipeline["Stages"]
        for condition in (stage.get("OnSuccess") or {}).get("Conditions", [])
        if condition["Result"] == "ROLLBACK"
        for rule in condition["Rules"]
        if rule["RuleTypeId"]["Provider"] == "CloudWatchAlarm"
    }
    root = Path(synthesized_example(NAME))
    acknowledged = set()
    for path in root.glob("ServiceAlarms-*.template.json"):
        region = path.name.removeprefix("ServiceAlarms-").removesuffix(".template.json")
        body = json.loads(path.read_text(encoding="utf-8"))
        for resource in _resources(body, "AWS::CloudWatch::Alarm").values():
            rules = {e["id"] for e in resource["Metadata"]["cdk_nag"]["rules_to_suppress"]}
            assert rules == {"NIST.800.53.R5-CloudWatchAlarmAction", "HIPAA.Security-CloudWatchAlarmAction"}
            acknowledged.add((region, resource["Properties"]["AlarmName"]))
    assert acknowledged
    assert acknowledged == watched
