"""Opt-in CodeBuild Lambda compute (core/compute.py): the value object, the validator, what the template holds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ec2 as ec2
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from cli.cli_helpers import pipelines_at
from helpers import PIPELINE_ENV, pipeline_stack
from hypothesis import given, settings
from hypothesis import strategies as st
from redshift_migration.redshift_helpers import construct

from pipeline_constructs import SecurePipeline
from pipeline_constructs.cli.estimate import SECONDS, estimate
from pipeline_constructs.core.compliance import unacknowledged_findings
from pipeline_constructs.core.compute import (
    LAMBDA_IMAGES,
    LAMBDA_MEMORY_GB,
    LambdaCompute,
    check_code_build_options,
    command_problem,
)
from pipeline_constructs.core.options import PIPELINE_OPTION_KEYS, check_pipeline_options
from pipeline_constructs.testing import deterministic_app

NODE = LambdaCompute(image="nodejs22")
PYTHON = LambdaCompute(image="python3.12")
NODE_COMMANDS = ["npm ci", "npx -y aws-cdk@2.1100.0 synth"]


def _source() -> pipelines.CodePipelineSource:
    return pipelines.CodePipelineSource.git_hub("o/r", "main")


def _secure(app: cdk.App | None = None, *, step: Any = None, **kwargs: Any) -> tuple[cdk.Stack, SecurePipeline]:
    stack = pipeline_stack(app or deterministic_app(), "S")
    synth = step or pipelines.ShellStep("Synth", input=_source(), commands=NODE_COMMANDS)
    pipeline = SecurePipeline(stack, "P", synth=synth, **kwargs)
    stage = cdk.Stage(stack.node.root, "Dev", env=PIPELINE_ENV)
    cdk.Stack(stage, "Svc")
    pipeline.pipeline.add_stage(stage)
    return stack, pipeline


def _environments(template: Template) -> dict[str, dict[str, Any]]:
    """Each CodeBuild project's Environment, by logical id."""
    return {k: v["Properties"]["Environment"] for k, v in template.find_resources("AWS::CodeBuild::Project").items()}


def _on_lambda(environments: dict[str, dict[str, Any]]) -> set[str]:
    return {k for k, e in environments.items() if e["Type"].endswith("_LAMBDA_CONTAINER")}


# ---------------------------------------------------------------- the value object


@pytest.mark.parametrize("memory", LAMBDA_MEMORY_GB)
@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_every_memory_and_architecture_renders_its_compute_type_and_environment(memory, architecture):
    compute = LambdaCompute(memory=memory, image="python3.12", architecture=architecture)
    env = compute.build_environment()
    assert env.compute_type is getattr(codebuild.ComputeType, f"LAMBDA_{memory}GB")
    assert env.build_image.type == ("ARM_LAMBDA_CONTAINER" if architecture == "arm64" else "LINUX_LAMBDA_CONTAINER")
    arch = "aarch64" if architecture == "arm64" else "x86_64"
    assert env.build_image.image_id == f"aws/codebuild/amazonlinux-{arch}-lambda-standard:python3.12"
    assert env.privileged is False
    assert compute.code_build_options().build_environment is not None


@pytest.mark.parametrize("tag", sorted(LAMBDA_IMAGES))
def test_every_image_tag_is_the_aws_cdk_constant_of_that_image(tag):
    for architecture, arch in (("x86_64", "x86_64"), ("arm64", "aarch64")):
        image = LambdaCompute(image=tag, architecture=architecture).build_image
        assert image.image_id == f"aws/codebuild/amazonlinux-{arch}-lambda-standard:{tag}"


def test_defaults_are_documented_values():
    compute = LambdaCompute()
    assert (compute.memory, compute.image, compute.architecture, compute.runtime) == (4, "nodejs22", "x86_64", "node")


@given(st.integers(-5, 64).filter(lambda m: m not in LAMBDA_MEMORY_GB))
def test_other_memory_sizes_are_refused_naming_the_allowed(memory):
    with pytest.raises(ValueError, match=r"^LambdaCompute: memory = .* is invalid: .*1, 2, 4, 8, 10"):
        LambdaCompute(memory=memory)


