"""Update a Managed Service for Apache Flink application to a new release (CodePipeline Lambda action).

boto3 and the standard library only (shipped as a Lambda asset on its own).

What one pipeline action does, across as many invocations as it needs (long
waits use CodePipeline continuation tokens, so no invocation blocks for more
than a few seconds)::

    read the release manifest (kda-release.json) from the input artifact
    check the release object version exists in the release bucket
    assume the target's updater role; DescribeApplication
      already running this object version?      -> success (safe to retry)
      UPDATING / STARTING / AUTOSCALING ...?      -> wait (continuation) until the deadline, then fail
      READY or RUNNING                            -> UpdateApplication(ConditionalToken, S3 key + object version,
                                                     snapshots on, restore from the latest snapshot)
    wait until the application leaves UPDATING -> success, or a clear failure
      (rolled back by the service, stopped, changed by someone else, timed out)
    optionally start an application that is READY (restoring its latest snapshot if it has one)

Every path reports to CodePipeline: PutJobSuccessResult (with or without a
continuation token) or PutJobFailureResult, including input-artifact download
errors, missing release objects, AWS errors, timeouts and unexpected
exceptions. Logs are one JSON object per line.

User parameters (JSON, set by ``KdaAppPipeline``)::

    {"applicationName": "...", "region": "eu-west-1", "roleArn": "arn:aws:iam::...:role/...",
     "releaseBucketArn": "arn:aws:s3:::...", "timeoutSeconds": 1800,
     "startApplication": true, "allowNonRestoredState": false}
"""

from __future__ import annotations

import io
import json
import logging
import time
import traceback
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:  # pragma: no cover - stubs are a dev dependency only
    from mypy_boto3_codepipeline import CodePipelineClient
    from mypy_boto3_kinesisanalyticsv2 import KinesisAnalyticsV2Client
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sts import STSClient

__all__ = [
    "MANIFEST_NAME",
    "Clients",
    "JobFailedError",
    "Parameters",
    "Release",
    "handler",
]

#: Name of the release manifest inside the action's input artifact (written by the build).
MANIFEST_NAME = "kda-release.json"
#: Application states in which UpdateApplication is accepted.
IDLE = frozenset({"READY", "RUNNING"})
# Any other state (UPDATING, STARTING, STOPPING, AUTOSCALING, MAINTENANCE, ...) ends by itself:
# it is waited for, through continuation tokens, until the action's deadline, then fails clearly.
#: How many ConditionalToken conflicts (someone else changed the application) are retried.
MAX_CONFLICTS = 3
#: How many throttling / transient errors are retried (each on a later invocation).
MAX_RETRIES = 5
DEFAULT_TIMEOUT_SECONDS = 1800
MAX_TIMEOUT_SECONDS = 3600
_TOKEN_LIMIT = 2048
_SUMMARY_LIMIT = 2048
_RETRYABLE = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "LimitExceededException",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
        "RequestTimeout",
    }
)
_PERMISSION_ERRORS = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})

# Bounded AWS calls: a few per invocation, so an invocation ends (and reports) well within the
# function's timeout even when an endpoint hangs.
_CONFIG = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 3, "mode": "standard"})

_logger = logging.getLogger("kda_update")
_logger.setLevel(logging.INFO)


def log(event: str, **fields: Any) -> None:
    """Write one structured (JSON) log line."""
    _logger.info(json.dumps({"event": event, **fields}, default=str, sort_keys=True))


class JobFailedError(Exception):
    """A clear, expected failure: reported to CodePipeline as ``PutJobFailureResult``.

    :param failure_type: CodePipeline ``FailureDetails.type``: ``JobFailed``,
        ``ConfigurationError``, ``PermissionError``, ``RevisionUnavailable``...
    """

    def __init__(self, message: str, failure_type: str = "JobFailed") -> None:
        super().__init__(message)
        self.message = message
        self.failure_type = failure_type


