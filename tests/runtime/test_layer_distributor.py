"""The layer distributor handler, offline: moto for S3, Lambda layers and SSM; a fake CodePipeline.

Every case checks the one thing CodePipeline sees (exactly one result per job, telling the truth) and
what changed in the account (layer versions, staging objects, grants, the SSM pointer).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime.job_fakes import (
    Atomic,
    Context,
    FakeCodePipeline,
    Flaky,
    client_error,
    job_environment,
    json_lines,
    moto_aws,
    read_timeout,
)

from pipeline_constructs.runtime import _pipeline_job as pj
from pipeline_constructs.runtime import layer_distributor as ld

HOME = "eu-west-1"
TARGET = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
ARTIFACT_BUCKET = "pipeline-artifacts"
STAGING_PREFIX = "layer-staging-0123456789-"
STAGING_BUCKET = f"{STAGING_PREFIX}{TARGET}"
CLAIMS = "pipeline-jobs/layer-distributor/"
CREDENTIALS = {"accessKeyId": "AKIAJOBCREDS", "secretAccessKey": "job-secret", "sessionToken": "job-token"}
RUNTIME_DIR = Path(ld.__file__).parent


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def aws():
    """One moto account for the module; each test uses its own layer name, job ids and artifact keys."""
    with moto_aws(HOME, function_region=True):
        home = boto3.client("s3", region_name=HOME)
        home.create_bucket(Bucket=ARTIFACT_BUCKET, CreateBucketConfiguration={"LocationConstraint": HOME})
        home.create_bucket(Bucket="someone-elses-bucket", CreateBucketConfiguration={"LocationConstraint": HOME})
        target = boto3.client("s3", region_name=TARGET)
        target.create_bucket(Bucket=STAGING_BUCKET)
        target.put_bucket_versioning(Bucket=STAGING_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield


@pytest.fixture(autouse=True)
def fast_policy(monkeypatch):
    job_environment(monkeypatch, ARTIFACT_BUCKET)


def layer_zip(files: dict[str, str] | None = None, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, text in (files or {"nodejs/node_modules/tiny/index.js": "module.exports = 1;"}).items():
            archive.writestr(name, text)
        if files is None:
            archive.writestr("nodejs/node_modules/tiny/package.json", '{"name": "tiny", "version": "1.0.0"}')
    return buffer.getvalue()


def bad_crc_zip() -> bytes:
    """A stored (uncompressed) entry whose bytes were changed after its CRC was written."""
    data = bytearray(layer_zip({"nodejs/node_modules/tiny/index.js": "x" * 64}, zipfile.ZIP_STORED))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.infolist()[0]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 10] ^= 0xFF
    return bytes(data)


def sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def config(layer: str, **overrides: Any) -> dict[str, Any]:
    base = {
        "layerName": layer,
        "parameterName": f"/lambda-layers/{layer}/latest-version-arn",
        "stagingKey": f"layer-staging/{layer}.zip",
        "expectedBucketOwner": ACCOUNT,
        "stagingBucketPrefix": STAGING_PREFIX,
        "claimsPrefix": CLAIMS,
        "compatibleRuntimes": ["nodejs22.x", "nodejs24.x"],
        "compatibleArchitectures": ["x86_64"],
        "licenseInfo": "MIT",
        "description": None,
        "sharing": {"accounts": [], "organizationId": None, "public": False},
        "allowPublic": False,
        "regions": [TARGET, "eu-central-1"],
    }
    base.update(overrides)
    return base


def event(
    job_id: str,
    key: str,
    *,
    params: Any = None,
    token: str | None = None,
    bucket: str = ARTIFACT_BUCKET,
    inputs: list[dict[str, Any]] | None = None,
    credentials: Any = CREDENTIALS,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "actionConfiguration": {
            "configuration": {
                "FunctionName": "distributor",
                "UserParameters": params if isinstance(params, str) else json.dumps(params or {"region": TARGET}),
            }
        },
        "inputArtifacts": inputs
        if inputs is not None
        else [
            {
                "name": "BuildLayer_Output",
                "location": {"type": "S3", "s3Location": {"bucketName": bucket, "objectKey": key}},
            }
        ],
        "outputArtifacts": [],
        "artifactCredentials": credentials,
    }
    if token:
        data["continuationToken"] = token
    return {"CodePipeline.job": {"id": job_id, "accountId": ACCOUNT, "data": data}}


def put_artifact(key: str, data: bytes, bucket: str = ARTIFACT_BUCKET) -> None:
    boto3.client("s3", region_name=HOME).put_object(Bucket=bucket, Key=key, Body=data)


class Harness:
    """Clients for one run: moto for S3, Lambda and SSM, the fake CodePipeline; every mutating call recorded."""

    def __init__(self, codepipeline: FakeCodePipeline | None = None) -> None:
        self.codepipeline = codepipeline or FakeCodePipeline()
        self.mutations: list[str] = []
        self.artifact_credentials: list[dict[str, Any]] = []
        self.wrap: dict[str, Any] = {}  # service -> callable(client) -> client
        self._regional: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _record(self, name: str) -> Any:
        def hook(params: Any, **_: Any) -> None:
            with self._lock:
                self.mutations.append(name)

        return hook

    def clients(self) -> ld.Clients:
        def artifact_s3(credentials: dict[str, Any]) -> Any:
            self.artifact_credentials.append(dict(credentials))
            client = boto3.client("s3", region_name=HOME)
            return self.wrap.get("artifact", lambda c: c)(client)

        def regional(service: str, region: str) -> Any:
            with self._lock:
                if (service, region) not in self._regional:
                    client = boto3.client(service, region_name=region)
                    for operation in (
                        "PutObject",
                        "PublishLayerVersion",
                        "AddLayerVersionPermission",
                        "RemoveLayerVersionPermission",
                        "PutParameter",
                    ):
                        client.meta.events.register(
                            f"provide-client-params.{service}.{operation}", self._record(f"{service}.{operation}")
                        )
                    self._regional[(service, region)] = self.wrap.get(service, lambda c: c)(client)
                return self._regional[(service, region)]

        def claims() -> Any:
            return self.wrap.get("claims", lambda c: c)(Atomic(boto3.client("s3", region_name=HOME)))

        return ld.Clients(codepipeline=self.codepipeline, artifact_s3=artifact_s3, regional=regional, claims_s3=claims)

    def run(self, evt: dict[str, Any], context: Any = None) -> dict[str, Any]:
        return ld.run(evt, context, clients=self.clients())


@pytest.fixture
def harness(aws):
    return Harness()


def use_config(monkeypatch: pytest.MonkeyPatch, layer: str, **overrides: Any) -> None:
    monkeypatch.setenv("DISTRIBUTOR_CONFIG", json.dumps(config(layer, **overrides)))


def versions(layer: str, region: str = TARGET) -> list[dict[str, Any]]:
    try:
        return boto3.client("lambda", region_name=region).list_layer_versions(LayerName=layer)["LayerVersions"]
    except ClientError:
        return []


def policy(layer: str, version: int) -> dict[str, Any]:
    raw = boto3.client("lambda", region_name=TARGET).get_layer_version_policy(LayerName=layer, VersionNumber=version)
    return json.loads(raw["Policy"])


def parameter(layer: str) -> str | None:
    try:
        return boto3.client("ssm", region_name=TARGET).get_parameter(Name=f"/lambda-layers/{layer}/latest-version-arn")[
            "Parameter"
        ]["Value"]
    except ClientError:
        return None


def staged(layer: str) -> bool:
    try:
        boto3.client("s3", region_name=TARGET).head_object(Bucket=STAGING_BUCKET, Key=f"layer-staging/{layer}.zip")
        return True
    except ClientError:
        return False


def claim(job_id: str) -> dict[str, Any]:
    body = boto3.client("s3", region_name=HOME).get_object(Bucket=ARTIFACT_BUCKET, Key=f"{CLAIMS}{job_id}.json")["Body"]
    return json.loads(body.read())


def nothing_changed(harness: Harness, layer: str) -> None:
    assert versions(layer) == []
    assert parameter(layer) is None
    assert not staged(layer)
    assert harness.mutations == []


# --------------------------------------------------------------------------- publish


def test_publishes_from_s3_in_the_target_region_writes_ssm_and_reports_once(harness, monkeypatch):
    data = layer_zip()
    put_artifact("p/BuildLayer/aaa", data)
    use_config(monkeypatch, "publish")

    assert harness.run(event("job-publish", "p/BuildLayer/aaa"))["outcome"] == "succeeded"

    result = harness.codepipeline.succeeded("job-publish")
    (version,) = versions("publish")
    assert result["outputVariables"] == {
        "LayerVersionArn": version["LayerVersionArn"],
        "LayerVersion": "1",
        "Published": "true",
    }
    assert version["CompatibleRuntimes"] == ["nodejs22.x", "nodejs24.x"]
    assert parameter("publish") == version["LayerVersionArn"]
    assert harness.artifact_credentials == [CREDENTIALS]  # the job's credentials, not the function's
    got = boto3.client("lambda", region_name=TARGET).get_layer_version(LayerName="publish", VersionNumber=1)
    assert got["Content"]["CodeSha256"] == sha(data)
    assert claim("job-publish")["state"] == "reported"


def test_identical_content_is_not_published_twice(harness, monkeypatch):
    put_artifact("p/BuildLayer/same", layer_zip())
    use_config(monkeypatch, "same")
    harness.run(event("job-same-1", "p/BuildLayer/same"))
    harness.run(event("job-same-2", "p/BuildLayer/same"))

    assert [v["Version"] for v in versions("same")] == [1]
    assert harness.codepipeline.succeeded("job-same-2")["outputVariables"]["Published"] == "false"


def test_new_content_or_settings_publish_a_new_version(harness, monkeypatch):
    use_config(monkeypatch, "changes")
    put_artifact("p/BuildLayer/c1", layer_zip())
    harness.run(event("job-changes-1", "p/BuildLayer/c1"))
    put_artifact("p/BuildLayer/c2", layer_zip({"nodejs/node_modules/tiny/index.js": "module.exports = 2;"}))
    harness.run(event("job-changes-2", "p/BuildLayer/c2"))
    use_config(monkeypatch, "changes", licenseInfo="Apache-2.0")
    harness.run(event("job-changes-3", "p/BuildLayer/c2"))

    assert sorted(v["Version"] for v in versions("changes")) == [1, 2, 3]


def test_grants_exactly_the_configured_principals_and_removes_the_rest(harness, monkeypatch):
    put_artifact("p/BuildLayer/share", layer_zip())
    use_config(
        monkeypatch, "share", sharing={"accounts": ["222222222222", "333333333333"], "organizationId": "o-a1b2c3d4e5"}
    )
    harness.run(event("job-share-1", "p/BuildLayer/share"))
    sids = {s["Sid"] for s in policy("share", 1)["Statement"]}
    assert sids == {"share-account-222222222222", "share-account-333333333333", "share-org-o-a1b2c3d4e5"}

    use_config(monkeypatch, "share", sharing={"accounts": ["222222222222"]})
    harness.run(event("job-share-2", "p/BuildLayer/share"))
    assert {s["Sid"] for s in policy("share", 1)["Statement"]} == {"share-account-222222222222"}


def test_private_layer_gets_no_grant(harness, monkeypatch):
    put_artifact("p/BuildLayer/private", layer_zip())
    use_config(monkeypatch, "private")
    harness.run(event("job-private", "p/BuildLayer/private"))
    assert "lambda.AddLayerVersionPermission" not in harness.mutations


def test_public_sharing_needs_the_explicit_opt_in(harness, monkeypatch):
    put_artifact("p/BuildLayer/public", layer_zip())
    use_config(monkeypatch, "public", sharing={"public": True})
    harness.run(event("job-public-1", "p/BuildLayer/public"))
    assert "allowPublic" in harness.codepipeline.failed("job-public-1", "ConfigurationError")
    assert versions("public") == []

    use_config(monkeypatch, "public", sharing={"public": True}, allowPublic=True)
    harness.run(event("job-public-2", "p/BuildLayer/public"))
    assert {s["Sid"] for s in policy("public", 1)["Statement"]} == {"share-public"}


# --------------------------------------------------------------------------- trust only what the pipeline built


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bucket": "someone-elses-bucket"}, "not this pipeline's artifact bucket"),
        ({"key": f"{CLAIMS}job-x.json"}, "not a pipeline artifact"),
        ({"key": "p/../../other"}, "not a pipeline artifact"),
        ({"params": {"region": TARGET, "stagingBucket": "attacker-bucket"}}, "not this pipeline's staging bucket"),
        ({"params": {"region": TARGET, "layerName": "other"}}, "unknown keys"),
        ({"params": {"region": "ap-south-1"}}, "not one of the configured regions"),
        ({"params": {"region": ["us-east-1"]}}, "is not an AWS region"),
        ({"params": "[1, 2]"}, "must be a JSON object"),
        ({"params": "{not json"}, "is not JSON"),
        ({"credentials": None}, "no artifact credentials"),
        ({"inputs": []}, "exactly one input artifact"),
        ({"token": '{"attempt": 99}'}, "continuation token is not one this function wrote"),
        ({"token": "forged"}, "continuation token is not one this function wrote"),
    ],
)
def test_forged_or_malformed_events_fail_and_change_nothing(harness, monkeypatch, change, message):
    layer = "forged"
    put_artifact("p/BuildLayer/forged", layer_zip())
    put_artifact("p/BuildLayer/forged", layer_zip(), bucket="someone-elses-bucket")
    use_config(monkeypatch, layer)
    job_id = f"job-forged-{abs(hash(json.dumps(change, default=str))) % 10**8}"
    key = change.get("key", "p/BuildLayer/forged")
    evt = event(
        job_id,
        key,
        bucket=change.get("bucket", ARTIFACT_BUCKET),
        params=change.get("params"),
        token=change.get("token"),
        inputs=change.get("inputs"),
        credentials=change.get("credentials", CREDENTIALS),
    )
    assert harness.run(evt)["outcome"] == "failed"
    assert message in harness.codepipeline.failed(job_id, "ConfigurationError")
    nothing_changed(harness, layer)
    assert harness.artifact_credentials == []  # nothing was even downloaded


def test_missing_or_malformed_configuration_is_reported(harness, monkeypatch):
    monkeypatch.delenv("DISTRIBUTOR_CONFIG", raising=False)
    harness.run(event("job-noconfig", "p/BuildLayer/x"))
    assert "DISTRIBUTOR_CONFIG is not set" in harness.codepipeline.failed("job-noconfig", "ConfigurationError")

    monkeypatch.setenv("DISTRIBUTOR_CONFIG", json.dumps({**config("x"), "regions": "us-east-1"}))
    harness.run(event("job-badconfig", "p/BuildLayer/x"))
    assert "malformed" in harness.codepipeline.failed("job-badconfig", "ConfigurationError")

    use_config(monkeypatch, "x")
    monkeypatch.delenv(pj.ARTIFACT_BUCKET_ENV)
    harness.run(event("job-nobucket", "p/BuildLayer/x"))
    assert "ARTIFACT_BUCKET is not set" in harness.codepipeline.failed("job-nobucket", "ConfigurationError")


def test_not_a_codepipeline_event_raises_and_reports_nothing():
    for bad in ({"foo": 1}, {"CodePipeline.job": {"id": ""}}, {"CodePipeline.job": {"id": "a/b"}}, [1], None):
        with pytest.raises(ValueError, match="CodePipeline job"):
            ld.run(bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- validate what is published


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"this is not a zip at all", "not a readable zip"),
        (layer_zip()[:-40], "not a readable zip"),  # truncated: the central directory is gone
        (layer_zip()[: len(layer_zip()) // 2], "not a readable zip"),
        (bad_crc_zip(), "bad CRC"),
        (layer_zip({"nodejs/": ""}), "holds no files"),
        (layer_zip({"node_modules/tiny/index.js": "1"}), "nothing where"),  # contents zipped, not the folder
        (layer_zip({"layer-build/nodejs/node_modules/tiny/index.js": "1"}), "nothing where"),  # one folder too deep
        (layer_zip({"python/tiny.py": "x = 1"}), "nothing where"),  # a Python layer for Node.js runtimes
        (layer_zip({"nodejs/index.js": "1"}), "nothing where"),  # not under node_modules
        (layer_zip({"nodejs/node_modules/a.js": "1", "../escape.js": "1"}), "unsafe path"),
    ],
    ids=[
        "empty",
        "not-a-zip",
        "truncated-end",
        "truncated-half",
        "bad-crc",
        "only-directories",
        "contents-at-root",
        "wrapped-folder",
        "other-runtime",
        "not-in-node-modules",
        "dot-dot",
    ],
)
def test_invalid_layers_fail_before_any_change(harness, monkeypatch, data, message):
    layer = "invalid"
    key = f"p/BuildLayer/invalid-{hashlib.md5(data).hexdigest()}"
    put_artifact(key, data)
    use_config(monkeypatch, layer)
    job_id = f"job-{hashlib.md5(data).hexdigest()[:12]}"
    harness.run(event(job_id, key))
    assert message in harness.codepipeline.failed(job_id, "JobFailed")
    nothing_changed(harness, layer)


def test_oversized_layer_fails_before_any_change(harness, monkeypatch):
    monkeypatch.setattr(ld, "MAX_LAYER_BYTES", 4096)
    put_artifact("p/BuildLayer/big", layer_zip({"nodejs/node_modules/big/index.js": "0" * 10_000}))
    use_config(monkeypatch, "big")
    harness.run(event("job-big", "p/BuildLayer/big"))
    assert "unzipped" in harness.codepipeline.failed("job-big")
    nothing_changed(harness, "big")


@pytest.mark.parametrize(
    ("runtimes", "files"),
    [
        (["python3.13"], {"python/tiny/__init__.py": ""}),
        (["python3.13"], {"python/lib/python3.13/site-packages/tiny.py": ""}),
        (["nodejs22.x"], {"nodejs/node22/node_modules/tiny/index.js": ""}),
        (["java21"], {"java/lib/tiny.jar": "jar"}),
        (["ruby3.3"], {"ruby/gems/3.3.0/gems/tiny/lib/tiny.rb": ""}),
        (["provided.al2023"], {"bin/tool": "#!/bin/sh"}),
        (["dotnet8"], {"lib/libtiny.so": "elf"}),
        (["nodejs22.x"], {"extensions/agent": "#!/bin/sh"}),
    ],
)
def test_layouts_each_runtime_loads_are_accepted(tmp_path, runtimes, files):
    path = tmp_path / "layer.zip"
    path.write_bytes(layer_zip(files))
    assert ld.validate_layer_zip(str(path), runtimes) >= 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_corruption_is_a_clear_artifact_error_or_a_valid_layer(tmp_path, data):
    """Flip bytes or cut the zip anywhere: validation says ArtifactError or accepts it, never crashes."""
    raw = bytearray(layer_zip({"nodejs/node_modules/tiny/index.js": "module.exports = 1;" * 20}))
    for _ in range(data.draw(st.integers(0, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    path = tmp_path / "fuzz.zip"
    path.write_bytes(bytes(raw[:cut]))
    try:
        size = ld.validate_layer_zip(str(path), ["nodejs22.x"])
    except ld.ArtifactError:
        return
    assert size >= 0
    with zipfile.ZipFile(path) as archive:  # accepted means every entry reads back with a good CRC
        assert archive.testzip() is None


# --------------------------------------------------------------------------- downloads


def test_missing_artifact_is_reported_and_nothing_changes(harness, monkeypatch):
    use_config(monkeypatch, "missing")
    harness.run(event("job-missing", "p/BuildLayer/does-not-exist"))
    assert "could not read the input artifact" in harness.codepipeline.failed("job-missing")
    nothing_changed(harness, "missing")


def test_denied_download_is_reported(harness, monkeypatch):
    put_artifact("p/BuildLayer/denied", layer_zip())
    use_config(monkeypatch, "denied")
    harness.wrap["artifact"] = lambda c: Flaky(
        c, ["get_object"], times=None, error=lambda: client_error("AccessDenied", "GetObject", 403)
    )
    harness.run(event("job-denied", "p/BuildLayer/denied"))
    assert "AccessDenied" in harness.codepipeline.failed("job-denied")
    nothing_changed(harness, "denied")


class BreakingBody:
    """A streaming body that breaks after the first chunk ``breaks`` times, then streams normally."""

    def __init__(self, data: bytes, fail: bool) -> None:
        self._data = data
        self._fail = fail

    def iter_chunks(self, size: int):
        yield self._data[:10]
        if self._fail:
            raise read_timeout()
        yield self._data[10:]


class BreakingS3:
    def __init__(self, client: Any, breaks: int | None, truncate: bool = False) -> None:
        self._client = client
        self.breaks = breaks
        self.truncate = truncate

    def get_object(self, **kwargs: Any) -> Any:
        response = self._client.get_object(**kwargs)
        data = response["Body"].read()
        fail = self.breaks is None or self.breaks > 0
        if self.breaks:
            self.breaks -= 1
        if self.truncate:
            return {**response, "Body": BreakingBody(data[: len(data) // 2], False), "ContentLength": len(data)}
        return {**response, "Body": BreakingBody(data, fail)}


def test_a_download_that_breaks_once_is_downloaded_again(harness, monkeypatch):
    put_artifact("p/BuildLayer/breaks", layer_zip())
    use_config(monkeypatch, "breaks")
    harness.wrap["artifact"] = lambda c: BreakingS3(c, breaks=1)
    harness.run(event("job-breaks", "p/BuildLayer/breaks"))
    harness.codepipeline.succeeded("job-breaks")
    assert len(versions("breaks")) == 1


@pytest.mark.parametrize("case", ["always-breaks", "truncated"])
def test_a_download_that_keeps_breaking_or_is_short_fails(harness, monkeypatch, case):
    layer = f"dl-{case}"
    put_artifact(f"p/BuildLayer/{layer}", layer_zip())
    use_config(monkeypatch, layer)
    harness.wrap["artifact"] = lambda c: BreakingS3(c, breaks=None, truncate=case == "truncated")
    harness.run(event(f"job-{layer}", f"p/BuildLayer/{layer}"))
    assert "input artifact" in harness.codepipeline.failed(f"job-{layer}")
    nothing_changed(harness, layer)


# --------------------------------------------------------------------------- throttling


def _throttle_everything(harness: Harness, times: int | None, only: str | None = None) -> None:
    methods = {
        "artifact": ["get_object"],
        "claims": ["put_object", "get_object"],
        "lambda": [
            "list_layer_versions",
            "get_layer_version",
            "publish_layer_version",
            "get_layer_version_policy",
            "add_layer_version_permission",
            "remove_layer_version_permission",
        ],
        "s3": ["put_object"],
        "ssm": ["put_parameter"],
    }
    for service, names in methods.items():
        chosen = [n for n in names if only is None or n == only]
        if chosen:
            harness.wrap[service] = lambda c, chosen=chosen: Flaky(c, chosen, times=times)


def test_throttling_on_every_call_is_retried(aws, monkeypatch):
    harness = Harness(FakeCodePipeline(fail=2))  # the report is throttled twice too
    put_artifact("p/BuildLayer/throttled", layer_zip())
    use_config(monkeypatch, "throttled", sharing={"accounts": ["222222222222"]})
    _throttle_everything(harness, times=2)
    assert harness.run(event("job-throttled", "p/BuildLayer/throttled"))["outcome"] == "succeeded"
    harness.codepipeline.succeeded("job-throttled")
    assert len(versions("throttled")) == 1  # throttled publishes did not run: exactly one version
    assert {s["Sid"] for s in policy("throttled", 1)["Statement"]} == {"share-account-222222222222"}


@pytest.mark.parametrize(
    "method",
    [
        "put_object",  # the claim and the staging upload
        "list_layer_versions",
        "get_layer_version",
        "publish_layer_version",
        "add_layer_version_permission",
        "put_parameter",
    ],
)
def test_throttling_that_never_ends_fails_once_and_stops(aws, monkeypatch, method):
    harness = Harness()
    layer = f"throttled-{method.replace('_', '-')}"
    use_config(monkeypatch, layer, sharing={"accounts": ["222222222222"]})
    before = 0
    if method == "get_layer_version":  # only read when a version exists
        put_artifact(f"p/BuildLayer/{layer}-0", layer_zip({"nodejs/node_modules/old/index.js": "0"}))
        Harness().run(event(f"job-{layer}-0", f"p/BuildLayer/{layer}-0"))
        before = 1
    put_artifact(f"p/BuildLayer/{layer}", layer_zip())
    _throttle_everything(harness, times=None, only=method)
    harness.run(event(f"job-{layer}", f"p/BuildLayer/{layer}"))
    assert "ThrottlingException" in harness.codepipeline.failed(f"job-{layer}")
    if method in ("publish_layer_version", "put_object", "list_layer_versions", "get_layer_version"):
        assert len(versions(layer)) == before
    if method != "get_layer_version":
        assert parameter(layer) is None


def test_an_ambiguous_publish_is_checked_before_publishing_again(harness, monkeypatch):
    """The publish ran but its response was lost (read timeout): no second version."""
    put_artifact("p/BuildLayer/ambiguous", layer_zip())
    use_config(monkeypatch, "ambiguous")

    class LostResponse:
        def __init__(self, client: Any) -> None:
            self._client = client
            self.calls = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self._client, name)

        def publish_layer_version(self, **kwargs: Any) -> Any:
            self.calls += 1
            self._client.publish_layer_version(**kwargs)
            raise read_timeout()

    harness.wrap["lambda"] = LostResponse
    harness.run(event("job-ambiguous", "p/BuildLayer/ambiguous"))
    assert harness.codepipeline.succeeded("job-ambiguous")["outputVariables"]["LayerVersion"] == "1"
    assert len(versions("ambiguous")) == 1


# --------------------------------------------------------------------------- duplicates


def test_a_sequential_duplicate_publishes_nothing_and_reports_nothing(harness, monkeypatch):
    put_artifact("p/BuildLayer/dup", layer_zip())
    use_config(monkeypatch, "dup")
    harness.run(event("job-dup", "p/BuildLayer/dup"))
    changes = list(harness.mutations)
    assert harness.run(event("job-dup", "p/BuildLayer/dup"))["outcome"] == "duplicate"
    assert harness.mutations == changes
    assert len(harness.codepipeline.attempts) == 1  # not even a rejected second result
    assert len(versions("dup")) == 1


def test_concurrent_duplicates_publish_one_version_and_report_once(aws, monkeypatch):
    put_artifact("p/BuildLayer/race", layer_zip())
    use_config(monkeypatch, "race")
    codepipeline = FakeCodePipeline()
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def deliver() -> None:
        harness = Harness(codepipeline)
        barrier.wait()
        outcomes.append(harness.run(event("job-race", "p/BuildLayer/race"))["outcome"])

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["duplicate"] * 5 + ["succeeded"]
    codepipeline.succeeded("job-race")
    assert len(codepipeline.attempts) == 1
    assert len(versions("race")) == 1


def _claim(job_id: str, **record: Any) -> None:
    body = {"jobId": job_id, "nonce": "other", "state": "claimed", "claimedAt": time.time(), **record}
    boto3.client("s3", region_name=HOME).put_object(
        Bucket=ARTIFACT_BUCKET, Key=f"{CLAIMS}{job_id}.json", Body=json.dumps(body).encode()
    )


def test_a_duplicate_while_the_owner_still_runs_stands_down(harness, monkeypatch):
    put_artifact("p/BuildLayer/owner", layer_zip())
    use_config(monkeypatch, "owner")
    _claim("job-owner", deadline=time.time() + 600)
    assert harness.run(event("job-owner", "p/BuildLayer/owner"))["outcome"] == "duplicate"
    assert harness.codepipeline.attempts == []
    nothing_changed(harness, "owner")


def test_a_duplicate_after_the_owner_died_reports_one_failure(harness, monkeypatch):
    put_artifact("p/BuildLayer/orphan", layer_zip())
    use_config(monkeypatch, "orphan")
    _claim("job-orphan", deadline=time.time() - 3600)
    assert harness.run(event("job-orphan", "p/BuildLayer/orphan"))["outcome"] == "failed"
    assert "ended without reporting" in harness.codepipeline.failed("job-orphan")
    nothing_changed(harness, "orphan")
    # and a third delivery stands down: the take-over is recorded
    assert Harness(harness.codepipeline).run(event("job-orphan", "p/BuildLayer/orphan"))["outcome"] == "duplicate"


def test_a_claim_this_function_did_not_write_fails_the_job(harness, monkeypatch):
    put_artifact("p/BuildLayer/foreign", layer_zip())
    use_config(monkeypatch, "foreign")
    boto3.client("s3", region_name=HOME).put_object(Bucket=ARTIFACT_BUCKET, Key=f"{CLAIMS}job-foreign.json", Body=b"x")
    harness.run(event("job-foreign", "p/BuildLayer/foreign"))
    assert "not one this function wrote" in harness.codepipeline.failed("job-foreign")
    nothing_changed(harness, "foreign")


# --------------------------------------------------------------------------- time


def test_too_little_time_fails_before_any_change(harness, monkeypatch):
    put_artifact("p/BuildLayer/late", layer_zip())
    use_config(monkeypatch, "late")
    started = time.monotonic()
    harness.run(event("job-late", "p/BuildLayer/late"), Context(remaining_ms=500))
    assert time.monotonic() - started < 0.5
    time.sleep(0.3)  # the abandoned worker reaches its next call, and stops there
    assert "ran out of time" in harness.codepipeline.failed("job-late")
    nothing_changed(harness, "late")


def test_watchdog_reports_a_hung_download_before_the_timeout(harness, monkeypatch):
    put_artifact("p/BuildLayer/hung", layer_zip())
    use_config(monkeypatch, "hung")
    release = threading.Event()

    class Hung:
        def __init__(self, client: Any) -> None:
            self._client = client

        def get_object(self, **kwargs: Any) -> Any:
            release.wait(10)
            return self._client.get_object(**kwargs)

    harness.wrap["artifact"] = Hung
    margin = pj.Policy.from_env(os.environ).watchdog_margin
    context = Context(remaining_ms=(margin + 0.3) * 1000)
    started = time.monotonic()
    assert harness.run(event("job-hung", "p/BuildLayer/hung"), context)["outcome"] == "failed"
    elapsed = time.monotonic() - started
    release.set()  # the download "finishes" after the report: the abandoned run must change nothing
    time.sleep(0.5)
    assert 0.3 <= elapsed < margin + 0.3
    assert "ran out of time" in harness.codepipeline.failed("job-hung")
    nothing_changed(harness, "hung")


def test_nothing_changes_after_the_watchdog_reported(aws, monkeypatch):
    """The watchdog fires while a grant is in flight: it reports, and nothing more changes (no SSM pointer)."""
    codepipeline = FakeCodePipeline()
    harness = Harness(codepipeline)
    put_artifact("p/BuildLayer/stuck", layer_zip())
    use_config(monkeypatch, "stuck", sharing={"accounts": ["222222222222", "333333333333"]})
    entered = threading.Event()

    class GrantOutlivesTheReport:
        def __init__(self, client: Any) -> None:
            self._client = client

        def __getattr__(self, name: str) -> Any:
            return getattr(self._client, name)

        def add_layer_version_permission(self, **kwargs: Any) -> Any:
            entered.set()
            for _ in range(200):  # in flight until the watchdog has reported
                if codepipeline.results:
                    break
                time.sleep(0.05)
            return self._client.add_layer_version_permission(**kwargs)

    harness.wrap["lambda"] = GrantOutlivesTheReport
    margin = pj.Policy.from_env(os.environ).watchdog_margin
    monkeypatch.setattr(ld, "PUBLISH_BUDGET_SECONDS", 0.0)
    harness.run(event("job-stuck", "p/BuildLayer/stuck"), Context(remaining_ms=(margin + 4.0) * 1000))
    time.sleep(0.5)  # let the abandoned worker reach its next call
    assert entered.is_set()
    message = codepipeline.failed("job-stuck")
    assert "ran out of time" in message
    assert "still in progress" in message
    assert harness.mutations.count("lambda.AddLayerVersionPermission") == 1  # the second grant never started
    assert "ssm.PutParameter" not in harness.mutations
    assert parameter("stuck") is None


def test_short_time_hands_over_with_a_continuation_token(harness, monkeypatch):
    put_artifact("p/BuildLayer/cont", layer_zip())
    use_config(monkeypatch, "cont")
    margin = pj.Policy.from_env(os.environ).watchdog_margin
    context = Context(remaining_ms=(margin + 60) * 1000)

    assert harness.run(event("job-cont-1", "p/BuildLayer/cont"), context)["outcome"] == "continued"
    token = harness.codepipeline.continued("job-cont-1")
    assert json.loads(token) == {"attempt": 1}
    nothing_changed(harness, "cont")

    harness.run(event("job-cont-2", "p/BuildLayer/cont", token=token), Context(900_000))
    assert harness.codepipeline.succeeded("job-cont-2")["outputVariables"]["LayerVersion"] == "1"


def test_continuations_are_bounded(harness, monkeypatch):
    put_artifact("p/BuildLayer/bounded", layer_zip())
    use_config(monkeypatch, "bounded")
    margin = pj.Policy.from_env(os.environ).watchdog_margin
    token = json.dumps({"attempt": ld.MAX_ATTEMPTS - 1})
    harness.run(event("job-bounded", "p/BuildLayer/bounded", token=token), Context((margin + 60) * 1000))
    assert "gave up" in harness.codepipeline.failed("job-bounded")
    nothing_changed(harness, "bounded")


# --------------------------------------------------------------------------- reporting


def test_a_report_throttled_a_few_times_is_sent_once(aws, monkeypatch):
    harness = Harness(FakeCodePipeline(fail=3))
    put_artifact("p/BuildLayer/report", layer_zip())
    use_config(monkeypatch, "report")
    assert harness.run(event("job-report", "p/BuildLayer/report"))["outcome"] == "succeeded"
    harness.codepipeline.succeeded("job-report")
    assert len(harness.codepipeline.attempts) == 4


@pytest.mark.parametrize(
    "error",
    [lambda: client_error("ThrottlingException"), lambda: client_error("JobNotFoundException"), read_timeout],
    ids=["always-throttled", "job-not-found", "always-timing-out"],
)
def test_a_report_that_cannot_be_sent_raises_for_the_dead_letter_queue(aws, monkeypatch, error, request):
    harness = Harness(FakeCodePipeline(always=True, error=error))
    put_artifact("p/BuildLayer/unsent", layer_zip())
    use_config(monkeypatch, "unsent")
    job_id = f"job-unsent-{request.node.callspec.id}"  # one per case: a claim left by another case is another job
    with pytest.raises(pj.ReportError, match="could not report"):
        harness.run(event(job_id, "p/BuildLayer/unsent"))
    assert harness.codepipeline.results == []


def test_a_job_that_already_has_its_result_is_not_an_error(aws, monkeypatch):
    codepipeline = FakeCodePipeline()
    codepipeline.results.append(("PutJobFailureResult", {"jobId": "job-closed"}))  # reported by someone else
    put_artifact("p/BuildLayer/closed", layer_zip())
    use_config(monkeypatch, "closed")
    assert Harness(codepipeline).run(event("job-closed", "p/BuildLayer/closed"))["outcome"] == "already-reported"
    assert len(codepipeline.rejected) == 1


def test_an_unexpected_exception_is_reported(harness, monkeypatch):
    put_artifact("p/BuildLayer/boom", layer_zip())
    use_config(monkeypatch, "boom")

    def boom(*_: Any, **__: Any) -> Any:
        raise KeyError("surprise")

    monkeypatch.setattr(ld, "latest_version", boom)
    harness.run(event("job-boom", "p/BuildLayer/boom"))
    assert "unexpected error" in harness.codepipeline.failed("job-boom")
    nothing_changed(harness, "boom")


def test_logs_are_json_lines_naming_the_job(harness, monkeypatch, capsys):
    put_artifact("p/BuildLayer/logs", layer_zip())
    use_config(monkeypatch, "logs")
    harness.run(event("job-logs", "p/BuildLayer/logs"))
    lines = json_lines(capsys.readouterr().out)
    assert lines
    assert all({"level", "message", "jobId"} <= set(line) for line in lines)
    assert {line["jobId"] for line in lines} == {"job-logs"}


# --------------------------------------------------------------------------- clients and packaging


def test_default_clients_use_the_job_credentials_and_no_retries_of_their_own(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", HOME)
    monkeypatch.delenv(pj.POLICY_ENV)
    clients = ld.default_clients()
    s3 = clients.artifact_s3(CREDENTIALS)
    credentials = s3._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key, credentials.token) == (
        "AKIAJOBCREDS",
        "job-secret",
        "job-token",
    )
    assert s3.meta.config.signature_version == "s3v4"
    assert s3.meta.config.retries["total_max_attempts"] == 1  # one retry helper, not two
    assert (s3.meta.config.connect_timeout, s3.meta.config.read_timeout) == (3.0, 8.0)
    assert clients.regional("lambda", TARGET).meta.region_name == TARGET
    assert clients.regional("lambda", TARGET) is clients.regional("lambda", TARGET)


@pytest.mark.parametrize("module", ["layer_distributor", "kda_update"])
def test_the_packaged_handler_imports_with_only_its_asset_files(tmp_path, module):
    """The asset holds the handler and _pipeline_job.py: nothing else of the package is needed."""
    for name in (f"{module}.py", "_pipeline_job.py"):
        (tmp_path / name).write_text((RUNTIME_DIR / name).read_text())
    code = f"import {module}, sys; assert 'pipeline_constructs' not in sys.modules; print({module}.handler)"
    result = subprocess.run(
        [sys.executable, "-E", "-s", "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
