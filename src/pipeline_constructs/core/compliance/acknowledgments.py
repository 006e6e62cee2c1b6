"""Acknowledging cdk-nag findings, and writing every acknowledgment into the template.

:func:`acknowledge` records an acknowledgment twice:

* in the construct tree (``aws_cdk.Validations``), which is what cdk-nag v3
  honours when the packs run inside the app;
* in the CloudFormation template of the stack that holds each resource the
  acknowledgment covers (``Metadata.cdk_nag.rules_to_suppress``), which is all
  an auditor has.

The second is one mechanism for every construct, stage and nested assembly,
independent of whether packs are registered (``pipeline-constructs:nag=false``)
and of whether cdk-nag is installed: each acknowledgment (re)writes the
``cdk_nag`` metadata of every resource it covers from everything recorded on
the resource and its ancestors so far, so acknowledgments made late (in an
aspect, after CDK Pipelines built its pipeline) are written too; resources
added later under an acknowledged construct are covered by a small aspect on
that construct.

Why not cdk-nag's ``WriteNagSuppressionsToCloudFormationAspect``: an aspect
added to the app does not run inside nested ``cdk.Stage``\\ s (the stacks a
pipeline deploys), and it copies what is acknowledged when it visits a
resource, not what is acknowledged by the time the template is written.
"""

from __future__ import annotations

import contextlib
import re
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

import aws_cdk as cdk
import jsii
from constructs import IConstruct

__all__ = [
    "FINDING_RULES",
    "acknowledge",
    "acknowledge_all",
    "acknowledgments",
    "in_packs",
    "suspended_acknowledgments",
    "written_acknowledgments",
]

#: Packs whose rule ids :func:`acknowledge` accepts.
ACK_PACKS: tuple[str, ...] = (
    "AwsSolutions",
    "NIST.800.53.R5",
    "NIST.800.53.R4",
    "HIPAA.Security",
    "PCI.DSS.321",
    "Serverless",
)

#: Rules that report one finding per offending value (``Rule[finding]``), per cdk-nag 3.0: an
#: acknowledgment must name the finding, a bare rule id would not cover any of them.
FINDING_RULES: frozenset[str] = frozenset(
    {
        "AwsSolutions-IAM4",
        "AwsSolutions-IAM5",
        "AwsSolutions-RDS16",
        "AwsSolutions-DOC5",
        "AwsSolutions-OS9",
        "NIST.800.53.R4-RDSLoggingEnabled",
        "NIST.800.53.R5-RDSLoggingEnabled",
        "HIPAA.Security-RDSLoggingEnabled",
        "PCI.DSS.321-RDSLoggingEnabled",
    }
)

_RULE_ID = re.compile(
    r"^(AwsSolutions|NIST\.800\.53\.R[45]|HIPAA\.Security|PCI\.DSS\.321|Serverless)-[A-Za-z0-9]+(\[.+\])?$"
)
_MIN_REASON = 20
_METADATA_KEY = "cdk_nag"
_SUSPENDED = False


