"""Validation of the .NET Lambda props: handler, project, runtime, function options, SDK channel, test project."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from pipeline_constructs.core.validation import (
    invalid,
    repository_roots,
    require_enum,
    require_existing_path,
    require_instance,
    require_int,
    require_kwargs,
    require_lambda_environment,
    require_lambda_timeout,
    require_relative_path,
    require_str,
    wrong_type,
)

#: ``Assembly::Namespace.Class::Method`` (class-library handler string; ASCII identifiers).
DOTNET_HANDLER_PATTERN = re.compile(
    r"[A-Za-z_][A-Za-z0-9_.]*::([A-Za-z_][A-Za-z0-9_]*\.)*[A-Za-z_][A-Za-z0-9_]*::[A-Za-z_][A-Za-z0-9_]*"
)
# dotnet-install.sh channels: "10.0", "LTS", "STS" (the value reaches a shell command).
_DOTNET_CHANNEL = re.compile(r"[0-9]{1,2}\.[0-9]{1,2}|LTS|STS")


def validate_handler(where: str, handler: Any) -> str:
    """Check a .NET handler string (``Assembly::Namespace.Class::Method``, ASCII, at most 128 characters)."""
    return require_str(
        where,
        "handler",
        handler,
        pattern=DOTNET_HANDLER_PATTERN,
        max_length=128,
        allowed="expected 'Assembly::Namespace.Class::Method', e.g. 'HelloWorld::HelloWorld.Function::FunctionHandler'",
    )


def validate_project_dir(where: str, project_dir: Any) -> Path:
    """Check that the Lambda project directory exists and holds a ``.csproj``."""
    if not isinstance(project_dir, (str, Path)) or (isinstance(project_dir, str) and not project_dir.strip()):
        raise wrong_type(where, "project_dir", project_dir, "expected a directory path (str or pathlib.Path)")
    path = Path(project_dir)
    if not path.is_dir():
        raise invalid(
            where, "project_dir", str(project_dir), f"expected an existing directory (resolved: {path.resolve()})"
        )
    if not any(path.glob("*.csproj")):
        raise invalid(where, "project_dir", str(project_dir), "expected a directory holding the Lambda .csproj")
    return path


def validate_dotnet_channel(where: str, channel: Any) -> str:
    """Check a ``dotnet-install.sh`` channel (``"10.0"``, ``"LTS"``, ``"STS"``)."""
    return require_str(
        where,
        "dotnet_channel",
        channel,
        pattern=_DOTNET_CHANNEL,
        allowed="expected a .NET SDK channel such as '10.0', 'LTS' or 'STS'",
    )


def validate_test_project(where: str, test_project: Any, app_dir: Any, project: Path) -> str:
    """Check the test project: a sub-directory path that exists relative to the repository root.

    The root is the app directory, or its parent ``app_dir``'s depth up (``app_dir`` is checked here too).
    """
    directory = require_relative_path(where, "app_dir", app_dir if app_dir is not None else ".")
    checked = require_relative_path(where, "test_project", test_project, allow_root=False)
    require_existing_path(where, "test_project", checked, repository_roots(directory, project), what="test project")
    return checked


def _check_runtime(where: str, prop: str, value: Any) -> lambda_.Runtime:
    runtime = require_instance(where, prop, value, lambda_.Runtime, "expected a .NET aws_lambda.Runtime")
    if runtime.family != lambda_.RuntimeFamily.DOTNET_CORE:
        raise invalid(where, prop, runtime.name, "expected a .NET runtime such as Runtime.DOTNET_10")
    return runtime


_FUNCTION_KWARGS = frozenset(inspect.signature(lambda_.Function.__init__).parameters) - {"self", "scope", "id"}
# Props of lambda_.Function that DotnetLambdaFunction has its own prop for.
_OWN_PROPS = {
    "runtime": "use the runtime prop",
    "handler": "use the handler prop",
    "architecture": "use the architecture prop",
    "memory_size": "use the memory_size prop",
    "timeout": "use the timeout prop",
    "environment": "use the environment prop",
}
_OPTION_CHECKS: dict[str, Callable[[str, str, Any], Any]] = {
    "runtime": _check_runtime,
    "architecture": lambda w, p, v: require_instance(
        w, p, v, lambda_.Architecture, "expected Architecture.ARM_64 or Architecture.X86_64"
    ),
    "memory_size": lambda w, p, v: require_int(w, p, v, minimum=128, maximum=10240),
    "timeout": require_lambda_timeout,
    "environment": require_lambda_environment,
    "log_retention": lambda w, p, v: require_enum(w, p, v, logs.RetentionDays),
    "function_props": lambda w, p, v: require_kwargs(w, p, v, _FUNCTION_KWARGS, reserved=_OWN_PROPS),
}


def validate_function_options(where: str, prop: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Check :class:`DotnetLambdaFunction` options; ``None`` values mean "the default".

    Each prop is named ``<prop>['<option>']`` (or just the option when ``prop`` is empty).
    """
    checked = dict(options)
    for key, value in options.items():
        if value is not None and key in _OPTION_CHECKS:
            checked[key] = _OPTION_CHECKS[key](where, f"{prop}[{key!r}]" if prop else key, value)
    return checked


def check_function_options(where: str, prop: str, value: Any) -> dict[str, Any]:
    """Check a ``function_options`` mapping: :class:`DotnetLambdaFunction` keyword arguments."""
    if value is None:
        return {}
    options = require_kwargs(
        where,
        prop,
        value,
        _OPTION_CHECKS.keys(),
        reserved={"project_dir": "use the project_dir prop", "handler": "use the handler prop"},
    )
    validate_function_options(where, prop, options)
    return options
