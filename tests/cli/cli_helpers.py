"""Helpers of the CLI tests: offline node_modules for TypeScript apps, synthetic assemblies, validators.

The validators are deliberately strict and independent of the code under test: a Mermaid
flowchart checker, a DOT parser (the grammar of https://graphviz.org/doc/info/lang.html
without HTML labels and ports), and SVG geometry (boxes, texts, arrow segments).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from pipeline_constructs.cli import main
from pipeline_constructs.cli.assembly import CloudAssembly
from pipeline_constructs.cli.model import Pipeline, pipelines_in

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
APPS = FIXTURES / "apps"
ASSEMBLIES = FIXTURES / "assemblies"
#: A plain CDK Pipelines app (aws-cdk-lib only): waves, regions, a permission check and an approval.
PLAIN_APP = APPS / "plain_pipelines_app"
#: A hand-made assembly: a pipeline in a nested stage assembly, gated, with a cross-region support stack.
NESTED = ASSEMBLIES / "nested_gated"
#: A hand-made assembly whose cdk-nag findings were counted by hand (tests/cli/test_check.py).
HAND = ASSEMBLIES / "nag_hand"
#: The hand-made assemblies with a pipeline.
HAND_MADE = [ASSEMBLIES / "nested_gated", ASSEMBLIES / "nested_stack"]
SVG = "{http://www.w3.org/2000/svg}"


def cli(*argv: str | Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    """``pipeline-constructs ARGV`` in a subprocess (the console script's code path)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline_constructs.cli", *map(str, argv)], capture_output=True, text=True, check=False
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def pipelines_at(path: Path) -> list[Pipeline]:
    """The pipelines of the cloud assembly at ``path``."""
    return pipelines_in(CloudAssembly.load(path))


def run(capsys, *argv: str | Path) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    """``pipeline-constructs ARGV`` in this process: (exit status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def check_json(capsys, *argv: str | Path) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    """``pipeline-constructs check ARGV --format json``: (exit status, the report); nothing on stderr."""
    status = main(["check", *map(str, argv), "--format", "json"])
    out, err = capsys.readouterr()
    assert err == "", err
    return status, json.loads(out)


# --- TypeScript apps offline -----------------------------------------------------------------------


def jsii_tarballs() -> list[Path]:
    """The npm tarballs inside the installed jsii wheels (aws-cdk-lib and its bundled peers, constructs)."""
    found: list[Path] = []
    for module in ("aws_cdk", "constructs"):
        spec = importlib.util.find_spec(module)
        assert spec is not None, module
        assert spec.submodule_search_locations, module
        root = Path(next(iter(spec.submodule_search_locations)))
        found += sorted(root.rglob("_jsii/*.tgz"))
    return found


def build_node_modules(app: Path) -> None:
    """``app/node_modules`` from the wheels' tarballs, plus the offline ts-node stand-in and its ``.bin`` link."""
    modules = app / "node_modules"
    for tarball in jsii_tarballs():
        with tempfile.TemporaryDirectory() as tmp, tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
            package = Path(tmp) / "package"
            name = json.loads((package / "package.json").read_text())["name"]
            target = modules / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(package), target)
    shim = modules / "ts-node"
    shutil.copytree(APPS / "ts_pipeline_app" / "ts-node-shim", shim)
    (modules / ".bin").mkdir(exist_ok=True)
    (modules / ".bin" / "ts-node").symlink_to("../ts-node/bin.js")
    (shim / "bin.js").chmod(0o755)


def copy_ts_app(where: Path) -> Path:
    """A copy of the TypeScript fixture app with its node_modules, ready for ``synth``."""
    app = where / "ts_pipeline_app"
    shutil.copytree(APPS / "ts_pipeline_app", app, ignore=shutil.ignore_patterns("ts-node-shim"))
    build_node_modules(app)
    return app


# --- synthetic assemblies ---------------------------------------------------------------------------

