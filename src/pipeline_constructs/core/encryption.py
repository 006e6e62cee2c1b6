"""Customer-managed KMS keys with the library's defaults (rotation on)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

__all__ = ["new_key"]


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
    :param allow_cloudwatch_logs: let CloudWatch Logs in this account and region
        use the key for log groups of this account. Default: ``False``.
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
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
    return key
