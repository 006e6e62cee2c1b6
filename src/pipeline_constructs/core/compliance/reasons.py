"""The catalogue of every reason the library gives when it acknowledges a cdk-nag finding.

A reason is a claim about the synthesized template ("scoped to the artifact
bucket", "invoked only by the permission check"). Each :class:`Reason` has an
id, the rules it may acknowledge, its text (with ``{placeholders}``) and a
``check`` that reads the template and returns what is wrong with the claim, or
``None`` when it holds. The library's tests run every check against every
acknowledgment written into every example's templates
(``tests/test_compliance.py::test_reason_holds``), so a reason no check can
prove cannot be used: construct code only writes reasons through
:func:`reason`.

Checks are pure functions over CloudFormation dicts (no ``aws_cdk``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_constructs.core.compliance.iam import (
    NO_RESOURCE_LEVEL_PERMISSIONS,
    actions_of,
    flatten,
    policy_documents,
    resources_of,
    statements,
)

__all__ = [
    "REASONS",
    "AckContext",
    "Reason",
    "describe_star_statements",
    "match_reason",
    "reason",
]


# -- the context a check reads ----------------------------------------------------------------------


@dataclass(frozen=True)
class AckContext:
    """One acknowledgment as written in a template, with everything a check may read."""

    template: Mapping[str, Any]
    logical_id: str
    #: The acknowledged rule id, e.g. ``AwsSolutions-IAM5[Resource::*]``.
    rule: str
    reason: str
    template_name: str = ""
    #: Every template of the assembly (name -> body), for claims that span stacks.
    assembly: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def resources(self) -> Mapping[str, Any]:
        return self.template.get("Resources") or {}

    @property
    def resource(self) -> Mapping[str, Any]:
        return self.resources.get(self.logical_id) or {}

    @property
    def properties(self) -> Mapping[str, Any]:
        return self.resource.get("Properties") or {}

    @property
    def rule_name(self) -> str:
        """The rule without pack and finding, e.g. ``IAM5``."""
        base = self.rule.split("[", 1)[0]
        return base.rsplit("-", 1)[-1]

    @property
    def finding(self) -> str:
        """The finding inside ``[...]`` (``Resource::*``), or ``""``."""
        _, bracket, rest = self.rule.partition("[")
        return rest[:-1] if bracket and rest.endswith("]") else ""

    def of_type(self, kind: str) -> dict[str, Mapping[str, Any]]:
        return {k: v for k, v in self.resources.items() if isinstance(v, dict) and v.get("Type") == kind}

    def finding_statements(self) -> list[dict[str, Any]]:
        """The statements of this resource's policies that raise :attr:`finding` (IAM5)."""
        kind, _, value = self.finding.partition("::")
        out = []
        for statement in statements(self.resource):
            if (kind == "Action" and value in actions_of(statement)) or (
                kind == "Resource" and value in resources_of(statement)
            ):
                out.append(statement)
        return out


Check = Callable[[AckContext, Mapping[str, str]], "str | None"]


@dataclass(frozen=True)
class Reason:
    """One claim the library may make when it acknowledges a finding."""

    id: str
    #: Rule names (without pack and finding) this reason may acknowledge, e.g. ``("IAM5",)``.
    rules: tuple[str, ...]
    #: The reason's text; ``{name}`` placeholders are filled by :meth:`text` and read back by :meth:`parse`.
    template: str
    #: Returns what is wrong with the claim for this acknowledgment, or ``None`` when it holds.
    check: Check
    #: Where the facts a template cannot show are documented (AWS docs, aws-cdk source).
    evidence: tuple[str, ...] = ()

    def text(self, **params: str) -> str:
        missing = set(self.placeholders) - set(params)
        if missing:
            raise ValueError(f"reason {self.id!r}: missing {sorted(missing)}")
        return re.sub(r"{(\w+)}", lambda m: params[m.group(1)], self.template)

    @property
    def placeholders(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.template)

    def parse(self, text: str) -> dict[str, str] | None:
        """The placeholders' values if ``text`` is this reason, else ``None``."""
        pattern = "".join(
            f"(?P<{part[1:-1]}>.+?)" if re.fullmatch(r"{\w+}", part) else re.escape(part)
            for part in re.split(r"({\w+})", self.template)
            if part
        )
        match = re.fullmatch(pattern, text, flags=re.S)
        return match.groupdict() if match else None

    def verify(self, ctx: AckContext) -> str | None:
        """``None`` when ``ctx`` is this reason, used for a rule it covers, and its claim holds."""
        params = self.parse(ctx.reason)
        if params is None:
            return f"reason text is not {self.id!r}"
        if ctx.rule_name not in self.rules:
            return f"reason {self.id!r} does not apply to rule {ctx.rule}"
        return self.check(ctx, params)


