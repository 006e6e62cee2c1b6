"""ApplicationSource, ApplicationBuild (sources.py) and ReleaseChannel: bad input is rejected by name."""

from __future__ import annotations

import pytest
from aws_cdk import aws_s3 as s3
from kda_app.kda_example import CONNECTION, small_stack

from pipeline_constructs.kda_app import ApplicationBuild, ApplicationSource, ReleaseChannel


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


def test_s3_source_needs_the_key_of_a_zip():
    uploads = s3.Bucket(small_stack(), "Uploads", versioned=True)
    with pytest.raises(
        ValueError, match=r"ApplicationSource.s3: object_key = 'dir/' is invalid: expected the key of a zip"
    ):
        ApplicationSource.s3(uploads, "dir/")
