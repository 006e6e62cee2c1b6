"""cli.graph: every format parses, one document per pipeline or one for all (the SVG picture: test_svg.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from cli.cli_helpers import (
    ASSEMBLIES,
    HAND_MADE,
    NESTED,
    SVG,
    check_mermaid,
    parse_dot,
    pipelines_at,
    run,
)
from pipeline_constructs.cli import main, render_graph, render_graphs
from pipeline_constructs.cli.model import Pipeline

# --- Mermaid and DOT parse ----------------------------------------------------------------------------


def _check_pipeline_documents(p: Pipeline) -> None:
    mermaid = check_mermaid(render_graph(p, "mermaid"))
    assert len(mermaid["nodes"]) == len(p.actions)
    assert len(mermaid["subgraphs"]) == len(p.stages) + sum(len(s.steps) for s in p.stages if len(s.steps) > 1)
    dot = parse_dot(render_graph(p, "dot"))
    assert dot.name == p.name
    assert len(dot.clusters) == len(p.stages)
    actions = {n for n in dot.nodes if n.startswith("a")}
    assert len(actions) == len(p.actions)


def test_hand_made_documents_parse():
    for path in HAND_MADE:
        for p in pipelines_at(path):
            _check_pipeline_documents(p)


@pytest.mark.synth
def test_every_pipeline_of_our_apps_parses_in_every_format(all_pipelines):
    assert len(all_pipelines) == 6
    for p in all_pipelines:
        _check_pipeline_documents(p)
        ET.fromstring(render_graph(p, "svg"))


@pytest.mark.synth
def test_two_pipelines_on_stdout_make_one_valid_document(waves_out, capsys):
    pipelines = pipelines_at(waves_out)
    assert [p.name for p in pipelines] == ["orders", "platform"]
    assert main(["graph", str(waves_out), "-f", "mermaid"]) == 0
    mermaid = check_mermaid(capsys.readouterr().out)
    assert mermaid["labels"][0] == "orders (stack Delivery)"
    assert len(mermaid["nodes"]) == sum(len(p.actions) for p in pipelines)
    assert main(["graph", str(waves_out), "-f", "dot"]) == 0
    dot = parse_dot(capsys.readouterr().out)
    assert {"cluster_p0", "cluster_p1"} <= set(dot.clusters)
    assert len(dot.clusters) == 2 + sum(len(p.stages) for p in pipelines)
    assert main(["graph", str(waves_out), "-f", "svg"]) == 0
    root = ET.fromstring(capsys.readouterr().out)
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "pipeline"]) == 2


@pytest.mark.synth
def test_one_file_per_pipeline(waves_out, tmp_path, capsys):
    for fmt, ext in (("mermaid", "mmd"), ("dot", "dot"), ("svg", "svg")):
        assert main(["graph", str(waves_out), "-f", fmt, "-o", str(tmp_path / fmt)]) == 0
        files = sorted((tmp_path / fmt).glob(f"*.{ext}"))
        assert [f.name for f in files] == [f"orders.{ext}", f"platform.{ext}"]
        assert capsys.readouterr().out.split() == [str(f) for f in files]
        for f in files:
            text = f.read_text()
            {"mermaid": check_mermaid, "dot": parse_dot, "svg": ET.fromstring}[fmt](text)


def test_the_validators_reject_what_the_issue_saw():
    p = pipelines_at(ASSEMBLIES / "nested_gated")[0]
    with pytest.raises(AssertionError, match="header"):
        check_mermaid(render_graph(p, "mermaid") * 2)
    with pytest.raises(AssertionError, match="after the graph"):
        parse_dot(render_graph(p, "dot") * 2)
    with pytest.raises(AssertionError, match="not Mermaid flowchart syntax"):
        check_mermaid('flowchart TB\n  A["say "hi""]\n')
    with pytest.raises(AssertionError, match="bad characters in label"):
        check_mermaid('flowchart TB\n  A["C#1 build"]\n')
    with pytest.raises(AssertionError, match="undefined ids"):
        check_mermaid('flowchart TB\n  A["a"]\n  A --> B\n')
    with pytest.raises(AssertionError, match="unclosed subgraph"):
        check_mermaid('flowchart TB\n  subgraph S["s"]\n  A["a"]\n')
    assert render_graphs([p, p], "mermaid").count("flowchart") == 1


def test_labels_are_escaped_for_mermaid_and_dot():
    from dataclasses import replace

    p = pipelines_at(ASSEMBLIES / "nested_gated")[0]
    stage = p.stages[0]
    odd = replace(stage.actions[0], name='Say "hi" #1 <now> `x`')
    p = replace(p, stages=(replace(stage, actions=(odd,)), *p.stages[1:]))
    labels = check_mermaid(render_graph(p, "mermaid"))["labels"]
    assert any(label.startswith("Say #quot;hi#quot; #35;1 #lt;now#gt; #96;x#96;") for label in labels)
    assert parse_dot(render_graph(p, "dot"))


# --- graph through main() ------------------------------------------------------------------------------


def test_graph_mermaid_stages_in_order_parallel_side_by_side_gates_marked(capsys):
    status, out, _ = run(capsys, "graph", NESTED, "--format", "mermaid")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "flowchart TB"
    stage_lines = [line.strip() for line in lines if line.startswith("  subgraph")]
    assert stage_lines == ['subgraph S0["Source"]', 'subgraph S1["Build"]', 'subgraph S2["Prod"]']
    assert "  S0 --> S1" in lines
    assert "  S1 --> S2" in lines
    # UnitTests and Lint share the run-1 row laid out left to right
    row = out[out.index('subgraph S1R0["run 1"]') : out.index('subgraph S1R1["run 2"]')]
    assert "direction LR" in row
    assert "UnitTests" in row
    assert "Lint" in row
    assert out.count(":::gate") == 3
    assert '{{"Approve<br/>manual approval · Manual"}}:::gate' in out


def test_graph_dot(capsys):
    status, out, _ = run(capsys, "graph", NESTED, "--format", "dot")
    assert status == 0
    assert out.startswith('digraph "ops" {')
    assert out.count("subgraph cluster_") == 3
    assert "rank=same; a1_0_0; a1_0_1;" in out
    assert out.count("shape=hexagon") == 3
