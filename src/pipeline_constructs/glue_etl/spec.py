"""The typed spec of a Glue ETL workload: jobs, crawlers, a database, workflows and triggers.

Every value object is a frozen dataclass that validates itself when it is
created; :class:`GlueEtlSpec` then checks the references between them, so a
trigger naming an unknown job, a cycle between triggers or a duplicate name is
a ``ValueError`` (naming the prop and what is allowed) before any construct
exists::

    spec = GlueEtlSpec(
        database="sales",
        scripts_dir="glue_jobs",
        jobs=(GlueSparkJob(name="j_clean", script="clean.py", writes=("clean/",)),),
        crawlers=(GlueCrawler(name="c_raw", s3_targets=("raw/",)),),
        workflows=(
            GlueWorkflow(
                name="daily",
                triggers=(
                    GlueTrigger(name="t_start", schedule="cron(0 6 * * ? *)", actions=("c_raw",)),
                    GlueTrigger(name="t_clean", actions=("j_clean",), when=(GlueCondition("c_raw"),)),
                ),
            ),
        ),
    )

S3 locations (``reads``, ``writes``, ``s3_targets``) are either a key prefix
in the workload's data bucket (``"clean/"``) or a full ``s3://bucket/prefix/``
URL of another bucket. The job role is granted exactly these prefixes.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_glue as glue

from pipeline_constructs.core.validation import (
    invalid,
    is_token,
    require_bool,
    require_cron,
    require_duration,
    require_enum,
    require_instance,
    require_int,
    require_mapping,
    require_sequence,
    require_str,
    wrong_type,
)

__all__ = [
    "ARGUMENT_PLACEHOLDERS",
    "DeleteBehavior",
    "GlueCondition",
    "GlueCrawler",
    "GlueEtlSpec",
    "GlueJob",
    "GlueShellJob",
    "GlueSparkJob",
    "GlueStreamingJob",
    "GlueTrigger",
    "GlueWorkflow",
    "S3Location",
    "UpdateBehavior",
    "parse_location",
]

# Glue resource names: one line of letters, digits, '_', '-', '.' (Glue allows more; this keeps
# names safe in ARNs, log group names and CloudFormation logical ids).
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,255}")
# Athena-compatible database names.
_DATABASE = re.compile(r"[a-z0-9_]{1,255}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"([A-Za-z0-9!_.'()=-]+/)*[A-Za-z0-9!_.'()=-]*")
_SCRIPT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,250}\.py")
_ARGUMENT = re.compile(r"--[A-Za-z0-9_.-]{1,126}")
# Crawler exclusions: glob patterns of object keys (printable ASCII, no spaces at the ends).
_EXCLUSION = re.compile(r"[\x21-\x7e]([\x20-\x7e]{0,1022}[\x21-\x7e])?")
# Glue's limit on descriptions (jobs, crawlers, triggers, workflows, databases).
_MAX_DESCRIPTION = 2048
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

#: Placeholders an argument value may contain; the workload replaces them with the deployed values.
ARGUMENT_PLACEHOLDERS: Mapping[str, str] = {
    "data_bucket": "name of the workload's data bucket",
    "database": "name of the spec's Glue database",
}

# Arguments the L2 constructs or the workload manage: set them through their props.
_MANAGED_ARGUMENTS = frozenset(
    {
        "--JOB_NAME",
        "--debug",
        "--mode",
        "--endpoint",
        "--job-language",
        "--class",
        "--enable-continuous-cloudwatch-log",
        "--continuous-log-logGroup",
        "--continuous-log-logStreamPrefix",
        "--continuous-log-conversionPattern",
        "--enable-continuous-log-filter",
        "--enable-metrics",
        "--enable-observability-metrics",
        "--enable-spark-ui",
        "--spark-event-logs-path",
        "--extra-jars",
        "--user-jars-first",
        "--extra-py-files",
        "--extra-files",
        "--job-bookmark-option",
        "--TempDir",
    }
)

_JOB_STATES = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED")
_CRAWLER_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
_SPARK_VERSIONS = (
    glue.GlueVersion.V3_0,
    glue.GlueVersion.V4_0,
    glue.GlueVersion.V5_0,
    glue.GlueVersion.V5_1,
    glue.GlueVersion.V6_0,
)
_BATCH_WORKERS = tuple(w for w in glue.WorkerType if w not in (glue.WorkerType.STANDARD, glue.WorkerType.G_025X))
_STREAMING_WORKERS = tuple(w for w in glue.WorkerType if w is not glue.WorkerType.STANDARD)
_MAX_TIMEOUT_MINUTES = 2880


class UpdateBehavior(enum.Enum):
    """What a crawler does when it finds a changed schema (``SchemaChangePolicy.UpdateBehavior``)."""

    UPDATE_IN_DATABASE = "UPDATE_IN_DATABASE"
    LOG = "LOG"


class DeleteBehavior(enum.Enum):
    """What a crawler does when a crawled object is gone (``SchemaChangePolicy.DeleteBehavior``)."""

    LOG = "LOG"
    DEPRECATE_IN_DATABASE = "DEPRECATE_IN_DATABASE"
    DELETE_FROM_DATABASE = "DELETE_FROM_DATABASE"


@dataclass(frozen=True)
class S3Location:
    """A parsed S3 location: ``bucket`` is ``None`` for the workload's data bucket."""

    bucket: str | None
    prefix: str

    @property
    def in_data_bucket(self) -> bool:
        """Whether the location is a prefix of the workload's data bucket."""
        return self.bucket is None

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.bucket else self.prefix


