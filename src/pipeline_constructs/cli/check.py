"""``pipeline-constructs check``: run the cdk-nag packs over every template of a cloud assembly.

The verdict is the template-only check of :mod:`pipeline_constructs.core.compliance.audit`
(the same code the library's own compliance tests use): each pack runs over every template
(stage assemblies, nested stacks, cross-region support stacks), and a finding is
acknowledged only where that template's own ``Metadata.cdk_nag`` records it (on the resource
or at template level, cdk-nag v3 and v2 forms). What the app's own synth wrote
(:mod:`pipeline_constructs.cli.nag`) is shown beside it and never changes the verdict; with
``acknowledgments="assembly"``, acknowledgments recorded only in the manifest
(``aws:cdk:acknowledged-rules``) count too.

Exit status (:attr:`CheckResult.exit_status`): 0 no unacknowledged finding; 1 at least one;
2 the input could not be checked (not an assembly, a template that does not load, cdk-nag
missing).

This module starts the CDK (jsii) only inside :func:`run_check`.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from pipeline_constructs.cli.assembly import AssemblyError, CloudAssembly, StackArtifact
from pipeline_constructs.cli.nag import AppNagOutput, read_app_output, strip_namespace
from pipeline_constructs.cli.render import markdown_table, text_table

if TYPE_CHECKING:  # pragma: no cover
    from pipeline_constructs.core.compliance.audit import AckEntry, AuditFinding, TemplateAudit

__all__ = [
    "ACKNOWLEDGMENT_SCOPES",
    "CHECK_FORMATS",
    "CheckResult",
    "RuleCount",
    "check_in_subprocess",
    "check_json",
    "junit_xml",
    "render_check",
    "run_check",
    "summary_line",
]

CHECK_FORMATS = ("text", "json", "markdown", "junit")
#: ``template``: only each template's ``Metadata.cdk_nag`` (what an auditor sees). ``assembly``: also
#: ``aws:cdk:acknowledged-rules`` in the manifest (what cdk-nag v3 honours at synth time).
ACKNOWLEDGMENT_SCOPES = ("template", "assembly")
EXIT_OK, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2


@dataclass(frozen=True)
class RuleCount:
    """Findings of one rule (``Pack-Rule``, findings ``[...]`` folded in) over the assembly."""

    pack: str
    rule: str
    severity: str
    description: str
    unacknowledged: int
    acknowledged: int


@dataclass
class CheckResult:
    """The outcome of :func:`run_check`."""

    assembly: Path
    audit: TemplateAudit
    app: AppNagOutput
    acknowledgment_scope: str = "template"
    #: Findings the templates leave unacknowledged but the manifest acknowledges (``aws:cdk:acknowledged-rules``).
    manifest_only: list[AuditFinding] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def packs(self) -> tuple[str, ...]:
        return self.audit.packs

    @property
    def findings(self) -> list[AuditFinding]:
        return self.audit.findings

    @property
    def unacknowledged(self) -> list[AuditFinding]:
        return self.audit.unacknowledged

    @property
    def acknowledged(self) -> list[AuditFinding]:
        return self.audit.acknowledged

    @property
    def exit_status(self) -> int:
        if self.audit.errors:
            return EXIT_UNREADABLE
        return EXIT_FINDINGS if self.audit.unacknowledged else EXIT_OK

    @property
    def verdict(self) -> str:
        return {EXIT_OK: "ok", EXIT_FINDINGS: "FAIL", EXIT_UNREADABLE: "INCOMPLETE"}[self.exit_status]

    def counts(self) -> dict[str, tuple[int, int]]:
        """Pack -> (unacknowledged, acknowledged), every selected pack present."""
        return self.audit.counts()

    def rules(self) -> list[RuleCount]:
        """Per rule, in pack order, then rule id."""
        grouped: dict[tuple[str, str], list[AuditFinding]] = {}
        for f in self.audit.findings:
            grouped.setdefault((f.pack, f.rule.partition("[")[0]), []).append(f)
        order = {p: i for i, p in enumerate(self.packs)}
        return [
            RuleCount(
                pack,
                rule,
                found[0].severity,
                found[0].description,
                sum(1 for f in found if not f.acknowledged),
                sum(1 for f in found if f.acknowledged),
            )
            for (pack, rule), found in sorted(grouped.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1]))
        ]

    def acknowledged_where(self, finding: AuditFinding) -> str | None:
        """``resource``, ``template`` (template-level metadata), ``manifest`` or ``None``."""
        ack = finding.acknowledgment
        if ack is None:
            return None
        if any(m is finding for m in self.manifest_only):
            return "manifest"
        return "template" if ack.template_level else "resource"


def run_check(
    cdk_out: str | Path,
    *,
    packs: Sequence[str] | None = None,
    acknowledgments: str = "template",
    bare_rule_covers_findings: bool = True,
) -> CheckResult:
    """Check the cloud assembly at ``cdk_out``.

    :param packs: pack names. Default: the library's five
        (:data:`pipeline_constructs.core.compliance.PACK_NAMES`).
    :param acknowledgments: one of :data:`ACKNOWLEDGMENT_SCOPES`. Default: ``template``.
    :param bare_rule_covers_findings: a bare ``Pack-Rule`` entry acknowledges every
        ``Pack-Rule[finding]`` (cdk-nag v2's reading). Default: ``True``.
    :raises AssemblyError: not a cloud assembly, cdk-nag not installed, unknown pack or scope.
    """
    if acknowledgments not in ACKNOWLEDGMENT_SCOPES:
        raise AssemblyError(f"acknowledgments = {acknowledgments!r} is invalid: expected one of template, assembly")
    start = time.perf_counter()
    assembly = CloudAssembly.load(cdk_out)
    import pipeline_constructs.core.private.node as node  # before anything loads jsii

    node.use_project_node()
    try:
        from pipeline_constructs.core.compliance import audit
    except ImportError as e:  # pragma: no cover - the CLI's own dependencies include aws-cdk-lib
        raise AssemblyError(f"check needs aws-cdk-lib and cdk-nag: {e}") from None
    try:
        result = audit.audit_assembly(
            assembly.directory, packs=packs, bare_rule_covers_findings=bare_rule_covers_findings
        )
    except ModuleNotFoundError as e:
        raise AssemblyError(f"check runs cdk-nag: pip install 'pipeline-constructs[nag]' ({e})") from None
    except ValueError as e:
        raise AssemblyError(str(e)) from None
    app = read_app_output(assembly, audit.available_packs())
    manifest_only = _manifest_acknowledged(assembly, result, bare_rule_covers_findings)
    if acknowledgments == "assembly" and manifest_only:
        replaced = {id(f): ack for f, ack in manifest_only}
        result.findings = [
            dataclasses.replace(f, acknowledgment=replaced[id(f)]) if id(f) in replaced else f for f in result.findings
        ]
        keys = {(f.rule, f.template, f.logical_id) for f, _ in manifest_only}
        only = [f for f in result.findings if (f.rule, f.template, f.logical_id) in keys]
    else:
        only = [f for f, _ in manifest_only]
    return CheckResult(assembly.directory, result, app, acknowledgments, only, time.perf_counter() - start)


def check_in_subprocess(cdk_out: str | Path, *, packs: Sequence[str] = ()) -> dict[str, Any]:
    """:func:`check_json` of ``cdk_out`` computed in a fresh interpreter (its own jsii kernel): safe from threads.

    :raises AssemblyError: when the check could not run (its one-line message).
    """
    with tempfile.TemporaryDirectory(prefix="pipeline-constructs-check-") as tmp:
        target = Path(tmp) / "check.json"
        argv = [sys.executable, "-m", "pipeline_constructs.cli", "check", str(cdk_out), "-f", "json", "-o", str(target)]
        for pack in packs:
            argv += ["--pack", pack]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if not target.is_file():
            lines = proc.stderr.strip().splitlines()
            raise AssemblyError(lines[-1] if lines else f"check of {cdk_out} failed (exit status {proc.returncode})")
        data: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
        return data


def _manifest_acknowledged(
    assembly: CloudAssembly, result: TemplateAudit, bare_rule_covers_findings: bool
) -> list[tuple[AuditFinding, AckEntry]]:
    """Unacknowledged findings that an ``aws:cdk:acknowledged-rules`` entry of the manifest covers.

    An entry on a construct covers that construct and everything under it, as cdk-nag v3 reads it.
    """
    from pipeline_constructs.core.compliance.audit import AckEntry, finding_is_acknowledged

    by_template: dict[str, StackArtifact] = {}
    for stack in assembly.stacks:
        try:
            by_template[str(stack.template_path.resolve().relative_to(assembly.directory))] = stack
        except ValueError:
            continue
    acks = {
        stack.artifact_id: [
            (path, AckEntry(strip_namespace(rule), reason)) for path, rule, reason in stack.acknowledged_rules
        ]
        for stack in assembly.stacks
        if stack.parent is None
    }
    out = []
    for f in result.unacknowledged:
        holder = by_template.get(f.template)
        if holder is None:
            continue
        owner = holder.parent or holder.artifact_id
        path = holder.construct_paths.get(f.logical_id)
        if path is None:
            continue
        covering = [e for p, e in acks.get(owner, []) if path == p or path.startswith(p + "/")]
        ack = finding_is_acknowledged(f.rule, covering, bare_rule_covers_findings=bare_rule_covers_findings)
        if ack is not None:
            out.append((f, ack))
    return out


# --- rendering ---------------------------------------------------------------------------------------


def render_check(result: CheckResult, fmt: str, *, summary: bool = False) -> str:
    """``result`` as text, JSON, Markdown or JUnit XML (:data:`CHECK_FORMATS`)."""
    if fmt == "json":
        return json.dumps(check_json(result), indent=2) + "\n"
    if fmt == "markdown":
        return _markdown(result, summary=summary)
    if fmt == "junit":
        return junit_xml(result)
    if fmt == "text":
        return _text(result, summary=summary)
    raise ValueError(f"format = {fmt!r} is invalid: expected one of {', '.join(CHECK_FORMATS)}")


def summary_line(result: CheckResult) -> str:
    """One line: the verdict and its counts."""
    counts = result.counts()
    failing = ", ".join(f"{p} {u}" for p, (u, _) in counts.items() if u)
    line = (
        f"{result.verdict}: {len(result.unacknowledged)} unacknowledged findings"
        + (f" ({failing})" if failing else "")
        + f", {len(result.acknowledged)} acknowledged, packs {', '.join(result.packs)}, "
        f"{len(result.audit.templates)} templates"
    )
    if result.audit.errors:
        line += f"; {len(result.audit.errors)} could not be checked"
    return line


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _where(f: AuditFinding) -> str:
    return f"{f.template}#{f.logical_id}"


def _app_lines(result: CheckResult) -> list[str]:
    """What the app's own synth reported, apart from the verdict."""
    app = result.app
    out: list[str] = []
    if app.report_path is not None and app.report_state == "stale":
        out.append(f"{app.report_path.name}: older than the manifest (an earlier synth); ignored")
    elif app.report_path is not None and app.report_state == "no pack":
        out.append(f"{app.report_path.name}: no cdk-nag pack reported in it (packs off at synth time?)")
    mine = result.counts()
    for source in app.sources:
        counts = app.counts(source)
        parts = []
        for pack, (u, a) in counts.items():
            note = ""
            if pack in mine and mine[pack][0] != u:
                note = f" (this check: {mine[pack][0]})"
            parts.append(f"{pack} {u} unacknowledged{note}, {a} acknowledged")
        out.append(f"{source}: " + "; ".join(parts))
    for plugin in app.other_plugins:
        errors = sum(1 for v in plugin.violations if v[1] in ("error", "fatal"))
        out.append(
            f"validation plugin {plugin.name!r} (not a cdk-nag pack, not counted): "
            f"{len(plugin.violations)} violations ({errors} errors)"
            + (f", conclusion {plugin.conclusion}" if plugin.conclusion else "")
        )
    if app.other_errors:
        out.append(f"{len(app.other_errors)} other error annotations (not cdk-nag; they fail the CDK CLI's synth):")
        out += [f"  {a.path}: {a.message.splitlines()[0] if a.message else ''}" for a in app.other_errors[:20]]
    if result.manifest_only and result.acknowledgment_scope == "template":
        out.append(
            f"{len(result.manifest_only)} of the unacknowledged findings are acknowledged in the manifest only "
            "(aws:cdk:acknowledged-rules), not in the template; --acknowledgments assembly counts them"
        )
    elif result.manifest_only:
        out.append(f"{len(result.manifest_only)} findings are acknowledged by the manifest only (counted)")
    return out


def _text(result: CheckResult, *, summary: bool) -> str:
    audit = result.audit
    out = [
        f"cdk-nag check of {result.assembly}: {_n(len(result.packs), 'pack')} over "
        f"{_n(len(audit.templates), 'template')} ({result.seconds:.1f}s; acknowledgments read from "
        f"{result.acknowledgment_scope}s)",
        "",
        text_table(
            ("Pack", "Unacknowledged", "Acknowledged", "Rules"),
            [
                [p, str(u), str(a), str(len({r.rule for r in result.rules() if r.pack == p}))]
                for p, (u, a) in result.counts().items()
            ],
        ),
    ]
    rules = [r for r in result.rules() if r.unacknowledged or not summary]
    if rules:
        out += ["", "Rules with unacknowledged findings:" if summary else "Per rule:"]
        out.append(
            text_table(
                ("Rule", "Severity", "Unacknowledged", "Acknowledged", "Description"),
                [[r.rule, r.severity, str(r.unacknowledged), str(r.acknowledged), r.description] for r in rules],
                max_widths=(None, None, None, None, 64),
            )
        )
    if result.unacknowledged:
        out += ["", f"Unacknowledged findings ({len(result.unacknowledged)}):"]
        out.append(
            text_table(
                ("Rule", "Resource", "Type"),
                [[f.rule, _where(f), f.resource_type] for f in result.unacknowledged],
                max_widths=(56, 72, None),
            )
        )
    if result.acknowledged and not summary:
        out += ["", f"Acknowledged ({len(result.acknowledged)}):"]
        out.append(
            text_table(
                ("Rule", "Resource", "Where", "Reason"),
                [
                    [f.rule, _where(f), result.acknowledged_where(f) or "", f.acknowledgment.reason]
                    for f in result.acknowledged
                    if f.acknowledgment is not None
                ],
                max_widths=(48, 60, None, 64),
            )
        )
    if audit.errors:
        out += ["", f"Templates that could not be checked ({len(audit.errors)}):"]
        out += [f"  {template}: {error}" for template, error in audit.errors]
    app = _app_lines(result)
    if app:
        out += ["", "Not counted (what the app's own synth wrote):"]
        out += [f"  {line}" for line in app]
    out += ["", summary_line(result)]
    return "\n".join(out) + "\n"


def _markdown(result: CheckResult, *, summary: bool) -> str:
    out = [
        f"**cdk-nag check: {result.verdict}**: {len(result.unacknowledged)} unacknowledged, "
        f"{len(result.acknowledged)} acknowledged findings over {len(result.audit.templates)} templates.",
        "",
        markdown_table(
            ("Pack", "Unacknowledged", "Acknowledged"),
            [[p, str(u), str(a)] for p, (u, a) in result.counts().items()],
        ),
        "",
    ]
    rules = [r for r in result.rules() if r.unacknowledged or not summary]
    if rules:
        out += [
            markdown_table(
                ("Rule", "Severity", "Unacknowledged", "Acknowledged", "Description"),
                [[f"`{r.rule}`", r.severity, str(r.unacknowledged), str(r.acknowledged), r.description] for r in rules],
            ),
            "",
        ]
    if result.unacknowledged:
        out += [
            markdown_table(
                ("Rule", "Resource", "Type"),
                [[f"`{f.rule}`", f"`{_where(f)}`", f.resource_type] for f in result.unacknowledged],
            ),
            "",
        ]
    if result.acknowledged and not summary:
        out += [
            markdown_table(
                ("Rule", "Resource", "Reason"),
                [
                    [f"`{f.rule}`", f"`{_where(f)}`", f.acknowledgment.reason]
                    for f in result.acknowledged
                    if f.acknowledgment is not None
                ],
            ),
            "",
        ]
    if result.audit.errors:
        out += [f"- could not check `{t}`: {e}" for t, e in result.audit.errors] + [""]
    app = _app_lines(result)
    if app:
        out += ["Not counted (what the app's own synth wrote):", ""] + [f"- {line.strip()}" for line in app] + [""]
    return "\n".join(out)


def check_json(result: CheckResult) -> dict[str, Any]:
    """The JSON document of ``check --format json`` (stable keys)."""
    app = result.app
    return {
        "assembly": str(result.assembly),
        "verdict": result.verdict,
        "exit_status": result.exit_status,
        "packs": list(result.packs),
        "acknowledgment_scope": result.acknowledgment_scope,
        "seconds": round(result.seconds, 3),
        "templates": list(result.audit.templates),
        "errors": [{"template": t, "error": e} for t, e in result.audit.errors],
        "summary": {p: {"unacknowledged": u, "acknowledged": a} for p, (u, a) in result.counts().items()},
        "rules": [dataclasses.asdict(r) for r in result.rules()],
        "findings": [
            {
                "pack": f.pack,
                "rule": f.rule,
                "template": f.template,
                "logical_id": f.logical_id,
                "resource_type": f.resource_type,
                "severity": f.severity,
                "description": f.description,
                "acknowledged": f.acknowledged,
                "acknowledged_at": result.acknowledged_where(f),
                "reason": f.acknowledgment.reason if f.acknowledgment is not None else None,
            }
            for f in result.findings
        ],
        "app_output": {
            "validation_report": {
                "path": str(app.report_path) if app.report_path else None,
                "state": app.report_state,
            },
            "sources": {
                s: {p: {"unacknowledged": u, "acknowledged": a} for p, (u, a) in app.counts(s).items()}
                for s in app.sources
            },
            "other_plugins": [
                {
                    "name": p.name,
                    "conclusion": p.conclusion,
                    "violations": [
                        {"rule": r, "severity": s, "resource": w, "description": d} for r, s, w, d in p.violations
                    ],
                }
                for p in app.other_plugins
            ],
            "other_errors": [{"path": a.path, "message": a.message} for a in app.other_errors],
            "manifest_only_acknowledged": len(result.manifest_only),
        },
    }


def junit_xml(result: CheckResult) -> str:
    """JUnit XML for a CodeBuild report group (``file-format: JUNITXML``).

    One ``testsuite`` per pack, one ``testcase`` per finding (rule x resource): a ``failure``
    when unacknowledged, passed with the reason in ``system-out`` when acknowledged; templates
    that could not be checked are ``error`` test cases of a ``templates`` suite.
    """
    root = ET.Element("testsuites", name="cdk-nag")
    total = failures = errors = 0
    for pack in result.packs:
        found = [f for f in result.findings if f.pack == pack]
        failed = sum(1 for f in found if not f.acknowledged)
        suite = ET.SubElement(
            root, "testsuite", name=pack, tests=str(len(found)), failures=str(failed), errors="0", skipped="0"
        )
        suite.set("time", "0")
        for f in found:
            case = ET.SubElement(suite, "testcase", classname=f.rule, name=_where(f), time="0")
            case.set("file", f.template)
            if f.acknowledgment is None:
                failure = ET.SubElement(case, "failure", message=f"{f.rule}: {f.description}", type=f.severity)
                failure.text = f"{f.rule} at {_where(f)} ({f.resource_type}): {f.description}"
            else:
                out = ET.SubElement(case, "system-out")
                where = result.acknowledged_where(f)
                out.text = f"acknowledged ({where}): {f.acknowledgment.reason}"
        total += len(found)
        failures += failed
    if result.audit.errors:
        suite = ET.SubElement(
            root,
            "testsuite",
            name="templates",
            tests=str(len(result.audit.errors)),
            failures="0",
            errors=str(len(result.audit.errors)),
            skipped="0",
        )
        for template, error in result.audit.errors:
            case = ET.SubElement(suite, "testcase", classname="template", name=template, time="0")
            ET.SubElement(case, "error", message=error, type="unreadable").text = error
        total += len(result.audit.errors)
        errors += len(result.audit.errors)
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
