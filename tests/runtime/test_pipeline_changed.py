"""runtime/pipeline_changed.py, run the way the synth CodeBuild action runs it: the buildspec's commands in
one bash, a cloud assembly on disk and a fake ``aws`` executable on PATH answering from a JSON state file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline_constructs.core.self_mutation import CHANGED_VARIABLE, PipelineChangeCheck

PIPELINE = "Delivery"
SUPPORT = "Delivery-support-us-east-1"
BOOTSTRAP = {
    "BootstrapVersion": {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/cdk-bootstrap/hnb659fds/version",
        "Description": "Version of the CDK Bootstrap resources in this environment, automatically retrieved "
        "from SSM Parameter Store. [cdk:skip]",
    }
}
PIPELINE_TEMPLATE: dict[str, Any] = {
    "Resources": {"Pipeline": {"Type": "AWS::CodePipeline::Pipeline", "Properties": {"Name": "p", "Retries": 1}}},
    "Parameters": BOOTSTRAP,
}
SUPPORT_TEMPLATE: dict[str, Any] = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}, "Parameters": BOOTSTRAP}

# The fake `aws`: answers describe-stacks / get-template from $FAKE_AWS_STATE, logs its argv to $FAKE_AWS_LOG.
FAKE_AWS = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_AWS_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
state = json.load(open(os.environ["FAKE_AWS_STATE"]))
def arg(name):
    return args[args.index(name) + 1]
if "--output" not in args or arg("--output") != "json":
    sys.exit("expected --output json")
command = args[1]
key = arg("--region") + "/" + arg("--stack-name")
if command in state.get("raw", {{}}):
    sys.stdout.write(state["raw"][command])
    sys.exit(0)
stack = state["stacks"].get(key)
if stack is None:
    sys.stderr.write("\\nAn error occurred (ValidationError) when calling the DescribeStacks operation: "
                     "Stack with id " + arg("--stack-name") + " does not exist\\n")
    sys.exit(254)
if command in stack.get("errors", {{}}):
    sys.stderr.write(stack["errors"][command] + "\\n")
    sys.exit(254)
if command == "describe-stacks":
    print(json.dumps({{"Stacks": [stack["describe"]]}}))
elif command == "get-template":
    if arg("--template-stage") != "Original":
        sys.exit("expected --template-stage Original")
    print(json.dumps({{"TemplateBody": stack["body"], "StagesAvailable": ["Original", "Processed"]}}))
else:
    sys.exit("unexpected command " + command)
"""


def _artifact(template_file: str, region: str, deps: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "aws:cloudformation:stack",
        "environment": f"aws://111111111111/{region}",
        "properties": {"templateFile": template_file, "terminationProtection": False, **properties},
        "dependencies": deps,
    }