def parse_location(where: str, prop: str, value: str) -> S3Location:
    """Parse ``"prefix/"`` (data bucket) or ``"s3://bucket/prefix/"``; raise :func:`invalid` otherwise."""
    allowed = (
        "expected a key prefix of the data bucket such as 'clean/' or an 's3://bucket/prefix/' URL "
        "(no wildcards, no leading '/')"
    )
    require_str(where, prop, value, allowed=allowed, max_length=1024)
    if value.startswith("s3://"):
        bucket, _, prefix = value[len("s3://") :].partition("/")
        if not _BUCKET.fullmatch(bucket) or ".." in bucket or not _PREFIX.fullmatch(prefix):
            raise invalid(where, prop, value, allowed)
        return S3Location(bucket, prefix)
    if not _PREFIX.fullmatch(value):
        raise invalid(where, prop, value, allowed)
    return S3Location(None, value)


def _require_name(where: str, prop: str, value: Any) -> str:
    return require_str(
        where, prop, value, pattern=_NAME, allowed="expected 1-255 characters from A-Z, a-z, 0-9, '_', '-', '.'"
    )


def _as_tuple(where: str, prop: str, value: Any) -> tuple[Any, ...]:
    return require_sequence(where, prop, value, allowed="expected a list or tuple")


def _require_int(where: str, prop: str, value: Any, low: int, high: int | None = None) -> None:
    require_int(where, prop, value, minimum=low, maximum=high)


def _require_description(where: str, value: Any, prop: str = "description") -> None:
    if value is not None:
        require_str(where, prop, value, allowed="expected a description", max_length=_MAX_DESCRIPTION)


def _require_strings(where: str, prop: str, value: Any) -> dict[str, str]:
    """A mapping of ``str`` to ``str`` (run properties)."""

    def text(w: str, p: str, v: Any) -> str:
        return require_str(w, p, v, allowed="expected a string", min_length=0, single_line=False)

    return require_mapping(where, prop, value, key=text, item=text, allowed="expected a mapping of str to str")


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