@dataclass(frozen=True)
class Parameters:
    """The action's user parameters."""

    application_name: str
    region: str
    role_arn: str
    release_bucket_arn: str
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    start_application: bool = True
    allow_non_restored_state: bool = False

    @property
    def release_bucket(self) -> str:
        return self.release_bucket_arn.rsplit(":", 1)[-1]

    @classmethod
    def parse(cls, raw: str | None) -> Parameters:
        """Parse and validate the ``UserParameters`` JSON string."""
        try:
            data = json.loads(raw or "")
        except ValueError as err:
            raise JobFailedError(f"UserParameters is not valid JSON: {err}", "ConfigurationError") from None
        if not isinstance(data, dict):
            raise JobFailedError("UserParameters must be a JSON object", "ConfigurationError")
        missing = [k for k in ("applicationName", "region", "roleArn", "releaseBucketArn") if not data.get(k)]
        if missing:
            raise JobFailedError(f"UserParameters lacks {', '.join(missing)}", "ConfigurationError")
        timeout = data.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS)
        if not isinstance(timeout, int) or isinstance(timeout, bool) or not 60 <= timeout <= MAX_TIMEOUT_SECONDS:
            raise JobFailedError(
                f"UserParameters.timeoutSeconds = {timeout!r} is invalid: expected 60 to {MAX_TIMEOUT_SECONDS}",
                "ConfigurationError",
            )
        if not str(data["releaseBucketArn"]).startswith("arn:"):
            raise JobFailedError("UserParameters.releaseBucketArn must be an S3 bucket ARN", "ConfigurationError")
        return cls(
            application_name=str(data["applicationName"]),
            region=str(data["region"]),
            role_arn=str(data["roleArn"]),
            release_bucket_arn=str(data["releaseBucketArn"]),
            timeout_seconds=timeout,
            start_application=bool(data.get("startApplication", True)),
            allow_non_restored_state=bool(data.get("allowNonRestoredState", False)),
        )


@dataclass(frozen=True)
class Release:
    """One build of the application: an object version in the release bucket."""

    bucket: str
    key: str
    version_id: str
    sha256: str | None = None

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key} (version {self.version_id})"

    @classmethod
    def from_manifest(cls, data: Any) -> Release:
        if not isinstance(data, dict):
            raise JobFailedError(f"{MANIFEST_NAME} must be a JSON object")
        missing = [k for k in ("bucket", "key", "versionId") if not isinstance(data.get(k), str) or not data[k]]
        if missing:
            raise JobFailedError(f"{MANIFEST_NAME} lacks {', '.join(missing)}")
        if data["versionId"] == "null":
            raise JobFailedError(f"{MANIFEST_NAME}: versionId 'null' means the release bucket is not versioned")
        sha = data.get("sha256")
        return cls(data["bucket"], data["key"], data["versionId"], sha if isinstance(sha, str) and sha else None)


@dataclass(frozen=True)
class State:
    """What a continuation token carries between invocations of one action."""

    phase: str  # "update" | "await_update" | "await_start"
    started_at: float
    release: Release
    expected_version: int | None = None
    was_running: bool = False
    conflicts: int = 0
    retries: int = 0
    summary: dict[str, Any] = field(default_factory=dict)

    def dump(self) -> str:
        token = json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)
        if len(token) > _TOKEN_LIMIT:
            raise JobFailedError(f"release key too long to track between invocations ({len(token)} > {_TOKEN_LIMIT})")
        return token

    @classmethod
    def load(cls, token: str) -> State:
        try:
            data = json.loads(token)
            return cls(**{**data, "release": Release(**data["release"])})
        except (ValueError, TypeError, KeyError) as err:
            raise JobFailedError(f"continuation token is not one this handler wrote: {err}") from None


@dataclass(frozen=True)
class Outcome:
    """What to report: success, or success with a continuation token (call me again)."""

    summary: str
    state: State | None = None


