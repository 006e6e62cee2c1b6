"""CDK's least-privilege IAM idioms, recognised so they can be acknowledged precisely; policy rewriting.

cdk-nag's ``AwsSolutions-IAM5`` flags every ``*`` in an action or resource.
CDK's own grant methods emit a few wildcards by design (``s3:GetObject*`` on
one bucket, a project's log streams ...). :func:`acknowledge_cdk_idioms`
computes a policy's findings the way cdk-nag does and acknowledges only those
idioms, each with its catalogue reason (:mod:`pipeline_constructs.core.compliance.reasons`);
any other wildcard stays a finding.

CDK splits a large role policy into ``OverflowPolicyN`` managed policies when
it visits the role during synthesis; :func:`acknowledge_role_policies` (and
:func:`rewrite_role_statements`) act on the role's policies after that split.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from pipeline_constructs.core.compliance import acknowledge_all, in_packs
from pipeline_constructs.core.compliance.iam import NO_RESOURCE_LEVEL_PERMISSIONS, flatten
from pipeline_constructs.core.compliance.packs import NIST_HIPAA_PCI
from pipeline_constructs.core.compliance.reasons import (
    CODEBUILD_REPORT_ACTIONS,
    GRANT_ACTION_PURPOSES,
    NARROWING_CONDITION_KEYS,
    VPC_DATA_SERVICES,
    describe_star_statements,
    reason,
)

__all__ = [
    "INLINE_POLICY_PACKS",
    "Transform",
    "acknowledge_cdk_idioms",
    "acknowledge_function_outside_vpc",
    "acknowledge_role_policies",
    "at_synth",
    "construct_key",
    "flatten_cfn_reference",
    "function_role_services",
    "idiom_reason",
    "lambda_role",
    "rewrite_role_statements",
    "rewrite_statements",
    "stack_constructs",
    "wildcard_findings",
]

#: Packs with the ``IAMNoInlinePolicy`` rule.
INLINE_POLICY_PACKS = NIST_HIPAA_PCI

#: Renders a CloudFormation value the way cdk-nag names findings (kept under its historical name).
flatten_cfn_reference = flatten

#: A statement rewrite: takes a resolved statement, returns it (changed or not) or the statements replacing it.
Transform = Callable[[dict[str, Any]], "dict[str, Any] | list[dict[str, Any]]"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_findings(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """cdk-nag ``IAM5`` findings of a resolved policy document, each with its (first) statement."""
    out: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        names = [f"Action::{a}" for a in _as_list(statement.get("Action")) if isinstance(a, str) and "*" in a]
        names += [f"Resource::{r}" for r in (flatten(x) for x in _as_list(statement.get("Resource"))) if "*" in r]
        for name in names:
            if name not in seen:
                seen.add(name)
                out.append((name, statement))
    return out


def _ref(text: str) -> str | None:
    match = re.fullmatch(r"<([A-Za-z0-9]+)(\.[A-Za-z]+)?>", text)
    return match.group(1) if match else None


def _named(resource: str, statement: Mapping[str, Any]) -> bool:
    if resource == "*":
        return False
    if _ref(resource.removesuffix("/*")) is not None:
        return True
    if re.fullmatch(r"arn:<AWS::Partition>:s3:::[a-z0-9.-]+(/\*)?", resource):
        return True
    return bool(re.fullmatch(r"arn:<AWS::Partition>:kms:[a-z0-9-]+:\d{12}:key/\*", resource)) and (
        "kms:ResourceAliases" in str(statement.get("Condition"))
    )


def _star_is_justified(document: Mapping[str, Any]) -> bool:
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow" or "*" not in [flatten(r) for r in _as_list(statement.get("Resource"))]:
            continue
        condition = statement.get("Condition")
        if condition:
            keys = {k for block in condition.values() for k in block}
            if not keys <= NARROWING_CONDITION_KEYS:
                return False
        elif not all(a in NO_RESOURCE_LEVEL_PERMISSIONS for a in _as_list(statement.get("Action"))):
            return False
    return True


def idiom_reason(
    finding: str, statements: list[dict[str, Any]], document: Mapping[str, Any] | None = None
) -> str | None:
    """Why a wildcard finding is one of CDK's least-privilege idioms (a catalogue reason), or ``None``.

    :param statements: the policy's statements that raise ``finding``.
    :param document: the whole policy document (for ``Resource::*``). Default: ``statements``.
    """
    doc = document if document is not None else {"Statement": statements}
    actions = {a for s in statements for a in _as_list(s.get("Action"))}
    kind, _, value = finding.partition("::")
    if kind == "Action":
        carrying = [s for s in doc.get("Statement", []) if value in _as_list(s.get("Action"))] or statements
        named = all(_named(flatten(r), s) for s in carrying for r in _as_list(s.get("Resource")))
        if value in GRANT_ACTION_PURPOSES and named:
            return reason("grant-actions", action=value, purpose=GRANT_ACTION_PURPOSES[value])
        return None
    s3_only = bool(actions) and all(str(a).startswith("s3:") for a in actions)
    bucket = _ref(value.removesuffix("/*"))
    if value.endswith("/*") and bucket is not None and s3_only:
        return reason("bucket-objects", bucket=bucket)
    literal = re.fullmatch(r"arn:<AWS::Partition>:s3:::([a-z0-9.-]+)/\*", value)
    if literal and s3_only:
        return reason("replica-store-objects", bucket=literal.group(1))
    project = re.search(r":log-group:/aws/codebuild/<([A-Za-z0-9]+)>:\*$", value)
    if project:
        return reason("codebuild-log-streams", project=project.group(1))
    project = re.search(r":report-group/<([A-Za-z0-9]+)>-\*$", value)
    if project and actions <= CODEBUILD_REPORT_ACTIONS:
        return reason("codebuild-report-groups", project=project.group(1))
    function = _ref(value.removesuffix(":*"))
    if value.endswith(":*") and function is not None and actions == {"lambda:InvokeFunction"}:
        return reason("invoke-versions", function=function)
    roles = re.fullmatch(r"arn:\*:iam::(\d{12}):role/\*", value)
    if roles and actions == {"sts:AssumeRole"}:
        tags = {
            tuple(sorted(_as_list((s.get("Condition") or {}).get("ForAnyValue:StringEquals", {}).get(_TAG))))
            for s in statements
        }
        if len(tags) == 1 and next(iter(tags)):
            return reason("bootstrap-roles-of-account", account=roles.group(1), tags=", ".join(next(iter(tags))))
    keys = re.fullmatch(r"arn:<AWS::Partition>:kms:([a-z0-9-]+):(\d{12}):key/\*", value)
    if keys and all("kms:ResourceAliases" in str(s.get("Condition")) for s in statements):
        return reason("replica-store-keys", region=keys.group(1), account=keys.group(2))
    stacks = re.fullmatch(r"arn:<AWS::Partition>:cloudformation:\*:(\d{12}):stack/\*", value)
    if stacks and actions == {"cloudformation:DescribeStacks"}:
        return reason("cli-describe-stacks", account=stacks.group(1))
    if value == "*" and _star_is_justified(doc):
        return reason("resource-star", what=describe_star_statements([doc]))
    return None


_TAG = "iam:ResourceTag/aws-cdk:bootstrap-role"


def acknowledge_cdk_idioms(
    policy: iam.CfnPolicy | iam.CfnManagedPolicy,
    *,
    extra: Callable[[str, list[dict[str, Any]]], str | None] | None = None,
) -> None:
    """Acknowledge, on ``policy``, the IAM5 findings that are CDK least-privilege idioms (and nothing else).

    A ``CfnPolicy`` attached to exactly one role also gets NIST/HIPAA/PCI
    ``IAMNoInlinePolicy``, with that fact as its reason.

    :param extra: ``(finding, statements) -> reason or None`` for findings the caller
        can justify beyond the idioms (tried first). Default: none.
    """
    stack = cdk.Stack.of(policy)
    inline = isinstance(policy, iam.CfnPolicy)
    # One resolve for everything read here (one round trip to Node instead of four).
    parts: dict[str, Any] = {"document": policy.policy_document}
    if inline:
        parts.update(users=policy.users, groups=policy.groups, roles=policy.roles)
    resolved: dict[str, Any] = stack.resolve(parts) or {}
    document: dict[str, Any] = resolved["document"]
    rules: list[tuple[str, str]] = []
    for finding, _ in wildcard_findings(document):
        carrying = [
            s for s in document.get("Statement", []) if finding in {f for f, _ in wildcard_findings({"Statement": [s]})}
        ]
        text = (extra(finding, carrying) if extra else None) or idiom_reason(finding, carrying, document)
        if text is not None:
            rules.append((f"AwsSolutions-IAM5[{finding}]", text))
    if inline and not resolved.get("users") and not resolved.get("groups"):
        roles = resolved.get("roles") or []
        if len(roles) == 1 and isinstance(roles[0], dict) and "Ref" in roles[0]:
            rules += in_packs(
                "IAMNoInlinePolicy", INLINE_POLICY_PACKS, reason("inline-policy-of-one-role", role=roles[0]["Ref"])
            )
    acknowledge_all(policy, rules)


# -- acting on a role's policies after CDK split them ---------------------------------------------------


@jsii.implements(cdk.IResolvable)
class _RewrittenDocument:
    """A policy document rendered through statement transforms."""

    def __init__(self, original: Any, transforms: Sequence[Transform]) -> None:
        self._original = original
        self._transforms = list(transforms)

    @property
    def creation_stack(self) -> list[str]:
        return []

    def resolve(self, context: cdk.IResolveContext) -> Any:
        document = context.resolve(self._original)
        if not isinstance(document, dict):
            return document
        current: list[dict[str, Any]] = [dict(s) for s in document.get("Statement", [])]
        for transform in self._transforms:
            next_: list[dict[str, Any]] = []
            for statement in current:
                result = transform(dict(statement))
                next_.extend(result if isinstance(result, list) else [result])
            current = next_
        return {**document, "Statement": current}

    def to_string(self) -> str:
        return cdk.Token.as_string(self)


def _policies_of(role: iam.Role) -> list[iam.CfnPolicy | iam.CfnManagedPolicy]:
    out: list[iam.CfnPolicy | iam.CfnManagedPolicy] = []
    for child in role.node.children:
        if not isinstance(child, (iam.Policy, iam.ManagedPolicy)):
            continue  # the role's CfnRole, markers: no policy (and two round trips to Node saved)
        cfn = child.node.default_child
        if isinstance(cfn, (iam.CfnPolicy, iam.CfnManagedPolicy)):
            out.append(cfn)
    return out


@jsii.implements(cdk.IAspect)
class _Once:
    """Calls back once, when synthesis visits the leaf construct it is registered on."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback: Callable[[], None] | None = callback

    def visit(self, node: IConstruct) -> None:
        callback, self._callback = self._callback, None
        if callback is not None:
            callback()


