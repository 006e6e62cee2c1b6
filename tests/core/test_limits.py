"""CodePipeline's structural limits (core/limits.py): a 50-target, 5-wave pipeline fits and is compliant; layouts
beyond 50 stages or 50 actions per stage fail at construct time naming the targets; the built pipeline is recounted."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ssm as ssm
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from constructs import Construct
from core.deployment_model import SOURCE, install_fake_steps, service, target
from helpers import PIPELINE_ENV, pipeline_props, stage_names

from pipeline_constructs.core.compliance import unacknowledged_findings
from pipeline_constructs.core.compliance.audit import audit_assembly
from pipeline_constructs.core.compliance.iam import iam_statement_problems
from pipeline_constructs.core.conditions import HealthGate
from pipeline_constructs.core.limits import (
    MAX_ACTIONS_PER_STAGE,
    MAX_RULES_PER_CONDITION,
    MAX_STAGES,
    estimated_actions,
    limit_problems,
)
from pipeline_constructs.core.pipeline import SecurePipeline
from pipeline_constructs.core.targets import DeploymentTarget, deploy_targets
from pipeline_constructs.testing import deterministic_app

SOURCE_ARN = "arn:aws:codeconnections:eu-west-1:111111111111:connection/x"
REGIONS = ("eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-southeast-2")


def test_the_limits_are_codepipelines():
    assert (MAX_STAGES, MAX_ACTIONS_PER_STAGE, MAX_RULES_PER_CONDITION) == (50, 50, 5)


def _pipeline(targets: list[DeploymentTarget], outdir: str | None = None):  # type: ignore[no-untyped-def]
    app = deterministic_app(outdir=outdir)
    stack = cdk.Stack(app, "Delivery", env=PIPELINE_ENV)
    secure = SecurePipeline(
        stack, "Pipeline", synth=pipelines.ShellStep("Synth", input=SOURCE, commands=["x"]), targets=targets
    )
    return app, stack, secure


# -- 50 targets in 5 waves ----------------------------------------------------------------------------

FIFTY = [
    target(f"W{w}T{t}", REGIONS[t % len(REGIONS)], wave=f"Wave{w}", account="222222222222")
    for w in range(1, 6)
    for t in range(10)
]


@pytest.fixture(scope="module")
def fifty(tmp_path_factory):  # type: ignore[no-untyped-def]
    app, stack, secure = _pipeline(FIFTY, str(tmp_path_factory.mktemp("fifty")))
    added = deploy_targets(Construct(stack, "Owner"), secure.pipeline, FIFTY, service, secure=secure)
    assembly = app.synth()
    return app, assembly, added, pipeline_props(Template.from_stack(stack))


def test_fifty_targets_in_five_waves_fit_codepipelines_limits(fifty):
    _, _, added, props = fifty
    assert stage_names(props) == ["Source", "Build", "UpdatePipeline", *[f"Wave{w}" for w in range(1, 6)]]
    assert len(props["Stages"]) <= MAX_STAGES
    for stage in props["Stages"][3:]:
        assert len(stage["Actions"]) == 20 <= MAX_ACTIONS_PER_STAGE  # ten targets, one stack each, two actions
        # the ten targets deploy side by side: every change set is created at run order 1, executed at 2
        assert {a["RunOrder"] for a in stage["Actions"] if a["Name"].endswith(".Prepare")} == {1}
        assert {a["RunOrder"] for a in stage["Actions"] if a["Name"].endswith(".Deploy")} == {2}
        assert {a.get("Region", "eu-west-1") for a in stage["Actions"]} == set(REGIONS)
    assert list(added.waves) == [f"Wave{w}" for w in range(1, 6)]
    assert len(added.stages) == 50


def test_fifty_targets_in_five_waves_have_no_unacknowledged_finding(fifty):
    app, assembly, _, _ = fifty
    assert [str(f) for f in unacknowledged_findings(app)] == []
    audit = audit_assembly(app.outdir, bare_rule_covers_findings=False)
    assert audit.errors == []
    assert len(audit.templates) >= 51  # the pipeline stack, fifty stage stacks, the cross-region support stacks
    assert [str(f) for f in audit.unacknowledged] == []
    problems = [str(p) for s in assembly.stacks for p in iam_statement_problems(s.template, s.stack_name)]
    assert problems == []


# -- construct-time estimate --------------------------------------------------------------------------


def _deploy(targets: list[DeploymentTarget], factory=service):  # type: ignore[no-untyped-def]
    _, stack, secure = _pipeline(targets)
    return deploy_targets(Construct(stack, "Owner"), secure.pipeline, targets, factory, secure=secure)


def test_sixty_single_targets_fail_at_construct_time_suggesting_waves():
    built: list[str] = []

    def counting(scope, id, t):  # type: ignore[no-untyped-def]
        built.append(id)
        return service(scope, id, t)

    targets = [target(f"T{i}") for i in range(60)]
    with pytest.raises(
        ValueError,
        match=r"^Delivery/Owner: targets = '<60 targets, 63 stages>' is invalid: CodePipeline allows at most 50 stages "
        r"per pipeline, and this layout needs 63 \(3 of the pipeline itself, one per target or wave, 0 health-gate "
        r"stages\): deploy targets side by side in waves \(DeploymentTarget\(wave='Prod'\)\), or split the targets",
    ):
        _deploy(targets, counting)
    assert built == []  # nothing was built


def test_forty_seven_single_targets_fill_the_fifty_stages_exactly():
    added = _deploy([target(f"T{i}") for i in range(47)])
    assert len(added.stages) == 47
    with pytest.raises(ValueError, match=r"targets = '<48 targets, 51 stages>' is invalid"):
        _deploy([target(f"T{i}") for i in range(48)])


def test_health_stages_count_towards_the_fifty(monkeypatch):
    install_fake_steps(monkeypatch)
    targets = [target(f"T{i}", health_gate=HealthGate()) for i in range(24)]
    with pytest.raises(
        ValueError,
        match=r"'<24 targets, 51 stages>' is invalid: .* \(3 of the pipeline itself, one per "
        r"target or wave, 24 health-gate stages",
    ):
        _deploy(targets)


def test_a_wave_beyond_fifty_actions_fails_naming_the_wave():
    targets = [target(f"T{i}", wave="Prod") for i in range(26)]  # 26 stacks, 52 change-set actions
    with pytest.raises(
        ValueError,
        match=r"^Delivery/Owner: targets\[0\]\.wave = 'Prod' is invalid: stage 'Prod' would hold about 52 actions "
        r"\(two per stack, one per step\) and CodePipeline allows 50 actions per stage: split the wave into two waves",
    ):
        _deploy(targets)
    assert len(_deploy([target(f"T{i}", wave="Prod") for i in range(25)]).stages) == 25


def test_a_stage_of_too_many_stacks_fails_naming_the_target():
    def many_stacks(scope, id, t):  # type: ignore[no-untyped-def]
        stage = cdk.Stage(scope, id, env=t.env)
        for i in range(26 if t.name == "Big" else 1):
            ssm.StringParameter(cdk.Stack(stage, f"S{i}"), "P", string_value="x")
        return stage

    with pytest.raises(
        ValueError,
        match=r"^Delivery/Owner: targets\[1\] = 'Big' is invalid: stage 'Big' would hold about 52 actions .* deploy "
        r"fewer stacks in the target's stage",
    ):
        _deploy([target("Dev"), target("Big")], many_stacks)


@pytest.mark.parametrize(
    "targets",
    [
        [target("A", wave="W"), target("B", "us-east-1", wave="W")],
        [
            target("A", wave="W", manual_approval=True),
            target("B", "us-east-1", wave="W", account="222222222222", security_gated=True, manual_approval=True),
        ],
    ],
    ids=["plain", "gated"],
)
def test_the_estimate_is_the_built_stages_action_count(targets):
    def two_stacks(scope, id, t):  # type: ignore[no-untyped-def]
        stage = cdk.Stage(scope, id, env=t.env)
        ssm.StringParameter(cdk.Stack(stage, "One"), "P", string_value="x")
        ssm.StringParameter(cdk.Stack(stage, "Two"), "P", string_value="x")
        return stage

    _, stack, secure = _pipeline(targets)
    added = deploy_targets(
        Construct(stack, "Owner"),
        secure.pipeline,
        targets,
        two_stacks,
        pre=lambda t: [pipelines.ShellStep(f"Pre{t.name}", commands=["true"])],
        post=lambda t: [pipelines.ShellStep(f"Post{t.name}", commands=["true"])],
    )
    estimate = estimated_actions(list(added.deployments.values()))
    (wave,) = [s for s in pipeline_props(Template.from_stack(stack))["Stages"] if s["Name"] == "W"]
    assert estimate == len(wave["Actions"])


# -- recount on the built pipeline --------------------------------------------------------------------


def test_the_built_pipeline_is_recounted_when_stages_are_added_after_the_targets():
    app, stack, secure = _pipeline([target("Dev")])
    deploy_targets(Construct(stack, "Owner"), secure.pipeline, [target("Dev")], service)
    for i in range(47):  # a team adds stages through the escape hatch, past the construct-time estimate
        secure.pipeline.add_wave(f"Check{i}", post=[pipelines.ShellStep(f"C{i}", commands=["true"])])
    with pytest.raises(
        RuntimeError,
        match=r"Delivery/Pipeline/Pipeline: the built pipeline exceeds CodePipeline's limits: 51 stages \(CodePipeline "
        r"allows 50\): group targets into waves",
    ):
        app.synth()


def test_cdk_pipelines_splits_a_stage_beyond_fifty_actions_and_the_split_stages_count():
    # CDK Pipelines cuts a stage of more than 50 actions into "<name>.1", "<name>.2": a deploy stage split like
    # that would lose its conditions (found by name), so the construct-time estimate refuses it first.
    _, stack, secure = _pipeline([target("Dev")])
    deploy_targets(Construct(stack, "Owner"), secure.pipeline, [target("Dev")], service)
    secure.pipeline.add_wave("Checks", post=[pipelines.ShellStep(f"C{i}", commands=["true"]) for i in range(51)])
    props = pipeline_props(Template.from_stack(stack))
    assert [(s["Name"], len(s["Actions"])) for s in props["Stages"]][-2:] == [("Checks.1", 50), ("Checks.2", 1)]


def test_limit_problems_names_a_stage_beyond_fifty_actions():
    from aws_cdk import aws_codepipeline as codepipeline
    from aws_cdk import aws_codepipeline_actions as actions

    stack = cdk.Stack(deterministic_app(), "Plain", env=PIPELINE_ENV)
    plain = codepipeline.Pipeline(stack, "P", pipeline_type=codepipeline.PipelineType.V2)
    source = codepipeline.Artifact()
    plain.add_stage(
        stage_name="Source",
        actions=[
            actions.CodeStarConnectionsSourceAction(
                action_name="Source", owner="o", repo="r", connection_arn=SOURCE_ARN, output=source
            )
        ],
    )
    plain.add_stage(
        stage_name="Approve", actions=[actions.ManualApprovalAction(action_name=f"A{i}") for i in range(51)]
    )
    assert limit_problems(plain) == [
        "stage 'Approve' has 51 actions (CodePipeline allows 50): split its wave into two waves, or deploy fewer "
        "stacks or steps in it"
    ]


def test_limit_problems_of_a_pipeline_within_limits_is_empty():
    _, stack, secure = _pipeline([target("Dev")])
    deploy_targets(Construct(stack, "Owner"), secure.pipeline, [target("Dev")], service)
    assert limit_problems(secure.code_pipeline) == []
    assert "Dev" in json.dumps(pipeline_props(Template.from_stack(stack)))
