"""The template-only cdk-nag check: what an auditor sees, from the cloud assembly alone.

An auditor does not run our code. They take every CloudFormation template of
a cloud assembly (pipeline stack, stage stacks in nested assemblies, nested
stack templates, cross-region support stacks), load each one with
``CfnInclude``, run the cdk-nag packs over it, and count a finding as
acknowledged only where *that template's own* ``Metadata.cdk_nag`` records it
(on the resource, or at template level). :func:`audit_assembly` does exactly
that, so the library's promise ("zero unacknowledged findings, every
acknowledgment written into the template") can be checked by anyone, and the
CLI's ``check`` gives the same verdict.

Acknowledgment forms read from ``Metadata.cdk_nag.rules_to_suppress``:

* cdk-nag v3 (and this library): ``{"id": "AwsSolutions-IAM5[Action::s3:*]", "reason": ...}``,
  an exact finding; ``{"id": "AwsSolutions-S1", ...}`` for a rule without findings;
* cdk-nag v2: ``{"id": "AwsSolutions-IAM5", "applies_to": ["Action::s3:*", {"regex": "/^Resource::.*$/g"}]}``,
  and a bare ``{"id": "AwsSolutions-IAM5"}``, which v2 reads as "every finding of
  the rule" (``bare_rule_covers_findings=True``, the default) and v3 reads as
  nothing more than the bare rule (``False``: the strict reading).

Requires cdk-nag (``pip install pipeline-constructs[nag]``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "AckEntry",
    "AuditFinding",
    "TemplateAudit",
    "assembly_templates",
    "audit_assembly",
    "audit_templates",
    "available_packs",
    "finding_is_acknowledged",
    "template_acknowledgments",
]

_NESTED_SUFFIX = ".nested.template.json"
#: A validation namespace before a rule id: ``Annotation::`` (what aws-cdk-lib writes for
#: ``Validations.of(x).acknowledge``) or a plugin's, ``AwsSolutions::AwsSolutions-S10`` (what the CDK
#: CLI suggests for acknowledging a finding of the ``AwsSolutions`` plugin).
_NAMESPACE = re.compile(r"^[^:\[\]]+::")


@dataclass(frozen=True)
class AckEntry:
    """One ``rules_to_suppress`` entry of a template."""

    rule: str
    reason: str
    #: cdk-nag v2 ``applies_to``: exact findings or ``/regex/flags`` patterns. Empty: none given.
    applies_to: tuple[str, ...] = ()
    #: ``True`` when the entry sits in the template's own ``Metadata`` (covers every resource).
    template_level: bool = False


@dataclass(frozen=True)
class AuditFinding:
    """One finding of one pack on one resource of one template."""

    pack: str
    #: Full rule id as cdk-nag names it, e.g. ``AwsSolutions-IAM5[Action::s3:*]``.
    rule: str
    #: Template path relative to the assembly root (or as given).
    template: str
    logical_id: str
    resource_type: str
    severity: str
    description: str
    #: The acknowledgment that covers it, or ``None``.
    acknowledgment: AckEntry | None = None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledgment is not None

    def __str__(self) -> str:
        return f"{self.rule} at {self.template}#{self.logical_id} ({self.resource_type}): {self.description}"


@dataclass
class TemplateAudit:
    """Result of :func:`audit_templates`."""

    packs: tuple[str, ...]
    templates: list[str] = field(default_factory=list)
    findings: list[AuditFinding] = field(default_factory=list)
    #: Templates that could not be loaded or checked: ``(template, error)``. A check with errors is not a pass.
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def unacknowledged(self) -> list[AuditFinding]:
        return [f for f in self.findings if not f.acknowledged]

    @property
    def acknowledged(self) -> list[AuditFinding]:
        return [f for f in self.findings if f.acknowledged]

    @property
    def ok(self) -> bool:
        """No unacknowledged finding and every template checked."""
        return not self.unacknowledged and not self.errors

    def counts(self) -> dict[str, tuple[int, int]]:
        """Pack -> (unacknowledged, acknowledged) findings."""
        out = dict.fromkeys(self.packs, (0, 0))
        for f in self.findings:
            u, a = out.get(f.pack, (0, 0))
            out[f.pack] = (u, a + 1) if f.acknowledged else (u + 1, a)
        return out


# -- reading an assembly --------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def assembly_templates(outdir: str | Path) -> list[Path]:
    """Every CloudFormation template of the cloud assembly at ``outdir``, nested assemblies included.

    Stack templates come from each ``manifest.json`` (``aws:cloudformation:stack``
    artifacts, recursing into ``cdk:cloud-assembly`` artifacts, i.e. ``cdk.Stage``\\ s),
    nested stack templates from the ``aws:asset:path`` of each
    ``AWS::CloudFormation::Stack`` resource; any other ``*.template.json`` lying in an
    assembly directory is included too, so nothing an auditor would glob is skipped.
    """
    root = Path(outdir)
    if not (root / "manifest.json").is_file():
        raise ValueError(f"{root}: not a cloud assembly (no manifest.json)")
    found: dict[Path, None] = {}

    def add_template(path: Path) -> None:
        path = path.resolve()
        if path in found or not path.is_file():
            return
        found[path] = None
        for resource in (_read_json(path).get("Resources") or {}).values():
            if not isinstance(resource, dict) or resource.get("Type") != "AWS::CloudFormation::Stack":
                continue
            asset = (resource.get("Metadata") or {}).get("aws:asset:path")
            if isinstance(asset, str) and asset.endswith(".json"):
                add_template(path.parent / asset)

    def walk(directory: Path, seen: set[Path]) -> None:
        directory = directory.resolve()
        if directory in seen:
            return
        seen.add(directory)
        manifest = directory / "manifest.json"
        artifacts = _read_json(manifest).get("artifacts") or {} if manifest.is_file() else {}
        for artifact in artifacts.values():
            if not isinstance(artifact, dict):
                continue
            props = artifact.get("properties") or {}
            if artifact.get("type") == "aws:cloudformation:stack" and props.get("templateFile"):
                add_template(directory / str(props["templateFile"]))
            elif artifact.get("type") == "cdk:cloud-assembly" and props.get("directoryName"):
                walk(directory / str(props["directoryName"]), seen)
        for stray in sorted(directory.glob("*.template.json")):
            add_template(stray)

    walk(root, set())
    return list(found)


def template_acknowledgments(template: dict[str, Any]) -> tuple[dict[str, list[AckEntry]], list[AckEntry]]:
    """``(per logical id, template level)`` acknowledgments of a template (v2 and v3 forms)."""

    def entries(metadata: Any, template_level: bool) -> list[AckEntry]:
        nag = metadata.get("cdk_nag") if isinstance(metadata, dict) else None
        rules = nag.get("rules_to_suppress") if isinstance(nag, dict) else None
        out: list[AckEntry] = []
        for rule in rules if isinstance(rules, list) else []:
            if not isinstance(rule, dict) or not isinstance(rule.get("id"), str):
                continue
            applies = rule.get("applies_to", rule.get("appliesTo")) or []
            patterns = tuple(
                str(a if isinstance(a, str) else a.get("regex", ""))
                for a in (applies if isinstance(applies, list) else [])
                if isinstance(a, (str, dict))
            )
            out.append(
                AckEntry(
                    _NAMESPACE.sub("", rule["id"]),
                    str(rule.get("reason") or ""),
                    tuple(p for p in patterns if p),
                    template_level,
                )
            )
        return out

    per_resource = {
        logical_id: entries(resource.get("Metadata"), False)
        for logical_id, resource in (template.get("Resources") or {}).items()
        if isinstance(resource, dict)
    }
    return {k: v for k, v in per_resource.items() if v}, entries(template.get("Metadata"), True)


def _applies(pattern: str, finding: str) -> bool:
    match = re.fullmatch(r"/(.*)/([a-z]*)", pattern, flags=re.S)
    if match is None:
        return pattern == finding
    flags = re.I if "i" in match.group(2) else 0
    try:
        return re.search(match.group(1), finding, flags) is not None
    except re.error:
        return False


def finding_is_acknowledged(
    rule: str, entries: Iterable[AckEntry], *, bare_rule_covers_findings: bool = True
) -> AckEntry | None:
    """The entry among ``entries`` that acknowledges finding ``rule`` (``Pack-Rule`` or ``Pack-Rule[finding]``)."""
    base, bracket, rest = rule.partition("[")
    finding = rest[:-1] if bracket and rest.endswith("]") else ""
    for entry in entries:
        if entry.rule == rule:
            return entry
        if entry.rule != base or not bracket:
            continue
        if entry.applies_to:
            if any(_applies(p, finding) for p in entry.applies_to):
                return entry
        elif bare_rule_covers_findings:
            return entry
    return None


# -- running the packs ----------------------------------------------------------------------------


def _pack_classes() -> dict[str, Any]:
    import cdk_nag  # optional dependency: pip install pipeline-constructs[nag]

    return {
        "AwsSolutions": cdk_nag.AwsSolutionsChecks,
        "NIST.800.53.R4": cdk_nag.NIST80053R4Checks,
        "NIST.800.53.R5": cdk_nag.NIST80053R5Checks,
        "HIPAA.Security": cdk_nag.HIPAASecurityChecks,
        "PCI.DSS.321": cdk_nag.PCIDSS321Checks,
        "Serverless": cdk_nag.ServerlessChecks,
    }


def available_packs() -> tuple[str, ...]:
    """Names of the packs :func:`audit_templates` can run (the library's five and ``NIST.800.53.R4``)."""
    return tuple(_pack_classes())


def audit_templates(
    templates: Sequence[str | Path],
    *,
    packs: Sequence[str] | None = None,
    root: str | Path | None = None,
    bare_rule_covers_findings: bool = True,
) -> TemplateAudit:
    """Run cdk-nag ``packs`` over each template on its own and match findings against its metadata.

    :param packs: pack names (``AwsSolutions``, ``NIST.800.53.R5``, ``HIPAA.Security``,
        ``PCI.DSS.321``, ``Serverless``, ``NIST.800.53.R4``). Default: the library's five
        (:data:`pipeline_constructs.core.compliance.PACK_NAMES`).
    :param root: templates are named relative to this folder in the result. Default: as given.
    :param bare_rule_covers_findings: whether a bare ``Pack-Rule`` entry without ``applies_to``
        acknowledges every ``Pack-Rule[finding]`` (cdk-nag v2's reading). Default: ``True``.
    :raises ValueError: on an unknown pack name.
    """
    import aws_cdk as cdk
    from aws_cdk import cloudformation_include as cfn_inc

    from pipeline_constructs.core.compliance import PACK_NAMES

    selected = tuple(packs) if packs is not None else PACK_NAMES
    classes = _pack_classes()
    unknown = [p for p in selected if p not in classes]
    if unknown or not selected:
        raise ValueError(f"packs = {list(selected)!r} is invalid: expected names among {', '.join(classes)}")
    result = TemplateAudit(packs=selected)
    app = cdk.App(context={"aws:cdk:enable-path-metadata": False})
    loaded: dict[str, tuple[str, dict[str, Any]]] = {}
    for i, template in enumerate(templates):
        path = Path(template)
        name = str(path.relative_to(root)) if root is not None and path.is_relative_to(root) else str(path)
        result.templates.append(name)
        try:
            body = _read_json(path)
            stack = cdk.Stack(app, f"T{i}")
            cfn_inc.CfnInclude(stack, "Template", template_file=str(path), allow_cyclical_references=True)
        except Exception as error:
            result.errors.append((name, f"{type(error).__name__}: {error}".splitlines()[0]))
            continue
        loaded[f"T{i}"] = (name, body)
    acks = {stack_id: template_acknowledgments(body) for stack_id, (_, body) in loaded.items()}
    for pack_name in selected:
        pack = classes[pack_name]()
        try:
            report = pack.validate_scope(app)
        except Exception as error:
            result.errors.append(("*", f"{pack_name}: {type(error).__name__}: {error}".splitlines()[0]))
            continue
        for violation in report.violations:
            for resource in violation.violating_resources:
                parts = (resource.construct_path or "").split("/")
                if len(parts) < 3 or parts[0] not in loaded:
                    continue
                stack_id, logical_id = parts[0], parts[2]
                name, body = loaded[stack_id]
                per_resource, template_level = acks[stack_id]
                entries = [*per_resource.get(logical_id, []), *template_level]
                rtype = str(((body.get("Resources") or {}).get(logical_id) or {}).get("Type") or "")
                result.findings.append(
                    AuditFinding(
                        pack=pack_name,
                        rule=violation.rule_name,
                        template=name,
                        logical_id=logical_id,
                        resource_type=rtype,
                        severity=str(violation.severity or "error"),
                        description=violation.description,
                        acknowledgment=finding_is_acknowledged(
                            violation.rule_name, entries, bare_rule_covers_findings=bare_rule_covers_findings
                        ),
                    )
                )
    result.findings.sort(key=lambda f: (selected.index(f.pack), f.rule, f.template, f.logical_id))
    return result


def audit_assembly(
    outdir: str | Path, *, packs: Sequence[str] | None = None, bare_rule_covers_findings: bool = True
) -> TemplateAudit:
    """:func:`audit_templates` over :func:`assembly_templates` of ``outdir``."""
    root = Path(outdir).resolve()
    return audit_templates(
        assembly_templates(root), packs=packs, root=root, bare_rule_covers_findings=bare_rule_covers_findings
    )
