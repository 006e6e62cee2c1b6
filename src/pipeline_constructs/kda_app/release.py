"""The release side of the application pipeline: the versioned release bucket and the build that fills it.

The build (one CodeBuild project) runs the application's build and tests, then uploads the one build
output to the release bucket under ``<prefix><commit>/<execution id>/<file>`` and writes the release
manifest (:data:`MANIFEST_NAME`: bucket, key, object version, sha256) the update action reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.pipeline import DEFAULT_BUILD_IMAGE
from pipeline_constructs.core.plain_pipeline import ExtraReason, acknowledge_generated
from pipeline_constructs.core.private.buckets import secure_bucket
from pipeline_constructs.core.private.iam_idioms import flatten_cfn_reference
from pipeline_constructs.core.reports import TestReportFormat, TestReports
from pipeline_constructs.core.targets import DeploymentTarget
from pipeline_constructs.kda_app.names import KdaNames
from pipeline_constructs.kda_app.sources import ApplicationBuild

__all__ = ["MANIFEST_NAME", "PUBLISH_SCRIPT", "build_project", "release_bucket", "report_groups"]

#: The release manifest the build writes and the update handler reads (``runtime/kda_update.py``).
MANIFEST_NAME = "kda-release.json"

# Uploads the one build output to the release bucket under a key naming the commit and the pipeline
# execution, and writes the release manifest (bucket, key, object version, sha256) for the update action.
PUBLISH_SCRIPT = r"""(
set -eu
file=""
for f in $ARTIFACT_GLOB; do
  [ -f "$f" ] || continue
  case "$(basename "$f")" in original-*) continue ;; esac
  if [ -n "$file" ]; then echo "more than one build output matches $ARTIFACT_GLOB: $file $f" >&2; exit 1; fi
  file="$f"
done
if [ -z "$file" ]; then echo "no build output matches $ARTIFACT_GLOB in $(pwd)" >&2; exit 1; fi
commit="${CODEBUILD_RESOLVED_SOURCE_VERSION:-unknown}"
key="${RELEASE_PREFIX}${commit}/${PIPELINE_EXECUTION_ID}/$(basename "$file")"
sha=$(sha256sum "$file" | cut -d' ' -f1)
version=$(aws s3api put-object --bucket "$RELEASE_BUCKET" --key "$key" --body "$file" \
  --metadata "sha256=$sha,commit=$commit,pipeline-execution-id=$PIPELINE_EXECUTION_ID" \
  --query VersionId --output text)
case "$version" in ""|None|null) echo "the release bucket returned no object version" >&2; exit 1 ;; esac
printf '{"bucket":"%s","key":"%s","versionId":"%s","sha256":"%s","commit":"%s","pipelineExecutionId":"%s"}\n' \
  "$RELEASE_BUCKET" "$key" "$version" "$sha" "$commit" "$PIPELINE_EXECUTION_ID" > "$CODEBUILD_SRC_DIR/MANIFEST"
cat "$CODEBUILD_SRC_DIR/MANIFEST"
)""".replace("MANIFEST", MANIFEST_NAME)


def release_bucket(
    scope: Construct,
    names: KdaNames,
    targets: Sequence[DeploymentTarget],
    *,
    prefix: str,
    key: kms.Key,
    access_logs: s3.IBucket,
    removal_policy: cdk.RemovalPolicy,
) -> s3.Bucket:
    """The versioned bucket every release is kept in, under the plain name the target stacks know.

    Each target's Flink service role (and only it) may read releases, also from another account.
    """
    bucket = secure_bucket(
        scope,
        "Releases",
        encryption_key=key,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix="releases/",
        versioned=True,
        removal_policy=removal_policy,
        replication_reason=reason("release-bucket-not-replicated"),
        bucket_name=names.release_bucket,  # a plain name the target stacks know: no export
    )
    by_account: dict[str, list[str]] = {}
    for target in targets:
        by_account.setdefault(target.account, []).append(names.flink_role_arn(target))
    for account, roles in sorted(by_account.items()):
        # Account principal + aws:PrincipalArn: the roles may not exist yet when this stack deploys.
        principal_condition = {"ArnEquals": {"aws:PrincipalArn": roles}}
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"FlinkReadsReleases{account}",
                principals=[iam.AccountPrincipal(account)],
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[f"{names.release_bucket_arn}/{prefix}*"],
                conditions=principal_condition,
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"FlinkDecryptsReleases{account}",
                principals=[iam.AccountPrincipal(account)],
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions={
                    **principal_condition,
                    "StringEquals": {
                        "kms:ViaService": f"s3.{names.region}.amazonaws.com",
                        "kms:EncryptionContext:aws:s3:arn": names.release_bucket_arn,
                    },
                },
            )
        )
    return bucket


def report_groups(
    scope: Construct, build: ApplicationBuild, removal_policy: cdk.RemovalPolicy
) -> dict[str, TestReports]:
    """The build's JUnit report group, by name (empty when the build runs no tests)."""
    base_directory = build.report_base_directory()
    if base_directory is None:
        return {}
    reports = TestReports(
        scope,
        "Tests",
        base_directory=base_directory,
        format=TestReportFormat.JUNIT_XML,
        files=build.test_report_files,
        removal_policy=removal_policy,
    )
    return {"Tests": reports}


