"""Hand-written port of the Redshift/Flyway post's pipeline (what a team writes from the post).

Same shape as the post's CloudFormation template: a plain CodePipeline,
Source -> Testing (CodeBuild inside the VPC: ``mvn clean test``, Surefire
reports) -> ProdDeploy (CodeBuild inside the VPC: ``mvn clean process-resources``).
Both projects share one service role that reads both secrets; no approval
before production; security group open for all egress; no hardening.
Same dummy VPC, account and region as examples/redshift_migration.
Run: ``python redshift_migration.py`` (honours CDK_OUTDIR).
"""

from __future__ import annotations

import json
import os

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

ACCOUNT = "111111111111"
REGION = "eu-west-1"
CONNECTION_ARN = f"arn:aws:codeconnections:{REGION}:{ACCOUNT}:connection/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"


def buildspec(command: str, reports: bool, prefix: str) -> codebuild.BuildSpec:
    """The post's buildspec_test.yml / buildspec_prod.yml: Flyway env from the secret's variables."""
    spec: dict[str, object] = {
        "version": "0.2",
        "env": {
            "secrets-manager": {
                "HOST": f"{prefix}:host",
                "PORT": f"{prefix}:port",
                "DBNAME": f"{prefix}:dbName",
                "USERNAME": f"{prefix}:username",
                "PASSWORD": f"{prefix}:password",
            }
        },
        "phases": {
            "install": {"runtime-versions": {"java": "corretto11"}},
            "build": {
                "commands": [
                    "export FLYWAY_URL=jdbc:redshift://$HOST:$PORT/$DBNAME",
                    "export FLYWAY_USER=$USERNAME FLYWAY_PASSWORD=$PASSWORD",
                    command,
                ]
            },
        },
    }
    if reports:
        spec["reports"] = {"SurefireReports": {"files": ["**/*"], "base-directory": "target/surefire-reports"}}
    return codebuild.BuildSpec.from_object(spec)


class RedshiftDevOpsStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id="vpc-0a1b2c3d4e5f60718",
            availability_zones=[f"{REGION}a", f"{REGION}b", f"{REGION}c"],
            private_subnet_ids=["subnet-0a0000000000000a1", "subnet-0a0000000000000b1", "subnet-0a0000000000000c1"],
        )
        secrets = {
            env: secretsmanager.Secret(
                self,
                f"{env.title()}Secret",
                secret_name=f"redshift-devops/{env}",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template=json.dumps(
                        {"host": f"redshift-{env}.example", "port": "5439", "dbName": "dev", "username": "awsuser"}
                    ),
                    generate_string_key="password",
                    exclude_punctuation=True,
                ),
            )
            for env in ("test", "prod")
        }
        security_group = ec2.SecurityGroup(self, "CodeBuildSecurityGroup", vpc=vpc, allow_all_outbound=True)

        # One service role for both projects: it can read the test and the prod secret.
        role = iam.Role(self, "CodeBuildRole", assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"],
                resources=[s.secret_arn for s in secrets.values()],
            )
        )
        role.add_to_policy(iam.PolicyStatement(actions=["logs:*", "s3:*", "codebuild:*"], resources=["*"]))

        def project(name: str, command: str, env: str, reports: bool) -> codebuild.PipelineProject:
            return codebuild.PipelineProject(
                self,
                name,
                role=role,
                vpc=vpc,
                security_groups=[security_group],
                environment=codebuild.BuildEnvironment(build_image=codebuild.LinuxBuildImage.AMAZON_LINUX_2_3),
                build_spec=buildspec(command, reports, secrets[env].secret_arn),
            )

        test_project = project("TestProject", "mvn clean test", "test", reports=True)
        prod_project = project("ProdProject", "mvn clean process-resources", "prod", reports=False)

        source_output = codepipeline.Artifact()
        codepipeline.Pipeline(
            self,
            "Pipeline",
            stages=[
                codepipeline.StageProps(
                    stage_name="Source",
                    actions=[
                        actions.CodeStarConnectionsSourceAction(
                            action_name="Source",
                            owner="example-org",
                            repo="redshift-migrations",
                            branch="main",
                            connection_arn=CONNECTION_ARN,
                            output=source_output,
                        )
                    ],
                ),
                codepipeline.StageProps(
                    stage_name="Testing",
                    actions=[actions.CodeBuildAction(action_name="Test", project=test_project, input=source_output)],
                ),
                codepipeline.StageProps(
                    stage_name="ProdDeploy",
                    actions=[actions.CodeBuildAction(action_name="Deploy", project=prod_project, input=source_output)],
                ),
            ],
        )


def build_app(app: cdk.App) -> cdk.App:
    RedshiftDevOpsStack(app, "RedshiftDevOpsHandwritten", env=cdk.Environment(account=ACCOUNT, region=REGION))
    return app


if __name__ == "__main__":
    build_app(cdk.App(outdir=os.environ.get("CDK_OUTDIR") or "cdk.out")).synth()