def _assembly(root: Path, *, pipeline: dict[str, Any] | None = None, **pipeline_props: Any) -> Path:
    out = root / "cdk.out"
    out.mkdir()
    (out / "Delivery.template.json").write_text(json.dumps(pipeline or PIPELINE_TEMPLATE, indent=1))
    (out / f"{SUPPORT}.template.json").write_text(json.dumps(SUPPORT_TEMPLATE, indent=1))
    manifest = {
        "version": "48.0.0",
        "artifacts": {
            "Delivery.assets": {"type": "cdk:asset-manifest", "properties": {"file": "Delivery.assets.json"}},
            SUPPORT: _artifact(f"{SUPPORT}.template.json", "us-east-1", [], stackName=SUPPORT),
            PIPELINE: _artifact(
                "Delivery.template.json",
                "eu-west-1",
                ["Delivery.assets", SUPPORT],
                **{"tags": {"team": "platform", "cost": "ci"}, **pipeline_props},
            ),
            "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}},
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def _describe(name: str, **overrides: Any) -> dict[str, Any]:
    return {
        "StackName": name,
        "StackStatus": "UPDATE_COMPLETE",
        "Tags": [{"Key": "cost", "Value": "ci"}, {"Key": "team", "Value": "platform"}] if name == PIPELINE else [],
        "EnableTerminationProtection": False,
        "NotificationARNs": [],
        **overrides,
    }


def _deployed(**changes: Any) -> dict[str, Any]:
    """The state of the fake account: both stacks deployed as in the assembly, unless ``changes`` say otherwise."""
    stacks = {
        f"eu-west-1/{PIPELINE}": {"describe": _describe(PIPELINE), "body": PIPELINE_TEMPLATE},
        f"us-east-1/{SUPPORT}": {"describe": _describe(SUPPORT), "body": SUPPORT_TEMPLATE},
    }
    for key, value in changes.items():
        region, name, field = key.split("|")
        if value is None:
            del stacks[f"{region}/{name}"]
        elif field == "describe":
            stacks[f"{region}/{name}"]["describe"].update(value)
        else:
            stacks[f"{region}/{name}"][field] = value
    return {"stacks": stacks}


class Build:
    """The synth action's shell: the check's buildspec commands run in one bash, as CodeBuild runs them."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        aws = self.bin / "aws"
        aws.write_text(FAKE_AWS.format(python=sys.executable))
        aws.chmod(0o755)
        self.log = tmp_path / "aws.log"
        self.state = tmp_path / "state.json"

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def run(self, state: dict[str, Any], *, artifact: str = PIPELINE, assembly_dir: str = "cdk.out") -> tuple[str, str]:
        """``(exported value, the script's stderr)``."""
        self.state.write_text(json.dumps(state))
        commands = PipelineChangeCheck(assembly_dir=assembly_dir, stack_artifact_id=artifact).commands()
        script = "set -e\n" + "\n".join(commands) + f'\nprintf "%s" "${CHANGED_VARIABLE}" > "$RESULT"\n'
        env = {
            "PATH": f"{self.bin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
            "CODEBUILD_SRC_DIR": str(self.root),
            "FAKE_AWS_STATE": str(self.state),
            "FAKE_AWS_LOG": str(self.log),
            "RESULT": str(self.root / "result"),
            "HOME": str(self.root),
        }
        proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return (self.root / "result").read_text(), proc.stderr


@pytest.fixture
def build(tmp_path: Path) -> Build:
    if not Path("/bin/bash").exists() and not Path("/usr/bin/bash").exists():  # pragma: no cover
        pytest.skip("needs bash")
    return Build(tmp_path)


def test_unchanged_pipeline_and_support_stack_export_false(build, tmp_path):
    _assembly(tmp_path)
    value, log = build.run(_deployed())
    assert value == "false"
    assert log.count("\n") == 1  # one line saying why
    assert "pipeline-changed: false" in log
    assert PIPELINE in log
    assert SUPPORT in log
    calls = build.calls()
    assert calls[1][:6] == ["cloudformation", "get-template", "--stack-name", PIPELINE, "--region", "eu-west-1"]
    assert {(c[1], c[c.index("--stack-name") + 1], c[c.index("--region") + 1]) for c in calls} == {
        ("describe-stacks", PIPELINE, "eu-west-1"),
        ("get-template", PIPELINE, "eu-west-1"),
        ("describe-stacks", SUPPORT, "us-east-1"),
        ("get-template", SUPPORT, "us-east-1"),
    }
    assert all(c[c.index("--template-stage") + 1] == "Original" for c in calls if c[1] == "get-template")


def test_changed_pipeline_template_exports_true(build, tmp_path):
    changed = json.loads(json.dumps(PIPELINE_TEMPLATE))
    changed["Resources"]["Pipeline"]["Properties"]["Retries"] = 2
    _assembly(tmp_path, pipeline=changed)
    value, log = build.run(_deployed())
    assert value == "true"
    assert f"the template of stack {PIPELINE} (eu-west-1) changes" in log


@pytest.mark.parametrize("deployed", [1.0, True, "1"])
def test_a_value_of_another_json_type_is_a_change(build, tmp_path, deployed):
    body = json.loads(json.dumps(PIPELINE_TEMPLATE))
    body["Resources"]["Pipeline"]["Properties"]["Retries"] = deployed
    _assembly(tmp_path)
    assert build.run(_deployed(**{f"eu-west-1|{PIPELINE}|body": body}))[0] == "true"


def test_key_order_and_formatting_are_no_change(build, tmp_path):
    reordered = {"Parameters": BOOTSTRAP, "Resources": PIPELINE_TEMPLATE["Resources"]}
    _assembly(tmp_path)
    assert build.run(_deployed(**{f"eu-west-1|{PIPELINE}|body": reordered}))[0] == "false"


def test_missing_pipeline_stack_exports_true(build, tmp_path):
    _assembly(tmp_path)
    value, log = build.run(_deployed(**{f"eu-west-1|{PIPELINE}|x": None}))
    assert value == "true"
    assert "does not exist" in log


def test_missing_support_stack_exports_true(build, tmp_path):
    _assembly(tmp_path)
    value, log = build.run(_deployed(**{f"us-east-1|{SUPPORT}|x": None}))
    assert value == "true"
    assert "does not exist" in log


@pytest.mark.parametrize("command", ["describe-stacks", "get-template"])
def test_api_error_exports_true(build, tmp_path, command):
    _assembly(tmp_path)
    error = "An error occurred (AccessDenied) when calling the GetTemplate operation: not authorized"
    value, log = build.run(_deployed(**{f"eu-west-1|{PIPELINE}|errors": {command: error}}))
    assert value == "true"
    assert "AccessDenied" in log
    assert "exit code 254" in log


def test_yaml_string_body_exports_true(build, tmp_path):
    _assembly(tmp_path)
    value, log = build.run(_deployed(**{f"eu-west-1|{PIPELINE}|body": "Resources:\n  Pipeline:\n    Type: X\n"}))
    assert value == "true"
    assert "is not JSON" in log


def test_json_string_body_equal_to_the_template_is_no_change(build, tmp_path):
    _assembly(tmp_path)
    assert build.run(_deployed(**{f"eu-west-1|{PIPELINE}|body": json.dumps(PIPELINE_TEMPLATE)}))[0] == "false"


@pytest.mark.parametrize(
    "tags",
    [
        [{"Key": "cost", "Value": "ci"}],  # one removed
        [{"Key": "cost", "Value": "ci"}, {"Key": "team", "Value": "apps"}],  # one changed
        [{"Key": "cost", "Value": "ci"}, {"Key": "team", "Value": "platform"}, {"Key": "x", "Value": "y"}],  # added
    ],
)
def test_tag_change_exports_true(build, tmp_path, tags):
    _assembly(tmp_path)
    value, log = build.run(_deployed(**{f"eu-west-1|{PIPELINE}|describe": {"Tags": tags}}))
    assert value == "true"
    assert "tags" in log


def test_tags_in_another_order_are_no_change(build, tmp_path):
    _assembly(tmp_path)
    tags = [{"Key": "team", "Value": "platform"}, {"Key": "cost", "Value": "ci"}]
    assert build.run(_deployed(**{f"eu-west-1|{PIPELINE}|describe": {"Tags": tags}}))[0] == "false"


def test_termination_protection_change_exports_true(build, tmp_path):
    _assembly(tmp_path, terminationProtection=True)
    value, log = build.run(_deployed())
    assert value == "true"
    assert "termination protection" in log


def test_notification_arns_change_exports_true(build, tmp_path):
    _assembly(tmp_path)
    arns = {"NotificationARNs": ["arn:aws:sns:eu-west-1:111111111111:t"]}
    assert build.run(_deployed(**{f"eu-west-1|{PIPELINE}|describe": arns}))[0] == "true"


def test_support_stack_change_exports_true(build, tmp_path):
    _assembly(tmp_path)
    body = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"Versioned": True}}}}
    value, log = build.run(_deployed(**{f"us-east-1|{SUPPORT}|body": {**body, "Parameters": BOOTSTRAP}}))
    assert value == "true"
    assert f"the template of stack {SUPPORT} (us-east-1) changes" in log


