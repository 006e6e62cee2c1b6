"""Validation helpers: every construct raises the same shape of error.

Messages name the construct path (when there is one), the prop, the bad value
and what is allowed, e.g.::

    MyStack/Pipeline: targets[1].account = '1234' is invalid: expected a 12-digit AWS account id
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from aws_cdk import Stack, Token
from aws_cdk.region_info import RegionInfo

__all__ = [
    "EMAIL_PATTERN",
    "invalid",
    "is_token",
    "known_regions",
    "require_account",
    "require_concrete_env",
    "require_email",
    "require_one_of",
    "require_pipeline_name",
    "require_region",
    "require_unique",
]

ACCOUNT_PATTERN = re.compile(r"^\d{12}$")
# CodePipeline: [A-Za-z0-9.@\-_]+, at most 100 characters.
PIPELINE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9.@\-_]{1,100}$")
# Pragmatic address check (what SNS accepts): local@domain.tld, no spaces.
EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


def invalid(where: str, prop: str, value: Any, allowed: str) -> ValueError:
    """Build the library's standard ``ValueError``.

    :param where: the construct path (or value-object name) that owns the prop.
    :param prop: the prop name, as the user wrote it (``targets[1].account``).
    :param value: the rejected value.
    :param allowed: what would have been accepted.
    """
    prefix = f"{where}: " if where else ""
    return ValueError(f"{prefix}{prop} = {value!r} is invalid: {allowed}")


def is_token(value: object) -> bool:
    """Whether ``value`` is an unresolved CDK token (validated later by CloudFormation)."""
    return isinstance(value, str) and Token.is_unresolved(value)


@functools.cache
def known_regions() -> frozenset[str]:
    """The AWS regions the installed aws-cdk-lib knows (one jsii call, cached)."""
    return frozenset(r.name for r in RegionInfo.regions)


def require_account(where: str, prop: str, value: str) -> str:
    """Accept a 12-digit account id (or a token); raise :func:`invalid` otherwise."""
    if not isinstance(value, str) or not (ACCOUNT_PATTERN.match(value) or is_token(value)):
        raise invalid(where, prop, value, "expected a 12-digit AWS account id, e.g. '111111111111'")
    return value


def require_concrete_env(where: str, stack: Stack, why: str) -> None:
    """Require ``stack`` to have an explicit account and region (``env=``), saying ``why`` the construct needs it."""
    if is_token(stack.account) or is_token(stack.region):
        raise invalid(
            where,
            "scope",
            stack.stack_name,
            f"expected a stack with an explicit env (account and region): {why}",
        )


def require_region(where: str, prop: str, value: str) -> str:
    """Accept a region aws-cdk-lib knows (or a token); raise :func:`invalid` otherwise."""
    if not isinstance(value, str) or not (value in known_regions() or is_token(value)):
        raise invalid(
            where,
            prop,
            value,
            "expected an AWS region such as 'us-east-1' (one of the regions aws-cdk-lib knows)",
        )
    return value


def require_pipeline_name(where: str, prop: str, value: str | None) -> str | None:
    """Accept ``None`` or a name matching CodePipeline's rule ``[A-Za-z0-9.@_-]{1,100}``."""
    if value is None or is_token(value):
        return value
    if not isinstance(value, str) or not PIPELINE_NAME_PATTERN.match(value):
        raise invalid(where, prop, value, "expected 1-100 characters from A-Z, a-z, 0-9, '.', '@', '-', '_'")
    return value


def require_email(where: str, prop: str, value: str) -> str:
    """Accept a plausible e-mail address for an SNS e-mail subscription."""
    if not isinstance(value, str) or not EMAIL_PATTERN.match(value):
        raise invalid(where, prop, value, "expected an e-mail address such as 'team@example.com'")
    return value


def require_one_of(where: str, prop: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Accept ``value`` only if it is in ``allowed``."""
    options = list(allowed)
    if value not in options:
        raise invalid(where, prop, value, "expected one of " + ", ".join(repr(o) for o in options))
    return value


def require_unique(where: str, prop: str, values: Iterable[str]) -> None:
    """Raise if ``values`` holds a duplicate (case-insensitive, as stage names are)."""
    seen: dict[str, str] = {}
    for value in values:
        key = value.lower()
        if key in seen:
            raise invalid(where, prop, value, f"names must be unique (case-insensitive); {seen[key]!r} already used")
        seen[key] = value
