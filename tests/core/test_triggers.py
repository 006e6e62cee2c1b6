"""Git triggers: the value objects' limits, the pipeline's Triggers property, and every way a trigger can't apply."""

from __future__ import annotations

import re
import string

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_ssm as ssm
from aws_cdk import pipelines
from aws_cdk.assertions import Annotations, Match, Template
from helpers import PIPELINE_ENV, pipeline_props, pipeline_stack
from hypothesis import given
from hypothesis import strategies as st

from pipeline_constructs import DeploymentTarget, SecurePipeline
from pipeline_constructs.core.options import check_pipeline_options
from pipeline_constructs.core.triggers import (
    MAX_FILTERS,
    MAX_PATTERN_LENGTH,
    MAX_PATTERNS,
    PULL_REQUEST_EVENTS,
    GitPullRequestFilter,
    GitPushFilter,
    GitTrigger,
    apply_triggers,
    validate_triggers,
)
from pipeline_constructs.testing import deterministic_app

CONNECTION = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"
MAIN_SERVICE = GitPushFilter(branches=("main",), file_paths=("services/orders/**", "shared/**"))

# Printable patterns of CodePipeline's length limits (no control characters: a pattern is one line).
pattern = st.text(alphabet=string.ascii_letters + string.digits + "*?/._-{}[]!, ", min_size=1, max_size=40)
patterns = st.lists(pattern, min_size=1, max_size=MAX_PATTERNS).map(tuple)
PUSH_LISTS = ("branches", "branches_excluded", "file_paths", "file_paths_excluded", "tags", "tags_excluded")


def _connection(repo: str = "o/r") -> pipelines.CodePipelineSource:
    return pipelines.CodePipelineSource.connection(repo, "main", connection_arn=CONNECTION)


def _secure(source=None, app=None, build=True, **kwargs) -> tuple[cdk.Stack, SecurePipeline]:
    app = app or deterministic_app()
    stack = pipeline_stack(app, "S")
    synth = pipelines.ShellStep("Synth", input=source or _connection(), commands=["npx cdk synth"])
    secure = SecurePipeline(stack, "P", synth=synth, **kwargs)
    stage = cdk.Stage(app, "Dev", env=PIPELINE_ENV)
    ssm.StringParameter(cdk.Stack(stage, "Svc"), "Version", string_value="1")
    secure.pipeline.add_stage(stage)
    return stack, secure


def _triggers(stack: cdk.Stack) -> list[dict]:
    return pipeline_props(Template.from_stack(stack))["Triggers"]


# -- GitPushFilter ------------------------------------------------------------------------------------


@given(branches=patterns, excluded=patterns, paths=patterns, paths_excluded=patterns)
def test_branch_filters_within_the_limits_are_kept_as_tuples(branches, excluded, paths, paths_excluded):
    f = GitPushFilter(
        branches=list(branches), branches_excluded=excluded, file_paths=list(paths), file_paths_excluded=paths_excluded
    )
    assert (f.branches, f.branches_excluded, f.file_paths, f.file_paths_excluded) == (
        branches,
        excluded,
        paths,
        paths_excluded,
    )


@given(tags=patterns, excluded=patterns)
def test_tag_filters_within_the_limits_pass(tags, excluded):
    assert GitPushFilter(tags=tags, tags_excluded=excluded).tags == tags


@pytest.mark.parametrize("prop", PUSH_LISTS)
@given(extra=st.lists(pattern, min_size=MAX_PATTERNS + 1, max_size=MAX_PATTERNS + 5))
def test_more_than_eight_patterns_in_any_list_is_an_error_naming_it(prop, extra):
    base = {"tags": ("v*",)} if prop.startswith("tags") else {"branches": ("main",)}
    with pytest.raises(ValueError, match=rf"^GitPushFilter: {prop} = .*expected at most {MAX_PATTERNS} items"):
        GitPushFilter(**{**base, prop: tuple(extra)})


@given(
    bad=st.one_of(
        st.just(""),
        st.text(min_size=MAX_PATTERN_LENGTH + 1, max_size=MAX_PATTERN_LENGTH + 20),
        st.text(min_size=1, max_size=10).map(lambda s: s + "\n"),
    )
)
def test_an_empty_overlong_or_multiline_pattern_is_an_error(bad):
    with pytest.raises(ValueError, match=r"^GitPushFilter: branches\[0\] = .* is invalid: expected a glob pattern"):
        GitPushFilter(branches=(bad,))


