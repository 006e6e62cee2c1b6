"""Publish a Lambda layer version in one region: the CodePipeline job worker of MultiRegionLayerPipeline.

CodePipeline invokes this function once per target region, in parallel, with
the built layer (a zip whose root holds ``nodejs/``, ``python/``...) as the
only input artifact and ``{"region": ...}`` as user parameters. For its region
the function:

1. checks the event against what the pipeline built: the input artifact must
   be an object of the pipeline's own artifact bucket (fixed in the
   configuration at synth, never taken from the event); the region must be
   one of the configured regions; user parameters are parsed strictly;
2. claims the job (:mod:`_pipeline_job`): a duplicate delivery of the same job
   publishes nothing and reports nothing;
3. downloads the artifact with the job's own artifact credentials, hashing it
   (SHA-256, as Lambda's ``CodeSha256``), and validates it before any change:
   a readable zip (every CRC checked), not empty, within Lambda's 250 MB
   unzipped limit, no absolute or ``..`` paths, and with content where the
   compatible runtimes look (``nodejs/node_modules/``, ``python/``,
   ``java/lib/``, ``ruby/gems/``, or ``bin/``, ``lib/``, ``extensions/``);
4. compares it with the layer's latest version in that region: same content
   and same settings means nothing is published (no duplicate version);
5. otherwise uploads it to the region's staging bucket (named at synth) and
   publishes the version **from S3** (no 50 MB direct-upload limit);
6. grants ``lambda:GetLayerVersion`` to exactly the configured principals,
   removing grants this function made that are no longer configured;
7. writes the version ARN to an SSM parameter in that region;
8. reports to CodePipeline exactly once: success (output variables
   ``LayerVersionArn``, ``LayerVersion``, ``Published``) or failure, on every
   path. The watchdog reports a failure before the function's timeout and
   nothing changes after a report; a slow download hands over to a fresh
   invocation with a continuation token.

Configuration (environment, written by the construct at synth):

``DISTRIBUTOR_CONFIG`` (JSON)
    ``layerName``, ``parameterName``, ``stagingKey``, ``expectedBucketOwner``,
    ``stagingBucketPrefix``
    (a region's staging bucket is this prefix + the region), ``claimsPrefix``
    (where job claims go in the artifact bucket), ``regions``,
    ``compatibleRuntimes``, ``compatibleArchitectures``, ``licenseInfo``,
    ``description``, ``sharing`` (``accounts``, ``organizationId``, ``public``),
    ``allowPublic``.
``ARTIFACT_BUCKET``
    the pipeline's artifact bucket: the only bucket the input artifact may be in.
``PIPELINE_JOB_POLICY`` (JSON, optional)
    retry and time numbers (:class:`_pipeline_job.Policy`).

Standard library and boto3 only (the Lambda runtime provides boto3).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

if __package__:
    from . import _pipeline_job as pj
else:  # pragma: no cover - in the Lambda asset the handler and its helper are top-level modules
    import _pipeline_job as pj  # type: ignore[import-not-found,no-redef]

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_LAYER_BYTES",
    "PUBLISH_BUDGET_SECONDS",
    "WATCHDOG_MARGIN_SECONDS",
    "ArtifactError",
    "Clients",
    "ConfigurationError",
    "DistributorConfig",
    "Sharing",
    "handler",
    "run",
    "validate_layer_zip",
]

#: Lambda's limit for a layer's unzipped size; a larger zip cannot be a valid layer either.
MAX_LAYER_BYTES = 250 * 1024 * 1024
#: Statement ids this function owns in a layer version's policy start with this.
STATEMENT_PREFIX = "share-"
#: The watchdog reports this long before the function's timeout (with the default policy).
WATCHDOG_MARGIN_SECONDS = pj.Policy().watchdog_margin
#: Seconds the upload + publish + grants need at least; below that, hand over to a fresh invocation.
PUBLISH_BUDGET_SECONDS = 120.0
#: Continuation hand-overs allowed before the job fails.
MAX_ATTEMPTS = 3
NAME = "the layer distributor"
_CHUNK = 1024 * 1024
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}", re.ASCII)
_PARAMETERS = frozenset({"region", "stagingBucket"})
# Where each runtime family loads layer content from (/opt/...): the Lambda developer guide's
# "Layer paths for each Lambda runtime". bin/ and lib/ (PATH, LD_LIBRARY_PATH) and extensions/ work for all.
_LOADABLE: dict[str, tuple[str, ...]] = {
    "nodejs": (r"nodejs/node_modules/.+", r"nodejs/node[0-9]+/node_modules/.+"),
    "python": (r"python/.+",),
    "java": (r"java/lib/.+",),
    "ruby": (r"ruby/gems/.+", r"ruby/lib/.+"),
}
_ANY_RUNTIME = (r"bin/.+", r"lib/.+", r"extensions/.+")
_LAYOUT_HINT = {
    "nodejs": "nodejs/node_modules/",
    "python": "python/",
    "java": "java/lib/",
    "ruby": "ruby/gems/ or ruby/lib/",
}


ConfigurationError = pj.ConfigurationError


class ArtifactError(pj.JobFailedError):
    """The input artifact is not something to publish (unreadable, not a valid layer zip, too large...)."""


log = pj.log


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
    """What every region publishes, and what the function trusts (the ``DISTRIBUTOR_CONFIG`` variable)."""

    layer_name: str
    parameter_name: str
    staging_key: str
    expected_bucket_owner: str
    artifact_bucket: str
    staging_bucket_prefix: str
    claims_prefix: str
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    license_info: str | None = None
    description: str | None = None
    sharing: Sharing = field(default_factory=Sharing)
    allow_public: bool = False
    regions: tuple[str, ...] = ()

    def staging_bucket(self, region: str) -> str:
        return f"{self.staging_bucket_prefix}{region}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> DistributorConfig:
        raw = environ.get("DISTRIBUTOR_CONFIG")
        if not raw:
            raise ConfigurationError("DISTRIBUTOR_CONFIG is not set on the function")
        try:
            data = json.loads(raw)
            sharing = data.get("sharing") or {}
            config = cls(
                layer_name=pj.text(data, "layerName"),
                parameter_name=pj.text(data, "parameterName"),
                staging_key=pj.text(data, "stagingKey"),
                expected_bucket_owner=pj.text(data, "expectedBucketOwner"),
                artifact_bucket=pj.artifact_bucket(environ),
                staging_bucket_prefix=pj.text(data, "stagingBucketPrefix"),
                claims_prefix=pj.text(data, "claimsPrefix"),
                compatible_runtimes=_texts(data, "compatibleRuntimes"),
                compatible_architectures=_texts(data, "compatibleArchitectures"),
                license_info=data.get("licenseInfo") or None,
                description=data.get("description") or None,
                sharing=Sharing(
                    accounts=_texts(sharing, "accounts"),
                    organization_id=sharing.get("organizationId") or None,
                    public=sharing.get("public", False) is True,
                ),
                allow_public=data.get("allowPublic", False) is True,
                regions=_texts(data, "regions"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ConfigurationError(f"DISTRIBUTOR_CONFIG is malformed: {err!r}") from None
        if not config.regions:
            raise ConfigurationError("DISTRIBUTOR_CONFIG.regions is empty")
        if config.sharing.public and not config.allow_public:
            raise ConfigurationError("public sharing is configured but was not explicitly allowed (allowPublic)")
        return config


def _texts(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{key} must be a list of strings, not {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class JobParameters:
    """The per-region user parameters of the action: ``{"region": ...}`` (``stagingBucket`` is checked, not used)."""

    region: str
    staging_bucket: str

    @classmethod
    def from_job(cls, data: Mapping[str, Any], config: DistributorConfig) -> JobParameters:
        params = pj.user_parameters(data, _PARAMETERS, expected='{"region": ...}')
        region = params.get("region")
        if not isinstance(region, str) or not _REGION.fullmatch(region):
            raise ConfigurationError(f"UserParameters.region {region!r} is not an AWS region")
        if region not in config.regions:
            raise ConfigurationError(f"region {region!r} is not one of the configured regions {list(config.regions)}")
        staging = config.staging_bucket(region)
        named = params.get("stagingBucket", staging)
        if named != staging:
            raise ConfigurationError(
                f"UserParameters.stagingBucket {named!r} is not this pipeline's staging bucket for {region}"
            )
        return cls(region=region, staging_bucket=staging)


# --------------------------------------------------------------------------- AWS clients


@dataclass
class Clients:
    """Factories for the clients the job uses (tests replace them).

    :param codepipeline: CodePipeline client (reports the result).
    :param artifact_s3: ``credentials -> S3 client`` with the job's artifact credentials.
    :param regional: ``(service, region) -> client`` with the function's own credentials.
    :param claims_s3: S3 client for job claims. Default: ``regional("s3", <the function's region>)``.
    """

    codepipeline: Any
    artifact_s3: Callable[[Mapping[str, Any]], Any]
    regional: Callable[[str, str], Any]
    claims_s3: Callable[[], Any] | None = None

    def claims(self) -> Any:
        if self.claims_s3 is not None:
            return self.claims_s3()
        region = pj.function_region()
        return self.regional("s3", region)


def default_clients() -> Clients:
    """boto3 clients: CodePipeline in this region, artifacts with the job's credentials, the rest per region."""
    policy = pj.job_policy()
    calls = policy.calls.client_config()
    s3v4 = policy.calls.client_config(signature_version="s3v4")
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
            cache[key] = boto3.client(service, region_name=region, config=s3v4 if service == "s3" else calls)  # type: ignore[call-overload]
        return cache[key]

    return Clients(
        codepipeline=boto3.client("codepipeline", config=policy.reports.client_config()),
        artifact_s3=artifact_s3,
        regional=regional,
    )


# --------------------------------------------------------------------------- the artifact


@dataclass(frozen=True)
class Downloaded:
    path: str
    size: int
    sha256: str  # base64, like Lambda's CodeSha256


def download_artifact(s3: Any, location: Mapping[str, str], path: str, job: pj.Job | None = None) -> Downloaded:
    """Stream the artifact to ``path``, computing its SHA-256 on the way (retried as a whole when a read breaks)."""
    bucket, key = location.get("bucketName"), location.get("objectKey")
    if not bucket or not key:
        raise ArtifactError(f"the input artifact has no S3 location: {dict(location)!r}")
    attempts = job.policy.calls.attempts if job is not None else 1
    for attempt in range(1, attempts + 1):
        try:
            return _download_once(s3, bucket, key, path, job)
        except (BotoCoreError, OSError) as err:
            if attempt == attempts or job is None:
                raise ArtifactError(f"could not read the input artifact s3://{bucket}/{key}: {err}") from err
            job.log("WARN", "artifact download broke; downloading again", attempt=attempt, error=str(err))
            job.sleep(job.policy.calls.delay(attempt))
        except ClientError as err:
            raise ArtifactError(f"could not read the input artifact s3://{bucket}/{key}: {err}") from err
    raise AssertionError("unreachable")  # pragma: no cover


def _download_once(s3: Any, bucket: str, key: str, path: str, job: pj.Job | None) -> Downloaded:
    digest = hashlib.sha256()
    size = 0
    if job is not None:
        response = job.call("download the built layer", s3.get_object, Bucket=bucket, Key=key)
    else:
        response = s3.get_object(Bucket=bucket, Key=key)
    length = int(response.get("ContentLength") or 0)
    if length > MAX_LAYER_BYTES:
        raise ArtifactError(
            f"the input artifact s3://{bucket}/{key} is {length} bytes; a layer is at most {MAX_LAYER_BYTES}"
        )
    chunks = pj.iter_chunks(job, response["Body"], _CHUNK) if job is not None else response["Body"].iter_chunks(_CHUNK)
    with open(path, "wb") as out:
        for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
            if size > MAX_LAYER_BYTES:
                raise ArtifactError(f"the input artifact s3://{bucket}/{key} exceeds {MAX_LAYER_BYTES} bytes")
    if length and size != length:
        raise ArtifactError(f"the input artifact s3://{bucket}/{key} is truncated: read {size} of {length} bytes")
    return Downloaded(path=path, size=size, sha256=base64.b64encode(digest.digest()).decode())


def _family(runtime: str) -> str | None:
    for family in _LOADABLE:
        if runtime.startswith(family):
            return family
    return None  # dotnet, provided.*: bin/, lib/ and extensions/ only


def validate_layer_zip(path: str, compatible_runtimes: Sequence[str]) -> int:
    """Check that ``path`` is a layer Lambda can load for ``compatible_runtimes``; return its unzipped size.

    :raises ArtifactError: empty, not a zip, truncated, a bad CRC, encrypted or unsupported entries,
        absolute or ``..`` paths, over 250 MB unzipped, or nothing where the runtimes look.
    """
    if os.path.getsize(path) == 0:
        raise ArtifactError("the built layer is empty (0 bytes): the build produced no files")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            files = [e for e in entries if not e.is_dir()]
            if not files:
                raise ArtifactError("the layer zip holds no files")
            for entry in entries:
                name = entry.filename
                parts = name.split("/")
                if (
                    name.startswith("/")
                    or "\\" in name
                    or "\x00" in name
                    or ".." in parts
                    or re.match(r"[A-Za-z]:", name)
                ):
                    raise ArtifactError(f"the layer zip has an unsafe path {pj.clip(name, 200)!r}")
            unzipped = sum(e.file_size for e in files)
            if unzipped > MAX_LAYER_BYTES:
                raise ArtifactError(
                    f"the layer is {unzipped} bytes unzipped; Lambda allows at most {MAX_LAYER_BYTES} bytes"
                )
            broken = archive.testzip()  # decompresses every entry and checks its CRC-32
            if broken is not None:
                raise ArtifactError(f"the layer zip is corrupt: bad CRC or data in {pj.clip(broken, 200)!r}")
    except ArtifactError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
            ValueError, OSError) as err:  # fmt: skip
        raise ArtifactError(f"the built layer is not a readable zip ({type(err).__name__}: {err})") from None
    families = {_family(r) for r in compatible_runtimes} - {None} if compatible_runtimes else set(_LOADABLE)
    patterns = [p for f in sorted(f for f in families if f) for p in _LOADABLE[f]] + list(_ANY_RUNTIME)
    if not any(any(re.fullmatch(p, e.filename, re.ASCII | re.DOTALL) for p in patterns) for e in files):
        tops = sorted({e.filename.split("/", 1)[0] + ("/" if "/" in e.filename else "") for e in entries})[:10]
        where = ", ".join([_LAYOUT_HINT[f] for f in sorted(f for f in families if f)] + ["bin/", "lib/", "extensions/"])
        raise ArtifactError(
            f"the layer zip has nothing where {', '.join(compatible_runtimes) or 'Lambda runtimes'} look for layer "
            f"content ({where}); its top level is {tops}. Zip the folder itself (e.g. nodejs/), not its contents."
        )
    return unzipped


