"""The AWS Health gate handler, offline: a fake AWS Health, a fake CodePipeline, moto for the job claims.

Every case checks what CodePipeline sees (exactly one result per job, telling the truth) and what was
asked of AWS Health (the filter, the pages, the endpoints).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.validate import validate_parameters
from hypothesis import given
from hypothesis import strategies as st
from runtime.job_fakes import (
    FAST_POLICY,
    Context,
    FakeCodePipeline,
    client_error,
    job_environment,
    moto_aws,
    service_model,
    throttled,
)

from pipeline_constructs.runtime import _pipeline_job as pj
from pipeline_constructs.runtime import health_gate as hg

HOME = "eu-west-1"
ARTIFACT_BUCKET = "pipeline-artifacts"
CLAIMS = "pipeline-jobs/health-gate/"
RUNTIME_DIR = Path(hg.__file__).parent
PARAMS = {"region": "eu-west-1", "services": ["CLOUDFORMATION", "LAMBDA"], "includeGlobal": True}
ACTIVE, PASSIVE = "https://health.us-east-1.amazonaws.com", "https://health.us-east-2.amazonaws.com"


# --------------------------------------------------------------------------- fakes and fixtures


def health_event(n: int, service: str = "LAMBDA", region: str = "eu-west-1") -> dict[str, Any]:
    code = f"AWS_{service}_OPERATIONAL_ISSUE"
    return {
        "arn": f"arn:aws:health:{region}::event/{service}/{code}/{code}_{n:04d}",
        "service": service,
        "eventTypeCode": code,
        "eventTypeCategory": "issue",
        "region": region,
        "startTime": datetime(2025, 3, 4, 5, 6, n % 60, tzinfo=timezone.utc),
        "statusCode": "open",
    }


Answer = dict[str, Any] | Callable[[], Exception]


class FakeHealth:
    """``DescribeEvents`` of one endpoint: validates each request against botocore's model, answers from a script.

    :param answers: one per call, in order: a response, or a callable returning the exception to raise.
        The last one repeats.
    """

    def __init__(self, *answers: Answer, hang: threading.Event | None = None) -> None:
        self._model = service_model("health").operation_model("DescribeEvents").input_shape
        self._answers = list(answers) or [{"events": []}]
        self._hang = hang
        self.requests: list[dict[str, Any]] = []

    def describe_events(self, **params: Any) -> dict[str, Any]:
        validate_parameters(params, self._model)
        self.requests.append(params)
        if self._hang is not None:
            self._hang.wait(10)
        answer = self._answers[min(len(self.requests), len(self._answers)) - 1]
        if callable(answer):
            raise answer()
        return answer


def unreachable() -> Exception:
    return EndpointConnectionError(endpoint_url=ACTIVE)


def unavailable() -> Exception:
    return client_error("ServiceUnavailableException", "DescribeEvents", 503)


@pytest.fixture(scope="module")
def aws():
    with moto_aws(HOME, function_region=True):
        boto3.client("s3", region_name=HOME).create_bucket(
            Bucket=ARTIFACT_BUCKET, CreateBucketConfiguration={"LocationConstraint": HOME}
        )
        yield


@pytest.fixture(autouse=True)
def environment(monkeypatch):
    job_environment(
        monkeypatch, ARTIFACT_BUCKET, {hg.CONFIG_ENV: json.dumps({"claimsPrefix": CLAIMS, "partition": "aws"})}
    )


class Harness:
    """The handler with fake Health endpoints (by endpoint URL) and a fake CodePipeline."""

    def __init__(self, codepipeline: FakeCodePipeline | None = None) -> None:
        self.codepipeline = codepipeline or FakeCodePipeline()
        self.endpoints: dict[str, FakeHealth] = {ACTIVE: FakeHealth(), PASSIVE: FakeHealth()}
        self.asked: list[tuple[str, str]] = []

    def health(self, region: str, endpoint: str) -> FakeHealth:
        self.asked.append((region, endpoint))
        return self.endpoints[endpoint]

    def clients(self) -> hg.Clients:
        return hg.Clients(
            codepipeline=self.codepipeline,
            health=self.health,
            claims_s3=lambda: boto3.client("s3", region_name=HOME),
        )

    def run(self, evt: dict[str, Any], context: Any = None) -> dict[str, Any]:
        return hg.run(evt, context, clients=self.clients())

    @property
    def requests(self) -> list[dict[str, Any]]:
        return [r for fake in self.endpoints.values() for r in fake.requests]


@pytest.fixture
def harness(aws):
    return Harness()


_JOBS = iter(range(1_000_000))


def job_id(name: str) -> str:
    """A job id no other test (or hypothesis example) used: claims persist in the module's moto bucket."""
    return f"job-{name}-{next(_JOBS)}"


