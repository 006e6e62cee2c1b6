"""The hardened, fast CDK Pipelines factory every pipeline construct builds on, and their common base."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.compliance.hardening import (
    PIPELINE_TRUST_FLAGS,
    after_build,
    harden_pipeline_internals,
)
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.compute import LambdaCompute, synth_on_lambda_compute
from pipeline_constructs.core.notifications import PipelineNotifications, add_notifications
from pipeline_constructs.core.options import (
    PipelineOptions,
    cdk_cli_version,
    merge_code_build_options,
    pipeline_cli_version,
    require_synth,
    resolve_cdk_assets_version,
    synth_step,
)
from pipeline_constructs.core.private.buckets import access_log_bucket, secure_bucket
from pipeline_constructs.core.private.defaults import resolve_compute_type, resolve_log_retention
from pipeline_constructs.core.private.encryption import encrypted_log_group, new_key
from pipeline_constructs.core.private.naming import default_pipeline_name
from pipeline_constructs.core.self_mutation import PipelineChangeCheck, change_check, check_of, register
from pipeline_constructs.core.self_mutation import skip_unchanged_self_mutation as skip_unless_changed
from pipeline_constructs.core.targets import DeploymentTarget, StageFactory, deploy_targets
from pipeline_constructs.core.triggers import GitTrigger, apply_triggers, check_trigger_sources, validate_triggers
from pipeline_constructs.core.validation import (
    CDK_CLI_VERSION_PATTERN,
    invalid,
    is_token,
    require_bool,
    require_enum,
    require_instance,
    require_kwargs,
    require_pipeline_name,
    require_relative_path,
    require_sequence,
    require_stack_env,
    require_str,
)

if TYPE_CHECKING:
    from pipeline_constructs.core.reports import TestReports
    from pipeline_constructs.stages.security_gated import SecurityGatedStage

__all__ = ["DEFAULT_BUILD_IMAGE", "PipelineConstruct", "SecurePipeline"]

#: Days after which noncurrent artifact versions expire.
ARTIFACT_NONCURRENT_DAYS = 30


#: CodeBuild image for every action (aws/codebuild/amazonlinux2-x86_64-standard:5.0); override with
#: ``code_build_defaults=pipelines.CodeBuildOptions(build_environment=...)``.
DEFAULT_BUILD_IMAGE = codebuild.LinuxBuildImage.AMAZON_LINUX_2_5


class SecurePipeline(Construct):
    """A CDK Pipelines ``CodePipeline`` with the library's secure, fast defaults.

    What it sets up, and why:

    * pipeline type V2, self-mutation, change sets;
    * artifact bucket: SSE-KMS, SSL only, public access blocked, versioned,
      server access logs to a dedicated log bucket;
    * a customer-managed, rotating KMS key for artifacts whenever a target is
      in another account than the pipeline (``cross_account_keys``);
    * one asset-publishing action per asset type (``publish_assets_in_parallel=False``):
      fewer CodeBuild cold starts, a shorter pipeline;
    * every CLI the generated actions install is pinned (``aws-cdk``, ``cdk-assets``);
    * what CDK Pipelines generates is hardened after the build
      (:mod:`pipeline_constructs.core.compliance.hardening`), cross-region support stacks included;
    * every CodeBuild project logs to one KMS-encrypted log group with a retention;
    * Docker for the synth action only when ``docker_enabled_for_synth`` asks.

    :param synth: the synth step (a ``ShellStep``/``CodeBuildStep`` producing ``cdk.out``).
    :param pipeline_name: CodePipeline name (``[A-Za-z0-9.@_-]``, at most 100 characters).
        Default: ``<stack name>-<construct path>``, e.g. ``Delivery-Pipeline``.
    :param targets: the targets the pipeline will deploy to; only used to decide
        ``cross_account_keys``. Default: none.
    :param cross_account_keys: encrypt artifacts with a customer-managed KMS key
        that other accounts can be granted. Default: ``True`` when any target's
        account differs from the pipeline stack's account (or the stack's
        account is not concrete), else ``False`` (the ``aws/s3`` KMS key).
    :param self_mutation: let the pipeline update itself. Default: ``True``.
    :param skip_unchanged_self_mutation: skip the UpdatePipeline stage when the synth action reports that
        self-mutation would change nothing (:mod:`pipeline_constructs.core.self_mutation`). Only the
        library's own synth step of a pipeline construct (``synth_commands``/``app_dir``, not ``synth=``)
        reports it; with any other synth step the pipeline self-mutates on every run. ``False``: the
        UpdatePipeline stage runs on every run, as in plain CDK Pipelines. Default: ``True``.
    :param docker_enabled_for_synth: run the synth action privileged, for Docker
        bundling. Default: ``False``.
    :param log_retention: retention of the CodeBuild log group. Default: team
        default ``pipeline-constructs:logRetentionDays`` from context, else one year.
    :param compute_type: CodeBuild compute for every action. Default: team
        default ``pipeline-constructs:computeType``, else ``SMALL``.
    :param code_build_defaults: extra defaults for every CodeBuild action,
        merged over the library's (yours win). Default: none.
    :param synth_code_build_defaults: extra defaults for the synth action. Default: none.
    :param cli_version: exact version of the CDK CLI the pipeline installs (self-mutation,
        permission checks). Default: team default ``pipeline-constructs:cdkCliVersion``,
        else :data:`~pipeline_constructs.core.private.defaults.CDK_CLI_VERSION`.
    :param cdk_assets_version: exact version of ``cdk-assets`` the asset-publishing
        actions install. Default: team default ``pipeline-constructs:cdkAssetsVersion``,
        else :data:`~pipeline_constructs.core.private.defaults.CDK_ASSETS_VERSION`.
    :param removal_policy: what happens to buckets, keys and logs on stack deletion.
        Default: ``RETAIN``.
    :param triggers: what starts the pipeline from its connection source: push and pull-request
        filters on branches, tags and file paths (:class:`~pipeline_constructs.core.triggers.GitTrigger`).
        Default: none (every push to the source's branch starts it).
    :param notifications: notify failed (and optionally succeeded, approval-needed) executions to a
        KMS-encrypted topic (:class:`~pipeline_constructs.core.notifications.PipelineNotifications`).
        Default: none.
    :param lambda_compute: run the synth step on CodeBuild Lambda compute
        (:class:`~pipeline_constructs.core.compute.LambdaCompute`: seconds to start instead of minutes).
        Checked at construct time against Lambda compute's documented limits (no Docker or privileged
        mode, no root, no VPC, no file systems, no cache, no custom timeout, 15 minutes at most, one
        language runtime per curated image): a synth step that breaks one is refused with an error
        naming the prop. Only the synth step moves; every other CodeBuild action keeps the standard
        compute. Not verified against AWS by the library. Default: ``None`` (off: standard compute).
    :param pipeline_props: any other ``pipelines.CodePipeline`` keyword argument,
        passed through unchanged (wins over everything above; unknown names are an error).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        synth: pipelines.IFileSetProducer,
        pipeline_name: str | None = None,
        targets: Sequence[DeploymentTarget] = (),
        cross_account_keys: bool | None = None,
        self_mutation: bool = True,
        skip_unchanged_self_mutation: bool = True,
        docker_enabled_for_synth: bool = False,
        log_retention: logs.RetentionDays | None = None,
        compute_type: codebuild.ComputeType | None = None,
        code_build_defaults: pipelines.CodeBuildOptions | None = None,
        synth_code_build_defaults: pipelines.CodeBuildOptions | None = None,
        cli_version: str | None = None,
        cdk_assets_version: str | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        triggers: Sequence[GitTrigger] = (),
        notifications: PipelineNotifications | None = None,
        lambda_compute: LambdaCompute | None = None,
        pipeline_props: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, id)
        # Before any child exists: CDK Pipelines' generated roles then trust only their service or the
        # pipeline's role, never the account root, whatever the app's cdk.json says.
        for flag in PIPELINE_TRUST_FLAGS:
            self.node.set_context(flag, True)
        where = self.node.path
        stack = require_stack_env(where, self)
        require_synth(where, "synth", synth)
        require_pipeline_name(where, "pipeline_name", pipeline_name)
        checked_targets = require_sequence(
            where,
            "targets",
            targets,
            item=lambda w, p, t: require_instance(w, p, t, DeploymentTarget, "expected a DeploymentTarget"),
            allowed="expected a list of DeploymentTarget",
        )
        if cross_account_keys is not None:
            require_bool(where, "cross_account_keys", cross_account_keys)
        require_bool(where, "self_mutation", self_mutation)
        require_bool(where, "skip_unchanged_self_mutation", skip_unchanged_self_mutation)
        require_bool(where, "docker_enabled_for_synth", docker_enabled_for_synth)
        for prop, options in (
            ("code_build_defaults", code_build_defaults),
            ("synth_code_build_defaults", synth_code_build_defaults),
        ):
            if options is not None:
                require_instance(
                    where, prop, options, pipelines.CodeBuildOptions, "expected a pipelines.CodeBuildOptions"
                )
        if cli_version is not None:
            require_str(
                where,
                "cli_version",
                cli_version,
                pattern=CDK_CLI_VERSION_PATTERN,
                allowed="expected a CDK CLI version such as '2.1148.1'",
            )
        #: The exact CDK CLI version the pipeline installs.
        self.cli_version: str = cdk_cli_version(self, cli_version)
        #: The exact cdk-assets version the asset-publishing actions install.
        self.cdk_assets_version: str = resolve_cdk_assets_version(self, cdk_assets_version)
        require_enum(where, "removal_policy", removal_policy, cdk.RemovalPolicy)
        # A pipeline construct's SecurePipeline names these as the construct's pipeline_options.
        owner, options_prop = _option_names(scope, id, where)
        checked_triggers = validate_triggers(owner, options_prop("triggers"), triggers)
        check_trigger_sources(owner, options_prop("triggers"), checked_triggers, synth)
        if notifications is not None:
            require_instance(
                owner,
                options_prop("notifications"),
                notifications,
                PipelineNotifications,
                "expected a PipelineNotifications",
            )
        extra = require_kwargs(where, "pipeline_props", pipeline_props or {}, _CODE_PIPELINE_KWARGS)
        if pipeline_name is None and "code_pipeline" not in extra:
            pipeline_name = default_pipeline_name(self)

        if cross_account_keys is None:
            cross_account_keys = is_token(stack.account) or any(t.account != stack.account for t in checked_targets)
        self.cross_account_keys: bool = cross_account_keys

        retention = resolve_log_retention(self, log_retention)
        compute = resolve_compute_type(self, compute_type)
        #: Retention of the pipeline's logs: its CodeBuild log group and the job functions it hosts.
        self.log_retention: logs.RetentionDays = retention
        #: What happens to the pipeline's buckets, keys and logs (and its job functions') on stack deletion.
        self.removal_policy: cdk.RemovalPolicy = removal_policy

        #: KMS key of the artifact bucket (``None`` without ``cross_account_keys``).
        self.artifact_key: kms.Key | None = (
            new_key(
                self,
                "ArtifactKey",
                description=f"Pipeline artifacts of {where}",
                removal_policy=removal_policy,
            )
            if cross_account_keys
            else None
        )
        #: Receives the server access logs of every bucket of this pipeline.
        self.access_log_bucket = access_log_bucket(self, "AccessLogs", removal_policy=removal_policy)
        #: The artifact bucket.
        self.artifact_bucket = secure_bucket(
            self,
            "Artifacts",
            encryption_key=self.artifact_key,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="artifacts/",
            removal_policy=removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(ARTIFACT_NONCURRENT_DAYS))
            ],
            replication_reason=reason("artifact-store-not-replicated", days=str(ARTIFACT_NONCURRENT_DAYS)),
        )
        #: KMS key of the CodeBuild log group.
        self.logs_key = new_key(
            self,
            "LogsKey",
            description=f"CodeBuild logs of {where}",
            allow_cloudwatch_logs=True,
            removal_policy=removal_policy,
        )
        #: One log group for every CodeBuild action of this pipeline.
        self.log_group = encrypted_log_group(
            self, "BuildLogs", key=self.logs_key, retention=retention, removal_policy=removal_policy
        )

        library_defaults = pipelines.CodeBuildOptions(
            build_environment=codebuild.BuildEnvironment(build_image=DEFAULT_BUILD_IMAGE, compute_type=compute),
            logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)),
        )
        props: dict[str, Any] = {
            "synth": synth,
            "pipeline_name": pipeline_name,
            "pipeline_type": codepipeline.PipelineType.V2,
            "self_mutation": self_mutation,
            "use_change_sets": True,
            "artifact_bucket": self.artifact_bucket,
            "cross_account_keys": cross_account_keys,
            "enable_key_rotation": cross_account_keys,
            "publish_assets_in_parallel": False,
            "docker_enabled_for_synth": docker_enabled_for_synth,
            "code_build_defaults": merge_code_build_options(library_defaults, code_build_defaults),
            "synth_code_build_defaults": synth_code_build_defaults,
            "cli_version": self.cli_version,
            "cdk_assets_cli_version": self.cdk_assets_version,
        }
        props.update(extra)
        if lambda_compute is not None:
            props["synth_code_build_defaults"] = synth_on_lambda_compute(
                self, owner, options_prop("lambda_compute"), lambda_compute, props
            )
        if checked_triggers and props.get("pipeline_type") not in (None, codepipeline.PipelineType.V2):
            raise invalid(
                owner,
                options_prop("triggers"),
                list(checked_triggers),
                f"triggers need a V2 pipeline; pipeline_props sets pipeline_type={props['pipeline_type']}",
            )
        #: The name of the pipeline (``None``: generated by CloudFormation).
        self.pipeline_name: str | None = props.get("pipeline_name")
        #: The CDK Pipelines pipeline (escape hatch): add waves, stages and steps to it.
        self.pipeline = pipelines.CodePipeline(self, "Pipeline", **props)
        #: ``#{<namespace>.PIPELINE_CHANGED}`` when UpdatePipeline runs only if the pipeline changed, else ``None``.
        self.pipeline_changed_variable: str | None = None
        check = check_of(synth)
        if (
            props.get("self_mutation", True)
            and skip_unchanged_self_mutation
            and check is not None
            and check.stack_artifact_id == stack.artifact_id
        ):
            assert isinstance(synth, pipelines.CodeBuildStep)
            self.pipeline_changed_variable = skip_unless_changed(self.pipeline, synth)
        harden_pipeline_internals(
            self.pipeline,
            log_group=self.log_group,
            logs_key=self.logs_key,
            customer_key=cross_account_keys,
            cli_version=self.cli_version,
            retention=retention,
            removal_policy=removal_policy,
        )
        #: Where the pipeline's notifications go (``None`` without ``notifications``).
        self.notification_topic: sns.ITopic | None = None
        if checked_triggers:
            after_build(
                self.pipeline,
                lambda: apply_triggers(self.pipeline, checked_triggers, where=owner, prop=options_prop("triggers")),
            )
        if notifications is not None:
            add_notifications(self, notifications)

    @property
    def code_pipeline(self) -> codepipeline.Pipeline:
        """The built ``codepipeline.Pipeline`` (builds the pipeline: add no stages after this)."""
        self.build()
        return self.pipeline.pipeline

    def build(self) -> None:
        """Build the pipeline now (idempotent). CDK Pipelines otherwise builds it at synth."""
        try:
            self.pipeline.pipeline  # noqa: B018 - raises until built
        except RuntimeError:
            self.pipeline.build_pipeline()