_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
_WILDCARD = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def write_unhardened_assembly(outdir: Path, *, stacks: int, pairs_per_stack: int, acknowledged_every: int = 0) -> Path:
    """A cloud assembly of ``stacks`` templates, each with ``pairs_per_stack`` bare buckets and wildcard roles.

    Each pair raises 29 findings over the five packs (measured: a bare bucket 22, a role with an inline
    ``s3:*`` on ``*`` 7). With ``acknowledged_every`` = n, every n-th bucket acknowledges its
    AwsSolutions findings in its metadata (cdk-nag v3 and v2 forms alternately).
    """
    outdir.mkdir(parents=True, exist_ok=True)
    artifacts = {}
    for s in range(stacks):
        resources: dict[str, dict[str, object]] = {}
        for i in range(pairs_per_stack):
            bucket: dict[str, object] = {"Type": "AWS::S3::Bucket"}
            if acknowledged_every and i % acknowledged_every == 0:
                rules = [
                    {"id": "AwsSolutions-S1", "reason": "synthetic: access logs elsewhere"},
                    {"id": "AwsSolutions-S10", "reason": "synthetic: SSL enforced by an SCP"},
                ]
                if i % 2:
                    rules = [
                        {"id": "AwsSolutions-S1", "reason": "synthetic"},
                        {"id": "AwsSolutions-S10", "reason": "x"},
                    ]
                bucket["Metadata"] = {"cdk_nag": {"rules_to_suppress": rules}}
            resources[f"Bucket{i}"] = bucket
            resources[f"Role{i}"] = {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": _TRUST,
                    "Policies": [{"PolicyName": "wildcard", "PolicyDocument": _WILDCARD}],
                },
            }
        (outdir / f"Synthetic{s}.template.json").write_text(json.dumps({"Resources": resources}))
        artifacts[f"Synthetic{s}"] = {
            "type": "aws:cloudformation:stack",
            "environment": "aws://111111111111/eu-west-1",
            "properties": {"templateFile": f"Synthetic{s}.template.json"},
        }
    (outdir / "manifest.json").write_text(json.dumps({"version": "36.0.0", "artifacts": artifacts}))
    return outdir


# --- Mermaid ---------------------------------------------------------------------------------------

_ID = r"[A-Za-z][A-Za-z0-9_]*"
_LABEL = r'"[^"]*"'
_RESERVED = {"end", "subgraph", "graph", "flowchart", "style", "class", "classDef", "click", "linkStyle", "direction"}
_MERMAID_LINES = [
    ("header", re.compile(r"^flowchart (TB|TD|BT|LR|RL)$")),
    ("subgraph", re.compile(rf"^subgraph ({_ID})\[({_LABEL})\]$")),
    ("direction", re.compile(r"^direction (TB|TD|BT|LR|RL)$")),
    ("end", re.compile(r"^end$")),
    ("node", re.compile(rf"^({_ID})(?:\[({_LABEL})\]|\{{\{{({_LABEL})\}}\}})(?::::({_ID}))?$")),
    ("edge", re.compile(rf"^({_ID}) (-->|==>|-.->) ({_ID})$")),
    ("classdef", re.compile(rf"^classDef ({_ID}) ([a-z-]+:[^,\s]+(?:,[a-z-]+:[^,\s]+)*)$")),
    ("class", re.compile(rf"^class ({_ID}(?:,{_ID})*) ({_ID})$")),
]


