"""How a target list becomes pipeline stages: waves, the AWS Health stages, and the layout rules they obey.

:func:`deployment_groups` groups consecutive targets of one wave into one stage; :func:`check_deployment_layout`
checks the layout at construct time (consecutive waves, unique stage names, one window and one on-failure
behaviour per wave, at most five bake alarms per stage). :func:`~pipeline_constructs.core.targets.deploy_targets`
builds what the groups describe.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline_constructs.core import limits
from pipeline_constructs.core.conditions import DeploymentWindow, OnFailure
from pipeline_constructs.core.stage_conditions import AlarmWatch
from pipeline_constructs.core.validation import invalid

if TYPE_CHECKING:
    from pipeline_constructs.core.targets import DeploymentTarget

__all__ = [
    "DEPLOYMENT_MODEL_FIELDS",
    "HEALTH_STAGE_SUFFIX",
    "PERMISSIONS_STAGE_SUFFIX",
    "RESERVED_STAGE_NAMES",
    "DeploymentGroup",
    "check_deployment_layout",
    "deployment_groups",
    "reject_deployment_model",
]

#: The stages CDK Pipelines puts before the targets' stages: no target or wave may take these names.
RESERVED_STAGE_NAMES = ("Source", "Build", "UpdatePipeline", "Assets")
#: The AWS Health check stage of a stage ``S`` is ``S`` + this suffix (``Prod-Health``).
HEALTH_STAGE_SUFFIX = "-Health"
#: The permissions confirmation stage of a ``security_gated`` target ``T`` is ``T`` + this suffix
#: (``Prod-Permissions``): it holds the check's approval, skipped when nothing broadens.
PERMISSIONS_STAGE_SUFFIX = "-Permissions"
#: The target fields of the deployment model (waves, stage conditions, gates around a stage).
DEPLOYMENT_MODEL_FIELDS = ("wave", "deployment_window", "bake", "on_failure", "health_gate", "resilience_assessment")


@dataclass(frozen=True)
class DeploymentGroup:
    """One CodePipeline stage of deployments: a target without a wave, or the consecutive targets of a wave."""

    #: The CodePipeline stage name: the wave's name, or the target's (its own stage, or a wave of that one
    #: target: CDK Pipelines names a wave holding one stage after that stage).
    name: str
    #: The wave's name (``None`` for a target's own stage).
    wave: str | None
    #: The positions of the group's targets in the target list.
    indices: tuple[int, ...]
    #: The group's targets, in order.
    targets: tuple[DeploymentTarget, ...]

    @property
    def health_stage(self) -> str | None:
        """The name of the AWS Health check stage before this one (``<name>-Health``), if a target asks for it."""
        return self.name + HEALTH_STAGE_SUFFIX if any(t.health_gate is not None for t in self.targets) else None

    @property
    def permission_stages(self) -> tuple[str, ...]:
        """The permissions confirmation stages before this one (and its Health stage): ``<target>-Permissions``
        for each ``security_gated`` target, in target order."""
        return tuple(t.name + PERMISSIONS_STAGE_SUFFIX for t in self.targets if t.security_gated)

    @property
    def deployment_window(self) -> DeploymentWindow | None:
        """The group's deployment window (every target of a wave gives the same)."""
        return self.targets[0].deployment_window

    @property
    def on_failure(self) -> OnFailure | None:
        """What the group's stage does on failure (every target of a wave gives the same)."""
        return self.targets[0].on_failure

    @property
    def alarms(self) -> tuple[AlarmWatch, ...]:
        """Every alarm the group's stage watches after its deployment (the union of its targets' bakes)."""
        return tuple(
            AlarmWatch(target=t.name, region=t.region, alarm_name=name, bake=t.bake)
            for t in self.targets
            if t.bake is not None
            for name in t.bake.alarm_names
        )


def deployment_groups(targets: Sequence[DeploymentTarget]) -> tuple[DeploymentGroup, ...]:
    """The stages ``targets`` deploy in, in order: consecutive targets of one wave share a stage."""
    groups: list[DeploymentGroup] = []
    for i, target in enumerate(targets):
        last = groups[-1] if groups else None
        if target.wave is not None and last is not None and last.wave == target.wave:
            groups[-1] = dataclasses.replace(
                last, name=target.wave, indices=(*last.indices, i), targets=(*last.targets, target)
            )
        else:
            groups.append(DeploymentGroup(name=target.name, wave=target.wave, indices=(i,), targets=(target,)))
    return tuple(groups)


def _shown(value: object) -> str:
    return "none" if value is None else repr(value)


