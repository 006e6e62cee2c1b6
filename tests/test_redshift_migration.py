"""RedshiftMigrationPipeline: stages and gates, what each build runs, secrets, IAM and network scope, nag, bad input."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from conftest import ROOT, load_example
from syrupy.extensions.json import JSONSnapshotExtension

from pipeline_constructs.core.compliance import (
    acknowledgments,
    add_compliance_checks,
    suspended_acknowledgments,
    unacknowledged_findings,
)
from pipeline_constructs.core.private.iam_idioms import flatten_cfn_reference
from pipeline_constructs.redshift_migration.pipeline import (
    SECRET_ENVIRONMENT_VARIABLES,
    DatabaseEndpoint,
    MigrationCommands,
    RedshiftMigrationPipeline,
    RedshiftTarget,
    SecretFields,
)
from pipeline_constructs.testing import deterministic_app, normalize_template

EXAMPLE = load_example("redshift_migration")
ENV = cdk.Environment(account="111111111111", region="eu-west-1")
CONNECTION_ARN = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"
PROD_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:222222222222:secret:redshift/prod-AbCdEf"


# ---------------------------------------------------------------- helpers


def _stages(template: dict[str, Any]) -> list[tuple[str, list[tuple[str, str, int]]]]:
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    return [
        (s["Name"], [(a["Name"], a["ActionTypeId"]["Provider"], a["RunOrder"]) for a in s["Actions"]])
        for s in pipeline["Properties"]["Stages"]
    ]


def _project(template: dict[str, Any], step: str) -> dict[str, Any]:
    """The CodeBuild project of a migration step (``MigrateAndTest`` or ``Migrate``) of one stage."""
    found = [
        r["Properties"]
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::CodeBuild::Project" and re.search(rf"Pipeline{step}[0-9A-F]{{8}}$", logical_id)
    ]
    assert len(found) == 1, f"expected one project for {step}, found {len(found)}"
    return found[0]


def _buildspec(project: dict[str, Any]) -> dict[str, Any]:
    spec = project["Source"]["BuildSpec"]
    if isinstance(spec, dict):  # Fn::Join around the report group ARN
        spec = "".join(p if isinstance(p, str) else "REPORT_GROUP_ARN" for p in spec["Fn::Join"][1])
    return json.loads(spec)


def _role_id(project: dict[str, Any]) -> str:
    return project["ServiceRole"]["Fn::GetAtt"][0]


def _role_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement of every policy attached to ``role_id`` (inline, managed, attached policies)."""
    out: list[dict[str, Any]] = []
    for r in template["Resources"].values():
        props = r.get("Properties", {})
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and {"Ref": role_id} in props.get("Roles", []):
            out.extend(props["PolicyDocument"]["Statement"])
    role = template["Resources"][role_id]["Properties"]
    for policy in role.get("Policies", []):
        out.extend(policy["PolicyDocument"]["Statement"])
    return out


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def readable_secrets(template: dict[str, Any], role_id: str) -> set[str]:
    """Secrets (and secret-scoped key grants) a role's statements name, flattened the way cdk-nag prints them."""
    found: set[str] = set()
    for s in _role_statements(template, role_id):
        actions = _as_list(s["Action"])
        if any(a.startswith("secretsmanager:") for a in actions):
            found.update(flatten_cfn_reference(r) for r in _as_list(s["Resource"]))
        for condition in (s.get("Condition") or {}).values():
            if "kms:EncryptionContext:SecretARN" in condition:
                found.add(flatten_cfn_reference(condition["kms:EncryptionContext:SecretARN"]))
    return found


# ---------------------------------------------------------------- the example


@pytest.fixture(scope="module")
def app() -> cdk.App:
    app = deterministic_app()
    add_compliance_checks(app)  # synth fails on any unacknowledged finding
    EXAMPLE.build_app(app)
    app.synth()
    return app


@pytest.fixture(scope="module")
def template(app) -> dict[str, Any]:
    return Template.from_stack(app.node.find_child("RedshiftMigrationPipeline")).to_json()


