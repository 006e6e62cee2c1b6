"""cdk-nag results read back from a cloud assembly (``pipeline-constructs check``).

Two sources, both written at synth time:

* findings: the policy-validation report (``validation-report.json``) that
  cdk-nag v3 packs registered with ``Validations.of(app).add_plugins(...)`` fill;
* acknowledgments: ``Metadata.cdk_nag.rules_to_suppress`` of each template
  resource (written when a pack has ``write_suppressions_to_cloud_formation``)
  and the ``aws:cdk:acknowledged-rules`` entries of each stack's metadata.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pipeline_constructs.cli.assembly import CloudAssembly

__all__ = ["PACK_ORDER", "NagAck", "NagFinding", "NagResults", "pack_of", "read_nag"]

#: Display order of the packs the library uses; others follow alphabetically.
PACK_ORDER = ("AwsSolutions", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321", "Serverless")

_ACK_KEY = "aws:cdk:acknowledged-rules"
_ANNOTATION = re.compile(r"^annotation::", re.IGNORECASE)


def pack_of(rule_id: str) -> str:
    """``NIST.800.53.R5-IAMNoInlinePolicy[x]`` -> ``NIST.800.53.R5``."""
    return rule_id.split("-", 1)[0] if "-" in rule_id else rule_id


@dataclass(frozen=True)
class NagFinding:
    """A rule violation that no acknowledgment covers."""

    pack: str
    rule: str
    severity: str
    path: str
    description: str


@dataclass(frozen=True)
class NagAck:
    """An acknowledged rule on one construct, with its reason."""

    pack: str
    rule: str
    path: str
    reason: str
    stack: str


@dataclass
class NagResults:
    findings: list[NagFinding] = field(default_factory=list)
    acknowledgments: list[NagAck] = field(default_factory=list)
    #: Packs whose report is in the assembly (they ran and found something).
    reported_packs: list[str] = field(default_factory=list)
    has_report: bool = False

    @property
    def packs(self) -> list[str]:
        """Every pack seen (findings, reports or acknowledgments), library packs first."""
        seen = {f.pack for f in self.findings} | {a.pack for a in self.acknowledgments} | set(self.reported_packs)
        return sorted(seen, key=lambda p: (PACK_ORDER.index(p) if p in PACK_ORDER else len(PACK_ORDER), p))

    def counts(self) -> dict[str, tuple[int, int]]:
        """Pack -> (findings, acknowledgments)."""
        return {
            p: (
                sum(1 for f in self.findings if f.pack == p),
                sum(1 for a in self.acknowledgments if a.pack == p),
            )
            for p in self.packs
        }


def read_nag(assembly: CloudAssembly) -> NagResults:
    """Findings and acknowledgments of every stack (nested assemblies included)."""
    results = NagResults()
    report = assembly.validation_report
    if report is not None:
        results.has_report = True
        for plugin in report.get("pluginReports") or []:
            if not isinstance(plugin, dict):
                continue
            pack = str(plugin.get("pluginName") or "?")
            results.reported_packs.append(pack)
            for violation in plugin.get("violations") or []:
                if not isinstance(violation, dict):
                    continue
                rule = str(violation.get("ruleName") or "?")
                for construct in violation.get("violatingConstructs") or violation.get("violatingResources") or [{}]:
                    path = ""
                    if isinstance(construct, dict):
                        path = str(construct.get("constructPath") or construct.get("resourceLogicalId") or "")
                    results.findings.append(
                        NagFinding(
                            pack=pack,
                            rule=rule,
                            severity=str(violation.get("severity") or "error"),
                            path=path,
                            description=str(violation.get("description") or ""),
                        )
                    )

    acks: dict[tuple[str, str], NagAck] = {}
    meta_acks: list[NagAck] = []
    for stack in assembly.stacks:
        for logical_id, resource in stack.resources.items():
            metadata = resource.get("Metadata") if isinstance(resource, dict) else None
            nag = metadata.get("cdk_nag") if isinstance(metadata, dict) else None
            rules = nag.get("rules_to_suppress") if isinstance(nag, dict) else None
            for rule in rules if isinstance(rules, list) else []:
                if not isinstance(rule, dict) or not rule.get("id"):
                    continue
                path = stack.construct_path(logical_id)
                for rule_id in _expand(rule):
                    acks.setdefault(
                        (path, rule_id),
                        NagAck(pack_of(rule_id), rule_id, path, str(rule.get("reason") or ""), stack.display_name),
                    )
        for path, entries in stack.metadata.items():
            for entry in entries:
                data = entry.get("data")
                if entry.get("type") != _ACK_KEY or not isinstance(data, dict):
                    continue
                for key, reason in data.items():
                    rule_id = _ANNOTATION.sub("", str(key))
                    meta_acks.append(
                        NagAck(pack_of(rule_id), rule_id, path.lstrip("/"), str(reason), stack.display_name)
                    )
    # metadata entries duplicate template entries when suppressions were written to the template;
    # keep one per construct: the template's (what auditors see), else the metadata's.
    for ack in meta_acks:
        covered = any(
            a.rule == ack.rule and (a.path == ack.path or a.path.startswith(ack.path + "/")) for a in acks.values()
        )
        if not covered:
            acks.setdefault((ack.path, ack.rule), ack)
    results.acknowledgments = sorted(acks.values(), key=lambda a: (_pack_rank(a.pack), a.rule, a.path))
    results.findings.sort(key=lambda f: (_pack_rank(f.pack), f.rule, f.path))
    return results


def _pack_rank(pack: str) -> tuple[int, str]:
    return (PACK_ORDER.index(pack) if pack in PACK_ORDER else len(PACK_ORDER), pack)


def _expand(rule: dict[str, Any]) -> list[str]:
    """cdk-nag v2 wrote ``applies_to`` lists; v3 puts the finding in the id (``Rule[finding]``)."""
    rule_id = str(rule["id"])
    applies = rule.get("applies_to") or rule.get("appliesTo")
    if isinstance(applies, list) and applies:
        out = []
        for item in applies:
            text = item if isinstance(item, str) else (item.get("regex") if isinstance(item, dict) else None)
            out.append(f"{rule_id}[{text}]" if text else rule_id)
        return out
    return [rule_id]