@pytest.mark.parametrize(
    ("kwargs", "prop"),
    [
        ({"image": "nodejs99"}, "image"),
        ({"image": "aws/codebuild/amazonlinux-x86_64-lambda-standard:nodejs22"}, "image"),
        ({"architecture": "aarch64"}, "architecture"),
        ({"memory": "4"}, "memory"),
        ({"memory": True}, "memory"),
    ],
)
def test_bad_values_are_refused_naming_the_prop(kwargs, prop):
    with pytest.raises(ValueError, match=rf"^LambdaCompute: {prop} = "):
        LambdaCompute(**kwargs)


def test_value_object_is_frozen():
    with pytest.raises(AttributeError):
        NODE.memory = 8  # type: ignore[misc]


# ---------------------------------------------------------------- the command validator (property-based)

SAFE_WORD = st.from_regex(r"[a-z][a-z0-9._-]{0,8}", fullmatch=True).filter(
    lambda w: w not in {"sudo", "yum", "dnf", "rpm", "apt", "docker", "sam", "su", "if", "do", "then", "env"}
)
SEPARATOR = st.sampled_from([" && ", " || ", "; ", " | ", "\n"])
ROOT = st.sampled_from(["sudo", "yum", "dnf", "microdnf", "rpm", "apt-get", "apt", "apk", "/usr/bin/sudo"])
DOCKER = st.sampled_from(["docker", "docker-compose", "podman", "/usr/bin/docker"])
NODE_TOOLS = st.sampled_from(["npm", "npx", "node", "yarn"])
PYTHON_TOOLS = st.sampled_from(["pip", "pip3", "python", "python3", "pytest"])


def _command(program: str, args: list[str]) -> str:
    return " ".join([program, *args])


@st.composite
def pipelines_of_commands(draw, bad: st.SearchStrategy[str] | None = None, tools=NODE_TOOLS):  # type: ignore[no-untyped-def]
    """``a ARGS && b ARGS | ...``: safe programs (echo, tools of the image), maybe one ``bad`` program inserted."""
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        program = draw(st.one_of(st.just("echo"), st.just("cd"), tools))
        parts.append(_command(program, draw(st.lists(SAFE_WORD, max_size=3))))
    if bad is not None:
        prefix = draw(st.sampled_from(["", "FOO=1 ", "env ", "if ", "then "]))
        at = draw(st.integers(0, len(parts)))
        parts.insert(at, prefix + _command(draw(bad), draw(st.lists(SAFE_WORD, max_size=3))))
    text = parts[0] if parts else "true"
    for part in parts[1:]:
        text += draw(SEPARATOR) + part
    return text


@settings(max_examples=150, deadline=None)
@given(pipelines_of_commands())
def test_commands_of_the_images_runtime_pass(command):
    assert command_problem(command, NODE) is None


@settings(max_examples=150, deadline=None)
@given(pipelines_of_commands(tools=PYTHON_TOOLS))
def test_python_commands_pass_on_the_python_image(command):
    assert command_problem(command, PYTHON) is None


@settings(max_examples=150, deadline=None)
@given(pipelines_of_commands(bad=ROOT))
def test_a_program_that_needs_root_is_refused_wherever_it_stands(command):
    problem = command_problem(command, NODE)
    assert problem is not None
    assert "needs root" in problem


@settings(max_examples=150, deadline=None)
@given(pipelines_of_commands(bad=DOCKER))
def test_a_docker_program_is_refused_wherever_it_stands(command):
    problem = command_problem(command, NODE)
    assert problem is not None
    assert "needs Docker" in problem


@settings(max_examples=150, deadline=None)
@given(pipelines_of_commands(bad=PYTHON_TOOLS))
def test_a_program_of_another_runtime_is_refused_naming_both_runtimes(command):
    problem = command_problem(command, NODE)
    assert problem is not None
    assert "needs Python" in problem
    assert "'nodejs22' holds Node.js only" in problem