class Clients:
    """Creates the AWS clients the handler uses (replace it in tests)."""

    def __init__(self, session: boto3.session.Session | None = None) -> None:
        self._session = session or boto3.session.Session()

    def codepipeline(self) -> CodePipelineClient:
        return self._session.client("codepipeline", config=_CONFIG)

    def s3(self) -> S3Client:
        """The function's own credentials: checks release objects."""
        return self._session.client("s3", config=_CONFIG.merge(Config(signature_version="s3v4")))

    def artifact_s3(self, credentials: Mapping[str, str]) -> S3Client:
        """The job's temporary artifact credentials: reads the input artifact."""
        return self._session.client(
            "s3",
            aws_access_key_id=credentials["accessKeyId"],
            aws_secret_access_key=credentials["secretAccessKey"],
            aws_session_token=credentials["sessionToken"],
            config=_CONFIG.merge(Config(signature_version="s3v4")),
        )

    def sts(self) -> STSClient:
        return self._session.client("sts", config=_CONFIG)

    def kda(self, role_arn: str, region: str, session_name: str) -> KinesisAnalyticsV2Client:
        """A client in the target account and region, through the target's updater role."""
        try:
            creds = self.sts().assume_role(RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=900)[
                "Credentials"
            ]
        except (ClientError, BotoCoreError) as err:
            raise JobFailedError(
                f"cannot assume the updater role {role_arn}: {err}. Has the infrastructure pipeline deployed "
                "this target's application stack?",
                "PermissionError",
            ) from None
        return self._session.client(
            "kinesisanalyticsv2",
            region_name=region,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            config=_CONFIG,
        )


# --------------------------------------------------------------------------- entry point


def handler(
    event: Mapping[str, Any],
    context: Any,
    *,
    clients: Clients | None = None,
    now: Callable[[], float] = time.time,
) -> None:
    """Lambda entry point. Always reports the outcome of the CodePipeline job."""
    job = event.get("CodePipeline.job") or {}
    job_id = job.get("id") if isinstance(job, dict) else None
    if not job_id:
        log("not_a_codepipeline_job", keys=sorted(event))
        raise ValueError("event has no CodePipeline.job.id: this function is invoked by CodePipeline only")
    clients = clients or Clients()
    pipeline = clients.codepipeline()
    try:
        outcome = process(job, clients, now)
    except JobFailedError as failure:
        log("job_failed", job_id=job_id, type=failure.failure_type, message=failure.message)
        _report_failure(pipeline, job_id, failure.message, failure.failure_type)
    except Exception as err:  # every path reports: an unexpected error fails the action, not a timeout
        log("unexpected_error", job_id=job_id, error=repr(err), trace=traceback.format_exc())
        _report_failure(pipeline, job_id, f"unexpected error: {type(err).__name__}: {err}", "JobFailed")
    else:
        _report_success(pipeline, job_id, outcome)


def _report_success(pipeline: CodePipelineClient, job_id: str, outcome: Outcome) -> None:
    kwargs: dict[str, Any] = {"jobId": job_id, "executionDetails": {"summary": outcome.summary[:_SUMMARY_LIMIT]}}
    if outcome.state is not None:
        kwargs["continuationToken"] = outcome.state.dump()
    log("job_continues" if outcome.state else "job_succeeded", job_id=job_id, summary=outcome.summary)
    pipeline.put_job_success_result(**kwargs)


def _report_failure(pipeline: CodePipelineClient, job_id: str, message: str, failure_type: str) -> None:
    pipeline.put_job_failure_result(
        jobId=job_id,
        failureDetails={"type": failure_type, "message": message[:_SUMMARY_LIMIT]},  # type: ignore[typeddict-item]
    )


# --------------------------------------------------------------------------- the job


