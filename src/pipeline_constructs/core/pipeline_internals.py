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
from constructs import Construct, IConstruct

from pipeline_constructs.core.compliance import acknowledge_all, in_packs
from pipeline_constructs.core.iam_idioms import acknowledge_basic_execution_role, acknowledge_cdk_idioms

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


def _aws_managed_key_rules(project: codebuild.CfnProject) -> list[tuple[str, str]]:
    if cdk.Stack.of(project).resolve(project.encryption_key) not in (None, "alias/aws/s3"):
        return []
    return [
        (
            "AwsSolutions-CB4",
            "Every target is in the pipeline's account, so artifacts use the AWS-managed aws/s3 KMS key "
            "(no key to share across accounts); pass cross_account_keys=True for a customer-managed key.",
        )
    ]


def _project_rules(project: codebuild.CfnProject) -> list[tuple[str, str]]:
    source = cdk.Stack.of(project).resolve(project.source)
    kind = (source.get("type") or source.get("Type")) if isinstance(source, dict) else None
    if kind not in ("CODEPIPELINE", "NO_SOURCE"):
        return []
    return in_packs(
        "CodeBuildProjectSourceRepoUrl",
        ("HIPAA.Security", "PCI.DSS.321"),
        f"Source type {kind}: the project has no repository URL and no credentials; its input is "
        "the pipeline's encrypted artifact (or none).",
    )


def _harden_auto_approve(fn: lambda_.CfnFunction) -> None:
    fn.memory_size = 256
    acknowledge_all(
        fn,
        [
            *in_packs(
                "LambdaDLQ",
                ("NIST.800.53.R5", "HIPAA.Security", "Serverless"),
                "Invoked synchronously by the security-check build, which fails the action on error; "
                "a dead-letter queue only applies to asynchronous invocations.",
            ),
            *in_packs(
                "LambdaConcurrency",
                ("NIST.800.53.R5", "HIPAA.Security"),
                "CDK Pipelines' auto-approve function runs once per gated deployment; a reserved concurrency "
                "limit could only make a gate fail.",
            ),
            *in_packs(
                "LambdaInsideVPC",
                ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"),
                "Only calls the public CodePipeline API to approve its own pipeline; it reaches no data and no "
                "VPC resource.",
            ),
            (
                "Serverless-LambdaTracing",
                "A single short control-plane call per gate; its outcome is recorded in the pipeline execution "
                "history.",
            ),
        ],
    )


@jsii.implements(cdk.IAspect)
class _PipelineInternals:
    def __init__(self, pipeline: pipelines.CodePipeline, log_group: logs.ILogGroup | None, customer_key: bool) -> None:
        self._pipeline = pipeline
        self._log_group = log_group
        self._customer_key = customer_key
        self._done = False

    def visit(self, node: IConstruct) -> None:
        # Registered on a leaf marker, so this runs once, after CDK Pipelines' own build aspect
        # (which is on the marker's parent) and before any generated resource is visited.
        if self._done:
            return
        self._done = True
        try:
            self._pipeline.pipeline  # noqa: B018 - raises until the pipeline is built
        except RuntimeError:
            self._pipeline.build_pipeline()
        for child in self._pipeline.node.find_all():
            if isinstance(child, iam.CfnPolicy):
                if child.node.scope is not None and child.node.scope.node.id == "DefaultPolicy":
                    acknowledge_cdk_idioms(child)
            elif isinstance(child, codebuild.CfnProject):
                _log_to_pipeline_group(child, self._log_group)
                rules = _project_rules(child)
                if not self._customer_key:
                    rules += _aws_managed_key_rules(child)
                acknowledge_all(child, rules)
            elif isinstance(child, lambda_.CfnFunction):
                if "CDKPipelinesAutoApprove" in child.node.path:
                    _harden_auto_approve(child)
            elif isinstance(child, iam.CfnRole) and "CDKPipelinesAutoApprove" in child.node.path:
                acknowledge_basic_execution_role(child)


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
    # An aspect on the pipeline itself would be called back from Node once per generated construct;
    # on a leaf it is called once.
    marker = Construct(pipeline, "Hardening")
    cdk.Aspects.of(marker).add(_PipelineInternals(pipeline, log_group, customer_key))
