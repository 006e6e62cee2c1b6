"""SecurityGatedStage: deploy a ``cdk.Stage`` only through a permissions check and an approval."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.compliance.hardening import harden_security_check
from pipeline_constructs.core.permission_checks import PermissionCheck
from pipeline_constructs.core.private.topics import allow_service_publish, encrypted_topic
from pipeline_constructs.core.targets import DeploymentTarget
from pipeline_constructs.core.validation import (
    invalid,
    require_action_name,
    require_approval_comment,
    require_bool,
    require_emails,
    require_instance,
    require_interface,
    require_sequence,
)
from pipeline_constructs.core.waves import PERMISSIONS_STAGE_SUFFIX

if TYPE_CHECKING:
    from pipeline_constructs.core.pipeline import SecurePipeline

__all__ = ["SecurityGatedStage", "add_target_stage", "require_steps"]


class SecurityGatedStage(Construct):
    """Add ``stage`` to a CDK Pipelines pipeline (or wave) behind security gates.

    In run order, before any stack of the stage deploys:

    1. the permissions check, ``cdk diff --security-only --fail``: when IAM or
       security groups broaden it notifies the topic and waits for a person to
       approve. By default (``early_check=False``) CDK's
       ``ConfirmPermissionsBroadening`` (``PermissionCheck.Check`` and
       ``PermissionCheck.Confirm``) in the stage itself. With ``early_check=True``
       (what :func:`~pipeline_constructs.core.targets.deploy_targets` uses) a
       :class:`~pipeline_constructs.core.permission_checks.PermissionCheck`: the
       check runs in the pipeline's ``Assets`` stage, next to asset publishing,
       and its ``PermissionCheck.Confirm`` approval sits alone in a stage
       ``<stage>-Permissions`` right before the stage's (or in ``confirm_wave``),
       skipped only when the check proved nothing broadens;
    2. an optional ``ManualApprovalStep`` (``PromoteTo<stage>`` by default);
    3. the ``pre`` steps, in the order given.

    ``post`` steps run after the stage, in the order given. The topic is
    KMS-encrypted and SSL-only; it is created (with e-mail subscriptions)
    unless ``notification_topic`` is given.

    The permission check's internals that CDK Pipelines generates are hardened
    on any pipeline (:func:`~pipeline_constructs.core.compliance.hardening.harden_security_check`):
    pinned CDK CLI, ``sts:AssumeRole`` on the checked stacks' deploy roles only,
    and an auto-approve function with its own log group and a dead-letter
    queue whose alarm notifies the topic (a topic you pass must let CloudWatch
    publish to it).

    Known limit: for a stage in another account the check can compare
    templates only when the synth role may assume the target's lookup role
    (aws-cdk issue 33061); otherwise ``cdk diff`` diffs against an empty
    template and every IAM change is reported as broadening (fails safe).

    :param pipeline: the ``pipelines.CodePipeline`` (or ``pipelines.Wave``) to add the stage to.
    :param stage: the application stage to deploy.
    :param notification_topic: topic notified of broadened permissions.
        Default: a new KMS-encrypted topic.
    :param notification_emails: addresses subscribed to the new topic.
        Default: none. Not allowed together with ``notification_topic``.
    :param topic_key: KMS key of the new topic. Default: a new rotating key.
    :param manual_approval: add a manual approval after the permissions check.
        Default: ``True``.
    :param approval_name: id (and action name) of the manual approval
        (``[A-Za-z0-9.@_-]``, at most 100 characters). Default: ``"PromoteTo" + stage.stage_name``.
    :param approval_comment: comment shown to the approver (at most 1000 characters).
        Default: names the stage.
    :param pre: extra steps to run before the stage, after the gates. Default: none.
    :param post: steps to run after the stage, in order. Default: none.
    :param early_check: run the check while earlier work runs and confirm in a stage of its own,
        skipped when nothing broadens (see above); needs a pipeline built by
        :class:`~pipeline_constructs.core.pipeline.SecurePipeline` (its pinned CLI, log group
        and artifact key). Default: ``False`` (CDK's ``ConfirmPermissionsBroadening``, any pipeline).
    :param confirm_wave: with ``early_check``: the empty wave (added to the same pipeline, before the
        stage's wave) that holds the confirmation; it must stay empty but for it. Default: a new wave
        ``<stage>-Permissions`` added to ``pipeline`` (a gate added to a ``pipelines.Wave`` must be given one).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pipeline: pipelines.CodePipeline | pipelines.Wave,
        stage: cdk.Stage,
        notification_topic: sns.ITopic | None = None,
        notification_emails: Sequence[str] = (),
        topic_key: kms.IKey | None = None,
        manual_approval: bool = True,
        approval_name: str | None = None,
        approval_comment: str | None = None,
        pre: Sequence[pipelines.Step] = (),
        post: Sequence[pipelines.Step] = (),
        early_check: bool = False,
        confirm_wave: pipelines.Wave | None = None,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        require_instance(
            where,
            "pipeline",
            pipeline,
            (pipelines.CodePipeline, pipelines.Wave),
            "expected a pipelines.CodePipeline or Wave",
        )
        require_instance(where, "stage", stage, cdk.Stage, "expected an aws_cdk.Stage")
        if notification_topic is not None:
            require_interface(where, "notification_topic", notification_topic, "topic_arn", "expected an sns.ITopic")
        notification_emails = require_emails(where, "notification_emails", notification_emails)
        if topic_key is not None:
            require_interface(where, "topic_key", topic_key, "key_arn", "expected a kms.IKey")
        require_bool(where, "manual_approval", manual_approval)
        if approval_name is not None:
            require_action_name(where, "approval_name", approval_name)
        require_approval_comment(where, "approval_comment", approval_comment)
        if not manual_approval:
            for prop, value in (("approval_name", approval_name), ("approval_comment", approval_comment)):
                if value is not None:
                    raise invalid(where, prop, value, "only used with manual_approval=True (there is no approval)")
        pre = require_steps(where, "pre", pre)
        post = require_steps(where, "post", post)
        if notification_topic is not None and notification_emails:
            raise invalid(
                where,
                "notification_emails",
                list(notification_emails),
                "subscribe addresses to your own notification_topic, or omit notification_topic",
            )
        require_bool(where, "early_check", early_check)
        owner = pipeline if isinstance(pipeline, pipelines.CodePipeline) else _pipeline_of(self)
        secure = _early_check_pipeline(where, pipeline, owner, confirm_wave) if early_check else None
        if confirm_wave is not None and not early_check:
            raise invalid(where, "confirm_wave", confirm_wave, "only used with early_check=True")

        if notification_topic is None:
            topic, key = encrypted_topic(
                self,
                key=topic_key,
                key_description=f"Security gate notifications of {where}",
                display_name=f"{stage.stage_name} security gate",
                emails=notification_emails,
            )
            if secure is None:
                # The auto-approve function's failure alarm publishes to the topic (no such function early).
                # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html
                allow_service_publish(topic, key, service="cloudwatch.amazonaws.com", sid=_ALARMS_SID)
            notification_topic = topic
        #: Topic notified when the stage's permissions broaden.
        self.topic: sns.ITopic = notification_topic

        gates: list[pipelines.Step] = []
        #: The permissions check: CDK's ``ConfirmPermissionsBroadening`` (in the stage), or with
        #: ``early_check`` a :class:`~pipeline_constructs.core.permission_checks.PermissionCheck`.
        self.permission_check: pipelines.ConfirmPermissionsBroadening | PermissionCheck
        if secure is not None:
            assert owner is not None
            wave = (
                confirm_wave
                if confirm_wave is not None
                else owner.add_wave(stage.stage_name + PERMISSIONS_STAGE_SUFFIX)
            )
            self.permission_check = PermissionCheck(
                self, "PermissionCheck", secure=secure, stage=stage, topic=self.topic, confirm_wave=wave
            )
        else:
            self.permission_check = pipelines.ConfirmPermissionsBroadening(
                "PermissionCheck", stage=stage, notification_topic=self.topic
            )
            gates.append(self.permission_check)
        #: The manual approval step, or ``None``.
        self.approval: pipelines.ManualApprovalStep | None = None
        if manual_approval:
            self.approval = pipelines.ManualApprovalStep(
                approval_name or f"PromoteTo{stage.stage_name}",
                comment=approval_comment or f"Approve deployment of {stage.stage_name} (permissions check passed).",
            )
            gates.append(self.approval)
        pre_steps = [*gates, *pre]
        _chain(pre_steps)
        post_steps = list(post)
        _chain(post_steps)
        #: The stage deployment added to the pipeline.
        self.deployment: pipelines.StageDeployment = pipeline.add_stage(stage, pre=pre_steps, post=post_steps)
        if isinstance(self.permission_check, PermissionCheck):
            self.permission_check.allow_diff(self.deployment)
        elif owner is not None:
            harden_security_check(owner, topic=self.topic)


_ALARMS_SID = "CloudWatchAlarmsOfThisAccount"


def _pipeline_of(gate: Construct) -> pipelines.CodePipeline | None:
    """The one CDK Pipelines pipeline of the gate's stack (for a gate added to a wave), or ``None``."""
    found = [c for c in cdk.Stack.of(gate).node.find_all() if isinstance(c, pipelines.CodePipeline)]
    return found[0] if len(found) == 1 else None


def _early_check_pipeline(
    where: str,
    pipeline: pipelines.CodePipeline | pipelines.Wave,
    owner: pipelines.CodePipeline | None,
    confirm_wave: pipelines.Wave | None,
) -> SecurePipeline:
    """The hardened pipeline an early check runs in; the confirm wave checked to come before the stage."""
    from pipeline_constructs.core.pipeline import SecurePipeline

    secure = owner.node.scope if owner is not None else None
    if not isinstance(secure, SecurePipeline):
        raise invalid(
            where,
            "early_check",
            True,
            "expected a pipeline built by SecurePipeline (the check uses its pinned CDK CLI, log group and "
            "artifact key), or early_check=False for CDK's ConfirmPermissionsBroadening",
        )
    assert owner is not None
    if confirm_wave is None:
        if isinstance(pipeline, pipelines.Wave):
            raise invalid(
                where,
                "confirm_wave",
                None,
                "a gate added to a wave needs the empty wave its confirmation goes in, added to the pipeline "
                "before that wave",
            )
        return secure
    require_instance(where, "confirm_wave", confirm_wave, pipelines.Wave, "expected a pipelines.Wave")
    waves = list(owner.waves)
    if all(w.id != confirm_wave.id for w in waves):  # jsii proxies: compare by id (unique stage names)
        raise invalid(where, "confirm_wave", confirm_wave.id, "expected a wave of the gate's own pipeline")
    if confirm_wave.stages or confirm_wave.pre or confirm_wave.post:
        raise invalid(
            where,
            "confirm_wave",
            confirm_wave.id,
            "expected an empty wave: its stage is skipped when nothing broadens, with everything in it",
        )
    if isinstance(pipeline, pipelines.Wave):
        position = next((i for i, w in enumerate(waves) if w.id == pipeline.id), len(waves))
        if next(i for i, w in enumerate(waves) if w.id == confirm_wave.id) > position:
            raise invalid(
                where, "confirm_wave", confirm_wave.id, f"expected a wave added before the stage's wave {pipeline.id!r}"
            )
    return secure


def require_steps(where: str, prop: str, value: Any) -> tuple[pipelines.Step, ...]:
    """Accept a list of ``pipelines.Step`` (never a single step or a string)."""
    return require_sequence(
        where,
        prop,
        value,
        item=lambda w, p, v: require_instance(w, p, v, pipelines.Step, "expected a pipelines.Step"),
        allowed="expected a list of pipelines.Step",
    )


def _chain(steps: Sequence[pipelines.Step]) -> None:
    """Make each step depend on the one before, so they run in the order given."""
    for before, after in itertools.pairwise(steps):
        after.add_step_dependency(before)


def add_target_stage(
    scope: Construct,
    pipeline: pipelines.CodePipeline | pipelines.Wave,
    target: DeploymentTarget,
    stage: cdk.Stage,
    *,
    pre: Sequence[pipelines.Step] = (),
    post: Sequence[pipelines.Step] = (),
    early_check: bool = False,
    confirm_wave: pipelines.Wave | None = None,
) -> tuple[pipelines.StageDeployment, SecurityGatedStage | None]:
    """Deploy ``stage`` to ``target`` behind the gates the target asks for.

    ``security_gated`` targets go through a :class:`SecurityGatedStage` (id
    ``<name>Gate`` under ``scope``, manual approval as the target says, ``early_check``
    and ``confirm_wave`` passed on: see there; default: CDK's check in the stage); a
    target with only ``manual_approval`` gets ``PromoteTo<name>``; others
    deploy directly. ``pre`` steps run after the gates, ``post`` after the stage.

    :returns: the stage deployment and the gate (``None`` if not security-gated).
    """
    if target.security_gated:
        gate = SecurityGatedStage(
            scope,
            f"{target.name}Gate",
            pipeline=pipeline,
            stage=stage,
            notification_emails=target.notification_emails,
            manual_approval=target.manual_approval,
            approval_comment=target.approval_comment,
            pre=pre,
            post=post,
            early_check=early_check,
            confirm_wave=confirm_wave,
        )
        return gate.deployment, gate
    pre_steps: list[pipelines.Step] = []
    if target.manual_approval:
        pre_steps.append(pipelines.ManualApprovalStep(f"PromoteTo{target.name}", comment=target.approval_comment))
    pre_steps.extend(pre)
    _chain(pre_steps)
    post_steps = list(post)
    _chain(post_steps)
    return pipeline.add_stage(stage, pre=pre_steps, post=post_steps), None
