"""The release update (update.py): the job function, its configuration and scope, the update actions."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from kda_app.kda_example import RELEASE_BUCKET, example, flat, pipeline_named, small_pipeline, update_function_props

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.kda_app.update import UPDATE_FUNCTION_TIMEOUT


def test_update_actions_read_the_release_manifest_and_name_their_target():
    template = example().template
    pipeline = pipeline_named(template, "clickstream-application")
    (build,) = [a for s in pipeline["Stages"] for a in s["Actions"] if a["Name"] == "BuildTestPublish"]
    release = build["OutputArtifacts"][0]["Name"]
    updates = {s["Name"]: a for s in pipeline["Stages"] for a in s["Actions"] if a["Name"] == "UpdateApplication"}
    config = flat(update_function_props(template)["Environment"]["Variables"]["KDA_UPDATE_CONFIG"])
    assert f'\\"releaseBucket\\":\\"{RELEASE_BUCKET}\\"' in config
    assert '\\"claimsPrefix\\":\\"pipeline-jobs/kda-update/\\"' in config
    for target, account in (("Dev", "111111111111"), ("Prod", "222222222222")):
        action = updates[target]
        assert [i["Name"] for i in action["InputArtifacts"]] == [release]
        params = flat(action["Configuration"]["UserParameters"])
        assert f'\\"applicationName\\":\\"clickstream-{target}\\"' in params
        # the role and the release bucket are the function's configuration, never the event's
        assert "roleArn" not in params
        assert "releaseBucketArn" not in params
        assert f":iam::{account}:role/clickstream-{target}-updater" in config
        assert '\\"timeoutSeconds\\":1800' in params
        assert '\\"allowNonRestoredState\\":false' in params


def test_update_function_runs_the_packaged_handler_on_current_python():
    function = update_function_props(example().template)
    assert function["Runtime"] == "python3.14"
    assert function["Timeout"] == UPDATE_FUNCTION_TIMEOUT.to_seconds()
    assert function["LoggingConfig"]["LogFormat"] == "JSON"
    assert function["TracingConfig"] == {"Mode": "Active"}
    asset = example().outdir / f"asset.{function['Code']['S3Key'].removesuffix('.zip')}"
    # the handler and the job machinery it shares with the layer distributor; no other handler, no aws_cdk
    assert sorted(p.name for p in asset.iterdir()) == ["_pipeline_job.py", "kda_update.py"]
    assert not any("aws_cdk" in p.read_text() for p in asset.iterdir())


def test_update_function_permissions_are_explicit_and_scoped():
    template = example().template
    (role_id,) = [
        k
        for k, r in template.find_resources("AWS::IAM::Role").items()
        if r["Properties"].get("RoleName") == "clickstream-kda-update-eu-west-1"
    ]
    inline = [
        p for p in template.find_resources("AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    assert inline == [], "the update role has no inline (DefaultPolicy) grants"
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    by_sid = {s["Sid"]: s for s in policy}
    assert sorted(by_sid) == [
        "AssumeTargetUpdaterRoles",
        "CheckReleases",
        "DeadLetters",
        "DeadLettersKey",
        "JobClaims",
        "JobClaimsKey",
        "NoResourceLevelPermissions",
        "OwnLogs",
    ]
    assert by_sid["NoResourceLevelPermissions"]["Action"] == [
        "codepipeline:PutJobSuccessResult",
        "codepipeline:PutJobFailureResult",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    ]
    assumed = flat(by_sid["AssumeTargetUpdaterRoles"]["Resource"])
    assert "111111111111:role/clickstream-Dev-updater" in assumed
    assert "222222222222:role/clickstream-Prod-updater" in assumed
    assert by_sid["CheckReleases"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert flat(by_sid["CheckReleases"]["Resource"]).endswith(f':s3:::{RELEASE_BUCKET}/builds/*"]]}}')
    assert "*" not in flat(by_sid["OwnLogs"]["Resource"])


def test_update_timeout_and_start_reach_every_action():
    pipeline = small_pipeline(update_timeout=cdk.Duration.minutes(10), start_application=False)
    template = Template.from_stack(cdk.Stack.of(pipeline))
    (app_pipeline,) = [
        p["Properties"]
        for p in template.find_resources("AWS::CodePipeline::Pipeline").values()
        if "UpdateApplication" in flat(p)
    ]
    params = flat(
        [
            a["Configuration"]["UserParameters"]
            for s in app_pipeline["Stages"]
            for a in s["Actions"]
            if a["Name"] == "UpdateApplication"
        ]
    )
    assert '\\"timeoutSeconds\\":600' in params
    assert '\\"startApplication\\":false' in params


def test_too_many_targets_for_the_functions_environment_are_rejected():
    targets = [DeploymentTarget(name=f"T{i:02d}", account=f"{i:012d}", region="eu-west-1") for i in range(1, 30)]
    with pytest.raises(ValueError, match=r"^S/P: targets = '<29 targets>' is invalid: too many targets .* 4 KB"):
        small_pipeline(targets=targets)
