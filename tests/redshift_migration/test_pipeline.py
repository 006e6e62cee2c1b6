"""RedshiftMigrationPipeline: the stages and gates per target, the shared props contract, the escape hatches."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from conftest import load_example
from helpers import pipeline_actions, pipeline_props, without_change_check
from redshift_migration.redshift_helpers import construct, database, project, target

from pipeline_constructs.core.compliance import add_compliance_checks, unacknowledged_findings
from pipeline_constructs.core.conditions import DeploymentWindow, HealthGate, OnFailure
from pipeline_constructs.core.options import CDK_CLI_VERSION
from pipeline_constructs.stages.security_gated import SecurityGatedStage
from pipeline_constructs.testing import deterministic_app

EXAMPLE = load_example("redshift_migration")


@pytest.fixture(scope="module")
def app() -> cdk.App:
    app = deterministic_app()
    add_compliance_checks(app)  # synth fails on any unacknowledged finding
    EXAMPLE.build_app(app)
    app.synth()
    return app


@pytest.fixture(scope="module")
def pipeline_stack(app) -> cdk.Stack:
    return app.node.find_child("RedshiftMigrationPipeline")


@pytest.fixture(scope="module")
def template(pipeline_stack) -> dict[str, Any]:
    return Template.from_stack(pipeline_stack).to_json()


def _actions(template: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    return pipeline_actions(pipeline_props(Template.from_json(template)))


def test_test_target_then_production_behind_the_permissions_check_and_promote_to_prod(template):
    assert _actions(template) == [
        ("Source", "example-org_redshift-migrations", "CodeStarSourceConnection", 1),
        ("Build", "Synth", "CodeBuild", 1),
        # no Assets stage: the early permissions check runs at the end of Build
        ("Build", "PermissionCheck-Prod", "CodeBuild", 2),
        ("UpdatePipeline", "SelfMutate", "CodeBuild", 1),
        ("Test", "Warehouse.Prepare", "CloudFormation", 1),
        ("Test", "Warehouse.Deploy", "CloudFormation", 2),
        ("Test", "MigrateAndTest", "CodeBuild", 3),
        ("Prod-Permissions", "PermissionCheck.Confirm", "Manual", 1),
        ("Prod", "PromoteToProd", "Manual", 1),
        ("Prod", "Warehouse.Prepare", "CloudFormation", 2),
        ("Prod", "Warehouse.Deploy", "CloudFormation", 3),
        ("Prod", "Migrate", "CodeBuild", 4),
    ]


def test_the_stage_factory_builds_each_targets_stage_in_its_environment(pipeline_stack):
    migrations = pipeline_stack.node.find_child("Migrations")
    assert list(migrations.stages) == ["Test", "Prod"]
    for name, stage in migrations.stages.items():
        assert stage.node.scope is migrations
        assert (stage.account, stage.region) == ("111111111111", "eu-west-1")
        assert stage.node.find_child("Warehouse") is not None
        assert name in migrations.deployments
    assert set(migrations.gates) == {"Prod"}
    assert isinstance(migrations.gates["Prod"], SecurityGatedStage)


def test_the_default_synth_installs_the_pinned_cli(template):
    spec = json.loads(project(template, "BuildSynthCdkBuildProject")["Source"]["BuildSpec"])
    assert without_change_check(spec["phases"]["build"]["commands"]) == [
        "pip install -r requirements.txt",
        f"npx -y aws-cdk@{CDK_CLI_VERSION} synth",
    ]


def test_prod_gate_notifies_the_dba_team(template):
    Template.from_json(template).has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "dba-team@example.com"}
    )


def test_builds_are_encrypted_with_the_rotating_artifact_key(template):
    for step in ("TestMigrateAndTest", "ProdMigrate"):
        assert project(template, step)["EncryptionKey"]["Fn::GetAtt"][0].startswith("MigrationsPipelineArtifactKey")
    keys = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    assert keys
    assert all(k["EnableKeyRotation"] for k in keys)


def test_warehouse_admin_password_comes_from_the_rotated_secret(pipeline_stack):
    stage = pipeline_stack.node.find_child("Migrations").stages["Test"]
    t = Template.from_stack(stage.node.find_child("Warehouse"))
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


# ---------------------------------------------------------------- without a stage factory


@pytest.fixture(scope="module")
def waves() -> tuple[Any, dict[str, Any]]:
    pipeline = construct(
        targets=[target("Test"), target("Prod", manual_approval=True, approval_comment="DBA approval")],
    )
    return pipeline, Template.from_stack(cdk.Stack.of(pipeline)).to_json()


def test_stage_less_targets_get_a_stage_each_and_prod_its_approval_first(waves):
    construct_, template = waves
    assert _actions(template)[3:] == [
        ("Test", "MigrateAndTest", "CodeBuild", 1),
        ("Prod", "PromoteToProd", "Manual", 1),
        ("Prod", "Migrate", "CodeBuild", 2),
    ]
    (stage,) = [s for s in pipeline_props(Template.from_json(template))["Stages"] if s["Name"] == "Prod"]
    assert stage["Actions"][0]["Configuration"]["CustomData"] == "DBA approval"
    assert (construct_.stages, construct_.deployments, construct_.gates) == ({}, {}, {})


def test_escape_hatches(waves):
    construct_, _ = waves
    assert set(construct_.migration_steps) == {"Test", "Prod"}
    assert set(construct_.build_roles) == {"Test", "Prod"}
    assert set(construct_.security_groups) == {"Test", "Prod"}
    assert set(construct_.test_reports) == {"Test"}
    assert construct_.secure_pipeline.pipeline is construct_.pipeline
    assert construct_.code_pipeline.node.path == "S/M/Pipeline/Pipeline/Pipeline"
    assert [t.name for t in construct_.targets] == ["Test", "Prod"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("wave", "Databases"),
        ("on_failure", OnFailure.rollback()),
        ("deployment_window", DeploymentWindow.weekdays()),
        ("health_gate", HealthGate()),
    ],
)
def test_without_a_stage_factory_the_deployment_model_is_refused_by_name(field, value):
    with pytest.raises(ValueError, match=rf"targets\[1\]\.{field}.*give a stage_factory"):
        construct(targets=[target("Test"), target("Prod", **{field: value})])


# ---------------------------------------------------------------- the shared props contract


def test_synth_commands_run_in_app_dir():
    pipeline = construct(synth_commands=["make synth"], app_dir="infra")
    synth = pipeline.pipeline.synth
    assert isinstance(synth, pipelines.CodeBuildStep)
    assert without_change_check(synth.commands) == ["cd infra", "make synth"]
    assert synth.primary_output is not None


def test_a_synth_step_of_your_own_is_used_as_it_is():
    mine = pipelines.ShellStep("Synth", input=pipelines.CodePipelineSource.git_hub("o/r", "main"), commands=["x"])
    assert construct(synth=mine).pipeline.synth is mine


@pytest.mark.parametrize(("prop", "value"), [("synth_commands", ["cdk synth"]), ("app_dir", "infra")])
def test_synth_excludes_synth_commands_and_app_dir(prop, value):
    mine = pipelines.ShellStep("Synth", commands=["x"])
    with pytest.raises(
        ValueError, match=rf"S/M: {prop} = .* is invalid: give either synth .* or synth_commands/app_dir"
    ):
        construct(synth=mine, **{prop: value})


def test_masked_synth_commands_are_refused():
    with pytest.raises(ValueError, match=r"S/M: synth_commands\[0\] = 'cdk synth \|\| true' is invalid: .*exit code"):
        construct(synth_commands=["cdk synth || true"])


@pytest.mark.parametrize("key", ["synth", "pipeline_name", "targets"])
def test_reserved_pipeline_options_name_the_prop(key):
    with pytest.raises(ValueError, match=rf"S/M: pipeline_options\['{key}'\] = .* is invalid: use the {key} prop"):
        construct(pipeline_options={key: None})


def test_removal_policy_is_read_from_pipeline_options_also_for_the_report_groups():
    pipeline = construct(pipeline_options={"removal_policy": cdk.RemovalPolicy.DESTROY})
    template = Template.from_stack(cdk.Stack.of(pipeline))
    for resource_type in ("AWS::CodeBuild::ReportGroup", "AWS::KMS::Key", "AWS::S3::Bucket"):
        resources = template.find_resources(resource_type)
        assert resources
        assert {r.get("DeletionPolicy") for r in resources.values()} == {"Delete"}, resource_type


def test_customer_managed_artifact_key_by_default_but_overridable():
    assert construct().secure_pipeline.cross_account_keys is True
    assert construct(pipeline_options={"cross_account_keys": False}).secure_pipeline.cross_account_keys is False


def test_security_gate_without_a_stage_factory_is_refused():
    with pytest.raises(ValueError, match=r"S/M: targets\[1\]\.security_gated = True is invalid: .* give stage_factory"):
        construct(targets=[target("Test"), target("Prod", manual_approval=True, security_gated=True)])


def test_the_stage_factory_must_return_a_stage():
    with pytest.raises(TypeError, match=r"S/M: stage_factory = 'x' is invalid"):
        construct(stage_factory=lambda scope, id, t: "x")


def test_stage_factory_with_a_security_gate_on_a_test_target():
    def factory(scope: Any, id: str, t: Any) -> cdk.Stage:
        stage = cdk.Stage(scope, id, env=t.env)
        cdk.CfnWaitConditionHandle(cdk.Stack(stage, "App"), "Marker")
        return stage

    pipeline = construct(
        targets=[target("Test", security_gated=True)],
        databases=lambda s: {"Test": database(s, "Test", peer=ec2.Peer.ipv4("10.1.0.0/24"))},
        stage_factory=factory,
    )
    actions = _actions(Template.from_stack(cdk.Stack.of(pipeline)).to_json())
    assert [action for stage, action, _, _ in actions if stage == "Test-Permissions"] == ["PermissionCheck.Confirm"]
    assert [action for stage, action, _, _ in actions if stage == "Test"] == [
        "App.Prepare",
        "App.Deploy",
        "MigrateAndTest",
    ]
