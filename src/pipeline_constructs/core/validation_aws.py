"""Validators of AWS names and formats: accounts, regions, resource names, ARNs, Lambda, SSM, cron, stacks.

Part of :mod:`pipeline_constructs.core.validation` (which re-exports every name here, so constructs
import them from there); the same rules hold: full matches over ASCII, tokens where CloudFormation
resolves the value.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk.region_info import Fact
from constructs import IConstruct

from pipeline_constructs.core.private.cron import parse_cron
from pipeline_constructs.core.validation import (
    invalid,
    is_token,
    require_mapping,
    require_sequence,
    require_str,
    require_unique,
    wrong_type,
)

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
    "known_regions",
    "require_account",
    "require_action_name",
    "require_approval_comment",
    "require_arn",
    "require_concrete_env",
    "require_cron",
    "require_duration",
    "require_email",
    "require_emails",
    "require_iam_role_name",
    "require_lambda_environment",
    "require_lambda_timeout",
    "require_organization_id",
    "require_pipeline_name",
    "require_region",
    "require_ssm_parameter_name",
    "require_stack_env",
    "require_stack_name",
]

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


@functools.cache
def known_regions() -> frozenset[str]:
    """The AWS regions the installed aws-cdk-lib knows (one jsii call, cached).

    ``Fact.regions`` is what ``RegionInfo.regions`` maps to ``RegionInfo`` objects (aws-cdk-lib
    ``region-info/lib/region-info.js``): the same names, in one round trip instead of one per region.
    """
    return frozenset(Fact.regions)


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


def require_pipeline_name(where: str, prop: str, value: Any) -> str | None:
    """Accept ``None`` or a name matching CodePipeline's rule ``[A-Za-z0-9.@_-]{1,100}``."""
    if value is None or is_token(value):
        return value  # type: ignore[no-any-return]
    return _require_pipeline_name(where, prop, value)


_Validator = Callable[[str, str, Any], str]


def _named(pattern: re.Pattern[str], allowed: str, doc: str, *, tokens: bool = False) -> _Validator:
    """A validator of the names ``pattern`` matches entirely (``allowed`` says what they are)."""

    def check(where: str, prop: str, value: Any) -> str:
        return require_str(where, prop, value, pattern=pattern, allowed=allowed, tokens=tokens)

    check.__doc__ = doc
    return check


_NAME_CHARACTERS = "1-100 characters from A-Z, a-z, 0-9, '.', '@', '-', '_'"
_require_pipeline_name = _named(PIPELINE_NAME_PATTERN, f"expected {_NAME_CHARACTERS}", "A pipeline name.")
require_action_name = _named(
    ACTION_NAME_PATTERN,
    f"expected a CodePipeline action name: {_NAME_CHARACTERS}",
    "Accept a CodePipeline action (or stage) name: ``[A-Za-z0-9.@_-]{1,100}``.",
)
require_stack_name = _named(
    STACK_NAME_PATTERN,
    "expected a stack name: a letter, then letters, digits or '-' (at most 128 characters)",
    "Accept a CloudFormation stack name (a letter, then letters, digits or ``-``; at most 128).",
)
require_iam_role_name = _named(
    IAM_ROLE_NAME_PATTERN,
    "expected an IAM role name: 1-64 characters from A-Z, a-z, 0-9, '+=,.@_-'",
    "Accept an IAM role name (1-64 characters ``[A-Za-z0-9+=,.@_-]``, or a token).",
    tokens=True,
)
require_organization_id = _named(
    ORGANIZATION_ID_PATTERN,
    "expected an AWS Organizations id such as 'o-a1b2c3d4e5' ('o-' and 10-32 of a-z, 0-9)",
    "Accept an AWS Organizations id: ``o-`` and 10-32 lower-case letters or digits.",
)


def _accepting(allowed: str, ok: Callable[[str], bool], doc: str, *, min_length: int = 1) -> _Validator:
    """A validator of the strings ``ok`` accepts (``allowed`` says what they are)."""

    def check(where: str, prop: str, value: Any) -> str:
        require_str(where, prop, value, allowed=allowed, min_length=min_length)
        if not ok(value):
            raise invalid(where, prop, value, allowed)
        return str(value)

    check.__doc__ = doc
    return check


require_account = _accepting(
    "expected a 12-digit AWS account id, e.g. '111111111111'",
    lambda v: ACCOUNT_PATTERN.fullmatch(v) is not None or is_token(v),
    "Accept 12 ASCII digits (or a token); raise :func:`invalid` otherwise.",
    min_length=0,
)
require_region = _accepting(
    "expected an AWS region such as 'us-east-1' (one of the regions aws-cdk-lib knows)",
    lambda v: v in known_regions() or is_token(v),
    "Accept a region aws-cdk-lib knows (or a token); raise :func:`invalid` otherwise.",
    min_length=0,
)
require_email = _accepting(
    "expected an e-mail address such as 'team@example.com'",
    lambda v: len(v) <= 254 and len(v.partition("@")[0]) <= 64 and EMAIL_PATTERN.fullmatch(v) is not None,
    "Accept an e-mail address as SNS e-mail subscriptions take it (ASCII, at most 254 characters).",
)


def require_emails(
    where: str, prop: str, value: Any, *, allowed: str = "expected a list of e-mail addresses"
) -> tuple[str, ...]:
    """Accept a list or tuple of distinct e-mail addresses (:func:`require_email` each; duplicates, also in
    another case, refused); ``allowed`` is what the error says a non-sequence should have been.

    :returns: the addresses as a tuple.
    """
    emails: tuple[str, ...] = require_sequence(where, prop, value, item=require_email, allowed=allowed)
    require_unique(where, prop, emails)
    return emails


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
        text = require_str(w, p, v, allowed="expected a string value", min_length=0, single_line=False, tokens=True)
        try:
            text.encode()
        except UnicodeEncodeError:  # a lone surrogate: Lambda takes UTF-8 text only
            raise invalid(w, p, v, "expected text that encodes as UTF-8 (no lone surrogates)") from None
        return text

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


def require_cron(
    where: str, prop: str, value: Any, *, allowed: str = "expected an AWS cron expression like 'cron(0 10 1 * ? *)'"
) -> str:
    """Accept an AWS 6-field cron expression, e.g. ``cron(0 10 1 * ? *)`` (see :func:`parse_cron`)."""
    require_str(where, prop, value, allowed=allowed)
    parsed = parse_cron(value)
    if isinstance(parsed, str):
        raise invalid(where, prop, value, f"{allowed}: {parsed}")
    return str(value)


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


def require_concrete_env(where: str, stack: Stack, why: str) -> None:
    """Require ``stack`` to have an explicit account and region (``env=``), saying ``why`` the construct needs it."""
    if is_token(stack.account) or is_token(stack.region):
        raise invalid(
            where,
            "scope",
            stack.stack_name,
            f"expected a stack with an explicit env (account and region): {why}",
        )
