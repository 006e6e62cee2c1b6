"""Fakes for the pipeline Lambda handlers' tests: CodePipeline, flaky and slow AWS clients, Lambda contexts.

* :class:`FakeCodePipeline` validates each result against the botocore model, records it, and rejects a
  second result for a job with ``InvalidJobStateException`` (as CodePipeline does). It can fail a number
  of times first (throttling, or any error code).
* :class:`Flaky` wraps any client: chosen methods raise an error the first ``times`` calls (or always).
* :class:`Atomic` wraps an S3 client so conditional writes are atomic under threads (S3 guarantees it;
  moto's in-memory check-then-write does not).
* :class:`RecordingFake` is the base of a fake service client: it validates and records each request.
* :class:`Context` is a Lambda context with a fixed deadline.
* :func:`moto_aws` (fake credentials and moto's in-memory AWS, for a module's ``aws`` fixture) and
  :func:`job_environment` (what the construct sets on every job function, with fast retries).
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.validate import validate_parameters
from moto import mock_aws

from pipeline_constructs.runtime import _pipeline_job as pj

#: Fast retries and a short watchdog margin, so tests of timeouts take a second, not a minute.
FAST_POLICY = {
    "calls": {"attempts": 4, "baseDelay": 0.001, "maxDelay": 0.004, "connectTimeout": 0.1, "readTimeout": 0.2},
    "reports": {"attempts": 4, "baseDelay": 0.001, "maxDelay": 0.004, "connectTimeout": 0.05, "readTimeout": 0.1},
}


@functools.cache
def service_model(service: str) -> Any:
    """A service's botocore model (loaded once: loading it costs a large part of a second)."""
    return boto3.session.Session().client(service, region_name="eu-west-1").meta.service_model


def client_error(code: str, operation: str = "Operation", status: int = 400, message: str = "") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message or code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


def throttled(operation: str = "Operation") -> ClientError:
    return client_error("ThrottlingException", operation, 400, "Rate exceeded")


def read_timeout() -> ReadTimeoutError:
    return ReadTimeoutError(endpoint_url="https://example.amazonaws.com")


class FakeCodePipeline:
    """PutJobSuccessResult / PutJobFailureResult as CodePipeline answers them."""

    def __init__(self, *, fail: int = 0, error: Callable[[], Exception] = throttled, always: bool = False) -> None:
        self._model = service_model("codepipeline")
        self._lock = threading.Lock()
        self._fail = fail
        self._always = always
        self._error = error
        self.attempts: list[tuple[str, dict[str, Any]]] = []
        self.results: list[tuple[str, dict[str, Any]]] = []
        self.rejected: list[tuple[str, dict[str, Any]]] = []

    def _put(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        validate_parameters(params, self._model.operation_model(operation).input_shape)
        with self._lock:
            self.attempts.append((operation, params))
            if self._always or self._fail > 0:
                self._fail -= 1
                raise self._error()
            if any(p["jobId"] == params["jobId"] for _, p in self.results):
                self.rejected.append((operation, params))
                raise client_error("InvalidJobStateException", operation, 400, "job is not in progress")
            self.results.append((operation, params))
        return {}

    def put_job_success_result(self, **params: Any) -> dict[str, Any]:
        return self._put("PutJobSuccessResult", params)

    def put_job_failure_result(self, **params: Any) -> dict[str, Any]:
        return self._put("PutJobFailureResult", params)

    # what the jobs got ------------------------------------------------------------
    def of(self, job_id: str) -> list[tuple[str, dict[str, Any]]]:
        return [r for r in self.results if r[1]["jobId"] == job_id]

    def only(self, job_id: str) -> tuple[str, dict[str, Any]]:
        results = self.of(job_id)
        assert len(results) == 1, results
        return results[0]

    def succeeded(self, job_id: str) -> dict[str, Any]:
        """The job's one result is a final success: its request."""
        name, params = self.only(job_id)
        assert name == "PutJobSuccessResult", params
        assert "continuationToken" not in params, params
        return params

    def continued(self, job_id: str) -> str:
        """The job's one result is "call me again": its continuation token."""
        name, params = self.only(job_id)
        assert name == "PutJobSuccessResult", params
        assert "continuationToken" in params, params
        return str(params["continuationToken"])

    def failed(self, job_id: str, kind: str | None = None) -> str:
        """The job's one result is a failure (of ``kind``): its message."""
        name, params = self.only(job_id)
        assert name == "PutJobFailureResult", params
        if kind is not None:
            assert params["failureDetails"]["type"] == kind, params
        return str(params["failureDetails"]["message"])


class Flaky:
    """A client whose ``methods`` raise ``error()`` the first ``times`` calls each (``times=None``: always)."""

    def __init__(
        self, client: Any, methods: Iterable[str], *, times: int | None = 1, error: Callable[[], Exception] = throttled
    ) -> None:
        self._client = client
        self._methods = set(methods)
        self._times = times
        self._error = error
        self.failures: dict[str, int] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in self._methods:
            return attribute

        def flaky(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                count = self.failures.get(name, 0)
                fail = self._times is None or count < self._times
                if fail:
                    self.failures[name] = count + 1
            if fail:
                raise self._error()
            return attribute(*args, **kwargs)

        return flaky


class Atomic:
    """An S3 client whose conditional ``put_object`` calls are atomic (as S3's are)."""

    _lock = threading.Lock()

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_object(self, **kwargs: Any) -> Any:
        with self._lock:
            return self._client.put_object(**kwargs)


class RecordingFake:
    """A fake client of ``service``: each request validated against its botocore model, then recorded in order."""

    def __init__(self, service: str) -> None:
        self._model = service_model(service)
        self.lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _call(self, operation: str, params: dict[str, Any]) -> None:
        validate_parameters(params, self._model.operation_model(operation).input_shape)
        with self.lock:
            self.calls.append((operation, params))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def requests(self, operation: str) -> list[dict[str, Any]]:
        return [p for name, p in self.calls if name == operation]


class Context:
    """A Lambda context with ``remaining_ms`` left at creation."""

    def __init__(self, remaining_ms: float) -> None:
        self.deadline = time.monotonic() + remaining_ms / 1000
        self.aws_request_id = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every non-empty line of ``text`` as JSON (fails on a line that is not)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@contextlib.contextmanager
def moto_aws(region: str, *, function_region: bool = False) -> Iterator[None]:
    """Fake credentials and ``AWS_DEFAULT_REGION`` in the environment (``AWS_REGION`` too with
    ``function_region``), and moto's in-memory AWS, for as long as the block runs (a module's ``aws`` fixture)."""
    variables = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
    }
    if function_region:
        variables["AWS_REGION"] = region
    with pytest.MonkeyPatch.context() as env:
        for name, value in variables.items():
            env.setenv(name, value)
        with mock_aws():
            yield


def job_environment(
    monkeypatch: pytest.MonkeyPatch, artifact_bucket: str, config: dict[str, str] | None = None
) -> None:
    """What the construct sets on a job function: fast retries (``PIPELINE_JOB_POLICY``), the artifact bucket,
    and ``config`` (``{variable: JSON text}``, the handler's own configuration)."""
    monkeypatch.setenv(pj.POLICY_ENV, json.dumps(FAST_POLICY))
    monkeypatch.setenv(pj.ARTIFACT_BUCKET_ENV, artifact_bucket)
    for name, value in (config or {}).items():
        monkeypatch.setenv(name, value)