def at_synth(scope: Construct, id: str, callback: Callable[[], None]) -> None:
    """Run ``callback`` once during synthesis, after ``scope`` itself was visited by the aspects on it.

    The aspect sits on a new leaf under ``scope`` (one call back from Node, whatever the size of
    ``scope``'s subtree); CDK visits a construct before its children, so aspects on ``scope``
    (CDK's policy split on a role, for instance) have run.
    """
    cdk.Aspects.of(Construct(scope, id)).add(_Once(callback), priority=_readonly_priority())


@functools.cache
def _readonly_priority() -> int:
    """``cdk.AspectPriority.READONLY`` (a static read from Node, once)."""
    return int(cdk.AspectPriority.READONLY)


class _AfterSplit:
    def __init__(self, role: iam.Role) -> None:
        self._role = role
        self.transforms: list[Transform] = []
        self.acknowledge = False
        self.extra: Callable[[str, list[dict[str, Any]]], str | None] | None = None

    def __call__(self) -> None:
        for policy in _policies_of(self._role):
            if self.transforms:
                policy.policy_document = _RewrittenDocument(policy.policy_document, self.transforms)
            if self.acknowledge:
                acknowledge_cdk_idioms(policy, extra=self.extra)


def construct_key(construct: IConstruct) -> object:
    """A key that names ``construct`` (the same JavaScript object) for the life of the process.

    jsii gives every object its reference id (``__jsii_ref__``; unique in the kernel, so across apps
    too) without a round trip to Node; a Python object is not such a key, since jsii hands out a new
    Python proxy each time it returns an object created in JavaScript. Fallback: (app, path).
    """
    ref = getattr(getattr(construct, "__jsii_ref__", None), "ref", None)
    return ref if isinstance(ref, str) else (id(construct.node.root), construct.node.path)


