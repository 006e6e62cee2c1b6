"""Stage conditions (CodePipeline V2 ``BeforeEntry``, ``OnSuccess``, ``OnFailure``), read from a stage declaration.

The template shape (``AWS::CodePipeline::Pipeline`` ``StageDeclaration``)::

    BeforeEntry: {Conditions: [{Result, Rules: [RuleDeclaration]}]}
    OnSuccess:   {Conditions: [{Result, Rules: [RuleDeclaration]}]}
    OnFailure:   {Result, RetryConfiguration: {RetryMode}, Conditions: [...]}
    RuleDeclaration: {Name, RuleTypeId: {Category, Owner, Provider, Version},
                      Configuration, Region, RoleArn, ...}

Parsing never fails: a missing key is an empty value, an intrinsic function is
rendered readably (``${Alarm.Arn}``), a value of the wrong kind is skipped.
Descriptions are one line per fact: ``window: * * 9-16 ? * MON-FRI Europe/Berlin``,
``bake: 30 min watching Errors, Latency, then ROLLBACK``, ``on failure: RETRY (FAILED_ACTIONS)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Condition", "Rule", "StageConditions", "parse_conditions"]

#: Renders a template value (intrinsics included) as a string.
Render = Callable[[Any], str]


@dataclass(frozen=True)
class Rule:
    """One rule of a condition (``DeploymentWindow``, ``CloudWatchAlarm``, ``LambdaInvoke``...)."""

    name: str
    provider: str
    #: Configuration, rendered to strings.
    configuration: dict[str, str] = field(default_factory=dict)
    region: str | None = None

    @property
    def is_alarm(self) -> bool:
        return self.provider == "CloudWatchAlarm"

    @property
    def description(self) -> str:
        """``window: <cron> <time zone>``, ``rule <name>: Lambda <function>``, or the provider and configuration."""
        c = self.configuration
        if self.provider == "DeploymentWindow":
            return " ".join(x for x in ("window:", c.get("Cron", "?"), c.get("TimeZone", "")) if x)
        if self.provider == "LambdaInvoke":
            return f"rule {self.name or '?'}: Lambda {c.get('FunctionName', '?')}"
        if self.is_alarm:
            return f"alarm {c.get('AlarmName', '?')}"
        settings = ", ".join(f"{k}={v}" for k, v in c.items())
        return f"rule {self.name or '?'}: {self.provider or '?'}" + (f" ({settings})" if settings else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "provider": self.provider,
            "region": self.region,
            "configuration": dict(self.configuration),
            "description": self.description,
        }


@dataclass(frozen=True)
class Condition:
    """A condition: its rules, and what happens when they are not met (``FAIL``, ``ROLLBACK``, ``SKIP``...)."""

    result: str
    rules: tuple[Rule, ...] = ()

    def describe(self, *, usual_result: str) -> list[str]:
        """One line per rule; alarm rules together as one ``bake`` line that ends with the result."""
        lines: list[str] = []
        alarms = [r for r in self.rules if r.is_alarm]
        if alarms:
            lines.append(_bake(alarms, self.result))
        unusual = f", else {self.result}" if self.result and self.result != usual_result else ""
        lines += [r.description + unusual for r in self.rules if not r.is_alarm]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {"result": self.result, "rules": [r.to_dict() for r in self.rules]}


def _bake(alarms: list[Rule], result: str) -> str:
    """``bake: 30 min watching A, B, then ROLLBACK`` (alarms grouped by wait time, unusual states named)."""
    by_wait: dict[str, list[str]] = {}
    for rule in alarms:
        name = rule.configuration.get("AlarmName", "?")
        states = rule.configuration.get("AlarmStates", "ALARM")
        if states.replace(" ", "") != "ALARM":
            name += f" (in {states})"
        by_wait.setdefault(rule.configuration.get("WaitTime", "?"), []).append(name)
    groups = "; ".join(f"{wait} min watching {', '.join(names)}" for wait, names in by_wait.items())
    return f"bake: {groups}" + (f", then {result}" if result else "")


@dataclass(frozen=True)
class StageConditions:
    """The conditions of one stage; empty for a stage (or template) without any."""

    before_entry: tuple[Condition, ...] = ()
    on_success: tuple[Condition, ...] = ()
    #: ``OnFailure`` ``Result`` (``ROLLBACK``, ``RETRY``...), or ``None`` without ``OnFailure``.
    on_failure: str | None = None
    retry_mode: str | None = None
    on_failure_conditions: tuple[Condition, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.before_entry or self.on_success or self.on_failure or self.on_failure_conditions)

    @property
    def rules(self) -> tuple[Rule, ...]:
        conditions = (*self.before_entry, *self.on_success, *self.on_failure_conditions)
        return tuple(r for c in conditions for r in c.rules)

    @property
    def failure_line(self) -> str:
        """``on failure: ROLLBACK`` or ``on failure: RETRY (FAILED_ACTIONS)``; empty without ``OnFailure``."""
        if not self.on_failure and not self.on_failure_conditions:
            return ""
        result = self.on_failure or "?"
        if self.retry_mode:
            result += f" ({self.retry_mode})"
        when = [line for c in self.on_failure_conditions for line in c.describe(usual_result=c.result)]
        return f"on failure: {result}" + (f" when {'; '.join(when)}" if when else "")

    @property
    def lines(self) -> list[str]:
        """What the stage waits for, watches and does on failure, in that order (one fact a line)."""
        lines = [line for c in self.before_entry for line in c.describe(usual_result="FAIL")]
        lines += [line for c in self.on_success for line in c.describe(usual_result="ROLLBACK")]
        return [*lines, *([self.failure_line] if self.failure_line else [])]

    def to_dict(self) -> dict[str, Any]:
        return {
            "before_entry": [c.to_dict() for c in self.before_entry],
            "on_success": [c.to_dict() for c in self.on_success],
            "on_failure": (
                {
                    "result": self.on_failure,
                    "retry_mode": self.retry_mode,
                    "conditions": [c.to_dict() for c in self.on_failure_conditions],
                }
                if self.on_failure or self.on_failure_conditions
                else None
            ),
        }


def parse_conditions(raw_stage: dict[str, Any], render: Render) -> StageConditions:
    """The ``BeforeEntry``, ``OnSuccess`` and ``OnFailure`` of a stage declaration."""
    failure = raw_stage.get("OnFailure")
    failure = failure if isinstance(failure, dict) else {}
    retry = failure.get("RetryConfiguration")
    return StageConditions(
        before_entry=_conditions(raw_stage.get("BeforeEntry"), render),
        on_success=_conditions(raw_stage.get("OnSuccess"), render),
        on_failure=render(failure.get("Result")) or None,
        retry_mode=(render(retry.get("RetryMode")) or None) if isinstance(retry, dict) else None,
        on_failure_conditions=_conditions(failure, render),
    )


def _conditions(raw: Any, render: Render) -> tuple[Condition, ...]:
    listed = raw.get("Conditions") if isinstance(raw, dict) else None
    if not isinstance(listed, list):
        return ()
    out = []
    for c in listed:
        if not isinstance(c, dict):
            continue
        rules = c.get("Rules") if isinstance(c.get("Rules"), list) else []
        assert isinstance(rules, list)
        out.append(Condition(render(c.get("Result")), tuple(_rule(r, render) for r in rules if isinstance(r, dict))))
    return tuple(out)


def _rule(raw: dict[str, Any], render: Render) -> Rule:
    type_id = raw.get("RuleTypeId") if isinstance(raw.get("RuleTypeId"), dict) else {}
    assert isinstance(type_id, dict)
    config = raw.get("Configuration")
    if _is_intrinsic(config):  # the whole configuration is computed: show it as one value
        configuration = {"Configuration": render(config)}
    else:
        configuration = {str(k): render(v) for k, v in config.items()} if isinstance(config, dict) else {}
    return Rule(
        name=render(raw.get("Name")),
        provider=render(type_id.get("Provider")),
        configuration=configuration,
        region=render(raw.get("Region")) or None,
    )


def _is_intrinsic(value: Any) -> bool:
    """``{"Ref": ...}`` or ``{"Fn::...": ...}``."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = next(iter(value))
    return key == "Ref" or str(key).startswith("Fn::")
