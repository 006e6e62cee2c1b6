"""Update a Managed Service for Apache Flink application to a new release (CodePipeline Lambda action).

boto3 and the standard library only (shipped as a Lambda asset with :mod:`_pipeline_job`).

What one pipeline action does, across as many invocations as it needs (long
waits use CodePipeline continuation tokens, so no invocation blocks)::

    claim the job (a duplicate delivery changes nothing and reports nothing)
    read the release manifest (kda-release.json) from the job's own input artifact,
      which must be in the pipeline's artifact bucket; the release must be an object
      version under the release prefix of the pipeline's release bucket
    check the release object version exists (and its recorded sha256)
    assume the target's updater role (from the configuration, never the event); DescribeApplication
      runs this release and RUNNING                 -> success
      runs this release, READY, startApplication    -> start it (restore the latest snapshot)
      READY or RUNNING otherwise                    -> UpdateApplication(ConditionalToken, key + object
                                                       version, snapshots on, restore the latest snapshot)
      UPDATING / STARTING / AUTOSCALING / ...       -> wait (continuation) until the deadline, then fail
    wait until the application leaves UPDATING      -> success, or a clear failure (rolled back, stopped,
                                                       changed by someone else, timed out)
    start an application left READY when startApplication is true; success only once it is RUNNING

Every job ends with exactly one result, on every path (:mod:`_pipeline_job`:
watchdog, retries of every AWS call, retried reporting, and an exception for the
on-failure destination when the result cannot be sent). Logs are JSON lines.

Configuration (environment, written by the construct at synth; never from the event):

``ARTIFACT_BUCKET``: the application pipeline's artifact bucket (input artifacts, job claims).

``KDA_UPDATE_CONFIG`` (JSON)::

    {"releaseBucket": "...", "releaseBucketArn": "arn:aws:s3:::...", "releasePrefix": "builds/",
     "manifestName": "kda-release.json", "claimsPrefix": "pipeline-jobs/kda-update/",
     "applications": {"<application name>": {"region": "eu-west-1", "roleArn": "arn:aws:iam::...:role/..."}}}

User parameters (JSON, set by ``KdaAppPipeline``; parsed strictly, unknown keys refused)::

    {"applicationName": "...",           # one of the configured applications
     "timeoutSeconds": 1800,             # integer, 60-3600
     "startApplication": true,           # JSON boolean
     "allowNonRestoredState": false}     # JSON boolean

``region``, ``roleArn`` and ``releaseBucketArn`` are accepted only when they equal
the configured values.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if __package__:
    from . import _pipeline_job as pj
else:  # pragma: no cover - in the Lambda asset the handler and its helper are top-level modules
    import _pipeline_job as pj  # type: ignore[import-not-found,no-redef]

if TYPE_CHECKING:  # pragma: no cover - stubs are a dev dependency only
    from mypy_boto3_kinesisanalyticsv2 import KinesisAnalyticsV2Client
    from mypy_boto3_s3 import S3Client

__all__ = [
    "CONFIG_ENV",
    "MANIFEST_NAME",
    "WATCHDOG_MARGIN_SECONDS",
    "Clients",
    "JobFailedError",
    "Parameters",
    "Release",
    "UpdaterConfig",
    "handler",
]

#: Environment variable with the function's configuration (JSON, written by the construct).
CONFIG_ENV = "KDA_UPDATE_CONFIG"
#: Default name of the release manifest inside the action's input artifact (the construct passes its own).
MANIFEST_NAME = "kda-release.json"
#: Application states in which UpdateApplication is accepted.
IDLE = frozenset({"READY", "RUNNING"})
#: States that end by themselves: waited for (continuation tokens) until the action's deadline.
BUSY = frozenset({"STARTING", "UPDATING", "AUTOSCALING", "STOPPING", "FORCE_STOPPING", "MAINTENANCE"})
#: States that mean an update or start did not hold.
ROLLBACK = frozenset({"ROLLING_BACK", "ROLLED_BACK"})
#: How many ConditionalToken conflicts (someone else changed the application) are retried.
MAX_CONFLICTS = 3
#: How many throttled / ambiguous update or start attempts are carried to a later invocation.
MAX_RETRIES = 5
DEFAULT_TIMEOUT_SECONDS = 1800
MAX_TIMEOUT_SECONDS = 3600
#: The watchdog reports this long before the function's timeout (with the default policy).
WATCHDOG_MARGIN_SECONDS = pj.Policy().watchdog_margin
#: The input artifact holds only the manifest; anything much larger is not this pipeline's.
MAX_ARTIFACT_BYTES = 1024 * 1024
NAME = "the Flink release update"
_PARAMETERS = frozenset(
    {
        "applicationName",
        "region",
        "roleArn",
        "releaseBucketArn",
        "timeoutSeconds",
        "startApplication",
        "allowNonRestoredState",
    }
)
_PHASES = ("update", "await_update", "await_start")
_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

JobFailedError = pj.JobFailedError


def log(event: str, **fields: Any) -> None:
    """Write one structured (JSON) log line."""
    pj.log("INFO", event, **fields)


_config_error = pj.ConfigurationError


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Target:
    """One application the function may deploy to, and the role it deploys with."""

    application_name: str
    region: str
    role_arn: str


@dataclass(frozen=True)
class UpdaterConfig:
    """What the function trusts (``KDA_UPDATE_CONFIG``, fixed at synth)."""

    artifact_bucket: str
    release_bucket: str
    release_bucket_arn: str
    release_prefix: str
    manifest_name: str
    claims_prefix: str
    targets: Mapping[str, Target]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> UpdaterConfig:
        raw = environ.get(CONFIG_ENV)
        if not raw:
            raise _config_error(f"{CONFIG_ENV} is not set on the function")
        try:
            data = json.loads(raw)
            targets = {
                str(name): Target(str(name), pj.text(t, "region"), pj.text(t, "roleArn"))
                for name, t in dict(data["applications"]).items()
            }
            config = cls(
                artifact_bucket=pj.artifact_bucket(environ),
                release_bucket=pj.text(data, "releaseBucket"),
                release_bucket_arn=pj.text(data, "releaseBucketArn"),
                release_prefix=pj.text(data, "releasePrefix"),
                manifest_name=str(data.get("manifestName") or MANIFEST_NAME),
                claims_prefix=pj.text(data, "claimsPrefix"),
                targets=targets,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise _config_error(f"{CONFIG_ENV} is malformed: {err!r}") from None
        if not config.targets:
            raise _config_error(f"{CONFIG_ENV} names no application")
        if config.release_bucket_arn.rsplit(":", 1)[-1] != config.release_bucket:
            raise _config_error(f"{CONFIG_ENV}: releaseBucketArn does not name releaseBucket")
        return config


@dataclass(frozen=True)
class Parameters:
    """The action's user parameters, with the target they select from the configuration."""

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

    @property
    def where(self) -> str:
        return f"application {self.application_name} ({self.region})"

    @classmethod
    def from_job(cls, job_data: Mapping[str, Any], config: UpdaterConfig | None = None) -> Parameters:
        """Parse the job's ``UserParameters`` JSON strictly; the application must be one of the configured ones.

        :param config: what the function trusts. Default: read from the environment.
        """
        config = config or UpdaterConfig.from_env(os.environ)
        data = pj.user_parameters(job_data, _PARAMETERS, expected='{"applicationName": ...}')
        name = data.get("applicationName")
        if not isinstance(name, str) or not name:
            raise _config_error("UserParameters lacks applicationName")
        target = config.targets.get(name)
        if target is None:
            raise _config_error(
                f"UserParameters.applicationName {pj.clip(name, 200)!r} is not an application this function deploys "
                f"to ({sorted(config.targets)})"
            )
        for key, expected in (
            ("region", target.region),
            ("roleArn", target.role_arn),
            ("releaseBucketArn", config.release_bucket_arn),
        ):
            if key in data and data[key] != expected:
                raise _config_error(
                    f"UserParameters.{key} = {pj.clip(str(data[key]), 200)!r} is not what this pipeline was built "
                    f"with for {name}: refused"
                )
        timeout = data.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS)
        if not isinstance(timeout, int) or isinstance(timeout, bool) or not 60 <= timeout <= MAX_TIMEOUT_SECONDS:
            raise _config_error(
                f"UserParameters.timeoutSeconds = {timeout!r} is invalid: expected an integer from 60 to "
                f"{MAX_TIMEOUT_SECONDS}"
            )
        flags: dict[str, bool] = {}
        for key, default in (("startApplication", True), ("allowNonRestoredState", False)):
            value = data.get(key, default)
            if not isinstance(value, bool):
                raise _config_error(f"UserParameters.{key} = {value!r} is invalid: expected JSON true or false")
            flags[key] = value
        return cls(
            application_name=name,
            region=target.region,
            role_arn=target.role_arn,
            release_bucket_arn=config.release_bucket_arn,
            timeout_seconds=timeout,
            start_application=flags["startApplication"],
            allow_non_restored_state=flags["allowNonRestoredState"],
        )


