"""Waves (core/targets.py): how targets group into stages, the layout rules, and what deploy_targets builds
for waves, health gates and Resilience Hub assessments (the step functions faked: other modules own them)."""

from __future__ import annotations

import itertools
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from constructs import Construct
from core.deployment_model import APP_ARN, SOURCE, WINDOW, FakeSteps, install_fake_steps, service, stage, target
from helpers import PIPELINE_ENV, pipeline_actions, pipeline_props, stage_names
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_constructs import DeploymentTarget, SecurityGatedStage
from pipeline_constructs.core.conditions import (
    AlarmBake,
    DeploymentWindow,
    HealthGate,
    OnFailure,
    ResilienceAssessment,
)
from pipeline_constructs.core.pipeline import SecurePipeline
from pipeline_constructs.core.targets import (
    check_deployment_layout,
    deploy_targets,
    deployment_groups,
    reject_deployment_model,
    validate_targets,
)
from pipeline_constructs.testing import deterministic_app


@pytest.fixture
def fake_steps(monkeypatch: pytest.MonkeyPatch) -> FakeSteps:
    return install_fake_steps(monkeypatch)


def deploy(targets: list[DeploymentTarget], *, secure: bool = True, **kwargs: Any):  # type: ignore[no-untyped-def]
    """deploy_targets on a SecurePipeline (or a plain V2 CDK Pipelines pipeline): (stack, added, pipeline props)."""
    app = deterministic_app()
    stack = cdk.Stack(app, "Delivery", env=PIPELINE_ENV)
    synth = pipelines.ShellStep("Synth", input=SOURCE, commands=["x"])
    if secure:
        hardened = SecurePipeline(stack, "Pipeline", synth=synth, targets=targets)
        pipeline, kwargs["secure"] = hardened.pipeline, hardened
    else:
        from aws_cdk import aws_codepipeline as codepipeline

        pipeline = pipelines.CodePipeline(
            stack, "Pipeline", synth=synth, cross_account_keys=True, pipeline_type=codepipeline.PipelineType.V2
        )
    added = deploy_targets(Construct(stack, "Owner"), pipeline, targets, service, **kwargs)
    return stack, added, pipeline_props(Template.from_stack(stack))


def actions(props: dict[str, Any], stage: str) -> list[tuple[str, str, int]]:
    return [(a, p, o) for s, a, p, o in pipeline_actions(props) if s == stage]


# -- grouping -----------------------------------------------------------------------------------------


def test_consecutive_targets_of_a_wave_share_one_group():
    targets = [target("Dev"), target("A", wave="Prod"), target("B", wave="Prod"), target("Dr")]
    groups = deployment_groups(targets)
    assert [(g.name, g.wave, g.indices) for g in groups] == [
        ("Dev", None, (0,)),
        ("Prod", "Prod", (1, 2)),
        ("Dr", None, (3,)),
    ]
    assert [t.name for t in groups[1].targets] == ["A", "B"]


@given(st.lists(st.sampled_from([None, "W1", "W2", "W3"]), min_size=1, max_size=12))
def test_groups_are_the_runs_of_equal_waves(waves):
    targets = [target(f"T{i}", wave=w) for i, w in enumerate(waves)]
    groups = deployment_groups(targets)
    assert [i for g in groups for i in g.indices] == list(range(len(targets)))  # every target once, in order
    for g in groups:
        assert {targets[i].wave for i in g.indices} == {g.wave}
        assert g.wave is not None or len(g.indices) == 1  # a target without a wave is alone in its stage
    for before, after in itertools.pairwise(groups):
        assert before.wave is None or before.wave != after.wave  # runs are maximal


@settings(max_examples=60)
@given(st.lists(st.sampled_from([None, "W1", "W2"]), min_size=1, max_size=10))
def test_a_wave_that_reappears_after_another_stage_is_rejected(waves):
    targets = [target(f"T{i}", wave=w) for i, w in enumerate(waves)]
    runs = [g.wave for g in deployment_groups(targets) if g.wave is not None]
    if len(runs) == len(set(runs)):
        assert len(check_deployment_layout("S/P", targets)) == len(deployment_groups(targets))
        return
    with pytest.raises(
        ValueError, match=r"^S/P: targets\[\d+\]\.wave = 'W\d' is invalid: the targets of a wave must be consecutive"
    ):
        check_deployment_layout("S/P", targets)


