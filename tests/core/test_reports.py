"""TestReports: every CodeBuild report format, bad formats named."""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from pipeline_constructs import TestReportFormat, TestReports


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
