"""Compliance as an auditor sees it: every template of every example, cross-region and 50-target variants.

Each assembly is synthesized once per session. For each one:

* no IAM statement breaks the library's rules (``iam_statement_problems``);
* every acknowledgment written into a template is exact (``Rule[finding]``) and answers a
  finding of that resource, and each catalogue reason's check holds wherever it is written;
* every CLI a generated buildspec installs is pinned.

For the variants (the examples are covered by ``tests/test_examples.py``): the template-only
cdk-nag check (``audit_assembly``, strict reading) finds nothing unacknowledged and loads every
template, and every acknowledgment gives one catalogue reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import pipelines
from conftest import EXAMPLE_NAMES, EXAMPLE_TEAM_REASONS, load_example

from pipeline_constructs import DeploymentTarget, SecurePipeline, SecurityGatedStage
from pipeline_constructs.core.compliance import FINDING_RULES, PACK_NAMES
from pipeline_constructs.core.compliance.audit import assembly_templates, audit_assembly
from pipeline_constructs.core.compliance.iam import iam_statement_problems
from pipeline_constructs.core.compliance.reasons import REASONS, AckContext, match_reason
from pipeline_constructs.testing import deterministic_app

CONNECTION = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"
HOME = cdk.Environment(account="111111111111", region="eu-west-1")


def _dotnet_three_regions(app: cdk.App) -> None:
    """The .NET example with its targets in two other regions: cross-region support stacks."""
    from pipeline_constructs.dotnet_lambda.pipeline import DotnetLambdaPipeline

    example = load_example("dotnet_lambda")
    stack = cdk.Stack(app, "DotnetLambdaPipeline", env=HOME)
    DotnetLambdaPipeline(
        stack,
        "Delivery",
        source=pipelines.CodePipelineSource.connection("example-org/dotnet-lambda", "main", connection_arn=CONNECTION),
        project_dir=example.HERE / "src" / "HelloWorld",
        handler="HelloWorld::HelloWorld.Function::FunctionHandler",
        test_project="test/HelloWorld.Tests",
        targets=[
            DeploymentTarget(name="Dev", account="111111111111", region="eu-central-1"),
            DeploymentTarget(
                name="Prod", account="222222222222", region="us-east-1", security_gated=True, manual_approval=True
            ),
        ],
    )


def _glue(app: cdk.App, targets: list[DeploymentTarget]) -> None:
    """The Glue example's pipeline (its spec and job tests) deploying to ``targets``."""
    from pipeline_constructs import GlueEtlPipeline

    example = load_example("glue_etl")
    stack = cdk.Stack(app, "GlueEtlPipeline", env=HOME)
    GlueEtlPipeline(
        stack,
        "Delivery",
        source=pipelines.CodePipelineSource.connection("example-org/covid19-glue", "main", connection_arn=CONNECTION),
        spec=example.covid19_spec(),
        job_tests="tests",
        targets=targets,
    )


def _glue_cross_region(app: cdk.App) -> None:
    """The Glue example with its targets in two other regions."""
    _glue(
        app,
        [
            DeploymentTarget(name="Dev", account="111111111111", region="eu-central-1"),
            DeploymentTarget(name="Prod", account="222222222222", region="us-east-1", security_gated=True),
        ],
    )


def _glue_progressive(app: cdk.App) -> None:
    """The Glue example with the deployment model (issue 13): a same-account Test stage assessed by Resilience
    Hub, then a two-region Prod wave behind the AWS Health gate, a window, alarm bake and retry on failure."""
    from pipeline_constructs import (
        AlarmBake,
        DeploymentWindow,
        HealthGate,
        OnFailure,
        ResilienceAssessment,
    )

    prod = {
        "account": "222222222222",
        "wave": "Prod",
        "health_gate": HealthGate(),
        "deployment_window": DeploymentWindow.weekdays(),
        "on_failure": OnFailure.retry(),
    }
    _glue(
        app,
        [
            DeploymentTarget(
                name="Test",
                account="111111111111",
                region="eu-west-1",
                resilience_assessment=ResilienceAssessment(
                    app_arn="arn:aws:resiliencehub:eu-west-1:111111111111:app/0a1b2c3d-0000-4000-8000-000000000000"
                ),
            ),
            *(
                DeploymentTarget(name=f"Prod-{r}", region=r, bake=AlarmBake(alarm_names=(f"etl-{r}",)), **prod)
                for r in ("eu-west-1", "us-east-1")
            ),
        ],
    )