@given(
    st.sampled_from(["echo", "npm install", "npx", "git commit -m"]),
    st.sampled_from(["sudo", "yum", "docker", "apt-get", "pip"]),
)
def test_those_words_as_arguments_are_not_programs(program, word):
    assert command_problem(f"{program} {word}", NODE) is None
    assert command_problem(f"{program} '{word} x'", NODE) is None


@pytest.mark.parametrize(
    "command",
    ["sam build --use-container", "sam local invoke", "echo $(docker ps)", "cd app && sudo -E npm ci"],
)
def test_docker_and_root_inside_other_forms_are_refused(command):
    assert command_problem(command, NODE) is not None


def test_npm_global_install_is_allowed_on_the_nodejs_images_only():
    # The Node.js Lambda images set npm's global prefix to /tmp/opt/npm (aws-codebuild-docker-images
    # al-lambda/x86_64/nodejs*/Dockerfile), which is writable; other images have no npm at all.
    assert command_problem("npm install -g aws-cdk@2.1100.0", NODE) is None
    assert "needs Node.js" in (command_problem("npm i -g aws-cdk@2.1100.0", PYTHON) or "")


# ---------------------------------------------------------------- options the validator refuses


@pytest.mark.parametrize(
    ("options", "prop", "limit"),
    [
        (pipelines.CodeBuildOptions(timeout=cdk.Duration.minutes(10)), "timeout", "custom build timeouts"),
        (
            pipelines.CodeBuildOptions(build_environment=codebuild.BuildEnvironment(privileged=True)),
            "build_environment.privileged",
            "privileged mode",
        ),
        (
            pipelines.CodeBuildOptions(
                partial_build_spec=codebuild.BuildSpec.from_object(
                    {"phases": {"install": {"runtime-versions": {"nodejs": 22}}}}
                )
            ),
            "partial_build_spec.phases.install.runtime-versions",
            "runtime-versions",
        ),
        (
            pipelines.CodeBuildOptions(
                partial_build_spec=codebuild.BuildSpec.from_object(
                    {"phases": {"pre_build": {"commands": ["yum -y x"]}}}
                )
            ),
            r"partial_build_spec.phases.pre_build.commands\[0\]",
            "needs root",
        ),
        (
            pipelines.CodeBuildOptions(
                file_system_locations=[
                    codebuild.FileSystemLocation.efs(identifier="e", location="fs.efs:/", mount_point="/mnt")
                ]
            ),
            "file_system_locations",
            "EFS",
        ),
    ],
)
def test_options_lambda_compute_cannot_honour_are_refused_naming_the_prop(options, prop, limit):
    stack = pipeline_stack(deterministic_app(), "S")
    with pytest.raises(ValueError, match=rf"^S/P: o\.{prop} = .* is invalid: .*{limit}"):
        check_code_build_options(stack, "S/P", "o", options, NODE)


def test_vpc_subnets_security_groups_and_cache_are_refused():
    stack = pipeline_stack(deterministic_app(), "S")
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-0a1b2c3d4e5f60718", availability_zones=["eu-west-1a"], private_subnet_ids=["s-1"]
    )
    group = ec2.SecurityGroup.from_security_group_id(stack, "G", "sg-0123456789abcdef0")
    bucket = cdk.aws_s3.Bucket.from_bucket_name(stack, "B", "cache-bucket")
    for options, prop in (
        (pipelines.CodeBuildOptions(vpc=vpc), "vpc"),
        (
            pipelines.CodeBuildOptions(
                subnet_selection=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
            ),
            "subnet_selection",
        ),
        (pipelines.CodeBuildOptions(security_groups=[group]), "security_groups"),
        (pipelines.CodeBuildOptions(cache=codebuild.Cache.bucket(bucket)), "cache"),
    ):
        with pytest.raises(ValueError, match=rf"^S/P: o\.{prop} = .* is invalid: Lambda compute does not support"):
            check_code_build_options(stack, "S/P", "o", options, NODE)


