"""LambdaInvokeStep: CodePipeline's Lambda invoke action as a CDK Pipelines step (aws-cdk issue 19120)."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from helpers import PIPELINE_ENV, pipeline_props

from pipeline_constructs.steps import LambdaInvokeStep
from pipeline_constructs.steps.lambda_invoke import pipeline_role_principal
from pipeline_constructs.testing import deterministic_app

ENV = PIPELINE_ENV


def _stack() -> cdk.Stack:
    return cdk.Stack(deterministic_app(), "S", env=ENV)


def _function(stack: cdk.Stack, id: str = "Fn") -> lambda_.Function:
    return lambda_.Function(
        stack,
        id,
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    pass\n"),
    )


def _pipeline(stack: cdk.Stack, *steps: pipelines.Step, source: pipelines.CodePipelineSource | None = None) -> dict:
    source = source or pipelines.CodePipelineSource.git_hub("o/r", "main")
    synth = pipelines.ShellStep("Synth", input=source, commands=["cdk synth"])
    pipeline = pipelines.CodePipeline(stack, "Pipeline", synth=synth, self_mutation=False)
    pipeline.add_wave("Invoke", post=list(steps))
    pipeline.build_pipeline()
    return pipeline_props(Template.from_stack(stack))


def _actions(props: dict, stage: str = "Invoke") -> list[dict]:
    (found,) = [s for s in props["Stages"] if s["Name"] == stage]
    return found["Actions"]


def test_invokes_the_function_with_inputs_and_user_parameters():
    stack = _stack()
    fn = _function(stack)
    source = pipelines.CodePipelineSource.git_hub("o/r", "main")
    build = pipelines.ShellStep("Build", input=source, commands=["make"], primary_output_directory="out")
    step = LambdaInvokeStep("Notify", function=fn, inputs=[build], user_parameters={"channel": "releases", "n": 2})
    props = _pipeline(stack, build, step, source=source)

    (notify,) = [a for a in _actions(props) if a["Name"] == "Notify"]
    (built,) = [a for a in _actions(props) if a["Name"] == "Build"]
    assert notify["ActionTypeId"] == {"Category": "Invoke", "Owner": "AWS", "Provider": "Lambda", "Version": "1"}
    assert notify["Configuration"]["FunctionName"] == {"Ref": stack.get_logical_id(fn.node.default_child)}
    assert json.loads(notify["Configuration"]["UserParameters"]) == {"channel": "releases", "n": 2}
    assert notify["InputArtifacts"] == [{"Name": built["OutputArtifacts"][0]["Name"]}]
    assert notify["RunOrder"] > built["RunOrder"]  # the input's producer runs first
    assert [fs.to_string() for fs in step.inputs] == [build.primary_output.to_string()]
    assert "Region" not in notify


def test_without_inputs_and_with_a_raw_parameter_string():
    stack = _stack()
    step = LambdaInvokeStep("Ping", function=_function(stack), user_parameters_string="plain text")
    (ping,) = _actions(_pipeline(stack, step))
    assert "InputArtifacts" not in ping
    assert ping["Configuration"]["UserParameters"] == "plain text"


def test_function_may_report_job_results_and_pipeline_may_invoke_it():
    stack = _stack()
    fn = _function(stack)
    _pipeline(stack, LambdaInvokeStep("Ping", function=fn))
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    text = json.dumps(policies)
    assert "codepipeline:PutJobSuccessResult" in text
    assert "codepipeline:PutJobFailureResult" in text
    assert "lambda:InvokeFunction" in text


def _pipeline_role(stack: cdk.Stack) -> str:
    roles = Template.from_stack(stack).find_resources(
        "AWS::IAM::Role",
        {
            "Properties": {
                "AssumeRolePolicyDocument": {"Statement": [{"Principal": {"Service": "codepipeline.amazonaws.com"}}]}
            }
        },
    )
    (logical_id,) = roles
    return logical_id


@pytest.mark.parametrize("flag", [True, False], ids=["reduce-trust-flag-on", "flag-off"])
def test_default_invoke_role_trusts_only_the_pipeline_role(flag):
    """Whatever the app's feature flags: CDK's AccountPrincipal fallback would let the whole account in."""
    stack = cdk.Stack(deterministic_app(context={"@aws-cdk/pipelines:reduceStageRoleTrustScope": flag}), "S", env=ENV)
    fn = _function(stack)
    (ping,) = _actions(_pipeline(stack, LambdaInvokeStep("Ping", function=fn)))
    template = Template.from_stack(stack)
    role_id = ping["RoleArn"]["Fn::GetAtt"][0]
    role = template.to_json()["Resources"][role_id]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": {"Fn::GetAtt": [_pipeline_role(stack), "Arn"]}},
        }
    ]
    # and the role may invoke this function only
    policies = [
        p for p in template.find_resources("AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    invoke = [
        s
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "lambda:InvokeFunction"
    ]
    fn_id = stack.get_logical_id(fn.node.default_child)
    assert invoke
    assert all(fn_id in json.dumps(r) for s in invoke for r in s["Resource"])


def test_pipeline_role_principal_is_the_role_arn_resolved_at_synth():
    stack = _stack()
    source = pipelines.CodePipelineSource.git_hub("o/r", "main")
    pipeline = pipelines.CodePipeline(
        stack, "Pipeline", synth=pipelines.ShellStep("Synth", input=source, commands=["cdk synth"]), self_mutation=False
    )
    role = iam.Role(stack, "Shared", assumed_by=pipeline_role_principal(pipeline))  # before the pipeline is built
    pipeline.build_pipeline()
    trust = Template.from_stack(stack).to_json()["Resources"][stack.get_logical_id(role.node.default_child)]
    assert trust["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "AWS": {"Fn::GetAtt": [_pipeline_role(stack), "Arn"]}
    }


def test_given_role_and_namespace_are_used():
    stack = _stack()
    role = iam.Role(stack, "InvokeRole", assumed_by=iam.AccountRootPrincipal())
    step = LambdaInvokeStep("Ping", function=_function(stack), role=role, variables_namespace="PingVars")
    (ping,) = _actions(_pipeline(stack, step))
    assert ping["RoleArn"] == {"Fn::GetAtt": [stack.get_logical_id(role.node.default_child), "Arn"]}
    assert ping["Namespace"] == "PingVars"


def test_region_retargets_a_function_imported_by_name():
    stack = _stack()
    remote = lambda_.Function.from_function_name(stack, "Remote", "layer-tools")
    step = LambdaInvokeStep("Remote", function=remote, region="us-east-1", user_parameters={"x": 1})
    props = _pipeline(stack, step)
    (action,) = _actions(props)
    assert action["Region"] == "us-east-1"
    # Fn::Select(6, Fn::Split(':', arn:<partition>:lambda:us-east-1:111111111111:function:layer-tools))
    name = action["Configuration"]["FunctionName"]["Fn::Select"]
    assert name[0] == 6
    assert name[1]["Fn::Split"][1]["Fn::Join"][1][-1] == ":lambda:us-east-1:111111111111:function:layer-tools"
    # CodePipeline replicates artifacts to an artifact store in that region
    assert {s["Region"] for s in props["ArtifactStores"]} == {"eu-west-1", "us-east-1"}


def test_region_equal_to_the_function_region_changes_nothing():
    stack = _stack()
    fn = _function(stack)
    (action,) = _actions(_pipeline(stack, LambdaInvokeStep("Same", function=fn, region="eu-west-1")))
    assert "Region" not in action
    assert action["Configuration"]["FunctionName"] == {"Ref": stack.get_logical_id(fn.node.default_child)}


def test_region_cannot_move_a_function_defined_in_the_app():
    stack = _stack()
    with pytest.raises(ValueError, match=r"LambdaInvokeStep\(Moved\): region = 'us-east-1' is invalid: .*imported"):
        LambdaInvokeStep("Moved", function=_function(stack), region="us-east-1")


def test_function_imported_by_arn_runs_in_its_own_region():
    stack = _stack()
    remote = lambda_.Function.from_function_arn(
        stack, "Remote", "arn:aws:lambda:ap-southeast-2:111111111111:function:layer-tools"
    )
    (action,) = _actions(_pipeline(stack, LambdaInvokeStep("Remote", function=remote)))
    assert action["Region"] == "ap-southeast-2"


# ---------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def fn() -> lambda_.IFunction:
    return lambda_.Function.from_function_name(_stack(), "Fn", "fn")


def test_too_many_inputs(fn):
    source = pipelines.CodePipelineSource.git_hub("o/r", "main")
    steps = [pipelines.ShellStep(f"B{i}", input=source, commands=["x"], primary_output_directory="o") for i in range(6)]
    with pytest.raises(ValueError, match=r"LambdaInvokeStep\(X\): inputs = 6 is invalid: .*at most 5"):
        LambdaInvokeStep("X", function=fn, inputs=steps)


def test_inputs_must_be_a_list(fn):
    with pytest.raises(ValueError, match=r"inputs = 'build' is invalid: expected a list"):
        LambdaInvokeStep("X", function=fn, inputs="build")  # type: ignore[arg-type]


def test_input_without_output(fn):
    no_output = pipelines.ShellStep("NoOut", commands=["x"])
    with pytest.raises(ValueError, match=r"inputs\[0\] = .* is invalid: expected a step or source that produces"):
        LambdaInvokeStep("X", function=fn, inputs=[no_output])


def test_parameters_twice(fn):
    with pytest.raises(ValueError, match=r"user_parameters_string = 'b' is invalid: give either user_parameters"):
        LambdaInvokeStep("X", function=fn, user_parameters={"a": 1}, user_parameters_string="b")


@pytest.mark.parametrize(
    "kwargs", [{"user_parameters": {"k": "v" * 1000}}, {"user_parameters_string": "x" * 1001}], ids=["dict", "str"]
)
def test_parameters_longer_than_codepipeline_allows(fn, kwargs):
    with pytest.raises(ValueError, match=r"characters>. is invalid: CodePipeline limits UserParameters to 1000"):
        LambdaInvokeStep("X", function=fn, **kwargs)


def test_parameters_must_be_a_mapping(fn):
    with pytest.raises(ValueError, match=r"user_parameters = \[1\] is invalid: expected a mapping"):
        LambdaInvokeStep("X", function=fn, user_parameters=[1])  # type: ignore[arg-type]


def test_bad_region(fn):
    with pytest.raises(ValueError, match=r"region = 'moon-1' is invalid: expected an AWS region"):
        LambdaInvokeStep("X", function=fn, region="moon-1")


def test_bad_namespace(fn):
    with pytest.raises(ValueError, match=r"variables_namespace = 'has space' is invalid: expected 1-100 characters"):
        LambdaInvokeStep("X", function=fn, variables_namespace="has space")


def test_function_is_required():
    with pytest.raises(ValueError, match=r"function = None is invalid: expected an aws_lambda.IFunction"):
        LambdaInvokeStep("X", function=None)  # type: ignore[arg-type]
