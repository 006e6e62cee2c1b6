"""What the post-build hardening changes in what CDK Pipelines generates, read from the template."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sqs as sqs
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs import SecurePipeline, SecurityGatedStage
from pipeline_constructs.core.compliance.iam import flatten, iam_statement_problems
from pipeline_constructs.core.private.defaults import CDK_ASSETS_VERSION, CDK_CLI_VERSION
from pipeline_constructs.core.private.encryption import LOGS_KEY_SID
from pipeline_constructs.testing import deterministic_app

HOME = cdk.Environment(account="111111111111", region="eu-west-1")
PROD = cdk.Environment(account="222222222222", region="eu-west-1")
SOURCE = pipelines.CodePipelineSource.git_hub("o/r", "main")


class _AssetStage(cdk.Stage):
    def __init__(self, scope: Construct, id: str, *, env: cdk.Environment) -> None:
        super().__init__(scope, id, env=env)
        stack = cdk.Stack(self, "Svc")
        s3_assets.Asset(stack, "Asset", path=str(Path(__file__).parent))
        sqs.Queue(stack, "Q", enforce_ssl=True)


def _synth(tmp: Path, *, context: dict | None = None, team_pipeline: bool = False, **options) -> dict:
    app = deterministic_app(outdir=str(tmp), context=context)
    stack = cdk.Stack(app, "P", env=HOME)
    synth = pipelines.ShellStep("Synth", input=SOURCE, commands=["cdk synth"])
    if team_pipeline:
        pipeline = pipelines.CodePipeline(stack, "Pipeline", synth=synth, cross_account_keys=True)
    else:
        pipeline = SecurePipeline(stack, "Pipeline", synth=synth, cross_account_keys=True, **options).pipeline
    SecurityGatedStage(stack, "Gate", pipeline=pipeline, stage=_AssetStage(app, "Prod", env=PROD))
    pipeline.add_stage(_AssetStage(app, "Other", env=cdk.Environment(account="333333333333", region="eu-west-1")))
    app.synth()
    return json.loads((tmp / "P.template.json").read_text())


@pytest.fixture(scope="module")
def outdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hardened")


@pytest.fixture(scope="module")
def template(outdir) -> dict:
    return _synth(outdir)


def _role_statements(template: dict, role_id: str) -> list[dict]:
    out = []
    for resource in template["Resources"].values():
        roles = resource.get("Properties", {}).get("Roles") or []
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and {"Ref": role_id} in roles:
            out += resource["Properties"]["PolicyDocument"]["Statement"]
    return out


def _resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _statements(template: dict, logical_prefix: str) -> list[dict]:
    out = []
    for key, resource in template["Resources"].items():
        if key.startswith(logical_prefix) and resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            out += resource["Properties"]["PolicyDocument"]["Statement"]
    return out


def _with_action(statements: list[dict], action: str) -> list[dict]:
    return [s for s in statements if action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_asset_role_starts_only_the_asset_projects(template):
    projects = {k for k, v in _resources(template, "AWS::CodeBuild::Project").items() if "Assets" in k}
    assert projects
    (start,) = _with_action(_statements(template, "PipelineAssetsFileRole"), "codebuild:StartBuild")
    assert {flatten(r) for r in _as_list(start["Resource"])} == {f"<{p}.Arn>" for p in projects}
    logs = _with_action(_statements(template, "PipelineAssetsFileRole"), "logs:CreateLogGroup")
    assert {flatten(r) for s in logs for r in _as_list(s["Resource"])} == {
        f"arn:<AWS::Partition>:logs:eu-west-1:111111111111:log-group:/aws/codebuild/<{p}>{suffix}"
        for p in projects
        for suffix in ("", ":*")
    }


def test_permission_check_assumes_only_the_gated_stacks_deploy_roles(template):
    (assume,) = _with_action(
        _statements(template, "PipelinePipelinesSecurityCheckCDKSecurityCheckRole"), "sts:AssumeRole"
    )
    assert [flatten(r) for r in _as_list(assume["Resource"])] == [
        "arn:<AWS::Partition>:iam::222222222222:role/cdk-hnb659fds-deploy-role-222222222222-eu-west-1"
    ]
    # CDK's tag condition stays: the role must also be a CDK deploy role
    assert assume["Condition"] == {"ForAnyValue:StringEquals": {"iam:ResourceTag/aws-cdk:bootstrap-role": ["deploy"]}}


def _buildspec(template: dict, logical_prefix: str) -> str:
    (project,) = [v for k, v in _resources(template, "AWS::CodeBuild::Project").items() if k.startswith(logical_prefix)]
    return flatten(project["Properties"]["Source"]["BuildSpec"])


def test_every_generated_action_installs_the_pinned_clis(template, outdir):
    assert f"npm install -g aws-cdk@{CDK_CLI_VERSION}" in _buildspec(template, "PipelinePipelinesSecurityCheck")
    assert f"npm install -g aws-cdk@{CDK_CLI_VERSION}" in _buildspec(template, "PipelineUpdatePipelineSelfMutation")
    asset_specs = " ".join(p.read_text() for p in outdir.glob("buildspec-*.yaml"))
    assert f"cdk-assets@{CDK_ASSETS_VERSION}" in asset_specs
    assert not re.search(
        r"(aws-cdk|cdk-assets)(?!@)\b(?![-\w])", _buildspec(template, "PipelinePipelinesSecurityCheck")
    )


def test_team_defaults_and_explicit_versions_pin_the_clis(tmp_path):
    team = _synth(tmp_path / "team", context={"pipeline-constructs:cdkCliVersion": "2.1100.0"})
    assert "npm install -g aws-cdk@2.1100.0" in _buildspec(team, "PipelinePipelinesSecurityCheck")
    explicit = _synth(tmp_path / "explicit", cli_version="2.1120.3")
    assert "npm install -g aws-cdk@2.1120.3" in _buildspec(explicit, "PipelineUpdatePipelineSelfMutation")
    with pytest.raises(ValueError, match=r"P/Pipeline: cli_version = 'latest' is invalid: expected a CDK CLI version"):
        _synth(tmp_path / "bad", cli_version="latest")
    with pytest.raises(ValueError, match=r"context pipeline-constructs:cdkAssetsVersion = '\^4' is invalid"):
        _synth(tmp_path / "bad2", context={"pipeline-constructs:cdkAssetsVersion": "^4"})


def test_self_mutation_reads_only_this_accounts_stacks_and_buckets(template):
    statements = _statements(template, "PipelineUpdatePipelineSelfMutationRole")
    (describe,) = _with_action(statements, "cloudformation:DescribeStacks")
    assert flatten(describe["Resource"]) == "arn:<AWS::Partition>:cloudformation:*:111111111111:stack/*"
    (listing,) = _with_action(statements, "s3:ListBucket")
    assert listing["Resource"] == "*"
    assert listing["Condition"] == {"StringEquals": {"s3:ResourceAccount": "111111111111"}}


def _auto_approve(template: dict) -> tuple[dict, dict, str]:
    (function,) = [v for k, v in _resources(template, "AWS::Lambda::Function").items() if "AutoApprove" in k]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return function["Properties"], template["Resources"][role_id]["Properties"], role_id


def test_auto_approve_logs_only_to_its_own_encrypted_log_group(template):
    function, role, role_id = _auto_approve(template)
    assert "ManagedPolicyArns" not in role
    group_id = function["LoggingConfig"]["LogGroup"]["Ref"]
    group = template["Resources"][group_id]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert "KmsKeyId" in group["Properties"]
    logs = _with_action(_role_statements(template, role_id), "logs:PutLogEvents")
    assert [flatten(s["Resource"]) for s in logs] == [f"<{group_id}.Arn>"]


def test_auto_approve_failures_go_to_an_encrypted_queue_with_an_alarm_to_the_gate_topic(template):
    function, _, _ = _auto_approve(template)
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["MemorySize"] == 256
    queue_id = function["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0]
    queue = template["Resources"][queue_id]["Properties"]
    assert "KmsMasterKeyId" in queue
    (alarm,) = _resources(template, "AWS::CloudWatch::Alarm").values()
    dimensions = alarm["Properties"]["Dimensions"]
    assert [flatten(d["Value"]) for d in dimensions] == [f"<{queue_id}.QueueName>"]
    (topic_id,) = _resources(template, "AWS::SNS::Topic")
    assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    (topic_policy,) = _resources(template, "AWS::SNS::TopicPolicy").values()
    principals = [s.get("Principal") for s in topic_policy["Properties"]["PolicyDocument"]["Statement"]]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals


def test_the_check_invokes_the_auto_approve_function_asynchronously(template):
    """The claim behind the dead-letter queue: the check's buildspec uses --invocation-type Event."""
    assert "aws lambda invoke --function-name" in _buildspec(template, "PipelinePipelinesSecurityCheck")
    assert "--invocation-type Event" in _buildspec(template, "PipelinePipelinesSecurityCheck")


