"""A dependency-free SVG picture of a pipeline (no Graphviz, no browser).

Layout, like the CodePipeline console: stages as bands from top to bottom;
inside a stage one row per run order; parallel actions side by side (wrapped
after :data:`MAX_PER_ROW`); gates as red hexagons; actions on the critical
path drawn with a thick border.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from pipeline_constructs.cli.graph import action_class
from pipeline_constructs.cli.model import Action, Pipeline

__all__ = ["MAX_PER_ROW", "to_svg"]

MAX_PER_ROW = 5
BOX_W, BOX_H = 196, 46
GAP_X, GAP_Y, ROW_GAP = 14, 30, 10
PAD, STAGE_HEAD, STAGE_GAP = 14, 24, 30
TITLE_H, LEGEND_H = 52, 40
FONT = "Helvetica, Arial, sans-serif"
CHAR_W = 6.6  # average width of a 12px sans-serif character

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


@dataclass
class _Box:
    action: Action
    x: float
    y: float


def _fit(text: str, width: float, char_w: float = CHAR_W) -> str:
    limit = max(4, int(width / char_w))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_svg(pipeline: Pipeline) -> str:
    """Render ``pipeline`` as a standalone SVG document."""
    per_row = min(MAX_PER_ROW, max((len(s.actions) for s in pipeline.steps), default=1))
    inner_w = per_row * BOX_W + (per_row - 1) * GAP_X
    width = max(inner_w + 2 * PAD + 2 * PAD, 560)
    cx = width / 2
    critical = {id(a) for a in pipeline.critical_path.actions}
    parts: list[str] = []
    rows: list[list[_Box]] = []  # one entry per step: its boxes
    y = TITLE_H

    for stage in pipeline.stages:
        top = y
        y += STAGE_HEAD
        for step in stage.steps:
            boxes: list[_Box] = []
            chunks = [step.actions[i : i + per_row] for i in range(0, len(step.actions), per_row)]
            for ci, chunk in enumerate(chunks):
                row_w = len(chunk) * BOX_W + (len(chunk) - 1) * GAP_X
                x0 = cx - row_w / 2
                for i, action in enumerate(chunk):
                    boxes.append(_Box(action, x0 + i * (BOX_W + GAP_X), y))
                y += BOX_H + (ROW_GAP if ci < len(chunks) - 1 else 0)
            if len(chunks) > 1:  # a parallel group that wraps: frame it
                x_min = min(b.x for b in boxes) - 6
                x_max = max(b.x for b in boxes) + BOX_W + 6
                frame_y = boxes[0].y - 6
                frame_h = y - boxes[0].y + 12
                parts.append(
                    f'<rect x="{x_min:.1f}" y="{frame_y:.1f}" width="{x_max - x_min:.1f}" height="{frame_h:.1f}" '
                    'rx="8" fill="none" stroke="#9aa5b1" stroke-dasharray="4 3"/>'
                )
            rows.append(boxes)
            y += GAP_Y
        y -= GAP_Y
        y += PAD
        parts.insert(
            0,
            f'<g class="stage"><rect x="{PAD}" y="{top:.1f}" width="{width - 2 * PAD:.1f}" height="{y - top:.1f}" '
            f'rx="10" fill="#f6f7f9" stroke="#d5d9de"/>'
            f'<text x="{PAD + 10}" y="{top + 17:.1f}" font-size="13" font-weight="bold" fill="#333">'
            f"{escape(stage.name)}</text></g>",
        )
        y += STAGE_GAP

    # arrows between consecutive steps: a stub from every box to a bus, then to every box of the next step
    for upper, lower in itertools.pairwise(rows):
        if not upper or not lower:
            continue
        y1 = max(b.y for b in upper) + BOX_H
        y2 = min(b.y for b in lower)
        bus = (y1 + y2) / 2
        xs_up = [b.x + BOX_W / 2 for b in upper if b.y + BOX_H == y1]
        xs_dn = [b.x + BOX_W / 2 for b in lower if b.y == y2]
        lo, hi = min(xs_up + xs_dn), max(xs_up + xs_dn)
        path = [f"M{x:.1f},{y1:.1f}V{bus:.1f}" for x in xs_up]
        if hi > lo:
            path.append(f"M{lo:.1f},{bus:.1f}H{hi:.1f}")
        path += [f"M{x:.1f},{bus:.1f}V{y2 - 2:.1f}" for x in xs_dn]
        parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="#7b8794" stroke-width="1.4"/>')
        parts += [
            f'<path d="M{x - 4:.1f},{y2 - 7:.1f}L{x:.1f},{y2 - 1:.1f}L{x + 4:.1f},{y2 - 7:.1f}Z" fill="#7b8794"/>'
            for x in xs_dn
        ]

    for boxes in rows:
        for box in boxes:
            parts.append(_box(box, pipeline, critical=id(box.action) in critical))

    summary = pipeline.summary()
    subtitle = (
        f"{summary['stages']} stages · {summary['actions']} actions ({summary['codebuild_actions']} CodeBuild) · "
        f"{summary['gates']} gates · critical path {summary['critical_path_actions']} actions, "
        f"{summary['critical_path_codebuild_actions']} CodeBuild"
    )
    head = [
        f'<text x="{PAD}" y="22" font-size="15" font-weight="bold" fill="#222">'
        f"{escape(_fit(pipeline.name, width - 2 * PAD, 8.4))}</text>",
        f'<text x="{PAD}" y="40" font-size="11.5" fill="#555">{escape(_fit(subtitle, width - 2 * PAD, 6.2))}</text>',
    ]
    legend = _legend(y - STAGE_GAP + 18)
    height = y - STAGE_GAP + LEGEND_H
    title = escape(f"Pipeline {pipeline.name}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{FONT}" role="img" aria-label={quoteattr(title)}>\n'
        f"<title>{title}</title>\n"
        '<rect width="100%" height="100%" fill="#ffffff"/>\n' + "\n".join([*head, *parts, *legend]) + "\n</svg>\n"
    )


def _box(box: _Box, pipeline: Pipeline, *, critical: bool) -> str:
    a = box.action
    cls = action_class(a)
    fill, stroke, ink = _COLORS[cls]
    x, y = box.x, box.y
    sw = 2.6 if critical else 1.2
    if cls == "gate":
        d = 12
        shape = (
            f'<path d="M{x + d:.1f},{y:.1f}H{x + BOX_W - d:.1f}L{x + BOX_W:.1f},{y + BOX_H / 2:.1f}'
            f'L{x + BOX_W - d:.1f},{y + BOX_H:.1f}H{x + d:.1f}L{x:.1f},{y + BOX_H / 2:.1f}Z" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{sw}"/>'
        )
    else:
        shape = (
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="6" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{sw}"/>'
        )
    sub = a.gate or a.provider
    if a.region and a.region != pipeline.region:
        sub += f" · {a.region}"
    tooltip = f"{a.qualified_name} (run order {a.run_order}) {a.kind}"
    if a.details:
        tooltip += f": {a.details}"
    text_w = BOX_W - (30 if cls == "gate" else 14)
    tx = x + BOX_W / 2
    return (
        f'<g class="action {cls}"><title>{escape(tooltip)}</title>{shape}'
        f'<text x="{tx:.1f}" y="{y + 19:.1f}" font-size="12" font-weight="bold" fill="{ink}" text-anchor="middle">'
        f"{escape(_fit(a.name, text_w, 7.2))}</text>"
        f'<text x="{tx:.1f}" y="{y + 35:.1f}" font-size="10.5" fill="{ink}" text-anchor="middle">'
        f"{escape(_fit(sub, text_w, 6.0))}</text></g>"
    )


def _legend(y: float) -> list[str]:
    out = []
    x = float(PAD)
    for cls, text in _LEGEND:
        fill, stroke, _ = _COLORS[cls]
        out.append(
            f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="14" height="12" rx="3" fill="{fill}" stroke="{stroke}"/>'
        )
        out.append(f'<text x="{x + 19:.1f}" y="{y:.1f}" font-size="11" fill="#444">{escape(text)}</text>')
        x += 26 + len(text) * 6.2 + 14
    out.append(
        f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="14" height="12" rx="3" '
        'fill="#fff" stroke="#333" stroke-width="2.6"/>'
    )
    out.append(f'<text x="{x + 19:.1f}" y="{y:.1f}" font-size="11" fill="#444">critical path</text>')
    return out
