"""The regional staging stacks: one hardened bucket per target region that PublishLayerVersion reads from.

Lambda publishes a layer from S3 only from a bucket in the layer's region (the only way past the
50 MB direct-upload cap), so each target region gets a small stack of its own,
``<PipelineStack>-<construct id>-<region>``, that the pipeline stack depends on: ``cdk deploy`` of the
pipeline stack (and its self-mutation) deploys them too.
"""

from __future__ import annotations

import hashlib

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.private.buckets import access_log_bucket, secure_bucket

__all__: list[str] = []  # internals of MultiRegionLayerPipeline

#: Prefix of the staging bucket names and of the staged object's key.
STAGING_PREFIX = "layer-staging"
#: Days after which a staged layer zip expires (it is only read while publishing).
STAGING_EXPIRATION_DAYS = 7


def staging_bucket_prefix(owner: Construct) -> str:
    """``layer-staging-<hash>-``: the staging bucket names of ``owner`` (the region follows).

    The hash of account and construct path keeps two pipelines (or accounts) apart in S3's global
    namespace; 10 hex digits keep the longest region's name within S3's 63 characters.
    """
    stack = cdk.Stack.of(owner)
    suffix = hashlib.sha256(f"{stack.account}/{owner.node.path}".encode()).hexdigest()[:10]
    return f"{STAGING_PREFIX}-{suffix}-"


def staging_key(layer_name: str) -> str:
    """The key the distributor uploads the layer zip to, in every staging bucket."""
    return f"{STAGING_PREFIX}/{layer_name}.zip"


def staging_stack(owner: Construct, region: str, bucket_name: str, removal_policy: cdk.RemovalPolicy) -> cdk.Stack:
    """A stack in ``region`` (the pipeline's account) with the hardened staging bucket ``bucket_name``.

    Private, versioned, SSE-KMS with the ``aws/s3`` key (no cross-region key grants), SSL only, with
    server access logs and a 7-day expiry. With the default synthesizer it deploys with the pipeline
    region's bootstrap roles (IAM is global), so target regions need no bootstrap.
    """
    pipeline_stack = cdk.Stack.of(owner)
    parent = pipeline_stack.node.scope
    assert isinstance(parent, Construct)
    synthesizer: cdk.IStackSynthesizer | None = None
    if isinstance(pipeline_stack.synthesizer, cdk.DefaultStackSynthesizer):
        synthesizer = cdk.BootstraplessSynthesizer(
            deploy_role_arn=pipeline_stack.synthesizer.deploy_role_arn,
            cloud_formation_execution_role_arn=pipeline_stack.synthesizer.cloud_formation_execution_role_arn,
        )
    regional = cdk.Stack(
        parent,
        f"{pipeline_stack.node.id}-{owner.node.id}-{region}",
        env=cdk.Environment(account=pipeline_stack.account, region=region),
        synthesizer=synthesizer,
        description=f"Staging bucket of the Lambda layer pipeline {owner.node.path} in {region}",
    )
    logs_bucket = access_log_bucket(regional, "AccessLogs", removal_policy=removal_policy)
    bucket = secure_bucket(
        regional,
        "Staging",
        encryption_key=None,  # SSE-KMS with the aws/s3 key: no cross-region key grants needed
        server_access_logs_bucket=logs_bucket,
        server_access_logs_prefix="staging/",
        removal_policy=removal_policy,
        lifecycle_rules=[
            s3.LifecycleRule(
                expiration=cdk.Duration.days(STAGING_EXPIRATION_DAYS),
                noncurrent_version_expiration=cdk.Duration.days(1),
                abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
            )
        ],
        replication_reason=reason("staging-bucket-not-replicated", days=str(STAGING_EXPIRATION_DAYS)),
    )
    cfn_bucket = bucket.node.default_child
    assert isinstance(cfn_bucket, s3.CfnBucket)
    # A fixed name: the distributor in the pipeline region addresses it, and CloudFormation cannot
    # export across regions. ExpectedBucketOwner on every call guards against a squatted name.
    cfn_bucket.bucket_name = bucket_name
    pipeline_stack.add_stack_dependency(
        regional, f"the layer pipeline publishes through the staging bucket in {region}"
    )
    return regional
