"""The distributor: the job function CodePipeline invokes once per target region, and the role it does so with.

The function (in the pipeline's region and account, built with the one job-function recipe of
:func:`~pipeline_constructs.core.pipeline_jobs.job_function`) publishes the layer in the region an
action names, from that region's staging bucket; its own permissions are region wildcards limited by
``aws:RequestedRegion`` to the target regions, so its one managed policy stays small at any region count.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from pipeline_constructs.core.compliance import acknowledge
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.pipeline import SecurePipeline
from pipeline_constructs.core.pipeline_jobs import claims_prefix, job_function_timeout
from pipeline_constructs.core.private.iam_idioms import wildcard_findings
from pipeline_constructs.core.private.lambda_recipe import JobFunction, job_function
from pipeline_constructs.core.private.lambda_recipe import invoke_role as shared_invoke_role
from pipeline_constructs.multi_region_layer.regional import staging_key

if TYPE_CHECKING:
    from pipeline_constructs.multi_region_layer.props import LayerProps

__all__ = ["CLAIMS_PREFIX", "MIN_DISTRIBUTOR_TIMEOUT"]

#: The distributor's handler in ``runtime/``.
HANDLER_FILE = "layer_distributor.py"
#: Where the distributor's job claims go in the pipeline's artifact bucket.
CLAIMS_PREFIX = claims_prefix("layer-distributor")
#: The shortest distributor timeout: a dozen AWS calls at their worst case (claim, download, list and read
#: versions, staging upload, publish, policy, grants, SSM, claim record) plus the 120 s the handler keeps
#: for upload + publish + grants before it hands over to a fresh invocation.
MIN_DISTRIBUTOR_TIMEOUT = job_function_timeout(12, extra_seconds=120)


def distributor(
    owner: Construct,
    secure: SecurePipeline,
    *,
    layer_name: str,
    layer: LayerProps,
    staging_bucket_prefix: str,
    retention: logs.RetentionDays,
    removal_policy: cdk.RemovalPolicy,
) -> JobFunction:
    """The distributor function (``<owner>/Distributor``) and its configuration (``DISTRIBUTOR_CONFIG``).

    Beyond the recipe's own permissions it may write one object key in this pipeline's staging
    buckets, publish and share one layer, and write one SSM parameter, in the target regions only.
    It reads the built layer with the job's artifact credentials, never with its own role. What it
    trusts is fixed here, never taken from the event: the target regions, the staging bucket names
    and owner, and (in the recipe's environment) the pipeline's artifact bucket.
    """
    regions = list(layer.regions)
    parameter_name = layer.parameter_name
    key = staging_key(layer_name)
    config = {
        "layerName": layer_name,
        "parameterName": parameter_name,
        "stagingKey": key,
        "expectedBucketOwner": cdk.Stack.of(owner).account,
        "compatibleRuntimes": [r.name for r in layer.runtimes],
        "compatibleArchitectures": [a.name for a in layer.architectures],
        "licenseInfo": layer.license_info,
        "description": layer.description,
        "sharing": layer.sharing.to_json(),
        "allowPublic": layer.sharing.public,
        "regions": regions,
        "stagingBucketPrefix": staging_bucket_prefix,
        "claimsPrefix": CLAIMS_PREFIX,
    }
    account = cdk.Stack.of(owner).account
    partition = cdk.Aws.PARTITION
    in_regions = {"StringEquals": {"aws:RequestedRegion": list(regions)}}
    layer_arn = f"arn:{partition}:lambda:*:{account}:layer:{layer_name}"
    statements = [
        iam.PolicyStatement(
            sid="StagingObject",
            actions=["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"],
            resources=[f"arn:{partition}:s3:::{staging_bucket_prefix}*/{key}"],
            conditions={**in_regions, "StringEqualsIfExists": {"s3:ResourceAccount": account}},
        ),
        iam.PolicyStatement(
            sid="PublishLayer",
            actions=["lambda:PublishLayerVersion", "lambda:ListLayerVersions"],
            resources=[layer_arn],
            conditions=in_regions,
        ),
        iam.PolicyStatement(
            sid="ShareLayerVersions",
            actions=[
                "lambda:GetLayerVersion",
                "lambda:GetLayerVersionPolicy",
                "lambda:AddLayerVersionPermission",
                "lambda:RemoveLayerVersionPermission",
            ],
            resources=[f"{layer_arn}:*"],
            conditions=in_regions,
        ),
        iam.PolicyStatement(
            sid="LatestVersionParameter",
            actions=["ssm:PutParameter"],
            resources=[f"arn:{partition}:ssm:*:{account}:parameter/{parameter_name.lstrip('/')}"],
            conditions=in_regions,
        ),
    ]
    built = job_function(
        owner,
        "Distributor",
        handler_file=HANDLER_FILE,
        description=f"Publishes layer {layer_name} in one region per CodePipeline job ({owner.node.path})",
        claims=CLAIMS_PREFIX,
        statements=statements,
        artifacts=secure.artifact_bucket,
        artifact_key=secure.artifact_key,
        timeout=layer.timeout,
        retention=retention,
        removal_policy=removal_policy,
        environment={"DISTRIBUTOR_CONFIG": json.dumps(config, separators=(",", ":"), sort_keys=True)},
        # Network throughput for the download and uploads, and room for a 250 MB layer in /tmp.
        memory_size=1024,
        ephemeral_storage=cdk.Size.mebibytes(1024),
    )
    _acknowledge_regional_wildcards(built.policy, account=str(account), regions=regions)
    return built


def _acknowledge_regional_wildcards(policy: iam.ManagedPolicy, *, account: str, regions: Sequence[str]) -> None:
    """``AwsSolutions-IAM5`` on the region wildcards of the distributor's own statements, each named."""
    where = ", ".join(regions)
    document = cdk.Stack.of(policy).resolve(policy.document.to_json())
    for finding, _statement in wildcard_findings(document):
        resource = finding.removeprefix("Resource::")
        staging = re.fullmatch(r"arn:<AWS::Partition>:s3:::([a-z0-9-]+-)\*/(.+)", resource)
        layer = re.fullmatch(rf"arn:<AWS::Partition>:lambda:\*:{account}:layer:([^:]+)(:\*)?", resource)
        parameter = re.fullmatch(rf"arn:<AWS::Partition>:ssm:\*:{account}:parameter/(.+)", resource)
        if staging:
            text = reason(
                "staging-object-in-regions",
                key=staging.group(2),
                prefix=staging.group(1),
                regions=where,
                account=account,
            )
        elif layer:
            kind = "layer-versions-in-regions" if layer.group(2) else "layer-in-regions"
            text = reason(kind, layer=layer.group(1), account=account, regions=where)
        elif parameter:
            text = reason("parameter-in-regions", parameter=f"/{parameter.group(1)}", account=account, regions=where)
        else:  # Resource::* and the job claims: acknowledged by the recipe; anything new is reviewed, not waved
            continue
        acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", text)


def invoke_role(owner: Construct, secure: SecurePipeline, function: lambda_.IFunction) -> iam.IRole:
    """The role CodePipeline assumes for every region action: invoke the distributor, read the layer artifact.

    It trusts the pipeline's own role (not the account), and is immutable: CodePipeline's grants
    (invoke, artifact read, ``lambda:ListFunctions`` on ``*``) are refused; its managed policy is
    the whole permission set (:func:`~pipeline_constructs.core.private.lambda_recipe.invoke_role`).
    """
    return shared_invoke_role(
        owner,
        secure.pipeline,
        function,
        description=f"CodePipeline invokes the layer distributor of {owner.node.path} with this role",
        policy_description=f"CodePipeline's Lambda-invoke actions of {owner.node.path}",
        invoke_sid="InvokeDistributor",
        artifacts=(secure.artifact_bucket, secure.artifact_key, "LayerArtifact"),
    )
