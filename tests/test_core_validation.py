"""Bad input is rejected at construct time with the prop, the value and what is allowed."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_constructs import DeploymentTarget, SecurePipeline, TestReportFormat, TestReports
from pipeline_constructs.core.private.defaults import resolve_default
from pipeline_constructs.core.targets import validate_targets
from pipeline_constructs.core.validation import known_regions, require_pipeline_name


def test_account_must_be_12_digits():
    with pytest.raises(
        ValueError, match=r"DeploymentTarget\('Prod'\): account = '1234' is invalid: expected a 12-digit"
    ):
        DeploymentTarget(name="Prod", account="1234", region="eu-west-1")


@given(st.text(alphabet="0123456789", min_size=0, max_size=20).filter(lambda s: len(s) != 12))
def test_any_non_12_digit_account_is_rejected(account):
    with pytest.raises(ValueError, match="account"):
        DeploymentTarget(name="Prod", account=account, region="eu-west-1")


def test_unknown_region_is_rejected():
    with pytest.raises(ValueError, match=r"region = 'eu-west-9' is invalid: expected an AWS region"):
        DeploymentTarget(name="Dev", account="111111111111", region="eu-west-9")


def test_known_regions_come_from_aws_cdk_lib():
    regions = known_regions()
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= regions
    assert "eu-west-9" not in regions


def test_invalid_notification_email_is_rejected():
    with pytest.raises(ValueError, match=r"notification_emails\[1\] = 'not-an-email' is invalid: expected an e-mail"):
        DeploymentTarget(
            name="Prod",
            account="222222222222",
            region="eu-west-1",
            notification_emails=("ok@example.com", "not-an-email"),
        )


def test_target_name_rule():
    with pytest.raises(ValueError, match=r"name = 'prod stage' is invalid: expected a letter"):
        DeploymentTarget(name="prod stage", account="222222222222", region="eu-west-1")


def test_no_targets_is_rejected():
    with pytest.raises(ValueError, match=r"App/P: targets = \[\] is invalid: expected at least one DeploymentTarget"):
        validate_targets("App/P", [])


def test_duplicate_target_names_are_rejected_case_insensitively():
    a = DeploymentTarget(name="Prod", account="222222222222", region="eu-west-1")
    b = DeploymentTarget(name="PROD", account="333333333333", region="eu-west-1")
    with pytest.raises(ValueError, match=r"targets\[\]\.name = 'PROD' is invalid: names must be unique"):
        validate_targets("App/P", [a, b])


@pytest.mark.parametrize("name", ["has space", "x" * 101, "slash/name", ""])
def test_pipeline_name_outside_codepipeline_rule(name):
    with pytest.raises(ValueError, match=r"pipeline_name = .* is invalid: expected 1-100 characters"):
        require_pipeline_name("App/P", "pipeline_name", name)


@pytest.mark.parametrize("name", ["dotnet-lambda", "a.b@c_d-1", "x" * 100])
def test_pipeline_name_inside_codepipeline_rule(name):
    assert require_pipeline_name("App/P", "pipeline_name", name) == name


def test_unknown_report_format_names_allowed_values():
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(
        ValueError, match=r"S/Reports: format = 'XUNIT' is invalid: expected one of TestReportFormat.JUNIT_XML"
    ):
        TestReports(stack, "Reports", base_directory="out", format="XUNIT")


@pytest.mark.parametrize(
    ("given_format", "expected"),
    [
        ("JUNITXML", "JUNITXML"),
        ("junit_xml", "JUNITXML"),
        ("VisualStudioTrx", "VISUALSTUDIOTRX"),
        (TestReportFormat.NUNIT3_XML, "NUNIT3XML"),
        ("cucumber-json", "CUCUMBERJSON"),
        ("TESTNGXML", "TESTNGXML"),
        ("nunitxml", "NUNITXML"),
    ],
)
def test_every_codebuild_report_format_is_accepted(given_format, expected):
    stack = cdk.Stack(cdk.App(), "S")
    reports = TestReports(stack, "Reports", base_directory="out", format=given_format)
    section = reports.build_spec_section()
    assert next(iter(section.values()))["file-format"] == expected


def test_pipeline_name_is_validated_by_the_pipeline():
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    from aws_cdk import pipelines

    synth = pipelines.ShellStep("Synth", input=pipelines.CodePipelineSource.git_hub("o/r", "main"), commands=["x"])
    with pytest.raises(ValueError, match=r"S/P: pipeline_name = 'bad name!' is invalid"):
        SecurePipeline(stack, "P", synth=synth, pipeline_name="bad name!")


def test_team_default_from_context_and_explicit_wins():
    from aws_cdk import aws_logs as logs

    app = cdk.App(context={"pipeline-constructs:logRetentionDays": 731})
    stack = cdk.Stack(app, "S")
    assert resolve_default(stack, "logRetentionDays", None, logs.RetentionDays.ONE_YEAR) == logs.RetentionDays.TWO_YEARS
    explicit = logs.RetentionDays.TEN_YEARS
    assert resolve_default(stack, "logRetentionDays", explicit, logs.RetentionDays.ONE_YEAR) == explicit
    assert resolve_default(cdk.Stack(cdk.App(), "T"), "logRetentionDays", None, logs.RetentionDays.ONE_YEAR) == (
        logs.RetentionDays.ONE_YEAR
    )


def test_bad_team_default_names_the_context_key():
    app = cdk.App(context={"pipeline-constructs:computeType": "HUGE"})
    stack = cdk.Stack(app, "S")
    with pytest.raises(
        ValueError, match=r"context pipeline-constructs:computeType = 'HUGE' is invalid: expected one of"
    ):
        resolve_default(stack, "computeType", None, None)