def _gated(targets: list[tuple[str, str, str]]) -> Callable[[cdk.App], None]:
    """SecurePipeline + one SecurityGatedStage per target (the security_gated example's data stage)."""

    def build(app: cdk.App) -> None:
        example = load_example("security_gated")
        stack = cdk.Stack(app, "GatedPipeline", env=HOME)
        source = pipelines.CodePipelineSource.connection("example-org/data", "main", connection_arn=CONNECTION)
        pipeline = SecurePipeline(
            stack,
            "Pipeline",
            synth=pipelines.ShellStep("Synth", input=source, commands=["npx -y aws-cdk@2.1148.1 synth"]),
            cross_account_keys=True,
        )
        for name, account, region in targets:
            SecurityGatedStage(
                stack,
                f"{name}Gate",
                pipeline=pipeline.pipeline,
                stage=example.DataStage(app, name, env=cdk.Environment(account=account, region=region)),
                manual_approval=False,
            )

    return build


def _same_account_plain_check(app: cdk.App) -> None:
    """A same-account SecurePipeline (AWS-managed artifact key) whose stage a team gates with CDK's own step."""
    example = load_example("security_gated")
    stack = cdk.Stack(app, "SameAccountPipeline", env=HOME)
    source = pipelines.CodePipelineSource.connection("example-org/data", "main", connection_arn=CONNECTION)
    pipeline = SecurePipeline(
        stack,
        "Pipeline",
        synth=pipelines.ShellStep("Synth", input=source, commands=["npx -y aws-cdk@2.1148.1 synth"]),
        targets=[DeploymentTarget(name="Test", account="111111111111", region="eu-west-1")],
    )
    stage = example.DataStage(app, "Test", env=HOME)
    pipeline.pipeline.add_stage(stage, pre=[pipelines.ConfirmPermissionsBroadening("Check", stage=stage)])


def _triggers_and_notifications(app: cdk.App) -> None:
    """A SecurePipeline started by file-path push triggers that e-mails its failures (issue 13)."""
    from pipeline_constructs.core.notifications import PipelineNotifications
    from pipeline_constructs.core.triggers import GitPushFilter, GitTrigger

    example = load_example("security_gated")
    stack = cdk.Stack(app, "NotifiedPipeline", env=HOME)
    source = pipelines.CodePipelineSource.connection("example-org/data", "main", connection_arn=CONNECTION)
    pipeline = SecurePipeline(
        stack,
        "Pipeline",
        synth=pipelines.ShellStep("Synth", input=source, commands=["npx -y aws-cdk@2.1148.1 synth"]),
        targets=[DeploymentTarget(name="Test", account="111111111111", region="eu-west-1")],
        triggers=[GitTrigger(push=(GitPushFilter(branches=("main",), file_paths=("data/**", "cdk.json")),))],
        notifications=PipelineNotifications(emails=("team@example.com",), on_approval_needed=True),
    )
    pipeline.pipeline.add_stage(example.DataStage(app, "Test", env=HOME))


SCALE_TARGETS = 50
VARIANTS: dict[str, Callable[[cdk.App], None]] = {
    "dotnet-three-regions": _dotnet_three_regions,
    "same-account-plain-check": _same_account_plain_check,
    "triggers-and-notifications": _triggers_and_notifications,
    "glue-cross-region": _glue_cross_region,
    "glue-progressive": _glue_progressive,
    "gated-cross-region": _gated([("Stg", "111111111111", "eu-central-1"), ("Prod", "222222222222", "us-east-1")]),
    f"gated-{SCALE_TARGETS}-targets": _gated(
        [(f"T{i}", f"{200000000000 + i:012d}", "eu-west-1") for i in range(SCALE_TARGETS)]
    ),
}
ASSEMBLIES = [*EXAMPLE_NAMES, *VARIANTS]


@pytest.fixture(scope="session")
def assembly(synthesized_example, tmp_path_factory) -> Callable[[str], Path]:  # type: ignore[no-untyped-def]
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name in EXAMPLE_NAMES:
            return Path(synthesized_example(name))
        if name not in cache:
            outdir = tmp_path_factory.mktemp(f"variant-{name}")
            app = deterministic_app(outdir=str(outdir))
            VARIANTS[name](app)
            app.synth()
            cache[name] = outdir
        return cache[name]

    return get


