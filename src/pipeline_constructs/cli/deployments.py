"""How a stage deploys: targets in parallel (a wave), or an AWS Health gate in front of the next stage.

Both are read from the actions only, so any pipeline shows them, whoever built it:

* a stage whose deploy actions of two or more targets (regions, accounts, or CDK Pipelines
  stage deployments: action names ``<target>.<stack>.<Prepare|Deploy>``) share a run order
  deploys them in parallel: ``wave: 2 targets in parallel: eu-west-1, ap-southeast-2``; one
  target with two or more stacks at one run order: ``2 stacks in parallel: Api, Data``;
* a stage ``<name>-Health`` with Lambda actions ``HealthCheck-<target>`` is the AWS Health gate
  of stage ``<name>`` (the stage after it): ``AWS Health gate of Prod: eu-west-1``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline_constructs.cli.model import Action

__all__ = [
    "HEALTH_CHECK_PREFIX",
    "HEALTH_STAGE_SUFFIX",
    "HealthCheck",
    "HealthGate",
    "Target",
    "Wave",
    "checked_region",
    "health_gate_of",
    "is_health_check",
    "wave_of",
]

HEALTH_STAGE_SUFFIX = "-Health"
HEALTH_CHECK_PREFIX = "HealthCheck-"


@dataclass(frozen=True)
class Target:
    """What one target of a stage deploys: where, and which stacks."""

    #: The CDK Pipelines stage deployment (``<target>.<stack>.Deploy``), or ``""``.
    name: str
    account: str | None
    region: str | None
    stacks: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "account": self.account, "region": self.region, "stacks": list(self.stacks)}


@dataclass(frozen=True)
class Wave:
    """Deployments of a stage that run at the same time."""

    targets: tuple[Target, ...]

    @property
    def stacks(self) -> tuple[str, ...]:
        return tuple(s for t in self.targets for s in t.stacks)

    @property
    def description(self) -> str:
        if len(self.targets) == 1:
            return f"{len(self.stacks)} stacks in parallel: {', '.join(self.stacks)}"
        return f"wave: {len(self.targets)} targets in parallel: {', '.join(_labels(self.targets))}"

    def to_dict(self) -> dict[str, Any]:
        return {"targets": [t.to_dict() for t in self.targets], "description": self.description}


def _labels(targets: Sequence[Target]) -> list[str]:
    """Each target by its region; by account and region, or by name, where regions repeat."""
    by_region = [t.region or "?" for t in targets]
    by_account = [f"{t.account or '?'}/{t.region or '?'}" for t in targets]
    for labels in (by_region, by_account):
        if len(set(labels)) == len(labels):
            return labels
    return [f"{t.name or '/'.join(t.stacks)} ({t.region or '?'})" for t in targets]


def _target_name(action: Action) -> str:
    parts = action.name.split(".")
    return parts[0] if len(parts) >= 3 else ""


def wave_of(actions: Sequence[Action]) -> Wave | None:
    """The parallel deployments of a stage's actions, or ``None`` when it deploys one stack at a time."""
    stacks: dict[tuple[str, str | None, str | None], dict[str, None]] = {}
    at_order: dict[int, set[tuple[str, str | None, str | None]]] = {}
    stacks_at_order: dict[int, set[str]] = {}
    for a in actions:
        if not a.is_deployment:
            continue
        key = (_target_name(a), a.account, a.region)
        stack = a.configuration.get("StackName") or a.name
        stacks.setdefault(key, {})[stack] = None
        at_order.setdefault(a.run_order, set()).add(key)
        stacks_at_order.setdefault(a.run_order, set()).add(stack)
    targets = tuple(Target(name, account, region, tuple(s)) for (name, account, region), s in stacks.items())
    if any(len(keys) > 1 for keys in at_order.values()):
        return Wave(targets)
    if len(targets) == 1 and any(len(s) > 1 for s in stacks_at_order.values()):
        return Wave(targets)
    return None


@dataclass(frozen=True)
class HealthCheck:
    """One ``HealthCheck-<target>`` action: the target and the region it asks AWS Health about."""

    action: str
    target: str
    region: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "target": self.target, "region": self.region}


@dataclass(frozen=True)
class HealthGate:
    """A ``<stage>-Health`` stage: AWS Health checks right before ``guards``."""

    stage: str
    guards: str
    checks: tuple[HealthCheck, ...]

    @property
    def description(self) -> str:
        where = ", ".join(dict.fromkeys(c.region or c.target for c in self.checks))
        return f"AWS Health gate of {self.guards}: {where}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "guards": self.guards,
            "checks": [c.to_dict() for c in self.checks],
            "description": self.description,
        }


def is_health_check(stage: str, action: Action) -> bool:
    """A Lambda action ``HealthCheck-<target>`` in a stage ``<name>-Health``."""
    return (
        stage.endswith(HEALTH_STAGE_SUFFIX)
        and action.name.startswith(HEALTH_CHECK_PREFIX)
        and action.provider == "Lambda"
    )


def health_gate_of(stage: str, actions: Sequence[Action], later_stages: Sequence[str]) -> HealthGate | None:
    """The AWS Health gate a stage is, or ``None``; it guards ``<name>`` if a later stage is so named, else the next."""
    checks = tuple(
        HealthCheck(a.name, a.name.removeprefix(HEALTH_CHECK_PREFIX), checked_region(a))
        for a in actions
        if is_health_check(stage, a)
    )
    if not checks:
        return None
    base = stage.removesuffix(HEALTH_STAGE_SUFFIX)
    guards = base if base in later_stages or not later_stages else later_stages[0]
    return HealthGate(stage, guards, checks)


def checked_region(action: Action) -> str | None:
    """The ``region`` of the action's JSON ``UserParameters`` if it names one, else the action's region."""
    try:
        params = json.loads(action.configuration.get("UserParameters", ""))
    except ValueError:
        params = None
    if isinstance(params, dict):
        region = params.get("region", params.get("Region"))
        if isinstance(region, str) and region:
            return region
    return action.region