@pytest.mark.parametrize("status", ["UPDATE_ROLLBACK_FAILED", "UPDATE_IN_PROGRESS", "ROLLBACK_COMPLETE"])
def test_stack_not_in_a_stable_state_exports_true(build, tmp_path, status):
    _assembly(tmp_path)
    value, log = build.run(_deployed(**{f"eu-west-1|{PIPELINE}|describe": {"StackStatus": status}}))
    assert value == "true"
    assert status in log


def test_ssm_parameter_without_the_cdk_skip_marker_exports_true(build, tmp_path):
    template = {**PIPELINE_TEMPLATE, "Parameters": {**BOOTSTRAP, "Ami": {"Type": "AWS::SSM::Parameter::Value<String>"}}}
    _assembly(tmp_path, pipeline=template)
    value, log = build.run(_deployed(**{f"eu-west-1|{PIPELINE}|body": template}))
    assert value == "true"
    assert "parameter Ami comes from SSM" in log


@pytest.mark.parametrize(
    "raw",
    [
        {"describe-stacks": "not json at all"},
        {"describe-stacks": json.dumps({"Stacks": []})},
        {"describe-stacks": json.dumps(["a"])},
        {"get-template": "<html>proxy error</html>"},
        {"get-template": json.dumps({"TemplateBody": None})},
        {"get-template": json.dumps({"TemplateBody": ["x"]})},
    ],
)
def test_garbage_output_exports_true(build, tmp_path, raw):
    _assembly(tmp_path)
    assert build.run({**_deployed(), "raw": raw})[0] == "true"


