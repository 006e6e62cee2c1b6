"""After CDK Pipelines built the pipeline: the migration builds' policies, narrowed and acknowledged.

* each build role's ``DefaultPolicy``: CDK's grant idioms (artifact bucket,
  log group, report groups; judged by core's ``acknowledge_cdk_idioms``),
  CodeBuild's subnet-conditioned ENI permission and the scoped
  ``kms:Decrypt`` for an imported secret;
* each build project's ``PolicyDocument``: CodeBuild's VPC policy, narrowed
  (ENI actions on this account's interfaces and the build's subnets).

Anything else stays a finding. Registered with
:func:`~pipeline_constructs.core.compliance.hardening.after_build`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines

from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.private.iam_idioms import acknowledge_cdk_idioms, rewrite_statements

__all__ = ["DECRYPT_SID", "acknowledge_build_policies"]

#: Sid of the ``kms:Decrypt`` statement of a build role whose secret's key is unknown.
DECRYPT_SID = "DecryptOnlyThisSecretThroughSecretsManager"
_ENI_ACTIONS = {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"}


def acknowledge_build_policies(roles: Iterable[iam.Role], steps: Iterable[pipelines.CodeBuildStep]) -> None:
    """Narrow and acknowledge the policies of the migration builds (``roles``, ``steps``); run after the build."""
    for role in roles:
        policy = role.node.try_find_child("DefaultPolicy")
        if policy is not None and isinstance(policy.node.default_child, iam.CfnPolicy):
            acknowledge_cdk_idioms(policy.node.default_child, extra=_statement_reason)
    for step in steps:
        vpc_policy = step.project.node.try_find_child("PolicyDocument")
        project = step.project.node.default_child
        if (
            vpc_policy is not None
            and isinstance(vpc_policy.node.default_child, iam.CfnPolicy)
            and isinstance(project, codebuild.CfnProject)
        ):
            _narrow_vpc_policy(vpc_policy.node.default_child, project)


def _statement_reason(finding: str, statements: list[dict[str, Any]]) -> str | None:
    """Why a wildcard of this construct's own conditioned statements is least privilege, or ``None``."""
    if statements and all(s.get("Sid") == DECRYPT_SID for s in statements):
        return reason(
            "kms-decrypt-via-service",
            service="Secrets Manager",
            what="this target's secret",
            context="kms:EncryptionContext:SecretARN",
        )
    permission = [s for s in statements if s.get("Action") == "ec2:CreateNetworkInterfacePermission"]
    if permission and len(permission) == len(statements):
        equals = (permission[0].get("Condition") or {}).get("StringEquals") or {}
        if "ec2:Subnet" in equals and equals.get("ec2:AuthorizedService") == "codebuild.amazonaws.com":
            return reason("codebuild-eni-permission")
    return None


def _eni_reason(finding: str, statements: list[dict[str, Any]]) -> str | None:
    actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    if finding.endswith(":network-interface/*") and actions <= _ENI_ACTIONS:
        return reason("codebuild-build-enis")
    return None


def _narrow_vpc_policy(policy: iam.CfnPolicy, project: codebuild.CfnProject) -> None:
    """CodeBuild's VPC policy without ``*`` for the two ENI actions that support resource-level permissions.

    CDK grants ``ec2:CreateNetworkInterface`` and ``ec2:DeleteNetworkInterface`` on ``*`` with the Describe
    calls. Per the Service Authorization Reference (list_amazonec2.html), CreateNetworkInterface is
    authorised on the new network interface, the subnet and the security groups, DeleteNetworkInterface on
    the interface; CodeBuild creates the build's interface in the project's subnets with the project's
    security groups. So they get this account's network interfaces plus the project's subnets and security
    groups; the Describe calls (no resource-level permissions) keep ``*``.
    """
    stack = cdk.Stack.of(policy)
    vpc = stack.resolve(project.vpc_config) or {}
    interfaces = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")

    def arns(kind: str, ids: Any) -> list[str]:
        return [stack.format_arn(service="ec2", resource=kind, resource_name=cdk.Token.as_string(i)) for i in ids or []]

    subnets = arns("subnet", vpc.get("subnets"))
    groups = arns("security-group", vpc.get("securityGroupIds"))

    def split(statement: dict[str, Any]) -> list[dict[str, Any]]:
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if statement.get("Resource") != "*" or not _ENI_ACTIONS & set(actions):
            return [statement]
        rest = [a for a in actions if a not in _ENI_ACTIONS]
        out = [{**statement, "Action": rest}] if rest else []
        out.append(
            {"Effect": "Allow", "Action": "ec2:CreateNetworkInterface", "Resource": [interfaces, *subnets, *groups]}
        )
        out.append({"Effect": "Allow", "Action": "ec2:DeleteNetworkInterface", "Resource": interfaces})
        return out

    rewrite_statements(policy, split)
    acknowledge_cdk_idioms(policy, extra=_eni_reason)
