"""``show`` and ``graph`` display the deployment model: waves, AWS Health gates, stage conditions and triggers.

The fixture ``fixtures/progressive_pipeline.template.json`` is a hand-written pipeline template in
CloudFormation's shape (``AWS::CodePipeline::Pipeline``: ``StageDeclaration`` ``BeforeEntry`` /
``OnSuccess`` / ``OnFailure`` with ``Conditions[].Rules[]``, ``Triggers[].GitConfiguration``): Dev
with a retry, Prod-1 (one region) and Prod-2 (a wave of two regions), each behind a ``-Health``
stage and a deployment window, with alarm bake and rollback; push and pull-request triggers.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from cli.cli_helpers import HAND_MADE, SVG, check_mermaid, parse_dot, pipelines_at, run, segment_crosses, segments
from cli.test_svg import _text_rect, assert_readable_svg
from pipeline_constructs.cli import render_graph
from pipeline_constructs.cli.conditions import parse_conditions
from pipeline_constructs.cli.model import GATE_HEALTH, Pipeline
from pipeline_constructs.cli.svg import GUTTER_W, NOTES_GUTTER_W

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "progressive_pipeline.template.json"
WINDOW = "window: * * 9-16 ? * MON-FRI Europe/Berlin"


def template() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def write_assembly(directory: Path, tmpl: dict[str, Any]) -> Path:
    """A one-stack cloud assembly holding ``tmpl`` (stack OrdersPipeline in aws://111111111111/eu-west-1)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Orders.template.json").write_text(json.dumps(tmpl))
    manifest = {
        "version": "36.0.0",
        "artifacts": {
            "Orders": {
                "type": "aws:cloudformation:stack",
                "environment": "aws://111111111111/eu-west-1",
                "properties": {"templateFile": "Orders.template.json", "stackName": "OrdersPipeline"},
            }
        },
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


@pytest.fixture
def progressive(tmp_path: Path) -> Path:
    return write_assembly(tmp_path / "cdk.out", template())


def pipeline_of(path: Path) -> Pipeline:
    (p,) = pipelines_at(path)
    return p


def stages_of(tmpl: dict[str, Any]) -> list[dict[str, Any]]:
    stages: list[dict[str, Any]] = tmpl["Resources"]["Pipeline"]["Properties"]["Stages"]
    return stages


# --- show (text) ---------------------------------------------------------------------------------


def test_show_header_lists_the_triggers(progressive, capsys):
    status, out, err = run(capsys, "show", progressive)
    assert status == 0, err
    head = out.split("\n\n")[0].splitlines()
    assert head[2:] == [
        "  Triggers (source action orders-repo, CodeStarSourceConnection):",
        "    push: branches main except legacy/*; file paths services/orders/** except services/orders/docs/**",
        "    push: tags v*",
        "    pull request (OPEN, UPDATED): branches main; file paths services/orders/**",
    ]


def test_show_lists_waves_health_gates_and_conditions_stage_by_stage(progressive, capsys):
    status, out, _ = run(capsys, "show", progressive)
    assert status == 0
    section = out[out.index("  Deployment model:") : out.index("  Gates:")]
    assert section.splitlines() == [
        "  Deployment model:",
        "    Dev",
        "      on failure: RETRY (FAILED_ACTIONS)",
        "    Prod-1-Health (AWS Health gate of Prod-1: eu-west-1)",
        f"      {WINDOW}",
        "    Prod-1",
        f"      {WINDOW}",
        "      bake: 30 min watching ProdEu-Errors, then ROLLBACK",
        "      on failure: ROLLBACK",
        "    Prod-2-Health (AWS Health gate of Prod-2: us-east-1, ap-southeast-2)",
        f"      {WINDOW}",
        "    Prod-2 (wave: 2 targets in parallel: us-east-1, ap-southeast-2)",
        f"      {WINDOW}",
        "      rule ChangeFreeze: Lambda change-freeze-check",
        # an intrinsic in a rule's configuration is shown readably, not dropped
        "      bake: 30 min watching ProdUs-Errors, ${AWS::StackName}-ProdAu-Latency, then ROLLBACK",
        "      on failure: ROLLBACK",
        "",
    ]


def test_health_checks_are_gates_naming_the_region_they_ask_about(progressive, capsys):
    p = pipeline_of(progressive)
    health = [g for g in p.gates if g.kind == GATE_HEALTH]
    assert [(g.stage, [a.name for a in g.actions]) for g in health] == [
        ("Prod-1-Health", ["HealthCheck-ProdEu"]),
        ("Prod-2-Health", ["HealthCheck-ProdUs"]),
        ("Prod-2-Health", ["HealthCheck-ProdAu"]),
    ]
    _, out, _ = run(capsys, "show", progressive)
    # the action runs in the pipeline's region; the region checked is the one in its UserParameters
    assert (
        "Prod-2-Health (run 1) AWS Health check: HealthCheck-ProdAu: fails while AWS Health reports an open issue "
        "(ap-southeast-2)" in out
    )
    # the approval moved into the Health stage stays a manual approval
    assert "Prod-1-Health (run 1) manual approval: PromoteToProdEu: Promote to ProdEu?" in out


def test_show_markdown_carries_the_same_facts_escaped(progressive, capsys):
    status, out, _ = run(capsys, "show", progressive, "--format", "markdown")
    assert status == 0
    assert (
        "**Triggers** (source action `orders-repo`): push: branches main except legacy/\\*; "
        "file paths services/orders/\\*\\* except services/orders/docs/\\*\\*; push: tags v\\*; "
        "pull request (OPEN, UPDATED): branches main; file paths services/orders/\\*\\*." in out
    )
    assert "**Deployment model:**" in out
    assert (
        "- Prod-2 (wave: 2 targets in parallel: us-east-1, ap-southeast-2); window: \\* \\* 9-16 ? \\* MON-FRI "
        "Europe/Berlin; rule ChangeFreeze: Lambda change-freeze-check; bake: 30 min watching ProdUs-Errors, "
        "${AWS::StackName}-ProdAu-Latency, then ROLLBACK; on failure: ROLLBACK" in out
    )


# --- show --format json ------------------------------------------------------------------------------


def test_show_json_has_the_deployment_model_as_fields(progressive, capsys):
    status, out, _ = run(capsys, "show", progressive, "--format", "json")
    assert status == 0
    (data,) = json.loads(out)["pipelines"]
    stages = {s["name"]: s for s in data["stages"]}

    wave = stages["Prod-2"]["wave"]
    assert [(t["name"], t["account"], t["region"], t["stacks"]) for t in wave["targets"]] == [
        ("ProdUs", "333333333333", "us-east-1", ["ProdUs-Api"]),
        ("ProdAu", "333333333333", "ap-southeast-2", ["ProdAu-Api"]),
    ]
    assert stages["Prod-1"]["wave"] is None

    gate = stages["Prod-2-Health"]["health_gate"]
    assert gate["guards"] == "Prod-2"
    assert gate["checks"] == [
        {"action": "HealthCheck-ProdUs", "target": "ProdUs", "region": "us-east-1"},
        {"action": "HealthCheck-ProdAu", "target": "ProdAu", "region": "ap-southeast-2"},
    ]
    assert stages["Prod-2"]["health_gate"] is None

    conditions = stages["Prod-2"]["conditions"]
    (entry,) = conditions["before_entry"]
    assert entry["result"] == "FAIL"
    assert [(r["name"], r["provider"], r["configuration"]) for r in entry["rules"]] == [
        ("DeploymentWindow", "DeploymentWindow", {"Cron": "* * 9-16 ? * MON-FRI", "TimeZone": "Europe/Berlin"}),
        ("ChangeFreeze", "LambdaInvoke", {"FunctionName": "change-freeze-check"}),
    ]
    (bake,) = conditions["on_success"]
    assert bake["result"] == "ROLLBACK"
    assert [(r["provider"], r["region"], r["configuration"]["AlarmName"]) for r in bake["rules"]] == [
        ("CloudWatchAlarm", "us-east-1", "ProdUs-Errors"),
        ("CloudWatchAlarm", "ap-southeast-2", "${AWS::StackName}-ProdAu-Latency"),
    ]
    assert bake["rules"][0]["configuration"]["WaitTime"] == "30"
    assert conditions["on_failure"] == {"result": "ROLLBACK", "retry_mode": None, "conditions": []}
    assert stages["Dev"]["conditions"]["on_failure"] == {
        "result": "RETRY",
        "retry_mode": "FAILED_ACTIONS",
        "conditions": [],
    }
    assert stages["Prod-2"]["notes"][0] == "wave: 2 targets in parallel: us-east-1, ap-southeast-2"
    assert stages["Build"]["notes"] == []

    (trigger,) = data["triggers"]
    assert trigger["provider_type"] == "CodeStarSourceConnection"
    assert trigger["source_action"] == "orders-repo"
    push, tags, pull = trigger["filters"]
    assert push["event"] == "push"
    assert push["branches"] == {"includes": ["main"], "excludes": ["legacy/*"]}
    assert push["file_paths"] == {"includes": ["services/orders/**"], "excludes": ["services/orders/docs/**"]}
    assert tags["tags"] == {"includes": ["v*"], "excludes": []}
    assert pull["event"] == "pull request"
    assert pull["events"] == ["OPEN", "UPDATED"]
    assert [g["kind"] for g in data["gates"]].count(GATE_HEALTH) == 3


# --- graph -----------------------------------------------------------------------------------------


def test_mermaid_stage_titles_carry_notes_and_the_source_its_triggers(progressive):
    p = pipeline_of(progressive)
    text = render_graph(p, "mermaid")
    labels = check_mermaid(text)["labels"]
    assert (
        "Prod-2<br/>wave: 2 targets in parallel: us-east-1, ap-southeast-2<br/>"
        + WINDOW
        + (
            "<br/>rule ChangeFreeze: Lambda change-freeze-check<br/>bake: 30 min watching ProdUs-Errors, "
            "${AWS::StackName}-ProdAu-Latency, then ROLLBACK<br/>on failure: ROLLBACK"
        )
        in labels
    )
    assert f"Prod-1-Health<br/>AWS Health gate of Prod-1: eu-west-1<br/>{WINDOW}" in labels
    source = next(label for label in labels if label.startswith("orders-repo"))
    assert source.split("<br/>")[2:] == [
        "on push: branches main except legacy/*; file paths services/orders/** except services/orders/docs/**",
        "on push: tags v*",
        "on pull request (OPEN, UPDATED): branches main; file paths services/orders/**",
    ]
    assert 'HealthCheck-ProdAu<br/>AWS Health check · Lambda<br/>AWS Health in ap-southeast-2"}}:::gate' in text


def test_dot_cluster_labels_carry_notes(progressive):
    p = pipeline_of(progressive)
    text = render_graph(p, "dot")
    graph = parse_dot(text)
    assert len(graph.clusters) == len(p.stages)
    assert '  label="Dev\\non failure: RETRY (FAILED_ACTIONS)"; style=' in text
    assert (
        f'label="Prod-1\\n{WINDOW}\\nbake: 30 min watching ProdEu-Errors, then ROLLBACK\\non failure: ROLLBACK";'
        in text
    )
    assert "on push: tags v*" in text


def assert_arrows_clear_of_notes(root: ET.Element) -> None:
    """The SVG has stage notes, and no arrow crosses one."""
    notes = [_text_rect(t) for t in root.iter(f"{SVG}text") if "stage-note" in (t.get("class") or "").split()]
    assert notes
    for edge in (e for e in root.iter(f"{SVG}path") if "edge" in (e.get("class") or "").split()):
        for seg in segments(edge.get("d")):
            assert not any(segment_crosses(seg, r, margin=0) for r in notes), seg


def test_svg_draws_notes_in_the_title_column_and_stays_readable(progressive):
    p = pipeline_of(progressive)
    svg = render_graph(p, "svg")
    assert_readable_svg(svg, p)
    root = ET.fromstring(svg)
    bands = [g for g in root.iter(f"{SVG}g") if g.get("class") == "stage"]
    assert len(bands) == len(p.stages)
    for band, stage in zip(bands, p.stages, strict=True):
        notes = [t for t in band if "stage-note" in (t.get("class") or "").split()]
        # wrapped lines joined again give every note, whole, in order
        assert "".join(t.text or "" for t in notes).replace(" ", "") == "".join(stage.notes).replace(" ", "")
        rect = next(e for e in band if e.tag == f"{SVG}rect")
        for t in notes:
            r = _text_rect(t)
            assert r.right <= float(rect.get("x")) + NOTES_GUTTER_W, (t.text, r)
    assert_arrows_clear_of_notes(root)
    # the trigger filters are in the source box, whole
    source = next(g for g in root.iter(f"{SVG}g") if "source" in (g.get("class") or "").split())
    words = " ".join(t.text or "" for t in source.iter(f"{SVG}text"))
    assert "tags v*" in words
    assert "pull request (OPEN, UPDATED)" in words


# --- templates without the new properties --------------------------------------------------------


@pytest.mark.parametrize("path", HAND_MADE, ids=lambda p: p.name)
def test_templates_without_conditions_show_nothing_new(path, capsys):
    for p in pipelines_at(path):
        assert p.triggers == ()
        assert all(not s.notes and not s.conditions and s.wave is None and s.health_gate is None for s in p.stages)
        assert GATE_HEALTH not in {g.kind for g in p.gates}
        svg = ET.fromstring(render_graph(p, "svg"))
        first_box = min(float(r.get("x")) for r in svg.iter(f"{SVG}rect") if r.get("class") == "box")
        assert first_box >= 16 + GUTTER_W
        assert first_box < 16 + NOTES_GUTTER_W  # the narrow title column
        labels = check_mermaid(render_graph(p, "mermaid"))["labels"]
        assert {s.name for s in p.stages} <= set(labels)  # stage titles are the bare names
    status, out, _ = run(capsys, "show", path)
    assert status == 0
    assert "Deployment model" not in out
    assert "Triggers" not in out
    _, out, _ = run(capsys, "show", path, "--format", "json")
    for data in json.loads(out)["pipelines"]:
        assert data["triggers"] == []
        for s in data["stages"]:
            assert s["wave"] is None
            assert s["health_gate"] is None
            assert s["notes"] == []
            assert s["conditions"] == {"before_entry": [], "on_success": [], "on_failure": None}


@pytest.mark.synth
def test_a_cdk_pipelines_wave_of_an_old_app_is_shown_as_a_wave(waves_out, capsys):
    status, out, _ = run(capsys, "show", waves_out, "--pipeline", "orders")
    assert status == 0
    assert (
        "    Regions (wave: 5 targets in parallel: us-east-1, us-west-2, eu-central-1, ap-southeast-2, eu-north-1)"
        in out
    )
    assert "Dev (" not in out  # one stack at a time: not parallel
    p = next(p for p in pipelines_at(waves_out) if p.name == "orders")
    svg = render_graph(p, "svg")
    assert_readable_svg(svg, p)  # the wide wave wraps beside the wider title column
    assert_arrows_clear_of_notes(ET.fromstring(svg))


# --- parallel deployments --------------------------------------------------------------------------


def _deploy(name: str, stack: str, region: str, account: str, order: int) -> dict[str, Any]:
    return {
        "Name": name,
        "ActionTypeId": {"Category": "Deploy", "Owner": "AWS", "Provider": "CloudFormation", "Version": "1"},
        "Configuration": {"StackName": stack, "ActionMode": "CHANGE_SET_REPLACE"},
        "Region": region,
        "RoleArn": f"arn:aws:iam::{account}:role/deploy",
        "RunOrder": order,
    }


def _with_stage(tmp_path: Path, stage: dict[str, Any]) -> Pipeline:
    tmpl = template()
    stages_of(tmpl)[2] = stage
    return pipeline_of(write_assembly(tmp_path / "cdk.out", tmpl))


def test_one_target_with_parallel_stacks(tmp_path):
    p = _with_stage(
        tmp_path,
        {
            "Name": "Dev",
            "Actions": [
                _deploy("Api.Prepare", "Dev-Api", "eu-west-1", "111111111111", 1),
                _deploy("Data.Prepare", "Dev-Data", "eu-west-1", "111111111111", 1),
            ],
        },
    )
    assert p.stages[2].headline == "2 stacks in parallel: Dev-Api, Dev-Data"


def test_targets_in_one_region_are_told_apart_by_account(tmp_path):
    p = _with_stage(
        tmp_path,
        {
            "Name": "Prod",
            "Actions": [
                _deploy("A.Api.Deploy", "A-Api", "eu-west-1", "222222222222", 1),
                _deploy("B.Api.Deploy", "B-Api", "eu-west-1", "333333333333", 1),
            ],
        },
    )
    assert p.stages[2].headline == "wave: 2 targets in parallel: 222222222222/eu-west-1, 333333333333/eu-west-1"


def test_targets_one_after_the_other_are_not_a_wave(tmp_path):
    p = _with_stage(
        tmp_path,
        {
            "Name": "Prod",
            "Actions": [
                _deploy("Eu.Api.Deploy", "Eu-Api", "eu-west-1", "333333333333", 1),
                _deploy("Us.Api.Deploy", "Us-Api", "us-east-1", "333333333333", 2),
            ],
        },
    )
    assert p.stages[2].wave is None
    assert p.stages[2].notes == []


def test_a_health_stage_guards_the_next_stage_when_no_stage_has_its_base_name(tmp_path):
    tmpl = template()
    stages_of(tmpl)[5]["Name"] = "Checks-Health"
    p = pipeline_of(write_assembly(tmp_path / "cdk.out", tmpl))
    assert p.stages[5].headline == "AWS Health gate of Prod-2: us-east-1, ap-southeast-2"


# --- conditions in other shapes --------------------------------------------------------------------


def test_bake_groups_alarms_by_wait_time_and_names_unusual_states():
    def alarm(name: str, wait: int, states: str = "ALARM") -> dict[str, Any]:
        return {
            "Name": name,
            "RuleTypeId": {"Category": "Rule", "Owner": "AWS", "Provider": "CloudWatchAlarm", "Version": "1"},
            "Configuration": {"AlarmName": name, "WaitTime": wait, "AlarmStates": states},
        }

    stage = {
        "OnSuccess": {
            "Conditions": [
                {
                    "Result": "ROLLBACK",
                    "Rules": [alarm("A", 30), alarm("B", 10, "ALARM,INSUFFICIENT_DATA"), alarm("C", 30)],
                }
            ]
        },
        "OnFailure": {
            "Result": "ROLLBACK",
            "Conditions": [
                {
                    "Result": "ROLLBACK",
                    "Rules": [
                        {
                            "Name": "Errors",
                            "RuleTypeId": {"Provider": "CloudWatchAlarm"},
                            "Configuration": {"AlarmName": "E", "WaitTime": 5},
                        }
                    ],
                }
            ],
        },
    }
    conditions = parse_conditions(stage, _render)
    assert conditions.lines == [
        "bake: 30 min watching A, C; 10 min watching B (in ALARM,INSUFFICIENT_DATA), then ROLLBACK",
        "on failure: ROLLBACK when bake: 5 min watching E, then ROLLBACK",
    ]


def test_unusual_results_and_other_rule_types_are_named():
    stage = {
        "BeforeEntry": {
            "Conditions": [
                {
                    "Result": "SKIP",
                    "Rules": [
                        {
                            "Name": "Ready",
                            "RuleTypeId": {"Category": "Rule", "Owner": "AWS", "Provider": "VariableCheck"},
                            "Configuration": {"Variable": "#{Build.READY}", "Operator": "EQ", "Value": "yes"},
                        },
                        {"Name": "NoCron", "RuleTypeId": {"Provider": "DeploymentWindow"}},
                    ],
                }
            ]
        }
    }
    assert parse_conditions(stage, _render).lines == [
        "rule Ready: VariableCheck (Variable=#{Build.READY}, Operator=EQ, Value=yes), else SKIP",
        "window: ?, else SKIP",
    ]


def _render(value: Any) -> str:
    return "" if value is None else str(value)


def test_odd_shapes_and_intrinsics_never_crash(tmp_path, capsys):
    tmpl = template()
    props = tmpl["Resources"]["Pipeline"]["Properties"]
    props["Triggers"] = [
        {"ProviderType": "CodeStarSourceConnection"},  # no GitConfiguration
        {
            "ProviderType": {"Ref": "Provider"},
            "GitConfiguration": {
                "SourceActionName": {"Ref": "SourceName"},
                "Push": {"Branches": {"Includes": ["main"]}},  # not a list: ignored
                "PullRequest": [
                    {"Branches": {"Includes": {"Ref": "Branches"}, "Excludes": "x"}, "Events": "OPEN"},
                    "not a filter",
                ],
            },
        },
        "not a trigger",
    ]
    stages = stages_of(tmpl)
    stages[2]["BeforeEntry"] = {"Fn::If": ["IsProd", {"Conditions": []}, {"Ref": "AWS::NoValue"}]}
    stages[2]["OnSuccess"] = {"Conditions": "none"}
    stages[2]["OnFailure"] = {"Result": {"Ref": "FailureMode"}, "RetryConfiguration": "bad"}
    stages[4]["OnSuccess"] = {
        "Conditions": [
            "bad",
            {"Rules": [{"Name": "NoType"}, {"RuleTypeId": "x", "Configuration": {"Fn::GetAtt": ["A", "B"]}}, 3]},
        ]
    }
    stages[5]["Actions"][0]["Configuration"]["UserParameters"] = "{not json"
    stages[6]["BeforeEntry"] = {"Conditions": [{"Result": "FAIL", "Rules": "none"}]}
    path = write_assembly(tmp_path / "cdk.out", tmpl)
    status, out, err = run(capsys, "show", path)
    assert status == 0, err
    assert "Triggers (source action ?, CodeStarSourceConnection):\n    any change" in out
    assert (
        "Triggers (source action ${SourceName}, ${Provider}):\n    pull request (OPEN): branches ${Branches} except x"
        in out
    )
    assert "      on failure: ${FailureMode}\n" in out
    # rules without a type or a name are still listed; a computed configuration is one value
    assert "      rule NoType: ?\n      rule ?: ? (Configuration=${A.B})\n" in out
    # a check whose UserParameters are not JSON: the region of the action
    assert "HealthCheck-ProdUs: fails while AWS Health reports an open issue (eu-west-1)" in out
    for fmt in ("json", "markdown"):
        assert run(capsys, "show", path, "--format", fmt)[0] == 0
    for fmt in ("mermaid", "dot", "svg"):
        status, out, err = run(capsys, "graph", path, "--format", fmt)
        assert status == 0, err
    check_mermaid(render_graph(pipeline_of(path), "mermaid"))
    parse_dot(render_graph(pipeline_of(path), "dot"))


def test_the_fixture_is_in_cloudformation_shape():
    """Keys exactly as the AWS::CodePipeline::Pipeline reference spells them (a typo would test nothing)."""
    tmpl = template()
    props = tmpl["Resources"]["Pipeline"]["Properties"]
    allowed_stage = {"Name", "Actions", "BeforeEntry", "OnSuccess", "OnFailure", "Blockers"}
    allowed_rule = {"Name", "RuleTypeId", "Configuration", "Region", "RoleArn", "InputArtifacts", "Commands"}
    for stage in props["Stages"]:
        assert set(stage) <= allowed_stage
        for key in ("BeforeEntry", "OnSuccess"):
            for condition in stage.get(key, {}).get("Conditions", []):
                assert set(condition) <= {"Result", "Rules"}
                for rule in condition["Rules"]:
                    assert set(rule) <= allowed_rule
                    assert set(rule["RuleTypeId"]) == {"Category", "Owner", "Provider", "Version"}
        assert set(stage.get("OnFailure", {})) <= {"Result", "RetryConfiguration", "Conditions"}
    (trigger,) = props["Triggers"]
    assert set(trigger) == {"ProviderType", "GitConfiguration"}
    assert set(trigger["GitConfiguration"]) == {"SourceActionName", "Push", "PullRequest"}
    for push in trigger["GitConfiguration"]["Push"]:
        assert set(push) <= {"Branches", "FilePaths", "Tags"}
    for pull in trigger["GitConfiguration"]["PullRequest"]:
        assert set(pull) <= {"Branches", "FilePaths", "Events"}


# --- a synthesized assembly --------------------------------------------------------------------------


def _synthesize_l2_pipeline(outdir: Path) -> Path:
    """A CodePipeline V2 (the ``aws_codepipeline`` L2, which writes conditions and triggers itself)."""
    import aws_cdk as cdk
    from aws_cdk import aws_codepipeline as cp
    from aws_cdk import aws_codepipeline_actions as cpa
    from aws_cdk import aws_lambda as lambda_

    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Orders", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    source_output = cp.Artifact("Source")
    source = cpa.CodeStarConnectionsSourceAction(
        action_name="orders-repo",
        owner="acme",
        repo="monorepo",
        branch="main",
        connection_arn="arn:aws:codeconnections:eu-west-1:111111111111:connection/abc",
        output=source_output,
        trigger_on_push=False,
    )
    check = lambda_.Function(
        stack,
        "HealthCheck",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    pass\n"),
    )

    def deploy(target: str, region: str) -> list[cp.IAction]:
        return [
            cpa.CloudFormationCreateUpdateStackAction(
                action_name=f"{target}.Api.Deploy",
                stack_name=f"{target}-Api",
                template_path=source_output.at_path("api.template.json"),
                admin_permissions=False,
                region=region,
                run_order=1,
            )
        ]

    window = cp.Rule(
        name="Window",
        provider="DeploymentWindow",
        version="1",
        configuration={"Cron": "* * 9-16 ? * MON-FRI", "TimeZone": "Europe/Berlin"},
    )
    bake = cp.Rule(
        name="Errors",
        provider="CloudWatchAlarm",
        version="1",
        region="us-east-1",
        configuration={"AlarmName": "ProdUs-Errors", "AlarmStates": "ALARM", "WaitTime": "20"},
    )
    cp.Pipeline(
        stack,
        "Pipeline",
        pipeline_name="orders-l2",
        pipeline_type=cp.PipelineType.V2,
        triggers=[
            cp.TriggerProps(
                provider_type=cp.ProviderType.CODE_STAR_SOURCE_CONNECTION,
                git_configuration=cp.GitConfiguration(
                    source_action=source,
                    push_filter=[cp.GitPushFilter(branches_includes=["main"], file_paths_includes=["services/**"])],
                ),
            )
        ],
        stages=[
            cp.StageProps(stage_name="Source", actions=[source]),
            cp.StageProps(
                stage_name="Prod-Health",
                actions=[
                    cpa.LambdaInvokeAction(action_name=f"HealthCheck-{t}", lambda_=check, user_parameters={"region": r})
                    for t, r in (("ProdUs", "us-east-1"), ("ProdAu", "ap-southeast-2"))
                ],
                before_entry=cp.Conditions(conditions=[cp.Condition(result=cp.Result.FAIL, rules=[window])]),
            ),
            cp.StageProps(
                stage_name="Prod",
                actions=[*deploy("ProdUs", "us-east-1"), *deploy("ProdAu", "ap-southeast-2")],
                before_entry=cp.Conditions(conditions=[cp.Condition(result=cp.Result.FAIL, rules=[window])]),
                on_success=cp.Conditions(conditions=[cp.Condition(result=cp.Result.ROLLBACK, rules=[bake])]),
                on_failure=cp.FailureConditions(result=cp.Result.ROLLBACK),
            ),
        ],
    )
    app.synth()
    return outdir


@pytest.mark.synth
def test_a_synthesized_pipeline_shows_its_deployment_model(tmp_path, capsys):
    path = _synthesize_l2_pipeline(tmp_path / "cdk.out")
    status, out, err = run(capsys, "show", path)
    assert status == 0, err
    assert (
        "  Triggers (source action orders-repo, CodeStarSourceConnection):\n"
        "    push: branches main; file paths services/**\n" in out
    )
    section = out[out.index("  Deployment model:") : out.index("  Gates:")]
    assert section.splitlines() == [
        "  Deployment model:",
        "    Prod-Health (AWS Health gate of Prod: us-east-1, ap-southeast-2)",
        f"      {WINDOW}",
        "    Prod (wave: 2 targets in parallel: us-east-1, ap-southeast-2)",
        f"      {WINDOW}",
        "      bake: 20 min watching ProdUs-Errors, then ROLLBACK",
        "      on failure: ROLLBACK",
        "",
    ]
    p = pipeline_of(path)
    (rule,) = p.stages[2].conditions.on_success[0].rules
    assert rule.region == "us-east-1"
    for fmt in ("mermaid", "dot", "svg"):
        assert run(capsys, "graph", path, "--format", fmt)[0] == 0
    assert_readable_svg(render_graph(p, "svg"), p)
