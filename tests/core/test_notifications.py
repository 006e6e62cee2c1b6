"""Pipeline notifications: the encrypted topic, who may publish to it, the rule on the built pipeline, bad input."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from aws_cdk import pipelines
from aws_cdk.assertions import Match, Template
from helpers import PIPELINE_ENV, pipeline_stack
from hypothesis import given
from hypothesis import strategies as st

from pipeline_constructs import DeploymentTarget, SecurePipeline
from pipeline_constructs.core.compliance import acknowledgments, unacknowledged_findings
from pipeline_constructs.core.notifications import (
    APPROVAL_NEEDED,
    EXECUTION_FAILED,
    EXECUTION_SUCCEEDED,
    PipelineNotifications,
    add_notifications,
)
from pipeline_constructs.core.options import check_pipeline_options
from pipeline_constructs.testing import deterministic_app

CONNECTION = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"
OF_THIS_ACCOUNT = {"StringEquals": {"aws:SourceAccount": "111111111111"}}
SERVICE = {"Service": "codestar-notifications.amazonaws.com"}


def _secure(notifications, app=None, stack=None) -> tuple[cdk.Stack, SecurePipeline]:
    app = app or deterministic_app()
    stack = stack or pipeline_stack(app, "S")
    source = pipelines.CodePipelineSource.connection("o/r", "main", connection_arn=CONNECTION)
    secure = SecurePipeline(
        stack,
        "P",
        synth=pipelines.ShellStep("Synth", input=source, commands=["npx cdk synth"]),
        targets=[DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1")],
        notifications=notifications,
    )
    stage = cdk.Stage(stack.node.root, "Dev", env=PIPELINE_ENV)
    ssm.StringParameter(cdk.Stack(stage, "Svc"), "Version", string_value="1")
    secure.pipeline.add_stage(stage)
    return stack, secure


def _one(template: Template, kind: str) -> tuple[str, dict]:
    (item,) = template.find_resources(kind).items()
    return item


def _rule(template: Template) -> dict:
    return _one(template, "AWS::CodeStarNotifications::NotificationRule")[1]


# -- the created topic ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def created() -> tuple[cdk.Stack, SecurePipeline, Template]:
    stack, secure = _secure(PipelineNotifications(emails=("team@example.com", "oncall@example.com")))
    return stack, secure, Template.from_stack(stack)


def test_the_topic_is_encrypted_with_a_new_rotating_key_codestar_notifications_may_use(created):
    stack, secure, template = created
    topic_id, topic = _one(template, "AWS::SNS::Topic")
    assert secure.notification_topic is not None
    assert stack.resolve(secure.notification_topic.topic_arn) == {"Ref": topic_id}
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = template.find_resources("AWS::KMS::Key")[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    assert "Pipeline notifications of S/P" in key["Description"]
    service = [s for s in key["KeyPolicy"]["Statement"] if s.get("Principal") == SERVICE]
    assert service == [
        {
            "Sid": "CodeStarNotificationsOfThisAccount",
            "Effect": "Allow",
            "Principal": SERVICE,
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": OF_THIS_ACCOUNT,
        }
    ]


def test_the_topic_is_ssl_only_and_codestar_notifications_of_this_account_may_publish(created):
    _, _, template = created
    topic_id, _ = _one(template, "AWS::SNS::Topic")
    _, policy = _one(template, "AWS::SNS::TopicPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    assert {
        "Sid": "AllowPublishThroughSSLOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sns:Publish",
        "Resource": {"Ref": topic_id},
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    } in statements
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "CodeStarNotificationsOfThisAccount",
            "Effect": "Allow",
            "Principal": SERVICE,
            "Action": "sns:Publish",
            "Resource": {"Ref": topic_id},
            "Condition": OF_THIS_ACCOUNT,
        }
    ]


def test_each_address_gets_an_email_subscription(created):
    _, _, template = created
    topic_id, _ = _one(template, "AWS::SNS::Topic")
    subscriptions = template.find_resources("AWS::SNS::Subscription").values()
    assert sorted((s["Properties"]["Endpoint"], s["Properties"]["Protocol"]) for s in subscriptions) == [
        ("oncall@example.com", "email"),
        ("team@example.com", "email"),
    ]
    assert all(s["Properties"]["TopicArn"] == {"Ref": topic_id} for s in subscriptions)


def test_the_rule_notifies_failed_executions_of_the_built_pipeline_to_the_topic_in_full(created):
    stack, secure, template = created
    topic_id, _ = _one(template, "AWS::SNS::Topic")
    pipeline_id = stack.get_logical_id(secure.pipeline.pipeline.node.default_child)
    rule = _rule(template)
    props = rule["Properties"]
    assert props["EventTypeIds"] == [EXECUTION_FAILED] == ["codepipeline-pipeline-pipeline-execution-failed"]
    assert props["Targets"] == [{"TargetType": "SNS", "TargetAddress": {"Ref": topic_id}}]
    assert props["DetailType"] == "FULL"
    assert {"Ref": pipeline_id} in props["Resource"]["Fn::Join"][1]
    policy_id, _ = _one(template, "AWS::SNS::TopicPolicy")
    assert policy_id in rule["DependsOn"]


def test_no_other_publish_grant_than_the_conditioned_one(created):
    """aws-cdk's own target binding grants without conditions; the library's target does not use it."""
    _, _, template = created
    for key in template.find_resources("AWS::KMS::Key").values():
        for statement in key["Properties"]["KeyPolicy"]["Statement"]:
            if statement.get("Principal") == SERVICE:
                assert statement["Condition"] == OF_THIS_ACCOUNT


def test_nothing_is_unacknowledged_and_subscriptions_give_the_notification_reason(created):
    stack, _, _ = created
    app = stack.node.root
    assert [str(f) for f in unacknowledged_findings(app)] == []
    redrive = [(path, reason) for path, rule, reason in acknowledgments(app) if rule == "Serverless-SNSRedrivePolicy"]
    notification = [r for path, r in redrive if "/Notifications/" in path]
    assert len(notification) == 2
    assert all("pipeline notification topic" in r for r in notification)


@pytest.mark.parametrize(
    ("options", "events"),
    [
        ({"on_success": True}, [EXECUTION_FAILED, EXECUTION_SUCCEEDED]),
        ({"on_approval_needed": True}, [EXECUTION_FAILED, APPROVAL_NEEDED]),
        (
            {"on_success": True, "on_approval_needed": True},
            [
                "codepipeline-pipeline-pipeline-execution-failed",
                "codepipeline-pipeline-pipeline-execution-succeeded",
                "codepipeline-pipeline-manual-approval-needed",
            ],
        ),
    ],
)
def test_success_and_approval_events_when_asked(options, events):
    stack, _ = _secure(PipelineNotifications(**options))
    assert _rule(Template.from_stack(stack))["Properties"]["EventTypeIds"] == events


# -- a given topic ----------------------------------------------------------------------------------------


def test_an_imported_topic_is_the_target_and_nothing_is_created():
    app = deterministic_app()
    stack = pipeline_stack(app, "S")
    arn = "arn:aws:sns:eu-west-1:111111111111:team-alerts"
    stack, secure = _secure(PipelineNotifications(topic=sns.Topic.from_topic_arn(stack, "Alerts", arn)), stack=stack)
    template = Template.from_stack(stack)
    assert template.find_resources("AWS::SNS::Topic") == {}
    assert template.find_resources("AWS::SNS::TopicPolicy") == {}
    assert _rule(template)["Properties"]["Targets"] == [{"TargetType": "SNS", "TargetAddress": arn}]
    assert secure.notification_topic is not None
    assert secure.notification_topic.topic_arn == arn


def test_a_topic_of_this_app_gets_the_conditioned_grants_on_it_and_its_key():
    app = deterministic_app()
    stack = pipeline_stack(app, "S")
    key = kms.Key(stack, "TeamKey", enable_key_rotation=True)
    topic = sns.Topic(stack, "Team", master_key=key, enforce_ssl=True)
    stack, secure = _secure(PipelineNotifications(topic=topic), stack=stack)
    assert secure.notification_topic is topic
    template = Template.from_stack(stack)
    assert len(template.find_resources("AWS::SNS::Topic")) == 1
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Principal": SERVICE, "Action": "sns:Publish", "Condition": OF_THIS_ACCOUNT})]
                )
            }
        },
    )
    key_policy = template.find_resources("AWS::KMS::Key")[stack.get_logical_id(key.node.default_child)]
    assert {
        "Sid": "CodeStarNotificationsOfThisAccount",
        "Effect": "Allow",
        "Principal": SERVICE,
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": OF_THIS_ACCOUNT,
    } in key_policy["Properties"]["KeyPolicy"]["Statement"]
    assert stack.resolve(_rule(template)["Properties"]["Targets"][0]["TargetAddress"]) == {
        "Ref": stack.get_logical_id(topic.node.default_child)
    }


def test_without_notifications_there_is_no_topic_and_no_rule():
    stack, secure = _secure(None)
    template = Template.from_stack(stack)
    assert secure.notification_topic is None
    assert template.find_resources("AWS::CodeStarNotifications::NotificationRule") == {}


# -- bad input ----------------------------------------------------------------------------------------------


@given(address=st.text(max_size=30).filter(lambda a: "@" not in a or " " in a))
def test_an_address_that_is_no_email_is_an_error(address):
    with pytest.raises(ValueError, match=r"^PipelineNotifications: emails\[0\] = .* expected an e-mail address"):
        PipelineNotifications(emails=(address,))


@pytest.mark.parametrize(
    ("props", "error", "message"),
    [
        ({"emails": "team@example.com"}, TypeError, r"emails = .* not a single string"),
        ({"emails": ("a@example.com", "A@example.com")}, ValueError, r"emails = .* must be unique"),
        ({"on_success": "yes"}, TypeError, r"on_success = 'yes' is invalid: expected True or False"),
        ({"on_approval_needed": 1}, TypeError, r"on_approval_needed = 1 is invalid: expected True or False"),
        ({"topic": "arn:aws:sns:eu-west-1:111111111111:t"}, TypeError, r"topic = .* expected an sns.ITopic"),
    ],
)
def test_malformed_notifications_name_the_field(props, error, message):
    with pytest.raises(error, match=rf"^PipelineNotifications: {message}"):
        PipelineNotifications(**props)


def test_emails_with_a_given_topic_is_an_error():
    topic = sns.Topic.from_topic_arn(cdk.Stack(), "T", "arn:aws:sns:eu-west-1:111111111111:t")
    with pytest.raises(ValueError, match=r"^PipelineNotifications: emails = .* subscribe addresses to your own topic"):
        PipelineNotifications(emails=("a@example.com",), topic=topic)


def test_the_option_must_be_a_pipeline_notifications():
    with pytest.raises(
        TypeError, match=r"^App/P: pipeline_options\['notifications'\] = .* expected a PipelineNotifications"
    ):
        check_pipeline_options("App/P", {"notifications": {"emails": ["a@example.com"]}})
    with pytest.raises(TypeError, match=r"^S/P: notifications = \['a@example.com'\] is invalid"):
        _secure(["a@example.com"])


def test_add_notifications_checks_its_argument():
    _, secure = _secure(None)
    with pytest.raises(TypeError, match=r"^S/P: notifications = True is invalid: expected a PipelineNotifications"):
        add_notifications(secure, True)  # type: ignore[arg-type]
