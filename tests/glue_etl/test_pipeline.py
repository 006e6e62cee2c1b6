"""GlueEtlPipeline: the stages in order, the job tests beside synth (and still a gate), gates, the shared props
contract, the modeled run time."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from glue_etl.glue_example import DEV, EXAMPLE, SOURCE, buildspec, example, glue_pipeline, project, spec
from helpers import pipeline_actions, pipeline_props, pipeline_stack, stage_names, without_change_check

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.cli.assembly import CloudAssembly
from pipeline_constructs.cli.estimate import estimate
from pipeline_constructs.cli.model import pipelines_in
from pipeline_constructs.core.compliance import acknowledgments, suspended_acknowledgments, unacknowledged_findings
from pipeline_constructs.core.private.defaults import CDK_CLI_VERSION
from pipeline_constructs.core.run_orders import RunOrderOverride, add_run_order
from pipeline_constructs.glue_etl import GlueEtlPipeline, GlueEtlStage
from pipeline_constructs.testing import deterministic_app

PROD_GATED = DeploymentTarget(name="Prod", account="222222222222", region="eu-west-1", manual_approval=True)


@pytest.fixture(scope="module")
def construct() -> GlueEtlPipeline:
    return example()[1]


@pytest.fixture(scope="module")
def pipeline(construct) -> dict:
    return pipeline_props(Template.from_stack(cdk.Stack.of(construct)))


# -- the example pipeline -----------------------------------------------------------------------------


def test_stages_in_order(pipeline):
    assert pipeline["PipelineType"] == "V2"
    assert pipeline["Name"] == "covid19-glue"
    assert stage_names(pipeline) == ["Source", "Build", "UpdatePipeline", "Assets", "Dev", "Prod-Permissions", "Prod"]


def test_job_tests_run_beside_synth(pipeline):
    build = [(a, p, o) for s, a, p, o in pipeline_actions(pipeline) if s == "Build"]
    assert build == [("JobTests", "CodeBuild", 1), ("Synth", "CodeBuild", 1)]


def test_synth_reads_nothing_the_job_tests_write(pipeline):
    (build,) = [s for s in pipeline["Stages"] if s["Name"] == "Build"]
    actions = {a["Name"]: a for a in build["Actions"]}
    assert "OutputArtifacts" not in actions["JobTests"]  # no output a parallel synth could miss
    (source,) = next(s for s in pipeline["Stages"] if s["Name"] == "Source")["Actions"]
    source_artifacts = [{"Name": o["Name"]} for o in source["OutputArtifacts"]]
    assert actions["Synth"]["InputArtifacts"] == source_artifacts == actions["JobTests"]["InputArtifacts"]


def test_a_failing_job_test_stops_the_pipeline_before_anything_deploys(pipeline):
    stages = pipeline["Stages"]
    names = [s["Name"] for s in stages]
    build = names.index("Build")
    assert ("Build", "JobTests") in [(s, a) for s, a, _p, _o in pipeline_actions(pipeline)]
    # a stage succeeds only when all of its actions did, and nothing lets Build be skipped or end early
    assert not {"BeforeEntry", "OnFailure", "OnSuccess"} & set(stages[build])
    # every action that changes something (self-mutation, assets, change sets) is in a later stage
    for i, stage in enumerate(stages):
        for action in stage["Actions"]:
            category = action["ActionTypeId"]["Category"]
            if category == "Deploy" or action["Name"] in ("SelfMutate", "FileAssets"):
                assert i > build, (stage["Name"], action["Name"])


def test_the_job_tests_can_run_before_synth_again():
    built = glue_pipeline()
    add_run_order(built.pipeline, RunOrderOverride("Build", "JobTests", run_order=1))  # docs/fast_pipelines.md
    actions = pipeline_actions(pipeline_props(Template.from_stack(cdk.Stack.of(built))))
    assert [(a, o) for s, a, _p, o in actions if s == "Build"] == [("JobTests", 1), ("Synth", 2)]


def test_modeled_run_time_the_job_tests_cost_nothing_before_the_first_deployment():
    app = example()[0]
    (modeled,) = [estimate(p) for p in pipelines_in(CloudAssembly.load(Path(app.outdir)))]
    stages = {s.name: s for s in modeled.stages}
    assert stages["Build"].steps == ((1, 90),)  # JobTests and Synth: one CodeBuild start's time
    # Source 15 + Build 90 + UpdatePipeline 90 + Assets 90 + Dev 20 + 60: the hand-written port's 365 s
    assert modeled.first_deployment_worst_case == 365


def test_four_codebuild_actions_before_the_first_deployment(pipeline):
    before = []
    for stage, action, provider, _order in pipeline_actions(pipeline):
        if stage == "Dev":
            break
        if provider == "CodeBuild":
            before.append(action)
    assert before == [
        "JobTests",
        "Synth",
        "SelfMutate",
        "FileAssets",
        "PermissionCheck-Prod",
    ]  # the last two side by side
    assert ("Assets", "PermissionCheck-Prod", "CodeBuild", 1) in pipeline_actions(pipeline)


def test_prod_is_gated_in_its_own_account(pipeline, construct):
    prod = [(a, p, o) for s, a, p, o in pipeline_actions(pipeline) if s == "Prod"]
    assert prod == [
        ("PromoteToProd", "Manual", 1),
        ("covid19-glue-Etl.Prepare", "CloudFormation", 2),
        ("covid19-glue-Etl.Deploy", "CloudFormation", 3),
    ]
    confirm = [(a, p) for s, a, p, _ in pipeline_actions(pipeline) if s == "Prod-Permissions"]
    assert confirm == [("PermissionCheck.Confirm", "Manual")]  # the early check's confirmation, before Prod
    assert construct.stages["Prod"].account == "222222222222"
    assert set(construct.gates) == {"Prod"}
    dev = [(a, p) for s, a, p, _ in pipeline_actions(pipeline) if s == "Dev"]
    assert dev == [("Prepare", "CloudFormation"), ("Deploy", "CloudFormation")]


def test_escape_hatches_are_filled(construct):
    assert list(construct.stages) == ["Dev", "Prod"] == list(construct.deployments)
    assert all(isinstance(s, GlueEtlStage) for s in construct.stages.values())
    assert list(construct.test_reports) == ["JobTests"]
    assert construct.code_pipeline.pipeline_name is not None


def test_synth_is_standard_and_unprivileged(construct):
    synth = project(Template.from_stack(cdk.Stack.of(construct)), "Synth")
    assert synth["Environment"]["Image"].startswith("aws/codebuild/")
    assert synth["Environment"]["PrivilegedMode"] is False
    commands = without_change_check(buildspec(synth)["phases"]["build"]["commands"])
    assert commands == ["pip install -r requirements.txt", f"npx -y aws-cdk@{CDK_CLI_VERSION} synth"]


def test_no_unacknowledged_findings_in_five_packs():
    assert [str(f) for f in unacknowledged_findings(example()[0])] == []


def test_every_acknowledgment_matches_a_finding_it_silences():
    with suspended_acknowledgments():
        bare = deterministic_app()
        EXAMPLE.build_app(bare)
        raised = {(f.path, f.rule) for f in unacknowledged_findings(bare)}
    stale = sorted(
        (path, rule)
        for path, rule, _ in acknowledgments(example()[0])
        if not any(rule == r and (p == path or p.startswith(path + "/")) for p, r in raised)
    )
    assert stale == [], f"acknowledgments without a finding (remove them): {stale}"


# -- the props contract -------------------------------------------------------------------------------


def test_no_targets():
    with pytest.raises(ValueError, match=r"P/G: targets = \[\] is invalid: expected at least one DeploymentTarget"):
        glue_pipeline(targets=[])


def test_spec_must_be_a_spec():
    with pytest.raises(ValueError, match=r"spec = .* is invalid: expected a GlueEtlSpec"):
        glue_pipeline(spec={"database": "db"})


@pytest.mark.parametrize("path", ["/abs/tests", "../tests", ""])
def test_job_tests_path_must_be_relative(path):
    with pytest.raises(ValueError, match=r"job_tests = .* is invalid: expected a path relative to the repository"):
        glue_pipeline(job_tests=path)


@pytest.mark.parametrize(
    "mixed", [{"synth_commands": ["npx cdk synth"]}, {"app_dir": "etl"}], ids=["synth_commands", "app_dir"]
)
def test_synth_and_the_default_synth_props_exclude_each_other(mixed):
    own = pipelines.ShellStep("OwnSynth", input=SOURCE, commands=["make synth"])
    (prop,) = mixed
    with pytest.raises(
        ValueError, match=rf"^P/G: {prop} = .* is invalid: give either synth \(a whole synth step\) or synth_commands"
    ):
        glue_pipeline(synth=own, **mixed)


def test_an_own_synth_step_runs_beside_the_job_tests():
    own = pipelines.CodeBuildStep("OwnSynth", input=SOURCE, commands=["make synth"])
    built = glue_pipeline(synth=own)
    actions = pipeline_actions(pipeline_props(Template.from_stack(cdk.Stack.of(built))))
    assert [(a, o) for s, a, _p, o in actions if s == "Build"] == [("JobTests", 1), ("OwnSynth", 1)]


def test_the_job_tests_join_an_own_synth_after_the_steps_it_needs():
    generate = pipelines.CodeBuildStep("Generate", input=SOURCE, commands=["make gen"], primary_output_directory="gen")
    own = pipelines.CodeBuildStep(
        "OwnSynth", input=SOURCE, additional_inputs={"gen": generate}, commands=["make synth"]
    )
    built = glue_pipeline(synth=own)
    actions = pipeline_actions(pipeline_props(Template.from_stack(cdk.Stack.of(built))))
    assert [(a, o) for s, a, _p, o in actions if s == "Build"] == [("Generate", 1), ("JobTests", 2), ("OwnSynth", 2)]


def test_a_synth_that_is_not_a_step_is_rejected():
    class Producer:
        primary_output = None

    with pytest.raises(TypeError, match=r"^P/G: synth = .* expected a pipelines.Step"):
        glue_pipeline(synth=Producer())


@pytest.mark.parametrize("key", ["synth", "pipeline_name", "targets"])
def test_reserved_pipeline_options_name_the_prop_to_use(key):
    with pytest.raises(ValueError, match=rf"pipeline_options.*{key}.*use the {key} prop"):
        glue_pipeline(pipeline_options={key: None})


def test_pipeline_options_reach_the_pipeline_and_the_report_group():
    built = glue_pipeline(
        pipeline_options={
            "cross_account_keys": False,
            "removal_policy": cdk.RemovalPolicy.DESTROY,
            "cli_version": "2.1000.0",
        }
    )
    assert built.secure_pipeline.cross_account_keys is False
    template = Template.from_stack(cdk.Stack.of(built))
    (group,) = template.find_resources("AWS::CodeBuild::ReportGroup").values()
    assert group["DeletionPolicy"] == "Delete"
    assert (
        without_change_check(buildspec(project(template, "Synth"))["phases"]["build"]["commands"])[-1]
        == "npx -y aws-cdk@2.1000.0 synth"
    )


def test_a_manual_approval_is_promote_to_the_target():
    built = glue_pipeline(targets=[DEV, PROD_GATED])
    actions = pipeline_actions(pipeline_props(Template.from_stack(cdk.Stack.of(built))))
    assert [(s, a) for s, a, p, _ in actions if p == "Manual"] == [("Prod", "PromoteToProd")]
    assert built.gates == {}


def test_the_stage_factory_builds_each_target_and_must_return_a_stage():
    seen = []

    def factory(scope, id, target):
        seen.append(target.name)
        stage = cdk.Stage(scope, id, env=target.env)
        cdk.Stack(stage, "Empty").add_metadata("k", "v")
        return stage

    built = glue_pipeline(targets=[DEV, PROD_GATED], stage_factory=factory)
    assert seen == ["Dev", "Prod"]
    assert not any(isinstance(s, GlueEtlStage) for s in built.stages.values())
    with pytest.raises(TypeError, match=r"^P/G: stage_factory = .* expected the factory to return an aws_cdk.Stage"):
        glue_pipeline(stage_factory=lambda scope, id, target: None)


def test_escape_hatches_let_a_team_add_a_stage_and_reach_the_pipeline(tmp_path, monkeypatch):
    (tmp_path / "etl" / "tests").mkdir(parents=True)  # the app runs in etl/; the tests are etl/tests
    monkeypatch.chdir(tmp_path / "etl")
    stack = pipeline_stack(deterministic_app(), "P")
    built = glue_pipeline(stack, spec=spec(), targets=[DEV, PROD_GATED], app_dir="etl", job_tests="etl/tests")
    built.pipeline.add_wave("Smoke", post=[pipelines.ShellStep("SmokeTest", commands=["echo ok"])])
    stages = [s.stage_name for s in built.code_pipeline.stages]
    assert stages == ["Source", "Build", "UpdatePipeline", "Assets", "Dev", "Prod", "Smoke"]
    template = Template.from_stack(stack)
    assert buildspec(project(template, "Synth"))["phases"]["build"]["commands"][0] == "cd etl"
    assert "pytest etl/tests" in json.dumps(buildspec(project(template, "JobTests")))
