"""Validation helpers: every construct raises the same shape of error.

Messages name the construct path (when there is one), the prop, the bad value
and what is allowed, e.g.::

    MyStack/Pipeline: targets[1].account = '1234' is invalid: expected a 12-digit AWS account id

Rules every validator here follows:

* patterns are matched with :func:`re.fullmatch` over explicit ASCII classes
  (``[0-9]``, never ``\\d``; no ``$``, which also matches before a trailing
  newline), so ``'111111111111\\n'`` and Arabic-Indic digits are rejected;
* a value of the wrong type raises :class:`InvalidPropTypeError` (a
  ``TypeError`` that is also a ``ValueError``); a well-typed value outside
  what is allowed raises ``ValueError``;
* a bare ``str`` is never accepted where a sequence is expected;
* anything that reaches a shell command is validated here and quoted with
  :func:`shell_quote` where it is interpolated.
"""

from __future__ import annotations

import enum
import functools
import math
import posixpath
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from aws_cdk import Duration, Stack, Token
from aws_cdk.region_info import RegionInfo
from constructs import IConstruct

__all__ = [
    "ACCOUNT_PATTERN",
    "ACTION_NAME_PATTERN",
    "ARN_PATTERN",
    "CDK_CLI_VERSION_PATTERN",
    "EMAIL_PATTERN",
    "IAM_ROLE_NAME_PATTERN",
    "LAMBDA_ENV_KEY_PATTERN",
    "MAX_APPROVAL_COMMENT",
    "MAX_LAMBDA_ENVIRONMENT_BYTES",
    "MAX_LAMBDA_TIMEOUT_SECONDS",
    "ORGANIZATION_ID_PATTERN",
    "PIPELINE_NAME_PATTERN",
    "RESERVED_LAMBDA_ENVIRONMENT",
    "STACK_NAME_PATTERN",
    "InvalidPropTypeError",
    "child_path",
    "invalid",
    "is_token",
    "known_regions",
    "matches",
    "parse_cron",
    "repository_roots",
    "require_account",
    "require_action_name",
    "require_approval_comment",
    "require_arn",
    "require_bool",
    "require_callable",
    "require_commands",
    "require_concrete_env",
    "require_cron",
    "require_duration",
    "require_email",
    "require_enum",
    "require_existing_path",
    "require_iam_role_name",
    "require_instance",
    "require_int",
    "require_interface",
    "require_kwargs",
    "require_lambda_environment",
    "require_lambda_timeout",
    "require_mapping",
    "require_one_of",
    "require_organization_id",
    "require_pipeline_name",
    "require_region",
    "require_relative_path",
    "require_sequence",
    "require_ssm_parameter_name",
    "require_stack_env",
    "require_stack_name",
    "require_str",
    "require_unique",
    "shell_quote",
    "wrong_type",
]

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)

