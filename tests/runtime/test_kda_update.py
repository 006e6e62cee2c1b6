"""The Flink update handler, offline: moto for S3, botocore Stubber for Flink (kinesisanalyticsv2) and CodePipeline.

moto 5.2 implements kinesisanalyticsv2 CreateApplication/DescribeApplication but not UpdateApplication,
StartApplication or ListApplicationSnapshots, so the Flink API is stubbed: the Stubber still validates
every request against the botocore model. CodePipeline job results are stubbed and captured.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from botocore.validate import validate_parameters
from moto import mock_aws

from pipeline_constructs.runtime import kda_update
from pipeline_constructs.runtime.kda_update import MANIFEST_NAME, Clients, JobFailedError, handler

REGION = "eu-west-1"
JOB_ID = "11111111-2222-3333-4444-555555555555"
ARTIFACT_BUCKET = "app-pipeline-artifacts"
RELEASE_BUCKET = "clickstream-releases-111111111111-eu-west-1"
RELEASE_ARN = f"arn:aws:s3:::{RELEASE_BUCKET}"
APP = "clickstream-Prod"
ROLE = "arn:aws:iam::222222222222:role/clickstream-Prod-updater"
PARAMS = {
    "applicationName": APP,
    "region": REGION,
    "roleArn": ROLE,
    "releaseBucketArn": RELEASE_ARN,
    "timeoutSeconds": 1800,
    "startApplication": True,
    "allowNonRestoredState": False,
}
OLD_KEY = "builds/0000000/aaaa/app-0.9.jar"
NEW_KEY = "builds/abc1234/exec-1/app-1.0.jar"
T0 = 1_800_000_000.0


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def aws():
    """One moto account for the module (starting moto per test costs a second each)."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            env.setenv(name, value)
        with mock_aws():
            s3 = boto3.client("s3", region_name=REGION)
            for bucket in (ARTIFACT_BUCKET, RELEASE_BUCKET):
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            s3.put_bucket_versioning(Bucket=RELEASE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
            yield s3


@pytest.fixture(scope="module")
def release_version(aws) -> str:
    """The build's upload: one object version in the release bucket."""
    return aws.put_object(Bucket=RELEASE_BUCKET, Key=NEW_KEY, Body=b"jar-bytes", Metadata={"sha256": "f" * 64})[
        "VersionId"
    ]


@pytest.fixture
def release(aws, release_version) -> dict[str, str]:
    """The release manifest, written into the action's input artifact (fresh for every test)."""
    manifest = {"bucket": RELEASE_BUCKET, "key": NEW_KEY, "versionId": release_version, "sha256": "f" * 64}
    put_artifact(aws, "artifact.zip", {MANIFEST_NAME: json.dumps(manifest)})
    return manifest


def put_artifact(s3, key: str, files: dict[str, str]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=buffer.getvalue())


class RecordingPipeline:
    """CodePipeline job results, validated against the botocore model and recorded."""

    def __init__(self, session: boto3.session.Session, results: list[tuple[str, dict[str, Any]]]) -> None:
        self._model = session.client("codepipeline").meta.service_model
        self._results = results

    def _record(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        validate_parameters(params, self._model.operation_model(operation).input_shape)
        self._results.append((operation, params))
        return {}

    def put_job_success_result(self, **params: Any) -> dict[str, Any]:
        return self._record("PutJobSuccessResult", params)

    def put_job_failure_result(self, **params: Any) -> dict[str, Any]:
        return self._record("PutJobFailureResult", params)


class FakeClients(Clients):
    """Real (moto) S3; stubbed Flink client; recorded CodePipeline results."""

    def __init__(self, session: boto3.session.Session) -> None:
        super().__init__(session)
        self.kda_client = session.client("kinesisanalyticsv2")
        self.kda_stub = Stubber(self.kda_client)
        self.kda_stub.activate()
        self.kda_calls: list[tuple[str, str]] = []
        self.results: list[tuple[str, dict[str, Any]]] = []
        self.pipeline = RecordingPipeline(session, self.results)

    def codepipeline(self):
        return self.pipeline

    def kda(self, role_arn: str, region: str, session_name: str):
        self.kda_calls.append((role_arn, region))
        return self.kda_client

    # what the job reported --------------------------------------------------
    def only_result(self) -> tuple[str, dict[str, Any]]:
        assert len(self.results) == 1, self.results
        return self.results[0]

    def succeeded(self) -> str:
        name, params = self.only_result()
        assert name == "PutJobSuccessResult", params
        assert params["jobId"] == JOB_ID
        assert "continuationToken" not in params, params
        return params["executionDetails"]["summary"]

    def continued(self) -> dict[str, Any]:
        name, params = self.only_result()
        assert name == "PutJobSuccessResult", params
        return json.loads(params["continuationToken"])

    def failed(self) -> tuple[str, str]:
        name, params = self.only_result()
        assert name == "PutJobFailureResult", params
        assert params["jobId"] == JOB_ID
        return params["failureDetails"]["type"], params["failureDetails"]["message"]


@pytest.fixture(scope="module")
def session(aws) -> boto3.session.Session:
    return boto3.session.Session(region_name=REGION)  # one loader: clients are cheap to create


@pytest.fixture
def clients(session) -> FakeClients:
    return FakeClients(session)


def event(*, token: dict[str, Any] | None = None, params: Any = None, artifact_key: str = "artifact.zip") -> dict:
    data: dict[str, Any] = {
        "actionConfiguration": {
            "configuration": {
                "FunctionName": "kda-update",
                "UserParameters": params if isinstance(params, str) else json.dumps(params or PARAMS),
            }
        },
        "inputArtifacts": [
            {
                "name": "Release",
                "location": {"type": "S3", "s3Location": {"bucketName": ARTIFACT_BUCKET, "objectKey": artifact_key}},
            }
        ],
        "outputArtifacts": [],
        "artifactCredentials": {"accessKeyId": "a", "secretAccessKey": "b", "sessionToken": "c"},
    }
    if token is not None:
        data["continuationToken"] = json.dumps(token)
    return {"CodePipeline.job": {"id": JOB_ID, "accountId": "111111111111", "data": data}}


def detail(
    status: str,
    version: int,
    *,
    key: str = OLD_KEY,
    object_version: str | None = "old-version",
    token: str | None = "token-1",
    rolled_back_from: int | None = None,
) -> dict[str, Any]:
    location: dict[str, Any] = {"BucketARN": RELEASE_ARN, "FileKey": key}
    if object_version is not None:
        location["ObjectVersion"] = object_version
    app: dict[str, Any] = {
        "ApplicationARN": f"arn:aws:kinesisanalytics:{REGION}:222222222222:application/{APP}",
        "ApplicationName": APP,
        "RuntimeEnvironment": "FLINK-2_2",
        "ApplicationStatus": status,
        "ApplicationVersionId": version,
        "ApplicationConfigurationDescription": {
            "ApplicationCodeConfigurationDescription": {
                "CodeContentType": "ZIPFILE",
                "CodeContentDescription": {"S3ApplicationCodeLocationDescription": location},
            }
        },
    }
    if token:
        app["ConditionalToken"] = token
    if rolled_back_from is not None:
        app["ApplicationVersionRolledBackFrom"] = rolled_back_from
    return {"ApplicationDetail": app}


def at_release(status: str, version: int, release: dict[str, str], **kw: Any) -> dict[str, Any]:
    return detail(status, version, key=release["key"], object_version=release["versionId"], **kw)


def expect_describe(clients: FakeClients, response: dict[str, Any]) -> None:
    clients.kda_stub.add_response("describe_application", response, {"ApplicationName": APP})


def expected_update(release: dict[str, str], *, token: str = "token-1", running: bool = True) -> dict[str, Any]:
    request: dict[str, Any] = {
        "ApplicationName": APP,
        "ConditionalToken": token,
        "ApplicationConfigurationUpdate": {
            "ApplicationCodeConfigurationUpdate": {
                "CodeContentTypeUpdate": "ZIPFILE",
                "CodeContentUpdate": {
                    "S3ContentLocationUpdate": {
                        "BucketARNUpdate": RELEASE_ARN,
                        "FileKeyUpdate": release["key"],
                        "ObjectVersionUpdate": release["versionId"],
                    }
                },
            },
            "ApplicationSnapshotConfigurationUpdate": {"SnapshotsEnabledUpdate": True},
        },
    }
    if running:
        request["RunConfigurationUpdate"] = {
            "ApplicationRestoreConfiguration": {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"},
            "FlinkRunConfiguration": {"AllowNonRestoredState": False},
        }
    return request


def token_for(release: dict[str, str], phase: str = "update", **kw: Any) -> dict[str, Any]:
    state = {
        "phase": phase,
        "started_at": T0,
        "release": {
            "bucket": release["bucket"],
            "key": release["key"],
            "version_id": release["versionId"],
            "sha256": release.get("sha256"),
        },
        "expected_version": None,
        "was_running": False,
        "conflicts": 0,
        "retries": 0,
        "summary": {},
    }
    state.update(kw)
    return state


def run(clients: FakeClients, evt: dict, *, now: float = T0 + 5) -> None:
    handler(evt, None, clients=clients, now=lambda: now)
    clients.kda_stub.assert_no_pending_responses()


# --------------------------------------------------------------------------- normal update


def test_normal_update_of_running_app_keeps_state_and_waits_for_the_new_version(clients, release):
    expect_describe(clients, detail("RUNNING", 3))
    clients.kda_stub.add_response("update_application", detail("UPDATING", 4, key=NEW_KEY), expected_update(release))
    run(clients, event())
    state = clients.continued()
    assert state["phase"] == "await_update"
    assert state["expected_version"] == 4
    assert state["was_running"] is True
    assert clients.kda_calls == [(ROLE, REGION)]  # through the target's updater role, in its region

    clients.results.clear()
    expect_describe(clients, at_release("UPDATING", 4, release))
    run(clients, event(token=state), now=T0 + 60)
    assert clients.continued()["phase"] == "await_update"

    clients.results.clear()
    expect_describe(clients, at_release("RUNNING", 4, release))
    run(clients, event(token=state), now=T0 + 300)
    summary = clients.succeeded()
    assert "version 4" in summary
    assert release["versionId"] in summary


def test_retry_of_an_applied_release_succeeds_without_updating(clients, release):
    expect_describe(clients, at_release("RUNNING", 4, release))
    run(clients, event())  # no update_application stubbed: calling it would fail the job
    assert "already runs" in clients.succeeded()


def test_application_without_conditional_token_uses_its_version_id(clients, release):
    expect_describe(clients, detail("RUNNING", 7, token=None))
    request = expected_update(release)
    del request["ConditionalToken"]
    request["CurrentApplicationVersionId"] = 7
    clients.kda_stub.add_response("update_application", detail("UPDATING", 8, key=NEW_KEY, token=None), request)
    run(clients, event())
    assert clients.continued()["expected_version"] == 8


def test_ready_app_is_updated_then_started_fresh_when_it_has_no_snapshot(clients, release):
    expect_describe(clients, detail("READY", 1))
    clients.kda_stub.add_response(
        "update_application", detail("READY", 2, key=NEW_KEY), expected_update(release, running=False)
    )
    run(clients, event())
    state = clients.continued()
    assert state["was_running"] is False

    clients.results.clear()
    expect_describe(clients, at_release("READY", 2, release))
    clients.kda_stub.add_response(
        "list_application_snapshots", {"SnapshotSummaries": []}, {"ApplicationName": APP, "Limit": 50}
    )
    clients.kda_stub.add_response(
        "start_application",
        {},
        {
            "ApplicationName": APP,
            "RunConfiguration": {
                "ApplicationRestoreConfiguration": {"ApplicationRestoreType": "SKIP_RESTORE_FROM_SNAPSHOT"},
                "FlinkRunConfiguration": {"AllowNonRestoredState": False},
            },
        },
    )
    run(clients, event(token=state))
    state = clients.continued()
    assert state["phase"] == "await_start"

    clients.results.clear()
    expect_describe(clients, at_release("RUNNING", 2, release))
    run(clients, event(token=state))
    assert "started" in clients.succeeded()


def test_stopped_app_with_snapshots_restarts_from_the_latest(clients, release):
    expect_describe(clients, at_release("READY", 5, release))
    clients.kda_stub.add_response(
        "list_application_snapshots",
        {
            "SnapshotSummaries": [
                {"SnapshotName": "s1", "SnapshotStatus": "READY", "ApplicationVersionId": 4},
            ]
        },
        {"ApplicationName": APP, "Limit": 50},
    )
    clients.kda_stub.add_response(
        "start_application",
        {},
        {
            "ApplicationName": APP,
            "RunConfiguration": {
                "ApplicationRestoreConfiguration": {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"},
                "FlinkRunConfiguration": {"AllowNonRestoredState": False},
            },
        },
    )
    run(clients, event(token=token_for(release, "await_update", expected_version=5)))
    assert clients.continued()["phase"] == "await_start"


def test_start_is_skipped_when_the_pipeline_does_not_ask_for_it(clients, release):
    expect_describe(clients, at_release("READY", 5, release))
    run(
        clients,
        event(
            params={**PARAMS, "startApplication": False}, token=token_for(release, "await_update", expected_version=5)
        ),
    )
    assert "READY" in clients.succeeded()


# --------------------------------------------------------------------------- application busy


def test_busy_application_is_waited_for_without_updating(clients, release):
    expect_describe(clients, detail("UPDATING", 3))
    run(clients, event())
    state = clients.continued()
    assert state["phase"] == "update"
    assert state["started_at"] == T0 + 5


def test_busy_application_fails_clearly_at_the_deadline(clients, release):
    expect_describe(clients, detail("UPDATING", 3))
    run(clients, event(token=token_for(release)), now=T0 + 1801)
    kind, message = clients.failed()
    assert kind == "JobFailed"
    assert "timed out" in message
    assert "UPDATING" in message
    assert APP in message


def test_resource_in_use_is_waited_for(clients, release):
    expect_describe(clients, detail("RUNNING", 3))
    clients.kda_stub.add_client_error("update_application", "ResourceInUseException", "busy", 400)
    run(clients, event())
    assert clients.continued()["phase"] == "update"


def test_update_that_never_finishes_times_out(clients, release):
    expect_describe(clients, at_release("UPDATING", 4, release))
    run(clients, event(token=token_for(release, "await_update", expected_version=4)), now=T0 + 3600)
    _, message = clients.failed()
    assert "timed out" in message
    assert "version 4" in message


# --------------------------------------------------------------------------- conditional-token conflict


def test_conditional_token_conflict_is_retried_with_a_fresh_token(clients, release):
    expect_describe(clients, detail("RUNNING", 3, token="token-1"))
    clients.kda_stub.add_client_error(
        "update_application",
        "ConcurrentModificationException",
        "The ConditionalToken does not match",
        400,
        expected_params=expected_update(release, token="token-1"),
    )
    run(clients, event())
    state = clients.continued()
    assert state["phase"] == "update"
    assert state["conflicts"] == 1

    clients.results.clear()
    expect_describe(clients, detail("RUNNING", 4, token="token-2"))
    clients.kda_stub.add_response(
        "update_application", detail("UPDATING", 5, key=NEW_KEY), expected_update(release, token="token-2")
    )
    run(clients, event(token=state))
    assert clients.continued()["expected_version"] == 5


def test_repeated_conditional_token_conflicts_fail(clients, release):
    expect_describe(clients, detail("RUNNING", 9))
    clients.kda_stub.add_client_error("update_application", "InvalidArgumentException", "stale conditional token", 400)
    run(clients, event(token=token_for(release, conflicts=kda_update.MAX_CONFLICTS)))
    _, message = clients.failed()
    assert "ConditionalToken conflict" in message


def test_someone_else_deploying_meanwhile_fails_clearly(clients, release):
    expect_describe(clients, detail("RUNNING", 6, key="builds/other/exec-9/app.jar"))
    run(clients, event(token=token_for(release, "await_update", expected_version=5, was_running=True)))
    _, message = clients.failed()
    assert "another deployment" in message


# --------------------------------------------------------------------------- the new release fails


def test_service_rollback_fails_the_action(clients, release):
    expect_describe(clients, detail("RUNNING", 6, rolled_back_from=5))
    run(clients, event(token=token_for(release, "await_update", expected_version=5, was_running=True)))
    _, message = clients.failed()
    assert "rolled back" in message


def test_running_app_that_stops_after_the_update_fails(clients, release):
    expect_describe(clients, at_release("READY", 5, release))
    run(clients, event(token=token_for(release, "await_update", expected_version=5, was_running=True)))
    _, message = clients.failed()
    assert "was RUNNING" in message


def test_app_that_does_not_start_fails(clients, release):
    expect_describe(clients, at_release("READY", 5, release))
    run(clients, event(token=token_for(release, "await_start", expected_version=5)))
    assert "did not start" in clients.failed()[1]


# --------------------------------------------------------------------------- missing artifact


def test_input_artifact_that_cannot_be_downloaded_fails(clients, release):
    run(clients, event(artifact_key="no-such-artifact.zip"))
    _, message = clients.failed()
    assert "cannot download the input artifact" in message
    assert "no-such-artifact.zip" in message
    assert clients.kda_calls == []


def test_artifact_without_manifest_fails(clients, aws, release):
    put_artifact(aws, "empty.zip", {"README": "no manifest"})
    run(clients, event(artifact_key="empty.zip"))
    assert f"has no {MANIFEST_NAME}" in clients.failed()[1]
    assert clients.kda_calls == []


def test_artifact_that_is_not_a_zip_fails(clients, aws, release):
    aws.put_object(Bucket=ARTIFACT_BUCKET, Key="garbage.zip", Body=b"not a zip")
    run(clients, event(artifact_key="garbage.zip"))
    assert f"cannot read {MANIFEST_NAME}" in clients.failed()[1]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"versionId": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"}, "does not exist"),
        ({"key": "builds/never-built/app.jar"}, "does not exist"),
        ({"versionId": None}, "lacks versionId"),
        ({"versionId": "null"}, "not versioned"),
        ({"bucket": "someone-elses-bucket"}, "not the release bucket"),
        ({"sha256": "0" * 64}, "sha256"),
    ],
)
def test_missing_or_wrong_release_object_fails_before_touching_the_app(clients, aws, release, change, expected):
    manifest = {k: v for k, v in {**release, **change}.items() if v is not None}
    put_artifact(aws, "artifact.zip", {MANIFEST_NAME: json.dumps(manifest)})
    run(clients, event())
    _, message = clients.failed()
    assert expected in message
    assert clients.kda_calls == []


def test_action_without_input_artifact_is_a_configuration_error(clients, release):
    evt = event()
    evt["CodePipeline.job"]["data"]["inputArtifacts"] = []
    run(clients, evt)
    kind, message = clients.failed()
    assert kind == "ConfigurationError"
    assert "no input artifact" in message


# --------------------------------------------------------------------------- AWS errors


def test_access_denied_on_update_is_a_permission_error(clients, release):
    expect_describe(clients, detail("RUNNING", 3))
    clients.kda_stub.add_client_error("update_application", "AccessDeniedException", "not allowed", 400)
    run(clients, event())
    kind, message = clients.failed()
    assert kind == "PermissionError"
    assert "UpdateApplication" in message
    assert "not allowed" in message


def test_invalid_argument_from_update_fails_with_the_service_message(clients, release):
    expect_describe(clients, detail("RUNNING", 3))
    clients.kda_stub.add_client_error(
        "update_application", "InvalidArgumentException", "Failed to access S3 object", 400
    )
    run(clients, event())
    kind, message = clients.failed()
    assert kind == "JobFailed"
    assert "Failed to access S3 object" in message


def test_missing_application_says_to_deploy_the_infrastructure_first(clients, release):
    clients.kda_stub.add_client_error("describe_application", "ResourceNotFoundException", "not found", 400)
    run(clients, event())
    kind, message = clients.failed()
    assert kind == "ConfigurationError"
    assert "infrastructure pipeline" in message


def test_throttling_is_retried_on_a_later_invocation_then_fails(clients, release):
    expect_describe(clients, detail("RUNNING", 3))
    clients.kda_stub.add_client_error("update_application", "ThrottlingException", "slow down", 400)
    run(clients, event())
    assert clients.continued()["retries"] == 1

    clients.results.clear()
    expect_describe(clients, detail("RUNNING", 3))
    clients.kda_stub.add_client_error("update_application", "ThrottlingException", "slow down", 400)
    run(clients, event(token=token_for(release, retries=kda_update.MAX_RETRIES)))
    assert "slow down" in clients.failed()[1]


def test_updater_role_that_cannot_be_assumed_is_a_permission_error(session):
    real = Clients(session)
    sts = session.client("sts")
    stub = Stubber(sts)
    stub.add_client_error("assume_role", "AccessDenied", "not authorized to perform sts:AssumeRole", 403)
    stub.activate()
    real.sts = lambda: sts  # type: ignore[method-assign]
    with pytest.raises(JobFailedError) as caught:
        real.kda(ROLE, REGION, "kda-update-test")
    assert caught.value.failure_type == "PermissionError"
    assert ROLE in caught.value.message


def test_unexpected_exception_is_reported_as_a_failure(clients, release, monkeypatch):
    def boom(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(clients, "kda", boom)
    run(clients, event())
    kind, message = clients.failed()
    assert kind == "JobFailed"
    assert "unexpected error: RuntimeError: boom" in message


# --------------------------------------------------------------------------- inputs


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("not json", "not valid JSON"),
        ("[1]", "JSON object"),
        ({"region": REGION}, "lacks applicationName, roleArn, releaseBucketArn"),
        ({**PARAMS, "timeoutSeconds": 5}, "timeoutSeconds"),
        ({**PARAMS, "releaseBucketArn": RELEASE_BUCKET}, "releaseBucketArn"),
    ],
)
def test_bad_user_parameters_are_configuration_errors(clients, release, params, expected):
    run(clients, event(params=params))
    kind, message = clients.failed()
    assert kind == "ConfigurationError"
    assert expected in message


def test_foreign_continuation_token_fails(clients, release):
    evt = event()
    evt["CodePipeline.job"]["data"]["continuationToken"] = "{not ours"
    run(clients, evt)
    assert "continuation token" in clients.failed()[1]


def test_event_without_job_raises_and_reports_nothing(clients):
    with pytest.raises(ValueError, match="CodePipeline"):
        handler({"hello": "world"}, None, clients=clients)
    assert clients.results == []


def test_logs_are_json_lines(clients, release, caplog):
    caplog.set_level(logging.INFO, logger="kda_update")
    expect_describe(clients, at_release("RUNNING", 4, release))
    run(clients, event())
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "kda_update"]
    assert [r["event"] for r in records] == ["release_read", "job_succeeded"]
