"""Publish a Lambda layer version in one region: the CodePipeline job worker of MultiRegionLayerPipeline.

CodePipeline invokes this function once per target region, in parallel, with
the built layer (a zip whose root holds ``nodejs/`` or ``python/``) as the
input artifact and ``{"region": ..., "stagingBucket": ...}`` as user
parameters. For its region the function:

1. downloads the artifact with the job's own artifact credentials (never its
   role), hashing it on the way (SHA-256, as Lambda's ``CodeSha256``);
2. compares it with the layer's latest version in that region: same content
   and same settings means nothing is published (no duplicate version);
3. otherwise uploads it to the region's staging bucket and publishes the new
   version **from S3** (the 50 MB direct-upload limit does not apply; the
   layer can be as large as Lambda's 250 MB unzipped limit);
4. grants ``lambda:GetLayerVersion`` to exactly the configured principals
   (accounts, an organization, or everyone when public sharing was opted
   into), removing grants this function made that are no longer configured;
5. writes the version ARN to an SSM parameter in that region;
6. reports the outcome to CodePipeline: success (with output variables
   ``LayerVersionArn``, ``LayerVersion``, ``Published``) or failure, on every
   path. A watchdog reports a failure shortly before the function's timeout,
   and a slow download hands over to a fresh invocation with a continuation
   token, so the action never waits for CodePipeline's own timeout.

Every step is idempotent: running the same job twice publishes nothing new.
Configuration that does not vary by region comes from the ``DISTRIBUTOR_CONFIG``
environment variable (JSON), written by the construct.

Standard library and boto3 only (the Lambda runtime provides boto3).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

__all__ = [
    "ArtifactError",
    "Clients",
    "ConfigurationError",
    "DistributorConfig",
    "JobReporter",
    "Sharing",
    "handler",
    "run",
]

#: Lambda's limit for a layer's unzipped size; a larger zip cannot be a valid layer either.
MAX_LAYER_BYTES = 250 * 1024 * 1024
#: Statement ids this function owns in a layer version's policy start with this.
STATEMENT_PREFIX = "share-"
#: Report a failure this long before the function's own timeout.
WATCHDOG_MARGIN_SECONDS = 20.0
#: Seconds the upload + publish + grants need at least; below that, hand over to a fresh invocation.
PUBLISH_BUDGET_SECONDS = 120.0
#: Continuation hand-overs allowed before the job fails.
MAX_ATTEMPTS = 3
_CHUNK = 1024 * 1024
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class ConfigurationError(Exception):
    """The job's parameters or the function's configuration are wrong: retrying will not help."""


class ArtifactError(Exception):
    """The input artifact could not be read (missing, no permission, too large...)."""


def log(level: str, message: str, **fields: Any) -> None:
    """One structured JSON log line (CloudWatch Logs Insights can query every field)."""
    print(json.dumps({"level": level, "message": message, **fields}, default=str, sort_keys=True))


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Sharing:
    """Who may use each published version (``lambda:GetLayerVersion``)."""

    accounts: tuple[str, ...] = ()
    organization_id: str | None = None
    public: bool = False

    def statements(self) -> dict[str, dict[str, str]]:
        """The layer-version policy statements this sharing needs, by statement id."""
        out: dict[str, dict[str, str]] = {}
        if self.public:
            out[f"{STATEMENT_PREFIX}public"] = {"Principal": "*"}
        if self.organization_id:
            out[f"{STATEMENT_PREFIX}org-{self.organization_id}"] = {
                "Principal": "*",
                "OrganizationId": self.organization_id,
            }
        for account in self.accounts:
            out[f"{STATEMENT_PREFIX}account-{account}"] = {"Principal": account}
        return out


@dataclass(frozen=True)
class DistributorConfig:
    """What every region publishes (the ``DISTRIBUTOR_CONFIG`` environment variable)."""

    layer_name: str
    parameter_name: str
    staging_key: str
    expected_bucket_owner: str
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    license_info: str | None = None
    description: str | None = None
    sharing: Sharing = field(default_factory=Sharing)
    allow_public: bool = False
    regions: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> DistributorConfig:
        raw = environ.get("DISTRIBUTOR_CONFIG")
        if not raw:
            raise ConfigurationError("DISTRIBUTOR_CONFIG is not set on the function")
        try:
            data = json.loads(raw)
            sharing = data.get("sharing") or {}
            config = cls(
                layer_name=str(data["layerName"]),
                parameter_name=str(data["parameterName"]),
                staging_key=str(data["stagingKey"]),
                expected_bucket_owner=str(data["expectedBucketOwner"]),
                compatible_runtimes=tuple(data.get("compatibleRuntimes") or ()),
                compatible_architectures=tuple(data.get("compatibleArchitectures") or ()),
                license_info=data.get("licenseInfo") or None,
                description=data.get("description") or None,
                sharing=Sharing(
                    accounts=tuple(sharing.get("accounts") or ()),
                    organization_id=sharing.get("organizationId") or None,
                    public=bool(sharing.get("public", False)),
                ),
                allow_public=bool(data.get("allowPublic", False)),
                regions=tuple(data.get("regions") or ()),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ConfigurationError(f"DISTRIBUTOR_CONFIG is malformed: {err!r}") from None
        if config.sharing.public and not config.allow_public:
            raise ConfigurationError("public sharing is configured but was not explicitly allowed (allowPublic)")
        return config


@dataclass(frozen=True)
class JobParameters:
    """The per-region user parameters of the action."""

    region: str
    staging_bucket: str

    @classmethod
    def from_job(cls, job: Mapping[str, Any], config: DistributorConfig) -> JobParameters:
        raw = job.get("data", {}).get("actionConfiguration", {}).get("configuration", {}).get("UserParameters")
        if not raw:
            raise ConfigurationError("the action has no UserParameters; expected {'region', 'stagingBucket'}")
        try:
            data = json.loads(raw)
            params = cls(region=str(data["region"]), staging_bucket=str(data["stagingBucket"]))
        except (ValueError, KeyError, TypeError) as err:
            raise ConfigurationError(f"UserParameters are malformed ({err!r}): {raw[:200]!r}") from None
        if not _REGION.match(params.region):
            raise ConfigurationError(f"UserParameters.region {params.region!r} is not an AWS region")
        if config.regions and params.region not in config.regions:
            raise ConfigurationError(f"region {params.region!r} is not one of the configured regions")
        if not _BUCKET.match(params.staging_bucket):
            raise ConfigurationError(f"UserParameters.stagingBucket {params.staging_bucket!r} is not a bucket name")
        return params


# --------------------------------------------------------------------------- AWS clients


@dataclass
class Clients:
    """Factories for the clients the job uses (tests replace them)."""

    codepipeline: Any
    artifact_s3: Callable[[Mapping[str, Any]], Any]
    regional: Callable[[str, str], Any]


def default_clients() -> Clients:
    """boto3 clients: CodePipeline in this region, artifacts with the job's credentials, the rest per region."""
    retries = Config(retries={"max_attempts": 5, "mode": "standard"})
    s3v4 = Config(signature_version="s3v4", retries={"max_attempts": 5, "mode": "standard"})
    cache: dict[tuple[str, str], Any] = {}

    def artifact_s3(credentials: Mapping[str, Any]) -> Any:
        return boto3.client(
            "s3",
            aws_access_key_id=credentials["accessKeyId"],
            aws_secret_access_key=credentials["secretAccessKey"],
            aws_session_token=credentials["sessionToken"],
            config=s3v4,
        )

    def regional(service: str, region: str) -> Any:
        key = (service, region)
        if key not in cache:
            cache[key] = boto3.client(service, region_name=region, config=s3v4 if service == "s3" else retries)  # type: ignore[call-overload]
        return cache[key]

    return Clients(
        codepipeline=boto3.client("codepipeline", config=retries), artifact_s3=artifact_s3, regional=regional
    )


