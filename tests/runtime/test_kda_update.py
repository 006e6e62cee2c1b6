"""The Flink update handler, offline: moto for S3, a fake Flink API and a fake CodePipeline.

moto 5 does not implement UpdateApplication, StartApplication or ListApplicationSnapshots, so the Flink
API is a small fake application (validated against the botocore model) whose status tests set. Each
CodePipeline job is one invocation; a continuation is a new job with the token of the previous one.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import os
import threading
import time
import zipfile
from typing import Any

import boto3
import pytest
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
    read_timeout,
    service_model,
)

from pipeline_constructs.runtime import _pipeline_job as pj
from pipeline_constructs.runtime import kda_update as ku
from pipeline_constructs.runtime.kda_update import State

REGION = "eu-west-1"
ARTIFACT_BUCKET = "app-pipeline-artifacts"
OTHER_BUCKET = "someone-elses-artifacts"
RELEASE_BUCKET = "clickstream-releases-111111111111-eu-west-1"
RELEASE_ARN = f"arn:aws:s3:::{RELEASE_BUCKET}"
APP = "clickstream-Prod"
ROLE = "arn:aws:iam::222222222222:role/clickstream-Prod-updater"
CLAIMS = "pipeline-jobs/kda-update/"
CONFIG = {
    "releaseBucket": RELEASE_BUCKET,
    "releaseBucketArn": RELEASE_ARN,
    "releasePrefix": "builds/",
    "manifestName": "kda-release.json",
    "claimsPrefix": CLAIMS,
    "applications": {
        APP: {"region": REGION, "roleArn": ROLE},
        "clickstream-Dev": {"region": REGION, "roleArn": "arn:aws:iam::111111111111:role/clickstream-Dev-updater"},
    },
}
PARAMS = {"applicationName": APP, "timeoutSeconds": 1800, "startApplication": True, "allowNonRestoredState": False}
OLD_KEY = "builds/0000000/aaaa/app-0.9.jar"
NEW_KEY = "builds/abc1234/exec-1/app-1.0.jar"
CREDENTIALS = {"accessKeyId": "AKIAJOB", "secretAccessKey": "job-secret", "sessionToken": "job-token"}
STATUSES = sorted(
    ku.IDLE | ku.BUSY | ku.ROLLBACK | {"DELETING"}
)  # every ApplicationStatus of the API (botocore model), checked below
_jobs = itertools.count(1)
SESSION = boto3.session.Session(region_name=REGION)


def new_job() -> str:
    return f"job-{next(_jobs):06d}"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def aws():
    with moto_aws(REGION):
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (ARTIFACT_BUCKET, OTHER_BUCKET, RELEASE_BUCKET, "other-releases"):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=RELEASE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        _S3[:] = [s3]
        yield s3
        _S3.clear()


@pytest.fixture(autouse=True)
def environment(monkeypatch):
    job_environment(monkeypatch, ARTIFACT_BUCKET, {ku.CONFIG_ENV: json.dumps(CONFIG)})


@pytest.fixture(scope="module")
def release_version(aws) -> str:
    return aws.put_object(Bucket=RELEASE_BUCKET, Key=NEW_KEY, Body=b"jar", Metadata={"sha256": "f" * 64})["VersionId"]


@pytest.fixture
def manifest(release_version) -> dict[str, str]:
    return {"bucket": RELEASE_BUCKET, "key": NEW_KEY, "versionId": release_version, "sha256": "f" * 64}


def artifact(files: dict[str, str], key: str | None = None, bucket: str = ARTIFACT_BUCKET) -> str:
    key = key or f"app-pipeline/Release/{new_job()}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    boto3.client("s3", region_name=REGION).put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
    return key


def release_artifact(manifest: dict[str, Any], **kwargs: Any) -> str:
    return artifact({"kda-release.json": json.dumps(manifest)}, **kwargs)


def location(key: str, release_version: str) -> dict[str, Any]:
    return {"BucketARN": RELEASE_ARN, "FileKey": key, "ObjectVersion": release_version}


def application(status: str, code: dict[str, str], version: int = 5, snapshots: bool = True) -> dict[str, Any]:
    return {
        "ApplicationARN": f"arn:aws:kinesisanalytics:{REGION}:222222222222:application/{APP}",
        "ApplicationName": APP,
        "RuntimeEnvironment": "FLINK-1_20",
        "ApplicationStatus": status,
        "ApplicationVersionId": version,
        "ConditionalToken": f"token-{version}",
        "ApplicationConfigurationDescription": {
            "ApplicationCodeConfigurationDescription": {
                "CodeContentType": "ZIPFILE",
                "CodeContentDescription": {"S3ApplicationCodeLocationDescription": dict(code)},
            },
            "ApplicationSnapshotConfigurationDescription": {"SnapshotsEnabled": snapshots},
        },
    }


class FakeFlink(RecordingFake):
    """One Managed Flink application: requests validated against the botocore model, answered like the API."""

    def __init__(self, app: dict[str, Any]) -> None:
        super().__init__("kinesisanalyticsv2")
        self.app = app
        self.snapshots: list[dict[str, Any]] = []

    def describe_application(self, **params: Any) -> dict[str, Any]:
        self._call("DescribeApplication", params)
        if params["ApplicationName"] != APP:
            raise client_error("ResourceNotFoundException", "DescribeApplication")
        return {"ApplicationDetail": copy.deepcopy(self.app)}

    def update_application(self, **params: Any) -> dict[str, Any]:
        self._call("UpdateApplication", params)
        with self.lock:
            if params.get("ConditionalToken") not in (None, self.app["ConditionalToken"]):
                raise client_error("ConcurrentModificationException", "UpdateApplication", 400, "conditional token")
            update = params["ApplicationConfigurationUpdate"]["ApplicationCodeConfigurationUpdate"]
            s3 = update["CodeContentUpdate"]["S3ContentLocationUpdate"]
            version = self.app["ApplicationVersionId"] + 1
            self.app.update(
                application(
                    "UPDATING",
                    {
                        "BucketARN": s3["BucketARNUpdate"],
                        "FileKey": s3["FileKeyUpdate"],
                        "ObjectVersion": s3["ObjectVersionUpdate"],
                    },
                    version,
                )
            )
            return {"ApplicationDetail": copy.deepcopy(self.app)}

    def start_application(self, **params: Any) -> dict[str, Any]:
        self._call("StartApplication", params)
        with self.lock:
            self.app["ApplicationStatus"] = "STARTING"
        return {}

    def list_application_snapshots(self, **params: Any) -> dict[str, Any]:
        self._call("ListApplicationSnapshots", params)
        return {"SnapshotSummaries": self.snapshots}

    def finish(self, status: str = "RUNNING") -> None:
        """The service finishes what it was doing."""
        self.app["ApplicationStatus"] = status


def _s3() -> Any:
    if not _S3:
        _S3.append(boto3.client("s3", region_name=REGION))
    return _S3[0]


_S3: list[Any] = []


class Harness(ku.Clients):
    """moto S3 (claims atomic), the fake Flink application, the fake CodePipeline."""

    def __init__(self, flink: FakeFlink, codepipeline: FakeCodePipeline | None = None) -> None:
        super().__init__(SESSION)
        self.flink = flink
        self.pipeline = codepipeline or FakeCodePipeline()
        self.assumed: list[tuple[str, str]] = []
        self.wrap: dict[str, Any] = {}
        self.downloads = 0

    def codepipeline(self) -> Any:
        return self.pipeline

    def s3(self) -> Any:
        return self.wrap.get("s3", lambda c: c)(Atomic(_s3()))

    def artifact_s3(self, credentials: Any) -> Any:
        self.downloads += 1
        return self.wrap.get("artifact", lambda c: c)(_s3())

    def kda(self, role_arn: str, region: str, session_name: str) -> Any:
        if "sts" in self.wrap:
            self.wrap["sts"]()
        self.assumed.append((role_arn, region))
        return self.wrap.get("kda", lambda c: c)(self.flink)

    def run(
        self,
        job_id: str,
        key: str,
        *,
        params: Any = None,
        token: str | None = None,
        bucket: str = ARTIFACT_BUCKET,
        context: Any = None,
        now: Any = time.time,
        inputs: Any = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "actionConfiguration": {
                "configuration": {
                    "FunctionName": "update",
                    "UserParameters": params if isinstance(params, str) else json.dumps(params or PARAMS),
                }
            },
            "inputArtifacts": inputs
            if inputs is not None
            else [
                {"name": "Release", "location": {"type": "S3", "s3Location": {"bucketName": bucket, "objectKey": key}}}
            ],
            "outputArtifacts": [],
            "artifactCredentials": CREDENTIALS,
        }
        if token is not None:
            data["continuationToken"] = token
        event = {"CodePipeline.job": {"id": job_id, "accountId": "111111111111", "data": data}}
        return ku.handler(event, context, clients=self, now=now)

    def drive(self, key: str, *, steps: list[Any], **kwargs: Any) -> list[str]:
        """Run the action to its end: between invocations, ``steps[i]()`` changes the application."""
        token = None
        jobs = []
        for change in [*steps, None]:
            job = new_job()
            jobs.append(job)
            self.run(job, key, token=token, **kwargs)
            name, params = self.pipeline.only(job)
            if name == "PutJobFailureResult" or "continuationToken" not in params:
                return jobs
            token = params["continuationToken"]
            if change is not None:
                change()
        raise AssertionError(f"the action did not end after {len(steps)} steps: {self.pipeline.results}")


@pytest.fixture
def old(release_version) -> dict[str, str]:
    return location(OLD_KEY, "old-version")


@pytest.fixture
def new(release_version) -> dict[str, str]:
    return location(NEW_KEY, release_version)


def harness_for(status: str, code: dict[str, str], **kwargs: Any) -> Harness:
    return Harness(FakeFlink(application(status, code, **kwargs)))


def final(harness: Harness, jobs: list[str]) -> tuple[str, dict[str, Any]]:
    """The result of the action's last job (every job had exactly one)."""
    for job in jobs:
        harness.pipeline.only(job)
    return harness.pipeline.only(jobs[-1])