def check_mermaid(text: str) -> dict[str, list[str]]:
    """Validate one Mermaid flowchart; return ``{"subgraphs": [...], "nodes": [...], "labels": [...]}``.

    Raises ``AssertionError`` on anything Mermaid would reject or misread: a second header,
    unbalanced ``subgraph``/``end``, an id used twice or never defined, a reserved word as an id,
    a raw quote or ``#`` that is not an entity code inside a label, an undefined class.
    """
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("%%")]
    assert lines, "empty document"
    ids: dict[str, str] = {}
    out: dict[str, list[str]] = {"subgraphs": [], "nodes": [], "labels": []}
    classes_used: set[str] = set()
    classes_defined: set[str] = set()
    depth = 0
    refs: list[str] = []
    for n, line in enumerate(lines):
        kind, match = next(((k, m) for k, rx in _MERMAID_LINES if (m := rx.match(line))), ("?", None))
        assert match is not None, f"line {n + 1} is not Mermaid flowchart syntax: {line!r}"
        assert (kind == "header") == (n == 0), f"line {n + 1}: the header must be the first line, once: {line!r}"
        if kind in ("subgraph", "node"):
            name = match.group(1)
            assert name not in _RESERVED, f"reserved word as id: {name}"
            assert name not in ids, f"id {name} defined twice"
            ids[name] = kind
            label = next(g for g in match.groups()[1:] if g is not None and g.startswith('"'))[1:-1]
            assert re.fullmatch(r"(?:[^#\"]|#(?:[a-z]+|\d+);)*", label), f"bad characters in label {label!r}"
            out["labels"].append(label)
            out["subgraphs" if kind == "subgraph" else "nodes"].append(name)
            if kind == "subgraph":
                depth += 1
            elif match.group(4):
                classes_used.add(match.group(4))
        elif kind == "end":
            depth -= 1
            assert depth >= 0, f"line {n + 1}: end without subgraph"
        elif kind == "edge":
            refs += [match.group(1), match.group(3)]
        elif kind == "classdef":
            classes_defined.add(match.group(1))
        elif kind == "class":
            refs += match.group(1).split(",")
            classes_used.add(match.group(2))
    assert depth == 0, "unclosed subgraph"
    missing = [r for r in refs if r not in ids]
    assert not missing, f"undefined ids: {missing}"
    assert classes_used <= classes_defined, f"undefined classes: {classes_used - classes_defined}"
    return out


# --- DOT -------------------------------------------------------------------------------------------

_DOT_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<edge>->|--)|(?P<id>[A-Za-z_][A-Za-z0-9_]*|-?(?:\.\d+|\d+(?:\.\d*)?))'
    r"|(?P<punct>[{}\[\]=;,:])|(?P<comment>//[^\n]*|/\*.*?\*/|#[^\n]*))",
    re.S,
)


@dataclass
class DotGraph:
    name: str
    nodes: set[str]
    edges: list[tuple[str, str]]
    clusters: list[str]


