"""The Resilience Hub assessment handler, offline: fakes of Resilience Hub, CloudFormation, STS and CodePipeline.

moto implements none of the Resilience Hub calls the handler makes, so Resilience Hub is a small fake app
(requests validated against the botocore model) whose import and assessment statuses tests script; S3
(job claims) is moto. Each CodePipeline job is one invocation; a continuation is a new job with the token
of the previous one.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.validate import validate_parameters
from runtime.job_fakes import (
    Atomic,
    Context,
    FakeCodePipeline,
    Flaky,
    RecordingFake,
    client_error,
    job_environment,
    json_lines,
    moto_aws,
    service_model,
)

from pipeline_constructs.runtime import _pipeline_job as pj
from pipeline_constructs.runtime import resilience_assessment as ra
from pipeline_constructs.runtime.resilience_assessment import State, Timing

REGION = "eu-west-1"
PIPELINE_ACCOUNT = "111111111111"
TARGET_ACCOUNT = "222222222222"
ARTIFACT_BUCKET = "delivery-pipeline-artifacts"
CLAIMS = "pipeline-jobs/resilience-assessment/"
APP = f"arn:aws:resiliencehub:{REGION}:{PIPELINE_ACCOUNT}:app/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
OTHER_APP = f"arn:aws:resiliencehub:{REGION}:{PIPELINE_ACCOUNT}:app/ffffffff-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
LOOKUP_ROLE = f"arn:aws:iam::{TARGET_ACCOUNT}:role/cdk-hnb659fds-lookup-role-{TARGET_ACCOUNT}-eu-central-1"
STAGING = {"appArn": APP, "account": PIPELINE_ACCOUNT, "region": REGION, "stackNames": ["Staging-Service"]}
PROD = {
    "appArn": APP,
    "account": TARGET_ACCOUNT,
    "region": "eu-central-1",
    "stackNames": ["Prod-Service", "Prod-Data"],
    "lookupRoleArn": LOOKUP_ROLE,
}
CONFIG = {
    "claimsPrefix": CLAIMS,
    "assessments": [{**STAGING, "lookupRoleArn": None}, PROD],
}
#: Every wait hands over at once (one poll per invocation): each step is one job.
STEPWISE = Timing(poll_seconds=0.001, hold_seconds=0.0)
SESSION = boto3.session.Session(region_name=REGION)
_S3: list[Any] = []


def new_job() -> str:
    return str(uuid.uuid4())


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def aws():
    with moto_aws(REGION):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=ARTIFACT_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        _S3[:] = [s3]
        yield s3
        _S3.clear()


@pytest.fixture(autouse=True)
def environment(monkeypatch, aws):
    job_environment(monkeypatch, ARTIFACT_BUCKET, {ra.CONFIG_ENV: json.dumps(CONFIG)})


# --------------------------------------------------------------------------- fakes


def stack_id(account: str, region: str, name: str) -> str:
    return f"arn:aws:cloudformation:{region}:{account}:stack/{name}/{uuid.uuid5(uuid.NAMESPACE_DNS, name)}"


class FakeCloudFormation:
    """The stacks of one account and region."""

    def __init__(self, account: str, region: str, names: list[str], status: str = "UPDATE_COMPLETE") -> None:
        self._model = service_model("cloudformation")
        self.stacks = {
            n: {"StackName": n, "StackId": stack_id(account, region, n), "StackStatus": status} for n in names
        }
        self.calls: list[dict[str, Any]] = []

    def describe_stacks(self, **params: Any) -> dict[str, Any]:
        validate_parameters(params, self._model.operation_model("DescribeStacks").input_shape)
        self.calls.append(params)
        name = params["StackName"]
        if name not in self.stacks:
            raise client_error("ValidationError", "DescribeStacks", 400, f"Stack with id {name} does not exist")
        return {"Stacks": [{**self.stacks[name], "CreationTime": "2025-01-01T00:00:00Z"}]}


class FakeSTS:
    def __init__(self) -> None:
        self._model = service_model("sts")
        self.assumed: list[dict[str, Any]] = []
        self.denied = False

    def assume_role(self, **params: Any) -> dict[str, Any]:
        validate_parameters(params, self._model.operation_model("AssumeRole").input_shape)
        self.assumed.append(params)
        if self.denied:
            raise client_error("AccessDenied", "AssumeRole", 403, "not authorized to perform sts:AssumeRole")
        account = params["RoleArn"].split(":")[4]
        return {"Credentials": {"AccessKeyId": f"ASIA{account}", "SecretAccessKey": "s", "SessionToken": "t"}}


class FakeResilienceHub(RecordingFake):
    """One Resilience Hub app: requests validated against the botocore model, statuses scripted by tests."""

    def __init__(self) -> None:
        super().__init__("resiliencehub")
        self.app: dict[str, Any] = {
            "appArn": APP,
            "name": "orders",
            "creationTime": "2025-01-01T00:00:00Z",
            "status": "Active",
            "policyArn": f"arn:aws:resiliencehub:{REGION}:{PIPELINE_ACCOUNT}:resiliency-policy/p-1",
            "permissionModel": {"type": "RoleBased", "invokerRoleName": "resilience-hub-invoker"},
        }
        #: statuses DescribeDraftAppVersionResourcesImportStatus answers, one per call (the last repeats)
        self.import_statuses = ["InProgress", "Success"]
        self.import_error: dict[str, Any] = {}
        #: statuses of the assessment, one per DescribeAppAssessment call (the last repeats)
        self.assessment_statuses = ["InProgress", "Success"]
        self.result: dict[str, Any] = met()
        self.assessments: dict[str, str] = {}  # client token -> assessment ARN
        self.quota = 20
        self.foreign_assessment = False

    def describe_app(self, **params: Any) -> dict[str, Any]:
        self._call("DescribeApp", params)
        if params["appArn"] != APP:
            raise client_error("ResourceNotFoundException", "DescribeApp", 404, "app not found")
        return {"app": copy.deepcopy(self.app)}

    def import_resources_to_draft_app_version(self, **params: Any) -> dict[str, Any]:
        self._call("ImportResourcesToDraftAppVersion", params)
        return {"appArn": APP, "appVersion": "draft", "sourceArns": params["sourceArns"], "status": "Pending"}

    def describe_draft_app_version_resources_import_status(self, **params: Any) -> dict[str, Any]:
        self._call("DescribeDraftAppVersionResourcesImportStatus", params)
        status = self.import_statuses.pop(0) if len(self.import_statuses) > 1 else self.import_statuses[0]
        return {
            "appArn": APP,
            "appVersion": "draft",
            "status": status,
            "statusChangeTime": "2025-01-01T00:00:00Z",
            **(self.import_error if status == "Failed" else {}),
        }

    def publish_app_version(self, **params: Any) -> dict[str, Any]:
        self._call("PublishAppVersion", params)
        return {"appArn": APP, "appVersion": "release", "identifier": 7}

    def start_app_assessment(self, **params: Any) -> dict[str, Any]:
        self._call("StartAppAssessment", params)
        with self.lock:
            token = params.get("clientToken", "")
            if token not in self.assessments:
                if self.quota <= 0:
                    raise client_error(
                        "ServiceQuotaExceededException", "StartAppAssessment", 402, "assessment quota exceeded"
                    )
                self.quota -= 1
                self.assessments[token] = (
                    f"arn:aws:resiliencehub:{REGION}:{PIPELINE_ACCOUNT}:app-assessment/{uuid.uuid4()}"
                )
        return {"assessment": self._assessment(self.assessments[token], "Pending", params["assessmentName"])}

    def describe_app_assessment(self, **params: Any) -> dict[str, Any]:
        self._call("DescribeAppAssessment", params)
        statuses = self.assessment_statuses
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        return {"assessment": self._assessment(params["assessmentArn"], status)}

    def _assessment(self, arn: str, status: str, name: str = "pipeline-x") -> dict[str, Any]:
        body: dict[str, Any] = {
            "appArn": OTHER_APP if self.foreign_assessment else APP,
            "appVersion": "release",
            "assessmentArn": arn,
            "assessmentName": name,
            "assessmentStatus": status,
            "invoker": "User",
        }
        if status in ("Success", "Failed"):
            body.update(copy.deepcopy(self.result))
        return body


def met(score: float = 83.5) -> dict[str, Any]:
    return {
        "complianceStatus": "PolicyMet",
        "resiliencyScore": {"score": score, "disruptionScore": {"AZ": 90.0, "Software": 77.0}},
        "compliance": {
            "AZ": {"complianceStatus": "PolicyMet", "currentRtoInSecs": 600, "currentRpoInSecs": 0},
            "Software": {"complianceStatus": "PolicyMet", "currentRtoInSecs": 300, "currentRpoInSecs": 0},
        },
    }


def breached() -> dict[str, Any]:
    return {
        "complianceStatus": "PolicyBreached",
        "resiliencyScore": {"score": 41.0, "disruptionScore": {"AZ": 20.0, "Region": 10.0}},
        "compliance": {
            "AZ": {"complianceStatus": "PolicyBreached", "currentRtoInSecs": 7200, "currentRpoInSecs": 0},
            "Region": {"complianceStatus": "PolicyBreached", "currentRtoInSecs": 86400, "currentRpoInSecs": 3600},
            "Software": {"complianceStatus": "PolicyMet", "currentRtoInSecs": 300, "currentRpoInSecs": 0},
        },
        "policy": {
            "policy": {
                "AZ": {"rtoInSecs": 3600, "rpoInSecs": 60},
                "Region": {"rtoInSecs": 14400, "rpoInSecs": 900},
                "Software": {"rtoInSecs": 1800, "rpoInSecs": 60},
            }
        },
    }


def _s3() -> Any:
    if not _S3:
        _S3.append(boto3.client("s3", region_name=REGION))
    return _S3[0]


class Harness(ra.Clients):
    """moto S3 (claims atomic), fake Resilience Hub, CloudFormation per account, STS, CodePipeline."""

    def __init__(self, codepipeline: FakeCodePipeline | None = None) -> None:
        super().__init__(SESSION)
        self.hub = FakeResilienceHub()
        self.stacks = {
            PIPELINE_ACCOUNT: FakeCloudFormation(PIPELINE_ACCOUNT, REGION, ["Staging-Service"]),
            TARGET_ACCOUNT: FakeCloudFormation(TARGET_ACCOUNT, "eu-central-1", ["Prod-Service", "Prod-Data"]),
        }
        self.security = FakeSTS()
        self.pipeline = codepipeline or FakeCodePipeline()
        self.wrap: dict[str, Callable[[Any], Any]] = {}
        self.regions: list[tuple[str, str, str]] = []

    def codepipeline(self) -> Any:
        return self.pipeline

    def s3(self) -> Any:
        return Atomic(_s3())

    def sts(self) -> Any:
        return self.wrap.get("sts", lambda c: c)(self.security)

    def resiliencehub(self, region: str) -> Any:
        self.regions.append(("resiliencehub", region, PIPELINE_ACCOUNT))
        return self.wrap.get("hub", lambda c: c)(self.hub)

    def cloudformation(self, region: str, credentials: Any) -> Any:
        account = credentials["AccessKeyId"].removeprefix("ASIA") if credentials else PIPELINE_ACCOUNT
        self.regions.append(("cloudformation", region, account))
        return self.wrap.get("cfn", lambda c: c)(self.stacks[account])

    def run(
        self,
        job_id: str,
        params: Any = None,
        *,
        token: str | None = None,
        context: Any = None,
        now: Callable[[], float] = time.time,
        timing: Timing = STEPWISE,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "actionConfiguration": {
                "configuration": {
                    "FunctionName": "assess",
                    "UserParameters": params if isinstance(params, str) else json.dumps(params or STAGING),
                }
            },
            "inputArtifacts": [],
            "outputArtifacts": [],
        }
        if token is not None:
            data["continuationToken"] = token
        event = {"CodePipeline.job": {"id": job_id, "accountId": PIPELINE_ACCOUNT, "data": data}}
        return ra.handler(event, context, clients=self, now=now, timing=timing)

    def drive(self, params: Any = None, *, limit: int = 10, **kwargs: Any) -> list[str]:
        """Run the action to its end (each job continues the previous one's token)."""
        token = None
        jobs: list[str] = []
        for _ in range(limit):
            job = new_job()
            jobs.append(job)
            self.run(job, params, token=token, **kwargs)
            name, request = self.pipeline.only(job)
            if name == "PutJobFailureResult" or "continuationToken" not in request:
                return jobs
            token = request["continuationToken"]
        raise AssertionError(f"the action did not end after {limit} jobs: {self.pipeline.results}")

    def final(self, jobs: list[str]) -> tuple[str, dict[str, Any]]:
        for job in jobs:
            self.pipeline.only(job)  # every job had exactly one result
        return self.pipeline.only(jobs[-1])

    def failure(self, jobs: list[str], kind: str | None = None) -> str:
        name, request = self.final(jobs)
        assert name == "PutJobFailureResult", request
        if kind is not None:
            assert request["failureDetails"]["type"] == kind, request
        return str(request["failureDetails"]["message"])


# --------------------------------------------------------------------------- the assessment


def test_policy_met_imports_publishes_assesses_and_reports_the_score():
    harness = Harness()
    jobs = harness.drive()
    name, request = harness.final(jobs)
    assert name == "PutJobSuccessResult"
    assert "continuationToken" not in request
    assert len(jobs) == 3  # import in progress, assessment in progress, done
    variables = request["outputVariables"]
    (arn,) = harness.hub.assessments.values()
    assert variables == {"AssessmentArn": arn, "ComplianceStatus": "PolicyMet", "ResiliencyScore": "83.5"}
    summary = request["executionDetails"]["summary"]
    assert "resiliency policy is met" in summary
    assert "83.5" in summary
    assert arn in summary

    (imported,) = harness.hub.requests("ImportResourcesToDraftAppVersion")
    assert imported == {
        "appArn": APP,
        "sourceArns": [stack_id(PIPELINE_ACCOUNT, REGION, "Staging-Service")],
        "importStrategy": "AddOnly",
    }
    (started,) = harness.hub.requests("StartAppAssessment")
    assert started == {
        "appArn": APP,
        "appVersion": "release",
        "assessmentName": f"pipeline-{jobs[0]}",
        "clientToken": jobs[0],  # the first job's id: a repeated start request starts no second assessment
    }
    assert harness.hub.names().index("PublishAppVersion") < harness.hub.names().index("StartAppAssessment")
    # the pipeline's own account: the function's own credentials, no role assumed
    assert harness.security.assumed == []
    assert set(harness.regions) == {
        ("resiliencehub", REGION, PIPELINE_ACCOUNT),
        ("cloudformation", REGION, PIPELINE_ACCOUNT),
    }


def test_another_account_is_read_with_its_lookup_role():
    harness = Harness()
    jobs = harness.drive(PROD)
    assert harness.final(jobs)[0] == "PutJobSuccessResult"
    (assumed,) = harness.security.assumed
    assert assumed["RoleArn"] == LOOKUP_ROLE  # the configured role
    assert assumed["RoleSessionName"] == f"resilience-{jobs[0]}"
    assert ("cloudformation", "eu-central-1", TARGET_ACCOUNT) in harness.regions
    (imported,) = harness.hub.requests("ImportResourcesToDraftAppVersion")
    assert imported["sourceArns"] == [
        stack_id(TARGET_ACCOUNT, "eu-central-1", "Prod-Service"),
        stack_id(TARGET_ACCOUNT, "eu-central-1", "Prod-Data"),
    ]
    # the app is in the pipeline's account: Resilience Hub is called in the app's region
    assert ("resiliencehub", REGION, PIPELINE_ACCOUNT) in harness.regions


def test_policy_breached_fails_naming_the_breached_disruption_types():
    harness = Harness()
    harness.hub.result = breached()
    jobs = harness.drive()
    message = harness.failure(jobs, "JobFailed")
    assert "resiliency policy is breached for AZ (RTO 7200 s (target 3600 s), RPO 0 s (target 60 s))" in message
    assert "Region (RTO 86400 s (target 14400 s), RPO 3600 s (target 900 s))" in message
    assert "Software" not in message
    assert "resiliency score 41" in message
    assert next(iter(harness.hub.assessments.values())) in message


@pytest.mark.parametrize("status", ["NotApplicable", "MissingPolicy"])
def test_a_compliance_status_other_than_met_or_breached_fails(status):
    harness = Harness()
    harness.hub.result = {"complianceStatus": status, "message": "nothing to assess"}
    message = harness.failure(harness.drive())
    assert f"compliance status {status!r}, not PolicyMet" in message
    assert "nothing to assess" in message


def test_a_failed_import_fails_with_resilience_hubs_reasons_and_assesses_nothing():
    harness = Harness()
    harness.hub.import_statuses = ["Failed"]
    harness.hub.import_error = {
        "errorMessage": "Unable to access stack",
        "errorDetails": [{"errorMessage": "AccessDenied on cloudformation:ListStackResources"}],
    }
    jobs = harness.drive()
    assert len(jobs) == 1  # the import failed on the first poll, in the first invocation
    message = harness.failure(jobs, "JobFailed")
    assert "could not import stacks Staging-Service" in message
    assert "Unable to access stack; AccessDenied on cloudformation:ListStackResources" in message
    assert "invoker role" in message
    assert "PublishAppVersion" not in harness.hub.names()
    assert "StartAppAssessment" not in harness.hub.names()


def test_a_failed_assessment_fails_with_its_message_and_resource_errors():
    harness = Harness()
    harness.hub.assessment_statuses = ["InProgress", "Failed"]
    harness.hub.result = {
        "message": "Assessment failed: resources could not be resolved",
        "resourceErrorsDetails": {"resourceErrors": [{"logicalResourceId": "Table", "reason": "not found"}]},
    }
    message = harness.failure(harness.drive(), "JobFailed")
    assert "Failed: Assessment failed: resources could not be resolved" in message
    assert "Table: not found" in message


def test_the_monthly_assessment_quota_fails_and_says_so():
    harness = Harness()
    harness.hub.quota = 0
    message = harness.failure(harness.drive(), "JobFailed")
    assert "quota of assessments (20 per application per month" in message
    assert "ServiceQuotaExceededException" in message


# --------------------------------------------------------------------------- app and stack checks


@pytest.mark.parametrize(
    ("change", "wanted"),
    [
        ({"permissionModel": {"type": "LegacyIAMUser"}}, "uses the LegacyIAMUser permission model"),
        ({"permissionModel": None}, "uses the LegacyIAMUser permission model"),
        ({"policyArn": None}, "has no resiliency policy"),
        ({"status": "Deleting"}, "is Deleting"),
    ],
)
def test_an_app_that_cannot_be_assessed_fails_before_anything_changes(change, wanted):
    harness = Harness()
    harness.hub.app.update({k: v for k, v in change.items() if v is not None})
    for key in [k for k, v in change.items() if v is None]:
        harness.hub.app.pop(key)
    message = harness.failure(harness.drive(), "ConfigurationError")
    assert wanted in message
    assert harness.hub.names() == ["DescribeApp"]


def test_a_missing_stack_fails_asking_whether_its_stage_deployed():
    harness = Harness()
    harness.stacks[PIPELINE_ACCOUNT].stacks.clear()
    message = harness.failure(harness.drive(), "ConfigurationError")
    assert "stack Staging-Service does not exist in account 111111111111, eu-west-1: has its stage deployed?" in message
    assert "ImportResourcesToDraftAppVersion" not in harness.hub.names()


@pytest.mark.parametrize("status", ["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE", "ROLLBACK_COMPLETE"])
def test_a_stack_that_is_not_deployed_as_asked_is_not_assessed(status):
    harness = Harness()
    harness.stacks[PIPELINE_ACCOUNT].stacks["Staging-Service"]["StackStatus"] = status
    assert f"stack Staging-Service is {status}" in harness.failure(harness.drive())
    assert "ImportResourcesToDraftAppVersion" not in harness.hub.names()


def test_a_stack_answered_for_another_account_is_refused():
    harness = Harness()
    harness.stacks[PIPELINE_ACCOUNT].stacks["Staging-Service"]["StackId"] = stack_id("999999999999", REGION, "X")
    assert "not the stack arn:aws:cloudformation:eu-west-1:111111111111:stack/Staging-Service/" in harness.failure(
        harness.drive()
    )
    assert "ImportResourcesToDraftAppVersion" not in harness.hub.names()


# --------------------------------------------------------------------------- waiting


def test_one_invocation_polls_until_done_when_its_hold_allows():
    harness = Harness()
    harness.hub.import_statuses = ["InProgress", "InProgress", "Success"]
    harness.hub.assessment_statuses = ["Pending", "InProgress", "InProgress", "Success"]
    job = new_job()
    harness.run(job, timing=Timing(poll_seconds=0.01, hold_seconds=5.0))
    assert harness.pipeline.succeeded(job)["outputVariables"]["ComplianceStatus"] == "PolicyMet"
    assert harness.hub.names().count("DescribeAppAssessment") == 4


def test_an_invocation_hands_over_once_it_has_held_its_time():
    harness = Harness()
    harness.hub.assessment_statuses = ["InProgress"]
    job = new_job()
    started = time.monotonic()
    harness.run(job, timing=Timing(poll_seconds=0.05, hold_seconds=0.2))
    assert time.monotonic() - started < 2
    state = json.loads(harness.pipeline.continued(job))
    assert state["phase"] == "await_assessment"
    assert 2 <= harness.hub.names().count("DescribeAppAssessment") <= 5


def test_an_invocation_never_sleeps_into_the_watchdogs_margin():
    harness = Harness()
    harness.hub.assessment_statuses = ["InProgress"]
    margin = pj.Policy.from_env(os.environ).watchdog_margin
    job = new_job()
    started = time.monotonic()
    # a long hold and poll, but an invocation with little time left: it hands over instead of sleeping
    harness.run(job, context=Context((margin + 3) * 1000), timing=Timing(poll_seconds=30, hold_seconds=600))
    assert time.monotonic() - started < 3
    assert json.loads(harness.pipeline.continued(job))["phase"] == "await_import"
    assert harness.hub.names().count("DescribeDraftAppVersionResourcesImportStatus") == 1


def test_the_action_times_out_after_its_limit():
    harness = Harness()
    harness.hub.assessment_statuses = ["InProgress"]
    clock = itertools.count(1_000_000, 1000)
    timing = Timing(poll_seconds=0.001, hold_seconds=0.0, timeout_seconds=2500)
    jobs = harness.drive(now=lambda: float(next(clock)), timing=timing)
    message = harness.failure(jobs, "JobFailed")
    assert "timed out after" in message
    assert "(limit 2500 s)" in message
    assert "InProgress" in message


def test_an_import_in_conflict_with_a_running_one_waits_and_imports_again():
    harness = Harness()
    real = harness.hub.import_resources_to_draft_app_version
    conflicts = [client_error("ConflictException", "ImportResourcesToDraftAppVersion", 409, "import in progress")]

    def once(**params: Any) -> Any:
        if conflicts:
            harness.hub.calls.append(("ImportResourcesToDraftAppVersion", params))
            raise conflicts.pop()
        return real(**params)

    harness.hub.import_resources_to_draft_app_version = once  # type: ignore[method-assign]
    jobs = harness.drive()
    assert harness.final(jobs)[0] == "PutJobSuccessResult"
    first = json.loads(harness.pipeline.continued(jobs[0]))
    assert first["phase"] == "import"
    assert first["retries"] == 1
    assert "ConflictException; retrying" in harness.pipeline.only(jobs[0])[1]["executionDetails"]["summary"]
    assert harness.hub.names().count("ImportResourcesToDraftAppVersion") == 2
    assert harness.hub.names().count("StartAppAssessment") == 1


# --------------------------------------------------------------------------- throttling and retries


def test_throttling_is_retried_with_backoff_and_changes_nothing_twice():
    harness = Harness()
    harness.wrap["hub"] = lambda hub: Flaky(
        hub, ["describe_app", "import_resources_to_draft_app_version", "start_app_assessment"], times=2
    )
    harness.wrap["cfn"] = lambda cfn: Flaky(cfn, ["describe_stacks"], times=2)
    jobs = harness.drive()
    assert harness.final(jobs)[0] == "PutJobSuccessResult"
    assert harness.hub.names().count("ImportResourcesToDraftAppVersion") == 1
    assert len(harness.hub.assessments) == 1


def test_throttling_that_outlasts_the_retries_hands_over_then_gives_up():
    harness = Harness()
    harness.wrap["hub"] = lambda hub: Flaky(hub, ["describe_draft_app_version_resources_import_status"], times=None)
    jobs = harness.drive(limit=20)
    message = harness.failure(jobs, "JobFailed")
    assert "read the import status failed 6 times in a row" in message
    assert len(jobs) == ra.MAX_RETRIES + 1  # five throttled polls handed over, the sixth gives up
    assert "StartAppAssessment" not in harness.hub.names()


def test_a_throttled_start_is_carried_to_the_next_invocation_with_the_same_client_token():
    harness = Harness()
    flaky: dict[str, Any] = {}

    def wrap(hub: Any) -> Any:
        flaky.setdefault("hub", Flaky(hub, ["start_app_assessment"], times=4))  # one invocation's 4 attempts
        return flaky["hub"]

    harness.wrap["hub"] = wrap
    jobs = harness.drive()
    assert harness.final(jobs)[0] == "PutJobSuccessResult"
    (started,) = harness.hub.requests("StartAppAssessment")
    assert started["clientToken"] == jobs[0]


# --------------------------------------------------------------------------- continuation tokens


def _token(**changes: Any) -> str:
    state = State.first(
        "0a1b2c3d-1111-2222-3333-444455556666",
        ra.Assessment.from_json({**STAGING, "lookupRoleArn": None}, "t"),
        time.time(),
    )
    return json.dumps({**json.loads(state.dump()), **changes})


@pytest.mark.parametrize(
    ("token", "wanted"),
    [
        ("not json", "not one this handler wrote"),
        (json.dumps({"phase": "import"}), "not one this handler wrote"),
        (_token(phase="delete_everything"), "not one this handler wrote"),
        (_token(started_at=0), "not one this handler wrote"),
        (_token(retries=99), "not one this handler wrote"),
        (_token(assessment="0" * 32), "for another assessment"),
        (
            _token(
                phase="await_assessment", assessment_arn="arn:aws:resiliencehub:eu-west-1:999999999999:app-assessment/x"
            ),
            "not one this handler wrote",
        ),
        (_token(phase="await_assessment"), "not one this handler wrote"),  # no assessment ARN
    ],
)
def test_a_continuation_token_this_handler_did_not_write_is_refused(token, wanted):
    harness = Harness()
    job = new_job()
    harness.run(job, token=token)
    assert wanted in harness.pipeline.failed(job, "ConfigurationError")
    assert harness.hub.calls == []


def test_a_token_for_the_staging_assessment_is_refused_by_the_prod_action():
    harness = Harness()
    first = new_job()
    harness.run(first)
    job = new_job()
    harness.run(job, PROD, token=harness.pipeline.continued(first))
    assert "for another assessment" in harness.pipeline.failed(job, "ConfigurationError")


def test_an_assessment_of_another_app_is_refused():
    harness = Harness()
    harness.hub.foreign_assessment = True
    message = harness.failure(harness.drive(), "ConfigurationError")
    assert "is not one of app" in message


# --------------------------------------------------------------------------- duplicates and the watchdog


def test_a_duplicate_delivery_of_a_finished_job_changes_and_reports_nothing():
    harness = Harness()
    job = new_job()
    harness.run(job)
    calls = list(harness.hub.calls)
    assert harness.run(job)["outcome"] == "duplicate"
    assert harness.hub.calls == calls
    assert len(harness.pipeline.attempts) == 1


def test_concurrent_duplicate_deliveries_import_once_and_report_once():
    harness = Harness()
    job = new_job()
    barrier = threading.Barrier(5)
    outcomes: list[str] = []

    def deliver() -> None:
        barrier.wait()
        outcomes.append(harness.run(job)["outcome"])

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["continued"] + ["duplicate"] * 4
    assert harness.hub.names().count("ImportResourcesToDraftAppVersion") == 1
    assert len(harness.pipeline.attempts) == 1


def test_a_duplicate_of_the_starting_job_starts_no_second_assessment():
    harness = Harness()
    harness.hub.import_statuses = ["Success"]
    first = new_job()
    harness.run(first)  # import and start in one invocation
    assert json.loads(harness.pipeline.continued(first))["phase"] == "await_assessment"
    assert harness.run(first)["outcome"] == "duplicate"
    assert harness.hub.names().count("StartAppAssessment") == 1


def test_watchdog_reports_a_hung_call_and_nothing_is_imported():
    harness = Harness()
    release = threading.Event()
    real = harness.hub.describe_app

    def hung(**params: Any) -> Any:
        release.wait(10)
        return real(**params)

    harness.hub.describe_app = hung  # type: ignore[method-assign]
    policy = pj.Policy.from_env(os.environ)
    # time for the step's reserve (two calls at their worst case), then the watchdog's deadline
    budget = policy.watchdog_margin + 2 * policy.calls.worst_case_seconds() + 0.3
    job = new_job()
    started = time.monotonic()
    assert harness.run(job, context=Context(budget * 1000))["outcome"] == "failed"
    assert time.monotonic() - started < budget
    release.set()
    time.sleep(0.3)
    assert "ran out of time" in harness.pipeline.failed(job)
    assert "ImportResourcesToDraftAppVersion" not in harness.hub.names()


def test_a_report_that_fails_a_few_times_is_sent_once():
    harness = Harness(FakeCodePipeline(fail=3))
    job = new_job()
    harness.run(job)
    harness.pipeline.continued(job)
    assert len(harness.pipeline.attempts) == 4


def test_a_report_that_cannot_be_sent_fails_the_invocation_for_the_dead_letter_queue():
    harness = Harness(FakeCodePipeline(always=True))
    with pytest.raises(pj.ReportError):
        harness.run(new_job())


# --------------------------------------------------------------------------- permissions


def test_access_denied_on_the_stacks_is_a_permission_error():
    harness = Harness()
    harness.wrap["cfn"] = lambda cfn: Flaky(
        cfn, ["describe_stacks"], times=None, error=lambda: client_error("AccessDenied", "DescribeStacks", 403)
    )
    message = harness.failure(harness.drive(), "PermissionError")
    assert "DescribeStacks" in message
    assert "ImportResourcesToDraftAppVersion" not in harness.hub.names()


def test_a_lookup_role_that_cannot_be_assumed_says_how_to_bootstrap():
    harness = Harness()
    harness.security.denied = True
    message = harness.failure(harness.drive(PROD), "PermissionError")
    assert f"cannot assume {LOOKUP_ROLE}" in message
    assert "cdk bootstrap --trust" in message
    assert harness.hub.names() == ["DescribeApp"]


@pytest.mark.parametrize("method", ["start_app_assessment", "import_resources_to_draft_app_version", "describe_app"])
def test_access_denied_by_resilience_hub_is_a_permission_error(method):
    harness = Harness()
    harness.wrap["hub"] = lambda hub: Flaky(
        hub, [method], times=None, error=lambda: client_error("AccessDeniedException", "Operation", 403)
    )
    assert "AccessDeniedException" in harness.failure(harness.drive(), "PermissionError")


def test_an_unknown_app_is_a_configuration_error():
    harness = Harness()
    harness.wrap["hub"] = lambda hub: Flaky(
        hub, ["describe_app"], times=None, error=lambda: client_error("ResourceNotFoundException", "DescribeApp", 404)
    )
    assert f"(is {APP} the app's ARN?)" in harness.failure(harness.drive(), "ConfigurationError")


# --------------------------------------------------------------------------- forged and malformed events


@pytest.mark.parametrize(
    ("params", "wanted"),
    [
        ("not json", "UserParameters is not JSON"),
        (json.dumps(["a"]), "must be a JSON object"),
        (json.dumps({**STAGING, "extra": 1}), "unknown keys ['extra']"),
        (json.dumps({k: v for k, v in STAGING.items() if k != "stackNames"}), "lacks stackNames"),
        (json.dumps({**STAGING, "appArn": OTHER_APP}), "not built with"),
        (json.dumps({**STAGING, "appArn": "arn:aws:s3:::bucket"}), "is not a Resilience Hub app ARN"),
        (json.dumps({**STAGING, "stackNames": ["Staging-Service", "Other"]}), "not built with"),
        (json.dumps({**STAGING, "stackNames": "Staging-Service"}), "is not a list of distinct stack names"),
        (json.dumps({**STAGING, "account": "999999999999"}), "not built with"),
        (json.dumps({**STAGING, "region": "us-east-1"}), "not built with"),
        (json.dumps({**STAGING, "lookupRoleArn": f"arn:aws:iam::{PIPELINE_ACCOUNT}:role/x"}), "not built with"),
        (json.dumps({**PROD, "lookupRoleArn": f"arn:aws:iam::{TARGET_ACCOUNT}:role/attacker"}), "not built with"),
        (json.dumps({**PROD, "lookupRoleArn": "arn:aws:iam::999999999999:role/x"}), "is not a role of account"),
        (json.dumps({k: v for k, v in PROD.items() if k != "lookupRoleArn"}), "not built with"),
    ],
)
def test_malformed_or_forged_parameters_are_refused_before_any_call(params, wanted):
    harness = Harness()
    job = new_job()
    harness.run(job, params)
    assert wanted in harness.pipeline.failed(job, "ConfigurationError")
    assert harness.hub.calls == []
    assert harness.security.assumed == []


@pytest.mark.parametrize(
    "config",
    [
        None,
        "not json",
        json.dumps({"claimsPrefix": CLAIMS, "assessments": []}),
        json.dumps({"claimsPrefix": CLAIMS, "assessments": [{**STAGING, "appArn": "arn:aws:s3:::b"}]}),
        json.dumps({"assessments": CONFIG["assessments"]}),
    ],
)
def test_a_function_without_a_valid_configuration_reports_a_configuration_error(monkeypatch, config):
    if config is None:
        monkeypatch.delenv(ra.CONFIG_ENV)
    else:
        monkeypatch.setenv(ra.CONFIG_ENV, config)
    harness = Harness()
    job = new_job()
    harness.run(job)
    assert ra.CONFIG_ENV in harness.pipeline.failed(job, "ConfigurationError")
    assert harness.hub.calls == []


def test_an_event_that_is_not_a_codepipeline_job_is_refused_without_a_report():
    harness = Harness()
    with pytest.raises(ValueError, match="CodePipeline job event"):
        ra.handler({"Records": []}, None, clients=harness)
    assert harness.pipeline.attempts == []


def test_logs_are_json_lines(capsys):
    harness = Harness()
    harness.drive()
    lines = json_lines(capsys.readouterr().out)
    assert lines
    assert all({"level", "message"} <= set(line) for line in lines)
    assert any(line["message"] == "assessment started" for line in lines)


def test_assessment_names_and_client_tokens_fit_resilience_hubs_patterns():
    """Any CodePipeline job id gives a name and client token StartAppAssessment accepts (its model's patterns)."""
    members = service_model("resiliencehub").operation_model("StartAppAssessment").input_shape.members
    assert members["clientToken"].metadata["idempotencyToken"]
    assessment = ra.Assessment.from_json({**STAGING, "lookupRoleArn": None}, "t")
    for job_id in ("a" * 128, "0a1b2c3d-1111-2222-3333-444455556666", "job.with.dots_and-dashes"):
        state = State.first(job_id, assessment, 0.0)
        for field, value in (("assessmentName", state.name), ("clientToken", state.client_token)):
            shape = members[field]
            assert re.fullmatch(shape.metadata["pattern"].strip("^$"), value), (field, value)
            assert shape.metadata.get("min", 1) <= len(value) <= shape.metadata.get("max", 60)