def event(job: str, params: Any = None) -> dict[str, Any]:
    raw = params if isinstance(params, str) else json.dumps(PARAMS if params is None else params)
    return {
        "CodePipeline.job": {
            "id": job,
            "accountId": "111111111111",
            "data": {
                "actionConfiguration": {"configuration": {"FunctionName": "health-gate", "UserParameters": raw}},
                "inputArtifacts": [],
                "outputArtifacts": [],
            },
        }
    }


# --------------------------------------------------------------------------- outcomes


def test_no_open_issue_succeeds_with_output_variables_after_one_filtered_call(harness):
    job = job_id("calm")
    assert harness.run(event(job))["outcome"] == "succeeded"
    result = harness.codepipeline.succeeded(job)
    assert result["outputVariables"] == {
        "OpenIssues": "0",
        "Region": "eu-west-1",
        "Services": "CLOUDFORMATION,LAMBDA",
        "HealthRegion": "us-east-1",
    }
    assert "no open issue" in result["executionDetails"]["summary"]
    (request,) = harness.requests
    assert request["filter"] == {
        "regions": ["eu-west-1", "global"],
        "services": ["CLOUDFORMATION", "LAMBDA"],
        "eventTypeCategories": ["issue"],
        "eventStatusCodes": ["open"],
    }
    assert harness.asked == [("us-east-1", ACTIVE)]  # the active endpoint, signed for its own region


def test_without_include_global_only_the_region_is_asked(harness):
    job = job_id("regional")
    harness.run(event(job, {**PARAMS, "includeGlobal": False}))
    harness.codepipeline.succeeded(job)
    assert harness.requests[0]["filter"]["regions"] == ["eu-west-1"]


def test_open_issues_on_several_pages_fail_the_job_naming_every_event(harness):
    job = job_id("stormy")
    first, second, third = health_event(1), health_event(2, "CLOUDFORMATION"), health_event(3, "LAMBDA", "global")
    harness.endpoints[ACTIVE] = FakeHealth(
        {"events": [first], "nextToken": "page-2-token"}, {"events": [second, third]}
    )
    assert harness.run(event(job))["outcome"] == "failed"
    message = harness.codepipeline.failed(job, "JobFailed")
    assert "3 open issue(s)" in message
    assert "LAMBDA in eu-west-1: AWS_LAMBDA_OPERATIONAL_ISSUE since 2025-03-04T05:06:01Z" in message
    assert "CLOUDFORMATION in eu-west-1: AWS_CLOUDFORMATION_OPERATIONAL_ISSUE since 2025-03-04T05:06:02Z" in message
    assert "LAMBDA in global" in message
    assert first["arn"] in message
    assert "Retry this stage" in message
    assert [r.get("nextToken") for r in harness.requests] == [None, "page-2-token"]


def test_an_event_health_says_is_closed_is_not_counted(harness):
    job = job_id("closed")
    harness.endpoints[ACTIVE] = FakeHealth({"events": [{**health_event(1), "statusCode": "closed"}]})
    harness.run(event(job))
    assert harness.codepipeline.succeeded(job)["outputVariables"]["OpenIssues"] == "0"


def test_many_open_issues_fit_the_message_limit_and_say_how_many_more(harness):
    job = job_id("many")
    pages: list[Answer] = [
        {"events": [health_event(p * 100 + i) for i in range(100)], "nextToken": f"token-{p}"}
        for p in range(hg.MAX_PAGES)
    ]
    harness.endpoints[ACTIVE] = FakeHealth(*pages)
    harness.run(event(job))
    message = harness.codepipeline.failed(job)
    assert len(message) <= pj.FAILURE_MESSAGE_LIMIT
    assert f"at least {hg.MAX_PAGES * 100} open issue(s)" in message  # pages stop at MAX_PAGES
    assert "more" in message.rsplit(";", 1)[-1]
    assert "[truncated]" not in message  # cut between events, not inside one
    assert len(harness.requests) == hg.MAX_PAGES