def test_logs_keys_serve_only_the_log_groups_they_encrypt(template):
    for key_id, key in _resources(template, "AWS::KMS::Key").items():
        statements = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == LOGS_KEY_SID]
        if not statements:
            continue
        (statement,) = statements
        allowed = {flatten(a) for a in statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]}
        encrypted = {
            f"arn:<AWS::Partition>:logs:eu-west-1:111111111111:log-group:{g['Properties']['LogGroupName']}"
            for g in _resources(template, "AWS::Logs::LogGroup").values()
            if g["Properties"].get("KmsKeyId") == {"Fn::GetAtt": [key_id, "Arn"]}
        }
        assert allowed == encrypted
        assert encrypted


def test_generated_roles_never_trust_the_account_root_whatever_the_app_says(tmp_path):
    flags = dict.fromkeys(
        ("@aws-cdk/pipelines:reduceAssetRoleTrustScope", "@aws-cdk/pipelines:reduceStageRoleTrustScope"), False
    )
    template = _synth(tmp_path, context=flags)
    assert [p for p in iam_statement_problems(template) if p.rule == "account-root-trust"] == []


def test_on_a_team_pipeline_the_gate_hardens_the_check_only(tmp_path):
    template = _synth(tmp_path, team_pipeline=True)
    function, role, _ = _auto_approve(template)
    assert "ManagedPolicyArns" not in role
    assert "DeadLetterConfig" in function
    (assume,) = _with_action(
        _statements(template, "PipelinePipelinesSecurityCheckCDKSecurityCheckRole"), "sts:AssumeRole"
    )
    assert assume["Resource"] != "*"
    # the team's own asset role is left as CDK made it
    (start,) = _with_action(_statements(template, "PipelineAssetsFileRole"), "codebuild:StartBuild")
    assert start["Resource"] == "*"


# -- after_build: the one post-build mechanism ---------------------------------------------------------


def test_after_build_rules_run_once_after_the_build_in_the_order_added():
    from aws_cdk.assertions import Template

    from pipeline_constructs.core.compliance.hardening import after_build

    app = deterministic_app()
    stack = cdk.Stack(app, "Team", env=HOME)
    synth = pipelines.ShellStep("Synth", input=SOURCE, commands=["x"])
    pipeline = pipelines.CodePipeline(stack, "Pipeline", synth=synth, cross_account_keys=True)
    pipeline.add_stage(_AssetStage(app, "Prod", env=PROD))
    seen: list[tuple[str, bool]] = []

    def rule(name: str):
        def run() -> None:
            # The pipeline is built: CDK Pipelines' generated projects exist when the rule runs.
            generated = any(isinstance(c, codebuild.Project) for c in pipeline.node.find_all())
            seen.append((name, generated))

        return run

    after_build(pipeline, rule("first"))
    after_build(pipeline, rule("second"))
    assert seen == []  # nothing runs before synth
    app.synth()
    Template.from_stack(stack)  # a second synthesis visits the aspects again
    assert seen == [("first", True), ("second", True)]
