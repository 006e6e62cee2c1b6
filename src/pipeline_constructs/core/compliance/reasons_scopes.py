"""The catalogue's IAM reasons for scopes a construct chose: resources named in every target region, objects
under a prefix, run-time names (Glue, Flink, CodeBuild network interfaces), keys selected by condition.

A table of :class:`~.reasons.Reason` rows, checks built from the parts in :mod:`.reasons`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from pipeline_constructs.core.compliance.iam import actions_of, flatten, resources_of
from pipeline_constructs.core.compliance.reasons import (
    AckContext,
    Check,
    Reason,
    _all,
    _catalogue,
    _conditions_text,
    _finding,
    _finding_pattern,
    _finding_value,
    _only_actions,
)

_P = "arn:<AWS::Partition>"
_KEYS_OF_ONE_ACCOUNT = r"arn:<AWS::Partition>:kms:[a-z0-9-]+:\d{12}:key/\*"

_S3_OBJECT_ACTIONS = {
    "read": {"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:HeadObject"},
    "write": {"s3:PutObject"},
    "read and write": {"s3:GetObject", "s3:PutObject"},
    "read, write and delete": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectVersion"},
    "sync": {
        "s3:GetObject*",
        "s3:GetBucket*",
        "s3:List*",
        "s3:DeleteObject*",
        "s3:DeleteObject",
        "s3:PutObject",
        "s3:PutObjectLegalHold",
        "s3:PutObjectRetention",
        "s3:PutObjectTagging",
        "s3:PutObjectVersionTagging",
        "s3:Abort*",
    },
}


def _in_regions(
    expected: Callable[[Mapping[str, str]], str],
    extra: Callable[[dict[str, Any], Mapping[str, str]], str | None] | None = None,
) -> Check:
    """The finding is ``expected(params)``; each statement raising it is limited by aws:RequestedRegion."""

    def check(ctx: AckContext, params: Mapping[str, str]) -> str | None:
        carrying = ctx.finding_statements()
        if not carrying:
            return "no statement carries the finding"
        for statement in carrying:
            regions = ((statement.get("Condition") or {}).get("StringEquals") or {}).get("aws:RequestedRegion")
            if ", ".join(regions if isinstance(regions, list) else [str(regions)]) != params["regions"]:
                return f"aws:RequestedRegion is {regions}"
            problem = extra(statement, params) if extra else None
            if problem:
                return problem
        return None

    return _all(_finding(expected), check)


def _resource_account(statement: dict[str, Any], params: Mapping[str, str]) -> str | None:
    condition = (statement.get("Condition") or {}).get("StringEqualsIfExists") or {}
    return None if condition.get("s3:ResourceAccount") == params["account"] else "no s3:ResourceAccount condition"


def _prefix_objects(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    value = _finding_value(ctx)
    if not value.endswith(f"/{params['prefix']}*") and value != f"{params['prefix']}*":
        return f"finding {value!r} is not objects under {params['prefix']!r}"
    return _only_actions(lambda a: a in _S3_OBJECT_ACTIONS.get(params["access"], set()))(ctx, params)


def _decrypt_via_service(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    for statement in ctx.finding_statements():
        if actions_of(statement) != ["kms:Decrypt"]:
            return f"the statement allows {actions_of(statement)}"
        keys = _conditions_text(statement)
        if "kms:ViaService" not in keys or params["context"] not in keys:
            return f"conditions are {keys}"
    return None


def _eni_permission(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    for statement in ctx.finding_statements():
        if actions_of(statement) != ["ec2:CreateNetworkInterfacePermission"]:
            return f"the statement allows {actions_of(statement)}"
        equals = (statement.get("Condition") or {}).get("StringEquals") or {}
        if "ec2:Subnet" not in equals or equals.get("ec2:AuthorizedService") != "codebuild.amazonaws.com":
            return "not limited to the build's subnets and CodeBuild"
    return None


def _creates_in_subnets(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    creating = [s for s in ctx.finding_statements() if "ec2:CreateNetworkInterface" in actions_of(s)]
    for statement in creating:
        if not any(":subnet/" in r for r in resources_of(statement)):
            return "ec2:CreateNetworkInterface is not limited to the build's subnets"
    return None


def _store_aliases(template: Mapping[str, Any]) -> set[str]:
    out: set[str] = set()
    for resource in (template.get("Resources") or {}).values():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::CodePipeline::Pipeline":
            for store in (resource.get("Properties") or {}).get("ArtifactStores") or []:
                key = flatten(((store.get("ArtifactStore") or {}).get("EncryptionKey") or {}).get("Id"))
                match = re.search(r":alias/(.+)$", key)
                if match:
                    out.add(f"alias/{match.group(1)}")
    return out


def _selected_by_store_aliases(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    known = _store_aliases(ctx.template)
    for statement in ctx.finding_statements():
        aliases = (statement.get("Condition") or {}).get("ForAnyValue:StringEquals", {}).get("kms:ResourceAliases")
        if not aliases or not set(aliases) <= known:
            return f"kms:ResourceAliases {aliases} are not this pipeline's artifact-store aliases {sorted(known)}"
    return None


REASONS_SCOPES = _catalogue(
    # -- resources named in every target region ---------------------------------------------------------
    Reason(
        "layer-in-regions",
        ("IAM5",),
        "Layer {layer} of account {account} in each target region (the region is the ARN's only wildcard), "
        "limited by aws:RequestedRegion to {regions}.",
        _in_regions(lambda p: f"{_P}:lambda:*:{p['account']}:layer:{p['layer']}"),
    ),
    Reason(
        "layer-versions-in-regions",
        ("IAM5",),
        "Versions of layer {layer} of account {account} (numbered at publish time) in each target region, "
        "limited by aws:RequestedRegion to {regions}.",
        _in_regions(lambda p: f"{_P}:lambda:*:{p['account']}:layer:{p['layer']}:*"),
    ),
    Reason(
        "parameter-in-regions",
        ("IAM5",),
        "SSM parameter {parameter} of account {account} in each target region, limited by aws:RequestedRegion "
        "to {regions}.",
        _in_regions(lambda p: f"{_P}:ssm:*:{p['account']}:parameter/{p['parameter'].lstrip('/')}"),
    ),
    Reason(
        "staging-object-in-regions",
        ("IAM5",),
        "Object {key} of this pipeline's staging buckets {prefix}<region> (one per target region, names fixed by "
        "the construct), limited by aws:RequestedRegion to {regions} and by s3:ResourceAccount to {account}.",
        _in_regions(lambda p: f"{_P}:s3:::{p['prefix']}*/{p['key']}", _resource_account),
    ),
    # -- objects under a prefix, and other construct-specific scopes --------------------------------------
    Reason(
        "prefix-objects",
        ("IAM5",),
        "Objects under prefix {prefix} only ({access} actions): {why}, so object keys are not known at synth.",
        _prefix_objects,
    ),
    Reason(
        "glue-log-groups",
        ("IAM5",),
        "Log groups under /aws-glue/ of this account and region (logs actions only): Glue creates its job and "
        "crawler log groups at run time, named after the role and security configuration.",
        _all(_finding(lambda p: ":log-group:/aws-glue/*", suffix=True), _only_actions(lambda a: a.startswith("logs:"))),
        evidence=("https://docs.aws.amazon.com/glue/latest/dg/console-security-configurations.html",),
    ),
    Reason(
        "glue-database-tables",
        ("IAM5",),
        "Tables of Glue database {database} only (glue actions only): crawlers and jobs create them at run time "
        "from the crawled prefixes.",
        _all(
            _finding(lambda p: f":table/{p['database']}/*", suffix=True),
            _only_actions(lambda a: a.startswith("glue:")),
        ),
    ),
    Reason(
        "describe-log-groups",
        ("IAM5",),
        "logs:DescribeLogGroups only, on the log groups of this account and region: a list action, authorised on "
        "the account's log-group namespace; Managed Flink calls it to validate the logging configuration.",
        _all(_finding(lambda p: ":log-group:*", suffix=True), _only_actions(lambda a: a == "logs:DescribeLogGroups")),
        evidence=("https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html",),
    ),
    Reason(
        "kms-decrypt-via-service",
        ("IAM5",),
        "kms:Decrypt only, through {service} (kms:ViaService) and only for {what} ({context}); the key's id is "
        "generated in the account that owns it and not known here.",
        _all(_finding_pattern(_KEYS_OF_ONE_ACCOUNT, "the keys of one account and region"), _decrypt_via_service),
    ),
    Reason(
        "codebuild-eni-permission",
        ("IAM5",),
        "ec2:CreateNetworkInterfacePermission only, limited by condition to the build's own subnets (ec2:Subnet) "
        "and to the CodeBuild service (ec2:AuthorizedService); the network interface's id exists only at run time.",
        _eni_permission,
        evidence=(
            "https://docs.aws.amazon.com/codebuild/latest/userguide/auth-and-access-control-iam-identity-based-access-control.html",
        ),
    ),
    Reason(
        "codebuild-build-enis",
        ("IAM5",),
        "ec2:CreateNetworkInterface and ec2:DeleteNetworkInterface only, on network interfaces of this account and "
        "region: CodeBuild creates the build's interface at run time (its id is not known at synth), in the "
        "build's subnets and security groups only (named in the same statement).",
        _all(
            _finding_pattern(
                r"arn:<AWS::Partition>:ec2:[a-z0-9<>:-]+:network-interface/\*",
                "the network interfaces of one account and region",
            ),
            _creates_in_subnets,
            _only_actions(lambda a: a in ("ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface")),
        ),
        evidence=("https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html",),
    ),
    Reason(
        "replica-store-keys",
        ("IAM5",),
        "KMS keys of account {account} in {region}, selected by kms:ResourceAliases to the aliases of this "
        "pipeline's cross-region artifact stores (named in its ArtifactStores); CloudFormation cannot reference "
        "a key of another region by ARN.",
        _all(
            _finding(lambda p: f"arn:<AWS::Partition>:kms:{p['region']}:{p['account']}:key/*"),
            _selected_by_store_aliases,
            _only_actions(lambda a: a.startswith("kms:")),
        ),
        evidence=(
            "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-resource-aliases",
        ),
    ),
)
