"""Team defaults: explicit argument > team default (CDK context) > library default.

A platform team sets defaults for every pipeline of an app in ``cdk.json``::

    {"context": {"pipeline-constructs:logRetentionDays": 731,
                 "pipeline-constructs:computeType": "MEDIUM",
                 "pipeline-constructs:cdkCliVersion": "2.1148.1",
                 "pipeline-constructs:cdkAssetsVersion": "4.7.3"}}

Keys (all under the ``pipeline-constructs:`` prefix):

* ``logRetentionDays``: retention of every log group the library creates (CodeBuild logs, function
  logs, the Glue workload's and the Flink applications' logs). Default: 365.
* ``computeType``: CodeBuild compute of every action. Default: ``SMALL``.
* ``bundling``: how assets that need a build tool (the .NET function) are packaged: ``true``
  (always; an error without the tool), ``false`` (never: synth-only assets) or ``"auto"``
  (package when the tool is there; without it, skip with a one-line warning on a workstation and
  fail inside CodeBuild). Default: ``"auto"``.
* ``cdkCliVersion``: the exact npm ``aws-cdk`` version every pipeline installs. Default:
  :data:`CDK_CLI_VERSION`.
* ``cdkAssetsVersion``: the exact npm ``cdk-assets`` version the asset actions install. Default:
  :data:`CDK_ASSETS_VERSION`.
* ``earlyPermissionChecks``: ``false`` puts the permissions check of every ``security_gated`` target back
  into the target's own stage (CDK's ``ConfirmPermissionsBroadening``) instead of the ``Assets`` stage with
  a skippable ``<target>-Permissions`` confirmation stage. Default: ``true``.
* ``nag``: ``false`` turns :func:`~pipeline_constructs.core.compliance.add_compliance_checks` off.

Context reaches an app differently depending on how it runs; see
:func:`~pipeline_constructs.core.app.create_app` and the getting-started guide.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_logs as logs
from constructs import Construct

from pipeline_constructs.core.validation import invalid, require_enum

__all__ = [
    "BUNDLING_KEY",
    "CDK_ASSETS_VERSION",
    "CDK_CLI_VERSION",
    "CONTEXT_PREFIX",
    "Bundling",
    "bundling_mode",
    "exact_version",
    "resolve_compute_type",
    "resolve_default",
    "resolve_log_retention",
]

CONTEXT_PREFIX = "pipeline-constructs:"
#: Context key of the bundling mode (see the module docstring).
BUNDLING_KEY = CONTEXT_PREFIX + "bundling"

#: The CDK CLI (npm ``aws-cdk``) every pipeline installs: self-mutation, the permission check and the
#: default synth commands. Team default: ``pipeline-constructs:cdkCliVersion``.
CDK_CLI_VERSION = "2.1148.1"
#: The npm ``cdk-assets`` the asset-publishing actions install. Team default: ``pipeline-constructs:cdkAssetsVersion``.
CDK_ASSETS_VERSION = "4.7.3"
_EXACT_VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?")

T = TypeVar("T")

#: ``"always"``, ``"never"`` or ``"auto"``.
Bundling = Literal["always", "never", "auto"]

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
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)  # -c pipeline-constructs:logRetentionDays=731 arrives as a string
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise ValueError("expected one of " + ", ".join(str(d) for d in sorted(allowed)))
    return allowed[value]


def _compute(value: Any) -> codebuild.ComputeType:
    names = {c.name: c for c in codebuild.ComputeType}
    if not isinstance(value, str) or value.upper() not in names:
        raise ValueError("expected one of " + ", ".join(sorted(names)))
    return names[value.upper()]


def _bundling(value: Any) -> Bundling:
    text = str(value).strip().lower()
    if text in ("true", "1", "on", "always", "required"):
        return "always"
    if text in ("false", "0", "off", "never"):
        return "never"
    if text == "auto":
        return "auto"
    raise ValueError("expected true (always package), false (never: synth-only assets) or 'auto'")


def exact_version(value: Any) -> str:
    """``value`` if it is an exact npm version (``2.1148.1``), else :class:`ValueError`."""
    if not isinstance(value, str) or not _EXACT_VERSION.fullmatch(value):
        raise ValueError("expected an exact npm version such as '2.1148.1' (no range, no 'latest')")
    return value


def _switch(value: Any) -> bool:
    text = str(value).strip().lower()  # -c key=false arrives as a string
    if text in ("true", "1", "on"):
        return True
    if text in ("false", "0", "off"):
        return False
    raise ValueError("expected true or false")


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "earlyPermissionChecks": _switch,
    "logRetentionDays": _retention,
    "computeType": _compute,
    "bundling": _bundling,
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


def resolve_log_retention(
    scope: Construct, explicit: Any, *, prop: str = "log_retention", where: str | None = None
) -> logs.RetentionDays:
    """The retention of a log group the library creates: ``explicit`` (checked), else the team default, else 1 year."""
    if explicit is not None:
        require_enum(where if where is not None else scope.node.path, prop, explicit, logs.RetentionDays)
    retention: logs.RetentionDays = resolve_default(scope, "logRetentionDays", explicit, logs.RetentionDays.ONE_YEAR)
    return retention


def resolve_compute_type(
    scope: Construct,
    explicit: Any,
    *,
    prop: str = "compute_type",
    library_default: codebuild.ComputeType | None = codebuild.ComputeType.SMALL,
) -> codebuild.ComputeType | None:
    """CodeBuild compute: ``explicit`` (checked), else the team default, else ``library_default``."""
    if explicit is not None:
        require_enum(scope.node.path, prop, explicit, codebuild.ComputeType)
    compute: codebuild.ComputeType | None = resolve_default(scope, "computeType", explicit, library_default)
    return compute


def bundling_mode(scope: Construct) -> Bundling:
    """The team's ``pipeline-constructs:bundling`` for ``scope`` (``"auto"`` when unset)."""
    return resolve_default(scope, "bundling", None, "auto")
