"""The script upload: the scripts directory as an asset, copied to ``scripts/`` of the script bucket."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import Construct, IConstruct

from pipeline_constructs.core.compliance import acknowledge, acknowledge_all, in_packs
from pipeline_constructs.core.compliance.packs import NIST_HIPAA, NIST_HIPAA_SERVERLESS
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.private.encryption import encrypted_log_group
from pipeline_constructs.core.private.iam_idioms import acknowledge_function_outside_vpc
from pipeline_constructs.glue_etl.workload.prefixes import SCRIPTS_PREFIX


def _logical(construct: IConstruct) -> str:
    """The logical id of a construct's CloudFormation resource (as cdk-nag prints it)."""
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return cdk.Stack.of(construct).resolve(child.logical_id)  # type: ignore[no-any-return]


def _deployment_policy(
    scope: Construct,
    role: iam.IRole,
    asset: s3_assets.Asset,
    bucket: s3.IBucket,
    key: kms.IKey,
    log_group: logs.ILogGroup,
) -> iam.ManagedPolicy:
    asset_object = f"arn:{cdk.Aws.PARTITION}:s3:::{asset.s3_bucket_name}/{asset.s3_object_key}"
    return iam.ManagedPolicy(
        scope,
        "ScriptDeploymentPolicy",
        description="Read the scripts asset, replace scripts/ of the script bucket, write own logs",
        roles=[role],
        statements=[
            iam.PolicyStatement(sid="ReadScriptsAsset", actions=["s3:GetObject"], resources=[asset_object]),
            iam.PolicyStatement(
                sid="ListScripts",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [SCRIPTS_PREFIX + "*"]}},
            ),
            iam.PolicyStatement(
                sid="ReplaceScripts",
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[bucket.arn_for_objects(SCRIPTS_PREFIX + "*")],
            ),
            iam.PolicyStatement(
                sid="EncryptScripts",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
            ),
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            ),
        ],
    )


def deploy_scripts(
    scope: Construct,
    scripts_dir: str,
    *,
    bucket: s3.Bucket,
    key: kms.IKey,
    log_retention: logs.RetentionDays,
    removal_policy: cdk.RemovalPolicy,
) -> s3_deployment.BucketDeployment:
    """Upload ``scripts_dir`` and copy it to ``scripts/`` of ``bucket`` (pruning what is gone)."""
    asset = s3_assets.Asset(scope, "ScriptsAsset", path=scripts_dir, exclude=["__pycache__", "*.pyc", ".*"])
    log_group = encrypted_log_group(
        scope, "ScriptDeploymentLogs", key=key, retention=log_retention, removal_policy=removal_policy
    )
    role = iam.Role(
        scope,
        "ScriptDeploymentRole",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Copies the Glue job scripts of {scope.node.path} to the script bucket",
    )
    policy = _deployment_policy(scope, role, asset, bucket, key, log_group)
    deployment = s3_deployment.BucketDeployment(
        scope,
        "ScriptDeployment",
        sources=[s3_deployment.Source.bucket(asset.bucket, asset.s3_object_key)],
        destination_bucket=bucket,
        destination_key_prefix=SCRIPTS_PREFIX,
        role=role.without_policy_updates(),
        log_group=log_group,
        memory_limit=256,
        prune=True,
    )
    deployment.node.add_dependency(policy)
    cfn_policy = policy.node.default_child
    assert isinstance(cfn_policy, cdk.CfnResource)
    acknowledge(
        cfn_policy,
        f"AwsSolutions-IAM5[Resource::<{_logical(bucket)}.Arn>/scripts/*]",
        reason(
            "prefix-objects",
            prefix=SCRIPTS_PREFIX,
            access="sync",
            why="the BucketDeployment replaces and prunes the scripts, whose names follow the repository",
        ),
    )
    _acknowledge_deployment_function(cdk.Stack.of(scope), role)
    return deployment


def _acknowledge_deployment_function(stack: cdk.Stack, role: iam.Role) -> None:
    """Acknowledge what CDK's BucketDeployment singleton Lambda cannot change (once per stack)."""
    for child in stack.node.children:
        if not child.node.id.startswith("Custom::CDKBucketDeployment"):
            continue
        fn = child.node.default_child
        if not isinstance(fn, lambda_.CfnFunction) or not isinstance(child, lambda_.Function):
            continue
        acknowledge_function_outside_vpc(child, role=role)
        handler = reason("custom-resource-handler", kind="Custom::CDKBucketDeployment")
        runtime = reason(
            "cdk-handler-runtime", kind="Custom::CDKBucketDeployment", runtime=str(stack.resolve(fn.runtime))
        )
        acknowledge_all(
            fn,
            [
                *in_packs("LambdaDLQ", NIST_HIPAA_SERVERLESS, handler),
                *in_packs("LambdaConcurrency", NIST_HIPAA, handler),
                ("Serverless-LambdaTracing", handler),
                ("AwsSolutions-L1", runtime),
                ("Serverless-LambdaLatestVersion", runtime),
            ],
        )
