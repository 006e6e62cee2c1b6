"""Git triggers of a V2 pipeline: push and pull-request filters on branches, tags and file paths.

CONTRACT STUB (issue 13): the helper that owns this module implements validation and
:func:`apply_triggers`; the value objects' fields are the contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import pipelines

__all__ = ["GitPullRequestFilter", "GitPushFilter", "GitTrigger", "apply_triggers"]


@dataclass(frozen=True)
class GitPushFilter:
    """Which pushes start the pipeline (CodePipeline ``GitPushFilter``).

    :param branches: glob patterns of branches that start it. Default: none.
    :param branches_excluded: branches that never start it. Default: none.
    :param file_paths: only a push changing a file matching one of these globs starts it (needs
        ``branches``). Default: any file.
    :param file_paths_excluded: a push changing only files matching these never starts it. Default: none.
    :param tags: glob patterns of tags whose push starts it (not with ``branches``). Default: none.
    :param tags_excluded: tags that never start it. Default: none.
    """

    branches: tuple[str, ...] = ()
    branches_excluded: tuple[str, ...] = ()
    file_paths: tuple[str, ...] = ()
    file_paths_excluded: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    tags_excluded: tuple[str, ...] = ()


@dataclass(frozen=True)
class GitPullRequestFilter:
    """Which pull-request events start the pipeline (CodePipeline ``GitPullRequestFilter``).

    :param events: ``"OPEN"``, ``"UPDATED"``, ``"CLOSED"``. Default: ``("OPEN", "UPDATED")``.
    :param branches: target branches (globs). Default: none (required by CodePipeline).
    :param branches_excluded: target branches that never start it. Default: none.
    :param file_paths: only a pull request changing a matching file starts it. Default: any file.
    :param file_paths_excluded: files whose changes alone never start it. Default: none.
    """

    events: tuple[str, ...] = ("OPEN", "UPDATED")
    branches: tuple[str, ...] = ()
    branches_excluded: tuple[str, ...] = ()
    file_paths: tuple[str, ...] = ()
    file_paths_excluded: tuple[str, ...] = ()


@dataclass(frozen=True)
class GitTrigger:
    """What starts the pipeline from a connection (CodeStar Connections) source.

    :param push: push filters (at most 3). Default: none.
    :param pull_request: pull-request filters (at most 3). Default: none.
    :param source_action_name: the source action the trigger is for. Default: the pipeline's one
        connection source action.
    """

    push: tuple[GitPushFilter, ...] = field(default_factory=tuple)
    pull_request: tuple[GitPullRequestFilter, ...] = field(default_factory=tuple)
    source_action_name: str | None = None


def apply_triggers(pipeline: pipelines.CodePipeline, triggers: Sequence[GitTrigger]) -> None:
    """Set ``triggers`` on the built pipeline (after ``build_pipeline()``, through the L1 ``Triggers``)."""
    raise NotImplementedError