@pytest.mark.parametrize("prop", PUSH_LISTS)
@given(text=pattern)
def test_a_bare_string_is_never_a_list_of_patterns(prop, text):
    with pytest.raises(TypeError, match=rf"^GitPushFilter: {prop} = .*not a single string"):
        GitPushFilter(**{prop: text})


@pytest.mark.parametrize("branch_prop", ["branches", "branches_excluded"])
@pytest.mark.parametrize("tag_prop", ["tags", "tags_excluded"])
def test_tags_and_branches_in_one_push_filter_is_an_error(branch_prop, tag_prop):
    with pytest.raises(ValueError, match=r"^GitPushFilter: tags = .* tags or branches \(\+ file paths\), not both"):
        GitPushFilter(**{branch_prop: ("main",), tag_prop: ("v*",)})


@pytest.mark.parametrize("path_prop", ["file_paths", "file_paths_excluded"])
@pytest.mark.parametrize("other", [{}, {"tags": ("v*",)}])
def test_file_paths_need_branches(path_prop, other):
    with pytest.raises(ValueError, match=rf"^GitPushFilter: {path_prop} = .* give branches too"):
        GitPushFilter(**other, **{path_prop: ("src/**",)})


def test_a_push_filter_without_branches_or_tags_is_an_error():
    with pytest.raises(ValueError, match=r"^GitPushFilter: branches = \(\) is invalid: expected branches or tags"):
        GitPushFilter()


# -- GitPullRequestFilter -------------------------------------------------------------------------------


@given(events=st.lists(st.sampled_from(PULL_REQUEST_EVENTS), min_size=1, max_size=3, unique=True), branches=patterns)
def test_pull_request_filters_take_any_set_of_the_three_events(events, branches):
    f = GitPullRequestFilter(events=events, branches=branches)
    assert f.events == tuple(events)
    assert f.branches == branches


def test_pull_request_events_default_to_open_and_updated():
    assert GitPullRequestFilter(branches=("main",)).events == ("OPEN", "UPDATED")


@given(event=st.text(max_size=12).filter(lambda e: e not in PULL_REQUEST_EVENTS))
def test_an_unknown_pull_request_event_is_an_error(event):
    with pytest.raises(ValueError, match=r"^GitPullRequestFilter: events\[0\] = .* expected one of 'OPEN', 'UPDATED'"):
        GitPullRequestFilter(events=(event,), branches=("main",))


@pytest.mark.parametrize(
    ("events", "error", "message"),
    [
        ((), ValueError, "with at least one item"),
        (("OPEN", "OPEN"), ValueError, r"each event at most once \(OPEN repeated\)"),
        ("OPEN", TypeError, "not a single string"),
    ],
)
def test_pull_request_events_are_a_non_empty_set(events, error, message):
    with pytest.raises(error, match=rf"^GitPullRequestFilter: events = .*{message}"):
        GitPullRequestFilter(events=events, branches=("main",))


def test_a_pull_request_filter_needs_branches():
    with pytest.raises(ValueError, match=r"^GitPullRequestFilter: branches = \(\) is invalid: .* needs the target"):
        GitPullRequestFilter(file_paths=("src/**",))
    assert GitPullRequestFilter(branches_excluded=("wip/*",)).branches_excluded == ("wip/*",)


@pytest.mark.parametrize("prop", ["branches", "branches_excluded", "file_paths", "file_paths_excluded"])
def test_pull_request_pattern_lists_have_the_same_limits(prop):
    nine = tuple(f"p{i}" for i in range(MAX_PATTERNS + 1))
    with pytest.raises(ValueError, match=rf"^GitPullRequestFilter: {prop} = .*at most {MAX_PATTERNS} items"):
        GitPullRequestFilter(**{"branches": ("main",), prop: nine})


# -- GitTrigger -------------------------------------------------------------------------------------------