# --------------------------------------------------------------------------- updates


def test_running_app_is_updated_with_the_release_and_its_state(manifest, old, new):
    harness = harness_for("RUNNING", old)
    key = release_artifact(manifest)
    jobs = harness.drive(key, steps=[harness.flink.finish])

    name, params = final(harness, jobs)
    assert name == "PutJobSuccessResult"
    assert "continuationToken" not in params
    assert "runs s3://" in params["executionDetails"]["summary"]
    ((_, request),) = [c for c in harness.flink.calls if c[0] == "UpdateApplication"]
    assert request["ConditionalToken"] == "token-5"
    code = request["ApplicationConfigurationUpdate"]["ApplicationCodeConfigurationUpdate"]
    assert code["CodeContentUpdate"]["S3ContentLocationUpdate"] == {
        "BucketARNUpdate": RELEASE_ARN,
        "FileKeyUpdate": NEW_KEY,
        "ObjectVersionUpdate": manifest["versionId"],
    }
    assert request["ApplicationConfigurationUpdate"]["ApplicationSnapshotConfigurationUpdate"] == {
        "SnapshotsEnabledUpdate": True
    }
    assert request["RunConfigurationUpdate"]["ApplicationRestoreConfiguration"] == {
        "ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"
    }
    assert harness.assumed == [(ROLE, REGION)] * len(jobs)  # the configured role, never the event's


