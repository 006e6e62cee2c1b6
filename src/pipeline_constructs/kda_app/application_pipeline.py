"""The application pipeline (data engineers; plain CodePipeline V2)::

    Source -> Build (build + tests + JUnit report; upload the release; write kda-release.json)
           -> <target 1>: UpdateApplication -> <target 2>: PromoteTo<target 2> -> UpdateApplication

Why a plain ``codepipeline.Pipeline`` and not CDK Pipelines: it deploys no CloudFormation. A release of
a Flink application is a JAR and an API call; CDK Pipelines would add a synth action, a self-mutation
action and asset actions to every release (three CodeBuild cold starts) for nothing it deploys. It is
hardened with the same core pieces instead (:func:`~pipeline_constructs.core.plain_pipeline.plain_pipeline`).
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from pipeline_constructs.core.plain_pipeline import PlainPipeline, acknowledge_generated, plain_pipeline
from pipeline_constructs.core.private.encryption import new_key
from pipeline_constructs.core.private.lambda_recipe import JobFunction
from pipeline_constructs.core.reports import TestReports
from pipeline_constructs.core.targets import DeploymentTarget
from pipeline_constructs.kda_app.names import KdaNames
from pipeline_constructs.kda_app.release import build_project, release_bucket, report_groups
from pipeline_constructs.kda_app.sources import ApplicationBuild, ApplicationSource
from pipeline_constructs.kda_app.update import update_action, update_function
from pipeline_constructs.steps.lambda_invoke import role_arn_principal

__all__ = ["ApplicationPipeline", "ApplicationSettings", "application_pipeline"]


@dataclass(frozen=True)
class ApplicationSettings:
    """What the application pipeline is built from (checked by :class:`~pipeline_constructs.kda_app.KdaAppPipeline`)."""

    #: The construct path errors name.
    where: str
    names: KdaNames
    targets: tuple[DeploymentTarget, ...]
    source: ApplicationSource
    build: ApplicationBuild
    prefix: str
    pipeline_name: str | None
    timeout_seconds: int
    start_application: bool
    allow_non_restored_state: bool
    compute_type: codebuild.ComputeType
    retention: logs.RetentionDays
    removal_policy: cdk.RemovalPolicy


@dataclass(frozen=True)
class ApplicationPipeline:
    """The parts of the application pipeline."""

    #: The pipeline, its artifact bucket and key.
    plain: PlainPipeline
    #: Key of the artifacts, the build and the release bucket.
    release_key: kms.Key
    #: The versioned bucket every release is kept in (``<prefix><commit>/<execution id>/<file>``).
    release_bucket: s3.Bucket
    #: The build's report groups, by name (empty without tests).
    test_reports: dict[str, TestReports]
    #: The CodeBuild project: build, test, publish the release.
    build_project: codebuild.PipelineProject
    #: The update function (``runtime/kda_update.py``) and its parts.
    update: JobFunction
    #: The role the actions invoke the update function with: it trusts only the pipeline's role.
    invoke_role: iam.Role
    #: The update actions, by target name.
    update_actions: dict[str, actions.LambdaInvokeAction]


def application_pipeline(
    scope: Construct,
    settings: ApplicationSettings,
    *,
    access_logs: s3.IBucket,
    log_group: logs.ILogGroup,
    logs_key: kms.IKey,
) -> ApplicationPipeline:
    """Build the application pipeline under ``scope``.

    :param access_logs: receives the buckets' server access logs (the infrastructure pipeline's).
    :param log_group: the build's log group (the infrastructure pipeline's CodeBuild log group).
    :param logs_key: encrypts the update function's logs and dead-letter queue.
    """
    s = settings
    key = new_key(
        scope,
        "ReleaseKey",
        description=f"Application artifacts and releases of {s.names.application_name}",
        removal_policy=s.removal_policy,
    )
    plain = plain_pipeline(
        scope,
        "Delivery",
        description=f"the application pipeline of {s.names.application_name}",
        pipeline_name=s.pipeline_name,
        artifact_key=key,
        access_logs=access_logs,
        access_logs_prefix="application-artifacts/",
        removal_policy=s.removal_policy,
    )
    releases = release_bucket(
        scope,
        s.names,
        s.targets,
        prefix=s.prefix,
        key=key,
        access_logs=access_logs,
        removal_policy=s.removal_policy,
    )
    reports = report_groups(scope, s.build, s.removal_policy)
    project = build_project(
        scope,
        s.names,
        s.build,
        prefix=s.prefix,
        key=key,
        log_group=log_group,
        compute_type=s.compute_type,
        reports=list(reports.values()),
    )
    update = update_function(
        scope,
        s.names,
        s.targets,
        prefix=s.prefix,
        artifacts=plain.artifact_bucket,
        artifact_key=key,
        logs_key=logs_key,
        retention=s.retention,
        removal_policy=s.removal_policy,
        where=s.where,
    )
    pipeline = plain.pipeline
    invoke_role = iam.Role(
        scope,
        "UpdateInvokeRole",
        assumed_by=role_arn_principal(lambda: pipeline.role),
        description=f"The application pipeline of {s.names.application_name} invokes the update function with this",
    )
    acknowledge_generated(invoke_role)  # the grants the invoke actions add to it

    source_output = codepipeline.Artifact("Source")
    release_output = codepipeline.Artifact("Release")
    pipeline.add_stage(stage_name="Source", actions=[s.source.action(source_output)])
    pipeline.add_stage(
        stage_name="Build",
        actions=[
            actions.CodeBuildAction(
                action_name="BuildTestPublish",
                project=project,
                input=source_output,
                outputs=[release_output],
                environment_variables={
                    "PIPELINE_EXECUTION_ID": codebuild.BuildEnvironmentVariable(
                        value="#{codepipeline.PipelineExecutionId}"
                    )
                },
            )
        ],
    )
    updates: dict[str, actions.LambdaInvokeAction] = {}
    for target in s.targets:
        stage_actions: list[codepipeline.IAction] = _approval(s.names, target)
        updates[target.name] = update_action(
            s.names,
            target,
            function=update,
            release=release_output,
            role=invoke_role,
            timeout_seconds=s.timeout_seconds,
            start_application=s.start_application,
            allow_non_restored_state=s.allow_non_restored_state,
            run_order=len(stage_actions) + 1,
        )
        pipeline.add_stage(stage_name=target.name, actions=[*stage_actions, updates[target.name]])
    return ApplicationPipeline(
        plain=plain,
        release_key=key,
        release_bucket=releases,
        test_reports=reports,
        build_project=project,
        update=update,
        invoke_role=invoke_role,
        update_actions=updates,
    )


def _approval(names: KdaNames, target: DeploymentTarget) -> list[codepipeline.IAction]:
    """``PromoteTo<target>`` before a ``manual_approval`` target's update (the library's one approval name)."""
    if not target.manual_approval:
        return []
    return [
        actions.ManualApprovalAction(
            action_name=f"PromoteTo{target.name}",
            additional_information=target.approval_comment
            or f"Deploy this release of {names.application_name} to {target.name}.",
            run_order=1,
        )
    ]
