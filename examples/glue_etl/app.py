# ruff: noqa: I001  (pipeline_constructs is imported before aws_cdk on purpose: it selects Node 24)
"""The COVID-19 Glue workflow of "CI/CD for AWS Glue ETL with the AWS CDK", as one construct.

A monthly workflow: a start job, four crawlers of the public neherlab data
set, a Spark job denormalizing the crawled tables, an end job. The job tests
(``tests/``) run in the aws-glue-libs image; the workload deploys to Dev, then
to Prod in another account behind a permissions check and a manual approval.

Run offline: ``python app.py`` (or ``cdk synth``) writes the cloud assembly to
``cdk.out`` (or ``$CDK_OUTDIR``). Accounts are placeholders.
"""

from __future__ import annotations

from pathlib import Path

import pipeline_constructs  # noqa: F401  (first: selects Node 24 for jsii)
import aws_cdk as cdk
from aws_cdk import pipelines
from pipeline_constructs import DeploymentTarget, add_compliance_checks, create_app
from pipeline_constructs.glue_etl import (
    GlueCondition,
    GlueCrawler,
    GlueEtlPipeline,
    GlueEtlSpec,
    GlueShellJob,
    GlueSparkJob,
    GlueTrigger,
    GlueWorkflow,
)

HERE = Path(__file__).resolve().parent
PIPELINE_ENV = cdk.Environment(account="111111111111", region="eu-west-1")
CONNECTION_ARN = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"

# --- the ETL workload: the post's Covid_19 workflow ------------------------------------------------
SOURCE = "s3://covid19-harmonized-dataset/covid19tos3/"  # public data set, read-only
TABLES = ("neherlab_case_counts", "neherlab_country_codes", "neherlab_icu_capacity", "neherlab_population")
OUTPUT = "neherlab_denormalized"


def covid19_spec() -> GlueEtlSpec:
    """Three jobs, four crawlers, one workflow with seven triggers (monthly at 10:00 UTC on day 1)."""
    start, denorm, end = "j_emit_start_event", "j_neherlab_denorm", "j_emit_ended_event"
    return GlueEtlSpec(
        database="covid19db",
        scripts_dir=HERE / "glue_jobs",
        jobs=(
            GlueShellJob(name=start, script="j_emit_start_event.py", emits_events=True),
            GlueSparkJob(
                name=denorm,
                script="j_neherlab_denorm_etl.py",
                number_of_workers=10,
                reads=(SOURCE,),
                writes=(f"{OUTPUT}/",),
                timeout=cdk.Duration.hours(2),
                arguments={
                    "--DATABASE": "{database}",
                    **{f"--{t.removeprefix('neherlab_').upper()}_TABLE": t for t in TABLES},
                    "--OUTPUT_PATH": "s3://{data_bucket}/" + OUTPUT + "/",
                    "--OUTPUT_TABLE": OUTPUT,
                },
            ),
            GlueShellJob(name=end, script="j_emit_ended_event.py", emits_events=True),
        ),
        crawlers=tuple(GlueCrawler(name=f"c_{t}", s3_targets=(f"{SOURCE}{t}/",)) for t in TABLES),
        workflows=(
            GlueWorkflow(
                name="Covid_19",
                triggers=(
                    GlueTrigger(name="t_start", schedule="cron(0 10 1 * ? *)", actions=(start,)),
                    *(GlueTrigger(name=f"t_{t}", actions=(f"c_{t}",), when=(GlueCondition(start),)) for t in TABLES),
                    GlueTrigger(
                        name="t_neherlab_denorm", actions=(denorm,), when=tuple(GlueCondition(f"c_{t}") for t in TABLES)
                    ),
                    GlueTrigger(name="t_end", actions=(end,), when=(GlueCondition(denorm),)),
                ),
            ),
        ),
    )


# --- the pipeline --------------------------------------------------------------------------------
def build_app(app: cdk.App) -> cdk.Stack:
    """Add the pipeline stack to ``app`` and return it."""
    stack = cdk.Stack(app, "GlueEtlPipeline", env=PIPELINE_ENV)
    GlueEtlPipeline(
        stack,
        "Delivery",
        source=pipelines.CodePipelineSource.connection(
            "example-org/covid19-glue", "main", connection_arn=CONNECTION_ARN
        ),
        targets=[
            DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1"),
            DeploymentTarget(
                name="Prod",
                account="222222222222",
                region="eu-west-1",
                security_gated=True,
                manual_approval=True,
                notification_emails=("data-platform@example.com",),
            ),
        ],
        spec=covid19_spec(),
        pipeline_name="covid19-glue",
        job_tests="tests",  # pytest path of the job tests, run in the aws-glue-libs image before synth
    )
    return stack


if __name__ == "__main__":
    app = create_app()  # cdk.json's context also under `python app.py`; the assembly goes to ./cdk.out
    add_compliance_checks(app)
    build_app(app)
    app.synth()
