"""One CodePipeline job, run safely: the machinery every pipeline Lambda handler shares.

Standard library and boto3 only. It ships in each handler's asset next to the
handler, which imports it as a top-level module there (and as part of the
package in tests).

What :func:`run_job` guarantees for any ``work(job)`` function:

* **Exactly one result.** The first of the work and the watchdog to report
  wins: ``PutJobSuccessResult`` (with or without a continuation token) or
  ``PutJobFailureResult``; nothing reports a second time. CodePipeline's
  ``InvalidJobStateException`` means the job already has its result (a lost
  race with an earlier delivery): it is not sent again.
* **One watchdog, one time budget.** The budget comes from
  ``context.get_remaining_time_in_millis()``. At its deadline (the function's
  timeout minus :attr:`Policy.watchdog_margin`: the worst case of sending a
  report plus one in-flight call) the watchdog reports a failure. From the
  moment any report starts, no further mutating call starts, an in-flight
  abortable one (an upload) stops at its next read, and the work stops at its
  next AWS call. The invocation itself returns once the report is sent, so a
  hung call cannot keep it running to the function's timeout.
* **Idempotent by job id.** Before its first change the work claims the job
  with a conditional write (S3 ``PutObject`` with ``IfNoneMatch='*'`` of
  ``<prefix><job id>.json``); mutating calls are refused without the claim. A
  delivery that loses the claim changes nothing and reports nothing: the owner
  reports. Only when the owner provably ended without reporting (its
  invocation deadline, recorded in the claim, has passed and the claim never
  recorded a result) does one later delivery take the claim over (``IfMatch``
  on the claim's ETag) and report a *failure*; a claim record never causes a
  success.
* **Every AWS call through one retry helper** (:meth:`Job.call`): throttling
  and transient errors are retried with capped exponential backoff and full
  jitter, within the budget. A call that is not idempotent is retried only when
  the error proves the request was not executed (throttling, no connection);
  otherwise :class:`OutcomeUnknownError` tells the caller to look before retrying.
* **Reporting retried** the same way. A result that still cannot be sent
  raises :class:`ReportError`: the invocation fails, and Lambda sends the
  event to the function's on-failure destination / dead-letter queue, which an
  alarm watches.
* **Structured logs**: one JSON object per line (:func:`log`).

Numbers (:class:`Policy`) come from the ``PIPELINE_JOB_POLICY`` environment
variable the construct writes; the defaults here are the same.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
)

if TYPE_CHECKING:  # pragma: no cover - stubs are a dev dependency only
    from mypy_boto3_codepipeline import CodePipelineClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sts import STSClient

__all__ = [
    "ARTIFACT_BUCKET_ENV",
    "POLICY_ENV",
    "Budget",
    "ClaimStore",
    "ConfigurationError",
    "JobAbortedError",
    "JobFailedError",
    "OutcomeUnknownError",
    "Policy",
    "ReportError",
    "RetryPolicy",
    "SessionClients",
    "artifact_bucket",
    "clip",
    "dump_token",
    "entry_points",
    "error_code",
    "function_region",
    "input_artifact",
    "job_id_of",
    "job_policy",
    "load_token",
    "log",
    "run_job",
    "text",
]

#: Environment variable holding the :class:`Policy` as JSON (written by the construct).
POLICY_ENV = "PIPELINE_JOB_POLICY"
#: Environment variable naming the pipeline's artifact bucket: the only bucket input artifacts may come
#: from, and where job claims are kept (written by the construct).
ARTIFACT_BUCKET_ENV = "ARTIFACT_BUCKET"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)
#: Lambda's longest timeout: the budget when the context does not say.
MAX_FUNCTION_SECONDS = 900.0
#: CodePipeline's limits on what a result carries.
SUMMARY_LIMIT = 2048
FAILURE_MESSAGE_LIMIT = 5000
CONTINUATION_TOKEN_LIMIT = 2048
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", re.ASCII)

# botocore's own lists (botocore/retries/standard.py): throttled requests were not executed...
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "TooManyUpdates",  # SSM: one update at a time
        "ConditionalRequestConflict",  # S3 409 on concurrent conditional writes: "retry the request"
    }
)
# ... while these may or may not have been (a timeout or a 5xx after the request arrived).
TRANSIENT_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServiceError",
        "InternalServiceException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServiceFailure",
    }
)
#: The AWS clients of a handler (its own class; tests replace it).
C = TypeVar("C")
C_contra = TypeVar("C_contra", contravariant=True)
#: A handler's continuation state.
S = TypeVar("S")
_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
PERMISSION_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403"})


def artifact_bucket(environ: Mapping[str, str]) -> str:
    """The pipeline's artifact bucket, fixed at synth (``ARTIFACT_BUCKET``); never taken from the event."""
    bucket = environ.get(ARTIFACT_BUCKET_ENV, "")
    if not _BUCKET.fullmatch(bucket):
        raise JobFailedError(
            f"{ARTIFACT_BUCKET_ENV} is not set to a bucket name on the function ({bucket!r})", "ConfigurationError"
        )
    return bucket


