"""The checks of :class:`~pipeline_constructs.kda_app.KdaAppPipeline`'s construct-specific props."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk

from pipeline_constructs.core.targets import DeploymentTarget
from pipeline_constructs.core.validation import (
    require_bool,
    require_callable,
    require_duration,
    require_instance,
    require_pipeline_name,
    require_str,
)
from pipeline_constructs.kda_app.application_stack import RELEASE_PREFIX_PATTERN, KdaApplicationStack, check_stream
from pipeline_constructs.kda_app.code import FlinkCode
from pipeline_constructs.kda_app.flink import FlinkSettings
from pipeline_constructs.kda_app.names import APPLICATION_NAME_PATTERN
from pipeline_constructs.kda_app.sources import ApplicationBuild, ApplicationSource
from pipeline_constructs.kda_app.update import DEFAULT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS

__all__ = ["StackExtension", "check_props"]

#: ``(stack, target) -> None``: add resources to a target's application stack before it is deployed.
StackExtension = Callable[[KdaApplicationStack, DeploymentTarget], None]


def check_props(
    where: str,
    *,
    application_name: Any,
    application_source: Any,
    build: Any,
    flink: Any,
    initial_code: Any,
    stream_shard_count: Any,
    stream_retention: Any,
    update_timeout: Any,
    start_application: Any,
    release_prefix: Any,
    pipeline_name: Any,
    application_pipeline_name: Any,
    extend_stack: Any,
) -> tuple[ApplicationBuild, FlinkSettings, int]:
    """Check the props; return the build, the Flink settings (defaults applied) and the update timeout (s).

    :raises ValueError: or ``TypeError``, naming ``where``, the prop, the bad value and what is allowed.
    """
    require_str(
        where,
        "application_name",
        application_name,
        pattern=APPLICATION_NAME_PATTERN,
        allowed="expected lowercase letters, digits and '-', starting with a letter (2-40 characters)",
    )
    require_instance(
        where,
        "application_source",
        application_source,
        ApplicationSource,
        "expected an ApplicationSource, e.g. ApplicationSource.connection('org/repo', 'main', ...)",
    )
    build = build if build is not None else ApplicationBuild.maven()
    require_instance(
        where,
        "build",
        build,
        ApplicationBuild,
        "expected ApplicationBuild.maven(...) or ApplicationBuild.python_zip(...)",
    )
    flink = flink if flink is not None else FlinkSettings()
    require_instance(where, "flink", flink, FlinkSettings, "expected a FlinkSettings")
    if initial_code is not None:
        require_instance(
            where, "initial_code", initial_code, FlinkCode, "expected a FlinkCode, e.g. FlinkCode.from_asset(...)"
        )
    check_stream(where, stream_shard_count, stream_retention)
    if update_timeout is not None:
        require_duration(
            where,
            "update_timeout",
            update_timeout,
            minimum_seconds=60,
            maximum_seconds=MAX_TIMEOUT_SECONDS,
            whole="seconds",
        )
    timeout = int((update_timeout or cdk.Duration.seconds(DEFAULT_TIMEOUT_SECONDS)).to_seconds())
    require_bool(where, "start_application", start_application)
    require_str(
        where,
        "release_prefix",
        release_prefix,
        pattern=RELEASE_PREFIX_PATTERN,
        allowed="expected a relative key prefix ending in '/', such as 'builds/' (no leading '/')",
    )
    require_pipeline_name(where, "pipeline_name", pipeline_name)
    require_pipeline_name(where, "application_pipeline_name", application_pipeline_name)
    if extend_stack is not None:
        require_callable(where, "extend_stack", extend_stack, "expected a (stack, target) -> None callable")
    return build, flink, timeout
