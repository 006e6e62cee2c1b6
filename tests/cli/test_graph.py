"""`pipeline-constructs graph`: every format parses, one document per pipeline or one for all; readable SVG."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli.cli_helpers import (
    ASSEMBLIES,
    NESTED,
    SVG,
    Rect,
    check_mermaid,
    parse_dot,
    run,
    segment_crosses,
    segments,
    shape_box,
)
from pipeline_constructs.cli import main, render_graph, render_graphs
from pipeline_constructs.cli.assembly import CloudAssembly
from pipeline_constructs.cli.model import Pipeline, pipelines_in
from pipeline_constructs.cli.svg import STYLES, style_width, wrap_text

HAND_MADE = [ASSEMBLIES / "nested_gated", ASSEMBLIES / "nested_stack"]


def load(path: Path) -> list[Pipeline]:
    return pipelines_in(CloudAssembly.load(path))


@pytest.fixture(scope="module")
def all_pipelines(waves_out, plain_cp_out, ts_out) -> list[Pipeline]:
    """Every pipeline of our apps and hand-made assemblies."""
    return [p for path in [*HAND_MADE, waves_out, plain_cp_out, ts_out] for p in load(path)]


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
        for p in load(path):
            _check_pipeline_documents(p)


@pytest.mark.synth
def test_every_pipeline_of_our_apps_parses_in_every_format(all_pipelines):
    assert len(all_pipelines) == 6
    for p in all_pipelines:
        _check_pipeline_documents(p)
        ET.fromstring(render_graph(p, "svg"))


@pytest.mark.synth
def test_two_pipelines_on_stdout_make_one_valid_document(waves_out, capsys):
    pipelines = load(waves_out)
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
    p = load(ASSEMBLIES / "nested_gated")[0]
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

    p = load(ASSEMBLIES / "nested_gated")[0]
    stage = p.stages[0]
    odd = replace(stage.actions[0], name='Say "hi" #1 <now> `x`')
    p = replace(p, stages=(replace(stage, actions=(odd,)), *p.stages[1:]))
    labels = check_mermaid(render_graph(p, "mermaid"))["labels"]
    assert any(label.startswith("Say #quot;hi#quot; #35;1 #lt;now#gt; #96;x#96;") for label in labels)
    assert parse_dot(render_graph(p, "dot"))


# --- SVG geometry -------------------------------------------------------------------------------------


def _boxes(root: ET.Element) -> list[tuple[ET.Element, Rect]]:
    out = []
    for g in root.iter(f"{SVG}g"):
        if "action" in (g.get("class") or "").split():
            shape = next(e for e in g if (e.get("class") or "") == "box")
            out.append((g, shape_box(shape)))
    return out


def _text_rect(t: ET.Element) -> Rect:
    style = (t.get("class") or "").split()[0]
    size, _, _, _ = STYLES[style]
    width = style_width(t.text or "", style)
    x = float(t.get("x"))
    if t.get("text-anchor") == "middle":
        x -= width / 2
    y = float(t.get("y"))
    return Rect(x, y - size * 0.8, width, size)


def assert_readable_svg(svg: str, pipeline: Pipeline) -> None:
    root = ET.fromstring(svg)
    boxes = _boxes(root)
    assert len(boxes) == len(pipeline.actions)
    # no two boxes overlap
    for i, (_, a) in enumerate(boxes):
        for _, b in boxes[i + 1 :]:
            assert not a.overlaps(b), (a, b)
    # every text inside its box (hexagons: inside the slanted ends), every name whole
    for (g, rect), action in zip(boxes, pipeline.actions, strict=True):
        inset = 14.0 if "gate" in g.get("class").split() else 0.0
        inner = Rect(rect.x + inset, rect.y, rect.w - 2 * inset, rect.h)
        texts = [t for t in g if t.tag == f"{SVG}text"]
        for t in texts:
            assert inner.contains(_text_rect(t)), (action.name, t.text, inner, _text_rect(t))
        name = "".join(t.text for t in texts if t.get("class") == "name")
        assert name.replace(" ", "") == action.name.replace(" ", ""), (name, action.name)
        assert "…" not in name
        if action.is_deployment:
            assert f"account {action.account or '?'} · {action.region or '?'}" in [t.text for t in texts]
    # arrows never cross a box or a stage title
    rects = [r for _, r in boxes]
    titles = [_text_rect(t) for t in root.iter(f"{SVG}text") if "stage-title" in (t.get("class") or "").split()]
    assert titles
    edges = [e for e in root.iter(f"{SVG}path") if "edge" in (e.get("class") or "").split()]
    for edge in edges:
        for seg in segments(edge.get("d")):
            for r in rects:
                assert not segment_crosses(seg, r), (seg, r)
            for r in titles:
                assert not segment_crosses(seg, r, margin=0), (seg, r)
    # every box of a step leaves towards every box of the next step, wrapped groups included
    drawn = {id(a): r for a, r in zip(pipeline.actions, rects, strict=True)}
    network = [s for e in edges if "critical" not in e.get("class").split() for s in segments(e.get("d"))]
    for upper, lower in itertools.pairwise(pipeline.steps):
        for u in upper.actions:
            for d in lower.actions:
                assert _connected(network, drawn[id(u)], drawn[id(d)]), (u.qualified_name, d.qualified_name)
    # the critical path stands out
    critical = {
        g.find(f"{SVG}title").text.split(" (run order")[0] for g, _ in boxes if "critical" in g.get("class").split()
    }
    assert critical == {a.qualified_name for a in pipeline.critical_path.actions}
    hot = [e for e in edges if "critical" in e.get("class").split()]
    assert len(hot) == len(pipeline.critical_path.actions) - 1


def _connected(network, a: Rect, b: Rect) -> bool:
    """A path of segments from the bottom edge of ``a`` to the top edge of ``b``."""
    start = [s for s in network if s[1] == a.bottom and a.x < s[0] < a.right and s[0] == s[2]]
    goal = {i for i, s in enumerate(network) if s[3] == b.y and b.x < s[2] < b.right}
    seen = {network.index(s) for s in start}
    todo = list(seen)
    while todo:
        i = todo.pop()
        if i in goal:
            return True
        for j, s in enumerate(network):
            if j not in seen and _touch(network[i], s):
                seen.add(j)
                todo.append(j)
    return False


def _touch(s: tuple[float, ...], t: tuple[float, ...]) -> bool:
    def on(p: tuple[float, float], seg: tuple[float, ...]) -> bool:
        x1, y1, x2, y2 = seg
        return min(x1, x2) - 0.05 <= p[0] <= max(x1, x2) + 0.05 and min(y1, y2) - 0.05 <= p[1] <= max(y1, y2) + 0.05

    return any(on(p, t) for p in ((s[0], s[1]), (s[2], s[3]))) or any(on(p, s) for p in ((t[0], t[1]), (t[2], t[3])))


def test_svg_of_hand_made_assemblies_is_readable():
    for path in HAND_MADE:
        for p in load(path):
            assert_readable_svg(render_graph(p, "svg"), p)


@pytest.mark.synth
def test_svg_of_every_pipeline_is_readable(all_pipelines):
    for p in all_pipelines:
        assert_readable_svg(render_graph(p, "svg"), p)


@pytest.mark.synth
def test_svg_shows_wrapped_waves_accounts_and_synth_steps(waves_out):
    orders = load(waves_out)[0]
    svg = render_graph(orders, "svg")
    root = ET.fromstring(svg)
    assert len([r for r in root.iter(f"{SVG}rect") if r.get("class") == "frame"]) == 3  # Assets and the wave's 2 runs
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "account 222222222222 · ap-southeast-2" in texts
    assert "account 333333333333 · us-east-1" in texts
    synth = next(g for g, _ in _boxes(root) if g.find(f"{SVG}title").text.startswith("Build/Synth "))
    lines = [t.text for t in synth if t.tag == f"{SVG}text"]
    steps = "".join(t for t in lines if t.startswith("$") or not t[:1].isupper())
    assert "$ pip install -r requirements.txt" in lines
    assert "pytest --junitxml=reports/unit.xml" in steps.replace("$ ", "")
    assert "report: orders-unit-tests (JUNITXML)" in lines
    # the CodeCommit source reads its repository's name, not a token
    assert orders.stages[0].actions[0].details == "orders-service@main"
    assert "${Repo" not in svg


@pytest.mark.synth
def test_yaml_buildspec_commands_and_reports(plain_cp_out):
    (p,) = load(plain_cp_out)
    build = p.stages[1].actions[0]
    assert build.commands == (
        "pip install -r requirements-dev.txt",
        "pytest --junitxml=reports/junit.xml",
        "zip -r app.zip src",
    )
    assert build.reports == ("pytest (JUNITXML)",)
    deploy = p.stages[2].actions[1]
    assert (deploy.account, deploy.region) == ("222222222222", "us-east-1")


@given(st.text(alphabet=st.sampled_from(list("abcXYZ019._-/: ")), min_size=1, max_size=120), st.floats(40, 260))
def test_wrapping_keeps_every_character_and_fits(text, width):
    lines = wrap_text(text, width, "name")
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    for line in lines:
        assert style_width(line, "name") <= width or len(line) == 1


def _wide_pipeline() -> Pipeline:
    """A model no app here produces: 8 and 7 parallel actions (rows that line up), very long names, gates in a group."""
    from dataclasses import replace

    base = load(ASSEMBLIES / "nested_gated")[0]
    source, build, prod = base.stages
    deploy = prod.actions[3]
    gate = prod.actions[2]
    wide = [
        replace(deploy, name=f"Deploy{i}TheOrdersServiceIntoTheAsiaPacificSoutheast{i}Region.Prepare", run_order=1)
        for i in range(8)
    ]
    wide += [replace(gate, name=f"ApproveRegion{i} with a long comment in its name", run_order=2) for i in range(7)]
    wide += [replace(deploy, name="x", run_order=3)]
    return replace(base, stages=(source, build, replace(prod, actions=tuple(wide))))


def test_svg_of_wide_groups_with_long_names_is_readable():
    p = _wide_pipeline()
    assert [len(s.actions) for s in p.steps][-3:] == [8, 7, 1]
    assert_readable_svg(render_graph(p, "svg"), p)


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


def test_graph_svg_is_valid_and_complete(tmp_path, capsys):
    status, out, _ = run(capsys, "graph", NESTED, "--format", "svg", "-o", tmp_path)
    assert status == 0
    (svg,) = tmp_path.glob("*.svg")
    assert out.strip() == str(svg)
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    actions = [g for g in root.iter(f"{ns}g") if "action" in g.get("class", "").split()]
    assert len(actions) == 9
    gates = [g for g in actions if "gate" in g.get("class", "").split()]
    assert sorted(g.find(f"{ns}title").text.split(" ")[0] for g in gates) == [
        "Prod/Approve",
        "Prod/Check",
        "Prod/Confirm",
    ]
    stages = [g.find(f"{ns}text").text for g in root.iter(f"{ns}g") if g.get("class") == "stage"]
    assert sorted(stages) == ["Build", "Prod", "Source"]


@pytest.mark.synth
def test_graph_svg_of_wave_wraps_no_box_outside(plain_out, capsys):
    status, out, _ = run(capsys, "graph", plain_out, "--format", "svg")
    assert status == 0
    root = ET.fromstring(out)
    width = float(root.get("width"))
    rects = root.iter("{http://www.w3.org/2000/svg}rect")
    xs = [float(r.get("x")) + float(r.get("width")) for r in rects if r.get("x")]
    assert max(xs) <= width


def test_graph_dot(capsys):
    status, out, _ = run(capsys, "graph", NESTED, "--format", "dot")
    assert status == 0
    assert out.startswith('digraph "ops" {')
    assert out.count("subgraph cluster_") == 3
    assert "rank=same; a1_0_0; a1_0_1;" in out
    assert out.count("shape=hexagon") == 3