def check_deployment_layout(
    where: str, targets: Sequence[DeploymentTarget], *, prop: str = "targets"
) -> tuple[DeploymentGroup, ...]:
    """Check how ``targets`` group into stages, and return the groups (:func:`deployment_groups`).

    * a wave's targets are consecutive (a wave name reappearing after another stage is an error);
    * stage names are unique (case-insensitive): no wave is named like a target or another wave, none is
      one of :data:`RESERVED_STAGE_NAMES`, and no ``<stage>-Health`` or ``<target>-Permissions`` stage (of a
      ``security_gated`` target) takes another stage's name;
    * every target of a wave gives the same ``deployment_window`` and ``on_failure`` (``None`` counts);
    * a stage watches at most five alarms (one ``OnSuccess`` condition holds five rules).

    :raises ValueError: naming ``<prop>[i].<field>``, the value and what is allowed.
    """
    groups = deployment_groups(targets)
    # Every name a stage or a target's stage id takes (lower-case) -> who takes it. Target names inside a
    # wave name no pipeline stage, but a wave or health stage named like any target would read as that target.
    owners: dict[str, str] = {
        r.lower(): f"{r!r} is a stage CDK Pipelines adds before the targets" for r in RESERVED_STAGE_NAMES
    }

    def take(name: str, owner: str, field_prop: str) -> None:
        taken = owners.get(name.lower())
        if taken is not None:
            raise invalid(
                where,
                field_prop,
                name,
                f"expected a name no other stage or target has: {taken} (stage names are unique in a pipeline, "
                "case-insensitive)",
            )
        owners[name.lower()] = owner

    for i, target in enumerate(targets):
        take(target.name, f"{prop}[{i}] is named {target.name!r}", f"{prop}[{i}].name")
    seen_waves: dict[str, int] = {}
    for group in groups:
        first = group.indices[0]
        if group.wave is not None:
            earlier = seen_waves.get(group.wave)
            if earlier is not None:
                raise invalid(
                    where,
                    f"{prop}[{first}].wave",
                    group.wave,
                    f"the targets of a wave must be consecutive: wave {group.wave!r} already deployed up to "
                    f"{prop}[{earlier}] and other stages come in between; move {prop}[{first}] next to them or "
                    "give it another wave",
                )
            seen_waves[group.wave] = group.indices[-1]
            take(group.wave, f"{prop}[{first}] starts wave {group.wave!r}", f"{prop}[{first}].wave")
        for i, target in zip(group.indices, group.targets, strict=True):
            if target.security_gated:
                take(
                    target.name + PERMISSIONS_STAGE_SUFFIX,
                    f"the permissions confirmation stage of {target.name!r}",
                    f"{prop}[{i}].security_gated",
                )
        if group.health_stage is not None:
            gated = next(i for i, t in zip(group.indices, group.targets, strict=True) if t.health_gate is not None)
            take(group.health_stage, f"the AWS Health stage of {group.name!r}", f"{prop}[{gated}].health_gate")
    for group in groups:
        _check_wave_conditions(where, prop, group)
        alarms = group.alarms
        if len(alarms) > limits.MAX_RULES_PER_CONDITION:
            last, bake = next(
                (i, t.bake) for i, t in zip(group.indices[::-1], group.targets[::-1], strict=True) if t.bake is not None
            )
            what = f"wave {group.wave!r}" if group.wave is not None else f"stage {group.name!r}"
            raise invalid(
                where,
                f"{prop}[{last}].bake",
                bake.alarm_names,
                f"{what} would watch {len(alarms)} alarms and CodePipeline allows {limits.MAX_RULES_PER_CONDITION} "
                "rules per condition: watch fewer alarms (combine metrics into one alarm) or split the wave",
            )
    return groups


def _check_wave_conditions(where: str, prop: str, group: DeploymentGroup) -> None:
    """Every target of a wave gives the same deployment window and on-failure behaviour (``None`` counts)."""
    if group.wave is None:
        return
    first = group.targets[0]
    for i, target in zip(group.indices[1:], group.targets[1:], strict=True):
        for field_name in ("deployment_window", "on_failure"):
            value, expected = getattr(target, field_name), getattr(first, field_name)
            if value != expected:
                raise invalid(
                    where,
                    f"{prop}[{i}].{field_name}",
                    value,
                    f"every target of wave {group.wave!r} shares one stage and gives the same {field_name}: "
                    f"{prop}[{group.indices[0]}] ({first.name!r}) gives {_shown(expected)}",
                )


def reject_deployment_model(
    where: str, targets: Sequence[DeploymentTarget], *, why: str, prop: str = "targets"
) -> None:
    """Raise on the first target that sets a field of :data:`DEPLOYMENT_MODEL_FIELDS` (for a pipeline
    that deploys no stage per target); ``why`` says what the pipeline does instead."""
    for i, target in enumerate(targets):
        for field_name in DEPLOYMENT_MODEL_FIELDS:
            value = getattr(target, field_name)
            if value is not None:
                raise invalid(where, f"{prop}[{i}].{field_name}", value, why)