def process(job: Mapping[str, Any], clients: Clients, now: Callable[[], float]) -> Outcome:
    """Run one step of the job; returns what to report, raises :class:`JobFailedError` on a clear failure."""
    data = job.get("data") or {}
    configuration = (data.get("actionConfiguration") or {}).get("configuration") or {}
    params = Parameters.parse(configuration.get("UserParameters"))
    token = data.get("continuationToken")
    if token:
        state = State.load(token)
    else:
        release = read_manifest(data, clients)
        if release.bucket != params.release_bucket:
            raise JobFailedError(
                f"{MANIFEST_NAME} names bucket {release.bucket!r}, not the release bucket {params.release_bucket!r}",
                "ConfigurationError",
            )
        check_release_object(clients.s3(), release)
        state = State(phase="update", started_at=now(), release=release)
    kda = clients.kda(params.role_arn, params.region, f"kda-update-{str(job.get('id', ''))[:40]}")
    return step(kda, params, state, now)


def read_manifest(data: Mapping[str, Any], clients: Clients) -> Release:
    """Download the input artifact (a zip) and read the release manifest from it."""
    artifacts = data.get("inputArtifacts") or []
    if not artifacts:
        raise JobFailedError(
            f"the action has no input artifact: give it the build output holding {MANIFEST_NAME}",
            "ConfigurationError",
        )
    try:
        location = artifacts[0]["location"]["s3Location"]
        bucket, key = location["bucketName"], location["objectKey"]
        credentials = data["artifactCredentials"]
    except (KeyError, TypeError) as err:
        raise JobFailedError(f"the job's input artifact has no S3 location or credentials ({err})") from None
    try:
        body = clients.artifact_s3(credentials).get_object(Bucket=bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as err:
        raise JobFailedError(f"cannot download the input artifact s3://{bucket}/{key}: {err}") from None
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            manifest = json.loads(archive.read(MANIFEST_NAME))
    except KeyError:
        raise JobFailedError(f"the input artifact s3://{bucket}/{key} has no {MANIFEST_NAME}") from None
    except (zipfile.BadZipFile, ValueError) as err:
        raise JobFailedError(
            f"cannot read {MANIFEST_NAME} from the input artifact s3://{bucket}/{key}: {err}"
        ) from None
    release = Release.from_manifest(manifest)
    log("release_read", release=asdict(release))
    return release


def check_release_object(s3: S3Client, release: Release) -> None:
    """Fail clearly if the release's object version is gone (or was altered)."""
    try:
        head = s3.head_object(Bucket=release.bucket, Key=release.key, VersionId=release.version_id)
    except ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code in ("403", *_PERMISSION_ERRORS):
            raise JobFailedError(f"not allowed to read the release {release}: {err}", "PermissionError") from None
        raise JobFailedError(f"the release {release} does not exist ({code or err})") from None
    except BotoCoreError as err:
        raise JobFailedError(f"cannot check the release {release}: {err}") from None
    recorded = (head.get("Metadata") or {}).get("sha256")
    if release.sha256 and recorded and recorded != release.sha256:
        raise JobFailedError(f"the release {release} has sha256 {recorded}, the build recorded {release.sha256}")


def step(kda: KinesisAnalyticsV2Client, params: Parameters, state: State, now: Callable[[], float]) -> Outcome:
    """One state-machine step."""
    app = describe(kda, params)
    status = str(app["ApplicationStatus"])
    version = int(app["ApplicationVersionId"])
    elapsed = now() - state.started_at
    where = f"application {params.application_name} ({params.region})"

    if state.phase == "update":
        if runs_release(app, state.release) and status in IDLE:
            return Outcome(f"{where} already runs {state.release} (version {version}); nothing to do")
        if status == "DELETING":
            raise JobFailedError(f"{where} is being deleted", "ConfigurationError")
        if status not in IDLE:
            _deadline(state, elapsed, params, f"{where} stayed {status}; it must be READY or RUNNING to update")
            return Outcome(f"waiting: {where} is {status}", state)
        return update(kda, params, state, app, now)

    if state.phase == "await_update":
        expected = state.expected_version or 0
        rolled_back_from = app.get("ApplicationVersionRolledBackFrom")
        if status in ("ROLLING_BACK", "ROLLED_BACK") or (rolled_back_from and int(rolled_back_from) >= expected):
            raise JobFailedError(
                f"{where}: the service rolled back version {expected} ({state.release}); the new release did not "
                "start. See the application's CloudWatch logs; the previous version keeps running."
            )
        if status not in IDLE:
            _deadline(state, elapsed, params, f"{where} is still {status} after the update to version {expected}")
            return Outcome(f"waiting: {where} is {status} (update to version {expected})", state)
        if not runs_release(app, state.release):
            raise JobFailedError(
                f"{where} is at version {version} but its code is not {state.release}: another deployment "
                "changed it meanwhile"
            )
        if state.was_running and status != "RUNNING":
            raise JobFailedError(f"{where} was RUNNING before the update and is {status} now: the new release stopped")
        if status == "READY" and params.start_application:
            return start(kda, params, state, app)
        return Outcome(f"{where} runs {state.release} as version {version} ({status})")

    if state.phase == "await_start":
        if status == "RUNNING":
            return Outcome(f"{where} started and runs {state.release} as version {version}")
        if status == "READY":
            raise JobFailedError(f"{where} did not start with {state.release}: see its CloudWatch logs")
        _deadline(state, elapsed, params, f"{where} is still {status} after StartApplication")
        return Outcome(f"waiting: {where} is {status} (starting)", state)

    raise JobFailedError(f"unknown phase {state.phase!r} in continuation token")


def describe(kda: KinesisAnalyticsV2Client, params: Parameters) -> Mapping[str, Any]:
    try:
        return kda.describe_application(ApplicationName=params.application_name)["ApplicationDetail"]
    except ClientError as err:
        code = _code(err)
        if code == "ResourceNotFoundException":
            raise JobFailedError(
                f"application {params.application_name} does not exist in {params.region}: deploy the "
                "infrastructure pipeline's stage for this target first",
                "ConfigurationError",
            ) from None
        raise _aws_failure("DescribeApplication", params, err) from None


def runs_release(app: Mapping[str, Any], release: Release) -> bool:
    """Whether the application's code is exactly this object version of the release."""
    location = (
        (app.get("ApplicationConfigurationDescription") or {}).get("ApplicationCodeConfigurationDescription") or {}
    ).get("CodeContentDescription", {}).get("S3ApplicationCodeLocationDescription") or {}
    return (
        str(location.get("BucketARN", "")).rsplit(":", 1)[-1] == release.bucket
        and location.get("FileKey") == release.key
        and location.get("ObjectVersion") == release.version_id
    )


def update_request(params: Parameters, app: Mapping[str, Any], release: Release) -> dict[str, Any]:
    """The UpdateApplication request: new code (key + object version), snapshots on, state restored."""
    request: dict[str, Any] = {
        "ApplicationName": params.application_name,
        "ApplicationConfigurationUpdate": {
            "ApplicationCodeConfigurationUpdate": {
                "CodeContentTypeUpdate": "ZIPFILE",
                "CodeContentUpdate": {
                    "S3ContentLocationUpdate": {
                        "BucketARNUpdate": params.release_bucket_arn,
                        "FileKeyUpdate": release.key,
                        "ObjectVersionUpdate": release.version_id,
                    }
                },
            },
            "ApplicationSnapshotConfigurationUpdate": {"SnapshotsEnabledUpdate": True},
        },
    }
    if app.get("ConditionalToken"):
        request["ConditionalToken"] = app["ConditionalToken"]
    else:  # applications that predate conditional tokens
        request["CurrentApplicationVersionId"] = int(app["ApplicationVersionId"])
    if app["ApplicationStatus"] == "RUNNING":
        request["RunConfigurationUpdate"] = {
            "ApplicationRestoreConfiguration": {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"},
            "FlinkRunConfiguration": {"AllowNonRestoredState": params.allow_non_restored_state},
        }
    return request


def update(
    kda: KinesisAnalyticsV2Client,
    params: Parameters,
    state: State,
    app: Mapping[str, Any],
    now: Callable[[], float],
) -> Outcome:
    where = f"application {params.application_name} ({params.region})"
    request = update_request(params, app, state.release)
    try:
        response = kda.update_application(**request)
    except ClientError as err:
        code = _code(err)
        if _is_token_conflict(err):
            conflicts = state.conflicts + 1
            if conflicts > MAX_CONFLICTS:
                raise JobFailedError(
                    f"{where}: ConditionalToken conflict {conflicts} times: the application keeps being changed "
                    f"by someone else while this release is deployed ({err})",
                    "JobFailed",
                ) from None
            log("conditional_token_conflict", application=params.application_name, attempt=conflicts)
            return Outcome(
                f"{where} changed since it was described (ConditionalToken conflict {conflicts}); retrying",
                replace(state, conflicts=conflicts),
            )
        if code == "ResourceInUseException":
            _deadline(state, now() - state.started_at, params, f"{where} stayed in use: {err}")
            return Outcome(f"waiting: {where} is in use", state)
        if code in _RETRYABLE:
            retries = state.retries + 1
            if retries > MAX_RETRIES:
                raise _aws_failure("UpdateApplication", params, err) from None
            return Outcome(f"{where}: {code}; retrying", replace(state, retries=retries))
        raise _aws_failure("UpdateApplication", params, err) from None
    expected = int(response["ApplicationDetail"]["ApplicationVersionId"])
    log("update_requested", application=params.application_name, version=expected, release=asdict(state.release))
    return Outcome(
        f"{where}: update to version {expected} ({state.release}) requested",
        replace(
            state, phase="await_update", expected_version=expected, was_running=app["ApplicationStatus"] == "RUNNING"
        ),
    )


def start(kda: KinesisAnalyticsV2Client, params: Parameters, state: State, app: Mapping[str, Any]) -> Outcome:
    """Start a READY application, restoring its latest snapshot when it has one."""
    where = f"application {params.application_name} ({params.region})"
    try:
        snapshots = kda.list_application_snapshots(ApplicationName=params.application_name, Limit=50).get(
            "SnapshotSummaries", []
        )
        restore = (
            "RESTORE_FROM_LATEST_SNAPSHOT"
            if any(s.get("SnapshotStatus") == "READY" for s in snapshots)
            else "SKIP_RESTORE_FROM_SNAPSHOT"
        )
        kda.start_application(
            ApplicationName=params.application_name,
            RunConfiguration={
                "ApplicationRestoreConfiguration": {"ApplicationRestoreType": restore},  # type: ignore[typeddict-item]
                "FlinkRunConfiguration": {"AllowNonRestoredState": params.allow_non_restored_state},
            },
        )
    except ClientError as err:
        raise _aws_failure("StartApplication", params, err) from None
    log("start_requested", application=params.application_name, restore=restore)
    return Outcome(f"{where} updated; starting ({restore})", replace(state, phase="await_start"))


def _deadline(state: State, elapsed: float, params: Parameters, message: str) -> None:
    if elapsed > params.timeout_seconds:
        raise JobFailedError(f"timed out after {int(elapsed)} s (limit {params.timeout_seconds} s): {message}")


def _is_token_conflict(err: ClientError) -> bool:
    """The application changed since it was described (stale ConditionalToken or version id)."""
    message = str(err.response.get("Error", {}).get("Message", "")).lower()
    return _code(err) == "ConcurrentModificationException" or ("conditional" in message and "token" in message)


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _aws_failure(operation: str, params: Parameters, err: ClientError) -> JobFailedError:
    code = _code(err)
    kind = "PermissionError" if code in _PERMISSION_ERRORS else "JobFailed"
    return JobFailedError(f"{operation} on application {params.application_name} ({params.region}) failed: {err}", kind)