# --------------------------------------------------------------------------- reporting


class JobReporter:
    """Reports a job's outcome to CodePipeline exactly once (the watchdog and the handler may race)."""

    def __init__(self, codepipeline: Any, job_id: str) -> None:
        self._codepipeline = codepipeline
        self.job_id = job_id
        self._lock = threading.Lock()
        self.outcome: str | None = None

    def success(
        self,
        summary: str,
        *,
        variables: Mapping[str, str] | None = None,
        continuation_token: str | None = None,
    ) -> bool:
        kwargs: dict[str, Any] = {
            "jobId": self.job_id,
            "executionDetails": {"summary": summary[:2048], "percentComplete": 50 if continuation_token else 100},
        }
        if continuation_token:
            kwargs["continuationToken"] = continuation_token
        elif variables:
            kwargs["outputVariables"] = dict(variables)
        return self._report("continued" if continuation_token else "succeeded", "put_job_success_result", kwargs)

    def failure(self, message: str, *, kind: str = "JobFailed") -> bool:
        kwargs = {"jobId": self.job_id, "failureDetails": {"type": kind, "message": message[:5000]}}
        return self._report("failed", "put_job_failure_result", kwargs)

    def _report(self, outcome: str, method: str, kwargs: dict[str, Any]) -> bool:
        with self._lock:
            if self.outcome is not None:
                log("WARN", "outcome already reported; not reporting again", jobId=self.job_id, outcome=outcome)
                return False
            try:
                getattr(self._codepipeline, method)(**kwargs)
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") in ("InvalidJobStateException", "JobNotFoundException"):
                    # Already finished (a duplicate delivery of the same job): nothing to report.
                    log("WARN", "job already closed", jobId=self.job_id, error=str(err))
                    self.outcome = outcome
                    return False
                raise
            self.outcome = outcome
            log("INFO", f"job {outcome}", jobId=self.job_id, details=kwargs.get("failureDetails"))
            return True


