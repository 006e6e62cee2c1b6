"""Shared by the Glue ETL tests: the example synthesized once, small valid props, CodeBuild readers.

Import with ``from glue_etl.glue_example import ...`` (``tests/`` is on ``sys.path``).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_glue as glue
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from conftest import EXAMPLES, load_example
from helpers import pipeline_stack

from pipeline_constructs import DeploymentTarget, glue_etl
from pipeline_constructs.glue_etl import GlueEtlPipeline, GlueEtlSpec, GlueEtlWorkload, GlueJob
from pipeline_constructs.testing import deterministic_app

EXAMPLE = load_example("glue_etl")
SCRIPTS = EXAMPLES / "glue_etl" / "glue_jobs"
SOURCE = pipelines.CodePipelineSource.connection(
    "o/r", "main", connection_arn="arn:aws:codeconnections:eu-west-1:111111111111:connection/x"
)
DEV = DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1")
SPARK = "j_neherlab_denorm_etl.py"
SHELL = "j_emit_start_event.py"

WORKLOAD_SPEC = GlueEtlSpec(
    database="sales",
    scripts_dir=SCRIPTS,
    jobs=(
        glue_etl.GlueSparkJob(
            name="j_clean",
            script=SPARK,
            bookmarks=True,
            glue_version=glue.GlueVersion.V4_0,
            worker_type=glue.WorkerType.G_2X,
            number_of_workers=4,
            max_retries=2,
            reads=("raw/",),
            writes=("clean/", "clean/daily/"),
            arguments={"--OUT": "s3://{data_bucket}/clean/"},
        ),
        glue_etl.GlueStreamingJob(
            name="j_stream", script=SPARK, worker_type=glue.WorkerType.G_025X, writes=("stream/",)
        ),
        glue_etl.GlueShellJob(name="j_notify", script=SHELL, max_capacity=glue.MaxCapacity.DPU_1),
    ),
    crawlers=(
        glue_etl.GlueCrawler(
            name="c_raw",
            s3_targets=("raw/",),
            table_prefix="raw_",
            update_behavior=glue_etl.UpdateBehavior.LOG,
            delete_behavior=glue_etl.DeleteBehavior.DELETE_FROM_DATABASE,
            exclusions=("**.tmp",),
        ),
    ),
    workflows=(
        glue_etl.GlueWorkflow(
            name="nightly",
            triggers=(
                glue_etl.GlueTrigger(name="t_go", actions=("c_raw",)),
                glue_etl.GlueTrigger(
                    name="t_clean",
                    actions=("j_clean",),
                    when=(glue_etl.GlueCondition("c_raw"), glue_etl.GlueCondition("c_raw", "FAILED")),
                    logical=glue.PredicateLogical.ANY,
                ),
                glue_etl.GlueTrigger(
                    name="t_notify", actions=("j_notify",), when=(glue_etl.GlueCondition("j_clean", "TIMEOUT"),)
                ),
            ),
        ),
    ),
)


@functools.cache
def example() -> tuple[cdk.App, GlueEtlPipeline]:
    """The example app, synthesized once per session, and its pipeline construct."""
    app = deterministic_app()
    EXAMPLE.build_app(app)
    app.synth()
    found = app.node.find_child("GlueEtlPipeline").node.find_child("Delivery")
    assert isinstance(found, GlueEtlPipeline)
    return app, found


def spec(*jobs: GlueJob) -> GlueEtlSpec:
    """A spec of ``jobs`` on the example's scripts."""
    return GlueEtlSpec(database="db", scripts_dir=SCRIPTS, jobs=jobs)


def glue_pipeline(stack: cdk.Stack | None = None, **props: Any) -> GlueEtlPipeline:
    """A ``GlueEtlPipeline`` ``G`` (in stack ``P`` unless given) deploying to Dev; ``props`` override."""
    stack = stack or pipeline_stack(deterministic_app(), "P")
    return GlueEtlPipeline(stack, "G", **{"source": SOURCE, "spec": spec(), "targets": [DEV], **props})


def project(template: Template, step: str) -> dict[str, Any]:
    """The properties of the CodeBuild project of the ``Build/<step>`` action."""
    projects = template.find_resources("AWS::CodeBuild::Project")
    (found,) = [p for p in projects.values() if p["Properties"].get("Description", "").endswith(f"/Build/{step}")]
    return found["Properties"]  # type: ignore[no-any-return]


def buildspec(properties: dict[str, Any]) -> dict[str, Any]:
    """A project's buildspec (references shown as ``<ref>``)."""
    spec_ = properties["Source"]["BuildSpec"]
    if isinstance(spec_, dict):
        spec_ = "".join(p if isinstance(p, str) else "<ref>" for p in spec_["Fn::Join"][1])
    return json.loads(spec_)  # type: ignore[no-any-return]


@functools.cache
def workload_example() -> tuple[cdk.App, GlueEtlWorkload]:
    """A workload beyond the example (streaming and bookmarked jobs, an on-demand start, a data-bucket crawl)."""
    app = deterministic_app()
    workload = GlueEtlWorkload(pipeline_stack(app, "Etl"), "Workload", spec=WORKLOAD_SPEC)
    app.synth()
    return app, workload
