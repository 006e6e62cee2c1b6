"""DotnetLambdaPipeline: the example pipeline's stages, gates, hardening, report and IAM scope; the props contract."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import pipelines
from aws_cdk.assertions import Match, Template
from conftest import load_example
from helpers import (
    pipeline_actions,
    pipeline_props,
    pipeline_stack,
    policy_statements,
    stage_names,
    without_change_check,
)

from pipeline_constructs import DeploymentTarget, TestReports
from pipeline_constructs.core.compliance import acknowledgments, unacknowledged_findings
from pipeline_constructs.dotnet_lambda import (
    DOTNET_INSTALL_SCRIPT_SHA256,
    LAMBDA_TOOLS_VERSION,
    DotnetLambdaPipeline,
    DotnetLambdaStage,
)
from pipeline_constructs.testing import deterministic_app

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
    return pipeline_props(template)


def test_stages_in_order_with_tests_in_synth(pipeline):
    assert pipeline["PipelineType"] == "V2"
    assert stage_names(pipeline) == ["Source", "Build", "UpdatePipeline", "Assets", "Dev", "Prod-Permissions", "Prod"]


def test_at_most_three_codebuild_actions_before_first_deployment(pipeline):
    before = []
    for stage, _action, provider, order in pipeline_actions(pipeline):
        if stage == "Dev":
            break
        if provider == "CodeBuild" and (stage, order) not in before:
            before.append((stage, order))  # actions of one run order start side by side: one serial start
    assert before == [("Build", 1), ("UpdatePipeline", 1), ("Assets", 1)]


def test_one_asset_action_per_asset_type(pipeline):
    (assets,) = [s for s in pipeline["Stages"] if s["Name"] == "Assets"]
    assert [a["Name"] for a in assets["Actions"]] == ["FileAssets", "PermissionCheck-Prod"]  # and Prod's check


def test_prod_is_gated_permission_check_then_approval_then_deploy(pipeline):
    prod = [(a, p, o) for s, a, p, o in pipeline_actions(pipeline) if s == "Prod"]
    assert prod == [
        ("PromoteToProd", "Manual", 1),
        ("dotnet-lambda-Service.Prepare", "CloudFormation", 2),
        ("dotnet-lambda-Service.Deploy", "CloudFormation", 3),
    ]
    # the permissions check ran in Assets; its confirmation is alone in the stage before, skipped when nothing broadens
    assert ("Assets", "PermissionCheck-Prod", "CodeBuild", 1) in pipeline_actions(pipeline)
    (confirm,) = [s for s in pipeline["Stages"] if s["Name"] == "Prod-Permissions"]
    assert [a["Name"] for a in confirm["Actions"]] == ["PermissionCheck.Confirm"]
    assert confirm["BeforeEntry"]["Conditions"][0]["Result"] == "SKIP"
    dev = [(a, p) for s, a, p, _ in pipeline_actions(pipeline) if s == "Dev"]
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
        for s in policy_statements(template, "AWS::IAM::Policy")
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


# ---------------------------------------------------------------- bad input


def _pipeline(**overrides):
    stack = pipeline_stack(deterministic_app(), "S")
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


def test_escape_hatches_let_a_team_add_a_stage():
    p = _pipeline()
    assert p.test_reports == {}  # no test_project, no report group
    extra = cdk.Stage(cdk.Stage.of(p), "Extra", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    cdk.Stack(extra, "Nothing").node.add_metadata("x", "y")
    p.pipeline.add_stage(extra)
    names = [s.stage_name for s in p.secure_pipeline.code_pipeline.stages]
    assert names[-2:] == ["Dev", "Extra"]


# ---------------------------------------------------------------- the synth action installs pinned tools


def _synth_buildspec(template: Template) -> str:
    projects = template.find_resources("AWS::CodeBuild::Project")
    (synth,) = [p for p in projects.values() if "cdk.out" in json.dumps(p["Properties"]["Source"].get("BuildSpec", ""))]
    return json.dumps(synth["Properties"]["Source"]["BuildSpec"])


def test_the_synth_action_verifies_the_install_script_and_pins_lambda_tools(template):
    buildspec = _synth_buildspec(template)
    assert buildspec.index("sha256sum -c") < buildspec.index("bash /tmp/dotnet-install.sh")
    assert DOTNET_INSTALL_SCRIPT_SHA256 in buildspec
    assert f"Amazon.Lambda.Tools --version {LAMBDA_TOOLS_VERSION}" in buildspec
    assert "dot.net/v1" not in buildspec  # the unpinned redirect


def test_bundle_in_docker_runs_the_synth_privileged_without_installing_the_sdk():
    p = _pipeline(bundle_in_docker=True)
    template = Template.from_stack(cdk.Stack.of(p))
    buildspec = _synth_buildspec(template)
    assert "dotnet-install.sh" not in buildspec
    synth = [
        r
        for r in template.find_resources("AWS::CodeBuild::Project").values()
        if "cdk.out" in json.dumps(r["Properties"]["Source"].get("BuildSpec", ""))
    ]
    assert synth[0]["Properties"]["Environment"]["PrivilegedMode"] is True


# ---------------------------------------------------------------- the props contract


def test_synth_commands_run_in_app_dir_after_the_tests_at_the_repository_root():
    p = _pipeline(test_project="test/HelloWorld.Tests", app_dir="infra/app", synth_commands=["make synth"])
    commands = without_change_check(p.pipeline.synth.commands)
    assert commands[0].startswith("dotnet test test/HelloWorld.Tests ")
    assert commands[1:] == ["cd infra/app", "make synth"]
    assert '\\"base-directory\\": \\"infra/app/cdk.out\\"' in _synth_buildspec(Template.from_stack(cdk.Stack.of(p)))


def test_default_synth_commands_use_the_pipelines_cli_version():
    p = _pipeline(pipeline_options={"cli_version": "2.1100.0"})
    assert without_change_check(p.pipeline.synth.commands) == [
        "pip install -r requirements.txt",
        "npx -y aws-cdk@2.1100.0 synth",
    ]


def test_a_synth_step_of_your_own_is_the_synth_step():
    own = pipelines.ShellStep("Synth", input=pipelines.CodePipelineSource.git_hub("o/r", "main"), commands=["x"])
    p = _pipeline(synth=own)
    assert p.pipeline.synth is own
    assert p.test_reports == {}


@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ("synth_commands", ["cdk synth"]),
        ("app_dir", "infra"),
        ("test_project", "test/HelloWorld.Tests"),
        ("dotnet_channel", "LTS"),
    ],
)
def test_synth_with_a_prop_of_the_default_synth_step_is_an_error_naming_it(prop, value):
    own = pipelines.ShellStep("Synth", input=pipelines.CodePipelineSource.git_hub("o/r", "main"), commands=["x"])
    with pytest.raises(ValueError, match=rf"^S/P: {prop} = .* is invalid: .*synth"):
        _pipeline(synth=own, **{prop: value})


@pytest.mark.parametrize(
    ("key", "prop"),
    [
        ("docker_enabled_for_synth", "bundle_in_docker"),
        ("synth", "synth"),
        ("pipeline_name", "pipeline_name"),
        ("targets", "targets"),
    ],
)
def test_reserved_pipeline_options_name_the_prop_to_use(key, prop):
    with pytest.raises(ValueError, match=rf"^S/P: pipeline_options\['{key}'\] = .* use the {prop} prop"):
        _pipeline(pipeline_options={key: True})


def test_cross_account_keys_is_a_pipeline_option_not_a_prop():
    with pytest.raises(TypeError, match="cross_account_keys"):
        _pipeline(cross_account_keys=True)
    assert _pipeline(pipeline_options={"cross_account_keys": False}).secure_pipeline.cross_account_keys is False
    assert _pipeline(pipeline_options={"cross_account_keys": True}).secure_pipeline.artifact_key is not None


def test_test_reports_holds_the_unit_test_report_group(app):
    p = app.node.find_child("DotnetLambdaPipeline").node.find_child("Delivery")
    assert list(p.test_reports) == ["UnitTests"]
    reports = p.test_reports["UnitTests"]
    assert isinstance(reports, TestReports)
    assert reports.format.value == "VISUALSTUDIOTRX"
    assert reports.base_directory == "testresults"


def test_only_manual_approval_targets_get_a_promote_to_approval_named_after_them():
    targets = [
        DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1"),
        DeploymentTarget(name="Staging", account="111111111111", region="eu-west-1", manual_approval=True),
        DeploymentTarget(name="Prod", account="222222222222", region="eu-west-1", manual_approval=True),
    ]
    p = _pipeline(targets=targets)
    actions = pipeline_actions(pipeline_props(Template.from_stack(cdk.Stack.of(p))))
    manual = [(stage, action) for stage, action, provider, _ in actions if provider == "Manual"]
    assert manual == [("Staging", "PromoteToStaging"), ("Prod", "PromoteToProd")]
    assert p.gates == {}  # none is security_gated


def test_escape_hatches_name_each_targets_stage_deployment_and_gate():
    targets = [
        DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1"),
        DeploymentTarget(name="Prod", account="222222222222", region="eu-west-1", security_gated=True),
    ]
    p = _pipeline(targets=targets, pipeline_name="orders")
    assert list(p.stages) == list(p.deployments) == ["Dev", "Prod"]
    assert list(p.gates) == ["Prod"]
    assert all(isinstance(s, DotnetLambdaStage) for s in p.stages.values())
    assert [s.stack.stack_name for s in p.stages.values()] == ["Dev-orders-Service", "Prod-orders-Service"]
    assert pipeline_props(Template.from_stack(cdk.Stack.of(p)))["Name"] == "orders"
    assert (
        p.code_pipeline.node.path == p.secure_pipeline.pipeline.pipeline.node.path == "S/P/Pipeline/Pipeline/Pipeline"
    )


def test_a_stage_factory_deploys_the_teams_stage_per_target():
    calls = []

    def factory(scope, id, target):
        calls.append(target.name)
        stage = cdk.Stage(scope, id, env=target.env)
        cdk.CfnWaitConditionHandle(cdk.Stack(stage, "App"), "Marker")
        return stage

    p = _pipeline(stage_factory=factory)
    assert calls == ["Dev"]
    assert not any(isinstance(s, DotnetLambdaStage) for s in p.stages.values())


def test_a_stage_factory_returning_something_else_is_an_error_naming_it():
    with pytest.raises(TypeError, match=r"^S/P: stage_factory = .* expected the factory to return an aws_cdk.Stage"):
        _pipeline(stage_factory=lambda scope, id, target: "not a stage")
