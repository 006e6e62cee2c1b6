"""The repository's tools around the CLI: tools/demo.py, tools/check_dist.py and the docs hook (no synth)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from cli.cli_helpers import ASSEMBLIES, NESTED

ROOT = Path(__file__).resolve().parents[2]
#: Every finding acknowledged in the template (check exits 0).
CLEAN = ASSEMBLIES / "nag_clean"


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    return load(ROOT / "tools" / "demo.py", "tools_demo")


@pytest.fixture(scope="module")
def hook() -> ModuleType:
    return load(ROOT / "docs" / "hooks" / "pipeline_docs.py", "docs_hook")


def fake_example(where: Path, name: str, *, findings: bool) -> Path:
    """An example whose 'synth' copies a hand-made assembly into CDK_OUTDIR (fast, offline)."""
    app = where / name
    app.mkdir(parents=True)
    source = where / f"{name}-assembly"
    shutil.copytree(CLEAN if not findings else NESTED, source)
    script = f"import os, shutil; shutil.copytree({str(source)!r}, os.environ['CDK_OUTDIR'], dirs_exist_ok=True)\n"
    (app / "app.py").write_text(script)
    (app / "cdk.json").write_text(json.dumps({"app": "python app.py"}))
    return app


def test_demo_synthesizes_shows_and_draws_every_example(demo, tmp_path, capsys):
    examples = tmp_path / "examples"
    fake_example(examples, "alpha", findings=False)
    fake_example(examples, "beta", findings=True)
    out = tmp_path / "demo-out"
    status = demo.main(["--examples", str(examples), "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 1  # beta has unacknowledged findings
    assert "alpha: synthesized in" in printed
    assert "beta: synthesized in" in printed
    assert "alpha: synthesized in" in printed
    assert "cdk-nag: 0 unacknowledged findings, 3 acknowledged" in printed
    assert "cdk-nag: 54 unacknowledged findings, 1 acknowledged" in printed
    assert printed.count("Critical path: 7 actions, 2 of them CodeBuild") == 1
    assert "1/2 examples ok" in printed
    assert (out / "beta" / "ops.svg").read_text().startswith("<svg")
    assert (out / "beta" / "ops.mmd").read_text().startswith("flowchart TB")
    assert (out / "alpha" / "clean.svg").read_text().startswith("<svg")
    assert "alpha/clean.svg" in (out / "index.html").read_text()
    assert demo.main(["--examples", str(examples), "--out", str(out), "alpha"]) == 0


def test_demo_without_examples_is_exit_2(demo, tmp_path, capsys):
    assert demo.main(["--examples", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no example app" in capsys.readouterr().err


def test_docs_nav_lists_the_pages_present(hook, tmp_path):
    for page in ("index.md", "cli.md", "kda_app.md", "security_gated.md", "extra_guide.md", "release.md"):
        (tmp_path / page).write_text(f"# Title of {page}\n")
    assert hook.build_nav(tmp_path) == [
        {"Home": "index.md"},
        {
            "Guides": [
                {"Title of security_gated.md": "security_gated.md"},
                {"Title of kda_app.md": "kda_app.md"},
                {"Title of extra_guide.md": "extra_guide.md"},
            ]
        },
        {"CLI": "cli.md"},
        {"Release": "release.md"},
    ]


def test_docs_performance_page_from_results(hook, tmp_path):
    assert "Not run yet" in hook.benchmark_markdown(tmp_path / "missing.json")
    results = {
        "runs": 1,
        "nodes": {"node24": "v24.19.0"},
        "examples": {
            "demo": {
                "library": {"synth_median_s": {"node24": 19.981}, "actions": 11, "findings": {"AwsSolutions": 0}},
                "handwritten": {"synth_median_s": {"node24": 28.3}, "actions": 10, "findings": {"AwsSolutions": 56}},
            }
        },
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    page = hook.benchmark_markdown(path)
    assert "*runs: 1; Node.js: node24 = v24.19.0*" in page
    assert "| metric | library | handwritten |" in page
    assert "| synth median s | node24: 19.98 | node24: 28.30 |" in page
    assert "| actions | 11 | 10 |" in page
    assert "| findings | 0 | 56 |" in page


def test_docs_compliance_page_lists_every_acknowledgment(hook, capsys):
    from pipeline_constructs.cli import main

    assert main(["check", str(NESTED), "--format", "json"]) == 1
    page = hook.compliance_markdown({"ops": json.loads(capsys.readouterr().out)})
    assert "| example | AwsSolutions | NIST.800.53.R5 | HIPAA.Security | PCI.DSS.321 | Serverless |" in page
    assert "| `ops` | 7 / 1 | 14 / 0 | 16 / 0 | 16 / 0 | 1 / 0 |" in page
    assert "Unacknowledged findings" in page
    assert "#### AwsSolutions (1)" in page
    assert "| `S1` | Artifact bucket of a test pipeline" in page
    assert "`Bucket (OpsPipeline)`" in page


def test_docs_picture_block_links_the_generated_svg(hook):
    from pipeline_constructs.cli.assembly import CloudAssembly
    from pipeline_constructs.cli.model import pipelines_in

    pipelines = pipelines_in(CloudAssembly.load(NESTED))
    block = hook.picture_markdown("ops_example", pipelines)
    assert "![Pipeline ops](assets/pipelines/ops_example-ops.svg)" in block
    assert "    | Prod | 1 | Check | Build/CodeBuild |" in block


def test_check_dist_catches_a_bad_wheel(tmp_path):
    check_dist = load(ROOT / "tools" / "check_dist.py", "tools_check_dist")
    wheel = tmp_path / "pipeline_constructs-0.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pipeline_constructs/__init__.py", "")
        zf.writestr("tests/test_x.py", "")
        zf.writestr("pipeline_constructs-0.0.0.dist-info/METADATA", "Metadata-Version: 2.4\nName: x\nVersion: 0.0.0\n")
    problems = check_dist.check_wheel(wheel)
    text = "\n".join(problems)
    assert "no py.typed" in text
    assert "unexpected file tests/test_x.py" in text
    assert "runtime handler pipeline_constructs/runtime/" in text
    assert "console script" in text
    assert "pytest11" in text
    assert "version '0.0.0' is the fallback" in text


@pytest.mark.parametrize("page", ["getting-started.md", "testing.md", "index.md", "cli.md", "release.md"])
def test_python_snippets_in_docs_parse(page):
    import ast
    import re

    text = (ROOT / "docs" / page).read_text()
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        ast.parse(block)
