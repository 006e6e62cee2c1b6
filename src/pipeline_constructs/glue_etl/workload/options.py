"""The options of :class:`~pipeline_constructs.glue_etl.workload.GlueEtlWorkload` other than its spec, checked."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3

from pipeline_constructs.core.validation import (
    require_enum,
    require_instance,
    require_interface,
    require_kwargs,
    require_sequence,
    require_str,
)

__all__: list[str] = []  # internal: import from this module

_SECURITY_CONFIGURATION_NAME = re.compile(r"[A-Za-z0-9_.-]{1,255}")


def _lifecycle_rule(where: str, prop: str, value: Any) -> s3.LifecycleRule:
    return require_instance(where, prop, value, s3.LifecycleRule, "expected an s3.LifecycleRule")


_WORKLOAD_CHECKS: dict[str, Callable[[str, str, Any], Any]] = {
    "encryption_key": lambda w, p, v: require_interface(w, p, v, "key_arn", "expected a kms.IKey"),
    "removal_policy": lambda w, p, v: require_enum(w, p, v, cdk.RemovalPolicy),
    "data_lifecycle_rules": lambda w, p, v: require_sequence(
        w, p, v, item=_lifecycle_rule, allowed="expected a list of s3.LifecycleRule"
    ),
    "log_retention": lambda w, p, v: require_enum(w, p, v, logs.RetentionDays),
    "security_configuration_name": lambda w, p, v: require_str(
        w, p, v, pattern=_SECURITY_CONFIGURATION_NAME, allowed="expected 1-255 characters from A-Z, a-z, 0-9, '_.-'"
    ),
}


def validate_workload_options(where: str, prop: str, options: Mapping[str, Any]) -> None:
    """Check :class:`GlueEtlWorkload` options (``None``: the default), naming ``<prop>['<option>']``."""
    for key, value in options.items():
        if value is not None and key in _WORKLOAD_CHECKS:
            _WORKLOAD_CHECKS[key](where, f"{prop}[{key!r}]" if prop else key, value)


def check_workload_options(where: str, prop: str, value: Any) -> dict[str, Any]:
    """Check a ``workload_options`` mapping: :class:`GlueEtlWorkload` keyword arguments other than ``spec``."""
    if value is None:
        return {}
    options = require_kwargs(where, prop, value, _WORKLOAD_CHECKS.keys(), reserved={"spec": "use the spec prop"})
    validate_workload_options(where, prop, options)
    return options
