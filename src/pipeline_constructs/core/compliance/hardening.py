"""Harden what CDK Pipelines generates, once it has built the pipeline; acknowledge only what remains.

CDK Pipelines creates its roles, CodeBuild projects, the permission check and
its auto-approve Lambda, and the cross-region support stacks only when the
pipeline is built (at synth). :func:`harden_pipeline_internals` (the whole
pipeline, used by :class:`~pipeline_constructs.core.pipeline.SecurePipeline`) and
:func:`harden_security_check` (the permission check alone, used by
:class:`~pipeline_constructs.stages.security_gated.SecurityGatedStage` on any
pipeline) register one aspect per pipeline that runs right after the build.

What it fixes (evidence for each narrowing in the comments):

* the asset role's ``codebuild:StartBuild``/``BatchGetBuilds``/``StopBuild`` on
  ``*`` are scoped to the asset projects that use the role;
* the permission check's ``sts:AssumeRole`` on ``*`` is scoped to the deploy
  roles of the stacks the pipeline deploys;
* the permission check installs the pinned CDK CLI (``npm install -g aws-cdk``
  was unpinned); self-mutation and asset publishing are pinned by
  ``SecurePipeline`` through ``cli_version`` / ``cdk_assets_cli_version``;
* the auto-approve function (invoked asynchronously by the check) gets its own
  KMS-encrypted log group instead of ``AWSLambdaBasicExecutionRole``, a
  KMS-encrypted dead-letter queue with an alarm, X-Ray tracing and 256 MB;
* the self-mutation role's ``cloudformation:DescribeStacks`` is scoped to the
  pipeline's account, its ``s3:ListBucket`` limited to that account's buckets;
* the cross-region replication buckets are versioned and log their access, and
  the pipeline role's KMS grant on ``*`` for their keys becomes their keys only.

The mechanism is here; the rules are in :mod:`.hardening_rules` (generated projects, roles and support
stacks) and :mod:`.hardening_check` (the permission check). What remains is acknowledged on the narrowest
resource, with a catalogue reason
(:mod:`pipeline_constructs.core.compliance.reasons`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import aws_cdk as cdk
import jsii
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import pipelines
from constructs import Construct, IConstruct

from pipeline_constructs.core.compliance.hardening_check import SecurityCheckHardening
from pipeline_constructs.core.compliance.hardening_rules import CHECK_ID, HardeningOptions, harden_generated
from pipeline_constructs.core.private.defaults import CDK_CLI_VERSION
from pipeline_constructs.core.private.iam_idioms import construct_key

__all__ = [
    "PIPELINE_TRUST_FLAGS",
    "after_build",
    "collect_after_build",
    "harden_pipeline_internals",
    "harden_security_check",
]

#: Feature flags that keep CDK Pipelines' generated roles from trusting the account root
#: (asset, stage and cross-account action roles); :class:`SecurePipeline` sets them on its scope.
PIPELINE_TRUST_FLAGS = (
    "@aws-cdk/pipelines:reduceAssetRoleTrustScope",
    "@aws-cdk/pipelines:reduceStageRoleTrustScope",
    "@aws-cdk/pipelines:reduceCrossAccountActionRoleTrustScope",
)


@jsii.implements(cdk.IAspect)
class _PipelineInternals:
    def __init__(self, pipeline: pipelines.CodePipeline, marker: Construct) -> None:
        self._pipeline = pipeline
        self._marker = marker
        self.options = HardeningOptions()
        self._done = False

    # Registered on a leaf marker, so this runs once, after CDK Pipelines' own build aspect
    # (on the marker's parent) and before any generated resource is visited.
    def visit(self, node: IConstruct) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._pipeline.pipeline  # noqa: B018 - raises until the pipeline is built
        except RuntimeError:
            self._pipeline.build_pipeline()
        check_scope = self._pipeline.node.try_find_child(CHECK_ID)
        if check_scope is not None:
            SecurityCheckHardening(self._pipeline, self._marker, self.options).harden(check_scope)
        if self.options.full:
            options = self.options
            harden_generated(self._pipeline, customer_key=options.customer_key, removal_policy=options.removal_policy)
        for rule in self.options.rules:
            rule()


_HARDENINGS: dict[object, _PipelineInternals] = {}


def _hardening(pipeline: pipelines.CodePipeline) -> _PipelineInternals:
    key = construct_key(pipeline)
    existing = _HARDENINGS.get(key)
    if existing is None:
        # An aspect on the pipeline itself would be called back from Node once per generated construct;
        # on a leaf it is called once.
        existing = _HARDENINGS[key] = _PipelineInternals(pipeline, Construct(pipeline, "Hardening"))
        cdk.Aspects.of(existing._marker).add(existing)
    return existing


def harden_pipeline_internals(
    pipeline: pipelines.CodePipeline,
    *,
    log_group: logs.ILogGroup | None = None,
    logs_key: kms.IKey | None = None,
    customer_key: bool = True,
    cli_version: str = CDK_CLI_VERSION,
    retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
) -> None:
    """Register the post-build hardening of everything CDK Pipelines generates (call once, before synth).

    :param log_group: where generated CodeBuild projects without a logging
        configuration (the permission check) send their logs. Default: a new log group.
    :param logs_key: key of the log groups the hardening creates (the auto-approve
        function's). Default: a new key.
    :param customer_key: whether artifacts use a customer-managed KMS key. When
        ``False`` (a same-account pipeline chose the AWS-managed key),
        ``AwsSolutions-CB4`` is acknowledged on each generated project. Default: ``True``.
    :param cli_version: CDK CLI the permission check installs. Default: :data:`CDK_CLI_VERSION`.
    :param retention: retention of the log groups the hardening creates. Default: one year.
    :param removal_policy: of the keys, log groups, queues and buckets the hardening creates. Default: RETAIN.
    """
    settings = {name: value for name, value in locals().items() if name != "pipeline"}  # the options, by name
    hardening = _hardening(pipeline)
    hardening.options = dataclasses.replace(hardening.options, full=True, **settings)


def harden_security_check(pipeline: pipelines.CodePipeline, *, topic: sns.ITopic | None = None) -> None:
    """Register the post-build hardening of the permission check and its auto-approve function only.

    For a pipeline a team built itself; :func:`harden_pipeline_internals` includes it.

    :param topic: notified by the alarm on the auto-approve function's dead-letter queue. Default: none.
    """
    options = _hardening(pipeline).options
    if topic is not None and all(t is not topic for t in options.topics):
        options.topics.append(topic)


def after_build(pipeline: pipelines.CodePipeline, rule: Callable[[], None]) -> None:
    """Run ``rule`` once at synth, right after CDK Pipelines built ``pipeline`` (and the library hardened it).

    The one place a construct adds its own post-build rules (an acknowledgment on a
    project CDK Pipelines generates, a narrowed policy): rules run in the order they
    were added, after the generated resources exist and before any of them is
    visited by another aspect (cdk-nag's included).
    """
    _hardening(pipeline).options.rules.append(rule)


_T = TypeVar("_T")
_COLLECTED: dict[tuple[str, object], list[Any]] = {}


def collect_after_build(
    pipeline: pipelines.CodePipeline, kind: str, item: _T, apply: Callable[[pipelines.CodePipeline, list[_T]], None]
) -> None:
    """Collect ``item`` with the other items of ``kind`` for ``pipeline``; at synth, right after the build,
    ``apply(pipeline, items)`` runs once with all of them, in the order given (an :func:`after_build` rule).

    For post-build changes that must see each other (stage conditions of one stage, run orders of one stage).
    """
    key = (kind, construct_key(pipeline))
    items = _COLLECTED.get(key)
    if items is None:
        items = _COLLECTED[key] = []
        collected = items
        after_build(pipeline, lambda: apply(pipeline, collected))
    items.append(item)
