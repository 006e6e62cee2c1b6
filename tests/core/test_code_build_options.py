"""merge_code_build_options merges field by field, as aws-cdk's mergeCodeBuildOptions does."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import assertions, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam

from pipeline_constructs.core.options import merge_build_environments, merge_code_build_options
from pipeline_constructs.core.pipeline import DEFAULT_BUILD_IMAGE, SecurePipeline

LIBRARY = pipelines.CodeBuildOptions(
    build_environment=codebuild.BuildEnvironment(
        build_image=DEFAULT_BUILD_IMAGE,
        compute_type=codebuild.ComputeType.MEDIUM,
        environment_variables={"A": codebuild.BuildEnvironmentVariable(value="library")},
    ),
    role_policy=[iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::b/*"])],
    timeout=cdk.Duration.minutes(30),
)


def test_partial_build_environment_keeps_image_and_compute():
    override = pipelines.CodeBuildOptions(build_environment=codebuild.BuildEnvironment(privileged=True))
    merged = merge_code_build_options(LIBRARY, override)
    env = merged.build_environment
    assert env is not None
    assert env.privileged is True
    assert env.build_image is DEFAULT_BUILD_IMAGE
    assert env.compute_type == codebuild.ComputeType.MEDIUM
    assert merged.timeout is LIBRARY.timeout


def test_what_the_override_sets_wins_and_variables_merge_by_name():
    override = pipelines.CodeBuildOptions(
        build_environment=codebuild.BuildEnvironment(
            compute_type=codebuild.ComputeType.LARGE,
            environment_variables={
                "A": codebuild.BuildEnvironmentVariable(value="team"),
                "B": codebuild.BuildEnvironmentVariable(value="team"),
            },
        ),
        timeout=cdk.Duration.minutes(10),
    )
    merged = merge_code_build_options(LIBRARY, override)
    env = merged.build_environment
    assert env is not None
    assert env.compute_type == codebuild.ComputeType.LARGE
    assert sorted(env.environment_variables or {}) == ["A", "B"]
    assert (env.environment_variables or {})["A"].value == "team"
    assert merged.timeout is override.timeout


def test_policies_are_concatenated_never_replaced():
    extra = iam.PolicyStatement(actions=["ssm:GetParameter"], resources=["arn:aws:ssm:eu-west-1:1:parameter/x"])
    merged = merge_code_build_options(LIBRARY, pipelines.CodeBuildOptions(role_policy=[extra]))
    assert merged.role_policy is not None
    assert len(merged.role_policy) == 2
    assert merged.role_policy[1] is extra


def test_no_override_and_missing_environments():
    assert merge_code_build_options(LIBRARY, None) is LIBRARY
    env = codebuild.BuildEnvironment(privileged=True)
    assert merge_build_environments(None, env) is env
    assert merge_build_environments(env, None) is env
    assert merge_build_environments(None, None) is None


def test_team_compute_and_library_image_survive_a_partial_override_in_the_template():
    app = cdk.App(context={"pipeline-constructs:computeType": "MEDIUM", "aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "P", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    source = pipelines.CodePipelineSource.connection(
        "org/repo", "main", connection_arn="arn:aws:codeconnections:eu-west-1:111111111111:connection/x"
    )
    SecurePipeline(
        stack,
        "Delivery",
        synth=pipelines.ShellStep("Synth", input=source, commands=["npx cdk synth"]),
        code_build_defaults=pipelines.CodeBuildOptions(build_environment=codebuild.BuildEnvironment(privileged=True)),
    )
    projects = assertions.Template.from_stack(stack).find_resources("AWS::CodeBuild::Project")
    synth = [p for p in projects.values() if "Synth" in str(p["Properties"].get("Description", ""))]
    assert synth, "the synth project"
    env = synth[0]["Properties"]["Environment"]
    assert env["ComputeType"] == "BUILD_GENERAL1_MEDIUM"
    assert env["Image"] == "aws/codebuild/amazonlinux2-x86_64-standard:5.0"
    assert env["PrivilegedMode"] is True
