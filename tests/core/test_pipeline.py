"""SecurePipeline: the hardened CDK Pipelines factory, its automatic choices and overrides."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from aws_cdk import pipelines
from aws_cdk.assertions import Match, Template
from helpers import pipeline_props, pipeline_stack, stage_names

from pipeline_constructs import DeploymentTarget, SecurePipeline
from pipeline_constructs.core.options import check_pipeline_options, pipeline_cli_version, synth_step
from pipeline_constructs.core.pipeline import PipelineConstruct
from pipeline_constructs.testing import deterministic_app

ENV = cdk.Environment(account="111111111111", region="eu-west-1")


def _build(targets=(), app=None, **kwargs) -> tuple[cdk.Stack, SecurePipeline]:
    app = app or deterministic_app()
    stack = cdk.Stack(app, "S", env=ENV)
    synth = pipelines.ShellStep("Synth", input=pipelines.CodePipelineSource.git_hub("o/r", "main"), commands=["x"])
    pipeline = SecurePipeline(stack, "P", synth=synth, targets=targets, **kwargs)
    stage = cdk.Stage(app, "Dev", env=ENV)
    ssm.StringParameter(cdk.Stack(stage, "Svc"), "Version", string_value="1")
    pipeline.pipeline.add_stage(stage)
    return stack, pipeline


def _bucket_encryption(template: Template, bucket_logical_id: str) -> dict:
    bucket = template.find_resources("AWS::S3::Bucket")[bucket_logical_id]
    return bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ]


def test_same_account_targets_use_the_aws_managed_kms_key():
    stack, p = _build([DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1")])
    assert p.cross_account_keys is False
    assert p.artifact_key is None
    template = Template.from_stack(stack)
    enc = _bucket_encryption(template, stack.get_logical_id(p.artifact_bucket.node.default_child))
    assert enc == {"SSEAlgorithm": "aws:kms"}


def test_cross_account_target_gets_a_rotating_customer_key():
    stack, p = _build([DeploymentTarget(name="Prod", account="222222222222", region="eu-west-1")])
    assert p.cross_account_keys is True
    template = Template.from_stack(stack)
    enc = _bucket_encryption(template, stack.get_logical_id(p.artifact_bucket.node.default_child))
    key_id = stack.get_logical_id(p.artifact_key.node.default_child)
    assert enc == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]}}
    assert template.find_resources("AWS::KMS::Key")[key_id]["Properties"]["EnableKeyRotation"] is True


def test_explicit_cross_account_keys_wins():
    _, p = _build([DeploymentTarget(name="Prod", account="222222222222", region="eu-west-1")], cross_account_keys=False)
    assert p.artifact_key is None


def test_defaults_v2_no_docker_one_asset_action_per_type():
    stack, _ = _build()
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::CodePipeline::Pipeline", {"PipelineType": "V2"})
    for project in template.find_resources("AWS::CodeBuild::Project").values():
        assert project["Properties"]["Environment"]["PrivilegedMode"] is False


def test_docker_for_synth_only_when_asked():
    stack, _ = _build(docker_enabled_for_synth=True)
    projects = Template.from_stack(stack).find_resources("AWS::CodeBuild::Project")
    privileged = [p for p in projects.values() if p["Properties"]["Environment"]["PrivilegedMode"]]
    assert len(privileged) == 1
    assert '"x"' in str(privileged[0]["Properties"]["Source"]["BuildSpec"])  # the synth project


def test_team_defaults_from_context_and_explicit_overrides():
    app = deterministic_app(
        context={"pipeline-constructs:logRetentionDays": 731, "pipeline-constructs:computeType": "MEDIUM"}
    )
    stack, _ = _build(app=app)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 731, "KmsKeyId": Match.any_value()})
    template.has_resource_properties(
        "AWS::CodeBuild::Project", {"Environment": Match.object_like({"ComputeType": "BUILD_GENERAL1_MEDIUM"})}
    )
    stack2, _ = _build(log_retention=logs.RetentionDays.TEN_YEARS, compute_type=codebuild.ComputeType.LARGE)
    t2 = Template.from_stack(stack2)
    t2.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 3653})
    t2.has_resource_properties(
        "AWS::CodeBuild::Project", {"Environment": Match.object_like({"ComputeType": "BUILD_GENERAL1_LARGE"})}
    )


def test_pipeline_props_pass_through_and_win():
    _, p = _build(pipeline_props={"self_mutation": False})
    assert [s.stage_name for s in p.code_pipeline.stages] == ["Source", "Build", "Dev"]
    _, default = _build()
    assert [s.stage_name for s in default.code_pipeline.stages] == ["Source", "Build", "UpdatePipeline", "Dev"]


def test_code_pipeline_escape_hatch_builds_once():
    _, p = _build()
    first = p.code_pipeline
    p.build()  # idempotent: a second build would raise in CDK Pipelines
    assert p.code_pipeline.node.path == first.node.path == "S/P/Pipeline/Pipeline"


def test_synth_is_required():
    stack = cdk.Stack(deterministic_app(), "S", env=ENV)
    with pytest.raises(ValueError, match=r"S/P: synth = None is invalid: expected a pipelines.IFileSetProducer"):
        SecurePipeline(stack, "P", synth=None)  # type: ignore[arg-type]


def test_same_account_pipeline_has_no_unacknowledged_findings():
    from pipeline_constructs.core.compliance import acknowledgments, unacknowledged_findings

    stack, _p = _build([DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1")])
    app = stack.node.root
    assert [str(f) for f in unacknowledged_findings(app)] == []
    cb4 = [(path, reason) for path, rule, reason in acknowledgments(app) if rule == "AwsSolutions-CB4"]
    assert cb4, "the AWS-managed-key choice must be acknowledged on the generated projects"
    assert all("cross_account_keys=True" in reason for _, reason in cb4)


def test_pipeline_name_is_validated_by_the_pipeline():
    stack = cdk.Stack(cdk.App(), "S", env=ENV)
    synth = pipelines.ShellStep("Synth", input=pipelines.CodePipelineSource.git_hub("o/r", "main"), commands=["x"])
    with pytest.raises(ValueError, match=r"S/P: pipeline_name = 'bad name!' is invalid"):
        SecurePipeline(stack, "P", synth=synth, pipeline_name="bad name!")


# -- PipelineConstruct: the base of every pipeline construct and its escape hatches ------------------

SOURCE = pipelines.CodePipelineSource.git_hub("o/r", "main")


def _service(scope, id, target):
    stage = cdk.Stage(scope, id, env=target.env)
    ssm.StringParameter(cdk.Stack(stage, "Svc"), "Version", string_value="1")
    return stage


class _Tiny(PipelineConstruct):
    """The smallest pipeline construct: the shared props, one stage per target."""

    def __init__(self, scope, id, *, targets, pipeline_options=None, build=True, **fixed):
        super().__init__(scope, id)
        if not build:
            return
        where = self.node.path
        options = check_pipeline_options(where, pipeline_options)
        cli = pipeline_cli_version(self, pipeline_options)
        synth = synth_step(where, source=SOURCE, synth=None, synth_commands=None, app_dir=None, cli_version=cli)
        self._build_pipeline(synth=synth, pipeline_name="Tiny", targets=targets, options=options, **fixed)
        self._deploy_targets(targets, _service)


TARGETS = (
    DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1"),
    DeploymentTarget(name="Prod", account="222222222222", region="eu-west-1", security_gated=True),
)


def test_every_escape_hatch_exists_before_anything_is_built():
    tiny = _Tiny(pipeline_stack(deterministic_app()), "Tiny", targets=TARGETS, build=False)
    assert (tiny.stages, tiny.deployments, tiny.gates, tiny.test_reports) == ({}, {}, {}, {})


def test_escape_hatches_of_a_built_construct():
    stack = pipeline_stack(deterministic_app())
    tiny = _Tiny(stack, "Tiny", targets=TARGETS)
    assert isinstance(tiny.secure_pipeline, SecurePipeline)
    assert tiny.secure_pipeline.node.path == "Delivery/Tiny/Pipeline"
    assert tiny.pipeline is tiny.secure_pipeline.pipeline
    assert list(tiny.stages) == list(tiny.deployments) == ["Dev", "Prod"]
    assert all(isinstance(s, cdk.Stage) and s.node.scope is tiny for s in tiny.stages.values())
    assert list(tiny.gates) == ["Prod"]
    assert tiny.test_reports == {}
    assert isinstance(tiny.code_pipeline, codepipeline.Pipeline)
    props = pipeline_props(Template.from_stack(stack))
    assert props["Name"] == "Tiny"
    assert stage_names(props)[-3:] == ["Dev", "Prod-Permissions", "Prod"]  # the early check's confirmation


def test_the_constructs_fixed_options_win_over_pipeline_options():
    stack = pipeline_stack(deterministic_app())
    _Tiny(stack, "Tiny", targets=TARGETS[:1], pipeline_options={"self_mutation": True}, self_mutation=False)
    assert "UpdatePipeline" not in stage_names(pipeline_props(Template.from_stack(stack)))


def test_the_pipeline_options_reach_the_pipeline():
    stack = pipeline_stack(deterministic_app())
    _Tiny(stack, "Tiny", targets=TARGETS[:1], pipeline_options={"self_mutation": False})
    assert "UpdatePipeline" not in stage_names(pipeline_props(Template.from_stack(stack)))
    with pytest.raises(ValueError, match=r"Delivery/Tiny2: pipeline_options\['targets'\] = .* use the targets prop"):
        _Tiny(stack, "Tiny2", targets=TARGETS[:1], pipeline_options={"targets": TARGETS})
