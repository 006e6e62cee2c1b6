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


@pytest.mark.parametrize(
    "code",
    [
        "from pipeline_constructs.core.validation_aws import require_account\n"
        "from pipeline_constructs.core.validation import require_account as same\nassert same is require_account",
        "from pipeline_constructs.core.validation import require_region, require_cron, ACCOUNT_PATTERN",
    ],
)
def test_the_aws_validators_are_importable_from_validation_whichever_module_loads_first(code):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_an_unknown_name_is_still_an_attribute_error():
    from pipeline_constructs.core import validation

    with pytest.raises(AttributeError, match="require_nothing"):
        validation.require_nothing  # noqa: B018
    assert {"require_account", "require_str"} <= set(dir(validation))
