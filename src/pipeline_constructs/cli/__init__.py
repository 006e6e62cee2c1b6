"""The ``pipeline-constructs`` command: synthesize, inspect, draw and check CDK Pipelines.

``show`` and ``graph`` read any cloud assembly (``cdk.out``) with the standard
library only: they parse the ``AWS::CodePipeline::Pipeline`` resources of every
stack, nested stage assemblies and nested stacks included, and never start the
CDK. ``check`` runs the cdk-nag packs over every template of the assembly
(:mod:`pipeline_constructs.core.compliance.audit`). ``synth`` runs any CDK app
with the project's Node 24 and fails where the CDK CLI fails.

Exit status: 0 success; 1 the command ran and found a problem (failed synth,
unacknowledged cdk-nag findings); 2 bad input (not an app, not a cloud
assembly, no pipeline, a template ``check`` cannot read) with a one-line message.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from pipeline_constructs.cli.assembly import AssemblyError, CloudAssembly
from pipeline_constructs.cli.graph import FORMATS, combined_dot, combined_mermaid, to_dot, to_mermaid
from pipeline_constructs.cli.model import Pipeline, pipelines_in
from pipeline_constructs.cli.render import show_json, show_markdown, show_text
from pipeline_constructs.cli.svg import combined_svg, to_svg

__all__ = ["load_pipelines", "main", "render_graph", "render_graphs"]

PROG = "pipeline-constructs"
_EXT = {"mermaid": ".mmd", "svg": ".svg", "dot": ".dot"}


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (exit status 2), like every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def load_pipelines(path: str | Path, *, name: str | None = None) -> list[Pipeline]:
    """Every pipeline of the cloud assembly at ``path`` (optionally only those whose name contains ``name``).

    :raises AssemblyError: not a cloud assembly, or no (matching) pipeline in it.
    """
    assembly = CloudAssembly.load(path)
    pipelines = pipelines_in(assembly)
    if not pipelines:
        raise AssemblyError(
            f"{assembly.directory}: no pipeline in this cloud assembly "
            f"({len(assembly.stacks)} stacks, no AWS::CodePipeline::Pipeline resource)"
        )
    if name:
        chosen = [p for p in pipelines if name in p.name or name in p.stack or name == p.logical_id]
        if not chosen:
            names = ", ".join(p.name for p in pipelines)
            raise AssemblyError(f"{assembly.directory}: no pipeline matches {name!r} (pipelines: {names})")
        pipelines = chosen
    return pipelines


def render_graph(pipeline: Pipeline, fmt: str) -> str:
    """``pipeline`` as Mermaid, SVG or DOT source."""
    return _renderers(fmt)[0](pipeline)


def render_graphs(pipelines: Sequence[Pipeline], fmt: str) -> str:
    """One valid document for all of ``pipelines``: a single pipeline as :func:`render_graph`, several combined.

    Mermaid: one ``flowchart`` with a subgraph per pipeline; DOT: one ``digraph`` with a
    cluster per pipeline; SVG: one picture with the pipelines one below the other.
    """
    if len(pipelines) == 1:
        return render_graph(pipelines[0], fmt)
    return _renderers(fmt)[1](pipelines)


#: Per format: the renderer of one pipeline, and of several in one document.
_RENDERERS: dict[str, tuple[Callable[[Pipeline], str], Callable[[Sequence[Pipeline]], str]]] = {
    "mermaid": (to_mermaid, combined_mermaid),
    "dot": (to_dot, combined_dot),
    "svg": (to_svg, combined_svg),
}


def _renderers(fmt: str) -> tuple[Callable[[Pipeline], str], Callable[[Sequence[Pipeline]], str]]:
    if fmt not in _RENDERERS:
        raise ValueError(f"format = {fmt!r} is invalid: expected one of {', '.join(FORMATS)}")
    return _RENDERERS[fmt]


def _slug(text: str) -> str:
    out = "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-")
    while "--" in out:
        out = out.replace("--", "-")
    return out or "pipeline"


# --- commands -------------------------------------------------------------------


def _cmd_synth(args: argparse.Namespace) -> int:
    from pipeline_constructs.cli.synth import synth

    context: dict[str, object] = {}
    for item in args.context or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise AssemblyError(f"--context {item!r} is invalid: expected KEY=VALUE")
        context[key] = value
    result = synth(args.app_dir, output=args.output, context=context, quiet=args.quiet, strict=args.strict)
    if result.returncode != 0:
        print(f"{PROG}: synth of {args.app_dir} failed (exit status {result.returncode})", file=sys.stderr)
        return 1
    if result.problem is not None:
        print(f"{PROG}: {args.app_dir}: the app ran but wrote no cloud assembly: {result.problem}", file=sys.stderr)
        return 1
    for level, found in (("Error", result.errors), ("Warning", result.warnings)):
        for a in found:
            print(f"[{level} at /{a.path}] {a.message}", file=sys.stderr)
    if not result.ok:
        what = f"{len(result.errors)} error annotations" if result.errors else f"{len(result.warnings)} warnings"
        print(
            f"{PROG}: synth of {args.app_dir} failed: {what} in the assembly (the CDK CLI fails here too"
            + (", --strict" if not result.errors else "")
            + f"); the assembly is in {result.outdir}, {PROG} check {result.outdir} lists cdk-nag findings",
            file=sys.stderr,
        )
        return 1
    assembly = CloudAssembly.load(result.outdir)
    count = len(pipelines_in(assembly))
    print(
        f"synthesized {args.app_dir} in {result.seconds:.1f}s: {len(assembly.stacks)} stacks, "
        f"{count} pipeline{'s' if count != 1 else ''} -> {result.outdir}"
    )
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    pipelines = load_pipelines(args.cdk_out, name=args.pipeline)
    if args.format == "json":
        sys.stdout.write(show_json(pipelines, estimate=args.estimate))
    elif args.format == "markdown":
        sys.stdout.write(show_markdown(pipelines, estimate=args.estimate))
    else:
        sys.stdout.write(show_text(pipelines, estimate=args.estimate))
    return 0


def _cmd_graph(args: argparse.Namespace) -> int:
    pipelines = load_pipelines(args.cdk_out, name=args.pipeline)
    if args.output is None:
        sys.stdout.write(render_graphs(pipelines, args.format))
        return 0
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for p in pipelines:
        slug = _slug(p.name)
        if slug in used:  # two pipelines with one name (in two stacks): keep both files
            slug = f"{slug}-{_slug(p.stack)}-{_slug(p.logical_id)}"
        used.add(slug)
        target = out / f"{slug}{_EXT[args.format]}"
        target.write_text(render_graph(p, args.format), encoding="utf-8")
        print(target)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from pipeline_constructs.cli.check import render_check, run_check, summary_line

    result = run_check(
        args.cdk_out,
        packs=args.pack or None,
        acknowledgments=args.acknowledgments,
        bare_rule_covers_findings=not args.strict,
    )
    text = render_check(result, args.format, summary=args.summary)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"{summary_line(result)} -> {args.output}")
    else:
        sys.stdout.write(text)
    return result.exit_status


def build_parser() -> argparse.ArgumentParser:
    from pipeline_constructs.cli.version import version

    parser = _Parser(prog=PROG, description="Synthesize, inspect, draw and check CDK Pipelines cloud assemblies.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "synth", help="run the app of APP_DIR/cdk.json with Node 24 and write the cloud assembly, as cdk synth does"
    )
    p.add_argument("app_dir", metavar="APP_DIR", help="folder with cdk.json")
    p.add_argument(
        "-o", "--output", help="assembly folder (default: $CDK_OUTDIR, else cdk.json 'output', else APP_DIR/cdk.out)"
    )
    p.add_argument("-c", "--context", action="append", metavar="KEY=VALUE", help="context value (repeatable)")
    p.add_argument("-q", "--quiet", action="store_true", help="hide the app's standard output")
    p.add_argument("--strict", action="store_true", help="fail on warning annotations too (like cdk synth --strict)")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("show", help="stages, actions, gates and critical path of each pipeline")
    p.add_argument("cdk_out", metavar="CDK_OUT", help="cloud assembly folder (cdk.out)")
    p.add_argument("-p", "--pipeline", help="only pipelines whose name or stack contains this")
    p.add_argument("-f", "--format", choices=("text", "markdown", "json"), default="text")
    p.add_argument(
        "--estimate",
        action="store_true",
        help="add the fixed-model run time: worst case, typical run, first deployment done, per stage "
        "(JSON: an 'estimate' field per pipeline)",
    )
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("graph", help="a picture of each pipeline (Mermaid, SVG or Graphviz DOT)")
    p.add_argument("cdk_out", metavar="CDK_OUT", help="cloud assembly folder (cdk.out)")
    p.add_argument("-f", "--format", choices=FORMATS, default="mermaid")
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="write one file per pipeline into DIR (default: one document for all pipelines on standard output)",
    )
    p.add_argument("-p", "--pipeline", help="only pipelines whose name or stack contains this")
    p.set_defaults(func=_cmd_graph)

    from pipeline_constructs.cli.check import ACKNOWLEDGMENT_SCOPES, CHECK_FORMATS

    p = sub.add_parser(
        "check",
        help="run cdk-nag packs over every template; exit 1 on an unacknowledged finding, 2 on unreadable input",
    )
    p.add_argument("cdk_out", metavar="CDK_OUT", help="cloud assembly folder (cdk.out)")
    p.add_argument(
        "--pack",
        action="append",
        metavar="PACK",
        help="a cdk-nag pack to run (repeatable; default: the library's five, "
        "pipeline_constructs.core.compliance.PACK_NAMES; an unknown name lists the known ones)",
    )
    p.add_argument("-f", "--format", choices=CHECK_FORMATS, default="text")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE and print a one-line summary")
    p.add_argument("--summary", action="store_true", help="counts and unacknowledged findings only")
    p.add_argument(
        "--acknowledgments",
        choices=ACKNOWLEDGMENT_SCOPES,
        default="template",
        help="template: only each template's Metadata.cdk_nag counts (default); "
        "assembly: the manifest's aws:cdk:acknowledged-rules count too",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="a bare 'Pack-Rule' acknowledgment does not cover 'Pack-Rule[finding]' findings (cdk-nag v3's reading)",
    )
    p.set_defaults(func=_cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pipeline-constructs`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except AssemblyError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `pipeline-constructs show cdk.out | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        if os.environ.get("PIPELINE_CONSTRUCTS_DEBUG"):
            raise
        print(
            f"{PROG}: error: {type(e).__name__}: {e} (set PIPELINE_CONSTRUCTS_DEBUG=1 for a traceback)", file=sys.stderr
        )
        return 2
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
