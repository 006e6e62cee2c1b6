"""A fixed-seconds model of how long a pipeline run takes (``pipeline-constructs show --estimate``).

The model is deliberately simple and the same for every pipeline, ours or hand-written, so two
pipelines can be compared by their shape alone (it is not a prediction of wall-clock time):

* each action costs a fixed number of seconds, by kind (:data:`SECONDS`): CodeBuild 90, CodeBuild on
  Lambda compute 20, CloudFormation change-set create 20, change-set execute 60, direct deploy 70,
  Lambda invoke 15, S3 deploy 10, any source 15, manual approval 0; any other provider
  :data:`DEFAULT_SECONDS` (60, shown as an assumption);
* actions with the same run order run in parallel: a run order costs its slowest action; run
  orders, and stages, run one after another;
* a stage whose ``BeforeEntry`` condition can skip it (result ``SKIP``, every rule a
  ``LambdaInvoke`` or ``VariableCheck``: rules that look at the change, not at the clock or an
  alarm) counts 0 in the *typical run* (an application-only change) and fully in the *worst case*;
* *first deployment done*: the time, in the typical run, at which the run order holding the
  pipeline's first CloudFormation execute or direct deploy action completes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline_constructs.cli.model import Action, Pipeline, Stage

__all__ = [
    "DEFAULT_SECONDS",
    "SECONDS",
    "SKIP_RULE_PROVIDERS",
    "ActionCost",
    "Estimate",
    "StageEstimate",
    "action_cost",
    "estimate",
    "is_skippable",
]

#: Seconds per kind of action.
SECONDS: dict[str, int] = {
    "CodeBuild": 90,
    "CodeBuild on Lambda compute": 20,
    "change-set create": 20,
    "change-set execute": 60,
    "CloudFormation deploy": 70,
    "Lambda invoke": 15,
    "S3 deploy": 10,
    "source": 15,
    "manual approval": 0,
}
#: Seconds of an action of any other provider (an assumption; listed in the estimate).
DEFAULT_SECONDS = 60
#: ``BeforeEntry`` rule providers that decide from the change itself, so a ``SKIP`` happens on a typical run.
SKIP_RULE_PROVIDERS = frozenset({"LambdaInvoke", "VariableCheck"})
#: CloudFormation action modes that change a stack (the first one done is the first deployment).
_DEPLOYING_MODES = frozenset({"CHANGE_SET_EXECUTE", "CREATE_UPDATE", "REPLACE_ON_FAILURE"})
_DIRECT_MODES = frozenset({"CREATE_UPDATE", "REPLACE_ON_FAILURE", "DELETE_ONLY"})


@dataclass(frozen=True)
class ActionCost:
    """What the model charges for one action, and as which kind."""

    action: str
    kind: str
    seconds: int
    #: ``True`` when the kind is not in :data:`SECONDS` and :data:`DEFAULT_SECONDS` was used.
    assumed: bool = False


def _is_lambda_compute(action: Action) -> bool:
    env = (action.environment_type or "").upper()
    return env.endswith("_LAMBDA_CONTAINER") or (action.compute_type or "").upper().startswith("BUILD_LAMBDA_")


def action_cost(action: Action) -> ActionCost:
    """The model's seconds for ``action`` (:data:`SECONDS`, else :data:`DEFAULT_SECONDS`, marked assumed)."""
    kind: str | None = None
    if action.category == "Source":
        kind = "source"
    elif action.provider == "Manual":
        kind = "manual approval"
    elif action.is_codebuild:
        kind = "CodeBuild on Lambda compute" if _is_lambda_compute(action) else "CodeBuild"
    elif action.provider == "CloudFormation":
        mode = action.configuration.get("ActionMode", "")
        if mode == "CHANGE_SET_REPLACE":
            kind = "change-set create"
        elif mode == "CHANGE_SET_EXECUTE":
            kind = "change-set execute"
        elif mode in _DIRECT_MODES:
            kind = "CloudFormation deploy"
    elif action.provider == "Lambda" and action.category == "Invoke":
        kind = "Lambda invoke"
    elif action.provider == "S3" and action.category == "Deploy":
        kind = "S3 deploy"
    if kind is None:
        return ActionCost(action.qualified_name, action.kind, DEFAULT_SECONDS, assumed=True)
    return ActionCost(action.qualified_name, kind, SECONDS[kind])


def is_skippable(stage: Stage) -> bool:
    """A ``BeforeEntry`` condition with result ``SKIP`` whose rules are all ``LambdaInvoke``/``VariableCheck``."""
    return any(
        c.result.upper() == "SKIP" and c.rules and all(r.provider in SKIP_RULE_PROVIDERS for r in c.rules)
        for c in stage.conditions.before_entry
    )


