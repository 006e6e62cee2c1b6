"""The props of MultiRegionLayerPipeline, checked: what a layer pipeline accepts, and why it refuses the rest."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_lambda as lambda_
from aws_cdk.region_info import RegionInfo

from pipeline_constructs.core.targets import (
    DeploymentTarget,
    reject_deployment_model,
    require_targets_in,
    validate_targets,
)
from pipeline_constructs.core.validation import (
    invalid,
    is_token,
    require_commands,
    require_instance,
    require_lambda_timeout,
    require_relative_path,
    require_sequence,
    require_ssm_parameter_name,
    require_str,
    wrong_type,
)
from pipeline_constructs.multi_region_layer.build import default_build_commands
from pipeline_constructs.multi_region_layer.distributor import MIN_DISTRIBUTOR_TIMEOUT
from pipeline_constructs.multi_region_layer.sharing import LayerSharing

__all__ = ["MAX_REGIONS", "MAX_RUNTIMES"]

#: CodePipeline allows 50 actions per stage; the ``Layer`` stage holds the build, one publish action per
#: target and one ``PromoteTo<target>`` approval per ``manual_approval`` target.
MAX_REGIONS = 49
#: PublishLayerVersion accepts at most this many compatible runtimes.
MAX_RUNTIMES = 15
T = TypeVar("T")

#: Layer names Lambda accepts (as a name, not an ARN).
LAYER_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


@dataclass(frozen=True)
class LayerProps:
    """The layer-specific props after checking (the shared ones go through ``core``)."""

    targets: tuple[DeploymentTarget, ...]
    runtimes: tuple[lambda_.Runtime, ...]
    architectures: tuple[lambda_.Architecture, ...]
    sharing: LayerSharing
    parameter_name: str
    build_commands: tuple[str, ...]
    output_directory: str
    build_environment: codebuild.BuildEnvironment | None
    license_info: str | None
    description: str | None
    timeout: cdk.Duration

    @property
    def regions(self) -> tuple[str, ...]:
        """The target regions, in target order."""
        return tuple(t.region for t in self.targets)


def check_layer_props(
    where: str,
    stack: cdk.Stack,
    *,
    layer_name: Any,
    compatible_runtimes: Any,
    targets: Any,
    compatible_architectures: Any,
    layer_directory: Any,
    build_commands: Any,
    output_directory: Any,
    build_environment: Any,
    sharing: Any,
    license_info: Any,
    description: Any,
    parameter_name: Any,
    distributor_timeout: Any,
) -> LayerProps:
    """Check every layer-specific prop; errors name ``where``, the prop, the value and what is allowed."""
    require_str(
        where,
        "layer_name",
        layer_name,
        pattern=LAYER_NAME,
        allowed="expected 1-64 characters from A-Z, a-z, 0-9, '_', '-'",
    )
    runtimes = _runtimes(where, compatible_runtimes)
    architectures = _architectures(where, compatible_architectures)
    checked_targets = check_targets(where, targets, stack)
    sharing = sharing if sharing is not None else LayerSharing()
    require_instance(where, "sharing", sharing, LayerSharing, "expected a LayerSharing")
    # The distributor's configuration travels as one environment variable (4 KB for all of them).
    if len(json.dumps(sharing.to_json(), separators=(",", ":"))) > 3000:
        raise invalid(
            where,
            "sharing.accounts",
            f"<{len(sharing.accounts)} accounts>",
            "too many accounts for the function's configuration; share with an organization_id instead",
        )
    if license_info is not None:
        require_str(
            where,
            "license_info",
            license_info,
            allowed="expected 1-512 characters (SPDX id, URL or text)",
            max_length=512,
            single_line=False,
        )
    if description is not None:
        require_str(where, "description", description, allowed="expected 1-256 characters", max_length=256)
    layer_directory = require_relative_path(where, "layer_directory", layer_directory)
    output_directory = require_relative_path(where, "output_directory", output_directory, allow_root=False)
    if build_environment is not None:
        require_instance(
            where,
            "build_environment",
            build_environment,
            codebuild.BuildEnvironment,
            "expected a codebuild.BuildEnvironment",
        )
    return LayerProps(
        targets=checked_targets,
        runtimes=runtimes,
        architectures=architectures,
        sharing=sharing,
        parameter_name=_parameter_name(where, parameter_name, layer_name, stack, checked_targets),
        build_commands=_build_commands(
            where, build_commands, runtimes, architectures, layer_directory, output_directory
        ),
        output_directory=output_directory,
        build_environment=build_environment,
        license_info=license_info,
        description=description,
        timeout=_timeout(where, distributor_timeout),
    )


def check_targets(where: str, targets: Any, stack: cdk.Stack) -> tuple[DeploymentTarget, ...]:
    """The targets a layer pipeline can publish to: one per region, in the pipeline's account and partition.

    * another account: the distributor publishes with its own role in the pipeline's account and
      cannot publish elsewhere; such an account reaches the layer through ``sharing`` instead;
    * ``security_gated``: a permissions-broadening check diffs a CloudFormation stage, and a layer
      publish deploys none; ``manual_approval`` (``PromoteTo<target>``) is the gate that applies;
    * the deployment model's fields (``wave``, ``deployment_window``, ``bake``, ``on_failure``,
      ``health_gate``, ``resilience_assessment``): every region publishes in the one ``Layer`` stage.
    """
    checked = validate_targets(where, targets, layout=False)
    reject_deployment_model(
        where,
        checked,
        why="a layer pipeline publishes every region in one stage and deploys no stage per target: waves, stage "
        "conditions, health gates and assessments do not apply; gate the publish with manual_approval=True",
    )
    require_targets_in(
        where,
        checked,
        account=stack.account,
        why="the distributor publishes with its own role in that account and cannot publish into another; share "
        "the layer with other accounts through sharing=LayerSharing(accounts=[...]) or organization_id",
    )
    home_partition = RegionInfo.get(stack.region).partition
    regions: dict[str, str] = {}
    for i, target in enumerate(checked):
        prop = f"targets[{i}]"
        if is_token(target.region):
            raise invalid(where, f"{prop}.region", target.region, "expected a literal region name, not a token")
        partition = RegionInfo.get(target.region).partition
        if home_partition and partition != home_partition:
            raise invalid(
                where,
                f"{prop}.region",
                target.region,
                f"expected a region of the pipeline's partition {home_partition!r} (the pipeline is in {stack.region})",
            )
        if target.region in regions:
            raise invalid(
                where,
                f"{prop}.region",
                target.region,
                f"expected one target per region: target {regions[target.region]!r} already publishes there",
            )
        regions[target.region] = target.name
        if target.security_gated:
            raise invalid(
                where,
                f"{prop}.security_gated",
                True,
                "a layer publish deploys no CloudFormation stage whose permissions could be checked; "
                "use manual_approval=True to gate the publish to this target",
            )
    actions = len(checked) + sum(t.manual_approval for t in checked)
    if actions > MAX_REGIONS:
        raise invalid(
            where,
            "targets",
            f"<{len(checked)} targets, {actions} actions>",
            f"at most {MAX_REGIONS} publish and approval actions: CodePipeline allows 50 actions per stage "
            "(the build, one publish per target, one approval per manual_approval target)",
        )
    return checked


def _by_name(where: str, prop: str, value: Any, kind: type[T], item_allowed: str, allowed: str) -> tuple[T, ...]:
    """A list of ``kind`` (``Runtime``/``Architecture``: jsii classes with a ``name``), one of each name, in order."""
    if isinstance(value, kind):
        raise wrong_type(where, prop, value, allowed)
    checked = require_sequence(
        where, prop, value, item=lambda w, p, v: require_instance(w, p, v, kind, item_allowed), allowed=allowed
    )
    out = tuple({getattr(v, "name"): v for v in checked}.values())  # noqa: B009 - jsii classes, no common base
    if not out:
        raise invalid(where, prop, [], allowed)
    return out


def _runtimes(where: str, runtimes: Any) -> tuple[lambda_.Runtime, ...]:
    allowed = "expected a non-empty list of aws_lambda.Runtime"
    out = _by_name(where, "compatible_runtimes", runtimes, lambda_.Runtime, "expected an aws_lambda.Runtime", allowed)
    if len(out) > MAX_RUNTIMES:
        raise invalid(
            where, "compatible_runtimes", len(out), f"a layer lists at most {MAX_RUNTIMES} compatible runtimes"
        )
    return out


def _architectures(where: str, architectures: Any) -> tuple[lambda_.Architecture, ...]:
    if architectures is None:
        return (lambda_.Architecture.X86_64,)
    return _by_name(
        where,
        "compatible_architectures",
        architectures,
        lambda_.Architecture,
        "expected Architecture.X86_64 or Architecture.ARM_64",
        "expected a non-empty list of aws_lambda.Architecture",
    )


def _parameter_name(
    where: str, value: Any, layer_name: str, stack: cdk.Stack, targets: Sequence[DeploymentTarget]
) -> str:
    partition = RegionInfo.get(stack.region).partition or "aws"
    arn_prefixes = [f"arn:{partition}:ssm:{t.region}:{stack.account}:parameter" for t in targets]
    if value is None:
        default = f"/lambda-layers/{layer_name}/latest-version-arn"
        try:
            return require_ssm_parameter_name(where, "parameter_name", default, arn_prefixes=arn_prefixes)
        except ValueError:
            raise invalid(
                where, "layer_name", layer_name, f"the default parameter_name {default!r} is not a valid SSM name"
            ) from None
    return require_ssm_parameter_name(where, "parameter_name", value, arn_prefixes=arn_prefixes)


def _build_commands(
    where: str,
    value: Any,
    runtimes: Sequence[lambda_.Runtime],
    architectures: Sequence[lambda_.Architecture],
    layer_directory: str,
    output_directory: str,
) -> tuple[str, ...]:
    if value is None:
        return tuple(
            default_build_commands(
                runtimes, architectures, layer_directory=layer_directory, output_directory=output_directory, where=where
            )
        )
    allowed = "expected a non-empty list of shell commands"
    if isinstance(value, Sequence) and not isinstance(value, str) and not value:
        raise invalid(where, "build_commands", [], allowed)
    return tuple(require_commands(where, "build_commands", value, allowed=allowed))


def _timeout(where: str, value: Any) -> cdk.Duration:
    timeout = require_lambda_timeout(
        where, "distributor_timeout", value if value is not None else cdk.Duration.minutes(15)
    )
    if timeout.to_seconds() < MIN_DISTRIBUTOR_TIMEOUT.to_seconds():
        raise invalid(
            where,
            "distributor_timeout",
            timeout.to_human_string(),
            f"expected at least {MIN_DISTRIBUTOR_TIMEOUT.to_human_string()}: the worst case of the distributor's "
            "retries, its watchdog margin and the time it keeps for publishing",
        )
    return timeout