# ---------------------------------------------------------------- SecurePipeline: only the synth step moves


def test_only_the_synth_project_runs_on_lambda_compute():
    stack, _ = _secure(lambda_compute=LambdaCompute(memory=2, image="nodejs22"))
    environments = _environments(Template.from_stack(stack))
    (synth,) = _on_lambda(environments)
    assert "BuildSynth" in synth
    assert environments[synth] == {
        "ComputeType": "BUILD_LAMBDA_2GB",
        "Image": "aws/codebuild/amazonlinux-x86_64-lambda-standard:nodejs22",
        "PrivilegedMode": False,
        "Type": "LINUX_LAMBDA_CONTAINER",
    }
    others = {k: e for k, e in environments.items() if k != synth}
    assert others, "the pipeline has other CodeBuild projects (self-mutation)"
    for env in others.values():
        assert (env["Type"], env["ComputeType"]) == ("LINUX_CONTAINER", "BUILD_GENERAL1_SMALL")
        assert env["Image"] == "aws/codebuild/amazonlinux2-x86_64-standard:5.0"
    project = Template.from_stack(stack).find_resources("AWS::CodeBuild::Project")[synth]["Properties"]
    assert "TimeoutInMinutes" not in project
    assert "VpcConfig" not in project
    assert project["Cache"] == {"Type": "NO_CACHE"}


def test_off_by_default_nothing_runs_on_lambda_compute():
    stack, _ = _secure()
    assert _on_lambda(_environments(Template.from_stack(stack))) == set()


def test_arm64_synth():
    stack, _ = _secure(lambda_compute=LambdaCompute(image="nodejs22", architecture="arm64"))
    (env,) = [e for e in _environments(Template.from_stack(stack)).values() if "LAMBDA" in e["Type"]]
    assert env["Type"] == "ARM_LAMBDA_CONTAINER"
    assert env["Image"] == "aws/codebuild/amazonlinux-aarch64-lambda-standard:nodejs22"


def test_synth_defaults_the_caller_set_survive_the_merge():
    defaults = pipelines.CodeBuildOptions(
        build_environment=codebuild.BuildEnvironment(
            environment_variables={"STAGE": codebuild.BuildEnvironmentVariable(value="ci")}
        )
    )
    stack, _ = _secure(lambda_compute=NODE, synth_code_build_defaults=defaults)
    (env,) = [e for e in _environments(Template.from_stack(stack)).values() if "LAMBDA" in e["Type"]]
    assert {"Name": "STAGE", "Type": "PLAINTEXT", "Value": "ci"} in env["EnvironmentVariables"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"docker_enabled_for_synth": True},
            r"lambda_compute with docker_enabled_for_synth = True is invalid: .*Docker",
        ),
        (
            {"code_build_defaults": pipelines.CodeBuildOptions(timeout=cdk.Duration.minutes(30))},
            r"lambda_compute \(the synth step\): code_build_defaults\.timeout = .* is invalid: .*15 minutes",
        ),
        (
            {
                "step": pipelines.ShellStep(
                    "Synth", input=_source(), commands=["sudo yum install -y jq", "npx cdk synth"]
                )
            },
            r"lambda_compute \(the synth step\): synth\.commands\[0\] = 'sudo yum install -y jq' is invalid: "
            r"'sudo' needs root",
        ),
        (
            {"step": pipelines.ShellStep("Synth", input=_source(), install_commands=["docker pull x"], commands=["x"])},
            r"lambda_compute \(the synth step\): synth\.install_commands\[0\] = 'docker pull x' is invalid: "
            r"'docker' needs Docker",
        ),
        (
            {
                "step": pipelines.CodeBuildStep(
                    "Synth",
                    input=_source(),
                    commands=["npx cdk synth"],
                    build_environment=codebuild.BuildEnvironment(compute_type=codebuild.ComputeType.LARGE),
                )
            },
            r"lambda_compute \(the synth step\): synth\.build_environment\.compute_type = .* is invalid: "
            r"leave it unset",
        ),
        (
            {
                "step": pipelines.CodeBuildStep(
                    "Synth", input=_source(), commands=["npx cdk synth"], timeout=cdk.Duration.minutes(5)
                )
            },
            r"lambda_compute \(the synth step\): synth\.timeout = '5 minutes' is invalid: "
            r"Lambda compute does not support custom build timeouts",
        ),
        ({"lambda_compute": "nodejs22"}, r"lambda_compute = 'nodejs22' is invalid: expected a LambdaCompute"),
    ],
)
def test_secure_pipeline_refuses_a_synth_that_cannot_run_there_naming_the_prop(kwargs, message):
    kwargs.setdefault("lambda_compute", NODE)
    with pytest.raises(ValueError, match=rf"^S/P: {message}"):
        _secure(**kwargs)


