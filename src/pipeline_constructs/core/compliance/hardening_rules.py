"""The hardening rules for what CDK Pipelines generates in a pipeline (its projects, roles, support stacks).

Each rule narrows one generated resource, with the evidence that the narrower scope still suffices in
its docstring; :mod:`.hardening` runs them once, right after the pipeline is built.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import pipelines

from pipeline_constructs.core.compliance.acknowledgments import acknowledge_all, in_packs
from pipeline_constructs.core.compliance.iam import flatten
from pipeline_constructs.core.compliance.packs import HIPAA_PCI, NIST_HIPAA_PCI
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.private.buckets import access_log_bucket, grant_access_log_delivery
from pipeline_constructs.core.private.defaults import CDK_CLI_VERSION
from pipeline_constructs.core.private.iam_idioms import acknowledge_role_policies, rewrite_role_statements

__all__ = [
    "CHECK_ID",
    "HardeningOptions",
    "harden_generated",
    "is_star",
    "project_rules",
    "replica_stores",
    "statement_actions",
]

#: The construct id CDK Pipelines gives the permission check (ConfirmPermissionsBroadening) of a pipeline.
CHECK_ID = "PipelinesSecurityCheck"
_ASSET_BUILD_ACTIONS = {"codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"}
_REPLICA_NONCURRENT_DAYS = 30


@dataclass
class HardeningOptions:
    """What :func:`~.hardening.harden_pipeline_internals` and :func:`~.hardening.harden_security_check` set."""

    #: Harden the whole pipeline (``harden_pipeline_internals``), not only its permission check.
    full: bool = False
    log_group: logs.ILogGroup | None = None
    logs_key: kms.IKey | None = None
    customer_key: bool = True
    cli_version: str = CDK_CLI_VERSION
    retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN
    topics: list[sns.ITopic] = field(default_factory=list)
    #: The constructs' own post-build rules (:func:`~.hardening.after_build`), in order.
    rules: list[Callable[[], None]] = field(default_factory=list)


def statement_actions(statement: dict[str, Any]) -> set[str]:
    actions = statement.get("Action")
    return set(actions if isinstance(actions, list) else [actions])


def is_star(statement: dict[str, Any]) -> bool:
    return statement.get("Resource") == "*" or statement.get("Resource") == ["*"]


def harden_generated(
    pipeline: pipelines.CodePipeline, *, customer_key: bool, removal_policy: cdk.RemovalPolicy
) -> None:
    """Every rule below, on every project and role CDK Pipelines generated (the permission check's excepted)."""
    root = pipeline.node.path
    generated = pipeline.node.find_all()  # one tree walk in Node for the projects and the roles
    projects = [c for c in generated if isinstance(c, codebuild.CfnProject)]
    for project in projects:
        if not project.node.path.startswith(f"{root}/{CHECK_ID}/"):
            acknowledge_all(project, project_rules(project, customer_key=customer_key))
    for child in generated:
        if not isinstance(child, iam.Role) or child.node.try_find_child("DefaultPolicy") is None:
            continue
        path = child.node.path.removeprefix(root)
        if path in ("/Assets/FileRole", "/Assets/DockerRole"):
            scope_asset_role(child, projects)
        elif path == "/UpdatePipeline/SelfMutation/Role":
            scope_self_mutation(child)
        elif path == "/Pipeline/Role":
            scope_replica_keys(pipeline, child)
        acknowledge_role_policies(child)
    harden_support_stacks(pipeline, removal_policy)


# -- generated CodeBuild projects --------------------------------------------------------------------


def project_rules(project: codebuild.CfnProject, *, customer_key: bool) -> list[tuple[str, str]]:
    """The acknowledgments a generated CodeBuild project needs (its pipeline source; the AWS-managed key)."""
    stack = cdk.Stack.of(project)
    rules: list[tuple[str, str]] = []
    # One resolve for what is read (one round trip to Node instead of two).
    parts: dict[str, Any] = {"source": project.source}
    if not customer_key:
        parts["key"] = project.encryption_key
    resolved: dict[str, Any] = stack.resolve(parts) or {}
    source = resolved.get("source")
    kind = (source.get("type") or source.get("Type")) if isinstance(source, dict) else None
    if kind in ("CODEPIPELINE", "NO_SOURCE"):
        rules += in_packs(
            "CodeBuildProjectSourceRepoUrl",
            HIPAA_PCI,
            reason("codebuild-pipeline-source", type=str(kind)),
        )
    if not customer_key and resolved.get("key") in (None, "alias/aws/s3"):
        rules.append(("AwsSolutions-CB4", reason("aws-managed-artifact-key", account=str(stack.account))))
    return rules


# -- the asset-publishing role ----------------------------------------------------------------------


def scope_asset_role(role: iam.Role, projects: list[codebuild.CfnProject]) -> None:
    """``codebuild:StartBuild``/``BatchGetBuilds``/``StopBuild`` on the asset projects only.

    CDK's ``AssetSingletonRole`` adds them on ``*``. With ``reduceAssetRoleTrustScope`` (set by
    SecurePipeline) the role is only the asset projects' CodeBuild service role; without it, it is also
    the CodePipeline action role of the asset actions, which starts and polls exactly those projects
    (CDK's own CodeBuildAction grants these actions on the project ARN). Either way the projects whose
    service role it is are all it needs.
    """
    stack = cdk.Stack.of(role)
    role_arn = stack.resolve(role.role_arn)
    mine = [p for p in projects if stack.resolve(p.service_role) == role_arn]
    if not mine:
        return
    arns = [p.attr_arn for p in mine]
    # The role's log and report grants, on every project of the account (CDK's AssetSingletonRole), become
    # what CDK grants any other project's role: its default log group /aws/codebuild/<name> and the
    # report groups named after it.
    log_groups = [
        stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/codebuild/{p.ref}{suffix}",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        for p in mine
        for suffix in ("", ":*")
    ]
    report_groups = [
        stack.format_arn(service="codebuild", resource="report-group", resource_name=f"{p.ref}-*") for p in mine
    ]

    def scope(statement: dict[str, Any]) -> dict[str, Any]:
        resource = statement.get("Resource")
        flat = flatten(resource) if not isinstance(resource, list) else ""
        if is_star(statement) and statement_actions(statement) <= _ASSET_BUILD_ACTIONS:
            return {**statement, "Resource": arns}
        if flat.endswith(":log-group:/aws/codebuild/*"):
            return {**statement, "Resource": log_groups}
        if flat.endswith(":report-group/*"):
            return {**statement, "Resource": report_groups}
        return statement

    rewrite_role_statements(role, scope)


# -- self-mutation -----------------------------------------------------------------------------------


def scope_self_mutation(role: iam.Role) -> None:
    """``cloudformation:DescribeStacks`` on this account's stacks; ``s3:ListBucket`` on this account's buckets.

    ``cdk deploy`` (the SelfMutate action) uses the build's own credentials only in the pipeline's
    account: it describes stacks by name (the bootstrap stack, the pipeline stack and its support stacks,
    in their regions) and lists the bootstrap bucket. CloudFormation stacks have no resource policy, so a
    role can only describe stacks of its own account anyway: naming the account removes nothing the
    deployment uses. The bootstrap bucket's name can be custom (or generated, for legacy bootstraps),
    so ``s3:ListBucket`` keeps ``*`` with an ``s3:ResourceAccount`` condition.
    """
    account = cdk.Stack.of(role).account
    stacks = f"arn:{cdk.Aws.PARTITION}:cloudformation:*:{account}:stack/*"

    def scope(statement: dict[str, Any]) -> dict[str, Any]:
        if not is_star(statement):
            return statement
        actions = statement_actions(statement)
        if actions == {"cloudformation:DescribeStacks"}:
            return {**statement, "Resource": stacks}
        if actions == {"s3:ListBucket"} and not statement.get("Condition"):
            return {**statement, "Condition": {"StringEquals": {"s3:ResourceAccount": account}}}
        return statement

    rewrite_role_statements(role, scope)


# -- cross-region support stacks ---------------------------------------------------------------------


def replica_stores(pipeline: pipelines.CodePipeline) -> dict[str, tuple[str, str]]:
    """Region -> (bucket name, key alias name) of each cross-region artifact store."""
    cfn = pipeline.pipeline.node.default_child
    assert isinstance(cfn, codepipeline.CfnPipeline)
    home = cdk.Stack.of(cfn).region
    out: dict[str, tuple[str, str]] = {}
    for store in cdk.Stack.of(cfn).resolve(cfn.artifact_stores) or []:
        region = store.get("region")
        location = (store.get("artifactStore") or {}).get("location")
        key = json.dumps(((store.get("artifactStore") or {}).get("encryptionKey") or {}).get("id"))
        alias = re.search(r":alias/([A-Za-z0-9/_-]+)", key)
        if region != home and isinstance(location, str) and alias:
            out[str(region)] = (location, f"alias/{alias.group(1)}")
    return out


def scope_replica_keys(pipeline: pipelines.CodePipeline, role: iam.Role) -> None:
    """The pipeline role's KMS grant for the replication keys: those keys only, not ``*``.

    CDK grants the pipeline role ``kms:*crypt*`` on ``*`` for the keys of the cross-region support stacks
    (it cannot reference a key of another region). Each key is the target of the alias named in the
    pipeline's ArtifactStores, so ``kms:ResourceAliases`` selects exactly those keys
    (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-resource-aliases).
    """
    stores = replica_stores(pipeline)
    if not stores:
        return
    account = cdk.Stack.of(role).account
    keys = [f"arn:{cdk.Aws.PARTITION}:kms:{region}:{account}:key/*" for region in sorted(stores)]
    aliases = sorted(alias for _, alias in stores.values())

    def scope(statement: dict[str, Any]) -> dict[str, Any]:
        actions = statement_actions(statement)
        if is_star(statement) and actions and all(str(a).startswith("kms:") for a in actions):
            return {
                **statement,
                "Resource": keys,
                "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": aliases}},
            }
        return statement

    rewrite_role_statements(role, scope)


