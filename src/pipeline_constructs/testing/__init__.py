"""Test pipeline stacks deterministically: apps, templates, snapshots, cdk-nag.

Importing this module selects Node 24 for jsii before ``aws_cdk`` is imported
(the pytest plugin imports it first). It imports ``aws_cdk`` only when one of
its functions runs, so the plugin costs nothing in test sessions that never
synthesize.

* :func:`deterministic_app`: an ``App`` that synthesizes the same template on
  every machine (no version metadata, Docker bundling skipped, no stack traces).
* :func:`stack_template` / :func:`normalize_template`: a stack's template with
  content hashes (asset hashes, S3 keys) replaced by ``<hash>``.
* :class:`TemplateSnapshotExtension` (``syrupy``): snapshot a stack or a
  template as normalized JSON, one file per snapshot.
* :func:`assert_no_unacknowledged_findings`: run the five cdk-nag packs and
  fail with a readable list.
"""

from __future__ import annotations

from pipeline_constructs.core.private.node import use_project_node

use_project_node()

import re  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    import aws_cdk as cdk
    import cdk_nag
    from constructs import IConstruct

    from pipeline_constructs.testing.snapshot import TemplateSnapshotExtension

__all__ = [
    "DETERMINISTIC_CONTEXT",
    "TemplateSnapshotExtension",
    "assert_no_unacknowledged_findings",
    "deterministic_app",
    "normalize_template",
    "stack_template",
]

#: Context for offline, reproducible synthesis: no Docker bundling, no lookups.
DETERMINISTIC_CONTEXT: dict[str, Any] = {
    "aws:cdk:bundling-stacks": [],
    "aws:cdk:enable-path-metadata": False,
    "aws:cdk:disable-stack-trace": True,
}

_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def deterministic_app(outdir: str | None = None, context: dict[str, Any] | None = None) -> cdk.App:
    """An ``App`` that synthesizes the same template on every machine.

    No analytics/version metadata, Docker bundling skipped (assets hash their
    source), no stack traces in metadata. ``context`` is merged over
    :data:`DETERMINISTIC_CONTEXT`.
    """
    import aws_cdk as cdk

    return cdk.App(
        outdir=outdir,
        analytics_reporting=False,
        context={**DETERMINISTIC_CONTEXT, **(context or {})},
    )


def normalize_template(template: Any) -> Any:
    """Replace content hashes (asset hashes, S3 keys) with ``<hash>`` for snapshot stability.

    The structure, logical ids, properties and references stay as they are, so
    a snapshot still shows every meaningful change.
    """
    if isinstance(template, dict):
        return {
            k if not isinstance(k, str) else _HASH.sub("<hash>", k): normalize_template(v) for k, v in template.items()
        }
    if isinstance(template, list):
        return [normalize_template(v) for v in template]
    if isinstance(template, str):
        return _HASH.sub("<hash>", template)
    return template


def stack_template(stack: cdk.Stack, *, normalize: bool = True) -> dict[str, Any]:
    """The synthesized template of ``stack`` as a dict (normalized for snapshots unless ``normalize=False``)."""
    from aws_cdk.assertions import Template

    template = dict(Template.from_stack(stack).to_json())
    return dict(normalize_template(template)) if normalize else template


def assert_no_unacknowledged_findings(
    scope: IConstruct, packs: Sequence[cdk_nag.NagPack] | None = None, *, limit: int = 50
) -> None:
    """Fail when a cdk-nag pack reports a finding that is not acknowledged.

    Runs the library's five packs (AwsSolutions, NIST 800.53 R5, HIPAA
    Security, PCI DSS 3.2.1, Serverless), or ``packs``, over ``scope`` (an app,
    stage or stack; the app is synthesized first). The message lists each
    finding as ``rule at construct path: description``; fix the resource, or
    acknowledge it with :func:`pipeline_constructs.acknowledge` and a reason.

    :param limit: findings listed in the message at most. Default: 50.
    :raises AssertionError: on any unacknowledged finding.
    """
    from pipeline_constructs.core.compliance import unacknowledged_findings

    findings = unacknowledged_findings(scope, packs)
    if not findings:
        return
    lines = [f"  {f}" for f in findings[:limit]]
    if len(findings) > limit:
        lines.append(f"  ... and {len(findings) - limit} more")
    raise AssertionError(
        f"{len(findings)} unacknowledged cdk-nag finding(s) under {scope.node.path or '<app>'}:\n"
        + "\n".join(lines)
        + "\nFix the resource, or acknowledge(construct, 'Pack-Rule[finding]', 'specific reason')."
    )


def __getattr__(name: str) -> Any:
    if name == "TemplateSnapshotExtension":  # needs syrupy, a test-only dependency
        from pipeline_constructs.testing.snapshot import TemplateSnapshotExtension

        return TemplateSnapshotExtension
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
