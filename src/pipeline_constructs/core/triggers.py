"""Git triggers of a V2 pipeline: push and pull-request filters on branches, tags and file paths.

A :class:`GitTrigger` becomes one entry of the pipeline's ``Triggers`` (``ProviderType``
``CodeStarSourceConnection``, ``GitConfiguration`` with ``SourceActionName``, ``Push`` and
``PullRequest``), set on the pipeline CDK Pipelines built, right after the build
(:func:`apply_triggers`, through the built ``codepipeline.Pipeline``'s ``add_trigger``). Pass them as
``pipeline_options={"triggers": [...]}`` to any pipeline construct, or ``triggers=`` to
:class:`~pipeline_constructs.core.pipeline.SecurePipeline`::

    GitTrigger(push=(GitPushFilter(branches=("main",), file_paths=("services/orders/**", "shared/**")),))

Limits, checked when the value objects are made (CodePipeline API reference ``GitConfiguration``,
``GitPushFilter``, ``GitPullRequestFilter``, ``GitBranchFilterCriteria``, ``GitFilePathFilterCriteria``,
``GitTagFilterCriteria``; the same as aws-cdk's ``aws_codepipeline`` trigger validation):

* at most 3 push and 3 pull-request filters per trigger, at least one filter;
* at most 8 glob patterns per include or exclude list, each 1-255 characters; excludes win over includes;
* a push filter matches tags *or* branches (optionally narrowed by file paths), never both: CodePipeline's
  valid push combinations are "tags", "branches" and "branches + file paths";
* a pull-request filter needs branches (the pull request's target branch); its events are ``OPEN``,
  ``UPDATED`` and ``CLOSED`` (CodePipeline: "opened, updated, or closed (merged)"; other events are ignored);
* one trigger per source action, and only for a CodeStar Connections source
  (``pipelines.CodePipelineSource.connection``: GitHub, GitLab, Bitbucket through a connection), in a V2
  pipeline. The library checks these at construct time where it can see the source (the synth step's
  inputs) and again on the built pipeline; an error names the ``triggers`` option.

What starts the pipeline, and change detection
----------------------------------------------
Without triggers, CDK Pipelines' connection source has ``DetectChanges`` on (its ``trigger_on_push``,
default ``True``): every push to the source's branch starts the pipeline.

With a trigger on the source action, only the events its filters match start the pipeline: "When a
trigger configuration is specified, default change detection for repository and branch commits is
disabled" (CloudFormation ``AWS::CodePipeline::Pipeline PipelineTriggerDeclaration``). ``trigger_on_push``
then no longer decides anything for pushes: with ``False`` the trigger still starts the pipeline (the
CodePipeline console itself sets ``DetectChanges`` to false when it adds a filtered trigger, "Automate
starting pipelines using triggers and filtering"), with ``True`` the trigger's filters still win. The
library leaves the action configuration CDK Pipelines generated as it is.

* A push filter with ``file_paths`` starts the pipeline only when the push changes a matching file. A push
  that changes only other files does **not** run the pipeline at all: no build, no self-mutation, no
  deployment. That includes changes to the CDK app, to shared code and to the pipeline's own definition
  (its construct code, ``cdk.json``, ``requirements.txt`` with this library's version, a lock file) when
  they live outside the listed folders: include those paths too (for a monorepo service:
  ``("services/orders/**", "shared/**", "infra/app.py", "requirements*.txt", "cdk.json")``). Such a change
  is not lost, only late: the next execution builds the whole commit it was started for, so it
  deploys every change made since, the unlisted ones included.
* Tag pushes cannot be narrowed by file path (tags alone is its own combination).
* An execution runs the commit of the event: for a push, the commit pushed to the (matching) branch, which
  need not be the source action's ``BranchName``; a manual start ("Release change") uses ``BranchName``.
  A filter that includes other branches than the source's therefore deploys those branches' code.
* A pull-request execution runs the pull request's *source* branch. In a self-mutating CDK Pipelines
  pipeline that means the un-reviewed branch's pipeline definition is deployed (self-mutation) and its
  application is deployed to every target: use pull-request triggers only on a pipeline built for pull
  requests (no production targets). The library warns (a CDK annotation) when a pipeline gets one.
* Creating the pipeline starts one execution, as without triggers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import pipelines

from pipeline_constructs.core.validation import (
    invalid,
    require_instance,
    require_one_of,
    require_sequence,
    require_str,
)

__all__ = [
    "CONNECTION_PROVIDER",
    "MAX_FILTERS",
    "MAX_PATTERNS",
    "MAX_PATTERN_LENGTH",
    "PULL_REQUEST_EVENTS",
    "GitPullRequestFilter",
    "GitPushFilter",
    "GitTrigger",
    "apply_triggers",
    "check_trigger_sources",
    "validate_triggers",
]

#: At most this many push (and this many pull-request) filters per trigger (``GitConfiguration``).
MAX_FILTERS = 3
#: At most this many glob patterns per include or exclude list (``Git*FilterCriteria``).
MAX_PATTERNS = 8
#: At most this many characters per glob pattern.
MAX_PATTERN_LENGTH = 255
#: The pull-request events a filter can match (``GitPullRequestFilter.events``).
PULL_REQUEST_EVENTS = ("OPEN", "UPDATED", "CLOSED")
#: The only source action provider triggers are for.
CONNECTION_PROVIDER = "CodeStarSourceConnection"

_ACTION_NAME = re.compile(r"[A-Za-z0-9.@_-]{1,100}")
# How CDK Pipelines' sources that are certainly not connections name themselves (``Step.toString()``; the
# connection source is ``CodeStarConnectionSource(owner/repo)``). Any other source is checked on the built
# pipeline instead.
_OTHER_SOURCES = ("GitHubSource(", "CodeCommitSource(", "S3Source(", "ECRSource(")
_CONNECTION_HINT = (
    "triggers need a CodeStar Connections source action: use "
    "pipelines.CodePipelineSource.connection('owner/repo', 'main', connection_arn=...)"
)


def _patterns(where: str, prop: str, value: Any) -> tuple[str, ...]:
    def pattern(w: str, p: str, v: Any) -> str:
        return require_str(w, p, v, max_length=MAX_PATTERN_LENGTH, allowed="expected a glob pattern")

    return require_sequence(
        where, prop, value, item=pattern, allowed="expected a tuple of glob patterns", max_length=MAX_PATTERNS
    )


def _instance_of(kind: type) -> Callable[[str, str, Any], Any]:
    return lambda w, p, v: require_instance(w, p, v, kind, f"expected a {kind.__name__}")


def _check_patterns(obj: object, where: str, names: Sequence[str]) -> None:
    for name in names:
        object.__setattr__(obj, name, _patterns(where, name, getattr(obj, name)))


@dataclass(frozen=True)
class GitPushFilter:
    """Which pushes start the pipeline (CodePipeline ``GitPushFilter``).

    Give ``branches`` (optionally narrowed by ``file_paths``) *or* ``tags``; each list holds at most 8
    glob patterns of at most 255 characters; an exclude wins over an include.

    :param branches: glob patterns of branches whose pushes start it. Default: none.
    :param branches_excluded: branches whose pushes never start it. Default: none.
    :param file_paths: only a push changing a file matching one of these globs starts it (needs
        ``branches``). A push changing only other files does not run the pipeline (see the module's notes).
        Default: any file.
    :param file_paths_excluded: a push changing only files matching these never starts it (needs
        ``branches``). Default: none.
    :param tags: glob patterns of tags whose push starts it (not with ``branches``). Default: none.
    :param tags_excluded: tags that never start it. Default: none.
    """

    branches: tuple[str, ...] = ()
    branches_excluded: tuple[str, ...] = ()
    file_paths: tuple[str, ...] = ()
    file_paths_excluded: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    tags_excluded: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = "GitPushFilter"
        _check_patterns(
            self,
            where,
            ("branches", "branches_excluded", "file_paths", "file_paths_excluded", "tags", "tags_excluded"),
        )
        has_branches = bool(self.branches or self.branches_excluded)
        has_tags = bool(self.tags or self.tags_excluded)
        if has_tags and has_branches:
            raise invalid(
                where,
                "tags",
                self.tags or self.tags_excluded,
                "a push filter matches tags or branches (+ file paths), not both; use one filter for each",
            )
        if not has_branches:
            for prop in ("file_paths", "file_paths_excluded"):
                if getattr(self, prop):
                    raise invalid(
                        where,
                        prop,
                        getattr(self, prop),
                        "file paths narrow branch pushes: give branches too (e.g. branches=('main',)); "
                        "tag pushes cannot be filtered by file path",
                    )
        if not has_tags and not has_branches:
            raise invalid(where, "branches", self.branches, "expected branches or tags (the filter matches nothing)")

    def to_cdk(self) -> codepipeline.GitPushFilter:
        """The ``aws_codepipeline.GitPushFilter`` of this filter."""
        return codepipeline.GitPushFilter(
            branches_includes=list(self.branches) or None,
            branches_excludes=list(self.branches_excluded) or None,
            file_paths_includes=list(self.file_paths) or None,
            file_paths_excludes=list(self.file_paths_excluded) or None,
            tags_includes=list(self.tags) or None,
            tags_excludes=list(self.tags_excluded) or None,
        )


@dataclass(frozen=True)
class GitPullRequestFilter:
    """Which pull-request events start the pipeline (CodePipeline ``GitPullRequestFilter``).

    The execution runs the pull request's source branch: see the module's notes before giving a
    self-mutating pipeline with production targets a pull-request trigger.

    :param events: ``"OPEN"``, ``"UPDATED"``, ``"CLOSED"`` (closed, that is merged), each at most once.
        Default: ``("OPEN", "UPDATED")``.
    :param branches: target branches (globs, at most 8). Default: none (give this or ``branches_excluded``:
        CodePipeline requires branches).
    :param branches_excluded: target branches that never start it. Default: none.
    :param file_paths: only a pull request changing a matching file starts it. Default: any file.
    :param file_paths_excluded: files whose changes alone never start it. Default: none.
    """

    events: tuple[str, ...] = ("OPEN", "UPDATED")
    branches: tuple[str, ...] = ()
    branches_excluded: tuple[str, ...] = ()
    file_paths: tuple[str, ...] = ()
    file_paths_excluded: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = "GitPullRequestFilter"
        events = require_sequence(
            where,
            "events",
            self.events,
            item=lambda w, p, v: require_one_of(w, p, v, PULL_REQUEST_EVENTS),
            allowed="expected a tuple of 'OPEN', 'UPDATED', 'CLOSED'",
            min_length=1,
        )
        duplicates = sorted({e for e in events if events.count(e) > 1})
        if duplicates:
            raise invalid(where, "events", events, f"each event at most once ({', '.join(duplicates)} repeated)")
        object.__setattr__(self, "events", events)
        _check_patterns(self, where, ("branches", "branches_excluded", "file_paths", "file_paths_excluded"))
        if not (self.branches or self.branches_excluded):
            raise invalid(
                where,
                "branches",
                self.branches,
                "a pull-request filter needs the target branches (branches or branches_excluded), e.g. ('main',)",
            )

    def to_cdk(self) -> codepipeline.GitPullRequestFilter:
        """The ``aws_codepipeline.GitPullRequestFilter`` of this filter."""
        return codepipeline.GitPullRequestFilter(
            events=[codepipeline.GitPullRequestEvent[e] for e in self.events],
            branches_includes=list(self.branches) or None,
            branches_excludes=list(self.branches_excluded) or None,
            file_paths_includes=list(self.file_paths) or None,
            file_paths_excludes=list(self.file_paths_excluded) or None,
        )


@dataclass(frozen=True)
class GitTrigger:
    """What starts the pipeline from a connection (CodeStar Connections) source.

    Give at least one filter. Only the events a filter matches start the pipeline (see the module's notes
    on change detection).

    :param push: push filters (at most 3); a push matching any of them starts the pipeline. Default: none.
    :param pull_request: pull-request filters (at most 3). Default: none.
    :param source_action_name: the source action the trigger is for (``[A-Za-z0-9.@_-]``, at most 100
        characters; CDK Pipelines names a connection source ``owner_repo``). Default: the pipeline's one
        connection source action.
    """

    push: tuple[GitPushFilter, ...] = field(default_factory=tuple)
    pull_request: tuple[GitPullRequestFilter, ...] = field(default_factory=tuple)
    source_action_name: str | None = None

    def __post_init__(self) -> None:
        where = "GitTrigger"
        kinds: tuple[tuple[str, type], ...] = (("push", GitPushFilter), ("pull_request", GitPullRequestFilter))
        for prop, kind in kinds:
            checked = require_sequence(
                where,
                prop,
                getattr(self, prop),
                item=_instance_of(kind),
                allowed=f"expected a tuple of {kind.__name__}",
                max_length=MAX_FILTERS,
            )
            object.__setattr__(self, prop, checked)
        if not self.push and not self.pull_request:
            raise invalid(
                where,
                "push",
                self.push,
                "give push and/or pull_request filters (without filters, leave the trigger out: every push to "
                "the source's branch starts the pipeline)",
            )
        if self.source_action_name is not None:
            require_str(
                where,
                "source_action_name",
                self.source_action_name,
                pattern=_ACTION_NAME,
                allowed="expected an action name ([A-Za-z0-9.@_-], at most 100 characters)",
            )

    def to_cdk(self, source_action: codepipeline.IAction) -> codepipeline.TriggerProps:
        """The ``aws_codepipeline.TriggerProps`` of this trigger on ``source_action``."""
        return codepipeline.TriggerProps(
            provider_type=codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
            git_configuration=codepipeline.GitConfiguration(
                source_action=source_action,
                push_filter=[f.to_cdk() for f in self.push] or None,
                pull_request_filter=[f.to_cdk() for f in self.pull_request] or None,
            ),
        )


def validate_triggers(where: str, prop: str, value: Any) -> tuple[GitTrigger, ...]:
    """Accept a list of :class:`GitTrigger`, at most one per source action (``None`` counts as the default one)."""
    triggers = require_sequence(
        where,
        prop,
        value,
        item=lambda w, p, v: require_instance(w, p, v, GitTrigger, "expected a GitTrigger"),
        allowed="expected a list of GitTrigger",
    )
    seen: dict[str | None, int] = {}
    for i, trigger in enumerate(triggers):
        name = trigger.source_action_name
        if name in seen:
            what = f"source action {name!r}" if name is not None else "the default source action"
            raise invalid(
                where,
                f"{prop}[{i}].source_action_name",
                name,
                f"CodePipeline takes one trigger per source action; {prop}[{seen[name]}] is already for {what} "
                "(put all its filters in one GitTrigger)",
            )
        seen[name] = i
    return triggers


def _sources(producer: object) -> list[pipelines.CodePipelineSource]:
    """The sources a synth step (or a source) reads, following the steps' input file sets."""
    found: list[pipelines.CodePipelineSource] = []
    todo: list[object] = [producer]
    seen: set[int] = set()
    while todo:
        step = todo.pop()
        if id(step) in seen or not isinstance(step, pipelines.Step):
            continue
        seen.add(id(step))
        if isinstance(step, pipelines.CodePipelineSource):
            found.append(step)
            continue
        todo.extend(file_set.producer for file_set in step.dependency_file_sets)
    return found


def check_trigger_sources(where: str, prop: str, triggers: Sequence[GitTrigger], synth: object) -> None:
    """Fail at construct time when the synth step's sources are known and none is a connection source.

    Sources of unknown kind (and pipelines whose sources other steps add) are checked on the built
    pipeline by :func:`apply_triggers`.
    """
    if not triggers:
        return
    names = [source.to_string() for source in _sources(synth)]
    # Only sources of a kind known not to be a connection fail here (not any unknown kind).
    if names and all(n.startswith(_OTHER_SOURCES) for n in names):
        raise invalid(where, prop, list(triggers), f"{_CONNECTION_HINT}; the pipeline's source: {', '.join(names)}")


def _source_actions(pipeline: codepipeline.Pipeline) -> list[codepipeline.IAction]:
    return [
        action
        for stage in pipeline.stages
        for action in stage.actions
        if action.action_properties.category == codepipeline.ActionCategory.SOURCE
    ]


def _described(actions: Sequence[codepipeline.IAction]) -> str:
    return ", ".join(f"{a.action_properties.action_name} ({a.action_properties.provider})" for a in actions) or "none"


def apply_triggers(
    pipeline: pipelines.CodePipeline,
    triggers: Sequence[GitTrigger],
    *,
    where: str | None = None,
    prop: str = "triggers",
) -> None:
    """Set ``triggers`` on the built pipeline (after ``build_pipeline()``): its ``Triggers`` property.

    Run it from an :func:`~pipeline_constructs.core.compliance.hardening.after_build` rule.

    :param where: the construct path errors name. Default: ``pipeline``'s path.
    :param prop: the prop errors name (``pipeline_options['triggers']`` for a pipeline construct).
    :raises ValueError: when the pipeline is not V2, has no (or several) connection source action for a
        trigger without ``source_action_name``, or a name matches no source action or one that is not a
        connection.
    """
    where = where if where is not None else pipeline.node.path
    checked = validate_triggers(where, prop, triggers)
    built = pipeline.pipeline
    cfn = built.node.default_child
    pipeline_type = cfn.pipeline_type if isinstance(cfn, codepipeline.CfnPipeline) else None
    if checked and pipeline_type != codepipeline.PipelineType.V2.value:
        raise invalid(
            where,
            prop,
            list(checked),
            f"triggers need a V2 pipeline (PipelineType is {pipeline_type or 'V1 (not set)'}); "
            "do not override pipeline_type",
        )
    sources = _source_actions(built)
    connections = [a for a in sources if a.action_properties.provider == CONNECTION_PROVIDER]
    for i, trigger in enumerate(checked):
        name = trigger.source_action_name
        if name is None:
            if len(connections) != 1:
                problem = (
                    f"the pipeline has no connection source action ({_CONNECTION_HINT}); its source actions: "
                    if not connections
                    else "the pipeline has several connection source actions: name one with source_action_name; "
                )
                raise invalid(where, f"{prop}[{i}]", trigger, problem + _described(sources))
            action = connections[0]
        else:
            matches = [a for a in sources if a.action_properties.action_name == name]
            if not matches:
                raise invalid(
                    where,
                    f"{prop}[{i}].source_action_name",
                    name,
                    f"expected the name of a source action of the pipeline: {_described(sources)}",
                )
            action = matches[0]
            if action.action_properties.provider != CONNECTION_PROVIDER:
                raise invalid(
                    where,
                    f"{prop}[{i}].source_action_name",
                    name,
                    f"{_CONNECTION_HINT} (this action's provider is {action.action_properties.provider})",
                )
        try:
            built.add_trigger(**_trigger_kwargs(trigger.to_cdk(action)))
        except RuntimeError as err:  # e.g. a trigger the team's own code_pipeline already has on the action
            raise invalid(where, f"{prop}[{i}]", trigger, f"CodePipeline rejected the trigger: {err}") from None
        if trigger.pull_request:
            cdk.Annotations.of(pipeline).add_warning_v2(
                "pipeline-constructs:pull-request-trigger",
                f"{prop}[{i}] starts the pipeline for pull requests: such an execution builds, self-mutates "
                "the pipeline to and deploys the pull request's un-reviewed source branch to every target",
            )


def _trigger_kwargs(props: codepipeline.TriggerProps) -> dict[str, Any]:
    return {"provider_type": props.provider_type, "git_configuration": props.git_configuration}
