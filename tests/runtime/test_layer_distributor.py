"""The layer distributor handler, offline: moto for S3, Lambda layers and SSM; botocore Stubber for CodePipeline.

moto implements PublishLayerVersion from S3 (it computes CodeSha256 from the object), layer-version
policies and SSM; it does not implement CodePipeline job results, so those are stubbed (the Stubber still
validates each request against the botocore model) and captured.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
import zipfile
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from moto import mock_aws

from pipeline_constructs.runtime import layer_distributor as ld

HOME = "eu-west-1"
TARGET = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
ARTIFACT_BUCKET = "pipeline-artifacts"
STAGING_BUCKET = f"layer-staging-0123456789-{TARGET}"
CREDENTIALS = {"accessKeyId": "AKIAJOBCREDS", "secretAccessKey": "job-secret", "sessionToken": "job-token"}


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def aws():
    """One moto account for the module; each test uses its own layer name and artifact key."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": HOME,
        }.items():
            env.setenv(name, value)
        with mock_aws():
            home = boto3.client("s3", region_name=HOME)
            home.create_bucket(Bucket=ARTIFACT_BUCKET, CreateBucketConfiguration={"LocationConstraint": HOME})
            target = boto3.client("s3", region_name=TARGET)
            target.create_bucket(Bucket=STAGING_BUCKET)
            target.put_bucket_versioning(Bucket=STAGING_BUCKET, VersioningConfiguration={"Status": "Enabled"})
            yield


def layer_zip(content: str = "module.exports = 1;") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("nodejs/node_modules/tiny/index.js", content)
        archive.writestr("nodejs/node_modules/tiny/package.json", '{"name": "tiny", "version": "1.0.0"}')
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def config(layer: str, **overrides: Any) -> dict[str, Any]:
    base = {
        "layerName": layer,
        "parameterName": f"/lambda-layers/{layer}/latest-version-arn",
        "stagingKey": f"layer-staging/{layer}.zip",
        "expectedBucketOwner": ACCOUNT,
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


def event(job_id: str, key: str, *, params: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "actionConfiguration": {
            "configuration": {
                "FunctionName": "distributor",
                "UserParameters": json.dumps(params or {"region": TARGET, "stagingBucket": STAGING_BUCKET}),
            }
        },
        "inputArtifacts": [
            {
                "name": "BuildLayer_Output",
                "location": {"type": "S3", "s3Location": {"bucketName": ARTIFACT_BUCKET, "objectKey": key}},
            }
        ],
        "outputArtifacts": [],
        "artifactCredentials": CREDENTIALS,
    }
    if token:
        data["continuationToken"] = token
    return {"CodePipeline.job": {"id": job_id, "accountId": ACCOUNT, "data": data}}


def put_artifact(key: str, data: bytes) -> None:
    boto3.client("s3", region_name=HOME).put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=data)


class Harness:
    """Clients for one run: moto for everything but CodePipeline, which is stubbed and recorded."""

    def __init__(self) -> None:
        self.codepipeline = boto3.client("codepipeline", region_name=HOME)
        self.stubber = Stubber(self.codepipeline)
        self.artifact_credentials: list[dict[str, Any]] = []
        self.publish_requests: list[dict[str, Any]] = []
        self.grant_requests: list[dict[str, Any]] = []
        self._regional: dict[tuple[str, str], Any] = {}

    def expect_success(self, job_id: str, variables: Any = ANY, token: str | None = None) -> None:
        params: dict[str, Any] = {"jobId": job_id, "executionDetails": ANY}
        if token is not None:
            params["continuationToken"] = token
        else:
            params["outputVariables"] = variables
        self.stubber.add_response("put_job_success_result", {}, params)

    def expect_failure(self, job_id: str, kind: str = "JobFailed") -> None:
        self.stubber.add_response(
            "put_job_failure_result", {}, {"jobId": job_id, "failureDetails": {"type": kind, "message": ANY}}
        )

    def clients(self) -> ld.Clients:
        def artifact_s3(credentials: dict[str, Any]) -> Any:
            self.artifact_credentials.append(dict(credentials))
            return boto3.client("s3", region_name=HOME)

        def regional(service: str, region: str) -> Any:
            if (service, region) not in self._regional:
                client = boto3.client(service, region_name=region)
                if service == "lambda":
                    client.meta.events.register(
                        "provide-client-params.lambda.PublishLayerVersion",
                        lambda params, **_: self.publish_requests.append({**params, "_region": region}),
                    )
                    client.meta.events.register(
                        "provide-client-params.lambda.AddLayerVersionPermission",
                        lambda params, **_: self.grant_requests.append(dict(params)),
                    )
                self._regional[(service, region)] = client
            return self._regional[(service, region)]

        return ld.Clients(codepipeline=self.codepipeline, artifact_s3=artifact_s3, regional=regional)

    def run(self, evt: dict[str, Any], context: Any = None) -> dict[str, Any]:
        with self.stubber:
            return ld.run(evt, context, clients=self.clients())


