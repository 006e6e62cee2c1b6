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

The validators of AWS names and formats (accounts, regions, resource names, ARNs, Lambda, SSM, cron,
stack environments, durations) live in :mod:`.validation_aws` and are importable from here too.
"""

from __future__ import annotations

import enum
import posixpath
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aws_cdk import Token
from constructs import IConstruct

from pipeline_constructs.core.private.cron import parse_cron

__all__ = [
    "InvalidPropTypeError",
    "child_path",
    "invalid",
    "is_token",
    "matches",
    "parse_cron",
    "repository_roots",
    "require_bool",
    "require_callable",
    "require_commands",
    "require_enum",
    "require_existing_path",
    "require_instance",
    "require_int",
    "require_interface",
    "require_kwargs",
    "require_mapping",
    "require_one_of",
    "require_relative_path",
    "require_sequence",
    "require_str",
    "require_unique",
    "shell_quote",
    "wrong_type",
]

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)

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


def child_path(scope: IConstruct, id: str) -> str:
    """The path a construct ``id`` will have under ``scope`` (for messages raised before it exists)."""
    return f"{scope.node.path}/{id}" if scope.node.path else id


# --------------------------------------------------------------------------- AWS names and formats
# Defined in validation_aws (it builds on the validators above) and re-exported here on first use, so
# `from pipeline_constructs.core.validation import require_account` works whichever module loads first.

if TYPE_CHECKING:
    from pipeline_constructs.core.validation_aws import *  # noqa: F403


def __getattr__(name: str) -> Any:
    from pipeline_constructs.core import validation_aws

    if name in validation_aws.__all__:
        return getattr(validation_aws, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    from pipeline_constructs.core import validation_aws

    return sorted({*globals(), *validation_aws.__all__})
