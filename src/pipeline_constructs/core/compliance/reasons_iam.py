"""The catalogue's IAM reasons: wildcards that are CDK idioms or scoped by the construct, inline policies."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from pipeline_constructs.core.compliance.iam import (
    NO_RESOURCE_LEVEL_PERMISSIONS,
    actions_of,
    flatten,
    policy_documents,
    resources_of,
)
from pipeline_constructs.core.compliance.reasons import (
    NARROWING_CONDITION_KEYS,
    AckContext,
    Check,
    Reason,
    _actions_within,
    _artifact_stores,
    _conditions_text,
    _fail_unless,
    _finding_value,
    _ref,
    _refs,
    _register,
    _type_of,
    describe_star_statements,
)

# -- IAM: wildcards that are CDK's least-privilege idioms ---------------------------------------------

GRANT_ACTION_PURPOSES = {
    "s3:GetObject*": "read objects",
    "s3:GetBucket*": "read bucket configuration",
    "s3:List*": "list objects",
    "s3:DeleteObject*": "replace pipeline artifacts",
    "s3:Abort*": "abort multipart uploads",
    "kms:GenerateDataKey*": "encrypt data keys",
    "kms:ReEncrypt*": "re-encrypt",
}


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
    action = ctx.finding.partition("::")[2]
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


_register(
    Reason(
        "grant-actions",
        ("IAM5",),
        "CDK grant action group {action} ({purpose}); every statement of this policy that carries it names "
        "specific bucket, key or queue ARNs, never '*'.",
        _check_grant_actions,
    )
)


def _check_bucket_objects(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    value = ctx.finding.partition("::")[2]
    bucket = _ref(value.removesuffix("/*"))
    if not value.endswith("/*") or bucket is None or bucket != params["bucket"]:
        return f"finding {value!r} is not the objects of bucket {params['bucket']}"
    if _type_of(ctx, bucket) != "AWS::S3::Bucket":
        return f"{bucket} is not an AWS::S3::Bucket of this template"
    if not all(a.startswith("s3:") for s in ctx.finding_statements() for a in actions_of(s)):
        return "a statement on the objects grants non-S3 actions"
    return None


_register(
    Reason(
        "bucket-objects",
        ("IAM5",),
        "Objects of bucket {bucket} of this stack; the bucket is named, only object keys are a wildcard "
        "(S3 actions only).",
        _check_bucket_objects,
    )
)


def _check_replica_store_objects(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    value = ctx.finding.partition("::")[2]
    name = params["bucket"]
    if value != f"arn:<AWS::Partition>:s3:::{name}/*":
        return f"finding {value!r} is not the objects of {name}"
    if name not in [v for _, v in _artifact_stores(ctx.template) if isinstance(v, str)]:
        return f"{name} is not an artifact store of this template's pipeline"
    if not all(a.startswith("s3:") for s in ctx.finding_statements() for a in actions_of(s)):
        return "a statement on the objects grants non-S3 actions"
    return None


_register(
    Reason(
        "replica-store-objects",
        ("IAM5",),
        "Objects of {bucket}, this pipeline's artifact store in another region (named in the pipeline's "
        "ArtifactStores); only object keys are a wildcard (S3 actions only).",
        _check_replica_store_objects,
    )
)


def _check_codebuild_logs(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    value = ctx.finding.partition("::")[2]
    match = re.search(r":log-group:/aws/codebuild/<([A-Za-z0-9]+)>:\*$", value)
    if match is None or match.group(1) != params["project"]:
        return f"finding {value!r} is not the log streams of project {params['project']}"
    return _fail_unless(_type_of(ctx, match.group(1)) == "AWS::CodeBuild::Project", "not a CodeBuild project here")


_register(
    Reason(
        "codebuild-log-streams",
        ("IAM5",),
        "Log streams of the default log group of CodeBuild project {project} (/aws/codebuild/<project name>), "
        "CDK's default CodeBuild logging grant.",
        _check_codebuild_logs,
    )
)

CODEBUILD_REPORT_ACTIONS = frozenset(
    {
        "codebuild:CreateReportGroup",
        "codebuild:CreateReport",
        "codebuild:UpdateReport",
        "codebuild:BatchPutTestCases",
        "codebuild:BatchPutCodeCoverages",
    }
)


def _check_codebuild_reports(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    value = ctx.finding.partition("::")[2]
    match = re.search(r":report-group/<([A-Za-z0-9]+)>-\*$", value)
    if match is None or match.group(1) != params["project"]:
        return f"finding {value!r} is not the report groups of project {params['project']}"
    if _type_of(ctx, match.group(1)) != "AWS::CodeBuild::Project":
        return "not a CodeBuild project here"
    acts = {a for s in ctx.finding_statements() for a in actions_of(s)}
    return _fail_unless(
        acts <= CODEBUILD_REPORT_ACTIONS, f"non-report actions {sorted(acts - CODEBUILD_REPORT_ACTIONS)}"
    )


_register(
    Reason(
        "codebuild-report-groups",
        ("IAM5",),
        "Report groups whose names start with the name of CodeBuild project {project} (CodeBuild's automatic "
        "report-group grant); report actions only.",
        _check_codebuild_reports,
    )
)


def _check_invoke_versions(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    value = ctx.finding.partition("::")[2]
    function = _ref(value.removesuffix(":*"))
    if not value.endswith(":*") or function != params["function"]:
        return f"finding {value!r} is not the versions of {params['function']}"
    if _type_of(ctx, function) != "AWS::Lambda::Function":
        return f"{function} is not a Lambda function of this template"
    acts = {a for s in ctx.finding_statements() for a in actions_of(s)}
    return _fail_unless(acts == {"lambda:InvokeFunction"}, f"actions {sorted(acts)}")


_register(
    Reason(
        "invoke-versions",
        ("IAM5",),
        "lambda:InvokeFunction only, on the versions and aliases of function {function} of this stack "
        "(CDK's grantInvoke).",
        _check_invoke_versions,
    )
)


_BOOTSTRAP_TAG = "iam:ResourceTag/aws-cdk:bootstrap-role"


def _check_bootstrap_roles(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    value = ctx.finding.partition("::")[2]
    if value != f"arn:*:iam::{params['account']}:role/*" and value != (
        f"arn:<AWS::Partition>:iam::{params['account']}:role/*"
    ):
        return f"finding {value!r} is not the roles of account {params['account']}"
    for statement in ctx.finding_statements():
        if actions_of(statement) != ["sts:AssumeRole"]:
            return f"the statement allows {actions_of(statement)}"
        tags = (statement.get("Condition") or {}).get("ForAnyValue:StringEquals", {}).get(_BOOTSTRAP_TAG)
        if sorted(tags or []) != sorted(params["tags"].split(", ")):
            return f"the statement's {_BOOTSTRAP_TAG} condition is {tags}"
    return None


_register(
    Reason(
        "bootstrap-roles-of-account",
        ("IAM5",),
        "sts:AssumeRole only, on roles of account {account} tagged aws-cdk:bootstrap-role {tags} (the CDK "
        "bootstrap roles 'cdk deploy' assumes; their names follow the team's bootstrap qualifier, so the tag "
        "selects them).",
        _check_bootstrap_roles,
        evidence=("https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping-env.html",),
    )
)


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


_register(
    Reason(
        "resource-star",
        ("IAM5",),
        "Resource '*' only for {what}; every other statement of this policy names its resources.",
        _check_star,
        evidence=tuple(sorted(set(NO_RESOURCE_LEVEL_PERMISSIONS.values()))),
    )
)


def _check_account_stacks(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    value = ctx.finding.partition("::")[2]
    if value != f"arn:<AWS::Partition>:cloudformation:*:{params['account']}:stack/*":
        return f"finding {value!r} is not the stacks of account {params['account']}"
    acts = {a for s in ctx.finding_statements() for a in actions_of(s)}
    return _fail_unless(acts == {"cloudformation:DescribeStacks"}, f"actions {sorted(acts)}")


_register(
    Reason(
        "cli-describe-stacks",
        ("IAM5",),
        "cloudformation:DescribeStacks only, on stacks of account {account} (any region: self-mutation also "
        "deploys the pipeline's cross-region support stacks). The CDK CLI describes stacks by name (the "
        "bootstrap stack, whose name a team may change, and the stacks it deploys).",
        _check_account_stacks,
        evidence=(
            "aws-cdk-cli packages/@aws-cdk/toolkit-lib/lib/api/toolkit-info.ts: ToolkitInfo.lookup calls "
            "DescribeStacks with the toolkit stack's name",
        ),
    )
)


# -- IAM: inline policies ---------------------------------------------------------------------------


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


_register(
    Reason(
        "inline-policy-of-one-role",
        ("IAMNoInlinePolicy",),
        "The policy of role {role} alone (no other role, user or group); a managed policy could be attached to "
        "other principals.",
        _check_default_policy,
    )
)


# -- resources named in every target region --------------------------------------------------------


def _in_regions(
    expected: Callable[[Mapping[str, str]], str],
    extra: Callable[[dict[str, Any], Mapping[str, str]], str | None] | None = None,
) -> Check:
    def check(ctx: AckContext, params: Mapping[str, str]) -> str | None:
        value = ctx.finding.partition("::")[2]
        if value != expected(params):
            return f"finding {value!r} is not {expected(params)!r}"
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

    return check


def _resource_account(statement: dict[str, Any], params: Mapping[str, str]) -> str | None:
    condition = (statement.get("Condition") or {}).get("StringEqualsIfExists") or {}
    return None if condition.get("s3:ResourceAccount") == params["account"] else "no s3:ResourceAccount condition"


_P = "arn:<AWS::Partition>"
_register(
    Reason(
        "layer-in-regions",
        ("IAM5",),
        "Layer {layer} of account {account} in each target region (the region is the ARN's only wildcard), "
        "limited by aws:RequestedRegion to {regions}.",
        _in_regions(lambda p: f"{_P}:lambda:*:{p['account']}:layer:{p['layer']}"),
    )
)
_register(
    Reason(
        "layer-versions-in-regions",
        ("IAM5",),
        "Versions of layer {layer} of account {account} (numbered at publish time) in each target region, "
        "limited by aws:RequestedRegion to {regions}.",
        _in_regions(lambda p: f"{_P}:lambda:*:{p['account']}:layer:{p['layer']}:*"),
    )
)
_register(
    Reason(
        "parameter-in-regions",
        ("IAM5",),
        "SSM parameter {parameter} of account {account} in each target region, limited by aws:RequestedRegion "
        "to {regions}.",
        _in_regions(lambda p: f"{_P}:ssm:*:{p['account']}:parameter/{p['parameter'].lstrip('/')}"),
    )
)
_register(
    Reason(
        "staging-object-in-regions",
        ("IAM5",),
        "Object {key} of this pipeline's staging buckets {prefix}<region> (one per target region, names fixed by "
        "the construct), limited by aws:RequestedRegion to {regions} and by s3:ResourceAccount to {account}.",
        _in_regions(lambda p: f"{_P}:s3:::{p['prefix']}*/{p['key']}", _resource_account),
    )
)


# -- objects under a prefix, and other construct-specific scopes ------------------------------------------


def _check_prefix_objects(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    value = _finding_value(ctx)
    if not value.endswith(f"/{params['prefix']}*") and value != f"{params['prefix']}*":
        return f"finding {value!r} is not objects under {params['prefix']!r}"
    return _actions_within(ctx, lambda a: a in _S3_OBJECT_ACTIONS.get(params["access"], set()))


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

_register(
    Reason(
        "prefix-objects",
        ("IAM5",),
        "Objects under prefix {prefix} only ({access} actions): {why}, so object keys are not known at synth.",
        _check_prefix_objects,
    )
)


def _check_glue_log_groups(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if not _finding_value(ctx).endswith(":log-group:/aws-glue/*"):
        return f"finding {_finding_value(ctx)!r} is not the /aws-glue/ log groups"
    return _actions_within(ctx, lambda a: a.startswith("logs:"))


_register(
    Reason(
        "glue-log-groups",
        ("IAM5",),
        "Log groups under /aws-glue/ of this account and region (logs actions only): Glue creates its job and "
        "crawler log groups at run time, named after the role and security configuration.",
        _check_glue_log_groups,
        evidence=("https://docs.aws.amazon.com/glue/latest/dg/console-security-configurations.html",),
    )
)


def _check_database_tables(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if not _finding_value(ctx).endswith(f":table/{params['database']}/*"):
        return f"finding {_finding_value(ctx)!r} is not the tables of {params['database']}"
    return _actions_within(ctx, lambda a: a.startswith("glue:"))


_register(
    Reason(
        "glue-database-tables",
        ("IAM5",),
        "Tables of Glue database {database} only (glue actions only): crawlers and jobs create them at run time "
        "from the crawled prefixes.",
        _check_database_tables,
    )
)


def _check_describe_log_groups(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if not _finding_value(ctx).endswith(":log-group:*"):
        return f"finding {_finding_value(ctx)!r} is not the log-group namespace"
    return _actions_within(ctx, lambda a: a == "logs:DescribeLogGroups")


_register(
    Reason(
        "describe-log-groups",
        ("IAM5",),
        "logs:DescribeLogGroups only, on the log groups of this account and region: a list action, authorised on "
        "the account's log-group namespace; Managed Flink calls it to validate the logging configuration.",
        _check_describe_log_groups,
        evidence=("https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html",),
    )
)


def _check_kms_via(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if not re.fullmatch(r"arn:<AWS::Partition>:kms:[a-z0-9-]+:\d{12}:key/\*", _finding_value(ctx)):
        return f"finding {_finding_value(ctx)!r} is not the keys of one account and region"
    for statement in ctx.finding_statements():
        if actions_of(statement) != ["kms:Decrypt"]:
            return f"the statement allows {actions_of(statement)}"
        keys = _conditions_text(statement)
        if "kms:ViaService" not in keys or params["context"] not in keys:
            return f"conditions are {keys}"
    return None


_register(
    Reason(
        "kms-decrypt-via-service",
        ("IAM5",),
        "kms:Decrypt only, through {service} (kms:ViaService) and only for {what} ({context}); the key's id is "
        "generated in the account that owns it and not known here.",
        _check_kms_via,
    )
)


def _check_eni_permission(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    for statement in ctx.finding_statements():
        if actions_of(statement) != ["ec2:CreateNetworkInterfacePermission"]:
            return f"the statement allows {actions_of(statement)}"
        equals = (statement.get("Condition") or {}).get("StringEquals") or {}
        if "ec2:Subnet" not in equals or equals.get("ec2:AuthorizedService") != "codebuild.amazonaws.com":
            return "not limited to the build's subnets and CodeBuild"
    return None


_register(
    Reason(
        "codebuild-eni-permission",
        ("IAM5",),
        "ec2:CreateNetworkInterfacePermission only, limited by condition to the build's own subnets (ec2:Subnet) "
        "and to the CodeBuild service (ec2:AuthorizedService); the network interface's id exists only at run time.",
        _check_eni_permission,
        evidence=(
            "https://docs.aws.amazon.com/codebuild/latest/userguide/auth-and-access-control-iam-identity-based-access-control.html",
        ),
    )
)


def _check_build_enis(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if not re.fullmatch(r"arn:<AWS::Partition>:ec2:[a-z0-9<>:-]+:network-interface/\*", _finding_value(ctx)):
        return f"finding {_finding_value(ctx)!r} is not the network interfaces of one account and region"
    creating = [s for s in ctx.finding_statements() if "ec2:CreateNetworkInterface" in actions_of(s)]
    for statement in creating:
        if not any(":subnet/" in r for r in resources_of(statement)):
            return "ec2:CreateNetworkInterface is not limited to the build's subnets"
    return _actions_within(ctx, lambda a: a in ("ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"))


_register(
    Reason(
        "codebuild-build-enis",
        ("IAM5",),
        "ec2:CreateNetworkInterface and ec2:DeleteNetworkInterface only, on network interfaces of this account and "
        "region: CodeBuild creates the build's interface at run time (its id is not known at synth), in the "
        "build's subnets and security groups only (named in the same statement).",
        _check_build_enis,
        evidence=("https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html",),
    )
)


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


def _check_replica_keys(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    value = _finding_value(ctx)
    if value != f"arn:<AWS::Partition>:kms:{params['region']}:{params['account']}:key/*":
        return f"finding {value!r} is not the keys of {params['account']} in {params['region']}"
    known = _store_aliases(ctx.template)
    for statement in ctx.finding_statements():
        aliases = (statement.get("Condition") or {}).get("ForAnyValue:StringEquals", {}).get("kms:ResourceAliases")
        if not aliases or not set(aliases) <= known:
            return f"kms:ResourceAliases {aliases} are not this pipeline's artifact-store aliases {sorted(known)}"
    return _actions_within(ctx, lambda a: a.startswith("kms:"))


_register(
    Reason(
        "replica-store-keys",
        ("IAM5",),
        "KMS keys of account {account} in {region}, selected by kms:ResourceAliases to the aliases of this "
        "pipeline's cross-region artifact stores (named in its ArtifactStores); CloudFormation cannot reference "
        "a key of another region by ARN.",
        _check_replica_keys,
        evidence=(
            "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-resource-aliases",
        ),
    )
)
