"""What the app's own synth said about cdk-nag, read back from its cloud assembly (standard library only).

``pipeline-constructs check`` runs the packs itself (:mod:`pipeline_constructs.core.compliance.audit`);
this module reads what the app wrote at synth time, so the check can show it beside its own
verdict and say where the two differ. Sources, each optional:

* cdk-nag v3 (and any other policy-validation plugin): ``validation-report.json``
  (or the legacy ``policy-validation-report.json``). A plugin counts as a pack only when
  its name is one of the packs asked about; every other plugin (aws-cdk-lib's
  ``CloudFormation Validate``, ``Construct Annotations``, custom plugins) is kept apart.
  A report older than its manifest is left over from an earlier synth and ignored.
* cdk-nag v2: its ``aws:cdk:error`` / ``aws:cdk:warning`` annotations
  (``"AwsSolutions-S1: The S3 Bucket has server access logs disabled."``) in the
  stacks' metadata, and its ``<Pack>-<Stack>-NagReport.csv`` / ``.json`` files.
* acknowledgments recorded only in the manifest (``aws:cdk:acknowledged-rules``).

Rule ids are ``<Pack>-<Rule>`` or ``<Pack>-<Rule>[<finding>]``; pack names contain dots
(``NIST.800.53.R5``), so a pack is never found by splitting at the first ``-``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline_constructs.cli.assembly import Annotation, AssemblyError, CloudAssembly, load_json

__all__ = [
    "SOURCE_ANNOTATIONS",
    "SOURCE_NAG_REPORTS",
    "SOURCE_VALIDATION_REPORT",
    "AppFinding",
    "AppNagOutput",
    "PluginReport",
    "nag_rule",
    "read_app_output",
    "strip_namespace",
]

SOURCE_VALIDATION_REPORT = "validation report"
SOURCE_ANNOTATIONS = "cdk-nag v2 annotations"
SOURCE_NAG_REPORTS = "cdk-nag v2 NagReport files"
#: aws-cdk-lib's plugin that mirrors construct annotations into the report (counted from the manifests instead).
_ANNOTATIONS_PLUGIN = "Construct Annotations"
_NAMESPACE = re.compile(r"^[^:\[\]]+::")


def strip_namespace(rule_id: str) -> str:
    """``Annotation::AwsSolutions-S1`` or ``AwsSolutions::AwsSolutions-S1`` -> ``AwsSolutions-S1``."""
    return _NAMESPACE.sub("", rule_id)


def nag_rule(text: str, packs: Collection[str]) -> tuple[str, str, str] | None:
    """``(pack, rule id, rest)`` when ``text`` starts with a rule id of one of ``packs``, else ``None``.

    Reads a cdk-nag v2 annotation (``"AwsSolutions-IAM5[Action::s3:*]: The IAM entity..."``) or a
    bare rule id. A namespace prefix (``"AwsSolutions::AwsSolutions-S1"``) is dropped.
    """
    text = strip_namespace(text.strip())
    for pack in sorted(packs, key=len, reverse=True):
        match = re.match(rf"({re.escape(pack)}-[A-Za-z0-9]+(?:\[.*?\])?)(?::\s*|$)", text, re.S)
        if match:
            return pack, match.group(1), text[match.end() :].strip()
    return None


@dataclass(frozen=True)
class AppFinding:
    """A finding of a pack as the app's own synth reported it."""

    source: str
    pack: str
    rule: str
    #: Construct path (``Stack/Bucket/Resource``) or whatever the source names the resource by.
    path: str
    severity: str
    description: str
    acknowledged: bool = False
    reason: str = ""


@dataclass(frozen=True)
class PluginReport:
    """A validation plugin that is not one of the packs: reported apart, never counted."""

    name: str
    conclusion: str
    #: ``(rule, severity, resource, description)``.
    violations: tuple[tuple[str, str, str, str], ...] = ()


@dataclass
class AppNagOutput:
    """Everything the app wrote about cdk-nag and other validation plugins."""

    report_path: Path | None = None
    #: ``absent``, ``stale`` (older than the manifest: ignored), ``no pack`` (no plugin of the packs), ``read``.
    report_state: str = "absent"
    findings: list[AppFinding] = field(default_factory=list)
    other_plugins: list[PluginReport] = field(default_factory=list)
    #: ``aws:cdk:error`` annotations that are not cdk-nag findings (they fail the CDK CLI's synth too).
    other_errors: list[Annotation] = field(default_factory=list)
    #: ``(stack, construct path, rule id, reason)`` of ``aws:cdk:acknowledged-rules`` metadata.
    manifest_acknowledgments: list[tuple[str, str, str, str]] = field(default_factory=list)
    nag_report_files: list[Path] = field(default_factory=list)

    @property
    def sources(self) -> list[str]:
        """Sources that reported at least one finding, in a fixed order."""
        seen = {f.source for f in self.findings}
        return [s for s in (SOURCE_VALIDATION_REPORT, SOURCE_ANNOTATIONS, SOURCE_NAG_REPORTS) if s in seen]

    def counts(self, source: str) -> dict[str, tuple[int, int]]:
        """Pack -> (unacknowledged, acknowledged) findings of one source."""
        out: dict[str, tuple[int, int]] = {}
        for f in self.findings:
            if f.source == source:
                u, a = out.get(f.pack, (0, 0))
                out[f.pack] = (u, a + 1) if f.acknowledged else (u + 1, a)
        return out


