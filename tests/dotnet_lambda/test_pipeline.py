"""DotnetLambdaPipeline: the example pipeline's stages, gates, hardening, report and IAM scope."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import pipelines
from aws_cdk.assertions import Match, Template
from conftest import load_example
from syrupy.extensions.json import JSONSnapshotExtension

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.core.compliance import acknowledgments, unacknowledged_findings
from pipeline_constructs.dotnet_lambda.pipeline import DotnetLambdaFunction, DotnetLambdaPipeline
from pipeline_constructs.testing import deterministic_app, normalize_template

EXAMPLE = load_example("dotnet_lambda")
PROJECT = Path(EXAMPLE.HERE) / "src" / "HelloWorld"
HANDLER = "HelloWorld::HelloWorld.Function::FunctionHandler"


@pytest.fixture(scope="module")
def app() -> cdk.App:
    app = deterministic_app()
    EXAMPLE.build_app(app)
    app.synth()
    return app


@pytest.fixture(scope="module")
def template(app) -> Template:
    return Template.from_stack(app.node.find_child("DotnetLambdaPipeline"))


@pytest.fixture(scope="module")
def pipeline(template) -> dict:
    (resource,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    return resource["Properties"]


def _actions(pipeline: dict) -> list[tuple[str, str, str, int]]:
    return [
        (s["Name"], a["Name"], a["ActionTypeId"]["Provider"], a["RunOrder"])
        for s in pipeline["Stages"]
        for a in s["Actions"]
    ]


def test_stages_in_order_with_tests_in_synth(pipeline):
    assert pipeline["PipelineType"] == "V2"
    assert [s["Name"] for s in pipeline["Stages"]] == ["Source", "Build", "UpdatePipeline", "Assets", "Dev", "Prod"]


def test_at_most_three_codebuild_actions_before_first_deployment(pipeline):
    before = []
    for stage, _action, provider, _order in _actions(pipeline):
        if stage == "Dev":
            break
        if provider == "CodeBuild":
            before.append(stage)
    assert before == ["Build", "UpdatePipeline", "Assets"]


def test_one_asset_action_per_asset_type(pipeline):
    (assets,) = [s for s in pipeline["Stages"] if s["Name"] == "Assets"]
    assert [a["Name"] for a in assets["Actions"]] == ["FileAssets"]


def test_prod_is_gated_permission_check_then_approval_then_deploy(pipeline):
    prod = [(a, p, o) for s, a, p, o in _actions(pipeline) if s == "Prod"]
    assert prod == [
        ("PermissionCheck.Check", "CodeBuild", 1),
        ("PermissionCheck.Confirm", "Manual", 2),
        ("PromoteToProd", "Manual", 3),
        ("dotnet-lambda-Service.Prepare", "CloudFormation", 4),
        ("dotnet-lambda-Service.Deploy", "CloudFormation", 5),
    ]
    dev = [(a, p) for s, a, p, _ in _actions(pipeline) if s == "Dev"]
    assert "Manual" not in {p for _, p in dev}
    assert len(dev) == 2


def test_prod_deploys_cross_account(pipeline):
    (prod,) = [s for s in pipeline["Stages"] if s["Name"] == "Prod"]
    deploy = next(a for a in prod["Actions"] if a["Name"] == "dotnet-lambda-Service.Deploy")
    assert "222222222222" in json.dumps(deploy["RoleArn"])


def test_artifact_bucket_is_hardened(template):
    buckets = template.find_resources(
        "AWS::S3::Bucket",
        {
            "Properties": {
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {
                            "ServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": Match.any_value(),
                            }
                        }
                    ]
                }
            }
        },
    )
    (artifacts,) = buckets.values()
    props = artifacts["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert "DestinationBucketName" in props["LoggingConfiguration"]
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_every_kms_key_rotates(template):
    keys = template.find_resources("AWS::KMS::Key")
    assert len(keys) >= 3  # artifacts, build logs, security-gate topic
    assert all(k["Properties"]["EnableKeyRotation"] is True for k in keys.values())


def test_codebuild_logs_encrypted_with_retention(template):
    template.has_resource_properties("AWS::Logs::LogGroup", {"KmsKeyId": Match.any_value(), "RetentionInDays": 365})
    projects = template.find_resources("AWS::CodeBuild::Project")
    for project in projects.values():
        logs = project["Properties"]["LogsConfig"]["CloudWatchLogs"]
        assert logs["Status"] == "ENABLED"
        assert "GroupName" in logs


def test_synth_is_not_privileged_and_publishes_trx(template):
    projects = template.find_resources("AWS::CodeBuild::Project")
    synth = next(p for p in projects.values() if "dotnet test" in json.dumps(p["Properties"]["Source"]))
    assert synth["Properties"]["Environment"]["PrivilegedMode"] is False
    buildspec = json.dumps(synth["Properties"]["Source"]["BuildSpec"])
    assert "VISUALSTUDIOTRX" in buildspec
    assert "testresults" in buildspec
    assert buildspec.index("dotnet test") < buildspec.index("synth")
    template.has_resource_properties("AWS::CodeBuild::ReportGroup", {"Type": "TEST"})


def test_report_permissions_scoped_to_the_report_group(template):
    (group_id,) = template.find_resources("AWS::CodeBuild::ReportGroup").keys()
    statements = [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "codebuild:BatchPutTestCases" in json.dumps(s["Action"])
        and "report-group/*" not in json.dumps(s["Resource"])
        and "report-group/" not in json.dumps(s["Resource"])
    ]
    assert statements, "the synth role must be granted the report actions"
    for statement in statements:
        assert sorted(statement["Action"]) == [
            "codebuild:BatchPutTestCases",
            "codebuild:CreateReport",
            "codebuild:UpdateReport",
        ]
        assert statement["Resource"] == {"Fn::GetAtt": [group_id, "Arn"]}


def test_security_gate_topic_is_encrypted_and_subscribed(template):
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "platform-team@example.com"}
    )


def test_lambda_uses_current_dotnet_runtime_and_encrypted_logs(app):
    stage = app.node.find_child("DotnetLambdaPipeline").node.find_child("Delivery").node.find_child("Prod")
    template = Template.from_stack(stage.node.find_child("Service"))
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Runtime": "dotnet10", "Handler": HANDLER, "Architectures": ["arm64"], "TracingConfig": {"Mode": "Active"}},
    )
    template.has_resource_properties("AWS::Logs::LogGroup", {"KmsKeyId": Match.any_value(), "RetentionInDays": 365})


def test_no_unacknowledged_findings_in_five_packs(app):
    assert [str(f) for f in unacknowledged_findings(app)] == []


def test_acknowledgments_are_written_to_template_metadata_for_auditors(tmp_path):
    app = deterministic_app(outdir=str(tmp_path))
    from pipeline_constructs import add_compliance_checks

    add_compliance_checks(app)
    EXAMPLE.build_app(app)
    assembly = app.synth()
    template = assembly.get_stack_by_name("DotnetLambdaPipeline").template
    suppressed = [
        rule
        for r in template["Resources"].values()
        for rule in r.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert suppressed, "acknowledgments must land in Metadata.cdk_nag"
    assert all(len(rule["reason"]) >= 20 for rule in suppressed)
    assert len(acknowledgments(app)) >= len({r["id"] for r in suppressed})


def test_snapshot(template, snapshot):
    assert normalize_template(template.to_json()) == snapshot.use_extension(JSONSnapshotExtension)


# ---------------------------------------------------------------- bad input


def _pipeline(**overrides):
    stack = cdk.Stack(deterministic_app(), "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    props = {
        "source": pipelines.CodePipelineSource.git_hub("o/r", "main"),
        "targets": [DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1")],
        "project_dir": PROJECT,
        "handler": HANDLER,
    }
    props.update(overrides)
    return DotnetLambdaPipeline(stack, "P", **props)


@pytest.mark.parametrize(
    "handler",
    ["HelloWorld", "HelloWorld::FunctionHandler", "Hello World::A.B::C", "HelloWorld::HelloWorld.Function::", ""],
)
def test_malformed_handler(handler):
    with pytest.raises(ValueError, match=r"S/P: handler = .* is invalid: expected 'Assembly::Namespace.Class::Method'"):
        _pipeline(handler=handler)


def test_missing_project_dir(tmp_path):
    with pytest.raises(ValueError, match=r"project_dir = .*nope' is invalid: expected an existing directory"):
        _pipeline(project_dir=tmp_path / "nope")


def test_project_dir_without_csproj(tmp_path):
    with pytest.raises(
        ValueError, match=r"project_dir = .* is invalid: expected a directory holding the Lambda .csproj"
    ):
        _pipeline(project_dir=tmp_path)


def test_no_targets():
    with pytest.raises(ValueError, match=r"S/P: targets = \[\] is invalid: expected at least one"):
        _pipeline(targets=[])


def test_duplicate_targets():
    dev = DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1")
    with pytest.raises(ValueError, match="names must be unique"):
        _pipeline(targets=[dev, dev])


def test_bad_pipeline_name():
    with pytest.raises(ValueError, match=r"pipeline_name = 'no spaces allowed' is invalid"):
        _pipeline(pipeline_name="no spaces allowed")


def test_non_dotnet_runtime_is_rejected():
    from aws_cdk import aws_lambda as lambda_

    stack = cdk.Stack(deterministic_app(), "S")
    with pytest.raises(ValueError, match=r"S/F: runtime = 'python3.13' is invalid: expected a .NET runtime"):
        DotnetLambdaFunction(stack, "F", project_dir=PROJECT, handler=HANDLER, runtime=lambda_.Runtime.PYTHON_3_13)


def test_escape_hatches_let_a_team_add_a_stage():
    p = _pipeline()
    assert p.test_reports is None  # no test_project, no report group
    extra = cdk.Stage(cdk.Stage.of(p), "Extra", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    cdk.Stack(extra, "Nothing").node.add_metadata("x", "y")
    p.pipeline.add_stage(extra)
    names = [s.stage_name for s in p.secure_pipeline.code_pipeline.stages]
    assert names[-2:] == ["Dev", "Extra"]


# ---------------------------------------------------------------- local bundling


def test_local_bundling_runs_dotnet_lambda_package_when_dotnet_is_on_path(tmp_path, monkeypatch):
    from pipeline_constructs.dotnet_lambda.pipeline import _LocalDotnetBundling

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "argv.txt"
    fake = bin_dir / "dotnet"
    fake.write_text(f'#!/bin/sh\necho "$PWD $@" > {log}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    out = tmp_path / "out"
    assert _LocalDotnetBundling(PROJECT).try_bundle(str(out), image=cdk.DockerImage.from_registry("x")) is True
    cwd, *argv = log.read_text().split()
    assert cwd == str(PROJECT)
    assert argv == ["lambda", "package", "--configuration", "Release", "--output-package", f"{out}/function.zip"]


def test_local_bundling_defers_to_docker_without_dotnet(monkeypatch, tmp_path):
    from pipeline_constructs.dotnet_lambda.pipeline import _LocalDotnetBundling

    monkeypatch.setenv("PATH", str(tmp_path))
    assert _LocalDotnetBundling(PROJECT).try_bundle(str(tmp_path), image=cdk.DockerImage.from_registry("x")) is False
