"""The fixed run-time model (``pipeline-constructs show --estimate``): exact seconds on hand-written templates.

Seconds of the model: CodeBuild 90, CodeBuild on Lambda compute 20, change-set create 20, execute 60,
direct deploy 70, Lambda invoke 15, S3 deploy 10, source 15, manual approval 0, other providers 60
(assumed). A run order costs its slowest action; run orders and stages add up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli.cli_helpers import pipelines_at, run
from cli.test_deployment_model_display import write_assembly
from pipeline_constructs.cli.estimate import DEFAULT_SECONDS, action_cost, estimate, is_skippable
from pipeline_constructs.cli.model import Pipeline

# --- a small template language --------------------------------------------------------------------


def source(name: str = "Repo", order: int = 1) -> dict[str, Any]:
    return {
        "Name": name,
        "RunOrder": order,
        "ActionTypeId": {"Category": "Source", "Owner": "AWS", "Provider": "CodeStarSourceConnection", "Version": "1"},
        "Configuration": {"FullRepositoryId": "org/repo", "BranchName": "main"},
        "OutputArtifacts": [{"Name": "src"}],
    }


def codebuild(name: str, order: int = 1, project: str = "Project") -> dict[str, Any]:
    return {
        "Name": name,
        "RunOrder": order,
        "ActionTypeId": {"Category": "Build", "Owner": "AWS", "Provider": "CodeBuild", "Version": "1"},
        "Configuration": {"ProjectName": {"Ref": project}},
    }


def cfn(name: str, mode: str, order: int = 1) -> dict[str, Any]:
    return {
        "Name": name,
        "RunOrder": order,
        "ActionTypeId": {"Category": "Deploy", "Owner": "AWS", "Provider": "CloudFormation", "Version": "1"},
        "Configuration": {"ActionMode": mode, "StackName": "App"},
    }


def other(name: str, category: str, provider: str, order: int = 1) -> dict[str, Any]:
    return {
        "Name": name,
        "RunOrder": order,
        "ActionTypeId": {"Category": category, "Owner": "AWS", "Provider": provider, "Version": "1"},
    }


def project(env_type: str = "LINUX_CONTAINER", compute: str = "BUILD_GENERAL1_SMALL") -> dict[str, Any]:
    return {
        "Type": "AWS::CodeBuild::Project",
        "Properties": {"Environment": {"Type": env_type, "ComputeType": compute, "Image": "img"}},
    }


def skip_if(*providers: str, result: str = "SKIP") -> dict[str, Any]:
    rules = [
        {"Name": f"Rule{i}", "RuleTypeId": {"Category": "Rule", "Owner": "AWS", "Provider": p, "Version": "1"}}
        for i, p in enumerate(providers)
    ]
    return {"Conditions": [{"Result": result, "Rules": rules}]}


def stage(name: str, *actions: dict[str, Any], before_entry: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"Name": name, "Actions": list(actions)}
    if before_entry is not None:
        out["BeforeEntry"] = before_entry
    return out


def template(*stages: dict[str, Any], projects: dict[str, Any] | None = None) -> dict[str, Any]:
    resources = {"Pipeline": {"Type": "AWS::CodePipeline::Pipeline", "Properties": {"Stages": list(stages)}}}
    resources.update(projects if projects is not None else {"Project": project()})
    return {"Resources": resources}


def pipeline(tmp_path: Path, tmpl: dict[str, Any]) -> Pipeline:
    (p,) = pipelines_at(write_assembly(tmp_path / "cdk.out", tmpl))
    return p


# --- the model ------------------------------------------------------------------------------------


def test_same_run_order_costs_its_slowest_action_and_run_orders_add_up(tmp_path):
    p = pipeline(
        tmp_path,
        template(
            stage("Source", source()),
            stage(
                "Work",
                codebuild("Build", 1),
                cfn("Plan", "CHANGE_SET_REPLACE", 1),
                other("Invoke", "Invoke", "Lambda", 2),
                other("Upload", "Deploy", "S3", 2),
                other("Approve", "Approval", "Manual", 3),
            ),
        ),
    )
    e = estimate(p)
    assert [(s.name, s.steps) for s in e.stages] == [("Source", ((1, 15),)), ("Work", ((1, 90), (2, 15), (3, 0)))]
    assert (e.worst_case, e.typical, e.first_deployment) == (120, 120, None)  # a change-set create deploys nothing
    assert [c.seconds for c in e.stages[1].costs] == [90, 20, 15, 10, 0]
    assert e.assumed == ()


def test_a_stage_that_a_lambda_or_variable_rule_can_skip_counts_only_in_the_worst_case(tmp_path):
    p = pipeline(
        tmp_path,
        template(
            stage("Source", source()),
            stage("Build", codebuild("Synth")),
            stage("UpdatePipeline", codebuild("SelfMutate"), before_entry=skip_if("VariableCheck")),
            stage("Check", other("Probe", "Invoke", "Lambda"), before_entry=skip_if("LambdaInvoke", "VariableCheck")),
            stage("Dev", cfn("Prepare", "CHANGE_SET_REPLACE", 1), cfn("Deploy", "CHANGE_SET_EXECUTE", 2)),
        ),
    )
    e = estimate(p)
    assert [s.skippable for s in e.stages] == [False, False, True, True, False]
    assert [(s.worst_case, s.typical) for s in e.stages] == [(15, 15), (90, 90), (90, 0), (15, 0), (80, 80)]
    assert e.worst_case == 15 + 90 + 90 + 15 + 80 == 290
    assert e.typical == 15 + 90 + 80 == 185
    # the first deployment is done when Dev's execute run order completes: in a typical run, and in the worst case
    assert e.first_deployment == 15 + 90 + 20 + 60 == 185
    assert e.first_deployment_worst_case == 290


@pytest.mark.parametrize(
    ("before_entry", "skippable"),
    [
        (skip_if("VariableCheck"), True),
        (skip_if("LambdaInvoke"), True),
        (skip_if("LambdaInvoke", "DeploymentWindow"), False),  # the clock decides, not the change
        (skip_if("CloudWatchAlarm"), False),
        (skip_if("VariableCheck", result="FAIL"), False),  # fails the run instead of skipping the stage
        (skip_if(), False),  # no rule: nothing that can skip it
        (None, False),
    ],
)
def test_which_before_entry_conditions_make_a_stage_skippable(tmp_path, before_entry, skippable):
    p = pipeline(tmp_path, template(stage("Source", source()), stage("S", codebuild("B"), before_entry=before_entry)))
    assert is_skippable(p.stages[1]) is skippable
    assert estimate(p).typical == (15 if skippable else 105)
    assert estimate(p).worst_case == 105


@pytest.mark.parametrize(
    ("env_type", "compute", "seconds", "kind"),
    [
        ("ARM_LAMBDA_CONTAINER", "BUILD_LAMBDA_1GB", 20, "CodeBuild on Lambda compute"),
        ("LINUX_LAMBDA_CONTAINER", "BUILD_LAMBDA_4GB", 20, "CodeBuild on Lambda compute"),
        ("LINUX_CONTAINER", "BUILD_GENERAL1_SMALL", 90, "CodeBuild"),
        ("ARM_CONTAINER", "BUILD_GENERAL1_LARGE", 90, "CodeBuild"),
    ],
)
def test_codebuild_on_lambda_compute_costs_20_seconds(tmp_path, env_type, compute, seconds, kind):
    p = pipeline(
        tmp_path,
        template(
            stage("Source", source()),
            stage("Build", codebuild("Fast", project="Fast")),
            projects={"Fast": project(env_type, compute)},
        ),
    )
    (action,) = p.stages[1].actions
    assert action.environment_type == env_type
    assert action_cost(action).seconds == seconds
    assert action_cost(action).kind == kind
    assert estimate(p).worst_case == 15 + seconds


def test_first_deployment_is_the_end_of_the_first_execute_or_direct_deploy_run_order(tmp_path):
    p = pipeline(
        tmp_path,
        template(
            stage("Source", source()),
            stage("Build", codebuild("Synth")),
            stage(
                "Dev",
                cfn("Plan", "CHANGE_SET_REPLACE", 1),
                cfn("Direct", "CREATE_UPDATE", 2),
                codebuild("Smoke", 2),  # same run order, slower: the deployment is done when the run order is
                other("Notify", "Invoke", "Lambda", 3),
            ),
            stage("Prod", cfn("Deploy", "CHANGE_SET_EXECUTE")),
        ),
    )
    e = estimate(p)
    assert e.stages[2].steps == ((1, 20), (2, 90), (3, 15))
    assert e.first_deployment == 15 + 90 + 20 + 90 == 215
    assert e.worst_case == e.typical == 215 + 15 + 60 == 290


def test_direct_deploy_costs_70_seconds(tmp_path):
    p = pipeline(tmp_path, template(stage("Source", source()), stage("Deploy", cfn("Stack", "CREATE_UPDATE"))))
    assert (estimate(p).worst_case, estimate(p).first_deployment) == (85, 85)


def test_an_unknown_provider_gets_the_default_and_says_so(tmp_path, capsys):
    tmpl = template(stage("Source", source()), stage("Deploy", other("Service", "Deploy", "ECS")))
    p = pipeline(tmp_path, tmpl)
    e = estimate(p)
    assert DEFAULT_SECONDS == 60
    assert e.worst_case == 15 + 60
    assert [(c.action, c.kind, c.seconds) for c in e.assumed] == [("Deploy/Service", "Deploy/ECS", 60)]
    assert e.first_deployment is None  # the model's first deployment is a CloudFormation one
    status, out, err = run(capsys, "show", tmp_path / "cdk.out", "--estimate")
    assert status == 0, err
    assert "    assumed 60 s for Deploy/Service (Deploy/ECS: provider not in the model)" in out.splitlines()
    assert "  Estimate (fixed model): worst case 75 s, typical run 75 s, first deployment done at never" in out


# --- show --estimate --------------------------------------------------------------------------------


def _skippable_template() -> dict[str, Any]:
    return template(
        stage("Source", source()),
        stage("Build", codebuild("Synth")),
        stage("UpdatePipeline", codebuild("SelfMutate"), before_entry=skip_if("VariableCheck")),
        stage("Dev", cfn("Prepare", "CHANGE_SET_REPLACE", 1), cfn("Deploy", "CHANGE_SET_EXECUTE", 2)),
    )


def test_show_text_has_the_estimate_section_only_when_asked(tmp_path, capsys):
    out_dir = write_assembly(tmp_path / "cdk.out", _skippable_template())
    status, plain, _ = run(capsys, "show", out_dir)
    assert status == 0
    assert "Estimate" not in plain
    status, out, err = run(capsys, "show", out_dir, "--estimate")
    assert status == 0, err
    assert out.startswith(plain.rstrip("\n"))
    section = out[len(plain.rstrip("\n")) :].strip("\n").splitlines()
    assert section == [
        "  Estimate (fixed model): worst case 275 s, typical run 185 s, first deployment done at 185 s",
        "    Stage           run orders (s)  worst s  typical s  note",
        "    --------------  --------------  -------  ---------  -------------------------------------------",
        "    Source          15              15       15",
        "    Build           90              90       90",
        "    UpdatePipeline  90              90       0          skipped in a typical run (BeforeEntry SKIP)",
        "    Dev             20 + 60         80       80",
    ]


def test_show_json_estimate_field(tmp_path, capsys):
    out_dir = write_assembly(tmp_path / "cdk.out", _skippable_template())
    status, out, _ = run(capsys, "show", out_dir, "-f", "json")
    assert status == 0
    assert "estimate" not in json.loads(out)["pipelines"][0]
    status, out, err = run(capsys, "show", out_dir, "-f", "json", "--estimate")
    assert status == 0, err
    e = json.loads(out)["pipelines"][0]["estimate"]
    assert (e["worst_case_s"], e["typical_s"], e["first_deployment_s"], e["first_deployment_worst_case_s"]) == (
        275,
        185,
        185,
        275,
    )
    assert [(s["name"], s["worst_case_s"], s["typical_s"], s["skippable"]) for s in e["stages"]] == [
        ("Source", 15, 15, False),
        ("Build", 90, 90, False),
        ("UpdatePipeline", 90, 0, True),
        ("Dev", 80, 80, False),
    ]
    assert e["stages"][3]["run_orders"] == [{"run_order": 1, "seconds": 20}, {"run_order": 2, "seconds": 60}]
    assert e["assumed"] == []


def test_show_markdown_estimate(tmp_path, capsys):
    out_dir = write_assembly(tmp_path / "cdk.out", _skippable_template())
    status, out, err = run(capsys, "show", out_dir, "-f", "markdown", "--estimate")
    assert status == 0, err
    assert "**Estimate (fixed model):** worst case 275 s, typical run 185 s, first deployment done at 185 s." in out
    assert "| UpdatePipeline | 90 | 0 |" in out


# --- a synthesized example ---------------------------------------------------------------------------


def test_dotnet_lambda_example(synthesized_example):
    """Source 15; Synth 90; SelfMutate 90; FileAssets and Prod's permissions check side by side 90; Dev 20 + 60;
    Prod-Permissions (the check's confirmation, skipped when nothing broadens) 0; Prod: approval 0, 20 + 60;
    the typical run skips UpdatePipeline.
    (Before the early permissions check: Prod was 90 + 0 + 0 + 20 + 60 = 170, 535 s in all.)"""
    (p,) = pipelines_at(synthesized_example("dotnet_lambda"))
    e = estimate(p)
    assert [(s.name, s.worst_case) for s in e.stages] == [
        ("Source", 15),
        ("Build", 90),
        ("UpdatePipeline", 90),
        ("Assets", 90),
        ("Dev", 80),
        ("Prod-Permissions", 0),
        ("Prod", 80),
    ]
    assert e.stages[3].steps == ((1, 90),)
    assert e.stages[-1].steps == ((1, 0), (2, 20), (3, 60))
    assert e.worst_case == 445
    assert e.typical == 355  # UpdatePipeline is skipped unless the pipeline changed (core/self_mutation.py)
    assert e.first_deployment_worst_case == 15 + 90 + 90 + 90 + 20 + 60 == 365
    assert e.first_deployment == 365 - 90
    assert e.assumed == ()
