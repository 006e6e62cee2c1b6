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

from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import pipelines
from constructs import IConstruct

from pipeline_constructs.core.compliance import acknowledge

__all__ = ["flatten_cfn_reference", "harden_pipeline_internals", "idiom_reason", "wildcard_findings"]

_INLINE_PACKS = ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")

# Action groups CDK's grant methods (grantRead / grantReadWrite / grantEncryptDecrypt) emit.
_GRANT_ACTIONS = {
    "s3:GetObject*": "read objects",
    "s3:GetBucket*": "read bucket configuration",
    "s3:List*": "list objects",
    "s3:DeleteObject*": "replace pipeline artifacts",
    "s3:Abort*": "abort multipart uploads",
    "kms:GenerateDataKey*": "encrypt artifacts",
    "kms:ReEncrypt*": "re-encrypt artifacts",
}


def flatten_cfn_reference(value: Any) -> str:
    """Render a CloudFormation value the way cdk-nag names findings (``<Logical.Arn>``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if "Fn::Join" in value:
            delimiter, items = value["Fn::Join"]
            return str(delimiter).join(flatten_cfn_reference(i) for i in items)
        if "Fn::Sub" in value:
            return flatten_cfn_reference(value["Fn::Sub"])
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return f"<{flatten_cfn_reference(resource)}.{flatten_cfn_reference(attribute)}>"
        if "Fn::ImportValue" in value:
            return flatten_cfn_reference(value["Fn::ImportValue"])
        if "Ref" in value:
            return f"<{flatten_cfn_reference(value['Ref'])}>"
    import json

    return json.dumps(value, separators=(",", ":"))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_findings(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """cdk-nag ``IAM5`` findings of a resolved policy document, each with its statement."""
    out: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        names = [f"Action::{a}" for a in _as_list(statement.get("Action")) if isinstance(a, str) and "*" in a]
        names += [
            f"Resource::{r}"
            for r in (flatten_cfn_reference(x) for x in _as_list(statement.get("Resource")))
            if "*" in r
        ]
        for name in names:
            if name not in seen:
                seen.add(name)
                out.append((name, statement))
    return out


def idiom_reason(finding: str, statements: list[dict[str, Any]]) -> str | None:
    """Why a wildcard finding is one of CDK's least-privilege idioms, or ``None`` if it is not."""
    resources = [flatten_cfn_reference(r) for s in statements for r in _as_list(s.get("Resource"))]
    scoped = "*" not in resources
    actions = {a for s in statements for a in _as_list(s.get("Action"))}
    conditions = [s.get("Condition") or {} for s in statements]
    kind, _, value = finding.partition("::")
    if kind == "Action":
        if value in _GRANT_ACTIONS and scoped:
            return (
                f"CDK grant action group to {_GRANT_ACTIONS[value]}; every statement carrying it is scoped to "
                "this pipeline's own artifact bucket or key ARNs, never '*'."
            )
        return None
    if value.endswith(".Arn>/*") and actions and all(a.startswith("s3:") for a in actions):
        return (
            "Objects of one named bucket (this pipeline's artifact or asset bucket); the bucket ARN is not a wildcard."
        )
    if ":log-group:/aws/codebuild/<" in value and value.endswith(">:*"):
        return "Log streams of this CodeBuild project's own log group (CDK's default CodeBuild logging grant)."
    if ":report-group/<" in value and value.endswith(">-*"):
        return "CodeBuild's automatic grant: report groups named after this project only."
    if ":lambda:" in value or (value.endswith(".Arn>:*") and actions <= {"lambda:InvokeFunction"}):
        return "Invokes versions and aliases of the one auto-approve function (lambda:InvokeFunction only)."
    tagged_roles = all("iam:ResourceTag/aws-cdk:bootstrap-role" in str(c) for c in conditions)
    if actions == {"sts:AssumeRole"} and tagged_roles:
        return (
            "sts:AssumeRole is limited by an iam:ResourceTag/aws-cdk:bootstrap-role condition to the CDK "
            "bootstrap roles of the target accounts; their names are not known at synth time."
        )
    if actions <= {"codepipeline:GetPipelineState", "codepipeline:PutApprovalResult"} and all(
        "aws:ResourceTag/SECURITY_CHECK" in str(c) for c in conditions
    ):
        return "Limited by an aws:ResourceTag/SECURITY_CHECK condition to pipelines that opted into auto-approval."
    if value == "*" and actions <= {"cloudformation:DescribeStacks", "s3:ListBucket"}:
        return (
            "Read-only calls 'cdk deploy' makes to find the CDK bootstrap stack and bucket, whose names "
            "are resolved at run time in the target environment."
        )
    return None


def _acknowledge_policy(policy: iam.CfnPolicy) -> None:
    document = cdk.Stack.of(policy).resolve(policy.policy_document)
    by_finding: dict[str, list[dict[str, Any]]] = {}
    for finding, statement in wildcard_findings(document):
        by_finding.setdefault(finding, []).append(statement)
    for finding, statements in by_finding.items():
        all_statements = [
            s for s in document.get("Statement", []) if finding in {f for f, _ in wildcard_findings({"Statement": [s]})}
        ]
        reason = idiom_reason(finding, all_statements or statements)
        if reason is not None:
            acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)
    for pack in _INLINE_PACKS:
        acknowledge(
            policy,
            f"{pack}-IAMNoInlinePolicy",
            "CDK's generated DefaultPolicy: a policy attached to exactly one generated role and scoped to "
            "the resources that role uses; a managed policy would make it attachable elsewhere.",
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
    def __init__(self, pipeline: pipelines.CodePipeline) -> None:
        self._pipeline = pipeline
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
                _acknowledge_policy(child)
            elif isinstance(child, codebuild.CfnProject):
                _acknowledge_project(child)
            elif isinstance(child, lambda_.CfnFunction) and "CDKPipelinesAutoApprove" in child.node.path:
                _harden_auto_approve(child)
            elif isinstance(child, iam.CfnRole) and "CDKPipelinesAutoApprove" in child.node.path:
                _acknowledge_service_role(child)


def harden_pipeline_internals(pipeline: pipelines.CodePipeline) -> None:
    """Register the post-build hardening on ``pipeline`` (call once, before synth)."""
    cdk.Aspects.of(pipeline).add(_PipelineInternals(pipeline))
