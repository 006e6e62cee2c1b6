"""The validators of AWS names and formats (core/validation_aws.py)."""

from __future__ import annotations

import pytest

from pipeline_constructs.core.validation_aws import known_regions, require_pipeline_name


def test_known_regions_come_from_aws_cdk_lib():
    regions = known_regions()
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= regions
    assert "eu-west-9" not in regions


@pytest.mark.parametrize("name", ["has space", "x" * 101, "slash/name", ""])
def test_pipeline_name_outside_codepipeline_rule(name):
    with pytest.raises(ValueError, match=r"pipeline_name = .* is invalid: expected 1-100 characters"):
        require_pipeline_name("App/P", "pipeline_name", name)


@pytest.mark.parametrize("name", ["dotnet-lambda", "a.b@c_d-1", "x" * 100])
def test_pipeline_name_inside_codepipeline_rule(name):
    assert require_pipeline_name("App/P", "pipeline_name", name) == name
