"""KdaAppPipeline (pipeline.py): the infrastructure pipeline, the shared props contract, escape hatches, nag."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from helpers import pipeline_actions, stage_names
from kda_app.kda_example import CONNECTION, DEV, example, flat, kda_props, pipeline_named, small_pipeline, small_stack

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.core.compliance import acknowledgments, suspended_acknowledgments, unacknowledged_findings
from pipeline_constructs.core.options import CDK_CLI_VERSION
from pipeline_constructs.kda_app import KdaApplicationStack, KdaAppPipeline
from pipeline_constructs.testing import deterministic_app

# ---------------------------------------------------------------- the infrastructure pipeline (example)


def test_infrastructure_pipeline_deploys_dev_then_gated_prod():
    pipeline = pipeline_named(example().template, "clickstream-infrastructure")
    assert pipeline["PipelineType"] == "V2"
    assert stage_names(pipeline) == ["Source", "Build", "UpdatePipeline", "Assets", "Dev", "Prod-Permissions", "Prod"]
    prod = [(a, p, o) for s, a, p, o in pipeline_actions(pipeline) if s == "Prod"]
    assert [(p, o) for _, p, o in prod] == [("Manual", 1), ("CloudFormation", 2), ("CloudFormation", 3)]
    assert prod[0][0] == "PromoteToProd"
    # the permissions check runs in Assets; its confirmation waits alone in Prod-Permissions
    assert ("Assets", "PermissionCheck-Prod", "CodeBuild", 1) in pipeline_actions(pipeline)
    assert [a for s, a, _, _ in pipeline_actions(pipeline) if s == "Prod-Permissions"] == ["PermissionCheck.Confirm"]
    dev = [p for s, _, p, _ in pipeline_actions(pipeline) if s == "Dev"]
    assert dev == ["CloudFormation", "CloudFormation"]


def test_prod_stack_deploys_cross_account():
    (stage,) = [
        s for s in pipeline_named(example().template, "clickstream-infrastructure")["Stages"] if s["Name"] == "Prod"
    ]
    deploy = [a for a in stage["Actions"] if a["ActionTypeId"]["Provider"] == "CloudFormation"]
    assert all("222222222222" in flat(a["RoleArn"]) for a in deploy)
    assert all(a["Configuration"]["StackName"] == "clickstream-Prod" for a in deploy)


def test_default_synth_runs_the_pinned_cli_in_the_source():
    (synth,) = [
        p
        for p in example().template.find_resources("AWS::CodeBuild::Project").values()
        if "synth" in flat(p["Properties"]["Source"]) and "pip install -r requirements.txt" in flat(p)
    ]
    assert f"npx -y aws-cdk@{CDK_CLI_VERSION} synth" in flat(synth["Properties"]["Source"]["BuildSpec"])


# ---------------------------------------------------------------- escape hatches


def test_escape_hatches_are_filled():
    kda = example().construct
    assert list(kda.stages) == list(kda.deployments) == list(kda.application_stacks) == ["Dev", "Prod"]
    assert list(kda.gates) == ["Prod"]
    assert all(isinstance(s, KdaApplicationStack) for s in kda.application_stacks.values())
    # the stages live under the construct: two KdaAppPipelines of one app each have their own Dev
    assert kda.stages["Dev"].node.scope is kda
    assert list(kda.test_reports) == ["Tests"]
    assert kda.code_pipeline.node.path == kda.pipeline.pipeline.node.path != kda.application_pipeline.node.path
    assert kda.secure_pipeline.pipeline_name == "clickstream-infrastructure"


def test_two_pipelines_in_one_app_each_deploy_their_own_targets():
    app = deterministic_app()
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    first = KdaAppPipeline(stack, "A", **kda_props(application_name="first"))
    second = KdaAppPipeline(stack, "B", **kda_props(application_name="second"))
    assert first.stages["Dev"] is not second.stages["Dev"]
    assert first.application_stacks["Dev"].stack_name == "first-Dev"
    assert second.application_stacks["Dev"].stack_name == "second-Dev"


# ---------------------------------------------------------------- the props contract


def test_synth_commands_run_in_app_dir():
    stack = small_stack()
    small_pipeline(stack, synth_commands=["make synth"], app_dir="infra")
    (synth,) = [
        p
        for p in Template.from_stack(stack).find_resources("AWS::CodeBuild::Project").values()
        if "make synth" in flat(p)
    ]
    spec = flat(synth["Properties"]["Source"]["BuildSpec"])
    assert spec.index("cd infra") < spec.index("make synth")
    assert "infra/cdk.out" in spec


def test_synth_step_can_replace_the_default_synth():
    synth = pipelines.ShellStep(
        "Synth",
        input=pipelines.CodePipelineSource.connection("o/infra", "main", connection_arn=CONNECTION),
        commands=["make synth"],
    )
    pipeline = small_pipeline(synth=synth)
    assert pipeline.pipeline.synth is synth


@pytest.mark.parametrize("other", [{"synth_commands": ["cdk synth"]}, {"app_dir": "infra"}])
def test_synth_with_synth_commands_or_app_dir_is_rejected(other):
    synth = pipelines.ShellStep("Synth", input=pipelines.CodePipelineSource.git_hub("o/r", "main"), commands=["x"])
    (prop,) = other
    with pytest.raises(ValueError, match=rf"^S/P: {prop} = .* is invalid: give either synth .* not both"):
        small_pipeline(synth=synth, **other)


def test_source_is_required_and_must_be_a_file_set_producer():
    with pytest.raises(TypeError, match=r"source"):
        KdaAppPipeline(small_stack(), "P", **{k: v for k, v in kda_props().items() if k != "source"})
    with pytest.raises(TypeError, match=r"^S/P: source = 'o/infra' is invalid: expected a pipelines.IFileSetProducer"):
        small_pipeline(source="o/infra")


@pytest.mark.parametrize(
    "removed",
    [
        {"infrastructure_source": None},
        {"removal_policy": cdk.RemovalPolicy.DESTROY},
        {"log_retention": None},
        {"compute_type": codebuild.ComputeType.LARGE},
    ],
)
def test_props_that_moved_are_gone(removed):
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        small_pipeline(**removed)


def test_pipeline_options_reach_the_application_pipelines_own_resources():
    from aws_cdk import aws_logs as logs

    stack = small_stack()
    small_pipeline(
        stack,
        pipeline_options={
            "removal_policy": cdk.RemovalPolicy.DESTROY,
            "log_retention": logs.RetentionDays.ONE_MONTH,
            "compute_type": codebuild.ComputeType.LARGE,
        },
    )
    template = Template.from_stack(stack)
    buckets = template.find_resources("AWS::S3::Bucket")
    releases = [b for b in buckets.values() if b["Properties"].get("BucketName", "").startswith("orders-releases-")]
    assert [b["DeletionPolicy"] for b in releases] == ["Delete"]
    assert {b["DeletionPolicy"] for b in buckets.values()} == {"Delete"}
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert groups
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {30}
    (build,) = [p for p in template.find_resources("AWS::CodeBuild::Project").values() if "mvn -B package" in flat(p)]
    assert build["Properties"]["Environment"]["ComputeType"] == "BUILD_GENERAL1_LARGE"
    stage_stack = Template.from_stack(cdk.Stack.of(stack.node.find_child("P").application_stacks["Dev"]))
    assert {g["Properties"]["RetentionInDays"] for g in stage_stack.find_resources("AWS::Logs::LogGroup").values()} == {
        30
    }


def test_team_compute_default_reaches_the_application_build():
    app = deterministic_app(context={"pipeline-constructs:computeType": "MEDIUM"})
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    small_pipeline(stack)
    (build,) = [
        p
        for p in Template.from_stack(stack).find_resources("AWS::CodeBuild::Project").values()
        if "mvn -B package" in flat(p)
    ]
    assert build["Properties"]["Environment"]["ComputeType"] == "BUILD_GENERAL1_MEDIUM"


@pytest.mark.parametrize("key", ["synth", "pipeline_name", "targets"])
def test_reserved_pipeline_options_name_the_prop(key):
    with pytest.raises(ValueError, match=rf"pipeline_options.*{key}.*use the {key} prop"):
        small_pipeline(pipeline_options={key: None})


def test_manual_approval_only_target_is_not_security_gated():
    qa = DeploymentTarget(name="Qa", account="111111111111", region="eu-west-1", manual_approval=True)
    pipeline = small_pipeline(targets=[qa])
    assert pipeline.gates == {}
    assert [s.stage_name for s in pipeline.application_pipeline.stages] == ["Source", "Build", "Qa"]


def test_extend_stack_adds_to_every_target_before_deployment():
    seen: list[str] = []

    def add_output(stack: KdaApplicationStack, target: DeploymentTarget) -> None:
        seen.append(target.name)
        cdk.CfnOutput(stack, "StreamName", value=stack.stream.stream_name)

    qa = DeploymentTarget(name="Qa", account="333333333333", region="eu-west-1", manual_approval=True)
    pipeline = small_pipeline(targets=[DEV, qa], extend_stack=add_output)
    assert seen == ["Dev", "Qa"]
    assert "StreamName" in Template.from_stack(pipeline.application_stacks["Qa"]).to_json()["Outputs"]


# ---------------------------------------------------------------- compliance of the example


def test_no_unacknowledged_findings_in_five_packs():
    assert [str(f) for f in unacknowledged_findings(example().app)] == []


def test_every_kda_acknowledgment_answers_a_finding():
    with suspended_acknowledgments():
        bare = deterministic_app()
        from conftest import load_example

        load_example("kda_app").build_app(bare)
        raised = {(f.path, f.rule) for f in unacknowledged_findings(bare)}
    mine = [(p, r) for p, r, _ in acknowledgments(example().app) if "/Clickstream/" in p and "/Pipeline/" not in p]
    assert mine, "the example exercises the construct's own acknowledgments"
    stale = sorted(
        (path, rule)
        for path, rule in mine
        if not any(rule == r and (p == path or p.startswith(path + "/")) for p, r in raised)
    )
    assert stale == []
