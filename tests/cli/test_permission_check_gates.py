"""The CLI recognizes both forms of the permission-check gate: CDK's (check and confirmation in the gated
stage) and the early one (check in Assets, confirmation alone in a later, skippable stage)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cli.cli_helpers import pipelines_at, run
from cli.test_deployment_model_display import write_assembly
from pipeline_constructs.cli.estimate import estimate
from pipeline_constructs.cli.model import GATE_APPROVAL, GATE_PERMISSION_CHECK

CHECK_SPEC = json.dumps(
    {"version": "0.2", "phases": {"build": {"commands": ["if cdk diff -a . --security-only --fail x/\\*; then :; fi"]}}}
)


def _action(name: str, provider: str, order: int, **extra: Any) -> dict[str, Any]:
    category = {"CodeBuild": "Build", "Manual": "Approval", "CloudFormation": "Deploy"}.get(provider, "Source")
    return {
        "Name": name,
        "RunOrder": order,
        "ActionTypeId": {"Category": category, "Owner": "AWS", "Provider": provider, "Version": "1"},
        **extra,
    }


def _check(name: str, namespace: str, order: int = 1) -> dict[str, Any]:
    return _action(name, "CodeBuild", order, Namespace=namespace, Configuration={"ProjectName": {"Ref": "Check"}})


def _confirm(name: str, namespace: str, order: int = 1) -> dict[str, Any]:
    return _action(
        name,
        "Manual",
        order,
        Configuration={"CustomData": f"#{{{namespace}.MESSAGE}}", "ExternalEntityLink": f"#{{{namespace}.LINK}}"},
    )


def _template(stages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Resources": {
            "Check": {"Type": "AWS::CodeBuild::Project", "Properties": {"Source": {"BuildSpec": CHECK_SPEC}}},
            "Pipeline": {"Type": "AWS::CodePipeline::Pipeline", "Properties": {"Name": "orders", "Stages": stages}},
        }
    }


SKIP = {
    "Conditions": [
        {
            "Result": "SKIP",
            "Rules": [
                {
                    "Name": "PermissionsBroadenedOrUnchecked",
                    "RuleTypeId": {"Category": "Rule", "Owner": "AWS", "Provider": "VariableCheck", "Version": "1"},
                    "Configuration": {
                        "Variable": "#{PermissionCheck-Prod.PERMISSIONS}",
                        "Operator": "NE",
                        "Value": "passed",
                    },
                }
            ],
        }
    ]
}

EARLY = [
    {"Name": "Source", "Actions": [_action("Repo", "CodeStarSourceConnection", 1)]},
    {
        "Name": "Assets",
        "Actions": [
            _action("FileAssets", "CodeBuild", 1, Configuration={"ProjectName": {"Ref": "Other"}}),
            _check("PermissionCheck-Prod", "PermissionCheck-Prod"),
        ],
    },
    {"Name": "Dev", "Actions": [_action("Deploy", "CloudFormation", 1)]},
    {
        "Name": "Prod-Permissions",
        "BeforeEntry": SKIP,
        "Actions": [_confirm("PermissionCheck.Confirm", "PermissionCheck-Prod")],
    },
    {
        "Name": "Prod",
        "Actions": [
            _action("PromoteToProd", "Manual", 1, Configuration={"CustomData": "Ship it?"}),
            _action("Deploy", "CloudFormation", 2),
        ],
    },
]

CDK_FORM = [
    {"Name": "Source", "Actions": [_action("Repo", "CodeStarSourceConnection", 1)]},
    {
        "Name": "Prod",
        "Actions": [
            _check("PermissionCheck.Check", "c8b1"),
            _confirm("PermissionCheck.Confirm", "c8b1", 2),
            _action("PromoteToProd", "Manual", 3, Configuration={"CustomData": "Ship it?"}),
            _action("Deploy", "CloudFormation", 4),
        ],
    },
]


def test_the_early_form_is_one_gate_check_then_confirmation_in_its_own_stage(tmp_path: Path):
    (p,) = pipelines_at(write_assembly(tmp_path / "cdk.out", _template(EARLY)))
    confirm = next(a for a in p.actions if a.name == "PermissionCheck.Confirm")
    assert confirm.gate == GATE_PERMISSION_CHECK  # not a separate manual approval gate
    check, promote = p.gates
    assert (check.stage, check.kind, check.action_names) == (
        "Assets",
        GATE_PERMISSION_CHECK,
        ("PermissionCheck-Prod", "Prod-Permissions/PermissionCheck.Confirm"),
    )
    assert check.run_orders == (1,)
    assert check.skipped_stages == ("Prod-Permissions",)
    assert check.description == (
        "PermissionCheck-Prod -> Prod-Permissions/PermissionCheck.Confirm: stops for approval when IAM or "
        "security-group permissions broaden (confirmation stage Prod-Permissions skipped when nothing broadens)"
    )
    assert (promote.stage, promote.kind, promote.action_names) == ("Prod", GATE_APPROVAL, ("PromoteToProd",))
    assert p.to_dict()["gates"][0] == {
        "stage": "Assets",
        "kind": GATE_PERMISSION_CHECK,
        "actions": ["PermissionCheck-Prod", "Prod-Permissions/PermissionCheck.Confirm"],
    }


def test_show_prints_the_early_gate_and_the_estimate_counts_the_confirmation_stage_only_in_the_worst_case(
    tmp_path: Path, capsys
):
    path = write_assembly(tmp_path / "cdk.out", _template(EARLY))
    status, out, _ = run(capsys, "show", path)
    assert status == 0
    assert (
        "    Assets (run 1) permission check: PermissionCheck-Prod -> Prod-Permissions/PermissionCheck.Confirm: "
        "stops for approval when IAM or security-group permissions broaden (confirmation stage Prod-Permissions "
        "skipped when nothing broadens)"
    ) in out.splitlines()
    (p,) = pipelines_at(path)
    e = estimate(p)
    confirm = next(s for s in e.stages if s.name == "Prod-Permissions")
    assert confirm.skippable
    assert e.typical == 15 + 90 + 60 + 0 + 60  # the check costs nothing beside FileAssets


def test_cdks_form_is_shown_as_before(tmp_path: Path, capsys):
    path = write_assembly(tmp_path / "cdk.out", _template(CDK_FORM))
    (p,) = pipelines_at(path)
    check, promote = p.gates
    assert (check.stage, check.action_names, check.run_orders, check.skipped_stages) == (
        "Prod",
        ("PermissionCheck.Check", "PermissionCheck.Confirm"),
        (1, 2),
        (),
    )
    _, out, _ = run(capsys, "show", path)
    assert (
        "    Prod (run 1-2) permission check: PermissionCheck.Check -> PermissionCheck.Confirm: stops for approval "
        "when IAM or security-group permissions broaden"
    ) in out.splitlines()
    assert promote.action_names == ("PromoteToProd",)


def test_an_approval_reading_a_later_stages_check_is_not_its_confirmation(tmp_path: Path):
    stages = [
        {"Name": "Source", "Actions": [_action("Repo", "CodeStarSourceConnection", 1)]},
        {"Name": "Early", "Actions": [_confirm("Confirm", "Late")]},
        {"Name": "Later", "Actions": [_check("Check", "Late")]},
    ]
    (p,) = pipelines_at(write_assembly(tmp_path / "cdk.out", _template(stages)))
    assert next(a for a in p.actions if a.name == "Confirm").gate == GATE_APPROVAL
    assert [g.action_names for g in p.gates] == [("Confirm",), ("Check",)]
