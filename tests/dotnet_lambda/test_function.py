"""DotnetLambdaFunction: defaults, hardening, bundling (local, Docker) and the packaging rule without tools."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template
from conftest import EXAMPLES
from helpers import policy_statements

import pipeline_constructs.dotnet_lambda.function as function_module
from pipeline_constructs.dotnet_lambda import LAMBDA_TOOLS_VERSION, BundlingUnavailableError, DotnetLambdaFunction
from pipeline_constructs.dotnet_lambda.function import _bundling, _LocalDotnetBundling
from pipeline_constructs.testing import deterministic_app

PROJECT = EXAMPLES / "dotnet_lambda" / "src" / "HelloWorld"
HANDLER = "HelloWorld::HelloWorld.Function::FunctionHandler"
NOT_PACKAGED = "pipeline-constructs: .NET function not packaged"


def _template(**kwargs: object) -> Template:
    stack = cdk.Stack(deterministic_app(), "S")
    DotnetLambdaFunction(stack, "F", project_dir=PROJECT, handler=HANDLER, **kwargs)
    return Template.from_stack(stack)


def test_defaults_current_dotnet_arm_tracing_and_encrypted_logs():
    template = _template()
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "dotnet10",
            "Handler": HANDLER,
            "Architectures": ["arm64"],
            "MemorySize": 512,
            "Timeout": 30,
            "TracingConfig": {"Mode": "Active"},
            "DeadLetterConfig": {"TargetArn": Match.any_value()},
        },
    )
    template.has_resource_properties("AWS::Logs::LogGroup", {"KmsKeyId": Match.any_value(), "RetentionInDays": 365})
    template.has_resource_properties("AWS::SQS::Queue", {"KmsMasterKeyId": Match.any_value()})


def test_the_role_writes_only_to_its_own_log_group():
    template = _template()
    roles = template.find_resources("AWS::IAM::Role")
    assert all("ManagedPolicyArns" not in r["Properties"] for r in roles.values())  # no AWSLambdaBasicExecutionRole
    log_writes = [
        s
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for s in policy_statements(template, kind)
        if "logs:PutLogEvents" in json.dumps(s["Action"])
    ]
    assert log_writes
    assert all("*" not in json.dumps(s["Resource"]).replace(":*", "") for s in log_writes)


def test_function_props_win_and_a_team_dead_letter_queue_replaces_ours():
    stack = cdk.Stack(deterministic_app(), "S")
    queue = sqs.Queue(stack, "Theirs", enforce_ssl=True)
    fn = DotnetLambdaFunction(
        stack,
        "F",
        project_dir=PROJECT,
        handler=HANDLER,
        memory_size=1024,
        function_props={"dead_letter_queue": queue, "description": "from the team"},
    )
    assert fn.dead_letter_queue is None
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SQS::Queue", 1)
    template.has_resource_properties("AWS::Lambda::Function", {"MemorySize": 1024, "Description": "from the team"})


def test_a_team_role_is_used_as_given():
    stack = cdk.Stack(deterministic_app(), "S")
    role = iam.Role(stack, "TeamRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    fn = DotnetLambdaFunction(stack, "F", project_dir=PROJECT, handler=HANDLER, function_props={"role": role})
    assert fn.function.role is role
    assert fn.node.try_find_child("ServiceRole") is None


def test_non_dotnet_runtime_is_rejected():
    stack = cdk.Stack(deterministic_app(), "S")
    with pytest.raises(ValueError, match=r"S/F: runtime = 'python3.13' is invalid: expected a .NET runtime"):
        DotnetLambdaFunction(stack, "F", project_dir=PROJECT, handler=HANDLER, runtime=lambda_.Runtime.PYTHON_3_13)


def test_a_function_prop_of_its_own_is_refused_naming_the_prop_to_use():
    stack = cdk.Stack(deterministic_app(), "S")
    with pytest.raises(ValueError, match=r"function_props\['timeout'\] = .* use the timeout prop"):
        DotnetLambdaFunction(
            stack, "F", project_dir=PROJECT, handler=HANDLER, function_props={"timeout": cdk.Duration.seconds(5)}
        )


# ---------------------------------------------------------------- bundling


def test_docker_bundling_installs_the_pinned_lambda_tools_then_packages():
    options = _bundling(lambda_.Runtime.DOTNET_10, PROJECT)
    assert options.command[:2] == ["bash", "-c"]
    script = options.command[2]
    install = f"dotnet tool install -g Amazon.Lambda.Tools --version {LAMBDA_TOOLS_VERSION}"
    assert install in script
    assert script.index(install) < script.index("dotnet lambda package")
    assert "--output-package /asset-output/function.zip" in script
    assert options.output_type == cdk.BundlingOutput.ARCHIVED


def test_local_bundling_runs_dotnet_lambda_package_when_dotnet_is_on_path(tmp_path, monkeypatch):
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
    monkeypatch.setenv("PATH", str(tmp_path))
    assert _LocalDotnetBundling(PROJECT).try_bundle(str(tmp_path), image=cdk.DockerImage.from_registry("x")) is False


# ---------------------------------------------------------------- the packaging rule without dotnet or Docker


@pytest.fixture
def no_tools(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CDK_DOCKER", raising=False)
    monkeypatch.delenv("CODEBUILD_BUILD_ID", raising=False)
    monkeypatch.setattr(function_module, "_WARNED", set())
    return function_module


def _function(context: dict[str, object]) -> DotnetLambdaFunction:
    stack = cdk.Stack(cdk.App(context=context), "S")
    return DotnetLambdaFunction(stack, "F", project_dir=PROJECT, handler=HANDLER)


def test_without_tools_auto_mode_warns_once_and_keeps_the_source(no_tools, capsys):
    first, second = _function({}), _function({})
    assert first.packaged is False
    assert second.packaged is False
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(lines) == 1
    assert lines[0].startswith(NOT_PACKAGED)


def test_without_tools_packaging_required_is_one_clear_error(no_tools):
    with pytest.raises(BundlingUnavailableError) as raised:
        _function({"pipeline-constructs:bundling": True})
    message = str(raised.value)
    assert "\n" not in message
    assert "S/F: cannot package the .NET function" in message
    assert "cdk synth -c pipeline-constructs:bundling=false" in message
    assert f"dotnet tool install -g Amazon.Lambda.Tools --version {LAMBDA_TOOLS_VERSION}" in message


def test_inside_codebuild_a_missing_tool_is_an_error(no_tools, monkeypatch):
    monkeypatch.setenv("CODEBUILD_BUILD_ID", "build:1")
    with pytest.raises(BundlingUnavailableError, match="neither `dotnet` nor a running Docker engine"):
        _function({})


def test_a_docker_cli_without_an_engine_does_not_count(no_tools, tmp_path, capsys):
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    fake.chmod(0o755)
    assert _function({}).packaged is False
    assert NOT_PACKAGED in capsys.readouterr().err


def test_bundling_off_or_not_selected_never_packages_nor_warns(no_tools, capsys):
    assert _function({"pipeline-constructs:bundling": "false"}).packaged is False
    assert _function({"aws:cdk:bundling-stacks": []}).packaged is False
    assert capsys.readouterr().err == ""


def test_with_dotnet_on_path_the_function_is_packaged(no_tools, tmp_path, monkeypatch):
    fake = tmp_path / "dotnet"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setattr(cdk.Stack, "bundling_required", property(lambda self: False), raising=False)
    stack = cdk.Stack(cdk.App(), "S")
    assert no_tools._should_package(stack) is False  # nothing selected for bundling
    monkeypatch.setattr(cdk.Stack, "bundling_required", property(lambda self: True), raising=False)
    assert no_tools._should_package(stack) is True


def test_a_bad_bundling_value_names_the_context_key(no_tools):
    with pytest.raises(ValueError, match=r"context pipeline-constructs:bundling = 'sometimes' is invalid"):
        _function({"pipeline-constructs:bundling": "sometimes"})
