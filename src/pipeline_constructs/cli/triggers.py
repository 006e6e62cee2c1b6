"""Pipeline triggers (CodePipeline V2 ``Triggers``), read from a pipeline's properties.

The template shape (``AWS::CodePipeline::Pipeline`` ``PipelineTriggerDeclaration``)::

    Triggers: [{ProviderType: CodeStarSourceConnection,
                GitConfiguration: {SourceActionName,
                                   Push: [{Branches: {Includes, Excludes}, FilePaths: {...}, Tags: {...}}],
                                   PullRequest: [{Events, Branches: {...}, FilePaths: {...}}]}}]

Parsing never fails: a missing key is an empty value, an intrinsic function is
rendered readably (``${Branch}``). Descriptions are one line per filter:
``push: branches main; file paths services/orders/** except services/orders/docs/**``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["GitFilter", "Patterns", "Trigger", "parse_triggers"]

#: Renders a template value (intrinsics included) as a string.
Render = Callable[[Any], str]


@dataclass(frozen=True)
class Patterns:
    """``Includes`` and ``Excludes`` of a branch, tag or file-path filter."""

    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.includes or self.excludes)

    @property
    def description(self) -> str:
        """``main, release/*``, ``main except legacy``, ``all except docs/**``."""
        text = ", ".join(self.includes) or "all"
        return text + (f" except {', '.join(self.excludes)}" if self.excludes else "")

    def to_dict(self) -> dict[str, list[str]]:
        return {"includes": list(self.includes), "excludes": list(self.excludes)}


@dataclass(frozen=True)
class GitFilter:
    """One ``Push`` or ``PullRequest`` filter."""

    #: ``push`` or ``pull request``.
    event: str
    branches: Patterns = Patterns()
    tags: Patterns = Patterns()
    file_paths: Patterns = Patterns()
    #: Pull-request events (``OPEN``, ``UPDATED``, ``CLOSED``); empty for a push filter.
    events: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        """``push: branches main; file paths services/orders/**`` (``pull request (OPEN, UPDATED): ...``)."""
        head = self.event + (f" ({', '.join(self.events)})" if self.events else "")
        parts = [
            f"{noun} {patterns.description}"
            for noun, patterns in (("branches", self.branches), ("tags", self.tags), ("file paths", self.file_paths))
            if patterns
        ]
        return f"{head}: {'; '.join(parts) or 'any change'}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "events": list(self.events),
            "branches": self.branches.to_dict(),
            "tags": self.tags.to_dict(),
            "file_paths": self.file_paths.to_dict(),
            "description": self.description,
        }


@dataclass(frozen=True)
class Trigger:
    """A trigger: the source action it watches and its filters."""

    provider_type: str
    source_action: str
    filters: tuple[GitFilter, ...] = ()

    @property
    def lines(self) -> list[str]:
        """One line per filter (``push: ...``, ``pull request: ...``); ``any change`` without filters."""
        return [f.description for f in self.filters] or ["any change"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider_type": self.provider_type,
            "source_action": self.source_action,
            "filters": [f.to_dict() for f in self.filters],
        }


def parse_triggers(raw: Any, render: Render) -> tuple[Trigger, ...]:
    """The ``Triggers`` of a pipeline's properties (``()`` when absent or not a list)."""
    if not isinstance(raw, list):
        return ()
    out = []
    for t in raw:
        if not isinstance(t, dict):
            continue
        git = t.get("GitConfiguration") if isinstance(t.get("GitConfiguration"), dict) else {}
        assert isinstance(git, dict)
        filters = [
            _filter(event, f, render)
            for event, key in (("push", "Push"), ("pull request", "PullRequest"))
            for f in _list(git.get(key))
            if isinstance(f, dict)
        ]
        out.append(Trigger(render(t.get("ProviderType")), render(git.get("SourceActionName")), tuple(filters)))
    return tuple(out)


def _list(raw: Any) -> list[Any]:
    return raw if isinstance(raw, list) else []


def _filter(event: str, raw: dict[str, Any], render: Render) -> GitFilter:
    return GitFilter(
        event=event,
        branches=_patterns(raw.get("Branches"), render),
        tags=_patterns(raw.get("Tags"), render),
        file_paths=_patterns(raw.get("FilePaths"), render),
        events=_strings(raw.get("Events"), render),
    )


def _patterns(raw: Any, render: Render) -> Patterns:
    if not isinstance(raw, dict):
        return Patterns()
    return Patterns(_strings(raw.get("Includes"), render), _strings(raw.get("Excludes"), render))


def _strings(raw: Any, render: Render) -> tuple[str, ...]:
    """A list of strings; an intrinsic standing for a list (``Ref`` of a parameter) is one rendered item."""
    items = raw if isinstance(raw, list) else [raw]
    return tuple(text for text in (render(v) for v in items) if text)
