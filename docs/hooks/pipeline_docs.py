"""mkdocs hook: navigation from the pages present, generated pictures, compliance and performance pages.

* ``on_config``: builds the nav from the pages in ``docs/`` (guides appear as
  they land), and finds or synthesizes each example's cloud assembly.
* ``on_files``: adds ``assets/pipelines/<example>-<pipeline>.svg``, drawn by
  ``pipeline-constructs graph``'s SVG renderer (pure Python, offline).
* ``on_page_markdown`` (a marker ``<!-- name -->`` may be followed by a committed copy of its
  content up to ``<!-- /name -->``, so the source page reads on its own; the build replaces both):
    - a guide ``docs/<example>.md`` gets the picture and stage table of
      ``examples/<example>/``'s pipeline(s), where it says
      ``<!-- pipeline-picture -->`` or else at the end;
    - ``<!-- compliance-table -->`` becomes every acknowledgment of every example;
    - ``<!-- reasons-catalogue -->`` becomes the reasons catalogue, each reason with the test that proves it;
    - ``<!-- benchmark-results -->`` becomes the tables of ``benchmarks/out/results.json``.

Assemblies: a fresh ``examples/<name>/cdk.out`` (``make examples``) or
``demo-out/<name>/cdk.out`` (``make demo``) is reused; otherwise the example is
synthesized into ``.cache/docs-assemblies/<name>`` (two at a time, Node 24).
``PIPELINE_DOCS_SYNTH=0`` disables synthesis (stale assemblies are used).
"""

from __future__ import annotations

import json
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

from pipeline_constructs.cli.assembly import AssemblyError, CloudAssembly
from pipeline_constructs.cli.check import check_in_subprocess
from pipeline_constructs.cli.model import Pipeline, pipelines_in
from pipeline_constructs.cli.render import markdown_table, show_markdown
from pipeline_constructs.cli.svg import to_svg
from pipeline_constructs.cli.synth import synth

log = logging.getLogger("mkdocs.hooks.pipeline_docs")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CACHE = ROOT / ".cache" / "docs-assemblies"
BENCHMARK = ROOT / "benchmarks" / "out" / "results.json"
SYNTH_TIMEOUT_NOTE = "set PIPELINE_DOCS_SYNTH=0 to skip synthesis"

#: Pages in nav order; guides (one per example) in the order below, then any other page.
HEAD = [("Home", "index.md"), ("Getting started", "getting-started.md")]
GUIDES = [
    "security_gated.md",
    "dotnet_lambda.md",
    "glue_etl.md",
    "kda_app.md",
    "redshift_migration.md",
    "multi_region_layer.md",
    "progressive_delivery.md",
    "fast_pipelines.md",
]
TAIL = [
    ("Testing", "testing.md"),
    ("CLI", "cli.md"),
    ("Compliance", "compliance.md"),
    ("Performance", "performance.md"),
    ("API reference", "api.md"),
    ("Release", "release.md"),
]

_state: dict[str, Any] = {"pipelines": {}, "nag": {}, "svgs": {}}


# --- navigation -------------------------------------------------------------------


