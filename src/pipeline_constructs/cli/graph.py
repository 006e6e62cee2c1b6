"""Pictures of a pipeline: Mermaid and Graphviz DOT sources (SVG is in :mod:`.svg`).

Layout everywhere: stages top to bottom in pipeline order; inside a stage one
row per run order; actions that run in parallel side by side; gates (manual
approvals, permission checks, AWS Health checks) drawn as hexagons in red; deploy
actions name their account and region; the critical path has a thick dark border.
A stage's title carries its notes (a wave of parallel targets, the AWS Health gate
it is, its deployment window, bake alarms and failure policy); a source action's
box carries the trigger filters that start the pipeline. Several pipelines make
one valid document: a subgraph (Mermaid) or cluster (DOT) each.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from pipeline_constructs.cli.deployments import checked_region
from pipeline_constructs.cli.model import GATE_HEALTH, Action, Pipeline, Stage

__all__ = [
    "CRITICAL_COLOR",
    "FORMATS",
    "action_class",
    "action_label",
    "combined_dot",
    "combined_mermaid",
    "stage_label",
    "to_dot",
    "to_mermaid",
]

FORMATS = ("mermaid", "svg", "dot")
#: Colour of the critical path (borders and arrows) in every format.
CRITICAL_COLOR = "#1d3557"


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


def action_environment(action: Action, pipeline: Pipeline) -> str:
    """``account 222222222222 · us-east-1`` for deploy actions (always) and actions elsewhere than the pipeline."""
    elsewhere = (action.account and action.account != pipeline.account) or (
        action.region and action.region != pipeline.region
    )
    if not action.is_deployment and not elsewhere:
        return ""
    return f"account {action.account or '?'} · {action.region or '?'}"


def action_label(action: Action, pipeline: Pipeline) -> list[str]:
    """Lines of an action's label: its full name, its kind, and where it runs when that matters."""
    kind = f"{action.gate} · {action.provider}" if action.gate else action.provider
    env = action_environment(action, pipeline)
    extra = [f"on {line}" for t in pipeline.triggers_of(action) for line in t.lines]
    if action.gate == GATE_HEALTH:
        extra.append(f"AWS Health in {checked_region(action) or '?'}")
    return [action.name, kind, *([env] if env else []), *extra]


def stage_label(stage: Stage) -> list[str]:
    """Lines of a stage's title: its name, then its notes (wave or health gate, window, bake, on failure)."""
    return [stage.name, *stage.notes]


def _critical(pipeline: Pipeline) -> set[int]:
    return {id(a) for a in pipeline.critical_path.actions}


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


def mermaid_text(text: str) -> str:
    """``text`` safe inside a quoted Mermaid label: entity codes for ``#``, quotes, angle brackets, backticks."""
    for raw, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("`", "#96;")):
        text = text.replace(raw, code)
    return text.replace("\n", "<br/>")


def _mermaid_body(pipeline: Pipeline, prefix: str, indent: str, used: set[str], critical: list[str]) -> list[str]:
    lines: list[str] = []
    on_path = _critical(pipeline)
    stage_ids: list[str] = []
    for si, stage in enumerate(pipeline.stages):
        sid = f"{prefix}S{si}"
        stage_ids.append(sid)
        title = "<br/>".join(mermaid_text(line) for line in stage_label(stage))
        lines.append(f'{indent}subgraph {sid}["{title}"]')
        lines.append(f"{indent}  direction TB")
        steps = stage.steps
        step_ids: list[str] = []
        for ri, step in enumerate(steps):
            inner = indent + "  "
            if len(steps) > 1:
                rid = f"{sid}R{ri}"
                step_ids.append(rid)
                lines.append(f'{indent}  subgraph {rid}["run {step.run_order}"]')
                lines.append(f"{indent}    direction LR")
                inner = indent + "    "
            for ai, action in enumerate(step.actions):
                nid = f"{sid}A{ri}_{ai}"
                cls = action_class(action)
                used.add(cls)
                if id(action) in on_path:
                    critical.append(nid)
                text = "<br/>".join(mermaid_text(line) for line in action_label(action, pipeline))
                shape = f'{{{{"{text}"}}}}' if cls == "gate" else f'["{text}"]'
                lines.append(f"{inner}{nid}{shape}:::{cls}")
            if len(steps) > 1:
                lines.append(f"{indent}  end")
        for a, b in itertools.pairwise(step_ids):
            lines.append(f"{indent}  {a} --> {b}")
        lines.append(f"{indent}end")
    for a, b in itertools.pairwise(stage_ids):
        lines.append(f"{indent}{a} --> {b}")
    return lines


def _mermaid_tail(used: set[str], critical: list[str]) -> list[str]:
    lines = [f"  classDef {cls} {_MERMAID_CLASSES[cls]}" for cls in sorted(used)]
    if critical:
        lines.append(f"  classDef critical stroke:{CRITICAL_COLOR},stroke-width:4px")
        lines.append(f"  class {','.join(critical)} critical")
    return lines