def test_without_a_support_plan_the_failure_says_which_plans_the_api_needs(harness):
    job = job_id("no-plan")
    harness.endpoints[ACTIVE] = FakeHealth(
        lambda: client_error("SubscriptionRequiredException", "DescribeEvents", 400, "no premium support")
    )
    assert harness.run(event(job))["outcome"] == "failed"
    message = harness.codepipeline.failed(job, "ConfigurationError")
    assert "Business, Enterprise On-Ramp or Enterprise support plan" in message
    assert "SubscriptionRequiredException" in message
    assert harness.endpoints[PASSIVE].requests == []  # not an endpoint problem: no failover


def test_throttling_is_retried_then_succeeds(harness):
    job = job_id("throttled")
    harness.endpoints[ACTIVE] = FakeHealth(throttled, throttled, {"events": []})
    harness.run(event(job))
    harness.codepipeline.succeeded(job)
    assert len(harness.endpoints[ACTIVE].requests) == 3
    assert harness.endpoints[PASSIVE].requests == []


def test_throttling_that_never_ends_fails_once_after_bounded_retries(harness):
    job = job_id("throttled-forever")
    harness.endpoints[ACTIVE] = FakeHealth(throttled)
    harness.run(event(job))
    assert "ThrottlingException" in harness.codepipeline.failed(job)
    assert len(harness.endpoints[ACTIVE].requests) == FAST_POLICY["calls"]["attempts"]


@pytest.mark.parametrize("error", [unreachable, unavailable], ids=["no-connection", "503"])
def test_an_unreachable_active_endpoint_fails_over_to_the_passive_one(harness, error):
    job = job_id("failover")
    harness.endpoints[ACTIVE] = FakeHealth(error)
    harness.endpoints[PASSIVE] = FakeHealth({"events": [health_event(7)]})
    harness.run(event(job))
    assert "AWS_LAMBDA_OPERATIONAL_ISSUE" in harness.codepipeline.failed(job)
    assert harness.asked == [("us-east-1", ACTIVE), ("us-east-2", PASSIVE)]
    assert len(harness.endpoints[ACTIVE].requests) == FAST_POLICY["calls"]["attempts"]  # retried first


def test_failover_mid_pagination_starts_over_on_the_passive_endpoint(harness):
    job = job_id("failover-pages")
    harness.endpoints[ACTIVE] = FakeHealth({"events": [health_event(1)], "nextToken": "active-token"}, unreachable)
    harness.endpoints[PASSIVE] = FakeHealth({"events": []})
    harness.run(event(job))
    assert harness.codepipeline.succeeded(job)["outputVariables"]["HealthRegion"] == "us-east-2"
    assert "nextToken" not in harness.endpoints[PASSIVE].requests[0]  # the active endpoint's token is not reused


def test_both_endpoints_unreachable_is_one_failure_naming_both(harness):
    job = job_id("dark")
    harness.endpoints[ACTIVE] = FakeHealth(unreachable)
    harness.endpoints[PASSIVE] = FakeHealth(unavailable)
    harness.run(event(job))
    message = harness.codepipeline.failed(job, "JobFailed")
    assert "could not be reached" in message
    assert ACTIVE in message
    assert PASSIVE in message


def test_access_denied_is_a_permission_error(harness):
    job = job_id("denied")
    harness.endpoints[ACTIVE] = FakeHealth(
        lambda: client_error("AccessDeniedException", "DescribeEvents", 400, "not authorized to health:DescribeEvents")
    )
    harness.run(event(job))
    assert "may not call health:DescribeEvents" in harness.codepipeline.failed(job, "PermissionError")
    assert harness.endpoints[PASSIVE].requests == []


def test_an_invalid_pagination_token_fails_the_job(harness):
    job = job_id("bad-token")
    harness.endpoints[ACTIVE] = FakeHealth(
        {"events": [], "nextToken": "tok1"}, lambda: client_error("InvalidPaginationToken", "DescribeEvents")
    )
    harness.run(event(job))
    assert "InvalidPaginationToken" in harness.codepipeline.failed(job)


