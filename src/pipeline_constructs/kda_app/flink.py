"""A typed wrapper around the ``aws_kinesisanalyticsv2`` L1: a Managed Service for Apache Flink application.

aws-cdk-lib has no stable L2 for Flink (only ``@aws-cdk/aws-kinesisanalytics-flink-alpha``, which this
library does not depend on). :class:`FlinkApplication` sets what an application deployed by a pipeline
needs: checkpointing, snapshots on (so updates keep state), state restored from the latest snapshot on
every update, service-initiated rollback of failed updates, parallelism, CloudWatch logging to an
encrypted log group, property groups, and a least-privilege service role held in a managed policy.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisanalyticsv2 as flink
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from pipeline_constructs.core.compliance import acknowledge
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.private.defaults import resolve_log_retention
from pipeline_constructs.core.private.encryption import encrypted_log_group, new_key
from pipeline_constructs.core.private.iam_idioms import flatten_cfn_reference
from pipeline_constructs.core.validation import (
    invalid,
    is_token,
    require_bool,
    require_duration,
    require_enum,
    require_iam_role_name,
    require_instance,
    require_int,
    require_interface,
    require_mapping,
    require_str,
    wrong_type,
)
from pipeline_constructs.kda_app.code import FlinkCode

__all__ = [
    "FlinkApplication",
    "FlinkLogLevel",
    "FlinkMetricsLevel",
    "FlinkRuntime",
    "FlinkSettings",
]

_APPLICATION_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_PROPERTY_GROUP_ID = re.compile(r"[A-Za-z0-9_.-]{1,50}")
_MAX_PROPERTY_GROUPS = 50
_MAX_PROPERTY_LENGTH = 2048
#: Managed Service for Apache Flink: parallel tasks per KPU (``ParallelismPerKPU``) range.
MAX_PARALLELISM_PER_KPU = 8
#: The service's default quota of KPUs per application (an adjustable quota).
DEFAULT_KPU_QUOTA = 64
_MAX_DESCRIPTION = 1024


class FlinkRuntime(enum.Enum):
    """Flink runtimes of Managed Service for Apache Flink that CloudFormation accepts (current ones only)."""

    FLINK_1_19 = "FLINK-1_19"
    FLINK_1_20 = "FLINK-1_20"
    FLINK_2_2 = "FLINK-2_2"
    FLINK_2_3 = "FLINK-2_3"


class FlinkLogLevel(enum.Enum):
    """Verbosity of the application's CloudWatch logs."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


class FlinkMetricsLevel(enum.Enum):
    """Granularity of the application's CloudWatch metrics."""

    APPLICATION = "APPLICATION"
    OPERATOR = "OPERATOR"
    TASK = "TASK"
    PARALLELISM = "PARALLELISM"


