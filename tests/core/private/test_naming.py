"""Default names: readable, within the services' rules, and unique per pipeline."""

from __future__ import annotations

import string

import aws_cdk as cdk
import pytest
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from conftest import EXAMPLES
from constructs import Construct
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_constructs import DeploymentTarget, SecurePipeline
from pipeline_constructs.core.private.naming import default_pipeline_name, stage_stack_name
from pipeline_constructs.core.validation import PIPELINE_NAME_PATTERN, STACK_NAME_PATTERN
from pipeline_constructs.dotnet_lambda.pipeline import DotnetLambdaPipeline
from pipeline_constructs.glue_etl import GlueEtlPipeline, GlueEtlSpec

ENV = cdk.Environment(account="111111111111", region="eu-west-1")
DEV = DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1")
PROD = DeploymentTarget(name="Prod", account="222222222222", region="eu-west-1")
#: Construct ids; ``__proto__`` is not one jsii can pass to Node (a JavaScript object's own key).
IDS = st.text(alphabet=string.ascii_letters + string.digits + "-_.@ ", min_size=1, max_size=120).filter(
    lambda s: bool(s.strip()) and s != "__proto__"
)


def _source() -> pipelines.CodePipelineSource:
    return pipelines.CodePipelineSource.git_hub("o/r", "main")


def _dotnet(stack: cdk.Stack, id: str, **kwargs: object) -> DotnetLambdaPipeline:
    return DotnetLambdaPipeline(
        stack,
        id,
        source=_source(),
        targets=[DEV, PROD],
        project_dir=EXAMPLES / "dotnet_lambda" / "src" / "HelloWorld",
        handler="HelloWorld::HelloWorld.Function::FunctionHandler",
        **kwargs,
    )


def _stack_names(pipeline: DotnetLambdaPipeline) -> list[str]:
    """Names of the stacks of the stages the pipeline deploys (its default stages live under it)."""
    return [
        stack.stack_name
        for stage in pipeline.node.children
        if isinstance(stage, cdk.Stage)
        for stack in stage.node.children
        if isinstance(stack, cdk.Stack)
    ]


def test_two_dotnet_pipelines_share_an_app_and_never_a_stack():
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    first = _dotnet(cdk.Stack(app, "Orders", env=ENV), "Delivery")
    second = _dotnet(cdk.Stack(app, "Billing", env=ENV), "Delivery")
    third = _dotnet(first.node.scope, "Canary")  # a second pipeline in the same stack
    names = [_stack_names(p) for p in (first, second, third)]
    assert names[0] == ["Dev-Orders-Delivery-Service", "Prod-Orders-Delivery-Service"]
    flat = [n for group in names for n in group]
    assert len(set(flat)) == len(flat) == 6
    app.synth()  # one assembly holds them all


def test_two_glue_pipelines_in_one_account_do_not_overwrite_each_others_stacks():
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    spec = GlueEtlSpec(database="db", scripts_dir=EXAMPLES / "glue_etl" / "glue_jobs")
    names = []
    for team in ("Sales", "Finance"):
        pipeline = GlueEtlPipeline(
            cdk.Stack(app, team, env=ENV), "Etl", source=_source(), spec=spec, targets=[DEV], job_tests="tests"
        )
        names += [stage.stack.stack_name for stage in pipeline.stages.values()]
    assert names == ["Dev-Sales-Etl-Etl", "Dev-Finance-Etl-Etl"]


def test_an_unnamed_pipeline_is_called_after_its_stack_and_construct():
    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "Team", env=ENV)
    pipeline = _dotnet(stack, "Delivery")
    assert pipeline.secure_pipeline.pipeline_name == "Team-Delivery"
    Template.from_stack(stack).has_resource_properties("AWS::CodePipeline::Pipeline", {"Name": "Team-Delivery"})


def test_an_explicit_name_wins_and_names_the_stacks():
    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "Team", env=ENV)
    pipeline = _dotnet(stack, "Delivery", pipeline_name="orders.api@v2")
    assert pipeline.secure_pipeline.pipeline_name == "orders.api@v2"
    assert _stack_names(pipeline) == ["Dev-orders-api-v2-Service", "Prod-orders-api-v2-Service"]


def test_a_secure_pipeline_of_its_own_gets_a_readable_name_too():
    stack = cdk.Stack(cdk.App(), "Gated", env=ENV)
    synth = pipelines.ShellStep("Synth", input=_source(), commands=["x"])
    assert SecurePipeline(stack, "Pipeline", synth=synth).pipeline_name == "Gated-Pipeline"


@settings(deadline=None)  # builds constructs through jsii: slow on a loaded machine
@given(IDS, IDS)
def test_default_pipeline_names_follow_codepipeline_for_any_ids(stack_id, construct_id):
    stack = cdk.Stack(cdk.App(), "S" + "".join(c for c in stack_id if c.isalnum() or c == "-")[:120])
    inner = Construct(Construct(stack, construct_id), "Pipeline")
    for suffix in ("", "Application"):
        name = default_pipeline_name(inner, suffix)
        assert PIPELINE_NAME_PATTERN.fullmatch(name)


@given(st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,63}", fullmatch=True), IDS, st.sampled_from(["Service", "Etl"]))
def test_stage_stack_names_fit_cloudformation_and_the_action_names(stage, base, stack_id):
    name = stage_stack_name(stage, base, stack_id)
    assert STACK_NAME_PATTERN.fullmatch(name)
    assert name.startswith(f"{stage}-")
    # CDK Pipelines names the actions <stack name without "<stage>-">.Prepare: at most 100 characters.
    assert len(name.removeprefix(f"{stage}-") + ".Prepare") <= 100


@pytest.mark.parametrize("length", [90, 100, 150])
def test_long_paths_are_cut_with_a_hash(length):
    stack = cdk.Stack(cdk.App(), "S" * length)
    name = default_pipeline_name(stack)
    assert len(name) <= 100
    assert PIPELINE_NAME_PATTERN.fullmatch(name)
