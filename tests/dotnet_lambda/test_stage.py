"""DotnetLambdaStage: one Service stack in the target's environment, holding the function."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from conftest import EXAMPLES

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.dotnet_lambda import DotnetLambdaFunction, DotnetLambdaStage

PROJECT = EXAMPLES / "dotnet_lambda" / "src" / "HelloWorld"
HANDLER = "HelloWorld::HelloWorld.Function::FunctionHandler"
PROD = DeploymentTarget(name="Prod", account="222222222222", region="us-east-1")


def _stage(**kwargs: object) -> DotnetLambdaStage:
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    return DotnetLambdaStage(app, "Prod", target=PROD, project_dir=PROJECT, handler=HANDLER, **kwargs)


def test_the_service_stack_deploys_to_the_target_environment():
    stage = _stage()
    assert (stage.account, stage.region) == ("222222222222", "us-east-1")
    assert stage.stack.stack_name == "Prod-Service"  # CDK's default without stack_name
    assert isinstance(stage.function, DotnetLambdaFunction)
    assert stage.function.node.scope is stage.stack


def test_stack_name_and_function_options_reach_the_stack():
    stage = _stage(
        stack_name="Prod-dotnet-lambda-Service",
        function_options={"memory_size": 1024, "architecture": lambda_.Architecture.X86_64},
    )
    assert stage.stack.stack_name == "Prod-dotnet-lambda-Service"
    Template.from_stack(stage.stack).has_resource_properties(
        "AWS::Lambda::Function", {"MemorySize": 1024, "Architectures": ["x86_64"], "Handler": HANDLER}
    )


def test_function_options_may_not_set_what_the_stage_sets():
    with pytest.raises(ValueError, match=r"Prod: function_options\['handler'\] = .* use the handler prop"):
        _stage(function_options={"handler": HANDLER})
