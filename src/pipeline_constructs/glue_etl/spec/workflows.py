"""The workflows of a spec: their triggers (scheduled, conditional, on demand) and trigger conditions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import aws_glue as glue

from pipeline_constructs.core.validation import (
    invalid,
    require_bool,
    require_cron,
    require_enum,
    require_instance,
    require_int,
    require_str,
)
from pipeline_constructs.glue_etl.spec._checks import (
    require_description,
    require_name,
    require_strings,
    tuple_field,
)
from pipeline_constructs.glue_etl.spec.crawlers import CRAWLER_STATES
from pipeline_constructs.glue_etl.spec.jobs import JOB_STATES

__all__ = ["GlueCondition", "GlueTrigger", "GlueWorkflow"]

_STATES = sorted(set(JOB_STATES) | set(CRAWLER_STATES))


@dataclass(frozen=True)
class GlueCondition:
    """One condition of a conditional trigger: job or crawler ``name`` reached ``state``.

    :param name: a job or crawler of the spec.
    :param state: for a job ``SUCCEEDED``, ``FAILED``, ``TIMEOUT`` or ``STOPPED``; for a
        crawler ``SUCCEEDED``, ``FAILED`` or ``CANCELLED`` (``glue.JobState`` /
        ``glue.CrawlerState`` members or their names). Default: ``"SUCCEEDED"``.
    """

    name: str
    state: str = "SUCCEEDED"

    def __post_init__(self) -> None:
        if isinstance(self.state, (glue.JobState, glue.CrawlerState)):
            object.__setattr__(self, "state", self.state.value)
        require_name("GlueCondition", "name", self.name)
        where = f"GlueCondition({self.name!r})"
        allowed = "expected one of " + ", ".join(_STATES)
        require_str(where, "state", self.state, allowed=allowed)
        if self.state not in _STATES:
            raise invalid(where, "state", self.state, allowed)


def _condition(where: str, prop: str, value: Any) -> GlueCondition:
    return require_instance(where, prop, value, GlueCondition, "expected a GlueCondition")


@dataclass(frozen=True, kw_only=True)
class GlueTrigger:
    """A workflow trigger. Its type follows from its props:

    * ``schedule`` set: a scheduled trigger (starts the workflow);
    * ``when`` set: a conditional trigger, fired when ``when`` holds (``logical`` AND/ANY);
    * neither: an on-demand trigger (starts the workflow when it is run).

    :param name: the trigger name.
    :param actions: names of the jobs and crawlers it starts (at least one).
    :param schedule: a Glue cron expression, e.g. ``"cron(0 10 1 * ? *)"``. Default: none.
    :param when: the conditions of a conditional trigger. Default: none.
    :param logical: ``PredicateLogical.AND`` (all conditions) or ``ANY``. Default: ``AND``.
    :param enabled: create scheduled and conditional triggers activated. Default: ``True``.
    :param description: Default: none.
    """

    name: str
    actions: tuple[str, ...]
    schedule: str | None = None
    when: tuple[GlueCondition, ...] = ()
    logical: glue.PredicateLogical = glue.PredicateLogical.AND
    enabled: bool = True
    description: str | None = None

    def __post_init__(self) -> None:
        require_name("GlueTrigger", "name", self.name)
        where = f"GlueTrigger({self.name!r})"
        tuple_field(
            self,
            where,
            "actions",
            item=require_name,
            allowed="expected a list or tuple of job or crawler names",
            min_length=1,
        )
        when = tuple_field(self, where, "when", item=_condition, allowed="expected a list of GlueCondition")
        if self.schedule is not None and when:
            raise invalid(
                where, "schedule", self.schedule, "a trigger is either scheduled or conditional: drop schedule or when"
            )
        if self.schedule is not None:
            allowed = "expected a Glue cron expression like 'cron(0 10 1 * ? *)'"
            require_cron(where, "schedule", self.schedule, allowed=allowed)
        require_enum(where, "logical", self.logical, glue.PredicateLogical)
        require_bool(where, "enabled", self.enabled)
        require_description(where, self.description)

    @property
    def kind(self) -> str:
        """``"SCHEDULED"``, ``"CONDITIONAL"`` or ``"ON_DEMAND"``."""
        if self.schedule is not None:
            return "SCHEDULED"
        return "CONDITIONAL" if self.when else "ON_DEMAND"


def _trigger(where: str, prop: str, value: Any) -> GlueTrigger:
    return require_instance(where, prop, value, GlueTrigger, "expected a GlueTrigger")


@dataclass(frozen=True, kw_only=True)
class GlueWorkflow:
    """A Glue workflow and its triggers (exactly one scheduled or on-demand start trigger).

    :param name: the workflow name.
    :param triggers: the triggers, start trigger included.
    :param max_concurrent_runs: Default: 1 (a run never overlaps the previous one).
    :param run_properties: default run properties. Default: none.
    :param description: Default: none.
    """

    name: str
    triggers: tuple[GlueTrigger, ...]
    max_concurrent_runs: int = 1
    run_properties: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None

    def __post_init__(self) -> None:
        require_name("GlueWorkflow", "name", self.name)
        where = f"GlueWorkflow({self.name!r})"
        triggers = tuple_field(self, where, "triggers", item=_trigger, allowed="expected a list of GlueTrigger")
        starts = [t.name for t in triggers if t.kind != "CONDITIONAL"]
        if len(starts) != 1:
            raise invalid(
                where,
                "triggers",
                starts,
                "expected exactly one start trigger (scheduled or on-demand); the others must be conditional",
            )
        require_int(where, "max_concurrent_runs", self.max_concurrent_runs, minimum=1)
        object.__setattr__(self, "run_properties", require_strings(where, "run_properties", self.run_properties))
        require_description(where, self.description)