def test_an_unexpected_exception_is_reported_once(harness):
    job = job_id("crash")
    harness.endpoints[ACTIVE] = FakeHealth(lambda: RuntimeError("boom"))
    assert harness.run(event(job))["outcome"] == "failed"
    assert "unexpected error" in harness.codepipeline.failed(job)


# --------------------------------------------------------------------------- parameters and configuration


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ({**PARAMS, "roleArn": "arn:aws:iam::1:role/x"}, "unknown keys ['roleArn']"),
        ({"region": "eu-west-1", "services": ["LAMBDA"]}, "lacks ['includeGlobal']"),
        ({**PARAMS, "region": "Europe"}, "is not an AWS region"),
        ({**PARAMS, "region": "cn-north-1"}, "not in this function's partition 'aws'"),
        ({**PARAMS, "services": "LAMBDA"}, "must be a list of 1 to 10"),
        ({**PARAMS, "services": []}, "must be a list of 1 to 10"),
        ({**PARAMS, "services": [f"S{i}" for i in range(11)]}, "must be a list of 1 to 10"),
        ({**PARAMS, "services": ["lambda"]}, "expected an AWS Health service code"),
        ({**PARAMS, "services": ["LAMBDA", "LAMBDA"]}, "repeats a service"),
        ({**PARAMS, "includeGlobal": "true"}, "must be a JSON boolean"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_malformed_user_parameters_fail_without_asking_health(harness, params, message):
    job = job_id("malformed")
    assert harness.run(event(job, params))["outcome"] == "failed"
    assert message in harness.codepipeline.failed(job, "ConfigurationError")
    assert harness.requests == []


@given(
    services=st.lists(st.text(st.characters(codec="ascii"), min_size=0, max_size=40), min_size=0, max_size=12),
)
def test_only_health_service_codes_reach_health(services):
    raw = json.dumps({**PARAMS, "services": services})
    params = {"actionConfiguration": {"configuration": {"UserParameters": raw}}}
    config = hg.GateConfig(artifact_bucket=ARTIFACT_BUCKET, claims_prefix=CLAIMS, partition="aws")
    valid = (
        1 <= len(services) <= 10
        and len(set(services)) == len(services)
        and all(hg.SERVICE_CODE.fullmatch(s) for s in services)
    )
    try:
        parsed = hg.GateParameters.from_job(params, config)
    except hg.ConfigurationError:
        assert not valid
    else:
        assert valid
        assert parsed.services == tuple(services)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "is not set"),
        ("{", "is malformed"),
        (json.dumps({"partition": "aws"}), "is malformed"),
        (json.dumps({"claimsPrefix": CLAIMS, "partition": "aws-iso"}), "has no AWS Health endpoint"),
    ],
)
def test_missing_or_malformed_configuration_is_reported(harness, monkeypatch, value, message):
    if value is None:
        monkeypatch.delenv(hg.CONFIG_ENV)
    else:
        monkeypatch.setenv(hg.CONFIG_ENV, value)
    job = job_id("config")
    harness.run(event(job))
    assert message in harness.codepipeline.failed(job, "ConfigurationError")
    assert harness.requests == []


def test_other_partitions_use_their_own_endpoints(harness, monkeypatch):
    monkeypatch.setenv(hg.CONFIG_ENV, json.dumps({"claimsPrefix": CLAIMS, "partition": "aws-us-gov"}))
    west, east = hg.ENDPOINTS["aws-us-gov"]
    harness.endpoints = {west[1]: FakeHealth(unreachable), east[1]: FakeHealth()}
    job = job_id("gov")
    harness.run(event(job, {**PARAMS, "region": "us-gov-west-1"}))
    assert harness.codepipeline.succeeded(job)["outputVariables"]["HealthRegion"] == "us-gov-east-1"
    assert harness.asked == [west, east]
    assert hg.ENDPOINTS["aws-cn"] == (("cn-northwest-1", "https://health.cn-northwest-1.amazonaws.com.cn"),)


def test_not_a_codepipeline_event_raises_and_reports_nothing(harness):
    with pytest.raises(ValueError, match="CodePipeline job"):
        harness.run({"Records": []})
    assert harness.codepipeline.attempts == []