def test_a_retry_of_an_applied_release_succeeds_without_updating(manifest, new):
    harness = harness_for("RUNNING", new)
    job = new_job()
    harness.run(job, release_artifact(manifest))
    assert "already runs" in harness.pipeline.succeeded(job)["executionDetails"]["summary"]
    assert harness.flink.names() == ["DescribeApplication"]


def test_ready_app_with_the_release_and_start_requested_is_started_not_reported_done(manifest, new):
    """The false success of a retry after a failed start: READY is not RUNNING."""
    harness = harness_for("READY", new)
    harness.flink.snapshots = [{"SnapshotName": "s1", "SnapshotStatus": "READY", "ApplicationVersionId": 5}]
    key = release_artifact(manifest)
    first = new_job()
    harness.run(first, key)
    harness.pipeline.continued(first)
    ((_, start),) = [c for c in harness.flink.calls if c[0] == "StartApplication"]
    assert start["RunConfiguration"]["ApplicationRestoreConfiguration"] == {
        "ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"
    }
    harness.flink.finish("RUNNING")
    second = new_job()
    harness.run(second, key, token=harness.pipeline.continued(first))
    assert "started" in harness.pipeline.succeeded(second)["executionDetails"]["summary"]


def test_ready_app_that_does_not_start_fails(manifest, new):
    harness = harness_for("READY", new)
    key = release_artifact(manifest)
    jobs = harness.drive(key, steps=[lambda: harness.flink.finish("READY")])
    name, params = final(harness, jobs)
    assert name == "PutJobFailureResult"
    assert "did not start" in params["failureDetails"]["message"]


def test_ready_app_with_the_release_is_left_alone_when_start_is_not_asked(manifest, new):
    harness = harness_for("READY", new)
    job = new_job()
    harness.run(job, release_artifact(manifest), params={**PARAMS, "startApplication": False})
    assert "not started" in harness.pipeline.succeeded(job)["executionDetails"]["summary"]
    assert "StartApplication" not in harness.flink.names()


