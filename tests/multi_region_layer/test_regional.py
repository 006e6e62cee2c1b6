"""The regional staging stacks: one per target, deployed before the pipeline, hardened, named as the actions say."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk.assertions import Match, Template
from multi_region_layer.layer_helpers import REGIONS, example, make_pipeline, new_stack, target

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.multi_region_layer.regional import staging_bucket_prefix


def test_one_staging_stack_per_target_deployed_before_the_pipeline():
    ex = example()
    assert sorted(ex.construct.regional_stacks) == sorted(REGIONS)
    for name, regional in ex.construct.regional_stacks.items():
        assert regional.region == next(t.region for t in ex.construct.targets if t.name == name)
        assert regional.account == ex.stack.account
        assert regional in ex.stack.dependencies
        # deployed with the pipeline region's bootstrap roles: no bootstrap needed in the target region
        assert isinstance(regional.synthesizer, cdk.BootstraplessSynthesizer)


def test_staging_buckets_are_hardened_and_named_as_the_actions_say():
    construct = example().construct
    for name, regional in construct.regional_stacks.items():
        t = Template.from_stack(regional)
        buckets = t.find_resources("AWS::S3::Bucket", {"Properties": {"BucketName": construct.staging_buckets[name]}})
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
        assert len(construct.staging_buckets[name]) <= 63


def test_staging_buckets_are_keyed_by_target_and_named_by_region():
    p = make_pipeline(targets=[target("us-east-1", "Virginia"), target("eu-west-1", "Ireland")])
    prefix = staging_bucket_prefix(p)
    assert p.staging_buckets == {"Virginia": f"{prefix}us-east-1", "Ireland": f"{prefix}eu-west-1"}
    assert {n: s.region for n, s in p.regional_stacks.items()} == {"Virginia": "us-east-1", "Ireland": "eu-west-1"}
    assert [s.stack_name for s in p.regional_stacks.values()] == ["S-P-us-east-1", "S-P-eu-west-1"]


def test_two_pipelines_never_share_a_staging_bucket_name():
    first = make_pipeline()
    second = make_pipeline(new_stack())  # same path, another app: the same name (same account and path)
    other = make_pipeline(
        new_stack(cdk.Environment(account="222222222222", region="eu-west-1")),
        targets=[DeploymentTarget(name="T", account="222222222222", region="us-east-1")],
    )
    assert staging_bucket_prefix(first) == staging_bucket_prefix(second)
    assert staging_bucket_prefix(first) != staging_bucket_prefix(other)
