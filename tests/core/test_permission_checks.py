"""The early permissions check (core/permission_checks.py): where the check runs, what it exports, the
confirmation stage that is skipped only when the check passed, its IAM scope, and compliance."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_ssm as ssm
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from constructs import Construct
from core.deployment_model import SOURCE, target
from helpers import PIPELINE_ENV, pipeline_actions, pipeline_props, stage_names

from pipeline_constructs import SecurityGatedStage
from pipeline_constructs.core.permission_checks import (
    CONFIRM_ACTION,
    PASSED,
    RESULT_VARIABLE,
    UNCHECKED,
    PermissionCheck,
    check_commands,
)
from pipeline_constructs.core.pipeline import SecurePipeline
from pipeline_constructs.core.private.defaults import CDK_CLI_VERSION
from pipeline_constructs.core.targets import deploy_targets
from pipeline_constructs.testing import assert_no_unacknowledged_findings, deterministic_app

PROD_DEPLOY_ROLE = "arn:${AWS::Partition}:iam::222222222222:role/cdk-hnb659fds-deploy-role-222222222222-eu-west-1"


def with_asset(scope: Construct, id: str, t: Any) -> cdk.Stage:
    """A stage whose stack has a file asset (so the pipeline gets an Assets stage)."""
    stage = cdk.Stage(scope, id, env=t.env)
    stack = cdk.Stack(stage, "Svc")
    s3_assets.Asset(stack, "Script", path=__file__)
    ssm.StringParameter(stack, "P", string_value=t.name)
    return stage


def without_asset(scope: Construct, id: str, t: Any) -> cdk.Stage:
    stage = cdk.Stage(scope, id, env=t.env)
    ssm.StringParameter(cdk.Stack(stage, "Svc"), "P", string_value=t.name)
    return stage


def deploy(
    targets: list[Any], factory: Any = with_asset, context: dict[str, Any] | None = None
) -> tuple[cdk.App, cdk.Stack, dict[str, Any], Any]:
    app = deterministic_app(context=context)
    stack = cdk.Stack(app, "Delivery", env=PIPELINE_ENV)
    secure = SecurePipeline(
        stack, "Pipeline", synth=pipelines.ShellStep("Synth", input=SOURCE, commands=["x"]), targets=targets
    )
    added = deploy_targets(Construct(stack, "Owner"), secure.pipeline, targets, factory, secure=secure)
    return app, stack, pipeline_props(Template.from_stack(stack)), added


def stage(props: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in props["Stages"] if s["Name"] == name)


def action(props: dict[str, Any], stage_name: str, name: str) -> dict[str, Any]:
    return next(a for a in stage(props, stage_name)["Actions"] if a["Name"] == name)


DEV = target("Dev")
PROD = target("Prod", account="222222222222", security_gated=True, manual_approval=True)


@pytest.fixture(scope="module")
def built() -> tuple[cdk.App, cdk.Stack, dict[str, Any], Any]:
    return deploy([DEV, PROD])


def test_the_check_runs_in_the_assets_stage_beside_asset_publishing(built):
    _, _, props, _ = built
    assets = [(a, p, o) for s, a, p, o in pipeline_actions(props) if s == "Assets"]
    assert assets == [("FileAssets", "CodeBuild", 1), ("PermissionCheck-Prod", "CodeBuild", 1)]
    check = action(props, "Assets", "PermissionCheck-Prod")
    assert check["Namespace"] == "PermissionCheck-Prod"
    # it reads the cloud assembly, like the asset publishing next to it
    assert (
        check["InputArtifacts"] == action(props, "Assets", "FileAssets")["InputArtifacts"] == [{"Name": "Synth_Output"}]
    )
    env = {v["name"]: v["value"] for v in json.loads(_joined(check["Configuration"]["EnvironmentVariables"]))}
    assert env["STAGE_PATH"] == "Delivery/Owner/Prod"
    assert env["STAGE_NAME"] == "Prod-Permissions"
    assert env["ACTION_NAME"] == CONFIRM_ACTION
    assert env["NOTIFICATION_SUBJECT"] == "Confirm permission broadening in Prod"
    assert re.fullmatch(r"<Ref:OwnerProdGateTopic[0-9A-F]{8}>", env["NOTIFICATION_ARN"])


def _joined(value: Any) -> str:
    """A rendered ``Fn::Join`` with ``<Ref:X>`` for references (or the string itself)."""
    if isinstance(value, str):
        return value
    parts = value["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else f"<Ref:{p['Ref']}>" for p in parts)


def test_the_confirmation_is_alone_in_a_stage_before_the_target_skipped_only_when_the_check_passed(built):
    _, _, props, _ = built
    assert stage_names(props)[-3:] == ["Dev", "Prod-Permissions", "Prod"]
    confirm = stage(props, "Prod-Permissions")
    assert [a["Name"] for a in confirm["Actions"]] == [CONFIRM_ACTION]
    assert confirm["Actions"][0]["ActionTypeId"]["Provider"] == "Manual"
    assert confirm["Actions"][0]["Configuration"] == {
        "CustomData": "#{PermissionCheck-Prod.MESSAGE}",
        "ExternalEntityLink": "#{PermissionCheck-Prod.LINK}",
    }
    (condition,) = confirm["BeforeEntry"]["Conditions"]
    assert condition["Result"] == "SKIP"
    (rule,) = condition["Rules"]
    assert rule["RuleTypeId"]["Provider"] == "VariableCheck"
    # NE passed: only the one value proving nothing broadens skips; anything else enters (fail closed)
    assert rule["Configuration"] == {
        "Variable": f"#{{PermissionCheck-Prod.{RESULT_VARIABLE}}}",
        "Operator": "NE",
        "Value": PASSED,
    }


def test_the_target_stage_keeps_its_promotion_and_has_no_check_of_its_own(built):
    _, _, props, added = built
    assert [(a, p) for s, a, p, _ in pipeline_actions(props) if s == "Prod"] == [
        ("PromoteToProd", "Manual"),
        ("Svc.Prepare", "CloudFormation"),
        ("Svc.Deploy", "CloudFormation"),
    ]
    gate = added.gates["Prod"]
    assert isinstance(gate, SecurityGatedStage)
    assert isinstance(gate.permission_check, PermissionCheck)
    assert gate.permission_check.confirm_stage_name == "Prod-Permissions"
    assert gate.approval is not None


def _project(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((logical, project),) = [
        (k, v)
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::CodeBuild::Project" and k.startswith("OwnerProdGatePermissionCheckProject")
    ]
    return logical, project


def test_the_buildspec_pins_the_cli_and_exports_passed_only_from_a_passing_diff(built):
    _, stack, _, _ = built
    _, project = _project(Template.from_stack(stack).to_json())
    spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    assert spec["env"]["variables"] == {RESULT_VARIABLE: UNCHECKED}
    assert spec["env"]["exported-variables"] == ["LINK", "MESSAGE", RESULT_VARIABLE]
    commands = spec["phases"]["build"]["commands"]
    assert commands[0] == f"npm install -g aws-cdk@{CDK_CLI_VERSION}"
    (diff,) = [c for c in commands if "cdk diff" in c]
    then, otherwise = diff.split("\n else ")
    assert then.startswith("if cdk diff -a . --security-only --fail $STAGE_PATH/\\*")
    assert f"export {RESULT_VARIABLE}={PASSED}" in then
    assert PASSED not in otherwise
    assert "aws sns publish --topic-arn $NOTIFICATION_ARN" in otherwise
    assert not any("lambda invoke" in c for c in commands)  # no auto-approve function
    env = project["Properties"]["Environment"]
    assert (env["Image"], env["ComputeType"], env["PrivilegedMode"]) == (
        "aws/codebuild/amazonlinux2-x86_64-standard:5.0",
        "BUILD_GENERAL1_SMALL",
        False,
    )
    # logs to the pipeline's log group
    assert project["Properties"]["LogsConfig"]["CloudWatchLogs"]["GroupName"]["Ref"].startswith("PipelineBuildLogs")


def _role_statements(template: dict[str, Any], role_logical: str) -> list[dict[str, Any]]:
    return [
        s
        for v in template["Resources"].values()
        if v["Type"] == "AWS::IAM::Policy" and {"Ref": role_logical} in v["Properties"]["Roles"]
        for s in v["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions_of(statement: dict[str, Any]) -> set[str]:
    a = statement["Action"]
    return set(a if isinstance(a, list) else [a])


def test_the_project_may_assume_only_the_target_stacks_deploy_role_and_publish_only_to_the_gate_topic(built):
    _, stack, _, _ = built
    template = Template.from_stack(stack).to_json()
    _, project = _project(template)
    role = project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    statements = _role_statements(template, role)
    (assume,) = [s for s in statements if "sts:AssumeRole" in _actions_of(s)]
    assert assume["Resource"] == {"Fn::Sub": PROD_DEPLOY_ROLE}  # Prod's deploy role only: not Dev's, not '*'
    assert assume["Condition"] == {"ForAnyValue:StringEquals": {"iam:ResourceTag/aws-cdk:bootstrap-role": ["deploy"]}}
    (publish,) = [s for s in statements if "sns:Publish" in _actions_of(s)]
    assert re.fullmatch(r"OwnerProdGateTopic[0-9A-F]{8}", publish["Resource"]["Ref"])
    assert all(s["Resource"] != "*" for s in statements)
    services = {a.split(":")[0] for s in statements for a in _actions_of(s)}
    assert services == {"logs", "codebuild", "kms", "sns", "sts", "s3"}
    s3 = [s for s in statements if any(a.startswith("s3:") for a in _actions_of(s))]
    assert all(a.startswith(("s3:Get", "s3:List")) for s in s3 for a in _actions_of(s))  # reads its input only


def test_no_auto_approve_function_or_cdk_check_is_generated(built):
    _, stack, _, _ = built
    template = Template.from_stack(stack).to_json()
    assert not [k for k in template["Resources"] if "SecurityCheck" in k or "AutoApprove" in k]
    assert not [v for v in template["Resources"].values() if v["Type"] == "AWS::Lambda::Function"]
    tags = pipeline_props(Template.from_stack(stack)).get("Tags") or []
    assert {"Key": "SECURITY_CHECK", "Value": "ALLOW_APPROVE"} not in tags


def test_cdk_nag_finds_nothing_unacknowledged(built):
    app, _, _, _ = built
    assert_no_unacknowledged_findings(app)


def test_without_an_assets_stage_the_check_runs_at_the_end_of_build():
    _, _, props, _ = deploy([DEV, PROD], factory=without_asset)
    assert "Assets" not in stage_names(props)
    assert [(a, o) for s, a, _, o in pipeline_actions(props) if s == "Build"] == [
        ("Synth", 1),
        ("PermissionCheck-Prod", 2),
    ]
    assert action(props, "Build", "PermissionCheck-Prod")["InputArtifacts"] == [{"Name": "Synth_Output"}]
    assert stage_names(props)[-2:] == ["Prod-Permissions", "Prod"]


def test_two_gated_targets_each_get_a_check_and_a_confirmation_stage():
    staging = target("Staging", account="222222222222", security_gated=True)
    _, _, props, _ = deploy([DEV, staging, PROD])
    assert [a for s, a, _, _ in pipeline_actions(props) if s == "Assets"] == [
        "FileAssets",
        "PermissionCheck-Staging",
        "PermissionCheck-Prod",
    ]
    assert stage_names(props)[-5:] == ["Dev", "Staging-Permissions", "Staging", "Prod-Permissions", "Prod"]
    rule = stage(props, "Staging-Permissions")["BeforeEntry"]["Conditions"][0]["Rules"][0]
    assert rule["Configuration"]["Variable"] == "#{PermissionCheck-Staging.PERMISSIONS}"


@pytest.mark.parametrize("off", [False, "false"])
def test_a_team_default_turns_the_early_check_off(off):
    _, _, props, added = deploy([DEV, PROD], context={"pipeline-constructs:earlyPermissionChecks": off})
    assert "Prod-Permissions" not in stage_names(props)
    assert [a for s, a, _, _ in pipeline_actions(props) if s == "Prod"][:3] == [
        "PermissionCheck.Check",
        "PermissionCheck.Confirm",
        "PromoteToProd",
    ]
    assert isinstance(added.gates["Prod"].permission_check, pipelines.ConfirmPermissionsBroadening)


def test_a_bad_team_default_names_the_key():
    with pytest.raises(
        ValueError, match=r"context pipeline-constructs:earlyPermissionChecks = 'sometimes' is invalid: expected true"
    ):
        deploy([DEV, PROD], context={"pipeline-constructs:earlyPermissionChecks": "sometimes"})


# -- layout and limits ----------------------------------------------------------------------------------


def test_the_confirmation_stage_name_is_reserved():
    from pipeline_constructs.core.targets import validate_targets

    with pytest.raises(
        ValueError,
        match=r"targets\[1\]\.security_gated = 'Prod-Permissions' is invalid: expected a name no other stage or "
        r"target has: targets\[0\] is named 'Prod-Permissions'",
    ):
        validate_targets("App/P", [target("Prod-Permissions"), target("Prod", security_gated=True)])


def test_the_stage_count_estimate_counts_the_confirmation_stages():
    gated = [target(f"T{i}", security_gated=True) for i in range(24)]  # 3 + 24 + 24 = 51 stages
    with pytest.raises(ValueError, match=r"needs 51 \(3 of the pipeline itself.*24 permissions-confirmation stages\)"):
        deploy(gated, factory=without_asset)


# -- SecurityGatedStage used directly -------------------------------------------------------------------


def _secure() -> tuple[cdk.App, cdk.Stack, SecurePipeline]:
    app = deterministic_app()
    stack = cdk.Stack(app, "Delivery", env=PIPELINE_ENV)
    return (
        app,
        stack,
        SecurePipeline(
            stack,
            "Pipeline",
            synth=pipelines.ShellStep("Synth", input=SOURCE, commands=["x"]),
            cross_account_keys=True,
        ),
    )


def _prod(app: cdk.App, name: str = "Prod") -> cdk.Stage:
    return with_asset(app, name, target(name, account="222222222222"))


def test_a_direct_early_gate_adds_its_own_confirmation_stage():
    app, stack, secure = _secure()
    SecurityGatedStage(stack, "Gate", pipeline=secure.pipeline, stage=_prod(app), early_check=True)
    props = pipeline_props(Template.from_stack(stack))
    assert stage_names(props)[-2:] == ["Prod-Permissions", "Prod"]
    assert ("Assets", "PermissionCheck-Prod", "CodeBuild", 1) in pipeline_actions(props)
    assert_no_unacknowledged_findings(app)


def test_by_default_a_direct_gate_keeps_cdks_check_in_the_stage():
    app, stack, secure = _secure()
    gate = SecurityGatedStage(stack, "Gate", pipeline=secure.pipeline, stage=_prod(app))
    assert isinstance(gate.permission_check, pipelines.ConfirmPermissionsBroadening)
    props = pipeline_props(Template.from_stack(stack))
    assert "Prod-Permissions" not in stage_names(props)
    assert [a for s, a, _, _ in pipeline_actions(props) if s == "Prod"][:2] == [
        "PermissionCheck.Check",
        "PermissionCheck.Confirm",
    ]


def test_early_check_needs_a_secure_pipeline():
    app = deterministic_app()
    stack = cdk.Stack(app, "Team", env=PIPELINE_ENV)
    pipeline = pipelines.CodePipeline(stack, "P", synth=pipelines.ShellStep("Synth", input=SOURCE, commands=["x"]))
    with pytest.raises(ValueError, match=r"Team/Gate: early_check = True is invalid: expected a pipeline built by"):
        SecurityGatedStage(stack, "Gate", pipeline=pipeline, stage=_prod(app), early_check=True)


def test_confirm_wave_rules():
    app, stack, secure = _secure()
    with pytest.raises(ValueError, match=r"confirm_wave = .* is invalid: only used with early_check=True"):
        SecurityGatedStage(
            stack, "G1", pipeline=secure.pipeline, stage=_prod(app, "A"), confirm_wave=secure.pipeline.add_wave("W1")
        )
    busy = secure.pipeline.add_wave("Busy", post=[pipelines.ManualApprovalStep("Other")])
    with pytest.raises(ValueError, match=r"confirm_wave = 'Busy' is invalid: expected an empty wave"):
        SecurityGatedStage(
            stack, "G2", pipeline=secure.pipeline, stage=_prod(app, "B"), early_check=True, confirm_wave=busy
        )
    wave = secure.pipeline.add_wave("Prod")
    with pytest.raises(ValueError, match=r"confirm_wave = None is invalid: a gate added to a wave needs the empty"):
        SecurityGatedStage(stack, "G3", pipeline=wave, stage=_prod(app, "C"), early_check=True)
    later = secure.pipeline.add_wave("Later")
    with pytest.raises(ValueError, match=r"confirm_wave = 'Later' is invalid: expected a wave added before"):
        SecurityGatedStage(stack, "G4", pipeline=wave, stage=_prod(app, "D"), early_check=True, confirm_wave=later)


def test_a_step_added_to_the_confirmation_stage_later_fails_the_synth():
    app, stack, secure = _secure()
    gate = SecurityGatedStage(stack, "Gate", pipeline=secure.pipeline, stage=_prod(app), early_check=True)
    assert isinstance(gate.permission_check, PermissionCheck)
    (wave,) = [w for w in secure.pipeline.waves if w.id == "Prod-Permissions"]
    wave.add_post(pipelines.ShellStep("Sneaky", commands=["true"]))  # would be skipped with the confirmation
    with pytest.raises(RuntimeError, match=r"stage 'Prod-Permissions' must hold only the PermissionCheck.Confirm"):
        Template.from_stack(stack)


# -- the commands, run ---------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("node") is None or shutil.which("bash") is None, reason="needs node and bash")
@pytest.mark.parametrize(
    ("diff_status", "expected", "notified"), [(0, PASSED, False), (1, UNCHECKED, True), (2, UNCHECKED, True)]
)
def test_the_variable_is_passed_only_when_cdk_diff_exits_0(tmp_path: Path, diff_status, expected, notified):
    """The build commands in one bash (as CodeBuild runs a phase), with fake npm, cdk and aws."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    for name, status in (("npm", 0), ("cdk", diff_status), ("aws", 0)):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}"\nexit {status}\n')
        script.chmod(0o755)
    node_dir = str(Path(shutil.which("node") or "node").parent)
    env = {
        "PATH": f"{bin_dir}:{node_dir}:/usr/bin:/bin",
        "CODEBUILD_INITIATOR": "codepipeline/my-pipeline",
        "CODEBUILD_BUILD_ARN": "arn:aws:codebuild:eu-west-1:111111111111:build/Check:0b1c",
        "STAGE_PATH": "Delivery/Owner/Prod",
        "STAGE_NAME": "Prod-Permissions",
        "ACTION_NAME": CONFIRM_ACTION,
        "NOTIFICATION_ARN": "arn:aws:sns:eu-west-1:111111111111:gate",
        "NOTIFICATION_SUBJECT": "subject",
        RESULT_VARIABLE: UNCHECKED,  # the buildspec's env.variables
    }
    script = "\n".join([*check_commands("2.1000.0"), f'echo "RESULT=${RESULT_VARIABLE}"', 'echo "LINK=$LINK"'])
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=True, cwd=tmp_path)
    assert f"RESULT={expected}" in out.stdout.splitlines()
    assert "LINK=https://eu-west-1.console.aws.amazon.com/codesuite/codebuild/111111111111/projects/Check/build/" in (
        out.stdout
    )
    logged = calls.read_text().splitlines()
    assert logged[0] == "npm install -g aws-cdk@2.1000.0"
    assert logged[1] == "cdk diff -a . --security-only --fail Delivery/Owner/Prod/*"
    assert any(line.startswith("aws sns publish --topic-arn arn:aws:sns:") for line in logged) is notified