@pytest.mark.parametrize(
    ("snapshots", "restore"),
    [
        ([], "SKIP_RESTORE_FROM_SNAPSHOT"),
        (["READY"], "RESTORE_FROM_LATEST_SNAPSHOT"),
        (["FAILED"], "SKIP_RESTORE_FROM_SNAPSHOT"),
    ],
)
def test_stopped_app_is_updated_then_started_from_its_latest_snapshot_if_any(manifest, old, snapshots, restore):
    harness = harness_for("READY", old)
    harness.flink.snapshots = [{"SnapshotName": f"s{i}", "SnapshotStatus": s} for i, s in enumerate(snapshots)]
    key = release_artifact(manifest)
    jobs = harness.drive(key, steps=[lambda: harness.flink.finish("READY"), harness.flink.finish])
    name, _ = final(harness, jobs)
    assert name == "PutJobSuccessResult"
    assert [n for n in harness.flink.names() if n != "DescribeApplication"] == [
        "UpdateApplication",
        "ListApplicationSnapshots",
        "StartApplication",
    ]
    ((_, update),) = [c for c in harness.flink.calls if c[0] == "UpdateApplication"]
    assert "RunConfigurationUpdate" not in update  # a stopped application is not restarted by the update
    ((_, start),) = [c for c in harness.flink.calls if c[0] == "StartApplication"]
    assert start["RunConfiguration"]["ApplicationRestoreConfiguration"]["ApplicationRestoreType"] == restore


def test_running_app_with_snapshots_disabled_is_not_updated(manifest, old):
    harness = harness_for("RUNNING", old, snapshots=False)
    job = new_job()
    harness.run(job, release_artifact(manifest))
    assert "snapshots disabled" in harness.pipeline.failed(job, "ConfigurationError")
    assert "UpdateApplication" not in harness.flink.names()


def test_application_without_conditional_token_uses_its_version_id(manifest, old):
    harness = harness_for("RUNNING", old)
    del harness.flink.app["ConditionalToken"]
    harness.run(new_job(), release_artifact(manifest))
    ((_, request),) = [c for c in harness.flink.calls if c[0] == "UpdateApplication"]
    assert request["CurrentApplicationVersionId"] == 5
    assert "ConditionalToken" not in request


# --------------------------------------------------------------------------- every status


def test_the_fake_knows_every_status_of_the_api():
    model = service_model("kinesisanalyticsv2")
    assert set(model.shape_for("ApplicationStatus").enum) == set(STATUSES)


def _token(phase: str, manifest: dict[str, str], **fields: Any) -> str:
    release = ku.Release(manifest["bucket"], manifest["key"], manifest["versionId"])
    return State(phase=phase, started_at=time.time(), release=release.fingerprint, **fields).dump()


@pytest.mark.parametrize("phase", ["update", "await_update", "await_start"])
@pytest.mark.parametrize("status", [*STATUSES, "SOMETHING_NEW"])
def test_no_status_in_any_phase_gives_a_false_success(manifest, old, new, phase, status):
    """The general rule: a final success only when the application RUNS the release (or, not asked to
    start, holds it READY); updates and starts only from READY/RUNNING."""
    key = release_artifact(manifest)
    for runs, start in itertools.product((True, False), (True, False)):
        harness = harness_for(status, new if runs else old)
        token = None
        if phase == "await_update" or phase == "await_start":
            token = _token(phase, manifest, expected_version=5)
        job = new_job()
        harness.run(job, key, token=token, params={**PARAMS, "startApplication": start})
        name, params = harness.pipeline.only(job)
        success = name == "PutJobSuccessResult" and "continuationToken" not in params
        if success:
            assert runs, (status, start, params)
            assert status == "RUNNING" or (status == "READY" and not start), (status, runs, start, params)
        changes = [n for n in harness.flink.names() if n in ("UpdateApplication", "StartApplication")]
        if changes:
            assert status in ku.IDLE, (status, changes)
        if status in ku.BUSY and phase != "await_start":
            assert "continuationToken" in params  # busy: waited for, never reported done
        if status in ("DELETING", "SOMETHING_NEW") or (phase != "update" and status in ku.ROLLBACK):
            assert name == "PutJobFailureResult", (status, phase, params)


@pytest.mark.parametrize("status", sorted(ku.BUSY | ku.ROLLBACK))
def test_a_busy_application_fails_clearly_at_the_deadline(manifest, old, status):
    harness = harness_for(status, old)
    key = release_artifact(manifest)
    token = _token("update", manifest)
    job = new_job()
    harness.run(job, key, token=token, now=lambda: time.time() + 1801)
    assert "timed out" in harness.pipeline.failed(job)
    assert "UpdateApplication" not in harness.flink.names()