def function_region(environ: Mapping[str, str] | None = None) -> str:
    """The function's own region (``AWS_REGION``, else ``AWS_DEFAULT_REGION``): where the artifact bucket is.

    :raises ConfigurationError: when neither is set.
    """
    env = os.environ if environ is None else environ
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        raise ConfigurationError("AWS_REGION is not set: cannot find the artifact bucket's region")
    return region


def text(data: Mapping[str, Any], key: str) -> str:
    """``data[key]`` if it is a non-empty string (configuration parsing); ``KeyError``/``ValueError`` if not."""
    value = data[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string, not {value!r}")
    return value


def user_parameters(data: Mapping[str, Any], allowed: frozenset[str], *, expected: str) -> dict[str, Any]:
    """The job's ``UserParameters``: a JSON object with no key outside ``allowed``.

    :param expected: what the parameters look like, for messages (``"{'region': ...}"``).
    :raises JobFailedError: ``ConfigurationError`` otherwise.
    """
    raw = ((data.get("actionConfiguration") or {}).get("configuration") or {}).get("UserParameters")
    if not isinstance(raw, str) or not raw:
        raise JobFailedError(f"the action has no UserParameters; expected {expected}", "ConfigurationError")
    try:
        params = json.loads(raw)
    except ValueError as err:
        raise JobFailedError(
            f"UserParameters is not JSON: {clip(raw, 200)!r} is not valid JSON ({err}); expected {expected}",
            "ConfigurationError",
        ) from None
    if not isinstance(params, dict):
        raise JobFailedError(
            f"UserParameters must be a JSON object, not {type(params).__name__}; expected {expected}",
            "ConfigurationError",
        )
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise JobFailedError(
            f"UserParameters has unknown keys {unknown}; allowed: {sorted(allowed)}", "ConfigurationError"
        )
    return params


def input_artifact(
    data: Mapping[str, Any], *, bucket: str, claims_prefix: str, what: str
) -> tuple[dict[str, str], Mapping[str, Any]]:
    """The job's one input artifact (its S3 location) and its credentials, if the pipeline built it.

    The artifact must be an object of ``bucket`` (the pipeline's artifact bucket, fixed at synth) outside
    the claims prefix; anything else is refused before anything is read.

    :param what: what the artifact holds, for messages.
    :raises JobFailedError: ``ConfigurationError`` for any other event.
    """
    inputs = data.get("inputArtifacts")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], Mapping):
        count = len(inputs) if isinstance(inputs, list) else 0
        raise JobFailedError(f"expected exactly one input artifact ({what}), got {count}", "ConfigurationError")
    location = (inputs[0].get("location") or {}).get("s3Location") or {}
    name, key = location.get("bucketName"), location.get("objectKey")
    if not isinstance(name, str) or not isinstance(key, str) or not key:
        raise JobFailedError(
            f"the input artifact has no S3 location: {clip(repr(location), 300)}", "ConfigurationError"
        )
    if name != bucket:
        raise JobFailedError(
            f"the input artifact is in bucket {clip(name, 100)!r}, not this pipeline's artifact bucket: refused",
            "ConfigurationError",
        )
    if key.startswith(("/", claims_prefix)) or ".." in key.split("/") or len(key.encode()) > 1024:
        raise JobFailedError(
            f"the input artifact key {clip(key, 200)!r} is not a pipeline artifact: refused", "ConfigurationError"
        )
    credentials = data.get("artifactCredentials")
    if not isinstance(credentials, Mapping) or not all(
        isinstance(credentials.get(k), str) for k in ("accessKeyId", "secretAccessKey", "sessionToken")
    ):
        raise JobFailedError("the job carries no artifact credentials", "ConfigurationError")
    return {"bucketName": name, "objectKey": key}, credentials


def dump_token(state: Any) -> str:
    """A continuation token: the handler's state (a dataclass) as compact, key-sorted JSON."""
    return json.dumps(asdict(state), separators=(",", ":"), sort_keys=True)


