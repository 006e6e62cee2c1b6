"""The public API: every exported name resolves, lazily, to what its module defines."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pipeline_constructs


@pytest.mark.parametrize("name", pipeline_constructs.__all__)
def test_every_export_resolves(name):
    value = getattr(pipeline_constructs, name)
    assert value is not None
    assert name in dir(pipeline_constructs)


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        pipeline_constructs.Nope  # noqa: B018


def test_importing_one_construct_does_not_load_the_others():
    code = (
        "import sys; from pipeline_constructs import DotnetLambdaPipeline;"
        "print(sorted(m for m in ('pipeline_constructs.kda_app', 'pipeline_constructs.redshift_migration',"
        " 'pipeline_constructs.glue_etl', 'pipeline_constructs.multi_region_layer',"
        " 'aws_cdk.aws_kinesisanalyticsv2', 'aws_cdk.aws_redshiftserverless', 'aws_cdk.aws_glue') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_all_matches_the_lazy_export_table():
    assert sorted(pipeline_constructs.__all__) == sorted(pipeline_constructs._EXPORTS)
