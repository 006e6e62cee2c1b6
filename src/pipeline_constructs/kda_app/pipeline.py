"""KdaAppPipeline: the "Automate deployment and version updates for Amazon Kinesis Data Analytics
applications with CodePipeline and the AWS CDK" post as one construct, for both of its teams.

* Infrastructure pipeline (platform team; CDK Pipelines, self-mutating)::

      Source -> Build (cdk synth) -> UpdatePipeline -> Assets
             -> <target 1> (e.g. Dev)  -> <target 2> (e.g. Prod: PermissionCheck -> PromoteToProd -> deploy)

  Each target gets a :class:`KdaApplicationStack`: KMS-encrypted Kinesis stream, Flink application
  (checkpoints, snapshots, restore from latest snapshot, system rollback, logging, property groups),
  its least-privilege service role, and the role the application pipeline deploys releases with.

* Application pipeline (data engineers; plain CodePipeline V2)::

      Source -> Build (mvn -B package + JUnit report; upload to the versioned release bucket under
                builds/<commit>/<execution id>/; write kda-release.json)
             -> <target 1>: UpdateApplication -> <target 2>: Approve -> UpdateApplication

  The update action is a Lambda function (``runtime/kda_update.py``) that checks the application's
  status, waits through continuation tokens while it is busy, calls UpdateApplication with the
  release's key **and object version** and the ConditionalToken, keeps state (snapshots on, restore
  from the latest snapshot), waits for the result and always reports it to CodePipeline.

Why the application pipeline is a plain ``codepipeline.Pipeline`` and not CDK Pipelines: it deploys
no CloudFormation. CDK Pipelines is built around a synth step that produces a cloud assembly and
around stack deployments; a release of a Flink application is a JAR and an API call. A CDK Pipelines
pipeline would add a synth action, a self-mutation action and asset actions to every release (three
CodeBuild cold starts) for nothing it deploys. It is hardened with the same core pieces instead:
KMS-encrypted, versioned artifact bucket with access logs, encrypted CodeBuild logs, report group,
least-privilege roles.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct, IConstruct

from pipeline_constructs.core.compliance import acknowledge, acknowledge_all, in_packs
from pipeline_constructs.core.compliance.reasons import describe_star_statements, reason
from pipeline_constructs.core.options import (
    check_pipeline_options,
    default_synth_commands,
    pipeline_cli_version,
    require_synth,
)
from pipeline_constructs.core.pipeline import DEFAULT_BUILD_IMAGE, SecurePipeline
from pipeline_constructs.core.pipeline_jobs import (
    JobFailures,
    acknowledge_claims,
    claim_statements,
    claims_prefix,
    expire_claims,
    job_failures,
    job_function_asset_excludes,
    job_function_timeout,
    policy_environment,
)
from pipeline_constructs.core.private.buckets import secure_bucket
from pipeline_constructs.core.private.defaults import resolve_compute_type, resolve_log_retention
from pipeline_constructs.core.private.encryption import encrypted_log_group, new_key
from pipeline_constructs.core.private.iam_idioms import (
    acknowledge_cdk_idioms,
    acknowledge_function_outside_vpc,
    at_synth,
    flatten_cfn_reference,
    stack_constructs,
)
from pipeline_constructs.core.private.naming import default_pipeline_name
from pipeline_constructs.core.reports import TestReportFormat, TestReports
from pipeline_constructs.core.targets import DeploymentTarget, validate_targets
from pipeline_constructs.core.validation import (
    invalid,
    require_bool,
    require_callable,
    require_commands,
    require_concrete_env,
    require_duration,
    require_enum,
    require_instance,
    require_int,
    require_pipeline_name,
    require_stack_env,
    require_str,
)
from pipeline_constructs.kda_app.application_stack import (
    RELEASE_PREFIX_PATTERN,
    KdaApplicationStack,
    KdaApplicationStage,
    ReleaseChannel,
)
from pipeline_constructs.kda_app.flink import FlinkCode, FlinkSettings
from pipeline_constructs.kda_app.sources import ApplicationBuild, ApplicationSource
from pipeline_constructs.stages.security_gated import SecurityGatedStage, add_target_stage
from pipeline_constructs.steps.lambda_invoke import role_arn_principal

__all__ = ["KdaAppPipeline", "KdaNames", "StackExtension"]

#: Directory of the Lambda handlers; only ``kda_update.py`` is packaged. Construct code never imports
#: the handler (it needs boto3, a runtime-only package): the values both sides agree on are below and a
#: test checks they equal the handler's.
RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime"
#: The release manifest the build writes and the update handler reads (``runtime/kda_update.py``).
MANIFEST_NAME = "kda-release.json"
#: The update action's default and longest wait for an application (``runtime/kda_update.py``).
DEFAULT_TIMEOUT_SECONDS = 1800
MAX_TIMEOUT_SECONDS = 3600
_APPLICATION_NAME = re.compile(r"[a-z]([a-z0-9-]{0,38}[a-z0-9])?")
# Kinesis Data Streams retention: 24 hours to 365 days.
_MIN_STREAM_RETENTION = 24 * 3600
_MAX_STREAM_RETENTION = 8760 * 3600
#: Where the update function's job claims go in the application pipeline's artifact bucket.
_CLAIMS_PREFIX = claims_prefix("kda-update")
#: The update function's timeout: one invocation makes at most 10 AWS calls (claim and its read, the
#: artifact, the release HEAD, AssumeRole, DescribeApplication, a snapshot page, Update/StartApplication,
#: the claim record, one spare), each at its worst case (4 attempts of 3 + 8 s, backoff), plus the
#: watchdog's margin for sending the result: 9 minutes. A normal invocation takes a few seconds.
UPDATE_FUNCTION_TIMEOUT = job_function_timeout(10)

#: ``(stack, target) -> None``: add resources to a target's application stack before it is deployed.
StackExtension = Callable[[KdaApplicationStack, DeploymentTarget], None]

# Uploads the one build output to the release bucket under a key naming the commit and the pipeline
# execution, and writes the release manifest (bucket, key, object version, sha256) for the update action.
PUBLISH_SCRIPT = r"""(
set -eu
file=""
for f in $ARTIFACT_GLOB; do
  [ -f "$f" ] || continue
  case "$(basename "$f")" in original-*) continue ;; esac
  if [ -n "$file" ]; then echo "more than one build output matches $ARTIFACT_GLOB: $file $f" >&2; exit 1; fi
  file="$f"