def load_token(kind: Callable[..., S], token: Any) -> S | None:
    """``kind(**fields)`` of a token :func:`dump_token` wrote, or ``None`` for anything that is not one
    (the handler then checks the fields and refuses the token)."""
    try:
        data = json.loads(token) if isinstance(token, str) else None
        return kind(**data) if isinstance(data, dict) else None
    except (ValueError, TypeError):
        return None


def log(level: str, message: str, **fields: Any) -> None:
    """Write one structured log line: a JSON object with ``level``, ``message`` and ``fields``."""
    line = json.dumps({"level": level, "message": message, **fields}, default=str, sort_keys=True)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying so."""
    return text if len(text) <= limit else text[: limit - 15] + " …[truncated]"


def error_code(err: BaseException) -> str:
    """The AWS error code of a ``ClientError`` (``""`` for anything else)."""
    if isinstance(err, ClientError):
        return str(err.response.get("Error", {}).get("Code", ""))
    return ""


def _status(err: ClientError) -> int:
    try:
        return int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    except (TypeError, ValueError):
        return 0


def _not_executed(err: BaseException) -> bool:
    """The request certainly did not run: safe to retry even when it changes something."""
    if isinstance(err, (EndpointConnectionError, ConnectTimeoutError)):
        return True
    return isinstance(err, ClientError) and (error_code(err) in THROTTLING_CODES or _status(err) == 429)


def _transient(err: BaseException) -> bool:
    """Retrying may help (the request may or may not have run)."""
    if _not_executed(err):
        return True
    if isinstance(err, ClientError):
        return error_code(err) in TRANSIENT_CODES or _status(err) in _TRANSIENT_STATUS
    return isinstance(err, BotoCoreError)  # read timeouts, closed connections, streaming errors


# --------------------------------------------------------------------------- errors


class JobFailedError(Exception):
    """A clear, expected failure: reported as ``PutJobFailureResult``.

    :param kind: CodePipeline ``failureDetails.type``: ``JobFailed``,
        ``ConfigurationError``, ``PermissionError``, ``RevisionUnavailable``...
    """

    def __init__(self, message: str, kind: str = "JobFailed") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


class ConfigurationError(JobFailedError):
    """The job's parameters or the function's configuration are wrong: retrying will not help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "ConfigurationError")


class JobAbortedError(Exception):
    """The job already has (or is getting) its result: stop without changing anything."""


class OutcomeUnknownError(Exception):
    """A call that changes something failed in a way that does not say whether it ran."""

    def __init__(self, what: str, error: BaseException) -> None:
        super().__init__(f"{what}: outcome unknown ({error})")
        self.what = what
        self.error = error


class ReportError(Exception):
    """The job's result could not be sent: the invocation fails, for the on-failure destination."""


# --------------------------------------------------------------------------- policy and budget


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries of one AWS call: ``attempts`` tries, each bounded by the client's timeouts."""

    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 2.0
    connect_timeout: float = 3.0
    read_timeout: float = 8.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based): full jitter under a capped exponential."""
        return random.uniform(0.0, self.cap(attempt))

    def cap(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))

    def attempt_seconds(self) -> float:
        """The longest one attempt can take (the client's connect + read timeouts)."""
        return self.connect_timeout + self.read_timeout

    def worst_case_seconds(self) -> float:
        """The longest the call can take with every attempt timing out and every backoff at its cap."""
        return self.attempts * self.attempt_seconds() + sum(self.cap(a) for a in range(1, self.attempts))

    def client_config(self, **overrides: Any) -> Config:
        """botocore configuration: these timeouts, and no retries of its own (this policy retries)."""
        return Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
            **overrides,
        )


@dataclass(frozen=True)
class Policy:
    """Retry and time numbers of a job (``PIPELINE_JOB_POLICY``, written by the construct)."""

    calls: RetryPolicy = field(default_factory=RetryPolicy)
    reports: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(
            attempts=5, base_delay=0.2, max_delay=2.0, connect_timeout=2.0, read_timeout=4.0
        )
    )
    #: A duplicate delivery treats the owner as gone this long after the owner's recorded deadline.
    takeover_after_seconds: float = 30.0

    @property
    def watchdog_margin(self) -> float:
        """Seconds before the function's timeout at which the watchdog reports.

        Enough to wait for one in-flight call to end and then send the report with all its retries.
        """
        return self.reports.worst_case_seconds() + self.calls.attempt_seconds() + 1.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Policy:
        raw = environ.get(POLICY_ENV)
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            return cls(
                calls=RetryPolicy(**_retry_fields(data["calls"])),
                reports=RetryPolicy(**_retry_fields(data["reports"])),
                takeover_after_seconds=float(data.get("takeoverAfterSeconds", 30.0)),
            )
        except (ValueError, KeyError, TypeError) as err:
            raise JobFailedError(f"{POLICY_ENV} is malformed: {err!r}", "ConfigurationError") from None


