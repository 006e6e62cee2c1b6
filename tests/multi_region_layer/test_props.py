"""MultiRegionLayerPipeline's props: what a layer pipeline accepts, and the named error for everything else."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from aws_cdk.region_info import RegionInfo
from hypothesis import given, settings
from hypothesis import strategies as st
from multi_region_layer.layer_helpers import ACCOUNT, layer_config, make_pipeline, new_stack, target

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.core.validation import known_regions
from pipeline_constructs.multi_region_layer import LayerSharing
from pipeline_constructs.multi_region_layer.props import check_targets

# ---------------------------------------------------------------- targets


def test_a_target_in_another_account_is_refused_with_the_way_to_reach_it():
    with pytest.raises(
        ValueError,
        match=r"^S/P: targets\[1\]\.account = '222222222222' is invalid: "
        r"expected the pipeline's account '111111111111': "
        r"the distributor publishes with its own role .* sharing=LayerSharing\(accounts=",
    ):
        make_pipeline(
            targets=[target("us-east-1"), DeploymentTarget(name="Other", account="222222222222", region="eu-west-1")]
        )


def test_a_security_gated_target_is_refused_naming_the_gate_that_applies():
    with pytest.raises(
        ValueError,
        match=r"^S/P: targets\[0\]\.security_gated = True is invalid: a layer publish deploys no CloudFormation stage"
        r".* use manual_approval=True",
    ):
        make_pipeline(targets=[target("us-east-1", security_gated=True)])


def test_two_targets_in_one_region_are_refused():
    with pytest.raises(
        ValueError,
        match=r"^S/P: targets\[1\]\.region = 'us-east-1' is invalid: expected one target per region: "
        r"target 'Virginia' already publishes there",
    ):
        make_pipeline(targets=[target("us-east-1", "Virginia"), target("us-east-1", "Again")])


def test_target_names_are_unique():
    with pytest.raises(ValueError, match=r"^S/P: targets\[\]\.name = 'a' is invalid: names must be unique"):
        make_pipeline(targets=[target("us-east-1", "A"), target("eu-west-1", "a")])


@pytest.mark.parametrize(
    ("targets", "prop", "allowed"),
    [
        ([], "targets", "expected at least one DeploymentTarget"),
        ("us-east-1", "targets", "expected a list of DeploymentTarget"),
        (["us-east-1"], r"targets\[0\]", "expected a DeploymentTarget"),
        ([target("cn-north-1")], r"targets\[0\]\.region", "expected a region of the pipeline's partition 'aws'"),
    ],
)
def test_bad_targets(targets, prop, allowed):
    with pytest.raises((TypeError, ValueError), match=rf"^S/P: {prop} = .* is invalid: {allowed}"):
        make_pipeline(targets=targets)


def test_token_region_is_rejected():
    with pytest.raises(ValueError, match=r"targets\[0\]\.region = .* is invalid: expected a literal region name"):
        make_pipeline(targets=[DeploymentTarget(name="T", account=ACCOUNT, region=cdk.Aws.REGION)])


def test_too_many_actions_for_one_stage(monkeypatch):
    import pipeline_constructs.multi_region_layer.props as module

    monkeypatch.setattr(module, "MAX_REGIONS", 2)
    with pytest.raises(
        ValueError, match=r"S/P: targets = '<3 targets, 3 actions>' is invalid: at most 2 publish and approval actions"
    ):
        make_pipeline(targets=[target("us-east-1"), target("us-west-2"), target("eu-west-1")])
    with pytest.raises(ValueError, match=r"S/P: targets = '<2 targets, 3 actions>' is invalid: at most 2"):
        make_pipeline(targets=[target("us-east-1"), target("us-west-2", manual_approval=True)])


_PARTITION = {r: RegionInfo.get(r).partition for r in sorted(known_regions())}


@settings(max_examples=40, deadline=None)
@given(
    regions=st.lists(st.sampled_from(sorted(_PARTITION)), min_size=1, max_size=8),
    accounts=st.lists(st.sampled_from([ACCOUNT, "222222222222"]), min_size=8, max_size=8),
    approvals=st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_targets_are_accepted_exactly_when_one_per_region_in_the_pipelines_account_and_partition(
    regions, accounts, approvals
):
    stack = new_stack()
    targets = [
        DeploymentTarget(name=f"T{i}", account=accounts[i], region=r, manual_approval=approvals[i])
        for i, r in enumerate(regions)
    ]
    valid = (
        len(set(regions)) == len(regions)
        and all(t.account == ACCOUNT for t in targets)
        and all(_PARTITION[r] == "aws" for r in regions)  # the pipeline is in eu-west-1
    )
    if valid:
        assert check_targets("S/P", targets, stack) == tuple(targets)
    else:
        with pytest.raises(ValueError, match=r"^S/P: targets\[\d+\]\.(account|region) = "):
            check_targets("S/P", targets, stack)


# ---------------------------------------------------------------- the layer


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "arn:aws:lambda:x", "a/b"])
def test_bad_layer_name(name):
    with pytest.raises(ValueError, match=r"S/P: layer_name = .* is invalid: expected 1-64 characters"):
        make_pipeline(layer_name=name)


@pytest.mark.parametrize(
    ("runtimes", "prop", "allowed"),
    [
        ([], "compatible_runtimes", "expected a non-empty list of aws_lambda.Runtime"),
        (["nodejs24.x"], r"compatible_runtimes\[0\]", "expected an aws_lambda.Runtime"),
        (
            [lambda_.Runtime.NODEJS_24_X, lambda_.Runtime.PYTHON_3_14],
            "compatible_runtimes",
            "default build commands exist for Node.js-only or Python-only layers",
        ),
        ([lambda_.Runtime.JAVA_21], "compatible_runtimes", "default build commands exist"),
    ],
)
def test_bad_runtimes(runtimes, prop, allowed):
    with pytest.raises(ValueError, match=rf"S/P: {prop} = .* is invalid: {allowed}"):
        make_pipeline(compatible_runtimes=runtimes)


def test_too_many_runtimes():
    # Existing constants only: creating a Runtime adds it to the process-wide Runtime.ALL, which cdk-nag's
    # LambdaLatestVersion rule reads, so invented runtimes would make later tests' functions look outdated.
    names = [n for n in dir(lambda_.Runtime) if n.startswith(("NODEJS_", "PYTHON_3"))]
    runtimes = list({getattr(lambda_.Runtime, n).name: getattr(lambda_.Runtime, n) for n in names}.values())
    assert len(runtimes) > 15
    with pytest.raises(
        ValueError, match=rf"compatible_runtimes = {len(runtimes)} is invalid: a layer lists at most 15"
    ):
        make_pipeline(compatible_runtimes=runtimes)


def test_runtimes_and_architectures_are_deduplicated_in_order():
    p = make_pipeline(
        compatible_runtimes=[lambda_.Runtime.NODEJS_24_X, lambda_.Runtime.NODEJS_22_X, lambda_.Runtime.NODEJS_24_X],
        compatible_architectures=[
            lambda_.Architecture.ARM_64,
            lambda_.Architecture.X86_64,
            lambda_.Architecture.ARM_64,
        ],
    )
    config = layer_config(Template.from_stack(cdk.Stack.of(p)))
    assert config["compatibleRuntimes"] == ["nodejs24.x", "nodejs22.x"]
    assert config["compatibleArchitectures"] == ["arm64", "x86_64"]


def test_python_default_build_needs_one_architecture():
    with pytest.raises(
        ValueError,
        match=r"S/P: compatible_architectures = \['x86_64', 'arm64'\] is invalid: the default Python build installs",
    ):
        make_pipeline(
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_14],
            compatible_architectures=[lambda_.Architecture.X86_64, lambda_.Architecture.ARM_64],
        )


def test_bad_architecture():
    with pytest.raises(ValueError, match=r"compatible_architectures\[0\] = 'arm64' is invalid: expected Architecture"):
        make_pipeline(compatible_architectures=["arm64"])


def test_too_many_accounts_for_the_configuration():
    accounts = tuple(f"{n:012d}" for n in range(100_000_000_000, 100_000_000_000 + 200))
    with pytest.raises(ValueError, match=r"sharing.accounts = '<200 accounts>' is invalid: .* organization_id"):
        make_pipeline(sharing=LayerSharing(accounts=accounts))


@pytest.mark.parametrize(
    ("overrides", "prop", "allowed"),
    [
        ({"license_info": "x" * 513}, "license_info", "expected 1-512 characters"),
        ({"description": ""}, "description", "expected 1-256 characters"),
        ({"parameter_name": "no-leading-slash"}, "parameter_name", "expected an SSM parameter path"),
        ({"layer_directory": "../elsewhere"}, "layer_directory", "expected a path relative to the repository root"),
        ({"layer_directory": "/abs"}, "layer_directory", "expected a path relative to the repository root"),
        ({"output_directory": "."}, "output_directory", "expected a sub-directory"),
        ({"build_commands": []}, "build_commands", "expected a non-empty list of shell commands"),
        ({"build_commands": "npm ci"}, "build_commands", "expected a non-empty list of shell commands"),
        ({"distributor_timeout": cdk.Duration.minutes(16)}, "distributor_timeout", ".*at most 15 minutes"),
        ({"distributor_timeout": cdk.Duration.minutes(1)}, "distributor_timeout", "expected at least"),
        ({"sharing": "public"}, "sharing", "expected a LayerSharing"),
        ({"source": None}, "source", "expected a pipelines.IFileSetProducer"),
        ({"pipeline_name": "no spaces"}, "pipeline_name", "expected 1-100 characters"),
        ({"app_dir": "../up"}, "app_dir", "expected a path relative to the repository root"),
        ({"synth_commands": "cdk synth"}, "synth_commands", "expected"),
    ],
)
def test_bad_props(overrides, prop, allowed):
    with pytest.raises((TypeError, ValueError), match=rf"S/P(/Pipeline)?: {prop} = .* is invalid: {allowed}"):
        make_pipeline(**overrides)


def test_default_and_custom_parameter_name():
    assert make_pipeline().parameter_name == "/lambda-layers/deps/latest-version-arn"
    assert make_pipeline(parameter_name="/team/layers/deps").parameter_name == "/team/layers/deps"


def test_pipeline_stack_needs_an_explicit_environment():
    with pytest.raises(
        ValueError,
        match=r"S/P: scope = 'S' is invalid: expected a stack with an explicit env \(account and region\): the",
    ):
        make_pipeline(new_stack(env=None))
