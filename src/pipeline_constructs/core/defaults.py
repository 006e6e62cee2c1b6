"""Team defaults: explicit argument > team default (CDK context) > library default.

A platform team sets defaults for every pipeline of an app in ``cdk.json``::

    {"context": {"pipeline-constructs:logRetentionDays": 731,
                 "pipeline-constructs:computeType": "MEDIUM",
                 "pipeline-constructs:cdkCliVersion": "2.1148.1",
                 "pipeline-constructs:cdkAssetsVersion": "4.7.3"}}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_logs as logs
from constructs import Construct

from pipeline_constructs.core.validation import invalid

__all__ = ["CDK_ASSETS_VERSION", "CDK_CLI_VERSION", "CONTEXT_PREFIX", "exact_version", "resolve_default"]

CONTEXT_PREFIX = "pipeline-constructs:"

#: The CDK CLI (npm ``aws-cdk``) every pipeline installs: self-mutation, the permission check and the
#: default synth commands. Team default: ``pipeline-constructs:cdkCliVersion``.
CDK_CLI_VERSION = "2.1148.1"
#: The npm ``cdk-assets`` the asset-publishing actions install. Team default: ``pipeline-constructs:cdkAssetsVersion``.
CDK_ASSETS_VERSION = "4.7.3"
_EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")

T = TypeVar("T")


_RETENTION_DAYS = {
    1: "ONE_DAY",
    3: "THREE_DAYS",
    5: "FIVE_DAYS",
    7: "ONE_WEEK",
    14: "TWO_WEEKS",
    30: "ONE_MONTH",
    60: "TWO_MONTHS",
    90: "THREE_MONTHS",
    120: "FOUR_MONTHS",
    150: "FIVE_MONTHS",
    180: "SIX_MONTHS",
    365: "ONE_YEAR",
    400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS",
    731: "TWO_YEARS",
    1096: "THREE_YEARS",
    1827: "FIVE_YEARS",
    2192: "SIX_YEARS",
    2557: "SEVEN_YEARS",
    2922: "EIGHT_YEARS",
    3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}


def _retention(value: Any) -> logs.RetentionDays:
    allowed = {days: logs.RetentionDays[name] for days, name in _RETENTION_DAYS.items()}
    if not isinstance(value, int) or value not in allowed:
        raise ValueError("expected one of " + ", ".join(str(d) for d in sorted(allowed)))
    return allowed[value]


def _compute(value: Any) -> codebuild.ComputeType:
    names = {c.name: c for c in codebuild.ComputeType}
    if not isinstance(value, str) or value.upper() not in names:
        raise ValueError("expected one of " + ", ".join(sorted(names)))
    return names[value.upper()]


def exact_version(value: Any) -> str:
    """``value`` if it is an exact npm version (``2.1148.1``), else :class:`ValueError`."""
    if not isinstance(value, str) or not _EXACT_VERSION.match(value):
        raise ValueError("expected an exact npm version such as '2.1148.1' (no range, no 'latest')")
    return value


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "logRetentionDays": _retention,
    "computeType": _compute,
    "cdkCliVersion": exact_version,
    "cdkAssetsVersion": exact_version,
}


def resolve_default(scope: Construct, key: str, explicit: T | None, library_default: T) -> T:
    """Return ``explicit`` if given, else the context value ``pipeline-constructs:<key>``, else ``library_default``."""
    if explicit is not None:
        return explicit
    raw = scope.node.try_get_context(CONTEXT_PREFIX + key)
    if raw is None:
        return library_default
    try:
        parsed: T = _PARSERS[key](raw)
    except ValueError as err:
        raise invalid(scope.node.path, f"context {CONTEXT_PREFIX}{key}", raw, str(err)) from None
    return parsed