done
if [ -z "$file" ]; then echo "no build output matches $ARTIFACT_GLOB in $(pwd)" >&2; exit 1; fi
commit="${CODEBUILD_RESOLVED_SOURCE_VERSION:-unknown}"
key="${RELEASE_PREFIX}${commit}/${PIPELINE_EXECUTION_ID}/$(basename "$file")"
sha=$(sha256sum "$file" | cut -d' ' -f1)
version=$(aws s3api put-object --bucket "$RELEASE_BUCKET" --key "$key" --body "$file" \
  --metadata "sha256=$sha,commit=$commit,pipeline-execution-id=$PIPELINE_EXECUTION_ID" \
  --query VersionId --output text)
case "$version" in ""|None|null) echo "the release bucket returned no object version" >&2; exit 1 ;; esac
printf '{"bucket":"%s","key":"%s","versionId":"%s","sha256":"%s","commit":"%s","pipelineExecutionId":"%s"}\n' \
  "$RELEASE_BUCKET" "$key" "$version" "$sha" "$commit" "$PIPELINE_EXECUTION_ID" > "$CODEBUILD_SRC_DIR/MANIFEST"
cat "$CODEBUILD_SRC_DIR/MANIFEST"
)""".replace("MANIFEST", MANIFEST_NAME)


@dataclass(frozen=True)
class KdaNames:
    """The physical names both pipelines agree on, derived from one application name (no exports).

    :param application_name: lowercase letters, digits and ``-``.
    :param account: the pipeline account.
    :param region: the pipeline's (and the applications') region.
    """

    application_name: str
    account: str
    region: str

    @property
    def release_bucket(self) -> str:
        return f"{self.application_name}-releases-{self.account}-{self.region}"

    @property
    def update_function_role(self) -> str:
        return f"{self.application_name}-kda-update-{self.region}"

    def flink_application(self, target: DeploymentTarget) -> str:
        return f"{self.application_name}-{target.name}"

    def flink_role(self, target: DeploymentTarget) -> str:
        return f"{self.application_name}-{target.name}-flink"

    def updater_role(self, target: DeploymentTarget) -> str:
        return f"{self.application_name}-{target.name}-updater"

    def updater_role_arn(self, target: DeploymentTarget) -> str:
        return f"arn:{cdk.Aws.PARTITION}:iam::{target.account}:role/{self.updater_role(target)}"

    def flink_role_arn(self, target: DeploymentTarget) -> str:
        return f"arn:{cdk.Aws.PARTITION}:iam::{target.account}:role/{self.flink_role(target)}"

    def release_channel(self, target: DeploymentTarget, prefix: str) -> ReleaseChannel:
        return ReleaseChannel(
            bucket_name=self.release_bucket,
            prefix=prefix,
            account=self.account,
            region=self.region,
            update_function_role_name=self.update_function_role,
            updater_role_name=self.updater_role(target),
        )


class KdaAppPipeline(Construct):
    """Infrastructure and application delivery of a Managed Service for Apache Flink application.

    Put it in a stack with a concrete ``env`` (the pipeline account and region). Every target must be
    in that region (Managed Flink reads its code from a bucket in its own region); targets may be in
    other accounts. A target with ``security_gated`` deploys its infrastructure through
    :class:`SecurityGatedStage`; a target with ``manual_approval`` gets an approval before its
    infrastructure deployment and before every release deployed to it.

    :param application_name: base name of everything physical: applications ``<name>-<target>``,
        roles, the release bucket ``<name>-releases-<account>-<region>``. Lowercase letters, digits, ``-``
        (2-40 characters, starting with a letter).
    :param targets: where to deploy, in order (e.g. Dev, then Prod). At least one, unique names.
    :param application_source: where the application's code comes from (data engineers' repository).
    :param infrastructure_source: where the CDK app comes from (platform team's repository); the
        synth action runs ``synth_commands`` in it. Give this or ``synth``.
    :param synth: a complete synth step instead of ``infrastructure_source`` + ``synth_commands``.
    :param synth_commands: commands producing ``cdk.out``.
        Default: ``["pip install -r requirements.txt", "npx -y aws-cdk@<cli version> synth"]``.
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
    :param pipeline_name: name of the infrastructure pipeline. Default: ``<stack>-<id>-Infrastructure``.
    :param application_pipeline_name: name of the application pipeline. Default: ``<stack>-<id>-Application``.
    :param extend_stack: ``(stack, target) -> None`` called for each target's application stack before it
        is added to the pipeline (add sinks, alarms, a data generator...). Default: none.
    :param compute_type: CodeBuild compute of the application build. Default: team default
        ``pipeline-constructs:computeType``, else ``SMALL``.
    :param log_retention: retention of the update function's and the applications' logs. Default: team
        default ``pipeline-constructs:logRetentionDays``, else one year.
    :param removal_policy: what happens to buckets, keys, logs, streams and applications on deletion.
        Default: ``RETAIN``.
    :param pipeline_options: other :class:`SecurePipeline` keyword arguments for the infrastructure
        pipeline. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        application_name: str,
        targets: Sequence[DeploymentTarget],
        application_source: ApplicationSource,
        infrastructure_source: pipelines.IFileSetProducer | None = None,
        synth: pipelines.IFileSetProducer | None = None,
        synth_commands: Sequence[str] | None = None,
        build: ApplicationBuild | None = None,
        flink: FlinkSettings | None = None,
        initial_code: FlinkCode | None = None,
        stream_shard_count: int | None = 1,
        stream_retention: cdk.Duration | None = None,
        update_timeout: cdk.Duration | None = None,
        start_application: bool = True,
        release_prefix: str = "builds/",
        pipeline_name: str | None = None,
        application_pipeline_name: str | None = None,
        extend_stack: StackExtension | None = None,
        compute_type: codebuild.ComputeType | None = None,
        log_retention: logs.RetentionDays | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        pipeline_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        stack = require_stack_env(where, self)
        require_concrete_env(where, stack, "targets and the update function find each other by name")
        require_str(
            where,
            "application_name",
            application_name,
            pattern=_APPLICATION_NAME,
            allowed="expected lowercase letters, digits and '-', starting with a letter (2-40 characters)",
        )
        targets = validate_targets(where, targets)
        names = KdaNames(application_name, stack.account, stack.region)
        _validate_names(where, names, targets)
        require_instance(
            where,
            "application_source",
            application_source,
            ApplicationSource,
            "expected an ApplicationSource, e.g. ApplicationSource.connection('org/repo', 'main', ...)",
        )
        if (infrastructure_source is None) == (synth is None):
            raise invalid(
                where,
                "infrastructure_source",
                infrastructure_source,
                "give exactly one of infrastructure_source (a CodePipelineSource) and synth (a synth step)",
            )
        if synth is not None:
            require_synth(where, "synth", synth)
            if synth_commands is not None:
                raise invalid(where, "synth_commands", synth_commands, "give synth or synth_commands, not both")
        else:
            require_synth(where, "infrastructure_source", infrastructure_source)
        if synth_commands is not None:
            synth_commands = require_commands(where, "synth_commands", synth_commands)
        build = build if build is not None else ApplicationBuild.maven()
        require_instance(
            where,
            "build",
            build,
            ApplicationBuild,
            "expected ApplicationBuild.maven(...) or ApplicationBuild.python_zip(...)",
        )
        flink = flink if flink is not None else FlinkSettings()
        require_instance(where, "flink", flink, FlinkSettings, "expected a FlinkSettings")
        if initial_code is not None:
            require_instance(
                where, "initial_code", initial_code, FlinkCode, "expected a FlinkCode, e.g. FlinkCode.from_asset(...)"
            )
        if stream_shard_count is not None:
            require_int(where, "stream_shard_count", stream_shard_count, minimum=1)
        if stream_retention is not None:
            require_duration(
                where,
                "stream_retention",
                stream_retention,
                minimum_seconds=_MIN_STREAM_RETENTION,
                maximum_seconds=_MAX_STREAM_RETENTION,
                whole="hours",
            )
        if update_timeout is not None:
            require_duration(
                where,
                "update_timeout",
                update_timeout,
                minimum_seconds=60,
                maximum_seconds=MAX_TIMEOUT_SECONDS,
                whole="seconds",
            )
        timeout = int((update_timeout or cdk.Duration.seconds(DEFAULT_TIMEOUT_SECONDS)).to_seconds())
        require_bool(where, "start_application", start_application)
        require_str(
            where,
            "release_prefix",
            release_prefix,
            pattern=RELEASE_PREFIX_PATTERN,
            allowed="expected a relative key prefix ending in '/', such as 'builds/' (no leading '/')",
        )
        require_pipeline_name(where, "pipeline_name", pipeline_name)
        require_pipeline_name(where, "application_pipeline_name", application_pipeline_name)
        if extend_stack is not None:
            require_callable(where, "extend_stack", extend_stack, "expected a (stack, target) -> None callable")
        compute = resolve_compute_type(self, compute_type)
        require_enum(where, "removal_policy", removal_policy, cdk.RemovalPolicy)
        extra_options = check_pipeline_options(
            where,
            pipeline_options,
            reserved={"log_retention": "use the log_retention prop", "removal_policy": "use the removal_policy prop"},
        )
        pipeline_name = pipeline_name or default_pipeline_name(self, "Infrastructure")
        application_pipeline_name = application_pipeline_name or default_pipeline_name(self, "Application")
        channel_check = names.release_channel(targets[0], release_prefix)  # validates the prefix
        retention = resolve_log_retention(self, log_retention)
        #: The physical names both pipelines use.
        self.names = names
        #: How the application is built.
        self.build = build

        # ------------------------------------------------------------------ infrastructure pipeline
        if synth is None:
            synth = pipelines.ShellStep(
                "Synth",
                input=infrastructure_source,
                commands=list(synth_commands or default_synth_commands(pipeline_cli_version(self, pipeline_options))),
            )
        #: The hardened infrastructure pipeline (artifact bucket, keys, logs).
        self.secure_pipeline = SecurePipeline(
            self,
            "Infrastructure",
            synth=synth,
            pipeline_name=pipeline_name,
            targets=targets,
            log_retention=log_retention,
            removal_policy=removal_policy,
            **extra_options,
        )
        #: The infrastructure pipeline (CDK Pipelines; escape hatch: add waves, stages, steps before synth).
        self.pipeline: pipelines.CodePipeline = self.secure_pipeline.pipeline
        #: Each target's application stage, by target name.
        self.stages: dict[str, KdaApplicationStage] = {}
        #: Stage deployments of the infrastructure pipeline, by target name.
        self.deployments: dict[str, pipelines.StageDeployment] = {}
        #: Security gates, by target name.
        self.gates: dict[str, SecurityGatedStage] = {}
        stage_scope = cdk.Stage.of(self) or self
        for target in targets:
            stage = KdaApplicationStage(
                stage_scope,
                f"{application_name}-{target.name}",
                target=target,
                stage_name=target.name,
                application_name=names.flink_application(target),
                flink=flink,
                initial_code=initial_code,
                release=names.release_channel(target, release_prefix),
                flink_role_name=names.flink_role(target),
                stream_shard_count=stream_shard_count,
                stream_retention=stream_retention,
                log_retention=retention,
                removal_policy=removal_policy,
            )
            if extend_stack is not None:
                extend_stack(stage.stack, target)
            self.stages[target.name] = stage
            self.deployments[target.name] = self._deploy_infrastructure(target, stage)

        # ------------------------------------------------------------------ application pipeline
        self._build_application_pipeline(
            names=names,
            targets=targets,
            source=application_source,
            build=build,
            flink=flink,
            prefix=channel_check.prefix,
            timeout=timeout,
            start_application=start_application,
            pipeline_name=application_pipeline_name,
            compute_type=compute or codebuild.ComputeType.SMALL,
            retention=retention,
            removal_policy=removal_policy,
        )
        cdk.Aspects.of(self).add(_AcknowledgeApplicationPipeline(self))

    def _deploy_infrastructure(self, target: DeploymentTarget, stage: cdk.Stage) -> pipelines.StageDeployment:
        deployment, gate = add_target_stage(self, self.pipeline, target, stage)
        if gate is not None:
            self.gates[target.name] = gate
        return deployment

    def _build_application_pipeline(
        self,
        *,
        names: KdaNames,
        targets: Sequence[DeploymentTarget],
        source: ApplicationSource,
        build: ApplicationBuild,
        flink: FlinkSettings,
        prefix: str,
        timeout: int,
        start_application: bool,
        pipeline_name: str | None,
        compute_type: codebuild.ComputeType,
        retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        scope = Construct(self, "Application")
        secure = self.secure_pipeline
        #: Key of the application pipeline's artifacts, its build and the release bucket.
        self.release_key = new_key(
            scope,
            "ReleaseKey",
            description=f"Application artifacts and releases of {names.application_name}",
            removal_policy=removal_policy,
        )
        artifacts = secure_bucket(
            scope,
            "Artifacts",
            encryption_key=self.release_key,
            server_access_logs_bucket=secure.access_log_bucket,
            server_access_logs_prefix="application-artifacts/",
            removal_policy=removal_policy,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(30))],
            replication_reason=reason("artifact-store-not-replicated", days="30"),
        )
        #: The versioned bucket every release is kept in (``<prefix><commit>/<execution id>/<file>``).
        self.release_bucket = secure_bucket(
            scope,
            "Releases",
            encryption_key=self.release_key,
            server_access_logs_bucket=secure.access_log_bucket,
            server_access_logs_prefix="releases/",
            versioned=True,
            removal_policy=removal_policy,
            replication_reason=reason("release-bucket-not-replicated"),
        )
        bucket = self.release_bucket.node.default_child
        assert isinstance(bucket, s3.CfnBucket)
        bucket.bucket_name = names.release_bucket  # a plain name the target stacks know: no export
        bucket_arn = f"arn:{cdk.Aws.PARTITION}:s3:::{names.release_bucket}"
        self._release_objects = f"{bucket_arn}/{prefix}*"
        self._share_releases(targets, names, prefix, bucket_arn)

        base_directory = build.report_base_directory()
        #: The test report group (``None`` when the build has no tests).
        self.test_reports: TestReports | None = (
            TestReports(
                scope,
                "Tests",
                base_directory=base_directory,
                format=TestReportFormat.JUNIT_XML,
                files=build.test_report_files,
                removal_policy=removal_policy,
            )
            if base_directory is not None
            else None
        )
        #: The CodeBuild project: build, test, publish the release.
        self.build_project = codebuild.PipelineProject(
            scope,
            "Build",
            description=f"Builds, tests and publishes releases of {names.application_name}",
            build_spec=codebuild.BuildSpec.from_object(self._build_spec(build)),
            environment=codebuild.BuildEnvironment(build_image=DEFAULT_BUILD_IMAGE, compute_type=compute_type),
            environment_variables={
                "RELEASE_BUCKET": codebuild.BuildEnvironmentVariable(value=names.release_bucket),
                "RELEASE_PREFIX": codebuild.BuildEnvironmentVariable(value=prefix),
                "ARTIFACT_GLOB": codebuild.BuildEnvironmentVariable(value=build.artifact),
            },
            encryption_key=self.release_key,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=secure.log_group)
            ),
            cache=codebuild.Cache.local(codebuild.LocalCacheMode.CUSTOM),
            timeout=cdk.Duration.hours(1),
        )
        for statement in self.test_reports.policy_statements() if self.test_reports else []:
            self.build_project.add_to_role_policy(statement)
        self.build_project.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[self._release_objects])
        )
        self.build_project.add_to_role_policy(
            iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[self.release_key.key_arn])
        )

        #: The update function (``runtime/kda_update.py``).
        self.update_function = self._update_function(
            scope, names, targets, prefix, bucket_arn, retention, removal_policy, artifacts
        )

        source_output = codepipeline.Artifact("Source")
        release_output = codepipeline.Artifact("Release")
        stages = [
            codepipeline.StageProps(stage_name="Source", actions=[source.action(source_output)]),
            codepipeline.StageProps(
                stage_name="Build",
                actions=[
                    actions.CodeBuildAction(
                        action_name="BuildTestPublish",
                        project=self.build_project,
                        input=source_output,
                        outputs=[release_output],
                        environment_variables={
                            "PIPELINE_EXECUTION_ID": codebuild.BuildEnvironmentVariable(
                                value="#{codepipeline.PipelineExecutionId}"
                            )
                        },
                    )
                ],
            ),
        ]
        #: The role CodePipeline invokes the update function with: it trusts only the application pipeline's role.
        self.update_invoke_role = iam.Role(
            scope,
            "UpdateInvokeRole",
            assumed_by=role_arn_principal(lambda: self.application_pipeline.role),
            description=f"The application pipeline of {names.application_name} invokes the update function with this",
        )
        #: The update actions, by target name.
        self.update_actions: dict[str, actions.LambdaInvokeAction] = {}
        for target in targets:
            stage_actions: list[codepipeline.IAction] = []
            if target.manual_approval:
                stage_actions.append(
                    actions.ManualApprovalAction(
                        action_name="Approve",
                        additional_information=target.approval_comment
                        or f"Deploy this release of {names.application_name} to {target.name}.",
                        run_order=1,
                    )
                )
            update = actions.LambdaInvokeAction(
                action_name="UpdateApplication",
                lambda_=self.update_function,
                inputs=[release_output],
                # The application selects a target of the function's configuration; its role, region and the
                # release bucket come from that configuration, never from the event.
                user_parameters={
                    "applicationName": names.flink_application(target),
                    "timeoutSeconds": timeout,
                    "startApplication": start_application,
                    "allowNonRestoredState": flink.allow_non_restored_state,
                },
                role=self.update_invoke_role,
                run_order=len(stage_actions) + 1,
            )
            stage_actions.append(update)
            self.update_actions[target.name] = update
            stages.append(codepipeline.StageProps(stage_name=target.name, actions=stage_actions))
        #: The application pipeline (plain CodePipeline V2).
        self.application_pipeline = codepipeline.Pipeline(
            scope,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_type=codepipeline.PipelineType.V2,
            artifact_bucket=artifacts,
            restart_execution_on_update=False,
            stages=stages,
        )

    def _share_releases(
        self, targets: Sequence[DeploymentTarget], names: KdaNames, prefix: str, bucket_arn: str
    ) -> None:
        """Let each target's Flink service role (and only it) read releases, also across accounts."""
        by_account: dict[str, list[str]] = {}
        for target in targets:
            by_account.setdefault(target.account, []).append(names.flink_role_arn(target))
        for account, roles in sorted(by_account.items()):
            # Account principal + aws:PrincipalArn: the roles may not exist yet when this stack deploys.
            principal_condition = {"ArnEquals": {"aws:PrincipalArn": roles}}
            self.release_bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"FlinkReadsReleases{account}",
                    principals=[iam.AccountPrincipal(account)],
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[f"{bucket_arn}/{prefix}*"],
                    conditions=principal_condition,
                )
            )
            self.release_key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"FlinkDecryptsReleases{account}",
                    principals=[iam.AccountPrincipal(account)],
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={
                        **principal_condition,
                        "StringEquals": {
                            "kms:ViaService": f"s3.{names.region}.amazonaws.com",
                            "kms:EncryptionContext:aws:s3:arn": bucket_arn,
                        },
                    },
                )
            )

    def _build_spec(self, build: ApplicationBuild) -> dict[str, Any]:
        install: dict[str, Any] = {"runtime-versions": dict(build.runtime_versions)}
        if build.install_commands:
            install["commands"] = [f'cd "$CODEBUILD_SRC_DIR/{build.project_directory}"', *build.install_commands]
        spec: dict[str, Any] = {
            "version": "0.2",
            "env": {"shell": "bash"},
            "phases": {
                "install": install,
                "build": {
                    "commands": [f'cd "$CODEBUILD_SRC_DIR/{build.project_directory}"', *build.commands, PUBLISH_SCRIPT]
                },
            },
            "artifacts": {"files": [MANIFEST_NAME]},
        }
        if self.test_reports is not None:
            spec["reports"] = self.test_reports.build_spec_section()
        if build.cache_paths:
            spec["cache"] = {"paths": list(build.cache_paths)}
        return spec

    def _update_function(
        self,
        scope: Construct,
        names: KdaNames,
        targets: Sequence[DeploymentTarget],
        prefix: str,
        bucket_arn: str,
        retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
        artifacts: s3.Bucket,
    ) -> lambda_.Function:
        #: Where update invocations that could not report go (a queue), the alarm on it and its topic.
        self.update_failures: JobFailures = job_failures(
            scope,
            "UpdateDeadLetters",
            key=self.secure_pipeline.logs_key,
            description=f"Release update function of {names.application_name}",
            removal_policy=removal_policy,
        )
        expire_claims(artifacts, _CLAIMS_PREFIX)
        log_group = encrypted_log_group(
            scope, "UpdateLogs", key=self.secure_pipeline.logs_key, retention=retention, removal_policy=removal_policy
        )
        role = iam.Role(
            scope,
            "UpdateRole",
            role_name=names.update_function_role,
            description=f"Deploys releases of {names.application_name} to its Flink applications",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        policy = iam.ManagedPolicy(
            scope,
            "UpdatePolicy",
            roles=[role],
            description=f"Permissions of the release update function of {names.application_name}",
            statements=[
                iam.PolicyStatement(
                    sid="ReportJobResults",
                    actions=["codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="AssumeTargetUpdaterRoles",
                    actions=["sts:AssumeRole"],
                    resources=sorted({names.updater_role_arn(t) for t in targets}),
                ),
                iam.PolicyStatement(
                    sid="CheckReleases",
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[f"{bucket_arn}/{prefix}*"],
                ),
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
                *self.update_failures.statements(),
                *claim_statements(artifacts, _CLAIMS_PREFIX, self.release_key),
            ],
        )
        acknowledge_claims(policy, artifacts, _CLAIMS_PREFIX)
        stack = cdk.Stack.of(scope)
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            reason("resource-star", what=describe_star_statements([stack.resolve(policy.document.to_json())])),
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{flatten_cfn_reference(stack.resolve(f'{bucket_arn}/{prefix}*'))}]",
            reason(
                "prefix-objects",
                prefix=prefix,
                access="read",
                why="it checks (HEAD) that a release exists before deploying it; one key per build",
            ),
        )
        config = {
            "releaseBucket": names.release_bucket,
            "releaseBucketArn": bucket_arn,
            "releasePrefix": prefix,
            "manifestName": MANIFEST_NAME,
            "claimsPrefix": _CLAIMS_PREFIX,
            "applications": {
                names.flink_application(t): {"region": t.region, "roleArn": names.updater_role_arn(t)} for t in targets
            },
        }
        # Lambda allows 4 KB for all environment variables together; unresolved tokens only overestimate.
        if len(json.dumps(config)) + len(json.dumps(policy_environment(artifacts))) > 4096:
            raise invalid(
                self.node.path,
                "targets",
                f"<{len(targets)} targets>",
                "too many targets for the update function's configuration (Lambda's 4 KB of environment variables)",
            )
        function = lambda_.Function(
            scope,
            "UpdateFunction",
            description=f"Deploys releases of {names.application_name} (CodePipeline Lambda action)",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="kda_update.handler",
            code=lambda_.Code.from_asset(str(RUNTIME_DIR), exclude=job_function_asset_excludes("kda_update.py")),
            # Without policy updates: its permissions are all in the managed policy above (the
            # LambdaInvokeAction's own '*' grant of the same two actions is not needed twice).
            role=role.without_policy_updates(),
            timeout=UPDATE_FUNCTION_TIMEOUT,
            memory_size=256,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                **policy_environment(artifacts),
                # What the function trusts, fixed at synth: the release bucket and prefix, the applications it
                # deploys to and the role for each (the event only names one of these applications).
                "KDA_UPDATE_CONFIG": cdk.Stack.of(scope).to_json_string(config),
            },
            # An invocation that fails (a result it could not send, a crash) goes to the queue; its alarm fires.
            **self.update_failures.function_props(),  # type: ignore[arg-type]
        )
        function.node.add_dependency(policy)
        self.update_failures.acknowledge_for(function)
        _acknowledge_update_function(function, role)
        return function