# -- layout rules -------------------------------------------------------------------------------------


def test_the_error_names_the_first_target_of_the_reappearing_wave():
    targets = [target("A", wave="Eu"), target("Dev"), target("B", wave="Eu")]
    with pytest.raises(
        ValueError,
        match=r"^S/P: targets\[2\]\.wave = 'Eu' is invalid: the targets of a wave must be consecutive: wave 'Eu' "
        r"already deployed up to targets\[0\] and other stages come in between",
    ):
        validate_targets("S/P", targets)


@pytest.mark.parametrize(
    ("targets", "prop", "value", "taken"),
    [
        ([target("Dev"), target("A", wave="dev")], r"targets\[1\]\.wave", "dev", r"targets\[0\] is named 'Dev'"),
        ([target("A", wave="Eu"), target("B", wave="Us"), target("Eu")], r"targets\[0\]\.wave", "Eu", r"targets\[2\]"),
        (
            [target("A", wave="Eu"), target("B", health_gate=HealthGate()), target("C", wave="B-Health")],
            r"targets\[2\]\.wave",
            "B-Health",
            "the AWS Health stage of 'B'",
        ),
        (
            [target("A", wave="Prod"), target("Prod")],
            r"targets\[0\]\.wave",
            "Prod",
            r"targets\[1\] is named 'Prod'",
        ),
        ([target("A", wave="Assets")], r"targets\[0\]\.wave", "Assets", "'Assets' is a stage CDK Pipelines adds"),
        ([target("Source")], r"targets\[0\]\.name", "Source", "'Source' is a stage CDK Pipelines adds"),
        ([target("UpdatePipeline")], r"targets\[0\]\.name", "UpdatePipeline", "'UpdatePipeline' is a stage"),
        (
            [target("Prod", health_gate=HealthGate()), target("Prod-Health")],
            r"targets\[0\]\.health_gate",
            "Prod-Health",
            r"targets\[1\] is named 'Prod-Health'",
        ),
        (
            [target("Prod-Health"), target("A", wave="Prod", health_gate=HealthGate()), target("B", wave="Prod")],
            r"targets\[1\]\.health_gate",
            "Prod-Health",
            r"targets\[0\] is named 'Prod-Health'",
        ),
    ],
)
def test_stage_names_are_unique_across_targets_waves_and_health_stages(targets, prop, value, taken):
    with pytest.raises(
        ValueError, match=rf"^S/P: {prop} = '{value}' is invalid: expected a name no other stage or target has: {taken}"
    ):
        check_deployment_layout("S/P", targets)


def test_a_wave_is_not_named_like_its_own_target():
    with pytest.raises(
        ValueError, match=r"DeploymentTarget\('Prod'\): wave = 'PROD' is invalid: expected a name other than"
    ):
        target("Prod", wave="PROD")


@pytest.mark.parametrize("bad", ["eu prod", "1st", "x" * 65, ""])
def test_a_wave_name_follows_the_target_name_rule(bad):
    with pytest.raises(ValueError, match=r"DeploymentTarget\('A'\): wave = .* is invalid: expected a letter"):
        target("A", wave=bad)