#: 12 ASCII digits.
ACCOUNT_PATTERN = re.compile(r"[0-9]{12}")
#: CodePipeline pipeline names: ``[A-Za-z0-9.@_-]``, 1-100 characters.
PIPELINE_NAME_PATTERN = re.compile(r"[A-Za-z0-9.@_-]{1,100}")
#: CodePipeline action names (and stage names): the same rule as pipeline names.
ACTION_NAME_PATTERN = PIPELINE_NAME_PATTERN
#: CloudFormation stack names: a letter, then letters, digits or ``-``; at most 128 characters.
STACK_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
#: IAM role names.
IAM_ROLE_NAME_PATTERN = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")
#: AWS Organizations organization ids.
ORGANIZATION_ID_PATTERN = re.compile(r"o-[a-z0-9]{10,32}")
#: Lambda environment variable names (the service's pattern).
LAMBDA_ENV_KEY_PATTERN = re.compile(r"[a-zA-Z][a-zA-Z0-9_]+")
#: A pinned CDK CLI version (it lands in ``npm install -g aws-cdk@<version>``).
CDK_CLI_VERSION_PATTERN = re.compile(r"[0-9]{1,4}\.[0-9]{1,6}\.[0-9]{1,6}(-[0-9A-Za-z.]{1,40})?")
# E-mail addresses as SNS accepts them for e-mail subscriptions: an ASCII dot-atom local part,
# a host name with a letter-only top-level label.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
#: E-mail addresses (SNS e-mail subscriptions).
EMAIL_PATTERN = re.compile(rf"{_LOCAL}@({_LABEL}\.)+[A-Za-z]{{2,63}}")
_PARTITIONS = r"aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc"
#: ``arn:<partition>:<service>:<region>:<account>:<resource>`` (region and account may be empty).
ARN_PATTERN = re.compile(
    rf"arn:(?P<partition>{_PARTITIONS}):(?P<service>[a-z0-9-]{{1,64}}):(?P<region>[a-z0-9-]{{0,32}}):"
    r"(?P<account>[0-9]{12}|aws|)?:(?P<resource>[\x21-\x7e]{1,1900})"
)
#: CodePipeline's limit on a manual approval's comment (``CustomData``).
MAX_APPROVAL_COMMENT = 1000
#: Lambda's limit on a function timeout.
MAX_LAMBDA_TIMEOUT_SECONDS = 900
#: Lambda's limit on the total size of a function's environment variables (keys and values).
MAX_LAMBDA_ENVIRONMENT_BYTES = 4096
#: Environment variables the Lambda service sets itself; a function configuration cannot set them.
RESERVED_LAMBDA_ENVIRONMENT = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
    }
)
_MAX_SHOWN = 160
# Characters of a path that reaches a shell command: what repositories use (spaces included; the
# path is quoted), none of the shell's metacharacters, quotes, globs or control characters.
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9 _.@+=,%~#-]{1,255}")


class InvalidPropTypeError(TypeError, ValueError):
    """A prop of the wrong type: a ``TypeError`` that is also a ``ValueError`` (catch either)."""


def _shown(value: Any) -> str:
    text = repr(value)
    if len(text) > _MAX_SHOWN:
        size = f"{len(value)} characters" if isinstance(value, str) else type(value).__name__
        text = f"{text[:_MAX_SHOWN]}... ({size})"
    return text


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def invalid(where: str, prop: str, value: Any, allowed: str) -> ValueError:
    """Build the library's standard ``ValueError``.

    :param where: the construct path (or value-object name) that owns the prop.
    :param prop: the prop name, as the user wrote it (``targets[1].account``).
    :param value: the rejected value (shown with ``repr``, long values shortened).
    :param allowed: what would have been accepted.
    """
    return ValueError(f"{_prefix(where)}{prop} = {_shown(value)} is invalid: {allowed}")


def wrong_type(where: str, prop: str, value: Any, allowed: str) -> InvalidPropTypeError:
    """Like :func:`invalid`, for a value of the wrong type (names the type that was given)."""
    return InvalidPropTypeError(
        f"{_prefix(where)}{prop} = {_shown(value)} is invalid: {allowed} (got {type(value).__name__})"
    )


def is_token(value: object) -> bool:
    """Whether ``value`` is an unresolved CDK token (validated later by CloudFormation)."""
    if isinstance(value, str):
        return "Token[" in value and Token.is_unresolved(value)
    if isinstance(value, float):
        return Token.is_unresolved(value)
    return False


def matches(pattern: re.Pattern[str], value: object) -> bool:
    """Whether ``value`` is a ``str`` that ``pattern`` matches entirely."""
    return isinstance(value, str) and pattern.fullmatch(value) is not None


# --------------------------------------------------------------------------- basic types


def require_str(
    where: str,
    prop: str,
    value: Any,
    *,
    allowed: str = "expected a string",
    pattern: re.Pattern[str] | None = None,
    min_length: int = 1,
    max_length: int | None = None,
    single_line: bool = True,
    tokens: bool = False,
) -> str:
    """Accept a ``str`` (1 character or more by default) that ``pattern`` matches entirely.

    :param single_line: reject line breaks and other control characters. Default: ``True``.
    :param tokens: accept an unresolved CDK token as it is. Default: ``False``.
    """
    if not isinstance(value, str):
        raise wrong_type(where, prop, value, allowed)
    if tokens and is_token(value):
        return value
    bad_control = any(ord(c) < 32 or ord(c) == 127 for c in value) if single_line else "\x00" in value
    too_long = max_length is not None and len(value) > max_length
    if len(value) < min_length or too_long or bad_control or (pattern is not None and not pattern.fullmatch(value)):
        shown = f"{min_length}-{max_length} characters"
        limits = f" ({shown})" if max_length is not None and shown not in allowed else ""
        line = ", on one line" if single_line else ""
        raise invalid(where, prop, value, f"{allowed}{limits}{line}")
    return value


