"""Run orders on the built pipeline: let actions of one stage run in parallel where CDK Pipelines serializes them.

CDK Pipelines places every step a step depends on at an earlier run order of the same stage, and
offers no way to say "run these two side by side" (a step nothing depends on is not in the pipeline
at all). A :class:`RunOrderOverride` moves one action of a stage, found by stage and action name on
the built pipeline, to a given run order or to the run order of another action of that stage: an
L1 override ``Stages.<i>.Actions.<j>.RunOrder`` of the built ``CfnPipeline``, applied once CDK
Pipelines has built it (:func:`~pipeline_constructs.core.compliance.hardening.after_build`).

Afterwards the stage's run orders are renumbered ``1..n`` in order (each action keeps its place
relative to every other), so a stage never starts at a run order without an action.

What makes a move safe is checked on the rendered stage, after the move: an action that reads an
artifact another action of the same stage writes, or a variable (``#{namespace.NAME}``) of another
action of the same stage, must run at a strictly later run order (CodePipeline runs actions of equal
run order at the same time, and rejects a stage whose action consumes an artifact not yet produced).
Actions of one stage stay in that stage: the stage still succeeds only when every action succeeded,
so a failing action still stops the pipeline before any later stage starts.
https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-pipeline-structure.html (``runOrder``:
"actions with the same integer value run in parallel"; 1-999).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import pipelines

from pipeline_constructs.core.validation import invalid, require_action_name, require_int

__all__ = [
    "MAX_RUN_ORDER",
    "RunOrderOverride",
    "add_run_order",
    "apply_run_orders",
    "planned_run_orders",
]

#: CodePipeline's largest run order (``runOrder``: 1-999).
MAX_RUN_ORDER = 999

_VARIABLE = re.compile(r"#\{([A-Za-z0-9@_-]+)\.[^}]+\}")


@dataclass(frozen=True)
class RunOrderOverride:
    """Move the action ``action_name`` of the stage ``stage_name`` to ``run_order``, or to ``same_as``'s run order.

    :param stage_name: the stage, by name on the built pipeline (e.g. ``"Build"``).
    :param action_name: the action to move, by name (e.g. ``"JobTests"``).
    :param run_order: the run order to give it (1-999). Default: none (give ``same_as``).
    :param same_as: another action of the same stage whose run order it takes, so the two run in
        parallel (e.g. ``"Synth"``). Default: none (give ``run_order``).
    :raises ValueError: for a bad name, a run order outside 1-999, an action moved to its own run
        order, or both or neither of ``run_order`` and ``same_as``.
    """

    stage_name: str
    action_name: str
    run_order: int | None = None
    same_as: str | None = None

    def __post_init__(self) -> None:
        where = "RunOrderOverride"
        require_action_name(where, "stage_name", self.stage_name)
        require_action_name(where, "action_name", self.action_name)
        if (self.run_order is None) == (self.same_as is None):
            raise invalid(
                where,
                "run_order",
                self.run_order,
                "give exactly one of run_order (1-999) and same_as (another action of the stage)",
            )
        if self.run_order is not None:
            require_int(where, "run_order", self.run_order, minimum=1, maximum=MAX_RUN_ORDER)
        if self.same_as is not None:
            require_action_name(where, "same_as", self.same_as)
            if self.same_as == self.action_name:
                raise invalid(where, "same_as", self.same_as, f"expected an action other than {self.action_name!r}")


def planned_run_orders(
    stage: Mapping[str, Any], overrides: Sequence[RunOrderOverride], *, where: str = "pipeline"
) -> dict[str, int]:
    """The run order of every action of one rendered stage once ``overrides`` are applied and renumbered.

    ``stage`` is a stage declaration as CloudFormation's ``StageDeclaration`` (keys ``name``,
    ``actions``; each action ``name``, ``runOrder``, ``inputArtifacts``, ``outputArtifacts``,
    ``namespace``, ``configuration``). Overrides apply in order; ``same_as`` reads the run order the
    named action has at that point.

    :raises ValueError: when an action named by an override is not in the stage, or when an action
        would read an artifact or a variable of an action of the stage that does not run before it.
    """
    name = str(stage.get("name"))
    actions = list(stage.get("actions") or [])
    orders: dict[str, int] = {str(a.get("name")): int(a.get("runOrder") or 1) for a in actions}
    for override in overrides:
        for prop, action in (("action_name", override.action_name), ("same_as", override.same_as)):
            if action is not None and action not in orders:
                raise invalid(
                    where,
                    f"RunOrderOverride.{prop}",
                    action,
                    f"expected an action of stage {name!r} (actions: {', '.join(orders)})",
                )
        if override.same_as is not None:
            orders[override.action_name] = orders[override.same_as]
        else:
            assert override.run_order is not None
            orders[override.action_name] = override.run_order
    dense = {order: i for i, order in enumerate(sorted(set(orders.values())), start=1)}
    planned = {action: dense[order] for action, order in orders.items()}
    _check_flow(where, name, actions, planned)
    return planned


def _check_flow(where: str, stage: str, actions: Sequence[Mapping[str, Any]], orders: Mapping[str, int]) -> None:
    """Every artifact and variable an action reads from its own stage is written at a strictly earlier run order."""
    writers: dict[str, str] = {}
    namespaces: dict[str, str] = {}
    for action in actions:
        for artifact in action.get("outputArtifacts") or []:
            writers[str(artifact.get("name"))] = str(action.get("name"))
        if action.get("namespace"):
            namespaces[str(action["namespace"])] = str(action.get("name"))
    for action in actions:
        reader = str(action.get("name"))
        needs = [
            (f"artifact {a.get('name')!r}", writers.get(str(a.get("name")))) for a in action.get("inputArtifacts") or []
        ]
        text = repr(action.get("configuration") or {})
        needs += [(f"variables of namespace {ns!r}", namespaces.get(ns)) for ns in _VARIABLE.findall(text)]
        for what, writer in needs:
            if writer is not None and writer != reader and orders[writer] >= orders[reader]:
                raise invalid(
                    where,
                    "RunOrderOverride",
                    f"{stage}/{reader}",
                    f"action {reader!r} reads {what} of {writer!r}, which would run at run order {orders[writer]} "
                    f"(not before {reader!r} at {orders[reader]}): these two cannot run in parallel",
                )


def apply_run_orders(pipeline: pipelines.CodePipeline, overrides: Sequence[RunOrderOverride]) -> None:
    """Apply ``overrides`` to the built pipeline: one ``Stages.<i>.Actions.<j>.RunOrder`` override per moved action.

    :raises ValueError: when a stage or action is missing, or a move would break the stage's data flow
        (:func:`planned_run_orders`).
    """
    if not overrides:
        return
    where = pipeline.node.path
    code_pipeline: codepipeline.Pipeline = pipeline.pipeline
    cfn = code_pipeline.node.default_child
    assert isinstance(cfn, codepipeline.CfnPipeline)
    rendered = cdk.Stack.of(code_pipeline).resolve(cfn.stages)
    names = [str(s.get("name")) for s in rendered]
    by_stage: dict[str, list[RunOrderOverride]] = {}
    for override in overrides:
        if override.stage_name not in names:
            raise invalid(
                where,
                "RunOrderOverride.stage_name",
                override.stage_name,
                f"expected a stage of the built pipeline (stages: {', '.join(names)})",
            )
        by_stage.setdefault(override.stage_name, []).append(override)
    for stage_name, wanted in by_stage.items():
        index = names.index(stage_name)
        stage = rendered[index]
        planned = planned_run_orders(stage, wanted, where=where)
        for j, action in enumerate(stage.get("actions") or []):
            order = planned[str(action.get("name"))]
            if order != int(action.get("runOrder") or 1):
                cfn.add_property_override(f"Stages.{index}.Actions.{j}.RunOrder", order)


def add_run_order(pipeline: pipelines.CodePipeline, override: RunOrderOverride) -> None:
    """Register ``override``; all of a pipeline's overrides are applied together, right after it is built."""
    from pipeline_constructs.core.compliance.hardening import collect_after_build

    if not isinstance(override, RunOrderOverride):
        raise TypeError(f"{pipeline.node.path}: expected a RunOrderOverride, got {type(override).__name__}")
    collect_after_build(pipeline, "run-orders", override, apply_run_orders)
