"""The distributor (the job function) and the role CodePipeline invokes it with: configuration and least privilege."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match
from multi_region_layer.layer_helpers import REGIONS, example, layer_config, logical_id

from pipeline_constructs.multi_region_layer.distributor import CLAIMS_PREFIX


def test_distributor_function_is_current_traced_and_never_retried():
    template = example().template
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


def test_distributor_configuration():
    ex = example()
    assert layer_config(ex.template) == {
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
        "stagingBucketPrefix": ex.construct.staging_buckets[REGIONS[0]].removesuffix(REGIONS[0]),
        "claimsPrefix": CLAIMS_PREFIX,
    }
    assert CLAIMS_PREFIX == "pipeline-jobs/layer-distributor/"  # the handler's default claims prefix


def test_distributor_role_is_least_privilege():
    template = example().template
    role = logical_id(template, "AWS::IAM::Role", "SharedDepsDistributorRole")
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


def test_codepipeline_invokes_with_a_role_that_can_only_invoke_and_read():
    template = example().template
    role = logical_id(template, "AWS::IAM::Role", "SharedDepsInvokeRole")
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
    function = logical_id(template, "AWS::Lambda::Function", "SharedDepsDistributorFunction")
    invoke = next(
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "lambda:InvokeFunction"
    )
    assert invoke["Resource"] == {"Fn::GetAtt": [function, "Arn"]}


def test_every_regional_wildcard_is_acknowledged_with_its_regions():
    template = example().template
    (policy,) = [
        p for k, p in template.find_resources("AWS::IAM::ManagedPolicy").items() if "SharedDepsDistributorPolicy" in k
    ]
    rules = {r["id"]: r["reason"] for r in policy["Metadata"]["cdk_nag"]["rules_to_suppress"]}
    regional = [rule for rule in rules if ":*:" in rule or "layer-staging-" in rule]
    assert len(regional) == 4  # staging object, layer, layer versions, parameter
    for rule in regional:
        assert rule.startswith("AwsSolutions-IAM5[Resource::")
        assert ", ".join(REGIONS) in rules[rule], rule
