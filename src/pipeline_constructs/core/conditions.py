"""What a target's stage waits for, watches and does on failure: CodePipeline V2 stage conditions and gates.

Value objects only (no constructs): a :class:`~pipeline_constructs.core.targets.DeploymentTarget`
carries them, :func:`~pipeline_constructs.core.targets.deploy_targets` turns them into stage
conditions on the built pipeline (:mod:`pipeline_constructs.core.stage_conditions`) and into
steps (:mod:`pipeline_constructs.steps.health_gate`, :mod:`pipeline_constructs.steps.resilience_assessment`).

* :class:`DeploymentWindow`: a ``BeforeEntry`` ``DeploymentWindow`` rule: the stage is entered only
  while the window is open.
* :class:`AlarmBake`: an ``OnSuccess`` ``CloudWatchAlarm`` rule: after the deployment, the stage
  waits, watching alarms, and rolls the stage back when one fires.
* :class:`OnFailure`: what a failed stage does by itself: roll back to the last successful
  execution (``ROLLBACK``) or retry (``RETRY``).
* :class:`HealthGate`: before the stage, ask AWS Health for open issues in the target's region.
* :class:`ResilienceAssessment`: after the stage, run an AWS Resilience Hub assessment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import aws_cdk as cdk

from pipeline_constructs.core.validation import (
    invalid,
    require_bool,
    require_instance,
    require_one_of,
    require_sequence,
    require_str,
    require_unique,
)

__all__ = [
    "AlarmBake",
    "DeploymentWindow",
    "HealthGate",
    "OnFailure",
    "ResilienceAssessment",
]


@dataclass(frozen=True)
class DeploymentWindow:
    """When a target's stage may start: a CodePipeline ``DeploymentWindow`` before-entry rule.

    Outside the window the stage is not entered (result ``FAIL``: the execution stops before the
    stage; a person or the next execution starts it again).

    :param cron: the ``Cron`` of the rule: when deployments are allowed, in CodePipeline's
        DeploymentWindow syntax (seconds, minutes, hours, day-of-month, month, day-of-week and an
        optional year, space-separated; seconds must be ``*``), e.g. ``"* * 9-16 ? * MON-FRI"``
        (weekdays, 09:00 to 16:59). See :meth:`weekdays` for the common case.
    :param time_zone: the IANA time zone the cron is read in, e.g. ``"Europe/Berlin"``.
        Default: ``"UTC"``.
    """

    cron: str
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        require_str("DeploymentWindow", "cron", self.cron, allowed="expected a DeploymentWindow cron expression")
        require_str("DeploymentWindow", "time_zone", self.time_zone, allowed="expected an IANA time zone name")

    @classmethod
    def weekdays(cls, *, start_hour: int = 9, end_hour: int = 17, time_zone: str = "UTC") -> DeploymentWindow:
        """Monday to Friday, from ``start_hour`` (inclusive) to ``end_hour`` (exclusive), in ``time_zone``.

        :param start_hour: first hour deployments may start (0-23). Default: 9.
        :param end_hour: the hour the window closes (1-24, after ``start_hour``). Default: 17.
        :param time_zone: IANA time zone. Default: ``"UTC"``.
        """
        for prop, value, low, high in (("start_hour", start_hour, 0, 23), ("end_hour", end_hour, 1, 24)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise invalid("DeploymentWindow.weekdays", prop, value, f"expected an hour from {low} to {high}")
        if end_hour <= start_hour:
            raise invalid("DeploymentWindow.weekdays", "end_hour", end_hour, f"expected an hour after {start_hour}")
        hours = str(start_hour) if end_hour - start_hour == 1 else f"{start_hour}-{end_hour - 1}"
        return cls(cron=f"* * {hours} ? * MON-FRI", time_zone=time_zone)


@dataclass(frozen=True)
class AlarmBake:
    """Bake time after a target's deployment: an ``OnSuccess`` condition with ``CloudWatchAlarm`` rules.

    After the stage's actions succeed, CodePipeline watches the alarms for ``wait``; when any is in
    one of ``states`` the stage is rolled back (result ``ROLLBACK``) to its last successful execution.

    The rules run with the pipeline's role, in the target's region: the alarms must exist in the
    pipeline's account, in that region (for a target in another account, an alarm over the
    target's metrics through CloudWatch cross-account observability).

    :param alarm_names: the CloudWatch alarms to watch (1 to 5 per stage: CodePipeline allows five
        rules per condition).
    :param wait: how long to watch, in whole minutes (1 minute to 24 hours... the ``WaitTime``).
        Default: 30 minutes.
    :param states: the alarm states that roll the stage back. Default: ``("ALARM",)``.
    """

    alarm_names: tuple[str, ...]
    wait: cdk.Duration = field(default_factory=lambda: cdk.Duration.minutes(30))
    states: tuple[str, ...] = ("ALARM",)

    def __post_init__(self) -> None:
        names = require_sequence(
            "AlarmBake",
            "alarm_names",
            self.alarm_names,
            item=lambda w, p, v: require_str(w, p, v, allowed="expected a CloudWatch alarm name"),
            allowed="expected a tuple of CloudWatch alarm names",
            min_length=1,
        )
        object.__setattr__(self, "alarm_names", names)
        require_unique("AlarmBake", "alarm_names", names)
        require_instance("AlarmBake", "wait", self.wait, cdk.Duration, "expected an aws_cdk.Duration")
        states = require_sequence(
            "AlarmBake",
            "states",
            self.states,
            item=lambda w, p, v: require_one_of(w, p, v, ("ALARM", "OK", "INSUFFICIENT_DATA")),
            allowed="expected a tuple of alarm states",
            min_length=1,
        )
        object.__setattr__(self, "states", states)


@dataclass(frozen=True)
class OnFailure:
    """What a target's stage does when it fails: an ``OnFailure`` stage condition.

    Use :meth:`rollback` or :meth:`retry`.

    Rollback redeploys the stage with the artifacts of its last successful execution; CodePipeline
    rolls back only to an execution of the current pipeline structure, so the first failure after
    a pipeline change (a new stage, a renamed action) is not rolled back.

    :param result: ``"ROLLBACK"`` or ``"RETRY"``.
    :param retry_mode: with ``RETRY``: ``"FAILED_ACTIONS"`` (only the failed actions run again) or
        ``"ALL_ACTIONS"``. Default: ``"FAILED_ACTIONS"``.
    """

    result: Literal["ROLLBACK", "RETRY"]
    retry_mode: Literal["FAILED_ACTIONS", "ALL_ACTIONS"] = "FAILED_ACTIONS"

    def __post_init__(self) -> None:
        require_one_of("OnFailure", "result", self.result, ("ROLLBACK", "RETRY"))
        require_one_of("OnFailure", "retry_mode", self.retry_mode, ("FAILED_ACTIONS", "ALL_ACTIONS"))

    @classmethod
    def rollback(cls) -> OnFailure:
        """Roll the stage back to its last successful execution."""
        return cls(result="ROLLBACK")

    @classmethod
    def retry(cls, *, all_actions: bool = False) -> OnFailure:
        """Retry the stage once automatically: its failed actions, or all of them with ``all_actions``."""
        require_bool("OnFailure.retry", "all_actions", all_actions)
        return cls(result="RETRY", retry_mode="ALL_ACTIONS" if all_actions else "FAILED_ACTIONS")


@dataclass(frozen=True)
class HealthGate:
    """Before a target's stage: fail while AWS Health reports an open issue in the target's region.

    A CodePipeline job (``<stage>-Health`` stage, one action per region) asks AWS Health
    ``DescribeEvents`` for open events of category ``issue`` in the target's region (and
    ``global``) for ``services``; an open event fails the action, naming it, and a person retries
    the stage later. The AWS Health API needs a Business, Enterprise On-Ramp or Enterprise
    support plan: without one the check fails (``SubscriptionRequiredException``) and says so.

    :param services: AWS Health service codes to check (e.g. ``"LAMBDA"``, ``"APIGATEWAY"``; at
        most 10). Default: derived from the resource types of the target's stage, plus
        ``"CLOUDFORMATION"``.
    :param include_global: also fail on open issues of global services (region ``global``).
        Default: ``True``.
    """

    services: tuple[str, ...] | None = None
    include_global: bool = True

    def __post_init__(self) -> None:
        if self.services is not None:
            services = require_sequence(
                "HealthGate",
                "services",
                self.services,
                item=lambda w, p, v: require_str(w, p, v, allowed="expected an AWS Health service code"),
                allowed="expected a tuple of AWS Health service codes such as 'LAMBDA'",
                min_length=1,
            )
            object.__setattr__(self, "services", services)
        require_bool("HealthGate", "include_global", self.include_global)


@dataclass(frozen=True)
class ResilienceAssessment:
    """After a target's stage: an AWS Resilience Hub assessment of what the stage deployed.

    A CodePipeline job (``<target>-Resilience``, after the stage's deployment) imports the stage's
    stacks into the Resilience Hub application, publishes a new app version, runs an assessment
    and fails when the app's resiliency policy is breached. Resilience Hub allows 20 assessments
    per application per month (a quota you can ask to raise): give it a stage that deploys less
    often than every commit, or expect the step to fail with the quota error.

    The application must exist in the pipeline's account (any region), have a resiliency policy
    and use the ``RoleBased`` permission model: Resilience Hub reads the stacks' resources with the
    app's invoker role (and, for a target in another account, with a role there that trusts the
    invoker role: the app's ``crossAccountRoleArns``), never with the pipeline's credentials.

    :param app_arn: the Resilience Hub application, ``arn:<partition>:resiliencehub:<region>:<account>:app/<id>``
        (partition ``aws``, ``aws-cn`` or ``aws-us-gov``), in the pipeline's account.
    :param stack_names: the CloudFormation names (``Stack.stack_name``) of the stage's stacks to
        import, each a letter followed by letters, digits or ``-`` (at most 128 characters).
        Default: every stack of the stage in the target's account and region.
    """

    app_arn: str
    stack_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # Imported here: only this class of the module is edited for the Resilience Hub step.
        import re

        from pipeline_constructs.core.validation_aws import STACK_NAME_PATTERN, known_regions

        # The application resource type of the Service Authorization Reference (list_awsresiliencehub.html).
        app_arn_pattern = re.compile(
            r"arn:(?P<partition>aws|aws-cn|aws-us-gov):resiliencehub:(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}):"
            r"(?P<account>[0-9]{12}):app/[A-Za-z0-9][A-Za-z0-9-]{0,127}"
        )
        require_str(
            "ResilienceAssessment",
            "app_arn",
            self.app_arn,
            pattern=app_arn_pattern,
            allowed="expected a Resilience Hub app ARN such as "
            "'arn:aws:resiliencehub:eu-west-1:111111111111:app/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d'",
        )
        match = app_arn_pattern.fullmatch(self.app_arn)
        assert match is not None
        if match["region"] not in known_regions():
            raise invalid("ResilienceAssessment", "app_arn", self.app_arn, f"{match['region']!r} is not an AWS region")
        if self.stack_names is not None:
            names = require_sequence(
                "ResilienceAssessment",
                "stack_names",
                self.stack_names,
                item=lambda w, p, v: require_str(
                    w,
                    p,
                    v,
                    pattern=STACK_NAME_PATTERN,
                    allowed="expected a CloudFormation stack name: a letter, then letters, digits or '-' "
                    "(at most 128 characters)",
                ),
                allowed="expected a tuple of stack names",
                min_length=1,
            )
            require_unique("ResilienceAssessment", "stack_names", names)
            object.__setattr__(self, "stack_names", names)

    @property
    def account(self) -> str:
        """The account of the application (from its ARN)."""
        return self.app_arn.split(":")[4]

    @property
    def region(self) -> str:
        """The region of the application (from its ARN)."""
        return self.app_arn.split(":")[3]

    @property
    def partition(self) -> str:
        """The partition of the application (from its ARN)."""
        return self.app_arn.split(":")[1]