@given(push=st.integers(0, MAX_FILTERS), pulls=st.integers(0, MAX_FILTERS))
def test_up_to_three_filters_of_each_kind(push, pulls):
    if push == pulls == 0:
        with pytest.raises(ValueError, match=r"^GitTrigger: push = \(\) is invalid: give push and/or pull_request"):
            GitTrigger()
        return
    t = GitTrigger(push=[MAIN_SERVICE] * push, pull_request=[GitPullRequestFilter(branches=("main",))] * pulls)
    assert (len(t.push), len(t.pull_request)) == (push, pulls)
    assert isinstance(t.push, tuple)


@pytest.mark.parametrize(
    ("prop", "item"), [("push", MAIN_SERVICE), ("pull_request", GitPullRequestFilter(branches=("main",)))]
)
def test_four_filters_of_a_kind_is_an_error(prop, item):
    with pytest.raises(ValueError, match=rf"^GitTrigger: {prop} = '<4 items>' is invalid: expected at most 3 items"):
        GitTrigger(**{prop: (item,) * 4})


@pytest.mark.parametrize(
    ("prop", "item", "kind"),
    [
        ("push", GitPullRequestFilter(branches=("main",)), "GitPushFilter"),
        ("pull_request", MAIN_SERVICE, "GitPullRequestFilter"),
        ("push", {"branches": ["main"]}, "GitPushFilter"),
    ],
)
def test_a_filter_of_the_wrong_kind_is_a_type_error(prop, item, kind):
    with pytest.raises(TypeError, match=rf"^GitTrigger: {prop}\[0\] = .* expected a {kind}"):
        GitTrigger(**{prop: (item,)})


@given(name=st.text(min_size=1, max_size=30).filter(lambda n: re.fullmatch(r"[A-Za-z0-9.@_-]+", n) is None))
def test_a_source_action_name_outside_codepipelines_pattern_is_an_error(name):
    with pytest.raises(ValueError, match=r"^GitTrigger: source_action_name = .* expected an action name"):
        GitTrigger(push=(MAIN_SERVICE,), source_action_name=name)


def test_one_trigger_per_source_action():
    first = GitTrigger(push=(MAIN_SERVICE,))
    named = GitTrigger(push=(MAIN_SERVICE,), source_action_name="o_r")
    assert validate_triggers("App/P", "triggers", [first, named]) == (first, named)
    with pytest.raises(ValueError, match=r"^App/P: triggers\[1\].source_action_name = None .* triggers\[0\] is"):
        validate_triggers("App/P", "triggers", [first, first])
    with pytest.raises(ValueError, match=r"triggers\[2\].source_action_name = 'o_r' .* for source action 'o_r'"):
        validate_triggers("App/P", "triggers", [first, named, named])
    with pytest.raises(TypeError, match=r"^App/P: triggers = .* not a single string"):
        validate_triggers("App/P", "triggers", "main")


# -- the template ---------------------------------------------------------------------------------------


def test_push_with_branches_and_file_paths_is_the_pipelines_trigger():
    stack, _ = _secure(triggers=[GitTrigger(push=(MAIN_SERVICE,))])
    assert _triggers(stack) == [
        {
            "ProviderType": "CodeStarSourceConnection",
            "GitConfiguration": {
                "SourceActionName": "o_r",
                "Push": [
                    {
                        "Branches": {"Includes": ["main"]},
                        "FilePaths": {"Includes": ["services/orders/**", "shared/**"]},
                    }
                ],
            },
        }
    ]
    assert pipeline_props(Template.from_stack(stack))["PipelineType"] == "V2"


def test_tags_and_excludes_render_as_cloudformation_filters():
    tags = GitPushFilter(tags=("v*",), tags_excluded=("v*-rc*",))
    branches = GitPushFilter(
        branches=("release/*",), branches_excluded=("release/old",), file_paths_excluded=("docs/**",)
    )
    stack, _ = _secure(triggers=[GitTrigger(push=(tags, branches))])
    (trigger,) = _triggers(stack)
    assert trigger["GitConfiguration"]["Push"] == [
        {"Tags": {"Includes": ["v*"], "Excludes": ["v*-rc*"]}},
        {
            "Branches": {"Includes": ["release/*"], "Excludes": ["release/old"]},
            "FilePaths": {"Excludes": ["docs/**"]},
        },
    ]