@pytest.fixture
def harness(aws):
    harness = Harness()
    yield harness
    harness.stubber.assert_no_pending_responses()  # every expected report was sent


def use_config(monkeypatch: pytest.MonkeyPatch, layer: str, **overrides: Any) -> None:
    monkeypatch.setenv("DISTRIBUTOR_CONFIG", json.dumps(config(layer, **overrides)))


def versions(layer: str, region: str = TARGET) -> list[dict[str, Any]]:
    return boto3.client("lambda", region_name=region).list_layer_versions(LayerName=layer)["LayerVersions"]


def policy(layer: str, version: int) -> dict[str, Any]:
    raw = boto3.client("lambda", region_name=TARGET).get_layer_version_policy(LayerName=layer, VersionNumber=version)
    return json.loads(raw["Policy"])


class Context:
    def __init__(self, remaining_ms: int) -> None:
        self.deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


# --------------------------------------------------------------------------- publish


def test_publishes_from_s3_in_the_target_region_and_writes_ssm(harness, monkeypatch):
    data = layer_zip()
    put_artifact("p/BuildLayer/aaa", data)
    use_config(monkeypatch, "publish")
    harness.expect_success("job-1", {"LayerVersionArn": ANY, "LayerVersion": "1", "Published": "true"})

    assert harness.run(event("job-1", "p/BuildLayer/aaa")) == {"jobId": "job-1", "outcome": "succeeded"}

    # read with the job's artifact credentials, never the function's role
    assert harness.artifact_credentials == [CREDENTIALS]
    # published from S3 in the target region (no inline bytes, so no 50 MB cap)
    (request,) = harness.publish_requests
    assert request["_region"] == TARGET
    assert "ZipFile" not in request["Content"]
    assert request["Content"]["S3Bucket"] == STAGING_BUCKET
    assert request["Content"]["S3Key"] == "layer-staging/publish.zip"
    assert request["Content"]["S3ObjectVersion"]  # pinned to the uploaded object version
    assert request["CompatibleRuntimes"] == ["nodejs22.x", "nodejs24.x"]
    assert request["CompatibleArchitectures"] == ["x86_64"]
    assert request["LicenseInfo"] == "MIT"
    staged = boto3.client("s3", region_name=TARGET).get_object(Bucket=STAGING_BUCKET, Key="layer-staging/publish.zip")
    assert staged["Body"].read() == data

    (version,) = versions("publish")
    assert versions("publish", HOME) == []
    layer = boto3.client("lambda", region_name=TARGET).get_layer_version(LayerName="publish", VersionNumber=1)
    assert layer["Content"]["CodeSha256"] == sha(data)
    parameter = boto3.client("ssm", region_name=TARGET).get_parameter(Name="/lambda-layers/publish/latest-version-arn")
    assert parameter["Parameter"]["Value"] == version["LayerVersionArn"]


def test_identical_content_is_not_published_twice(harness, monkeypatch):
    data = layer_zip("same")
    put_artifact("p/BuildLayer/dup1", data)
    put_artifact("p/BuildLayer/dup2", data)  # a later execution, same content
    use_config(monkeypatch, "duplicate")
    harness.expect_success("job-a", {"LayerVersionArn": ANY, "LayerVersion": "1", "Published": "true"})
    harness.expect_success("job-b", {"LayerVersionArn": ANY, "LayerVersion": "1", "Published": "false"})

    harness.run(event("job-a", "p/BuildLayer/dup1"))
    harness.run(event("job-b", "p/BuildLayer/dup2"))

    assert [v["Version"] for v in versions("duplicate")] == [1]
    assert len(harness.publish_requests) == 1


