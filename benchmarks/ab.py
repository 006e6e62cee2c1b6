"""Interleaved A/B timing of ``python app.py`` (stdlib only): is a change faster, on a noisy machine?

Runs the app alternately under variant A and B (``--runs`` pairs, order alternating) and prints the
medians of wall time and of CPU time (user + sys of Python and Node together: less sensitive to other
load than wall time). A variant is a source tree (``--a-src``/``--b-src``, put first on ``PYTHONPATH``;
the app is run from that tree too) and extra environment (``--a-env``/``--b-env`` ``NAME=VALUE``).

Usage: ``python benchmarks/ab.py --a-src /tmp/base --b-src . examples/dotnet_lambda/app.py --runs 7``
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_once(tree: Path, app: str, env_extra: dict[str, str], outdir: Path) -> tuple[float, float]:
    app_py = tree / app
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "CDK_OUTDIR": str(outdir), **env_extra}
    env.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    shutil.rmtree(outdir, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, app_py.name], cwd=app_py.parent, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _env(pairs: list[str]) -> dict[str, str]:
    return dict(p.split("=", 1) for p in pairs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", help="app path relative to the trees, e.g. examples/dotnet_lambda/app.py")
    parser.add_argument("--a-src", default=str(ROOT))
    parser.add_argument("--b-src", default=str(ROOT))
    parser.add_argument("--a-env", action="append", default=[])
    parser.add_argument("--b-env", action="append", default=[])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from pipeline_constructs.core.private.node import project_node

    node = project_node() or "node"
    variants = {
        "A": (Path(args.a_src).resolve(), {"JSII_NODE": node, **_env(args.a_env)}),
        "B": (Path(args.b_src).resolve(), {"JSII_NODE": node, **_env(args.b_env)}),
    }
    times: dict[str, list[tuple[float, float]]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            order = ("A", "B") if i % 2 == 0 else ("B", "A")
            for v in order:
                tree, env = variants[v]
                times[v].append(run_once(tree, args.app, env, Path(tmp) / v))
    med = {v: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t)) for v, t in times.items()}
    for v in ("A", "B"):
        walls = " ".join(f"{w:.2f}" for w, _ in times[v])
        print(f"{v}: wall median {med[v][0]:.2f} s, cpu median {med[v][1]:.2f} s   (walls: {walls})")
    print(
        f"B - A: wall {med['B'][0] - med['A'][0]:+.2f} s ({med['B'][0] / med['A'][0]:.3f}x), "
        f"cpu {med['B'][1] - med['A'][1]:+.2f} s ({med['B'][1] / med['A'][1]:.3f}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