@dataclass(frozen=True)
class Release:
    """One build of the application: an object version in the release bucket."""

    bucket: str
    key: str
    version_id: str
    sha256: str | None = None

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{pj.clip(self.key, 300)} (version {pj.clip(self.version_id, 100)})"

    @property
    def fingerprint(self) -> str:
        """Identifies the release in a continuation token (which never names what to deploy)."""
        return hashlib.sha256(f"{self.bucket}\n{self.key}\n{self.version_id}".encode()).hexdigest()[:32]

    @classmethod
    def from_manifest(cls, data: Any, config: UpdaterConfig | None = None) -> Release:
        name = config.manifest_name if config else MANIFEST_NAME
        if not isinstance(data, dict):
            raise JobFailedError(f"{name} must be a JSON object")
        missing = [k for k in ("bucket", "key", "versionId") if not isinstance(data.get(k), str) or not data[k]]
        if missing:
            raise JobFailedError(f"{name} lacks {', '.join(missing)}")
        bucket, key, version = data["bucket"], data["key"], data["versionId"]
        if version == "null":
            raise JobFailedError(f"{name}: versionId 'null' means the release bucket is not versioned")
        if len(key.encode()) > 1024 or len(version.encode()) > 1024 or _CONTROL.search(key + version):
            raise JobFailedError(f"{name} names a release key or version S3 cannot hold")
        if config is not None:
            if bucket != config.release_bucket:
                raise JobFailedError(
                    f"{name} names bucket {pj.clip(bucket, 100)!r}, not this pipeline's release bucket: refused",
                    "ConfigurationError",
                )
            if not key.startswith(config.release_prefix) or ".." in key.split("/"):
                raise JobFailedError(
                    f"{name} names key {pj.clip(key, 200)!r}, outside the release prefix "
                    f"{config.release_prefix!r}: refused",
                    "ConfigurationError",
                )
        sha = data.get("sha256")
        if sha is not None and (not isinstance(sha, str) or not _SHA256.fullmatch(sha)):
            raise JobFailedError(f"{name}: sha256 must be 64 lowercase hex digits")
        return cls(bucket, key, version, sha)


