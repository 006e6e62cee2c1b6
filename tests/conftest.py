"""Shared fixtures. Importing pipeline_constructs.testing first selects Node 24 for jsii."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import pipeline_constructs.testing  # noqa: F401  (selects Node 24 before aws_cdk loads)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
#: Every example app (examples/<name>/app.py exposing build_app(app)).
EXAMPLE_NAMES = sorted(p.parent.name for p in EXAMPLES.glob("*/app.py"))
#: Acknowledgment reasons the example apps give themselves (a team's own claims, not the library's catalogue).
EXAMPLE_TEAM_REASONS = frozenset(
    {
        "Example data is reproducible; a real team sets up replication for its own data.",
        "A deployment bake signal: CodePipeline's CloudWatchAlarm rule reads its state and rolls the stage back; "
        "the team pages from its own on-call tooling.",
    }
)


def load_example(name: str) -> ModuleType:
    """Import examples/<name>/app.py as a module (without running its __main__ block)."""
    path = EXAMPLES / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def synthesized_example(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """``synthesized_example(name) -> Path``: the cloud assembly of an example, synthesized once per session."""
    from pipeline_constructs.testing import deterministic_app

    cache: dict[str, Path] = {}

    def build(name: str) -> Path:
        if name not in cache:
            outdir = tmp_path_factory.mktemp(f"assembly-{name}")
            app = deterministic_app(outdir=str(outdir))
            load_example(name).build_app(app)
            app.synth()
            cache[name] = outdir
        return cache[name]

    return build


@pytest.fixture(scope="session")
def audited_example(synthesized_example):  # type: ignore[no-untyped-def]
    """``audited_example(name) -> TemplateAudit``: the template-only cdk-nag check (strict) of an example, once."""
    from pipeline_constructs.core.compliance.audit import audit_assembly

    cache: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in cache:
            cache[name] = audit_assembly(synthesized_example(name), bare_rule_covers_findings=False)
        return cache[name]

    return get