def _title(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip().strip("`")
    return path.stem.replace("_", " ").capitalize()


def build_nav(docs: Path) -> list[Any]:
    known = {p for _, p in HEAD + TAIL}
    present = {p.name for p in docs.glob("*.md")}
    guides = [g for g in GUIDES if g in present]
    guides += sorted(p for p in present if p not in known and p not in GUIDES)
    nav: list[Any] = [{t: p} for t, p in HEAD if p in present]
    if guides:
        nav.append({"Guides": [{_title(docs / g): g} for g in guides]})
    nav += [{t: p} for t, p in TAIL if p in present]
    return nav


# --- assemblies -----------------------------------------------------------------------


#: Folders that do not change what an example synthesizes (build output, the CLI and the test helpers).
_NOT_SOURCES = {"cdk.out", "__pycache__", "bin", "obj", "target", "node_modules", "cli", "testing"}


def _newest_source(example: Path) -> float:
    newest = 0.0
    roots = [example, ROOT / "src" / "pipeline_constructs"]
    for root in roots:
        for path in root.rglob("*"):
            parts = set(path.relative_to(root).parts)
            if parts & _NOT_SOURCES or not path.is_file():
                continue
            newest = max(newest, path.stat().st_mtime)
    return newest


def _fresh(assembly: Path, newest: float) -> bool:
    manifest = assembly / "manifest.json"
    return manifest.is_file() and manifest.stat().st_mtime >= newest


def find_assemblies() -> dict[str, Path]:
    """Example name -> its cloud assembly (reused when fresh, else synthesized)."""
    if not EXAMPLES.is_dir():
        return {}
    examples = sorted(d for d in EXAMPLES.iterdir() if (d / "cdk.json").is_file())
    found: dict[str, Path] = {}
    todo: list[Path] = []
    allow_synth = os.environ.get("PIPELINE_DOCS_SYNTH", "1") != "0"
    for example in examples:
        candidates = [example / "cdk.out", ROOT / "demo-out" / example.name / "cdk.out", CACHE / example.name]
        newest = _newest_source(example)
        fresh = next((c for c in candidates if _fresh(c, newest)), None)
        if fresh is not None:
            found[example.name] = fresh
        elif allow_synth:
            todo.append(example)
        else:
            stale = next((c for c in candidates if (c / "manifest.json").is_file()), None)
            if stale is not None:
                found[example.name] = stale

    def run(example: Path) -> tuple[str, Path | None, str]:
        result = synth(example, output=CACHE / example.name, capture=True)
        if result.returncode != 0:
            return example.name, None, (result.stderr or "").strip()[-800:]
        return example.name, result.outdir, ""

    if todo:
        log.info("synthesizing %d example(s) for the docs: %s", len(todo), ", ".join(e.name for e in todo))
        with ThreadPoolExecutor(max_workers=2) as pool:
            for name, outdir, error in pool.map(run, todo):
                if outdir is None:
                    log.warning("example %s does not synthesize; its guide has no picture:\n%s", name, error)
                else:
                    found[name] = outdir
    return found


# --- mkdocs events -------------------------------------------------------------------------


def on_config(config: Any) -> Any:
    docs = Path(config["docs_dir"])
    config["nav"] = build_nav(docs)
    pipelines: dict[str, list[Pipeline]] = {}
    nag: dict[str, dict[str, Any]] = {}
    assemblies = find_assemblies()
    for name, path in assemblies.items():
        try:
            assembly = CloudAssembly.load(path)
        except AssemblyError as e:
            log.warning("example %s: %s", name, e)
            continue
        pipelines[name] = pipelines_in(assembly)

    def check(name: str) -> tuple[str, dict[str, Any] | None]:
        try:  # `pipeline-constructs check`: the five packs over every template
            return name, check_in_subprocess(assemblies[name])
        except AssemblyError as e:
            log.warning("example %s: cdk-nag check failed: %s", name, e)
            return name, None

    with ThreadPoolExecutor(max_workers=2) as pool:
        nag = {name: data for name, data in pool.map(check, sorted(pipelines)) if data is not None}
    _state["pipelines"], _state["nag"] = pipelines, nag
    return config


def _svg_uri(example: str, pipeline: Pipeline) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", pipeline.name).strip("-") or "pipeline"
    return f"assets/pipelines/{example}-{slug}.svg"


def on_files(files: Files, config: Any) -> Files:
    for example, pipelines in _state["pipelines"].items():
        for pipeline in pipelines:
            uri = _svg_uri(example, pipeline)
            files.append(File.generated(config, uri, content=to_svg(pipeline)))
    return files


def replace_generated(markdown: str, marker: str, content: str) -> str:
    """Put ``content`` where ``<!-- marker -->`` is; a committed copy up to ``<!-- /marker -->`` is replaced too."""
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    if start not in markdown:
        return markdown
    head, _, rest = markdown.partition(start)
    tail = rest.partition(end)[2] if end in rest else rest
    return head + content + tail


def committed_region(markdown: str, marker: str) -> str | None:
    """The committed copy between ``<!-- marker -->`` and ``<!-- /marker -->``, if the page has one."""
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    if start not in markdown or end not in markdown:
        return None
    return markdown.partition(start)[2].partition(end)[0]


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    name = page.file.src_uri
    markdown = replace_generated(markdown, "api-reference", api_markdown())
    if "<!-- construct-signatures -->" in markdown:
        markdown = replace_generated(markdown, "construct-signatures", signatures_markdown())
    if "<!-- cli-show-example -->" in markdown:
        markdown = replace_generated(markdown, "cli-show-example", cli_example_markdown(_state["pipelines"]))
    if "<!-- compliance-table -->" in markdown:
        markdown = replace_generated(markdown, "compliance-table", compliance_markdown(_state["nag"]))
    if "<!-- reasons-catalogue -->" in markdown:
        markdown = replace_generated(markdown, "reasons-catalogue", reasons_markdown())
    if "<!-- benchmark-results -->" in markdown:
        markdown = replace_generated(markdown, "benchmark-results", benchmark_markdown(BENCHMARK))
    example = name.removesuffix(".md")
    if "/" not in name and example in _state["pipelines"]:
        block = picture_markdown(example, _state["pipelines"][example])
        if "<!-- pipeline-picture -->" in markdown:
            markdown = markdown.replace("<!-- pipeline-picture -->", block)
        else:
            markdown = markdown.rstrip() + "\n\n## The example's pipeline (generated)\n\n" + block
    return markdown


# --- generated content --------------------------------------------------------------------------

#: Sections of the API reference, in order; modules not (yet) in the source tree are left out.
#: The package itself re-exports every public name lazily: it is documented once, in its defining module.
API_MODULES = [
    ("Package", "pipeline_constructs"),
    ("SecurePipeline and PipelineConstruct", "pipeline_constructs.core.pipeline"),
    ("Pipeline options and synth", "pipeline_constructs.core.options"),
    ("Plain pipelines", "pipeline_constructs.core.plain_pipeline"),
    ("SecurityGatedStage", "pipeline_constructs.stages.security_gated"),
    ("Deployment targets", "pipeline_constructs.core.targets"),
    ("Waves and stage layout", "pipeline_constructs.core.waves"),
    ("Stage conditions and gates", "pipeline_constructs.core.conditions"),
    ("Triggers", "pipeline_constructs.core.triggers"),
    ("Notifications", "pipeline_constructs.core.notifications"),
    ("Test reports", "pipeline_constructs.core.reports"),
    ("Compliance", "pipeline_constructs.core.compliance"),
    ("create_app", "pipeline_constructs.core.app"),
    ("Validation", "pipeline_constructs.core.validation"),
    ("Validation: AWS names and formats", "pipeline_constructs.core.validation_aws"),
    ("DotnetLambdaPipeline", "pipeline_constructs.dotnet_lambda"),
    ("GlueEtlPipeline", "pipeline_constructs.glue_etl"),
    ("KdaAppPipeline", "pipeline_constructs.kda_app"),
    ("RedshiftMigrationPipeline", "pipeline_constructs.redshift_migration"),
    ("MultiRegionLayerPipeline", "pipeline_constructs.multi_region_layer"),
    ("Steps", "pipeline_constructs.steps"),
    ("AWS Health gate", "pipeline_constructs.steps.health_gate"),
    ("Resilience Hub assessment", "pipeline_constructs.steps.resilience_assessment"),
    ("Testing", "pipeline_constructs.testing"),
    ("CLI", "pipeline_constructs.cli"),
]


def api_markdown() -> str:
    src = ROOT / "src"
    out = []
    for title, module in API_MODULES:
        path = src / module.replace(".", "/")
        if not (path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()):
            continue
        out += [f"## {title}", "", f"::: {module}", "    options:", "      show_root_heading: false"]
        if module == "pipeline_constructs":
            out += ["      members: false", ""]
            out += ["Every public name below can be imported from `pipeline_constructs` directly.", ""]
            continue
        out += ["      show_submodules: false", "      heading_level: 3", ""]
    return "\n".join(out)


#: The five pipeline constructs, side by side on the API page: (module, class).
PIPELINE_CONSTRUCTS = (
    ("pipeline_constructs.dotnet_lambda", "DotnetLambdaPipeline"),
    ("pipeline_constructs.glue_etl", "GlueEtlPipeline"),
    ("pipeline_constructs.kda_app", "KdaAppPipeline"),
    ("pipeline_constructs.redshift_migration", "RedshiftMigrationPipeline"),
    ("pipeline_constructs.multi_region_layer", "MultiRegionLayerPipeline"),
)
#: The props every pipeline construct shares, in signature order (the API contract of DESIGN.md).
SHARED_PROPS = ("source", "targets", "synth", "synth_commands", "app_dir", "pipeline_name", "pipeline_options")
#: The escape hatches every pipeline construct exposes.
ESCAPE_HATCHES = ("pipeline", "code_pipeline", "stages", "deployments", "gates", "test_reports", "secure_pipeline")


def construct_parameters(module: str, name: str) -> list[tuple[str, str, str]]:
    """``(prop, annotation, default)`` of a construct's keyword-only props, in signature order."""
    import importlib
    import inspect

    cls = getattr(importlib.import_module(module), name)
    out = []
    for param in inspect.signature(cls.__init__).parameters.values():
        if param.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        raw = param.annotation
        annotation = (raw if isinstance(raw, str) else inspect.formatannotation(raw)).replace("|", "\\|")
        default = "required" if param.default is inspect.Parameter.empty else repr(param.default)
        out.append((param.name, annotation, default))
    return out


def escape_hatches(module: str, name: str) -> list[str]:
    """The escape hatches a construct has: all of them for a ``PipelineConstruct``, else none it declares."""
    import importlib

    from pipeline_constructs.core.pipeline import PipelineConstruct

    cls = getattr(importlib.import_module(module), name)
    return list(ESCAPE_HATCHES) if issubclass(cls, PipelineConstruct) else []


def signatures_markdown() -> str:
    """The constructor props of the five pipeline constructs side by side: shared props first, then each one's own."""
    columns = [name for _, name in PIPELINE_CONSTRUCTS]
    params = {name: construct_parameters(module, name) for module, name in PIPELINE_CONSTRUCTS}

    def cell(name: str, prop: str) -> str:
        found = [(a, d) for p, a, d in params[name] if p == prop]
        if not found:
            return "-"
        annotation, default = found[0]
        return f"`{annotation}`" + (" (required)" if default == "required" else f" = `{default}`")

    rows = [[f"`{prop}`", *(cell(n, prop) for n in columns)] for prop in SHARED_PROPS]
    own = {n: [p for p, _, _ in params[n] if p not in SHARED_PROPS] for n in columns}
    rows.append(["own props", *(", ".join(f"`{p}`" for p in own[n]) or "-" for n in columns)])
    rows.append(
        ["escape hatches", *(", ".join(f"`{h}`" for h in escape_hatches(m, n)) or "-" for m, n in PIPELINE_CONSTRUCTS)]
    )
    header = ["prop", *(f"`{n}`" for n in columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n" + "\n".join(lines) + "\n"


def cli_example_markdown(pipelines: dict[str, list[Pipeline]]) -> str:
    from pipeline_constructs.cli.graph import to_mermaid
    from pipeline_constructs.cli.render import show_text

    name = "security_gated" if pipelines.get("security_gated") else next((k for k, v in pipelines.items() if v), None)
    if name is None:
        return ""
    chosen = pipelines[name][:1]
    return "\n".join(
        [
            f"For the `{name}` example (generated when these docs were built):",
            "",
            "```console",
            f"$ pipeline-constructs show examples/{name}/cdk.out",
            show_text(chosen).rstrip(),
            "```",
            "",
            f"`pipeline-constructs graph examples/{name}/cdk.out -f svg` draws:",
            "",
            f"![Pipeline {chosen[0].name}]({_svg_uri(name, chosen[0])})",
            "",
            f'??? example "`pipeline-constructs graph examples/{name}/cdk.out` (Mermaid source)"',
            "",
            "    ```text",
            *("    " + line for line in to_mermaid(chosen[0]).rstrip().splitlines()),
            "    ```",
            "",
        ]
    )


def picture_markdown(example: str, pipelines: list[Pipeline]) -> str:
    if not pipelines:
        return f"*The example `examples/{example}` has no pipeline in its cloud assembly.*\n"
    out = [
        f"Drawn at build time from `examples/{example}` with `pipeline-constructs graph --format svg`; "
        "gates are red hexagons, the critical path has a bold border.",
        "",
    ]
    for p in pipelines:
        out += [f"![Pipeline {p.name}]({_svg_uri(example, p)})", ""]
        out += ['??? info "Stages, actions, gates and critical path (`pipeline-constructs show`)"', ""]
        out += ["    " + line if line else "" for line in show_markdown([p], heading_level=4).splitlines()]
        out.append("")
    return "\n".join(out)


def _where(finding: dict[str, Any]) -> str:
    """``Logical id (template)``, the template without the assembly folder and its suffix."""
    template = str(finding["template"]).rsplit("/", 1)[-1].removesuffix(".json").removesuffix(".template")
    return f"{finding['logical_id']} ({template.removesuffix('.nested')})"


def compliance_markdown(results: dict[str, dict[str, Any]]) -> str:
    """The compliance page: per example and pack, unacknowledged / acknowledged findings of ``check``'s JSON."""
    if not results:
        return "!!! warning\n    No example assembly was available when these docs were built.\n"
    packs: list[str] = []
    for data in results.values():
        packs += [p for p in data["packs"] if p not in packs]
    out = ["### Per example", ""]
    rows = []
    for example, data in sorted(results.items()):
        summary = data["summary"]
        cells = [
            f"{summary[p]['unacknowledged']} / {summary[p]['acknowledged']}" if p in summary else "-" for p in packs
        ]
        rows.append([f"`{example}`", *cells])
    out.append(markdown_table(["example", *packs], rows))
    out += ["", "Each cell: unacknowledged / acknowledged findings (`pipeline-constructs check`).", ""]
    findings = [(e, f) for e, d in sorted(results.items()) for f in d["findings"] if not f["acknowledged"]]
    if findings:
        out += ['!!! danger "Unacknowledged findings"', ""]
        out += [f"    - `{e}`: `{f['rule']}` at `{_where(f)}`: {f['description']}" for e, f in findings]
        out.append("")
    grouped: dict[tuple[str, str, str], dict[str, Any]] = {}
    for example, data in sorted(results.items()):
        for f in data["findings"]:
            if not f["acknowledged"]:
                continue
            rule = f["rule"][len(f["pack"]) + 1 :]
            entry = grouped.setdefault((f["pack"], rule, f["reason"] or ""), {"examples": set(), "paths": set()})
            entry["examples"].add(example)
            entry["paths"].add(_where(f))
    out += ["### Every acknowledgment, with its reason", ""]
    for pack in [p for p in packs if any(k[0] == p for k in grouped)]:
        keys = sorted(k for k in grouped if k[0] == pack)
        out += [f"#### {pack} ({len(keys)})", ""]
        table = []
        for _, rule, reason in keys:
            entry = grouped[(pack, rule, reason)]
            paths = sorted(entry["paths"])
            where = f"`{paths[0]}`" + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")
            table.append([f"`{rule}`", reason, where, ", ".join(sorted(entry["examples"])), _proof(reason)])
        out += [markdown_table(["rule[finding]", "reason", "where", "examples", "proved by"], table), ""]
    return "\n".join(out)


def _proof(reason: str) -> str:
    """The test that proves a reason against every template it is written into."""
    from pipeline_constructs.core.compliance.reasons import match_reason

    ids = [r.id for r in match_reason(reason)]
    return f"`test_reason_holds[{ids[0]}]`" if len(ids) == 1 else "a team's own reason (not checked)"


def reasons_markdown() -> str:
    """Every reason of the catalogue: the rules it may acknowledge, its text, evidence, the test that proves it."""
    from pipeline_constructs.core.compliance.reasons import REASONS

    rows = []
    for entry in sorted(REASONS.values(), key=lambda r: r.id):
        evidence = "<br>".join(e if not e.startswith("http") else f"<{e}>" for e in entry.evidence) or "the template"
        rows.append(
            [
                f"`{entry.id}`",
                ", ".join(f"`{r}`" for r in entry.rules),
                entry.template.replace("|", "\\|"),
                evidence,
                f"`tests/test_compliance.py::test_reason_holds[{entry.id}]`",
            ]
        )
    return markdown_table(
        ["reason", "rules", "claim (placeholders filled per resource)", "evidence", "proved by"], rows
    )


#: A cdk-nag pack name (``AwsSolutions``, ``NIST.800.53.R5``): findings per pack are summed in the tables.
_PACK_LIKE = re.compile(r"^[A-Z][A-Za-z]*(\.[A-Za-z0-9]+)*$")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, dict):
        if value and all(isinstance(v, (int, float)) for v in value.values()):
            if all(isinstance(v, int) for v in value.values()) and all(_PACK_LIKE.match(k) for k in value):
                return str(sum(value.values()))
            return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
        return json.dumps(value)
    return "" if value is None else str(value)


def benchmark_markdown(path: Path) -> str:
    if not path.is_file():
        return (
            '!!! note "Not run yet"\n'
            "    The benchmark has not been run for this build: `make bench` writes\n"
            "    `benchmarks/out/results.json`, and the next docs build shows it here.\n"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        log.warning("benchmark results %s unreadable: %s", path, e)
        return f"!!! warning\n    `{path.name}` could not be read: {e}\n"
    out: list[str] = []
    meta = {k: v for k, v in data.items() if not isinstance(v, (dict, list))} if isinstance(data, dict) else {}
    nodes = data.get("nodes") if isinstance(data, dict) else None
    if meta or isinstance(nodes, dict):
        facts = [f"{k}: {_fmt(v)}" for k, v in meta.items()]
        if isinstance(nodes, dict):
            facts.append("Node.js: " + ", ".join(f"{k} = {v}" for k, v in nodes.items()))
        out += ["*" + "; ".join(facts) + "*", ""]
    examples = data.get("examples") if isinstance(data, dict) else None
    if not isinstance(examples, dict):
        return "\n".join([*out, "```json", json.dumps(data, indent=2), "```", ""])
    for name, variants in examples.items():
        out += [f"### `{name}`", ""]
        if not isinstance(variants, dict) or not all(isinstance(v, dict) for v in variants.values()):
            out += ["```json", json.dumps(variants, indent=2), "```", ""]
            continue
        metrics: list[str] = []
        for v in variants.values():
            metrics += [k for k in v if k not in metrics]
        rows = [[m.replace("_", " "), *(_fmt(v.get(m)) for v in variants.values())] for m in metrics]
        out += [markdown_table(["metric", *variants], rows), ""]
    return "\n".join(out)


def refresh_committed_pages(docs: Path = ROOT / "docs") -> list[Path]:
    """Rewrite the committed copies that need no synthesis (the benchmark tables); return the pages changed."""
    changed: list[Path] = []
    page = docs / "performance.md"
    text = page.read_text(encoding="utf-8")
    old = committed_region(text, "benchmark-results")
    if old is not None:
        start, end = "<!-- benchmark-results -->", "<!-- /benchmark-results -->"
        fresh = text.replace(start + old + end, f"{start}\n{benchmark_markdown(BENCHMARK).rstrip()}\n{end}")
        if fresh != text:
            page.write_text(fresh, encoding="utf-8")
            changed.append(page)
    return changed


if __name__ == "__main__":  # python docs/hooks/pipeline_docs.py: refresh the committed benchmark tables
    for changed_page in refresh_committed_pages():
        print(f"updated {changed_page.relative_to(ROOT)}")
