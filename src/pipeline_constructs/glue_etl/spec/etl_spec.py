"""GlueEtlSpec: one database, its jobs, crawlers and workflows, with the references between them checked."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import aws_glue as glue

from pipeline_constructs.core.validation import invalid, require_str, wrong_type
from pipeline_constructs.glue_etl.spec._checks import DATABASE, require_description, tuple_field
from pipeline_constructs.glue_etl.spec.crawlers import CRAWLER_STATES, GlueCrawler
from pipeline_constructs.glue_etl.spec.jobs import JOB_STATES, GlueJob, GlueSparkJob
from pipeline_constructs.glue_etl.spec.locations import S3Location, parse_location
from pipeline_constructs.glue_etl.spec.workflows import GlueCondition, GlueWorkflow

__all__ = ["GlueEtlSpec"]

_WHERE = "GlueEtlSpec"


def _find_cycle(edges: Mapping[str, list[tuple[str, str]]]) -> tuple[list[str], str] | None:
    """A cycle of ``edges`` (``node -> [(next, via)]``) as ``(nodes, via of the closing edge)``, or ``None``."""
    done: set[str] = set()
    for root in edges:
        if root in done:
            continue
        path: list[str] = [root]
        stack: list[Iterator[tuple[str, str]]] = [iter(edges.get(root, []))]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                done.add(path.pop())
                continue
            nxt, via = step
            if nxt in path:
                return [*path[path.index(nxt) :], nxt], via
            if nxt not in done:
                path.append(nxt)
                stack.append(iter(edges.get(nxt, [])))
    return None


def _require_unique(prop: str, names: Sequence[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise invalid(_WHERE, f"{prop}[{i}].name", name, "names must be unique within the spec")
        seen.add(name)


@dataclass(frozen=True, kw_only=True)
class GlueEtlSpec:
    """A Glue ETL workload: one database, its jobs, crawlers and workflows.

    References are checked when the spec is created: every trigger action and
    condition names a job or crawler of the spec; a condition watches something
    its workflow starts; job and crawler names are unique (they share the
    namespace conditions refer to), as are trigger and workflow names; trigger
    conditions form no cycle; every job script exists in ``scripts_dir``.

    :param database: Glue database name (lower-case letters, digits, ``_``).
    :param scripts_dir: directory holding the job scripts; uploaded to the
        workload's script bucket as an asset.
    :param jobs: Default: none.
    :param crawlers: crawlers write to ``database``. Default: none.
    :param workflows: Default: none.
    :param database_description: Default: none.
    """

    database: str
    scripts_dir: str | Path
    jobs: tuple[GlueJob, ...] = ()
    crawlers: tuple[GlueCrawler, ...] = ()
    workflows: tuple[GlueWorkflow, ...] = ()
    database_description: str | None = None

    def __post_init__(self) -> None:
        allowed = "expected 1-255 lower-case letters, digits or '_'"
        require_str(_WHERE, "database", self.database, pattern=DATABASE, allowed=allowed)
        require_description(_WHERE, self.database_description, "database_description")
        for prop, kind in (("jobs", GlueJob), ("crawlers", GlueCrawler), ("workflows", GlueWorkflow)):
            for i, value in enumerate(tuple_field(self, _WHERE, prop)):
                if not isinstance(value, kind) or type(value) is GlueJob:
                    expected = "GlueShellJob, GlueSparkJob or GlueStreamingJob" if kind is GlueJob else kind.__name__
                    raise wrong_type(_WHERE, f"{prop}[{i}]", value, f"expected a {expected}")
        self._check_scripts()
        self._check_names()
        for w, workflow in enumerate(self.workflows):
            self._check_references(f"workflows[{w}].triggers", workflow)
        for w, workflow in enumerate(self.workflows):
            self._check_cycles(f"workflows[{w}].triggers", workflow)

    # -- checks -------------------------------------------------------------

    def _check_scripts(self) -> None:
        if not isinstance(self.scripts_dir, (str, Path)) or not str(self.scripts_dir).strip():
            raise wrong_type(_WHERE, "scripts_dir", self.scripts_dir, "expected a directory path (str or pathlib.Path)")
        scripts = Path(self.scripts_dir)
        if not scripts.is_dir():
            resolved = f"expected a directory (resolved: {scripts.resolve()})"
            raise invalid(_WHERE, "scripts_dir", str(self.scripts_dir), resolved)
        object.__setattr__(self, "scripts_dir", scripts)
        for i, job in enumerate(self.jobs):
            if not (scripts / job.script).is_file():
                present = sorted(p.name for p in scripts.glob("*.py"))
                raise invalid(
                    _WHERE, f"jobs[{i}].script", job.script, f"expected a script in {scripts}: one of {present}"
                )

    def _check_names(self) -> None:
        _require_unique("jobs", self.job_names)
        _require_unique("crawlers", self.crawler_names)
        for i, crawler in enumerate(self.crawlers):
            if crawler.name in self.job_names:
                message = "a job already has this name; job and crawler names must differ"
                raise invalid(_WHERE, f"crawlers[{i}].name", crawler.name, message)
        _require_unique("workflows", [w.name for w in self.workflows])
        seen: dict[str, str] = {}
        for w, workflow in enumerate(self.workflows):
            for t, trigger in enumerate(workflow.triggers):
                if trigger.name in seen:
                    message = f"trigger names must be unique; already used in workflow {seen[trigger.name]!r}"
                    raise invalid(_WHERE, f"workflows[{w}].triggers[{t}].name", trigger.name, message)
                seen[trigger.name] = workflow.name

    def _known(self, prop: str, name: str) -> None:
        if name not in self.job_names and name not in self.crawler_names:
            known = ", ".join(repr(n) for n in (*self.job_names, *self.crawler_names)) or "(none defined)"
            raise invalid(_WHERE, prop, name, f"expected the name of a job or crawler of this spec: {known}")

    def _check_references(self, prop: str, workflow: GlueWorkflow) -> None:
        started: set[str] = set()
        for t, trigger in enumerate(workflow.triggers):
            for a, action in enumerate(trigger.actions):
                self._known(f"{prop}[{t}].actions[{a}]", action)
                started.add(action)
        for t, trigger in enumerate(workflow.triggers):
            for c, condition in enumerate(trigger.when):
                self._check_condition(f"{prop}[{t}].when[{c}]", condition)
                if condition.name not in started:
                    expected = ", ".join(repr(s) for s in sorted(started))
                    message = f"workflow {workflow.name!r} never starts it; expected one of {expected}"
                    raise invalid(_WHERE, f"{prop}[{t}].when[{c}].name", condition.name, message)

    def _check_condition(self, prop: str, condition: GlueCondition) -> None:
        self._known(f"{prop}.name", condition.name)
        is_job = condition.name in self.job_names
        states = JOB_STATES if is_job else CRAWLER_STATES
        if condition.state not in states:
            kind = "job" if is_job else "crawler"
            message = f"{condition.name!r} is a {kind}; expected one of " + ", ".join(states)
            raise invalid(_WHERE, f"{prop}.state", condition.state, message)

    def _check_cycles(self, prop: str, workflow: GlueWorkflow) -> None:
        # Edge: a condition's job/crawler -> each action of its trigger.
        edges: dict[str, list[tuple[str, str]]] = {}
        for trigger in workflow.triggers:
            for condition in trigger.when:
                for action in trigger.actions:
                    edges.setdefault(condition.name, []).append((action, trigger.name))
        found = _find_cycle(edges)
        if found is not None:
            cycle, trigger_name = found
            message = "trigger conditions form a cycle (" + " -> ".join(cycle) + "); expected an acyclic workflow"
            raise invalid(_WHERE, prop, trigger_name, message)

    # -- what the workload needs --------------------------------------------

    @property
    def job_names(self) -> tuple[str, ...]:
        """Names of the jobs, in spec order."""
        return tuple(j.name for j in self.jobs)

    @property
    def crawler_names(self) -> tuple[str, ...]:
        """Names of the crawlers, in spec order."""
        return tuple(c.name for c in self.crawlers)

    def job(self, name: str) -> GlueJob:
        """The job named ``name``."""
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(name)

    @property
    def spark_glue_versions(self) -> tuple[glue.GlueVersion, ...]:
        """Distinct Glue versions of the Spark and streaming jobs, in spec order."""
        versions: list[glue.GlueVersion] = []
        for job in self.jobs:
            if isinstance(job, GlueSparkJob) and job.glue_version not in versions:
                versions.append(job.glue_version)
        return tuple(versions)

    def locations(self) -> tuple[tuple[S3Location, bool], ...]:
        """Every S3 location of the spec with whether it is written, without duplicates."""
        found: dict[str, tuple[S3Location, bool]] = {}
        read = [*(v for job in self.jobs for v in (*job.reads, *job.writes)), *self._crawled()]
        written = {v for job in self.jobs for v in job.writes}
        for value in read:
            loc = parse_location("", "", value)
            found.setdefault(str(loc), (loc, str(loc) in written))
        return tuple(found.values())

    def _crawled(self) -> list[str]:
        return [v for crawler in self.crawlers for v in crawler.s3_targets]