@pytest.fixture(scope="module")
def warehouse(app) -> dict[str, Any]:
    return Template.from_stack(app.node.find_child("Test").node.find_child("Warehouse")).to_json()


def test_stages_in_order_test_then_gated_prod(template):
    assert _stages(template) == [
        ("Source", [("example-org_redshift-migrations", "CodeStarSourceConnection", 1)]),
        ("Build", [("Synth", "CodeBuild", 1)]),
        ("UpdatePipeline", [("SelfMutate", "CodeBuild", 1)]),
        (
            "Test",
            [
                ("Warehouse.Prepare", "CloudFormation", 1),
                ("Warehouse.Deploy", "CloudFormation", 2),
                ("MigrateAndTest", "CodeBuild", 3),
            ],
        ),
        (
            "Prod",
            [
                ("PermissionCheck.Check", "CodeBuild", 1),
                ("PermissionCheck.Confirm", "Manual", 2),
                ("PromoteToProd", "Manual", 3),
                ("Warehouse.Prepare", "CloudFormation", 4),
                ("Warehouse.Deploy", "CloudFormation", 5),
                ("Migrate", "CodeBuild", 6),
            ],
        ),
    ]


def test_test_build_migrates_then_runs_the_tests_and_publishes_junit(template):
    spec = _buildspec(_project(template, "TestMigrateAndTest"))
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
    project = _project(template, "ProdMigrate")
    spec = _buildspec(project)
    commands = spec["phases"]["build"]["commands"]
    assert commands[-1] == "mvn -B clean process-resources -Dflyway.cleanDisabled=true"
    assert not any(re.search(r"\btest\b|verify|package|install", c) for c in commands[1:])
    assert "reports" not in spec
    assert spec["phases"]["build"]["on-failure"] == "ABORT"
    plain = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"] if v["Type"] == "PLAINTEXT"}
    assert plain == {"MIGRATION_TARGET": "Prod", "FLYWAY_CLEAN_DISABLED": "true"}


@pytest.mark.parametrize(("step", "secret"), [("TestMigrateAndTest", "test"), ("ProdMigrate", "prod")])
def test_credentials_reach_the_build_only_as_secrets_manager_variables(template, step, secret):
    project = _project(template, step)
    variables = project["Environment"]["EnvironmentVariables"]
    from_secrets = {v["Name"]: v["Value"] for v in variables if v["Type"] == "SECRETS_MANAGER"}
    fields = SecretFields(db_name="dbname")
    assert from_secrets == {
        name: f"redshift-migrations/{secret}:{getattr(fields, attribute)}"
        for name, attribute in SECRET_ENVIRONMENT_VARIABLES.items()
    }
    plain = [v for v in variables if v["Type"] == "PLAINTEXT"]
    assert not any(re.search(r"PASSWORD|USER|HOST", v["Name"]) for v in plain)
    # Nothing in the build spec carries a literal credential either.
    assert "password" not in json.dumps(_buildspec(project)).lower().replace("${redshift_password}", "").replace(
        "flyway_password", ""
    )


@pytest.mark.parametrize(
    ("step", "own", "other"), [("TestMigrateAndTest", "test", "prod"), ("ProdMigrate", "prod", "test")]
)
def test_each_build_role_reads_only_its_own_secret(template, step, own, other):
    secrets = readable_secrets(template, _role_id(_project(template, step)))
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
    roles = {_role_id(p) for p in projects}
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
            actions = _as_list(s["Action"])
            if any(a.startswith(("secretsmanager:", "kms:Decrypt")) for a in actions):
                assert "*" not in _as_list(s["Resource"]), s