def build_project(
    scope: Construct,
    names: KdaNames,
    build: ApplicationBuild,
    *,
    prefix: str,
    key: kms.IKey,
    log_group: logs.ILogGroup,
    compute_type: codebuild.ComputeType,
    reports: Sequence[TestReports],
) -> codebuild.PipelineProject:
    """The CodeBuild project that builds, tests and publishes a release; it may only add releases."""
    project = codebuild.PipelineProject(
        scope,
        "Build",
        description=f"Builds, tests and publishes releases of {names.application_name}",
        build_spec=codebuild.BuildSpec.from_object(_build_spec(build, reports)),
        environment=codebuild.BuildEnvironment(build_image=DEFAULT_BUILD_IMAGE, compute_type=compute_type),
        environment_variables={
            "RELEASE_BUCKET": codebuild.BuildEnvironmentVariable(value=names.release_bucket),
            "RELEASE_PREFIX": codebuild.BuildEnvironmentVariable(value=prefix),
            "ARTIFACT_GLOB": codebuild.BuildEnvironmentVariable(value=build.artifact),
        },
        encryption_key=key,
        logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)),
        cache=codebuild.Cache.local(codebuild.LocalCacheMode.CUSTOM),
        timeout=cdk.Duration.hours(1),
    )
    for statement in [s for r in reports for s in r.policy_statements()]:
        project.add_to_role_policy(statement)
    objects = f"{names.release_bucket_arn}/{prefix}*"
    project.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[objects]))
    project.add_to_role_policy(iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[key.key_arn]))
    acknowledge_generated(project, extra=_release_upload(project, objects))
    return project


def _build_spec(build: ApplicationBuild, reports: Sequence[TestReports]) -> dict[str, Any]:
    install: dict[str, Any] = {"runtime-versions": dict(build.runtime_versions)}
    project_dir = f'cd "$CODEBUILD_SRC_DIR/{build.project_directory}"'
    if build.install_commands:
        install["commands"] = [project_dir, *build.install_commands]
    spec: dict[str, Any] = {
        "version": "0.2",
        "env": {"shell": "bash"},
        "phases": {"install": install, "build": {"commands": [project_dir, *build.commands, PUBLISH_SCRIPT]}},
        "artifacts": {"files": [MANIFEST_NAME]},
    }
    if reports:
        spec["reports"] = {k: v for r in reports for k, v in r.build_spec_section().items()}
    if build.cache_paths:
        spec["cache"] = {"paths": list(build.cache_paths)}
    return spec


def _release_upload(scope: Construct, objects: str) -> ExtraReason:
    """The build's ``s3:PutObject`` on the release prefix: one new key per release (a catalogue reason)."""
    finding = f"Resource::{flatten_cfn_reference(cdk.Stack.of(scope).resolve(objects))}"
    prefix = finding.split("/", 1)[1].removesuffix("*") if "/" in finding else ""

    def justify(found: str, statements: list[dict[str, Any]]) -> str | None:
        actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
        if found == finding and actions == {"s3:PutObject"}:
            return reason(
                "prefix-objects",
                prefix=prefix,
                access="write",
                why="the build uploads each release to a new key naming its commit and pipeline execution",
            )
        return None

    return justify
