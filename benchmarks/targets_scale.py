"""Benchmark: synth time of a gated pipeline at 2, 10 and 50 targets, ours against a hand-written one.

The same shape in each variant: a CDK Pipelines pipeline in 111111111111/eu-west-1 and one target per
account, each a small stage (one stack: an encrypted, logged bucket) behind ``ConfirmPermissionsBroadening``
with an SNS topic.

* ``library``: ``SecurePipeline`` + one ``SecurityGatedStage`` per target (hardening of what CDK
  Pipelines generates, every acknowledgment written into the templates);
* ``library-no-acks``: the same inside ``suspended_acknowledgments()``: what recording and writing the
  acknowledgments costs;
* ``handwritten``: ``pipelines.CodePipeline(cross_account_keys=True)`` and ``add_stage(pre=[
  ConfirmPermissionsBroadening])`` per target, as a team would write it without the library.

Each synth is a separate ``python`` process (imports, jsii start, construction, synth; no cdk-nag
packs), repeated ``--runs`` times, variants interleaved so machine noise hits all alike; the median
is printed. Usage: ``python benchmarks/targets_scale.py [--runs 3] [--targets 2,10,50] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _child import NODE24, timed_child  # noqa: E402  (stdlib only)

VARIANTS = ("library", "library-no-acks", "handwritten")
CONNECTION = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"


def child(variant: str, count: int, outdir: str) -> None:
    """Synthesize one variant with ``count`` targets (runs in a fresh process)."""
    import contextlib  # noqa: I001  (pipeline_constructs must come before aws_cdk: it selects Node 24)

    import pipeline_constructs  # noqa: F401
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_sns as sns
    from aws_cdk import pipelines

    home = cdk.Environment(account="111111111111", region="eu-west-1")
    targets = [cdk.Environment(account=f"{200000000000 + i:012d}", region="eu-west-1") for i in range(count)]
    app = cdk.App(outdir=outdir, analytics_reporting=False, context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "Pipeline", env=home)
    source = pipelines.CodePipelineSource.connection("example-org/data", "main", connection_arn=CONNECTION)
    synth = pipelines.ShellStep("Synth", input=source, commands=["npx -y aws-cdk@2.1148.1 synth"])

    if variant == "handwritten":
        pipeline = pipelines.CodePipeline(stack, "Pipeline", synth=synth, cross_account_keys=True)
        for i, env in enumerate(targets):
            stage = cdk.Stage(app, f"T{i}", env=env)
            data = cdk.Stack(stage, "Data")
            logs = s3.Bucket(data, "Logs", enforce_ssl=True, versioned=True)
            s3.Bucket(data, "Data", enforce_ssl=True, versioned=True, server_access_logs_bucket=logs)
            topic = sns.Topic(stack, f"T{i}Topic", enforce_ssl=True)
            check = pipelines.ConfirmPermissionsBroadening("PermissionCheck", stage=stage, notification_topic=topic)
            pipeline.add_stage(stage, pre=[check])
        app.synth()
        return

    from pipeline_constructs import SecurePipeline, SecurityGatedStage
    from pipeline_constructs.core.compliance import suspended_acknowledgments

    sys.path.insert(0, str(ROOT / "examples" / "security_gated"))
    from app import DataStage  # the security_gated example's stage

    suspend = suspended_acknowledgments() if variant == "library-no-acks" else contextlib.nullcontext()
    with suspend:
        secure = SecurePipeline(stack, "Pipeline", synth=synth, cross_account_keys=True)
        for i, env in enumerate(targets):
            SecurityGatedStage(
                stack,
                f"T{i}Gate",
                pipeline=secure.pipeline,
                stage=DataStage(app, f"T{i}", env=env),
                manual_approval=False,
            )
        app.synth()


def synth_once(variant: str, count: int, outdir: Path) -> float:
    return timed_child(__file__, variant, str(count), str(outdir))


def measure(counts: list[int], runs: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for count in counts:
        times: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for _ in range(runs):
            for variant in VARIANTS:
                with tempfile.TemporaryDirectory() as outdir:
                    times[variant].append(synth_once(variant, count, Path(outdir)))
        results[str(count)] = {v: round(statistics.median(t), 2) for v, t in times.items()}
        row = results[str(count)]
        print(
            f"{count:>3} targets  library {row['library']:6.2f} s  library-no-acks {row['library-no-acks']:6.2f} s  "
            f"handwritten {row['handwritten']:6.2f} s",
            flush=True,
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--targets", default="2,10,50")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "out" / "targets_scale.json")
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "COUNT", "OUTDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return
    counts = [int(c) for c in args.targets.split(",")]
    print(f"median synth seconds of {args.runs} processes each (Node {NODE24 or 'from PATH'})")
    results = measure(counts, args.runs)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"runs": args.runs, "median_seconds": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
