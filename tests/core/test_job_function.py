"""The one recipe for a CodePipeline job function (core.pipeline_jobs.job_function)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
from helpers import pipeline_stack

from pipeline_constructs.core.compliance import unacknowledged_findings
from pipeline_constructs.core.pipeline_jobs import claims_prefix
from pipeline_constructs.core.private.lambda_recipe import JobFunction, job_function
from pipeline_constructs.testing import deterministic_app


def _build(invoked: bool = True) -> tuple[cdk.Stack, JobFunction]:
    app = deterministic_app()
    stack = pipeline_stack(app, "Jobs")
    artifacts = s3.Bucket(stack, "Artifacts", enforce_ssl=True)
    job = job_function(
        stack,
        "Updater",
        handler_file="kda_update.py",
        description="Updates things per CodePipeline job",
        claims=claims_prefix("kda-update"),
        statements=[
            iam.PolicyStatement(
                sid="Own", actions=["s3:GetObject"], resources=[artifacts.arn_for_objects("release.zip")]
            )
        ],
        artifacts=artifacts,
        artifact_key=None,
        timeout=cdk.Duration.minutes(5),
        retention=logs.RetentionDays.ONE_MONTH,
        environment={"CONFIG": "{}"},
    )
    if invoked:
        source = codepipeline.Artifact("Src")
        pipeline = codepipeline.Pipeline(stack, "P", artifact_bucket=artifacts)
        pipeline.add_stage(
            stage_name="Source",
            actions=[actions.S3SourceAction(action_name="S", bucket=artifacts, bucket_key="k.zip", output=source)],
        )
        pipeline.add_stage(
            stage_name="Update", actions=[actions.LambdaInvokeAction(action_name="Run", lambda_=job.function)]
        )
    return stack, job


@pytest.fixture(scope="module")
def built() -> tuple[Template, JobFunction, cdk.Stack]:
    stack, job = _build()
    return Template.from_stack(stack), job, stack


def test_the_function_is_traced_logs_json_to_its_own_encrypted_group_and_fails_into_its_queue(built):
    template, _job, _stack = built
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "kda_update.handler",
            "Architectures": ["arm64"],
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": Match.object_like({"LogFormat": "JSON"}),
            "DeadLetterConfig": {"TargetArn": Match.any_value()},
            "Environment": {"Variables": Match.object_like({"CONFIG": "{}", "PIPELINE_JOB_POLICY": Match.any_value()})},
        },
    )
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30, "KmsKeyId": Match.any_value()})
    template.has_resource_properties("AWS::Lambda::EventInvokeConfig", {"MaximumRetryAttempts": 0})


def test_the_role_trusts_only_lambda_and_carries_only_the_managed_policy(built):
    template, _job, _stack = built
    (role,) = template.find_resources(
        "AWS::IAM::Role", {"Properties": {"Description": "Updates things per CodePipeline job"}}
    ).values()
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]
    assert "Policies" not in role["Properties"]
    assert template.find_resources("AWS::IAM::Policy") == {} or all(
        "Updater" not in logical for logical in template.find_resources("AWS::IAM::Policy")
    )


def test_the_policy_is_own_logs_queue_claims_job_results_and_the_callers_statements(built):
    template, _job, _stack = built
    (policy,) = template.find_resources("AWS::IAM::ManagedPolicy").values()
    sids = [s["Sid"] for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    assert sids[0] == "OwnLogs"
    assert {"DeadLetters", "DeadLettersKey", "NoResourceLevelPermissions", "Own"} <= set(sids)
    star = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Resource"] == "*"]
    assert [set(s["Action"]) for s in star] == [
        {
            "codepipeline:PutJobSuccessResult",
            "codepipeline:PutJobFailureResult",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
        }
    ]


def test_nothing_is_left_unacknowledged_when_codepipeline_invokes_it(built):
    _template, _job, stack = built
    findings = [str(f) for f in unacknowledged_findings(stack) if "/Updater/" in f.path]
    assert findings == [], findings


def test_concurrency_is_acknowledged_only_when_a_pipeline_action_invokes_it():
    stack, job = _build(invoked=False)
    Template.from_stack(stack)
    cfn = job.function.node.default_child
    rules = [str(x) for x in (cfn.get_metadata("cdk_nag") or {}).get("rules_to_suppress", [])]
    assert not any("LambdaConcurrency" in r for r in rules)
