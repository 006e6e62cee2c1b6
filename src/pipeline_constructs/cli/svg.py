"""A dependency-free SVG picture of a pipeline (no Graphviz, no browser).

Layout, like the CodePipeline console: stages as bands from top to bottom, each
titled in a left-hand column that no arrow enters (with the stage's notes under
its name: a wave, the AWS Health gate it is, window, bake and failure policy); inside a stage one row per
run order, parallel actions side by side (wrapped after :data:`MAX_PER_ROW`,
inside a dashed frame); gates as red hexagons; the critical path in dark blue
(borders and arrows).

Every box shows the action's full name (wrapped, never cut), its kind, the
account and region of deploy actions (and of any action running elsewhere than
the pipeline), and for builds the commands and test reports of their inline
buildspec. Text is measured with :func:`text_width`, a fixed estimate per
character class, and wrapped to fit its box.

Arrows: from every action of a step to every action of the next one, through a
horizontal bus between the two. In a wrapped group each box keeps its own
arrows: outgoing ones run along a lane under its row to a rail on the group's
right, incoming ones from a rail on its left along a lane above the row.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from pipeline_constructs.cli.graph import CRITICAL_COLOR, action_class, action_label
from pipeline_constructs.cli.model import Action, Pipeline

__all__ = ["MAX_PER_ROW", "combined_svg", "text_width", "to_svg", "wrap_text"]

MAX_PER_ROW = 4
BOX_W = 228.0
GATE_INSET = 14.0  # width of a hexagon's slanted ends
BOX_PAD_X, BOX_PAD_Y = 9.0, 8.0
GAP_X, ROW_GAP, STEP_GAP = 16.0, 26.0, 34.0
LANE_OFFSET, RAIL_OFFSET = 8.0, 10.0
PAD, GUTTER_W, CONTENT_PAD = 16.0, 136.0, 18.0
#: The title column of a pipeline whose stages carry notes (waves, health gates, conditions).
NOTES_GUTTER_W = 264.0
STAGE_PAD, STAGE_GAP = 14.0, 36.0
MAX_COMMANDS, COMMAND_LINES = 6, 2
FONT = "Helvetica, Arial, sans-serif"
MONO = "Menlo, Consolas, monospace"

#: ``(font size, line height, bold, monospace)`` of each kind of text line.
STYLES = {
    "title": (15.0, 19.0, True, False),
    "subtitle": (11.5, 15.0, False, False),
    "stage": (13.0, 16.0, True, False),
    "note": (10.0, 13.0, False, False),
    "name": (12.0, 15.0, True, False),
    "sub": (10.5, 13.5, False, False),
    "step": (9.5, 12.0, False, True),
    "legend": (11.0, 14.0, False, False),
}

_COLORS = {
    "gate": ("#fdecea", "#c62828", "#5f1010"),
    "source": ("#fff4e0", "#e8a33d", "#4a3000"),
    "build": ("#e6f0fb", "#3b78c2", "#0d2a4d"),
    "test": ("#e6f0fb", "#3b78c2", "#0d2a4d"),
    "deploy": ("#e7f5ea", "#3d9a50", "#0f3a18"),
    "invoke": ("#f1e9f8", "#8652b5", "#2e1245"),
    "other": ("#f0f0f0", "#888888", "#222222"),
}
_LEGEND = (
    ("source", "source"),
    ("build", "build / test"),
    ("deploy", "deploy"),
    ("invoke", "invoke"),
    ("gate", "gate"),
)
_EDGE = "#7b8794"

# --- measuring and wrapping text -----------------------------------------------------------------

_NARROW = set(" .,:;'!|()[]{}/\\-_`ijlIft1r")
_WIDE = set("MWmw@%&")


def text_width(text: str, size: float, *, bold: bool = False, mono: bool = False) -> float:
    """Estimated rendered width of ``text`` in pixels: a fixed width per character class, an upper bound.

    Helvetica/Arial widths in em: narrow characters (``i l . : /`` and the like) 0.34, wide ones
    (``M W m w @ % &``) 0.9, other capitals and symbols 0.7, other letters and digits 0.58;
    bold is 8% wider; monospace 0.62 for every character.
    """
    if mono:
        return len(text) * size * 0.62
    em = 0.0
    for ch in text:
        if ch in _NARROW:
            em += 0.34
        elif ch in _WIDE:
            em += 0.9
        elif ch.isupper() or not ch.isalnum():
            em += 0.7
        else:
            em += 0.58
    return em * size * (1.08 if bold else 1.0)


def style_width(text: str, style: str) -> float:
    size, _, bold, mono = STYLES[style]
    return text_width(text, size, bold=bold, mono=mono)


_BREAK = re.compile(r"(?<=[ ./\-_:,=])|(?<=[a-z0-9])(?=[A-Z])")


def wrap_text(text: str, width: float, style: str) -> list[str]:
    """``text`` over as many lines as it needs to fit ``width`` in ``style``; nothing is dropped.

    Breaks after spaces and ``. / - _ : , =``, between a lower-case letter or digit and an
    upper-case letter (``CamelCase``), and inside a piece wider than a whole line only there.
    """
    lines: list[str] = []
    current = ""
    for piece in (p for p in _BREAK.split(text) if p):
        if style_width((current + piece).rstrip(), style) <= width:
            current += piece
            continue
        if current.strip():
            lines.append(current.rstrip())
        current = piece.lstrip()
        while style_width(current.rstrip(), style) > width:
            cut = 1
            while cut < len(current) and style_width(current[: cut + 1], style) <= width:
                cut += 1
            lines.append(current[:cut])
            current = current[cut:]
    if current.strip() or not lines:
        lines.append(current.rstrip())
    return lines


# --- layout --------------------------------------------------------------------------------------


@dataclass
class _Box:
    action: Action
    lines: list[tuple[str, str]]  # (text, style)
    x: float = 0.0
    y: float = 0.0
    h: float = 0.0
    row: int = 0

    @property
    def cx(self) -> float:
        return self.x + BOX_W / 2

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass
class _Group:
    """The boxes of one step (``(stage, run order)``), in rows."""

    boxes: list[_Box] = field(default_factory=list)
    rows: list[tuple[float, float]] = field(default_factory=list)  # (top, bottom) of each row

    @property
    def wrapped(self) -> bool:
        return len(self.rows) > 1

    @property
    def top(self) -> float:
        return self.rows[0][0]

    @property
    def bottom(self) -> float:
        return self.rows[-1][1]

    @property
    def rail_left(self) -> float:
        return min(b.x for b in self.boxes) - RAIL_OFFSET

    @property
    def rail_right(self) -> float:
        return max(b.x for b in self.boxes) + BOX_W + RAIL_OFFSET


def _inner_width(action: Action) -> float:
    inset = GATE_INSET if action.gate else 0.0
    return BOX_W - 2 * (BOX_PAD_X + inset)


def _commands(action: Action) -> list[str]:
    if not action.is_codebuild or action.gate or not action.commands:
        return []
    cmds = list(action.commands)
    assets = [c for c in cmds if c.startswith("cdk-assets")]
    if assets:
        cmds = [c for c in cmds if not c.startswith("cdk-assets")] + [f"cdk-assets publish ({len(assets)} assets)"]
    shown = cmds[:MAX_COMMANDS]
    if len(cmds) > MAX_COMMANDS:
        shown.append(f"+ {len(cmds) - MAX_COMMANDS} more (see tooltip)")
    return shown


def _box_lines(action: Action, pipeline: Pipeline) -> list[tuple[str, str]]:
    width = _inner_width(action)
    name, *rest = action_label(action, pipeline)
    lines = [(line, "name") for line in wrap_text(name, width, "name")]
    for text in rest:
        lines += [(line, "sub") for line in wrap_text(text, width, "sub")]
    for command in _commands(action):
        wrapped = wrap_text(f"$ {command}", width, "step")
        if len(wrapped) > COMMAND_LINES:  # a command, not a name: the tooltip holds all of it
            wrapped = [*wrapped[: COMMAND_LINES - 1], _ellipsis(wrapped[COMMAND_LINES - 1], width)]
        lines += [(line, "step") for line in wrapped]
    for report in action.reports:
        lines += [(line, "sub") for line in wrap_text(f"report: {report}", width, "sub")]
    return lines


def _ellipsis(line: str, width: float) -> str:
    while line and style_width(line + "…", "step") > width:
        line = line[:-1]
    return line + "…"


def _box_height(lines: list[tuple[str, str]]) -> float:
    return 2 * BOX_PAD_Y + sum(STYLES[s][1] for _, s in lines)


@dataclass
class _Layout:
    width: float
    height: float
    parts: list[str]


def _layout(pipeline: Pipeline) -> _Layout:
    per_row = min(MAX_PER_ROW, max((len(s.actions) for s in pipeline.steps), default=1))
    gutter = NOTES_GUTTER_W if any(s.notes for s in pipeline.stages) else GUTTER_W
    content_x0 = PAD + gutter
    content_w = per_row * BOX_W + (per_row - 1) * GAP_X + 2 * CONTENT_PAD
    width = max(content_x0 + content_w + PAD, 640.0)
    cx = content_x0 + (width - PAD - content_x0) / 2
    critical = {id(a) for a in pipeline.critical_path.actions}

    # header: the full name and the counts, wrapped
    head_lines = [(t, "title") for t in wrap_text(pipeline.name, width - 2 * PAD, "title")]
    s = pipeline.summary()
    subtitle = (
        f"stack {pipeline.stack_name} · aws://{pipeline.account or '?'}/{pipeline.region or '?'} · "
        f"{pipeline.pipeline_type} · {s['stages']} stages · {s['actions']} actions ({s['codebuild_actions']} "
        f"CodeBuild) · {s['gates']} gates · critical path {s['critical_path_actions']} actions, "
        f"{s['critical_path_codebuild_actions']} CodeBuild"
    )
    head_lines += [(t, "subtitle") for t in wrap_text(subtitle, width - 2 * PAD, "subtitle")]
    parts: list[str] = []
    y = PAD
    for text, style in head_lines:
        y += STYLES[style][1]
        parts.append(_text(PAD, y - 4, text, style, "#222" if style == "title" else "#555"))
    y += 14

    groups: list[_Group] = []
    bands: list[str] = []
    for stage in pipeline.stages:
        top = y
        y += STAGE_PAD
        steps = stage.steps
        for si, step in enumerate(steps):
            group = _Group()
            chunks = [step.actions[i : i + per_row] for i in range(0, len(step.actions), per_row)]
            for ri, chunk in enumerate(chunks):
                boxes = [_Box(a, _box_lines(a, pipeline), row=ri) for a in chunk]
                h = max(_box_height(b.lines) for b in boxes)
                row_w = len(chunk) * BOX_W + (len(chunk) - 1) * GAP_X
                for i, b in enumerate(boxes):
                    b.x, b.y, b.h = cx - row_w / 2 + i * (BOX_W + GAP_X), y, h
                group.boxes += boxes
                group.rows.append((y, y + h))
                y += h + (ROW_GAP if ri < len(chunks) - 1 else 0)
            groups.append(group)
            if si < len(steps) - 1:
                y += STEP_GAP
        title = [(line, "stage") for line in wrap_text(stage.name, gutter - 20, "stage")]
        title += [(line, "note") for note in stage.notes for line in wrap_text(note, gutter - 20, "note")]
        y = max(y + STAGE_PAD, top + 2 * STAGE_PAD + sum(STYLES[style][1] for _, style in title))
        band = [
            f'<g class="stage"><rect x="{PAD:.1f}" y="{top:.1f}" width="{width - 2 * PAD:.1f}" '
            f'height="{y - top:.1f}" rx="10" fill="#f6f7f9" stroke="#d5d9de"/>'
        ]
        ty = top + STAGE_PAD
        for line, style in title:
            ty += STYLES[style][1]
            color, cls = ("#333", "stage-title") if style == "stage" else ("#4a5560", "stage-note")
            band.append(_text(PAD + 10, ty - 3, line, style, color, cls=cls))
        bands.append("".join(band) + "</g>")
        y += STAGE_GAP

    frames = [
        f'<rect class="frame" x="{g.rail_left - 4:.1f}" y="{g.top - 6:.1f}" '
        f'width="{g.rail_right - g.rail_left + 8:.1f}" height="{g.bottom - g.top + 12:.1f}" rx="8" '
        'fill="none" stroke="#9aa5b1" stroke-dasharray="4 3"/>'
        for g in groups
        if g.wrapped
    ]
    edges, heads = _edges(groups, critical)
    drawn = [_box(b, critical=id(b.action) in critical) for g in groups for b in g.boxes]
    legend, legend_h = _legend(y - STAGE_GAP + 22, width)
    height = y - STAGE_GAP + 22 + legend_h
    return _Layout(width, height, [*parts, *bands, *frames, *edges, *drawn, *heads, *legend])


def _route(upper: _Group, u: _Box, lower: _Group, d: _Box) -> list[tuple[float, float]]:
    """The polyline of the arrow from ``u`` (in ``upper``) to ``d`` (in ``lower``)."""
    bus = (upper.bottom + lower.top) / 2
    last = len(upper.rows) - 1
    if u.row < last:  # leaves along the lane under its row to the group's right rail
        lane = upper.rows[u.row][1] + LANE_OFFSET
        points = [(u.cx, u.bottom), (u.cx, lane), (upper.rail_right, lane), (upper.rail_right, bus)]
    else:
        points = [(u.cx, u.bottom), (u.cx, bus)]
    if d.row > 0:  # enters from the group's left rail along the lane above its row
        lane = lower.rows[d.row][0] - LANE_OFFSET
        points += [(lower.rail_left, bus), (lower.rail_left, lane), (d.cx, lane), (d.cx, d.y)]
    else:
        points += [(d.cx, bus), (d.cx, d.y)]
    return points


def _segments(points: list[tuple[float, float]]) -> list[tuple[float, float, float, float]]:
    out = []
    for (x1, y1), (x2, y2) in itertools.pairwise(points):
        if (x1, y1) != (x2, y2):
            out.append((round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)))
    return out


def _path(segments: Sequence[tuple[float, float, float, float]]) -> str:
    return " ".join(f"M{x1:.1f},{y1:.1f}L{x2:.1f},{y2:.1f}" for x1, y1, x2, y2 in segments)


def _edges(groups: list[_Group], critical: set[int]) -> tuple[list[str], list[str]]:
    edges: list[str] = []
    heads: list[str] = []
    for upper, lower in itertools.pairwise(groups):
        segments: dict[tuple[float, float, float, float], None] = {}
        hot: list[tuple[float, float, float, float]] = []
        for u in upper.boxes:
            for d in lower.boxes:
                route = _segments(_route(upper, u, lower, d))
                segments.update(dict.fromkeys(route))
                if id(u.action) in critical and id(d.action) in critical:
                    hot = route
        edges.append(
            f'<path class="edge" d="{_path(list(segments))}" fill="none" stroke="{_EDGE}" stroke-width="1.3"/>'
        )
        if hot:
            edges.append(
                f'<path class="edge critical" d="{_path(hot)}" fill="none" stroke="{CRITICAL_COLOR}" '
                'stroke-width="2.6"/>'
            )
        for d in lower.boxes:
            color = CRITICAL_COLOR if hot and id(d.action) in critical else _EDGE
            heads.append(
                f'<path class="arrowhead" d="M{d.cx - 4.5:.1f},{d.y - 7:.1f}L{d.cx:.1f},{d.y:.1f}'
                f'L{d.cx + 4.5:.1f},{d.y - 7:.1f}Z" fill="{color}"/>'
            )
    return edges, heads


def _text(x: float, y: float, text: str, style: str, fill: str, *, anchor: str = "start", cls: str = "") -> str:
    size, _, bold, mono = STYLES[style]
    attrs = f'x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}"'
    if bold:
        attrs += ' font-weight="bold"'
    if mono:
        attrs += f' font-family="{MONO}"'
    if anchor != "start":
        attrs += f' text-anchor="{anchor}"'
    attrs += f' class="{style} {cls}"' if cls else f' class="{style}"'
    return f"<text {attrs}>{escape(text)}</text>"


def _box(box: _Box, *, critical: bool) -> str:
    a = box.action
    cls = action_class(a)
    fill, stroke, ink = _COLORS[cls]
    x, y, w, h = box.x, box.y, BOX_W, box.h
    if critical:
        stroke = CRITICAL_COLOR
    sw = 3.0 if critical else 1.2
    if cls == "gate":
        d = GATE_INSET
        shape = (
            f'<path class="box" d="M{x + d:.1f},{y:.1f}H{x + w - d:.1f}L{x + w:.1f},{y + h / 2:.1f}'
            f'L{x + w - d:.1f},{y + h:.1f}H{x + d:.1f}L{x:.1f},{y + h / 2:.1f}Z" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{sw}"/>'
        )
    else:
        shape = (
            f'<rect class="box" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="6" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{sw}"/>'
        )
    tooltip = f"{a.qualified_name} (run order {a.run_order}) {a.kind}"
    if a.details:
        tooltip += f": {a.details}"
    if a.account or a.region:
        tooltip += f"\naccount {a.account or '?'}, region {a.region or '?'}"
    tooltip += "".join(f"\n$ {c}" for c in a.commands)
    tooltip += "".join(f"\nreport {r}" for r in a.reports)
    texts = []
    content_h = _box_height(box.lines) - 2 * BOX_PAD_Y
    ty = y + (h - content_h) / 2
    for text, style in box.lines:
        size, lh, _, _ = STYLES[style]
        ty += lh
        texts.append(_text(x + w / 2, ty - (lh - size) / 2 - 2, text, style, ink, anchor="middle"))
    classes = f"action {cls}" + (" critical" if critical else "")
    return f'<g class="{classes}"><title>{escape(tooltip)}</title>{shape}{"".join(texts)}</g>'


def _legend(y: float, width: float) -> tuple[list[str], float]:
    out = []
    x = PAD
    items = [(cls, text) for cls, text in _LEGEND] + [("critical", "critical path")]
    rows = 1
    for cls, text in items:
        item_w = 26 + style_width(text, "legend") + 14
        if x + item_w > width - PAD:
            x, y, rows = PAD, y + 20, rows + 1
        if cls == "critical":
            out.append(
                f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="14" height="12" rx="3" fill="#fff" '
                f'stroke="{CRITICAL_COLOR}" stroke-width="2.6"/>'
            )
        else:
            fill, stroke, _ = _COLORS[cls]
            out.append(
                f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="14" height="12" rx="3" fill="{fill}" stroke="{stroke}"/>'
            )
        out.append(_text(x + 19, y, text, "legend", "#444"))
        x += item_w
    return out, rows * 20 + 4


def _document(width: float, height: float, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{FONT}" role="img" aria-label={quoteattr(title)}>\n'
        f"<title>{escape(title)}</title>\n"
        '<rect width="100%" height="100%" fill="#ffffff"/>\n' + "\n".join(body) + "\n</svg>\n"
    )


def to_svg(pipeline: Pipeline) -> str:
    """Render ``pipeline`` as a standalone SVG document."""
    layout = _layout(pipeline)
    return _document(layout.width, layout.height, f"Pipeline {pipeline.name}", layout.parts)


def combined_svg(pipelines: Sequence[Pipeline]) -> str:
    """One SVG document with ``pipelines`` one below the other."""
    layouts = [_layout(p) for p in pipelines]
    width = max(lay.width for lay in layouts)
    body: list[str] = []
    y = 0.0
    for lay, p in zip(layouts, pipelines, strict=True):
        body.append(f'<g class="pipeline" transform="translate(0,{y:.1f})"><title>{escape(p.name)}</title>')
        body += lay.parts
        body.append("</g>")
        y += lay.height
        body.append(f'<line x1="{PAD}" y1="{y:.1f}" x2="{width - PAD:.1f}" y2="{y:.1f}" stroke="#d5d9de"/>')
    names = ", ".join(p.name for p in pipelines)
    return _document(width, y, f"Pipelines {names}", body)