def test_new_content_or_settings_publish_a_new_version(harness, monkeypatch):
    put_artifact("p/BuildLayer/v1", layer_zip("v1"))
    put_artifact("p/BuildLayer/v2", layer_zip("v2"))
    use_config(monkeypatch, "changes")
    for version in ("1", "2", "3"):
        harness.expect_success(ANY, {"LayerVersionArn": ANY, "LayerVersion": version, "Published": "true"})

    harness.run(event("job-1", "p/BuildLayer/v1"))
    harness.run(event("job-2", "p/BuildLayer/v2"))  # new content
    use_config(monkeypatch, "changes", licenseInfo="Apache-2.0")
    harness.run(event("job-3", "p/BuildLayer/v2"))  # same content, new license

    assert sorted(v["Version"] for v in versions("changes")) == [1, 2, 3]
    value = boto3.client("ssm", region_name=TARGET).get_parameter(Name="/lambda-layers/changes/latest-version-arn")
    assert value["Parameter"]["Value"].endswith(":layer:changes:3")


# --------------------------------------------------------------------------- permissions


def test_grants_get_layer_version_only_to_configured_principals(harness, monkeypatch):
    put_artifact("p/BuildLayer/share", layer_zip("share"))
    sharing = {"accounts": ["222222222222", "333333333333"], "organizationId": "o-a1b2c3d4e5", "public": False}
    use_config(monkeypatch, "shared", sharing=sharing)
    harness.expect_success("job-1")

    harness.run(event("job-1", "p/BuildLayer/share"))

    statements = {s["Sid"]: s for s in policy("shared", 1)["Statement"]}
    assert sorted(statements) == ["share-account-222222222222", "share-account-333333333333", "share-org-o-a1b2c3d4e5"]
    assert {s["Action"] for s in statements.values()} == {"lambda:GetLayerVersion"}
    assert "222222222222" in json.dumps(statements["share-account-222222222222"]["Principal"])
    assert statements["share-org-o-a1b2c3d4e5"]["Principal"] == "*"
    # moto does not render the organization condition; the request is what Lambda turns into it
    requests = {r["StatementId"]: r for r in harness.grant_requests}
    assert requests["share-org-o-a1b2c3d4e5"] == {
        "LayerName": "shared",
        "VersionNumber": 1,
        "StatementId": "share-org-o-a1b2c3d4e5",
        "Action": "lambda:GetLayerVersion",
        "Principal": "*",
        "OrganizationId": "o-a1b2c3d4e5",
    }
    assert requests["share-account-222222222222"]["Principal"] == "222222222222"
    assert "OrganizationId" not in requests["share-account-222222222222"]


def test_removed_principals_lose_access_on_the_next_run(harness, monkeypatch):
    put_artifact("p/BuildLayer/revoke", layer_zip("revoke"))
    use_config(monkeypatch, "revoke", sharing={"accounts": ["222222222222", "333333333333"]})
    harness.expect_success("job-1")
    harness.expect_success("job-2", {"LayerVersionArn": ANY, "LayerVersion": "1", "Published": "false"})

    harness.run(event("job-1", "p/BuildLayer/revoke"))
    use_config(monkeypatch, "revoke", sharing={"accounts": ["333333333333"]})
    harness.run(event("job-2", "p/BuildLayer/revoke"))

    assert [s["Sid"] for s in policy("revoke", 1)["Statement"]] == ["share-account-333333333333"]


def test_private_layer_gets_no_grant(harness, monkeypatch):
    put_artifact("p/BuildLayer/private", layer_zip("private"))
    use_config(monkeypatch, "private")
    harness.expect_success("job-1")

    harness.run(event("job-1", "p/BuildLayer/private"))

    assert harness.grant_requests == []
    client = boto3.client("lambda", region_name=TARGET)
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        client.get_layer_version_policy(LayerName="private", VersionNumber=1)


def test_public_sharing_needs_the_explicit_opt_in(harness, monkeypatch):
    put_artifact("p/BuildLayer/public", layer_zip("public"))
    use_config(monkeypatch, "public", sharing={"public": True}, allowPublic=False)
    harness.expect_failure("job-1", "ConfigurationError")

    assert harness.run(event("job-1", "p/BuildLayer/public"))["outcome"] == "failed"
    assert versions("public") == []


def test_public_sharing_when_opted_in(harness, monkeypatch):
    put_artifact("p/BuildLayer/public-ok", layer_zip("public-ok"))
    use_config(monkeypatch, "public-ok", sharing={"public": True}, allowPublic=True)
    harness.expect_success("job-1")

    harness.run(event("job-1", "p/BuildLayer/public-ok"))

    (statement,) = policy("public-ok", 1)["Statement"]
    assert statement["Sid"] == "share-public"
    assert statement["Principal"] == "*"
    assert "Condition" not in statement


