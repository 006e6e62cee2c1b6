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

import functools
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import aws_cdk as cdk

from pipeline_constructs.core.limits import MAX_RULES_PER_CONDITION
from pipeline_constructs.core.private.cron import parse_window_cron
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
    "ALARM_STATES",
    "HEALTH_SERVICE_CODE",
    "MAX_HEALTH_SERVICES",
    "MAX_WAIT_MINUTES",
    "MIN_WAIT_MINUTES",
    "AlarmBake",
    "DeploymentWindow",
    "HealthGate",
    "OnFailure",
    "ResilienceAssessment",
    "require_time_zone",
]

#: The states a ``CloudWatchAlarm`` rule can watch for.
ALARM_STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")
#: Bounds of :attr:`AlarmBake.wait`, in minutes: CodePipeline's ``WaitTime`` is whole minutes; the
#: library caps it at a day (a stage waiting longer holds every later execution).
MIN_WAIT_MINUTES = 1
MAX_WAIT_MINUTES = 24 * 60

# CloudWatch alarm names: 1-255 characters (PutMetricAlarm); no control characters, and no IAM wildcard
# characters, since the pipeline's role is granted the alarm's ARN.
_ALARM_NAME = re.compile(r"[^\x00-\x1f\x7f*?]{1,255}")
# "UTC", or UTC with an offset (the DeploymentWindow rule's UTC format, e.g. UTC+05:30).
_UTC = re.compile(r"UTC([+-](0[0-9]|1[0-4]):[0-5][0-9])?")
# An IANA Area/Location name, when the machine has no time zone database to check against.
_AREA_LOCATION = re.compile(r"[A-Z][A-Za-z_-]+(/[A-Za-z0-9_+-]+)+")


