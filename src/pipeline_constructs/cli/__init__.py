"""The ``pipeline-constructs`` command: synthesize, inspect, draw and check CDK Pipelines.

``show``, ``graph`` and ``check`` read any cloud assembly (``cdk.out``) with
the standard library only: they parse the ``AWS::CodePipeline::Pipeline``
resources of every stack, nested stage assemblies included, and never start
the CDK. ``synth`` runs an app with the project's Node 24.

Exit status: 0 success; 1 the command ran and found a problem (failed synth,
unacknowledged cdk-nag findings); 2 bad input (not an app, not a cloud
assembly, no pipeline) with a one-line message.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from pipeline_constructs.cli.assembly import AssemblyError, CloudAssembly
from pipeline_constructs.cli.graph import FORMATS, to_dot, to_mermaid
from pipeline_constructs.cli.model import Pipeline, pipelines_in
from pipeline_constructs.cli.nag import NagResults, read_nag
from pipeline_constructs.cli.render import markdown_table, show_json, show_markdown, show_text, text_table
from pipeline_constructs.cli.svg import to_svg

__all__ = ["load_pipelines", "main", "render_graph"]

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
    if fmt == "mermaid":
        return to_mermaid(pipeline)
    if fmt == "dot":
        return to_dot(pipeline)
    if fmt == "svg":
        return to_svg(pipeline)
    raise ValueError(f"format = {fmt!r} is invalid: expected one of {', '.join(FORMATS)}")


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
    result = synth(args.app_dir, output=args.output, context=context, quiet=args.quiet)
    if result.returncode != 0:
        hint = ""
        manifest = result.outdir / "manifest.json"
        if manifest.is_file():
            try:
                nag = read_nag(CloudAssembly.load(result.outdir))
            except AssemblyError:
                nag = NagResults()
            if nag.findings:
                hint = f"; {len(nag.findings)} unacknowledged cdk-nag findings: run {PROG} check {result.outdir}"
        print(f"{PROG}: synth of {args.app_dir} failed (exit status {result.returncode}){hint}", file=sys.stderr)
        return 1
    try:
        assembly = CloudAssembly.load(result.outdir)
    except AssemblyError:
        print(f"{PROG}: {args.app_dir}: the app ran but wrote no cloud assembly to {result.outdir}", file=sys.stderr)
        return 1
    count = len(pipelines_in(assembly))
    print(
        f"synthesized {args.app_dir} in {result.seconds:.1f}s: {len(assembly.stacks)} stacks, "
        f"{count} pipeline{'s' if count != 1 else ''} -> {result.outdir}"
    )
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    pipelines = load_pipelines(args.cdk_out, name=args.pipeline)
    if args.format == "json":
        sys.stdout.write(show_json(pipelines))
    elif args.format == "markdown":
        sys.stdout.write(show_markdown(pipelines))
    else:
        sys.stdout.write(show_text(pipelines))
    return 0


def _cmd_graph(args: argparse.Namespace) -> int:
    pipelines = load_pipelines(args.cdk_out, name=args.pipeline)
    if args.output is None:
        if args.format == "svg" and len(pipelines) > 1:
            raise AssemblyError(
                f"{len(pipelines)} pipelines cannot share one SVG on standard output: "
                "pass --output DIR, or --pipeline NAME"
            )
        sys.stdout.write("\n".join(render_graph(p, args.format) for p in pipelines))
        return 0
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for p in pipelines:
        target = out / f"{_slug(p.name)}{_EXT[args.format]}"
        target.write_text(render_graph(p, args.format), encoding="utf-8")
        print(target)
    return 0


def _check_text(results: NagResults, *, show_acks: bool) -> str:
    out: list[str] = []
    counts = results.counts()
    if not results.reported_packs and not results.acknowledgments:
        return (
            "No cdk-nag findings or acknowledgments in this assembly "
            "(if no rule pack ran: add_compliance_checks(app), then synthesize).\n"
        )
    out.append("cdk-nag packs:")
    out.append(
        text_table(
            ("Pack", "Unacknowledged", "Acknowledged"),
            [[p, str(f), str(a)] for p, (f, a) in counts.items()] or [["(none)", "0", "0"]],
        )
    )
    if results.findings:
        out.append("")
        out.append(f"Unacknowledged findings ({len(results.findings)}):")
        out.append(
            text_table(
                ("Pack", "Rule", "Severity", "Resource", "Finding"),
                [[f.pack, f.rule, f.severity, f.path, f.description] for f in results.findings],
                max_widths=(None, 44, None, 56, 56),
            )
        )
    if show_acks and results.acknowledgments:
        out.append("")
        out.append(f"Acknowledgments ({len(results.acknowledgments)}):")
        out.append(
            text_table(
                ("Pack", "Rule", "Resource", "Reason"),
                [[a.pack, a.rule, a.path, a.reason] for a in results.acknowledgments],
                max_widths=(None, 44, 56, 64),
            )
        )
    out.append("")
    out.append(
        f"{len(results.findings)} unacknowledged findings, {len(results.acknowledgments)} acknowledgments"
        + (" (FAIL)" if results.findings else " (ok)")
    )
    return "\n".join(out) + "\n"


def _check_markdown(results: NagResults) -> str:
    out = [
        markdown_table(
            ("Pack", "Unacknowledged", "Acknowledged"), [[p, str(f), str(a)] for p, (f, a) in results.counts().items()]
        ),
        "",
    ]
    if results.findings:
        out += [
            markdown_table(
                ("Pack", "Rule", "Resource", "Finding"),
                [[f.pack, f"`{f.rule}`", f"`{f.path}`", f.description] for f in results.findings],
            ),
            "",
        ]
    if results.acknowledgments:
        out.append(
            markdown_table(
                ("Pack", "Rule", "Resource", "Reason"),
                [[a.pack, f"`{a.rule}`", f"`{a.path}`", a.reason] for a in results.acknowledgments],
            )
        )
    return "\n".join(out) + "\n"


def _cmd_check(args: argparse.Namespace) -> int:
    assembly = CloudAssembly.load(args.cdk_out)
    results = read_nag(assembly)
    if args.format == "json":
        data = {
            "packs": {p: {"unacknowledged": f, "acknowledged": a} for p, (f, a) in results.counts().items()},
            "findings": [f.__dict__ for f in results.findings],
            "acknowledgments": [a.__dict__ for a in results.acknowledgments],
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(_check_markdown(results))
    else:
        sys.stdout.write(_check_text(results, show_acks=not args.summary))
    return 1 if results.findings else 0


def build_parser() -> argparse.ArgumentParser:
    from pipeline_constructs.cli.version import version

    parser = _Parser(prog=PROG, description="Synthesize, inspect, draw and check CDK Pipelines cloud assemblies.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("synth", help="run the app of APP_DIR/cdk.json with Node 24 and write the cloud assembly")
    p.add_argument("app_dir", metavar="APP_DIR", help="folder with cdk.json")
    p.add_argument(
        "-o", "--output", help="assembly folder (default: $CDK_OUTDIR, else cdk.json 'output', else APP_DIR/cdk.out)"
    )
    p.add_argument("-c", "--context", action="append", metavar="KEY=VALUE", help="context value (repeatable)")
    p.add_argument("-q", "--quiet", action="store_true", help="hide the app's standard output")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("show", help="stages, actions, gates and critical path of each pipeline")
    p.add_argument("cdk_out", metavar="CDK_OUT", help="cloud assembly folder (cdk.out)")
    p.add_argument("-p", "--pipeline", help="only pipelines whose name or stack contains this")
    p.add_argument("-f", "--format", choices=("text", "markdown", "json"), default="text")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("graph", help="a picture of each pipeline (Mermaid, SVG or Graphviz DOT)")
    p.add_argument("cdk_out", metavar="CDK_OUT", help="cloud assembly folder (cdk.out)")
    p.add_argument("-f", "--format", choices=FORMATS, default="mermaid")
    p.add_argument(
        "-o", "--output", metavar="DIR", help="write one file per pipeline into DIR (default: standard output)"
    )
    p.add_argument("-p", "--pipeline", help="only pipelines whose name or stack contains this")
    p.set_defaults(func=_cmd_graph)

    p = sub.add_parser("check", help="cdk-nag findings and acknowledgments per pack; exit 1 on any finding")
    p.add_argument("cdk_out", metavar="CDK_OUT", help="cloud assembly folder (cdk.out)")
    p.add_argument("-f", "--format", choices=("text", "markdown", "json"), default="text")
    p.add_argument("--summary", action="store_true", help="counts and findings only, no acknowledgment list")
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
