# ruff: noqa: I001  (pipeline_constructs is imported before aws_cdk on purpose: it selects Node 24)
"""Example: CI/CD for Redshift schema changes and stored procedures with Flyway (RedshiftMigrationPipeline).

The repository is this directory: the CDK app (this file), and a Maven project
(``pom.xml``) whose Flyway plugin migrates the database in ``process-resources``
(``src/main/resources/db/migration``) and whose JUnit tests (``src/test/java``)
check the stored procedure against the test database.

The pipeline (account 111111111111, eu-west-1) deploys a Redshift Serverless
workgroup per environment and migrates it: ``Test`` runs migrations and tests,
``Prod`` waits for the permissions check and a manual approval, then runs
migrations only. Both workgroups live in the pipeline's account: the migration
builds run in CodeBuild inside the VPC there, so every database they reach must
be routable from that VPC (see docs/redshift_migration.md for another account).

Synthesizes offline: ``python app.py`` (or ``cdk synth``).
"""

from __future__ import annotations

import json

import pipeline_constructs  # noqa: F401  (first: selects Node 24 for jsii before aws_cdk loads)
import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_redshiftserverless as redshiftserverless
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import pipelines
from constructs import Construct
from pipeline_constructs import DeploymentTarget, add_compliance_checks, create_app
from pipeline_constructs.core.private.encryption import new_key
from pipeline_constructs.redshift_migration import (
    DatabaseEndpoint,
    MigrationCommands,
    RedshiftMigrationPipeline,
    SecretFields,
)

ACCOUNT = "111111111111"
REGION = "eu-west-1"
ENV = cdk.Environment(account=ACCOUNT, region=REGION)
CONNECTION_ARN = f"arn:aws:codeconnections:{REGION}:{ACCOUNT}:connection/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
PORT = 5439

# The data platform's VPC, created outside this app (no lookups). Builds run in its private
# subnets (NAT for Maven Central and AWS APIs); each environment's workgroup in its own
# isolated subnet group.
BUILD_SUBNET_CIDRS = ("10.20.0.0/20", "10.20.16.0/20", "10.20.32.0/20")
DATABASE_CIDRS = {"test": "10.20.64.0/20", "prod": "10.20.80.0/20"}
VPC_ATTRIBUTES = {
    "vpc_id": "vpc-0a1b2c3d4e5f60718",
    "vpc_cidr_block": "10.20.0.0/16",
    "availability_zones": [f"{REGION}a", f"{REGION}b", f"{REGION}c"],
    "private_subnet_ids": ["subnet-0a0000000000000a1", "subnet-0a0000000000000b1", "subnet-0a0000000000000c1"],
    "private_subnet_ipv4_cidr_blocks": list(BUILD_SUBNET_CIDRS),
    "private_subnet_route_table_ids": ["rtb-0a00000000000000a", "rtb-0a00000000000000b", "rtb-0a00000000000000c"],
    "isolated_subnet_ids": [
        "subnet-0b0000000000000a1",
        "subnet-0b0000000000000b1",
        "subnet-0b0000000000000c1",
        "subnet-0c0000000000000a1",
        "subnet-0c0000000000000b1",
        "subnet-0c0000000000000c1",
    ],
    "isolated_subnet_names": ["test-db", "prod-db"],
    "isolated_subnet_ipv4_cidr_blocks": [
        "10.20.64.0/22",
        "10.20.68.0/22",
        "10.20.72.0/22",
        "10.20.80.0/22",
        "10.20.84.0/22",
        "10.20.88.0/22",
    ],
    "isolated_subnet_route_table_ids": ["rtb-0b0000000000000a", "rtb-0b0000000000000b", "rtb-0b0000000000000c"] * 2,
}


def data_platform_vpc(scope: Construct) -> ec2.IVpc:
    return ec2.Vpc.from_vpc_attributes(scope, "DataPlatformVpc", **VPC_ATTRIBUTES)


def secret_name(environment: str) -> str:
    return f"redshift-migrations/{environment}"


