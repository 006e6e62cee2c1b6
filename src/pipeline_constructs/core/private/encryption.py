"""Customer-managed KMS keys with the library's defaults, and log groups encrypted with them.

A key made for CloudWatch Logs (``new_key(allow_cloudwatch_logs=True)``) lets
the CloudWatch Logs service use it only for the log groups it encrypts: its key
policy names them in a ``kms:EncryptionContext:aws:logs:arn`` condition
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
A condition cannot reference a log group's ARN attribute (the log group
references the key: a cycle), so :func:`encrypted_log_group` gives each log
group a name derived from its construct path, and the key's condition lists the
ARNs built from those names when the template is written.
"""

from __future__ import annotations

import hashlib
import weakref

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct, IValidation

__all__ = [
    "LOGS_KEY_SID",
    "allow_log_group_pattern",
    "encrypted_log_group",
    "log_group_name_for",
    "logs_key_arns",
    "new_key",
]

#: Sid of the key-policy statement that lets CloudWatch Logs use a key.
LOGS_KEY_SID = "AllowCloudWatchLogsForItsLogGroups"
_LOG_GROUP_PREFIX = "/pipeline-constructs"


class _LogsGrant:
    """The log-group ARNs (``ArnLike`` patterns) a logs key may be used for."""

    def __init__(self, key: kms.Key) -> None:
        self.arns: list[str] = []
        self.key_path = key.node.path


@jsii.implements(cdk.IStableListProducer)
class _ArnList:
    def __init__(self, grant: _LogsGrant) -> None:
        self._grant = grant

    def produce(self) -> list[str] | None:
        return list(self._grant.arns) or None


@jsii.implements(IValidation)
class _HasLogGroups:
    def __init__(self, grant: _LogsGrant) -> None:
        self._grant = grant

    def validate(self) -> list[str]:
        if self._grant.arns:
            return []
        return [
            f"{self._grant.key_path}: the key allows CloudWatch Logs but encrypts no log group; create them "
            "with core.encryption.encrypted_log_group(key=...) or allow_log_group_pattern(key, ...)"
        ]


_GRANTS: weakref.WeakKeyDictionary[kms.Key, _LogsGrant] = weakref.WeakKeyDictionary()


def new_key(
    scope: Construct,
    id: str,
    *,
    description: str,
    allow_cloudwatch_logs: bool = False,
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
) -> kms.Key:
    """Create a symmetric KMS key with yearly rotation.

    :param description: shown in the KMS console; say what the key protects.
    :param allow_cloudwatch_logs: let CloudWatch Logs use the key, only for the log
        groups created with :func:`encrypted_log_group` (or allowed with
        :func:`allow_log_group_pattern`). Default: ``False``.
    :param removal_policy: what happens to the key when the stack is deleted.
        Default: ``RETAIN`` (data encrypted with it stays readable).
    """
    key = kms.Key(
        scope,
        id,
        description=description,
        enable_key_rotation=True,
        removal_policy=removal_policy,
    )
    if allow_cloudwatch_logs:
        stack = cdk.Stack.of(scope)
        grant = _LogsGrant(key)
        _GRANTS[key] = grant
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=LOGS_KEY_SID,
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": cdk.Lazy.list(_ArnList(grant))}},
            )
        )
        key.node.add_validation(_HasLogGroups(grant))
    return key


def logs_key_arns(key: kms.IKey) -> list[str]:
    """The log-group ARNs (or patterns) CloudWatch Logs may use ``key`` for (empty for other keys)."""
    grant = _GRANTS.get(key) if isinstance(key, kms.Key) else None
    return list(grant.arns) if grant is not None else []


def _log_group_arn(scope: IConstruct, name: str) -> str:
    return cdk.Stack.of(scope).format_arn(
        service="logs", resource="log-group", resource_name=name, arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
    )


def allow_log_group_pattern(key: kms.IKey, name_pattern: str) -> None:
    """Let CloudWatch Logs use ``key`` (made by :func:`new_key` with ``allow_cloudwatch_logs``) for log
    groups matching ``name_pattern`` (``ArnLike``, e.g. ``/aws-glue/*`` for log groups a service creates)."""
    grant = _GRANTS.get(key) if isinstance(key, kms.Key) else None
    if grant is None:
        raise ValueError(f"{key.node.path}: key is invalid: expected a key from new_key(allow_cloudwatch_logs=True)")
    arn = _log_group_arn(key, name_pattern)
    if arn not in grant.arns:
        grant.arns.append(arn)


def log_group_name_for(scope: IConstruct, id: str) -> str:
    """The name :func:`encrypted_log_group` gives log group ``id`` under ``scope``, unique in its account
    and region: ``/pipeline-constructs/<stack name>/<hash of the construct path>``."""
    stack = cdk.Stack.of(scope)
    digest = hashlib.sha256(f"{scope.node.path}/{id}".encode()).hexdigest()[:16]
    return f"{_LOG_GROUP_PREFIX}/{stack.stack_name}/{digest}"


def encrypted_log_group(
    scope: Construct,
    id: str,
    *,
    key: kms.IKey,
    retention: logs.RetentionDays,
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    log_group_name: str | None = None,
) -> logs.LogGroup:
    """A log group encrypted with ``key``, which (when made by :func:`new_key`) may be used for it alone.

    :param log_group_name: Default: :func:`log_group_name_for` the new log group.
    """
    name = log_group_name or log_group_name_for(scope, id)
    group = logs.LogGroup(
        scope, id, log_group_name=name, encryption_key=key, retention=retention, removal_policy=removal_policy
    )
    grant = _GRANTS.get(key) if isinstance(key, kms.Key) else None
    if grant is not None:
        grant.arns.append(_log_group_arn(group, name))
    return group
