"""CodePipeline's structural limits: checked where a layout is known, recounted on the built pipeline.

Fixed CodePipeline quotas (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html,
"Number of stages in a pipeline" and "Number of actions in a stage": at most 50 each; they cannot be
raised) and the ``Condition`` structure (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_Condition.html:
``rules`` holds 1 to 5 items).

:func:`~pipeline_constructs.core.targets.deploy_targets` estimates the layout at construct time
(:func:`check_stage_count`, :func:`check_stage_actions`): too many targets fail with an error naming
``targets`` before anything is built. The estimate cannot know everything CDK Pipelines adds at synth
(the ``Assets`` stage, steps a team adds later), so :func:`recount_after_build` counts the built pipeline
again and fails the synth naming the stage. CDK Pipelines itself cuts a stage of more than 50 actions into
``<stage>.1``, ``<stage>.2``: the recount sees those as stages; a deploy stage never gets there, since its
conditions are found by its name and the estimate refuses it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import pipelines

from pipeline_constructs.core.validation import invalid

__all__ = [
    "MAX_ACTIONS_PER_STAGE",
    "MAX_RULES_PER_CONDITION",
    "MAX_STAGES",
    "check_stage_actions",
    "check_stage_count",
    "estimated_actions",
    "limit_problems",
    "recount_after_build",
]

#: Stages per pipeline (fixed quota).
MAX_STAGES = 50
#: Actions per stage (fixed quota).
MAX_ACTIONS_PER_STAGE = 50
#: Rules per stage condition (``Condition.rules``: 1-5 items).
MAX_RULES_PER_CONDITION = 5

_SPLIT = "split the targets across two pipelines"


def check_stage_count(
    where: str, prop: str, count: int, *, targets: int, fixed: int, health: int, permissions: int = 0
) -> None:
    """Raise when a layout needs more than :data:`MAX_STAGES` stages.

    :param count: the stages the layout needs: ``fixed`` + one per target or wave + ``health`` + ``permissions``.
    :param targets: how many targets the layout deploys (shown in the message).
    :param fixed: the pipeline's own stages counted (Source, Build, UpdatePipeline, earlier waves).
    :param health: the ``<stage>-Health`` stages of health-gated stages.
    :param permissions: the ``<target>-Permissions`` confirmation stages of early permissions checks.
    """
    if count <= MAX_STAGES:
        return
    confirmations = f", {permissions} permissions-confirmation stages" if permissions else ""
    raise invalid(
        where,
        prop,
        f"<{targets} targets, {count} stages>",
        f"CodePipeline allows at most {MAX_STAGES} stages per pipeline, and this layout needs {count} "
        f"({fixed} of the pipeline itself, one per target or wave, {health} health-gate stages{confirmations}): "
        "deploy targets side by side in waves (DeploymentTarget(wave='Prod')), or " + _SPLIT,
    )


def _step_actions(step: pipelines.Step) -> int:
    # ConfirmPermissionsBroadening renders two actions (the CodeBuild check and its manual confirmation).
    return 2 if isinstance(step, pipelines.ConfirmPermissionsBroadening) else 1


def estimated_actions(
    deployments: Sequence[pipelines.StageDeployment], extra_steps: Sequence[pipelines.Step] = ()
) -> int:
    """The actions of a stage that holds ``deployments`` (and ``extra_steps``): two per stack (change set
    create and execute), one per step (two for a permissions check), the stacks' own steps included."""
    total = sum(_step_actions(s) for s in extra_steps)
    for deployment in deployments:
        total += 2 * len(deployment.stacks)
        total += sum(_step_actions(s) for s in [*deployment.pre, *deployment.post])
        for stack_steps in deployment.stack_steps:
            for steps in (stack_steps.pre, stack_steps.change_set, stack_steps.post):
                total += sum(_step_actions(s) for s in steps or ())
    return total


def check_stage_actions(where: str, prop: str, value: Any, *, stage: str, count: int, wave: bool) -> None:
    """Raise when the stage ``stage`` would hold more than :data:`MAX_ACTIONS_PER_STAGE` actions."""
    if count <= MAX_ACTIONS_PER_STAGE:
        return
    fix = (
        "split the wave into two waves (give some of its targets another wave name)"
        if wave
        else "deploy fewer stacks in the target's stage (split its cdk.Stage into two targets)"
    )
    raise invalid(
        where,
        prop,
        value,
        f"stage {stage!r} would hold about {count} actions (two per stack, one per step) and CodePipeline allows "
        f"{MAX_ACTIONS_PER_STAGE} actions per stage: {fix}",
    )


def limit_problems(code_pipeline: codepipeline.Pipeline) -> list[str]:
    """What the built pipeline has beyond CodePipeline's stage and action limits (one sentence each)."""
    problems: list[str] = []
    stages = code_pipeline.stages
    if len(stages) > MAX_STAGES:
        problems.append(
            f"{len(stages)} stages (CodePipeline allows {MAX_STAGES}): group targets into waves, or " + _SPLIT
        )
    for stage in stages:
        actions = len(stage.actions)
        if actions > MAX_ACTIONS_PER_STAGE:
            problems.append(
                f"stage {stage.stage_name!r} has {actions} actions (CodePipeline allows {MAX_ACTIONS_PER_STAGE}): "
                "split its wave into two waves, or deploy fewer stacks or steps in it"
            )
    return problems


_RECOUNTED: dict[tuple[int, str], pipelines.CodePipeline] = {}


def recount_after_build(pipeline: pipelines.CodePipeline) -> None:
    """Recount stages and actions once the pipeline is built (registered once per pipeline).

    :raises ValueError: at synth, naming the pipeline and what exceeds a limit.
    """
    from pipeline_constructs.core.compliance.hardening import after_build

    key = (id(pipeline.node.root), pipeline.node.path)
    if key in _RECOUNTED:
        return
    _RECOUNTED[key] = pipeline  # kept: the id of a collected root could be reused

    def recount() -> None:
        problems = limit_problems(pipeline.pipeline)
        if problems:
            raise ValueError(
                f"{pipeline.node.path}: the built pipeline exceeds CodePipeline's limits: " + "; ".join(problems)
            )

    after_build(pipeline, recount)