class WarehouseStack(cdk.Stack):
    """One environment's Redshift Serverless namespace and workgroup, and the migration user's secret.

    The secret holds host, port, dbname, username and password (Redshift's
    rotation keys); the namespace's admin password is read from it by a
    CloudFormation dynamic reference, never written into the template, and
    Secrets Manager rotates it every 30 days.
    """

    def __init__(self, scope: Construct, id: str, *, environment: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        vpc = data_platform_vpc(self)
        workgroup_name = f"analytics-{environment}"
        host = f"{workgroup_name}.{self.account}.{self.region}.redshift-serverless.amazonaws.com"

        database_sg = ec2.SecurityGroup(
            self,
            "WorkgroupSecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description=f"Redshift Serverless {workgroup_name}: port {PORT} from migration builds and rotation",
        )
        for cidr in BUILD_SUBNET_CIDRS:
            database_sg.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(PORT), "Migration builds (private subnets)")

        secret_key = new_key(self, "SecretKey", description=f"Redshift {environment} migration credentials")
        secret = secretsmanager.Secret(
            self,
            "MigrationSecret",
            secret_name=secret_name(environment),
            description=f"Redshift {environment}: connection of the Flyway migration user",
            encryption_key=secret_key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps(
                    {"engine": "redshift", "host": host, "port": PORT, "dbname": "analytics", "username": "migrator"}
                ),
                generate_string_key="password",
                password_length=32,
                exclude_punctuation=True,
                require_each_included_type=True,
            ),
        )
        rotation_sg = ec2.SecurityGroup(
            self,
            "RotationSecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description=f"Secret rotation of Redshift {environment}: the workgroup and HTTPS only",
        )
        rotation_sg.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "Secrets Manager API")
        rotation_sg.connections.allow_to(database_sg, ec2.Port.tcp(PORT), "Rotate the migration user's password")
        secret.add_rotation_schedule(
            "Rotation",
            automatically_after=cdk.Duration.days(30),
            hosted_rotation=secretsmanager.HostedRotation.redshift_single_user(
                vpc=vpc,
                vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                security_groups=[rotation_sg],
            ),
        )

        data_key = new_key(self, "DataKey", description=f"Redshift Serverless {workgroup_name} data")
        namespace = redshiftserverless.CfnNamespace(
            self,
            "Namespace",
            namespace_name=workgroup_name,
            db_name="analytics",
            admin_username="migrator",
            admin_user_password=secret.secret_value_from_json("password").unsafe_unwrap(),
            kms_key_id=data_key.key_arn,
            log_exports=["userlog", "connectionlog", "useractivitylog"],
        )
        namespace.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        workgroup = redshiftserverless.CfnWorkgroup(
            self,
            "Workgroup",
            workgroup_name=workgroup_name,
            namespace_name=namespace.ref,  # Ref: the namespace name (and the dependency)
            base_capacity=8,
            port=PORT,
            publicly_accessible=False,
            enhanced_vpc_routing=True,
            subnet_ids=vpc.select_subnets(subnet_group_name=f"{environment}-db").subnet_ids,
            security_group_ids=[database_sg.security_group_id],
            config_parameters=[
                redshiftserverless.CfnWorkgroup.ConfigParameterProperty(
                    parameter_key="require_ssl", parameter_value="true"
                ),
                redshiftserverless.CfnWorkgroup.ConfigParameterProperty(
                    parameter_key="enable_user_activity_logging", parameter_value="true"
                ),
            ],
        )
        workgroup.apply_removal_policy(cdk.RemovalPolicy.RETAIN)


class WarehouseStage(cdk.Stage):
    """What the pipeline deploys for one environment before migrating it."""

    def __init__(self, scope: Construct, id: str, *, environment: str, env: cdk.Environment) -> None:
        super().__init__(scope, id, env=env)
        WarehouseStack(self, "Warehouse", environment=environment)


#: Target name -> the environment's name in secret names and subnet groups.
ENVIRONMENTS = {"Test": "test", "Prod": "prod"}


def warehouse_stage(scope: Construct, id: str, target: DeploymentTarget) -> cdk.Stage:
    """The pipeline's stage factory: each target's warehouse, deployed before its migrations."""
    return WarehouseStage(scope, id, environment=ENVIRONMENTS[target.name], env=target.env)


class MigrationPipelineStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]

        def database(target: str) -> DatabaseEndpoint:
            environment = ENVIRONMENTS[target]
            return DatabaseEndpoint.from_peer(
                ec2.Peer.ipv4(DATABASE_CIDRS[environment]),
                port=PORT,
                # Created by the target's stage (no cross-stage reference), so imported by name.
                secret=secretsmanager.Secret.from_secret_name_v2(self, f"{target}Secret", secret_name(environment)),
                secret_fields=SecretFields(db_name="dbname"),
            )

        self.migrations = RedshiftMigrationPipeline(
            self,
            "Migrations",
            source=pipelines.CodePipelineSource.connection(
                "example-org/redshift-migrations", "main", connection_arn=CONNECTION_ARN
            ),
            targets=[
                # No approval: a test target (migrations, then the JUnit tests).
                DeploymentTarget(name="Test", account=ACCOUNT, region=REGION),
                # Behind an approval: a production target (migrations only), after the permissions check.
                DeploymentTarget(
                    name="Prod",
                    account=ACCOUNT,
                    region=REGION,
                    manual_approval=True,
                    security_gated=True,
                    notification_emails=("dba-team@example.com",),
                ),
            ],
            vpc=data_platform_vpc(self),
            databases={"Test": database("Test"), "Prod": database("Prod")},
            commands=MigrationCommands.maven(),
            stage_factory=warehouse_stage,
        )


def build_app(app: cdk.App) -> cdk.App:
    """Add the example's pipeline stack (it creates the warehouse stages) to ``app``."""
    MigrationPipelineStack(app, "RedshiftMigrationPipeline", env=ENV)
    return app


if __name__ == "__main__":
    app = create_app()  # cdk.json's context also under `python app.py`; the assembly goes to ./cdk.out
    add_compliance_checks(app)  # synth fails on any unacknowledged cdk-nag finding
    build_app(app).synth()
