"""A ``syrupy`` extension for CloudFormation templates (requires ``syrupy``).

``snapshot.use_extension(TemplateSnapshotExtension)`` (or the plugin's
``template_snapshot`` fixture) stores each snapshot as a JSON file under
``__snapshots__/<test module>/<test name>.json``, after
:func:`~pipeline_constructs.testing.normalize_template`. Compare a stack or a
template dict: ``assert stack == template_snapshot``.
"""

from __future__ import annotations

from typing import Any

from syrupy.extensions.json import JSONSnapshotExtension

from pipeline_constructs.testing import normalize_template

__all__ = ["TemplateSnapshotExtension"]


class TemplateSnapshotExtension(JSONSnapshotExtension):
    """Snapshot a ``cdk.Stack`` (its template) or a template dict, normalized."""

    def serialize(self, data: Any, **kwargs: Any) -> Any:
        return super().serialize(normalize_template(_as_template(data)), **kwargs)


def _as_template(data: Any) -> Any:
    import sys

    cdk = sys.modules.get("aws_cdk")
    if cdk is not None and isinstance(data, cdk.Stack):
        from aws_cdk.assertions import Template

        return Template.from_stack(data).to_json()
    return data