@contextlib.contextmanager
def suspended_acknowledgments() -> Iterator[None]:
    """Within this block :func:`acknowledge` records nothing.

    Auditors (and the library's own tests) use it to see every finding a
    construct would raise without its acknowledgments, e.g. to prove that each
    acknowledgment the library makes matches a real finding.
    """
    global _SUSPENDED
    previous, _SUSPENDED = _SUSPENDED, True
    try:
        yield
    finally:
        _SUSPENDED = previous


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``construct`` (and its children).

    Put it on the narrowest construct (the ``CfnResource`` or the policy) and
    name the finding, e.g. ``AwsSolutions-IAM5[Action::s3:GetObject*]``. The
    acknowledgment is written into the template of every stack holding a
    covered resource (``Metadata.cdk_nag.rules_to_suppress``), whether or not
    the packs run in the app.

    :param rule_id: ``<Pack>-<Rule>`` or ``<Pack>-<Rule>[<finding>]``; rules that
        report findings (:data:`FINDING_RULES`, e.g. ``AwsSolutions-IAM5``) need the finding.
    :param reason: why it is acceptable here (at least 20 characters); lands
        in the template's ``Metadata.cdk_nag.rules_to_suppress``.
    :raises ValueError: on a malformed rule id, a bare id of a rule that reports
        findings, or a reason too short to be specific.
    """
    acknowledge_all(construct, [(rule_id, reason)])


def acknowledge_all(construct: IConstruct, rules: Iterable[tuple[str, str]]) -> None:
    """Acknowledge several ``(rule_id, reason)`` pairs on ``construct`` in one call.

    Each pair is checked as in :func:`acknowledge`.
    """
    checked = [_checked(construct, rule_id, reason) for rule_id, reason in rules]
    if not checked or _SUSPENDED:
        return
    cdk.Validations.of(construct).acknowledge(*(cdk.Acknowledgment(id=r, reason=t) for r, t in checked))
    node = construct.node  # one round trip to Node for the path and the root below
    _writer_for(node.root).record(construct, checked, node.path)


def _checked(construct: IConstruct, rule_id: str, reason: str) -> tuple[str, str]:
    # cdk-nag prints "Acknowledge with 'AwsSolutions::AwsSolutions-S1'": accept what it tells users to paste.
    rule_id = re.sub(r"^([A-Za-z0-9.]+)::(?=\1-)", "", rule_id) if isinstance(rule_id, str) else rule_id
    if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id):
        raise ValueError(
            f"{_where(construct)}: rule_id = {rule_id!r} is invalid: expected '<Pack>-<Rule>' or "
            f"'<Pack>-<Rule>[<finding>]' with pack one of {', '.join(ACK_PACKS)}"
        )
    if rule_id in FINDING_RULES:
        raise ValueError(
            f"{_where(construct)}: rule_id = {rule_id!r} is invalid: this rule reports findings; name the one "
            f"acknowledged, e.g. '{rule_id}[Resource::*]'"
        )
    if not isinstance(reason, str) or len(reason.strip()) < _MIN_REASON:
        raise ValueError(
            f"{_where(construct)}: reason = {reason!r} is invalid: expected a specific reason of at least "
            f"{_MIN_REASON} characters"
        )
    return rule_id, reason


def _where(construct: IConstruct) -> str:
    # Only for error messages: a construct's path costs round trips to Node.
    return construct.node.path or "<app>"


def in_packs(rule: str, packs: Iterable[str], reason: str) -> list[tuple[str, str]]:
    """``[(f"{pack}-{rule}", reason) for pack in packs]``: one reason for the same rule in several packs."""
    return [(f"{pack}-{rule}", reason) for pack in packs]


def acknowledgments(scope: IConstruct) -> list[tuple[str, str, str]]:
    """Every acknowledgment recorded in the construct tree under ``scope`` as ``(construct path, rule id, reason)``."""
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    out: list[tuple[str, str, str]] = []
    for node in scope.node.find_all():
        for entry in node.node.metadata:
            if entry.type == key and isinstance(entry.data, dict):
                data: dict[str, Any] = entry.data
                for rule, reason in data.items():
                    out.append((node.node.path, re.sub(r"^annotation::", "", rule, flags=re.I), str(reason)))
    return out


def written_acknowledgments(resource: cdk.CfnResource) -> list[dict[str, str]]:
    """What will be written into ``resource``'s ``Metadata.cdk_nag.rules_to_suppress`` (resolved now)."""
    value = cdk.Stack.of(resource).resolve(resource.get_metadata(_METADATA_KEY))
    rules = value.get("rules_to_suppress") if isinstance(value, dict) else None
    return list(rules) if isinstance(rules, list) else []


# -- writing into the templates -------------------------------------------------------------------


class _AppWriter:
    """Acknowledgments of one app by construct path; writes each covered resource's ``cdk_nag`` metadata."""

    def __init__(self) -> None:
        self.rules: dict[str, list[tuple[str, str]]] = {}
        #: Path -> what the resource carried before the library wrote to it (a team's own entries).
        self.base: dict[str, list[Any]] = {}
        self.watched: set[str] = set()

    def record(self, construct: IConstruct, rules: list[tuple[str, str]], path: str | None = None) -> None:
        path = construct.node.path if path is None else path
        self.rules.setdefault(path, []).extend(rules)
        if isinstance(construct, cdk.CfnResource):
            self.write(construct, path)
            return
        nodes = construct.node.find_all()
        for child in nodes:
            if isinstance(child, cdk.CfnResource):
                self.write(child)
        if path not in self.watched:
            # Resources added under the construct later (and in nested stages it holds) are covered too.
            self.watched.add(path)
            for scope in [construct, *(c for c in nodes if isinstance(c, cdk.Stage))]:
                cdk.Aspects.of(scope).add(_Attach(self), priority=cdk.AspectPriority.READONLY)

    def write(self, resource: cdk.CfnResource, path: str | None = None) -> None:
        """(Re)write ``resource``'s metadata from every acknowledgment recorded on it and its ancestors."""
        path = path or resource.node.path
        if path not in self.base:
            existing = resource.get_metadata(_METADATA_KEY)
            rules = existing.get("rules_to_suppress") if isinstance(existing, dict) else None
            self.base[path] = list(rules) if isinstance(rules, list) else []
        rendered = self.render(path, self.base[path])
        if rendered is not None:
            resource.add_metadata(_METADATA_KEY, rendered)

    def render(self, path: str, base: list[Any]) -> dict[str, Any] | None:
        rules: list[dict[str, Any]] = [r for r in base if isinstance(r, dict)]
        seen = {r.get("id") for r in rules}
        parts = path.split("/")
        # The resource's own acknowledgments first, then its ancestors', nearest first (as cdk-nag reads them).
        for depth in range(len(parts), -1, -1):
            for rule_id, reason in self.rules.get("/".join(parts[:depth]), ()):
                if rule_id not in seen:
                    seen.add(rule_id)
                    rules.append({"id": rule_id, "reason": reason})
        return {"rules_to_suppress": rules} if rules else None


@jsii.implements(cdk.IAspect)
class _Attach:
    def __init__(self, writer: _AppWriter) -> None:
        self._writer = writer

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, cdk.CfnResource):
            self._writer.write(node)


_WRITERS: weakref.WeakKeyDictionary[Any, _AppWriter] = weakref.WeakKeyDictionary()


def _writer_for(root: IConstruct) -> _AppWriter:
    """The writer of the app whose root is ``root``."""
    writer = _WRITERS.get(root)
    if writer is None:
        writer = _WRITERS[root] = _AppWriter()
    return writer
