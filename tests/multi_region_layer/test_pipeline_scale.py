"""MultiRegionLayerPipeline at 1 region and at every region of the partition: within CloudFormation and
CodePipeline limits, flat critical path, and compliant as an auditor checks it (template only)."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from aws_cdk.region_info import RegionInfo
from conftest import load_example

from pipeline_constructs.core.compliance.audit import assembly_templates, audit_assembly
from pipeline_constructs.core.compliance.iam import iam_statement_problems
from pipeline_constructs.multi_region_layer import MAX_REGIONS
from pipeline_constructs.testing import deterministic_app

EXAMPLE = load_example("multi_region_layer")
THIRTY = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "ca-west-1", "mx-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2",
    "il-central-1", "me-south-1", "me-central-1", "af-south-1", "ap-south-1", "ap-south-2", "ap-east-1",
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
    "ap-southeast-4",
]  # fmt: skip
#: The most regions the pipeline can target: every region of the partition aws-cdk-lib knows (CodePipeline's
#: per-stage action limit, MAX_REGIONS, is higher than the number of regions).
ALL_REGIONS = THIRTY + sorted(r.name for r in RegionInfo.regions if r.partition == "aws" and r.name not in THIRTY)

# CloudFormation: 500 resources per stack; 1 MB template via S3, 51,200 bytes inline (bootstrapless regional
# stacks are sent inline). IAM: 6,144 characters per managed policy. Lambda: 4 KB of environment variables.
# CodePipeline: 50 actions per stage.
MAX_RESOURCES = 500
MAX_TEMPLATE_BYTES = 1_000_000
MAX_INLINE_TEMPLATE_BYTES = 51_200
MAX_MANAGED_POLICY_CHARS = 6_144
MAX_ENVIRONMENT_BYTES = 4_096
MAX_ACTIONS_PER_STAGE = 50


def _size(template: dict) -> int:
    return len(json.dumps(template, separators=(",", ":")))


@pytest.fixture(scope="module", params=[1, len(ALL_REGIONS)], ids=["1-region", "all-regions"])
def synthesized(request, tmp_path_factory) -> tuple[int, cdk.App, dict, dict[str, dict]]:
    regions = ["us-east-1"] if request.param == 1 else ALL_REGIONS
    app = deterministic_app(outdir=str(tmp_path_factory.mktemp(f"layer-{request.param}")))
    EXAMPLE.build_app(app, regions=regions)
    assembly = app.synth()
    pipeline = assembly.get_stack_by_name("LayerPipeline").template
    regional = {s.stack_name: s.template for s in assembly.stacks if s.stack_name != "LayerPipeline"}
    return request.param, app, pipeline, regional


def test_all_regions_is_within_the_construct_limit():
    assert len(set(ALL_REGIONS)) == len(ALL_REGIONS) <= MAX_REGIONS
    assert len(ALL_REGIONS) > 30


def _layer_stage(template: dict) -> dict:
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    return next(s for s in pipeline["Properties"]["Stages"] if s["Name"] == "Layer")


def test_one_action_per_region_all_parallel(synthesized):
    n, _app, pipeline, _regional = synthesized
    actions = _layer_stage(pipeline)["Actions"]
    assert len(actions) == n < MAX_ACTIONS_PER_STAGE
    # the layer is built in synth: the Layer stage is one run order of publishes whatever the number of regions
    assert {a["RunOrder"] for a in actions} == {1}
    (stages,) = [r["Properties"]["Stages"] for r in pipeline["Resources"].values() if "Stages" in r["Properties"]]
    assert [s["Name"] for s in stages] == ["Source", "Build", "UpdatePipeline", "Layer"]


def test_pipeline_stack_is_the_same_size_class_at_any_region_count(synthesized):
    n, _app, pipeline, _regional = synthesized
    resources = pipeline["Resources"]
    # adding a region adds no resource to the pipeline stack, only an action and a small stack
    # with the distributor's dead-letter alarm, its topic and topic policy; no BuildLayer project, role, policy
    assert len(resources) == 33
    assert len(resources) < MAX_RESOURCES
    # with every acknowledgment written into the template (Metadata.cdk_nag)
    # all regions: the self-mutation change check compares every per-region stack the pipeline stack depends on
    # (one stack ARN and one acknowledgment each, core/self_mutation.py)
    assert _size(pipeline) < (60_000 if n == 1 else 110_000) < MAX_TEMPLATE_BYTES
    (store_owner,) = [r for r in resources.values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    assert "ArtifactStores" not in store_owner["Properties"]  # no cross-region replication buckets to harden


def test_policies_and_configuration_fit_their_limits(synthesized):
    _n, _app, pipeline, _regional = synthesized
    for resource in pipeline["Resources"].values():
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            assert _size(resource["Properties"]["PolicyDocument"]) < MAX_MANAGED_POLICY_CHARS
        if resource["Type"] == "AWS::Lambda::Function" and "Environment" in resource["Properties"]:
            assert _size(resource["Properties"]["Environment"]["Variables"]) < MAX_ENVIRONMENT_BYTES


def test_one_small_staging_stack_per_region(synthesized):
    n, _app, _pipeline, regional = synthesized
    assert len(regional) == n
    for template in regional.values():
        assert len(template["Resources"]) == 4  # access-log bucket + policy, staging bucket + policy
        assert _size(template) < MAX_INLINE_TEMPLATE_BYTES


def test_template_only_check_finds_nothing_unacknowledged_at_any_region_count(synthesized):
    n, app, _pipeline, _regional = synthesized
    audit = audit_assembly(app.outdir, bare_rule_covers_findings=False)
    assert audit.errors == []
    assert len(audit.templates) == n + 1
    assert [str(f) for f in audit.unacknowledged] == []


def test_no_iam_statement_breaks_the_rules_at_any_region_count(synthesized):
    _n, app, _pipeline, _regional = synthesized
    problems = [
        str(p) for t in assembly_templates(app.outdir) for p in iam_statement_problems(json.loads(t.read_text()))
    ]
    assert problems == []


def test_staging_bucket_names_fit_s3_rules_in_every_region(synthesized):
    _n, app, _pipeline, _regional = synthesized
    construct = app.node.find_child("LayerPipeline").node.find_child("SharedDeps")
    for target in construct.targets:
        name = construct.staging_buckets[target.name]
        assert 3 <= len(name) <= 63
        assert name == name.lower()
        assert name.endswith(target.region)
        assert Template.from_stack(construct.regional_stacks[target.name]).find_resources(
            "AWS::S3::Bucket", {"Properties": {"BucketName": name}}
        )
