"""The pytest plugin and pipeline_constructs.testing, including the example of docs/testing.md."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs

from pipeline_constructs.testing import (
    assert_no_unacknowledged_findings,
    deterministic_app,
    normalize_template,
    stack_template,
)

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "testing.md"
TESTING = ROOT / "src" / "pipeline_constructs" / "testing"


def docs_example() -> tuple[str, str]:
    """(file name, code) of the example marked ``<!-- example: NAME -->`` in docs/testing.md."""
    match = re.search(r"<!-- example: (\S+) -->\s*```python\n(.*?)```", DOCS.read_text(), re.S)
    assert match, "docs/testing.md lost its example"
    return match[1], match[2]


def run_pytest(where: Path, *args: str, no_site: bool = False) -> subprocess.CompletedProcess[str]:
    """A separate pytest session in ``where`` (its own rootdir), with plugins loaded from entry points.

    ``no_site``: run without ``site`` (``python -S``), so no ``.pth`` file of the
    environment runs, with site-packages and ``src`` on ``PYTHONPATH`` instead:
    only the plugin can select the Node then.
    """
    (where / "pytest.ini").write_text("[pytest]\n")
    drop = ("JSII_NODE", "PYTEST_ADDOPTS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTHONPATH")
    clean = {k: v for k, v in os.environ.items() if k not in drop}
    python = [sys.executable]
    if no_site:
        python.append("-S")
        clean["PYTHONPATH"] = os.pathsep.join([sysconfig.get_paths()["purelib"], str(ROOT / "src")])
    return subprocess.run(
        [*python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=where,
        env=clean,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.synth
def test_docs_example_runs_and_snapshots(tmp_path):
    name, code = docs_example()
    (tmp_path / name).write_text(code)
    first = run_pytest(tmp_path, "--snapshot-update")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "3 passed" in first.stdout
    (snap,) = (tmp_path / "__snapshots__").rglob("*.json")
    text = snap.read_text()
    template = json.loads(text)
    assert "AWS::CDK::Metadata" not in text  # no version metadata
    assert "<hash>" in text  # asset hashes normalized
    assert not re.search(r"\b[0-9a-f]{64}\b", text)
    assert any(r["Type"] == "AWS::CodePipeline::Pipeline" for r in template["Resources"].values())
    again = run_pytest(tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "3 passed" in again.stdout


NODE_TEST = """
import os
import sys

NODE_AT_IMPORT = os.environ.get("JSII_NODE")
CDK_LOADED_BY_PLUGIN = "aws_cdk" in sys.modules


def test_node():
    print(f"JSII_NODE={NODE_AT_IMPORT} CDK={CDK_LOADED_BY_PLUGIN}")
"""


def test_plugin_selects_node_24_before_tests_import_the_cdk(tmp_path):
    from pipeline_constructs.core.private.node import project_node

    (tmp_path / "test_node.py").write_text(NODE_TEST)
    on = run_pytest(tmp_path, "-s", no_site=True)
    assert on.returncode == 0, on.stdout + on.stderr
    assert f"JSII_NODE={project_node()}" in on.stdout
    off = run_pytest(tmp_path, "-s", "-p", "no:pipeline_constructs", no_site=True)
    assert off.returncode == 0, off.stdout + off.stderr
    assert "JSII_NODE=None" in off.stdout


def test_plugin_and_testing_do_not_import_the_cdk_at_module_level():
    for path in (TESTING / "plugin.py", TESTING / "__init__.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only; functions import lazily
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] in {"aws_cdk", "constructs", "cdk_nag"} for n in names), path


def test_normalize_template_masks_hashes_only():
    digest = "a" * 64
    template = {
        "Resources": {
            "Fn": {
                "Properties": {"Code": {"S3Key": f"{digest}.zip"}, "Handler": "index.handler", "Size": 3},
                "Metadata": {f"key-{digest}": [digest, "b" * 63]},
            }
        }
    }
    assert normalize_template(template) == {
        "Resources": {
            "Fn": {
                "Properties": {"Code": {"S3Key": "<hash>.zip"}, "Handler": "index.handler", "Size": 3},
                "Metadata": {"key-<hash>": ["<hash>", "b" * 63]},
            }
        }
    }


def test_deterministic_app_has_no_version_metadata_and_skips_bundling():
    app = deterministic_app(context={"team": "x"})
    assert app.node.try_get_context("aws:cdk:bundling-stacks") == []
    assert app.node.try_get_context("team") == "x"
    stack = cdk.Stack(app, "S")
    sqs.Queue(stack, "Q", enforce_ssl=True)
    template = stack_template(stack)
    assert "CDKMetadata" not in template["Resources"]
    assert [r["Type"] for r in template["Resources"].values()] == ["AWS::SQS::Queue", "AWS::SQS::QueuePolicy"]


@pytest.mark.synth
def test_assert_no_unacknowledged_findings_lists_each_finding():
    app = deterministic_app()
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    sqs.Queue(stack, "Orders")
    with pytest.raises(AssertionError) as raised:
        assert_no_unacknowledged_findings(app, limit=1)
    message = str(raised.value)
    assert re.match(r"\d+ unacknowledged cdk-nag finding\(s\) under <app>:\n", message)
    assert re.search(r"\n  \S+-\S+ at S/Orders/Resource: ", message)
    assert re.search(r"\.\.\. and \d+ more", message)
    assert message.endswith("acknowledge(construct, 'Pack-Rule[finding]', 'specific reason').")


def test_template_snapshot_extension_serializes_stacks_and_dicts_alike():
    from pipeline_constructs.testing import TemplateSnapshotExtension

    app = deterministic_app()
    stack = cdk.Stack(app, "S")
    sqs.Queue(stack, "Q", enforce_ssl=True)
    ext = TemplateSnapshotExtension()
    assert ext.serialize(stack) == ext.serialize(stack_template(stack, normalize=False))