@pytest.mark.parametrize(
    ("field_name", "first", "other", "shown"),
    [
        ("deployment_window", WINDOW, None, r"DeploymentWindow\(cron="),
        ("deployment_window", None, WINDOW, "none"),
        ("deployment_window", WINDOW, DeploymentWindow.weekdays(start_hour=8), r"DeploymentWindow\("),
        ("on_failure", OnFailure.rollback(), OnFailure.retry(), r"OnFailure\(result='ROLLBACK'"),
        ("on_failure", None, OnFailure.rollback(), "none"),
    ],
)
def test_every_target_of_a_wave_gives_the_same_window_and_failure_behaviour(field_name, first, other, shown):
    targets = [
        target("A", wave="Prod", **{field_name: first}),
        target("B", wave="Prod", **{field_name: first}),
        target("C", wave="Prod", **{field_name: other}),
    ]
    with pytest.raises(
        ValueError,
        match=rf"^S/P: targets\[2\]\.{field_name} = .* is invalid: every target of wave 'Prod' shares one stage "
        rf"and gives the same {field_name}: targets\[0\] \('A'\) gives {shown}",
    ):
        check_deployment_layout("S/P", targets)


def test_targets_outside_a_wave_may_differ():
    targets = [target("A", deployment_window=WINDOW), target("B", on_failure=OnFailure.rollback()), target("C")]
    assert len(check_deployment_layout("S/P", targets)) == 3


def test_a_wave_watches_at_most_five_alarms_together():
    ok = [
        target("A", wave="Prod", bake=AlarmBake(alarm_names=("a1", "a2", "a3"))),
        target("B", wave="Prod", bake=AlarmBake(alarm_names=("b1", "b2"))),
    ]
    assert len(check_deployment_layout("S/P", ok)[0].alarms) == 5
    too_many = [*ok, target("C", wave="Prod"), target("D", wave="Prod", bake=AlarmBake(alarm_names=("d1",)))]
    with pytest.raises(
        ValueError,
        match=r"^S/P: targets\[3\]\.bake = \('d1',\) is invalid: wave 'Prod' would watch 6 alarms and CodePipeline "
        r"allows 5 rules per condition",
    ):
        check_deployment_layout("S/P", too_many)


def test_reject_deployment_model_names_the_first_field_set():
    reject_deployment_model("S/L", [target("A"), target("B")], why="no stages")
    with pytest.raises(ValueError, match=r"^S/L: targets\[1\]\.on_failure = OnFailure\(.*\) is invalid: no stages$"):
        reject_deployment_model("S/L", [target("A"), target("B", on_failure=OnFailure.rollback())], why="no stages")


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("wave", "Europe"),
        ("deployment_window", WINDOW),
        ("bake", AlarmBake(alarm_names=("a",))),
        ("on_failure", OnFailure.retry()),
        ("health_gate", HealthGate()),
        ("resilience_assessment", ResilienceAssessment(app_arn=APP_ARN)),
    ],
)
def test_the_layer_pipeline_rejects_every_deployment_model_field(field_name, value):
    from pipeline_constructs.multi_region_layer.props import check_targets

    stack = cdk.Stack(deterministic_app(), "L", env=PIPELINE_ENV)
    check_targets("L/Layer", [target("Eu")], stack)
    with pytest.raises(
        ValueError,
        match=rf"^L/Layer: targets\[0\]\.{field_name} = .* is invalid: a layer pipeline publishes every region in one "
        "stage and deploys no stage per target",
    ):
        check_targets("L/Layer", [target("Eu", **{field_name: value})], stack)


# -- deploy_targets: waves ----------------------------------------------------------------------------


def test_a_wave_is_one_stage_whose_regions_deploy_at_the_same_run_orders():
    targets = [
        target("Dev"),
        target("Eu", wave="Prod", account="222222222222"),
        target("Us", "us-east-1", wave="Prod", account="222222222222"),
        target("Ap", "ap-southeast-2", wave="Prod", account="222222222222"),
    ]
    _, added, props = deploy(targets)
    assert stage_names(props)[-2:] == ["Dev", "Prod"]
    prod = stage(props, "Prod")
    orders = {a["Name"]: (a["RunOrder"], a.get("Region", "eu-west-1")) for a in prod["Actions"]}
    assert orders == {
        "Eu.Svc.Prepare": (1, "eu-west-1"),
        "Us.Svc.Prepare": (1, "us-east-1"),
        "Ap.Svc.Prepare": (1, "ap-southeast-2"),
        "Eu.Svc.Deploy": (2, "eu-west-1"),
        "Us.Svc.Deploy": (2, "us-east-1"),
        "Ap.Svc.Deploy": (2, "ap-southeast-2"),
    }
    assert list(added.waves) == ["Prod"]
    assert isinstance(added.waves["Prod"], pipelines.Wave)
    assert list(added.stages) == list(added.deployments) == ["Dev", "Eu", "Us", "Ap"]
    assert [d.stage_name for d in added.waves["Prod"].stages] == ["Eu", "Us", "Ap"]