@dataclass(frozen=True)
class State:
    """What a continuation token carries between invocations of one action (never what to deploy)."""

    phase: str
    started_at: float
    release: str  # Release.fingerprint
    expected_version: int | None = None
    was_running: bool = False
    unconfirmed: bool = False  # the last update/start request's outcome was unknown
    conflicts: int = 0
    retries: int = 0

    def dump(self) -> str:
        return pj.dump_token(self)

    @classmethod
    def load(cls, token: Any, release: Release, now: float) -> State:
        """Parse a token strictly: it must be one this handler wrote, for this job's own release."""
        problem = "not one this handler wrote"
        state = pj.load_token(cls, token)
        if state is not None:
            counts = (state.conflicts, state.retries)
            if (
                state.phase not in _PHASES
                or not isinstance(state.started_at, (int, float))
                or isinstance(state.started_at, bool)
                or not now - MAX_TIMEOUT_SECONDS - 3600 <= state.started_at <= now + 60
                or any(isinstance(c, bool) or not isinstance(c, int) or not 0 <= c <= 100 for c in counts)
                or not (state.expected_version is None or type(state.expected_version) is int)
                or not isinstance(state.was_running, bool)
                or not isinstance(state.unconfirmed, bool)
            ):
                state = None
            elif state.release != release.fingerprint:
                problem = "for another release than the job's input artifact names"
                state = None
        if state is None:
            raise JobFailedError(f"the continuation token is {problem}: refused")
        return state