def test_secret_key_decrypt_is_conditioned_to_the_secret_through_secrets_manager(template):
    role = _role_id(_project(template, "ProdMigrate"))
    (decrypt,) = [
        s for s in _role_statements(template, role) if s.get("Sid") == "DecryptOnlyThisSecretThroughSecretsManager"
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
            for s in _role_statements(template, _role_id(_project(template, step)))
            if "codebuild:BatchPutTestCases" in _as_list(s["Action"]) and "Fn::GetAtt" in str(s["Resource"])
        ]

    (statement,) = report_statements("TestMigrateAndTest")
    assert statement["Resource"]["Fn::GetAtt"][0].startswith("MigrationsTestTestReportsGroup")
    assert report_statements("ProdMigrate") == []


@pytest.mark.parametrize(("step", "cidr"), [("TestMigrateAndTest", "10.20.64.0/20"), ("ProdMigrate", "10.20.80.0/20")])
def test_builds_run_in_private_subnets_with_egress_only_to_their_database_and_https(template, step, cidr):
    project = _project(template, step)
    vpc = project["VpcConfig"]
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


def test_builds_are_encrypted_with_the_rotating_artifact_key(template):
    for step in ("TestMigrateAndTest", "ProdMigrate"):
        assert _project(template, step)["EncryptionKey"]["Fn::GetAtt"][0].startswith("MigrationsPipelineArtifactKey")
    keys = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    assert keys
    assert all(k["EnableKeyRotation"] for k in keys)


def test_prod_gate_notifies_the_dba_team(template):
    Template.from_json(template).has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "dba-team@example.com"}
    )


def test_warehouse_admin_password_comes_from_the_rotated_secret(warehouse):
    t = Template.from_json(warehouse)
    (namespace,) = t.find_resources("AWS::RedshiftServerless::Namespace").values()
    password = json.dumps(namespace["Properties"]["AdminUserPassword"])
    assert "{{resolve:secretsmanager:" in password
    assert ":SecretString:password::}}" in password
    t.has_resource_properties(
        "AWS::SecretsManager::RotationSchedule", {"RotationRules": {"ScheduleExpression": "rate(30 days)"}}
    )
    (secret,) = t.find_resources("AWS::SecretsManager::Secret").values()
    assert secret["Properties"]["Name"] == "redshift-migrations/test"
    assert "KmsKeyId" in secret["Properties"]
    (workgroup,) = t.find_resources("AWS::RedshiftServerless::Workgroup").values()
    assert workgroup["Properties"]["PubliclyAccessible"] is False
    assert {"ParameterKey": "require_ssl", "ParameterValue": "true"} in workgroup["Properties"]["ConfigParameters"]


def test_no_unacknowledged_findings_in_five_packs(app):
    assert [str(f) for f in unacknowledged_findings(app)] == []


def test_every_acknowledgment_answers_a_finding_and_is_specific():
    with suspended_acknowledgments():
        bare = deterministic_app()
        _build_example_without_checks(bare)
        raised = {(f.path, f.rule) for f in unacknowledged_findings(bare)}
    app = deterministic_app()
    _build_example_without_checks(app)
    app.synth()
    paths = {path for path, _, _ in acknowledgments(app)}
    for own in (
        "Migrations/Test/BuildRole/DefaultPolicy",
        "Migrations/Prod/BuildRole/DefaultPolicy",
        "MigrateAndTest/PolicyDocument",
    ):
        assert any(own in p for p in paths), f"the construct's own acknowledgments on {own} must be exercised"
    stale = sorted(
        (path, rule)
        for path, rule, _ in acknowledgments(app)
        if not any(rule == r and (p == path or p.startswith(path + "/")) for p, r in raised)
    )
    assert stale == [], f"acknowledgments without a finding: {stale}"
    for path, rule, reason in acknowledgments(app):
        if rule.startswith("AwsSolutions-IAM5"):
            assert re.search(r"\[(Action|Resource)::.+\]$", rule), (path, rule)
        assert len(reason) >= 40, (path, rule, reason)


def _build_example_without_checks(app: cdk.App) -> None:
    test = EXAMPLE.WarehouseStage(app, "Test", environment="test", env=EXAMPLE.ENV)
    prod = EXAMPLE.WarehouseStage(app, "Prod", environment="prod", env=EXAMPLE.ENV)
    EXAMPLE.MigrationPipelineStack(app, "RedshiftMigrationPipeline", test=test, prod=prod, env=EXAMPLE.ENV)