@pytest.fixture(scope="session")
def templates(assembly) -> Callable[[str], dict[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    cache: dict[str, dict[str, dict[str, Any]]] = {}

    def get(name: str) -> dict[str, dict[str, Any]]:
        if name not in cache:
            root = assembly(name).resolve()
            cache[name] = {
                str(p.relative_to(root)): json.loads(p.read_text(encoding="utf-8")) for p in assembly_templates(root)
            }
        return cache[name]

    return get


@pytest.fixture(scope="session")
def audits(assembly, audited_example):  # type: ignore[no-untyped-def]
    cache: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name in EXAMPLE_NAMES:
            return audited_example(name)
        if name not in cache:
            cache[name] = audit_assembly(assembly(name), bare_rule_covers_findings=False)
        return cache[name]

    return get


def _acknowledgments(bodies: dict[str, dict[str, Any]]) -> list[AckContext]:
    out = []
    for template_name, body in bodies.items():
        for logical_id, resource in (body.get("Resources") or {}).items():
            for entry in ((resource.get("Metadata") or {}).get("cdk_nag") or {}).get("rules_to_suppress") or []:
                out.append(AckContext(body, logical_id, entry["id"], entry["reason"], template_name, bodies))
    return out


@pytest.mark.parametrize("name", VARIANTS)
def test_template_only_check_finds_nothing_unacknowledged(name, audits, templates):
    audit = audits(name)
    assert audit.errors == []
    assert len(audit.templates) == len(templates(name)) >= 2
    assert [str(f) for f in audit.unacknowledged] == []
    assert tuple(audit.packs) == PACK_NAMES


@pytest.mark.parametrize("name", ASSEMBLIES)
def test_no_iam_statement_breaks_the_rules(name, templates):
    problems = [str(p) for t, body in templates(name).items() for p in iam_statement_problems(body, t)]
    assert problems == []


@pytest.mark.parametrize("name", ASSEMBLIES)
def test_every_acknowledgment_is_exact_and_silences_a_finding_there(name, audits, templates):
    acks = _acknowledgments(templates(name))
    assert acks
    bare = sorted({a.rule for a in acks if a.rule in FINDING_RULES})
    assert bare == [], "acknowledgments of finding rules must name the finding"
    used = {(f.template, f.logical_id, f.acknowledgment.rule) for f in audits(name).acknowledged}
    stale = sorted({(a.template_name, a.logical_id, a.rule) for a in acks} - used)
    assert stale == [], "acknowledgments without a finding on that resource (remove them)"


@pytest.mark.parametrize("name", VARIANTS)
def test_every_acknowledgment_gives_one_catalogue_reason(name, templates):
    wrong = []
    for ack in _acknowledgments(templates(name)):
        reasons = match_reason(ack.reason)
        if len(reasons) != 1 and ack.reason not in EXAMPLE_TEAM_REASONS:
            wrong.append((ack.template_name, ack.logical_id, ack.rule, [r.id for r in reasons], ack.reason))
    assert wrong == []


@pytest.fixture(scope="session")
def all_acknowledgments(templates) -> list[AckContext]:  # type: ignore[no-untyped-def]
    return [a for name in ASSEMBLIES for a in _acknowledgments(templates(name))]


@pytest.mark.parametrize("reason_id", sorted(REASONS))
def test_reason_holds(reason_id, all_acknowledgments):
    """The claim of catalogue reason ``reason_id`` holds in every template it is written into."""
    reason = REASONS[reason_id]
    uses = [a for a in all_acknowledgments if reason.parse(a.reason) is not None]
    assert uses, f"{reason_id} is used nowhere in the examples: remove it or exercise it"
    failures = sorted({(a.template_name, a.logical_id, a.rule, reason.verify(a)) for a in uses if reason.verify(a)})
    assert failures == []


_INSTALL = re.compile(r"(?:npm\s+(?:install|i)\b[^\"\n]*?\s|npx\s+(?:-y\s+)?)(aws-cdk|cdk-assets)(@[^\s\"'\\]+)?")
_EXACT = re.compile(r"^@\d+\.\d+\.\d+$")


def _buildspecs(root: Path, bodies: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    from pipeline_constructs.core.compliance.iam import flatten

    out = []
    for template_name, body in bodies.items():
        for logical_id, resource in (body.get("Resources") or {}).items():
            if resource.get("Type") != "AWS::CodeBuild::Project":
                continue
            spec = flatten(((resource.get("Properties") or {}).get("Source") or {}).get("BuildSpec"))
            path = (root / template_name).parent / spec
            if spec.endswith((".yaml", ".yml", ".json")) and path.is_file():
                spec = path.read_text(encoding="utf-8")
            out.append((f"{template_name}#{logical_id}", spec))
    return out


@pytest.mark.parametrize("name", ASSEMBLIES)
def test_every_cli_a_buildspec_installs_is_pinned(name, assembly, templates):
    specs = _buildspecs(assembly(name).resolve(), templates(name))
    installs = [(where, m.group(1), m.group(2)) for where, spec in specs for m in _INSTALL.finditer(spec)]
    assert installs, "the pipeline installs the CDK CLI somewhere"
    unpinned = [i for i in installs if not i[2] or not _EXACT.match(i[2])]
    assert unpinned == []


def test_fifty_targets_fit_one_stack(templates):
    """CloudFormation allows 500 resources and 1 MB (uploaded) per stack."""
    pipeline = templates(f"gated-{SCALE_TARGETS}-targets")["GatedPipeline.template.json"]
    assert len(pipeline["Resources"]) < 400
    assert len(json.dumps(pipeline, separators=(",", ":"))) < 600_000


@pytest.mark.parametrize(("value", "registered"), [(None, 5), ("false", 0), (False, 0), ("true", 5)])
def test_nag_context_switch(value, registered):
    from pipeline_constructs import add_compliance_checks

    context = {} if value is None else {"pipeline-constructs:nag": value}
    assert len(add_compliance_checks(cdk.App(context=context))) == registered