def test_unknown_artifact_exports_true(build, tmp_path):
    _assembly(tmp_path)
    value, log = build.run(_deployed(), artifact="Other")
    assert value == "true"
    assert "'Other' is not in the cloud assembly's manifest" in log
    assert build.calls() == []


def test_missing_assembly_exports_true(build, tmp_path):
    value, log = build.run(_deployed(), assembly_dir="infra/cdk.out")
    assert value == "true"
    assert "manifest.json" in log


def test_environment_agnostic_stack_exports_true(build, tmp_path):
    out = _assembly(tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["artifacts"][PIPELINE]["environment"] = "aws://unknown-account/unknown-region"
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert build.run(_deployed())[0] == "true"


def test_no_aws_cli_exports_true(build, tmp_path):
    (build.bin / "aws").unlink()
    _assembly(tmp_path)
    value, log = build.run(_deployed())
    assert value == "true"
    assert "could not run" in log


def test_a_failing_python_exports_true_whatever_it_printed(build, tmp_path):
    """The buildspec's fallback: the variable is `true` unless the script ran and printed `false`."""
    _assembly(tmp_path)
    python = build.bin / "python3"
    python.write_text("#!/bin/sh\necho false\nexit 1\n")
    python.chmod(0o755)
    assert build.run(_deployed())[0] == "true"


def test_script_called_directly_without_arguments_says_changed(tmp_path):
    from pipeline_constructs.core.self_mutation import script_text

    script = tmp_path / "pipeline_changed.py"
    script.write_text(script_text())
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stdout) == (0, "true\n")
    assert "usage" in proc.stderr


def test_script_uses_only_the_standard_library():
    import ast

    from pipeline_constructs.core.self_mutation import script_text

    tree = ast.parse(script_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


# -- end to end: the commands of a synthesized Synth buildspec, against that synth's cloud assembly ----------


def _synth_commands(template: dict[str, Any]) -> list[str]:
    (project,) = [
        r["Properties"]
        for logical, r in template["Resources"].items()
        if r["Type"] == "AWS::CodeBuild::Project" and "BuildSynth" in logical
    ]
    spec = project["Source"]["BuildSpec"]
    if isinstance(spec, dict):
        spec = "".join(p if isinstance(p, str) else "TOKEN" for p in spec["Fn::Join"][1])
    return json.loads(spec)["phases"]["build"]["commands"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("deployed", ["as synthesized", "one byte changed", "missing"])
def test_synthesized_buildspec_against_its_own_assembly(build, tmp_path, synthesized_example, deployed):
    import shutil

    assembly = synthesized_example("dotnet_lambda")
    shutil.copytree(assembly, tmp_path / "cdk.out")
    template = json.loads((assembly / "DotnetLambdaPipeline.template.json").read_text())
    body = json.loads(json.dumps(template))
    if deployed == "one byte changed":
        body["Description"] = body.get("Description", "") + "x"
    stacks = {}
    if deployed != "missing":
        stacks["eu-west-1/DotnetLambdaPipeline"] = {
            "describe": _describe("DotnetLambdaPipeline", Tags=[]),
            "body": body,
        }
    build.state.write_text(json.dumps({"stacks": stacks}))
    commands = _synth_commands(template)[-2:]  # the check: after cdk synth, which this test does not rerun
    script = "set -e\n" + "\n".join(commands) + '\nprintf "%s" "$PIPELINE_CHANGED" > "$RESULT"\n'
    env = {
        "PATH": f"{build.bin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
        "CODEBUILD_SRC_DIR": str(tmp_path),
        "FAKE_AWS_STATE": str(build.state),
        "FAKE_AWS_LOG": str(build.log),
        "RESULT": str(tmp_path / "result"),
    }
    proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "result").read_text() == ("false" if deployed == "as synthesized" else "true")
    assert [c[1] for c in build.calls()][:1] == ["describe-stacks"]
