"""The release side (release.py): the build, its report, the release bucket, who may read and write releases."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from aws_cdk.assertions import Match, Template
from helpers import policy_statements
from kda_app.kda_example import RELEASE_BUCKET, example, flat, pipeline_named, small_pipeline, small_stack

from pipeline_constructs.kda_app import ApplicationBuild
from pipeline_constructs.kda_app.release import MANIFEST_NAME, PUBLISH_SCRIPT


def _build_project(template: Template, marker: str = "mvn -B package") -> dict:
    (project,) = [
        p["Properties"] for p in template.find_resources("AWS::CodeBuild::Project").values() if marker in flat(p)
    ]
    return project


def test_build_runs_maven_reports_surefire_and_names_the_execution():
    template = example().template
    project = _build_project(template)
    buildspec = flat(project["Source"]["BuildSpec"])
    assert "JUNITXML" in buildspec
    assert "flink-app/target/surefire-reports" in buildspec
    assert "TEST-*.xml" in buildspec
    assert MANIFEST_NAME in buildspec
    assert "corretto17" in buildspec
    assert buildspec.index("mvn -B package") < buildspec.index("put-object")
    env = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert env == {"RELEASE_BUCKET": RELEASE_BUCKET, "RELEASE_PREFIX": "builds/", "ARTIFACT_GLOB": "target/*.jar"}
    assert project["Environment"]["PrivilegedMode"] is False
    assert project["Environment"]["ComputeType"] == "BUILD_GENERAL1_SMALL"
    assert "EncryptionKey" in project
    assert project["LogsConfig"]["CloudWatchLogs"]["Status"] == "ENABLED"
    pipeline = pipeline_named(template, "clickstream-application")
    (build,) = [a for s in pipeline["Stages"] for a in s["Actions"] if a["Name"] == "BuildTestPublish"]
    assert "#{codepipeline.PipelineExecutionId}" in build["Configuration"]["EnvironmentVariables"]
    template.has_resource_properties("AWS::CodeBuild::ReportGroup", {"Type": "TEST"})


def test_release_bucket_is_versioned_kms_encrypted_logged_and_has_a_plain_name():
    example().template.has_resource_properties(
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


def test_only_each_targets_flink_role_may_read_releases():
    template = example().template
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in template.find_resources("AWS::S3::BucketPolicy").values()
        if "FlinkReadsReleases" in flat(p)
    ]
    allows = [s for s in policy if s["Effect"] == "Allow"]
    assert [s["Sid"] for s in allows] == ["FlinkReadsReleases111111111111", "FlinkReadsReleases222222222222"]
    for statement, (account, target) in zip(allows, [("111111111111", "Dev"), ("222222222222", "Prod")], strict=True):
        assert statement["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
        assert f":iam::{account}:root" in flat(statement["Principal"])
        assert flat(statement["Condition"]).count("role/") == 1
        assert f"role/clickstream-{target}-flink" in flat(statement["Condition"])
        assert flat(statement["Resource"]).endswith(f':s3:::{RELEASE_BUCKET}/builds/*"]]}}')
    key_statements = flat([k["Properties"]["KeyPolicy"] for k in template.find_resources("AWS::KMS::Key").values()])
    assert "FlinkDecryptsReleases222222222222" in key_statements
    assert '"kms:ViaService": "s3.eu-west-1.amazonaws.com"' in key_statements


def test_build_may_only_add_releases_and_publish_its_report():
    template = example().template
    statements = policy_statements(template, "AWS::IAM::Policy", "ClickstreamApplicationBuildRole")
    puts = [s for s in statements if s["Action"] == "s3:PutObject"]
    assert len(puts) == 1
    assert flat(puts[0]["Resource"]).endswith(f':s3:::{RELEASE_BUCKET}/builds/*"]]}}')
    (group_id,) = template.find_resources("AWS::CodeBuild::ReportGroup").keys()
    reports = [s for s in statements if s["Resource"] == {"Fn::GetAtt": [group_id, "Arn"]}]
    assert sorted(reports[0]["Action"]) == [
        "codebuild:BatchPutTestCases",
        "codebuild:CreateReport",
        "codebuild:UpdateReport",
    ]
    assert not any("s3:DeleteObject" in flat(s["Action"]) and RELEASE_BUCKET in flat(s["Resource"]) for s in statements)


def test_python_build_zips_after_its_tests():
    stack = small_stack()
    pipeline = small_pipeline(stack, build=ApplicationBuild.python_zip(project_directory="pyflink"))
    assert pipeline.test_reports["Tests"].base_directory == "pyflink/build/test-reports"
    buildspec = flat(_build_project(Template.from_stack(stack), "zip -qr")["Source"])
    assert buildspec.index("pytest --junitxml=build/test-reports/junit.xml") < buildspec.index("zip -qr")
    assert '\\"python\\": \\"3.13\\"' in buildspec


def test_build_without_tests_has_no_report_group():
    stack = small_stack()
    pipeline = small_pipeline(stack, build=ApplicationBuild.python_zip(test_command=None, install_commands=()))
    assert pipeline.test_reports == {}
    assert Template.from_stack(stack).find_resources("AWS::CodeBuild::ReportGroup") == {}
    assert "reports" not in flat(_build_project(Template.from_stack(stack), "zip -qr")["Source"])


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
