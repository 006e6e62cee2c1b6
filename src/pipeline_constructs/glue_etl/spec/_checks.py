"""Checks the spec's value objects share: names, lists, descriptions, string mappings."""

from __future__ import annotations

import re
from typing import Any

from pipeline_constructs.core.validation import require_mapping, require_sequence, require_str

# Glue resource names: one line of letters, digits, '_', '-', '.' (Glue allows more; this keeps
# names safe in ARNs, log group names and CloudFormation logical ids).
NAME = re.compile(r"[A-Za-z0-9_.-]{1,255}")
# Athena-compatible database (and table prefix) names.
DATABASE = re.compile(r"[a-z0-9_]{1,255}")
# Glue's limit on descriptions (jobs, crawlers, triggers, workflows, databases).
MAX_DESCRIPTION = 2048


def require_name(where: str, prop: str, value: Any) -> str:
    """A Glue resource name (:data:`NAME`)."""
    return require_str(
        where, prop, value, pattern=NAME, allowed="expected 1-255 characters from A-Z, a-z, 0-9, '_', '-', '.'"
    )


def tuple_field(obj: object, where: str, prop: str, **checks: Any) -> tuple[Any, ...]:
    """Check field ``prop`` of the frozen dataclass ``obj`` with :func:`require_sequence` (``checks``: its
    ``item``, ``allowed``, ``min_length``); store it as a tuple."""
    checks.setdefault("allowed", "expected a list or tuple")
    value = require_sequence(where, prop, getattr(obj, prop), **checks)
    object.__setattr__(obj, prop, value)
    return value


def require_description(where: str, value: Any, prop: str = "description") -> None:
    """``None`` or a description within Glue's limit."""
    if value is not None:
        require_str(where, prop, value, allowed="expected a description", max_length=MAX_DESCRIPTION)


def require_strings(where: str, prop: str, value: Any) -> dict[str, str]:
    """A mapping of ``str`` to ``str`` (run properties)."""

    def text(w: str, p: str, v: Any) -> str:
        return require_str(w, p, v, allowed="expected a string", min_length=0, single_line=False)

    return require_mapping(where, prop, value, key=text, item=text, allowed="expected a mapping of str to str")