def test_cfn_lint_reports_no_errors(tmp_path):
    from cfnlint.api import ManualArgs, lint

    app = deterministic_app(outdir=str(tmp_path))
    _build_example_without_checks(app)
    app.synth()
    errors = []
    for path in sorted(Path(tmp_path).rglob("*.template.json")):
        matches = lint(path.read_text(), config=ManualArgs(ignore_checks=["E3703"], regions=["eu-west-1"]))
        errors += [f"{path.name}: {m}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []


def test_snapshot(template, warehouse, snapshot):
    both = {"pipeline": normalize_template(template), "warehouse": normalize_template(warehouse)}
    assert both == snapshot.use_extension(JSONSnapshotExtension)


# ---------------------------------------------------------------- variants (stage-less targets, other inputs)


def _stack() -> tuple[cdk.Stack, ec2.IVpc]:
    stack = cdk.Stack(deterministic_app(), "S", env=ENV)
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-1",
        availability_zones=["eu-west-1a", "eu-west-1b"],
        private_subnet_ids=["subnet-p1", "subnet-p2"],
        public_subnet_ids=["subnet-u1", "subnet-u2"],
    )
    return stack, vpc


def _source() -> pipelines.CodePipelineSource:
    return pipelines.CodePipelineSource.connection("o/r", "main", connection_arn=CONNECTION_ARN)


@pytest.fixture(scope="module")
def waves() -> tuple[RedshiftMigrationPipeline, dict[str, Any]]:
    """Stage-less targets: test database behind a security group (secret with a known key), prod in another account."""
    stack, vpc = _stack()
    database_sg = ec2.SecurityGroup(stack, "DatabaseSg", vpc=vpc, allow_all_outbound=False)
    key = kms.Key(stack, "SecretKey", enable_key_rotation=True)
    test_secret = secretsmanager.Secret(stack, "TestSecret", encryption_key=key)
    prod_secret = secretsmanager.Secret.from_secret_complete_arn(stack, "ProdSecret", PROD_SECRET_ARN)
    construct = RedshiftMigrationPipeline(
        stack,
        "M",
        source=_source(),
        vpc=vpc,
        commands=MigrationCommands.maven(directory="db", extra_args=["-Pci"]),
        targets=[
            RedshiftTarget("Test", secret=test_secret, database=DatabaseEndpoint.from_security_group(database_sg)),
            RedshiftTarget(
                "Prod",
                secret=prod_secret,
                production=True,
                database=DatabaseEndpoint.from_peer(ec2.Peer.ipv4("10.99.0.0/16"), port=5440),
                approval_comment="DBA approval",
            ),
        ],
        timeout=cdk.Duration.minutes(20),
    )
    return construct, Template.from_stack(stack).to_json()


def test_stage_less_targets_get_waves_and_prod_a_manual_approval(waves):
    construct, template = waves
    assert _stages(template)[3:] == [
        ("Test", [("MigrateAndTest", "CodeBuild", 1)]),
        ("Prod", [("PromoteToProd", "Manual", 1), ("Migrate", "CodeBuild", 2)]),
    ]
    (approval,) = [
        a for s in _raw_stages(template) if s["Name"] == "Prod" for a in s["Actions"] if a["Name"] == "PromoteToProd"
    ]
    assert approval["Configuration"]["CustomData"] == "DBA approval"
    assert set(construct.approvals) == {"Prod"}
    assert construct.gates == {}


def _raw_stages(template: dict[str, Any]) -> list[dict[str, Any]]:
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    return pipeline["Properties"]["Stages"]


def test_maven_project_in_a_subdirectory(waves):
    _, template = waves
    project = _project(template, "TestMigrateAndTest")
    spec = _buildspec(project)
    assert spec["phases"]["build"]["commands"][1:] == ["cd db", "mvn -B clean test -Dflyway.cleanDisabled=true -Pci"]
    assert spec["reports"]["REPORT_GROUP_ARN"]["base-directory"] == "db/target/surefire-reports"
    assert project["TimeoutInMinutes"] == 20


