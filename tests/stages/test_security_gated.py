"""SecurityGatedStage works on any CDK Pipelines pipeline, including one a team built itself."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from aws_cdk import pipelines
from aws_cdk.assertions import Match, Template
from helpers import pipeline_actions, pipeline_props, pipeline_stack

from pipeline_constructs import SecurityGatedStage
from pipeline_constructs.testing import deterministic_app


def _team_pipeline() -> tuple[cdk.App, cdk.Stack, pipelines.CodePipeline]:
    app = deterministic_app()
    stack = pipeline_stack(app, "Team")
    pipeline = pipelines.CodePipeline(
        stack,
        "Pipeline",
        cross_account_keys=True,
        synth=pipelines.ShellStep(
            "Synth", input=pipelines.CodePipelineSource.git_hub("o/r", "main"), commands=["npx cdk synth"]
        ),
    )
    return app, stack, pipeline


def _stage(app: cdk.App, name: str = "Prod") -> cdk.Stage:
    stage = cdk.Stage(app, name, env=cdk.Environment(account="222222222222", region="eu-west-1"))
    sns.Topic(cdk.Stack(stage, "Svc"), "T")
    return stage


def _actions(stack: cdk.Stack, stage_name: str) -> list[tuple[str, str, int]]:
    props = pipeline_props(Template.from_stack(stack))
    return [(a, p, order) for s, a, p, order in pipeline_actions(props) if s == stage_name]


def test_gates_run_in_order_on_a_team_built_pipeline():
    app, stack, pipeline = _team_pipeline()
    pre = pipelines.ShellStep("Lint", commands=["echo lint"])
    post = [pipelines.ShellStep("Smoke", commands=["echo 1"]), pipelines.ShellStep("Load", commands=["echo 2"])]
    gate = SecurityGatedStage(stack, "Gate", pipeline=pipeline, stage=_stage(app), pre=[pre], post=post)
    assert isinstance(gate.deployment, pipelines.StageDeployment)
    assert _actions(stack, "Prod") == [
        ("PermissionCheck.Check", "CodeBuild", 1),
        ("PermissionCheck.Confirm", "Manual", 2),
        ("PromoteToProd", "Manual", 3),
        ("Lint", "CodeBuild", 4),
        ("Svc.Prepare", "CloudFormation", 5),
        ("Svc.Deploy", "CloudFormation", 6),
        ("Smoke", "CodeBuild", 7),
        ("Load", "CodeBuild", 8),
    ]


def test_without_manual_approval_only_the_permission_check_gates():
    app, stack, pipeline = _team_pipeline()
    gate = SecurityGatedStage(stack, "Gate", pipeline=pipeline, stage=_stage(app), manual_approval=False)
    assert gate.approval is None
    assert [a for a, _, _ in _actions(stack, "Prod")][:3] == [
        "PermissionCheck.Check",
        "PermissionCheck.Confirm",
        "Svc.Prepare",
    ]


def test_created_topic_is_kms_encrypted_ssl_only_and_subscribed():
    app, stack, pipeline = _team_pipeline()
    SecurityGatedStage(stack, "Gate", pipeline=pipeline, stage=_stage(app), notification_emails=["sec@example.com"])
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [Match.any_value(), "Arn"]}})
    template.has_resource_properties(
        "AWS::KMS::Key", {"EnableKeyRotation": True, "Description": Match.string_like_regexp("Security gate")}
    )
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "sec@example.com"})


def test_given_topic_is_used_and_no_topic_created():
    app, stack, pipeline = _team_pipeline()
    topic = sns.Topic(stack, "Mine")
    gate = SecurityGatedStage(stack, "Gate", pipeline=pipeline, stage=_stage(app), notification_topic=topic)
    assert gate.topic is topic
    assert len(Template.from_stack(stack).find_resources("AWS::SNS::Topic")) == 1


def test_security_check_may_publish_to_the_topic_only():
    app, stack, pipeline = _team_pipeline()
    SecurityGatedStage(stack, "Gate", pipeline=pipeline, stage=_stage(app))
    template = Template.from_stack(stack)
    (topic_id,) = template.find_resources("AWS::SNS::Topic").keys()
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": "sns:Publish", "Effect": "Allow", "Resource": {"Ref": topic_id}})]
                )
            }
        },
    )


def test_bad_email_names_the_prop():
    app, stack, pipeline = _team_pipeline()
    with pytest.raises(
        ValueError, match=r"Team/Gate: notification_emails\[0\] = 'nope' is invalid: expected an e-mail"
    ):
        SecurityGatedStage(stack, "Gate", pipeline=pipeline, stage=_stage(app), notification_emails=["nope"])


def test_topic_and_emails_together_are_rejected():
    app, stack, pipeline = _team_pipeline()
    with pytest.raises(ValueError, match=r"notification_emails = \['a@example.com'\] is invalid: subscribe addresses"):
        SecurityGatedStage(
            stack,
            "Gate",
            pipeline=pipeline,
            stage=_stage(app),
            notification_topic=sns.Topic(stack, "T"),
            notification_emails=["a@example.com"],
        )


def test_stage_must_be_a_stage():
    app, stack, pipeline = _team_pipeline()
    with pytest.raises(ValueError, match=r"stage = .* is invalid: expected an aws_cdk.Stage"):
        SecurityGatedStage(stack, "Gate", pipeline=pipeline, stage=cdk.Stack(app, "NotAStage"))  # type: ignore[arg-type]


def test_add_target_stage_applies_the_targets_gates():
    from pipeline_constructs import DeploymentTarget
    from pipeline_constructs.stages.security_gated import add_target_stage

    app, stack, pipeline = _team_pipeline()
    plain = DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1")
    approved = DeploymentTarget(name="Qa", account="111111111111", region="eu-west-1", manual_approval=True)
    gated = DeploymentTarget(name="Prod", account="222222222222", region="eu-west-1", security_gated=True)
    _, none1 = add_target_stage(stack, pipeline, plain, _stage(app, "Dev"))
    _, none2 = add_target_stage(stack, pipeline, approved, _stage(app, "Qa"))
    _, gate = add_target_stage(stack, pipeline, gated, _stage(app, "Prod"))
    assert none1 is None
    assert none2 is None
    assert isinstance(gate, SecurityGatedStage)
    assert gate.approval is None  # the target did not ask for a manual approval
    assert [p for _, p, _ in _actions(stack, "Dev")] == ["CloudFormation", "CloudFormation"]
    assert next((a, p) for a, p, _ in _actions(stack, "Qa")) == ("PromoteToQa", "Manual")
    assert [p for _, p, _ in _actions(stack, "Qa")][1:] == ["CloudFormation", "CloudFormation"]
    assert [a for a, _, _ in _actions(stack, "Prod")][:2] == ["PermissionCheck.Check", "PermissionCheck.Confirm"]
