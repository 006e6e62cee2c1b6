"""The shared props contract (core/options.py): pipeline options, the synth step, CodeBuild option merging.

merge_code_build_options merges field by field, as aws-cdk's mergeCodeBuildOptions does.
"""

from __future__ import annotations

import inspect
import re

import aws_cdk as cdk
import pytest
from aws_cdk import assertions, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from hypothesis import given
from hypothesis import strategies as st

from pipeline_constructs.core.options import (
    ALWAYS_RESERVED,
    CDK_CLI_VERSION,
    PIPELINE_OPTION_KEYS,
    check_pipeline_options,
    default_synth_commands,
    merge_build_environments,
    merge_code_build_options,
    synth_step,
)
from pipeline_constructs.core.pipeline import DEFAULT_BUILD_IMAGE, SecurePipeline

LIBRARY = pipelines.CodeBuildOptions(
    build_environment=codebuild.BuildEnvironment(
        build_image=DEFAULT_BUILD_IMAGE,
        compute_type=codebuild.ComputeType.MEDIUM,
        environment_variables={"A": codebuild.BuildEnvironmentVariable(value="library")},
    ),
    role_policy=[iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::b/*"])],
    timeout=cdk.Duration.minutes(30),
)


def test_partial_build_environment_keeps_image_and_compute():
    override = pipelines.CodeBuildOptions(build_environment=codebuild.BuildEnvironment(privileged=True))
    merged = merge_code_build_options(LIBRARY, override)
    env = merged.build_environment
    assert env is not None
    assert env.privileged is True
    assert env.build_image is DEFAULT_BUILD_IMAGE
    assert env.compute_type == codebuild.ComputeType.MEDIUM
    assert merged.timeout is LIBRARY.timeout


def test_what_the_override_sets_wins_and_variables_merge_by_name():
    override = pipelines.CodeBuildOptions(
        build_environment=codebuild.BuildEnvironment(
            compute_type=codebuild.ComputeType.LARGE,
            environment_variables={
                "A": codebuild.BuildEnvironmentVariable(value="team"),
                "B": codebuild.BuildEnvironmentVariable(value="team"),
            },
        ),
        timeout=cdk.Duration.minutes(10),
    )
    merged = merge_code_build_options(LIBRARY, override)
    env = merged.build_environment
    assert env is not None
    assert env.compute_type == codebuild.ComputeType.LARGE
    assert sorted(env.environment_variables or {}) == ["A", "B"]
    assert (env.environment_variables or {})["A"].value == "team"
    assert merged.timeout is override.timeout


def test_policies_are_concatenated_never_replaced():
    extra = iam.PolicyStatement(actions=["ssm:GetParameter"], resources=["arn:aws:ssm:eu-west-1:1:parameter/x"])
    merged = merge_code_build_options(LIBRARY, pipelines.CodeBuildOptions(role_policy=[extra]))
    assert merged.role_policy is not None
    assert len(merged.role_policy) == 2
    assert merged.role_policy[1] is extra


def test_no_override_and_missing_environments():
    assert merge_code_build_options(LIBRARY, None) is LIBRARY
    env = codebuild.BuildEnvironment(privileged=True)
    assert merge_build_environments(None, env) is env
    assert merge_build_environments(env, None) is env
    assert merge_build_environments(None, None) is None


def test_team_compute_and_library_image_survive_a_partial_override_in_the_template():
    app = cdk.App(context={"pipeline-constructs:computeType": "MEDIUM", "aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "P", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    source = pipelines.CodePipelineSource.connection(
        "org/repo", "main", connection_arn="arn:aws:codeconnections:eu-west-1:111111111111:connection/x"
    )
    SecurePipeline(
        stack,
        "Delivery",
        synth=pipelines.ShellStep("Synth", input=source, commands=["npx cdk synth"]),
        code_build_defaults=pipelines.CodeBuildOptions(build_environment=codebuild.BuildEnvironment(privileged=True)),
    )
    projects = assertions.Template.from_stack(stack).find_resources("AWS::CodeBuild::Project")
    synth = [p for p in projects.values() if "Synth" in str(p["Properties"].get("Description", ""))]
    assert synth, "the synth project"
    env = synth[0]["Properties"]["Environment"]
    assert env["ComputeType"] == "BUILD_GENERAL1_MEDIUM"
    assert env["Image"] == "aws/codebuild/amazonlinux2-x86_64-standard:5.0"
    assert env["PrivilegedMode"] is True


# -- check_pipeline_options ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(ALWAYS_RESERVED))
def test_a_key_every_construct_sets_names_the_prop_to_use(key):
    with pytest.raises(ValueError, match=rf"App/P: pipeline_options\['{key}'\] = 1 is invalid: use the {key} prop"):
        check_pipeline_options("App/P", {key: 1})


def test_a_key_the_construct_reserves_names_its_prop():
    reserved = {"removal_policy": "use the removal_policy prop"}
    with pytest.raises(ValueError, match=r"pipeline_options\['removal_policy'\] = .* use the removal_policy prop"):
        check_pipeline_options("App/P", {"removal_policy": cdk.RemovalPolicy.DESTROY}, reserved=reserved)
    assert check_pipeline_options("App/P", {"self_mutation": False}, reserved=reserved) == {"self_mutation": False}


@given(
    st.from_regex(r"[a-z][a-z_]{0,20}", fullmatch=True).filter(
        lambda k: k not in PIPELINE_OPTION_KEYS | set(ALWAYS_RESERVED)
    )
)
def test_an_unknown_key_lists_every_allowed_one(key):
    with pytest.raises(ValueError, match=re.escape(f"['{key}']")) as raised:
        check_pipeline_options("App/P", {key: True})
    assert str(raised.value).endswith("unknown option; expected one of " + ", ".join(sorted(PIPELINE_OPTION_KEYS)))


@pytest.mark.parametrize("value", [["cli_version"], "cli_version", 3, {1: True}])
def test_pipeline_options_must_be_a_mapping_of_names(value):
    with pytest.raises(TypeError, match="App/P: pipeline_options"):
        check_pipeline_options("App/P", value)


_WRONG_VALUES = {
    "cross_account_keys": "yes",
    "self_mutation": 1,
    "skip_unchanged_self_mutation": "yes",
    "docker_enabled_for_synth": "false",
    "log_retention": 30,
    "compute_type": "SMALL",
    "removal_policy": "RETAIN",
    "code_build_defaults": {"build_environment": {}},
    "synth_code_build_defaults": codebuild.BuildEnvironment(),
    "cli_version": "2",
    "cdk_assets_version": "latest",
    "triggers": "main",
    "notifications": ["team@example.com"],
    "lambda_compute": "nodejs22",
}


@pytest.mark.parametrize(("key", "value"), sorted(_WRONG_VALUES.items()))
def test_a_value_of_the_wrong_kind_is_named_as_a_pipeline_option(key, value):
    with pytest.raises((TypeError, ValueError), match=re.escape(f"App/P: pipeline_options[{key!r}] = ")):
        check_pipeline_options("App/P", {key: value})


def test_every_typed_option_has_a_wrong_value_case_here():
    assert set(_WRONG_VALUES) == set(PIPELINE_OPTION_KEYS) - {"pipeline_props"}


def test_values_of_the_right_kind_pass_unchanged():
    options = {
        "cross_account_keys": True,
        "compute_type": codebuild.ComputeType.MEDIUM,
        "removal_policy": cdk.RemovalPolicy.DESTROY,
        "cli_version": "2.1148.1",
    }
    assert check_pipeline_options("App/P", options) == options


def test_no_pipeline_options_is_an_empty_mapping():
    assert check_pipeline_options("App/P", None) == {}


def test_the_option_keys_are_secure_pipelines_keyword_parameters_but_the_construct_props():
    parameters = set(inspect.signature(SecurePipeline.__init__).parameters)
    assert parameters - {"self", "scope", "id", "synth", "pipeline_name", "targets"} == PIPELINE_OPTION_KEYS


# -- synth_step ---------------------------------------------------------------------------------------

SOURCE = pipelines.CodePipelineSource.git_hub("o/r", "main")
_SHELL_METACHARACTERS = ";|&$`<>*?'\"\\\n()[]{}!"


def _synth(**props):
    values = {"source": SOURCE, "synth": None, "synth_commands": None, "app_dir": None, **props}
    return synth_step("App/P", cli_version="2.1000.0", **values)


def test_default_synth_installs_the_pinned_cli_and_synthesizes_at_the_root():
    step = _synth()
    assert isinstance(step, pipelines.CodeBuildStep)
    assert step.commands == default_synth_commands("2.1000.0")
    assert step.commands[-1] == "npx -y aws-cdk@2.1000.0 synth"
    assert _output_directory(step) == "cdk.out"
    assert f"aws-cdk@{CDK_CLI_VERSION} " in default_synth_commands(CDK_CLI_VERSION)[-1]


segment = st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9_ -]{0,10}[A-Za-z0-9_-]|[A-Za-z0-9_-]", fullmatch=True)


@given(st.lists(segment, min_size=1, max_size=4))
def test_app_dir_is_entered_quoted_and_holds_the_output(segments):
    app_dir = "/".join(segments)
    step = _synth(app_dir=app_dir, synth_commands=["make synth"])
    assert step.commands == [f"cd {_quoted(app_dir)}", "make synth"]
    assert _output_directory(step) == f"{app_dir}/cdk.out"


def _output_directory(step):
    """The directory of the step's primary output (what CDK Pipelines uploads as the cloud assembly)."""
    (location,) = step.outputs  # a synth step has one output: its primary one
    return location.directory


def _quoted(path):
    import shlex

    return shlex.quote(path)


def test_commands_before_run_at_the_root_before_cd():
    step = synth_step(
        "App/P",
        source=SOURCE,
        synth=None,
        synth_commands=None,
        app_dir="infra",
        cli_version="2.1000.0",
        commands_before=["pytest"],
    )
    assert step.commands[:2] == ["pytest", "cd infra"]


@pytest.mark.parametrize("prop", ["synth_commands", "app_dir"])
def test_synth_together_with_the_default_steps_props_is_a_named_error(prop):
    own = pipelines.ShellStep("Mine", input=SOURCE, commands=["x"])
    value = ["x"] if prop == "synth_commands" else "infra"
    with pytest.raises(ValueError, match=rf"App/P: {prop} = .* give either synth .* or synth_commands/app_dir"):
        _synth(synth=own, **{prop: value})
    assert _synth(synth=own) is own


@given(
    st.one_of(
        st.sampled_from(["..", "../x", "a/../b", "/abs", "", "a//b/..", " lead", "trail "]),
        st.builds(
            lambda a, c, b: a + c + b,
            st.text("ab", max_size=3),
            st.sampled_from(_SHELL_METACHARACTERS),
            st.text("cd", max_size=3),
        ),
    )
)
def test_an_app_dir_outside_the_repository_or_with_shell_characters_is_rejected(app_dir):
    with pytest.raises(ValueError, match=r"App/P: app_dir = "):
        _synth(app_dir=app_dir)


@pytest.mark.parametrize(
    ("commands", "error"),
    [("cdk synth", TypeError), ([], ValueError), ([""], ValueError), (["   "], ValueError), ([3], TypeError)],
)
def test_bad_synth_commands_are_rejected_with_the_prop(commands, error):
    with pytest.raises(error, match=r"App/P: synth_commands"):
        _synth(synth_commands=commands)


@pytest.mark.parametrize("prop", ["source", "synth"])
def test_source_and_synth_must_produce_file_sets(prop):
    with pytest.raises(TypeError, match=rf"App/P: {prop} = 'o/r' is invalid: expected a pipelines.IFileSetProducer"):
        _synth(**{prop: "o/r"})