def _validate_names(where: str, names: KdaNames, targets: Sequence[DeploymentTarget]) -> None:
    if len(names.release_bucket) > 63:
        raise invalid(
            where,
            "application_name",
            names.application_name,
            f"too long: the release bucket name {names.release_bucket!r} exceeds 63 characters",
        )
    if len(names.update_function_role) > 64:
        raise invalid(where, "application_name", names.application_name, "too long for IAM role names (64 characters)")
    for i, target in enumerate(targets):
        if target.region != names.region:
            raise invalid(
                where,
                f"targets[{i}].region",
                target.region,
                f"expected the pipeline's region {names.region!r}: Managed Flink reads its code from a bucket in "
                "its own region (deploy one KdaAppPipeline per region)",
            )
        for name in (names.flink_role(target), names.updater_role(target)):
            if len(name) > 64:
                raise invalid(
                    where,
                    f"targets[{i}].name",
                    target.name,
                    f"application_name + target name too long: IAM role name {name!r} exceeds 64 characters",
                )


def _acknowledge_update_function(function: lambda_.Function, role: iam.Role) -> None:
    """What the update function leaves as findings, once the pipeline's actions that invoke it exist."""
    acknowledge_function_outside_vpc(function, role=role)
    at_synth(function, "PipelineConstructsJobFunction", lambda: _acknowledge_job_function(function))


