"""The props contract every pipeline construct shares: synth, the pinned CDK CLI, pipeline options.

Every pipeline construct takes the same props for the same ideas:

* ``source``: where the CDK app comes from (a ``pipelines.IFileSetProducer``);
* ``synth`` *or* ``synth_commands`` (+ ``app_dir``): a whole synth step of your
  own, or the commands the library's synth step runs in ``app_dir``;
* ``pipeline_name`` and a typed ``pipeline_options`` (:class:`PipelineOptions`,
  the options of :class:`~pipeline_constructs.core.pipeline.SecurePipeline`);
  a key the construct sets itself fails with an error naming the prop to use;
* one pinned CDK CLI version (:data:`CDK_CLI_VERSION`), overridable per app
  with the ``pipeline-constructs:cdkCliVersion`` context key or per pipeline
  with ``pipeline_options={"cli_version": ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict, cast

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.compute import LambdaCompute
from pipeline_constructs.core.notifications import PipelineNotifications
from pipeline_constructs.core.private.defaults import (
    CDK_ASSETS_VERSION,
    CDK_CLI_VERSION,
    exact_version,
    resolve_default,
)
from pipeline_constructs.core.triggers import GitTrigger, validate_triggers
from pipeline_constructs.core.validation import (
    CDK_CLI_VERSION_PATTERN,
    invalid,
    require_bool,
    require_commands,
    require_enum,
    require_instance,
    require_interface,
    require_kwargs,
    require_relative_path,
    require_str,
    shell_quote,
)

__all__ = [
    "CDK_ASSETS_VERSION",
    "CDK_CLI_VERSION",
    "PipelineOptions",
    "cdk_cli_version",
    "check_pipeline_options",
    "default_synth_commands",
    "merge_build_environments",
    "merge_code_build_options",
    "pipeline_cli_version",
    "require_synth",
    "resolve_cdk_assets_version",
    "synth_step",
]


class PipelineOptions(TypedDict, total=False):
    """Options of the hardened pipeline every construct builds (keyword arguments of ``SecurePipeline``).

    Every key is optional; see :class:`~pipeline_constructs.core.pipeline.SecurePipeline`
    for what each does and its default. A construct rejects, with an error naming the
    prop to use instead, the keys it sets itself (always ``synth``, ``pipeline_name`` and
    ``targets``).
    """

    cross_account_keys: bool
    self_mutation: bool
    skip_unchanged_self_mutation: bool
    docker_enabled_for_synth: bool
    log_retention: logs.RetentionDays
    compute_type: codebuild.ComputeType
    code_build_defaults: pipelines.CodeBuildOptions
    synth_code_build_defaults: pipelines.CodeBuildOptions
    cli_version: str
    cdk_assets_version: str
    removal_policy: cdk.RemovalPolicy
    triggers: Sequence[GitTrigger]
    notifications: PipelineNotifications
    lambda_compute: LambdaCompute
    pipeline_props: dict[str, Any]


#: The keys of :class:`PipelineOptions`.
PIPELINE_OPTION_KEYS = frozenset(PipelineOptions.__annotations__)

#: What every construct sets itself, and the prop to use instead.
ALWAYS_RESERVED: Mapping[str, str] = {
    "synth": "use the synth prop",
    "pipeline_name": "use the pipeline_name prop",
    "targets": "use the targets prop",
}


def check_pipeline_options(
    where: str, value: Any, *, reserved: Mapping[str, str] | None = None, prop: str = "pipeline_options"
) -> PipelineOptions:
    """Check a construct's ``pipeline_options`` (:class:`PipelineOptions`).

    :param reserved: options the construct sets itself -> the prop to use instead
        (``synth``, ``pipeline_name`` and ``targets`` are always reserved).
    :raises ValueError: for a reserved key (naming the prop to use) or an unknown one
        (naming the allowed keys).
    :raises TypeError: when ``value`` is not a mapping with string keys.
    """
    blocked = {**ALWAYS_RESERVED, **(reserved or {})}
    checked = require_kwargs(where, prop, value if value is not None else {}, PIPELINE_OPTION_KEYS, reserved=blocked)
    for key, option in checked.items():
        check = _OPTION_CHECKS.get(key)
        if check is not None and option is not None:
            checked[key] = check(where, f"{prop}[{key!r}]", option)
    return cast(PipelineOptions, checked)


def _version(where: str, prop: str, value: Any) -> str:
    return require_str(
        where, prop, value, pattern=CDK_CLI_VERSION_PATTERN, allowed="expected an exact version such as '2.1148.1'"
    )


def _code_build_options(where: str, prop: str, value: Any) -> pipelines.CodeBuildOptions:
    return require_instance(where, prop, value, pipelines.CodeBuildOptions, "expected a pipelines.CodeBuildOptions")


# Each option's type, checked where the construct's props are (the error names pipeline_options['<key>']).
_OPTION_CHECKS: dict[str, Any] = {
    "cross_account_keys": require_bool,
    "self_mutation": require_bool,
    "skip_unchanged_self_mutation": require_bool,
    "docker_enabled_for_synth": require_bool,
    "log_retention": lambda w, p, v: require_enum(w, p, v, logs.RetentionDays),
    "compute_type": lambda w, p, v: require_enum(w, p, v, codebuild.ComputeType),
    "removal_policy": lambda w, p, v: require_enum(w, p, v, cdk.RemovalPolicy),
    "code_build_defaults": _code_build_options,
    "synth_code_build_defaults": _code_build_options,
    "cli_version": _version,
    "cdk_assets_version": _version,
    "triggers": validate_triggers,
    "notifications": lambda w, p, v: require_instance(
        w, p, v, PipelineNotifications, "expected a PipelineNotifications"
    ),
    "lambda_compute": lambda w, p, v: require_instance(w, p, v, LambdaCompute, "expected a LambdaCompute"),
}


def _exact(scope: Construct, prop: str, value: str) -> str:
    try:
        return exact_version(value)
    except ValueError as err:
        raise invalid(scope.node.path, prop, value, str(err)) from None


def cdk_cli_version(scope: Construct, explicit: str | None = None) -> str:
    """The exact CDK CLI version a pipeline installs: ``explicit`` > team default
    ``pipeline-constructs:cdkCliVersion`` > :data:`CDK_CLI_VERSION`.

    :raises ValueError: when the version is not exact (``2.1148.1``, not ``2`` or ``latest``).
    """
    return _exact(scope, "cli_version", resolve_default(scope, "cdkCliVersion", explicit, CDK_CLI_VERSION))


def resolve_cdk_assets_version(scope: Construct, explicit: str | None = None) -> str:
    """The exact ``cdk-assets`` version: ``explicit`` > team default ``pipeline-constructs:cdkAssetsVersion``
    > :data:`CDK_ASSETS_VERSION`."""
    return _exact(scope, "cdk_assets_version", resolve_default(scope, "cdkAssetsVersion", explicit, CDK_ASSETS_VERSION))


def pipeline_cli_version(scope: Construct, pipeline_options: object) -> str:
    """:func:`cdk_cli_version` for a construct that takes ``pipeline_options``: its ``cli_version`` if any.

    ``pipeline_options`` is read only when it is a mapping; a malformed one is reported by
    :func:`check_pipeline_options`, which names the prop.
    """
    explicit = pipeline_options.get("cli_version") if isinstance(pipeline_options, Mapping) else None
    return cdk_cli_version(scope, explicit)


def default_synth_commands(cli_version: str) -> list[str]:
    """``pip install -r requirements.txt`` and ``cdk synth`` with the pinned CLI."""
    return ["pip install -r requirements.txt", f"npx -y aws-cdk@{cli_version} synth"]


def require_synth(where: str, prop: str, value: Any) -> pipelines.IFileSetProducer:
    """Accept a synth step or source (a ``pipelines.IFileSetProducer``)."""
    return require_interface(  # type: ignore[no-any-return]
        where, prop, value, "primary_output", "expected a pipelines.IFileSetProducer such as a ShellStep"
    )


def synth_step(
    where: str,
    *,
    source: Any,
    synth: Any,
    synth_commands: Any,
    app_dir: Any,
    cli_version: str,
    install_commands: Sequence[str] = (),
    commands_before: Sequence[str] = (),
    partial_build_spec: codebuild.BuildSpec | None = None,
    role_policy_statements: Sequence[iam.PolicyStatement] = (),
    commands_after: Sequence[str] = (),
) -> pipelines.IFileSetProducer:
    """The synth step of a pipeline construct, from the shared props (checked here).

    * ``synth`` given: it is the whole synth step (``synth_commands`` and ``app_dir``
      must then be left unset: an error names them otherwise);
    * else a ``CodeBuildStep`` named ``Synth`` on ``source`` that runs ``install_commands``,
      then ``commands_before`` at the repository root (tests, for instance), then
      ``cd <app_dir>`` and ``synth_commands`` (default: :func:`default_synth_commands`
      with the pinned CLI), then ``commands_after`` (the library's pipeline change check, for
      instance); its output is ``<app_dir>/cdk.out``.

    :raises ValueError: naming the prop, for a bad ``app_dir``/``synth_commands`` or both
        ``synth`` and ``synth_commands``/``app_dir``.
    :raises TypeError: when ``source`` or ``synth`` is not a ``pipelines.IFileSetProducer``.
    """
    require_synth(where, "source", source)
    if synth is not None:
        require_synth(where, "synth", synth)
        for prop, value in (("synth_commands", synth_commands), ("app_dir", app_dir)):
            if value is not None:
                raise invalid(
                    where, prop, value, "give either synth (a whole synth step) or synth_commands/app_dir, not both"
                )
        return synth  # type: ignore[no-any-return]
    directory = require_relative_path(where, "app_dir", app_dir if app_dir is not None else ".")
    commands = [*commands_before]
    if directory != ".":
        commands.append(f"cd {shell_quote(directory)}")
    commands.extend(
        require_commands(where, "synth_commands", synth_commands)
        if synth_commands is not None
        else default_synth_commands(cli_version)
    )
    commands.extend(commands_after)
    return pipelines.CodeBuildStep(
        "Synth",
        input=source,
        install_commands=list(install_commands) or None,
        commands=commands,
        primary_output_directory=f"{directory}/cdk.out" if directory != "." else "cdk.out",
        partial_build_spec=partial_build_spec,
        role_policy_statements=list(role_policy_statements) or None,
    )


def merge_code_build_options(
    base: pipelines.CodeBuildOptions, override: pipelines.CodeBuildOptions | None
) -> pipelines.CodeBuildOptions:
    """Merge two ``CodeBuildOptions`` field by field, as CDK Pipelines merges its own defaults.

    Mirrors aws-cdk's ``mergeCodeBuildOptions``: ``build_environment`` is merged field
    by field (what ``override`` sets wins, ``environment_variables`` are merged by
    name); ``role_policy``, ``security_groups`` and ``file_system_locations`` are
    concatenated; every other field (``cache``, ``logging``, ``partial_build_spec``,
    ``subnet_selection``, ``timeout``, ``vpc``) comes from ``override`` when it sets it.
    A default of ``base`` that ``override`` does not set is never dropped.
    """
    if override is None:
        return base

    def pick(name: str) -> Any:
        value = getattr(override, name)
        return value if value is not None else getattr(base, name)

    def concat(name: str) -> list[Any] | None:
        items = [*(getattr(base, name) or ()), *(getattr(override, name) or ())]
        return items or None

    return pipelines.CodeBuildOptions(
        build_environment=merge_build_environments(base.build_environment, override.build_environment),
        role_policy=concat("role_policy"),
        security_groups=concat("security_groups"),
        file_system_locations=concat("file_system_locations"),
        cache=pick("cache"),
        logging=pick("logging"),
        partial_build_spec=pick("partial_build_spec"),
        subnet_selection=pick("subnet_selection"),
        timeout=pick("timeout"),
        vpc=pick("vpc"),
    )


_BUILD_ENVIRONMENT_FIELDS = (
    "build_image",
    "certificate",
    "compute_type",
    "docker_server",
    "fleet",
    "host_kernel",
    "privileged",
)


def merge_build_environments(
    base: codebuild.BuildEnvironment | None, override: codebuild.BuildEnvironment | None
) -> codebuild.BuildEnvironment | None:
    """Merge two ``BuildEnvironment`` objects field by field (aws-cdk's ``mergeBuildEnvironments``).

    What ``override`` sets wins; ``environment_variables`` are merged by name.
    """
    if base is None or override is None:
        return override if base is None else base
    fields: dict[str, Any] = {}
    for name in _BUILD_ENVIRONMENT_FIELDS:
        value = getattr(override, name)
        fields[name] = value if value is not None else getattr(base, name)
    variables = {**(base.environment_variables or {}), **(override.environment_variables or {})}
    return codebuild.BuildEnvironment(**fields, environment_variables=variables or None)
