"""`make demo`: synthesize every example, show each pipeline, write its pictures.

For every ``examples/<name>/`` with a ``cdk.json`` (or an ``app.py``), in
separate processes with the project's Node 24 (two at a time by default):

1. ``pipeline-constructs synth`` into ``demo-out/<name>/cdk.out``;
2. prints ``pipeline-constructs show`` for each pipeline, and the cdk-nag
   summary of ``pipeline-constructs check``;
3. writes ``demo-out/<name>/<pipeline>.mmd`` (Mermaid) and ``.svg``, and
   ``demo-out/index.html`` showing every picture.

Exit status: 0 when every example synthesized with no unacknowledged
cdk-nag finding, 1 otherwise, 2 when there is no example.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pipeline_constructs.core.private.node  # noqa: F401  (selects Node 24 before anything loads jsii)
from pipeline_constructs.cli import render_graph
from pipeline_constructs.cli.assembly import AssemblyError, CloudAssembly
from pipeline_constructs.cli.check import check_in_subprocess
from pipeline_constructs.cli.model import Pipeline, pipelines_in
from pipeline_constructs.cli.render import show_text
from pipeline_constructs.cli.synth import synth

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Outcome:
    name: str
    seconds: float = 0.0
    pipelines: list[Pipeline] = field(default_factory=list)
    findings: int = 0
    acknowledgments: int = 0
    error: str | None = None
    pictures: list[Path] = field(default_factory=list)


def find_examples(examples: Path) -> list[Path]:
    return sorted(
        d for d in examples.iterdir() if d.is_dir() and ((d / "cdk.json").is_file() or (d / "app.py").is_file())
    )


def ensure_cdk_json(example: Path) -> None:
    if not (example / "cdk.json").is_file():
        (example / "cdk.json").write_text(json.dumps({"app": "python app.py"}) + "\n")


def build(example: Path, out: Path) -> Outcome:
    outcome = Outcome(example.name)
    ensure_cdk_json(example)
    result = synth(example, output=out / example.name / "cdk.out", capture=True)
    outcome.seconds = result.seconds
    try:
        assembly = CloudAssembly.load(result.outdir)
    except AssemblyError as e:
        assembly = None
        outcome.error = str(e)
    if assembly is not None:
        try:  # the five packs over every template, in its own process (builds run in threads)
            findings = check_in_subprocess(result.outdir)["findings"]
        except AssemblyError as e:
            outcome.error = f"check: {e}"
            findings = []
        outcome.findings = sum(1 for f in findings if not f["acknowledged"])
        outcome.acknowledgments = sum(1 for f in findings if f["acknowledged"])
        outcome.pipelines = pipelines_in(assembly)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or "").strip().splitlines()[-15:])
        outcome.error = f"synth failed (exit status {result.returncode})" + (f":\n{tail}" if tail else "")
    for p in outcome.pipelines:
        for fmt, ext in (("mermaid", ".mmd"), ("svg", ".svg")):
            target = out / example.name / f"{_slug(p.name)}{ext}"
            target.write_text(render_graph(p, fmt), encoding="utf-8")
            outcome.pictures.append(target)
    return outcome


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-") or "pipeline"


def write_index(out: Path, outcomes: list[Outcome]) -> Path:
    parts = [
        "<!doctype html><meta charset='utf-8'><title>pipeline-constructs demo</title>",
        "<style>body{font-family:sans-serif;margin:2em}img{max-width:100%;border:1px solid #ddd}</style>",
        "<h1>pipeline-constructs: the example pipelines</h1>",
    ]
    for o in outcomes:
        parts.append(f"<h2>{html.escape(o.name)}</h2>")
        if o.error:
            parts.append(f"<pre>{html.escape(o.error)}</pre>")
        for pic in o.pictures:
            if pic.suffix == ".svg":
                parts.append(
                    f"<p><img src='{html.escape(pic.relative_to(out).as_posix())}' alt='{html.escape(pic.stem)}'></p>"
                )
    index = out / "index.html"
    index.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--examples", type=Path, default=ROOT / "examples", help="folder of example apps")
    parser.add_argument("--out", type=Path, default=ROOT / "demo-out", help="where assemblies and pictures go")
    parser.add_argument("--jobs", type=int, default=2, help="examples synthesized at once (default: 2)")
    parser.add_argument("names", nargs="*", help="only these examples")
    args = parser.parse_args(argv)

    examples = find_examples(args.examples) if args.examples.is_dir() else []
    if args.names:
        examples = [e for e in examples if e.name in args.names]
    if not examples:
        print(f"demo: no example app under {args.examples}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"Synthesizing {len(examples)} examples ({args.jobs} at a time, Node 24): "
        + ", ".join(e.name for e in examples),
        flush=True,
    )
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = list(pool.map(lambda e: build(e, args.out), examples))
    failed = 0
    for o in outcomes:
        print()
        print("=" * 100)
        print(
            f"{o.name}: synthesized in {o.seconds:.1f}s; cdk-nag: {o.findings} unacknowledged findings, "
            f"{o.acknowledgments} acknowledged"
        )
        print("=" * 100)
        if o.error:
            print(f"ERROR: {o.error}")
        if o.pipelines:
            print(show_text(o.pipelines))
        elif not o.error:
            print("(no pipeline in this example's assembly)")
        for pic in o.pictures:
            print(f"  picture: {pic.relative_to(ROOT) if pic.is_relative_to(ROOT) else pic}")
        if o.error or o.findings or not o.pipelines:
            failed += 1
    index = write_index(args.out, outcomes)
    print()
    print(
        f"{len(outcomes) - failed}/{len(outcomes)} examples ok in {time.perf_counter() - start:.0f}s; "
        f"pictures: {index.relative_to(ROOT) if index.is_relative_to(ROOT) else index}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
