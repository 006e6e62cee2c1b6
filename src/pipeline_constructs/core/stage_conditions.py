"""Stage conditions on the built pipeline: deployment windows, alarm bake time, rollback and retry.

CDK Pipelines does not expose CodePipeline V2 stage conditions, so they are L1 property overrides
(``Stages.<i>.BeforeEntry``, ``OnSuccess``, ``OnFailure``) on the built pipeline's ``CfnPipeline``,
applied once CDK Pipelines has built it (:func:`~pipeline_constructs.core.compliance.hardening.after_build`),
each stage found by its name:

* ``BeforeEntry``: a ``DeploymentWindow`` rule, result ``FAIL`` (outside the window the execution
  stops before the stage); or a ``VariableCheck`` rule, result ``SKIP`` (:class:`VariableSkip`: the
  stage runs only when an earlier action's output variable passes the check). CodePipeline allows
  one ``BeforeEntry`` condition per stage, so a stage has one or the other;
* ``OnSuccess``: one ``CloudWatchAlarm`` rule per watched alarm (in the target's region), result
  ``ROLLBACK``; the pipeline's role may ``cloudwatch:DescribeAlarms`` on exactly those alarms;
* ``OnFailure``: ``ROLLBACK``, or ``RETRY`` with its retry mode.

Rule structure: https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html,
https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html and the
CloudFormation ``AWS::CodePipeline::Pipeline`` ``StageDeclaration`` (``BeforeEntry``/``OnSuccess``:
``Conditions`` of ``Result`` + ``Rules``; ``OnFailure``: ``Result``, ``RetryConfiguration``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines

from pipeline_constructs.core.conditions import AlarmBake, DeploymentWindow, OnFailure
from pipeline_constructs.core.limits import MAX_RULES_PER_CONDITION

__all__ = [
    "AlarmWatch",
    "StageConditions",
    "VariableSkip",
    "add_stage_conditions",
    "alarm_rule",
    "apply_stage_conditions",
    "stage_condition_properties",
    "window_rule",
]


@dataclass(frozen=True)
class AlarmWatch:
    """One alarm a stage watches after its deployment: the ``CloudWatchAlarm`` rule of one target's alarm."""

    #: The target whose bake this is (names the rule: ``Bake-<target>-<n>``).
    target: str
    #: The target's region: where the rule reads the alarm.
    region: str
    #: The alarm's name (in the pipeline's account).
    alarm_name: str
    #: The bake the alarm belongs to (wait time and states).
    bake: AlarmBake


#: ``VariableCheck`` operators (rule reference: EQ, NE, CONTAINS, MATCHES).
VARIABLE_CHECK_OPERATORS = frozenset({"EQ", "NE", "CONTAINS", "MATCHES"})


@dataclass(frozen=True)
class VariableSkip:
    """``BeforeEntry``: enter the stage only when ``variable <operator> value`` holds, else skip it.

    A ``VariableCheck`` rule with result ``SKIP``: the rule passing lets the execution into the
    stage; the rule failing skips the stage (and the execution goes on with the next one). Choose the
    check so that anything but the one value that proves the stage unnecessary *enters* the stage:
    e.g. ``NE "false"`` rather than ``EQ "true"``, so an unexpected value runs the stage.
    https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-VariableCheck.html
    """

    #: Rule name (``[A-Za-z0-9.@_-]``).
    rule_name: str
    #: The variable, ``#{<namespace>.<NAME>}`` of an action that runs before the stage.
    variable: str
    #: ``EQ``, ``NE``, ``CONTAINS`` or ``MATCHES``.
    operator: str
    #: The value compared with.
    value: str

    def __post_init__(self) -> None:
        if self.operator not in VARIABLE_CHECK_OPERATORS:
            raise ValueError(
                f"VariableSkip.operator: {self.operator!r} is not one of {', '.join(sorted(VARIABLE_CHECK_OPERATORS))}"
            )

    def rule(self) -> dict[str, Any]:
        """The ``VariableCheck`` rule declaration."""
        return {
            "Name": self.rule_name,
            "RuleTypeId": _rule_type("VariableCheck"),
            "Configuration": {"Variable": self.variable, "Operator": self.operator, "Value": self.value},
        }


@dataclass(frozen=True)
class StageConditions:
    """The conditions of one CodePipeline stage, found by ``stage_name`` on the built pipeline."""

    stage_name: str
    #: ``BeforeEntry``: enter the stage only inside this window.
    deployment_window: DeploymentWindow | None = None
    #: ``OnFailure``: roll back or retry.
    on_failure: OnFailure | None = None
    #: ``OnSuccess``: the alarms watched after the deployment (rolled back when one fires).
    alarms: tuple[AlarmWatch, ...] = ()
    #: ``BeforeEntry``: skip the stage unless an output variable passes a check.
    skip_unless: VariableSkip | None = None

    @property
    def empty(self) -> bool:
        """Whether the stage gets no condition at all."""
        return (
            self.deployment_window is None and self.on_failure is None and not self.alarms and self.skip_unless is None
        )


def _rule_type(provider: str) -> dict[str, str]:
    return {"Category": "Rule", "Owner": "AWS", "Provider": provider, "Version": "1"}


def window_rule(window: DeploymentWindow) -> dict[str, Any]:
    """The ``DeploymentWindow`` rule declaration of ``window``."""
    return {
        "Name": "DeploymentWindow",
        "RuleTypeId": _rule_type("DeploymentWindow"),
        "Configuration": {"Cron": window.cron, "TimeZone": window.time_zone},
    }