def test_security_group_endpoint_opens_the_database_to_this_build_only(waves):
    _, template = waves
    project = _project(template, "TestMigrateAndTest")
    build_sg = project["VpcConfig"]["SecurityGroupIds"][0]["Fn::GetAtt"][0]
    ingress = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"]
    assert ingress == [
        {
            "IpProtocol": "tcp",
            "Description": "Redshift (Test) on port 5439",
            "FromPort": 5439,
            "GroupId": {
                "Fn::GetAtt": [next(k for k in template["Resources"] if k.startswith("DatabaseSg")), "GroupId"]
            },
            "SourceSecurityGroupId": {"Fn::GetAtt": [build_sg, "GroupId"]},
            "ToPort": 5439,
        }
    ]
    egress = template["Resources"][build_sg]["Properties"]["SecurityGroupEgress"]
    assert [(e.get("CidrIp"), e["FromPort"]) for e in egress] == [("0.0.0.0/0", 443)]
    (db_egress,) = [
        r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroupEgress"
    ]
    assert db_egress["FromPort"] == 5439
    assert db_egress["GroupId"] == {"Fn::GetAtt": [build_sg, "GroupId"]}


def test_secret_with_a_known_key_is_decrypted_with_that_key_only(waves):
    _, template = waves
    role = _role_id(_project(template, "TestMigrateAndTest"))
    (key,) = [r["Properties"] for k, r in template["Resources"].items() if k.startswith("SecretKey")]
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
    statements = json.dumps(_role_statements(template, role))
    assert "SecretKey" not in statements
    assert ":key/*" not in statements