# --------------------------------------------------------------------------- the layer


def latest_version(job: pj.Job, lambda_client: Any, layer_name: str) -> dict[str, Any] | None:
    """The newest version of the layer (with ``Content.CodeSha256``), or ``None``."""
    try:
        versions = job.call(
            "list the layer's versions", lambda_client.list_layer_versions, LayerName=layer_name, MaxItems=50
        ).get("LayerVersions", [])
    except ClientError as err:
        if pj.error_code(err) == "ResourceNotFoundException":
            return None
        raise
    if not versions:
        return None
    newest = max(int(v["Version"]) for v in versions)
    return dict(
        job.call(
            "read the latest layer version", lambda_client.get_layer_version, LayerName=layer_name, VersionNumber=newest
        )
    )


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
    job: pj.Job,
    lambda_client: Any,
    s3: Any,
    artifact: Downloaded,
    params: JobParameters,
    config: DistributorConfig,
) -> dict[str, Any]:
    """Upload the zip to the region's staging bucket and publish a version from it (at most one version)."""
    with open(artifact.path, "rb") as file:
        body = job.abortable(file)

        def upload(**kwargs: Any) -> Any:
            file.seek(0)  # every attempt sends the whole file
            return s3.put_object(Body=body, **kwargs)

        put = job.call(
            "upload the layer to the staging bucket",
            upload,
            mutating=True,
            Bucket=params.staging_bucket,
            Key=config.staging_key,
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
    for attempt in (1, 2):
        try:
            version: dict[str, Any] = job.call(
                "publish the layer version",
                lambda_client.publish_layer_version,
                mutating=True,
                idempotent=False,
                **kwargs,
            )
            return version
        except pj.OutcomeUnknownError:
            # The request may have published a version: look before publishing again.
            latest = latest_version(job, lambda_client, config.layer_name)
            if latest is not None and same_layer(latest, artifact.sha256, config):
                return latest
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def reconcile_permissions(
    job: pj.Job, lambda_client: Any, layer_name: str, version: int, sharing: Sharing
) -> dict[str, list[str]]:
    """Make the version's policy grant ``lambda:GetLayerVersion`` to exactly ``sharing``."""
    wanted = sharing.statements()
    try:
        policy = json.loads(
            job.call(
                "read the layer version's policy",
                lambda_client.get_layer_version_policy,
                LayerName=layer_name,
                VersionNumber=version,
            )["Policy"]
        )
        existing = {s.get("Sid") for s in policy.get("Statement", []) if s.get("Sid")}
    except ClientError as err:
        if pj.error_code(err) != "ResourceNotFoundException":
            raise
        existing = set()
    removed = sorted(sid for sid in existing if sid.startswith(STATEMENT_PREFIX) and sid not in wanted)
    for sid in removed:
        try:
            job.call(
                f"remove grant {sid}",
                lambda_client.remove_layer_version_permission,
                mutating=True,
                LayerName=layer_name,
                VersionNumber=version,
                StatementId=sid,
            )
        except ClientError as err:
            if pj.error_code(err) != "ResourceNotFoundException":  # already gone: what we want
                raise
    added = []
    for sid, grant in wanted.items():
        if sid in existing:
            continue
        request: dict[str, Any] = {
            "LayerName": layer_name,
            "VersionNumber": version,
            "StatementId": sid,
            "Action": "lambda:GetLayerVersion",
            **grant,
        }
        try:
            job.call(f"grant {sid}", lambda_client.add_layer_version_permission, mutating=True, **request)
        except ClientError as err:
            # Added by an earlier attempt or run between our read and write: the grant is there, which is what we want.
            if pj.error_code(err) != "ResourceConflictException":
                raise
        added.append(sid)
    return {"added": added, "removed": removed}


def _continuation_attempt(data: Mapping[str, Any]) -> int:
    token = data.get("continuationToken")
    if token is None:
        return 0
    try:
        state = json.loads(token) if isinstance(token, str) else None
    except ValueError:
        state = None
    attempt = state.get("attempt") if isinstance(state, dict) and set(state) == {"attempt"} else None
    if isinstance(attempt, bool) or not isinstance(attempt, int) or not 1 <= attempt < MAX_ATTEMPTS:
        raise ConfigurationError(f"the continuation token is not one this function wrote: {pj.clip(str(token), 200)!r}")
    return attempt


def distribute(job: pj.Job, data: Mapping[str, Any], clients: Clients) -> None:
    """Do one job and report its outcome."""
    config = DistributorConfig.from_env(os.environ)
    job.fields["layer"] = config.layer_name
    if not job.claim(pj.ClaimStore(clients.claims(), config.artifact_bucket, config.claims_prefix)):
        return
    params = JobParameters.from_job(data, config)
    job.fields["region"] = params.region
    attempt = _continuation_attempt(data)
    location, credentials = pj.input_artifact(
        data, bucket=config.artifact_bucket, claims_prefix=config.claims_prefix, what="the built layer"
    )

    with tempfile.TemporaryDirectory() as tmp:
        artifact = download_artifact(clients.artifact_s3(credentials), location, os.path.join(tmp, "layer.zip"), job)
        unzipped = validate_layer_zip(artifact.path, config.compatible_runtimes)
        job.log("INFO", "artifact downloaded and valid", size=artifact.size, unzipped=unzipped, sha256=artifact.sha256)

        if job.budget.left() < PUBLISH_BUDGET_SECONDS:
            if attempt + 1 >= MAX_ATTEMPTS:
                raise ArtifactError(
                    f"gave up after {MAX_ATTEMPTS} attempts: the download leaves too little time to publish"
                )
            job.succeed(
                "download was slow; continuing in a fresh invocation",
                continuation_token=json.dumps({"attempt": attempt + 1}),
            )
            return

        lambda_client = clients.regional("lambda", params.region)
        latest = latest_version(job, lambda_client, config.layer_name)
        if latest is not None and same_layer(latest, artifact.sha256, config):
            version, published = latest, False
            job.log(
                "INFO", "identical content is already the latest version; not publishing", version=latest["Version"]
            )
        else:
            version = publish(job, lambda_client, clients.regional("s3", params.region), artifact, params, config)
            published = True
            job.log("INFO", "layer version published", version=version["Version"])

    number = int(version["Version"])
    arn = str(version["LayerVersionArn"])
    grants = reconcile_permissions(job, lambda_client, config.layer_name, number, config.sharing)
    job.call(
        "write the version ARN to SSM",
        clients.regional("ssm", params.region).put_parameter,
        mutating=True,
        Name=config.parameter_name,
        Value=arn,
        Type="String",
        Overwrite=True,
        Description=f"Latest version of Lambda layer {config.layer_name} (written by its pipeline)",
    )
    job.log("INFO", "version ARN written to SSM", parameter=config.parameter_name, arn=arn, grants=grants)
    verb = "published" if published else "already current:"
    job.succeed(
        f"{params.region}: {verb} {arn}",
        variables={"LayerVersionArn": arn, "LayerVersion": str(number), "Published": str(published).lower()},
    )


#: ``run(event, context=None, *, clients=None)`` handles one CodePipeline job (exactly one result, or an
#: exception for the on-failure destination); ``handler(event, context)`` is the Lambda entry point.
run, handler = pj.entry_points(
    name=NAME, default_clients=default_clients, codepipeline=lambda resolved: resolved.codepipeline, work=distribute
)