def alarm_rule(name: str, watch: AlarmWatch) -> dict[str, Any]:
    """The ``CloudWatchAlarm`` rule declaration ``name`` of one watched alarm."""
    return {
        "Name": name,
        "RuleTypeId": _rule_type("CloudWatchAlarm"),
        "Configuration": {
            "AlarmName": watch.alarm_name,
            "AlarmStates": ",".join(watch.bake.states),
            "WaitTime": str(watch.bake.wait_minutes),
        },
        "Region": watch.region,
    }


def _alarm_rules(conditions: StageConditions) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for watch in conditions.alarms:
        counts[watch.target] = counts.get(watch.target, 0) + 1
        rules.append(alarm_rule(f"Bake-{watch.target}-{counts[watch.target]}", watch))
    return rules


def stage_condition_properties(conditions: StageConditions) -> dict[str, Any]:
    """The ``StageDeclaration`` properties (``BeforeEntry``, ``OnSuccess``, ``OnFailure``) of ``conditions``.

    :raises ValueError: when the stage would watch more than five alarms (one condition holds five rules).
    """
    props: dict[str, Any] = {}
    if conditions.deployment_window is not None and conditions.skip_unless is not None:
        raise ValueError(
            f"stage {conditions.stage_name!r} would have two BeforeEntry conditions (a deployment window and a "
            "variable skip) and CodePipeline allows one per stage"
        )
    if conditions.skip_unless is not None:
        props["BeforeEntry"] = {"Conditions": [{"Result": "SKIP", "Rules": [conditions.skip_unless.rule()]}]}
    if conditions.deployment_window is not None:
        props["BeforeEntry"] = {
            "Conditions": [{"Result": "FAIL", "Rules": [window_rule(conditions.deployment_window)]}]
        }
    if conditions.alarms:
        rules = _alarm_rules(conditions)
        if len(rules) > MAX_RULES_PER_CONDITION:
            raise ValueError(
                f"stage {conditions.stage_name!r} would watch {len(rules)} alarms and a CodePipeline condition holds "
                f"{MAX_RULES_PER_CONDITION} rules: watch fewer alarms, or split the wave"
            )
        props["OnSuccess"] = {"Conditions": [{"Result": "ROLLBACK", "Rules": rules}]}
    if conditions.on_failure is not None:
        failure: dict[str, Any] = {"Result": conditions.on_failure.result}
        if conditions.on_failure.result == "RETRY":
            failure["RetryConfiguration"] = {"RetryMode": conditions.on_failure.retry_mode}
        props["OnFailure"] = failure
    return props


def _alarm_arns(code_pipeline: codepipeline.Pipeline, alarms: list[AlarmWatch]) -> list[str]:
    stack = cdk.Stack.of(code_pipeline)
    seen: dict[tuple[str, str], str] = {}
    for watch in alarms:
        key = (watch.region, watch.alarm_name)
        if key not in seen:
            seen[key] = stack.format_arn(
                service="cloudwatch",
                resource="alarm",
                resource_name=watch.alarm_name,
                region=watch.region,
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
    return [seen[k] for k in sorted(seen)]


def apply_stage_conditions(pipeline: pipelines.CodePipeline, stages: list[StageConditions]) -> None:
    """Add the conditions to the built pipeline's stages (by name) and grant what the alarm rules need.

    :raises ValueError: when a stage is missing, or the pipeline is not V2 (stage conditions are V2 only).
    """
    code_pipeline = pipeline.pipeline
    cfn = code_pipeline.node.default_child
    assert isinstance(cfn, codepipeline.CfnPipeline)
    wanted = [s for s in stages if not s.empty]
    if not wanted:
        return
    if cfn.pipeline_type != "V2":
        raise ValueError(
            f"{pipeline.node.path}: stage conditions (deployment_window, bake, on_failure, skips) need a V2 pipeline "
            f"(pipeline_type={cfn.pipeline_type!r}): build it with pipeline_type=codepipeline.PipelineType.V2"
        )
    names = [s.stage_name for s in code_pipeline.stages]
    applied: set[tuple[int, str]] = set()
    for conditions in wanted:
        if conditions.stage_name not in names:
            raise ValueError(
                f"{pipeline.node.path}: stage {conditions.stage_name!r} of the targets' conditions is not in the built "
                f"pipeline (stages: {', '.join(names)})"
            )
        index = names.index(conditions.stage_name)
        for key, value in stage_condition_properties(conditions).items():
            if (index, key) in applied:
                raise ValueError(
                    f"{pipeline.node.path}: stage {conditions.stage_name!r} was given two {key} conditions and "
                    f"CodePipeline allows one per stage"
                )
            applied.add((index, key))
            cfn.add_property_override(f"Stages.{index}.{key}", value)
    alarms = [a for s in wanted for a in s.alarms]
    if alarms:
        # The CloudWatchAlarm rule runs with the pipeline's role and reads the alarm's state. DescribeAlarms
        # takes the alarm resource type (Service Authorization Reference, Amazon CloudWatch: "DescribeAlarms ...
        # alarm*"), so the grant names each alarm's ARN in the pipeline's account and the target's region.
        # A composite alarm would need DescribeAlarms on "*" (CloudWatch API reference, DescribeAlarms).
        code_pipeline.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadBakeAlarms",
                actions=["cloudwatch:DescribeAlarms"],
                resources=_alarm_arns(code_pipeline, alarms),
            )
        )


def add_stage_conditions(pipeline: pipelines.CodePipeline, conditions: StageConditions) -> None:
    """Register ``conditions`` for the stage of that name; applied once, right after the pipeline is built."""
    from pipeline_constructs.core.compliance.hardening import collect_after_build

    collect_after_build(pipeline, "stage-conditions", conditions, apply_stage_conditions)
