"""Bad KdaAppPipeline props (props.py, names.py): each error names the construct path, the prop and the value."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kda_app.kda_example import small_pipeline, small_stack

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.kda_app import KdaNames


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        ({"application_name": "Orders_App"}, r"S/P: application_name = 'Orders_App' is invalid: expected lowercase"),
        ({"application_name": "a" * 40}, r"application_name = 'a+' is invalid: too long: the release bucket name"),
        ({"targets": []}, r"S/P: targets = \[\] is invalid: expected at least one DeploymentTarget"),
        (
            {"targets": [DeploymentTarget(name="Dev", account="111111111111", region="us-east-1")]},
            r"targets\[0\]\.region = 'us-east-1' is invalid: expected the pipeline's region 'eu-west-1'",
        ),
        (
            {"targets": [DeploymentTarget(name="D" * 50, account="111111111111", region="eu-west-1")]},
            r"targets\[0\]\.name = 'D+' is invalid: application_name \+ target name too long",
        ),
        ({"application_source": "o/app"}, r"application_source = 'o/app' is invalid: expected an ApplicationSource"),
        ({"build": "maven"}, r"build = 'maven' is invalid: expected ApplicationBuild.maven"),
        ({"flink": {"parallelism": 2}}, r"flink = .* is invalid: expected a FlinkSettings"),
        ({"update_timeout": cdk.Duration.hours(2)}, r"update_timeout = '2 hours' is invalid: expected at least 1"),
        ({"release_prefix": "builds"}, r"S/P: release_prefix = 'builds' is invalid: expected a relative key prefix"),
        ({"stream_shard_count": 0}, r"stream_shard_count = 0 is invalid: expected an integer of at least 1"),
        ({"synth_commands": "cdk synth"}, r"S/P: synth_commands = 'cdk synth' is invalid"),
        ({"app_dir": "../infra"}, r"S/P: app_dir = '../infra' is invalid"),
    ],
)
def test_bad_pipeline_props(overrides, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        small_pipeline(**overrides)


def test_env_agnostic_stack_is_rejected():
    with pytest.raises(
        ValueError,
        match=r"S/P: scope = 'S' is invalid: expected a stack with an explicit env \(account and region\): targets",
    ):
        small_pipeline(small_stack(env=None))


_NAMES = st.from_regex(r"[a-z]([a-z0-9-]{0,38}[a-z0-9])?", fullmatch=True)
_TARGETS = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,63}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(name=_NAMES, target=_TARGETS)
def test_names_are_accepted_exactly_when_every_physical_name_fits(name, target):
    names = KdaNames(name, "111111111111", "eu-west-1")
    dev = DeploymentTarget(name=target, account="111111111111", region="eu-west-1")
    fits = (
        len(f"{name}-releases-111111111111-eu-west-1") <= 63
        and len(f"{name}-kda-update-eu-west-1") <= 64
        and len(f"{name}-{target}-updater") <= 64
    )
    if not fits:
        with pytest.raises(
            ValueError, match=r"^S/P: (application_name|targets\[0\]\.name) = .* is invalid: .*too long"
        ):
            names.check("S/P", [dev])
        return
    names.check("S/P", [dev])
    assert len(names.release_bucket) <= 63
    assert max(len(names.flink_role(dev)), len(names.updater_role(dev)), len(names.update_function_role)) <= 64