def parse_dot(text: str) -> DotGraph:
    """Parse one DOT graph strictly (a second graph after the first is an error, as is any syntax error)."""
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _DOT_TOKEN.match(text, pos)
        assert m is not None, f"bad DOT at {text[pos : pos + 40]!r}"
        assert m.end() > pos, f"bad DOT at {text[pos : pos + 40]!r}"
        pos = m.end()
        if m.group("comment") is None:
            tokens.append(m.group().strip())
    graph = DotGraph("", set(), [], [])
    i = 0

    def peek() -> str:
        return tokens[i] if i < len(tokens) else ""

    def take(expected: str | None = None) -> str:
        nonlocal i
        assert i < len(tokens), f"unexpected end, expected {expected}"
        tok = tokens[i]
        assert expected is None or tok == expected, f"expected {expected!r}, got {tok!r}"
        i += 1
        return tok

    def is_id(tok: str) -> bool:
        return bool(tok) and (tok[0] == '"' or tok[0].isalnum() or tok[0] in "_-.") and tok not in "{}[]=;,:"

    def ident() -> str:
        tok = take()
        assert is_id(tok), f"expected an id, got {tok!r}"
        return tok[1:-1] if tok.startswith('"') else tok

    def attr_list() -> None:
        while peek() == "[":
            take("[")
            while peek() != "]":
                ident()
                take("=")
                ident()
                if peek() in (";", ","):
                    take()
            take("]")

    def stmt_list() -> None:
        while peek() != "}":
            stmt()
            if peek() == ";":
                take(";")

    def subgraph() -> list[str]:
        name = ""
        if peek() == "subgraph":
            take("subgraph")
            if peek() != "{":
                name = ident()
                if name.startswith("cluster"):
                    graph.clusters.append(name)
        before = set(graph.nodes)
        take("{")
        stmt_list()
        take("}")
        return sorted(graph.nodes - before)

    def endpoint() -> list[str]:
        if peek() in ("{", "subgraph"):
            return subgraph()
        name = ident()
        graph.nodes.add(name)
        return [name]

    def stmt() -> None:
        tok = peek()
        if tok in ("graph", "node", "edge"):
            take()
            attr_list()
            return
        if tok in ("{", "subgraph"):
            left = subgraph()
        else:
            first = ident()
            if peek() == "=":
                take("=")
                ident()
                return
            graph.nodes.add(first)
            left = [first]
        while peek() in ("->", "--"):
            assert take() == "->", "undirected edge in a digraph"
            right = endpoint()
            graph.edges += [(a, b) for a in left for b in right]
            left = right
        attr_list()

    if peek() == "strict":
        take()
    assert take() == "digraph", "expected digraph"
    if peek() != "{":
        graph.name = ident()
    take("{")
    stmt_list()
    take("}")
    assert i == len(tokens), f"content after the graph: {tokens[i : i + 5]}"
    return graph


# --- SVG geometry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def overlaps(self, other: Rect) -> bool:
        return self.x < other.right and other.x < self.right and self.y < other.bottom and other.y < self.bottom

    def contains(self, other: Rect, slack: float = 0.01) -> bool:
        return (
            self.x - slack <= other.x
            and other.right <= self.right + slack
            and self.y - slack <= other.y
            and other.bottom <= self.bottom + slack
        )


def path_points(d: str) -> list[list[tuple[float, float]]]:
    """Subpaths of an SVG path made of absolute M, L, H, V, Z commands."""
    subpaths: list[list[tuple[float, float]]] = []
    x = y = 0.0
    for cmd, args in re.findall(r"([MLHVZ])([^MLHVZ]*)", d):
        nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if cmd == "M":
            x, y = nums[0], nums[1]
            subpaths.append([(x, y)])
        elif cmd == "L":
            x, y = nums[0], nums[1]
            subpaths[-1].append((x, y))
        elif cmd == "H":
            x = nums[0]
            subpaths[-1].append((x, y))
        elif cmd == "V":
            y = nums[0]
            subpaths[-1].append((x, y))
        elif cmd == "Z":
            subpaths[-1].append(subpaths[-1][0])
    return subpaths


def bbox(points: list[tuple[float, float]]) -> Rect:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return Rect(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def shape_box(element: ET.Element) -> Rect:
    if element.tag == f"{SVG}rect":
        return Rect(*(float(element.get(k, 0)) for k in ("x", "y", "width", "height")))
    return bbox([p for sub in path_points(element.get("d", "")) for p in sub])


def segments(d: str) -> list[tuple[float, float, float, float]]:
    out = []
    for sub in path_points(d):
        for (x1, y1), (x2, y2) in itertools.pairwise(sub):
            out.append((x1, y1, x2, y2))
    return out


def segment_crosses(seg: tuple[float, float, float, float], rect: Rect, margin: float = 0.5) -> bool:
    """The axis-parallel segment ``seg`` passes through the inside of ``rect`` (touching an edge is fine)."""
    x1, y1, x2, y2 = seg
    assert x1 == x2 or y1 == y2, f"arrow segment not axis-parallel: {seg}"
    lo_x, hi_x, lo_y, hi_y = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
    return (
        lo_x < rect.right - margin and hi_x > rect.x + margin and lo_y < rect.bottom - margin and hi_y > rect.y + margin
    )
