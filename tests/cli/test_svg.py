"""cli.svg: the SVG picture of a pipeline is readable (no overlap, no text outside its box, arrows connect)."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli.cli_helpers import (
    ASSEMBLIES,
    HAND_MADE,
    NESTED,
    SVG,
    Rect,
    pipelines_at,
    run,
    segment_crosses,
    segments,
    shape_box,
)
from pipeline_constructs.cli import render_graph
from pipeline_constructs.cli.model import Pipeline
from pipeline_constructs.cli.svg import STYLES, style_width, wrap_text


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
        for p in pipelines_at(path):
            assert_readable_svg(render_graph(p, "svg"), p)


@pytest.mark.synth
def test_svg_of_every_pipeline_is_readable(all_pipelines):
    for p in all_pipelines:
        assert_readable_svg(render_graph(p, "svg"), p)


@pytest.mark.synth
def test_svg_shows_wrapped_waves_accounts_and_synth_steps(waves_out):
    orders = pipelines_at(waves_out)[0]
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


@given(st.text(alphabet=st.sampled_from(list("abcXYZ019._-/: ")), min_size=1, max_size=120), st.floats(40, 260))
def test_wrapping_keeps_every_character_and_fits(text, width):
    lines = wrap_text(text, width, "name")
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    for line in lines:
        assert style_width(line, "name") <= width or len(line) == 1


def _wide_pipeline() -> Pipeline:
    """A model no app here produces: 8 and 7 parallel actions (rows that line up), very long names, gates in a group."""
    from dataclasses import replace

    base = pipelines_at(ASSEMBLIES / "nested_gated")[0]
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