def _change_check(scope: Construct, synth: Any, app_dir: Any, pipeline_options: object) -> PipelineChangeCheck | None:
    """The pipeline change check the library's synth step runs, or ``None`` (a ``synth`` of the team's own,
    no self-mutation, ``skip_unchanged_self_mutation=False``, or a bad ``app_dir``, reported by ``synth_step``)."""
    options = pipeline_options if isinstance(pipeline_options, Mapping) else {}
    props = options.get("pipeline_props")
    mutation = props.get("self_mutation", options.get("self_mutation")) if isinstance(props, Mapping) else None
    if mutation is None:
        mutation = options.get("self_mutation")
    if synth is not None or mutation is False or options.get("skip_unchanged_self_mutation") is False:
        return None
    try:
        directory = require_relative_path(scope.node.path, "app_dir", app_dir if app_dir is not None else ".")
    except (TypeError, ValueError):
        return None
    return change_check(scope, "cdk.out" if directory == "." else f"{directory}/cdk.out")


def _option_names(scope: Construct, id: str, where: str) -> tuple[str, Callable[[str], str]]:
    """Who owns the options and how errors name one: a pipeline construct's ``pipeline_options['<key>']``
    (at the construct's path), or the ``SecurePipeline`` prop itself."""
    if isinstance(scope, PipelineConstruct) and id == "Pipeline":
        return scope.node.path, lambda key: f"pipeline_options[{key!r}]"
    return where, lambda key: key