@dataclass(frozen=True)
class FlinkSettings:
    """How a Flink application runs (validated when created).

    :param runtime: Flink runtime. Default: ``FlinkRuntime.FLINK_2_2`` (the version AWS recommends for new
        applications; its Kinesis and Kafka connectors are published). ``FLINK_2_3`` is available.
    :param parallelism: initial number of parallel tasks (at most ``kpu_quota * parallelism_per_kpu``).
        Default: 1.
    :param parallelism_per_kpu: parallel tasks per KPU, 1 to 8. Default: 1.
    :param auto_scaling: let the service raise parallelism under load. Default: ``True``.
    :param checkpoint_interval: time between checkpoints (at least 1 second). Default: 1 minute.
    :param min_pause_between_checkpoints: pause after a checkpoint before the next. Default: 5 seconds.
    :param log_level: CloudWatch log level. Default: ``FlinkLogLevel.INFO``.
    :param metrics_level: CloudWatch metrics level. Default: ``FlinkMetricsLevel.APPLICATION``.
    :param property_groups: runtime properties, ``{group id: {key: value}}``, read by the application
        (``KinesisAnalyticsRuntime.getApplicationProperties()``). At most 50 groups. Default: none.
    :param system_rollback: let the service roll back an update whose job fails to start. Default: ``True``.
    :param allow_non_restored_state: let a new version drop state the old one had (an operator removed).
        Default: ``False`` (such an update fails instead of losing state silently).
    :param kpu_quota: the account's quota of KPUs per application; ``parallelism`` may not exceed
        ``kpu_quota * parallelism_per_kpu``. Raise it only after the quota was raised. Default: 64
        (the service's default quota).
    """

    runtime: FlinkRuntime = FlinkRuntime.FLINK_2_2
    parallelism: int = 1
    parallelism_per_kpu: int = 1
    auto_scaling: bool = True
    checkpoint_interval: cdk.Duration | None = None
    min_pause_between_checkpoints: cdk.Duration | None = None
    log_level: FlinkLogLevel = FlinkLogLevel.INFO
    metrics_level: FlinkMetricsLevel = FlinkMetricsLevel.APPLICATION
    property_groups: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    system_rollback: bool = True
    allow_non_restored_state: bool = False
    kpu_quota: int = DEFAULT_KPU_QUOTA

    def __post_init__(self) -> None:
        where = "FlinkSettings"
        require_enum(where, "runtime", self.runtime, FlinkRuntime)
        require_enum(where, "log_level", self.log_level, FlinkLogLevel)
        require_enum(where, "metrics_level", self.metrics_level, FlinkMetricsLevel)
        require_int(where, "kpu_quota", self.kpu_quota, minimum=1)
        require_int(where, "parallelism_per_kpu", self.parallelism_per_kpu, minimum=1, maximum=MAX_PARALLELISM_PER_KPU)
        require_int(where, "parallelism", self.parallelism, minimum=1)
        most = self.kpu_quota * self.parallelism_per_kpu
        if self.parallelism > most:
            raise invalid(
                where,
                "parallelism",
                self.parallelism,
                f"expected at most kpu_quota * parallelism_per_kpu = {most} (the service's default quota is "
                f"{DEFAULT_KPU_QUOTA} KPUs per application; after raising yours, set kpu_quota)",
            )
        for prop in ("auto_scaling", "system_rollback", "allow_non_restored_state"):
            require_bool(where, prop, getattr(self, prop))
        if self.checkpoint_interval is not None:
            require_duration(where, "checkpoint_interval", self.checkpoint_interval, minimum_seconds=1)
        if self.min_pause_between_checkpoints is not None:
            require_duration(
                where, "min_pause_between_checkpoints", self.min_pause_between_checkpoints, minimum_seconds=0
            )
        object.__setattr__(self, "property_groups", _validated_groups(where, self.property_groups))

    @property
    def checkpoint_interval_ms(self) -> int:
        return int((self.checkpoint_interval or cdk.Duration.minutes(1)).to_milliseconds())

    @property
    def min_pause_ms(self) -> int:
        return int((self.min_pause_between_checkpoints or cdk.Duration.seconds(5)).to_milliseconds())


def _validated_groups(where: str, groups: object) -> Mapping[str, Mapping[str, str]]:
    groups = require_mapping(where, "property_groups", groups, allowed="expected a mapping {group id: {key: value}}")
    if len(groups) > _MAX_PROPERTY_GROUPS:
        raise invalid(where, "property_groups", f"{len(groups)} groups", f"expected at most {_MAX_PROPERTY_GROUPS}")
    out: dict[str, Mapping[str, str]] = {}
    for group_id, properties in groups.items():
        require_str(
            where,
            "property_groups",
            group_id,
            pattern=_PROPERTY_GROUP_ID,
            allowed="expected group ids of 1-50 characters [A-Za-z0-9_.-]",
        )
        if not isinstance(properties, Mapping):
            raise wrong_type(where, f"property_groups[{group_id!r}]", properties, "expected a non-empty {key: value}")
        if not properties:
            raise invalid(where, f"property_groups[{group_id!r}]", properties, "expected a non-empty {key: value}")
        for key, value in properties.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise wrong_type(
                    where, f"property_groups[{group_id!r}][{key!r}]", value, "expected string keys and values"
                )
            too_long = not is_token(value) and len(value) > _MAX_PROPERTY_LENGTH
            if not key or len(key) > _MAX_PROPERTY_LENGTH or not value or too_long:
                raise invalid(
                    where, f"property_groups[{group_id!r}][{key!r}]", value, "expected 1-2048 characters each"
                )
        out[group_id] = MappingProxyType(dict(properties))
    return MappingProxyType(out)