def test_an_update_the_service_rolls_back_fails(manifest, old):
    harness = harness_for("RUNNING", old)
    key = release_artifact(manifest)

    def rolled_back() -> None:
        harness.flink.app.update(application("RUNNING", old, 7))
        harness.flink.app["ApplicationVersionRolledBackFrom"] = 6

    jobs = harness.drive(key, steps=[rolled_back])
    name, params = final(harness, jobs)
    assert name == "PutJobFailureResult"
    assert "rolled back" in params["failureDetails"]["message"]


def test_someone_else_deploying_meanwhile_fails_clearly(manifest, old):
    harness = harness_for("RUNNING", old)
    key = release_artifact(manifest)
    jobs = harness.drive(
        key, steps=[lambda: harness.flink.app.update(application("RUNNING", location("builds/x/y/other.jar", "v9"), 7))]
    )
    name, params = final(harness, jobs)
    assert name == "PutJobFailureResult"
    assert "another deployment" in params["failureDetails"]["message"]


def test_a_running_app_that_stops_after_the_update_fails(manifest, old):
    harness = harness_for("RUNNING", old)
    jobs = harness.drive(release_artifact(manifest), steps=[lambda: harness.flink.finish("READY")])
    name, params = final(harness, jobs)
    assert name == "PutJobFailureResult"
    assert "stopped" in params["failureDetails"]["message"]


# --------------------------------------------------------------------------- ConditionalToken, ambiguity


def test_a_conditional_token_mismatch_is_retried_with_a_fresh_token(manifest, old):
    harness = harness_for("RUNNING", old)
    harness.flink.app["ConditionalToken"] = "stale"  # changed between describe and update...
    real_describe = harness.flink.describe_application
    served = []

    def describe(**params: Any) -> Any:
        response = real_describe(**params)
        if not served:
            served.append(1)
            response["ApplicationDetail"]["ConditionalToken"] = "token-4"  # ...the first describe saw an old token
        return response

    harness.flink.app["ConditionalToken"] = "token-5"
    harness.flink.describe_application = describe  # type: ignore[method-assign]
    jobs = harness.drive(release_artifact(manifest), steps=[lambda: None, harness.flink.finish])
    name, _ = final(harness, jobs)
    assert name == "PutJobSuccessResult"
    tokens = [c[1]["ConditionalToken"] for c in harness.flink.calls if c[0] == "UpdateApplication"]
    assert tokens == ["token-4", "token-5"]


def test_repeated_conditional_token_conflicts_fail(manifest, old):
    harness = harness_for("RUNNING", old)
    harness.wrap["kda"] = lambda c: Flaky(
        c, ["update_application"], times=None,
        error=lambda: client_error("ConcurrentModificationException", "UpdateApplication", 400, "conditional token"),
    )  # fmt: skip
    jobs = harness.drive(release_artifact(manifest), steps=[lambda: None] * (ku.MAX_CONFLICTS + 1))
    name, params = final(harness, jobs)
    assert name == "PutJobFailureResult"
    assert "ConditionalToken conflict" in params["failureDetails"]["message"]


def test_an_update_whose_response_was_lost_is_not_repeated(manifest, old):
    """UpdateApplication ran but timed out: the next invocation sees the new version instead of updating again."""
    harness = harness_for("RUNNING", old)

    class LostResponse:
        def __init__(self, client: Any) -> None:
            self._client = client

        def __getattr__(self, name: str) -> Any:
            return getattr(self._client, name)

        def update_application(self, **params: Any) -> Any:
            self._client.update_application(**params)
            raise read_timeout()

    harness.wrap["kda"] = LostResponse
    jobs = harness.drive(release_artifact(manifest), steps=[harness.flink.finish])
    name, _ = final(harness, jobs)
    assert name == "PutJobSuccessResult"
    assert harness.flink.names().count("UpdateApplication") == 1


def test_an_update_that_timed_out_before_it_ran_is_made_again(manifest, old):
    harness = harness_for("RUNNING", old)
    flaky = Flaky(harness.flink, ["update_application"], times=1, error=read_timeout)
    harness.wrap["kda"] = lambda c: flaky
    jobs = harness.drive(release_artifact(manifest), steps=[lambda: None, harness.flink.finish])
    name, _ = final(harness, jobs)
    assert name == "PutJobSuccessResult"
    assert harness.flink.app["ApplicationVersionId"] == 6  # updated once


# --------------------------------------------------------------------------- duplicates and rollback