_CODE_PIPELINE_KWARGS = frozenset(inspect.signature(pipelines.CodePipeline.__init__).parameters) - {
    "self",
    "scope",
    "id",
}


class PipelineConstruct(Construct):
    """Base of every pipeline construct: one way to build the hardened pipeline, the same escape hatches.

    A subclass validates its props, then calls :meth:`_build_pipeline` with its synth step
    and :meth:`_deploy_targets` with its stage factory; every pipeline construct thereby
    exposes the same attributes (filled as far as the construct has them):
    :attr:`secure_pipeline`, :attr:`pipeline`, :attr:`code_pipeline`, :attr:`stages`,
    :attr:`deployments`, :attr:`gates` and :attr:`test_reports`.
    """

    #: The hardened pipeline (artifact bucket, keys, logs).
    secure_pipeline: SecurePipeline
    #: The CDK Pipelines pipeline (escape hatch: add waves, stages and steps before synth).
    pipeline: pipelines.CodePipeline

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        #: The ``cdk.Stage`` deployed to each target, by target name, in deployment order.
        self.stages: dict[str, cdk.Stage] = {}
        #: The CDK Pipelines stage deployment of each target, by target name.
        self.deployments: dict[str, pipelines.StageDeployment] = {}
        #: The security gate of each ``security_gated`` target, by target name.
        self.gates: dict[str, SecurityGatedStage] = {}
        #: The CodeBuild report groups of the pipeline, by name (none when it runs no tests).
        self.test_reports: dict[str, TestReports] = {}

    def _build_pipeline(
        self,
        *,
        synth: pipelines.IFileSetProducer,
        pipeline_name: str | None,
        targets: Sequence[DeploymentTarget],
        options: PipelineOptions,
        **fixed: Any,
    ) -> SecurePipeline:
        """Create :attr:`secure_pipeline` (id ``Pipeline``) from checked ``options``; ``fixed`` win."""
        merged: dict[str, Any] = {**options, **fixed}
        self.secure_pipeline = SecurePipeline(
            self, "Pipeline", synth=synth, pipeline_name=pipeline_name, targets=targets, **merged
        )
        self.pipeline = self.secure_pipeline.pipeline
        return self.secure_pipeline

    def _synth_step(
        self,
        source: Any,
        synth: Any,
        synth_commands: Any,
        app_dir: Any,
        pipeline_options: object,
        **extra: Any,
    ) -> pipelines.IFileSetProducer:
        """The synth step from the shared props (:func:`~pipeline_constructs.core.options.synth_step`),
        installing the pipeline's pinned CDK CLI; ``extra`` are ``synth_step``'s other keyword arguments.

        The library's own step (no ``synth``) of a self-mutating pipeline also runs the pipeline change check
        (:mod:`~pipeline_constructs.core.self_mutation`), unless ``skip_unchanged_self_mutation`` is ``False``.
        """
        cli = pipeline_cli_version(self, pipeline_options)
        check = _change_check(self, synth, app_dir, pipeline_options)
        if check is not None:
            extra["commands_after"] = [*extra.get("commands_after", ()), *check.commands()]
        step = synth_step(
            self.node.path,
            source=source,
            synth=synth,
            synth_commands=synth_commands,
            app_dir=app_dir,
            cli_version=cli,
            **extra,
        )
        if check is not None and isinstance(step, pipelines.CodeBuildStep):
            register(step, check)
        return step

    def _deploy_targets(self, targets: Sequence[DeploymentTarget], factory: StageFactory, **kwargs: Any) -> None:
        """Deploy one stage per target (:func:`~pipeline_constructs.core.targets.deploy_targets`)."""
        added = deploy_targets(self, self.pipeline, targets, factory, secure=self.secure_pipeline, **kwargs)
        self.stages.update(added.stages)
        self.deployments.update(added.deployments)
        self.gates.update(added.gates)

    @property
    def code_pipeline(self) -> codepipeline.Pipeline:
        """The built ``codepipeline.Pipeline`` (builds the pipeline: add no stages after this)."""
        return self.secure_pipeline.code_pipeline
