"""The job machinery both handlers share (runtime/_pipeline_job.py), on its own: no AWS at all."""

from __future__ import annotations

import io
import json
import threading
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from runtime.job_fakes import FAST_POLICY, Context, FakeCodePipeline, client_error, read_timeout

from pipeline_constructs.runtime import _pipeline_job as pj


@pytest.fixture(autouse=True)
def fast_policy(monkeypatch):
    monkeypatch.setenv(pj.POLICY_ENV, json.dumps(FAST_POLICY))


def event(job_id: str = "job-1") -> dict[str, Any]:
    return {"CodePipeline.job": {"id": job_id, "data": {}}}


class MemoryClaims:
    """An S3 client for claims, in memory: conditional writes are atomic."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()
        self._etags = 0

    def put_object(self, **kwargs: Any) -> Any:
        key, body = kwargs["Key"], kwargs["Body"]
        with self._lock:
            existing = self.objects.get(key)
            if_match = kwargs.get("IfMatch")
            if (kwargs.get("IfNoneMatch") == "*" and existing) or (
                if_match and (not existing or existing[1] != if_match)
            ):
                raise client_error("PreconditionFailed", "PutObject", 412)
            self._etags += 1
            self.objects[key] = (body, f'"{self._etags}"')
            return {"ETag": f'"{self._etags}"'}

    def get_object(self, **kwargs: Any) -> Any:
        body, etag = self.objects[kwargs["Key"]]
        return {"Body": io.BytesIO(body), "ETag": etag}


def run(work, *, codepipeline: FakeCodePipeline | None = None, context: Any = None, job_id: str = "job-1"):
    codepipeline = codepipeline or FakeCodePipeline()
    return codepipeline, pj.run_job(
        event(job_id), context, name="the test handler", codepipeline=lambda: codepipeline, work=work
    )


def claimed(store: MemoryClaims | None = None):
    store = store or MemoryClaims()

    def decorate(body):
        def work(job: pj.Job, data: Any) -> None:
            if job.claim(pj.ClaimStore(store, "bucket", "claims/")):
                body(job, data)

        return work

    return decorate


# --------------------------------------------------------------------------- exactly one result


def test_a_work_that_reports_nothing_still_ends_with_a_failure():
    codepipeline, result = run(lambda job, data: None)
    assert result["outcome"] == "failed"
    assert "ended without a result" in codepipeline.failed("job-1")


@pytest.mark.parametrize(
    ("error", "kind", "text"),
    [
        (pj.JobFailedError("clear", "ConfigurationError"), "ConfigurationError", "clear"),
        (client_error("AccessDenied", "GetObject", 403), "PermissionError", "AccessDenied"),
        (client_error("ValidationException"), "JobFailed", "ValidationException"),
        (KeyError("surprise"), "JobFailed", "unexpected error"),
    ],
)
def test_every_exception_is_one_failure_result(error, kind, text):
    def work(job: pj.Job, data: Any) -> None:
        raise error

    codepipeline, _ = run(work)
    assert text in codepipeline.failed("job-1", kind)


def test_the_first_result_wins_and_nothing_reports_twice():
    def work(job: pj.Job, data: Any) -> None:
        assert job.succeed("done") is True
        assert job.fail("late") is False
        assert job.succeed("again") is False
        raise RuntimeError("after the report")  # reported nothing more

    codepipeline, result = run(work)
    assert result["outcome"] == "succeeded"
    assert len(codepipeline.attempts) == 1


def test_results_respect_codepipeline_limits():
    def work(job: pj.Job, data: Any) -> None:
        job.fail("x" * 20_000)

    codepipeline, _ = run(work)
    assert len(codepipeline.failed("job-1")) <= pj.FAILURE_MESSAGE_LIMIT  # and the model validated it


def test_a_continuation_token_too_long_fails_instead_of_crashing():
    def work(job: pj.Job, data: Any) -> None:
        job.succeed("more", continuation_token="t" * 3000)

    codepipeline, _ = run(work)
    assert "continuation token too long" in codepipeline.failed("job-1")


# --------------------------------------------------------------------------- the watchdog


def test_the_watchdog_reports_once_before_the_timeout_and_the_work_then_stops():
    margin = pj.Policy.from_env({pj.POLICY_ENV: json.dumps(FAST_POLICY)}).watchdog_margin
    reached: list[str] = []

    def work(job: pj.Job, data: Any) -> None:
        job.sleep(5)  # hangs past the deadline
        reached.append("after the sleep")

    started = time.monotonic()
    codepipeline, result = run(work, context=Context((margin + 0.2) * 1000))
    assert time.monotonic() - started < margin + 0.2
    assert result["outcome"] == "failed"
    assert "ran out of time" in codepipeline.failed("job-1")
    time.sleep(0.1)
    assert reached == []  # the sleep was cut short by the report: no further step


def test_no_mutating_call_starts_after_the_report_and_an_in_flight_one_is_waited_for():
    store = MemoryClaims()
    margin = pj.Policy.from_env({pj.POLICY_ENV: json.dumps(FAST_POLICY)}).watchdog_margin
    calls: list[str] = []

    def slow(**_: Any) -> None:
        calls.append("started")
        time.sleep(0.1)  # shorter than one attempt's bound: the watchdog waits for it
        calls.append("ended")

    @claimed(store)
    def work(job: pj.Job, data: Any) -> None:
        time.sleep(0.25)
        job.call("first change", slow, mutating=True)
        job.call("second change", slow, mutating=True)

    codepipeline = FakeCodePipeline()
    original = codepipeline.put_job_failure_result

    def report(**params: Any) -> Any:
        calls.append("reported")
        return original(**params)

    codepipeline.put_job_failure_result = report  # type: ignore[method-assign]
    run(work, codepipeline=codepipeline, context=Context((margin + 0.3) * 1000))
    time.sleep(0.3)
    assert calls == ["started", "ended", "reported"]
    assert "first change" in codepipeline.failed("job-1")


def test_an_abortable_upload_stops_at_its_next_read_after_the_report():
    def work(job: pj.Job, data: Any) -> None:
        body = job.abortable(io.BytesIO(b"x" * 10))
        assert body.read(2) == b"xx"
        job.fail("stop")
        with pytest.raises(pj.JobAbortedError):
            body.read(2)

    run(work)


# --------------------------------------------------------------------------- retries


def test_throttling_is_retried_a_bounded_number_of_times():
    attempts: list[int] = []

    def throttled(**_: Any) -> None:
        attempts.append(1)
        raise client_error("ThrottlingException")

    def work(job: pj.Job, data: Any) -> None:
        job.call("read something", throttled)

    codepipeline, _ = run(work)
    assert len(attempts) == FAST_POLICY["calls"]["attempts"]
    assert "ThrottlingException" in codepipeline.failed("job-1")


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (lambda: client_error("ThrottlingException"), True),
        (lambda: client_error("TooManyRequestsException", status=429), True),
        (lambda: client_error("InternalFailure", status=500), False),
        (read_timeout, False),
    ],
)
def test_a_non_idempotent_change_is_retried_only_when_it_certainly_did_not_run(error, retried):
    store = MemoryClaims()
    calls: list[int] = []

    def change(**_: Any) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise error()
        return "done"

    @claimed(store)
    def work(job: pj.Job, data: Any) -> None:
        try:
            job.succeed(job.call("publish", change, mutating=True, idempotent=False))
        except pj.OutcomeUnknownError:
            job.fail("outcome unknown: look first")

    codepipeline, _ = run(work)
    if retried:
        codepipeline.succeeded("job-1")
        assert len(calls) == 2
    else:
        assert "outcome unknown" in codepipeline.failed("job-1")
        assert len(calls) == 1


def test_a_mutating_call_without_the_claim_is_refused():
    changed: list[int] = []

    def work(job: pj.Job, data: Any) -> None:
        job.call("change", lambda: changed.append(1), mutating=True)

    codepipeline, _ = run(work)
    assert "not claimed" in codepipeline.failed("job-1")
    assert changed == []


@given(st.integers(1, 10), st.floats(0.001, 5), st.floats(0.001, 30), st.floats(0.1, 20), st.floats(0.1, 60))
def test_the_worst_case_bounds_every_backoff(attempts, base, cap, connect, read):
    policy = pj.RetryPolicy(
        attempts=attempts, base_delay=base, max_delay=cap, connect_timeout=connect, read_timeout=read
    )
    delays = [policy.delay(a) for a in range(1, attempts)]
    assert all(0 <= d <= cap for d in delays)
    assert sum(delays) + attempts * (connect + read) <= policy.worst_case_seconds() + 1e-9


@pytest.mark.parametrize(
    "raw",
    [
        '{"calls": {"attempts": 0}, "reports": {}}',
        '{"calls": {"attempts": true}, "reports": {}}',
        '{"calls": {}}',
        "[",
        '{"calls": {"x": 1}, "reports": {}}',
    ],
)
def test_a_malformed_policy_is_a_configuration_failure(raw, monkeypatch):
    monkeypatch.setenv(pj.POLICY_ENV, raw)
    codepipeline, _ = run(lambda job, data: job.succeed("never"))
    assert pj.POLICY_ENV in codepipeline.failed("job-1", "ConfigurationError")


# --------------------------------------------------------------------------- reporting


def test_a_report_retried_after_an_ambiguous_failure_that_landed_is_not_an_error():
    """The first attempt reached CodePipeline but its response timed out; the retry is rejected."""
    codepipeline = FakeCodePipeline()
    original = codepipeline.put_job_success_result
    calls: list[int] = []

    def flaky(**params: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            original(**params)
            raise read_timeout()
        return original(**params)

    codepipeline.put_job_success_result = flaky  # type: ignore[method-assign]
    _, result = run(lambda job, data: job.succeed("done"), codepipeline=codepipeline)
    assert result["outcome"] == "already-reported"
    assert len(codepipeline.results) == 1


def test_a_report_that_cannot_be_sent_raises():
    with pytest.raises(pj.ReportError, match="could not report"):
        run(lambda job, data: job.succeed("done"), codepipeline=FakeCodePipeline(always=True))


# --------------------------------------------------------------------------- claims


def test_a_claim_lost_to_a_running_owner_stands_down_silently():
    store = MemoryClaims()
    changed: list[str] = []
    entered = threading.Event()
    go = threading.Event()

    @claimed(store)
    def owner(job: pj.Job, data: Any) -> None:
        entered.set()
        go.wait(5)
        job.call("change", lambda: changed.append("owner"), mutating=True)
        job.succeed("done")

    @claimed(store)
    def duplicate(job: pj.Job, data: Any) -> None:
        job.call("change", lambda: changed.append("duplicate"), mutating=True)
        job.succeed("also done")

    codepipeline = FakeCodePipeline()
    thread = threading.Thread(target=run, args=(owner,), kwargs={"codepipeline": codepipeline})
    thread.start()
    entered.wait(5)
    _, result = run(duplicate, codepipeline=codepipeline)
    go.set()
    thread.join(5)
    assert result["outcome"] == "duplicate"
    assert changed == ["owner"]
    assert len(codepipeline.attempts) == 1


def test_a_retried_claim_whose_first_write_landed_is_still_ours():
    store = MemoryClaims()
    real = store.put_object
    calls: list[int] = []

    def landed_then_timed_out(**kwargs: Any) -> Any:
        calls.append(1)
        response = real(**kwargs)
        if len(calls) == 1:
            raise read_timeout()
        return response

    store.put_object = landed_then_timed_out  # type: ignore[method-assign]

    @claimed(store)
    def work(job: pj.Job, data: Any) -> None:
        job.succeed("mine")

    codepipeline, _ = run(work)
    codepipeline.succeeded("job-1")


def test_the_claim_records_the_result():
    store = MemoryClaims()

    @claimed(store)
    def work(job: pj.Job, data: Any) -> None:
        job.fail("no")

    run(work)
    record = json.loads(store.objects["claims/job-1.json"][0])
    assert (record["state"], record["outcome"]) == ("reported", "failed")


def test_events_that_are_not_jobs_raise_value_error():
    for bad in (
        None,
        [],
        {"CodePipeline.job": None},
        {"CodePipeline.job": {"id": 7}},
        {"CodePipeline.job": {"id": "x" * 200}},
    ):
        with pytest.raises(ValueError, match="CodePipeline job"):
            pj.job_id_of(bad)


# --------------------------------------------------------------------------- the pieces every handler shares


def test_the_clients_policy_falls_back_to_the_defaults_while_the_job_reports_the_malformed_one(monkeypatch):
    assert pj.job_policy() == pj.Policy.from_env({pj.POLICY_ENV: json.dumps(FAST_POLICY)}) != pj.Policy()
    monkeypatch.setenv(pj.POLICY_ENV, "{not json")
    assert pj.job_policy() == pj.Policy()
    with pytest.raises(pj.JobFailedError, match="is malformed"):
        pj.Policy.from_env({pj.POLICY_ENV: "{not json"})


def test_the_function_region_is_aws_region_then_the_default_region_else_a_configuration_error():
    assert pj.function_region({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1"}) == "eu-west-1"
    assert pj.function_region({"AWS_DEFAULT_REGION": "us-east-1"}) == "us-east-1"
    with pytest.raises(pj.ConfigurationError, match="AWS_REGION is not set") as raised:
        pj.function_region({"AWS_REGION": ""})
    assert raised.value.kind == "ConfigurationError"


def test_entry_points_run_the_work_with_the_given_or_the_default_clients():
    made: list[str] = []

    class Clients:
        def __init__(self, label: str) -> None:
            self.label = label
            self.codepipeline = FakeCodePipeline()

    def default() -> Clients:
        made.append("default")
        return Clients("default")

    def work(job: pj.Job, data: Any, clients: Clients) -> None:
        job.succeed(f"{clients.label}: {data['actionConfiguration']}")

    run, handler = pj.entry_points(
        name="the test handler", default_clients=default, codepipeline=lambda c: c.codepipeline, work=work
    )
    given = Clients("given")
    job = {"CodePipeline.job": {"id": "job-e", "data": {"actionConfiguration": "x"}}}
    assert run(job, clients=given) == {"jobId": "job-e", "outcome": "succeeded"}
    assert given.codepipeline.succeeded("job-e")["executionDetails"]["summary"] == "given: x"
    assert made == []
    assert handler({"CodePipeline.job": {"id": "job-f", "data": {}}}, None)["outcome"] == "failed"  # data lacks it
    assert made == ["default"]
    with pytest.raises(ValueError, match="CodePipeline job event"):
        handler({"not": "a job"}, None)
    assert made == ["default"]  # no clients for an event that is not a job


def test_session_clients_use_the_policy_and_the_credentials_given():
    import boto3

    clients = pj.SessionClients(boto3.session.Session(region_name="eu-west-1"))
    fast = pj.Policy.from_env({pj.POLICY_ENV: json.dumps(FAST_POLICY)})
    assert clients.codepipeline().meta.config.read_timeout == fast.reports.read_timeout
    assert clients.s3().meta.config.signature_version == "s3v4"
    assert clients.sts().meta.config.connect_timeout == fast.calls.connect_timeout
    assumed = clients.regional(
        "cloudformation", "us-east-2", {"AccessKeyId": "ASIAX", "SecretAccessKey": "s", "SessionToken": "t"}
    )
    assert assumed.meta.region_name == "us-east-2"
    assert assumed._request_signer._credentials.access_key == "ASIAX"
    assert assumed.meta.config.read_timeout == fast.calls.read_timeout
    with pytest.raises(KeyError):  # a partial credentials map never falls back to the function's own
        clients.regional("cloudformation", "us-east-2", {"AccessKeyId": "ASIAX"})


def test_a_token_round_trips_and_anything_else_loads_as_none():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class State:
        phase: str
        retries: int = 0

    token = pj.dump_token(State("await", 2))
    assert token == '{"phase":"await","retries":2}'
    assert pj.load_token(State, token) == State("await", 2)
    for other in (None, 3, "", "not json", "[1]", '{"phase": "x", "extra": 1}', "{}"):
        assert pj.load_token(State, other) is None, other
