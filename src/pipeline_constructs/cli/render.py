"""Text, Markdown and JSON renderings of the pipeline model (``pipeline-constructs show``)."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Sequence

from pipeline_constructs.cli.model import Pipeline, Stage

__all__ = ["markdown_table", "show_json", "show_markdown", "show_text", "text_table"]


def text_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    indent: str = "  ",
    max_widths: Sequence[int | None] | None = None,
) -> str:
    """A plain-text table with aligned columns; cells longer than ``max_widths`` wrap onto more lines."""
    limits = list(max_widths or [None] * len(headers))
    wrapped_rows: list[list[list[str]]] = []
    for row in rows:
        cells = []
        for cell, limit in zip(row, limits, strict=True):
            if limit and len(cell) > limit:
                cells.append(_wrap(cell, limit))
            else:
                cells.append([cell])
        wrapped_rows.append(cells)
    widths = [len(h) for h in headers]
    for cells in wrapped_rows:
        widths = [max(w, *(len(x) for x in c)) for w, c in zip(widths, cells, strict=True)]
    lines = []
    for row in (headers, ["-" * w for w in widths]):
        lines.append((indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))).rstrip())
    for cells in wrapped_rows:
        for i in range(max(len(c) for c in cells)):
            line = [c[i] if i < len(c) else "" for c in cells]
            lines.append((indent + "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))).rstrip())
    return "\n".join(lines)


def _wrap(text: str, width: int) -> list[str]:
    """Wrap at spaces, or at ``/`` in paths, else hard."""
    out = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) if " " in text else []
    if out and max(len(x) for x in out) <= width:
        return out
    parts: list[str] = []
    current = ""
    for piece in re.split(r"(?<=[/:\[])", text):
        while len(piece) > width:
            if current:
                parts.append(current)
                current = ""
            parts.append(piece[:width])
            piece = piece[width:]
        if len(current) + len(piece) > width:
            parts.append(current)
            current = piece
        else:
            current += piece
    if current:
        parts.append(current)
    return parts


def _md_text(text: str) -> str:
    """``text`` as literal Markdown: cron stars and glob patterns are not emphasis."""
    for ch in ("\\", "*", "_", "`"):
        text = text.replace(ch, "\\" + ch)
    return text


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub/mkdocs Markdown table (``|`` escaped in cells)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ") or " "

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


_HEADERS = ("Stage", "Run", "Action", "Category/Provider", "Region", "Account", "Gate", "Details")


def _rows(pipeline: Pipeline) -> list[list[str]]:
    rows = []
    for stage in pipeline.stages:
        for i, a in enumerate(stage.actions):
            rows.append(
                [
                    stage.name if i == 0 else "",
                    str(a.run_order),
                    a.name,
                    a.kind,
                    a.region or "-",
                    a.account or "-",
                    a.gate or "",
                    a.details,
                ]
            )
    return rows


def _heading(pipeline: Pipeline) -> str:
    env = f"aws://{pipeline.account or '?'}/{pipeline.region or '?'}"
    return f"{pipeline.name} (stack {pipeline.stack_name}, {env}, pipeline type {pipeline.pipeline_type})"


def _counts(pipeline: Pipeline) -> str:
    s = pipeline.summary()
    regions = ", ".join(pipeline.regions) or "-"
    return (
        f"{s['stages']} stages, {s['actions']} actions ({s['codebuild_actions']} CodeBuild), "
        f"{s['gates']} gates; regions: {regions}"
    )


def _path_line(pipeline: Pipeline) -> str:
    path = pipeline.critical_path
    if not path.actions:
        return "no actions"
    return (
        f"{path.length} actions, {path.codebuild} of them CodeBuild "
        f"({path.actions[0].qualified_name} to {path.actions[-1].qualified_name})"
    )


def _stage_title(stage: Stage) -> str:
    """``Prod-2 (wave: 2 targets in parallel: eu-west-1, ap-southeast-2)``, or the bare name."""
    return f"{stage.name} ({stage.headline})" if stage.headline else stage.name


def _trigger_lines(pipeline: Pipeline) -> list[str]:
    """Per trigger a heading (source action, provider) and one line per filter; nothing without triggers."""
    out = []
    for t in pipeline.triggers:
        out.append(f"  Triggers (source action {t.source_action or '?'}, {t.provider_type or '?'}):")
        out += [f"    {line}" for line in t.lines]
    return out


def _deployment_lines(pipeline: Pipeline) -> list[str]:
    """Waves, health gates and stage conditions, stage by stage; nothing for a pipeline without any."""
    staged = [s for s in pipeline.stages if s.notes]
    if not staged:
        return []
    out = ["  Deployment model:"]
    for stage in staged:
        out.append(f"    {_stage_title(stage)}")
        out += [f"      {line}" for line in stage.conditions.lines]
    return [*out, ""]


def show_text(pipelines: Sequence[Pipeline], *, estimate: bool = False) -> str:
    """What ``show`` prints: per pipeline its triggers, table, waves and conditions, gates and critical path.

    With ``estimate``: then the fixed-model run time (:mod:`.estimate`).
    """
    out: list[str] = []
    for p in pipelines:
        out.append(f"Pipeline {_heading(p)}")
        out.append(f"  {_counts(p)}")
        out += _trigger_lines(p)
        out.append("")
        out.append(text_table(_HEADERS, _rows(p)))
        out.append("")
        out += _deployment_lines(p)
        out.append("  Gates:")
        if p.gates:
            for g in p.gates:
                orders = "-".join(str(o) for o in g.run_orders)
                out.append(f"    {g.stage} (run {orders}) {g.kind}: {g.description}")
        else:
            out.append("    none")
        out.append("")
        out.append(f"  Critical path: {_path_line(p)}")
        for a in p.critical_path.actions:
            out.append(f"    {a.qualified_name:<48} {a.kind}")
        out.append("")
        if estimate:
            from pipeline_constructs.cli.estimate import estimate_lines

            out += estimate_lines(p)
    return "\n".join(out).rstrip() + "\n"


def show_markdown(pipelines: Sequence[Pipeline], *, heading_level: int = 3, estimate: bool = False) -> str:
    """The same content as Markdown (used by the docs site); with ``estimate``, the fixed-model run time."""
    h = "#" * heading_level
    out: list[str] = []
    for p in pipelines:
        out.append(f"{h} `{p.name}`")
        out.append("")
        out.append(f"Stack `{p.stack_name}`; {_counts(p)}.")
        out.append("")
        for t in p.triggers:
            filters = "; ".join(_md_text(line) for line in t.lines)
            out.append(f"**Triggers** (source action `{t.source_action or '?'}`): {filters}.")
            out.append("")
        out.append(markdown_table(_HEADERS, _rows(p)))
        out.append("")
        staged = [s for s in p.stages if s.notes]
        if staged:
            out.append("**Deployment model:**")
            out.append("")
            for stage in staged:
                facts = [_stage_title(stage), *stage.conditions.lines]
                out.append("- " + "; ".join(_md_text(fact) for fact in facts))
            out.append("")
        if p.gates:
            out.append("**Gates:**")
            out.append("")
            for g in p.gates:
                out.append(f"- {g.stage}, {g.kind}: {g.description}")
        else:
            out.append("**Gates:** none.")
        out.append("")
        out.append(
            f"**Critical path:** {_path_line(p)}: " + " → ".join(a.qualified_name for a in p.critical_path.actions)
        )
        out.append("")
        if estimate:
            from pipeline_constructs.cli.estimate import estimate as estimate_of

            e = estimate_of(p)
            out.append(f"**Estimate (fixed model):** {e.summary}.")
            out.append("")
            rows = [[s.name, str(s.worst_case), str(s.typical)] for s in e.stages]
            out.append(markdown_table(("Stage", "worst s", "typical s"), rows))
            out.append("")
    return "\n".join(out)


def show_json(pipelines: Sequence[Pipeline], *, estimate: bool = False) -> str:
    """``{"pipelines": [...]}``; with ``estimate``, each pipeline has an ``estimate`` field (:mod:`.estimate`)."""
    from pipeline_constructs.cli.estimate import estimate as estimate_of

    listed = [{**p.to_dict(), **({"estimate": estimate_of(p).to_dict()} if estimate else {})} for p in pipelines]
    return json.dumps({"pipelines": listed}, indent=2) + "\n"