def test_a_synth_step_the_library_cannot_read_is_refused():
    with pytest.raises(TypeError, match=r"lambda_compute \(the synth step\): synth = .* needs a pipelines.ShellStep"):
        _secure(step=_source(), lambda_compute=NODE)


def test_no_unacknowledged_findings_with_lambda_compute():
    app = deterministic_app()
    _secure(app, lambda_compute=NODE)
    assert [str(f) for f in unacknowledged_findings(app)] == []


def test_the_estimate_charges_the_synth_action_as_lambda_compute(tmp_path: Path):
    def build(**kwargs: Any) -> Any:
        app = deterministic_app(outdir=str(tmp_path / str(len(kwargs))))
        _secure(app, **kwargs)
        (pipeline,) = pipelines_at(Path(app.synth().directory))
        return estimate(pipeline)

    standard, fast = build(), build(lambda_compute=NODE)
    build_stage = {s.name: s for s in fast.stages}["Build"]
    assert [c.kind for c in build_stage.costs] == ["CodeBuild on Lambda compute"]
    assert build_stage.worst_case == SECONDS["CodeBuild on Lambda compute"] == 20
    assert {s.name: s for s in standard.stages}["Build"].worst_case == SECONDS["CodeBuild"]
    assert standard.worst_case - fast.worst_case == SECONDS["CodeBuild"] - SECONDS["CodeBuild on Lambda compute"]
    others = [c.kind for s in fast.stages if s.name != "Build" for c in s.costs]
    assert "CodeBuild on Lambda compute" not in others


# ---------------------------------------------------------------- a pipeline construct: pipeline_options


def test_lambda_compute_is_a_pipeline_option():
    assert "lambda_compute" in PIPELINE_OPTION_KEYS
    assert check_pipeline_options("S/M", {"lambda_compute": NODE}) == {"lambda_compute": NODE}
    with pytest.raises(TypeError, match=r"^S/M: pipeline_options\['lambda_compute'\] = 4 is invalid"):
        check_pipeline_options("S/M", {"lambda_compute": 4})


def test_the_construct_default_synth_is_refused_it_needs_python_and_node():
    with pytest.raises(
        ValueError,
        match=re.escape("S/M: pipeline_options['lambda_compute'] (the synth step): synth.commands[0] = 'pip install")
        + r".* 'pip' needs Python; the curated Lambda image 'nodejs22' holds Node.js only",
    ):
        construct(pipeline_options={"lambda_compute": NODE})


def test_a_construct_synth_of_one_runtime_moves_and_its_vpc_steps_stay():
    pipeline = construct(synth_commands=NODE_COMMANDS, pipeline_options={"lambda_compute": NODE})
    template = Template.from_stack(cdk.Stack.of(pipeline))
    environments = _environments(template)
    (synth,) = _on_lambda(environments)
    assert "BuildSynth" in synth
    projects = template.find_resources("AWS::CodeBuild::Project")
    in_vpc = [k for k, v in projects.items() if "VpcConfig" in v["Properties"]]
    assert in_vpc
    assert synth not in in_vpc
    assert all(environments[k]["Type"] == "LINUX_CONTAINER" for k in in_vpc)
