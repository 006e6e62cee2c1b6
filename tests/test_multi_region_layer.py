"""MultiRegionLayerPipeline: the example's stages, parallel publish actions, staging buckets, IAM scope, compliance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import pipelines
from aws_cdk.assertions import Match, Template
from conftest import load_example
from syrupy.extensions.json import JSONSnapshotExtension

from pipeline_constructs.core.compliance import acknowledgments, suspended_acknowledgments, unacknowledged_findings
from pipeline_constructs.multi_region_layer.pipeline import (
    DEFAULT_CDK_CLI_VERSION,
    LayerSharing,
    MultiRegionLayerPipeline,
    default_build_commands,
)
from pipeline_constructs.testing import deterministic_app, normalize_template

EXAMPLE = load_example("multi_region_layer")
REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"]


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> cdk.App:
    app = deterministic_app(outdir=str(tmp_path_factory.mktemp("layer-cdk-out")))
    EXAMPLE.build_app(app)
    app.synth()
    return app


@pytest.fixture(scope="module")
def stack(app) -> cdk.Stack:
    return app.node.find_child("LayerPipeline")


@pytest.fixture(scope="module")
def construct(stack) -> MultiRegionLayerPipeline:
    return stack.node.find_child("SharedDeps")


@pytest.fixture(scope="module")
def template(stack) -> Template:
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def pipeline(template) -> dict:
    (resource,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    return resource["Properties"]


@pytest.fixture(scope="module")
def layer_stage(pipeline) -> dict:
    (stage,) = [s for s in pipeline["Stages"] if s["Name"] == "Layer"]
    return stage


def _logical_id(template: Template, type_: str, path_part: str) -> str:
    matches = [k for k in template.find_resources(type_) if path_part in k]
    assert len(matches) == 1, (type_, path_part, matches)
    return matches[0]


# ---------------------------------------------------------------- pipeline shape


def test_stages_in_order_and_one_layer_stage(pipeline):
    assert pipeline["PipelineType"] == "V2"
    assert [s["Name"] for s in pipeline["Stages"]] == ["Source", "Build", "UpdatePipeline", "Layer"]


def test_layer_is_built_once_then_every_region_publishes_in_parallel(layer_stage):
    actions = [(a["Name"], a["ActionTypeId"]["Provider"], a["RunOrder"]) for a in layer_stage["Actions"]]
    assert actions[0] == ("BuildLayer", "CodeBuild", 1)
    assert sorted(actions[1:]) == sorted((f"Publish-{r}", "Lambda", 2) for r in REGIONS)
    assert [a for a in actions if a[1] == "CodeBuild"] == [("BuildLayer", "CodeBuild", 1)]


def test_each_region_action_invokes_the_distributor_with_the_built_layer(template, layer_stage, construct):
    function = _logical_id(template, "AWS::Lambda::Function", "SharedDepsDistributorFunction")
    role = _logical_id(template, "AWS::IAM::Role", "SharedDepsInvokeRole")
    build = layer_stage["Actions"][0]
    (built,) = build["OutputArtifacts"]
    for action in layer_stage["Actions"][1:]:
        region = action["Name"].removeprefix("Publish-")
        assert action["Configuration"]["FunctionName"] == {"Ref": function}
        assert json.loads(action["Configuration"]["UserParameters"]) == {
            "region": region,
            "stagingBucket": construct.staging_buckets[region],
        }
        assert action["InputArtifacts"] == [{"Name": built["Name"]}]
        assert action["RoleArn"] == {"Fn::GetAtt": [role, "Arn"]}
        assert action["Namespace"] == f"Layer-{region}"
        assert "Region" not in action  # the function runs in the pipeline region; it publishes remotely


def test_layer_build_uses_the_lock_file_and_checks_the_size(template):
    projects = template.find_resources("AWS::CodeBuild::Project")
    (build,) = [p for p in projects.values() if "npm ci" in json.dumps(p["Properties"]["Source"]["BuildSpec"])]
    spec = json.loads(build["Properties"]["Source"]["BuildSpec"])
    commands = spec["phases"]["build"]["commands"]
    assert "layer/package-lock.json is required" in commands[0]
    assert "npm ci --omit=dev --no-audit --no-fund --prefix layer-build/nodejs" in commands
    assert "cp layer/package.json layer/package-lock.json layer-build/nodejs/" in commands
    assert "262144000" in commands[-1]  # Lambda's 250 MB unzipped limit, checked before publishing
    assert "latest" not in json.dumps(spec)
    assert spec["artifacts"]["base-directory"] == "layer-build"
    assert build["Properties"]["EncryptionKey"]  # CodeBuild artifacts use the pipeline's KMS key


def test_synth_pins_the_cdk_cli(template):
    projects = template.find_resources("AWS::CodeBuild::Project")
    (synth,) = [p for p in projects.values() if "cdk synth" in json.dumps(p["Properties"]["Source"]["BuildSpec"])]
    assert f"aws-cdk@{DEFAULT_CDK_CLI_VERSION}" in json.dumps(synth["Properties"]["Source"]["BuildSpec"])


# ---------------------------------------------------------------- regional staging stacks


def test_one_staging_stack_per_region_deployed_before_the_pipeline(app, stack, construct):
    assert construct.regions == tuple(REGIONS)
    assert sorted(construct.regional_stacks) == sorted(REGIONS)
    for region, regional in construct.regional_stacks.items():
        assert regional.region == region
        assert regional.account == stack.account
        assert regional in stack.dependencies
        # deployed with the pipeline region's bootstrap roles: no bootstrap needed in the target region
        assert isinstance(regional.synthesizer, cdk.BootstraplessSynthesizer)


def test_staging_buckets_are_hardened_and_named_as_the_actions_say(construct):
    for region, regional in construct.regional_stacks.items():
        t = Template.from_stack(regional)
        buckets = t.find_resources("AWS::S3::Bucket", {"Properties": {"BucketName": construct.staging_buckets[region]}})
        (bucket,) = buckets.values()
        props = bucket["Properties"]
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        assert sse["SSEAlgorithm"] == "aws:kms"
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
        assert props["LoggingConfiguration"]["LogFilePrefix"] == "staging/"
        assert props["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 7
        assert bucket["DeletionPolicy"] == "Retain"
        t.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                    )
                }
            },
        )
        assert len(construct.staging_buckets[region]) <= 63


# ---------------------------------------------------------------- the distributor


def test_distributor_function_is_current_traced_and_never_retried(template):
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Handler": "layer_distributor.handler",
            "Architectures": ["arm64"],
            "Timeout": 900,
            "MemorySize": 1024,
            "EphemeralStorage": {"Size": 1024},
            "TracingConfig": {"Mode": "Active"},
            "DeadLetterConfig": {"TargetArn": Match.any_value()},
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumRetryAttempts": 0,
            "DestinationConfig": {"OnFailure": {"Destination": Match.any_value()}},
        },
    )
    template.has_resource_properties("AWS::SQS::Queue", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties("AWS::Logs::LogGroup", {"KmsKeyId": Match.any_value(), "RetentionInDays": 365})


def test_distributor_configuration(template, construct):
    (function,) = template.find_resources("AWS::Lambda::Function", {"Properties": {"Runtime": "python3.14"}}).values()
    config = json.loads(function["Properties"]["Environment"]["Variables"]["DISTRIBUTOR_CONFIG"])
    assert config == {
        "allowPublic": False,
        "compatibleArchitectures": ["x86_64", "arm64"],
        "compatibleRuntimes": ["nodejs22.x", "nodejs24.x"],
        "description": "Dependencies shared by the team's Node.js functions",
        "expectedBucketOwner": "111111111111",
        "layerName": "shared-deps",
        "licenseInfo": "MIT",
        "parameterName": "/lambda-layers/shared-deps/latest-version-arn",
        "regions": REGIONS,
        "sharing": {"accounts": [], "organizationId": "o-a1b2c3d4e5", "public": False},
        "stagingKey": "layer-staging/shared-deps.zip",
        "stagingBucketPrefix": construct.staging_buckets[REGIONS[0]].removesuffix(REGIONS[0]),
        "claimsPrefix": "pipeline-jobs/layer-distributor/",
    }


def test_distributor_role_is_least_privilege(template):
    role = _logical_id(template, "AWS::IAM::Role", "SharedDepsDistributorRole")
    props = template.find_resources("AWS::IAM::Role")[role]["Properties"]
    assert "Policies" not in props
    assert "ManagedPolicyArns" not in props  # no AWS-managed policy
    inline = [
        p for p in template.find_resources("AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
    ]
    assert inline == []  # CDK's automatic grants were refused: the managed policy below is all it gets
    (policy,) = [
        p
        for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
        if p["Properties"].get("Roles") == [{"Ref": role}]
    ]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert all(s["Effect"] == "Allow" for s in statements.values())
    unscoped = [sid for sid, s in statements.items() if s["Resource"] == "*"]
    assert unscoped == ["NoResourceLevelPermissions"]
    assert sorted(statements["NoResourceLevelPermissions"]["Action"]) == [
        "codepipeline:PutJobFailureResult",
        "codepipeline:PutJobSuccessResult",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    ]
    for sid in ("StagingObject", "PublishLayer", "ShareLayerVersions", "LatestVersionParameter"):
        assert statements[sid]["Condition"]["StringEquals"]["aws:RequestedRegion"] == REGIONS
    assert statements["PublishLayer"]["Resource"]["Fn::Join"][1][-1] == ":lambda:*:111111111111:layer:shared-deps"
    assert statements["ShareLayerVersions"]["Action"] == [
        "lambda:GetLayerVersion",
        "lambda:GetLayerVersionPolicy",
        "lambda:AddLayerVersionPermission",
        "lambda:RemoveLayerVersionPermission",
    ]
    assert statements["LatestVersionParameter"]["Action"] == "ssm:PutParameter"
    assert statements["LatestVersionParameter"]["Resource"]["Fn::Join"][1][-1].endswith(
        ":parameter/lambda-layers/shared-deps/latest-version-arn"
    )
    assert statements["StagingObject"]["Resource"]["Fn::Join"][1][-1].endswith("/layer-staging/shared-deps.zip")
    # of the pipeline's artifact bucket only its own job claims: it reads the artifact with the job's credentials
    assert [sid for sid, s in statements.items() if "Artifacts" in json.dumps(s)] == ["JobClaims"]
    assert statements["JobClaims"]["Resource"]["Fn::Join"][1][-1] == "/pipeline-jobs/layer-distributor/*"


def test_codepipeline_invokes_with_a_role_that_can_only_invoke_and_read(template):
    role = _logical_id(template, "AWS::IAM::Role", "SharedDepsInvokeRole")
    inline = [
        p for p in template.find_resources("AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
    ]
    assert inline == []  # no lambda:ListFunctions on '*' (CDK's default), nothing beyond the managed policy
    (policy,) = [
        p
        for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
        if p["Properties"].get("Roles") == [{"Ref": role}]
    ]
    actions = sorted(
        a
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    )
    assert actions == ["kms:Decrypt", "lambda:InvokeFunction", "s3:GetObject", "s3:GetObjectVersion"]
    function = _logical_id(template, "AWS::Lambda::Function", "SharedDepsDistributorFunction")
    invoke = next(
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "lambda:InvokeFunction"
    )
    assert invoke["Resource"] == {"Fn::GetAtt": [function, "Arn"]}


# ---------------------------------------------------------------- compliance, lint, snapshot


def test_no_unacknowledged_findings_in_five_packs(app):
    assert [str(f) for f in unacknowledged_findings(app)] == []


def test_every_acknowledgment_answers_a_real_finding(app):
    with suspended_acknowledgments():
        bare = deterministic_app()
        EXAMPLE.build_app(bare)
        raised = {(f.path, f.rule) for f in unacknowledged_findings(bare)}
    acks = acknowledgments(app)
    assert acks
    stale = sorted(
        (path, rule)
        for path, rule, _ in acks
        if not any(rule == r and (p == path or p.startswith(path + "/")) for p, r in raised)
    )
    assert stale == [], f"acknowledgments without a finding: {stale}"


def test_cfn_lint_reports_no_errors(app):
    outdir = Path(app.outdir)
    templates = sorted(str(p) for p in outdir.glob("*.template.json"))
    assert len(templates) == 1 + len(REGIONS)
    result = subprocess.run(
        [sys.executable, "-m", "cfnlint", "--ignore-checks", "E3703", "--format", "parseable", "--", *templates],
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert errors == []


def test_snapshot_pipeline_stack(template, snapshot):
    assert normalize_template(template.to_json()) == snapshot.use_extension(JSONSnapshotExtension)


def test_snapshot_regional_stack(construct, snapshot):
    regional = Template.from_stack(construct.regional_stacks["us-east-1"])
    assert normalize_template(regional.to_json()) == snapshot.use_extension(JSONSnapshotExtension)


# ---------------------------------------------------------------- options


def _stack(env: bool = True) -> cdk.Stack:
    return cdk.Stack(
        deterministic_app(),
        "S",
        env=cdk.Environment(account="111111111111", region="eu-west-1") if env else None,
    )


def _pipeline(stack: cdk.Stack | None = None, **overrides):
    props = {
        "source": pipelines.CodePipelineSource.git_hub("o/layer", "main"),
        "layer_name": "deps",
        "compatible_runtimes": [lambda_.Runtime.NODEJS_24_X],
        "regions": ["us-east-1"],
    }
    props.update(overrides)
    return MultiRegionLayerPipeline(stack or _stack(), "P", **props)


def test_regions_are_deduplicated_in_order():
    p = _pipeline(regions=["us-east-1", "eu-west-1", "us-east-1", "eu-west-1"])
    assert p.regions == ("us-east-1", "eu-west-1")
    assert list(p.publish_steps) == ["us-east-1", "eu-west-1"]
    assert sorted(p.regional_stacks) == ["eu-west-1", "us-east-1"]


def test_python_default_build_pins_with_hashes_per_runtime_for_one_architecture():
    commands = default_build_commands(
        [lambda_.Runtime.PYTHON_3_13, lambda_.Runtime.PYTHON_3_14],
        [lambda_.Architecture.ARM_64],
        layer_directory="deps",
    )
    pip = [c for c in commands if "pip install" in c]
    assert len(pip) == 2
    for version, command in zip(("3.13", "3.14"), pip, strict=True):
        assert "--require-hashes" in command
        assert "--only-binary=:all:" in command
        assert "--platform manylinux2014_aarch64" in command
        assert f"--python-version {version}" in command
        assert f"--target layer-build/python/lib/python{version}/site-packages" in command
        assert "-r deps/requirements.txt" in command


def test_arm_only_layers_build_on_arm():
    p = _pipeline(compatible_architectures=[lambda_.Architecture.ARM_64])
    template = Template.from_stack(cdk.Stack.of(p))
    template.has_resource_properties(
        "AWS::CodeBuild::Project",
        {"Environment": Match.object_like({"Type": "ARM_CONTAINER"}), "Source": Match.object_like({})},
    )


def test_custom_build_commands_and_public_opt_in():
    p = _pipeline(
        build_commands=["make layer"],
        output_directory="dist/layer",
        sharing=LayerSharing(public=True),
        parameter_name="/team/layers/deps",
    )
    assert p.build_step.commands == ["make layer"]
    template = Template.from_stack(cdk.Stack.of(p))
    (function,) = template.find_resources("AWS::Lambda::Function", {"Properties": {"Runtime": "python3.14"}}).values()
    config = json.loads(function["Properties"]["Environment"]["Variables"]["DISTRIBUTOR_CONFIG"])
    assert config["allowPublic"] is True
    assert config["sharing"]["public"] is True
    assert config["parameterName"] == "/team/layers/deps"


def test_escape_hatch_team_adds_a_step_after_publishing():
    p = _pipeline(regions=["us-east-1", "eu-west-1"])
    announce = pipelines.ManualApprovalStep("AnnounceRelease")
    for step in p.publish_steps.values():
        announce.add_step_dependency(step)
    p.wave.add_post(announce)
    stage = next(s for s in p.secure_pipeline.code_pipeline.stages if s.stage_name == "Layer")
    orders = {a.action_properties.action_name: a.action_properties.run_order for a in stage.actions}
    assert orders == {"BuildLayer": 1, "Publish-us-east-1": 2, "Publish-eu-west-1": 2, "AnnounceRelease": 3}


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "arn:aws:lambda:x", "a/b"])
def test_bad_layer_name(name):
    with pytest.raises(ValueError, match=r"S/P: layer_name = .* is invalid: expected 1-64 characters"):
        _pipeline(layer_name=name)


@pytest.mark.parametrize(
    ("regions", "prop", "allowed"),
    [
        ([], "regions", "expected a non-empty list of AWS regions"),
        ("us-east-1", "regions", "expected a non-empty list of AWS regions"),
        (["us-east-1", "mars-east-1"], r"regions\[1\]", "expected an AWS region"),
        (["cn-north-1"], r"regions\[0\]", "expected a region of the pipeline's partition 'aws'"),
    ],
)
def test_bad_regions(regions, prop, allowed):
    with pytest.raises(ValueError, match=rf"S/P: {prop} = .* is invalid: {allowed}"):
        _pipeline(regions=regions)


def test_token_region_is_rejected():
    with pytest.raises(ValueError, match=r"regions\[0\] = .* is invalid: expected a literal region name"):
        _pipeline(regions=[cdk.Aws.REGION])


def test_too_many_regions(monkeypatch):
    import pipeline_constructs.multi_region_layer.pipeline as module

    monkeypatch.setattr(module, "MAX_REGIONS", 2)
    with pytest.raises(ValueError, match=r"S/P: regions = 3 is invalid: at most 2 regions: CodePipeline allows 50"):
        _pipeline(regions=["us-east-1", "us-west-2", "eu-west-1"])


@pytest.mark.parametrize(
    ("runtimes", "prop", "allowed"),
    [
        ([], "compatible_runtimes", "expected a non-empty list of aws_lambda.Runtime"),
        (["nodejs24.x"], r"compatible_runtimes\[0\]", "expected an aws_lambda.Runtime"),
        (
            [lambda_.Runtime.NODEJS_24_X, lambda_.Runtime.PYTHON_3_14],
            "compatible_runtimes",
            "default build commands exist for Node.js-only or Python-only layers",
        ),
        ([lambda_.Runtime.JAVA_21], "compatible_runtimes", "default build commands exist"),
    ],
)
def test_bad_runtimes(runtimes, prop, allowed):
    with pytest.raises(ValueError, match=rf"S/P: {prop} = .* is invalid: {allowed}"):
        _pipeline(compatible_runtimes=runtimes)


def test_too_many_runtimes():
    # Existing constants only: creating a Runtime adds it to the process-wide Runtime.ALL, which cdk-nag's
    # LambdaLatestVersion rule reads, so invented runtimes would make later tests' functions look outdated.
    names = [n for n in dir(lambda_.Runtime) if n.startswith(("NODEJS_", "PYTHON_3"))]
    runtimes = list({getattr(lambda_.Runtime, n).name: getattr(lambda_.Runtime, n) for n in names}.values())
    assert len(runtimes) > 15
    with pytest.raises(
        ValueError, match=rf"compatible_runtimes = {len(runtimes)} is invalid: a layer lists at most 15"
    ):
        _pipeline(compatible_runtimes=runtimes)


def test_python_default_build_needs_one_architecture():
    with pytest.raises(
        ValueError,
        match=r"S/P: compatible_architectures = \['x86_64', 'arm64'\] is invalid: the default Python build installs",
    ):
        _pipeline(
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_14],
            compatible_architectures=[lambda_.Architecture.X86_64, lambda_.Architecture.ARM_64],
        )


def test_bad_architecture():
    with pytest.raises(ValueError, match=r"compatible_architectures\[0\] = 'arm64' is invalid: expected Architecture"):
        _pipeline(compatible_architectures=["arm64"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"accounts": ["1234"]}, r"LayerSharing: accounts\[0\] = '1234' is invalid: expected a 12-digit"),
        ({"accounts": "222222222222"}, r"LayerSharing: accounts = '222222222222' is invalid: expected a list"),
        ({"accounts": ["222222222222"] * 2}, r"accounts = '222222222222' is invalid: each account may be listed once"),
        ({"organization_id": "org-1"}, r"organization_id = 'org-1' is invalid: expected an AWS Organizations id"),
        ({"public": True, "accounts": ["222222222222"]}, r"public = True is invalid: public sharing already"),
        ({"public": "yes"}, r"public = 'yes' is invalid: expected True or False"),
    ],
)
def test_bad_sharing(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LayerSharing(**kwargs)


def test_too_many_accounts_for_the_configuration():
    accounts = tuple(f"{n:012d}" for n in range(100_000_000_000, 100_000_000_000 + 200))
    with pytest.raises(ValueError, match=r"sharing.accounts = '<200 accounts>' is invalid: .* organization_id"):
        _pipeline(sharing=LayerSharing(accounts=accounts))


@pytest.mark.parametrize(
    ("overrides", "prop", "allowed"),
    [
        ({"license_info": "x" * 513}, "license_info", "expected 1-512 characters"),
        ({"description": ""}, "description", "expected 1-256 characters"),
        ({"parameter_name": "no-leading-slash"}, "parameter_name", "expected an SSM parameter path"),
        ({"layer_directory": "../elsewhere"}, "layer_directory", "expected a path relative to the repository root"),
        ({"layer_directory": "/abs"}, "layer_directory", "expected a path relative to the repository root"),
        ({"output_directory": "."}, "output_directory", "expected a sub-directory"),
        ({"build_commands": []}, "build_commands", "expected a non-empty list of shell commands"),
        ({"build_commands": "npm ci"}, "build_commands", "expected a non-empty list of shell commands"),
        ({"distributor_timeout": cdk.Duration.minutes(16)}, "distributor_timeout", ".*at most 15 minutes"),
        ({"sharing": "public"}, "sharing", "expected a LayerSharing"),
        ({"source": None}, "source", "expected a pipelines.IFileSetProducer"),
        ({"pipeline_name": "no spaces"}, "pipeline_name", "expected 1-100 characters"),
    ],
)
def test_bad_props(overrides, prop, allowed):
    with pytest.raises(ValueError, match=rf"S/P(/Pipeline)?: {prop} = .* is invalid: {allowed}"):
        _pipeline(**overrides)


def test_pipeline_stack_needs_an_explicit_environment():
    with pytest.raises(
        ValueError,
        match=r"S/P: scope = 'S' is invalid: expected a stack with an explicit env \(account and region\): the",
    ):
        _pipeline(_stack(env=False))
