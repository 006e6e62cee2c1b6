"""IAM facts the library's acknowledgments and checks rely on, and the statement rules every template meets.

Pure functions over synthesized CloudFormation (dicts), no ``aws_cdk`` import:
tests, the docs and auditors use them on any template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "NO_RESOURCE_LEVEL_PERMISSIONS",
    "StatementProblem",
    "flatten",
    "iam_statement_problems",
    "policy_documents",
    "statements",
]

_SAR = "https://docs.aws.amazon.com/service-authorization/latest/reference/"

#: Actions whose Service Authorization Reference entry lists no resource type: they can only be
#: granted on ``Resource: "*"``. Action -> the reference page that says so.
NO_RESOURCE_LEVEL_PERMISSIONS: dict[str, str] = {
    "xray:PutTraceSegments": _SAR + "list_awsx-ray.html",
    "xray:PutTelemetryRecords": _SAR + "list_awsx-ray.html",
    "codepipeline:PutJobSuccessResult": _SAR + "list_awscodepipeline.html",
    "codepipeline:PutJobFailureResult": _SAR + "list_awscodepipeline.html",
    "lambda:ListFunctions": _SAR + "list_awslambda.html",
    # "Actions defined by AWS Health APIs and Notifications": DescribeEvents lists no resource type.
    "health:DescribeEvents": _SAR + "list_awshealthapisandnotifications.html",
    "cloudwatch:PutMetricData": _SAR + "list_amazoncloudwatch.html",
    "ec2:DescribeNetworkInterfaces": _SAR + "list_amazonec2.html",
    "ec2:DescribeSubnets": _SAR + "list_amazonec2.html",
    "ec2:DescribeSecurityGroups": _SAR + "list_amazonec2.html",
    "ec2:DescribeDhcpOptions": _SAR + "list_amazonec2.html",
    "ec2:DescribeVpcs": _SAR + "list_amazonec2.html",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def flatten(value: Any) -> str:
    """Render a CloudFormation value the way cdk-nag names findings (``<Logical.Arn>``, ``<AWS::Partition>``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if "Fn::Join" in value:
            delimiter, items = value["Fn::Join"]
            return str(delimiter).join(flatten(i) for i in items)
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            return flatten(sub[0] if isinstance(sub, list) else sub)
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            resource, attribute = target if isinstance(target, list) else str(target).split(".", 1)
            return f"<{flatten(resource)}.{flatten(attribute)}>"
        if "Fn::ImportValue" in value:
            return flatten(value["Fn::ImportValue"])
        if "Ref" in value:
            return f"<{flatten(value['Ref'])}>"
    return json.dumps(value, separators=(",", ":"))


def policy_documents(resource: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The identity-policy documents a resource carries (policies, managed policies, a role's inline policies)."""
    kind = resource.get("Type")
    props = resource.get("Properties") or {}
    if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        doc = props.get("PolicyDocument")
        return [doc] if isinstance(doc, dict) else []
    if kind in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
        return [p["PolicyDocument"] for p in props.get("Policies") or [] if isinstance(p.get("PolicyDocument"), dict)]
    return []


def statements(resource: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every ``Allow`` statement of the resource's identity policies."""
    for doc in policy_documents(resource):
        for statement in _as_list(doc.get("Statement") or []):
            if isinstance(statement, dict) and statement.get("Effect") == "Allow":
                yield statement


def actions_of(statement: Mapping[str, Any]) -> list[str]:
    return [a for a in _as_list(statement.get("Action")) if isinstance(a, str)]


def resources_of(statement: Mapping[str, Any]) -> list[str]:
    return [flatten(r) for r in _as_list(statement.get("Resource"))]


def _action_matches(pattern: str, action: str) -> bool:
    regex = "^" + re.escape(pattern.lower()).replace("\\*", ".*").replace("\\?", ".") + "$"
    return re.match(regex, action.lower()) is not None


@dataclass(frozen=True)
class StatementProblem:
    """A statement (or trust policy) that breaks one of the library's IAM rules."""

    #: The template (artifact id) that holds the resource.
    template: str
    logical_id: str
    #: The broken rule's id, e.g. ``star-resource-forbidden``.
    rule: str
    #: What is wrong, in one sentence.
    detail: str

    def __str__(self) -> str:
        return f"{self.template}#{self.logical_id}: {self.rule}: {self.detail}"


_MANAGED_BASIC = "AWSLambdaBasicExecutionRole"


def _principal_is_account_root(principal: Any) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for value in _as_list(principal.get("AWS")):
        text = flatten(value)
        if text == "*" or re.search(r":iam::(\d{12}|<AWS::AccountId>):root$", text) or re.fullmatch(r"\d{12}", text):
            return True
    return False


def iam_statement_problems(template: Mapping[str, Any], name: str = "") -> list[StatementProblem]:
    """Statements of ``template`` that break the library's IAM rules.

    * no ``sts:AssumeRole`` and no ``codebuild:StartBuild`` on ``Resource: "*"`` (conditioned or not);
    * no ``AWSLambdaBasicExecutionRole`` (it allows log writes on ``*``);
    * no role trusting an account root (or ``*``) without a condition;
    * ``Resource: "*"`` without a condition only for actions in :data:`NO_RESOURCE_LEVEL_PERMISSIONS`.
    """
    out: list[StatementProblem] = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, dict):
            continue
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::IAM::Role":
            for arn in _as_list(props.get("ManagedPolicyArns") or []):
                if _MANAGED_BASIC in flatten(arn):
                    out.append(StatementProblem(name, logical_id, "managed-basic-execution-role", flatten(arn)))
            trust = props.get("AssumeRolePolicyDocument") or {}
            for statement in _as_list(trust.get("Statement") or []):
                if (
                    isinstance(statement, dict)
                    and statement.get("Effect") == "Allow"
                    and _principal_is_account_root(statement.get("Principal"))
                    and not statement.get("Condition")
                ):
                    out.append(
                        StatementProblem(name, logical_id, "account-root-trust", flatten(statement.get("Principal")))
                    )
        for statement in statements(resource):
            actions = actions_of(statement)
            if "*" not in resources_of(statement):
                continue
            for forbidden in ("sts:AssumeRole", "codebuild:StartBuild"):
                if any(_action_matches(a, forbidden) for a in actions):
                    out.append(StatementProblem(name, logical_id, "star-resource-forbidden", forbidden))
            if statement.get("Condition"):
                continue
            unscoped = [a for a in actions if a not in NO_RESOURCE_LEVEL_PERMISSIONS]
            if unscoped:
                out.append(StatementProblem(name, logical_id, "unconditioned-star-resource", ", ".join(unscoped)))
    return out
