"""cli.model: the pipelines of a cloud assembly (stages, run orders, accounts, regions, gates, critical path)."""

from __future__ import annotations

import pytest

from cli.cli_helpers import ASSEMBLIES, NESTED, pipelines_at
from pipeline_constructs.cli.assembly import CloudAssembly
from pipeline_constructs.cli.model import GATE_APPROVAL, GATE_PERMISSION_CHECK, pipelines_in


@pytest.mark.synth
def test_model_of_plain_pipeline(plain_out):
    (p,) = pipelines_in(CloudAssembly.load(plain_out))
    assert [s.name for s in p.stages] == ["Source", "Build", "UpdatePipeline", "Assets", "Dev", "Regions", "Prod"]
    regions = p.stages[5]
    assert [(s.run_order, len(s.actions)) for s in regions.steps] == [(1, 4), (2, 4)]
    assert {(a.region, a.account) for a in regions.actions} == {
        ("us-east-1", "222222222222"),
        ("eu-central-1", "222222222222"),
    }
    dev = p.stages[4]
    assert [a.name for a in dev.actions] == [
        "Lint",
        "Api.Prepare",
        "Db.Prepare",
        "Api.Deploy",
        "Db.Deploy",
        "Smoke",
    ]
    prod = p.stages[6]
    assert [(a.name, a.gate) for a in prod.actions[:3]] == [
        ("Check.Check", GATE_PERMISSION_CHECK),
        ("Check.Confirm", GATE_PERMISSION_CHECK),
        ("Promote", GATE_APPROVAL),
    ]
    assert {a.account for a in prod.actions if a.is_deployment} == {"222222222222"}
    assert [g.kind for g in p.gates] == [GATE_PERMISSION_CHECK, GATE_APPROVAL]


def test_model_of_nested_assembly_and_critical_path():
    (p,) = pipelines_in(CloudAssembly.load(NESTED))
    assert p.name == "ops"
    assert p.stack_name == "Ops-Pipeline"
    assert p.pipeline_type == "V2"
    # parallel actions keep template order inside a run order; run orders sort
    assert [a.name for a in p.stages[1].actions] == ["UnitTests", "Lint", "IntegrationTests"]
    path = p.critical_path
    # ends at the last deployment: Notify (after it) is not on the path
    assert [a.qualified_name for a in path.actions] == [
        "Source/Code",
        "Build/UnitTests",
        "Build/IntegrationTests",
        "Prod/Check",
        "Prod/Confirm",
        "Prod/Approve",
        "Prod/Deploy",
    ]
    assert (path.length, path.codebuild) == (7, 2)
    deploy = p.stages[2].actions[3]
    assert (deploy.region, deploy.account) == ("us-west-2", "444444444444")
    assert [(g.kind, [a.name for a in g.actions]) for g in p.gates] == [
        (GATE_PERMISSION_CHECK, ["Check", "Confirm"]),
        (GATE_APPROVAL, ["Approve"]),
    ]


def test_model_of_a_pipeline_in_a_nested_stack():
    (p,) = pipelines_in(CloudAssembly.load(ASSEMBLIES / "nested_stack"))
    assert p.name == "nested-one"
    assert p.stack_name == "Outer (nested OuterInner590FD8F7)"
    assert (p.account, p.region) == ("111111111111", "eu-west-1")
    assert [(g.stage, g.kind) for g in p.gates] == [("Approve", GATE_APPROVAL)]


@pytest.mark.synth
def test_yaml_buildspec_commands_and_reports(plain_cp_out):
    (p,) = pipelines_at(plain_cp_out)
    build = p.stages[1].actions[0]
    assert build.commands == (
        "pip install -r requirements-dev.txt",
        "pytest --junitxml=reports/junit.xml",
        "zip -r app.zip src",
    )
    assert build.reports == ("pytest (JUNITXML)",)
    deploy = p.stages[2].actions[1]
    assert (deploy.account, deploy.region) == ("222222222222", "us-east-1")
