"""The docs read on their own in the source tree: no page is only a placeholder for the build."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

import pipeline_constructs

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "hooks"))
import pipeline_docs  # noqa: E402

MARKER = re.compile(r"<!--.*?-->", re.S)


def _prose_words(text: str) -> int:
    without = MARKER.sub("", re.sub(r"```.*?```", "", text, flags=re.S))
    return len(re.findall(r"[A-Za-z]{3,}", without))


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_every_page_says_something_without_the_build(page):
    text = (DOCS / page).read_text(encoding="utf-8")
    assert _prose_words(text) >= 80, f"{page} is (nearly) empty until `make docs` runs"


def test_the_api_page_indexes_every_public_name():
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    missing = [name for name in pipeline_constructs.__all__ if f"`{name}`" not in text]
    assert missing == []


def test_the_performance_page_holds_the_benchmark_tables():
    text = (DOCS / "performance.md").read_text(encoding="utf-8")
    committed = pipeline_docs.committed_region(text, "benchmark-results")
    assert committed is not None
    results = json.loads(pipeline_docs.BENCHMARK.read_text(encoding="utf-8"))
    for example in results["examples"]:
        assert f"### `{example}`" in committed, f"run `python docs/hooks/pipeline_docs.py` ({example} missing)"


def test_the_build_replaces_the_committed_copy_not_appends_to_it():
    page = "intro\n<!-- x -->\nold table\n<!-- /x -->\nafter\n"
    assert pipeline_docs.replace_generated(page, "x", "NEW\n") == "intro\nNEW\n\nafter\n"
    assert pipeline_docs.replace_generated("a <!-- x --> b", "x", "NEW") == "a NEW b"


def test_the_nag_switch_and_the_cdk_cli_are_documented():
    getting_started = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    for needle in ("pipeline-constructs:nag", "npm install -g aws-cdk", "requirements.txt", "create_app()"):
        assert needle in getting_started, needle
    assert "pipeline-constructs:nag=false" in (DOCS / "compliance.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("example", sorted(p.parent.name for p in (ROOT / "examples").glob("*/app.py")))
def test_every_example_has_what_its_pipeline_installs(example):
    folder = ROOT / "examples" / example
    assert (folder / "requirements.txt").read_text(encoding="utf-8").strip(), "the synth action installs it"
    config = json.loads((folder / "cdk.json").read_text(encoding="utf-8"))
    assert config["app"] == "python app.py"
    assert "create_app()" in (folder / "app.py").read_text(encoding="utf-8")


def _app_snippets() -> list[tuple[str, int]]:
    """Every complete app in a docs page: a ``python`` block that calls ``synth()``."""
    found = []
    for page in sorted(DOCS.glob("*.md")):
        blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
        found += [(page.name, i) for i, block in enumerate(blocks) if "synth()" in block]
    return found


@pytest.mark.synth
@pytest.mark.parametrize(("page", "index"), _app_snippets())
def test_every_app_snippet_in_the_docs_synthesizes(page, index, tmp_path):
    """What a new user copies from a guide runs: offline, no Docker, no credentials, compliance checks on."""
    import os
    import subprocess

    block = re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(encoding="utf-8"), re.S)[index]
    example = ROOT / "examples" / page.removesuffix(".md")
    # A snippet naming examples/... paths runs at the repository root; else beside its example's files.
    cwd = ROOT if "examples/" in block or not example.is_dir() else example
    script = tmp_path / "app.py"
    script.write_text(block, encoding="utf-8")
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path / "cdk.out")}
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "cdk.out" / "manifest.json").is_file()