def test_pull_request_filters_and_push_filters_share_one_trigger_and_warn():
    pulls = GitPullRequestFilter(events=("OPEN", "CLOSED"), branches=("main",), file_paths=("services/orders/**",))
    stack, _ = _secure(triggers=[GitTrigger(push=(MAIN_SERVICE,), pull_request=(pulls,))])
    (trigger,) = _triggers(stack)
    assert trigger["GitConfiguration"]["PullRequest"] == [
        {
            "Events": ["OPEN", "CLOSED"],
            "Branches": {"Includes": ["main"]},
            "FilePaths": {"Includes": ["services/orders/**"]},
        }
    ]
    assert len(trigger["GitConfiguration"]["Push"]) == 1
    Annotations.from_stack(stack).has_warning("/S/P/Pipeline", Match.string_like_regexp("un-reviewed source branch"))


def test_a_push_only_trigger_does_not_warn():
    stack, _ = _secure(triggers=[GitTrigger(push=(MAIN_SERVICE,))])
    Annotations.from_stack(stack).has_no_warning("*", Match.string_like_regexp("pull requests"))


def test_source_action_name_picks_one_of_several_connection_sources():
    app = deterministic_app()
    stack = pipeline_stack(app, "S")
    synth = pipelines.ShellStep(
        "Synth",
        input=_connection("o/app"),
        additional_inputs={"shared": _connection("o/shared")},
        commands=["npx cdk synth"],
    )
    triggers = [
        GitTrigger(push=(MAIN_SERVICE,), source_action_name="o_app"),
        GitTrigger(push=(GitPushFilter(branches=("main",)),), source_action_name="o_shared"),
    ]
    SecurePipeline(stack, "P", synth=synth, triggers=triggers)
    names = [t["GitConfiguration"]["SourceActionName"] for t in _triggers(stack)]
    assert names == ["o_app", "o_shared"]


def test_without_a_name_several_connection_sources_are_an_error_listing_them():
    app = deterministic_app()
    stack = pipeline_stack(app, "S")
    synth = pipelines.ShellStep(
        "Synth", input=_connection("o/app"), additional_inputs={"s": _connection("o/s")}, commands=["x"]
    )
    SecurePipeline(stack, "P", synth=synth, triggers=[GitTrigger(push=(MAIN_SERVICE,))])
    with pytest.raises(RuntimeError, match=r"S/P: triggers\[0\] = .* several connection source actions: .*o_app"):
        Template.from_stack(stack)


# -- errors ---------------------------------------------------------------------------------------------


def test_a_github_source_is_an_error_at_construct_time():
    with pytest.raises(ValueError, match=r"^S/P: triggers = .*CodePipelineSource\.connection.*GitHubSource\(o/r\)"):
        _secure(source=pipelines.CodePipelineSource.git_hub("o/r", "main"), triggers=[GitTrigger(push=(MAIN_SERVICE,))])


def test_a_source_action_name_matching_nothing_is_an_error_listing_the_source_actions():
    stack, _ = _secure(triggers=[GitTrigger(push=(MAIN_SERVICE,), source_action_name="Nope")])
    with pytest.raises(
        RuntimeError,
        match=r"S/P: triggers\[0\].source_action_name = 'Nope' is invalid: expected the name of a source action of "
        r"the pipeline: o_r \(CodeStarSourceConnection\)",
    ):
        Template.from_stack(stack)


def test_a_source_action_name_of_a_non_connection_source_is_an_error():
    app = deterministic_app()
    stack = pipeline_stack(app, "S")
    synth = pipelines.ShellStep(
        "Synth",
        input=_connection(),
        additional_inputs={"gh": pipelines.CodePipelineSource.git_hub("o/gh", "main")},
        commands=["x"],
    )
    SecurePipeline(stack, "P", synth=synth, triggers=[GitTrigger(push=(MAIN_SERVICE,), source_action_name="o_gh")])
    with pytest.raises(RuntimeError, match=r"source_action_name = 'o_gh' .*\(this action's provider is GitHub\)"):
        Template.from_stack(stack)