def test_waves_deploy_one_after_the_other_in_target_order():
    targets = [
        target("A", wave="First"),
        target("B", "us-east-1", wave="Second"),
        target("C", "us-west-2", wave="Second"),
        target("D"),
    ]
    _, added, props = deploy(targets, secure=False)
    # a wave of one target is that target's stage: CDK Pipelines names a one-stage wave after its stage
    assert stage_names(props)[3:] == ["A", "Second", "D"]
    assert list(added.waves) == ["First", "Second"]


def test_gates_pre_and_post_steps_apply_to_each_target_of_a_wave():
    targets = [
        target("Eu", wave="Prod", account="222222222222", manual_approval=True),
        target("Us", "us-east-1", wave="Prod", account="222222222222", security_gated=True),
    ]
    _, added, props = deploy(
        targets,
        pre=lambda t: [pipelines.ShellStep(f"Before{t.name}", commands=["true"])],
        post=lambda t: [pipelines.ShellStep(f"After{t.name}", commands=["true"])],
    )
    names = [a for a, _, _ in actions(props, "Prod")]
    assert {
        "Eu.PromoteToEu",
        "Eu.BeforeEu",
        "Eu.AfterEu",
        "Us.BeforeUs",
        "Us.AfterUs",
    } <= set(names)
    # Us's permissions check runs early (no Assets stage here: at the end of Build); its confirmation before the wave
    assert ("PermissionCheck-Us", "CodeBuild", 2) in actions(props, "Build")
    assert stage_names(props)[-2:] == ["Us-Permissions", "Prod"]
    eu = {a: o for a, _, o in actions(props, "Prod") if a.startswith("Eu.")}
    assert eu["Eu.PromoteToEu"] < eu["Eu.BeforeEu"] < eu["Eu.Svc.Prepare"] < eu["Eu.Svc.Deploy"] < eu["Eu.AfterEu"]
    assert list(added.gates) == ["Us"]
    assert isinstance(added.gates["Us"], SecurityGatedStage)


# -- deploy_targets: health gate ----------------------------------------------------------------------


def test_a_health_gate_is_its_own_stage_just_before_the_deployment(fake_steps):
    targets = [target("Dev"), target("Prod", account="222222222222", health_gate=HealthGate(services=("LAMBDA",)))]
    _, added, props = deploy(targets)
    assert stage_names(props)[-3:] == ["Dev", "Prod-Health", "Prod"]
    assert actions(props, "Prod-Health") == [("HealthCheck-Prod", "Manual", 1)]
    (call,) = fake_steps.health_calls
    assert call["id"] == "HealthCheck-Prod"
    assert call["region"] == "eu-west-1"
    assert call["services"] == ("LAMBDA",)
    assert call["include_global"] is True
    assert isinstance(call["secure"], SecurePipeline)
    assert fake_steps.services_asked == []  # the target named its services
    assert added.health_checks == {"Prod": call["step"]}


def test_a_waves_health_stage_checks_each_gated_target_in_its_region(fake_steps):
    targets = [
        target("Eu", wave="Prod", health_gate=HealthGate(include_global=False)),
        target("Us", "us-east-1", wave="Prod"),
        target("Ap", "ap-southeast-2", wave="Prod", health_gate=HealthGate()),
    ]
    _, added, props = deploy(targets)
    assert stage_names(props)[-2:] == ["Prod-Health", "Prod"]
    assert sorted(actions(props, "Prod-Health")) == [("HealthCheck-Ap", "Manual", 1), ("HealthCheck-Eu", "Manual", 1)]
    assert [(c["region"], c["services"], c["include_global"]) for c in fake_steps.health_calls] == [
        ("eu-west-1", ("CLOUDFORMATION", "SSM"), False),
        ("ap-southeast-2", ("CLOUDFORMATION", "SSM"), True),
    ]
    assert fake_steps.services_asked == ["Eu", "Ap"]  # derived from each target's own stage
    assert list(added.health_checks) == ["Eu", "Ap"]


