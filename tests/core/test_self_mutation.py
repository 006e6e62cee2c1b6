"""Self-mutation only when the pipeline changed (core/self_mutation.py): the Synth action's exported variable and
its commands, the BeforeEntry SKIP on UpdatePipeline, the synth role's read access, the opt-outs, cdk-nag, and
that asset changes do not change the pipeline stack's template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from conftest import load_example
from helpers import PIPELINE_ENV, pipeline_props, pipeline_stack, policy_statements, stage_names

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.core.compliance import unacknowledged_findings
from pipeline_constructs.core.compliance.audit import audit_assembly
from pipeline_constructs.core.pipeline import SecurePipeline
from pipeline_constructs.core.self_mutation import PipelineChangeCheck, change_check, script_text
from pipeline_constructs.dotnet_lambda import DotnetLambdaPipeline
from pipeline_constructs.testing import deterministic_app

DOTNET = load_example("dotnet_lambda")
GLUE = load_example("glue_etl")
PROJECT = Path(DOTNET.HERE) / "src" / "HelloWorld"
HANDLER = "HelloWorld::HelloWorld.Function::FunctionHandler"
SOURCE = pipelines.CodePipelineSource.connection(
    "o/r", "main", connection_arn="arn:aws:codeconnections:eu-west-1:111111111111:connection/x"
)
DEV = DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1")
VARIABLE = "#{Build@Synth.PIPELINE_CHANGED}"
SKIP_UNLESS_CHANGED = {
    "Conditions": [
        {
            "Result": "SKIP",
            "Rules": [
                {
                    "Name": "PipelineChanged",
                    "RuleTypeId": {"Category": "Rule", "Owner": "AWS", "Provider": "VariableCheck", "Version": "1"},
                    "Configuration": {"Variable": VARIABLE, "Operator": "NE", "Value": "false"},
                }
            ],
        }
    ]
}
READ_ACTIONS = ["cloudformation:DescribeStacks", "cloudformation:GetTemplate"]


def _stack_arn(name: str, region: str = "eu-west-1", account: str = "111111111111") -> dict[str, Any]:
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":cloudformation:{region}:{account}:stack/{name}/*"]]}


def _stage(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in pipeline["Stages"] if s["Name"] == name)


def _synth_project(template: Template) -> dict[str, Any]:
    (project,) = [
        p for logical, p in template.find_resources("AWS::CodeBuild::Project").items() if "BuildSynth" in logical
    ]
    return project["Properties"]


def _buildspec(project: dict[str, Any]) -> dict[str, Any]:
    """The inline buildspec, tokens (report group ARNs) replaced by a placeholder."""
    spec = project["Source"]["BuildSpec"]
    if isinstance(spec, dict):
        spec = "".join(p if isinstance(p, str) else "TOKEN" for p in spec["Fn::Join"][1])
    return json.loads(spec)  # type: ignore[no-any-return]


def _read_statements(template: Template) -> list[dict[str, Any]]:
    return [s for s in policy_statements(template, "AWS::IAM::Policy") if "cloudformation:GetTemplate" in s["Action"]]


@pytest.fixture(scope="module")
def dotnet() -> Template:
    app = deterministic_app()
    DOTNET.build_app(app)
    return Template.from_stack(app.node.find_child("DotnetLambdaPipeline"))


@pytest.fixture(scope="module")
def glue() -> Template:
    app = deterministic_app()
    stack = GLUE.build_app(app)
    return Template.from_stack(stack)


@pytest.fixture(params=["dotnet", "glue"])
def template(request) -> Template:
    return request.getfixturevalue(request.param)


def test_update_pipeline_is_skipped_unless_synth_says_changed(template):
    pipeline = pipeline_props(template)
    names = stage_names(pipeline)
    assert names.index("Build") + 1 == names.index("UpdatePipeline") < names.index("Assets")  # still right after synth
    assert _stage(pipeline, "UpdatePipeline")["BeforeEntry"] == SKIP_UNLESS_CHANGED
    assert [a["Name"] for a in _stage(pipeline, "UpdatePipeline")["Actions"]] == ["SelfMutate"]
    # the only other skippable stages are the permission checks' confirmations (core/permission_checks.py)
    others = [s["Name"] for s in pipeline["Stages"] if "BeforeEntry" in s and s["Name"] != "UpdatePipeline"]
    assert all(name.endswith("-Permissions") for name in others), others


def test_synth_action_has_the_variables_namespace(template):
    (synth,) = _stage(pipeline_props(template), "Build")["Actions"][-1:]
    assert synth["Name"] == "Synth"
    assert synth["Namespace"] == "Build@Synth"


def test_synth_buildspec_exports_the_variable_and_runs_the_check_last(template):
    spec = _buildspec(_synth_project(template))
    assert spec["env"]["exported-variables"] == ["PIPELINE_CHANGED"]
    commands = spec["phases"]["build"]["commands"]
    expected = PipelineChangeCheck(assembly_dir="cdk.out", stack_artifact_id=_artifact_id(template)).commands()
    assert commands[-2:] == expected
    assert script_text().rstrip() in commands[-2]  # the script, as shipped, readable in the template
    assert "synth" in commands[-3]  # after cdk synth
    assert "post_build" not in spec["phases"]


def _artifact_id(template: Template) -> str:
    return "DotnetLambdaPipeline" if "DotnetLambda" in json.dumps(template.to_json()) else "GlueEtlPipeline"


def test_synth_role_reads_exactly_the_pipeline_stack(template):
    statements = _read_statements(template)
    assert statements == [
        {
            "Action": READ_ACTIONS,
            "Effect": "Allow",
            "Resource": _stack_arn(_artifact_id(template)),
            "Sid": "ReadPipelineStacks",
        }
    ]
    (policy,) = [
        logical
        for logical, p in template.find_resources("AWS::IAM::Policy").items()
        if any("cloudformation:GetTemplate" in s["Action"] for s in p["Properties"]["PolicyDocument"]["Statement"])
    ]
    assert "BuildSynth" in policy  # the synth role's policy, nobody else's


def test_glue_job_tests_get_no_check():
    app = deterministic_app()
    stack = GLUE.build_app(app)
    template = Template.from_stack(stack)
    projects = template.find_resources("AWS::CodeBuild::Project")
    with_check = [logical for logical, p in projects.items() if "pipeline_changed.py" in json.dumps(p)]
    assert len(with_check) == 1
    assert "BuildSynth" in with_check[0]


# -- a cross-region target: the support stack is compared and readable too ---------------------------------


def _dotnet_app(outdir: Path | None = None, **kwargs: Any) -> tuple[cdk.App, cdk.Stack]:
    """A DotnetLambdaPipeline app (Dev only unless ``targets`` says otherwise), not yet synthesized."""
    app = deterministic_app(outdir=str(outdir) if outdir is not None else None)
    stack = pipeline_stack(app)
    props: dict[str, Any] = {"targets": [DEV], **kwargs}
    DotnetLambdaPipeline(stack, "Pipeline", source=SOURCE, project_dir=PROJECT, handler=HANDLER, **props)
    return app, stack


def _cross_region_app(outdir: Path, **kwargs: Any) -> tuple[cdk.App, cdk.Stack]:
    virginia = DeploymentTarget(name="Virginia", account="111111111111", region="us-east-1")
    app, stack = _dotnet_app(outdir, pipeline_name="dotnet", targets=[DEV, virginia], **kwargs)
    app.synth()
    return app, stack


@pytest.fixture(scope="module")
def cross_region(tmp_path_factory):  # type: ignore[no-untyped-def]
    outdir = tmp_path_factory.mktemp("cross-region")
    app, stack = _cross_region_app(outdir)
    return app, stack, outdir


def test_support_stack_is_read_too(cross_region):
    _app, stack, outdir = cross_region
    template = Template.from_stack(stack)
    (statement,) = _read_statements(template)
    assert statement["Resource"] == [_stack_arn("Delivery"), _stack_arn("Delivery-support-us-east-1", "us-east-1")]
    # What the script walks: the manifest's dependencies of the pipeline stack include the support stack.
    manifest = json.loads((outdir / "manifest.json").read_text())
    support_id = "cross-region-stack-111111111111_us-east-1"  # aws-codepipeline's id; the name is the stack's
    support = manifest["artifacts"][support_id]
    assert support["type"] == "aws:cloudformation:stack"
    assert support["environment"] == "aws://111111111111/us-east-1"
    assert support["properties"]["stackName"] == "Delivery-support-us-east-1"
    assert support_id in manifest["artifacts"]["Delivery"]["dependencies"]


def test_cross_region_pipeline_gets_no_new_finding(cross_region, tmp_path):
    """The read grant's findings are acknowledged with the catalogue reason, in the template; whatever else the
    packs report for this pipeline (the support stack's replication bucket) is the same without the check."""
    _app, _stack, outdir = cross_region
    audit = audit_assembly(outdir, bare_rule_covers_findings=False)
    assert audit.errors == []
    _cross_region_app(tmp_path / "always", pipeline_options={"skip_unchanged_self_mutation": False})
    before = audit_assembly(tmp_path / "always", bare_rule_covers_findings=False)
    assert sorted(str(f) for f in audit.unacknowledged) == sorted(str(f) for f in before.unacknowledged)
    acknowledged = sorted(
        f.rule for f in audit.acknowledged if ":cloudformation:" in f.rule and "stack/Delivery" in f.rule
    )
    assert acknowledged == [
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:eu-west-1:111111111111:stack/Delivery/*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:us-east-1:111111111111:"
        "stack/Delivery-support-us-east-1/*]",
    ]


def test_example_pipeline_has_no_unacknowledged_findings(tmp_path):
    app = deterministic_app(outdir=str(tmp_path))
    DOTNET.build_app(app)
    app.synth()
    assert [str(f) for f in unacknowledged_findings(app)] == []
    audit = audit_assembly(tmp_path, bare_rule_covers_findings=False)
    assert audit.errors == []
    assert [str(f) for f in audit.unacknowledged] == []
    (finding,) = [f for f in audit.acknowledged if f.rule.endswith(":stack/DotnetLambdaPipeline/*]")]
    assert finding.rule.startswith("AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:eu-west-1:")
    assert finding.acknowledgment is not None
    assert "cloudformation:DescribeStacks and cloudformation:GetTemplate only" in finding.acknowledgment.reason


# -- what gets nothing ---------------------------------------------------------------------------------------


def _dotnet(**kwargs: Any) -> Template:
    return Template.from_stack(_dotnet_app(**kwargs)[1])


def _unconditional(template: Template) -> None:
    pipeline = pipeline_props(template)
    assert all("BeforeEntry" not in s for s in pipeline["Stages"])
    assert _read_statements(template) == []
    assert "pipeline_changed.py" not in json.dumps(template.to_json())
    assert "PIPELINE_CHANGED" not in json.dumps(template.to_json())


def test_opt_out_restores_always_mutate():
    template = _dotnet(pipeline_options={"skip_unchanged_self_mutation": False})
    _unconditional(template)
    assert "UpdatePipeline" in stage_names(pipeline_props(template))


def test_no_self_mutation_gets_nothing():
    template = _dotnet(pipeline_options={"self_mutation": False})
    _unconditional(template)
    assert "UpdatePipeline" not in stage_names(pipeline_props(template))


def test_no_self_mutation_through_pipeline_props_gets_nothing():
    template = _dotnet(pipeline_options={"pipeline_props": {"self_mutation": False}})
    _unconditional(template)


def test_a_teams_own_synth_step_self_mutates_every_run():
    own = pipelines.CodeBuildStep("Synth", input=SOURCE, commands=["npx cdk synth"])
    template = _dotnet(synth=own)
    _unconditional(template)
    assert "UpdatePipeline" in stage_names(pipeline_props(template))


def test_secure_pipeline_with_a_shell_step_is_unchanged():
    app = deterministic_app()
    stack = pipeline_stack(app)
    secure = SecurePipeline(stack, "Pipeline", synth=pipelines.ShellStep("Synth", input=SOURCE, commands=["x"]))
    secure.pipeline.add_stage(_AssetStage(app, "Dev", b"x"))
    template = Template.from_stack(stack)
    _unconditional(template)
    assert secure.pipeline_changed_variable is None


@pytest.mark.parametrize("value", ["no", 0])
def test_opt_out_must_be_a_bool(value):
    with pytest.raises(
        TypeError,
        match=r"^Delivery/Pipeline: pipeline_options\['skip_unchanged_self_mutation'\] = .* is invalid: expected True",
    ):
        _dotnet(pipeline_options={"skip_unchanged_self_mutation": value})


def test_secure_pipeline_opt_out_must_be_a_bool():
    app = deterministic_app()
    stack = pipeline_stack(app)
    with pytest.raises(TypeError, match=r"skip_unchanged_self_mutation"):
        SecurePipeline(
            stack,
            "Pipeline",
            synth=pipelines.ShellStep("Synth", input=SOURCE, commands=["x"]),
            skip_unchanged_self_mutation="yes",  # type: ignore[arg-type]
        )


def test_app_dir_is_where_the_check_reads_cdk_out():
    app = deterministic_app()
    stack = pipeline_stack(app)
    assert change_check(stack, "infra/cdk.out") == PipelineChangeCheck("infra/cdk.out", "Delivery")
    commands = PipelineChangeCheck("infra dir/cdk.out", "Delivery").commands()
    assert "\"$CODEBUILD_SRC_DIR\"/'infra dir/cdk.out' Delivery" in commands[1]


def test_pipeline_stack_inside_a_stage_reads_its_nested_assembly():
    app = deterministic_app()
    stage = cdk.Stage(app, "Tooling")
    stack = cdk.Stack(stage, "Delivery", env=PIPELINE_ENV)
    assert change_check(stack, "cdk.out") == PipelineChangeCheck("cdk.out/assembly-Tooling", stack.artifact_id)


# -- asset changes are no pipeline change ------------------------------------------------------------------


class _AssetStage(cdk.Stage):
    def __init__(self, scope, id: str, content: bytes, directory: Path | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(scope, id, env=PIPELINE_ENV)
        stack = cdk.Stack(self, "Service")
        if directory is None:
            return
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "data.txt").write_bytes(content)
        s3_assets.Asset(stack, "Data", path=str(directory))


def _asset_app(tmp_path: Path, content: bytes) -> Path:
    outdir = tmp_path / f"out-{content.decode()}"
    source = tmp_path / f"asset-{content.decode()}"
    app, _ = _dotnet_app(
        outdir, pipeline_name="p", stage_factory=lambda scope, id, target: _AssetStage(scope, id, content, source)
    )
    app.synth()
    return outdir


def test_asset_change_leaves_the_pipeline_template_byte_identical(tmp_path):
    first, second = _asset_app(tmp_path, b"one"), _asset_app(tmp_path, b"two")
    nested = [p.name for p in first.glob("assembly-*")]
    # The stage stacks' file assets differ ...
    hashes = []
    for outdir in (first, second):
        (manifest,) = (outdir / nested[0]).glob("*.assets.json")
        hashes.append(sorted(json.loads(manifest.read_text())["files"]))
    assert hashes[0] != hashes[1]
    # ... the pipeline stack's template does not.
    assert (first / "Delivery.template.json").read_bytes() == (second / "Delivery.template.json").read_bytes()
    # The asset-publishing project's buildspec (which names the asset hashes) is a file of the cloud assembly.
    template = json.loads((first / "Delivery.template.json").read_text())
    asset_projects = [
        r["Properties"]
        for logical, r in template["Resources"].items()
        if r["Type"] == "AWS::CodeBuild::Project" and "Assets" in logical
    ]
    assert asset_projects
    for project in asset_projects:
        spec = project["Source"]["BuildSpec"]
        assert isinstance(spec, str)
        assert spec.startswith("buildspec-")
        assert spec.endswith(".yaml")
        assert (first / spec).is_file()
        assert "cdk-assets" in (first / spec).read_text()
    # The differing files are the asset buildspec and the asset manifests, never the pipeline template.
    different = sorted(
        p.name for p in first.glob("buildspec-*.yaml") if (second / p.name).read_bytes() != p.read_bytes()
    )
    assert different, "the asset hashes should be in the buildspec file"
