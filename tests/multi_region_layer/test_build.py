"""The layer build, inside the synth action: lock-file installs, the size check, the build host, your own
commands."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_lambda as lambda_
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from multi_region_layer.layer_helpers import example, layer_config, make_pipeline, synth_project

from pipeline_constructs.multi_region_layer import LayerSharing, default_build_commands
from pipeline_constructs.multi_region_layer.build import ARM_BUILD_IMAGE


def test_layer_build_uses_the_lock_file_and_checks_the_size_in_the_synth_action():
    projects = example().template.find_resources("AWS::CodeBuild::Project")
    (build,) = [p for p in projects.values() if "npm ci" in json.dumps(p["Properties"]["Source"]["BuildSpec"])]
    assert build == synth_project(example().template)  # one project builds the layer and synthesizes
    spec = json.loads(build["Properties"]["Source"]["BuildSpec"])
    commands = spec["phases"]["build"]["commands"]
    assert "layer/package-lock.json is required" in commands[0]
    assert "npm ci --omit=dev --no-audit --no-fund --prefix layer-build/nodejs" in commands
    assert "cp layer/package.json layer/package-lock.json layer-build/nodejs/" in commands
    size_check = next(i for i, c in enumerate(commands) if "262144000" in c)  # Lambda's 250 MB unzipped limit
    synth = next(i for i, c in enumerate(commands) if c.startswith("npx -y aws-cdk@"))
    assert size_check < synth  # a layer too large fails the synth action: nothing mutates or publishes
    assert commands[size_check + 1] == 'cd "$CODEBUILD_SRC_DIR"'
    assert "latest" not in json.dumps(spec)
    (layer,) = [o for o in spec["artifacts"]["secondary-artifacts"].values() if o["base-directory"] == "layer-build"]
    assert layer == {"base-directory": "layer-build", "files": ["**/*"]}
    assert build["Properties"]["EncryptionKey"]  # CodeBuild artifacts use the pipeline's KMS key
    assert build["Properties"]["Environment"]["PrivilegedMode"] is False


def test_python_default_build_pins_with_hashes_per_runtime_for_one_architecture():
    commands = default_build_commands(
        [lambda_.Runtime.PYTHON_3_13, lambda_.Runtime.PYTHON_3_14],
        [lambda_.Architecture.ARM_64],
        layer_directory="deps",
    )
    pip = [c for c in commands if "pip install" in c]
    assert len(pip) == 2
    for version, command in zip(("3.13", "3.14"), pip, strict=True):
        assert "--require-hashes" in command
        assert "--only-binary=:all:" in command
        assert "--platform manylinux2014_aarch64" in command
        assert f"--python-version {version}" in command
        assert f"--target layer-build/python/lib/python{version}/site-packages" in command
        assert "-r deps/requirements.txt" in command


@pytest.mark.parametrize(
    ("runtimes", "architectures", "prop"),
    [
        (
            [lambda_.Runtime.NODEJS_24_X, lambda_.Runtime.PYTHON_3_14],
            [lambda_.Architecture.X86_64],
            "compatible_runtimes",
        ),
        (
            [lambda_.Runtime.PYTHON_3_14],
            [lambda_.Architecture.X86_64, lambda_.Architecture.ARM_64],
            "compatible_architectures",
        ),
    ],
)
def test_default_build_commands_name_the_caller(runtimes, architectures, prop):
    with pytest.raises(ValueError, match=rf"^Caller: {prop} = .* is invalid: "):
        default_build_commands(runtimes, architectures, where="Caller")


def _environment(p) -> dict:  # type: ignore[no-untyped-def]
    return synth_project(Template.from_stack(cdk.Stack.of(p)))["Properties"]["Environment"]  # type: ignore[no-any-return]


def test_arm_only_layers_build_on_arm():
    p = make_pipeline(compatible_architectures=[lambda_.Architecture.ARM_64])
    environment = _environment(p)
    assert environment["Type"] == "ARM_CONTAINER"  # the synth action builds the layer: it runs on ARM
    assert environment["Image"] == ARM_BUILD_IMAGE.image_id
    assert _environment(make_pipeline())["Type"] == "LINUX_CONTAINER"  # x86 layers: the pipeline's image


def test_an_arm_only_layer_keeps_the_rest_of_the_synth_defaults():
    defaults = pipelines.CodeBuildOptions(
        build_environment=codebuild.BuildEnvironment(
            compute_type=codebuild.ComputeType.LARGE,
            environment_variables={"TEAM": codebuild.BuildEnvironmentVariable(value="layers")},
        )
    )
    p = make_pipeline(
        compatible_architectures=[lambda_.Architecture.ARM_64], pipeline_options={"synth_code_build_defaults": defaults}
    )
    environment = _environment(p)
    assert (environment["Type"], environment["ComputeType"]) == ("ARM_CONTAINER", "BUILD_GENERAL1_LARGE")
    assert {"Name": "TEAM", "Type": "PLAINTEXT", "Value": "layers"} in environment["EnvironmentVariables"]


def test_an_arm_only_layer_refuses_an_x86_synth_image():
    defaults = pipelines.CodeBuildOptions(
        build_environment=codebuild.BuildEnvironment(build_image=codebuild.LinuxBuildImage.AMAZON_LINUX_2023_5)
    )
    with pytest.raises(
        ValueError,
        match=r"^S/P: pipeline_options\['synth_code_build_defaults'\] = '<build image aws/codebuild/amazonlinux-x86_64-"
        r"standard:5.0>' is invalid: an arm64-only layer is built in the synth action, on ARM",
    ):
        make_pipeline(
            compatible_architectures=[lambda_.Architecture.ARM_64],
            pipeline_options={"synth_code_build_defaults": defaults},
        )
    arm = pipelines.CodeBuildOptions(
        build_environment=codebuild.BuildEnvironment(
            build_image=codebuild.LinuxArmBuildImage.AMAZON_LINUX_2_STANDARD_3_0
        )
    )
    p = make_pipeline(
        compatible_architectures=[lambda_.Architecture.ARM_64], pipeline_options={"synth_code_build_defaults": arm}
    )
    assert _environment(p)["Image"] == codebuild.LinuxArmBuildImage.AMAZON_LINUX_2_STANDARD_3_0.image_id


def test_build_environment_is_the_synth_action_s_and_wins_over_synth_defaults():
    defaults = pipelines.CodeBuildOptions(
        build_environment=codebuild.BuildEnvironment(
            build_image=codebuild.LinuxBuildImage.AMAZON_LINUX_2023_5, compute_type=codebuild.ComputeType.LARGE
        )
    )
    p = make_pipeline(
        build_environment=codebuild.BuildEnvironment(build_image=codebuild.LinuxBuildImage.STANDARD_7_0),
        pipeline_options={"synth_code_build_defaults": defaults},
    )
    environment = _environment(p)
    assert environment["Image"] == codebuild.LinuxBuildImage.STANDARD_7_0.image_id
    assert environment["ComputeType"] == "BUILD_GENERAL1_LARGE"  # what build_environment leaves unset is kept


def test_custom_build_commands_and_public_opt_in():
    p = make_pipeline(
        build_commands=["make layer"],
        output_directory="dist/layer",
        sharing=LayerSharing(public=True),
        parameter_name="/team/layers/deps",
    )
    assert p.build_step.commands[:2] == ["make layer", 'cd "$CODEBUILD_SRC_DIR"']
    spec = json.loads(synth_project(Template.from_stack(cdk.Stack.of(p)))["Properties"]["Source"]["BuildSpec"])
    assert {o["base-directory"] for o in spec["artifacts"]["secondary-artifacts"].values()} == {"cdk.out", "dist/layer"}
    config = layer_config(Template.from_stack(cdk.Stack.of(p)))
    assert config["allowPublic"] is True
    assert config["sharing"]["public"] is True
    assert config["parameterName"] == "/team/layers/deps"