_AFTER_SPLIT: dict[object, _AfterSplit] = {}


def _after_split(role: iam.Role) -> _AfterSplit:
    key = construct_key(role)
    hook = _AFTER_SPLIT.get(key)
    if hook is None:
        hook = _AFTER_SPLIT[key] = _AfterSplit(role)
        # After CDK's own policy-splitting aspect, which runs when the role itself is visited.
        at_synth(role, "PipelineConstructsPolicies", hook)
    return hook


def rewrite_statements(policy: iam.CfnPolicy | iam.CfnManagedPolicy, transform: Transform) -> None:
    """Render every statement of ``policy`` through ``transform`` when its template is written."""
    policy.policy_document = _RewrittenDocument(policy.policy_document, [transform])


def rewrite_role_statements(role: iam.Role, transform: Transform) -> None:
    """Pass every statement of ``role``'s policies (default and overflow) through ``transform`` at synth."""
    _after_split(role).transforms.append(transform)


def acknowledge_role_policies(
    role: iam.Role, *, extra: Callable[[str, list[dict[str, Any]]], str | None] | None = None
) -> None:
    """:func:`acknowledge_cdk_idioms` on every policy of ``role``, once CDK has split them (at synth)."""
    aspect = _after_split(role)
    aspect.acknowledge = True
    if extra is not None:
        aspect.extra = extra


