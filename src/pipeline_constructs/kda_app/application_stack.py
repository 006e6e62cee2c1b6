"""The application stack one target gets from the infrastructure pipeline: stream, Flink app, roles."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_logs as logs
from constructs import Construct

from pipeline_constructs.core.compliance import acknowledge
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.private.defaults import resolve_log_retention
from pipeline_constructs.core.private.encryption import new_key
from pipeline_constructs.core.private.iam_idioms import flatten_cfn_reference
from pipeline_constructs.core.targets import DeploymentTarget
from pipeline_constructs.core.validation import (
    IAM_ROLE_NAME_PATTERN,
    child_path,
    require_account,
    require_duration,
    require_enum,
    require_iam_role_name,
    require_instance,
    require_int,
    require_region,
    require_stack_name,
    require_str,
)
from pipeline_constructs.kda_app.code import FlinkCode
from pipeline_constructs.kda_app.flink import FlinkApplication, FlinkSettings

__all__ = [
    "INPUT_PROPERTY_GROUP",
    "RELEASE_PREFIX_PATTERN",
    "KdaApplicationStack",
    "KdaApplicationStage",
    "ReleaseChannel",
    "check_stream",
]

#: Property group through which the application learns its input stream (``stream.name``, ``stream.arn``,
#: ``aws.region``).
INPUT_PROPERTY_GROUP = "InputStream"

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
#: A release key prefix: relative, ``/``-separated S3-safe segments, ending in ``/`` (e.g. ``builds/``).
RELEASE_PREFIX_PATTERN = re.compile(r"[A-Za-z0-9!_.()'-]{1,100}(/[A-Za-z0-9!_.()'-]{1,100}){0,9}/")
_APPLICATION_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
# Kinesis Data Streams retention: 24 hours to 365 days.
_MIN_STREAM_RETENTION = 24 * 3600
_MAX_STREAM_RETENTION = 8760 * 3600
# What the updater role may do to its one application.
UPDATER_ACTIONS = (
    "kinesisanalytics:DescribeApplication",
    "kinesisanalytics:UpdateApplication",
    "kinesisanalytics:StartApplication",
    "kinesisanalytics:ListApplicationSnapshots",
)


@dataclass(frozen=True)
class ReleaseChannel:
    """How the application pipeline reaches a target's application (plain names: no cross-stack exports).

    :param bucket_name: the versioned release bucket, in the pipeline account.
    :param prefix: key prefix under which every release is stored, ending in ``/`` (e.g. ``builds/``).
    :param account: the pipeline account: owns the bucket, its KMS key and the update function.
    :param region: region of the release bucket (the application's region).
    :param update_function_role_name: name of the update function's role in the pipeline account,
        the only principal the target's updater role trusts.
    :param updater_role_name: name of the role, in the target account, that the update function assumes.
    """

    bucket_name: str
    prefix: str
    account: str
    region: str
    update_function_role_name: str
    updater_role_name: str

    def __post_init__(self) -> None:
        where = "ReleaseChannel"
        require_str(
            where,
            "bucket_name",
            self.bucket_name,
            pattern=_BUCKET_NAME,
            allowed="expected an S3 bucket name (3-63 characters)",
        )
        require_str(
            where,
            "prefix",
            self.prefix,
            pattern=RELEASE_PREFIX_PATTERN,
            allowed="expected a relative key prefix such as 'builds/' (ends with '/')",
        )
        require_account(where, "account", self.account)
        require_region(where, "region", self.region)
        for prop in ("update_function_role_name", "updater_role_name"):
            require_str(
                where,
                prop,
                getattr(self, prop),
                pattern=IAM_ROLE_NAME_PATTERN,
                allowed="expected an IAM role name (1-64 characters from A-Z, a-z, 0-9, '+=,.@_-')",
            )

    def bucket_arn(self) -> str:
        return f"arn:{cdk.Aws.PARTITION}:s3:::{self.bucket_name}"

    def update_function_role_arn(self) -> str:
        return f"arn:{cdk.Aws.PARTITION}:iam::{self.account}:role/{self.update_function_role_name}"


def check_stream(where: str, shard_count: Any, retention: Any) -> None:
    """Check a stream's shard count (at least 1, or ``None``: on-demand) and retention (24 hours to 365 days)."""
    if shard_count is not None:
        require_int(where, "stream_shard_count", shard_count, minimum=1)
    if retention is not None:
        require_duration(
            where,
            "stream_retention",
            retention,
            minimum_seconds=_MIN_STREAM_RETENTION,
            maximum_seconds=_MAX_STREAM_RETENTION,
            whole="hours",
        )


class KdaApplicationStack(cdk.Stack):
    """One target's streaming application: an encrypted Kinesis stream and the Flink application reading it.

    * the Kinesis data stream (SSE-KMS, AWS-managed ``aws/kinesis`` key), passed to the application in the
      property group ``InputStream`` (``stream.name``, ``stream.arn``, ``aws.region``);
    * a rotating customer-managed KMS key for the application's CloudWatch logs;
    * the :class:`FlinkApplication` (created with ``initial_code``; releases are deployed by the
      application pipeline), its service role reading the stream, the code and the releases;
    * with a ``release`` channel: the role the application pipeline's update function assumes,
      allowed to describe, update and start this one application, and nothing else.

    :param application_name: physical name of the Flink application.
    :param flink: how the application runs. Default: ``FlinkSettings()``.
    :param initial_code: code the application is created with. Default: the library's placeholder
        (``FlinkCode.bootstrap()``); the first release replaces it.
    :param release: where releases come from and who deploys them. Default: none (no release access,
        no updater role).
    :param flink_role_name: physical name of the application's service role. Default: generated.
    :param stream_shard_count: shards of the stream (at least 1); ``None`` for on-demand capacity. Default: 1.
    :param stream_retention: how long the stream keeps records (24 hours to 365 days). Default: 24 hours.
    :param log_retention: retention of the application's logs. Default: team default
        ``pipeline-constructs:logRetentionDays``, else one year.
    :param removal_policy: what happens to the stream, key, logs and application on stack deletion.
        Default: ``RETAIN``.
    :param stack_props: other ``cdk.Stack`` keyword arguments (``env``, ``stack_name``, ``description``...).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        application_name: str,
        flink: FlinkSettings | None = None,
        initial_code: FlinkCode | None = None,
        release: ReleaseChannel | None = None,
        flink_role_name: str | None = None,
        stream_shard_count: int | None = 1,
        stream_retention: cdk.Duration | None = None,
        log_retention: logs.RetentionDays | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, id, **stack_props)
        where = self.node.path
        require_str(
            where,
            "application_name",
            application_name,
            pattern=_APPLICATION_NAME,
            allowed="expected 1-128 characters from A-Z, a-z, 0-9, '_.-'",
            tokens=True,
        )
        check_stream(where, stream_shard_count, stream_retention)
        if release is not None:
            require_instance(where, "release", release, ReleaseChannel, "expected a ReleaseChannel")
        if flink is not None:
            require_instance(where, "flink", flink, FlinkSettings, "expected a FlinkSettings")
        if initial_code is not None:
            require_instance(where, "initial_code", initial_code, FlinkCode, "expected a FlinkCode")
        if flink_role_name is not None:
            require_iam_role_name(where, "flink_role_name", flink_role_name)
        require_enum(where, "removal_policy", removal_policy, cdk.RemovalPolicy)
        log_retention = resolve_log_retention(self, log_retention)
        settings = flink if flink is not None else FlinkSettings()

        #: Key of the application's logs.
        self.logs_key = new_key(
            self,
            "LogsKey",
            description=f"Logs of the Flink application {application_name}",
            allow_cloudwatch_logs=True,
            removal_policy=removal_policy,
        )
        #: The input stream.
        self.stream = kinesis.Stream(
            self,
            "Stream",
            # SSE-KMS with the AWS-managed aws/kinesis key (AwsSolutions-KDS3): consumers need no key grant,
            # and a customer-managed key would bill every producer and consumer call.
            encryption=kinesis.StreamEncryption.MANAGED,
            shard_count=stream_shard_count,
            stream_mode=kinesis.StreamMode.PROVISIONED if stream_shard_count else kinesis.StreamMode.ON_DEMAND,
            retention_period=stream_retention or cdk.Duration.hours(24),
            removal_policy=removal_policy,
        )
        groups: dict[str, Mapping[str, str]] = {
            INPUT_PROPERTY_GROUP: {
                "stream.name": self.stream.stream_name,
                "stream.arn": self.stream.stream_arn,
                "aws.region": self.region,
            }
        }
        for group, properties in settings.property_groups.items():
            groups[group] = {**groups.get(group, {}), **properties}
        settings = dataclasses.replace(settings, property_groups=groups)

        #: The Flink application.
        self.application = FlinkApplication(
            self,
            "Application",
            code=initial_code or FlinkCode.bootstrap(),
            settings=settings,
            application_name=application_name,
            role_name=flink_role_name,
            log_encryption_key=self.logs_key,
            log_retention=log_retention,
            description="Deployed by pipeline-constructs KdaAppPipeline",
            removal_policy=removal_policy,
        )
        self.application.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadInputStream",
                actions=[
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary",
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:ListShards",
                ],
                resources=[self.stream.stream_arn],
            )
        )

        #: The role the application pipeline assumes to deploy releases (``None`` without ``release``).
        self.updater_role: iam.Role | None = None
        if release is not None:
            self._grant_release_access(release)
            self.updater_role = self._updater_role(release)

    def _grant_release_access(self, release: ReleaseChannel) -> None:
        objects = f"{release.bucket_arn()}/{release.prefix}*"
        self.application.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadReleases", actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[objects]
            )
        )
        keys = f"arn:{cdk.Aws.PARTITION}:kms:{release.region}:{release.account}:key/*"
        self.application.add_to_role_policy(
            iam.PolicyStatement(
                sid="DecryptReleasesThroughS3",
                actions=["kms:Decrypt"],
                resources=[keys],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"s3.{release.region}.amazonaws.com",
                        "kms:EncryptionContext:aws:s3:arn": release.bucket_arn(),
                    }
                },
            )
        )
        policy = self.application.policy
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{flatten_cfn_reference(self.resolve(objects))}]",
            reason(
                "prefix-objects",
                prefix=flatten_cfn_reference(self.resolve(objects)).split("/", 1)[1].removesuffix("*"),
                access="read",
                why="the application reads the release the pipeline deploys; one key per build",
            ),
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{flatten_cfn_reference(self.resolve(keys))}]",
            reason(
                "kms-decrypt-via-service",
                service="S3",
                what="objects of the release bucket",
                context="kms:EncryptionContext:aws:s3:arn",
            ),
        )

    def _updater_role(self, release: ReleaseChannel) -> iam.Role:
        role = iam.Role(
            self,
            "UpdaterRole",
            role_name=release.updater_role_name,
            description="Assumed by the application pipeline's update function to deploy Flink releases",
            assumed_by=iam.AccountPrincipal(release.account).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": release.update_function_role_arn()}}
            ),
            max_session_duration=cdk.Duration.hours(1),
        )
        iam.ManagedPolicy(
            self,
            "UpdaterPolicy",
            roles=[role],
            description="Deploy releases of one Flink application",
            statements=[
                iam.PolicyStatement(
                    sid="DeployReleases", actions=list(UPDATER_ACTIONS), resources=[self.application.application_arn]
                )
            ],
        )
        return role


class KdaApplicationStage(cdk.Stage):
    """The stage the infrastructure pipeline deploys to one target: one :class:`KdaApplicationStack`.

    :param target: where it deploys (account, region).
    :param application_name: physical name of the Flink application (unique per account and region).
    :param stack_name: CloudFormation stack name. Default: ``application_name``.
    :param stage_name: name of the pipeline stage. Default: the target's name.
    :param stack_props: keyword arguments of :class:`KdaApplicationStack`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        target: DeploymentTarget,
        application_name: str,
        stack_name: str | None = None,
        stage_name: str | None = None,
        **stack_props: Any,
    ) -> None:
        where = child_path(scope, id)
        require_instance(where, "target", target, DeploymentTarget, "expected a DeploymentTarget")
        if stack_name is not None:
            require_stack_name(where, "stack_name", stack_name)
        if stage_name is not None:
            require_str(
                where,
                "stage_name",
                stage_name,
                pattern=re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}"),
                allowed="expected a letter, then letters, digits or '-' (at most 64 characters)",
            )
        super().__init__(scope, id, env=target.env, stage_name=stage_name or target.name)
        #: The application stack.
        self.stack = KdaApplicationStack(
            self,
            "Application",
            application_name=application_name,
            stack_name=stack_name or application_name,
            **stack_props,
        )