def _acknowledge_job_function(function: lambda_.Function) -> None:
    """DLQ, tracing and concurrency of a function only CodePipeline Lambda actions invoke (named at synth)."""
    cfn = function.node.default_child
    assert isinstance(cfn, lambda_.CfnFunction)
    stack = cdk.Stack.of(function)
    logical = stack.resolve(cfn.logical_id)
    actions: list[str] = []
    for child in stack_constructs(stack, (codepipeline.CfnPipeline,)):
        assert isinstance(child, codepipeline.CfnPipeline)
        for stage in stack.resolve(child.stages) or []:
            for action in stage.get("actions") or []:
                name = (action.get("configuration") or {}).get("FunctionName")
                if (action.get("actionTypeId") or {}).get("provider") == "Lambda" and name == {"Ref": logical}:
                    actions.append(f"{stage.get('name')}/{action.get('name')}")
    if not actions:
        return
    text = reason("codepipeline-job-function-with-dlq", actions=", ".join(actions))
    acknowledge_all(
        cfn,
        [
            *in_packs("LambdaConcurrency", ("NIST.800.53.R5", "HIPAA.Security"), text),
            ("Serverless-LambdaTracing", text),
        ],
    )


@jsii.implements(cdk.IAspect)
class _AcknowledgeApplicationPipeline:
    """At synth, acknowledge CDK's idioms in the roles CodePipeline and CodeBuild generate (application pipeline)."""

    def __init__(self, owner: KdaAppPipeline) -> None:
        self._owner = owner
        self._done = False

    def visit(self, node: IConstruct) -> None:
        if self._done or node is not self._owner:
            return
        self._done = True
        scope = node.node.find_child("Application")
        for child in scope.node.find_all():
            if (
                isinstance(child, iam.CfnPolicy)
                and child.node.scope is not None
                and child.node.scope.node.id == "DefaultPolicy"
            ):
                _acknowledge_generated_policy(child, self._owner._release_objects)
            elif isinstance(child, codebuild.CfnProject):
                acknowledge_all(
                    child,
                    in_packs(
                        "CodeBuildProjectSourceRepoUrl",
                        ("HIPAA.Security", "PCI.DSS.321"),
                        reason("codebuild-pipeline-source", type="CODEPIPELINE"),
                    ),
                )


def _acknowledge_generated_policy(policy: iam.CfnPolicy, release_objects: str) -> None:
    """Acknowledge the wildcards of a generated ``DefaultPolicy`` that are idioms, each with its catalogue reason.

    The application pipeline's own case comes first (the build's release upload); then CDK's idioms
    (:func:`~pipeline_constructs.core.private.iam_idioms.acknowledge_cdk_idioms`). Anything else stays a finding.
    """
    stack = cdk.Stack.of(policy)
    release_finding = f"Resource::{flatten_cfn_reference(stack.resolve(release_objects))}"
    prefix = release_finding.split("/", 1)[1].removesuffix("*") if "/" in release_finding else ""

    def release_upload(finding: str, statements: list[dict[str, Any]]) -> str | None:
        actions_ = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
        if finding == release_finding and actions_ == {"s3:PutObject"}:
            return reason(
                "prefix-objects",
                prefix=prefix,
                access="write",
                why="the build uploads each release to a new key naming its commit and pipeline execution",
            )
        return None

    acknowledge_cdk_idioms(policy, extra=release_upload)