def test_a_duplicate_delivery_of_a_finished_job_changes_and_reports_nothing(manifest, old):
    harness = harness_for("RUNNING", old)
    key = release_artifact(manifest)
    job = new_job()
    harness.run(job, key)
    calls = list(harness.flink.calls)
    assert harness.run(job, key)["outcome"] == "duplicate"
    assert harness.flink.calls == calls
    assert len(harness.pipeline.attempts) == 1


def test_a_duplicate_after_a_rollback_does_not_redeploy_the_rolled_back_release(manifest, old):
    harness = harness_for("RUNNING", old)
    key = release_artifact(manifest)
    first = new_job()
    harness.run(first, key)
    token = harness.pipeline.continued(first)
    harness.flink.app.update(application("RUNNING", old, 7))  # the service rolled the update back
    harness.flink.app["ApplicationVersionRolledBackFrom"] = 6
    second = new_job()
    harness.run(second, key, token=token)
    assert "rolled back" in harness.pipeline.failed(second)
    updates = harness.flink.names().count("UpdateApplication")
    assert harness.run(first, key)["outcome"] == "duplicate"  # the first job delivered again
    assert harness.flink.names().count("UpdateApplication") == updates == 1


def test_concurrent_duplicate_deliveries_update_once_and_report_once(manifest, old):
    harness = harness_for("RUNNING", old)
    key = release_artifact(manifest)
    job = new_job()
    barrier = threading.Barrier(5)
    outcomes: list[str] = []

    def deliver() -> None:
        barrier.wait()
        outcomes.append(harness.run(job, key)["outcome"])

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["continued"] + ["duplicate"] * 4
    assert harness.flink.names().count("UpdateApplication") == 1
    assert len(harness.pipeline.attempts) == 1


# --------------------------------------------------------------------------- forged events


@pytest.mark.parametrize(
    ("forgery", "message"),
    [
        ({"bucket": OTHER_BUCKET}, "not this pipeline's artifact bucket"),
        ({"key": f"{CLAIMS}x.json"}, "not a pipeline artifact"),
        ({"params": {**PARAMS, "roleArn": "arn:aws:iam::999999999999:role/attacker"}}, "roleArn"),
        ({"params": {**PARAMS, "region": "us-east-1"}}, "region"),
        ({"params": {**PARAMS, "releaseBucketArn": "arn:aws:s3:::other-releases"}}, "releaseBucketArn"),
        ({"params": {**PARAMS, "applicationName": "someone-elses-app"}}, "not an application this function deploys"),
        ({"params": {**PARAMS, "releaseKey": "builds/old.jar"}}, "unknown keys"),
        ({"params": {**PARAMS, "startApplication": "false"}}, "expected JSON true or false"),
        ({"params": {**PARAMS, "allowNonRestoredState": 1}}, "expected JSON true or false"),
        ({"params": {**PARAMS, "timeoutSeconds": "1800"}}, "timeoutSeconds"),
        ({"params": {**PARAMS, "timeoutSeconds": True}}, "timeoutSeconds"),
        ({"params": {**PARAMS, "timeoutSeconds": 7200}}, "timeoutSeconds"),
        ({"params": "not json"}, "not valid JSON"),
        ({"params": "[]"}, "JSON object"),
        ({"manifest": {"bucket": "other-releases"}}, "not this pipeline's release bucket"),
        ({"manifest": {"key": "other/app.jar"}}, "outside the release prefix"),
        ({"manifest": {"key": "builds/../secrets/app.jar"}}, "outside the release prefix"),
        ({"inputs": []}, "exactly one input artifact"),
    ],
)
def test_forged_events_fail_without_touching_the_application(manifest, old, forgery, message):
    harness = harness_for("RUNNING", old)
    key = release_artifact({**manifest, **forgery.get("manifest", {})}, bucket=forgery.get("bucket", ARTIFACT_BUCKET))
    key = forgery.get("key", key)
    job = new_job()
    harness.run(
        job,
        key,
        bucket=forgery.get("bucket", ARTIFACT_BUCKET),
        params=forgery.get("params"),
        inputs=forgery.get("inputs"),
    )
    assert message in harness.pipeline.failed(job, "ConfigurationError")
    assert harness.flink.calls == []
    assert harness.assumed == []


@pytest.mark.parametrize(
    "token",
    [
        "forged",
        json.dumps({"phase": "await_start", "started_at": 0, "release": "x"}),
        json.dumps({"phase": "deploy", "started_at": 1, "release": "x"}),
    ],
)
def test_forged_continuation_tokens_fail(manifest, old, token):
    harness = harness_for("RUNNING", old)
    job = new_job()
    harness.run(job, release_artifact(manifest), token=token)
    assert "continuation token" in harness.pipeline.failed(job)
    assert harness.flink.calls == []


