"""GlueEtlWorkload beyond the example: streaming and bookmarked jobs, on-demand triggers, data-bucket crawls."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template
from conftest import EXAMPLES

from pipeline_constructs.core.compliance import unacknowledged_findings
from pipeline_constructs.glue_etl import (
    DeleteBehavior,
    GlueCondition,
    GlueCrawler,
    GlueEtlSpec,
    GlueEtlWorkload,
    GlueShellJob,
    GlueSparkJob,
    GlueStreamingJob,
    GlueTrigger,
    GlueWorkflow,
    UpdateBehavior,
)
from pipeline_constructs.testing import deterministic_app

SCRIPTS = EXAMPLES / "glue_etl" / "glue_jobs"
SPARK = "j_neherlab_denorm_etl.py"
SHELL = "j_emit_start_event.py"

SPEC = GlueEtlSpec(
    database="sales",
    scripts_dir=SCRIPTS,
    jobs=(
        GlueSparkJob(
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
        GlueStreamingJob(name="j_stream", script=SPARK, worker_type=glue.WorkerType.G_025X, writes=("stream/",)),
        GlueShellJob(name="j_notify", script=SHELL, max_capacity=glue.MaxCapacity.DPU_1),
    ),
    crawlers=(
        GlueCrawler(
            name="c_raw",
            s3_targets=("raw/",),
            table_prefix="raw_",
            update_behavior=UpdateBehavior.LOG,
            delete_behavior=DeleteBehavior.DELETE_FROM_DATABASE,
            exclusions=("**.tmp",),
        ),
    ),
    workflows=(
        GlueWorkflow(
            name="nightly",
            triggers=(
                GlueTrigger(name="t_go", actions=("c_raw",)),
                GlueTrigger(
                    name="t_clean",
                    actions=("j_clean",),
                    when=(GlueCondition("c_raw"), GlueCondition("c_raw", "FAILED")),
                    logical=glue.PredicateLogical.ANY,
                ),
                GlueTrigger(name="t_notify", actions=("j_notify",), when=(GlueCondition("j_clean", "TIMEOUT"),)),
            ),
        ),
    ),
)


@pytest.fixture(scope="module")
def built() -> tuple[cdk.App, GlueEtlWorkload]:
    app = deterministic_app()
    stack = cdk.Stack(app, "Etl", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    workload = GlueEtlWorkload(stack, "Workload", spec=SPEC)
    app.synth()
    return app, workload


@pytest.fixture(scope="module")
def template(built) -> Template:
    return Template.from_stack(cdk.Stack.of(built[1]))


def _jobs(template: Template) -> dict[str, dict]:
    return {j["Properties"]["Name"]: j["Properties"] for j in template.find_resources("AWS::Glue::Job").values()}


def test_job_types_map_to_the_l2_constructs(template, built):
    jobs = _jobs(template)
    assert jobs["j_clean"]["Command"]["Name"] == "glueetl"
    assert jobs["j_stream"]["Command"]["Name"] == "gluestreaming"
    assert jobs["j_notify"]["Command"]["Name"] == "pythonshell"
    assert jobs["j_notify"]["MaxCapacity"] == 1
    assert (jobs["j_clean"]["GlueVersion"], jobs["j_clean"]["WorkerType"], jobs["j_clean"]["NumberOfWorkers"]) == (
        "4.0",
        "G.2X",
        4,
    )
    assert jobs["j_clean"]["MaxRetries"] == 2
    assert jobs["j_stream"]["WorkerType"] == "G.025X"
    workload = built[1]
    assert isinstance(workload.jobs["j_stream"], glue.PySparkStreamingJob)
    assert isinstance(workload.jobs["j_clean"], glue.PySparkEtlJob)
    assert isinstance(workload.jobs["j_notify"], glue.PythonShellJob)


def test_bookmarks_and_temp_dir_arguments(template):
    jobs = _jobs(template)
    assert jobs["j_clean"]["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-enable"
    assert "--job-bookmark-option" not in jobs["j_stream"]["DefaultArguments"]
    assert "/glue-temp/" in json.dumps(jobs["j_stream"]["DefaultArguments"]["--TempDir"])
    assert "--TempDir" not in jobs["j_notify"].get("DefaultArguments", {})
    out = jobs["j_clean"]["DefaultArguments"]["--OUT"]
    assert out["Fn::Join"][1][0] == "s3://"
    assert out["Fn::Join"][1][1]["Ref"].startswith("WorkloadDataBucket")


def test_crawler_of_a_data_bucket_prefix(template):
    (crawler,) = template.find_resources("AWS::Glue::Crawler").values()
    props = crawler["Properties"]
    (target,) = props["Targets"]["S3Targets"]
    assert target["Exclusions"] == ["**.tmp"]
    assert target["Path"]["Fn::Join"][1][1]["Ref"].startswith("WorkloadDataBucket")
    assert props["TablePrefix"] == "raw_"
    assert props["SchemaChangePolicy"] == {"UpdateBehavior": "LOG", "DeleteBehavior": "DELETE_FROM_DATABASE"}


def test_on_demand_start_and_any_predicate(template):
    triggers = {
        t["Properties"]["Name"]: t["Properties"] for t in template.find_resources("AWS::Glue::Trigger").values()
    }
    assert triggers["t_go"]["Type"] == "ON_DEMAND"
    assert "StartOnCreation" not in triggers["t_go"]
    assert triggers["t_clean"]["Predicate"]["Logical"] == "ANY"
    states = [c["CrawlState"] for c in triggers["t_clean"]["Predicate"]["Conditions"]]
    assert states == ["SUCCEEDED", "FAILED"]
    assert triggers["t_notify"]["Predicate"]["Conditions"][0]["State"] == "TIMEOUT"


def test_policy_covers_nested_prefixes_once_and_deletes_tables_only_when_asked(template):
    (policy,) = [p for k, p in template.find_resources("AWS::IAM::ManagedPolicy").items() if "JobPolicy" in k]
    by_sid = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    writes = json.dumps(by_sid["WriteDataBucket"]["Resource"])
    assert "/clean/*" in writes
    assert "/clean/daily/*" not in writes  # covered by clean/
    assert "/stream/*" in writes
    assert "/raw/*" in json.dumps(by_sid["ReadDataBucket"]["Resource"])
    assert by_sid["ListDataBucket"]["Condition"]["StringLike"]["s3:prefix"] == [
        "clean/*",
        "glue-temp/*",
        "raw/*",
        "stream/*",
    ]
    assert {"glue:DeleteTable", "glue:BatchDeletePartition"} <= set(by_sid["GlueCatalog"]["Action"])
    assert "PutEventsOnDefaultBus" not in by_sid


def test_no_unacknowledged_findings(built):
    assert [str(f) for f in unacknowledged_findings(built[0])] == []


def test_own_key_is_used_and_no_key_is_created():
    app = deterministic_app()
    stack = cdk.Stack(app, "Etl", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    key = kms.Key(stack, "TeamKey", enable_key_rotation=True)
    spec = GlueEtlSpec(database="db", scripts_dir=SCRIPTS, jobs=(GlueShellJob(name="j", script=SHELL),))
    workload = GlueEtlWorkload(stack, "Workload", spec=spec, encryption_key=key, security_configuration_name="team-sc")
    assert workload.key is key
    template = Template.from_stack(stack)
    assert len(template.find_resources("AWS::KMS::Key")) == 1
    template.has_resource_properties("AWS::Glue::SecurityConfiguration", {"Name": "team-sc"})


def test_spec_is_required():
    stack = cdk.Stack(deterministic_app(), "Etl")
    with pytest.raises(ValueError, match=r"Etl/W: spec = .* is invalid: expected a GlueEtlSpec"):
        GlueEtlWorkload(stack, "W", spec=None)