@dataclass(frozen=True)
class Outcome:
    """What to report: success, or success with a continuation token (call me again)."""

    summary: str
    state: State | None = None


class Clients(pj.SessionClients):
    """Creates the AWS clients the handler uses (replace it in tests).

    :meth:`s3` (the function's own credentials) checks release objects and writes job claims.
    """

    def artifact_s3(self, credentials: Mapping[str, str]) -> S3Client:
        """The job's temporary artifact credentials: reads the input artifact."""
        return self._session.client(
            "s3",
            aws_access_key_id=credentials["accessKeyId"],
            aws_secret_access_key=credentials["secretAccessKey"],
            aws_session_token=credentials["sessionToken"],
            config=self._policy.calls.client_config(signature_version="s3v4"),
        )

    def kda(self, role_arn: str, region: str, session_name: str) -> KinesisAnalyticsV2Client:
        """A client in the target account and region, through the target's updater role."""
        creds = self.sts().assume_role(RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=900)[
            "Credentials"
        ]
        client: KinesisAnalyticsV2Client = self.regional("kinesisanalyticsv2", region, creds)
        return client


# --------------------------------------------------------------------------- entry point


def handler(
    event: Mapping[str, Any],
    context: Any,
    *,
    clients: Clients | None = None,
    now: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Lambda entry point: exactly one result for the job, or an exception (for the on-failure destination)."""
    return pj.handle(
        event,
        context,
        name=NAME,
        clients=lambda: clients or Clients(),
        codepipeline=lambda resolved: resolved.codepipeline(),
        work=lambda job, data, resolved: update_job(job, data, resolved, now),
    )


def update_job(job: pj.Job, data: Mapping[str, Any], clients: Clients, now: Callable[[], float]) -> None:
    """Run one step of the action and report it."""
    config = UpdaterConfig.from_env(os.environ)
    if not job.claim(pj.ClaimStore(clients.s3(), config.artifact_bucket, config.claims_prefix)):
        return
    params = Parameters.from_job(data, config)
    job.fields.update(application=params.application_name, region=params.region)
    release = read_manifest(job, data, clients, config)
    token = data.get("continuationToken")
    if token is not None:
        state = State.load(token, release, now())
    else:
        check_release_object(job, clients.s3(), release)
        state = State(phase="update", started_at=now(), release=release.fingerprint)
    try:
        kda = job.call(
            f"assume the updater role {params.role_arn}",
            clients.kda,
            role_arn=params.role_arn,
            region=params.region,
            session_name=f"kda-update-{job.id[:40]}",
        )
    except ClientError as err:
        raise JobFailedError(
            f"cannot assume the updater role {params.role_arn}: {err}. Has the infrastructure pipeline deployed "
            "this target's application stack?",
            "PermissionError" if pj.error_code(err) in pj.PERMISSION_CODES else "JobFailed",
        ) from None
    outcome = step(Deployment(job, kda, params, release, now), state)
    job.succeed(outcome.summary, continuation_token=outcome.state.dump() if outcome.state else None)


def read_manifest(job: pj.Job, data: Mapping[str, Any], clients: Clients, config: UpdaterConfig) -> Release:
    """Download the job's own input artifact (a zip in the pipeline's artifact bucket) and read the manifest."""
    name = config.manifest_name
    location, credentials = pj.input_artifact(
        data, bucket=config.artifact_bucket, claims_prefix=config.claims_prefix, what=f"the build output with {name}"
    )
    bucket, key = location["bucketName"], location["objectKey"]
    where = f"s3://{bucket}/{pj.clip(key, 300)}"
    try:
        response = job.call(
            "download the input artifact", clients.artifact_s3(credentials).get_object, Bucket=bucket, Key=key
        )
        if int(response.get("ContentLength") or 0) > MAX_ARTIFACT_BYTES:
            raise JobFailedError(f"the input artifact {where} is larger than a release manifest can be")
        body = response["Body"].read(MAX_ARTIFACT_BYTES + 1)
    except (ClientError, KeyError) as err:
        raise JobFailedError(f"cannot download the input artifact {where}: {err}") from None
    except (pj.JobFailedError, pj.JobAbortedError):
        raise
    except Exception as err:  # streaming errors
        raise JobFailedError(f"cannot download the input artifact {where}: {err}") from None
    if len(body) > MAX_ARTIFACT_BYTES:
        raise JobFailedError(f"the input artifact {where} is larger than a release manifest can be")
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            info = archive.getinfo(name)
            if info.file_size > 64 * 1024:
                raise JobFailedError(f"{name} in {where} is too large to be a manifest")
            manifest = json.loads(archive.read(info))
    except KeyError:
        raise JobFailedError(f"the input artifact {where} has no {name}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as err:
        raise JobFailedError(f"cannot read {name} from the input artifact {where}: {err}") from None
    release = Release.from_manifest(manifest, config)
    job.log("INFO", "release read", release=asdict(release))
    return release


def check_release_object(job: pj.Job, s3: S3Client, release: Release) -> None:
    """Fail clearly if the release's object version is gone (or was altered)."""
    try:
        head = job.call(
            "check the release object",
            s3.head_object,
            Bucket=release.bucket,
            Key=release.key,
            VersionId=release.version_id,
        )
    except ClientError as err:
        code = pj.error_code(err)
        if code in pj.PERMISSION_CODES:
            raise JobFailedError(f"not allowed to read the release {release}: {err}", "PermissionError") from None
        raise JobFailedError(f"the release {release} does not exist ({code or err})", "RevisionUnavailable") from None
    recorded = (head.get("Metadata") or {}).get("sha256")
    if release.sha256 and recorded and recorded != release.sha256:
        raise JobFailedError(f"the release {release} has sha256 {recorded}, the build recorded {release.sha256}")


