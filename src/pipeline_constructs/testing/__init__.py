"""Helpers for testing pipeline stacks deterministically (also used by the pytest plugin).

Importing this module selects Node 24 for jsii before ``aws_cdk`` is imported.
"""

from __future__ import annotations

from pipeline_constructs.core.node import use_project_node

use_project_node()

import re  # noqa: E402
from typing import Any  # noqa: E402

import aws_cdk as cdk  # noqa: E402

__all__ = ["DETERMINISTIC_CONTEXT", "deterministic_app", "normalize_template"]

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