@functools.cache
def _iana_zones() -> frozenset[str]:
    """IANA Area/Location names (``Europe/Berlin``); not ``Etc/GMT+1`` (inverted signs) nor bare aliases (``EST``)."""
    return frozenset(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def require_time_zone(where: str, prop: str, value: Any) -> str:
    """Accept a DeploymentWindow ``TimeZone``: ``"UTC"``, ``"UTC+05:30"``, or an IANA name such as ``"Europe/Berlin"``.

    Abbreviations (``EST``, ``CST``) are refused: CodePipeline accepts them but several are ambiguous
    (CST is Central, China and Cuba Standard Time).
    """
    allowed = "expected an IANA time zone such as 'Europe/Berlin', 'UTC' or 'UTC+05:30'"
    require_str(where, prop, value, allowed=allowed)
    zones = _iana_zones()
    known = value in zones if zones else _AREA_LOCATION.fullmatch(value) is not None
    if not (known or _UTC.fullmatch(value)):
        raise invalid(where, prop, value, allowed)
    return str(value)


def _alarm_name(where: str, prop: str, value: Any) -> str:
    allowed = "expected a CloudWatch alarm name (1-255 characters, no control characters, no '*' or '?')"
    require_str(where, prop, value, allowed=allowed)
    if not _ALARM_NAME.fullmatch(value):
        raise invalid(where, prop, value, allowed)
    return str(value)


def _require_distinct(where: str, prop: str, values: Iterable[str]) -> None:
    """Raise on a repeated value (case-sensitive: alarm names and states are)."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise invalid(where, prop, value, "each value only once")
        seen.add(value)


@dataclass(frozen=True)
class DeploymentWindow:
    """When a target's stage may start: a CodePipeline ``DeploymentWindow`` before-entry rule.

    Outside the window the stage is not entered (result ``FAIL``: the execution stops before the
    stage; a person or the next execution starts it again).

    :param cron: the ``Cron`` of the rule: when deployments are allowed, in CodePipeline's
        DeploymentWindow syntax (seconds, minutes, hours, day-of-month, month, day-of-week and an
        optional year, space-separated; seconds must be ``*``), e.g. ``"* * 9-16 ? * MON-FRI"``
        (weekdays, 09:00 to 16:59). See :meth:`weekdays` for the common case.
    :param time_zone: the time zone the cron is read in: an IANA name such as ``"Europe/Berlin"``,
        ``"UTC"`` or ``"UTC+05:30"``. Default: ``"UTC"``.
    """

    cron: str
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        allowed = "expected a DeploymentWindow cron expression such as '* * 9-16 ? * MON-FRI'"
        require_str("DeploymentWindow", "cron", self.cron, allowed=allowed)
        parsed = parse_window_cron(self.cron)
        if isinstance(parsed, str):
            raise invalid("DeploymentWindow", "cron", self.cron, f"{allowed}: {parsed}")
        require_time_zone("DeploymentWindow", "time_zone", self.time_zone)

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

    The pipeline's role may call ``cloudwatch:DescribeAlarms`` on exactly these alarms (their ARNs
    in the pipeline's account and the target's region). CloudWatch answers for a composite alarm
    only to a caller allowed ``DescribeAlarms`` on ``*``: watch metric alarms.

    :param alarm_names: the CloudWatch alarms to watch (1 to 5: CodePipeline allows five rules per
        condition, and a wave's targets share one condition). Each name is 1-255 characters, no
        control characters, no ``*`` or ``?`` (they would be wildcards in the IAM grant).
    :param wait: how long to watch (the rule's ``WaitTime``), in whole minutes, from 1 minute to
        24 hours. Default: 30 minutes.
    :param states: the alarm states that roll the stage back (``ALARM``, ``OK``,
        ``INSUFFICIENT_DATA``). Default: ``("ALARM",)``.
    """

    alarm_names: tuple[str, ...]
    wait: cdk.Duration = field(default_factory=lambda: cdk.Duration.minutes(30))
    states: tuple[str, ...] = ("ALARM",)

    def __post_init__(self) -> None:
        names = require_sequence(
            "AlarmBake",
            "alarm_names",
            self.alarm_names,
            item=_alarm_name,
            allowed="expected a tuple of CloudWatch alarm names",
            min_length=1,
            max_length=MAX_RULES_PER_CONDITION,
        )
        object.__setattr__(self, "alarm_names", names)
        _require_distinct("AlarmBake", "alarm_names", names)
        require_instance("AlarmBake", "wait", self.wait, cdk.Duration, "expected an aws_cdk.Duration")
        seconds = self.wait.to_seconds()
        if seconds % 60 or not MIN_WAIT_MINUTES * 60 <= seconds <= MAX_WAIT_MINUTES * 60:
            raise invalid(
                "AlarmBake",
                "wait",
                self.wait.to_human_string(),
                f"expected whole minutes from {MIN_WAIT_MINUTES} to {MAX_WAIT_MINUTES} (24 hours), "
                "e.g. cdk.Duration.minutes(30)",
            )
        states = require_sequence(
            "AlarmBake",
            "states",
            self.states,
            item=lambda w, p, v: require_one_of(w, p, v, ALARM_STATES),
            allowed="expected a tuple of alarm states",
            min_length=1,
        )
        object.__setattr__(self, "states", states)
        _require_distinct("AlarmBake", "states", states)

    @property
    def wait_minutes(self) -> int:
        """:attr:`wait` in minutes (the rule's ``WaitTime``)."""
        return int(self.wait.to_seconds()) // 60


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
        if self.result == "ROLLBACK" and self.retry_mode != "FAILED_ACTIONS":
            raise invalid(
                "OnFailure",
                "retry_mode",
                self.retry_mode,
                "only a RETRY has a retry mode; use OnFailure.retry(all_actions=True) or OnFailure.rollback()",
            )

    @classmethod
    def rollback(cls) -> OnFailure:
        """Roll the stage back to its last successful execution."""
        return cls(result="ROLLBACK")

    @classmethod
    def retry(cls, *, all_actions: bool = False) -> OnFailure:
        """Retry the stage once automatically: its failed actions, or all of them with ``all_actions``."""
        require_bool("OnFailure.retry", "all_actions", all_actions)
        return cls(result="RETRY", retry_mode="ALL_ACTIONS" if all_actions else "FAILED_ACTIONS")


#: An AWS Health service code as AWS Health writes them (``LAMBDA``, ``APIGATEWAY``, ``CLOUDFORMATION``).
#: The API takes 2-30 characters other than ``:`` and ``/`` (``EventFilter.services``); Health matches
#: codes exactly, so a lower-case or misspelt code would match nothing and the gate would always pass.
HEALTH_SERVICE_CODE = re.compile(r"[A-Z0-9_]{2,30}")
#: AWS Health's ``EventFilter.services`` takes at most 10 service codes.
MAX_HEALTH_SERVICES = 10


@dataclass(frozen=True)
class HealthGate:
    """Before a target's stage: fail while AWS Health reports an open issue in the target's region.

    A CodePipeline job (``HealthCheck-<target>`` in a ``<stage>-Health`` stage just before the stage) asks AWS Health
    ``DescribeEvents`` for open events of category ``issue`` in the target's region (and
    ``global``) for ``services``; an open event fails the action, naming it, and a person retries
    the stage later. The AWS Health API needs a Business, Enterprise On-Ramp or Enterprise
    support plan: without one the check fails (``SubscriptionRequiredException``) and says so.

    :param services: AWS Health service codes to check (1 to 10, AWS Health's filter limit; upper
        case as AWS Health writes them, e.g. ``"LAMBDA"``, ``"APIGATEWAY"``). Default: derived from
        the resource types of the target's stage, plus ``"CLOUDFORMATION"``.
    :param include_global: also fail on open issues of global services (region ``global``).
        Default: ``True``.
    """

    services: tuple[str, ...] | None = None
    include_global: bool = True

    def __post_init__(self) -> None:
        if self.services is not None:
            object.__setattr__(self, "services", self.check_services("HealthGate", "services", self.services))
        require_bool("HealthGate", "include_global", self.include_global)

    @staticmethod
    def check_services(where: str, prop: str, value: object) -> tuple[str, ...]:
        """Require 1 to 10 distinct AWS Health service codes (:data:`HEALTH_SERVICE_CODE`); return them as a tuple.

        :raises ValueError: naming ``where`` and ``prop`` (``TypeError`` for a bare string or a non-sequence).
        """
        services = require_sequence(
            where,
            prop,
            value,
            item=lambda w, p, v: require_str(
                w,
                p,
                v,
                pattern=HEALTH_SERVICE_CODE,
                allowed="expected an AWS Health service code such as 'LAMBDA' (2-30 characters from A-Z, 0-9, '_')",
            ),
            allowed="expected a tuple of AWS Health service codes such as 'LAMBDA'",
            min_length=1,
            max_length=MAX_HEALTH_SERVICES,
        )
        require_unique(where, prop, services)
        return services


@dataclass(frozen=True)
class ResilienceAssessment:
    """After a target's stage: an AWS Resilience Hub assessment of what the stage deployed.

    A CodePipeline job (``Resilience-<target>``, after the stage's stacks) imports the stage's
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
            r"arn:(?P<partition>aws|aws-cn|aws-us-gov):resiliencehub:(?P<region>[a-z]{2,4}(?:-[a-z]+)+-[0-9]{1,2}):"
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