def test_secret_in_another_account_is_referenced_by_arn(waves):
    _, template = waves
    project = _project(template, "ProdMigrate")
    values = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert values["REDSHIFT_PASSWORD"] == f"{PROD_SECRET_ARN}:password"
    statements = _role_statements(template, _role_id(project))
    (decrypt,) = [s for s in statements if s.get("Sid") == "DecryptOnlyThisSecretThroughSecretsManager"]
    assert flatten_cfn_reference(decrypt["Resource"]) == "arn:<AWS::Partition>:kms:eu-west-1:222222222222:key/*"
    assert decrypt["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"] == PROD_SECRET_ARN
    egress = [
        e
        for r in template["Resources"].values()
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


def test_escape_hatches(waves):
    construct, _ = waves
    assert set(construct.migration_steps) == {"Test", "Prod"}
    assert set(construct.build_roles) == {"Test", "Prod"}
    assert set(construct.test_reports) == {"Test"}
    assert isinstance(construct.pipeline, pipelines.CodePipeline)
    assert construct.secure_pipeline.pipeline is construct.pipeline


def test_custom_commands_without_reports_and_a_team_stage():
    stack, vpc = _stack()
    construct = RedshiftMigrationPipeline(
        stack,
        "M",
        source=_source(),
        vpc=vpc,
        commands=MigrationCommands(test=["./gradlew flywayMigrate test"], migrate=["./gradlew flywayMigrate"]),
        build_environment=codebuild.BuildEnvironment(compute_type=codebuild.ComputeType.MEDIUM),
        targets=[
            RedshiftTarget(
                "Test",
                secret=secretsmanager.Secret(stack, "T"),
                database=DatabaseEndpoint.from_peer(ec2.Peer.ipv4("10.0.1.0/24")),
            ),
        ],
    )
    extra = cdk.Stage(cdk.Stage.of(stack), "Extra", env=ENV)
    cdk.Stack(extra, "Nothing").node.add_metadata("x", "y")
    construct.pipeline.add_stage(extra)
    template = Template.from_stack(stack).to_json()
    assert [s for s, _ in _stages(template)][-2:] == ["Test", "Extra"]
    project = _project(template, "TestMigrateAndTest")
    assert _buildspec(project)["phases"]["build"]["commands"][1:] == ["./gradlew flywayMigrate test"]
    assert "reports" not in _buildspec(project)
    assert project["Environment"]["ComputeType"] == "BUILD_GENERAL1_MEDIUM"
    assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::CodeBuild::ReportGroup"]


# ---------------------------------------------------------------- bad input


def _target(stack: cdk.Stack, name: str = "Test", **overrides: Any) -> RedshiftTarget:
    props: dict[str, Any] = {"database": DatabaseEndpoint.from_peer(ec2.Peer.ipv4("10.0.0.0/24")), **overrides}
    if "secret" not in props:
        props["secret"] = secretsmanager.Secret.from_secret_name_v2(stack, f"{name}Secret", f"s/{name.lower()}")
    return RedshiftTarget(name, **props)


def _construct(**overrides: Any) -> RedshiftMigrationPipeline:
    stack, vpc = _stack()
    targets = overrides.pop("targets", None)
    if targets is None:
        targets = [_target(stack)]
    elif callable(targets):
        targets = targets(stack)
    props: dict[str, Any] = {"source": _source(), "vpc": vpc, "targets": targets, **overrides}
    return RedshiftMigrationPipeline(stack, "M", **props)


def test_no_targets():
    with pytest.raises(
        ValueError, match=r"S/M: targets = \[\] is invalid: expected a non-empty list of RedshiftTarget"
    ):
        _construct(targets=[])


def test_target_of_the_wrong_type():
    with pytest.raises(ValueError, match=r"S/M: targets\[0\] = 'Test' is invalid: expected a RedshiftTarget"):
        _construct(targets=["Test"])


def test_duplicate_target_names():
    with pytest.raises(ValueError, match=r"S/M: targets\[\]\.name = 'test' is invalid: names must be unique"):
        _construct(
            targets=lambda s: [
                _target(s),
                _target(s, "test", secret=secretsmanager.Secret.from_secret_name_v2(s, "x", "x")),
            ]
        )


def test_targets_sharing_a_secret():
    def targets(stack: cdk.Stack) -> list[RedshiftTarget]:
        shared = secretsmanager.Secret.from_secret_name_v2(stack, "Shared", "shared")
        return [_target(stack, "Test", secret=shared), _target(stack, "Prod", secret=shared, production=True)]

    with pytest.raises(
        ValueError, match=r"targets\['Prod'\]\.secret = .* is invalid: each target needs its own secret"
    ):
        _construct(targets=targets)


def test_production_before_any_test_target():
    with pytest.raises(
        ValueError, match=r"S/M: targets = \['Prod'\] is invalid: expected a test target .* before the first production"
    ):
        _construct(targets=lambda s: [_target(s, "Prod", production=True)])


def test_vpc_outside_the_pipeline_account():
    stack, _ = _stack()
    other = cdk.Stack(stack.node.root, "Other", env=cdk.Environment(account="222222222222", region="eu-west-1"))
    vpc = ec2.Vpc.from_vpc_attributes(
        other, "Vpc", vpc_id="vpc-2", availability_zones=["eu-west-1a"], private_subnet_ids=["subnet-2"]
    )
    with pytest.raises(
        ValueError,
        match=r"S/M: vpc = '222222222222/eu-west-1' is invalid: expected a VPC in the pipeline's account and region "
        r"\(111111111111/eu-west-1\): CodeBuild runs the migration builds there",
    ):
        RedshiftMigrationPipeline(stack, "M", source=_source(), vpc=vpc, targets=[_target(stack)])


def test_public_build_subnets():
    with pytest.raises(ValueError, match=r"S/M: subnet_selection = .* is invalid: expected private subnets"):
        _construct(subnet_selection=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC))


def test_subnet_selection_matching_nothing():
    with pytest.raises(ValueError, match=r"S/M: subnet_selection = .* is invalid: selects no subnets"):
        _construct(subnet_selection=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED))