def to_mermaid(pipeline: Pipeline) -> str:
    """A Mermaid ``flowchart`` of ``pipeline``."""
    used: set[str] = set()
    critical: list[str] = []
    body = _mermaid_body(pipeline, "", "  ", used, critical)
    return "\n".join(["flowchart TB", *body, *_mermaid_tail(used, critical)]) + "\n"


def combined_mermaid(pipelines: Sequence[Pipeline]) -> str:
    """One Mermaid ``flowchart`` with a subgraph per pipeline (ids prefixed ``P0``, ``P1``...)."""
    used: set[str] = set()
    critical: list[str] = []
    lines = ["flowchart TB"]
    for pi, pipeline in enumerate(pipelines):
        title = f"{pipeline.name} (stack {pipeline.stack_name})"
        lines.append(f'  subgraph P{pi}["{mermaid_text(title)}"]')
        lines.append("    direction TB")
        lines += _mermaid_body(pipeline, f"P{pi}", "    ", used, critical)
        lines.append("  end")
    return "\n".join([*lines, *_mermaid_tail(used, critical)]) + "\n"


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


def dot_string(text: str) -> str:
    """A double-quoted DOT string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot_body(pipeline: Pipeline, prefix: str, indent: str) -> list[str]:
    lines: list[str] = []
    on_path = _critical(pipeline)
    previous: list[tuple[str, bool]] = []
    junction = 0
    for si, stage in enumerate(pipeline.stages):
        lines.append(f"{indent}subgraph cluster_{prefix}{si} {{")
        title = dot_string("\n".join(stage_label(stage)))
        lines.append(f'{indent}  label={title}; style="rounded,filled"; fillcolor="#f7f7f7"; color="#bbbbbb";')
        for ri, step in enumerate(stage.steps):
            ids: list[tuple[str, bool]] = []
            for ai, action in enumerate(step.actions):
                nid = f"{prefix}a{si}_{ri}_{ai}"
                crit = id(action) in on_path
                ids.append((nid, crit))
                fill, stroke = _DOT_COLORS[action_class(action)]
                shape = ', shape=hexagon, style="filled", penwidth=2' if action.gate else ""
                if crit:
                    shape += ", penwidth=3.5"
                label = dot_string("\n".join(action_label(action, pipeline)))
                lines.append(f'{indent}  {nid} [label={label}, fillcolor="{fill}", color="{stroke}"{shape}];')
            lines.append(f"{indent}  {{ rank=same; {'; '.join(n for n, _ in ids)}; }}")
            if previous:
                if len(previous) == 1 or len(ids) == 1:
                    lines += [_dot_edge(indent, a, b, ca and cb) for a, ca in previous for b, cb in ids]
                else:
                    j = f"{prefix}j{junction}"
                    junction += 1
                    on = any(c for _, c in previous) and any(c for _, c in ids)
                    lines.append(f'{indent}  {j} [shape=point, width=0.05, label=""];')
                    lines += [_dot_edge(indent, a, j, ca and on, head=False) for a, ca in previous]
                    lines += [_dot_edge(indent, j, b, cb and on) for b, cb in ids]
            previous = ids
        lines.append(f"{indent}}}")
    return lines


def _dot_edge(indent: str, a: str, b: str, critical: bool, *, head: bool = True) -> str:
    attrs = [] if head else ["arrowhead=none"]
    if critical:
        attrs += [f'color="{CRITICAL_COLOR}"', "penwidth=2.5"]
    return f"{indent}  {a} -> {b}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";"


_DOT_HEAD = [
    '  node [fontname=Helvetica, fontsize=11, style="filled,rounded", shape=box];',
    "  edge [arrowsize=0.7];",
]


def to_dot(pipeline: Pipeline) -> str:
    """A Graphviz ``digraph`` of ``pipeline`` (render with ``dot -Tsvg``)."""
    lines = [
        f"digraph {dot_string(pipeline.name)} {{",
        "  rankdir=TB; compound=true; newrank=true;",
        f"  label={dot_string(pipeline.name)}; labelloc=t; fontname=Helvetica;",
        *_DOT_HEAD,
        *_dot_body(pipeline, "", "  "),
        "}",
    ]
    return "\n".join(lines) + "\n"


def combined_dot(pipelines: Sequence[Pipeline]) -> str:
    """One Graphviz ``digraph`` with a cluster per pipeline (ids prefixed ``p0_``, ``p1_``...)."""
    lines = ['digraph "pipelines" {', "  rankdir=TB; compound=true; newrank=true; fontname=Helvetica;", *_DOT_HEAD]
    for pi, pipeline in enumerate(pipelines):
        lines.append(f"  subgraph cluster_p{pi} {{")
        lines.append(f"    label={dot_string(f'{pipeline.name} (stack {pipeline.stack_name})')}; labelloc=t;")
        lines += _dot_body(pipeline, f"p{pi}_", "    ")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"