def _require_unique(where: str, prop: str, names: Sequence[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise invalid(where, f"{prop}[{i}].name", name, "names must be unique within the spec")
        seen.add(name)


@dataclass(frozen=True, kw_only=True)
class GlueJob:
    """What every Glue job of the spec has (use :class:`GlueShellJob`, :class:`GlueSparkJob`
    or :class:`GlueStreamingJob`).

    :param name: the Glue job name (also what triggers and conditions refer to).
    :param script: file name of the job's script in the spec's ``scripts_dir``, e.g. ``"clean.py"``.
    :param arguments: default arguments (``"--KEY": "value"``); values may contain the
        placeholders ``{data_bucket}`` and ``{database}``. Arguments the workload manages
        (``--TempDir``, ``--job-bookmark-option``, logging, metrics...) are rejected. Default: none.
    :param reads: S3 locations the job reads. Default: none.
    :param writes: S3 locations the job reads and writes. Default: none.
    :param emits_events: the job puts events on the account's default EventBridge bus. Default: ``False``.
    :param max_retries: retries after a failed run (0-10). Default: 0.
    :param timeout: run timeout. Default: Glue's (2880 minutes for batch jobs).
    :param max_concurrent_runs: Default: 1.
    :param description: Default: none.
    """

    name: str
    script: str
    arguments: Mapping[str, str] = field(default_factory=dict)
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    emits_events: bool = False
    max_retries: int = 0
    timeout: cdk.Duration | None = None
    max_concurrent_runs: int = 1
    description: str | None = None

    @property
    def kind(self) -> str:
        """Short name of the job type, for messages."""
        return type(self).__name__

    def __post_init__(self) -> None:
        _require_name(self.kind, "name", self.name)
        where = f"{self.kind}({self.name!r})"
        require_str(
            where,
            "script",
            self.script,
            pattern=_SCRIPT,
            allowed="expected a Python file name in scripts_dir, e.g. 'clean.py'",
        )
        arguments = require_mapping(
            where, "arguments", self.arguments, allowed="expected a mapping of '--NAME' to string values"
        )
        object.__setattr__(self, "arguments", arguments)
        for key, value in self.arguments.items():
            self._check_argument(where, key, value)
        for prop in ("reads", "writes"):
            values = _as_tuple(where, prop, getattr(self, prop))
            object.__setattr__(self, prop, values)
            for i, value in enumerate(values):
                parse_location(where, f"{prop}[{i}]", value)
        require_bool(where, "emits_events", self.emits_events)
        _require_int(where, "max_retries", self.max_retries, 0, 10)
        _require_int(where, "max_concurrent_runs", self.max_concurrent_runs, 1)
        _require_description(where, self.description)
        if self.timeout is not None:
            require_duration(where, "timeout", self.timeout)
            if not is_token(self.timeout.to_string()):
                minutes = self.timeout.to_minutes(integral=False)
                if not 1 <= minutes <= self.max_timeout_minutes or minutes != int(minutes):
                    raise invalid(
                        where,
                        "timeout",
                        self.timeout.to_human_string(),
                        f"expected whole minutes from 1 to {self.max_timeout_minutes}",
                    )

    @property
    def max_timeout_minutes(self) -> int:
        """Longest timeout Glue accepts for this job type."""
        return _MAX_TIMEOUT_MINUTES

    def _check_argument(self, where: str, key: Any, value: Any) -> None:
        if not isinstance(key, str):
            raise wrong_type(where, "arguments key", key, "expected argument names like '--OUTPUT_PATH'")
        if not _ARGUMENT.fullmatch(key):
            raise invalid(where, "arguments", key, "expected argument names like '--OUTPUT_PATH'")
        if key in _MANAGED_ARGUMENTS or key.startswith("--continuous-log-"):
            raise invalid(
                where,
                f"arguments[{key!r}]",
                value,
                "this argument is managed by the workload or the Glue L2 construct; use its prop "
                "(bookmarks, timeout...) or remove it",
            )
        require_str(where, f"arguments[{key!r}]", value, allowed="expected a string value", min_length=0, tokens=True)
        for placeholder in _PLACEHOLDER.findall(value):
            if placeholder not in ARGUMENT_PLACEHOLDERS:
                raise invalid(
                    where,
                    f"arguments[{key!r}]",
                    value,
                    "unknown placeholder {"
                    + placeholder
                    + "}; allowed: "
                    + ", ".join("{" + p + "}" for p in ARGUMENT_PLACEHOLDERS),
                )


@dataclass(frozen=True, kw_only=True)
class GlueShellJob(GlueJob):
    """A Python shell job (Python 3.9 on Glue 3.0, ``glue.PythonShellJob``).

    :param max_capacity: DPUs: ``MaxCapacity.DPU_1_16TH`` (0.0625) or ``MaxCapacity.DPU_1``.
        Default: ``DPU_1_16TH``.
    """

    max_capacity: glue.MaxCapacity = glue.MaxCapacity.DPU_1_16TH

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.max_capacity, glue.MaxCapacity):
            raise wrong_type(
                f"{self.kind}({self.name!r})",
                "max_capacity",
                self.max_capacity,
                "expected glue.MaxCapacity.DPU_1_16TH or glue.MaxCapacity.DPU_1",
            )


@dataclass(frozen=True, kw_only=True)
class GlueSparkJob(GlueJob):
    """A PySpark ETL job (``glue.PySparkEtlJob``).

    :param glue_version: Default: ``GlueVersion.V5_0``.
    :param worker_type: Default: ``WorkerType.G_1X``.
    :param number_of_workers: at least 2. Default: 2.
    :param bookmarks: enable job bookmarks (``--job-bookmark-option job-bookmark-enable``);
        bookmarks are encrypted by the workload's security configuration. Default: ``False``.
    """

    glue_version: glue.GlueVersion = glue.GlueVersion.V5_0
    worker_type: glue.WorkerType = glue.WorkerType.G_1X
    number_of_workers: int = 2
    bookmarks: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        where = f"{self.kind}({self.name!r})"
        require_enum(where, "glue_version", self.glue_version, glue.GlueVersion)
        require_enum(where, "worker_type", self.worker_type, glue.WorkerType)
        if self.glue_version not in _SPARK_VERSIONS:
            raise invalid(
                where,
                "glue_version",
                self.glue_version,
                "expected one of " + ", ".join(v.name for v in _SPARK_VERSIONS),
            )
        workers = self._allowed_workers()
        if self.worker_type not in workers:
            raise invalid(
                where, "worker_type", self.worker_type, "expected one of " + ", ".join(w.name for w in workers)
            )
        _require_int(where, "number_of_workers", self.number_of_workers, 2)
        require_bool(where, "bookmarks", self.bookmarks)

    def _allowed_workers(self) -> tuple[glue.WorkerType, ...]:
        return _BATCH_WORKERS


@dataclass(frozen=True, kw_only=True)
class GlueStreamingJob(GlueSparkJob):
    """A PySpark streaming job (``glue.PySparkStreamingJob``); runs until stopped.

    Same props as :class:`GlueSparkJob`, except that ``bookmarks`` must stay
    ``False`` (Glue streaming jobs use checkpoints, not bookmarks) and
    ``worker_type`` may also be ``G_025X``. ``timeout`` has no upper bound.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bookmarks:
            raise invalid(
                f"{self.kind}({self.name!r})",
                "bookmarks",
                self.bookmarks,
                "expected False: streaming jobs keep their position in checkpoints, not job bookmarks",
            )

    def _allowed_workers(self) -> tuple[glue.WorkerType, ...]:
        return _STREAMING_WORKERS

    @property
    def max_timeout_minutes(self) -> int:
        """Streaming jobs may run indefinitely; any positive timeout is accepted."""
        return 2**31


_DEFAULT_CRAWLER_CONFIGURATION: Mapping[str, Any] = {
    "Version": 1.0,
    "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
    "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
}


@dataclass(frozen=True, kw_only=True)
class GlueCrawler:
    """A crawler of S3 prefixes into the spec's database (``glue.CfnCrawler``: there is no L2).

    :param name: the crawler name (what triggers and conditions refer to).
    :param s3_targets: S3 locations to crawl (at least one); the role may read them.
    :param table_prefix: prefix of the tables it creates. Default: none.
    :param update_behavior: on schema change. Default: ``UpdateBehavior.UPDATE_IN_DATABASE``.
    :param delete_behavior: on deleted objects. Default: ``DeleteBehavior.LOG``.
    :param exclusions: glob patterns excluded from every target. Default: none.
    :param configuration: crawler configuration (JSON object). Default: inherit partition
        schemas from the table and combine compatible schemas.
    :param description: Default: none.
    """

    name: str
    s3_targets: tuple[str, ...]
    table_prefix: str | None = None
    update_behavior: UpdateBehavior = UpdateBehavior.UPDATE_IN_DATABASE
    delete_behavior: DeleteBehavior = DeleteBehavior.LOG
    exclusions: tuple[str, ...] = ()
    configuration: Mapping[str, Any] = field(default_factory=lambda: dict(_DEFAULT_CRAWLER_CONFIGURATION))
    description: str | None = None

    def __post_init__(self) -> None:
        _require_name("GlueCrawler", "name", self.name)
        where = f"GlueCrawler({self.name!r})"
        targets = _as_tuple(where, "s3_targets", self.s3_targets)
        if not targets:
            raise invalid(where, "s3_targets", list(targets), "expected at least one S3 location")
        object.__setattr__(self, "s3_targets", targets)
        for i, target in enumerate(targets):
            parse_location(where, f"s3_targets[{i}]", target)
        exclusions = require_sequence(
            where,
            "exclusions",
            self.exclusions,
            item=lambda w, p, v: require_str(
                w, p, v, pattern=_EXCLUSION, allowed="expected a glob pattern of object keys (printable ASCII)"
            ),
            allowed="expected a list of glob patterns",
        )
        object.__setattr__(self, "exclusions", exclusions)
        if self.table_prefix is not None:
            require_str(
                where,
                "table_prefix",
                self.table_prefix,
                pattern=_DATABASE,
                allowed="expected lower-case letters, digits and '_'",
            )
        require_enum(where, "update_behavior", self.update_behavior, UpdateBehavior)
        require_enum(where, "delete_behavior", self.delete_behavior, DeleteBehavior)
        configuration = require_mapping(
            where, "configuration", self.configuration, allowed="expected a JSON object (a mapping)"
        )
        try:
            json.dumps(configuration, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise invalid(
                where, "configuration", configuration, f"expected a JSON-serializable object ({err})"
            ) from None
        object.__setattr__(self, "configuration", configuration)
        _require_description(where, self.description)


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
        _require_name("GlueCondition", "name", self.name)
        allowed = sorted(set(_JOB_STATES) | set(_CRAWLER_STATES))
        require_str(
            f"GlueCondition({self.name!r})", "state", self.state, allowed="expected one of " + ", ".join(allowed)
        )
        if self.state not in allowed:
            raise invalid(f"GlueCondition({self.name!r})", "state", self.state, "expected one of " + ", ".join(allowed))


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
        _require_name("GlueTrigger", "name", self.name)
        where = f"GlueTrigger({self.name!r})"
        actions = _as_tuple(where, "actions", self.actions)
        if not actions:
            raise invalid(where, "actions", list(actions), "expected at least one job or crawler name")
        object.__setattr__(self, "actions", actions)
        for i, action in enumerate(actions):
            _require_name(where, f"actions[{i}]", action)
        when = _as_tuple(where, "when", self.when)
        object.__setattr__(self, "when", when)
        for i, condition in enumerate(when):
            require_instance(where, f"when[{i}]", condition, GlueCondition, "expected a GlueCondition")
        if self.schedule is not None:
            if when:
                raise invalid(
                    where,
                    "schedule",
                    self.schedule,
                    "a trigger is either scheduled or conditional: drop schedule or when",
                )
            require_cron(
                where, "schedule", self.schedule, allowed="expected a Glue cron expression like 'cron(0 10 1 * ? *)'"
            )
        require_enum(where, "logical", self.logical, glue.PredicateLogical)
        require_bool(where, "enabled", self.enabled)
        _require_description(where, self.description)

    @property
    def kind(self) -> str:
        """``"SCHEDULED"``, ``"CONDITIONAL"`` or ``"ON_DEMAND"``."""
        if self.schedule is not None:
            return "SCHEDULED"
        return "CONDITIONAL" if self.when else "ON_DEMAND"


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
        _require_name("GlueWorkflow", "name", self.name)
        where = f"GlueWorkflow({self.name!r})"
        triggers = _as_tuple(where, "triggers", self.triggers)
        object.__setattr__(self, "triggers", triggers)
        for i, trigger in enumerate(triggers):
            require_instance(where, f"triggers[{i}]", trigger, GlueTrigger, "expected a GlueTrigger")
        starts = [t.name for t in triggers if t.kind != "CONDITIONAL"]
        if len(starts) != 1:
            raise invalid(
                where,
                "triggers",
                starts,
                "expected exactly one start trigger (scheduled or on-demand); the others must be conditional",
            )
        _require_int(where, "max_concurrent_runs", self.max_concurrent_runs, 1)
        object.__setattr__(self, "run_properties", _require_strings(where, "run_properties", self.run_properties))
        _require_description(where, self.description)


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
        where = "GlueEtlSpec"
        require_str(
            where,
            "database",
            self.database,
            pattern=_DATABASE,
            allowed="expected 1-255 lower-case letters, digits or '_'",
        )
        _require_description(where, self.database_description, "database_description")
        for prop, kind in (("jobs", GlueJob), ("crawlers", GlueCrawler), ("workflows", GlueWorkflow)):
            values = _as_tuple(where, prop, getattr(self, prop))
            object.__setattr__(self, prop, values)
            for i, value in enumerate(values):
                if not isinstance(value, kind) or type(value) is GlueJob:
                    expected = "GlueShellJob, GlueSparkJob or GlueStreamingJob" if kind is GlueJob else kind.__name__
                    raise wrong_type(where, f"{prop}[{i}]", value, f"expected a {expected}")
        if not isinstance(self.scripts_dir, (str, Path)) or not str(self.scripts_dir).strip():
            raise wrong_type(where, "scripts_dir", self.scripts_dir, "expected a directory path (str or pathlib.Path)")
        scripts = Path(self.scripts_dir)
        if not scripts.is_dir():
            raise invalid(
                where, "scripts_dir", str(self.scripts_dir), f"expected a directory (resolved: {scripts.resolve()})"
            )
        object.__setattr__(self, "scripts_dir", scripts)
        for i, job in enumerate(self.jobs):
            if not (scripts / job.script).is_file():
                present = sorted(p.name for p in scripts.glob("*.py"))
                raise invalid(
                    where, f"jobs[{i}].script", job.script, f"expected a script in {scripts}: one of {present}"
                )
        self._check_names()
        self._check_references()
        self._check_cycles()

    # -- reference checks -------------------------------------------------

    def _check_names(self) -> None:
        where = "GlueEtlSpec"
        _require_unique(where, "jobs", [j.name for j in self.jobs])
        _require_unique(where, "crawlers", [c.name for c in self.crawlers])
        jobs = {j.name for j in self.jobs}
        for i, crawler in enumerate(self.crawlers):
            if crawler.name in jobs:
                raise invalid(
                    where,
                    f"crawlers[{i}].name",
                    crawler.name,
                    "a job already has this name; job and crawler names must differ",
                )
        _require_unique(where, "workflows", [w.name for w in self.workflows])
        seen: dict[str, str] = {}
        for w, workflow in enumerate(self.workflows):
            for t, trigger in enumerate(workflow.triggers):
                if trigger.name in seen:
                    raise invalid(
                        where,
                        f"workflows[{w}].triggers[{t}].name",
                        trigger.name,
                        f"trigger names must be unique; already used in workflow {seen[trigger.name]!r}",
                    )
                seen[trigger.name] = workflow.name

    @property
    def job_names(self) -> tuple[str, ...]:
        """Names of the jobs, in spec order."""
        return tuple(j.name for j in self.jobs)

    @property
    def crawler_names(self) -> tuple[str, ...]:
        """Names of the crawlers, in spec order."""
        return tuple(c.name for c in self.crawlers)

    def _check_references(self) -> None:
        jobs = set(self.job_names)
        crawlers = set(self.crawler_names)
        known = ", ".join(repr(n) for n in (*self.job_names, *self.crawler_names)) or "(none defined)"
        for w, workflow in enumerate(self.workflows):
            started: set[str] = set()
            for t, trigger in enumerate(workflow.triggers):
                prop = f"workflows[{w}].triggers[{t}]"
                for a, action in enumerate(trigger.actions):
                    if action not in jobs and action not in crawlers:
                        raise invalid(
                            "GlueEtlSpec",
                            f"{prop}.actions[{a}]",
                            action,
                            f"expected the name of a job or crawler of this spec: {known}",
                        )
                    started.add(action)
            for t, trigger in enumerate(workflow.triggers):
                prop = f"workflows[{w}].triggers[{t}]"
                for c, condition in enumerate(trigger.when):
                    if condition.name not in jobs and condition.name not in crawlers:
                        raise invalid(
                            "GlueEtlSpec",
                            f"{prop}.when[{c}].name",
                            condition.name,
                            f"expected the name of a job or crawler of this spec: {known}",
                        )
                    states = _JOB_STATES if condition.name in jobs else _CRAWLER_STATES
                    if condition.state not in states:
                        kind = "job" if condition.name in jobs else "crawler"
                        raise invalid(
                            "GlueEtlSpec",
                            f"{prop}.when[{c}].state",
                            condition.state,
                            f"{condition.name!r} is a {kind}; expected one of " + ", ".join(states),
                        )
                    if condition.name not in started:
                        raise invalid(
                            "GlueEtlSpec",
                            f"{prop}.when[{c}].name",
                            condition.name,
                            f"workflow {workflow.name!r} never starts it; expected one of "
                            + ", ".join(repr(s) for s in sorted(started)),
                        )

    def _check_cycles(self) -> None:
        # Edge: a condition's job/crawler -> each action of its trigger (per workflow).
        for w, workflow in enumerate(self.workflows):
            edges: dict[str, list[tuple[str, str]]] = {}
            for trigger in workflow.triggers:
                for condition in trigger.when:
                    for action in trigger.actions:
                        edges.setdefault(condition.name, []).append((action, trigger.name))
            found = _find_cycle(edges)
            if found is not None:
                cycle, trigger_name = found
                raise invalid(
                    "GlueEtlSpec",
                    f"workflows[{w}].triggers",
                    trigger_name,
                    "trigger conditions form a cycle (" + " -> ".join(cycle) + "); expected an acyclic workflow",
                )

    # -- what the workload needs --------------------------------------------

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
        for job in self.jobs:
            for value in job.reads:
                loc = parse_location("", "", value)
                found.setdefault(str(loc), (loc, False))
            for value in job.writes:
                loc = parse_location("", "", value)
                found[str(loc)] = (loc, True)
        for crawler in self.crawlers:
            for value in crawler.s3_targets:
                loc = parse_location("", "", value)
                found.setdefault(str(loc), (loc, False))
        return tuple(found.values())