class FlinkApplication(Construct):
    """A Managed Service for Apache Flink application (``AWS::KinesisAnalyticsV2::Application``).

    Checkpointing and snapshots are always on: the application pipeline's updates restore state from
    the latest snapshot, so they are only safe with snapshots. The service role trusts
    ``kinesisanalytics.amazonaws.com`` only for this application in this account, and its permissions
    live in one customer-managed policy (:meth:`add_to_role_policy`): reading the code, writing its own
    log stream. Grant the streams and sinks the application uses with :meth:`add_to_role_policy`.

    :param code: the code the application is created with. Later versions are deployed by the
        application pipeline (``UpdateApplication``), not by CloudFormation.
    :param settings: runtime, parallelism, checkpoints, logging levels, property groups.
        Default: ``FlinkSettings()``.
    :param application_name: physical name (1-128 characters ``[A-Za-z0-9_.-]``). Default: generated.
    :param role_name: physical name of the service role. Default: generated.
    :param log_group: log group of the application's log stream. Default: a new log group encrypted
        with ``log_encryption_key`` and kept for ``log_retention``.
    :param log_encryption_key: key of the new log group. Default: a new rotating key.
    :param log_retention: retention of the new log group. Default: team default
        ``pipeline-constructs:logRetentionDays``, else one year.
    :param description: application description (at most 1024 characters). Default: none.
    :param removal_policy: what happens to the application (with its snapshots) and its logs when
        removed from the stack. Default: ``RETAIN``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        code: FlinkCode,
        settings: FlinkSettings | None = None,
        application_name: str | None = None,
        role_name: str | None = None,
        log_group: logs.ILogGroup | None = None,
        log_encryption_key: kms.IKey | None = None,
        log_retention: logs.RetentionDays | None = None,
        description: str | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        require_instance(
            where, "code", code, FlinkCode, "expected a FlinkCode, e.g. FlinkCode.from_asset('target/app.jar')"
        )
        settings = settings if settings is not None else FlinkSettings()
        require_instance(where, "settings", settings, FlinkSettings, "expected a FlinkSettings")
        if application_name is not None:
            require_str(
                where,
                "application_name",
                application_name,
                pattern=_APPLICATION_NAME,
                allowed="expected 1-128 characters [A-Za-z0-9_.-]",
                tokens=True,
            )
        if role_name is not None:
            require_iam_role_name(where, "role_name", role_name)
        if log_group is not None:
            require_interface(where, "log_group", log_group, "log_group_arn", "expected a logs.ILogGroup")
        if log_encryption_key is not None:
            require_interface(where, "log_encryption_key", log_encryption_key, "key_arn", "expected a kms.IKey")
        if description is not None:
            require_str(
                where, "description", description, allowed="expected a description", max_length=_MAX_DESCRIPTION
            )
        require_enum(where, "removal_policy", removal_policy, cdk.RemovalPolicy)
        log_retention = resolve_log_retention(self, log_retention)
        stack = cdk.Stack.of(self)
        self.settings = settings

        #: The application's ARN pattern used before the resource exists (trust condition).
        arn = stack.format_arn(
            service="kinesisanalytics", resource="application", resource_name=application_name or "*"
        )
        #: The service role (``kinesisanalytics.amazonaws.com``, this account, this application only).
        self.role = iam.Role(
            self,
            "ServiceRole",
            role_name=role_name,
            description=f"Service role of the Flink application {where}",
            assumed_by=iam.ServicePrincipal(
                "kinesisanalytics.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": arn},
                },
            ),
        )
        #: The role's permissions (a managed policy: no inline policy on the role).
        self.policy = iam.ManagedPolicy(
            self, "ServicePolicy", roles=[self.role], description=f"Permissions of the Flink application {where}"
        )

        if log_group is None:
            key = log_encryption_key or new_key(
                self,
                "LogsKey",
                description=f"Logs of the Flink application {where}",
                allow_cloudwatch_logs=True,
                removal_policy=removal_policy,
            )
            log_group = encrypted_log_group(
                self, "Logs", key=key, retention=log_retention, removal_policy=removal_policy
            )
        #: The application's log group.
        self.log_group: logs.ILogGroup = log_group
        #: The log stream the application writes to.
        self.log_stream = logs.LogStream(
            self, "LogStream", log_group=log_group, log_stream_name="application", removal_policy=removal_policy
        )
        log_stream_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"{log_group.log_group_name}:log-stream:{self.log_stream.log_stream_name}",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )

        bound = code.bind(self)
        self.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadApplicationCode",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=list(bound.read_resources),
            )
        )
        self.add_to_role_policy(
            iam.PolicyStatement(sid="WriteOwnLogStream", actions=["logs:PutLogEvents"], resources=[log_stream_arn])
        )
        self.add_to_role_policy(
            iam.PolicyStatement(
                sid="DescribeOwnLogGroup", actions=["logs:DescribeLogStreams"], resources=[log_group.log_group_arn]
            )
        )
        all_groups = stack.format_arn(
            service="logs", resource="log-group", resource_name="*", arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
        )
        self.add_to_role_policy(
            iam.PolicyStatement(sid="ValidateLogging", actions=["logs:DescribeLogGroups"], resources=[all_groups])
        )
        acknowledge(
            self.policy,
            f"AwsSolutions-IAM5[Resource::{flatten_cfn_reference(stack.resolve(all_groups))}]",
            reason("describe-log-groups"),
        )

        flink_configuration = flink.CfnApplication.FlinkApplicationConfigurationProperty(
            checkpoint_configuration=flink.CfnApplication.CheckpointConfigurationProperty(
                configuration_type="CUSTOM",
                checkpointing_enabled=True,
                checkpoint_interval=settings.checkpoint_interval_ms,
                min_pause_between_checkpoints=settings.min_pause_ms,
            ),
            monitoring_configuration=flink.CfnApplication.MonitoringConfigurationProperty(
                configuration_type="CUSTOM",
                log_level=settings.log_level.value,
                metrics_level=settings.metrics_level.value,
            ),
            parallelism_configuration=flink.CfnApplication.ParallelismConfigurationProperty(
                configuration_type="CUSTOM",
                parallelism=settings.parallelism,
                parallelism_per_kpu=settings.parallelism_per_kpu,
                auto_scaling_enabled=settings.auto_scaling,
            ),
        )
        property_groups = [
            flink.CfnApplication.PropertyGroupProperty(property_group_id=group, property_map=dict(properties))
            for group, properties in settings.property_groups.items()
        ]
        #: The L1 resource (escape hatch).
        self.cfn_application = flink.CfnApplication(
            self,
            "Resource",
            application_name=application_name,
            application_description=description,
            runtime_environment=settings.runtime.value,
            service_execution_role=self.role.role_arn,
            application_configuration=flink.CfnApplication.ApplicationConfigurationProperty(
                application_code_configuration=flink.CfnApplication.ApplicationCodeConfigurationProperty(
                    code_content_type="ZIPFILE",
                    code_content=flink.CfnApplication.CodeContentProperty(
                        s3_content_location=flink.CfnApplication.S3ContentLocationProperty(
                            bucket_arn=bound.bucket_arn, file_key=bound.key, object_version=bound.object_version
                        )
                    ),
                ),
                application_snapshot_configuration=flink.CfnApplication.ApplicationSnapshotConfigurationProperty(
                    snapshots_enabled=True
                ),
                application_system_rollback_configuration=(
                    flink.CfnApplication.ApplicationSystemRollbackConfigurationProperty(
                        rollback_enabled=settings.system_rollback
                    )
                ),
                flink_application_configuration=flink_configuration,
                environment_properties=(
                    flink.CfnApplication.EnvironmentPropertiesProperty(property_groups=property_groups)
                    if property_groups
                    else None
                ),
            ),
            run_configuration=flink.CfnApplication.RunConfigurationProperty(
                application_restore_configuration=flink.CfnApplication.ApplicationRestoreConfigurationProperty(
                    application_restore_type="RESTORE_FROM_LATEST_SNAPSHOT"
                ),
                flink_run_configuration=flink.CfnApplication.FlinkRunConfigurationProperty(
                    allow_non_restored_state=settings.allow_non_restored_state
                ),
            ),
        )
        self.cfn_application.apply_removal_policy(removal_policy)
        # The service checks, at creation, that the role can read the code and write the logs.
        self.cfn_application.node.add_dependency(self.policy)
        #: The CloudWatch logging option (a separate resource in CloudFormation).
        self.logging_option = flink.CfnApplicationCloudWatchLoggingOption(
            self,
            "Logging",
            application_name=self.cfn_application.ref,
            cloud_watch_logging_option=flink.CfnApplicationCloudWatchLoggingOption.CloudWatchLoggingOptionProperty(
                log_stream_arn=log_stream_arn
            ),
        )

    @property
    def application_name(self) -> str:
        """The application's name."""
        return self.cfn_application.ref

    @property
    def application_arn(self) -> str:
        """The application's ARN."""
        return cdk.Stack.of(self).format_arn(
            service="kinesisanalytics", resource="application", resource_name=self.application_name
        )

    def add_to_role_policy(self, statement: iam.PolicyStatement) -> None:
        """Grant the application's service role ``statement`` (in its managed policy)."""
        self.policy.add_statements(statement)