def test_a_v1_pipeline_is_an_error_at_construct_time():
    with pytest.raises(ValueError, match=r"^S/P: triggers = .* need a V2 pipeline; pipeline_props sets pipeline_type"):
        _secure(
            triggers=[GitTrigger(push=(MAIN_SERVICE,))],
            pipeline_props={"pipeline_type": codepipeline.PipelineType.V1},
        )


def test_applied_to_a_built_v1_pipeline_is_an_error():
    app = deterministic_app()
    stack = pipeline_stack(app, "Team")
    pipeline = pipelines.CodePipeline(
        stack,
        "Pipeline",
        pipeline_type=codepipeline.PipelineType.V1,
        synth=pipelines.ShellStep("Synth", input=_connection(), commands=["x"]),
    )
    pipeline.build_pipeline()
    with pytest.raises(ValueError, match=r"^Team/Pipeline: triggers = .* need a V2 pipeline \(PipelineType is V1"):
        apply_triggers(pipeline, [GitTrigger(push=(MAIN_SERVICE,))])


def test_applied_to_a_team_pipeline_it_names_the_action_and_writes_the_trigger():
    app = deterministic_app()
    stack = pipeline_stack(app, "Team")
    pipeline = pipelines.CodePipeline(
        stack,
        "Pipeline",
        pipeline_type=codepipeline.PipelineType.V2,
        synth=pipelines.ShellStep("Synth", input=_connection("team/repo"), commands=["x"]),
    )
    pipeline.build_pipeline()
    apply_triggers(pipeline, [GitTrigger(push=(GitPushFilter(tags=("v*",)),))])
    (trigger,) = _triggers(stack)
    assert trigger["GitConfiguration"] == {"SourceActionName": "team_repo", "Push": [{"Tags": {"Includes": ["v*"]}}]}


def test_the_triggers_option_is_checked_where_the_construct_props_are():
    with pytest.raises(TypeError, match=r"^App/P: pipeline_options\['triggers'\] = .* expected a list of GitTrigger"):
        check_pipeline_options("App/P", {"triggers": GitTrigger(push=(MAIN_SERVICE,))})
    with pytest.raises(TypeError, match=r"^App/P: pipeline_options\['triggers'\]\[0\] = .* expected a GitTrigger"):
        check_pipeline_options("App/P", {"triggers": [MAIN_SERVICE]})
    checked = check_pipeline_options("App/P", {"triggers": [GitTrigger(push=(MAIN_SERVICE,))]})
    assert checked["triggers"] == (GitTrigger(push=(MAIN_SERVICE,)),)


# -- through a construct's pipeline_options -----------------------------------------------------------------


def _dotnet(source, **options):
    from conftest import load_example

    from pipeline_constructs.dotnet_lambda import DotnetLambdaPipeline

    example = load_example("dotnet_lambda")
    stack = pipeline_stack(deterministic_app(), "S")
    DotnetLambdaPipeline(
        stack,
        "Delivery",
        source=source,
        project_dir=example.HERE / "src" / "HelloWorld",
        handler="HelloWorld::HelloWorld.Function::FunctionHandler",
        targets=[DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1")],
        pipeline_options=options,
    )
    return stack


def test_a_construct_takes_triggers_through_pipeline_options():
    stack = _dotnet(_connection("example-org/dotnet-lambda"), triggers=[GitTrigger(push=(MAIN_SERVICE,))])
    (trigger,) = _triggers(stack)
    assert trigger["GitConfiguration"]["SourceActionName"] == "example-org_dotnet-lambda"
    assert trigger["GitConfiguration"]["Push"][0]["FilePaths"] == {"Includes": ["services/orders/**", "shared/**"]}


def test_a_constructs_errors_name_its_pipeline_options():
    with pytest.raises(ValueError, match=r"^S/Delivery: pipeline_options\['triggers'\] = .* GitHubSource"):
        _dotnet(pipelines.CodePipelineSource.git_hub("o/r", "main"), triggers=[GitTrigger(push=(MAIN_SERVICE,))])
    stack = _dotnet(_connection(), triggers=[GitTrigger(push=(MAIN_SERVICE,), source_action_name="x")])
    with pytest.raises(RuntimeError, match=r"S/Delivery: pipeline_options\['triggers'\]\[0\].source_action_name = 'x'"):
        Template.from_stack(stack)
