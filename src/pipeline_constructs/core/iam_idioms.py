"""CDK's least-privilege IAM idioms, recognised so they can be acknowledged precisely.

cdk-nag's ``AwsSolutions-IAM5`` flags every ``*`` in an action or resource.
CDK's own grant methods emit a few wildcards by design (``s3:GetObject*`` on
one bucket, a project's log streams ...). :func:`acknowledge_cdk_idioms`
computes a policy's findings the way cdk-nag does and acknowledges only those
idioms, each with its reason; any other wildcard stays a finding.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from pipeline_constructs.core.compliance import acknowledge_all, in_packs

__all__ = [
    "acknowledge_basic_execution_role",
    "acknowledge_cdk_idioms",
    "flatten_cfn_reference",
    "idiom_reason",
    "wildcard_findings",
]

_CODEBUILD_REPORT_ACTIONS = (
    "codebuild:CreateReportGroup",
    "codebuild:CreateReport",
    "codebuild:UpdateReport",
    "codebuild:BatchPutTestCases",
    "codebuild:BatchPutCodeCoverages",
)

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
    if value.endswith(".Arn>:*") and actions and actions <= {"lambda:InvokeFunction"}:
        return "lambda:InvokeFunction on the versions and aliases of one named function (CDK's grantInvoke idiom)."
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
    if value == "*" and actions <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}:
        return "X-Ray trace upload actions support only Resource '*' (no resource-level permissions exist)."
    if value == "*" and actions <= {"codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"}:
        return (
            "CDK Pipelines' asset-publishing action role starts the asset CodeBuild projects; it is assumable "
            "only by this pipeline's role."
        )
    if value.endswith(":log-group:/aws/codebuild/*"):
        return (
            "CDK Pipelines shares one role across generated asset-publishing projects; limited to CodeBuild's "
            "log-group namespace in this account and region."
        )
    if value.endswith(":report-group/*") and actions <= set(_CODEBUILD_REPORT_ACTIONS):
        return (
            "CodeBuild's report grant for CDK Pipelines' shared asset-publishing role; report actions only, "
            "in this account and region."
        )
    if value == "*" and actions <= {"cloudformation:DescribeStacks", "s3:ListBucket"}:
        return (
            "Read-only calls 'cdk deploy' makes to find the CDK bootstrap stack and bucket, whose names "
            "are resolved at run time in the target environment."
        )
    return None


def acknowledge_cdk_idioms(policy: iam.CfnPolicy) -> None:
    """Acknowledge, on ``policy``, the IAM5 findings that are CDK least-privilege idioms (and nothing else).

    Also acknowledges NIST/HIPAA/PCI ``IAMNoInlinePolicy``: ``policy`` must be a
    CDK-generated ``DefaultPolicy`` attached to one role.
    """
    document = cdk.Stack.of(policy).resolve(policy.policy_document)
    by_finding: dict[str, list[dict[str, Any]]] = {}
    for finding, statement in wildcard_findings(document):
        by_finding.setdefault(finding, []).append(statement)
    rules: list[tuple[str, str]] = []
    for finding, statements in by_finding.items():
        all_statements = [
            s for s in document.get("Statement", []) if finding in {f for f, _ in wildcard_findings({"Statement": [s]})}
        ]
        reason = idiom_reason(finding, all_statements or statements)
        if reason is not None:
            rules.append((f"AwsSolutions-IAM5[{finding}]", reason))
    rules += in_packs(
        "IAMNoInlinePolicy",
        _INLINE_PACKS,
        "CDK's generated DefaultPolicy: a policy attached to exactly one generated role and scoped to "
        "the resources that role uses; a managed policy would make it attachable elsewhere.",
    )
    acknowledge_all(policy, rules)


_BASIC_EXECUTION_ROLE = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"
)


def acknowledge_basic_execution_role(role: iam.CfnRole) -> None:
    """Acknowledge the ``AWSLambdaBasicExecutionRole`` managed policy CDK attaches to a function's role."""
    acknowledge_all(
        role,
        [(_BASIC_EXECUTION_ROLE, "AWS-managed policy that only allows writing the function's own CloudWatch logs.")],
    )
