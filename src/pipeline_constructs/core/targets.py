"""Deployment targets: where a pipeline deploys, behind which gates, under which conditions; and deploying them.

The layout rules (waves, stage names) are in :mod:`pipeline_constructs.core.waves`, re-exported here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core import limits
from pipeline_constructs.core.conditions import (
    AlarmBake,
    DeploymentWindow,
    HealthGate,
    OnFailure,
    ResilienceAssessment,
)
from pipeline_constructs.core.private.defaults import resolve_default
from pipeline_constructs.core.stage_conditions import StageConditions, add_stage_conditions
from pipeline_constructs.core.validation import (
    invalid,
    require_account,
    require_approval_comment,
    require_bool,
    require_callable,
    require_emails,
    require_instance,
    require_region,
    require_sequence,
    require_str,
    require_unique,
    wrong_type,
)
from pipeline_constructs.core.waves import (
    DEPLOYMENT_MODEL_FIELDS,
    HEALTH_STAGE_SUFFIX,
    PERMISSIONS_STAGE_SUFFIX,
    RESERVED_STAGE_NAMES,
    DeploymentGroup,
    check_deployment_layout,
    deployment_groups,
    reject_deployment_model,
)

if TYPE_CHECKING:
    from pipeline_constructs.core.pipeline import SecurePipeline
    from pipeline_constructs.stages.security_gated import SecurityGatedStage

__all__ = [
    "DEPLOYMENT_MODEL_FIELDS",
    "HEALTH_STAGE_SUFFIX",
    "PERMISSIONS_STAGE_SUFFIX",
    "RESERVED_STAGE_NAMES",
    "TARGET_NAME_PATTERN",
    "DeploymentGroup",
    "DeploymentTarget",
    "StageFactory",
    "TargetDeployments",
    "check_deployment_layout",
    "deploy_targets",
    "deployment_groups",
    "reject_deployment_model",
    "require_stage_factory",
    "require_targets_in",
    "validate_targets",
]

#: A target name: a letter, then letters, digits or ``-`` (at most 64 characters).
TARGET_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}")


@dataclass(frozen=True)
class DeploymentTarget:
    """One environment a pipeline deploys to.

    :param name: stage name, also the CDK ``Stage`` id: a letter, then letters,
        digits or ``-`` (at most 64 characters). Unique within a pipeline.
    :param account: 12-digit AWS account id the stage deploys to.
    :param region: AWS region the stage deploys to.
    :param manual_approval: add a ``ManualApprovalStep`` before the deployment.
        Default: ``False``.
    :param security_gated: put the stage behind a ``ConfirmPermissionsBroadening``
        check that notifies :attr:`notification_emails`. Default: ``False``.
    :param notification_emails: who is e-mailed when the security check finds
        broadened permissions; only with ``security_gated`` (nothing else
        notifies). Default: none (the topic is still created, so a team can
        subscribe later).
    :param approval_comment: text shown on the manual approval (at most 1000
        characters); only with ``manual_approval``. Default: a sentence naming
        the target.
    :param wave: the wave the target deploys in: consecutive targets with the same wave name
        deploy in parallel, in one pipeline stage named after the wave; waves (and targets
        without one) deploy one after the other. Same pattern as ``name``; must not be a target
        name. A wave of one target is that target's stage, named ``name`` (CDK Pipelines names a
        wave of one stage after the stage). Default: none (the target's own stage, named ``name``).
    :param deployment_window: when the target's stage may start (a ``DeploymentWindow``
        before-entry rule). Every target of a wave must give the same window (or none).
        Default: any time.
    :param bake: alarms watched after the deployment, rolling the stage back when one fires (an
        ``OnSuccess`` ``CloudWatchAlarm`` condition). In a wave, the alarms of all its targets are
        watched together. Default: no bake time.
    :param on_failure: roll back or retry the stage when it fails (an ``OnFailure`` condition).
        Every target of a wave must give the same (or none). Default: the stage just fails.
    :param health_gate: check AWS Health for open issues in the target's region before the stage
        (a ``<stage>-Health`` stage of its own just before it). Default: no check.
    :param resilience_assessment: run an AWS Resilience Hub assessment after the deployment (a
        step after the stage's stacks). Default: none.
    """

    name: str
    account: str
    region: str
    manual_approval: bool = False
    security_gated: bool = False
    notification_emails: tuple[str, ...] = field(default_factory=tuple)
    approval_comment: str | None = None
    wave: str | None = None
    deployment_window: DeploymentWindow | None = None
    bake: AlarmBake | None = None
    on_failure: OnFailure | None = None
    health_gate: HealthGate | None = None
    resilience_assessment: ResilienceAssessment | None = None

    def __post_init__(self) -> None:
        require_str(
            "DeploymentTarget",
            "name",
            self.name,
            pattern=TARGET_NAME_PATTERN,
            allowed="expected a letter followed by letters, digits or '-' (at most 64 characters)",
        )
        where = f"DeploymentTarget({self.name!r})"
        require_account(where, "account", self.account)
        require_region(where, "region", self.region)
        require_bool(where, "manual_approval", self.manual_approval)
        require_bool(where, "security_gated", self.security_gated)
        emails = require_emails(
            where, "notification_emails", self.notification_emails, allowed="expected a tuple of addresses"
        )
        object.__setattr__(self, "notification_emails", emails)
        if emails and not self.security_gated:
            raise invalid(
                where,
                "notification_emails",
                emails,
                "only a security_gated target has a permissions check that notifies; set security_gated=True "
                "or drop the addresses",
            )
        require_approval_comment(where, "approval_comment", self.approval_comment)
        if self.approval_comment is not None and not self.manual_approval:
            raise invalid(
                where,
                "approval_comment",
                self.approval_comment,
                "only a target with manual_approval=True has an approval to show it on",
            )
        if self.wave is not None:
            require_str(
                where,
                "wave",
                self.wave,
                pattern=TARGET_NAME_PATTERN,
                allowed="expected a letter followed by letters, digits or '-' (at most 64 characters)",
            )
            if self.wave.lower() == self.name.lower():
                raise invalid(
                    where,
                    "wave",
                    self.wave,
                    "expected a name other than the target's: the wave and the target's stage are both named",
                )
        for prop, kind in (
            ("deployment_window", DeploymentWindow),
            ("bake", AlarmBake),
            ("on_failure", OnFailure),
            ("health_gate", HealthGate),
            ("resilience_assessment", ResilienceAssessment),
        ):
            value = getattr(self, prop)
            if value is not None:
                require_instance(
                    where, prop, value, kind, f"expected {'an' if kind.__name__[0] in 'AEIOU' else 'a'} {kind.__name__}"
                )

    @property
    def env(self) -> cdk.Environment:
        """The CDK environment of this target."""
        return cdk.Environment(account=self.account, region=self.region)

    @property
    def gated(self) -> bool:
        """Whether any gate (security check or manual approval) precedes the deployment."""
        return self.security_gated or self.manual_approval


def validate_targets(
    where: str, targets: Any, *, prop: str = "targets", layout: bool = True
) -> tuple[DeploymentTarget, ...]:
    """Check a pipeline's target list: at least one, all ``DeploymentTarget``, unique names, and (with
    ``layout``) the waves and conditions of :func:`check_deployment_layout`."""

    def target(w: str, p: str, value: Any) -> DeploymentTarget:
        return require_instance(w, p, value, DeploymentTarget, "expected a DeploymentTarget")

    if isinstance(targets, Sequence) and not isinstance(targets, str) and len(targets) == 0:
        raise invalid(where, prop, [], "expected at least one DeploymentTarget")
    checked = require_sequence(
        where, prop, targets, item=target, allowed="expected a list of DeploymentTarget", min_length=1
    )
    require_unique(where, f"{prop}[].name", (t.name for t in checked))
    if layout:
        check_deployment_layout(where, checked, prop=prop)
    return checked


#: ``(scope, id, target) -> cdk.Stage``: builds what one target deploys.
StageFactory = Callable[[Construct, str, DeploymentTarget], cdk.Stage]


@dataclass
class TargetDeployments:
    """What :func:`deploy_targets` added, by target name, in deployment order."""

    #: The ``cdk.Stage`` of each target.
    stages: dict[str, cdk.Stage] = field(default_factory=dict)
    #: The CDK Pipelines stage deployment of each target.
    deployments: dict[str, pipelines.StageDeployment] = field(default_factory=dict)
    #: The security gate of each ``security_gated`` target.
    gates: dict[str, SecurityGatedStage] = field(default_factory=dict)
    #: The CDK Pipelines wave of each wave, by wave name.
    waves: dict[str, pipelines.Wave] = field(default_factory=dict)
    #: The AWS Health check step of each ``health_gate`` target, by target name.
    health_checks: dict[str, pipelines.Step] = field(default_factory=dict)
    #: The Resilience Hub assessment step of each ``resilience_assessment`` target, by target name.
    assessments: dict[str, pipelines.Step] = field(default_factory=dict)


def require_targets_in(
    where: str,
    targets: Sequence[DeploymentTarget],
    *,
    why: str,
    account: str | None = None,
    region: str | None = None,
    prop: str = "targets",
) -> None:
    """Require every target in the pipeline's ``account`` and/or ``region`` (``None``: any).

    :param why: what the construct cannot do elsewhere, appended to the error.
    :raises ValueError: naming ``<prop>[i].account`` or ``<prop>[i].region`` and the expected value.
    """
    for i, target in enumerate(targets):
        for field_name, expected, actual in (("account", account, target.account), ("region", region, target.region)):
            if expected is not None and actual != expected:
                raise invalid(
                    where,
                    f"{prop}[{i}].{field_name}",
                    actual,
                    f"expected the pipeline's {field_name} {expected!r}: {why}",
                )


def require_stage_factory(where: str, prop: str, value: Any) -> StageFactory | None:
    """Accept ``None`` or a ``(scope, id, target) -> cdk.Stage`` callable."""
    if value is not None:
        require_callable(where, prop, value, "expected a (scope, id, target) -> cdk.Stage callable")
    return value  # type: ignore[no-any-return]


def deploy_targets(
    owner: Construct,
    pipeline: pipelines.CodePipeline,
    targets: Sequence[DeploymentTarget],
    factory: StageFactory,
    *,
    prop: str = "stage_factory",
    secure: SecurePipeline | None = None,
    pre: Callable[[DeploymentTarget], Sequence[pipelines.Step]] | None = None,
    post: Callable[[DeploymentTarget], Sequence[pipelines.Step]] | None = None,
) -> TargetDeployments:
    """Deploy every target, in order, in its own stage or its wave's, behind the gates it asks for.

    The stage of each target is ``factory(owner, target.name, target)`` (under ``owner``: two
    pipelines of one app each have their own ``Dev``); it deploys through
    :func:`~pipeline_constructs.stages.security_gated.add_target_stage` (``<name>Gate`` for a
    ``security_gated`` target, ``PromoteTo<name>`` for a ``manual_approval`` one). ``pre``/``post``
    give extra steps per target. Around that (:func:`deployment_groups`):

    * consecutive targets of one ``wave`` deploy side by side in one CDK Pipelines ``Wave`` (a
      CodePipeline stage named after the wave), waves and single targets one after the other;
    * ``security_gated`` (with ``secure``): the permissions check runs early, in the ``Assets`` stage, and
      its confirmation sits in a ``<target>-Permissions`` stage before the stage (and its Health stage),
      skipped when nothing broadens (:mod:`pipeline_constructs.core.permission_checks`); without
      ``secure``, or with the team default ``pipeline-constructs:earlyPermissionChecks`` ``false``, CDK's
      ``ConfirmPermissionsBroadening`` in the target's stage;
    * ``health_gate``: a ``<stage>-Health`` stage right before the stage, one AWS Health check
      (``HealthCheck-<target>``, checking the target's region) per gated target; a gated target with only
      ``manual_approval`` has its ``PromoteTo<target>`` there, before the checks, so the check runs right
      before the deployment;
    * ``resilience_assessment``: a ``Resilience-<target>`` step after the target's stacks and ``post`` steps;
    * ``deployment_window`` (on the stage and its Health stage), ``bake`` and ``on_failure``: stage
      conditions added to the built pipeline (:mod:`pipeline_constructs.core.stage_conditions`).

    CodePipeline's limits are estimated here and recounted on the built pipeline (:mod:`.limits`).

    ``secure`` is the hardened pipeline ``pipeline`` belongs to: the health-check and assessment
    functions of ``health_gate``/``resilience_assessment`` targets live there (required for them).

    :raises TypeError: naming ``prop`` when the factory returns something other than a ``cdk.Stage``.
    :raises ValueError: naming ``targets[i].<field>`` for a layout CodePipeline cannot run (see
        :func:`check_deployment_layout`), a health gate or assessment without ``secure``, or a layout beyond
        CodePipeline's stage and action limits.
    """
    from pipeline_constructs.stages.security_gated import add_target_stage

    where = owner.node.path
    groups = check_deployment_layout(where, targets)
    for i, target in enumerate(targets):
        for field_name in ("health_gate", "resilience_assessment"):
            if getattr(target, field_name) is not None and secure is None:
                raise invalid(
                    where,
                    f"targets[{i}].{field_name}",
                    getattr(target, field_name),
                    f"target {target.name!r} needs the hardened pipeline its step function lives in: deploy through a "
                    "pipeline construct, or call deploy_targets(..., secure=<SecurePipeline>)",
                )
    fixed = 2 + int(pipeline.self_mutation_enabled) + len(pipeline.waves)  # Source, Build, UpdatePipeline, earlier
    health = sum(g.health_stage is not None for g in groups)
    # The early permissions check needs the hardened pipeline's CLI, logs and key; a team can turn it off.
    early = secure is not None and resolve_default(owner, "earlyPermissionChecks", None, True)
    permissions = sum(len(g.permission_stages) for g in groups) if early else 0
    limits.check_stage_count(
        where,
        "targets",
        fixed + len(groups) + health + permissions,
        targets=len(targets),
        fixed=fixed,
        health=health,
        permissions=permissions,
    )
    limits.recount_after_build(pipeline)

    added = TargetDeployments()
    for group in groups:
        stages: dict[str, cdk.Stage] = {}
        for target in group.targets:
            stage = factory(owner, target.name, target)
            if not isinstance(stage, cdk.Stage):
                raise wrong_type(where, prop, stage, "expected the factory to return an aws_cdk.Stage")
            stages[target.name] = stage
        # The confirmation stages of early permissions checks come first, then the Health stage, then the stage.
        confirm_waves = {
            t.name: pipeline.add_wave(t.name + PERMISSIONS_STAGE_SUFFIX)
            for t in group.targets
            if early and t.security_gated
        }
        moved = _add_health_stage(where, pipeline, group, stages, secure, added) if group.health_stage else set()
        wave = pipeline.add_wave(group.wave) if group.wave is not None else None
        if wave is not None and group.wave is not None:
            added.waves[group.wave] = wave
        deployments: list[pipelines.StageDeployment] = []
        for target in group.targets:
            stage = stages[target.name]
            post_steps = list(post(target)) if post is not None else []
            if target.resilience_assessment is not None:
                assert secure is not None
                step = _resilience_step(secure, target, stage)
                added.assessments[target.name] = step
                post_steps.append(step)
            deployed = (
                dataclasses.replace(target, manual_approval=False, approval_comment=None)
                if target.name in moved
                else target
            )
            deployment, gate = add_target_stage(
                owner,
                wave if wave is not None else pipeline,
                deployed,
                stage,
                pre=pre(target) if pre is not None else (),
                post=post_steps,
                early_check=target.name in confirm_waves,
                confirm_wave=confirm_waves.get(target.name),
            )
            added.stages[target.name] = stage
            added.deployments[target.name] = deployment
            deployments.append(deployment)
            if gate is not None:
                added.gates[target.name] = gate
        first = group.indices[0]
        limits.check_stage_actions(
            where,
            f"targets[{first}].wave" if group.wave is not None else f"targets[{first}]",
            group.wave if group.wave is not None else group.name,
            stage=group.name,
            count=limits.estimated_actions(deployments),
            wave=group.wave is not None,
        )
        add_stage_conditions(
            pipeline,
            StageConditions(
                stage_name=group.name,
                deployment_window=group.deployment_window,
                on_failure=group.on_failure,
                alarms=group.alarms,
            ),
        )
        if group.health_stage is not None:
            add_stage_conditions(
                pipeline, StageConditions(stage_name=group.health_stage, deployment_window=group.deployment_window)
            )
    return added


def _add_health_stage(
    where: str,
    pipeline: pipelines.CodePipeline,
    group: DeploymentGroup,
    stages: dict[str, cdk.Stage],
    secure: SecurePipeline | None,
    added: TargetDeployments,
) -> set[str]:
    """Add the group's ``<stage>-Health`` stage; return the targets whose approval moved there."""
    from pipeline_constructs.steps import health_gate as health_steps

    assert secure is not None
    assert group.health_stage is not None
    approvals: list[pipelines.Step] = []
    checks: list[pipelines.Step] = []
    moved: set[str] = set()
    for target in group.targets:
        gate = target.health_gate
        if gate is None:
            continue
        if target.manual_approval and not target.security_gated:
            approvals.append(pipelines.ManualApprovalStep(f"PromoteTo{target.name}", comment=target.approval_comment))
            moved.add(target.name)
        services = gate.services if gate.services is not None else health_steps.health_services(stages[target.name])
        check = health_steps.health_check_step(
            secure,
            f"HealthCheck-{target.name}",
            region=target.region,
            services=services,
            include_global=gate.include_global,
        )
        added.health_checks[target.name] = check
        checks.append(check)
    for check in checks:
        for approval in approvals:
            check.add_step_dependency(approval)  # a wave without stages would run its post steps side by side
    limits.check_stage_actions(
        where,
        f"targets[{group.indices[0]}].health_gate",
        group.health_stage,
        stage=group.health_stage,
        count=len(approvals) + len(checks),
        wave=group.wave is not None,
    )
    pipeline.add_wave(group.health_stage, post=[*approvals, *checks])
    return moved


def _resilience_step(secure: SecurePipeline, target: DeploymentTarget, stage: cdk.Stage) -> pipelines.Step:
    from pipeline_constructs.steps import resilience_assessment as resilience_steps

    assert target.resilience_assessment is not None
    return resilience_steps.resilience_assessment_step(
        secure, f"Resilience-{target.name}", target=target, stage=stage, assessment=target.resilience_assessment
    )
