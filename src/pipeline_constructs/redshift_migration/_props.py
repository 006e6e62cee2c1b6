"""The checks of RedshiftMigrationPipeline's props: databases per target, target order, network, builds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ec2 as ec2
from aws_cdk import pipelines

from pipeline_constructs.core.targets import DeploymentTarget
from pipeline_constructs.core.validation import (
    invalid,
    is_token,
    require_duration,
    require_instance,
    require_interface,
    require_mapping,
    require_str,
)
from pipeline_constructs.redshift_migration.build import BuildSettings
from pipeline_constructs.redshift_migration.commands import MigrationCommands
from pipeline_constructs.redshift_migration.database import DatabaseEndpoint

__all__ = ["build_settings", "check_databases", "check_gates", "is_production"]

# CodeBuild: a build timeout of 5 minutes to 36 hours.
_MIN_BUILD_TIMEOUT = 5 * 60
_MAX_BUILD_TIMEOUT = 36 * 3600


def is_production(target: DeploymentTarget) -> bool:
    """The rule: a target behind a manual approval is production (migrations only); any other runs the tests."""
    return target.manual_approval


def check_databases(where: str, targets: Sequence[DeploymentTarget], databases: Any) -> dict[str, DatabaseEndpoint]:
    """Exactly one :class:`DatabaseEndpoint` per target name, each with its own secret in the target's account."""
    checked = require_mapping(
        where,
        "databases",
        databases,
        key=lambda w, p, k: require_str(w, p, k, allowed="expected a target name"),
        item=lambda w, p, v: require_instance(w, p, v, DatabaseEndpoint, "expected a DatabaseEndpoint"),
        allowed="expected a mapping of target name -> DatabaseEndpoint",
    )
    names = [t.name for t in targets]
    missing = [n for n in names if n not in checked]
    unknown = [n for n in checked if n not in names]
    if missing or unknown:
        problems = [f"no entry for {', '.join(map(repr, missing))}"] if missing else []
        problems += [f"no target named {', '.join(map(repr, unknown))}"] if unknown else []
        raise invalid(
            where,
            "databases",
            sorted(checked),
            f"expected exactly one DatabaseEndpoint per target ({', '.join(map(repr, names))}): {'; '.join(problems)}",
        )
    secrets: dict[str, str] = {}
    for target in targets:
        secret = checked[target.name].secret
        arn = secret.secret_arn
        if arn in secrets:
            raise invalid(
                where,
                f"databases[{target.name!r}].secret",
                secret.node.path,
                f"each target needs its own secret; target {secrets[arn]!r} already uses it",
            )
        secrets[arn] = target.name
        account = cdk.Arn.split(arn, cdk.ArnFormat.COLON_RESOURCE_NAME).account
        if account and not is_token(account) and account != target.account:
            raise invalid(
                where,
                f"databases[{target.name!r}].secret",
                arn,
                f"expected a secret in the target's account ({target.account}): a secret of another account "
                "names another database (import a secret of that account with Secret.from_secret_complete_arn)",
            )
    return {name: checked[name] for name in names}


def check_gates(where: str, targets: Sequence[DeploymentTarget], stage_factory: Any) -> None:
    """A test target before the first production one; a security gate only where a stage is deployed."""
    first = next((i for i, t in enumerate(targets) if is_production(t)), None)
    if first is not None and not any(not is_production(t) for t in targets[:first]):
        raise invalid(
            where,
            "targets",
            [t.name for t in targets],
            "expected a test target (manual_approval=False) before the first production target "
            "(manual_approval=True): migrations reach production only after they passed the tests",
        )
    for i, target in enumerate(targets):
        if target.security_gated and stage_factory is None:
            raise invalid(
                where,
                f"targets[{i}].security_gated",
                True,
                "a security gate checks the permission changes of a deployed stage: give stage_factory, "
                "or gate the target with manual_approval only",
            )


def build_settings(
    where: str,
    stack: cdk.Stack,
    *,
    source: pipelines.IFileSetProducer,
    commands: Any,
    vpc: Any,
    subnet_selection: Any,
    https_egress: Any,
    build_environment: Any,
    timeout: Any,
    removal_policy: cdk.RemovalPolicy,
) -> BuildSettings:
    """The checked settings every migration build shares (defaults filled in)."""
    if commands is None:
        commands = MigrationCommands.maven()
    require_instance(
        where, "commands", commands, MigrationCommands, "expected a MigrationCommands (e.g. MigrationCommands.maven())"
    )
    _check_vpc(where, stack, vpc)
    if subnet_selection is None:
        subnet_selection = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    _check_subnets(where, vpc, subnet_selection)
    if https_egress is not None:
        require_interface(where, "https_egress", https_egress, "to_egress_rule_config", "expected an ec2.IPeer")
    if timeout is not None:
        require_duration(
            where,
            "timeout",
            timeout,
            minimum_seconds=_MIN_BUILD_TIMEOUT,
            maximum_seconds=_MAX_BUILD_TIMEOUT,
            whole="minutes",
        )
    if build_environment is not None:
        require_instance(
            where, "build_environment", build_environment, codebuild.BuildEnvironment, "expected a BuildEnvironment"
        )
        if build_environment.environment_variables:
            raise invalid(
                where,
                "build_environment.environment_variables",
                sorted(build_environment.environment_variables),
                "connection variables come from each target's secret; set other variables in your commands",
            )
    return BuildSettings(
        source=source,
        commands=commands,
        vpc=vpc,
        subnet_selection=subnet_selection,
        https_egress=https_egress or ec2.Peer.any_ipv4(),
        build_environment=build_environment,
        timeout=timeout,
        removal_policy=removal_policy,
    )


def _check_vpc(where: str, stack: cdk.Stack, vpc: Any) -> None:
    allowed = "expected an ec2.IVpc (no lookups: create it or use Vpc.from_vpc_attributes)"
    require_interface(where, "vpc", vpc, "select_subnets", allowed)
    here, there = (stack.account, stack.region), (vpc.env.account, vpc.env.region)
    if not any(is_token(x) for x in (*here, *there)) and there != here:
        raise invalid(
            where,
            "vpc",
            "/".join(there),
            f"expected a VPC in the pipeline's account and region ({stack.account}/{stack.region}): "
            "CodeBuild runs the migration builds there",
        )


def _check_subnets(where: str, vpc: ec2.IVpc, selection: Any) -> None:
    require_instance(where, "subnet_selection", selection, ec2.SubnetSelection, "expected an ec2.SubnetSelection")
    # jsii takes the SubnetSelection struct's fields as keywords.
    fields = ("availability_zones", "one_per_az", "subnet_filters", "subnet_group_name", "subnet_type", "subnets")
    try:
        subnets = vpc.select_subnets(**{f: getattr(selection, f) for f in fields})
    except RuntimeError as err:  # jsii surfaces CDK's "no subnets" errors as RuntimeError
        raise invalid(where, "subnet_selection", selection, f"selects no subnets of the VPC ({err})") from None
    if subnets.has_public:
        raise invalid(
            where,
            "subnet_selection",
            selection,
            "expected private subnets: CodeBuild in a VPC gets no public IP, so public subnets have no internet",
        )