@pytest.mark.parametrize(
    ("prop", "value", "message"),
    [
        ("source", None, r"S/M: source = None is invalid: expected a pipelines.IFileSetProducer"),
        ("vpc", "vpc-123", r"S/M: vpc = 'vpc-123' is invalid: expected an ec2.IVpc"),
        ("commands", ["mvn test"], r"S/M: commands = \['mvn test'\] is invalid: expected a MigrationCommands"),
        ("timeout", 30, r"S/M: timeout = 30 is invalid: expected an aws_cdk.Duration"),
        ("https_egress", "0.0.0.0/0", r"S/M: https_egress = '0.0.0.0/0' is invalid: expected an ec2.IPeer"),
        (
            "synth_commands",
            "cdk synth",
            r"S/M: synth_commands = 'cdk synth' is invalid: expected a list of shell commands",
        ),
        (
            "pipeline_options",
            {"synth": None},
            r"pipeline_options\['synth'\] = None is invalid: use the synth prop",
        ),
        ("pipeline_name", "no spaces", r"S/M: pipeline_name = 'no spaces' is invalid"),
    ],
)
def test_bad_construct_props(prop, value, message):
    with pytest.raises(ValueError, match=message):
        _construct(**{prop: value})


def test_synth_and_synth_commands_together():
    with pytest.raises(ValueError, match=r"synth_commands = \['cdk synth'\] is invalid: give synth or synth_commands"):
        _construct(synth=pipelines.ShellStep("Synth", commands=["x"]), synth_commands=["cdk synth"])


