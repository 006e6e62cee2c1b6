"""MultiRegionLayerPipeline as a pipeline: its stages, the layer built once inside synth then published per target
in parallel, gates, the shared props contract (synth, CLI pin, pipeline options), escape hatches, the modeled
run time, compliance of the example."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from helpers import pipeline_actions, pipeline_props, stage_names, without_change_check
from multi_region_layer.layer_helpers import (
    EXAMPLE,
    REGIONS,
    example,
    logical_id,
    make_pipeline,
    synth_project,
    target,
)

from pipeline_constructs.cli.assembly import CloudAssembly
from pipeline_constructs.cli.estimate import estimate
from pipeline_constructs.cli.model import pipelines_in
from pipeline_constructs.core.compliance import acknowledgments, suspended_acknowledgments, unacknowledged_findings
from pipeline_constructs.core.options import CDK_CLI_VERSION
from pipeline_constructs.multi_region_layer import default_build_commands
from pipeline_constructs.testing import deterministic_app

# ---------------------------------------------------------------- the example's pipeline


def test_stages_in_order_and_one_layer_stage():
    pipeline = example().pipeline
    assert pipeline["PipelineType"] == "V2"
    assert stage_names(pipeline) == ["Source", "Build", "UpdatePipeline", "Layer"]


def test_layer_is_built_once_in_synth_then_every_target_publishes_in_parallel():
    actions = pipeline_actions(example().pipeline)
    assert [(s, a, p, o) for s, a, p, o in actions if p == "CodeBuild"] == [
        ("Build", "Synth", "CodeBuild", 1),
        ("UpdatePipeline", "SelfMutate", "CodeBuild", 1),
    ]
    layer = [(a, p, o) for s, a, p, o in actions if s == "Layer"]
    assert sorted(layer) == sorted((f"Publish-{r}", "Lambda", 1) for r in REGIONS)


def test_no_build_layer_project_is_left():
    ex = example()
    projects = ex.template.find_resources("AWS::CodeBuild::Project")
    assert not [k for k in projects if "BuildLayer" in k]
    assert sorted(p["Properties"]["Description"].rsplit("/", 2)[-2] for p in projects.values()) == [
        "Build",
        "UpdatePipeline",
    ]
    assert not [k for k in ex.template.find_resources("AWS::IAM::Role") if "BuildLayer" in k]
    assert ex.construct.build_step is ex.construct.pipeline.synth
    assert ex.construct.builds_in_synth


def test_the_layer_is_a_second_output_of_synth_and_self_mutation_reads_only_the_assembly():
    ex = example()
    stages = {s["Name"]: s for s in ex.pipeline["Stages"]}
    (synth,) = stages["Build"]["Actions"]
    assembly, layer = (o["Name"] for o in synth["OutputArtifacts"])
    (self_mutate,) = stages["UpdatePipeline"]["Actions"]
    assert self_mutate["InputArtifacts"] == [{"Name": assembly}]
    assert {json.dumps(a["InputArtifacts"]) for a in stages["Layer"]["Actions"]} == {json.dumps([{"Name": layer}])}
    spec = json.loads(synth_project(ex.template)["Properties"]["Source"]["BuildSpec"])
    assert spec["artifacts"]["secondary-artifacts"] == {
        assembly: {"base-directory": "cdk.out", "files": ["**/*"]},
        layer: {"base-directory": "layer-build", "files": ["**/*"]},
    }


def test_modeled_run_time_one_codebuild_start_before_publishing():
    ex = example()
    (modeled,) = [estimate(p) for p in pipelines_in(CloudAssembly.load(Path(ex.app.outdir)))]
    stages = {s.name: s for s in modeled.stages}
    assert [s.name for s in modeled.stages] == ["Source", "Build", "UpdatePipeline", "Layer"]
    assert stages["Build"].steps == ((1, 90),)
    assert stages["Layer"].steps == ((1, 15),)  # every publish in parallel, no build before them
    assert stages["UpdatePipeline"].worst_case == 90
    assert modeled.worst_case == 15 + 90 + 90 + 15
    # Source 15 + Synth 90 + Publish 15: the hand-written port's 120 s once self-mutation is skipped
    assert modeled.typical - stages["UpdatePipeline"].typical == 120


def test_each_target_action_invokes_the_distributor_with_the_built_layer():
    ex = example()
    function = logical_id(ex.template, "AWS::Lambda::Function", "SharedDepsDistributorFunction")
    role = logical_id(ex.template, "AWS::IAM::Role", "SharedDepsInvokeRole")
    (synth,) = next(s for s in ex.pipeline["Stages"] if s["Name"] == "Build")["Actions"]
    built = synth["OutputArtifacts"][1]
    assert ex.layer_stage["Actions"]
    for action in ex.layer_stage["Actions"]:
        name = action["Name"].removeprefix("Publish-")
        assert action["Configuration"]["FunctionName"] == {"Ref": function}
        assert json.loads(action["Configuration"]["UserParameters"]) == {
            "region": name,  # the example names each target after its region
            "stagingBucket": ex.construct.staging_buckets[name],
        }
        assert action["InputArtifacts"] == [{"Name": built["Name"]}]
        assert action["RoleArn"] == {"Fn::GetAtt": [role, "Arn"]}
        assert action["Namespace"] == f"Layer-{name}"
        assert "Region" not in action  # the function runs in the pipeline region; it publishes remotely


def test_targets_and_regions_are_kept_in_order():
    construct = example().construct
    assert [t.name for t in construct.targets] == REGIONS
    assert construct.regions == tuple(REGIONS)
    assert list(construct.publish_steps) == REGIONS


def test_synth_runs_the_pinned_cdk_cli():
    projects = example().template.find_resources("AWS::CodeBuild::Project")
    (synth,) = [p for p in projects.values() if " synth" in json.dumps(p["Properties"]["Source"]["BuildSpec"])]
    spec = json.dumps(synth["Properties"]["Source"]["BuildSpec"])
    assert f"npx -y aws-cdk@{CDK_CLI_VERSION} synth" in spec
    assert "aws-cdk@2 " not in spec
    assert "npm install -g aws-cdk " not in spec


def test_common_escape_hatches_exist_and_say_what_a_layer_pipeline_deploys():
    construct = example().construct
    assert construct.pipeline.node.path == "LayerPipeline/SharedDeps/Pipeline/Pipeline"
    assert construct.code_pipeline.node.path == construct.pipeline.pipeline.node.path
    # no cdk.Stage per target: the staging stacks deploy with the pipeline stack, a publish is a Lambda action
    assert (construct.stages, construct.deployments, construct.gates, construct.test_reports) == ({}, {}, {}, {})
    assert construct.approvals == {}


# ---------------------------------------------------------------- gates


def test_a_manual_approval_target_publishes_after_promote_to_target():
    p = make_pipeline(
        targets=[
            target("us-east-1", "Canary"),
            target("eu-west-1", "Europe", manual_approval=True, approval_comment="Europe after the canary"),
            target("ap-southeast-2", "Asia", manual_approval=True),
        ]
    )
    stage = next(s for s in p.code_pipeline.stages if s.stage_name == "Layer")
    orders = {a.action_properties.action_name: a.action_properties.run_order for a in stage.actions}
    assert orders == {
        "Publish-Canary": 1,
        "PromoteToEurope": 1,
        "PromoteToAsia": 1,
        "Publish-Europe": 2,
        "Publish-Asia": 2,
    }
    assert sorted(p.approvals) == ["Asia", "Europe"]
    layer = next(s for s in pipeline_props(Template.from_stack(cdk.Stack.of(p)))["Stages"] if s["Name"] == "Layer")
    approvals = {a["Name"]: a for a in layer["Actions"] if a["ActionTypeId"]["Category"] == "Approval"}
    assert approvals["PromoteToEurope"]["Configuration"]["CustomData"] == "Europe after the canary"
    assert "deps" in approvals["PromoteToAsia"]["Configuration"]["CustomData"]  # a default naming the layer
    assert p.gates == {}


# ---------------------------------------------------------------- the shared props contract


def test_synth_commands_and_app_dir_shape_the_default_synth_step():
    p = make_pipeline(synth_commands=["make synth"], app_dir="infra")
    template = Template.from_stack(cdk.Stack.of(p))
    projects = template.find_resources("AWS::CodeBuild::Project")
    (synth,) = [p for p in projects.values() if "make synth" in json.dumps(p["Properties"]["Source"]["BuildSpec"])]
    spec = json.loads(synth["Properties"]["Source"]["BuildSpec"])
    commands = without_change_check(spec["phases"]["build"]["commands"])
    # the layer builds first, at the repository root; then back to the root, then the app's own commands
    assert commands[: len(without_change_check(p.build_step.commands)) - 3] == list(
        default_build_commands([lambda_.Runtime.NODEJS_24_X], [lambda_.Architecture.X86_64])
    )
    assert commands[-3:] == ['cd "$CODEBUILD_SRC_DIR"', "cd infra", "make synth"]
    outputs = spec["artifacts"]["secondary-artifacts"]
    assert sorted(o["base-directory"] for o in outputs.values()) == ["infra/cdk.out", "layer-build"]


def test_a_synth_step_of_your_own_keeps_a_build_layer_action():
    source = pipelines.CodePipelineSource.git_hub("o/layer", "main")
    own = pipelines.CodeBuildStep("OwnSynth", input=source, commands=["./synth.sh"])
    targets = [target("us-east-1"), target("eu-west-1", manual_approval=True)]
    p = make_pipeline(source=source, synth=own, targets=targets)
    assert not p.builds_in_synth
    assert p.build_step is not own
    stages = {s["Name"]: s for s in pipeline_props(Template.from_stack(cdk.Stack.of(p)))["Stages"]}
    layer = {a["Name"]: a for a in stages["Layer"]["Actions"]}
    assert {n: a["RunOrder"] for n, a in layer.items()} == {
        "BuildLayer": 1,
        "Publish-us-east-1": 2,
        "PromoteToeu-west-1": 2,
        "Publish-eu-west-1": 3,
    }
    (built,) = layer["BuildLayer"]["OutputArtifacts"]
    assert layer["Publish-us-east-1"]["InputArtifacts"] == [{"Name": built["Name"]}]
    (synth,) = stages["Build"]["Actions"]
    assert [o["Name"] for o in synth["OutputArtifacts"]] == ["OwnSynth_Output"]  # your step is left as it is


@pytest.mark.parametrize(
    ("output_directory", "app_dir"),
    [("cdk.out", None), ("cdk.out/layer", None), ("./cdk.out", "."), ("infra", "infra"), ("infra/cdk.out/x", "infra")],
)
def test_the_layer_output_must_stay_apart_from_the_cloud_assembly(output_directory, app_dir):
    with pytest.raises(
        ValueError,
        match=r"^S/P: output_directory = '[^']+' is invalid: expected a directory apart "
        r"from the cloud assembly '(infra/)?cdk.out'",
    ):
        make_pipeline(output_directory=output_directory, app_dir=app_dir)


@pytest.mark.parametrize(("output_directory", "app_dir"), [("cdk.outer", None), ("cdk.out", "infra"), ("out", "infra")])
def test_a_layer_output_beside_the_cloud_assembly_is_fine(output_directory, app_dir):
    p = make_pipeline(output_directory=output_directory, app_dir=app_dir)
    assert p.layer_output is not None


def test_a_synth_step_of_your_own_is_the_whole_synth():
    own = pipelines.ShellStep(
        "Synth", input=pipelines.CodePipelineSource.git_hub("o/infra", "main"), commands=["./synth.sh"]
    )
    p = make_pipeline(synth=own)
    assert p.pipeline.synth is own


@pytest.mark.parametrize("other", [{"synth_commands": ["cdk synth"]}, {"app_dir": "infra"}])
def test_synth_excludes_synth_commands_and_app_dir(other):
    own = pipelines.ShellStep("Synth", input=pipelines.CodePipelineSource.git_hub("o/x", "main"), commands=["x"])
    (prop,) = other
    with pytest.raises(ValueError, match=rf"^S/P: {prop} = .* is invalid: give either synth .* or synth_commands"):
        make_pipeline(synth=own, **other)


def test_cli_version_from_pipeline_options_pins_the_synth_too():
    p = make_pipeline(pipeline_options={"cli_version": "2.1100.0"})
    assert p.secure_pipeline.cli_version == "2.1100.0"
    spec = json.dumps(
        [
            r["Properties"]["Source"]["BuildSpec"]
            for r in Template.from_stack(cdk.Stack.of(p)).find_resources("AWS::CodeBuild::Project").values()
        ]
    )
    assert "npx -y aws-cdk@2.1100.0 synth" in spec


def test_removal_policy_and_log_retention_come_from_pipeline_options():
    p = make_pipeline(
        pipeline_options={"removal_policy": cdk.RemovalPolicy.DESTROY, "log_retention": logs.RetentionDays.ONE_MONTH}
    )
    pipeline_template = Template.from_stack(cdk.Stack.of(p))
    function_logs = logical_id(pipeline_template, "AWS::Logs::LogGroup", "PDistributorLogs")
    group = pipeline_template.find_resources("AWS::Logs::LogGroup")[function_logs]
    assert group["Properties"]["RetentionInDays"] == 30
    assert group["DeletionPolicy"] == "Delete"
    for kind in ("AWS::KMS::Key", "AWS::SQS::Queue", "AWS::S3::Bucket"):
        assert {r["DeletionPolicy"] for r in pipeline_template.find_resources(kind).values()} == {"Delete"}, kind
    (regional,) = p.regional_stacks.values()
    buckets = Template.from_stack(regional).find_resources("AWS::S3::Bucket")
    assert {b["DeletionPolicy"] for b in buckets.values()} == {"Delete"}


def test_resources_are_retained_by_default():
    p = make_pipeline()
    (regional,) = p.regional_stacks.values()
    for stack in (cdk.Stack.of(p), regional):
        buckets = Template.from_stack(stack).find_resources("AWS::S3::Bucket")
        assert {b["DeletionPolicy"] for b in buckets.values()} == {"Retain"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"removal_policy": "destroy"}, r"S/P: pipeline_options\['removal_policy'\] = 'destroy' is invalid"),
        ({"log_retention": 30}, r"S/P: pipeline_options\['log_retention'\] = 30 is invalid"),
        ({"synth": None}, r"S/P: pipeline_options.* use the synth prop"),
        ({"pipeline_name": "x"}, r"S/P: pipeline_options.* use the pipeline_name prop"),
        ({"regions": ["us-east-1"]}, r"S/P: pipeline_options.*regions"),
    ],
)
def test_bad_pipeline_options_are_named(options, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make_pipeline(pipeline_options=options)


def test_cross_account_keys_default_on_for_codebuild_artifact_encryption():
    assert make_pipeline().secure_pipeline.artifact_key is not None
    assert make_pipeline(pipeline_options={"cross_account_keys": False}).secure_pipeline.artifact_key is None


# ---------------------------------------------------------------- escape hatches


def test_escape_hatch_team_adds_a_step_after_publishing():
    p = make_pipeline(targets=[target("us-east-1"), target("eu-west-1")])
    announce = pipelines.ManualApprovalStep("AnnounceRelease")
    for step in p.publish_steps.values():
        announce.add_step_dependency(step)
    p.wave.add_post(announce)
    stage = next(s for s in p.secure_pipeline.code_pipeline.stages if s.stage_name == "Layer")
    orders = {a.action_properties.action_name: a.action_properties.run_order for a in stage.actions}
    assert orders == {"Publish-us-east-1": 1, "Publish-eu-west-1": 1, "AnnounceRelease": 2}


# ---------------------------------------------------------------- compliance of the example


def test_no_unacknowledged_findings_in_five_packs():
    assert [str(f) for f in unacknowledged_findings(example().app)] == []


def test_every_acknowledgment_answers_a_real_finding():
    with suspended_acknowledgments():
        bare = deterministic_app()
        EXAMPLE.build_app(bare)
        raised = {(f.path, f.rule) for f in unacknowledged_findings(bare)}
    acks = acknowledgments(example().app)
    assert acks
    stale = sorted(
        (path, rule)
        for path, rule, _ in acks
        if not any(rule == r and (p == path or p.startswith(path + "/")) for p, r in raised)
    )
    assert stale == [], f"acknowledgments without a finding: {stale}"
