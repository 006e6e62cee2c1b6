"""One API contract for the five pipeline constructs (DESIGN.md): same names, types and defaults for the same ideas."""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

import pytest

from pipeline_constructs.core.options import PIPELINE_OPTION_KEYS
from pipeline_constructs.core.pipeline import PipelineConstruct

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "hooks"))
import pipeline_docs  # noqa: E402

CONSTRUCTS = [pytest.param(module, name, id=name) for module, name in pipeline_docs.PIPELINE_CONSTRUCTS]

#: The shared props: annotation and default (``inspect.Parameter.empty``: required), the same everywhere.
EXPECTED = {
    "source": ("pipelines.IFileSetProducer", inspect.Parameter.empty),
    "targets": ("Sequence[DeploymentTarget]", inspect.Parameter.empty),
    "synth": ("pipelines.IFileSetProducer | None", None),
    "synth_commands": ("Sequence[str] | None", None),
    "app_dir": ("str | None", None),
    "pipeline_name": ("str | None", None),
    "pipeline_options": ("PipelineOptions | None", None),
}


def _parameters(module: str, name: str) -> dict[str, inspect.Parameter]:
    cls = getattr(importlib.import_module(module), name)
    return {p.name: p for p in inspect.signature(cls.__init__).parameters.values()}


def test_the_docs_hook_and_this_test_name_the_same_shared_props():
    assert set(EXPECTED) == set(pipeline_docs.SHARED_PROPS)


@pytest.mark.parametrize(("module", "name"), CONSTRUCTS)
def test_every_construct_is_a_pipeline_construct_with_the_common_escape_hatches(module, name):
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, PipelineConstruct)
    assert isinstance(inspect.getattr_static(cls, "code_pipeline"), property)


@pytest.mark.parametrize(("module", "name"), CONSTRUCTS)
def test_every_construct_takes_the_shared_props_keyword_only_with_the_same_types_and_defaults(module, name):
    parameters = _parameters(module, name)
    found = {
        prop: (str(parameters[prop].annotation), parameters[prop].default) for prop in EXPECTED if prop in parameters
    }
    assert found == EXPECTED
    assert all(parameters[prop].kind is inspect.Parameter.KEYWORD_ONLY for prop in EXPECTED)


@pytest.mark.parametrize(("module", "name"), CONSTRUCTS)
def test_no_construct_has_its_own_prop_for_a_pipeline_option(module, name):
    """removal_policy, log_retention, compute_type, cross_account_keys... are PipelineOptions keys, one place."""
    assert sorted(set(_parameters(module, name)) & PIPELINE_OPTION_KEYS) == []


@pytest.mark.parametrize(("module", "name"), CONSTRUCTS)
def test_no_construct_has_a_second_name_for_the_source_or_the_targets(module, name):
    assert sorted(set(_parameters(module, name)) & {"regions", "infrastructure_source", "application_sources"}) == []


def test_the_api_page_shows_the_signatures_as_they_are():
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert pipeline_docs.committed_region(page, "construct-signatures") == pipeline_docs.signatures_markdown()
