"""KdaAppPipeline and its pieces outside the example: defaults, variants, hooks, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from aws_cdk.assertions import Match, Template

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.kda_app import (
    ApplicationBuild,
    ApplicationSource,
    FlinkApplication,
    FlinkCode,
    FlinkLogLevel,
    FlinkRuntime,
    FlinkSettings,
    KdaApplicationStack,
    KdaAppPipeline,
    ReleaseChannel,
)
from pipeline_constructs.testing import deterministic_app

ENV = cdk.Environment(account="111111111111", region="eu-west-1")
CONNECTION = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"
DEV = DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1")


def _stack(env: cdk.Environment | None = ENV) -> cdk.Stack:
    return cdk.Stack(deterministic_app(), "S", env=env)


def _props(**overrides) -> dict:
    props = {
        "application_name": "orders",
        "targets": [DEV],
        "application_source": ApplicationSource.connection("o/app", "main", connection_arn=CONNECTION),
        "infrastructure_source": pipelines.CodePipelineSource.connection("o/infra", "main", connection_arn=CONNECTION),
    }
    props.update(overrides)
    return props


def _pipeline(stack: cdk.Stack | None = None, **overrides) -> KdaAppPipeline:
    return KdaAppPipeline(stack or _stack(), "P", **_props(**overrides))


# ---------------------------------------------------------------- FlinkApplication on its own


@pytest.fixture(scope="module")
def standalone() -> Template:
    stack = _stack()
    bucket = s3.Bucket(stack, "Code", enforce_ssl=True)
    FlinkApplication(stack, "App", code=FlinkCode.from_bucket(bucket, "apps/app.jar", object_version="v7"))
    return Template.from_stack(stack)


def test_flink_application_defaults(standalone):
    standalone.has_resource_properties(
        "AWS::KinesisAnalyticsV2::Application",
        {
            "RuntimeEnvironment": "FLINK-2_2",
            "ApplicationConfiguration": Match.object_like(
                {
                    "ApplicationCodeConfiguration": {
                        "CodeContentType": "ZIPFILE",
                        "CodeContent": {
                            "S3ContentLocation": {
                                "BucketARN": Match.any_value(),
                                "FileKey": "apps/app.jar",
                                "ObjectVersion": "v7",
                            }
                        },
                    },
                    "ApplicationSnapshotConfiguration": {"SnapshotsEnabled": True},
                    "FlinkApplicationConfiguration": Match.object_like(
                        {
                            "CheckpointConfiguration": {
                                "ConfigurationType": "CUSTOM",
                                "CheckpointingEnabled": True,
                                "CheckpointInterval": 60000,
                                "MinPauseBetweenCheckpoints": 5000,
                            },
                            "ParallelismConfiguration": Match.object_like({"Parallelism": 1}),
                        }
                    ),
                }
            ),
        },
    )
    apps = standalone.find_resources("AWS::KinesisAnalyticsV2::Application")
    (app,) = apps.values()
    assert app["DeletionPolicy"] == "Retain"
    assert "EnvironmentProperties" not in app["Properties"]["ApplicationConfiguration"]
    assert "ApplicationName" not in app["Properties"]


def test_flink_application_reads_only_its_code_object(standalone):
    (policy,) = standalone.find_resources("AWS::IAM::ManagedPolicy").values()
    (read,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Sid"] == "ReadApplicationCode"]
    assert json.dumps(read["Resource"]).endswith('"/apps/app.jar"]]}')
    standalone.has_resource_properties("AWS::Logs::LogGroup", {"KmsKeyId": Match.any_value(), "RetentionInDays": 365})
    standalone.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_add_to_role_policy_goes_to_the_managed_policy():
    stack = _stack()
    app = FlinkApplication(stack, "App", code=FlinkCode.bootstrap(), application_name="a")
    app.add_to_role_policy(iam.PolicyStatement(actions=["kinesis:PutRecord"], resources=["arn:aws:kinesis:x"]))
    template = Template.from_stack(stack)
    assert template.find_resources("AWS::IAM::Policy") == {}
    assert "kinesis:PutRecord" in json.dumps(template.find_resources("AWS::IAM::ManagedPolicy"))


# ---------------------------------------------------------------- variants and hooks


def test_python_build_zips_after_its_tests():
    stack = _stack()
    pipeline = _pipeline(stack, build=ApplicationBuild.python_zip(project_directory="pyflink"))
    assert pipeline.test_reports is not None
    assert pipeline.test_reports.base_directory == "pyflink/build/test-reports"
    template = Template.from_stack(stack)
    buildspec = json.dumps(
        [p["Properties"]["Source"] for p in template.find_resources("AWS::CodeBuild::Project").values()]
    )
    assert buildspec.index("pytest --junitxml=build/test-reports/junit.xml") < buildspec.index("zip -qr")
    assert '\\"python\\": \\"3.13\\"' in buildspec


def test_build_without_tests_has_no_report_group():
    stack = _stack()
    pipeline = _pipeline(stack, build=ApplicationBuild.python_zip(test_command=None, install_commands=()))
    assert pipeline.test_reports is None
    assert Template.from_stack(stack).find_resources("AWS::CodeBuild::ReportGroup") == {}


def test_extend_stack_adds_to_every_target_before_deployment():
    seen: list[str] = []

    def add_output(stack: KdaApplicationStack, target: DeploymentTarget) -> None:
        seen.append(target.name)
        cdk.CfnOutput(stack, "StreamName", value=stack.stream.stream_name)

    qa = DeploymentTarget(name="Qa", account="333333333333", region="eu-west-1", manual_approval=True)
    pipeline = _pipeline(targets=[DEV, qa], extend_stack=add_output)
    assert seen == ["Dev", "Qa"]
    assert "StreamName" in Template.from_stack(pipeline.stages["Qa"].stack).to_json()["Outputs"]
    approvals = [a.action_properties.action_name for a in pipeline.application_pipeline.stages[3].actions]
    assert approvals == ["Approve", "UpdateApplication"]


def test_manual_approval_only_target_is_not_security_gated():
    qa = DeploymentTarget(name="Qa", account="111111111111", region="eu-west-1", manual_approval=True)
    pipeline = _pipeline(targets=[qa])
    assert pipeline.gates == {}
    assert [s.stage_name for s in pipeline.application_pipeline.stages] == ["Source", "Build", "Qa"]


def test_on_demand_stream_and_other_runtime():
    stack = _stack()
    _pipeline(
        stack,
        stream_shard_count=None,
        flink=FlinkSettings(runtime=FlinkRuntime.FLINK_2_3, log_level=FlinkLogLevel.WARN),
    )
    app = cdk.Stage.of(stack)
    stage = app.node.find_child("orders-Dev")
    template = Template.from_stack(stage.node.find_child("Application"))
    template.has_resource_properties("AWS::Kinesis::Stream", {"StreamModeDetails": {"StreamMode": "ON_DEMAND"}})
    template.has_resource_properties("AWS::KinesisAnalyticsV2::Application", {"RuntimeEnvironment": "FLINK-2_3"})


def test_synth_step_can_replace_the_default_synth():
    synth = pipelines.ShellStep(
        "Synth",
        input=pipelines.CodePipelineSource.connection("o/infra", "main", connection_arn=CONNECTION),
        commands=["make synth"],
    )
    pipeline = _pipeline(infrastructure_source=None, synth=synth)
    assert pipeline.pipeline.synth is synth


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        ({"application_name": "Orders_App"}, r"S/P: application_name = 'Orders_App' is invalid: expected lowercase"),
        ({"application_name": "a" * 40}, r"application_name = 'a+' is invalid: too long: the release bucket name"),
        ({"targets": []}, r"S/P: targets = \[\] is invalid: expected at least one DeploymentTarget"),
        (
            {"targets": [DeploymentTarget(name="Dev", account="111111111111", region="us-east-1")]},
            r"targets\[0\]\.region = 'us-east-1' is invalid: expected the pipeline's region 'eu-west-1'",
        ),
        (
            {"targets": [DeploymentTarget(name="D" * 50, account="111111111111", region="eu-west-1")]},
            r"targets\[0\]\.name = 'D+' is invalid: application_name \+ target name too long",
        ),
        ({"application_source": "o/app"}, r"application_source = 'o/app' is invalid: expected an ApplicationSource"),
        ({"infrastructure_source": None}, r"infrastructure_source = None is invalid: give exactly one of"),
        ({"build": "maven"}, r"build = 'maven' is invalid: expected ApplicationBuild.maven"),
        ({"flink": {"parallelism": 2}}, r"flink = .* is invalid: expected a FlinkSettings"),
        ({"update_timeout": cdk.Duration.hours(2)}, r"update_timeout = '2 hours' is invalid: expected at least 1"),
        ({"release_prefix": "builds"}, r"S/P: release_prefix = 'builds' is invalid: expected a relative key prefix"),
        ({"stream_shard_count": 0}, r"stream_shard_count = 0 is invalid: expected an integer of at least 1"),
    ],
)
def test_bad_pipeline_props(overrides, pattern):
    with pytest.raises(ValueError, match=pattern):
        _pipeline(**overrides)


def test_synth_and_source_together_are_rejected():
    synth = pipelines.ShellStep("Synth", input=pipelines.CodePipelineSource.git_hub("o/r", "main"), commands=["x"])
    with pytest.raises(ValueError, match=r"give exactly one of infrastructure_source .* and synth"):
        _pipeline(synth=synth)


def test_env_agnostic_stack_is_rejected():
    with pytest.raises(
        ValueError,
        match=r"S/P: scope = 'S' is invalid: expected a stack with an explicit env \(account and region\): targets",
    ):
        _pipeline(_stack(env=None))


@pytest.mark.parametrize(
    ("settings", "pattern"),
    [
        ({"parallelism": 0}, r"FlinkSettings: parallelism = 0 is invalid: expected an integer of at least 1"),
        ({"parallelism_per_kpu": True}, r"parallelism_per_kpu = True is invalid"),
        ({"runtime": "FLINK-1_15"}, r"runtime = 'FLINK-1_15' is invalid: expected one of FlinkRuntime.FLINK_1_19"),
        ({"log_level": "INFO"}, r"log_level = 'INFO' is invalid: expected one of FlinkLogLevel"),
        ({"metrics_level": "TASK"}, r"metrics_level = 'TASK' is invalid: expected one of FlinkMetricsLevel"),
        (
            {"checkpoint_interval": cdk.Duration.millis(100)},
            r"checkpoint_interval = '100 millis' is invalid: expected at least 1 second",
        ),
        (
            {"property_groups": {"bad group": {"k": "v"}}},
            r"property_groups = 'bad group' is invalid: expected group ids",
        ),
        ({"property_groups": {"g": {}}}, r"property_groups\['g'\] = \{\} is invalid: expected a non-empty"),
        ({"property_groups": {"g": {"k": 1}}}, r"property_groups\['g'\]\['k'\] = 1 is invalid: expected string"),
        ({"property_groups": {"g": {"k": "v" * 2049}}}, r"expected 1-2048 characters each"),
        ({"property_groups": {f"g{i}": {"k": "v"} for i in range(51)}}, r"'51 groups' is invalid: expected at most 50"),
    ],
)
def test_bad_flink_settings(settings, pattern):
    with pytest.raises(ValueError, match=pattern):
        FlinkSettings(**settings)


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (
            lambda: ApplicationBuild.maven(java="corretto8"),
            r"java = 'corretto8' is invalid: expected one of corretto11",
        ),
        (lambda: ApplicationBuild.maven(project_directory="../app"), r"project_directory = '../app' is invalid"),
        (lambda: ApplicationBuild.maven(project_directory="my app"), r"project_directory = 'my app' is invalid"),
        (lambda: ApplicationBuild.maven(artifact="/abs/app.jar"), r"artifact = '/abs/app.jar' is invalid"),
        (lambda: ApplicationBuild.maven(arguments="-Pprod"), r"arguments = '-Pprod' is invalid: expected a list"),
        (lambda: ApplicationBuild.python_zip(python="2.7"), r"python = '2.7' is invalid: expected one of 3.11"),
        (
            lambda: ApplicationBuild(kind="gradle", artifact="a.jar", commands=("gradle build",), runtime_versions={}),
            r"ApplicationBuild: kind = 'gradle' is invalid: expected 'maven' or 'python'",
        ),
        (
            lambda: ApplicationBuild(kind="maven", artifact="a.jar", commands=(), runtime_versions={}),
            r"commands = \(\) is invalid: expected at least one build command",
        ),
        (
            lambda: ApplicationSource.connection("no-slash", connection_arn=CONNECTION),
            r"ApplicationSource.connection: repo_string = 'no-slash' is invalid: expected 'owner/repository'",
        ),
        (
            lambda: ApplicationSource.connection("o/r", connection_arn="arn:aws:iam::111111111111:role/x"),
            r"connection_arn = .* is invalid: expected arn:aws:codeconnections",
        ),
        (
            lambda: ApplicationSource.connection("o/r", "bad branch", connection_arn=CONNECTION),
            r"branch = 'bad branch' is invalid: expected a git branch name",
        ),
        (
            lambda: ReleaseChannel("Bad_Bucket", "builds/", "111111111111", "eu-west-1", "r", "u"),
            r"ReleaseChannel: bucket_name = 'Bad_Bucket' is invalid",
        ),
        (
            lambda: ReleaseChannel("bucket", "builds/", "1111", "eu-west-1", "r", "u"),
            r"ReleaseChannel: account = '1111' is invalid: expected a 12-digit AWS account id",
        ),
    ],
)
def test_bad_value_objects(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_bad_flink_application_props(tmp_path):
    with pytest.raises(ValueError, match=r"S/A: application_name = 'bad name' is invalid: expected 1-128 characters"):
        FlinkApplication(_stack(), "A", code=FlinkCode.bootstrap(), application_name="bad name")
    with pytest.raises(ValueError, match=r"S/B: code = 'target/app.jar' is invalid: expected a FlinkCode"):
        FlinkApplication(_stack(), "B", code="target/app.jar")  # type: ignore[arg-type]
    missing = tmp_path / "missing.jar"
    with pytest.raises(ValueError, match=r"S/C: code = '.*missing.jar' is invalid: expected an existing file"):
        FlinkApplication(_stack(), "C", code=FlinkCode.from_asset(missing))
    bucket = s3.Bucket(_stack(), "B")
    with pytest.raises(ValueError, match=r"code.key = 'apps/\*' is invalid: expected an object key without wildcards"):
        FlinkApplication(cdk.Stack.of(bucket), "D", code=FlinkCode.from_bucket(bucket, "apps/*"))


def test_bootstrap_code_ships_with_the_package():
    assert (Path(FlinkCode.bootstrap()._path) / "README.txt").is_file()  # type: ignore[attr-defined]


def test_sources_of_the_post_and_codecommit():
    stack = _stack()
    uploads = s3.Bucket(stack, "Uploads", versioned=True)
    from aws_cdk import aws_codecommit as codecommit

    repo = codecommit.Repository(stack, "Repo", repository_name="flink-app")
    for i, source in enumerate((ApplicationSource.s3(uploads, "source.zip"), ApplicationSource.code_commit(repo))):
        pipeline = KdaAppPipeline(stack, f"P{i}", **_props(application_name=f"orders{i}", application_source=source))
        action = pipeline.application_pipeline.stages[0].actions[0].action_properties
        assert action.provider == ("S3" if i == 0 else "CodeCommit")
    with pytest.raises(
        ValueError, match=r"ApplicationSource.s3: object_key = 'dir/' is invalid: expected the key of a zip"
    ):
        ApplicationSource.s3(uploads, "dir/")
