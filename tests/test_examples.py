"""Every example app, synthesized once: cdk-nag (template-only), catalogue reasons, cfn-lint, snapshots.

For each example (``examples/<name>/app.py``) and every template of its cloud assembly
(pipeline stack, stage stacks, nested stacks, cross-region support stacks):

* the template-only cdk-nag check (``audit_assembly``, strict reading: a bare rule id does not
  acknowledge a finding rule's findings) finds nothing unacknowledged under the five packs;
* every acknowledgment written into a template gives exactly one reason of the catalogue (or a
  reason the example app gives itself); that each reason's claim holds is proven over every
  assembly by ``tests/test_compliance.py::test_reason_holds`` and ``tests/core/test_reasons.py``;
* ``cfn-lint`` reports no error;
* each template matches its snapshot (the library's own ``template_snapshot`` fixture).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_NAMES, EXAMPLE_TEAM_REASONS

from pipeline_constructs.core.compliance import PACK_NAMES
from pipeline_constructs.core.compliance.audit import assembly_templates
from pipeline_constructs.core.compliance.reasons import match_reason

pytestmark = [pytest.mark.synth, pytest.mark.parametrize("name", EXAMPLE_NAMES)]

#: The one place cfn-lint rules are excluded. E3703 is a style rule that fires on CDK's own generated
#: templates (aws-cdk-lib's Fn::Join of ARNs), not an error in what the library builds.
CFN_LINT_EXCLUDED = ("E3703",)


def _templates(root: Path) -> dict[str, dict[str, Any]]:
    """Every template of the assembly at ``root``, by path relative to it."""
    return {p.relative_to(root).as_posix(): json.loads(p.read_text(encoding="utf-8")) for p in assembly_templates(root)}


def test_template_only_check_finds_nothing_unacknowledged(name, synthesized_example, audited_example):
    audit = audited_example(name)
    assert audit.errors == []
    assert tuple(audit.packs) == PACK_NAMES
    assert len(audit.templates) == len(_templates(Path(synthesized_example(name)).resolve())) >= 2
    assert [str(f) for f in audit.unacknowledged] == []


def test_every_acknowledgment_gives_one_catalogue_reason(name, synthesized_example):
    acks = [
        (template, where, entry.get("id"), entry.get("reason"))
        for template, body in _templates(Path(synthesized_example(name)).resolve()).items()
        for where, metadata in [
            ("<template>", body.get("Metadata") or {}),
            *((logical_id, r.get("Metadata") or {}) for logical_id, r in (body.get("Resources") or {}).items()),
        ]
        for entry in (metadata.get("cdk_nag") or {}).get("rules_to_suppress") or []
    ]
    assert acks, "every example acknowledges something (CDK Pipelines' own resources need it)"
    wrong = [
        (*ack, [r.id for r in match_reason(str(ack[3]))])
        for ack in acks
        if ack[3] not in EXAMPLE_TEAM_REASONS and len(match_reason(str(ack[3]))) != 1
    ]
    assert wrong == []


def test_cfn_lint_reports_no_errors(name, synthesized_example):
    templates = sorted(str(p) for p in assembly_templates(Path(synthesized_example(name)).resolve()))
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--format",
            "parseable",
            "--ignore-checks",
            *CFN_LINT_EXCLUDED,
            "W",
            "I",
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [line for line in proc.stdout.splitlines() if ":E" in line]
    assert errors == [], "\n".join(errors)
    # cfn-lint's exit status is a bitmask: 2 errors, 4 warnings, 8 informational; anything else means it failed.
    assert proc.returncode in (0, 4, 8, 12), (proc.returncode, proc.stderr)


def test_templates_match_their_snapshots(name, synthesized_example, template_snapshot):
    templates = _templates(Path(synthesized_example(name)).resolve())
    for path, body in templates.items():
        assert body == template_snapshot(name=path.removesuffix(".template.json").replace("/", "."))
