"""Deployment targets: where a pipeline deploys, and behind which gates."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.conditions import (
    AlarmBake,
    DeploymentWindow,
    HealthGate,
    OnFailure,
    ResilienceAssessment,
)
from pipeline_constructs.core.validation import (
    invalid,
    require_account,
    require_approval_comment,
    require_bool,
    require_callable,
    require_email,
    require_instance,
    require_region,
    require_sequence,
    require_str,
    require_unique,
    wrong_type,
)

if TYPE_CHECKING:
    from pipeline_constructs.core.pipeline import SecurePipeline
    from pipeline_constructs.stages.security_gated import SecurityGatedStage

__all__ = [
    "TARGET_NAME_PATTERN",
    "DeploymentTarget",
    "StageFactory",
    "TargetDeployments",
    "deploy_targets",
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
        name. Default: none (the target's own stage, named ``name``).
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
        emails = require_sequence(
            where,
            "notification_emails",
            self.notification_emails,
            item=require_email,
            allowed="expected a tuple of addresses",
        )
        object.__setattr__(self, "notification_emails", emails)
        require_unique(where, "notification_emails", emails)
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
        for prop, kind in (
            ("deployment_window", DeploymentWindow),
            ("bake", AlarmBake),
            ("on_failure", OnFailure),
            ("health_gate", HealthGate),
            ("resilience_assessment", ResilienceAssessment),
        ):
            value = getattr(self, prop)
            if value is not None:
                require_instance(where, prop, value, kind, f"expected a {kind.__name__}")

    @property
    def env(self) -> cdk.Environment:
        """The CDK environment of this target."""
        return cdk.Environment(account=self.account, region=self.region)

    @property
    def gated(self) -> bool:
        """Whether any gate (security check or manual approval) precedes the deployment."""
        return self.security_gated or self.manual_approval


def validate_targets(where: str, targets: Any, *, prop: str = "targets") -> tuple[DeploymentTarget, ...]:
    """Check a pipeline's target list: at least one, all ``DeploymentTarget``, unique names."""

    def target(w: str, p: str, value: Any) -> DeploymentTarget:
        return require_instance(w, p, value, DeploymentTarget, "expected a DeploymentTarget")

    if isinstance(targets, Sequence) and not isinstance(targets, str) and len(targets) == 0:
        raise invalid(where, prop, [], "expected at least one DeploymentTarget")
    checked = require_sequence(
        where, prop, targets, item=target, allowed="expected a list of DeploymentTarget", min_length=1
    )
    require_unique(where, f"{prop}[].name", (t.name for t in checked))
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
    """Deploy one stage per target, in order, each behind the gates its target asks for.

    The stage of each target is ``factory(owner, target.name, target)`` (under ``owner``:
    two pipelines of one app each have their own ``Dev``); it deploys through
    :func:`~pipeline_constructs.stages.security_gated.add_target_stage`
    (``<name>Gate`` for a ``security_gated`` target, ``PromoteTo<name>`` for a
    ``manual_approval`` one). ``pre``/``post`` give extra steps per target.

    ``secure`` is the hardened pipeline ``pipeline`` belongs to: the health-check and assessment
    functions of ``health_gate``/``resilience_assessment`` targets live there (required for them).

    :raises TypeError: naming ``prop`` when the factory returns something other than a ``cdk.Stage``.
    """
    from pipeline_constructs.stages.security_gated import add_target_stage

    added = TargetDeployments()
    for target in targets:
        stage = factory(owner, target.name, target)
        if not isinstance(stage, cdk.Stage):
            raise wrong_type(owner.node.path, prop, stage, "expected the factory to return an aws_cdk.Stage")
        deployment, gate = add_target_stage(
            owner,
            pipeline,
            target,
            stage,
            pre=pre(target) if pre is not None else (),
            post=post(target) if post is not None else (),
        )
        added.stages[target.name] = stage
        added.deployments[target.name] = deployment
        if gate is not None:
            added.gates[target.name] = gate
    return added