# --------------------------------------------------------------------------- the state machine


@dataclass(frozen=True)
class Deployment:
    """What stays the same through one invocation's step: the job, the target's client, the release, the clock."""

    job: pj.Job
    kda: KinesisAnalyticsV2Client
    params: Parameters
    release: Release
    now: Callable[[], float]

    def deadline(self, state: State, message: str) -> None:
        """Fail once the action has run longer than its ``timeoutSeconds``."""
        elapsed = self.now() - state.started_at
        if elapsed > self.params.timeout_seconds:
            raise JobFailedError(f"timed out after {int(elapsed)} s (limit {self.params.timeout_seconds} s): {message}")


def step(run: Deployment, state: State) -> Outcome:
    """One state-machine step: what to report (raises :class:`JobFailedError` on a clear failure)."""
    app = describe(run)
    status = str(app.get("ApplicationStatus"))
    version = int(app["ApplicationVersionId"])
    where, release = run.params.where, run.release
    if status == "DELETING":
        raise JobFailedError(f"{where} is being deleted", "ConfigurationError")

    if state.phase == "update":
        if status in IDLE and runs_release(app, release):
            return _already_there(run, state, app)
        if status in IDLE:
            return update(run, state, app)
        if status in BUSY or status in ROLLBACK:
            run.deadline(state, f"{where} stayed {status}; it must be READY or RUNNING to update")
            return Outcome(f"waiting: {where} is {status}", state)
        raise JobFailedError(f"{where} is in status {status!r}, which this action does not deploy to")

    if state.phase == "await_update":
        expected = state.expected_version or 0
        rolled_back_from = app.get("ApplicationVersionRolledBackFrom")
        rolled_back = isinstance(rolled_back_from, int) and rolled_back_from >= expected
        if status in ROLLBACK or (rolled_back and version >= expected - 1):
            raise JobFailedError(
                f"{where}: the service rolled back version {expected} ({release}); the new release did not start. "
                "See the application's CloudWatch logs; the previous version keeps running."
            )
        if state.unconfirmed and version < expected and status in IDLE:
            # The update whose outcome was unknown did not happen: update again (the token is fresh).
            return update(run, replace(state, phase="update", unconfirmed=False), app)
        if status in BUSY:
            run.deadline(state, f"{where} is still {status} after the update to version {expected}")
            return Outcome(f"waiting: {where} is {status} (update to version {expected})", state)
        if status not in IDLE:
            raise JobFailedError(f"{where} is in status {status!r} after the update to version {expected}")
        if version < expected or not runs_release(app, release):
            raise JobFailedError(
                f"{where} is at version {version} but its code is not {release}: another deployment changed it "
                "meanwhile"
            )
        if state.was_running and status != "RUNNING":
            raise JobFailedError(f"{where} was RUNNING before the update and is {status} now: the new release stopped")
        if status == "READY" and run.params.start_application:
            return start(run, state)
        return Outcome(_done(where, release, version, status))

    # await_start
    if status == "RUNNING":
        if not runs_release(app, release):
            raise JobFailedError(f"{where} is RUNNING another release than {release}: changed meanwhile")
        return Outcome(f"{where} started and runs {release} as version {version}")
    if status == "READY":
        if state.unconfirmed:  # the start request's outcome was unknown and the application did not start
            return start(run, replace(state, unconfirmed=False))
        raise JobFailedError(f"{where} did not start with {release}: see its CloudWatch logs")
    if status in {"STARTING", "AUTOSCALING", "UPDATING", "MAINTENANCE"}:
        run.deadline(state, f"{where} is still {status} after StartApplication")
        return Outcome(f"waiting: {where} is {status} (starting)", state)
    raise JobFailedError(f"{where} went {status} while starting {release}: see its CloudWatch logs")


