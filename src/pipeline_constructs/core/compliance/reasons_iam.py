"""The catalogue's IAM reasons: wildcards that are CDK's least-privilege idioms, inline policies.

A table of :class:`~.reasons.Reason` rows; checks are built from the parts in :mod:`.reasons`
(``_finding``, ``_only_actions``, ``_exactly``) where a reason is "this finding names X, and its
statements allow only Y", and written out where the claim needs more.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pipeline_constructs.core.compliance.iam import (
    NO_RESOURCE_LEVEL_PERMISSIONS,
    actions_of,
    policy_documents,
    resources_of,
)
from pipeline_constructs.core.compliance.reasons import (
    CODEBUILD_REPORT_ACTIONS,
    GRANT_ACTION_PURPOSES,
    NARROWING_CONDITION_KEYS,
    AckContext,
    Check,
    Reason,
    _all,
    _artifact_stores,
    _catalogue,
    _conditions_text,
    _exactly,
    _fail_unless,
    _finding,
    _finding_value,
    _only_actions,
    _ref,
    _refs,
    _type_of,
    describe_star_statements,
)

__all__ = ["CODEBUILD_REPORT_ACTIONS", "GRANT_ACTION_PURPOSES", "REASONS_IAM"]

_BOOTSTRAP_TAG = "iam:ResourceTag/aws-cdk:bootstrap-role"
_S3_ONLY = _only_actions(lambda a: a.startswith("s3:"), what="non-S3 actions", carried=False)


def _named_resource(ctx: AckContext, statement: Mapping[str, Any], resource: str) -> bool:
    """A resource that names something: a template resource, a literal S3/KMS ARN, or a key selected by alias."""
    if resource == "*":
        return False
    ref = _ref(resource.removesuffix("/*"))
    if ref is not None:
        return _type_of(ctx, ref) in ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SQS::Queue", "AWS::SNS::Topic")
    if re.fullmatch(r"arn:<AWS::Partition>:s3:::[a-z0-9.-]+(/\*)?", resource):
        return True
    if re.fullmatch(r"arn:<AWS::Partition>:kms:[a-z0-9-]+:\d{12}:key/\*", resource):
        return "kms:ResourceAliases" in _conditions_text(statement)
    return False


def _check_grant_actions(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    action = _finding_value(ctx)
    if params["action"] != action or GRANT_ACTION_PURPOSES.get(action) != params["purpose"]:
        return f"the reason names {params['action']!r}, the finding is {action!r}"
    carrying = ctx.finding_statements()
    if not carrying:
        return "no statement carries the action"
    for statement in carrying:
        bad = [r for r in resources_of(statement) if not _named_resource(ctx, statement, r)]
        if bad:
            return f"a statement with {action} is on {bad}"
    return None


def _objects_of(param: str, kind: str) -> Check:
    """The finding is ``<Logical.Arn>/*``: the objects of resource ``params[param]``, a ``kind`` of this template."""

    def check(ctx: AckContext, params: Mapping[str, str]) -> str | None:
        value = _finding_value(ctx)
        logical = _ref(value.removesuffix("/*"))
        if not value.endswith("/*") or logical is None or logical != params[param]:
            return f"finding {value!r} is not the objects of bucket {params[param]}"
        return _fail_unless(_type_of(ctx, logical) == kind, f"{logical} is not an {kind} of this template")

    return check


def _versions_of(param: str, kind: str) -> Check:
    """The finding is ``<Logical.Arn>:*``: the versions and aliases of ``params[param]``, a ``kind`` here."""

    def check(ctx: AckContext, params: Mapping[str, str]) -> str | None:
        value = _finding_value(ctx)
        logical = _ref(value.removesuffix(":*"))
        if not value.endswith(":*") or logical != params[param]:
            return f"finding {value!r} is not the versions of {params[param]}"
        return _fail_unless(_type_of(ctx, logical) == kind, f"{logical} is not a Lambda function of this template")

    return check


def _replica_store(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    name = params["bucket"]
    if _finding_value(ctx) != f"arn:<AWS::Partition>:s3:::{name}/*":
        return f"finding {_finding_value(ctx)!r} is not the objects of {name}"
    stores = [v for _, v in _artifact_stores(ctx.template) if isinstance(v, str)]
    return _fail_unless(name in stores, f"{name} is not an artifact store of this template's pipeline")


def _project_resources(pattern: str, what: str) -> Check:
    """The finding is ``pattern`` (one group: the project's logical id) for CodeBuild project ``project``."""

    def check(ctx: AckContext, params: Mapping[str, str]) -> str | None:
        match = re.search(pattern, _finding_value(ctx))
        if match is None or match.group(1) != params["project"]:
            return f"finding {_finding_value(ctx)!r} is not the {what} of project {params['project']}"
        return _fail_unless(_type_of(ctx, match.group(1)) == "AWS::CodeBuild::Project", "not a CodeBuild project here")

    return check


def _check_bootstrap_roles(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    value = _finding_value(ctx)
    if value not in (f"arn:*:iam::{params['account']}:role/*", f"arn:<AWS::Partition>:iam::{params['account']}:role/*"):
        return f"finding {value!r} is not the roles of account {params['account']}"
    for statement in ctx.finding_statements():
        if actions_of(statement) != ["sts:AssumeRole"]:
            return f"the statement allows {actions_of(statement)}"
        tags = (statement.get("Condition") or {}).get("ForAnyValue:StringEquals", {}).get(_BOOTSTRAP_TAG)
        if sorted(tags or []) != sorted(params["tags"].split(", ")):
            return f"the statement's {_BOOTSTRAP_TAG} condition is {tags}"
    return None


def _check_star(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.finding != "Resource::*":
        return f"finding {ctx.finding!r} is not Resource::*"
    docs = policy_documents(ctx.resource)
    actual = describe_star_statements(docs)
    if actual != params["what"]:
        return f"the policy's '*' statements are: {actual}"
    for doc in docs:
        for statement in doc.get("Statement") or []:
            if statement.get("Effect") != "Allow" or "*" not in resources_of(statement):
                continue
            condition = statement.get("Condition") or {}
            keys = {k for block in condition.values() for k in block}
            if condition and not keys <= NARROWING_CONDITION_KEYS:
                return f"condition keys {sorted(keys - NARROWING_CONDITION_KEYS)} do not narrow '*'"
            unscoped = [a for a in actions_of(statement) if a not in NO_RESOURCE_LEVEL_PERMISSIONS]
            if not condition and unscoped:
                return f"{unscoped} support resource-level permissions"
    return None


def _check_default_policy(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.resource.get("Type") != "AWS::IAM::Policy":
        return "not an AWS::IAM::Policy"
    props = ctx.properties
    roles = props.get("Roles") or []
    if props.get("Users") or props.get("Groups"):
        return "attached to users or groups"
    if len(roles) != 1 or _refs(roles) != {params["role"]}:
        return f"attached to {roles}, not to role {params['role']} alone"
    return _fail_unless(_type_of(ctx, params["role"]) == "AWS::IAM::Role", f"{params['role']} is not a role here")


REASONS_IAM = _catalogue(
    # -- wildcards that are CDK's least-privilege idioms ------------------------------------------------
    Reason(
        "grant-actions",
        ("IAM5",),
        "CDK grant action group {action} ({purpose}); every statement of this policy that carries it names "
        "specific bucket, key or queue ARNs, never '*'.",
        _check_grant_actions,
    ),
    Reason(
        "bucket-objects",
        ("IAM5",),
        "Objects of bucket {bucket} of this stack; the bucket is named, only object keys are a wildcard "
        "(S3 actions only).",
        _all(_objects_of("bucket", "AWS::S3::Bucket"), _S3_ONLY),
    ),
    Reason(
        "replica-store-objects",
        ("IAM5",),
        "Objects of {bucket}, this pipeline's artifact store in another region (named in the pipeline's "
        "ArtifactStores); only object keys are a wildcard (S3 actions only).",
        _all(_replica_store, _S3_ONLY),
    ),
    Reason(
        "codebuild-log-streams",
        ("IAM5",),
        "Log streams of the default log group of CodeBuild project {project} (/aws/codebuild/<project name>), "
        "CDK's default CodeBuild logging grant.",
        _project_resources(r":log-group:/aws/codebuild/<([A-Za-z0-9]+)>:\*$", "log streams"),
    ),
    Reason(
        "codebuild-report-groups",
        ("IAM5",),
        "Report groups whose names start with the name of CodeBuild project {project} (CodeBuild's automatic "
        "report-group grant); report actions only.",
        _all(
            _project_resources(r":report-group/<([A-Za-z0-9]+)>-\*$", "report groups"),
            _only_actions(CODEBUILD_REPORT_ACTIONS.__contains__, carried=False),
        ),
    ),
    Reason(
        "invoke-versions",
        ("IAM5",),
        "lambda:InvokeFunction only, on the versions and aliases of function {function} of this stack "
        "(CDK's grantInvoke).",
        _all(_versions_of("function", "AWS::Lambda::Function"), _exactly("lambda:InvokeFunction")),
    ),
    Reason(
        "bootstrap-roles-of-account",
        ("IAM5",),
        "sts:AssumeRole only, on roles of account {account} tagged aws-cdk:bootstrap-role {tags} (the CDK "
        "bootstrap roles 'cdk deploy' assumes; their names follow the team's bootstrap qualifier, so the tag "
        "selects them).",
        _check_bootstrap_roles,
        evidence=("https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping-env.html",),
    ),
    Reason(
        "resource-star",
        ("IAM5",),
        "Resource '*' only for {what}; every other statement of this policy names its resources.",
        _check_star,
        evidence=tuple(sorted(set(NO_RESOURCE_LEVEL_PERMISSIONS.values()))),
    ),
    Reason(
        "cli-describe-stacks",
        ("IAM5",),
        "cloudformation:DescribeStacks only, on stacks of account {account} (any region: self-mutation also "
        "deploys the pipeline's cross-region support stacks). The CDK CLI describes stacks by name (the "
        "bootstrap stack, whose name a team may change, and the stacks it deploys).",
        _all(
            _finding(lambda p: f"arn:<AWS::Partition>:cloudformation:*:{p['account']}:stack/*"),
            _exactly("cloudformation:DescribeStacks"),
        ),
        evidence=(
            "aws-cdk-cli packages/@aws-cdk/toolkit-lib/lib/api/toolkit-info.ts: ToolkitInfo.lookup calls "
            "DescribeStacks with the toolkit stack's name",
        ),
    ),
    # -- inline policies ----------------------------------------------------------------------------------
    Reason(
        "inline-policy-of-one-role",
        ("IAMNoInlinePolicy",),
        "The policy of role {role} alone (no other role, user or group); a managed policy could be attached to "
        "other principals.",
        _check_default_policy,
    ),
)