def harden_support_stacks(pipeline: pipelines.CodePipeline, removal_policy: cdk.RemovalPolicy) -> None:
    """Version the cross-region replication buckets, expire their noncurrent versions, log their access."""
    stores = replica_stores(pipeline)
    for region, support in pipeline.pipeline.cross_region_support.items():
        bucket = support.replication_bucket
        cfn = bucket.node.default_child
        if not isinstance(cfn, s3.CfnBucket) or region not in stores:
            continue
        stack = support.stack
        cfn.versioning_configuration = s3.CfnBucket.VersioningConfigurationProperty(status="Enabled")
        cfn.lifecycle_configuration = s3.CfnBucket.LifecycleConfigurationProperty(
            rules=[
                s3.CfnBucket.RuleProperty(
                    id="ExpireNoncurrentArtifacts",
                    status="Enabled",
                    noncurrent_version_expiration=s3.CfnBucket.NoncurrentVersionExpirationProperty(
                        noncurrent_days=_REPLICA_NONCURRENT_DAYS
                    ),
                    abort_incomplete_multipart_upload=s3.CfnBucket.AbortIncompleteMultipartUploadProperty(
                        days_after_initiation=1
                    ),
                )
            ]
        )
        logs_bucket = access_log_bucket(stack, "AccessLogs", removal_policy=removal_policy)
        cfn.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=logs_bucket.bucket_name, log_file_prefix="artifacts/"
        )
        grant_access_log_delivery(logs_bucket, bucket, "artifacts/")
        acknowledge_all(
            cfn,
            in_packs(
                "S3BucketReplicationEnabled",
                NIST_HIPAA_PCI,
                reason("replica-artifact-store-not-replicated", region=region, days=str(_REPLICA_NONCURRENT_DAYS)),
            ),
        )
