"""Pictures of a pipeline: Mermaid and Graphviz DOT sources (SVG is in :mod:`.svg`).

Layout everywhere: stages top to bottom in pipeline order; inside a stage one
row per run order; actions that run in parallel side by side; gates (manual
approvals, permission checks) drawn as hexagons in red.
"""

from __future__ import annotations

import itertools

from pipeline_constructs.cli.model import Action, Pipeline

__all__ = ["FORMATS", "action_class", "to_dot", "to_mermaid"]

FORMATS = ("mermaid", "svg", "dot")


def action_class(action: Action) -> str:
    """Visual class of an action: gate, source, build, deploy, invoke, test or other."""
    if action.gate:
        return "gate"
    return {
        "Source": "source",
        "Build": "build",
        "Test": "test",
        "Deploy": "deploy",
        "Invoke": "invoke",
        "Approval": "gate",
    }.get(action.category, "other")


def _label(action: Action, pipeline: Pipeline) -> str:
    sub = action.provider
    if action.region and action.region != pipeline.region:
        sub += f" · {action.region}"
    if action.gate:
        sub = f"{action.gate} · {sub}"
    return f"{action.name}\n{sub}"


# --- Mermaid -----------------------------------------------------------------

_MERMAID_CLASSES = {
    "gate": "fill:#fdecea,stroke:#c62828,stroke-width:2px,color:#5f1010",
    "source": "fill:#fff4e0,stroke:#e8a33d,color:#4a3000",
    "build": "fill:#e6f0fb,stroke:#3b78c2,color:#0d2a4d",
    "test": "fill:#e6f0fb,stroke:#3b78c2,color:#0d2a4d",
    "deploy": "fill:#e7f5ea,stroke:#3d9a50,color:#0f3a18",
    "invoke": "fill:#f1e9f8,stroke:#8652b5,color:#2e1245",
    "other": "fill:#f0f0f0,stroke:#888,color:#222",
}


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def to_mermaid(pipeline: Pipeline) -> str:
    """A Mermaid ``flowchart`` of ``pipeline``."""
    lines = ["flowchart TB"]
    stage_ids: list[str] = []
    used: set[str] = set()
    for si, stage in enumerate(pipeline.stages):
        sid = f"S{si}"
        stage_ids.append(sid)
        lines.append(f'  subgraph {sid}["{_mermaid_text(stage.name)}"]')
        lines.append("    direction TB")
        steps = stage.steps
        step_ids: list[str] = []
        for ri, step in enumerate(steps):
            indent = "    "
            if len(steps) > 1:
                rid = f"{sid}R{ri}"
                step_ids.append(rid)
                lines.append(f'    subgraph {rid}["run {step.run_order}"]')
                lines.append("      direction LR")
                indent = "      "
            for ai, action in enumerate(step.actions):
                nid = f"{sid}A{ri}_{ai}"
                cls = action_class(action)
                used.add(cls)
                text = _mermaid_text(_label(action, pipeline))
                shape = f'{{{{"{text}"}}}}' if cls == "gate" else f'["{text}"]'
                lines.append(f"{indent}{nid}{shape}:::{cls}")
            if len(steps) > 1:
                lines.append("    end")
        for a, b in itertools.pairwise(step_ids):
            lines.append(f"    {a} --> {b}")
        lines.append("  end")
    for a, b in itertools.pairwise(stage_ids):
        lines.append(f"  {a} --> {b}")
    for cls in sorted(used):
        lines.append(f"  classDef {cls} {_MERMAID_CLASSES[cls]}")
    return "\n".join(lines) + "\n"


# --- Graphviz DOT ----------------------------------------------------------------

_DOT_COLORS = {
    "gate": ("#fdecea", "#c62828"),
    "source": ("#fff4e0", "#e8a33d"),
    "build": ("#e6f0fb", "#3b78c2"),
    "test": ("#e6f0fb", "#3b78c2"),
    "deploy": ("#e7f5ea", "#3d9a50"),
    "invoke": ("#f1e9f8", "#8652b5"),
    "other": ("#f0f0f0", "#888888"),
}


def _dot_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(pipeline: Pipeline) -> str:
    """A Graphviz ``digraph`` of ``pipeline`` (render with ``dot -Tsvg``)."""
    lines = [
        f"digraph {_dot_str(pipeline.name)} {{",
        "  rankdir=TB; compound=true; newrank=true;",
        f"  label={_dot_str(pipeline.name)}; labelloc=t; fontname=Helvetica;",
        '  node [fontname=Helvetica, fontsize=11, style="filled,rounded", shape=box];',
        "  edge [arrowsize=0.7];",
    ]
    previous: list[str] = []
    junction = 0
    for si, stage in enumerate(pipeline.stages):
        lines.append(f"  subgraph cluster_{si} {{")
        lines.append(f'    label={_dot_str(stage.name)}; style="rounded,filled"; fillcolor="#f7f7f7"; color="#bbbbbb";')
        for ri, step in enumerate(stage.steps):
            ids = []
            for ai, action in enumerate(step.actions):
                nid = f"a{si}_{ri}_{ai}"
                ids.append(nid)
                fill, stroke = _DOT_COLORS[action_class(action)]
                shape = ', shape=hexagon, style="filled", penwidth=2' if action.gate else ""
                label = _dot_str(_label(action, pipeline))
                lines.append(f'    {nid} [label={label}, fillcolor="{fill}", color="{stroke}"{shape}];')
            lines.append(f"    {{ rank=same; {'; '.join(ids)}; }}")
            if previous:
                if len(previous) == 1 or len(ids) == 1:
                    lines += [f"    {a} -> {b};" for a in previous for b in ids]
                else:
                    j = f"j{junction}"
                    junction += 1
                    lines.append(f'    {j} [shape=point, width=0.05, label=""];')
                    lines += [f"    {a} -> {j} [arrowhead=none];" for a in previous]
                    lines += [f"    {j} -> {b};" for b in ids]
            previous = ids
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"