def _already_there(run: Deployment, state: State, app: Mapping[str, Any]) -> Outcome:
    """The application already has this release's code (a retry, or an earlier run that did not finish)."""
    status = str(app["ApplicationStatus"])
    if status == "READY" and run.params.start_application:
        # Not a success: the release is there but not running (e.g. a failed start). Start it.
        return start(run, state)
    version = int(app["ApplicationVersionId"])
    return Outcome(_done(run.params.where, run.release, version, status, already=True))


def _done(where: str, release: Release, version: int, status: str, *, already: bool = False) -> str:
    verb = "already runs" if already else "runs"
    if status == "READY":
        return f"{where} has {release} as version {version}; not started (startApplication is false)"
    return f"{where} {verb} {release} as version {version} ({status})"


def describe(run: Deployment) -> Mapping[str, Any]:
    params = run.params
    try:
        detail: Mapping[str, Any] = run.job.call(
            "describe the application", run.kda.describe_application, ApplicationName=params.application_name
        )["ApplicationDetail"]
        return detail
    except ClientError as err:
        if pj.error_code(err) == "ResourceNotFoundException":
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


def snapshots_enabled(app: Mapping[str, Any]) -> bool:
    config = app.get("ApplicationConfigurationDescription") or {}
    return bool((config.get("ApplicationSnapshotConfigurationDescription") or {}).get("SnapshotsEnabled"))


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


def update(run: Deployment, state: State, app: Mapping[str, Any]) -> Outcome:
    """Request UpdateApplication for the release (at most once per invocation)."""
    job, params, release = run.job, run.params, run.release
    where = params.where
    running = app["ApplicationStatus"] == "RUNNING"
    if running and not snapshots_enabled(app):
        raise JobFailedError(
            f"{where} runs with snapshots disabled: updating it would lose its state (or restore a stale "
            "snapshot). Enable snapshots on the application (its infrastructure stack does) and retry.",
            "ConfigurationError",
        )
    current = int(app["ApplicationVersionId"])
    try:
        response = job.call(
            "update the application",
            run.kda.update_application,
            mutating=True,
            idempotent=False,
            **update_request(params, app, release),
        )
    except pj.OutcomeUnknownError as err:
        # The ConditionalToken makes a repeated request safe; look at the application before repeating it.
        retries = _retry(state, params, err)
        return Outcome(
            f"{where}: UpdateApplication's outcome is unknown ({err.error}); checking the application again",
            replace(
                state, phase="await_update", expected_version=current + 1, was_running=running, unconfirmed=True,
                retries=retries,
            ),
        )  # fmt: skip
    except ClientError as err:
        code = pj.error_code(err)
        if _is_token_conflict(err):
            conflicts = state.conflicts + 1
            if conflicts > MAX_CONFLICTS:
                raise JobFailedError(
                    f"{where}: ConditionalToken conflict {conflicts} times: the application keeps being changed "
                    f"by someone else while this release is deployed ({err})"
                ) from None
            job.log("WARN", "conditional token conflict", attempt=conflicts)
            return Outcome(
                f"{where} changed since it was described (ConditionalToken conflict {conflicts}); retrying",
                replace(state, phase="update", conflicts=conflicts),
            )
        if code == "ResourceInUseException":
            run.deadline(state, f"{where} stayed in use: {err}")
            return Outcome(f"waiting: {where} is in use", replace(state, phase="update"))
        if code in pj.THROTTLING_CODES:
            return Outcome(
                f"{where}: {code}; retrying", replace(state, phase="update", retries=_retry(state, params, err))
            )
        raise _aws_failure("UpdateApplication", params, err) from None
    expected = int(response["ApplicationDetail"]["ApplicationVersionId"])
    job.log("INFO", "update requested", version=expected, release=asdict(release))
    return Outcome(
        f"{where}: update to version {expected} ({release}) requested",
        replace(state, phase="await_update", expected_version=expected, was_running=running, unconfirmed=False),
    )


