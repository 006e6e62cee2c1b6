"""Benchmark: MultiRegionLayerPipeline against the hand-written port at 1, 4, 10 and 30 regions.

For each region count and each variant (``library``: examples/multi_region_layer, one
``DeploymentTarget`` per region in the pipeline's account; ``handwritten``:
benchmarks/handwritten/multi_region_layer.py, one action per region) it synthesizes the
app in separate processes (default 5 each, interleaved so machine noise hits
both alike) with the project's Node 24 (``JSII_NODE``), and prints:

* synth time: median seconds of a whole ``python`` process (imports, jsii start,
  construction, synth; the cdk-nag packs are not run, for a like-for-like
  comparison);
* the pipeline stack's template size (compact JSON, KB) and resource count, the
  number of stacks and resources in the whole assembly;
* CodePipeline action counts: in total, and in the stage that publishes per region.

Usage: ``python benchmarks/layer_regions.py [--runs 5] [--regions 1,4,10,30] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _child import timed_child  # noqa: E402  (stdlib only)

ALL_REGIONS = [
    "us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2", "us-east-2", "us-west-1", "us-west-2",
    "ca-central-1", "sa-east-1", "eu-west-2", "eu-west-3", "eu-north-1", "eu-south-1", "eu-central-2",
    "eu-south-2", "il-central-1", "me-south-1", "me-central-1", "af-south-1", "ap-south-1", "ap-south-2",
    "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-3",
    "ap-southeast-4", "ca-west-1", "mx-central-1",
]  # fmt: skip
VARIANTS = {
    "library": ROOT / "examples" / "multi_region_layer" / "app.py",
    "handwritten": ROOT / "benchmarks" / "handwritten" / "multi_region_layer.py",
}


def child(variant: str, count: int, outdir: str) -> None:
    """Synthesize one variant at ``count`` regions (runs in a fresh process).

    Both apps take ``build_app(app, regions=[...])``; the example turns each region into a
    ``DeploymentTarget`` named after it (``targets=`` of MultiRegionLayerPipeline).
    """
    import importlib.util  # noqa: I001  (pipeline_constructs must come before aws_cdk: it selects Node 24)

    import pipeline_constructs  # noqa: F401
    import aws_cdk as cdk

    spec = importlib.util.spec_from_file_location(f"bench_{variant}", VARIANTS[variant])
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = cdk.App(outdir=outdir, analytics_reporting=False)
    module.build_app(app, regions=ALL_REGIONS[:count])
    app.synth()


def synth_once(variant: str, count: int, outdir: Path) -> float:
    return timed_child(__file__, variant, str(count), str(outdir))


def shape(outdir: Path) -> dict[str, Any]:
    stacks = [json.loads(p.read_text()) for p in outdir.glob("*.template.json")]
    pipeline = next(
        t for t in stacks if any(r["Type"] == "AWS::CodePipeline::Pipeline" for r in t["Resources"].values())
    )
    (resource,) = [r for r in pipeline["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    stages = resource["Properties"]["Stages"]
    return {
        "pipeline_kb": round(len(json.dumps(pipeline, separators=(",", ":"))) / 1024, 1),
        "pipeline_resources": len(pipeline["Resources"]),
        "stacks": len(stacks),
        "resources": sum(len(t["Resources"]) for t in stacks),
        "stages": len(stages),
        "actions": sum(len(s["Actions"]) for s in stages),
        "publish_stage_actions": max(len(s["Actions"]) for s in stages),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--regions", default="1,4,10,30")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "COUNT", "OUTDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return 0

    counts = [int(c) for c in args.regions.split(",")]
    results: dict[str, dict[int, dict[str, Any]]] = {v: {} for v in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for count in counts:
            times: dict[str, list[float]] = {v: [] for v in VARIANTS}
            for run in range(args.runs):
                for variant in VARIANTS:  # interleaved
                    outdir = Path(tmp) / f"{variant}-{count}-{run}"
                    times[variant].append(synth_once(variant, count, outdir))
            for variant in VARIANTS:
                row = shape(Path(tmp) / f"{variant}-{count}-0")
                row["synth_s"] = round(statistics.median(times[variant]), 2)
                row["synth_runs"] = [round(t, 2) for t in times[variant]]
                results[variant][count] = row
                print_row(variant, count, row)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


_HEADER_PRINTED = False


def print_row(variant: str, count: int, row: dict[str, Any]) -> None:
    global _HEADER_PRINTED
    if not _HEADER_PRINTED:
        print(
            f"{'variant':<12} {'regions':>7} {'synth s':>8} {'tmpl KB':>8} {'res':>4} {'stacks':>6} "
            f"{'res all':>7} {'stages':>6} {'actions':>7} {'publish stage':>13}"
        )
        _HEADER_PRINTED = True
    print(
        f"{variant:<12} {count:>7} {row['synth_s']:>8} {row['pipeline_kb']:>8} {row['pipeline_resources']:>4} "
        f"{row['stacks']:>6} {row['resources']:>7} {row['stages']:>6} {row['actions']:>7} "
        f"{row['publish_stage_actions']:>13}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
