"""The application pipeline (application_pipeline.py): stages, approvals, artifacts, who invokes the update."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from helpers import pipeline_actions
from kda_app.kda_example import DEV, example, kda_props, pipeline_named, small_pipeline, small_stack

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.kda_app import ApplicationSource, KdaAppPipeline


def test_application_pipeline_builds_once_then_updates_dev_then_approved_prod():
    pipeline = pipeline_named(example().template, "clickstream-application")
    assert pipeline["PipelineType"] == "V2"
    assert pipeline_actions(pipeline) == [
        ("Source", "Source", "CodeStarSourceConnection", 1),
        ("Build", "BuildTestPublish", "CodeBuild", 1),
        ("Dev", "UpdateApplication", "Lambda", 1),
        ("Prod", "PromoteToProd", "Manual", 1),
        ("Prod", "UpdateApplication", "Lambda", 2),
    ]


def test_a_running_execution_is_not_restarted_by_a_pipeline_update():
    pipeline = pipeline_named(example().template, "clickstream-application")
    assert pipeline["RestartExecutionOnUpdate"] is False


def test_approval_shows_the_targets_comment_or_names_the_target():
    qa = DeploymentTarget(
        name="Qa", account="333333333333", region="eu-west-1", manual_approval=True, approval_comment="Check Qa"
    )
    prod = DeploymentTarget(name="Prod", account="222222222222", region="eu-west-1", manual_approval=True)
    stack = small_stack()
    small_pipeline(stack, targets=[DEV, qa, prod], application_pipeline_name="orders-app")
    pipeline = pipeline_named(Template.from_stack(stack), "orders-app")
    approvals = {
        s["Name"]: a["Configuration"]["CustomData"]
        for s in pipeline["Stages"]
        for a in s["Actions"]
        if a["ActionTypeId"]["Provider"] == "Manual"
    }
    assert approvals == {"Qa": "Check Qa", "Prod": "Deploy this release of orders to Prod."}
    names = [(s, a) for s, a, p, _ in pipeline_actions(pipeline) if p == "Manual"]
    assert names == [("Qa", "PromoteToQa"), ("Prod", "PromoteToProd")]


def test_application_artifacts_are_encrypted_with_a_rotating_key():
    template = example().template
    pipeline = pipeline_named(template, "clickstream-application")
    assert pipeline["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS"
    keys = template.find_resources("AWS::KMS::Key")
    assert all(k["Properties"]["EnableKeyRotation"] is True for k in keys.values())
    bucket = pipeline["ArtifactStore"]["Location"]["Ref"]
    props = template.find_resources("AWS::S3::Bucket")[bucket]["Properties"]
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "application-artifacts/"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}


def test_the_invoke_role_trusts_only_the_application_pipelines_role():
    template = example().template
    pipeline = pipeline_named(template, "clickstream-application")
    (role_arn,) = {
        str(a["RoleArn"]["Fn::GetAtt"][0])
        for s in pipeline["Stages"]
        for a in s["Actions"]
        if a["ActionTypeId"]["Provider"] == "Lambda"
    }
    trust = template.find_resources("AWS::IAM::Role")[role_arn]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": {"Fn::GetAtt": [pipeline["RoleArn"]["Fn::GetAtt"][0], "Arn"]}},
        }
    ]


def test_sources_of_the_post_and_codecommit():
    stack = small_stack()
    uploads = s3.Bucket(stack, "Uploads", versioned=True)
    repo = codecommit.Repository(stack, "Repo", repository_name="flink-app")
    for i, source in enumerate((ApplicationSource.s3(uploads, "source.zip"), ApplicationSource.code_commit(repo))):
        pipeline = KdaAppPipeline(stack, f"P{i}", **kda_props(application_name=f"orders{i}", application_source=source))
        action = pipeline.application_pipeline.stages[0].actions[0].action_properties
        assert action.provider == ("S3" if i == 0 else "CodeCommit")


def test_the_application_pipeline_is_an_escape_hatch():
    pipeline = small_pipeline()
    assert [s.stage_name for s in pipeline.application_pipeline.stages] == ["Source", "Build", "Dev"]
    assert list(pipeline.update_actions) == ["Dev"]
    assert cdk.Stack.of(pipeline.application_pipeline) is cdk.Stack.of(pipeline)