def job_policy(environ: Mapping[str, str] | None = None) -> Policy:
    """The :class:`Policy` a handler's clients use: the defaults while ``PIPELINE_JOB_POLICY`` is malformed
    (:func:`run_job` reports that as the job's failure)."""
    try:
        return Policy.from_env(os.environ if environ is None else environ)
    except JobFailedError:  # reported by the job itself; the clients use the defaults meanwhile
        return Policy()


def _retry_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    names = {
        "attempts": "attempts",
        "baseDelay": "base_delay",
        "maxDelay": "max_delay",
        "connectTimeout": "connect_timeout",
        "readTimeout": "read_timeout",
    }
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names or isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{key}={value!r}")
        out[names[key]] = int(value) if key == "attempts" else float(value)
    if out.get("attempts", 1) < 1:
        raise ValueError("attempts must be at least 1")
    return out


class Budget:
    """The invocation's time: its end (the function's timeout) and the watchdog's deadline before it."""

    def __init__(self, context: Any, margin: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        seconds = MAX_FUNCTION_SECONDS
        if callable(remaining):
            try:
                seconds = max(0.0, float(remaining()) / 1000.0)
            except (TypeError, ValueError):
                seconds = MAX_FUNCTION_SECONDS
        start = clock()
        self.total = seconds
        self.end = start + seconds
        self.deadline = self.end - margin

    def left(self) -> float:
        """Seconds until the watchdog's deadline (negative once it has passed)."""
        return self.deadline - self._clock()

    def until_end(self) -> float:
        """Seconds until the function's timeout."""
        return self.end - self._clock()


# --------------------------------------------------------------------------- the job


class Job:
    """One CodePipeline job of one invocation: its AWS calls, its claim and its one result."""

    def __init__(
        self,
        job_id: str,
        codepipeline: Any,
        *,
        name: str,
        policy: Policy,
        budget: Budget,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.id = job_id
        self.name = name
        self.policy = policy
        self.budget = budget
        self.wall = wall
        self.fields: dict[str, Any] = {"jobId": job_id, "handler": name}
        self.step = "starting"
        self.outcome: str | None = None
        self.report_error: ReportError | None = None
        self._codepipeline = codepipeline
        self._report_lock = threading.Lock()
        self._gate = threading.Lock()
        self._closing = threading.Event()
        self._sent = threading.Event()
        self._claim: ClaimStore | None = None
        self._claim_etag: str | None = None

    # -------------------------------------------------------------- logging
    def log(self, level: str, message: str, **fields: Any) -> None:
        log(level, message, **self.fields, **fields)

    # -------------------------------------------------------------- state
    @property
    def closing(self) -> bool:
        """Whether a result is being or was reported (or this delivery stood down)."""
        return self._closing.is_set()

    @property
    def claimed(self) -> bool:
        return self._claim is not None

    def check_open(self) -> None:
        if self._closing.is_set():
            raise JobAbortedError(f"job {self.id} already has its result")

    def sleep(self, seconds: float) -> None:
        """Wait, but stop as soon as the job gets its result."""
        if self._closing.wait(max(0.0, seconds)):
            raise JobAbortedError(f"job {self.id} already has its result")

    # -------------------------------------------------------------- AWS calls
    def call(
        self,
        what: str,
        method: Callable[..., Any],
        /,
        *,
        mutating: bool = False,
        idempotent: bool = True,
        after_result: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Call ``method(**kwargs)`` with bounded retries of throttling and transient errors.

        :param what: what the call does, for logs and messages.
        :param mutating: it changes something outside the claim store: needs the job's claim, never
            starts once a result is being reported, and the watchdog waits for it before reporting.
        :param idempotent: calling it twice does no more than once. Otherwise only errors proving
            the request did not run are retried; an ambiguous one raises :class:`OutcomeUnknownError`.
        :param after_result: the one call made once the result is sent (recording it in the claim).
        """
        retry = self.policy.calls
        attempt = 0
        while True:
            attempt += 1
            if not after_result:
                self.check_open()
            try:
                if mutating:
                    with self._gate:
                        self.check_open()
                        if self._claim is None:
                            raise RuntimeError(f"{what}: refused, job {self.id} is not claimed")
                        self.step = what
                        return method(**kwargs)
                self.step = what
                return method(**kwargs)
            except (ClientError, BotoCoreError) as err:
                if self._closing.is_set() and not after_result:
                    raise JobAbortedError(f"job {self.id} already has its result") from err
                if not _transient(err):
                    raise
                if mutating and not idempotent and not _not_executed(err):
                    raise OutcomeUnknownError(what, err) from err
                delay = retry.delay(attempt)
                if attempt >= retry.attempts or self.budget.left() < delay + retry.attempt_seconds():
                    self.log("WARN", "giving up retrying", call=what, attempts=attempt, error=str(err))
                    raise
                self.log("INFO", "retrying", call=what, attempt=attempt, error=str(err), delay=round(delay, 3))
                if after_result:
                    time.sleep(delay)
                else:
                    self.sleep(delay)

    def abortable(self, body: IO[bytes]) -> AbortableReader:
        """``body`` for an upload that stops as soon as the job gets its result."""
        return AbortableReader(body, self)

    # -------------------------------------------------------------- claim
    def claim(self, store: ClaimStore) -> bool:
        """Claim the job before its first change.

        ``False``: stop now. Another delivery owns the job (this one stood down), or the delivery that
        owned it ended without a result and this one reported the failure.
        """
        won, etag, takeover = store.claim(self)
        if not won:
            return False
        self._claim, self._claim_etag = store, etag
        if takeover:
            self.fail(
                "an earlier delivery of this job claimed it and ended without reporting a result (it crashed or "
                "timed out); whatever it changed is not rolled back. Retry the action."
            )
            return False
        return True

    # -------------------------------------------------------------- results
    def succeed(
        self, summary: str, *, variables: Mapping[str, str] | None = None, continuation_token: str | None = None
    ) -> bool:
        """Report success (or, with ``continuation_token``, "call me again"). ``False``: already reported."""
        details: dict[str, Any] = {"summary": clip(summary, SUMMARY_LIMIT)}
        kwargs: dict[str, Any] = {"jobId": self.id}
        if continuation_token is not None:
            if len(continuation_token) > CONTINUATION_TOKEN_LIMIT:
                raise JobFailedError(f"continuation token too long ({len(continuation_token)} characters)")
            kwargs["continuationToken"] = continuation_token
            details["percentComplete"] = 50
        else:
            details["percentComplete"] = 100
            if variables:
                kwargs["outputVariables"] = dict(variables)
        kwargs["executionDetails"] = details
        outcome = "continued" if continuation_token is not None else "succeeded"
        if not self._begin(outcome):
            return False
        self._send("put_job_success_result", kwargs, outcome, summary)
        return True

    def fail(self, message: str, kind: str = "JobFailed") -> bool:
        """Report failure. ``False``: the job already has (or is getting) its result."""
        if not self._begin("failed"):
            return False
        self._send_failure(message, kind)
        return True

    def stand_down(self, reason: str) -> None:
        """End without reporting: another delivery of this job owns it."""
        if self._begin("duplicate"):
            self.log("INFO", "duplicate delivery: standing down without a result", reason=reason)
            self._sent.set()

    def expire(self) -> None:
        """The watchdog: report a failure at the deadline unless a result is already on its way."""
        if not self._begin("failed"):
            return
        # Wait for an in-flight change to end (bounded by the client's timeouts), so none lands after the report.
        spare = self.budget.until_end() - self.policy.reports.worst_case_seconds() - 0.5
        wait = max(0.0, min(self.policy.calls.attempt_seconds(), spare))
        got = self._gate.acquire(timeout=wait)
        try:
            in_flight = "" if got else f" ({self.step} was still in progress; its outcome is unknown)"
            message = (
                f"{self.name} ran out of time after {int(self.budget.total)} s of its Lambda timeout while: "
                f"{self.step}{in_flight}. Nothing more will be changed by this run; retry the action."
            )
            self.log("ERROR", "watchdog: reporting failure before the function times out", step=self.step)
            self._send_failure(message, "JobFailed")
        finally:
            if got:
                self._gate.release()

    def wait_sent(self, timeout: float) -> bool:
        return self._sent.wait(max(0.0, timeout))

    def _begin(self, outcome: str) -> bool:
        with self._report_lock:
            if self._closing.is_set():
                self.log("INFO", "result already reported; not reporting again", wanted=outcome, outcome=self.outcome)
                return False
            self._closing.set()
            self.outcome = outcome
            return True

    def _send_failure(self, message: str, kind: str) -> None:
        kwargs = {"jobId": self.id, "failureDetails": {"type": kind, "message": clip(message, FAILURE_MESSAGE_LIMIT)}}
        self._send("put_job_failure_result", kwargs, "failed", message)

    def _send(self, method: str, kwargs: dict[str, Any], outcome: str, text: str) -> None:
        retry = self.policy.reports
        try:
            for attempt in range(1, retry.attempts + 1):
                try:
                    getattr(self._codepipeline, method)(**kwargs)
                    self.log("INFO", f"job {outcome}", result=method, summary=clip(text, SUMMARY_LIMIT))
                    break
                except (ClientError, BotoCoreError) as err:
                    code = error_code(err)
                    if code == "InvalidJobStateException":
                        # The job already has a result (an earlier delivery, or our own attempt that timed out).
                        self.outcome = "already-reported"
                        self.log("WARN", "CodePipeline already has this job's result", wanted=outcome, error=str(err))
                        break
                    if (
                        not _transient(err)
                        or attempt == retry.attempts
                        or self.budget.until_end() < 2 * retry.attempt_seconds()
                    ):
                        raise ReportError(
                            f"could not report {outcome} for job {self.id} after {attempt} attempt(s): {err}"
                        ) from err
                    delay = retry.delay(attempt)
                    self.log("WARN", "retrying the report", attempt=attempt, error=str(err), delay=round(delay, 3))
                    time.sleep(delay)
            self._record()
        except ReportError as err:
            self.report_error = err
            self.log(
                "ERROR", "the result could not be sent; the invocation fails for the dead-letter queue", error=str(err)
            )
        finally:
            self._sent.set()

    def _record(self) -> None:
        if self._claim is None or self.outcome is None:
            return
        try:
            self._claim.record(self, self.outcome, self._claim_etag)
        except Exception as err:  # the result is sent; a stale claim only makes a late duplicate stand down
            self.log("WARN", "could not record the result in the claim", error=repr(err))


class AbortableReader:
    """A file for an upload that raises :class:`JobAbortedError` on the next read once the job has its result."""

    def __init__(self, body: IO[bytes], job: Job) -> None:
        self._body = body
        self._job = job

    def read(self, size: int = -1) -> bytes:
        self._job.check_open()
        return self._body.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._body.seek(offset, whence)

    def tell(self) -> int:
        return self._body.tell()

    def close(self) -> None:  # botocore closes bodies it owns; the caller owns this file
        pass


# --------------------------------------------------------------------------- claims


class ClaimStore:
    """Job claims as S3 objects ``<prefix><job id>.json``, created with a conditional write.

    :param s3: an S3 client with the function's own credentials.
    :param bucket: the pipeline's artifact bucket (fixed at synth).
    :param prefix: key prefix of this function's claims (fixed at synth).
    """

    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix

    def key(self, job_id: str) -> str:
        return f"{self.prefix}{job_id}.json"

    def claim(self, job: Job) -> tuple[bool, str | None, bool]:
        """``(owns the job, claim ETag, took it over from an owner that ended without a result)``."""
        nonce = uuid.uuid4().hex
        record = {
            "jobId": job.id,
            "nonce": nonce,
            "state": "claimed",
            "claimedAt": job.wall(),
            "deadline": job.wall() + max(0.0, job.budget.until_end()),
        }
        key = self.key(job.id)
        try:
            put = self._put(job, "claim the job", record, {"IfNoneMatch": "*"})
            job.log("INFO", "job claimed", claim=f"s3://{self.bucket}/{key}")
            return True, _etag(put), False
        except ClientError as err:
            if error_code(err) not in ("PreconditionFailed", "412"):
                raise
        existing, etag = self._read(job, key)
        if existing.get("nonce") == nonce:  # our own write landed before a retried attempt
            return True, etag, False
        return self._lost(job, existing, etag)

    def _read(self, job: Job, key: str) -> tuple[dict[str, Any], str | None]:
        response = job.call("read the job's claim", self.s3.get_object, Bucket=self.bucket, Key=key)
        try:
            data = json.loads(response["Body"].read())
        except ValueError:
            data = None
        if not isinstance(data, dict) or data.get("jobId") != job.id:
            raise RuntimeError(f"the claim s3://{self.bucket}/{key} is not one this function wrote")
        return data, _etag(response)

    def _lost(self, job: Job, existing: Mapping[str, Any], etag: str | None) -> tuple[bool, str | None, bool]:
        state = existing.get("state")
        deadline = existing.get("deadline")
        owner_gone = (
            state == "claimed"
            and isinstance(deadline, (int, float))
            and not isinstance(deadline, bool)
            and job.wall() > float(deadline) + job.policy.takeover_after_seconds
        )
        if owner_gone and etag:
            # The owner's invocation is over and it never recorded a result: take over, to report a failure.
            record = {**existing, "nonce": uuid.uuid4().hex, "state": "taken-over", "takenOverAt": job.wall()}
            try:
                put = self._put(job, "take over the job's claim", record, {"IfMatch": etag})
            except ClientError as err:
                if error_code(err) not in ("PreconditionFailed", "412"):
                    raise
            else:
                job.log("WARN", "the delivery that claimed this job ended without a result; taking over")
                return True, _etag(put), True
        job.stand_down(f"claimed by another delivery (state {state!r})")
        return False, None, False

    def record(self, job: Job, outcome: str, etag: str | None) -> None:
        record = {"jobId": job.id, "state": "reported", "outcome": outcome, "reportedAt": job.wall()}
        condition: dict[str, Any] = {"IfMatch": etag} if etag else {}  # only over our own claim
        self._put(job, "record the result in the claim", record, condition, after_result=True)

    def _put(
        self, job: Job, what: str, record: Mapping[str, Any], condition: dict[str, Any], *, after_result: bool = False
    ) -> Any:
        """Write the job's claim object (``condition``: ``IfNoneMatch`` or ``IfMatch``, or none)."""
        return job.call(
            what,
            self.s3.put_object,
            after_result=after_result,
            Bucket=self.bucket,
            Key=self.key(job.id),
            Body=json.dumps(record).encode(),
            ContentType="application/json",
            **condition,
        )


def _etag(response: Mapping[str, Any]) -> str | None:
    etag = response.get("ETag")
    return str(etag) if etag else None


# --------------------------------------------------------------------------- the supervisor


def job_id_of(event: Any) -> tuple[str, Mapping[str, Any]]:
    """The job id and the job of a CodePipeline event; ``ValueError`` (nothing can be reported) otherwise."""
    job = event.get("CodePipeline.job") if isinstance(event, Mapping) else None
    job_id = job.get("id") if isinstance(job, Mapping) else None
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        keys = sorted(str(k) for k in event) if isinstance(event, Mapping) else type(event).__name__
        log("ERROR", "event is not a CodePipeline job; nothing can be reported", event_keys=keys)
        raise ValueError("expected a CodePipeline job event ('CodePipeline.job' with an 'id')")
    assert isinstance(job, Mapping)
    return job_id, job


def run_job(
    event: Any,
    context: Any,
    *,
    name: str,
    codepipeline: Callable[[], Any],
    work: Callable[[Job, Mapping[str, Any]], None],
    policy: Policy | None = None,
    wall: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Run ``work(job, job_data)`` under the watchdog; return ``{"jobId", "outcome"}`` once reported.

    ``work`` reports through ``job.succeed``/``job.fail`` (or raises: :class:`JobFailedError` is reported
    with its kind, anything else as an unexpected error). Raises ``ValueError`` for an event that is
    not a CodePipeline job and :class:`ReportError` when the result could not be sent.
    """
    job_id, data = job_id_of(event)
    try:
        policy = policy or Policy.from_env(os.environ)
        policy_error: JobFailedError | None = None
    except JobFailedError as err:
        policy, policy_error = Policy(), err
    job = Job(
        job_id, codepipeline(), name=name, policy=policy, budget=Budget(context, policy.watchdog_margin), wall=wall
    )
    done = threading.Event()

    def target() -> None:
        try:
            if policy_error is not None:
                raise policy_error
            work(job, data)
        except JobAbortedError:
            job.log("INFO", "stopped: the job already has its result", step=job.step)
        except JobFailedError as err:
            job.log("ERROR", "job failed", kind=err.kind, error=err.message)
            job.fail(err.message, err.kind)
        except OutcomeUnknownError as err:
            job.log("ERROR", "a change may or may not have been made", error=str(err))
            job.fail(f"{err}. Check the target before retrying the action.")
        except ClientError as err:
            code = error_code(err)
            job.log("ERROR", "AWS call failed", step=job.step, error=str(err))
            job.fail(f"{job.step}: {err}", "PermissionError" if code in PERMISSION_CODES else "JobFailed")
        except Exception as err:
            job.log("ERROR", "unexpected error", step=job.step, error=repr(err), trace=traceback.format_exc())
            job.fail(f"unexpected error while {job.step}: {type(err).__name__}: {err}")
        finally:
            if not job.closing:  # a work function that returned without a result is a bug: never a silent hang
                job.fail(f"{name} ended without a result while: {job.step}")
            done.set()

    worker = threading.Thread(target=target, name=f"job-{job_id}", daemon=True)
    worker.start()
    if not done.wait(max(0.0, job.budget.left())):
        job.expire()
    if not job.wait_sent(job.budget.until_end() - 0.5):
        raise ReportError(f"job {job_id}: no result was sent before the function's timeout")
    if job.report_error is not None:
        raise job.report_error
    return {"jobId": job_id, "outcome": job.outcome}


def handle(
    event: Any,
    context: Any,
    *,
    name: str,
    clients: Callable[[], C],
    codepipeline: Callable[[C], Any],
    work: Callable[[Job, Mapping[str, Any], C], None],
) -> dict[str, Any]:
    """A handler's entry point: :func:`run_job` with ``work(job, the job's data, clients)``.

    An event that is not a CodePipeline job raises ``ValueError`` before any client is created.

    :param clients: creates the handler's AWS clients (tests pass fakes).
    :param codepipeline: the CodePipeline client among them.
    """
    job_id_of(event)
    resolved = clients()
    return run_job(
        event,
        context,
        name=name,
        codepipeline=lambda: codepipeline(resolved),
        work=lambda job, data: work(job, data.get("data") or {}, resolved),
    )


class Run(Protocol[C_contra]):
    """A handler module's ``run(event, context=None, *, clients=None)`` (see :func:`entry_points`)."""

    def __call__(
        self, event: Mapping[str, Any], context: Any = None, *, clients: C_contra | None = None
    ) -> dict[str, Any]: ...


class Handler(Protocol):
    """A Lambda entry point ``handler(event, context)``."""

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]: ...


def entry_points(
    *,
    name: str,
    default_clients: Callable[[], C],
    codepipeline: Callable[[C], Any],
    work: Callable[[Job, Mapping[str, Any], C], None],
) -> tuple[Run[C], Handler]:
    """A handler module's ``run`` and ``handler``: :func:`handle` with ``work``.

    ``run(event, context=None, *, clients=None)`` handles one CodePipeline job with ``clients`` (tests pass
    fakes; default: ``default_clients()``), ``handler(event, context)`` is the Lambda entry point.
    """

    def run(event: Mapping[str, Any], context: Any = None, *, clients: C | None = None) -> dict[str, Any]:
        """Handle one CodePipeline job: exactly one result, or an exception (for the on-failure destination)."""
        return handle(
            event,
            context,
            name=name,
            clients=lambda: clients or default_clients(),
            codepipeline=codepipeline,
            work=work,
        )

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        """Lambda entry point."""
        return run(event, context)

    return run, handler


class SessionClients:
    """The AWS clients every job handler uses, from one boto3 session (handlers add theirs; tests replace it).

    Clients have the :class:`Policy`'s timeouts and no retries of their own (:meth:`Job.call` retries).
    """

    def __init__(self, session: boto3.session.Session | None = None) -> None:
        self._session = session or boto3.session.Session()
        self._policy = job_policy()

    def codepipeline(self) -> CodePipelineClient:
        return self._session.client("codepipeline", config=self._policy.reports.client_config())

    def s3(self) -> S3Client:
        """The function's own credentials: writes job claims (and what else the handler reads with them)."""
        return self._session.client("s3", config=self._policy.calls.client_config(signature_version="s3v4"))

    def sts(self) -> STSClient:
        return self._session.client("sts", config=self._policy.calls.client_config())

    def regional(self, service: str, region: str, credentials: Mapping[str, Any] | None = None) -> Any:
        """A ``service`` client in ``region``: the function's own credentials, or ``credentials`` (an STS
        ``Credentials`` map: ``AccessKeyId``, ``SecretAccessKey``, ``SessionToken``)."""
        keys: dict[str, Any] = {}
        if credentials:
            keys = {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            }
        return self._session.client(  # type: ignore[call-overload]
            service, region_name=region, config=self._policy.calls.client_config(), **keys
        )


def iter_chunks(job: Job, body: Any, size: int) -> Iterator[bytes]:
    """Chunks of a streaming body; stops as soon as the job gets its result."""
    for chunk in body.iter_chunks(size):
        job.check_open()
        yield chunk
