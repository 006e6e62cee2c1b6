"""The migration build of each target: what it runs, its secret, its role, its network."""

from __future__ import annotations

import importlib.util
import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template
from conftest import ROOT, load_example
from helpers import PIPELINE_ENV, pipeline_actions, pipeline_props
from redshift_migration.redshift_helpers import (
    as_list,
    buildspec,
    construct,
    database,
    project,
    readable_secrets,
    role_id,
    role_statements,
    target,
)

from pipeline_constructs.core.private.iam_idioms import flatten_cfn_reference
from pipeline_constructs.redshift_migration import (
    SECRET_ENVIRONMENT_VARIABLES,
    DatabaseEndpoint,
    MigrationCommands,
    SecretFields,
)
from pipeline_constructs.testing import deterministic_app

EXAMPLE = load_example("redshift_migration")
PROD_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:222222222222:secret:redshift/prod-AbCdEf"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    """The example's pipeline stack (its compliance is checked in test_pipeline.py)."""
    app = EXAMPLE.build_app(deterministic_app())
    return Template.from_stack(app.node.find_child("RedshiftMigrationPipeline")).to_json()


def test_test_build_migrates_then_runs_the_tests_and_publishes_junit(template):
    spec = buildspec(project(template, "TestMigrateAndTest"))
    commands = spec["phases"]["build"]["commands"]
    assert commands[-1] == "mvn -B clean test -Dflyway.cleanDisabled=true"
    assert commands[0].startswith('export FLYWAY_URL="jdbc:redshift://${REDSHIFT_HOST}:${REDSHIFT_PORT}/')
    assert spec["phases"]["build"]["on-failure"] == "ABORT"
    assert spec["phases"]["install"]["runtime-versions"] == {"java": "corretto21"}
    assert spec["reports"] == {
        "REPORT_GROUP_ARN": {
            "files": ["TEST-*.xml"],
            "base-directory": "target/surefire-reports",
            "file-format": "JUNITXML",
        }
    }
    groups = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodeBuild::ReportGroup"]
    assert [g["Properties"]["Type"] for g in groups] == ["TEST"]


def test_prod_build_runs_migrations_only_with_clean_disabled(template):
    prod = project(template, "ProdMigrate")
    spec = buildspec(prod)
    commands = spec["phases"]["build"]["commands"]
    assert commands[-1] == "mvn -B clean process-resources -Dflyway.cleanDisabled=true"
    assert not any(re.search(r"\btest\b|verify|package|install", c) for c in commands[1:])
    assert "reports" not in spec
    assert spec["phases"]["build"]["on-failure"] == "ABORT"
    plain = {v["Name"]: v["Value"] for v in prod["Environment"]["EnvironmentVariables"] if v["Type"] == "PLAINTEXT"}
    assert plain == {"MIGRATION_TARGET": "Prod", "FLYWAY_CLEAN_DISABLED": "true"}


@pytest.mark.parametrize(("step", "secret"), [("TestMigrateAndTest", "test"), ("ProdMigrate", "prod")])
def test_credentials_reach_the_build_only_as_secrets_manager_variables(template, step, secret):
    build = project(template, step)
    variables = build["Environment"]["EnvironmentVariables"]
    from_secrets = {v["Name"]: v["Value"] for v in variables if v["Type"] == "SECRETS_MANAGER"}
    fields = SecretFields(db_name="dbname")
    assert from_secrets == {
        name: f"redshift-migrations/{secret}:{getattr(fields, attribute)}"
        for name, attribute in SECRET_ENVIRONMENT_VARIABLES.items()
    }
    plain = [v for v in variables if v["Type"] == "PLAINTEXT"]
    assert not any(re.search(r"PASSWORD|USER|HOST", v["Name"]) for v in plain)
    # Nothing in the build spec carries a literal credential either.
    assert "password" not in json.dumps(buildspec(build)).lower().replace("${redshift_password}", "").replace(
        "flyway_password", ""
    )


@pytest.mark.parametrize(
    ("step", "own", "other"), [("TestMigrateAndTest", "test", "prod"), ("ProdMigrate", "prod", "test")]
)
def test_each_build_role_reads_only_its_own_secret(template, step, own, other):
    secrets = readable_secrets(template, role_id(project(template, step)))
    assert secrets, "the build role must be able to read its secret"
    assert all(f"redshift-migrations/{own}-??????" in s for s in secrets), secrets
    assert not any(other in s for s in secrets)