# --------------------------------------------------------------------------- duplicates, time, reporting


def test_a_sequential_duplicate_asks_nothing_and_reports_nothing(harness):
    job = job_id("dup")
    harness.run(event(job))
    harness.codepipeline.succeeded(job)
    again = Harness(harness.codepipeline)
    assert again.run(event(job))["outcome"] == "duplicate"
    assert again.requests == []
    assert len(harness.codepipeline.attempts) == 1


def test_a_duplicate_while_the_owner_still_runs_stands_down(aws):
    job = job_id("dup-concurrent")
    release, entered = threading.Event(), threading.Event()
    owner = Harness()

    class Slow(FakeHealth):
        def describe_events(self, **params: Any) -> dict[str, Any]:
            entered.set()
            release.wait(10)
            return super().describe_events(**params)

    owner.endpoints[ACTIVE] = Slow()
    outcomes: list[str] = []
    thread = threading.Thread(target=lambda: outcomes.append(owner.run(event(job))["outcome"]))
    thread.start()
    assert entered.wait(10)
    duplicate = Harness(owner.codepipeline)
    assert duplicate.run(event(job))["outcome"] == "duplicate"
    release.set()
    thread.join(10)
    assert outcomes == ["succeeded"]
    owner.codepipeline.succeeded(job)  # exactly one result
    assert duplicate.requests == []


def test_watchdog_reports_a_hung_health_call_once_before_the_timeout(harness):
    job = job_id("hung")
    release = threading.Event()
    harness.endpoints[ACTIVE] = FakeHealth({"events": []}, hang=release)
    margin = pj.Policy.from_env(os.environ).watchdog_margin
    # 2 s before the watchdog's margin: room for the claim (moto S3) on a loaded machine, so the hang is
    # always inside the Health call
    started = time.monotonic()
    assert harness.run(event(job), Context(remaining_ms=(margin + 2.0) * 1000))["outcome"] == "failed"
    elapsed = time.monotonic() - started
    release.set()  # Health "answers" after the report: the abandoned run must not report again
    time.sleep(0.3)
    assert elapsed < margin + 2.0
    message = harness.codepipeline.failed(job)
    assert "ran out of time" in message
    assert "ask AWS Health (us-east-1)" in message
    assert harness.codepipeline.rejected == []
    assert len(harness.codepipeline.attempts) == 1


def test_a_report_that_cannot_be_sent_raises_for_the_dead_letter_queue(aws):
    harness = Harness(FakeCodePipeline(always=True))
    with pytest.raises(pj.ReportError):
        harness.run(event(job_id("unsent")))


def test_logs_are_json_lines_naming_the_job(harness, capsys):
    job = job_id("logs")
    harness.run(event(job))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    answered = [line for line in lines if line["message"] == "AWS Health answered"]
    assert answered
    assert answered[0]["jobId"] == job
    assert answered[0]["open_issues"] == 0


# --------------------------------------------------------------------------- clients and packaging


def test_default_clients_sign_each_endpoint_for_its_region_and_leave_retries_to_the_job(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", HOME)
    monkeypatch.setenv("AWS_REGION", HOME)
    monkeypatch.delenv(pj.POLICY_ENV)
    clients = hg.default_clients()
    for region, endpoint in hg.ENDPOINTS["aws"]:
        client = clients.health(region, endpoint)
        assert (client.meta.region_name, client.meta.endpoint_url) == (region, endpoint)
        assert client.meta.config.retries["total_max_attempts"] == 1
        assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (3.0, 8.0)
    assert clients.health(*hg.ENDPOINTS["aws"][0]) is clients.health(*hg.ENDPOINTS["aws"][0])
    assert clients.claims_s3().meta.region_name == HOME


def test_the_packaged_handler_imports_with_only_its_asset_files(tmp_path):
    for name in ("health_gate.py", "_pipeline_job.py"):
        (tmp_path / name).write_text((RUNTIME_DIR / name).read_text())
    code = "import health_gate, sys; assert 'pipeline_constructs' not in sys.modules; print(health_gate.handler)"
    result = subprocess.run(
        [sys.executable, "-E", "-s", "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
