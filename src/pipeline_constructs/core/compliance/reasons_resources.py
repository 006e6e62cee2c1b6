"""The catalogue's reasons for non-IAM rules on CodeBuild projects and S3 buckets.

A table of :class:`~.reasons.Reason` rows; each check reads the acknowledged resource in the template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pipeline_constructs.core.compliance.iam import actions_of, flatten, statements
from pipeline_constructs.core.compliance.reasons import (
    VPC_DATA_SERVICES,
    AckContext,
    Reason,
    _artifact_stores,
    _catalogue,
    _expirations,
    _fail_unless,
    _refs,
)

__all__ = ["REASONS_RESOURCES", "VPC_DATA_SERVICES", "flatten_all"]  # VPC_DATA_SERVICES: defined in .reasons

# -- CodeBuild ----------------------------------------------------------------------------------------


def _check_pipeline_source(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    source = ctx.properties.get("Source") or {}
    if source.get("Type") != params["type"] or params["type"] not in ("CODEPIPELINE", "NO_SOURCE"):
        return f"source type is {source.get('Type')!r}"
    return _fail_unless(not source.get("Location") and not source.get("Auth"), "the source has a URL or credentials")


def _accounts_in(value: Any) -> set[str]:
    return set(re.findall(r":iam::(\d{12}):", str(value)))


def _check_managed_key(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    key = ctx.properties.get("EncryptionKey")
    if key not in (None, "alias/aws/s3"):
        return f"the project uses key {key}"
    accounts = _accounts_in(ctx.template)
    return _fail_unless(accounts <= {params["account"]}, f"the template names other accounts {sorted(accounts)}")


def _logging_sources(ctx: AckContext) -> list[str]:
    out = []
    for logical_id, resource in ctx.of_type("AWS::S3::Bucket").items():
        destination = ((resource.get("Properties") or {}).get("LoggingConfiguration") or {}).get(
            "DestinationBucketName"
        )
        if destination is not None and ctx.logical_id in _refs(destination):
            out.append(logical_id)
    return out


def _sse_algorithms(properties: Mapping[str, Any]) -> set[str]:
    rules = (properties.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
    return {str((r.get("ServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")) for r in rules}


def _check_log_bucket_sse(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if not _logging_sources(ctx):
        return "no bucket of this template logs to it"
    return _fail_unless(_sse_algorithms(ctx.properties) == {"AES256"}, "not SSE-S3 (AES256)")


def _check_log_bucket_replication(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if not _logging_sources(ctx):
        return "no bucket of this template logs to it"
    current, _ = _expirations(ctx.properties)
    return _fail_unless(str(min(current, default=0)) == params["days"], f"objects expire after {current} days")


def _check_artifact_store(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if not any(ctx.logical_id in _refs(v) for _, v in _artifact_stores(ctx.template)):
        return "not the artifact store of this template's pipeline"
    # The bucket-wide rule is the claim; rules scoped to a prefix (job claims) only expire sooner.
    rules = (ctx.properties.get("LifecycleConfiguration") or {}).get("Rules") or []
    bucket_wide = [r for r in rules if "Prefix" not in r and "Filter" not in r]
    _, noncurrent = _expirations({"LifecycleConfiguration": {"Rules": bucket_wide}})
    return _fail_unless(noncurrent == {int(params["days"])}, f"noncurrent versions: {noncurrent}")


def flatten_all(value: Any) -> str:
    """Every string of ``value`` with intrinsics flattened, joined (for searching a template)."""
    if isinstance(value, dict):
        if any(k in value for k in ("Fn::Join", "Fn::Sub", "Fn::GetAtt", "Ref")):
            return flatten(value)
        return " ".join(flatten_all(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(flatten_all(v) for v in value)
    return str(value)


def _check_replica_store(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    name = ctx.properties.get("BucketName")
    for body in ctx.assembly.values():
        if (params["region"], name) in _artifact_stores(body):
            _, noncurrent = _expirations(ctx.properties)
            return _fail_unless(
                str(min(noncurrent, default=0)) == params["days"], f"noncurrent versions expire: {noncurrent}"
            )
    return f"no pipeline of the assembly uses {name} as its {params['region']} artifact store"


def _check_deployed_bucket(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    for resource in ctx.of_type("Custom::CDKBucketDeployment").values():
        props = resource.get("Properties") or {}
        if ctx.logical_id in _refs(props.get("DestinationBucketName")) and props.get("Prune") is not False:
            return None
    return "no BucketDeployment of this template copies into it"


def _check_job_output_bucket(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    for resource in ctx.resources.values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::IAM::ManagedPolicy":
            continue
        for statement in statements(resource):
            if (
                statement.get("Sid") == params["sid"]
                and "s3:PutObject" in actions_of(statement)
                and ctx.logical_id in _refs(statement.get("Resource"))
            ):
                return None
    return f"no {params['sid']} statement of this template writes to it"


def _check_versioned_release_bucket(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    versioning = (ctx.properties.get("VersioningConfiguration") or {}).get("Status")
    return _fail_unless(versioning == "Enabled", "the bucket is not versioned")


def _check_staging_bucket(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    current, _ = _expirations(ctx.properties)
    if not current or max(current) > int(params["days"]):
        return f"objects expire after {current} days"
    return None


def _check_test_image(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    environment = ctx.properties.get("Environment") or {}
    if environment.get("Image") != params["image"]:
        return f"image is {environment.get('Image')}"
    return _fail_unless(not environment.get("PrivilegedMode"), "the project runs privileged")


REASONS_RESOURCES = _catalogue(
    # -- CodeBuild -------------------------------------------------------------------------------------------
    Reason(
        "codebuild-pipeline-source",
        ("CodeBuildProjectSourceRepoUrl",),
        "Source type {type}: the project has no repository URL and no source credentials; its input is the "
        "pipeline's artifact (or none).",
        _check_pipeline_source,
    ),
    Reason(
        "aws-managed-artifact-key",
        ("CB4",),
        "Every target is in the pipeline's account {account}, so artifacts use the AWS-managed aws/s3 KMS key "
        "(no key to share across accounts); pass cross_account_keys=True for a customer-managed key.",
        _check_managed_key,
    ),
    Reason(
        "glue-test-image",
        ("CB5",),
        "The job tests run in {image}, the image AWS Glue publishes (ECR Public) with the Glue ETL library and the "
        "Spark of the jobs' Glue version, which no CodeBuild-provided image contains; unprivileged.",
        _check_test_image,
        evidence=("https://docs.aws.amazon.com/glue/latest/dg/develop-local-docker-image.html",),
    ),
    # -- S3 --------------------------------------------------------------------------------------------------
    Reason(
        "access-log-bucket-sse-s3",
        ("S3DefaultEncryptionKMS",),
        "Server-access-log destination of this stack's buckets: S3 log delivery writes only to destination "
        "buckets encrypted with SSE-S3 (AES256), not SSE-KMS.",
        _check_log_bucket_sse,
        evidence=("https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html",),
    ),
    Reason(
        "access-log-bucket-not-replicated",
        ("S3BucketReplicationEnabled",),
        "Holds only the server access logs of this stack's buckets (their LoggingConfiguration destination), "
        "which expire after {days} days; it is an audit trail of transient buckets, not data to recover.",
        _check_log_bucket_replication,
    ),
    Reason(
        "artifact-store-not-replicated",
        ("S3BucketReplicationEnabled",),
        "The artifact store of this stack's pipeline: every artifact is rebuilt from source by the next "
        "execution, and noncurrent versions expire after {days} days.",
        _check_artifact_store,
    ),
    Reason(
        "replica-artifact-store-not-replicated",
        ("S3BucketReplicationEnabled",),
        "CodePipeline's artifact store for {region}: CodePipeline itself copies the pipeline's artifacts into it "
        "from the pipeline's region, and noncurrent versions expire after {days} days.",
        _check_replica_store,
    ),
    # -- buckets whose content is rebuilt elsewhere ----------------------------------------------------------
    Reason(
        "deployed-from-assembly",
        ("S3BucketReplicationEnabled",),
        "Holds only what this stack's BucketDeployment copies from the cloud assembly on every deployment "
        "(pruning the rest); the source repository is the recovery point.",
        _check_deployed_bucket,
    ),
    Reason(
        "job-output-bucket",
        ("S3BucketReplicationEnabled",),
        "Output of this stack's Glue jobs (statement {sid} of the job policy writes it), which the workflow "
        "rebuilds from its sources; replication is the owning team's call (data_lifecycle_rules, replication) "
        "once the output is a system of record.",
        _check_job_output_bucket,
    ),
    Reason(
        "release-bucket-not-replicated",
        ("S3BucketReplicationEnabled",),
        "Release artifacts, each under a key naming its commit and pipeline execution and rebuildable from that "
        "commit; the bucket is versioned, so no release is overwritten.",
        _check_versioned_release_bucket,
    ),
    Reason(
        "staging-bucket-not-replicated",
        ("S3BucketReplicationEnabled",),
        "Holds only transient copies of build output that a service reads once (objects expire after {days} "
        "days); the pipeline rebuilds them from source.",
        _check_staging_bucket,
    ),
)
