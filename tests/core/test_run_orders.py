"""Run-order overrides on the built pipeline (core/run_orders.py): moves by stage and action name, the stage
renumbered 1..n, data flow (artifacts, variables) kept, bad input named, and a real pipeline's template."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from core.deployment_model import SOURCE
from helpers import PIPELINE_ENV, pipeline_actions, pipeline_props
from hypothesis import given
from hypothesis import strategies as st

from pipeline_constructs.core.pipeline import SecurePipeline
from pipeline_constructs.core.run_orders import (
    MAX_RUN_ORDER,
    RunOrderOverride,
    add_run_order,
    apply_run_orders,
    planned_run_orders,
)
from pipeline_constructs.testing import deterministic_app

# ---------------------------------------------------------------- RunOrderOverride


def test_an_override_names_one_target_run_order():
    assert RunOrderOverride("Build", "Tests", same_as="Synth").same_as == "Synth"
    assert RunOrderOverride("Build", "Tests", run_order=MAX_RUN_ORDER).run_order == 999


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, r"run_order = None is invalid: give exactly one of run_order \(1-999\) and same_as"),
        ({"run_order": 2, "same_as": "Synth"}, r"run_order = 2 is invalid: give exactly one of"),
        ({"same_as": "Tests"}, r"same_as = 'Tests' is invalid: expected an action other than 'Tests'"),
        ({"same_as": "has space"}, r"same_as = 'has space' is invalid: expected a CodePipeline action name"),
        ({"run_order": 0}, r"run_order = 0 is invalid: expected an integer from 1 to 999"),
        ({"run_order": 1000}, r"run_order = 1000 is invalid: expected an integer from 1 to 999"),
    ],
)
def test_bad_overrides_are_named(kwargs: dict[str, Any], message: str):
    with pytest.raises(ValueError, match=rf"^RunOrderOverride: {message}"):
        RunOrderOverride("Build", "Tests", **kwargs)


@pytest.mark.parametrize("value", [True, "2", 1.5])
def test_a_run_order_is_an_integer(value: Any):
    with pytest.raises((TypeError, ValueError), match=r"^RunOrderOverride: run_order = "):
        RunOrderOverride("Build", "Tests", run_order=value)


@pytest.mark.parametrize("prop", ["stage_name", "action_name"])
@pytest.mark.parametrize("value", ["", "x" * 101, "a/b", None])
def test_stage_and_action_names_are_codepipeline_names(prop: str, value: Any):
    kwargs: dict[str, Any] = {"stage_name": "Build", "action_name": "Tests", "run_order": 1, prop: value}
    with pytest.raises((TypeError, ValueError), match=rf"^RunOrderOverride: {prop} = "):
        RunOrderOverride(**kwargs)


@given(st.integers())
def test_only_run_orders_from_1_to_999_are_accepted(order: int):
    if 1 <= order <= MAX_RUN_ORDER:
        assert RunOrderOverride("Build", "Tests", run_order=order).run_order == order
    else:
        with pytest.raises(ValueError, match=r"expected an integer from 1 to 999"):
            RunOrderOverride("Build", "Tests", run_order=order)


# ---------------------------------------------------------------- planned_run_orders (rendered stages)


def action(name: str, order: int, *, reads: tuple[str, ...] = (), writes: tuple[str, ...] = (), **extra: Any) -> dict:
    return {
        "name": name,
        "runOrder": order,
        "inputArtifacts": [{"name": a} for a in reads],
        "outputArtifacts": [{"name": a} for a in writes],
        **extra,
    }


BUILD = {
    "name": "Build",
    "actions": [action("Tests", 1, reads=("src",)), action("Synth", 2, reads=("src",), writes=("cdk.out",))],
}


def test_same_as_runs_two_actions_together_and_the_stage_is_renumbered():
    assert planned_run_orders(BUILD, [RunOrderOverride("Build", "Tests", same_as="Synth")]) == {"Tests": 1, "Synth": 1}


def test_an_explicit_run_order_keeps_every_other_action_in_place():
    stage = {"name": "S", "actions": [action("A", 1), action("B", 2), action("C", 3)]}
    assert planned_run_orders(stage, [RunOrderOverride("S", "A", run_order=7)]) == {"B": 1, "C": 2, "A": 3}
    assert planned_run_orders(stage, [RunOrderOverride("S", "C", run_order=1)]) == {"A": 1, "C": 1, "B": 2}


def test_overrides_apply_in_order():
    stage = {"name": "S", "actions": [action("A", 1), action("B", 2), action("C", 3)]}
    overrides = [RunOrderOverride("S", "B", same_as="C"), RunOrderOverride("S", "A", same_as="B")]
    assert planned_run_orders(stage, overrides) == {"A": 1, "B": 1, "C": 1}


def test_a_reader_cannot_run_beside_the_action_writing_its_artifact():
    with pytest.raises(
        ValueError,
        match=r"^P: RunOrderOverride = 'Build/Deploy' is invalid: action 'Deploy' reads artifact 'cdk.out' of "
        r"'Synth', which would run at run order 2 \(not before 'Deploy' at 2\): these two cannot run in parallel",
    ):
        planned_run_orders(
            {"name": "Build", "actions": [*BUILD["actions"], action("Deploy", 3, reads=("cdk.out",))]},
            [RunOrderOverride("Build", "Deploy", same_as="Synth")],
            where="P",
        )


def test_a_reader_cannot_move_before_its_writer():
    with pytest.raises(
        ValueError, match=r"action 'Synth' reads artifact 'gen' of 'Gen', which would run at run order 2"
    ):
        planned_run_orders(
            {"name": "B", "actions": [action("Gen", 1, writes=("gen",)), action("Synth", 2, reads=("gen",))]},
            [RunOrderOverride("B", "Gen", run_order=3)],
        )


def test_a_variable_reader_cannot_run_beside_the_variable_writer():
    stage = {
        "name": "B",
        "actions": [
            action("Check", 1, namespace="CheckVars"),
            action("Use", 2, configuration={"EnvironmentVariables": '[{"value":"#{CheckVars.CHANGED}"}]'}),
        ],
    }
    with pytest.raises(ValueError, match=r"action 'Use' reads variables of namespace 'CheckVars' of 'Check'"):
        planned_run_orders(stage, [RunOrderOverride("B", "Use", same_as="Check")])
    # a variable of another stage's action (no namespace here) constrains nothing
    stage["actions"][0].pop("namespace")
    assert planned_run_orders(stage, [RunOrderOverride("B", "Use", same_as="Check")]) == {"Check": 1, "Use": 1}


def test_artifacts_from_earlier_stages_do_not_constrain_a_move():
    # both read the source artifact, written by the Source stage: they may run together
    assert planned_run_orders(BUILD, [RunOrderOverride("Build", "Synth", run_order=1)]) == {"Tests": 1, "Synth": 1}


@pytest.mark.parametrize(
    ("prop", "override"),
    [
        ("action_name", RunOrderOverride("Build", "Nope", same_as="Synth")),
        ("same_as", RunOrderOverride("Build", "Tests", same_as="Nope")),
    ],
)
def test_a_missing_action_is_named_with_the_stage_s_actions(prop: str, override: RunOrderOverride):
    with pytest.raises(
        ValueError,
        match=rf"^P: RunOrderOverride.{prop} = 'Nope' is invalid: expected an action of stage 'Build' "
        r"\(actions: Tests, Synth\)",
    ):
        planned_run_orders(BUILD, [override], where="P")


# ---------------------------------------------------------------- a real pipeline


def _pipeline(extra_build_step: bool = False) -> tuple[cdk.App, cdk.Stack, SecurePipeline]:
    app = deterministic_app()
    stack = cdk.Stack(app, "Delivery", env=PIPELINE_ENV)
    tests = pipelines.CodeBuildStep("Tests", input=SOURCE, commands=["pytest"])
    synth = pipelines.CodeBuildStep(
        "Synth", input=SOURCE, commands=["npx cdk synth"], primary_output_directory="cdk.out"
    )
    synth.add_step_dependency(tests)
    if extra_build_step:
        lint = pipelines.CodeBuildStep("Lint", input=SOURCE, commands=["ruff check"])
        tests.add_step_dependency(lint)
    return app, stack, SecurePipeline(stack, "Pipeline", synth=synth)


def _build_stage(stack: cdk.Stack) -> list[tuple[str, int]]:
    return [(a, o) for s, a, _p, o in pipeline_actions(pipeline_props(Template.from_stack(stack))) if s == "Build"]


def test_cdk_pipelines_serializes_a_dependency_of_synth():
    _app, stack, _secure = _pipeline()
    assert _build_stage(stack) == [("Tests", 1), ("Synth", 2)]


def test_the_override_reaches_the_template_by_stage_and_action_name():
    _app, stack, secure = _pipeline()
    add_run_order(secure.pipeline, RunOrderOverride("Build", "Tests", same_as="Synth"))
    assert _build_stage(stack) == [("Tests", 1), ("Synth", 1)]
    # every other stage is untouched
    stages = pipeline_props(Template.from_stack(stack))["Stages"]
    assert [(s["Name"], [a["RunOrder"] for a in s["Actions"]]) for s in stages if s["Name"] != "Build"] == [
        ("Source", [1]),
        ("UpdatePipeline", [1]),
    ]


def test_same_as_keeps_the_moved_action_after_the_steps_before_it():
    _app, stack, secure = _pipeline(extra_build_step=True)
    assert _build_stage(stack) == [("Lint", 1), ("Tests", 2), ("Synth", 3)]
    _app, stack, secure = _pipeline(extra_build_step=True)
    add_run_order(secure.pipeline, RunOrderOverride("Build", "Tests", same_as="Synth"))
    assert _build_stage(stack) == [("Lint", 1), ("Tests", 2), ("Synth", 2)]


def test_all_overrides_of_a_pipeline_apply_together():
    _app, stack, secure = _pipeline(extra_build_step=True)
    add_run_order(secure.pipeline, RunOrderOverride("Build", "Tests", same_as="Synth"))
    add_run_order(secure.pipeline, RunOrderOverride("Build", "Lint", same_as="Tests"))
    assert _build_stage(stack) == [("Lint", 1), ("Tests", 1), ("Synth", 1)]


def test_a_missing_stage_fails_the_synth_naming_the_stages():
    app, _stack, secure = _pipeline()
    add_run_order(secure.pipeline, RunOrderOverride("Tests", "Tests", run_order=1))
    with pytest.raises(
        (RuntimeError, ValueError),  # raised at synth, through jsii
        match=r"Delivery/Pipeline/Pipeline: RunOrderOverride.stage_name = 'Tests' is invalid: expected a stage of "
        r"the built pipeline \(stages: Source, Build, UpdatePipeline\)",
    ):
        app.synth()


def test_an_action_of_another_stage_cannot_be_joined():
    _app, _stack, secure = _pipeline()
    secure.build()
    with pytest.raises(
        ValueError,
        match=r"RunOrderOverride.same_as = 'Synth' is invalid: expected an action of stage 'UpdatePipeline' "
        r"\(actions: SelfMutate\)",
    ):
        apply_run_orders(secure.pipeline, [RunOrderOverride("UpdatePipeline", "SelfMutate", same_as="Synth")])


def test_nothing_to_apply_changes_nothing():
    _app, stack, secure = _pipeline()
    secure.build()
    apply_run_orders(secure.pipeline, [])
    assert _build_stage(stack) == [("Tests", 1), ("Synth", 2)]


def test_only_overrides_are_registered():
    _app, _stack, secure = _pipeline()
    with pytest.raises(TypeError, match=r"^Delivery/Pipeline/Pipeline: expected a RunOrderOverride, got dict"):
        add_run_order(secure.pipeline, {"stage_name": "Build"})  # type: ignore[arg-type]
