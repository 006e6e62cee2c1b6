"""The layer build: lock-file installs, the size check, the build host, your own commands."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template
from multi_region_layer.layer_helpers import example, layer_config, make_pipeline

from pipeline_constructs.multi_region_layer import LayerSharing, default_build_commands


def test_layer_build_uses_the_lock_file_and_checks_the_size():
    projects = example().template.find_resources("AWS::CodeBuild::Project")
    (build,) = [p for p in projects.values() if "npm ci" in json.dumps(p["Properties"]["Source"]["BuildSpec"])]
    spec = json.loads(build["Properties"]["Source"]["BuildSpec"])
    commands = spec["phases"]["build"]["commands"]
    assert "layer/package-lock.json is required" in commands[0]
    assert "npm ci --omit=dev --no-audit --no-fund --prefix layer-build/nodejs" in commands
    assert "cp layer/package.json layer/package-lock.json layer-build/nodejs/" in commands
    assert "262144000" in commands[-1]  # Lambda's 250 MB unzipped limit, checked before publishing
    assert "latest" not in json.dumps(spec)
    assert spec["artifacts"]["base-directory"] == "layer-build"
    assert build["Properties"]["EncryptionKey"]  # CodeBuild artifacts use the pipeline's KMS key


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


def test_arm_only_layers_build_on_arm():
    p = make_pipeline(compatible_architectures=[lambda_.Architecture.ARM_64])
    template = Template.from_stack(cdk.Stack.of(p))
    template.has_resource_properties(
        "AWS::CodeBuild::Project",
        {"Environment": Match.object_like({"Type": "ARM_CONTAINER"}), "Source": Match.object_like({})},
    )


def test_custom_build_commands_and_public_opt_in():
    p = make_pipeline(
        build_commands=["make layer"],
        output_directory="dist/layer",
        sharing=LayerSharing(public=True),
        parameter_name="/team/layers/deps",
    )
    assert p.build_step.commands == ["make layer"]
    config = layer_config(Template.from_stack(cdk.Stack.of(p)))
    assert config["allowPublic"] is True
    assert config["sharing"]["public"] is True
    assert config["parameterName"] == "/team/layers/deps"