def read_app_output(assembly: CloudAssembly, packs: Collection[str]) -> AppNagOutput:
    """What the app's synth wrote about ``packs`` (and other plugins) into ``assembly``."""
    out = AppNagOutput(report_path=assembly.validation_report_path)
    if out.report_path is not None:
        if assembly.validation_report_is_stale:
            out.report_state = "stale"
        else:
            _read_report(assembly.validation_report or {}, packs, out)
            has_pack = any(f.source == SOURCE_VALIDATION_REPORT for f in out.findings)
            out.report_state = "read" if has_pack else "no pack"
    for annotation in assembly.annotations:
        parsed = nag_rule(annotation.message, packs)
        if parsed is not None and annotation.level in ("error", "warning"):
            pack, rule, rest = parsed
            out.findings.append(AppFinding(SOURCE_ANNOTATIONS, pack, rule, annotation.path, annotation.level, rest))
        elif annotation.level == "error" and parsed is None:
            out.other_errors.append(annotation)
    out.nag_report_files = assembly.files("*-NagReport.csv") + assembly.files("*-NagReport.json")
    for path in out.nag_report_files:
        out.findings += _read_nag_report(path, packs)
    for stack in assembly.stacks:
        if stack.parent is None:
            out.manifest_acknowledgments += [
                (stack.display_name, path, strip_namespace(rule), reason)
                for path, rule, reason in stack.acknowledged_rules
            ]
    return out


def _read_report(report: dict[str, Any], packs: Collection[str], out: AppNagOutput) -> None:
    for plugin in report.get("pluginReports") or []:
        if not isinstance(plugin, dict):
            continue
        summary = _dict(plugin.get("summary"))
        name = str(plugin.get("pluginName") or summary.get("pluginName") or "?")
        conclusion = str(plugin.get("conclusion") or summary.get("status") or "")
        violations = [v for v in plugin.get("violations") or [] if isinstance(v, dict)]
        suppressed = [v for v in plugin.get("suppressedViolations") or [] if isinstance(v, dict)]
        if name in packs:
            for v, acked in [*((v, False) for v in violations), *((v, True) for v in suppressed)]:
                for where in _resources(v):
                    out.findings.append(
                        AppFinding(
                            SOURCE_VALIDATION_REPORT,
                            name,
                            strip_namespace(str(v.get("ruleName") or "?")),
                            where,
                            str(v.get("severity") or "error"),
                            str(v.get("description") or ""),
                            acked,
                            str(v.get("reason") or "") if acked else "",
                        )
                    )
            continue
        rows = tuple(
            (str(v.get("ruleName") or "?"), str(v.get("severity") or ""), where, str(v.get("description") or ""))
            for v in violations
            for where in _resources(v)
            if not (name == _ANNOTATIONS_PLUGIN and nag_rule(str(v.get("description") or ""), packs))
        )
        if rows or name != _ANNOTATIONS_PLUGIN:
            out.other_plugins.append(PluginReport(name, conclusion, rows))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _resources(violation: dict[str, Any]) -> list[str]:
    """Where a violation is: construct paths, else ``template#logicalId``."""
    found = violation.get("violatingConstructs") or violation.get("violatingResources") or []
    out = []
    for r in found if isinstance(found, list) else []:
        if not isinstance(r, dict):
            continue
        cfn = _dict(r.get("cloudFormationResource"))
        path = r.get("constructPath")
        logical = cfn.get("logicalId") or r.get("resourceLogicalId")
        template = cfn.get("templatePath") or r.get("templatePath")
        if isinstance(path, str) and path:
            out.append(path)
        elif logical and logical != "N/A":
            out.append(f"{template}#{logical}" if template and template != "N/A" else str(logical))
    return out or ["?"]


#: cdk-nag v2 NagReport compliance values that are findings, and whether they are acknowledged.
_COMPLIANCE = {"non-compliant": False, "suppressed": True, "unknown": False}


def _read_nag_report(path: Path, packs: Collection[str]) -> list[AppFinding]:
    rows: Iterable[dict[str, Any]]
    if path.suffix == ".json":
        data = load_json(path, "cdk-nag report")
        lines = data.get("lines") if isinstance(data, dict) else None
        rows = [r for r in lines if isinstance(r, dict)] if isinstance(lines, list) else []
        keys = ("ruleId", "resourceId", "compliance", "exceptionReason", "ruleLevel", "ruleInfo")
    else:
        try:
            with path.open(encoding="utf-8", newline="") as f:
                rows = list(csv.DictReader(f))
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise AssemblyError(f"{path}: cannot read cdk-nag report: {e}") from None
        keys = ("Rule ID", "Resource ID", "Compliance", "Exception Reason", "Rule Level", "Rule Info")
    out = []
    for row in rows:
        rule_id, resource, compliance, reason, level, info = (str(row.get(k) or "") for k in keys)
        parsed = nag_rule(rule_id, packs)
        acked = _COMPLIANCE.get(compliance.strip().lower())
        if parsed is None or acked is None:
            continue
        severity = level.strip().lower() or "error"
        out.append(AppFinding(SOURCE_NAG_REPORTS, parsed[0], parsed[1], resource, severity, info, acked, reason))
    return out