# -- Lambda ------------------------------------------------------------------------------------------


def lambda_role(scope: Construct, id: str, *, log_group: logs.ILogGroup, description: str) -> iam.Role:
    """A Lambda execution role that may write only to ``log_group`` (instead of ``AWSLambdaBasicExecutionRole``,
    whose ``logs:*`` actions are allowed on every log group of the account)."""
    role = iam.Role(scope, id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description)
    role.add_to_policy(
        iam.PolicyStatement(
            sid="OwnLogGroup",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    return role


def stack_constructs(stack: cdk.Stack, kinds: tuple[type, ...] = (object,)) -> list[IConstruct]:
    """The constructs of ``stack`` itself of the given types: not those of nested stages or other stacks under it."""
    nodes = stack.node.find_all()
    inner = tuple(n.node.path + "/" for n in nodes[1:] if isinstance(n, (cdk.Stage, cdk.Stack)))
    wanted = [n for n in nodes[1:] if isinstance(n, kinds)]
    if not inner:  # each path costs two round trips to Node: read them only when there is something to exclude
        return wanted
    return [n for n in wanted if not n.node.path.startswith(inner)]


def _resolved_statements(stack: cdk.Stack, policy: iam.CfnPolicy | iam.CfnManagedPolicy) -> list[dict[str, Any]]:
    document = stack.resolve(policy.policy_document) or {}
    return [s for s in document.get("Statement", []) if isinstance(s, dict) and s.get("Effect") == "Allow"]


def function_role_services(function: lambda_.Function, role: iam.IRole | None = None) -> list[str] | None:
    """The services (action prefixes) ``function``'s role may call, from the policies in its stack.

    ``None`` when that cannot be known from the stack: an imported role, or managed policies
    (AWS-managed or from elsewhere) attached to it.
    """
    role = role or function.role
    if not isinstance(role, iam.Role):
        return None
    stack = cdk.Stack.of(function)
    cfn_role = role.node.default_child
    assert isinstance(cfn_role, iam.CfnRole)
    # One resolve for the three values (one round trip to Node instead of three).
    resolved: dict[str, Any] = (
        stack.resolve({"managed": cfn_role.managed_policy_arns, "inline": cfn_role.policies, "name": role.role_name})
        or {}
    )
    if resolved.get("managed") or resolved.get("inline"):
        return None
    ref = resolved.get("name")
    services: set[str] = set()
    for node in stack_constructs(stack, (iam.CfnPolicy, iam.CfnManagedPolicy)):
        assert isinstance(node, (iam.CfnPolicy, iam.CfnManagedPolicy))
        if ref in (stack.resolve(node.roles) or []):
            for statement in _resolved_statements(stack, node):
                services |= {str(a).split(":", 1)[0] for a in _as_list(statement.get("Action"))}
    return sorted(services)


def _acknowledge_outside_vpc(function: lambda_.Function, role: iam.Role | None) -> None:
    cfn = function.node.default_child
    assert isinstance(cfn, lambda_.CfnFunction)
    if cdk.Stack.of(function).resolve(cfn.vpc_config) is not None:
        return
    services = function_role_services(function, role)
    if services is None or set(services) & VPC_DATA_SERVICES:
        return  # the finding stays: the role may reach data a VPC would protect
    acknowledge_all(
        cfn,
        in_packs(
            "LambdaInsideVPC", INLINE_POLICY_PACKS, reason("function-calls-public-apis", services=", ".join(services))
        ),
    )


def acknowledge_function_outside_vpc(function: lambda_.Function, *, role: iam.Role | None = None) -> None:
    """At synth, acknowledge ``LambdaInsideVPC`` on ``function`` if its role calls only public APIs.

    Decided when the stack is complete (grants made after the function was created
    count); a role with managed policies or data services reachable in a VPC
    (:data:`~pipeline_constructs.core.compliance.reasons.VPC_DATA_SERVICES`) keeps the finding.

    :param role: the function's role, when ``function.role`` is an immutable wrapper of it
        (``role.without_policy_updates()``). Default: ``function.role``.
    """
    at_synth(function, "PipelineConstructsNetwork", lambda: _acknowledge_outside_vpc(function, role))
