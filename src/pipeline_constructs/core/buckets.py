"""Hardened S3 buckets: the one recipe every construct in the library uses."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from pipeline_constructs.core.compliance import acknowledge

__all__ = ["access_log_bucket", "secure_bucket"]

# Grant S3 log delivery through the bucket policy, not the legacy LogDeliveryWrite ACL
# (which would force ObjectWriter ownership). Set on a holder construct so it applies
# whatever the app's cdk.json says.
_ACCESS_LOGS_BY_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"


def _holder(scope: Construct, id: str) -> Construct:
    holder = Construct(scope, id)
    holder.node.set_context(_ACCESS_LOGS_BY_POLICY, True)
    return holder


def access_log_bucket(
    scope: Construct, id: str, *, removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN
) -> s3.Bucket:
    """A bucket that receives S3 server access logs.

    SSE-S3 (the only encryption S3 log delivery supports), SSL enforced,
    public access blocked, versioned, objects expire after 365 days. It does
    not log to itself (that would loop); cdk-nag recognises log buckets.
    """
    bucket = s3.Bucket(
        _holder(scope, id),
        "Bucket",
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=True,
        removal_policy=removal_policy,
        lifecycle_rules=[
            s3.LifecycleRule(expiration=cdk.Duration.days(365), noncurrent_version_expiration=cdk.Duration.days(30))
        ],
    )
    target = bucket.node.default_child
    assert isinstance(target, cdk.CfnResource)
    for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
        acknowledge(
            target,
            f"{pack}-S3DefaultEncryptionKMS",
            "S3 server access log delivery only supports SSE-S3 (AES256) target buckets, not SSE-KMS.",
        )
        acknowledge(
            target,
            f"{pack}-S3BucketReplicationEnabled",
            "Access logs are an audit copy already; cross-region replication is left to the account's "
            "central log archive rather than each pipeline.",
        )
    return bucket


def secure_bucket(
    scope: Construct,
    id: str,
    *,
    encryption_key: kms.IKey | None,
    server_access_logs_bucket: s3.IBucket,
    server_access_logs_prefix: str,
    versioned: bool = True,
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    lifecycle_rules: list[s3.LifecycleRule] | None = None,
    replication_reason: str,
) -> s3.Bucket:
    """A private, SSE-KMS, SSL-only, versioned bucket that logs to ``server_access_logs_bucket``.

    :param encryption_key: customer-managed key; ``None`` uses the AWS-managed
        ``aws/s3`` KMS key (still SSE-KMS, but not usable across accounts).
    :param server_access_logs_prefix: key prefix of this bucket's access logs.
    :param versioned: keep object versions. Default: ``True``.
    :param lifecycle_rules: extra lifecycle rules. Default: none.
    :param replication_reason: why the bucket is not replicated to another
        region (NIST/HIPAA/PCI ``S3BucketReplicationEnabled``): written into
        the template metadata as the acknowledgment's reason.
    """
    bucket = s3.Bucket(
        _holder(scope, id),
        "Bucket",
        encryption=s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.KMS_MANAGED,
        encryption_key=encryption_key,
        bucket_key_enabled=True,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=versioned,
        server_access_logs_bucket=server_access_logs_bucket,
        server_access_logs_prefix=server_access_logs_prefix,
        removal_policy=removal_policy,
        lifecycle_rules=lifecycle_rules,
    )
    target = bucket.node.default_child
    assert isinstance(target, cdk.CfnResource)
    for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
        acknowledge(target, f"{pack}-S3BucketReplicationEnabled", replication_reason)
    return bucket