def test_a_continuation_token_for_another_release_fails(manifest, old, release_version):
    harness = harness_for("RUNNING", old)
    other = {**manifest, "key": "builds/zzz/exec-0/app-0.1.jar"}
    job = new_job()
    harness.run(job, release_artifact(manifest), token=_token("await_update", other, expected_version=6))
    assert "another release" in harness.pipeline.failed(job)
    assert harness.flink.calls == []


def test_a_release_key_s3_cannot_hold_fails_before_any_change(manifest, old):
    harness = harness_for("RUNNING", old)
    job = new_job()
    harness.run(job, release_artifact({**manifest, "key": "builds/" + "k" * 2048}))
    assert "cannot hold" in harness.pipeline.failed(job)
    assert harness.flink.calls == []


def test_a_long_release_key_is_deployed_and_tracked(aws, old):
    """A 1000-character key (S3 allows 1024): the continuation token does not carry it."""
    key = "builds/" + "k" * 990 + "/a.jar"
    version = aws.put_object(Bucket=RELEASE_BUCKET, Key=key, Body=b"jar")["VersionId"]
    harness = harness_for("RUNNING", old)
    jobs = harness.drive(
        release_artifact({"bucket": RELEASE_BUCKET, "key": key, "versionId": version}), steps=[harness.flink.finish]
    )
    name, _ = final(harness, jobs)
    assert name == "PutJobSuccessResult"


# --------------------------------------------------------------------------- artifacts and releases


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda m: "app-pipeline/Release/missing", "cannot download the input artifact"),
        (lambda m: artifact({"README": "no manifest"}), "has no kda-release.json"),
        (lambda m: artifact({"kda-release.json": "{not json"}), "cannot read kda-release.json"),
        (lambda m: artifact({"kda-release.json": "[]"}), "must be a JSON object"),
        (lambda m: artifact({"kda-release.json": json.dumps({**m, "versionId": "null"})}), "not versioned"),
        (lambda m: artifact({"kda-release.json": json.dumps({**m, "sha256": "xyz"})}), "sha256"),
        (lambda m: _raw_artifact(b"not a zip"), "cannot read kda-release.json"),
        (lambda m: _raw_artifact(b""), "cannot read kda-release.json"),
        (lambda m: artifact({"kda-release.json": json.dumps({**m, "versionId": "gone"})}), "does not exist"),
        (lambda m: artifact({"kda-release.json": json.dumps({**m, "sha256": "e" * 64})}), "the build recorded"),
    ],
)
def test_unreadable_artifacts_and_missing_releases_fail_before_touching_the_app(manifest, old, setup, message):
    harness = harness_for("RUNNING", old)
    job = new_job()
    harness.run(job, setup(manifest))
    assert message in harness.pipeline.failed(job)
    assert harness.flink.calls == []


def _raw_artifact(data: bytes) -> str:
    key = f"app-pipeline/Release/{new_job()}"
    boto3.client("s3", region_name=REGION).put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=data)
    return key


def test_missing_application_says_to_deploy_the_infrastructure_first(manifest, old):
    harness = harness_for("RUNNING", old)
    harness.flink.describe_application = lambda **_: (_ for _ in ()).throw(  # type: ignore[method-assign]
        client_error("ResourceNotFoundException", "DescribeApplication")
    )
    job = new_job()
    harness.run(job, release_artifact(manifest))
    assert "deploy the infrastructure" in harness.pipeline.failed(job, "ConfigurationError")


@pytest.mark.parametrize(
    ("target", "error", "kind"),
    [
        ("sts", lambda: client_error("AccessDenied", "AssumeRole", 403), "PermissionError"),
        (
            "update_application",
            lambda: client_error("AccessDeniedException", "UpdateApplication", 400),
            "PermissionError",
        ),
        (
            "update_application",
            lambda: client_error("InvalidArgumentException", "UpdateApplication", 400, "bad jar"),
            "JobFailed",
        ),
    ],
)
def test_aws_errors_are_reported_with_their_kind(manifest, old, target, error, kind):
    harness = harness_for("RUNNING", old)
    if target == "sts":

        def deny() -> None:
            raise error()

        harness.wrap["sts"] = deny
    else:
        harness.wrap["kda"] = lambda c: Flaky(c, [target], times=None, error=error)
    job = new_job()
    harness.run(job, release_artifact(manifest))
    harness.pipeline.failed(job, kind)