# --------------------------------------------------------------------------- failures are always reported


def test_download_failure_is_reported_and_nothing_is_published(harness, monkeypatch):
    use_config(monkeypatch, "missing")
    harness.expect_failure("job-1", "JobFailed")
    captured: list[dict[str, Any]] = []
    original = harness.codepipeline.put_job_failure_result

    def spy(**kwargs: Any) -> Any:
        captured.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(harness.codepipeline, "put_job_failure_result", spy)

    assert harness.run(event("job-1", "p/BuildLayer/does-not-exist"))["outcome"] == "failed"
    assert "could not read the input artifact" in captured[0]["failureDetails"]["message"]
    assert versions("missing") == []
    assert harness.publish_requests == []


def test_aws_error_while_publishing_is_reported(harness, monkeypatch):
    put_artifact("p/BuildLayer/nobucket", layer_zip("nobucket"))
    use_config(monkeypatch, "nobucket")
    harness.expect_failure("job-1", "JobFailed")
    params = {"region": TARGET, "stagingBucket": f"layer-staging-9999999999-{TARGET}"}  # bucket does not exist

    assert harness.run(event("job-1", "p/BuildLayer/nobucket", params=params))["outcome"] == "failed"
    assert versions("nobucket") == []


def test_access_denied_is_reported_as_a_permission_error(harness, monkeypatch):
    put_artifact("p/BuildLayer/denied", layer_zip("denied"))
    use_config(monkeypatch, "denied")
    harness.expect_failure("job-1", "PermissionError")
    denied = boto3.client("lambda", region_name=TARGET)
    lambda_stub = Stubber(denied)
    lambda_stub.add_client_error(
        "list_layer_versions", service_error_code="AccessDeniedException", http_status_code=403
    )
    clients = harness.clients()
    regional = clients.regional
    clients.regional = lambda service, region: denied if service == "lambda" else regional(service, region)

    with harness.stubber, lambda_stub:
        assert ld.run(event("job-1", "p/BuildLayer/denied"), None, clients=clients)["outcome"] == "failed"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("not json", "UserParameters are malformed"),
        ({"region": TARGET}, "UserParameters are malformed"),
        ({"region": "mars-1", "stagingBucket": STAGING_BUCKET}, "is not an AWS region"),
        ({"region": "ap-south-1", "stagingBucket": STAGING_BUCKET}, "not one of the configured regions"),
        ({"region": TARGET, "stagingBucket": "Bad_Bucket"}, "is not a bucket name"),
    ],
)
def test_bad_user_parameters_are_configuration_errors(harness, monkeypatch, params, message):
    use_config(monkeypatch, "badparams")
    captured: list[dict[str, Any]] = []
    harness.expect_failure("job-1", "ConfigurationError")
    evt = event("job-1", "p/BuildLayer/x", params=params if isinstance(params, dict) else None)
    if isinstance(params, str):
        evt["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] = params
    original = harness.codepipeline.put_job_failure_result
    monkeypatch.setattr(
        harness.codepipeline, "put_job_failure_result", lambda **kw: (captured.append(kw), original(**kw))[1]
    )

    assert harness.run(evt)["outcome"] == "failed"
    assert message in captured[0]["failureDetails"]["message"]


def test_missing_configuration_is_reported(harness, monkeypatch):
    monkeypatch.delenv("DISTRIBUTOR_CONFIG", raising=False)
    harness.expect_failure("job-1", "ConfigurationError")
    assert harness.run(event("job-1", "p/BuildLayer/x"))["outcome"] == "failed"


def test_unexpected_exception_is_reported(harness, monkeypatch):
    put_artifact("p/BuildLayer/boom", layer_zip("boom"))
    use_config(monkeypatch, "boom")
    harness.expect_failure("job-1", "JobFailed")
    monkeypatch.setattr(ld, "latest_version", lambda *_: (_ for _ in ()).throw(RuntimeError("boom")))
    assert harness.run(event("job-1", "p/BuildLayer/boom"))["outcome"] == "failed"


def test_not_a_codepipeline_event_raises_for_the_dead_letter_queue():
    with pytest.raises(ValueError, match="expected a CodePipeline job event"):
        ld.run({"hello": "world"}, None, clients=ld.Clients(codepipeline=None, artifact_s3=None, regional=None))  # type: ignore[arg-type]


def test_oversized_artifact_fails_before_downloading(tmp_path):
    class Huge:
        def get_object(self, **_: Any) -> dict[str, Any]:
            return {"ContentLength": ld.MAX_LAYER_BYTES + 1, "Body": None}

    with pytest.raises(ld.ArtifactError, match="a layer is at most"):
        ld.download_artifact(Huge(), {"bucketName": "b", "objectKey": "k"}, str(tmp_path / "x.zip"))


# --------------------------------------------------------------------------- never let the action hang


def test_watchdog_reports_failure_before_the_lambda_timeout(harness, monkeypatch):
    put_artifact("p/BuildLayer/slow", layer_zip("slow"))
    use_config(monkeypatch, "slow")
    harness.expect_failure("job-1", "JobFailed")
    release = threading.Event()
    clients = harness.clients()
    artifact_s3 = clients.artifact_s3

    def stuck(credentials: dict[str, Any]) -> Any:
        release.wait(5)  # a hung download
        return artifact_s3(credentials)

    clients.artifact_s3 = stuck
    reporter_calls: list[str] = []
    original = harness.codepipeline.put_job_failure_result

    def on_failure(**kwargs: Any) -> Any:
        reporter_calls.append(kwargs["failureDetails"]["message"])
        release.set()
        return original(**kwargs)

    monkeypatch.setattr(harness.codepipeline, "put_job_failure_result", on_failure)
    context = Context(remaining_ms=int(ld.WATCHDOG_MARGIN_SECONDS * 1000) + 100)

    with harness.stubber:
        result = ld.run(event("job-1", "p/BuildLayer/slow"), context, clients=clients)
    # the watchdog reported once; the late success of the main path was not sent (no stub left for it)
    assert result["outcome"] == "failed"
    assert reporter_calls == ["the layer distributor ran out of time (Lambda timeout); retry the action"]


def test_short_time_hands_over_with_a_continuation_token(harness, monkeypatch):
    put_artifact("p/BuildLayer/cont", layer_zip("cont"))
    use_config(monkeypatch, "cont")
    harness.expect_success("job-1", token=json.dumps({"attempt": 1}))
    context = Context(remaining_ms=int((ld.WATCHDOG_MARGIN_SECONDS + 60) * 1000))

    assert harness.run(event("job-1", "p/BuildLayer/cont"), context)["outcome"] == "continued"
    assert versions("cont") == []

    # the fresh invocation (full time) finishes the job
    harness.expect_success("job-1", {"LayerVersionArn": ANY, "LayerVersion": "1", "Published": "true"})
    harness.run(event("job-1", "p/BuildLayer/cont", token=json.dumps({"attempt": 1})), Context(900_000))
    assert [v["Version"] for v in versions("cont")] == [1]


def test_continuations_are_bounded(harness, monkeypatch):
    put_artifact("p/BuildLayer/bounded", layer_zip("bounded"))
    use_config(monkeypatch, "bounded")
    harness.expect_failure("job-1", "JobFailed")
    context = Context(remaining_ms=int((ld.WATCHDOG_MARGIN_SECONDS + 60) * 1000))
    token = json.dumps({"attempt": ld.MAX_ATTEMPTS - 1})
    assert harness.run(event("job-1", "p/BuildLayer/bounded", token=token), context)["outcome"] == "failed"


def test_reporter_reports_once_and_tolerates_a_closed_job():
    codepipeline = boto3.client("codepipeline", region_name=HOME, aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(codepipeline) as stub:
        stub.add_client_error("put_job_success_result", service_error_code="InvalidJobStateException")
        reporter = ld.JobReporter(codepipeline, "job-1")
        assert reporter.success("done") is False  # the job was already closed: not an error
        assert reporter.failure("late") is False  # and nothing is reported twice
        stub.assert_no_pending_responses()


def test_default_clients_read_artifacts_with_the_job_credentials(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", HOME)
    clients = ld.default_clients()
    s3 = clients.artifact_s3(CREDENTIALS)
    credentials = s3._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key, credentials.token) == (
        "AKIAJOBCREDS",
        "job-secret",
        "job-token",
    )
    assert s3.meta.config.signature_version == "s3v4"
    assert clients.regional("lambda", TARGET).meta.region_name == TARGET
    assert clients.regional("lambda", TARGET) is clients.regional("lambda", TARGET)