def start(run: Deployment, state: State) -> Outcome:
    """Start a READY application, restoring its latest snapshot when it has one."""
    job, params = run.job, run.params
    where = params.where
    restore = "RESTORE_FROM_LATEST_SNAPSHOT" if has_snapshot(run) else "SKIP_RESTORE_FROM_SNAPSHOT"
    started = replace(state, phase="await_start", unconfirmed=False)
    try:
        job.call(
            "start the application",
            run.kda.start_application,
            mutating=True,
            idempotent=False,
            ApplicationName=params.application_name,
            RunConfiguration={
                "ApplicationRestoreConfiguration": {"ApplicationRestoreType": restore},
                "FlinkRunConfiguration": {"AllowNonRestoredState": params.allow_non_restored_state},
            },
        )
    except pj.OutcomeUnknownError as err:
        started = replace(started, unconfirmed=True, retries=_retry(state, params, err))
        return Outcome(f"{where}: StartApplication's outcome is unknown ({err.error}); checking again", started)
    except ClientError as err:
        if pj.error_code(err) == "ResourceInUseException":  # already starting (an earlier request of ours)
            return Outcome(f"{where} is already starting", replace(started, unconfirmed=True))
        raise _aws_failure("StartApplication", params, err) from None
    job.log("INFO", "start requested", restore=restore)
    return Outcome(f"{where} has {run.release}; starting ({restore})", started)


def has_snapshot(run: Deployment) -> bool:
    """Whether the application has a READY snapshot to restore (a bounded number of pages)."""
    params = run.params
    request: dict[str, Any] = {"ApplicationName": params.application_name, "Limit": 50}
    try:
        for _ in range(20):
            page = run.job.call("list the application's snapshots", run.kda.list_application_snapshots, **request)
            if any(s.get("SnapshotStatus") == "READY" for s in page.get("SnapshotSummaries", [])):
                return True
            if not page.get("NextToken"):
                return False
            request["NextToken"] = page["NextToken"]
    except ClientError as err:
        raise _aws_failure("ListApplicationSnapshots", params, err) from None
    raise JobFailedError(f"{params.where} has more snapshots than this action pages through, none READY")


def _retry(state: State, params: Parameters, err: BaseException) -> int:
    retries = state.retries + 1
    if retries > MAX_RETRIES:
        raise JobFailedError(f"{params.where}: gave up after {MAX_RETRIES} retries: {err}")
    return retries


def _is_token_conflict(err: ClientError) -> bool:
    """The application changed since it was described (stale ConditionalToken or version id)."""
    message = str(err.response.get("Error", {}).get("Message", "")).lower()
    return pj.error_code(err) == "ConcurrentModificationException" or ("conditional" in message and "token" in message)


def _aws_failure(operation: str, params: Parameters, err: ClientError) -> JobFailedError:
    kind = "PermissionError" if pj.error_code(err) in pj.PERMISSION_CODES else "JobFailed"
    return JobFailedError(f"{operation} on {params.where} failed: {err}", kind)
