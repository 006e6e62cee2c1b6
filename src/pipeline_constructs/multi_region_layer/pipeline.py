"""MultiRegionLayerPipeline: build a Lambda layer once, publish it to many regions in parallel, share it.

The solution of the AWS blog post "Building a pipeline to distribute Lambda
layers across Regions", as one construct, without the sample's flaws (see
``docs/multi_region_layer.md``). This module is the pipeline's description; the
pieces live beside it: :mod:`.props` (what is accepted), :mod:`.build` (the
layer build, inside the synth action), :mod:`.regional` (the staging stacks),
:mod:`.distributor` (the job function and its invoke role), :mod:`.sharing` (who
may use the layer).
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.options import (
    PipelineOptions,
    check_pipeline_options,
)
from pipeline_constructs.core.pipeline import PipelineConstruct
from pipeline_constructs.core.pipeline_jobs import JobFailures
from pipeline_constructs.core.private.defaults import resolve_log_retention
from pipeline_constructs.core.private.naming import default_pipeline_name
from pipeline_constructs.core.targets import DeploymentTarget
from pipeline_constructs.core.validation import (
    require_concrete_env,
    require_pipeline_name,
    require_stack_env,
)
from pipeline_constructs.multi_region_layer.build import (
    check_output_directory,
    layer_build_step,
    synth_code_build_defaults,
    synth_commands_before,
)
from pipeline_constructs.multi_region_layer.distributor import MIN_DISTRIBUTOR_TIMEOUT, distributor, invoke_role
from pipeline_constructs.multi_region_layer.props import MAX_REGIONS, check_layer_props
from pipeline_constructs.multi_region_layer.regional import staging_bucket_prefix, staging_stack
from pipeline_constructs.multi_region_layer.sharing import LayerSharing
from pipeline_constructs.steps.lambda_invoke import LambdaInvokeStep

__all__ = ["MAX_REGIONS", "MIN_DISTRIBUTOR_TIMEOUT", "MultiRegionLayerPipeline"]


class MultiRegionLayerPipeline(PipelineConstruct):
    """A self-mutating pipeline that builds a Lambda layer once and publishes it to many regions in parallel.

    Stages: ``Source`` -> ``Build`` (``Synth``: builds the layer, then synthesizes the
    CDK app; the layer's content is a second output of the action) -> ``UpdatePipeline`` ->
    ``Layer``: one Lambda-invoke action per target (``Publish-<target>``), all in
    parallel; a ``manual_approval`` target's publish waits for ``PromoteTo<target>``.
    Adding a target adds an action, never a stage. With a ``synth`` step of your own
    (which the construct cannot add commands to) the layer builds in a ``BuildLayer``
    CodeBuild action at the start of the ``Layer`` stage instead.

    Each publish action invokes the distributor function (in the pipeline's
    region) with ``{"region", "stagingBucket"}``. The function downloads the
    built layer with the job's artifact credentials, skips publishing when the
    latest version already has the same content (``CodeSha256``) and settings,
    otherwise copies it to that region's staging bucket and publishes the
    version from S3 (no 50 MB direct-upload cap), grants
    ``lambda:GetLayerVersion`` to exactly ``sharing``, writes the version ARN
    to the SSM parameter ``parameter_name`` in that region, and reports to
    CodePipeline on every path.

    Per target the construct adds a small stack to the app
    (``<PipelineStack>-<id>-<region>``) with a hardened staging bucket; the
    pipeline stack depends on them, so ``cdk deploy`` of the pipeline stack (and
    self-mutation) deploys them too, with the pipeline region's bootstrap roles.

    :param source: the repository holding the CDK app and the layer's sources (e.g.
        ``pipelines.CodePipelineSource.connection(...)``); the input of the default synth step.
    :param targets: where the layer is published: 1-49 ``DeploymentTarget`` s, one per
        region, all in the pipeline's account (a layer reaches other accounts through
        ``sharing``) and partition; ``manual_approval`` adds ``PromoteTo<name>`` before
        that target's publish (approvals count against CodePipeline's 50 actions per stage).
        ``security_gated`` is refused: a layer publish deploys no stage whose permissions
        could be checked.
    :param layer_name: the layer's name in every region (1-64 of ``A-Za-z0-9_-``).
    :param compatible_runtimes: runtimes the layer supports (1-15); they also
        select the default build commands (Node.js or Python).
    :param compatible_architectures: instruction set architectures. Default:
        ``[Architecture.X86_64]``.
    :param layer_directory: directory of the layer's ``package.json`` +
        ``package-lock.json`` or ``requirements.txt``, relative to the source
        root. Default: ``"."``.
    :param build_commands: commands that put the layer's content into
        ``output_directory`` (``nodejs/``, ``python/``...); they run at the repository
        root, first in the synth action (which then returns to the root before its own
        commands). Default:
        :func:`~pipeline_constructs.multi_region_layer.build.default_build_commands`
        (lock-file installs, never ``latest``).
    :param output_directory: where ``build_commands`` put the layer content,
        relative to the source root (apart from ``<app_dir>/cdk.out``); CodePipeline
        zips it as the layer artifact. Default: ``"layer-build"``.
    :param build_environment: CodeBuild environment of the layer build: the synth
        action's (merged over ``pipeline_options['synth_code_build_defaults']``, and
        winning), or the ``BuildLayer`` action's with a ``synth`` of your own.
        Default: the pipeline's image, on ARM when ``arm64`` is the only architecture.
    :param sharing: who else may use the layer. Default: private (no grant).
    :param license_info: the layer's license (SPDX id, URL or text, at most 512 characters).
        Default: none.
    :param description: description of each version (at most 256 characters). Default: none.
    :param parameter_name: SSM parameter (in every target region) that receives the
        latest version ARN. Default: ``/lambda-layers/<layer_name>/latest-version-arn``.
    :param synth: a whole synth step of your own (not with ``synth_commands``/``app_dir``);
        the layer then builds in a ``BuildLayer`` action of its own. Default: a
        ``CodeBuildStep`` ``Synth`` on ``source`` running ``build_commands``, then
        ``synth_commands``.
    :param synth_commands: the commands of the default synth step. Default:
        ``pip install -r requirements.txt`` and ``cdk synth`` with the pinned CDK CLI
        (:data:`~pipeline_constructs.core.options.CDK_CLI_VERSION`, team-overridable).
    :param app_dir: the folder of the CDK app in ``source`` (the synth step runs there;
        its output is ``<app_dir>/cdk.out``). Default: ``"."``.
    :param pipeline_name: CodePipeline name. Default: ``<stack name>-<construct path>``.
    :param distributor_timeout: timeout of the distributor function (at least
        ``MIN_DISTRIBUTOR_TIMEOUT``, the worst case of its retries, and at most
        15 minutes). Default: 15 minutes.
    :param pipeline_options: options of the hardened pipeline (:class:`PipelineOptions`);
        ``removal_policy`` (default ``RETAIN``) and ``log_retention`` (default: team
        default, else one year) also apply to the staging buckets and the distributor's
        logs, key and queue. ``cross_account_keys`` defaults to ``True`` here: CodeBuild
        then encrypts its artifacts with the pipeline's customer-managed key. Default: none.

    Attributes: the common ones (``secure_pipeline``, ``pipeline``, ``code_pipeline``;
    ``stages``, ``deployments``, ``gates`` and ``test_reports`` exist and stay empty: a
    layer pipeline deploys no ``cdk.Stage`` per target and runs no tests), and
    ``targets``, ``regions``, ``wave`` (the ``Layer`` wave), ``build_step`` (the step
    that builds the layer: the synth step, or ``BuildLayer``), ``layer_output`` (the
    layer's file set), ``publish_steps`` and ``approvals`` (by target name), ``distributor``,
    ``distributor_failures``, ``regional_stacks`` and ``staging_buckets`` (by target
    name), ``parameter_name``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: pipelines.IFileSetProducer,
        targets: Sequence[DeploymentTarget],
        layer_name: str,
        compatible_runtimes: Sequence[lambda_.Runtime],
        compatible_architectures: Sequence[lambda_.Architecture] | None = None,
        layer_directory: str = ".",
        build_commands: Sequence[str] | None = None,
        output_directory: str = "layer-build",
        build_environment: codebuild.BuildEnvironment | None = None,
        sharing: LayerSharing | None = None,
        license_info: str | None = None,
        description: str | None = None,
        parameter_name: str | None = None,
        synth: pipelines.IFileSetProducer | None = None,
        synth_commands: Sequence[str] | None = None,
        app_dir: str | None = None,
        pipeline_name: str | None = None,
        distributor_timeout: cdk.Duration | None = None,
        pipeline_options: PipelineOptions | None = None,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        stack = require_stack_env(where, self)
        require_concrete_env(where, stack, "the construct creates regional stacks in the same account")
        layer = check_layer_props(
            where,
            stack,
            layer_name=layer_name,
            compatible_runtimes=compatible_runtimes,
            targets=targets,
            compatible_architectures=compatible_architectures,
            layer_directory=layer_directory,
            build_commands=build_commands,
            output_directory=output_directory,
            build_environment=build_environment,
            sharing=sharing,
            license_info=license_info,
            description=description,
            parameter_name=parameter_name,
            distributor_timeout=distributor_timeout,
        )
        require_pipeline_name(where, "pipeline_name", pipeline_name)
        options = check_pipeline_options(where, pipeline_options)
        removal_policy = options.get("removal_policy", cdk.RemovalPolicy.RETAIN)
        retention = resolve_log_retention(self, options.get("log_retention"), prop="pipeline_options['log_retention']")
        #: Whether the layer builds inside the synth action (the default synth step) or in ``BuildLayer``.
        self.builds_in_synth: bool = synth is None
        synth_action = self._synth_step(
            source,
            synth,
            synth_commands,
            app_dir,
            pipeline_options,
            **({"commands_before": synth_commands_before(layer.build_commands)} if self.builds_in_synth else {}),
        )
        if self.builds_in_synth:  # the synth action builds the layer: its environment is the layer build's
            check_output_directory(where, layer.output_directory, app_dir)
            synth_defaults = synth_code_build_defaults(
                where, layer.architectures, layer.build_environment, options.get("synth_code_build_defaults")
            )
            if synth_defaults is not None:
                options = {**options, "synth_code_build_defaults": synth_defaults}
        #: The targets, in order (one per region).
        self.targets: tuple[DeploymentTarget, ...] = layer.targets
        #: The target regions, in target order.
        self.regions: tuple[str, ...] = layer.regions
        #: The SSM parameter (in every target region) holding the latest version ARN.
        self.parameter_name: str = layer.parameter_name

        # ---- the hardened pipeline: Source -> Build (synth) -> UpdatePipeline
        secure = self._build_pipeline(
            synth=synth_action,
            pipeline_name=pipeline_name or default_pipeline_name(self),
            targets=layer.targets,
            options={"cross_account_keys": True, **options},
        )

        # ---- a staging bucket in every target region, each in a small stack of its own
        prefix = staging_bucket_prefix(self)
        #: Target name -> staging bucket name (``layer-staging-<hash>-<region>``).
        self.staging_buckets: dict[str, str] = {t.name: f"{prefix}{t.region}" for t in layer.targets}
        #: Target name -> the stack holding that target's staging bucket.
        self.regional_stacks: dict[str, cdk.Stack] = {
            t.name: staging_stack(self, t.region, self.staging_buckets[t.name], removal_policy) for t in layer.targets
        }

        # ---- the distributor (pipeline region) and the role CodePipeline invokes it with
        built = distributor(
            self,
            secure,
            layer_name=layer_name,
            layer=layer,
            staging_bucket_prefix=prefix,
            retention=retention,
            removal_policy=removal_policy,
        )
        #: The function CodePipeline invokes once per target.
        self.distributor: lambda_.Function = built.function
        #: The distributor's dead-letter queue, the alarm on it and its topic (subscribe your team).
        self.distributor_failures: JobFailures = built.failures
        role = invoke_role(self, secure, self.distributor)

        # ---- the layer: built once, in the synth action (or BuildLayer), then published to every target in
        # parallel (approved ones after PromoteTo<target>)
        #: The CodeBuild step that builds the layer: the synth step (``Synth``), or ``BuildLayer`` with your own synth.
        self.build_step: pipelines.CodeBuildStep
        #: The layer's content (zipped by CodePipeline): the input artifact of every publish action.
        self.layer_output: pipelines.FileSet
        if self.builds_in_synth:
            assert isinstance(synth_action, pipelines.CodeBuildStep)
            self.build_step = synth_action
            self.layer_output = synth_action.add_output_directory(layer.output_directory)
        else:
            self.build_step = layer_build_step(
                source,
                layer.build_commands,
                output_directory=layer.output_directory,
                architectures=layer.architectures,
                build_environment=layer.build_environment,
            )
            assert self.build_step.primary_output is not None
            self.layer_output = self.build_step.primary_output
        #: Target name -> the ``PromoteTo<target>`` approval of a ``manual_approval`` target (after the build).
        self.approvals: dict[str, pipelines.ManualApprovalStep] = {
            t.name: self._approval(t, layer_name) for t in layer.targets if t.manual_approval
        }
        #: Target name -> the step that publishes the layer there.
        self.publish_steps: dict[str, LambdaInvokeStep] = {t.name: self._publish_step(t, role) for t in layer.targets}
        #: The ``Layer`` wave (the pipeline's last stage): add your own ``post`` steps to it.
        self.wave = self.pipeline.add_wave(
            "Layer",
            pre=[] if self.builds_in_synth else [self.build_step],
            post=[*self.approvals.values(), *self.publish_steps.values()],
        )

    def _approval(self, target: DeploymentTarget, layer_name: str) -> pipelines.ManualApprovalStep:
        """``PromoteTo<target>``: a person approves the built layer for this target."""
        comment = target.approval_comment or f"Publish layer {layer_name} to {target.name} ({target.region})?"
        step = pipelines.ManualApprovalStep(f"PromoteTo{target.name}", comment=comment)
        if not self.builds_in_synth:  # built in synth: the layer exists before the Layer stage starts
            step.add_step_dependency(self.build_step)
        return step

    def _publish_step(self, target: DeploymentTarget, role: iam.IRole) -> LambdaInvokeStep:
        """``Publish-<target>``: the distributor publishes the built layer in the target's region."""
        step = LambdaInvokeStep(
            f"Publish-{target.name}",
            function=self.distributor,
            inputs=[self.layer_output],
            user_parameters={"region": target.region, "stagingBucket": self.staging_buckets[target.name]},
            role=role,
            variables_namespace=f"Layer-{target.name}",
        )
        if target.name in self.approvals:
            step.add_step_dependency(self.approvals[target.name])
        return step
