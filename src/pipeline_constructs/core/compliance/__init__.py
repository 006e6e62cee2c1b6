"""cdk-nag v3 wiring shared by examples, tests and the pytest plugin.

Two things live here:

* :func:`acknowledge`: the one way the library (and teams) acknowledge a
  finding. It goes through ``aws_cdk.Validations`` so cdk-nag v3 honours it,
  and, with :func:`add_compliance_checks`, it is written into the template's
  ``Metadata.cdk_nag`` for auditors.
* :func:`add_compliance_checks` / :func:`unacknowledged_findings`: the five
  rule packs the library is held to (AwsSolutions, NIST 800-53 R5, HIPAA
  Security, PCI DSS 3.2.1, Serverless).

``cdk-nag`` is an optional dependency (``pip install pipeline-constructs[nag]``);
it is imported only when a pack is needed.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from constructs import IConstruct

if TYPE_CHECKING:  # pragma: no cover
    import cdk_nag

__all__ = [
    "NAG_CONTEXT_KEY",
    "PACK_NAMES",
    "Finding",
    "acknowledge",
    "acknowledge_all",
    "acknowledgments",
    "add_compliance_checks",
    "in_packs",
    "nag_packs",
    "suspended_acknowledgments",
    "unacknowledged_findings",
]

PACK_NAMES: tuple[str, ...] = (
    "AwsSolutions",
    "NIST.800.53.R5",
    "HIPAA.Security",
    "PCI.DSS.321",
    "Serverless",
)

_RULE_ID = re.compile(
    r"^(AwsSolutions|NIST\.800\.53\.R[45]|HIPAA\.Security|PCI\.DSS\.321|Serverless)-[A-Za-z0-9]+(\[.+\])?$"
)
_MIN_REASON = 20
#: Context key that turns :func:`add_compliance_checks` off when ``false``.
NAG_CONTEXT_KEY = "pipeline-constructs:nag"
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


@dataclass(frozen=True)
class Finding:
    """One unacknowledged cdk-nag finding."""

    pack: str
    rule: str
    path: str
    description: str

    def __str__(self) -> str:
        return f"{self.rule} at {self.path}: {self.description}"


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``construct`` (and its children).

    Put it on the narrowest construct (the ``CfnResource`` or the policy) and
    name the finding, e.g. ``AwsSolutions-IAM5[Action::s3:GetObject*]``.

    :param rule_id: ``<Pack>-<Rule>`` or ``<Pack>-<Rule>[<finding>]``.
    :param reason: why it is acceptable here (at least 20 characters); lands
        in the template's ``Metadata.cdk_nag.rules_to_suppress``.
    :raises ValueError: on a malformed rule id or a reason too short to be specific.
    """
    acknowledge_all(construct, [(rule_id, reason)])


def acknowledge_all(construct: IConstruct, rules: Iterable[tuple[str, str]]) -> None:
    """Acknowledge several ``(rule_id, reason)`` pairs on ``construct`` in one call (one jsii round trip).

    Each pair is checked as in :func:`acknowledge`.
    """
    checked = [_checked(construct, rule_id, reason) for rule_id, reason in rules]
    if checked and not _SUSPENDED:
        cdk.Validations.of(construct).acknowledge(*checked)


def _checked(construct: IConstruct, rule_id: str, reason: str) -> cdk.Acknowledgment:
    # cdk-nag prints "Acknowledge with 'AwsSolutions::AwsSolutions-S1'": accept what it tells users to paste.
    rule_id = re.sub(r"^([A-Za-z0-9.]+)::(?=\1-)", "", rule_id) if isinstance(rule_id, str) else rule_id
    if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id):
        raise ValueError(
            f"{construct.node.path}: rule_id = {rule_id!r} is invalid: expected '<Pack>-<Rule>' or "
            f"'<Pack>-<Rule>[<finding>]' with pack one of {', '.join(PACK_NAMES)}"
        )
    if len(reason.strip()) < _MIN_REASON:
        raise ValueError(
            f"{construct.node.path}: reason = {reason!r} is invalid: expected a specific reason "
            f"of at least {_MIN_REASON} characters"
        )
    return cdk.Acknowledgment(id=rule_id, reason=reason)


def in_packs(rule: str, packs: Iterable[str], reason: str) -> list[tuple[str, str]]:
    """``[(f"{pack}-{rule}", reason) for pack in packs]``: one reason for the same rule in several packs."""
    return [(f"{pack}-{rule}", reason) for pack in packs]


def nag_packs(scope: IConstruct | None = None, *, write_to_template: bool = True) -> list[cdk_nag.NagPack]:
    """The five packs, in :data:`PACK_NAMES` order.

    :param scope: the app (or stage) the packs check. Required when
        ``write_to_template`` is ``True``.
    :param write_to_template: copy acknowledgments into each resource's
        ``Metadata.cdk_nag`` (done once, by the first pack). Default: ``True``.
    """
    import cdk_nag  # optional dependency: pip install pipeline-constructs[nag]

    classes: tuple[type[Any], ...] = (
        cdk_nag.AwsSolutionsChecks,
        cdk_nag.NIST80053R5Checks,
        cdk_nag.HIPAASecurityChecks,
        cdk_nag.PCIDSS321Checks,
        cdk_nag.ServerlessChecks,
    )
    packs: list[cdk_nag.NagPack] = []
    for i, cls in enumerate(classes):
        first = i == 0 and write_to_template and scope is not None
        packs.append(cls(scope if first else None, write_suppressions_to_cloud_formation=first))
    return packs


def add_compliance_checks(app: cdk.App | cdk.Stage) -> list[cdk_nag.NagPack]:
    """Register the five packs on ``app``: ``cdk synth`` then fails on any unacknowledged finding.

    Turned off (returns ``[]``) by the context value ``pipeline-constructs:nag``
    set to ``false`` (``cdk synth -c pipeline-constructs:nag=false``), e.g. for
    a quick local synth; CI should leave it on.
    """
    if str(app.node.try_get_context(NAG_CONTEXT_KEY)).lower() in ("false", "0", "off"):
        return []
    packs = nag_packs(app)
    cdk.Validations.of(app).add_plugins(*packs)
    return packs


def unacknowledged_findings(scope: IConstruct, packs: Sequence[cdk_nag.NagPack] | None = None) -> list[Finding]:
    """Run the packs over ``scope`` (all stacks and nested stages) and list what is not acknowledged.

    ``scope``'s app is synthesized first (a no-op if it already was), so aspects
    that acknowledge generated resources have run.
    """
    root = scope.node.root
    if isinstance(root, cdk.Stage):
        root.synth()
    found: list[Finding] = []
    for pack in packs if packs is not None else nag_packs(write_to_template=False):
        report = pack.validate_scope(scope)
        for violation in report.violations:
            for resource in violation.violating_resources:
                found.append(
                    Finding(
                        pack.read_pack_name,
                        violation.rule_name,
                        resource.construct_path or "",
                        violation.description,
                    )
                )
    return found


def acknowledgments(scope: IConstruct) -> list[tuple[str, str, str]]:
    """Every acknowledgment under ``scope`` as ``(construct path, rule id, reason)``."""
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    out: list[tuple[str, str, str]] = []
    for node in scope.node.find_all():
        for entry in node.node.metadata:
            if entry.type == key and isinstance(entry.data, dict):
                data: dict[str, Any] = entry.data
                for rule, reason in data.items():
                    out.append((node.node.path, re.sub(r"^annotation::", "", rule, flags=re.I), str(reason)))
    return out