def require_bool(where: str, prop: str, value: Any) -> bool:
    """Accept ``True`` or ``False`` only (not ``1``, not ``"yes"``)."""
    if not isinstance(value, bool):
        raise wrong_type(where, prop, value, "expected True or False")
    return value


def require_int(where: str, prop: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Accept an ``int`` (not a ``bool``) from ``minimum`` to ``maximum``."""
    if minimum is not None and maximum is not None:
        allowed = f"expected an integer from {minimum} to {maximum}"
    elif minimum is not None:
        allowed = f"expected an integer of at least {minimum}"
    else:
        allowed = "expected an integer" + (f" of at most {maximum}" if maximum is not None else "")
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(where, prop, value, allowed)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise invalid(where, prop, value, allowed)
    return value


def require_instance(where: str, prop: str, value: Any, kind: type[T] | tuple[type, ...], allowed: str) -> T:
    """Accept an instance of ``kind`` (``allowed`` says what that is, e.g. ``"expected a GlueEtlSpec"``)."""
    if not isinstance(value, kind):
        raise wrong_type(where, prop, value, allowed)
    return value  # type: ignore[return-value]


def require_interface(where: str, prop: str, value: Any, attribute: str, allowed: str) -> Any:
    """Accept an object with ``attribute`` (how a jsii interface such as ``IFileSetProducer`` is recognised)."""
    if value is None or isinstance(value, (str, bytes, int, float, Mapping)) or not hasattr(value, attribute):
        raise wrong_type(where, prop, value, allowed)
    return value


def require_enum(where: str, prop: str, value: Any, kind: type[E]) -> E:
    """Accept a member of the enum ``kind`` (jsii enums are Python enums)."""
    if not isinstance(value, kind):
        members = ", ".join(f"{kind.__name__}.{m.name}" for m in kind)
        raise wrong_type(where, prop, value, f"expected one of {members}")
    return value


def require_callable(where: str, prop: str, value: Any, allowed: str) -> Callable[..., Any]:
    """Accept a callable (a function, a class, a lambda)."""
    if not callable(value):
        raise wrong_type(where, prop, value, allowed)
    return value  # type: ignore[no-any-return]


def require_duration(
    where: str,
    prop: str,
    value: Any,
    *,
    minimum_seconds: float | None = None,
    maximum_seconds: float | None = None,
    whole: str | None = None,
) -> Duration:
    """Accept an ``aws_cdk.Duration`` in ``[minimum_seconds, maximum_seconds]`` (tokens as they are).

    :param whole: a unit (``"seconds"``, ``"minutes"``) the duration must be a whole number of.
    """
    bounds = []
    if minimum_seconds is not None:
        bounds.append(f"at least {_human(minimum_seconds)}")
    if maximum_seconds is not None:
        bounds.append(f"at most {_human(maximum_seconds)}")
    limits = " and ".join(bounds) + (f", in whole {whole}" if whole else "")
    if not isinstance(value, Duration):
        raise wrong_type(where, prop, value, "expected an aws_cdk.Duration" + (f" of {limits}" if limits else ""))
    if is_token(value.to_string()):
        return value
    seconds = value.to_milliseconds(integral=False) / 1000
    unit = {"seconds": 1, "minutes": 60, "hours": 3600}.get(whole or "")
    if (
        (minimum_seconds is not None and seconds < minimum_seconds)
        or (maximum_seconds is not None and seconds > maximum_seconds)
        or (unit is not None and not math.isclose(seconds / unit, round(seconds / unit)))
    ):
        raise invalid(where, prop, value.to_human_string(), f"expected {limits}")
    return value


def _human(seconds: float) -> str:
    for unit, size in (("hours", 3600), ("minutes", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit[:-1] if count == 1 else unit}"
    count_s = int(seconds) if float(seconds).is_integer() else seconds
    return f"{count_s} second{'' if count_s == 1 else 's'}"


# --------------------------------------------------------------------------- collections


def require_sequence(
    where: str,
    prop: str,
    value: Any,
    *,
    item: Callable[[str, str, Any], Any] | None = None,
    allowed: str = "expected a list",
    min_length: int = 0,
    max_length: int | None = None,
) -> tuple[Any, ...]:
    """Accept a list or tuple (never a bare ``str``); check each item with ``item(where, f"{prop}[i]", v)``.

    :returns: the items (as ``item`` returned them) as a tuple.
    """
    if isinstance(value, (str, bytes, bytearray)):
        raise wrong_type(where, prop, value, f"{allowed}, not a single string (write [{value!r}])")
    if isinstance(value, Mapping) or not isinstance(value, Sequence):
        raise wrong_type(where, prop, value, allowed)
    if len(value) < min_length:
        count = "one item" if min_length == 1 else f"{min_length} items"
        raise invalid(where, prop, list(value), f"{allowed}, with at least {count}")
    if max_length is not None and len(value) > max_length:
        raise invalid(
            where,
            prop,
            f"<{len(value)} items>",
            f"expected at most {max_length} items ({allowed.removeprefix('expected ')})",
        )
    if item is None:
        return tuple(value)
    return tuple(item(where, f"{prop}[{i}]", v) for i, v in enumerate(value))


def require_mapping(
    where: str,
    prop: str,
    value: Any,
    *,
    key: Callable[[str, str, Any], Any] | None = None,
    item: Callable[[str, str, Any], Any] | None = None,
    allowed: str = "expected a mapping (dict)",
) -> dict[Any, Any]:
    """Accept a mapping; check each key with ``key(where, prop, k)`` and value with ``item(where, f"{prop}[k]", v)``."""
    if not isinstance(value, Mapping):
        raise wrong_type(where, prop, value, allowed)
    out: dict[Any, Any] = {}
    for k, v in value.items():
        checked = key(where, f"{prop} key", k) if key is not None else k
        out[checked] = item(where, f"{prop}[{k!r}]", v) if item is not None else v
    return out


def require_commands(
    where: str, prop: str, value: Any, *, min_length: int = 1, allowed: str = "expected a list of shell commands"
) -> tuple[str, ...]:
    """Accept a list of shell commands: non-empty strings without NUL (never one bare string)."""

    def command(w: str, p: str, c: Any) -> str:
        text = require_str(w, p, c, allowed="expected a non-empty shell command", single_line=False)
        if not text.strip():
            raise invalid(w, p, c, "expected a non-empty shell command")
        return text

    return require_sequence(where, prop, value, item=command, allowed=allowed, min_length=min_length)


def require_kwargs(
    where: str,
    prop: str,
    value: Any,
    allowed: Iterable[str],
    *,
    reserved: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Accept a mapping of keyword arguments: ``str`` keys from ``allowed``, none of ``reserved``.

    :param reserved: keys the construct sets itself -> the prop to use instead.
    """
    names = sorted(allowed)
    options = require_mapping(where, prop, value, allowed="expected a mapping of keyword arguments")
    for key in options:
        if not isinstance(key, str):
            raise wrong_type(where, f"{prop} key", key, "expected keyword names (str)")
        if reserved and key in reserved:
            raise invalid(where, f"{prop}[{key!r}]", options[key], f"{reserved[key]} (the construct sets it)")
        if key not in names:
            raise invalid(
                where, f"{prop}[{key!r}]", options[key], "unknown option; expected one of " + ", ".join(names)
            )
    return options


def require_unique(where: str, prop: str, values: Iterable[str]) -> None:
    """Raise if ``values`` holds a duplicate (case-insensitive, as stage names are)."""
    seen: dict[str, str] = {}
    for value in values:
        key = value.lower()
        if key in seen:
            raise invalid(where, prop, value, f"names must be unique (case-insensitive); {seen[key]!r} already used")
        seen[key] = value


def require_one_of(where: str, prop: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Accept ``value`` only if it is in ``allowed``."""
    options = list(allowed)
    try:
        ok = value in options
    except TypeError:  # unhashable or incomparable
        ok = False
    if not ok:
        raise invalid(where, prop, value, "expected one of " + ", ".join(repr(o) for o in options))
    return value


# --------------------------------------------------------------------------- AWS value objects


@functools.cache
def known_regions() -> frozenset[str]:
    """The AWS regions the installed aws-cdk-lib knows (one jsii call, cached)."""
    return frozenset(r.name for r in RegionInfo.regions)


def require_account(where: str, prop: str, value: Any) -> str:
    """Accept 12 ASCII digits (or a token); raise :func:`invalid` otherwise."""
    allowed = "expected a 12-digit AWS account id, e.g. '111111111111'"
    require_str(where, prop, value, allowed=allowed, min_length=0)
    if not (ACCOUNT_PATTERN.fullmatch(value) or is_token(value)):
        raise invalid(where, prop, value, allowed)
    return str(value)


def require_region(where: str, prop: str, value: Any) -> str:
    """Accept a region aws-cdk-lib knows (or a token); raise :func:`invalid` otherwise."""
    allowed = "expected an AWS region such as 'us-east-1' (one of the regions aws-cdk-lib knows)"
    require_str(where, prop, value, allowed=allowed, min_length=0)
    if not (value in known_regions() or is_token(value)):
        raise invalid(where, prop, value, allowed)
    return str(value)


def require_pipeline_name(where: str, prop: str, value: Any) -> str | None:
    """Accept ``None`` or a name matching CodePipeline's rule ``[A-Za-z0-9.@_-]{1,100}``."""
    if value is None or is_token(value):
        return value  # type: ignore[no-any-return]
    return require_str(
        where,
        prop,
        value,
        pattern=PIPELINE_NAME_PATTERN,
        allowed="expected 1-100 characters from A-Z, a-z, 0-9, '.', '@', '-', '_'",
    )


def require_action_name(where: str, prop: str, value: Any) -> str:
    """Accept a CodePipeline action (or stage) name: ``[A-Za-z0-9.@_-]{1,100}``."""
    return require_str(
        where,
        prop,
        value,
        pattern=ACTION_NAME_PATTERN,
        allowed="expected a CodePipeline action name: 1-100 characters from A-Z, a-z, 0-9, '.', '@', '-', '_'",
    )


def require_stack_name(where: str, prop: str, value: Any) -> str:
    """Accept a CloudFormation stack name (a letter, then letters, digits or ``-``; at most 128)."""
    return require_str(
        where,
        prop,
        value,
        pattern=STACK_NAME_PATTERN,
        allowed="expected a stack name: a letter, then letters, digits or '-' (at most 128 characters)",
    )


def require_iam_role_name(where: str, prop: str, value: Any) -> str:
    """Accept an IAM role name (1-64 characters ``[A-Za-z0-9+=,.@_-]``)."""
    return require_str(
        where,
        prop,
        value,
        pattern=IAM_ROLE_NAME_PATTERN,
        allowed="expected an IAM role name: 1-64 characters from A-Z, a-z, 0-9, '+=,.@_-'",
        tokens=True,
    )


def require_email(where: str, prop: str, value: Any) -> str:
    """Accept an e-mail address as SNS e-mail subscriptions take it (ASCII, at most 254 characters)."""
    allowed = "expected an e-mail address such as 'team@example.com'"
    require_str(where, prop, value, allowed=allowed)
    local = value.partition("@")[0]
    if len(value) > 254 or len(local) > 64 or not EMAIL_PATTERN.fullmatch(value):
        raise invalid(where, prop, value, allowed)
    return str(value)


def require_organization_id(where: str, prop: str, value: Any) -> str:
    """Accept an AWS Organizations id: ``o-`` and 10-32 lower-case letters or digits."""
    return require_str(
        where,
        prop,
        value,
        pattern=ORGANIZATION_ID_PATTERN,
        allowed="expected an AWS Organizations id such as 'o-a1b2c3d4e5' ('o-' and 10-32 of a-z, 0-9)",
    )


def require_arn(
    where: str,
    prop: str,
    value: Any,
    *,
    services: Iterable[str] | None = None,
    resource: re.Pattern[str] | None = None,
    region_required: bool = True,
    account_required: bool = True,
    example: str = "arn:aws:<service>:<region>:<account>:<resource>",
    allowed: str | None = None,
) -> str:
    """Accept an ARN (or a token): ``arn:<partition>:<service>:<region>:<account>:<resource>``.

    :param services: allowed service names. Default: any.
    :param resource: pattern the resource part must match entirely. Default: any printable ASCII.
    :param allowed: the message's "expected ..." part. Default: names ``example``.
    """
    allowed = allowed or f"expected an ARN such as {example!r}"
    require_str(where, prop, value, allowed=allowed, tokens=True)
    if is_token(value):
        return str(value)
    m = ARN_PATTERN.fullmatch(value)
    wanted = set(services) if services is not None else None
    if (
        m is None
        or (wanted is not None and m["service"] not in wanted)
        or (region_required and m["region"] not in known_regions())
        or (m["region"] and m["region"] not in known_regions())
        or (account_required and not ACCOUNT_PATTERN.fullmatch(m["account"] or ""))
        or (resource is not None and not resource.fullmatch(m["resource"]))
    ):
        raise invalid(where, prop, value, allowed)
    return str(value)


def require_approval_comment(where: str, prop: str, value: Any) -> str | None:
    """Accept ``None`` or the comment of a manual approval (1-1000 characters, CodePipeline's limit)."""
    if value is None:
        return None
    return require_str(
        where,
        prop,
        value,
        allowed="expected the text shown to the approver",
        max_length=MAX_APPROVAL_COMMENT,
        single_line=False,
        tokens=True,
    )


def require_lambda_timeout(where: str, prop: str, value: Any) -> Duration:
    """Accept a Lambda function timeout: 1 second to 15 minutes, in whole seconds."""
    return require_duration(
        where, prop, value, minimum_seconds=1, maximum_seconds=MAX_LAMBDA_TIMEOUT_SECONDS, whole="seconds"
    )


def require_lambda_environment(where: str, prop: str, value: Any) -> dict[str, str]:
    """Accept Lambda environment variables: keys ``[a-zA-Z][a-zA-Z0-9_]+`` (not reserved), ``str`` values, 4 KB."""

    def key(w: str, p: str, k: Any) -> str:
        require_str(
            w, p, k, pattern=LAMBDA_ENV_KEY_PATTERN, allowed="expected a variable name matching [a-zA-Z][a-zA-Z0-9_]+"
        )
        if k in RESERVED_LAMBDA_ENVIRONMENT:
            raise invalid(w, p, k, "reserved: the Lambda service sets this variable itself")
        return str(k)

    def item(w: str, p: str, v: Any) -> str:
        return require_str(w, p, v, allowed="expected a string value", min_length=0, single_line=False, tokens=True)

    environment = require_mapping(where, prop, value, key=key, item=item, allowed="expected a mapping of str to str")
    size = sum(len(k.encode()) + len(v.encode()) for k, v in environment.items() if not is_token(v))
    if size > MAX_LAMBDA_ENVIRONMENT_BYTES:
        raise invalid(
            where, prop, f"<{len(environment)} variables, {size} bytes>", "expected at most 4 KB of keys and values"
        )
    return environment


def require_ssm_parameter_name(where: str, prop: str, value: Any, *, arn_prefixes: Iterable[str] = ()) -> str:
    """Accept an SSM parameter path: ``/a/b``, ``[a-zA-Z0-9_.-]`` segments, at most 15 levels.

    Not under the reserved ``aws``/``ssm`` prefixes (any case), at most 2048 characters, and, for each
    of ``arn_prefixes`` (``arn:aws:ssm:<region>:<account>:parameter``), an ARN of at most 1011 characters.
    """
    allowed = "expected an SSM parameter path such as '/team/app/value' (segments of a-z, A-Z, 0-9, '_', '.', '-')"
    require_str(where, prop, value, allowed=allowed, max_length=2048)
    segments = value.split("/")
    if (
        segments[0] != ""
        or len(segments) < 2
        or len(segments) > 16
        or not all(re.fullmatch(r"[a-zA-Z0-9_.-]+", s) for s in segments[1:])
    ):
        raise invalid(where, prop, value, allowed + ", at most 15 levels")
    if segments[1].lower().startswith(("aws", "ssm")):
        raise invalid(where, prop, value, "parameter names may not begin with 'aws' or 'ssm' (any case): reserved")
    longest = max((len(p) for p in arn_prefixes), default=0)
    if longest + len(value) > 1011:
        raise invalid(where, prop, value, "too long: a parameter's ARN may have at most 1011 characters")
    return str(value)


# --------------------------------------------------------------------------- cron


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# name, low, high, symbolic names (1-based)
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minutes", 0, 59, ()),
    ("hours", 0, 23, ()),
    ("day-of-month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, ()),
)
_CRON = re.compile(r"cron\(([^ ()]+( [^ ()]+)*)\)")


def _cron_value(text: str, low: int, high: int, names: tuple[str, ...]) -> int | None:
    if re.fullmatch(r"[0-9]{1,4}", text):
        number = int(text)
        return number if low <= number <= high else None
    if text.upper() in names:
        return names.index(text.upper()) + 1
    return None


def _cron_item(field: int, text: str) -> bool:
    _, low, high, names = _CRON_FIELDS[field]
    if field == 2 and (text in ("L", "LW") or (re.fullmatch(r"(L-)?[0-9]{1,2}W?", text) and _dom_special(text))):
        return True
    if field == 4:
        m = re.fullmatch(r"([0-9A-Za-z]{1,3})(L|#[1-5])", text)
        if text == "L" or (m is not None and _cron_value(m[1], low, high, names) is not None):
            return True
    base, slash, step = text.partition("/")
    if slash and not (re.fullmatch(r"[0-9]{1,4}", step) and 1 <= int(step) <= high):
        return False
    if base == "*":
        return True
    start, dash, end = base.partition("-")
    if _cron_value(start, low, high, names) is None:
        return False
    return not dash or _cron_value(end, low, high, names) is not None


def _dom_special(text: str) -> bool:
    """``L-3`` (third-last day), ``15W`` (weekday nearest the 15th): the number must be a day."""
    digits = re.sub(r"[^0-9]", "", text)
    if text.startswith("L-"):
        return not text.endswith("W") and 1 <= int(digits) <= 30
    return text.endswith("W") and 1 <= int(digits) <= 31


def parse_cron(expression: str) -> tuple[str, ...] | str:
    """The six fields of an AWS ``cron(...)`` expression, or a sentence saying what is wrong.

    Fields: minutes 0-59, hours 0-23, day-of-month 1-31 (``L``, ``W``), month 1-12 or JAN-DEC,
    day-of-week 1-7 or SUN-SAT (``L``, ``#``), year 1970-2199; lists (``,``), ranges (``-``),
    increments (``/``) and ``*``; exactly one of day-of-month and day-of-week is ``?``.
    """
    m = _CRON.fullmatch(expression)
    if m is None:
        return "expected 'cron(' six fields separated by single spaces ')'"
    fields = tuple(m[1].split(" "))
    if len(fields) != 6:
        return f"expected six fields (minutes hours day-of-month month day-of-week year), got {len(fields)}"
    for i, text in enumerate(fields):
        name, low, high, _ = _CRON_FIELDS[i]
        if text == "?":
            if i not in (2, 4):
                return f"'?' is allowed only in day-of-month or day-of-week, not in {name}"
            continue
        if not all(item and _cron_item(i, item) for item in text.split(",")):
            return f"{name} field {text!r} is invalid: expected values from {low} to {high}, '*', ',', '-', '/'"
    if (fields[2] == "?") == (fields[4] == "?"):
        return "exactly one of day-of-month and day-of-week must be '?'"
    return fields


def require_cron(
    where: str, prop: str, value: Any, *, allowed: str = "expected an AWS cron expression like 'cron(0 10 1 * ? *)'"
) -> str:
    """Accept an AWS 6-field cron expression, e.g. ``cron(0 10 1 * ? *)`` (see :func:`parse_cron`)."""
    require_str(where, prop, value, allowed=allowed)
    parsed = parse_cron(value)
    if isinstance(parsed, str):
        raise invalid(where, prop, value, f"{allowed}: {parsed}")
    return str(value)


# --------------------------------------------------------------------------- paths and shell


def require_relative_path(where: str, prop: str, value: Any, *, allow_root: bool = True) -> str:
    """Accept a path inside the repository that may reach a shell command; return it normalized.

    Relative, ``/``-separated, no ``..``; each segment of letters, digits, spaces and
    ``_.@+=,%~#-`` (no shell metacharacters, quotes, globs or control characters).
    Interpolate it with :func:`shell_quote`.

    :param allow_root: accept ``"."`` (the repository root). Default: ``True``.
    """
    allowed = (
        "expected a path relative to the repository root: '/'-separated segments of letters, digits, "
        "spaces and '_.@+=,%~#-', no '..', no leading '/'"
    )
    require_str(where, prop, value, allowed=allowed, max_length=1024)
    stripped = value.rstrip("/")
    segments = stripped.split("/") if stripped else []
    if (
        not segments
        or value.startswith("/")
        or ".." in segments
        or not all(s == "." or (_PATH_SEGMENT.fullmatch(s) and s.strip() == s) for s in segments)
    ):
        raise invalid(where, prop, value, allowed)
    normalized = posixpath.normpath(str(stripped))
    if normalized == "." and not allow_root:
        raise invalid(where, prop, value, "expected a sub-directory, not the repository root")
    return normalized


def shell_quote(value: str) -> str:
    """``value`` quoted for a POSIX shell (``shlex.quote``)."""
    return shlex.quote(value)


def repository_roots(app_dir: str, *anchors: Path) -> list[Path]:
    """Where a repository's root can be, seen from a CDK app running in it.

    The app directory is the working directory (how the CDK CLI runs an app) or a parent of an
    ``anchor`` the app names (a project or scripts directory); the root is ``app_dir``'s depth above it.
    """
    depth = 0 if app_dir == "." else len(app_dir.split("/"))
    apps = [Path.cwd()]
    for anchor in anchors:
        resolved = anchor.resolve()
        apps += [resolved, *resolved.parents]
    roots = [app.parents[depth - 1] if depth else app for app in apps if len(app.parents) >= depth]
    return list(dict.fromkeys(roots))


def require_existing_path(where: str, prop: str, value: str, roots: Iterable[Path], *, what: str) -> Path:
    """Accept a relative ``value`` that exists under one of ``roots``; the message lists where it looked."""
    searched: list[str] = []
    for root in roots:
        candidate = root / value
        if candidate.exists():
            return candidate
        searched.append(str(candidate))
    unique = list(dict.fromkeys(searched))
    raise invalid(where, prop, value, f"expected an existing {what}; looked for {', '.join(unique)}")


# --------------------------------------------------------------------------- stacks


def require_stack_env(where: str, scope: IConstruct) -> Stack:
    """Check the ``env`` of the stack holding ``scope`` (where it is concrete) and return the stack."""
    stack = Stack.of(scope)
    account, region = stack.account, stack.region
    if not is_token(account) and not ACCOUNT_PATTERN.fullmatch(account):
        raise invalid(
            where,
            f"env.account of stack {stack.node.path!r}",
            account,
            "expected a 12-digit AWS account id, e.g. '111111111111'",
        )
    if not is_token(region) and region not in known_regions():
        raise invalid(
            where,
            f"env.region of stack {stack.node.path!r}",
            region,
            "expected an AWS region such as 'us-east-1' (one of the regions aws-cdk-lib knows)",
        )
    return stack


def child_path(scope: IConstruct, id: str) -> str:
    """The path a construct ``id`` will have under ``scope`` (for messages raised before it exists)."""
    return f"{scope.node.path}/{id}" if scope.node.path else id


def require_concrete_env(where: str, stack: Stack, why: str) -> None:
    """Require ``stack`` to have an explicit account and region (``env=``), saying ``why`` the construct needs it."""
    if is_token(stack.account) or is_token(stack.region):
        raise invalid(
            where,
            "scope",
            stack.stack_name,
            f"expected a stack with an explicit env (account and region): {why}",
        )
