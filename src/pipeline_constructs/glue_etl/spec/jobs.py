"""The jobs of a spec: Python shell, PySpark ETL and PySpark streaming jobs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_glue as glue

from pipeline_constructs.core.validation import (
    invalid,
    is_token,
    require_bool,
    require_duration,
    require_enum,
    require_int,
    require_mapping,
    require_str,
    wrong_type,
)
from pipeline_constructs.glue_etl.spec._checks import require_description, require_name, tuple_field
from pipeline_constructs.glue_etl.spec.locations import require_location

__all__ = ["ARGUMENT_PLACEHOLDERS", "GlueJob", "GlueShellJob", "GlueSparkJob", "GlueStreamingJob"]

_SCRIPT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,250}\.py")
_ARGUMENT = re.compile(r"--[A-Za-z0-9_.-]{1,126}")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

#: Placeholders an argument value may contain; the workload replaces them with the deployed values.
ARGUMENT_PLACEHOLDERS: Mapping[str, str] = {
    "data_bucket": "name of the workload's data bucket",
    "database": "name of the spec's Glue database",
}

#: The states a condition on a job may watch.
JOB_STATES = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED")

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


def _one_of(values: tuple[Any, ...]) -> str:
    return "expected one of " + ", ".join(v.name for v in values)


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

    @property
    def _where(self) -> str:
        return f"{self.kind}({self.name!r})"

    def __post_init__(self) -> None:
        require_name(self.kind, "name", self.name)
        where = self._where
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
        for key, value in arguments.items():
            self._check_argument(where, key, value)
        for prop in ("reads", "writes"):
            tuple_field(self, where, prop, item=require_location, allowed="expected a list or tuple of S3 locations")
        require_bool(where, "emits_events", self.emits_events)
        require_int(where, "max_retries", self.max_retries, minimum=0, maximum=10)
        require_int(where, "max_concurrent_runs", self.max_concurrent_runs, minimum=1)
        require_description(where, self.description)
        if self.timeout is not None:
            self._check_timeout(where, self.timeout)

    def _check_timeout(self, where: str, timeout: cdk.Duration) -> None:
        require_duration(where, "timeout", timeout)
        if is_token(timeout.to_string()):
            return
        minutes = timeout.to_minutes(integral=False)
        if not 1 <= minutes <= self.max_timeout_minutes or minutes != int(minutes):
            raise invalid(
                where,
                "timeout",
                timeout.to_human_string(),
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
        prop = f"arguments[{key!r}]"
        if key in _MANAGED_ARGUMENTS or key.startswith("--continuous-log-"):
            raise invalid(
                where,
                prop,
                value,
                "this argument is managed by the workload or the Glue L2 construct; use its prop "
                "(bookmarks, timeout...) or remove it",
            )
        require_str(where, prop, value, allowed="expected a string value", min_length=0, tokens=True)
        unknown = [p for p in _PLACEHOLDER.findall(value) if p not in ARGUMENT_PLACEHOLDERS]
        if unknown:
            allowed = ", ".join("{" + p + "}" for p in ARGUMENT_PLACEHOLDERS)
            raise invalid(where, prop, value, "unknown placeholder {" + unknown[0] + "}; allowed: " + allowed)


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
                self._where,
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
        where = self._where
        require_enum(where, "glue_version", self.glue_version, glue.GlueVersion)
        require_enum(where, "worker_type", self.worker_type, glue.WorkerType)
        if self.glue_version not in _SPARK_VERSIONS:
            raise invalid(where, "glue_version", self.glue_version, _one_of(_SPARK_VERSIONS))
        workers = self._allowed_workers()
        if self.worker_type not in workers:
            raise invalid(where, "worker_type", self.worker_type, _one_of(workers))
        require_int(where, "number_of_workers", self.number_of_workers, minimum=2)
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
                self._where,
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