def _deploys(action: Action) -> bool:
    return action.provider == "CloudFormation" and action.configuration.get("ActionMode", "") in _DEPLOYING_MODES


@dataclass(frozen=True)
class StageEstimate:
    """One stage: seconds per run order (the slowest action of each), in the worst case and a typical run."""

    name: str
    #: ``(run order, seconds)`` in run order.
    steps: tuple[tuple[int, int], ...]
    skippable: bool
    costs: tuple[ActionCost, ...]

    @property
    def worst_case(self) -> int:
        return sum(s for _, s in self.steps)

    @property
    def typical(self) -> int:
        return 0 if self.skippable else self.worst_case

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "worst_case_s": self.worst_case,
            "typical_s": self.typical,
            "skippable": self.skippable,
            "run_orders": [{"run_order": o, "seconds": s} for o, s in self.steps],
        }


@dataclass(frozen=True)
class Estimate:
    """The model's numbers for one pipeline."""

    pipeline: str
    stages: tuple[StageEstimate, ...]
    #: Typical run: when the first CloudFormation execute/deploy action's run order completes (``None``: none).
    first_deployment: int | None
    #: The same in the worst case (every stage runs).
    first_deployment_worst_case: int | None

    @property
    def worst_case(self) -> int:
        return sum(s.worst_case for s in self.stages)

    @property
    def typical(self) -> int:
        return sum(s.typical for s in self.stages)

    @property
    def assumed(self) -> tuple[ActionCost, ...]:
        """Actions of a provider the model does not know, charged :data:`DEFAULT_SECONDS`."""
        return tuple(c for s in self.stages for c in s.costs if c.assumed)

    @property
    def summary(self) -> str:
        """``worst case 535 s, typical run 535 s, first deployment done at 365 s``."""
        first = f"{self.first_deployment} s" if self.first_deployment is not None else "never (no deployment)"
        return f"worst case {self.worst_case} s, typical run {self.typical} s, first deployment done at {first}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": "fixed",
            "worst_case_s": self.worst_case,
            "typical_s": self.typical,
            "first_deployment_s": self.first_deployment,
            "first_deployment_worst_case_s": self.first_deployment_worst_case,
            "stages": [s.to_dict() for s in self.stages],
            "assumed": [
                {"action": c.action, "kind": c.kind, "seconds": c.seconds, "reason": "provider not in the model"}
                for c in self.assumed
            ],
        }


def estimate(pipeline: Pipeline) -> Estimate:
    """The fixed model's worst case, typical run and first deployment of ``pipeline`` (see the module docs)."""
    stages: list[StageEstimate] = []
    first: dict[bool, int | None] = {True: None, False: None}  # typical? -> seconds
    elapsed = {True: 0, False: 0}
    for stage in pipeline.stages:
        skippable = is_skippable(stage)
        costs = tuple(action_cost(a) for a in stage.actions)
        steps: list[tuple[int, int]] = []
        for step in stage.steps:
            seconds = max((action_cost(a).seconds for a in step.actions), default=0)
            steps.append((step.run_order, seconds))
            deploys = any(_deploys(a) for a in step.actions)
            for typical in (True, False):
                if typical and skippable:
                    continue
                elapsed[typical] += seconds
                if deploys and first[typical] is None:
                    first[typical] = elapsed[typical]
        stages.append(StageEstimate(stage.name, tuple(steps), skippable, costs))
    return Estimate(pipeline.name, tuple(stages), first[True], first[False])


def estimate_lines(pipeline: Pipeline) -> list[str]:
    """The ``Estimate`` section of ``show`` (text): the three numbers, a table of stages, assumptions."""
    from pipeline_constructs.cli.render import text_table

    e = estimate(pipeline)
    out = [f"  Estimate (fixed model): {e.summary}"]
    notes = any(s.skippable for s in e.stages)
    headers = ("Stage", "run orders (s)", "worst s", "typical s", *(("note",) if notes else ()))
    rows = [
        [
            s.name,
            " + ".join(str(sec) for _, sec in s.steps) or "0",
            str(s.worst_case),
            str(s.typical),
            *((("skipped in a typical run (BeforeEntry SKIP)" if s.skippable else ""),) if notes else ()),
        ]
        for s in e.stages
    ]
    out.append(text_table(headers, rows, indent="    "))
    for c in e.assumed:
        out.append(f"    assumed {c.seconds} s for {c.action} ({c.kind}: provider not in the model)")
    return [*out, ""]


def estimates(pipelines: Sequence[Pipeline]) -> list[Estimate]:
    """:func:`estimate` of each pipeline."""
    return [estimate(p) for p in pipelines]
