"""core/plain_pipeline.py: the hardened codepipeline.Pipeline and the at-synth acknowledgment of what CDK generates."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from helpers import pipeline_actions, pipeline_props, pipeline_stack

from pipeline_constructs.core.compliance import acknowledgments, unacknowledged_findings
from pipeline_constructs.core.plain_pipeline import ARTIFACT_NONCURRENT_DAYS, acknowledge_generated, plain_pipeline
from pipeline_constructs.core.private.encryption import new_key
from pipeline_constructs.testing import deterministic_app

CONNECTION = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"


def _source(pipeline: codepipeline.Pipeline) -> codepipeline.Artifact:
    out = codepipeline.Artifact("Source")
    pipeline.add_stage(
        stage_name="Source",
        actions=[
            actions.CodeStarConnectionsSourceAction(
                action_name="Source", owner="o", repo="r", branch="main", connection_arn=CONNECTION, output=out
            )
        ],
    )
    return out


def _two_stage(stack: cdk.Stack, **kwargs):
    built = plain_pipeline(stack, "Delivery", description="a test pipeline", **kwargs)
    out = _source(built.pipeline)
    project = codebuild.PipelineProject(stack, "Build", encryption_key=built.artifact_key)
    acknowledge_generated(project)
    built.pipeline.add_stage(
        stage_name="Build", actions=[actions.CodeBuildAction(action_name="Build", project=project, input=out)]
    )
    return built


def _approval(built) -> None:
    _source(built.pipeline)
    built.pipeline.add_stage(stage_name="Approve", actions=[actions.ManualApprovalAction(action_name="Approve")])


@pytest.fixture(scope="module")
def template() -> Template:
    stack = pipeline_stack(deterministic_app())
    _two_stage(stack, pipeline_name="plain")
    return Template.from_stack(stack)


def test_pipeline_is_v2_named_and_does_not_restart_running_executions(template):
    pipeline = pipeline_props(template)
    assert pipeline["PipelineType"] == "V2"
    assert pipeline["Name"] == "plain"
    assert pipeline["RestartExecutionOnUpdate"] is False
    assert [s for s, *_ in pipeline_actions(pipeline)] == ["Source", "Build"]


def test_artifacts_are_kms_encrypted_versioned_expiring_and_logged(template):
    pipeline = pipeline_props(template)
    assert pipeline["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS"
    bucket = template.find_resources("AWS::S3::Bucket")[pipeline["ArtifactStore"]["Location"]["Ref"]]["Properties"]
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "KMSMasterKeyID" in encryption["ServerSideEncryptionByDefault"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "artifacts/"
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert {"NoncurrentDays": ARTIFACT_NONCURRENT_DAYS} in [r.get("NoncurrentVersionExpiration") for r in rules]
    assert bucket["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    keys = template.find_resources("AWS::KMS::Key")
    assert keys
    assert all(k["Properties"]["EnableKeyRotation"] for k in keys.values())


def test_given_key_and_access_log_bucket_are_used_and_no_others_created():
    stack = pipeline_stack(deterministic_app())
    key = new_key(stack, "Mine", description="mine")
    logs = s3.Bucket(stack, "MyLogs", enforce_ssl=True)
    built = plain_pipeline(
        stack, "Delivery", description="x", artifact_key=key, access_logs=logs, access_logs_prefix="mine/"
    )
    assert built.artifact_key is key
    assert built.access_log_bucket is logs
    _approval(built)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::KMS::Key", 1)
    template.resource_count_is("AWS::S3::Bucket", 2)
    template.has_resource_properties("AWS::S3::Bucket", {"LoggingConfiguration": {"LogFilePrefix": "mine/"}})


def test_removal_policy_reaches_key_and_buckets():
    stack = pipeline_stack(deterministic_app())
    _approval(plain_pipeline(stack, "Delivery", description="x", removal_policy=cdk.RemovalPolicy.DESTROY))
    template = Template.from_stack(stack)
    resources = {**template.find_resources("AWS::S3::Bucket"), **template.find_resources("AWS::KMS::Key")}
    assert len(resources) == 3
    assert {r["DeletionPolicy"] for r in resources.values()} == {"Delete"}


def test_generated_policies_and_projects_leave_no_findings():
    app = deterministic_app()
    stack = pipeline_stack(app)
    _two_stage(stack)
    assert [str(f) for f in unacknowledged_findings(app)] == []
    rules = {r for _, r, _ in acknowledgments(app)}
    assert "HIPAA.Security-CodeBuildProjectSourceRepoUrl" in rules
    assert any(r.startswith("AwsSolutions-IAM5[") for r in rules)


def test_a_wildcard_that_is_no_idiom_stays_a_finding():
    app = deterministic_app()
    stack = pipeline_stack(app)
    built = _two_stage(stack)
    built.pipeline.role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:*"], resources=["*"]))
    findings = {f.rule for f in unacknowledged_findings(app) if "/Delivery/" in f.path}
    assert "AwsSolutions-IAM5[Action::s3:*]" in findings


def test_extra_reasons_are_tried_first():
    app = deterministic_app()
    stack = pipeline_stack(app)
    built = plain_pipeline(stack, "Delivery", description="x")
    role = iam.Role(stack, "Extra", assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=["arn:aws:s3:::releases/builds/*"]))
    acknowledge_generated(
        role, extra=lambda finding, _: "one new key per build, never overwritten" if "builds/*" in finding else None
    )
    _approval(built)
    app.synth()
    reasons = {r: text for p, r, text in acknowledgments(app) if "/Extra/" in p}
    assert reasons == {
        "AwsSolutions-IAM5[Resource::arn:aws:s3:::releases/builds/*]": "one new key per build, never overwritten"
    } | {k: v for k, v in reasons.items() if "IAMNoInlinePolicy" in k}
