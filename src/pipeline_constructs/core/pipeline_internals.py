"""Harden and document what CDK Pipelines generates after the pipeline is built.

CDK Pipelines creates its roles, CodeBuild projects and the auto-approve
Lambda of ``ConfirmPermissionsBroadening`` only when the pipeline is built
(at synth). :func:`harden_pipeline_internals` registers an aspect that runs
right after that build and:

* fixes what can be fixed without forking CDK (the auto-approve Lambda gets
  256 MB instead of the 128 MB default);
* acknowledges, on each generated resource (the narrowest construct), only
  findings that are CDK's own least-privilege idioms, each with its reason.
  A wildcard that is not one of the idioms below stays a finding.
"""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import pipelines
from constructs import IConstruct

from pipeline_constructs.core.compliance import acknowledge
from pipeline_constructs.core.iam_idioms import acknowledge_cdk_idioms

__all__ = ["harden_pipeline_internals"]


def _log_to_pipeline_group(project: codebuild.CfnProject, log_group: logs.ILogGroup | None) -> None:
    """Send a generated project that CDK Pipelines did not configure (the security check) to our log group."""
    if log_group is None or project.logs_config is not None:
        return
    project.logs_config = codebuild.CfnProject.LogsConfigProperty(
        cloud_watch_logs=codebuild.CfnProject.CloudWatchLogsConfigProperty(
            status="ENABLED", group_name=log_group.log_group_name
        )
    )
    owner = project.node.scope
    if isinstance(owner, codebuild.Project):
        log_group.grant_write(owner)


def _acknowledge_aws_managed_key(project: codebuild.CfnProject) -> None:
    if cdk.Stack.of(project).resolve(project.encryption_key) in (None, "alias/aws/s3"):
        acknowledge(
            project,
            "AwsSolutions-CB4",
            "Every target is in the pipeline's account, so artifacts use the AWS-managed aws/s3 KMS key "
            "(no key to share across accounts); pass cross_account_keys=True for a customer-managed key.",
        )


def _acknowledge_project(project: codebuild.CfnProject) -> None:
    source = cdk.Stack.of(project).resolve(project.source)
    kind = (source.get("type") or source.get("Type")) if isinstance(source, dict) else None
    if kind in ("CODEPIPELINE", "NO_SOURCE"):
        for pack in ("HIPAA.Security", "PCI.DSS.321"):
            acknowledge(
                project,
                f"{pack}-CodeBuildProjectSourceRepoUrl",
                f"Source type {kind}: the project has no repository URL and no credentials; its input is "
                "the pipeline's encrypted artifact (or none).",
            )


def _harden_auto_approve(fn: lambda_.CfnFunction) -> None:
    fn.memory_size = 256
    for pack in ("NIST.800.53.R5", "HIPAA.Security", "Serverless"):
        acknowledge(
            fn,
            f"{pack}-LambdaDLQ",
            "Invoked synchronously by the security-check build, which fails the action on error; "
            "a dead-letter queue only applies to asynchronous invocations.",
        )
    for pack in ("NIST.800.53.R5", "HIPAA.Security"):
        acknowledge(
            fn,
            f"{pack}-LambdaConcurrency",
            "CDK Pipelines' auto-approve function runs once per gated deployment; a reserved concurrency "
            "limit could only make a gate fail.",
        )
    for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
        acknowledge(
            fn,
            f"{pack}-LambdaInsideVPC",
            "Only calls the public CodePipeline API to approve its own pipeline; it reaches no data and no "
            "VPC resource.",
        )
    acknowledge(
        fn,
        "Serverless-LambdaTracing",
        "A single short control-plane call per gate; its outcome is recorded in the pipeline execution history.",
    )


def _acknowledge_service_role(role: iam.CfnRole) -> None:
    acknowledge(
        role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "AWS-managed policy that only allows writing the function's own CloudWatch logs.",
    )


@jsii.implements(cdk.IAspect)
class _PipelineInternals:
    def __init__(self, pipeline: pipelines.CodePipeline, log_group: logs.ILogGroup | None, customer_key: bool) -> None:
        self._pipeline = pipeline
        self._log_group = log_group
        self._customer_key = customer_key
        self._done = False

    def visit(self, node: IConstruct) -> None:
        if self._done or node is not self._pipeline:
            return
        self._done = True
        for child in node.node.find_all():
            if (
                isinstance(child, iam.CfnPolicy)
                and child.node.scope is not None
                and child.node.scope.node.id == "DefaultPolicy"
            ):
                acknowledge_cdk_idioms(child)
            elif isinstance(child, codebuild.CfnProject):
                _log_to_pipeline_group(child, self._log_group)
                _acknowledge_project(child)
                if not self._customer_key:
                    _acknowledge_aws_managed_key(child)
            elif isinstance(child, lambda_.CfnFunction) and "CDKPipelinesAutoApprove" in child.node.path:
                _harden_auto_approve(child)
            elif isinstance(child, iam.CfnRole) and "CDKPipelinesAutoApprove" in child.node.path:
                _acknowledge_service_role(child)


def harden_pipeline_internals(
    pipeline: pipelines.CodePipeline, *, log_group: logs.ILogGroup | None = None, customer_key: bool = True
) -> None:
    """Register the post-build hardening on ``pipeline`` (call once, before synth).

    :param log_group: where generated CodeBuild projects without a logging
        configuration (the ``ConfirmPermissionsBroadening`` check) send their
        logs. Default: leave them on CodeBuild's default log group.
    :param customer_key: whether artifacts use a customer-managed KMS key. When
        ``False`` (a same-account pipeline chose the AWS-managed key),
        ``AwsSolutions-CB4`` is acknowledged on each generated project with that
        reason. Default: ``True``.
    """
    cdk.Aspects.of(pipeline).add(_PipelineInternals(pipeline, log_group, customer_key))
