"""KdaAppPipeline: the "Automate deployment and version updates for Amazon Kinesis Data Analytics
applications with CodePipeline and the AWS CDK" post as one construct, for both of its teams.

* Infrastructure pipeline (platform team; CDK Pipelines, self-mutating)::

      Source -> Build (cdk synth) -> UpdatePipeline -> Assets
             -> <target 1> (e.g. Dev)  -> <target 2> (e.g. Prod: PermissionCheck -> PromoteToProd -> deploy)

  Each target gets a :class:`KdaApplicationStack`: KMS-encrypted Kinesis stream, Flink application
  (checkpoints, snapshots, restore from latest snapshot, system rollback, logging, property groups),
  its least-privilege service role, and the role the application pipeline deploys releases with.

* Application pipeline (data engineers; plain CodePipeline V2,
  :mod:`~pipeline_constructs.kda_app.application_pipeline`)::

      Source -> Build (mvn -B package + JUnit report; upload to the versioned release bucket under
                builds/<commit>/<execution id>/; write kda-release.json)
             -> <target 1>: UpdateApplication -> <target 2>: PromoteTo<target 2> -> UpdateApplication

  The update action (:mod:`~pipeline_constructs.kda_app.update`) is a job function that deploys the
  release's key **and object version** while keeping the application's state, and always reports.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.options import PipelineOptions, check_pipeline_options
from pipeline_constructs.core.pipeline import PipelineConstruct
from pipeline_constructs.core.private.defaults import resolve_compute_type, resolve_log_retention
from pipeline_constructs.core.private.naming import default_pipeline_name
from pipeline_constructs.core.targets import DeploymentTarget, validate_targets
from pipeline_constructs.core.validation import require_concrete_env, require_stack_env
from pipeline_constructs.kda_app.application_pipeline import ApplicationSettings, application_pipeline
from pipeline_constructs.kda_app.application_stack import KdaApplicationStack, KdaApplicationStage
from pipeline_constructs.kda_app.code import FlinkCode
from pipeline_constructs.kda_app.flink import FlinkSettings
from pipeline_constructs.kda_app.names import KdaNames
from pipeline_constructs.kda_app.props import StackExtension, check_props
from pipeline_constructs.kda_app.sources import ApplicationBuild, ApplicationSource

__all__ = ["KdaAppPipeline"]


class KdaAppPipeline(PipelineConstruct):
    """Infrastructure and application delivery of a Managed Service for Apache Flink application.

    Put it in a stack with a concrete ``env`` (the pipeline account and region). Every target must be
    in that region (Managed Flink reads its code from a bucket in its own region); targets may be in
    other accounts. A target with ``security_gated`` deploys its infrastructure through
    :class:`SecurityGatedStage`; a target with ``manual_approval`` gets an approval ``PromoteTo<target>``
    before its infrastructure deployment and before every release deployed to it.

    :param source: where the CDK app comes from (the platform team's repository, a
        ``pipelines.CodePipelineSource``); the default synth step runs ``synth_commands`` in it.
    :param targets: where to deploy, in order (e.g. Dev, then Prod). At least one, unique names.
    :param application_name: base name of everything physical: applications ``<name>-<target>``,
        roles, the release bucket ``<name>-releases-<account>-<region>``. Lowercase letters, digits, ``-``
        (2-40 characters, starting with a letter).
    :param application_source: where the Flink application's code comes from (the data engineers'
        repository, or a zip in S3): the source action of the application pipeline.
        ``ApplicationSource.connection(...)``, ``.code_commit(...)`` or ``.s3(...)``.
    :param synth: a whole synth step of your own (producing ``cdk.out``) instead of the default one.
        Default: a ``Synth`` CodeBuild step on ``source`` running ``synth_commands`` in ``app_dir``.
    :param synth_commands: commands of the default synth step. Only without ``synth``.
        Default: ``["pip install -r requirements.txt", "npx -y aws-cdk@<pinned CLI version> synth"]``.
    :param app_dir: folder of the CDK app in ``source`` (relative). Only without ``synth``. Default: ``"."``.
    :param pipeline_name: name of the infrastructure pipeline. Default: ``<stack>-<id>-Infrastructure``.
    :param build: how the application is built. Default: ``ApplicationBuild.maven()``.
    :param flink: how the application runs. Default: ``FlinkSettings()``.
    :param initial_code: code the applications are created with. Default: the library's placeholder,
        replaced (and the application started) by the first release.
    :param stream_shard_count: shards of each target's input stream (at least 1); ``None`` for on-demand.
        Default: 1.
    :param stream_retention: how long the streams keep records (24 hours to 365 days, whole hours).
        Default: 24 hours.
    :param update_timeout: how long an update action may wait for an application. Default: 30 minutes
        (at most 60).
    :param start_application: start an application that is READY (not running) after updating it,
        restoring its latest snapshot if it has one. Default: ``True``.
    :param release_prefix: key prefix of releases in the release bucket (relative, ends with ``/``).
        Default: ``builds/``.
    :param application_pipeline_name: name of the application pipeline. Default: ``<stack>-<id>-Application``.
    :param extend_stack: ``(stack, target) -> None`` called for each target's application stack before it
        is added to the pipeline (add sinks, alarms, a data generator...). Default: none.
    :param pipeline_options: options of the hardened pipelines (:class:`PipelineOptions`). Both pipelines
        read ``removal_policy`` (buckets, keys, logs, streams, applications; default ``RETAIN``) and
        ``log_retention`` (default: team default ``pipeline-constructs:logRetentionDays``, else one year);
        ``compute_type`` is also the application build's (default: team default, else ``SMALL``); the
        others apply to the infrastructure pipeline. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: pipelines.IFileSetProducer,
        targets: Sequence[DeploymentTarget],
        application_name: str,
        application_source: ApplicationSource,
        synth: pipelines.IFileSetProducer | None = None,
        synth_commands: Sequence[str] | None = None,
        app_dir: str | None = None,
        pipeline_name: str | None = None,
        build: ApplicationBuild | None = None,
        flink: FlinkSettings | None = None,
        initial_code: FlinkCode | None = None,
        stream_shard_count: int | None = 1,
        stream_retention: cdk.Duration | None = None,
        update_timeout: cdk.Duration | None = None,
        start_application: bool = True,
        release_prefix: str = "builds/",
        application_pipeline_name: str | None = None,
        extend_stack: StackExtension | None = None,
        pipeline_options: PipelineOptions | None = None,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        stack = require_stack_env(where, self)
        require_concrete_env(where, stack, "targets and the update function find each other by name")
        build, flink, timeout = check_props(
            where,
            application_name=application_name,
            application_source=application_source,
            build=build,
            flink=flink,
            initial_code=initial_code,
            stream_shard_count=stream_shard_count,
            stream_retention=stream_retention,
            update_timeout=update_timeout,
            start_application=start_application,
            release_prefix=release_prefix,
            pipeline_name=pipeline_name,
            application_pipeline_name=application_pipeline_name,
            extend_stack=extend_stack,
        )
        targets = validate_targets(where, targets)
        #: The physical names both pipelines use.
        self.names = KdaNames(application_name, stack.account, stack.region)
        self.names.check(where, targets)
        options = check_pipeline_options(where, pipeline_options)
        synth = self._synth_step(source, synth, synth_commands, app_dir, pipeline_options)
        #: How the application is built.
        self.build = build

        # ------------------------------------------------------------------ infrastructure pipeline
        self._build_pipeline(
            synth=synth,
            pipeline_name=pipeline_name or default_pipeline_name(self, "Infrastructure"),
            targets=targets,
            options=options,
        )
        removal_policy = options.get("removal_policy", cdk.RemovalPolicy.RETAIN)
        retention = resolve_log_retention(self, options.get("log_retention"))
        #: Each target's application stack, by target name.
        self.application_stacks: dict[str, KdaApplicationStack] = {}

        def application_stage(owner: Construct, stage_id: str, target: DeploymentTarget) -> cdk.Stage:
            stage = KdaApplicationStage(
                owner,
                stage_id,
                target=target,
                application_name=self.names.flink_application(target),
                flink=flink,
                initial_code=initial_code,
                release=self.names.release_channel(target, release_prefix),
                flink_role_name=self.names.flink_role(target),
                stream_shard_count=stream_shard_count,
                stream_retention=stream_retention,
                log_retention=retention,
                removal_policy=removal_policy,
            )
            if extend_stack is not None:
                extend_stack(stage.stack, target)
            self.application_stacks[target.name] = stage.stack
            return stage

        self._deploy_targets(targets, application_stage)

        # ------------------------------------------------------------------ application pipeline
        parts = application_pipeline(
            Construct(self, "Application"),
            ApplicationSettings(
                where=where,
                names=self.names,
                targets=targets,
                source=application_source,
                build=build,
                prefix=release_prefix,
                pipeline_name=application_pipeline_name or default_pipeline_name(self, "Application"),
                timeout_seconds=timeout,
                start_application=start_application,
                allow_non_restored_state=flink.allow_non_restored_state,
                compute_type=resolve_compute_type(self, options.get("compute_type")) or codebuild.ComputeType.SMALL,
                retention=retention,
                removal_policy=removal_policy,
            ),
            access_logs=self.secure_pipeline.access_log_bucket,
            log_group=self.secure_pipeline.log_group,
            logs_key=self.secure_pipeline.logs_key,
        )
        self.test_reports.update(parts.test_reports)
        #: The application pipeline (plain CodePipeline V2; escape hatch: ``add_stage(...)``).
        self.application_pipeline = parts.plain.pipeline
        #: Key of the application pipeline's artifacts, its build and the release bucket.
        self.release_key = parts.release_key
        #: The versioned bucket every release is kept in (``<prefix><commit>/<execution id>/<file>``).
        self.release_bucket = parts.release_bucket
        #: The CodeBuild project: build, test, publish the release.
        self.build_project = parts.build_project
        #: The update function (``runtime/kda_update.py``).
        self.update_function = parts.update.function
        #: Where update invocations that could not report go (a queue), the alarm on it and its topic.
        self.update_failures = parts.update.failures
        #: The role CodePipeline invokes the update function with: it trusts only the application pipeline's role.
        self.update_invoke_role = parts.invoke_role
        #: The update actions, by target name.
        self.update_actions = parts.update_actions