def test_a_manual_approval_moves_into_the_health_stage_before_the_checks(fake_steps):
    targets = [
        target("Eu", wave="Prod", manual_approval=True, approval_comment="Ship EU?", health_gate=HealthGate()),
        target("Us", "us-east-1", wave="Prod", manual_approval=True),  # no health gate: keeps its approval
        target(
            "Ap",
            "ap-southeast-2",
            wave="Prod",
            account="222222222222",
            security_gated=True,
            manual_approval=True,
            health_gate=HealthGate(),
        ),
    ]
    _, _, props = deploy(targets)
    assert sorted(actions(props, "Prod-Health"), key=lambda a: (a[2], a[0])) == [
        ("PromoteToEu", "Manual", 1),
        ("HealthCheck-Ap", "Manual", 2),
        ("HealthCheck-Eu", "Manual", 2),
    ]
    approval = next(a for a in stage(props, "Prod-Health")["Actions"] if a["Name"] == "PromoteToEu")
    assert approval["Configuration"]["CustomData"] == "Ship EU?"
    prod = [a for a, _, _ in actions(props, "Prod")]
    assert "Eu.PromoteToEu" not in prod
    assert "Us.PromoteToUs" in prod
    assert "Ap.PromoteToAp" in prod  # a security gate keeps its own approval
    assert stage_names(props)[-3:] == ["Ap-Permissions", "Prod-Health", "Prod"]  # the check's confirmation first


def test_health_gate_and_assessment_need_the_hardened_pipeline():
    for field_name, value in (
        ("health_gate", HealthGate()),
        ("resilience_assessment", ResilienceAssessment(app_arn=APP_ARN)),
    ):
        with pytest.raises(
            ValueError,
            match=rf"^Delivery/Owner: targets\[1\]\.{field_name} = .* is invalid: target 'Prod' needs the hardened "
            "pipeline",
        ):
            deploy([target("Dev"), target("Prod", **{field_name: value})], secure=False)


# -- deploy_targets: resilience assessment ------------------------------------------------------------


def test_the_assessment_runs_after_the_stacks_and_the_other_post_steps(fake_steps):
    assessment = ResilienceAssessment(app_arn=APP_ARN, stack_names=("Staging-Svc",))
    targets = [target("Staging", resilience_assessment=assessment), target("Prod", account="222222222222")]
    _, added, props = deploy(targets, post=lambda t: [pipelines.ShellStep(f"Smoke{t.name}", commands=["true"])])
    staging = actions(props, "Staging")
    assert [a for a, _, _ in staging] == ["Svc.Prepare", "Svc.Deploy", "SmokeStaging", "Resilience-Staging"]
    assert [o for _, _, o in staging] == [1, 2, 3, 4]
    assert "Resilience-Prod" not in [a for a, _, _ in actions(props, "Prod")]
    (call,) = fake_steps.assessment_calls
    assert call["id"] == "Resilience-Staging"
    assert call["target"].name == "Staging"
    assert call["stage"] is added.stages["Staging"]
    assert call["assessment"] is assessment
    assert added.assessments == {"Staging": call["step"]}


def test_an_assessment_in_a_wave_follows_its_own_targets_stacks(fake_steps):
    targets = [
        target("Eu", wave="Prod", resilience_assessment=ResilienceAssessment(app_arn=APP_ARN)),
        target("Us", "us-east-1", wave="Prod"),
    ]
    _, _, props = deploy(targets)
    orders = {a: o for a, _, o in actions(props, "Prod")}
    assert orders["Eu.Resilience-Eu"] > orders["Eu.Svc.Deploy"]
    assert not any(re.search("Resilience-Us", a) for a in orders)