def test_the_shared_role_of_the_post_is_detected(tmp_path):
    """The assertion above fails on the hand-written port of the post: one role reads both secrets."""
    path = ROOT / "benchmarks" / "handwritten" / "redshift_migration.py"
    spec = importlib.util.spec_from_file_location("handwritten_redshift_migration", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = module.build_app(deterministic_app(outdir=str(tmp_path)))
    handwritten = Template.from_stack(app.node.find_child("RedshiftDevOpsHandwritten")).to_json()
    projects = [r["Properties"] for r in handwritten["Resources"].values() if r["Type"] == "AWS::CodeBuild::Project"]
    roles = {role_id(p) for p in projects}
    assert len(projects) == 2
    assert len(roles) == 1
    secrets = readable_secrets(handwritten, roles.pop())
    assert any("TestSecret" in s for s in secrets)
    assert any("ProdSecret" in s for s in secrets)


def test_no_statement_reads_secrets_or_keys_everywhere(template):
    for r in template["Resources"].values():
        if r["Type"] != "AWS::IAM::Policy":
            continue
        for s in r["Properties"]["PolicyDocument"]["Statement"]:
            if any(a.startswith(("secretsmanager:", "kms:Decrypt")) for a in as_list(s["Action"])):
                assert "*" not in as_list(s["Resource"]), s


def test_secret_key_decrypt_is_conditioned_to_the_secret_through_secrets_manager(template):
    role = role_id(project(template, "ProdMigrate"))
    (decrypt,) = [
        s for s in role_statements(template, role) if s.get("Sid") == "DecryptOnlyThisSecretThroughSecretsManager"
    ]
    assert decrypt["Action"] == "kms:Decrypt"
    assert flatten_cfn_reference(decrypt["Resource"]) == "arn:<AWS::Partition>:kms:eu-west-1:111111111111:key/*"
    assert decrypt["Condition"]["StringEquals"] == {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}
    assert flatten_cfn_reference(decrypt["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"]) == (
        "arn:<AWS::Partition>:secretsmanager:eu-west-1:111111111111:secret:redshift-migrations/prod-??????"
    )


def test_report_permissions_only_for_the_test_role_on_its_group(template):
    def report_statements(step: str) -> list[dict[str, Any]]:
        return [
            s
            for s in role_statements(template, role_id(project(template, step)))
            if "codebuild:BatchPutTestCases" in as_list(s["Action"]) and "Fn::GetAtt" in str(s["Resource"])
        ]

    (statement,) = report_statements("TestMigrateAndTest")
    assert statement["Resource"]["Fn::GetAtt"][0].startswith("MigrationsTestMigrationTestReportsGroup")
    assert report_statements("ProdMigrate") == []


@pytest.mark.parametrize(("step", "cidr"), [("TestMigrateAndTest", "10.20.64.0/20"), ("ProdMigrate", "10.20.80.0/20")])
def test_builds_run_in_private_subnets_with_egress_only_to_their_database_and_https(template, step, cidr):
    vpc = project(template, step)["VpcConfig"]
    assert vpc["VpcId"] == "vpc-0a1b2c3d4e5f60718"
    assert vpc["Subnets"] == EXAMPLE.VPC_ATTRIBUTES["private_subnet_ids"]
    (sg_ref,) = vpc["SecurityGroupIds"]
    sg = template["Resources"][sg_ref["Fn::GetAtt"][0]]["Properties"]
    assert sorted((e["CidrIp"], e["FromPort"], e["ToPort"], e["IpProtocol"]) for e in sg["SecurityGroupEgress"]) == [
        ("0.0.0.0/0", 443, 443, "tcp"),
        (cidr, 5439, 5439, "tcp"),
    ]
    assert "SecurityGroupIngress" not in sg
    assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroupEgress"]


# ---------------------------------------------------------------- other databases and commands


@pytest.fixture(scope="module")
def variant() -> dict[str, Any]:
    """Test database behind a security group (secret with a known key), prod in another account, Maven in db/."""

    def databases(stack: cdk.Stack) -> dict[str, DatabaseEndpoint]:
        vpc = stack.node.find_child("Vpc")
        database_sg = ec2.SecurityGroup(stack, "DatabaseSg", vpc=vpc, allow_all_outbound=False)
        key = kms.Key(stack, "SecretKey", enable_key_rotation=True)
        return {
            "Test": DatabaseEndpoint.from_security_group(
                database_sg, secret=secretsmanager.Secret(stack, "TestSecret", encryption_key=key)
            ),
            "Prod": DatabaseEndpoint.from_peer(
                ec2.Peer.ipv4("10.99.0.0/16"),
                port=5440,
                secret=secretsmanager.Secret.from_secret_complete_arn(stack, "ProdSecret", PROD_SECRET_ARN),
            ),
        }

    pipeline = construct(
        targets=[target("Test"), target("Prod", account="222222222222", manual_approval=True)],
        databases=databases,
        commands=MigrationCommands.maven(directory="db", extra_args=["-Pci"]),
        timeout=cdk.Duration.minutes(20),
    )
    return Template.from_stack(cdk.Stack.of(pipeline)).to_json()


def test_maven_project_in_a_subdirectory(variant):
    build = project(variant, "TestMigrateAndTest")
    spec = buildspec(build)
    assert spec["phases"]["build"]["commands"][1:] == ["cd db", "mvn -B clean test -Dflyway.cleanDisabled=true -Pci"]
    assert spec["reports"]["REPORT_GROUP_ARN"]["base-directory"] == "db/target/surefire-reports"
    assert build["TimeoutInMinutes"] == 20


def test_security_group_endpoint_opens_the_database_to_this_build_only(variant):
    build_sg = project(variant, "TestMigrateAndTest")["VpcConfig"]["SecurityGroupIds"][0]["Fn::GetAtt"][0]
    resources = variant["Resources"]
    ingress = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"]
    assert ingress == [
        {
            "IpProtocol": "tcp",
            "Description": "Redshift (Test) on port 5439",
            "FromPort": 5439,
            "GroupId": {"Fn::GetAtt": [next(k for k in resources if k.startswith("DatabaseSg")), "GroupId"]},
            "SourceSecurityGroupId": {"Fn::GetAtt": [build_sg, "GroupId"]},
            "ToPort": 5439,
        }
    ]
    egress = resources[build_sg]["Properties"]["SecurityGroupEgress"]
    assert [(e.get("CidrIp"), e["FromPort"]) for e in egress] == [("0.0.0.0/0", 443)]
    (db_egress,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::EC2::SecurityGroupEgress"]
    assert db_egress["FromPort"] == 5439
    assert db_egress["GroupId"] == {"Fn::GetAtt": [build_sg, "GroupId"]}


def test_secret_with_a_known_key_is_decrypted_with_that_key_only(variant):
    role = role_id(project(variant, "TestMigrateAndTest"))
    (key,) = [r["Properties"] for k, r in variant["Resources"].items() if k.startswith("SecretKey")]
    grants = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"AWS": {"Fn::GetAtt": [role, "Arn"]}}]
    assert grants == [
        {
            "Action": "kms:Decrypt",
            "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}},
            "Effect": "Allow",
            "Principal": {"AWS": {"Fn::GetAtt": [role, "Arn"]}},
            "Resource": "*",
        }
    ]
    statements = json.dumps(role_statements(variant, role))
    assert "SecretKey" not in statements
    assert ":key/*" not in statements


