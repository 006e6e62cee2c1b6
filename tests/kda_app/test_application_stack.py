"""Each target's application stack (application_stack.py): stream, Flink application, its roles."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from helpers import policy_statements
from kda_app.kda_example import RELEASE_BUCKET, example, flat, small_pipeline, small_stack

from pipeline_constructs.kda_app import FlinkLogLevel, FlinkRuntime, FlinkSettings


@pytest.fixture(scope="module")
def prod() -> Template:
    return example().prod


@pytest.fixture(scope="module")
def dev() -> Template:
    return example().dev


def test_flink_application_keeps_state_across_updates(prod):
    prod.has_resource_properties(
        "AWS::KinesisAnalyticsV2::Application",
        {
            "ApplicationName": "clickstream-Prod",
            "RuntimeEnvironment": "FLINK-2_2",
            "ApplicationConfiguration": Match.object_like(
                {
                    "ApplicationSnapshotConfiguration": {"SnapshotsEnabled": True},
                    "ApplicationSystemRollbackConfiguration": {"RollbackEnabled": True},
                    "FlinkApplicationConfiguration": {
                        "CheckpointConfiguration": {
                            "ConfigurationType": "CUSTOM",
                            "CheckpointingEnabled": True,
                            "CheckpointInterval": 30000,
                            "MinPauseBetweenCheckpoints": 5000,
                        },
                        "MonitoringConfiguration": {
                            "ConfigurationType": "CUSTOM",
                            "LogLevel": "INFO",
                            "MetricsLevel": "APPLICATION",
                        },
                        "ParallelismConfiguration": {
                            "ConfigurationType": "CUSTOM",
                            "Parallelism": 2,
                            "ParallelismPerKPU": 1,
                            "AutoScalingEnabled": True,
                        },
                    },
                }
            ),
            "RunConfiguration": {
                "ApplicationRestoreConfiguration": {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"},
                "FlinkRunConfiguration": {"AllowNonRestoredState": False},
            },
        },
    )


def test_flink_application_gets_its_stream_and_the_teams_properties(prod):
    (app,) = prod.find_resources("AWS::KinesisAnalyticsV2::Application").values()
    groups = {
        g["PropertyGroupId"]: g["PropertyMap"]
        for g in app["Properties"]["ApplicationConfiguration"]["EnvironmentProperties"]["PropertyGroups"]
    }
    (stream_id,) = prod.find_resources("AWS::Kinesis::Stream").keys()
    assert groups["InputStream"] == {
        "stream.name": {"Ref": stream_id},
        "stream.arn": {"Fn::GetAtt": [stream_id, "Arn"]},
        "aws.region": "eu-west-1",
    }
    assert groups["ClickCounter"] == {"window.seconds": "60"}


def test_stream_is_kms_encrypted_and_logs_go_to_an_encrypted_group(prod):
    prod.has_resource_properties(
        "AWS::Kinesis::Stream",
        {"StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}, "ShardCount": 1},
    )
    prod.has_resource_properties("AWS::Logs::LogGroup", {"KmsKeyId": Match.any_value(), "RetentionInDays": 365})
    (stream_id,) = prod.find_resources("AWS::Logs::LogStream").keys()
    logging = prod.find_resources("AWS::KinesisAnalyticsV2::ApplicationCloudWatchLoggingOption")
    (option,) = logging.values()
    assert {"Ref": stream_id} in option["Properties"]["CloudWatchLoggingOption"]["LogStreamARN"]["Fn::Join"][1]


def test_flink_role_is_trusted_by_this_application_only(prod):
    prod.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": "clickstream-Prod-flink",
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "kinesisanalytics.amazonaws.com"},
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": "222222222222"},
                            "ArnLike": {"aws:SourceArn": Match.any_value()},
                        },
                    }
                ],
                "Version": "2012-10-17",
            },
        },
    )


def test_flink_role_reads_its_stream_code_and_releases_only(prod):
    by_sid = {s["Sid"]: s for s in policy_statements(prod, "AWS::IAM::ManagedPolicy", "ApplicationServicePolicy")}
    (stream_id,) = prod.find_resources("AWS::Kinesis::Stream").keys()
    assert by_sid["ReadInputStream"]["Resource"] == {"Fn::GetAtt": [stream_id, "Arn"]}
    assert all(not a.endswith("*") for a in by_sid["ReadInputStream"]["Action"])
    assert flat(by_sid["ReadReleases"]["Resource"]).endswith(f':s3:::{RELEASE_BUCKET}/builds/*"]]}}')
    decrypt = by_sid["DecryptReleasesThroughS3"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == "s3.eu-west-1.amazonaws.com"
    assert ":kms:eu-west-1:111111111111:key/*" in flat(decrypt["Resource"])
    assert "cdk-hnb659fds-assets-222222222222" in flat(by_sid["ReadApplicationCode"]["Resource"])
    assert prod.find_resources("AWS::IAM::Policy") == {}, "no inline policies in the application stack"


def test_updater_role_trusts_only_the_update_function_and_touches_one_application(prod):
    prod.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": "clickstream-Prod-updater",
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Principal": {"AWS": Match.any_value()},
                            "Condition": {"ArnEquals": {"aws:PrincipalArn": Match.any_value()}},
                        }
                    )
                ],
                "Version": "2012-10-17",
            },
        },
    )
    (role,) = [
        r for r in prod.find_resources("AWS::IAM::Role").values() if r["Properties"]["RoleName"].endswith("-updater")
    ]
    assert ":iam::111111111111:role/clickstream-kda-update-eu-west-1" in flat(role["Properties"])
    (statement,) = policy_statements(prod, "AWS::IAM::ManagedPolicy", "UpdaterPolicy")
    assert statement["Action"] == [
        "kinesisanalytics:DescribeApplication",
        "kinesisanalytics:UpdateApplication",
        "kinesisanalytics:StartApplication",
        "kinesisanalytics:ListApplicationSnapshots",
    ]
    (app_id,) = prod.find_resources("AWS::KinesisAnalyticsV2::Application").keys()
    assert {"Ref": app_id} in statement["Resource"]["Fn::Join"][1]


def test_dev_has_the_same_shape_in_the_pipeline_account(dev):
    dev.has_resource_properties("AWS::KinesisAnalyticsV2::Application", {"ApplicationName": "clickstream-Dev"})
    dev.has_resource_properties("AWS::IAM::Role", {"RoleName": "clickstream-Dev-updater"})


def test_on_demand_stream_and_other_runtime():
    pipeline = small_pipeline(
        small_stack(),
        stream_shard_count=None,
        flink=FlinkSettings(runtime=FlinkRuntime.FLINK_2_3, log_level=FlinkLogLevel.WARN),
    )
    template = Template.from_stack(pipeline.application_stacks["Dev"])
    template.has_resource_properties("AWS::Kinesis::Stream", {"StreamModeDetails": {"StreamMode": "ON_DEMAND"}})
    template.has_resource_properties("AWS::KinesisAnalyticsV2::Application", {"RuntimeEnvironment": "FLINK-2_3"})


def test_application_stacks_deploy_to_their_targets_account():
    stacks = example().construct.application_stacks
    assert {name: (s.account, s.region) for name, s in stacks.items()} == {
        "Dev": ("111111111111", "eu-west-1"),
        "Prod": ("222222222222", "eu-west-1"),
    }
    assert cdk.Stage.of(stacks["Prod"]).stage_name == "Prod"