# --------------------------------------------------------------------------- throttling and time


def test_throttling_on_every_call_is_retried(manifest, old):
    harness = Harness(FakeFlink(application("RUNNING", old)), FakeCodePipeline(fail=2))
    harness.wrap["s3"] = lambda c: Flaky(c, ["put_object", "get_object", "head_object"], times=1)
    harness.wrap["artifact"] = lambda c: Flaky(c, ["get_object"], times=2)
    harness.wrap["kda"] = lambda c: Flaky(
        c, ["describe_application", "update_application", "list_application_snapshots", "start_application"], times=2
    )
    throttles = iter([True, False])

    def sts() -> None:
        if next(throttles, False):
            raise client_error("Throttling", "AssumeRole")

    harness.wrap["sts"] = sts
    job = new_job()
    assert harness.run(job, release_artifact(manifest))["outcome"] == "continued"
    assert harness.flink.names().count("UpdateApplication") == 1


def test_throttling_that_never_ends_on_describe_fails(manifest, old):
    harness = harness_for("RUNNING", old)
    harness.wrap["kda"] = lambda c: Flaky(c, ["describe_application"], times=None)
    job = new_job()
    harness.run(job, release_artifact(manifest))
    assert "Throttling" in harness.pipeline.failed(job)


def test_throttled_updates_are_carried_to_later_invocations_then_fail(manifest, old):
    harness = harness_for("RUNNING", old)
    harness.wrap["kda"] = lambda c: Flaky(c, ["update_application"], times=None)
    jobs = harness.drive(release_artifact(manifest), steps=[lambda: None] * (ku.MAX_RETRIES + 1))
    name, params = final(harness, jobs)
    assert name == "PutJobFailureResult"
    assert "gave up" in params["failureDetails"]["message"]


def test_too_little_time_fails_before_touching_the_application(manifest, old):
    harness = harness_for("RUNNING", old)
    job = new_job()
    harness.run(job, release_artifact(manifest), context=Context(300))
    time.sleep(0.3)  # the abandoned worker reaches its next call, and stops there
    assert "ran out of time" in harness.pipeline.failed(job)
    assert "UpdateApplication" not in harness.flink.names()


def test_watchdog_reports_a_hung_describe_and_the_update_never_happens(manifest, old):
    harness = harness_for("RUNNING", old)
    release = threading.Event()
    real = harness.flink.describe_application

    def hung(**params: Any) -> Any:
        release.wait(10)
        return real(**params)

    harness.flink.describe_application = hung  # type: ignore[method-assign]
    margin = pj.Policy.from_env(os.environ).watchdog_margin
    job = new_job()
    started = time.monotonic()
    assert harness.run(job, release_artifact(manifest), context=Context((margin + 0.3) * 1000))["outcome"] == "failed"
    assert time.monotonic() - started < margin + 0.3
    release.set()
    time.sleep(0.3)
    assert "ran out of time" in harness.pipeline.failed(job)
    assert "UpdateApplication" not in harness.flink.names()


# --------------------------------------------------------------------------- reporting and logs


def test_a_report_that_fails_a_few_times_is_sent_once(manifest, new):
    harness = Harness(FakeFlink(application("RUNNING", new)), FakeCodePipeline(fail=3, error=read_timeout))
    job = new_job()
    harness.run(job, release_artifact(manifest))
    harness.pipeline.succeeded(job)


def test_a_report_that_cannot_be_sent_raises_for_the_dead_letter_queue(manifest, new):
    harness = Harness(FakeFlink(application("RUNNING", new)), FakeCodePipeline(always=True))
    with pytest.raises(pj.ReportError):
        harness.run(new_job(), release_artifact(manifest))
    assert harness.pipeline.results == []


def test_missing_configuration_is_reported(manifest, old, monkeypatch):
    monkeypatch.delenv(ku.CONFIG_ENV)
    harness = harness_for("RUNNING", old)
    job = new_job()
    harness.run(job, release_artifact(manifest))
    assert "KDA_UPDATE_CONFIG is not set" in harness.pipeline.failed(job, "ConfigurationError")


def test_event_without_job_raises_and_reports_nothing():
    with pytest.raises(ValueError, match="CodePipeline job"):
        ku.handler({"Records": []}, None)


def test_logs_are_json_lines(manifest, old, capsys):
    harness = harness_for("RUNNING", old)
    job = new_job()
    harness.run(job, release_artifact(manifest))
    lines = json_lines(capsys.readouterr().out)
    assert lines
    assert all(line["jobId"] == job and "level" in line and "message" in line for line in lines)
