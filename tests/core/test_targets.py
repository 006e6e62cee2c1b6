"""Deployment targets (core/targets.py): the value object's rules and deploy_targets (order, gates, names)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from constructs import Construct
from helpers import pipeline_actions, pipeline_props, pipeline_stack, stage_names
from hypothesis import given
from hypothesis import strategies as st

from pipeline_constructs import DeploymentTarget, SecurityGatedStage
from pipeline_constructs.core.targets import deploy_targets, require_stage_factory, require_targets_in, validate_targets
from pipeline_constructs.testing import deterministic_app


def test_account_must_be_12_digits():
    with pytest.raises(
        ValueError, match=r"DeploymentTarget\('Prod'\): account = '1234' is invalid: expected a 12-digit"
    ):
        DeploymentTarget(name="Prod", account="1234", region="eu-west-1")


@given(st.text(alphabet="0123456789", min_size=0, max_size=20).filter(lambda s: len(s) != 12))
def test_any_non_12_digit_account_is_rejected(account):
    with pytest.raises(ValueError, match="account"):
        DeploymentTarget(name="Prod", account=account, region="eu-west-1")


def test_unknown_region_is_rejected():
    with pytest.raises(ValueError, match=r"region = 'eu-west-9' is invalid: expected an AWS region"):
        DeploymentTarget(name="Dev", account="111111111111", region="eu-west-9")


def test_invalid_notification_email_is_rejected():
    with pytest.raises(ValueError, match=r"notification_emails\[1\] = 'not-an-email' is invalid: expected an e-mail"):
        DeploymentTarget(
            name="Prod",
            account="222222222222",
            region="eu-west-1",
            notification_emails=("ok@example.com", "not-an-email"),
        )


def test_target_name_rule():
    with pytest.raises(ValueError, match=r"name = 'prod stage' is invalid: expected a letter"):
        DeploymentTarget(name="prod stage", account="222222222222", region="eu-west-1")


def test_no_targets_is_rejected():
    with pytest.raises(ValueError, match=r"App/P: targets = \[\] is invalid: expected at least one DeploymentTarget"):
        validate_targets("App/P", [])


def test_duplicate_target_names_are_rejected_case_insensitively():
    a = DeploymentTarget(name="Prod", account="222222222222", region="eu-west-1")
    b = DeploymentTarget(name="PROD", account="333333333333", region="eu-west-1")
    with pytest.raises(ValueError, match=r"targets\[\]\.name = 'PROD' is invalid: names must be unique"):
        validate_targets("App/P", [a, b])


# -- deploy_targets -----------------------------------------------------------------------------------

DEV = DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1")
QA = DeploymentTarget(name="Qa", account="111111111111", region="eu-west-1", manual_approval=True)
PROD = DeploymentTarget(name="Prod", account="222222222222", region="eu-west-1", security_gated=True)


def _service(scope: Construct, id: str, target: DeploymentTarget) -> cdk.Stage:
    stage = cdk.Stage(scope, id, env=target.env)
    sns.Topic(cdk.Stack(stage, "Svc"), "T")
    return stage


def _deploy(targets, factory=_service, **kwargs):
    app = deterministic_app()
    stack = pipeline_stack(app)
    synth = pipelines.ShellStep("Synth", input=pipelines.CodePipelineSource.git_hub("o/r", "main"), commands=["x"])
    pipeline = pipelines.CodePipeline(stack, "Pipeline", synth=synth, cross_account_keys=True)
    owner = Construct(stack, "Owner")
    added = deploy_targets(owner, pipeline, targets, factory, **kwargs)
    return stack, owner, added


def _actions(stack: cdk.Stack, stage: str) -> list[tuple[str, str]]:
    props = pipeline_props(Template.from_stack(stack))
    return [(action, provider) for name, action, provider, _ in pipeline_actions(props) if name == stage]


def test_one_stage_per_target_in_order_under_the_owner():
    stack, owner, added = _deploy([PROD, DEV, QA])
    assert list(added.stages) == ["Prod", "Dev", "Qa"]
    assert list(added.deployments) == ["Prod", "Dev", "Qa"]
    assert all(stage.node.scope is owner for stage in added.stages.values())
    assert [added.stages[n].node.id for n in added.stages] == ["Prod", "Dev", "Qa"]
    assert stage_names(pipeline_props(Template.from_stack(stack)))[-3:] == ["Prod", "Dev", "Qa"]


def test_each_target_gets_the_gates_it_asks_for():
    stack, owner, added = _deploy([DEV, QA, PROD])
    assert list(added.gates) == ["Prod"]
    gate = added.gates["Prod"]
    assert isinstance(gate, SecurityGatedStage)
    assert gate.node.id == "ProdGate"
    assert gate.node.scope is owner
    assert gate.approval is None
    assert [p for _, p in _actions(stack, "Dev")] == ["CloudFormation", "CloudFormation"]
    assert _actions(stack, "Qa")[0] == ("PromoteToQa", "Manual")
    assert [a for a, _ in _actions(stack, "Prod")][:2] == ["PermissionCheck.Check", "PermissionCheck.Confirm"]


def test_a_gated_target_with_manual_approval_is_approved_as_promote_to_its_name():
    both = DeploymentTarget(
        name="Prod", account="222222222222", region="eu-west-1", security_gated=True, manual_approval=True
    )
    stack, _, added = _deploy([both])
    assert added.gates["Prod"].approval is not None
    manual = [a for a, p in _actions(stack, "Prod") if p == "Manual"]
    assert manual == ["PermissionCheck.Confirm", "PromoteToProd"]  # the check's own confirmation, then the approval


def test_pre_and_post_steps_per_target():
    stack, _, _ = _deploy(
        [DEV, QA],
        pre=lambda t: [pipelines.ShellStep(f"Before{t.name}", commands=["true"])],
        post=lambda t: [pipelines.ShellStep(f"After{t.name}", commands=["true"])] if t.name == "Qa" else [],
    )
    dev = [a for a, _ in _actions(stack, "Dev")]
    assert dev[0] == "BeforeDev"
    assert "AfterDev" not in dev
    qa = [a for a, _ in _actions(stack, "Qa")]
    assert qa[0] == "PromoteToQa"
    assert qa.index("BeforeQa") < qa.index("AfterQa") == len(qa) - 1


@pytest.mark.parametrize("returned", [None, "Dev", 3])
def test_a_factory_that_returns_no_stage_is_a_named_type_error(returned):
    with pytest.raises(
        TypeError, match=r"Delivery/Owner: stage_factory = .* expected the factory to return an aws_cdk.Stage"
    ):
        _deploy([DEV], factory=lambda scope, id, target: returned)


def test_a_stack_is_not_a_stage_and_the_prop_is_the_callers():
    def stack_factory(scope, id, target):
        return cdk.Stack(scope, id)

    with pytest.raises(TypeError, match=r"Delivery/Owner: application = "):
        _deploy([DEV], factory=stack_factory, prop="application")


def test_require_stage_factory_accepts_callables_and_none():
    assert require_stage_factory("App/P", "stage_factory", None) is None
    assert require_stage_factory("App/P", "stage_factory", _service) is _service
    with pytest.raises(TypeError, match=r"App/P: stage_factory = 'Dev' is invalid: expected a \(scope, id, target\)"):
        require_stage_factory("App/P", "stage_factory", "Dev")


# ---------------------------------------------------------------- require_targets_in


@given(accounts=st.lists(st.sampled_from(["111111111111", "222222222222"]), min_size=1, max_size=4))
def test_require_targets_in_names_the_first_target_outside_the_pipelines_account(accounts):
    targets = [DeploymentTarget(name=f"T{i}", account=a, region="eu-west-1") for i, a in enumerate(accounts)]
    outside = [i for i, a in enumerate(accounts) if a != "111111111111"]
    if not outside:
        require_targets_in("S/P", targets, account="111111111111", why="reason")
        return
    with pytest.raises(
        ValueError,
        match=rf"^S/P: targets\[{outside[0]}\]\.account = '222222222222' is invalid: "
        r"expected the pipeline's account '111111111111': reason$",
    ):
        require_targets_in("S/P", targets, account="111111111111", why="reason")


def test_require_targets_in_checks_the_region_too_and_ignores_what_it_is_not_given():
    targets = [DeploymentTarget(name="A", account="222222222222", region="us-east-1")]
    require_targets_in("S/P", targets, why="any account, any region")
    with pytest.raises(
        ValueError,
        match=r"targets\[0\]\.region = 'us-east-1' is invalid: expected the pipeline's region 'eu-west-1': code bucket",
    ):
        require_targets_in("S/P", targets, region="eu-west-1", why="code bucket")