class Watchdog:
    """Reports a failure shortly before the function times out, if nothing was reported by then."""

    def __init__(self, reporter: JobReporter, remaining_ms: Callable[[], int] | None) -> None:
        self._timer: threading.Timer | None = None
        if remaining_ms is None:
            return
        delay = remaining_ms() / 1000.0 - WATCHDOG_MARGIN_SECONDS
        self._timer = threading.Timer(max(delay, 0.0), self._fire, args=(reporter,))
        self._timer.daemon = True
        self._timer.start()

    @staticmethod
    def _fire(reporter: JobReporter) -> None:
        try:
            reporter.failure("the layer distributor ran out of time (Lambda timeout); retry the action")
        except Exception as err:  # pragma: no cover - last resort, logged for the operator
            log("ERROR", "watchdog could not report the timeout", error=repr(err))

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


# --------------------------------------------------------------------------- the work


@dataclass(frozen=True)
class Downloaded:
    path: str
    size: int
    sha256: str  # base64, like Lambda's CodeSha256


def download_artifact(s3: Any, location: Mapping[str, str], path: str) -> Downloaded:
    """Stream the artifact to ``path``, computing its SHA-256 on the way."""
    bucket, key = location.get("bucketName"), location.get("objectKey")
    if not bucket or not key:
        raise ArtifactError(f"the input artifact has no S3 location: {dict(location)!r}")
    digest = hashlib.sha256()
    size = 0
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
        length = int(response.get("ContentLength") or 0)
        if length > MAX_LAYER_BYTES:
            raise ArtifactError(f"s3://{bucket}/{key} is {length} bytes; a layer is at most {MAX_LAYER_BYTES} bytes")
        with open(path, "wb") as out:
            for chunk in response["Body"].iter_chunks(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
                if size > MAX_LAYER_BYTES:
                    raise ArtifactError(f"s3://{bucket}/{key} exceeds {MAX_LAYER_BYTES} bytes")
    except (ClientError, BotoCoreError, OSError) as err:
        raise ArtifactError(f"could not read the input artifact s3://{bucket}/{key}: {err}") from err
    return Downloaded(path=path, size=size, sha256=base64.b64encode(digest.digest()).decode())


def latest_version(lambda_client: Any, layer_name: str) -> dict[str, Any] | None:
    """The newest version of the layer (with ``Content.CodeSha256``), or ``None``."""
    try:
        versions = lambda_client.list_layer_versions(LayerName=layer_name, MaxItems=50).get("LayerVersions", [])
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    if not versions:
        return None
    newest = max(int(v["Version"]) for v in versions)
    version: dict[str, Any] = lambda_client.get_layer_version(LayerName=layer_name, VersionNumber=newest)
    return version


def same_layer(version: Mapping[str, Any], sha256: str, config: DistributorConfig) -> bool:
    """Whether ``version`` already has this content and these settings."""
    return (
        version.get("Content", {}).get("CodeSha256") == sha256
        and sorted(version.get("CompatibleRuntimes") or []) == sorted(config.compatible_runtimes)
        and sorted(version.get("CompatibleArchitectures") or []) == sorted(config.compatible_architectures)
        and (version.get("LicenseInfo") or None) == config.license_info
        and (version.get("Description") or None) == config.description
    )


def publish(
    lambda_client: Any, s3: Any, artifact: Downloaded, params: JobParameters, config: DistributorConfig
) -> dict[str, Any]:
    """Upload the zip to the region's staging bucket and publish a version from it."""
    with open(artifact.path, "rb") as body:
        put = s3.put_object(
            Bucket=params.staging_bucket,
            Key=config.staging_key,
            Body=body,
            ExpectedBucketOwner=config.expected_bucket_owner,
        )
    content: dict[str, str] = {"S3Bucket": params.staging_bucket, "S3Key": config.staging_key}
    if put.get("VersionId"):
        # Pin the exact object: a concurrent upload cannot change what is published.
        content["S3ObjectVersion"] = put["VersionId"]
    kwargs: dict[str, Any] = {"LayerName": config.layer_name, "Content": content}
    if config.description:
        kwargs["Description"] = config.description
    if config.compatible_runtimes:
        kwargs["CompatibleRuntimes"] = list(config.compatible_runtimes)
    if config.compatible_architectures:
        kwargs["CompatibleArchitectures"] = list(config.compatible_architectures)
    if config.license_info:
        kwargs["LicenseInfo"] = config.license_info
    version: dict[str, Any] = lambda_client.publish_layer_version(**kwargs)
    return version


def reconcile_permissions(lambda_client: Any, layer_name: str, version: int, sharing: Sharing) -> dict[str, list[str]]:
    """Make the version's policy grant ``lambda:GetLayerVersion`` to exactly ``sharing``."""
    wanted = sharing.statements()
    try:
        policy = json.loads(
            lambda_client.get_layer_version_policy(LayerName=layer_name, VersionNumber=version)["Policy"]
        )
        existing = {s.get("Sid") for s in policy.get("Statement", []) if s.get("Sid")}
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        existing = set()
    removed = sorted(sid for sid in existing if sid.startswith(STATEMENT_PREFIX) and sid not in wanted)
    for sid in removed:
        lambda_client.remove_layer_version_permission(LayerName=layer_name, VersionNumber=version, StatementId=sid)
    added = []
    for sid, grant in wanted.items():
        if sid in existing:
            continue
        try:
            lambda_client.add_layer_version_permission(
                LayerName=layer_name, VersionNumber=version, StatementId=sid, Action="lambda:GetLayerVersion", **grant
            )
        except ClientError as err:
            # A concurrent run added it between our read and write: the grant is there, which is what we want.
            if err.response.get("Error", {}).get("Code") != "ResourceConflictException":
                raise
        added.append(sid)
    return {"added": added, "removed": removed}


def _continuation_attempt(job: Mapping[str, Any]) -> int:
    token = job.get("data", {}).get("continuationToken")
    if not token:
        return 0
    try:
        return int(json.loads(token).get("attempt", 0))
    except (ValueError, AttributeError, TypeError):
        return 0


def distribute(
    job: Mapping[str, Any],
    reporter: JobReporter,
    clients: Clients,
    config: DistributorConfig,
    remaining_ms: Callable[[], int] | None,
) -> None:
    """Do the job and report its outcome (raises only if CodePipeline cannot be told)."""
    params = JobParameters.from_job(job, config)
    attempt = _continuation_attempt(job)
    inputs = job.get("data", {}).get("inputArtifacts") or []
    if len(inputs) != 1:
        raise ConfigurationError(f"expected exactly one input artifact (the built layer), got {len(inputs)}")
    location = inputs[0].get("location", {}).get("s3Location", {})
    credentials = job.get("data", {}).get("artifactCredentials")
    if not credentials:
        raise ConfigurationError("the job carries no artifact credentials")
    context = {"jobId": reporter.job_id, "region": params.region, "layer": config.layer_name}

    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        artifact = download_artifact(clients.artifact_s3(credentials), location, os.path.join(tmp, "layer.zip"))
        log("INFO", "artifact downloaded", size=artifact.size, sha256=artifact.sha256,
            seconds=round(time.monotonic() - started, 2), **context)  # fmt: skip

        if remaining_ms is not None and remaining_ms() / 1000.0 < PUBLISH_BUDGET_SECONDS + WATCHDOG_MARGIN_SECONDS:
            if attempt + 1 >= MAX_ATTEMPTS:
                reporter.failure(
                    f"gave up after {MAX_ATTEMPTS} attempts: the download leaves too little time to publish"
                )
                return
            reporter.success(
                "download was slow; continuing in a fresh invocation",
                continuation_token=json.dumps({"attempt": attempt + 1}),
            )
            return

        lambda_client = clients.regional("lambda", params.region)
        latest = latest_version(lambda_client, config.layer_name)
        if latest is not None and same_layer(latest, artifact.sha256, config):
            version, published = latest, False
            log("INFO", "identical content is already the latest version; not publishing",
                version=latest["Version"], **context)  # fmt: skip
        else:
            version = publish(lambda_client, clients.regional("s3", params.region), artifact, params, config)
            published = True
            log("INFO", "layer version published", version=version["Version"], **context)

    number = int(version["Version"])
    arn = str(version["LayerVersionArn"])
    grants = reconcile_permissions(lambda_client, config.layer_name, number, config.sharing)
    clients.regional("ssm", params.region).put_parameter(
        Name=config.parameter_name,
        Value=arn,
        Type="String",
        Overwrite=True,
        Description=f"Latest version of Lambda layer {config.layer_name} (written by its pipeline)",
    )
    log("INFO", "version ARN written to SSM", parameter=config.parameter_name, arn=arn, grants=grants, **context)
    verb = "published" if published else "already current:"
    reporter.success(
        f"{params.region}: {verb} {arn}",
        variables={"LayerVersionArn": arn, "LayerVersion": str(number), "Published": str(published).lower()},
    )


def _failure_kind(err: ClientError) -> str:
    code = str(err.response.get("Error", {}).get("Code", ""))
    if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation") or "NotAuthorized" in code:
        return "PermissionError"
    return "JobFailed"


def run(event: Mapping[str, Any], context: Any = None, *, clients: Clients | None = None) -> dict[str, Any]:
    """Handle one CodePipeline job: every path reports to CodePipeline (or raises, for the DLQ)."""
    job = event.get("CodePipeline.job") if isinstance(event, Mapping) else None
    if not isinstance(job, Mapping) or not job.get("id"):
        # Not a CodePipeline job: nothing can be reported; fail loudly so the DLQ keeps the event.
        log(
            "ERROR", "event is not a CodePipeline job", event_keys=sorted(event) if isinstance(event, Mapping) else None
        )
        raise ValueError("expected a CodePipeline job event ('CodePipeline.job' with an 'id')")
    clients = clients or default_clients()
    reporter = JobReporter(clients.codepipeline, str(job["id"]))
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    watchdog = Watchdog(reporter, remaining)
    try:
        config = DistributorConfig.from_env(os.environ)
        distribute(job, reporter, clients, config, remaining)
    except ConfigurationError as err:
        log("ERROR", "configuration error", jobId=reporter.job_id, error=str(err))
        reporter.failure(str(err), kind="ConfigurationError")
    except ArtifactError as err:
        log("ERROR", "input artifact unreadable", jobId=reporter.job_id, error=str(err))
        reporter.failure(str(err))
    except ClientError as err:
        log("ERROR", "AWS call failed", jobId=reporter.job_id, error=str(err))
        reporter.failure(f"AWS error: {err}", kind=_failure_kind(err))
    except Exception as err:
        log("ERROR", "unexpected error", jobId=reporter.job_id, error=repr(err))
        reporter.failure(f"unexpected error: {err!r}")
    finally:
        watchdog.cancel()
    return {"jobId": reporter.job_id, "outcome": reporter.outcome}


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    return run(event, context)
