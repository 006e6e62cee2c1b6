"""One target's migration build: a CodeBuild step inside the VPC, its own role, security group and report group.

Per target: a security group with egress only to the target's database port and
HTTPS (no ingress); a build role that can read only that target's secret; for a
test target, a JUnit report group; the ``CodeBuildStep`` that gets the
connection as CodeBuild ``SECRETS_MANAGER`` variables and runs the migrations
(and, on a test target, the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.options import merge_build_environments
from pipeline_constructs.core.reports import TestReportFormat, TestReports
from pipeline_constructs.core.targets import DeploymentTarget
from pipeline_constructs.redshift_migration._acknowledgments import DECRYPT_SID
from pipeline_constructs.redshift_migration.commands import (
    MigrationCommands,
    migration_build_spec,
    migration_commands,
)
from pipeline_constructs.redshift_migration.database import SECRET_ENVIRONMENT_VARIABLES, DatabaseEndpoint

__all__ = ["BuildSettings", "MigrationBuild"]


@dataclass(frozen=True)
class BuildSettings:
    """What every migration build of a pipeline shares (checked by the pipeline)."""

    source: pipelines.IFileSetProducer
    commands: MigrationCommands
    vpc: ec2.IVpc
    subnet_selection: ec2.SubnetSelection
    https_egress: ec2.IPeer
    build_environment: codebuild.BuildEnvironment | None
    timeout: cdk.Duration | None
    removal_policy: cdk.RemovalPolicy


class MigrationBuild(Construct):
    """The migration build of one target (``production``: migrations only; else migrations, then tests).

    :ivar step: the ``pipelines.CodeBuildStep`` (``MigrateAndTest`` or ``Migrate``).
    :ivar role: the build role; reads only this target's secret.
    :ivar security_group: the build's security group.
    :ivar test_reports: the JUnit report group (test targets with ``commands.reports_directory``), else ``None``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        target: DeploymentTarget,
        database: DatabaseEndpoint,
        production: bool,
        settings: BuildSettings,
    ) -> None:
        super().__init__(scope, id)
        self.security_group = _security_group(self, target.name, database, settings)
        self.role = iam.Role(
            self,
            "BuildRole",
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description=f"Migration builds of {target.name}: reads only the {target.name} connection secret",
        )
        _grant_secret(self.role, database.secret)
        commands = settings.commands
        self.test_reports: TestReports | None = None
        if not production and commands.reports_directory is not None:
            self.test_reports = TestReports(
                self,
                "TestReports",
                base_directory=commands.reports_directory,
                format=TestReportFormat.JUNIT_XML,
                files=commands.reports_files,
                removal_policy=settings.removal_policy,
            )
            for statement in self.test_reports.policy_statements():
                self.role.add_to_principal_policy(statement)

        secret_id = _secret_reference(database.secret, cdk.Stack.of(self)).build_value
        variables = {
            name: codebuild.BuildEnvironmentVariable(
                type=codebuild.BuildEnvironmentVariableType.SECRETS_MANAGER,
                value=f"{secret_id}:{getattr(database.secret_fields, attribute)}",
            )
            for name, attribute in SECRET_ENVIRONMENT_VARIABLES.items()
        }
        env = {"MIGRATION_TARGET": target.name}
        if production:
            env["FLYWAY_CLEAN_DISABLED"] = "true"
        self.step = pipelines.CodeBuildStep(
            "Migrate" if production else "MigrateAndTest",
            input=settings.source,
            install_commands=list(commands.install) or None,
            commands=migration_commands(commands, production=production),
            env=env,
            build_environment=merge_build_environments(
                settings.build_environment, codebuild.BuildEnvironment(environment_variables=variables)
            ),
            partial_build_spec=migration_build_spec(commands, self.test_reports),
            role=self.role,
            vpc=settings.vpc,
            subnet_selection=settings.subnet_selection,
            security_groups=[self.security_group],
            timeout=settings.timeout,
        )


def _security_group(
    scope: Construct, name: str, database: DatabaseEndpoint, settings: BuildSettings
) -> ec2.SecurityGroup:
    """Egress only to the database port (its security group or range) and HTTPS; no ingress."""
    group = ec2.SecurityGroup(
        scope,
        "BuildSecurityGroup",
        vpc=settings.vpc,
        allow_all_outbound=False,
        description=f"Migration builds of {name}: the database on port {database.port} and HTTPS only",
    )
    group.add_egress_rule(
        settings.https_egress,
        ec2.Port.tcp(443),
        "HTTPS: Maven repositories and the S3, Secrets Manager, CodeBuild and CloudWatch Logs APIs",
    )
    if database.security_group is not None:
        description = f"Redshift ({name}) on port {database.port}"
        if database.allow_ingress:
            group.connections.allow_to(database.security_group, database.tcp_port, description)
        else:
            group.add_egress_rule(database.security_group, database.tcp_port, description)
    else:
        assert database.peer is not None  # DatabaseEndpoint: exactly one of the two
        group.add_egress_rule(database.peer, database.tcp_port, f"Redshift ({name})")
    return group


@dataclass(frozen=True)
class _SecretReference:
    """How a build names a target's secret, and how IAM matches it."""

    build_value: str  # CodeBuild's <secret-id>: the name in the build's environment, else the ARN
    iam_arn: str  # the full ARN, or the partial ARN with Secrets Manager's 6-character suffix pattern
    exact: bool  # iam_arn is the full ARN
    account: str
    region: str


def _secret_reference(secret: secretsmanager.ISecret, stack: cdk.Stack) -> _SecretReference:
    """``secret`` as seen from the builds of ``stack`` (the pipeline's)."""
    full = secret.secret_full_arn
    arn = full or secret.secret_arn
    parts = cdk.Arn.split(arn, cdk.ArnFormat.COLON_RESOURCE_NAME)
    account = parts.account or stack.account
    region = parts.region or stack.region
    if full:
        return _SecretReference(full, full, exact=True, account=account, region=region)
    # CodeBuild resolves a bare name in the build's own account and region; elsewhere it needs the ARN.
    same_env = account == stack.account and region == stack.region
    return _SecretReference(
        secret.secret_name if same_env else arn, f"{arn}-??????", exact=False, account=account, region=region
    )


def _grant_secret(role: iam.Role, secret: secretsmanager.ISecret) -> None:
    secret.grant_read(role)
    if secret.encryption_key is not None:
        return  # grant_read granted kms:Decrypt on that key, via Secrets Manager only
    # Key unknown here (an imported secret): decrypt only through Secrets Manager, only this
    # secret's data (the encryption context names the secret), with keys of the secret's account.
    stack = cdk.Stack.of(role)
    ref = _secret_reference(secret, stack)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid=DECRYPT_SID,
            actions=["kms:Decrypt"],
            resources=[
                stack.format_arn(
                    service="kms", resource="key", resource_name="*", account=ref.account, region=ref.region
                )
            ],
            conditions={
                "StringEquals": {"kms:ViaService": f"secretsmanager.{ref.region}.amazonaws.com"},
                "StringEquals" if ref.exact else "StringLike": {"kms:EncryptionContext:SecretARN": ref.iam_arn},
            },
        )
    )