REASONS: dict[str, Reason] = {}


def _register(reason_: Reason) -> Reason:
    if reason_.id in REASONS:  # pragma: no cover - programming error
        raise ValueError(f"duplicate reason id {reason_.id!r}")
    REASONS[reason_.id] = reason_
    return reason_


def reason(reason_id: str, **params: str) -> str:
    """The text of catalogue reason ``reason_id`` with its placeholders filled."""
    return REASONS[reason_id].text(**params)


def match_reason(text: str) -> list[Reason]:
    """Every catalogue reason whose text ``text`` is (normally one)."""
    return [r for r in REASONS.values() if r.parse(text) is not None]


# -- helpers for checks ---------------------------------------------------------------------------


def _ref(text: str) -> str | None:
    """``Logical`` from ``<Logical>`` or ``<Logical.Attr>`` (cdk-nag's rendering of Ref / GetAtt)."""
    match = re.fullmatch(r"<([A-Za-z0-9]+)(\.[A-Za-z]+)?>", text)
    return match.group(1) if match else None


def _refs(value: Any) -> set[str]:
    """Logical ids referenced by ``Ref`` / ``Fn::GetAtt`` anywhere in ``value``."""
    out: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            out.add(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            out.add(target[0] if isinstance(target, list) else str(target).split(".")[0])
        for v in value.values():
            out |= _refs(v)
    elif isinstance(value, list):
        for v in value:
            out |= _refs(v)
    return out


def _type_of(ctx: AckContext, logical_id: str | None) -> str:
    return str((ctx.resources.get(logical_id or "") or {}).get("Type") or "")


def _fail_unless(condition: bool, message: str) -> str | None:
    return None if condition else message


def _conditions_text(statement: Mapping[str, Any]) -> str:
    keys = sorted({key for block in (statement.get("Condition") or {}).values() for key in block})
    return ", ".join(keys)


#: Condition keys that limit a ``Resource: "*"`` statement to something specific (a tag the library or CDK
#: sets, an account, a service namespace, the regions the construct targets).
NARROWING_CONDITION_KEYS = frozenset(
    {
        "aws:ResourceTag/SECURITY_CHECK",
        "s3:ResourceAccount",
        "cloudwatch:namespace",
        "aws:RequestedRegion",
        "kms:ViaService",
        "kms:EncryptionContext:SecretARN",
        "ec2:Vpc",
        "ec2:Subnet",
        "ec2:AuthorizedService",
    }
)


def describe_star_statements(docs: Iterable[Mapping[str, Any]]) -> str:
    """How each ``Resource: "*"`` statement of the documents is limited, as one sentence part.

    Actions without resource-level permissions are listed as such; other actions with the condition
    keys that limit them. Used to write (and to check) the ``Resource::*`` reason.
    """
    free: list[str] = []
    limited: list[str] = []
    for doc in docs:
        for statement in doc.get("Statement") or []:
            if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                continue
            if "*" not in resources_of(statement):
                continue
            acts = actions_of(statement)
            if statement.get("Condition"):
                limited.append(f"{', '.join(acts)} limited by condition {_conditions_text(statement)}")
            else:
                free.extend(a for a in acts if a not in free)
    parts = []
    if free:
        parts.append(f"actions without resource-level permissions ({', '.join(free)})")
    parts.extend(limited)
    return "; ".join(parts)


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


def _artifact_stores(template: Mapping[str, Any]) -> list[tuple[str | None, Any]]:
    """``(region or None for the pipeline's own, location)`` of every artifact store of every CodePipeline."""
    out: list[tuple[str | None, Any]] = []
    for resource in (template.get("Resources") or {}).values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::CodePipeline::Pipeline":
            continue
        props = resource.get("Properties") or {}
        for store in props.get("ArtifactStores") or []:
            out.append((str(store.get("Region")), (store.get("ArtifactStore") or {}).get("Location")))
        if "ArtifactStore" in props:
            out.append((None, props["ArtifactStore"].get("Location")))
    return out


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
    return _fail_unless(acts <= CODEBUILD_REPORT_ACTIONS, f"non-report actions {sorted(acts - CODEBUILD_REPORT_ACTIONS)}")


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


# -- CodeBuild ----------------------------------------------------------------------------------------


def _check_pipeline_source(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    source = ctx.properties.get("Source") or {}
    if source.get("Type") != params["type"] or params["type"] not in ("CODEPIPELINE", "NO_SOURCE"):
        return f"source type is {source.get('Type')!r}"
    return _fail_unless(not source.get("Location") and not source.get("Auth"), "the source has a URL or credentials")


_register(
    Reason(
        "codebuild-pipeline-source",
        ("CodeBuildProjectSourceRepoUrl",),
        "Source type {type}: the project has no repository URL and no source credentials; its input is the "
        "pipeline's artifact (or none).",
        _check_pipeline_source,
    )
)


def _accounts_in(value: Any) -> set[str]:
    return set(re.findall(r":iam::(\d{12}):", str(value)))


def _check_managed_key(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    key = ctx.properties.get("EncryptionKey")
    if key not in (None, "alias/aws/s3"):
        return f"the project uses key {key}"
    accounts = _accounts_in(ctx.template)
    return _fail_unless(accounts <= {params["account"]}, f"the template names other accounts {sorted(accounts)}")


_register(
    Reason(
        "aws-managed-artifact-key",
        ("CB4",),
        "Every target is in the pipeline's account {account}, so artifacts use the AWS-managed aws/s3 KMS key "
        "(no key to share across accounts); pass cross_account_keys=True for a customer-managed key.",
        _check_managed_key,
    )
)


# -- S3 ---------------------------------------------------------------------------------------------


def _logging_sources(ctx: AckContext) -> list[str]:
    out = []
    for logical_id, resource in ctx.of_type("AWS::S3::Bucket").items():
        destination = ((resource.get("Properties") or {}).get("LoggingConfiguration") or {}).get(
            "DestinationBucketName"
        )
        if destination is not None and ctx.logical_id in _refs(destination):
            out.append(logical_id)
    return out


def _sse_algorithms(properties: Mapping[str, Any]) -> set[str]:
    rules = (properties.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
    return {str((r.get("ServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")) for r in rules}


def _check_log_bucket_sse(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if not _logging_sources(ctx):
        return "no bucket of this template logs to it"
    return _fail_unless(_sse_algorithms(ctx.properties) == {"AES256"}, "not SSE-S3 (AES256)")


_register(
    Reason(
        "access-log-bucket-sse-s3",
        ("S3DefaultEncryptionKMS",),
        "Server-access-log destination of this stack's buckets: S3 log delivery writes only to destination "
        "buckets encrypted with SSE-S3 (AES256), not SSE-KMS.",
        _check_log_bucket_sse,
        evidence=("https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html",),
    )
)


def _expirations(properties: Mapping[str, Any]) -> tuple[set[int], set[int]]:
    rules = (properties.get("LifecycleConfiguration") or {}).get("Rules") or []
    current = {int(r["ExpirationInDays"]) for r in rules if r.get("Status") == "Enabled" and "ExpirationInDays" in r}
    noncurrent = {
        int((r.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays", r.get("NoncurrentVersionExpirationInDays", 0)))
        for r in rules
        if r.get("Status") == "Enabled" and ("NoncurrentVersionExpiration" in r or "NoncurrentVersionExpirationInDays" in r)
    }
    return current, noncurrent


def _check_log_bucket_replication(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if not _logging_sources(ctx):
        return "no bucket of this template logs to it"
    current, _ = _expirations(ctx.properties)
    return _fail_unless(str(min(current, default=0)) == params["days"], f"objects expire after {current} days")


_register(
    Reason(
        "access-log-bucket-not-replicated",
        ("S3BucketReplicationEnabled",),
        "Holds only the server access logs of this stack's buckets (their LoggingConfiguration destination), "
        "which expire after {days} days; it is an audit trail of transient buckets, not data to recover.",
        _check_log_bucket_replication,
    )
)


def _check_artifact_store(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if not any(ctx.logical_id in _refs(v) for _, v in _artifact_stores(ctx.template)):
        return "not the artifact store of this template's pipeline"
    _, noncurrent = _expirations(ctx.properties)
    return _fail_unless(str(min(noncurrent, default=0)) == params["days"], f"noncurrent versions: {noncurrent}")


_register(
    Reason(
        "artifact-store-not-replicated",
        ("S3BucketReplicationEnabled",),
        "The artifact store of this stack's pipeline: every artifact is rebuilt from source by the next "
        "execution, and noncurrent versions expire after {days} days.",
        _check_artifact_store,
    )
)


def flatten_all(value: Any) -> str:
    """Every string of ``value`` with intrinsics flattened, joined (for searching a template)."""
    if isinstance(value, dict):
        if any(k in value for k in ("Fn::Join", "Fn::Sub", "Fn::GetAtt", "Ref")):
            return flatten(value)
        return " ".join(flatten_all(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(flatten_all(v) for v in value)
    return str(value)


def _check_replica_store(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    name = ctx.properties.get("BucketName")
    for body in ctx.assembly.values():
        if (params["region"], name) in _artifact_stores(body):
            _, noncurrent = _expirations(ctx.properties)
            return _fail_unless(
                str(min(noncurrent, default=0)) == params["days"], f"noncurrent versions expire: {noncurrent}"
            )
    return f"no pipeline of the assembly uses {name} as its {params['region']} artifact store"


_register(
    Reason(
        "replica-artifact-store-not-replicated",
        ("S3BucketReplicationEnabled",),
        "CodePipeline's artifact store for {region}: CodePipeline itself copies the pipeline's artifacts into it "
        "from the pipeline's region, and noncurrent versions expire after {days} days.",
        _check_replica_store,
    )
)


# -- Lambda and its queues -----------------------------------------------------------------------------


def _role_of(ctx: AckContext, function_id: str) -> str | None:
    refs = _refs(((ctx.resources.get(function_id) or {}).get("Properties") or {}).get("Role"))
    return next(iter(refs), None) if len(refs) == 1 else None


def _role_statements(ctx: AckContext, role_id: str) -> list[dict[str, Any]]:
    """Every Allow statement that applies to role ``role_id`` (its inline policies and attached policies)."""
    out = list(statements(ctx.resources.get(role_id) or {}))
    for resource in ctx.resources.values():
        if not isinstance(resource, dict) or resource.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        if role_id in _refs((resource.get("Properties") or {}).get("Roles")):
            out.extend(statements(resource))
    return out


def _check_dead_letter_queue(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.resource.get("Type") != "AWS::SQS::Queue":
        return "not an SQS queue"
    function = ctx.resources.get(params["function"]) or {}
    props = function.get("Properties") or {}
    targets = _refs((props.get("DeadLetterConfig") or {}).get("TargetArn"))
    for config in ctx.of_type("AWS::Lambda::EventInvokeConfig").values():
        config_props = config.get("Properties") or {}
        if params["function"] in _refs(config_props.get("FunctionName")):
            targets |= _refs(config_props.get("DestinationConfig"))
    return _fail_unless(ctx.logical_id in targets, f"not a dead-letter queue of {params['function']}")


_register(
    Reason(
        "queue-is-dead-letter-queue",
        ("SQSRedrivePolicy",),
        "This queue is the dead-letter queue (or on-failure destination) of function {function}; a dead-letter "
        "queue needs none of its own.",
        _check_dead_letter_queue,
    )
)


def _check_alarm_without_topic(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.resource.get("Type") != "AWS::CloudWatch::Alarm":
        return "not an alarm"
    return _fail_unless(not ctx.properties.get("AlarmActions"), "the alarm has actions")


_register(
    Reason(
        "alarm-without-topic",
        ("CloudWatchAlarmAction",),
        "No notification topic was given to this pipeline's permission checks, so the alarm has no action and "
        "shows in CloudWatch only; SecurityGatedStage adds its topic as the alarm's action.",
        _check_alarm_without_topic,
    )
)


def _invokers(ctx: AckContext, function_id: str) -> set[str]:
    """Roles (logical ids) whose policies allow lambda:InvokeFunction on the function, and Permission principals."""
    out: set[str] = set()
    for logical_id, resource in ctx.resources.items():
        if not isinstance(resource, dict):
            continue
        kind = resource.get("Type")
        props = resource.get("Properties") or {}
        if kind == "AWS::Lambda::Permission" and function_id in _refs(props.get("FunctionName")):
            out.add(f"principal {flatten(props.get('Principal'))}")
        if kind not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"):
            continue
        for statement in statements(resource):
            invokes = any(a in ("lambda:InvokeFunction", "lambda:*", "*") for a in actions_of(statement))
            if invokes and (function_id in _refs(statement.get("Resource")) or "*" in resources_of(statement)):
                out |= _refs(props.get("Roles")) if kind != "AWS::IAM::Role" else {logical_id}
    return out


def _function_of(ctx: AckContext) -> str:
    return ctx.logical_id


def _check_only_invoker(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.resource.get("Type") != "AWS::Lambda::Function":
        return "not a Lambda function"
    invokers = _invokers(ctx, _function_of(ctx))
    return _fail_unless(invokers == {params["role"]}, f"invoked by {sorted(invokers)}")


_register(
    Reason(
        "function-invoked-only-by",
        ("LambdaConcurrency",),
        "Invoked only by role {role} (the one principal of this stack allowed lambda:InvokeFunction on it); "
        "reserved concurrency would take capacity from the account's pool and protect nothing.",
        _check_only_invoker,
    )
)

#: Services whose calls reach resources inside a VPC (a function using them may need one).
VPC_DATA_SERVICES = frozenset({"rds-db", "elasticache", "es", "kafka-cluster", "elasticfilesystem", "redshift"})


def _check_public_apis(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.resource.get("Type") != "AWS::Lambda::Function":
        return "not a Lambda function"
    role = _role_of(ctx, ctx.logical_id)
    if role is None or _type_of(ctx, role) != "AWS::IAM::Role":
        return "the function's role is not in this template"
    if (ctx.resources[role].get("Properties") or {}).get("ManagedPolicyArns"):
        return "the role has managed policies this check cannot read"
    services = sorted({a.split(":", 1)[0] for s in _role_statements(ctx, role) for a in actions_of(s)})
    if ", ".join(services) != params["services"]:
        return f"the role allows {services}"
    return _fail_unless(not set(services) & VPC_DATA_SERVICES, f"VPC data services {set(services) & VPC_DATA_SERVICES}")


_register(
    Reason(
        "function-calls-public-apis",
        ("LambdaInsideVPC",),
        "Its role allows only {services} API calls (public AWS endpoints); the function reaches no resource "
        "inside a VPC.",
        _check_public_apis,
    )
)


def _check_concurrency_unset(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.resource.get("Type") != "AWS::Lambda::Function":
        return "not a Lambda function"
    return _fail_unless("ReservedConcurrentExecutions" not in ctx.properties, "reserved concurrency is set")


_register(
    Reason(
        "concurrency-left-to-team",
        ("LambdaConcurrency",),
        "No reserved concurrency is set: it is a capacity decision of the function's team "
        "(function_props={'reserved_concurrent_executions': n}), and reserving any fails in accounts whose "
        "concurrency quota leaves Lambda's minimum of unreserved concurrency.",
        _check_concurrency_unset,
        evidence=("https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html",),
    )
)


# -- SNS ----------------------------------------------------------------------------------------------


def _check_email_subscription(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if ctx.resource.get("Type") != "AWS::SNS::Subscription" or ctx.properties.get("Protocol") != "email":
        return "not an e-mail subscription"
    topic = next(iter(_refs(ctx.properties.get("TopicArn"))), None)
    return _fail_unless(_type_of(ctx, topic) == "AWS::SNS::Topic", "its topic is not in this template")


_register(
    Reason(
        "email-subscription",
        ("SNSRedrivePolicy",),
        "E-mail subscription of people to this stack's security-gate topic: the gate's manual approval waits in "
        "the pipeline whether or not the e-mail arrives, so an undelivered notification blocks nothing.",
        _check_email_subscription,
    )
)


# -- resources named in every target region --------------------------------------------------------


def _in_regions(expected: Callable[[Mapping[str, str]], str], extra: Callable[[dict[str, Any], Mapping[str, str]], str | None] | None = None) -> Check:
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


def _check_staging_bucket(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    current, _ = _expirations(ctx.properties)
    if not current or max(current) > int(params["days"]):
        return f"objects expire after {current} days"
    return None


_register(
    Reason(
        "staging-bucket-not-replicated",
        ("S3BucketReplicationEnabled",),
        "Holds only transient copies of build output that a service reads once (objects expire after {days} "
        "days); the pipeline rebuilds them from source.",
        _check_staging_bucket,
    )
)


# -- objects under a prefix, and other construct-specific scopes ------------------------------------------


def _finding_value(ctx: AckContext) -> str:
    return ctx.finding.partition("::")[2]


def _actions_within(ctx: AckContext, allowed: Callable[[str], bool]) -> str | None:
    acts = {a for s in ctx.finding_statements() for a in actions_of(s)}
    if not acts:
        return "no statement carries the finding"
    bad = sorted(a for a in acts if not allowed(a))
    return f"statements on it also allow {bad}" if bad else None


def _check_prefix_objects(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    value = _finding_value(ctx)
    if not value.endswith(f"/{params['prefix']}*") and value != f"{params['prefix']}*":
        return f"finding {value!r} is not objects under {params['prefix']!r}"
    return _actions_within(ctx, lambda a: a in _S3_OBJECT_ACTIONS.get(params["access"], set()))


_S3_OBJECT_ACTIONS = {
    "read": {"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:HeadObject"},
    "write": {"s3:PutObject"},
    "read, write and delete": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectVersion"},
    "sync": {"s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*", "s3:DeleteObject", "s3:PutObject", "s3:PutObjectLegalHold",
             "s3:PutObjectRetention", "s3:PutObjectTagging", "s3:PutObjectVersionTagging", "s3:Abort*"},
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
        evidence=("https://docs.aws.amazon.com/codebuild/latest/userguide/auth-and-access-control-iam-identity-based-access-control.html",),
    )
)


def _check_build_enis(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    if not re.fullmatch(rf"arn:<AWS::Partition>:ec2:[a-z0-9<>:-]+:network-interface/\*", _finding_value(ctx)):
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


# -- custom resources and CodePipeline job functions -----------------------------------------------------


def _service_token_users(ctx: AckContext) -> list[str]:
    return [
        logical_id
        for logical_id, resource in ctx.resources.items()
        if isinstance(resource, dict)
        and ctx.logical_id in _refs((resource.get("Properties") or {}).get("ServiceToken"))
    ]


def _check_custom_resource_handler(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    users = _service_token_users(ctx)
    if not users:
        return "no custom resource of this template uses the function as its ServiceToken"
    kinds = sorted({str(ctx.resources[u].get("Type")) for u in users})
    return _fail_unless(", ".join(kinds) == params["kind"], f"custom resources {kinds}")


_register(
    Reason(
        "custom-resource-handler",
        ("LambdaDLQ", "LambdaConcurrency", "LambdaTracing"),
        "Handler of this stack's {kind} custom resource (its ServiceToken): it runs only while CloudFormation "
        "deploys the stack, and CloudFormation fails the stack operation, with the error in its events, when the "
        "handler does not report success.",
        _check_custom_resource_handler,
        evidence=("https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-custom-resources.html",),
    )
)


def _check_cdk_runtime(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    problem = _check_custom_resource_handler(ctx, params)
    if problem:
        return problem
    return _fail_unless(ctx.properties.get("Runtime") == params["runtime"], f"runtime is {ctx.properties.get('Runtime')}")


_register(
    Reason(
        "cdk-handler-runtime",
        ("L1", "LambdaLatestVersion"),
        "Handler of this stack's {kind} custom resource, code and runtime ({runtime}) both set by aws-cdk-lib, "
        "which moves them together on upgrade.",
        _check_cdk_runtime,
    )
)


def _pipeline_actions_invoking(template: Mapping[str, Any], function_id: str) -> list[str]:
    out = []
    for resource in (template.get("Resources") or {}).values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::CodePipeline::Pipeline":
            continue
        for stage in (resource.get("Properties") or {}).get("Stages") or []:
            for action in stage.get("Actions") or []:
                kind = action.get("ActionTypeId") or {}
                name = (action.get("Configuration") or {}).get("FunctionName")
                if kind.get("Provider") == "Lambda" and function_id in _refs(name):
                    out.append(f"{stage.get('Name')}/{action.get('Name')}")
    return out


def _check_job_function(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    actions = _pipeline_actions_invoking(ctx.template, ctx.logical_id)
    return _fail_unless(", ".join(actions) == params["actions"], f"invoked by pipeline actions {actions}")


_register(
    Reason(
        "codepipeline-job-function",
        ("LambdaDLQ", "LambdaTracing", "LambdaConcurrency"),
        "Invoked only by this stack's CodePipeline Lambda actions ({actions}), one job each: a failed or crashed "
        "invocation (retried by Lambda) leaves the action without a job result, so the action fails in the "
        "pipeline's execution history at its timeout, where the failure is visible.",
        _check_job_function,
        evidence=("https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-invoke-lambda-function.html",),
    )
)


def _check_test_image(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    environment = ctx.properties.get("Environment") or {}
    if environment.get("Image") != params["image"]:
        return f"image is {environment.get('Image')}"
    return _fail_unless(not environment.get("PrivilegedMode"), "the project runs privileged")


_register(
    Reason(
        "glue-test-image",
        ("CB5",),
        "The job tests run in {image}, the image AWS Glue publishes (ECR Public) with the Glue ETL library and the "
        "Spark of the jobs' Glue version, which no CodeBuild-provided image contains; unprivileged.",
        _check_test_image,
        evidence=("https://docs.aws.amazon.com/glue/latest/dg/develop-local-docker-image.html",),
    )
)


# -- buckets whose content is rebuilt elsewhere ---------------------------------------------------------------


def _check_deployed_bucket(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    for resource in ctx.of_type("Custom::CDKBucketDeployment").values():
        props = resource.get("Properties") or {}
        if ctx.logical_id in _refs(props.get("DestinationBucketName")) and props.get("Prune") is not False:
            return None
    return "no BucketDeployment of this template copies into it"


_register(
    Reason(
        "deployed-from-assembly",
        ("S3BucketReplicationEnabled",),
        "Holds only what this stack's BucketDeployment copies from the cloud assembly on every deployment "
        "(pruning the rest); the source repository is the recovery point.",
        _check_deployed_bucket,
    )
)


def _check_job_output_bucket(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    for resource in ctx.resources.values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::IAM::ManagedPolicy":
            continue
        for statement in statements(resource):
            if statement.get("Sid") == params["sid"] and "s3:PutObject" in actions_of(statement):
                if ctx.logical_id in _refs(statement.get("Resource")):
                    return None
    return f"no {params['sid']} statement of this template writes to it"


_register(
    Reason(
        "job-output-bucket",
        ("S3BucketReplicationEnabled",),
        "Output of this stack's Glue jobs (statement {sid} of the job policy writes it), which the workflow "
        "rebuilds from its sources; replication is the owning team's call (data_lifecycle_rules, replication) "
        "once the output is a system of record.",
        _check_job_output_bucket,
    )
)


def _check_versioned_release_bucket(ctx: AckContext, params: Mapping[str, str]) -> str | None:
    versioning = (ctx.properties.get("VersioningConfiguration") or {}).get("Status")
    return _fail_unless(versioning == "Enabled", "the bucket is not versioned")


_register(
    Reason(
        "release-bucket-not-replicated",
        ("S3BucketReplicationEnabled",),
        "Release artifacts, each under a key naming its commit and pipeline execution and rebuildable from that "
        "commit; the bucket is versioned, so no release is overwritten.",
        _check_versioned_release_bucket,
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
        evidence=("https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-resource-aliases",),
    )
)
