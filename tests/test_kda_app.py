"""KdaAppPipeline on its example: both pipelines' stages, gates, the release flow, IAM scope, hardening, nag."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from conftest import load_example
from syrupy.extensions.json import JSONSnapshotExtension

from pipeline_constructs.core.compliance import (
    acknowledgments,
    suspended_acknowledgments,
    unacknowledged_findings,
)
from pipeline_constructs.kda_app.pipeline import PUBLISH_SCRIPT, UPDATE_FUNCTION_TIMEOUT
from pipeline_constructs.runtime.kda_update import MANIFEST_NAME
from pipeline_constructs.testing import deterministic_app, normalize_template

EXAMPLE = load_example("kda_app")
RELEASE_BUCKET = "clickstream-releases-111111111111-eu-west-1"


@pytest.fixture(scope="module")
def outdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("kda_app")


@pytest.fixture(scope="module")
def app(outdir) -> cdk.App:
    app = deterministic_app(outdir=str(outdir))
    EXAMPLE.build_app(app)
    app.synth()
    return app


@pytest.fixture(scope="module")
def template(app) -> Template:
    return Template.from_stack(app.node.find_child("KdaAppPipeline"))


@pytest.fixture(scope="module")
def prod(app) -> Template:
    return Template.from_stack(app.node.find_child("clickstream-Prod").node.find_child("Application"))


@pytest.fixture(scope="module")
def dev(app) -> Template:
    return Template.from_stack(app.node.find_child("clickstream-Dev").node.find_child("Application"))


def _pipeline(template: Template, name: str) -> dict:
    (pipeline,) = [
        p["Properties"]
        for p in template.find_resources("AWS::CodePipeline::Pipeline").values()
        if p["Properties"].get("Name") == name
    ]
    return pipeline


def _actions(pipeline: dict) -> list[tuple[str, str, str, int]]:
    return [
        (s["Name"], a["Name"], a["ActionTypeId"]["Provider"], a["RunOrder"])
        for s in pipeline["Stages"]
        for a in s["Actions"]
    ]


def _statements(template: Template, resource_type: str, logical_prefix: str = "") -> list[dict]:
    return [
        s
        for logical_id, r in template.find_resources(resource_type).items()
        if logical_id.startswith(logical_prefix)
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]


def _flat(value) -> str:
    return json.dumps(value, sort_keys=True)


# ---------------------------------------------------------------- infrastructure pipeline


def test_infrastructure_pipeline_deploys_dev_then_gated_prod(template):
    pipeline = _pipeline(template, "clickstream-infrastructure")
    assert pipeline["PipelineType"] == "V2"
    assert [s["Name"] for s in pipeline["Stages"]] == ["Source", "Build", "UpdatePipeline", "Assets", "Dev", "Prod"]
    prod = [(a, p, o) for s, a, p, o in _actions(pipeline) if s == "Prod"]
    assert [(p, o) for _, p, o in prod] == [
        ("CodeBuild", 1),
        ("Manual", 2),
        ("Manual", 3),
        ("CloudFormation", 4),
        ("CloudFormation", 5),
    ]
    assert [a for a, _, _ in prod][:3] == ["PermissionCheck.Check", "PermissionCheck.Confirm", "PromoteToProd"]
    dev = [p for s, _, p, _ in _actions(pipeline) if s == "Dev"]
    assert dev == ["CloudFormation", "CloudFormation"]


def test_prod_stack_deploys_cross_account(template):
    (stage,) = [s for s in _pipeline(template, "clickstream-infrastructure")["Stages"] if s["Name"] == "Prod"]
    deploy = [a for a in stage["Actions"] if a["ActionTypeId"]["Provider"] == "CloudFormation"]
    assert all("222222222222" in _flat(a["RoleArn"]) for a in deploy)
    assert all(a["Configuration"]["StackName"] == "clickstream-Prod" for a in deploy)


# ---------------------------------------------------------------- application pipeline


def test_application_pipeline_builds_once_then_updates_dev_then_approved_prod(template):
    pipeline = _pipeline(template, "clickstream-application")
    assert pipeline["PipelineType"] == "V2"
    assert _actions(pipeline) == [
        ("Source", "Source", "CodeStarSourceConnection", 1),
        ("Build", "BuildTestPublish", "CodeBuild", 1),
        ("Dev", "UpdateApplication", "Lambda", 1),
        ("Prod", "Approve", "Manual", 1),
        ("Prod", "UpdateApplication", "Lambda", 2),
    ]


def test_update_actions_read_the_release_manifest_and_name_their_target(template):
    pipeline = _pipeline(template, "clickstream-application")
    (build,) = [a for s in pipeline["Stages"] for a in s["Actions"] if a["Name"] == "BuildTestPublish"]
    release = build["OutputArtifacts"][0]["Name"]
    updates = {s["Name"]: a for s in pipeline["Stages"] for a in s["Actions"] if a["Name"] == "UpdateApplication"}
    for target, account in (("Dev", "111111111111"), ("Prod", "222222222222")):
        action = updates[target]
        assert [i["Name"] for i in action["InputArtifacts"]] == [release]
        params = _flat(action["Configuration"]["UserParameters"])
        assert f'\\"applicationName\\":\\"clickstream-{target}\\"' in params
        # the role and the release bucket are the function's configuration, never the event's
        assert "roleArn" not in params
        assert "releaseBucketArn" not in params
        (function,) = [
            f["Properties"]
            for f in template.find_resources("AWS::Lambda::Function").values()
            if f["Properties"].get("Handler") == "kda_update.handler"
        ]
        config = _flat(function["Environment"]["Variables"]["KDA_UPDATE_CONFIG"])
        assert f":iam::{account}:role/clickstream-{target}-updater" in config
        assert f'\\"releaseBucket\\":\\"{RELEASE_BUCKET}\\"' in config
        assert '\\"timeoutSeconds\\":1800' in params
        assert '\\"allowNonRestoredState\\":false' in params


def test_build_runs_maven_reports_surefire_and_names_the_execution(template):
    projects = template.find_resources("AWS::CodeBuild::Project")
    (project,) = [p for p in projects.values() if "mvn -B package" in _flat(p["Properties"]["Source"])]
    buildspec = _flat(project["Properties"]["Source"]["BuildSpec"])
    assert "JUNITXML" in buildspec
    assert "flink-app/target/surefire-reports" in buildspec
    assert "TEST-*.xml" in buildspec
    assert MANIFEST_NAME in buildspec
    assert "corretto17" in buildspec
    assert buildspec.index("mvn -B package") < buildspec.index("put-object")
    env = {v["Name"]: v["Value"] for v in project["Properties"]["Environment"]["EnvironmentVariables"]}
    assert env == {"RELEASE_BUCKET": RELEASE_BUCKET, "RELEASE_PREFIX": "builds/", "ARTIFACT_GLOB": "target/*.jar"}
    assert project["Properties"]["Environment"]["PrivilegedMode"] is False
    assert "EncryptionKey" in project["Properties"]
    assert project["Properties"]["LogsConfig"]["CloudWatchLogs"]["Status"] == "ENABLED"
    pipeline = _pipeline(template, "clickstream-application")
    (build,) = [a for s in pipeline["Stages"] for a in s["Actions"] if a["Name"] == "BuildTestPublish"]
    assert "#{codepipeline.PipelineExecutionId}" in build["Configuration"]["EnvironmentVariables"]
    template.has_resource_properties("AWS::CodeBuild::ReportGroup", {"Type": "TEST"})


def test_release_bucket_is_versioned_kms_encrypted_logged_and_has_a_plain_name(template):
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": RELEASE_BUCKET,
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": Match.any_value(),
                        },
                    }
                ]
            },
            "LoggingConfiguration": {"DestinationBucketName": Match.any_value(), "LogFilePrefix": "releases/"},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )


def test_application_artifacts_are_encrypted_with_a_rotating_key(template):
    pipeline = _pipeline(template, "clickstream-application")
    assert pipeline["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS"
    keys = template.find_resources("AWS::KMS::Key")
    assert all(k["Properties"]["EnableKeyRotation"] is True for k in keys.values())


def test_only_each_targets_flink_role_may_read_releases(template):
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in template.find_resources("AWS::S3::BucketPolicy").values()
        if "FlinkReadsReleases" in _flat(p)
    ]
    allows = [s for s in policy if s["Effect"] == "Allow"]
    assert [s["Sid"] for s in allows] == ["FlinkReadsReleases111111111111", "FlinkReadsReleases222222222222"]
    for statement, (account, target) in zip(allows, [("111111111111", "Dev"), ("222222222222", "Prod")], strict=True):
        assert statement["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
        assert f":iam::{account}:root" in _flat(statement["Principal"])
        assert _flat(statement["Condition"]).count("role/") == 1
        assert f"role/clickstream-{target}-flink" in _flat(statement["Condition"])
        assert _flat(statement["Resource"]).endswith(f':s3:::{RELEASE_BUCKET}/builds/*"]]}}')
    key_statements = _flat([k["Properties"]["KeyPolicy"] for k in template.find_resources("AWS::KMS::Key").values()])
    assert "FlinkDecryptsReleases222222222222" in key_statements
    assert '"kms:ViaService": "s3.eu-west-1.amazonaws.com"' in key_statements


def test_update_function_runs_the_packaged_handler_on_current_python(template, outdir):
    (function,) = [
        f["Properties"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "kda_update.handler"
    ]
    assert function["Runtime"] == "python3.14"
    assert function["Timeout"] == UPDATE_FUNCTION_TIMEOUT.to_seconds()
    assert function["LoggingConfig"]["LogFormat"] == "JSON"
    asset = outdir / f"asset.{function['Code']['S3Key'].removesuffix('.zip')}"
    # the handler and the job machinery it shares with the layer distributor; no other handler, no aws_cdk
    assert sorted(p.name for p in asset.iterdir()) == ["_pipeline_job.py", "kda_update.py"]
    assert not any("aws_cdk" in p.read_text() for p in asset.iterdir())


def test_update_function_permissions_are_explicit_and_scoped(template):
    (role_id,) = [
        k
        for k, r in template.find_resources("AWS::IAM::Role").items()
        if r["Properties"].get("RoleName") == "clickstream-kda-update-eu-west-1"
    ]
    inline = [
        p for p in template.find_resources("AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    assert inline == [], "the update role has no inline (DefaultPolicy) grants"
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    by_sid = {s["Sid"]: s for s in policy}
    assert sorted(by_sid) == [
        "AssumeTargetUpdaterRoles",
        "CheckReleases",
        "DeadLetters",
        "DeadLettersKey",
        "JobClaims",
        "JobClaimsKey",
        "ReportJobResults",
        "WriteOwnLogs",
    ]
    assert by_sid["ReportJobResults"]["Action"] == [
        "codepipeline:PutJobSuccessResult",
        "codepipeline:PutJobFailureResult",
    ]
    assumed = _flat(by_sid["AssumeTargetUpdaterRoles"]["Resource"])
    assert "111111111111:role/clickstream-Dev-updater" in assumed
    assert "222222222222:role/clickstream-Prod-updater" in assumed
    assert by_sid["CheckReleases"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert "*" not in _flat(by_sid["WriteOwnLogs"]["Resource"])


def test_build_may_only_add_releases_and_publish_its_report(template):
    statements = _statements(template, "AWS::IAM::Policy", "ClickstreamApplicationBuildRole")
    puts = [s for s in statements if s["Action"] == "s3:PutObject"]
    assert len(puts) == 1
    assert _flat(puts[0]["Resource"]).endswith(f':s3:::{RELEASE_BUCKET}/builds/*"]]}}')
    (group_id,) = template.find_resources("AWS::CodeBuild::ReportGroup").keys()
    reports = [s for s in statements if s["Resource"] == {"Fn::GetAtt": [group_id, "Arn"]}]
    assert sorted(reports[0]["Action"]) == [
        "codebuild:BatchPutTestCases",
        "codebuild:CreateReport",
        "codebuild:UpdateReport",
    ]
    assert not any(
        "s3:DeleteObject" in _flat(s["Action"]) and RELEASE_BUCKET in _flat(s["Resource"]) for s in statements
    )


# ---------------------------------------------------------------- application stacks


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
    by_sid = {s["Sid"]: s for s in _statements(prod, "AWS::IAM::ManagedPolicy", "ApplicationServicePolicy")}
    (stream_id,) = prod.find_resources("AWS::Kinesis::Stream").keys()
    assert by_sid["ReadInputStream"]["Resource"] == {"Fn::GetAtt": [stream_id, "Arn"]}
    assert all(not a.endswith("*") for a in by_sid["ReadInputStream"]["Action"])
    assert _flat(by_sid["ReadReleases"]["Resource"]).endswith(f':s3:::{RELEASE_BUCKET}/builds/*"]]}}')
    decrypt = by_sid["DecryptReleasesThroughS3"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == "s3.eu-west-1.amazonaws.com"
    assert ":kms:eu-west-1:111111111111:key/*" in _flat(decrypt["Resource"])
    assert "cdk-hnb659fds-assets-222222222222" in _flat(by_sid["ReadApplicationCode"]["Resource"])
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
    assert ":iam::111111111111:role/clickstream-kda-update-eu-west-1" in _flat(role["Properties"])
    (statement,) = _statements(prod, "AWS::IAM::ManagedPolicy", "UpdaterPolicy")
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


# ---------------------------------------------------------------- the publish step of the build


def _publish(tmp_path: Path, files: list[str], version: str = "3HL4kqtJlcpXroDTDmJ") -> tuple[int, str, Path]:
    project = tmp_path / "src" / "flink-app"
    project.mkdir(parents=True)
    for name in files:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_bytes(b"jar " + name.encode())
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    aws = fake_bin / "aws"
    aws.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/aws-args"\necho "{version}"\n')
    aws.chmod(aws.stat().st_mode | stat.S_IEXEC)
    env = {
        **os.environ,
        "PATH": f"{fake_bin}:{os.environ['PATH']}",
        "CODEBUILD_SRC_DIR": str(tmp_path / "src"),
        "CODEBUILD_RESOLVED_SOURCE_VERSION": "abc1234",
        "PIPELINE_EXECUTION_ID": "exec-1",
        "RELEASE_BUCKET": RELEASE_BUCKET,
        "RELEASE_PREFIX": "builds/",
        "ARTIFACT_GLOB": "target/*.jar",
    }
    done = subprocess.run(["bash", "-c", PUBLISH_SCRIPT], cwd=project, env=env, capture_output=True, text=True)
    return done.returncode, done.stderr, tmp_path


def test_publish_uploads_the_one_jar_under_commit_and_execution_and_writes_the_manifest(tmp_path):
    code, err, root = _publish(tmp_path, ["target/app-1.0.jar", "target/original-app-1.0.jar"])
    assert code == 0, err
    manifest = json.loads((root / "src" / MANIFEST_NAME).read_text())
    assert manifest["bucket"] == RELEASE_BUCKET
    assert manifest["key"] == "builds/abc1234/exec-1/app-1.0.jar"
    assert manifest["versionId"] == "3HL4kqtJlcpXroDTDmJ"
    assert len(manifest["sha256"]) == 64
    args = (root / "aws-args").read_text()
    assert "--key builds/abc1234/exec-1/app-1.0.jar" in args
    assert "--body target/app-1.0.jar" in args
    assert f"sha256={manifest['sha256']}" in args


@pytest.mark.parametrize(
    ("files", "version", "error"),
    [
        ([], "v1", "no build output matches"),
        (["target/a.jar", "target/b.jar"], "v1", "more than one build output"),
        (["target/app.jar"], "None", "no object version"),
    ],
)
def test_publish_fails_the_build_when_the_release_is_ambiguous(tmp_path, files, version, error):
    code, err, root = _publish(tmp_path, files, version)
    assert code != 0
    assert error in err
    assert not (root / "src" / MANIFEST_NAME).exists()


# ---------------------------------------------------------------- compliance and snapshot


def test_no_unacknowledged_findings_in_five_packs(app):
    assert [str(f) for f in unacknowledged_findings(app)] == []


def test_every_kda_acknowledgment_answers_a_finding(app):
    with suspended_acknowledgments():
        bare = deterministic_app()
        EXAMPLE.build_app(bare)
        raised = {(f.path, f.rule) for f in unacknowledged_findings(bare)}
    mine = [
        (p, r) for p, r, _ in acknowledgments(app) if "/Clickstream/Application/" in p or p.startswith("clickstream-")
    ]
    assert mine, "the example exercises the construct's own acknowledgments"
    stale = sorted(
        (path, rule)
        for path, rule in mine
        if not any(rule == r and (p == path or p.startswith(path + "/")) for p, r in raised)
    )
    assert stale == []


def test_snapshot(template, prod, snapshot):
    both = {"pipeline": template.to_json(), "prod": prod.to_json()}
    assert normalize_template(both) == snapshot.use_extension(JSONSnapshotExtension)