def test_secret_in_another_account_is_referenced_by_arn(variant):
    prod = project(variant, "ProdMigrate")
    values = {v["Name"]: v["Value"] for v in prod["Environment"]["EnvironmentVariables"]}
    assert values["REDSHIFT_PASSWORD"] == f"{PROD_SECRET_ARN}:password"
    (decrypt,) = [
        s
        for s in role_statements(variant, role_id(prod))
        if s.get("Sid") == "DecryptOnlyThisSecretThroughSecretsManager"
    ]
    assert flatten_cfn_reference(decrypt["Resource"]) == "arn:<AWS::Partition>:kms:eu-west-1:222222222222:key/*"
    assert decrypt["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"] == PROD_SECRET_ARN
    egress = [
        e
        for r in variant["Resources"].values()
        if r["Type"] == "AWS::EC2::SecurityGroup"
        for e in r["Properties"].get("SecurityGroupEgress", [])
    ]
    assert {
        "CidrIp": "10.99.0.0/16",
        "Description": "Redshift (Prod)",
        "FromPort": 5440,
        "IpProtocol": "tcp",
        "ToPort": 5440,
    } in egress


def test_custom_commands_without_reports_merge_the_build_environment_and_leave_room_for_team_stages():
    pipeline = construct(
        commands=MigrationCommands(test=["./gradlew flywayMigrate test"], migrate=["./gradlew flywayMigrate"]),
        build_environment=codebuild.BuildEnvironment(compute_type=codebuild.ComputeType.MEDIUM),
        databases=lambda s: {"Test": database(s, "Test", peer=ec2.Peer.ipv4("10.0.1.0/24"))},
    )
    stack = cdk.Stack.of(pipeline)
    extra = cdk.Stage(cdk.Stage.of(stack), "Extra", env=PIPELINE_ENV)
    cdk.Stack(extra, "Nothing").node.add_metadata("x", "y")
    pipeline.pipeline.add_stage(extra)
    template = Template.from_stack(stack).to_json()
    stages = [stage for stage, _, _, _ in pipeline_actions(pipeline_props(Template.from_json(template)))]
    assert list(dict.fromkeys(stages))[-2:] == ["Test", "Extra"]
    build = project(template, "TestMigrateAndTest")
    assert buildspec(build)["phases"]["build"]["commands"][1:] == ["./gradlew flywayMigrate test"]
    assert "reports" not in buildspec(build)
    assert build["Environment"]["ComputeType"] == "BUILD_GENERAL1_MEDIUM"
    assert build["Environment"]["Image"] == "aws/codebuild/amazonlinux2-x86_64-standard:5.0"  # the pipeline's, kept
    assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::CodeBuild::ReportGroup"]
