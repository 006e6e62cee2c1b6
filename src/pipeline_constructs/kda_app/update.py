"""The release update: the job function every target's ``UpdateApplication`` action invokes.

The function (``runtime/kda_update.py``, built with :func:`~pipeline_constructs.core.pipeline_jobs.job_function`)
checks the application's status, waits through continuation tokens while it is busy, calls
UpdateApplication with the release's key **and object version** and the ConditionalToken, keeps state
(snapshots on, restore from the latest snapshot), waits for the result and always reports it to
CodePipeline. What it trusts (the release bucket and prefix, the applications and the role of each)
is fixed at synth in its environment; an action's user parameters only select one application.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from pipeline_constructs.core.compliance import acknowledge
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.pipeline_jobs import claims_prefix, job_function_timeout, policy_environment
from pipeline_constructs.core.private.iam_idioms import flatten_cfn_reference
from pipeline_constructs.core.private.lambda_recipe import JobFunction, job_function
from pipeline_constructs.core.targets import DeploymentTarget
from pipeline_constructs.core.validation import invalid
from pipeline_constructs.kda_app.names import KdaNames
from pipeline_constructs.kda_app.release import MANIFEST_NAME

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "MANIFEST_NAME",
    "MAX_TIMEOUT_SECONDS",
    "UPDATE_FUNCTION_TIMEOUT",
    "update_action",
    "update_function",
]

#: The update action's default and longest wait for an application (``runtime/kda_update.py``).
DEFAULT_TIMEOUT_SECONDS = 1800
MAX_TIMEOUT_SECONDS = 3600
#: Where the update function's job claims go in the application pipeline's artifact bucket.
CLAIMS = claims_prefix("kda-update")
#: The update function's timeout: one invocation makes at most 10 AWS calls (claim and its read, the
#: artifact, the release HEAD, AssumeRole, DescribeApplication, a snapshot page, Update/StartApplication,
#: the claim record, one spare), each at its worst case (4 attempts of 3 + 8 s, backoff), plus the
#: watchdog's margin for sending the result: 9 minutes. A normal invocation takes a few seconds.
UPDATE_FUNCTION_TIMEOUT = job_function_timeout(10)
# Lambda allows 4 KB for all environment variables together.
_ENVIRONMENT_LIMIT = 4096


def update_function(
    scope: Construct,
    names: KdaNames,
    targets: Sequence[DeploymentTarget],
    *,
    prefix: str,
    artifacts: s3.Bucket,
    artifact_key: kms.IKey,
    logs_key: kms.IKey,
    retention: logs.RetentionDays,
    removal_policy: cdk.RemovalPolicy,
    where: str,
) -> JobFunction:
    """The update function (``Update``): assumes each target's updater role, reads releases, reports jobs.

    :param where: the construct path errors name (the pipeline construct's).
    :raises ValueError: when the targets do not fit in the function's environment (4 KB).
    """
    config = {
        "releaseBucket": names.release_bucket,
        "releaseBucketArn": names.release_bucket_arn,
        "releasePrefix": prefix,
        "manifestName": MANIFEST_NAME,
        "claimsPrefix": CLAIMS,
        "applications": {
            names.flink_application(t): {"region": t.region, "roleArn": names.updater_role_arn(t)} for t in targets
        },
    }
    # Unresolved tokens only overestimate the size.
    if len(json.dumps(config)) + len(json.dumps(policy_environment(artifacts))) > _ENVIRONMENT_LIMIT:
        raise invalid(
            where,
            "targets",
            f"<{len(targets)} targets>",
            "too many targets for the update function's configuration (Lambda's 4 KB of environment variables)",
        )
    releases = f"{names.release_bucket_arn}/{prefix}*"
    job = job_function(
        scope,
        "Update",
        handler_file="kda_update.py",
        description=f"Deploys releases of {names.application_name} to its Flink applications (CodePipeline action)",
        claims=CLAIMS,
        statements=[
            iam.PolicyStatement(
                sid="AssumeTargetUpdaterRoles",
                actions=["sts:AssumeRole"],
                resources=sorted({names.updater_role_arn(t) for t in targets}),
            ),
            iam.PolicyStatement(
                sid="CheckReleases", actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[releases]
            ),
        ],
        artifacts=artifacts,
        artifact_key=artifact_key,
        timeout=UPDATE_FUNCTION_TIMEOUT,
        retention=retention,
        removal_policy=removal_policy,
        key=logs_key,
        # What the function trusts, fixed at synth: the release bucket and prefix, the applications it
        # deploys to and the role for each (the event only names one of these applications).
        environment={"KDA_UPDATE_CONFIG": cdk.Stack.of(scope).to_json_string(config)},
        # The name each target's updater role trusts (another account cannot reference an attribute).
        role_name=names.update_function_role,
    )
    acknowledge(
        job.policy,
        f"AwsSolutions-IAM5[Resource::{flatten_cfn_reference(cdk.Stack.of(scope).resolve(releases))}]",
        reason(
            "prefix-objects",
            prefix=prefix,
            access="read",
            why="it checks (HEAD) that a release exists before deploying it; one key per build",
        ),
    )
    return job


def update_action(
    names: KdaNames,
    target: DeploymentTarget,
    *,
    function: JobFunction,
    release: codepipeline.Artifact,
    role: iam.IRole,
    timeout_seconds: int,
    start_application: bool,
    allow_non_restored_state: bool,
    run_order: int,
) -> actions.LambdaInvokeAction:
    """The ``UpdateApplication`` action of one target: deploy the release named by ``release``'s manifest."""
    return actions.LambdaInvokeAction(
        action_name="UpdateApplication",
        lambda_=function.function,
        inputs=[release],
        # The application selects a target of the function's configuration; its role, region and the
        # release bucket come from that configuration, never from the event.
        user_parameters={
            "applicationName": names.flink_application(target),
            "timeoutSeconds": timeout_seconds,
            "startApplication": start_application,
            "allowNonRestoredState": allow_non_restored_state,
        },
        role=role,
        run_order=run_order,
    )
