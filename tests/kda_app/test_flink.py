"""FlinkApplication and FlinkSettings (flink.py) on their own: defaults, least privilege, bad input."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
from kda_app.kda_example import small_stack

from pipeline_constructs.kda_app import FlinkApplication, FlinkCode, FlinkSettings

_stack = small_stack


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
