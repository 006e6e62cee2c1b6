"""The job-test action: pytest in the aws-glue-libs image of the spec, no credentials, a JUnit report."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_glue as glue
from aws_cdk.assertions import Template
from conftest import EXAMPLES
from glue_etl.glue_example import buildspec, example, glue_pipeline, project, spec

from pipeline_constructs.core.compliance import acknowledgments
from pipeline_constructs.glue_etl import GLUE_LIBS_IMAGES, GlueEtlPipeline, GlueSparkJob, glue_libs_image

SPARK = "j_neherlab_denorm_etl.py"


@pytest.fixture(scope="module")
def construct() -> GlueEtlPipeline:
    return example()[1]


@pytest.fixture(scope="module")
def template(construct) -> Template:
    return Template.from_stack(cdk.Stack.of(construct))


def test_job_tests_run_in_the_glue_libs_image_unprivileged(template):
    job_tests = project(template, "JobTests")
    assert job_tests["Environment"]["Image"] == "public.ecr.aws/glue/aws-glue-libs:5"
    assert job_tests["Environment"]["PrivilegedMode"] is False
    assert job_tests["TimeoutInMinutes"] == 30


def test_job_tests_have_no_credentials_and_publish_junit(template):
    spec_ = buildspec(project(template, "JobTests"))
    commands = spec_["phases"]["build"]["commands"]
    pytest_line = next(c for c in commands if "pytest" in c)
    for variable in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN"):
        assert f"-u {variable}" in pytest_line
    assert "AWS_EC2_METADATA_DISABLED=true" in pytest_line
    assert "python3 -m pytest tests --junitxml=" in pytest_line
    assert "docker" not in json.dumps(spec_)
    assert "aws configure" not in json.dumps(spec_)
    (report,) = spec_["reports"].values()
    assert report == {"files": ["*.xml"], "base-directory": "glue-test-reports", "file-format": "JUNITXML"}


def test_job_test_role_may_only_publish_to_its_report_group(template, construct):
    group = cdk.Stack.of(construct).resolve(construct.test_reports["JobTests"].report_group.report_group_arn)
    policies = template.find_resources("AWS::IAM::Policy")
    (policy,) = [p for k, p in policies.items() if "JobTests" in k]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    report = [s for s in statements if s["Resource"] == group]
    assert report == [
        {
            "Action": ["codebuild:CreateReport", "codebuild:UpdateReport", "codebuild:BatchPutTestCases"],
            "Effect": "Allow",
            "Resource": group,
        }
    ]
    assert not any("glue:" in json.dumps(s) or "sts:AssumeRole" in json.dumps(s) for s in statements)


def test_report_group_is_junit_test_group(template):
    template.has_resource_properties("AWS::CodeBuild::ReportGroup", {"Type": "TEST"})


def test_the_custom_image_is_acknowledged_on_the_job_test_project_only(construct):
    cb5 = [(path, r) for path, rule, r in acknowledgments(construct) if rule == "AwsSolutions-CB5"]
    assert len(cb5) == 1, cb5
    path, reason = cb5[0]
    assert "JobTests" in path
    assert "public.ecr.aws/glue/aws-glue-libs:5" in reason


def test_the_example_job_tests_cover_every_job_script():
    tests = "\n".join(p.read_text() for p in (EXAMPLES / "glue_etl" / "tests").glob("test_*.py"))
    for script in (EXAMPLES / "glue_etl" / "glue_jobs").glob("*.py"):
        assert f"import {script.stem}" in tests, f"no test imports {script.name}"


# -- which image ------------------------------------------------------------------------------------


def test_mixed_glue_versions_need_an_explicit_test_image():
    mixed = spec(
        GlueSparkJob(name="a", script=SPARK, glue_version=glue.GlueVersion.V4_0),
        GlueSparkJob(name="b", script=SPARK, glue_version=glue.GlueVersion.V5_0),
    )
    with pytest.raises(ValueError, match=r"test_image = None is invalid: the Spark jobs use several Glue versions"):
        glue_pipeline(spec=mixed)
    image = codebuild.LinuxBuildImage.from_docker_registry("example.com/team/glue-tests:4-and-5")
    built = glue_pipeline(spec=mixed, test_image=image)
    job_tests = project(Template.from_stack(cdk.Stack.of(built)), "JobTests")
    assert job_tests["Environment"]["Image"] == "example.com/team/glue-tests:4-and-5"


def test_glue_version_without_a_published_image():
    v6 = spec(GlueSparkJob(name="a", script=SPARK, glue_version=glue.GlueVersion.V6_0))
    with pytest.raises(ValueError, match=r"no aws-glue-libs image is known for V6_0; pass test_image="):
        glue_pipeline(spec=v6)


def test_glue_4_jobs_are_tested_in_the_glue_4_image():
    built = glue_pipeline(spec=spec(GlueSparkJob(name="a", script=SPARK, glue_version=glue.GlueVersion.V4_0)))
    assert built.test_image.image_id == "public.ecr.aws/glue/aws-glue-libs:glue_libs_4.0.0_image_01"


@pytest.mark.parametrize("version", list(GLUE_LIBS_IMAGES))
def test_every_known_version_maps_to_its_image(version):
    assert glue_libs_image("W", version).image_id == GLUE_LIBS_IMAGES[version]


def test_test_compute_and_install_commands_reach_the_project():
    built = glue_pipeline(
        test_compute_type=codebuild.ComputeType.LARGE, test_install_commands=["python3 -m pip install --user moto"]
    )
    job_tests = project(Template.from_stack(cdk.Stack.of(built)), "JobTests")
    assert job_tests["Environment"]["ComputeType"] == "BUILD_GENERAL1_LARGE"
    assert buildspec(job_tests)["phases"]["install"]["commands"] == ["python3 -m pip install --user moto"]
