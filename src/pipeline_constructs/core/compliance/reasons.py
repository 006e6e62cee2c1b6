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

Checks are pure functions over CloudFormation dicts (no ``aws_cdk``). This
module holds the framework, the helpers and the parts checks are built from; the
reasons themselves are tables in :mod:`.reasons_iam` (IAM wildcards and policies),
:mod:`.reasons_scopes` (scopes a construct chose), :mod:`.reasons_resources`
(CodeBuild, S3) and :mod:`.reasons_lambda` (Lambda, SQS, SNS, custom resources,
job functions), registered on import.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_constructs.core.compliance.iam import (
    actions_of,
    resources_of,
    statements,
)

__all__ = [
    "CODEBUILD_REPORT_ACTIONS",
    "GRANT_ACTION_PURPOSES",
    "REASONS",
    "VPC_DATA_SERVICES",
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


def _finding_value(ctx: AckContext) -> str:
    return ctx.finding.partition("::")[2]


def _actions_within(ctx: AckContext, allowed: Callable[[str], bool]) -> str | None:
    acts = {a for s in ctx.finding_statements() for a in actions_of(s)}
    if not acts:
        return "no statement carries the finding"
    bad = sorted(a for a in acts if not allowed(a))
    return f"statements on it also allow {bad}" if bad else None


def _expirations(properties: Mapping[str, Any]) -> tuple[set[int], set[int]]:
    rules = (properties.get("LifecycleConfiguration") or {}).get("Rules") or []
    current = {int(r["ExpirationInDays"]) for r in rules if r.get("Status") == "Enabled" and "ExpirationInDays" in r}
    noncurrent = {
        int(
            (r.get("NoncurrentVersionExpiration") or {}).get(
                "NoncurrentDays", r.get("NoncurrentVersionExpirationInDays", 0)
            )
        )
        for r in rules
        if r.get("Status") == "Enabled"
        and ("NoncurrentVersionExpiration" in r or "NoncurrentVersionExpirationInDays" in r)
    }
    return current, noncurrent


# -- facts the catalogue and the constructs share ------------------------------------------------------

#: The purpose of each CDK grant action group (wildcard actions CDK grants write).
GRANT_ACTION_PURPOSES = {
    "s3:GetObject*": "read objects",
    "s3:GetBucket*": "read bucket configuration",
    "s3:List*": "list objects",
    "s3:DeleteObject*": "replace pipeline artifacts",
    "s3:Abort*": "abort multipart uploads",
    "kms:GenerateDataKey*": "encrypt data keys",
    "kms:ReEncrypt*": "re-encrypt",
}

#: The actions of CodeBuild's automatic report-group grant.
CODEBUILD_REPORT_ACTIONS = frozenset(
    {
        "codebuild:CreateReportGroup",
        "codebuild:CreateReport",
        "codebuild:UpdateReport",
        "codebuild:BatchPutTestCases",
        "codebuild:BatchPutCodeCoverages",
    }
)

#: Services whose calls reach resources inside a VPC (a function using them may need one).
VPC_DATA_SERVICES = frozenset({"rds-db", "elasticache", "es", "kafka-cluster", "elasticfilesystem", "redshift"})


# -- building checks from parts (the catalogue modules are tables of Reason(id, rules, text, check)) --------


def _catalogue(*reasons: Reason) -> tuple[Reason, ...]:
    """Register a catalogue module's table of reasons."""
    for entry in reasons:
        _register(entry)
    return reasons


def _all(*parts: Check) -> Check:
    """A check that holds when every part holds (the first problem found is reported)."""

    def check(ctx: AckContext, params: Mapping[str, str]) -> str | None:
        return next((p for p in (part(ctx, params) for part in parts) if p is not None), None)

    return check


def _finding(expected: Callable[[Mapping[str, str]], str], *, suffix: bool = False) -> Check:
    """The finding's value is ``expected(params)`` (or ends with it, with ``suffix``)."""

    def check(ctx: AckContext, params: Mapping[str, str]) -> str | None:
        value, wanted = _finding_value(ctx), expected(params)
        ok = value.endswith(wanted) if suffix else value == wanted
        return None if ok else f"finding {value!r} is not {'…' if suffix else ''}{wanted!r}"

    return check


def _finding_pattern(pattern: str, what: str) -> Check:
    """The finding's value matches ``pattern`` entirely (``what`` names what it should be)."""
    return lambda ctx, params: _fail_unless(
        re.fullmatch(pattern, _finding_value(ctx)) is not None, f"finding {_finding_value(ctx)!r} is not {what}"
    )


def _only_actions(allowed: Callable[[str], bool], *, what: str = "", carried: bool = True) -> Check:
    """Every statement raising the finding allows only ``allowed`` actions.

    :param what: names the disallowed actions in the message. Default: lists them.
    :param carried: also require a statement that raises the finding. Default: ``True``.
    """

    def check(ctx: AckContext, params: Mapping[str, str]) -> str | None:
        acts = {a for s in ctx.finding_statements() for a in actions_of(s)}
        if carried and not acts:
            return "no statement carries the finding"
        bad = sorted(a for a in acts if not allowed(a))
        return f"statements on it also allow {what or bad}" if bad else None

    return check


def _exactly(*actions: str) -> Check:
    """The statements raising the finding allow exactly ``actions``."""

    def check(ctx: AckContext, params: Mapping[str, str]) -> str | None:
        acts = {a for s in ctx.finding_statements() for a in actions_of(s)}
        return _fail_unless(acts == set(actions), f"actions {sorted(acts)}")

    return check


# -- the catalogue (registered on import) -------------------------------------------------------------

# Module imports only (no names from them): whichever module loads first, the others see this one complete.
from pipeline_constructs.core.compliance import reasons_iam as _reasons_iam  # noqa: E402
from pipeline_constructs.core.compliance import reasons_lambda as _reasons_lambda  # noqa: E402
from pipeline_constructs.core.compliance import reasons_resources as _reasons_resources  # noqa: E402
from pipeline_constructs.core.compliance import reasons_scopes as _reasons_scopes  # noqa: E402

_CATALOGUE = (_reasons_iam, _reasons_scopes, _reasons_resources, _reasons_lambda)