def test_plain_environment_variables_are_refused():
    env = codebuild.BuildEnvironment(
        environment_variables={"DB_PASSWORD": codebuild.BuildEnvironmentVariable(value="x")}
    )
    with pytest.raises(ValueError, match=r"build_environment.environment_variables = \['DB_PASSWORD'\] is invalid"):
        _construct(build_environment=env)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "1st"}, r"RedshiftTarget: name = '1st' is invalid: expected a letter"),
        (
            {"secret": "arn:aws:secretsmanager:x"},
            r"RedshiftTarget\('Test'\): secret = .* is invalid: expected an aws_secretsmanager.ISecret",
        ),
        ({"database": "10.0.0.0/24"}, r"database = '10.0.0.0/24' is invalid: expected a DatabaseEndpoint"),
        ({"production": "yes"}, r"production = 'yes' is invalid: expected True or False"),
        ({"stage": "Prod"}, r"stage = 'Prod' is invalid: expected an aws_cdk.Stage or None"),
        ({"secret_fields": {"host": "h"}}, r"secret_fields = .* is invalid: expected a SecretFields"),
        (
            {"notification_emails": ("dba@example.com",)},
            r"notification_emails = .* is invalid: only a production target with a stage",
        ),
        (
            {"notification_emails": ("not-an-address",), "production": True},
            r"notification_emails\[0\] = 'not-an-address' is invalid",
        ),
        ({"approval_comment": "ok?"}, r"approval_comment = 'ok\?' is invalid: only production targets are approved"),
    ],
)
def test_bad_target(overrides, message):
    stack = cdk.Stack(deterministic_app(), "S")
    props: dict[str, Any] = {
        "name": "Test",
        "secret": secretsmanager.Secret.from_secret_name_v2(stack, "Secret", "s"),
        "database": DatabaseEndpoint.from_peer(ec2.Peer.ipv4("10.0.0.0/24")),
    }
    props.update(overrides)
    with pytest.raises(ValueError, match=message):
        RedshiftTarget(**props)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"port": 0, "peer": ec2.Peer.ipv4("10.0.0.0/8")},
            r"DatabaseEndpoint: port = 0 is invalid: expected a TCP port",
        ),
        ({"port": True, "peer": ec2.Peer.ipv4("10.0.0.0/8")}, r"port = True is invalid"),
        ({}, r"DatabaseEndpoint: security_group/peer = \(None, None\) is invalid: expected exactly one"),
        ({"peer": "10.0.0.0/8"}, r"peer = '10.0.0.0/8' is invalid: expected an ec2.IPeer"),
        ({"security_group": "sg-123"}, r"security_group = 'sg-123' is invalid: expected an ec2.ISecurityGroup"),
    ],
)
def test_bad_database_endpoint(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DatabaseEndpoint(**kwargs)


@pytest.mark.parametrize("key", ["", "db:name", "db name", "x" * 129])
def test_bad_secret_field(key):
    with pytest.raises(ValueError, match=r"SecretFields: db_name = .* is invalid: expected a JSON key"):
        SecretFields(db_name=key)


def test_secret_fields_must_differ():
    with pytest.raises(ValueError, match=r"SecretFields: keys = 'host' is invalid: names must be unique"):
        SecretFields(username="host")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"migrate": ["mvn -B clean test"]},
            r"migrate\[0\] = 'mvn -B clean test' is invalid: Maven phase 'test' runs the tests",
        ),
        (
            {"migrate": ["cd db && ./mvnw verify"]},
            r"Maven phase 'verify' runs the tests, and tests never run against production",
        ),
        ({"migrate": ["mvn -B flyway:clean flyway:migrate"]}, r"Flyway clean is disabled for production targets"),
        ({"migrate": ["mvn process-resources -Dflyway.cleanDisabled=false"]}, r"Flyway clean is disabled"),
        ({"migrate": ["mvn -B process-resources || true"]}, r"must not hide its exit code"),
        ({"test": ["set +e", "mvn test"]}, r"test\[0\] = 'set \+e' is invalid: a command must not hide its exit code"),
        ({"test": ["mvn test; exit 0"]}, r"must not hide its exit code"),
        (
            {"test": ["mvn -B test -Dmaven.test.failure.ignore=true"]},
            r"test\[0\] = .* is invalid: -Dmaven.test.failure.ignore=true would let production migrate",
        ),
        (
            {"test": ["cd db", "./mvnw clean test -DskipTests"]},
            r"test\[1\] = .* is invalid: -DskipTests would let production",
        ),
        ({"test": []}, r"MigrationCommands: test = \[\] is invalid: expected at least one command"),
        ({"test": "mvn test"}, r"MigrationCommands: test = 'mvn test' is invalid: expected a list of shell commands"),
        ({"test": ["  "]}, r"test\[0\] = '  ' is invalid: expected a non-empty shell command"),
        (
            {"reports_directory": "/abs/reports"},
            r"reports_directory = '/abs/reports' is invalid: expected a path relative",
        ),
        ({"reports_directory": "../x"}, r"reports_directory = '../x' is invalid"),
        ({"reports_files": "*.xml"}, r"reports_files = '\*.xml' is invalid: expected a non-empty list of globs"),
        ({"runtime_versions": {"java": ""}}, r"runtime_versions\['java'\] = '' is invalid"),
    ],
)
def test_bad_commands(kwargs, message):
    props: dict[str, Any] = {"test": ["mvn -B clean test"], "migrate": ["mvn -B clean process-resources"]}
    props.update(kwargs)
    with pytest.raises(ValueError, match=message):
        MigrationCommands(**props)


def test_migrations_may_package_when_tests_are_skipped():
    commands = MigrationCommands(test=["mvn test"], migrate=["mvn -B package -DskipTests"])
    assert commands.migrate == ("mvn -B package -DskipTests",)


@pytest.mark.parametrize("directory", ["", "/srv/db", "../db"])
def test_bad_maven_directory(directory):
    with pytest.raises(
        ValueError, match=r"MigrationCommands.maven: directory = .* is invalid: expected a path relative"
    ):
        MigrationCommands.maven(directory=directory)


def test_maven_defaults_match_the_post():
    commands = MigrationCommands.maven()
    assert commands.test == ("mvn -B clean test -Dflyway.cleanDisabled=true",)
    assert commands.migrate == ("mvn -B clean process-resources -Dflyway.cleanDisabled=true",)
    assert commands.reports_directory == "target/surefire-reports"
    assert commands.reports_files == ("TEST-*.xml",)
