"""GlueEtlSpec: every bad input is a ValueError naming the prop and what is allowed (no synth here)."""

from __future__ import annotations

import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_glue as glue
from conftest import EXAMPLES

from pipeline_constructs.glue_etl import (
    GlueCondition,
    GlueCrawler,
    GlueEtlSpec,
    GlueJob,
    GlueShellJob,
    GlueSparkJob,
    GlueStreamingJob,
    GlueTrigger,
    GlueWorkflow,
)
from pipeline_constructs.glue_etl.spec.locations import S3Location, parse_location

SCRIPTS = EXAMPLES / "glue_etl" / "glue_jobs"
SCRIPT = "j_emit_start_event.py"


def job(name: str = "j_a", **kwargs) -> GlueShellJob:
    return GlueShellJob(name=name, script=SCRIPT, **kwargs)


def crawler(name: str = "c_a", **kwargs) -> GlueCrawler:
    return GlueCrawler(name=name, s3_targets=kwargs.pop("s3_targets", ("raw/",)), **kwargs)


def spec(**kwargs) -> GlueEtlSpec:
    kwargs.setdefault("database", "db")
    kwargs.setdefault("scripts_dir", SCRIPTS)
    return GlueEtlSpec(**kwargs)


def workflow(*triggers: GlueTrigger, name: str = "w") -> GlueWorkflow:
    return GlueWorkflow(name=name, triggers=triggers)


START = GlueTrigger(name="t_start", actions=("j_a",))


def raises(prop: str, allowed: str):
    return pytest.raises(ValueError, match=re.escape(prop) + r" = .* is invalid: .*" + allowed)


# -- a valid spec ---------------------------------------------------------------------------------


def test_valid_spec_keeps_order_and_normalises_lists():
    s = spec(
        jobs=[job("j_a"), GlueSparkJob(name="j_b", script=SCRIPT, writes=["out/"])],
        crawlers=[crawler("c_a")],
        workflows=[
            workflow(
                GlueTrigger(name="t0", schedule="cron(0 10 1 * ? *)", actions=["j_a"]),
                GlueTrigger(name="t1", actions=["c_a"], when=[GlueCondition("j_a")]),
                GlueTrigger(
                    name="t2",
                    actions=["j_b"],
                    when=[GlueCondition("c_a"), GlueCondition("j_a", glue.JobState.FAILED)],
                    logical=glue.PredicateLogical.ANY,
                ),
            )
        ],
    )
    assert s.job_names == ("j_a", "j_b")
    assert s.crawler_names == ("c_a",)
    assert isinstance(s.jobs, tuple)
    assert isinstance(s.workflows[0].triggers, tuple)
    assert [t.kind for t in s.workflows[0].triggers] == ["SCHEDULED", "CONDITIONAL", "CONDITIONAL"]
    assert s.workflows[0].triggers[2].when[1].state == "FAILED"
    assert s.spark_glue_versions == (glue.GlueVersion.V5_0,)
    assert isinstance(s.scripts_dir, Path)


def test_example_spec_is_under_80_lines():
    source = (EXAMPLES / "glue_etl" / "app.py").read_text().splitlines()
    start = next(i for i, line in enumerate(source) if line.startswith("# --- the ETL workload"))
    end = next(i for i, line in enumerate(source) if line.startswith("# --- the pipeline"))
    assert end - start < 80


def test_locations_parse_data_bucket_prefixes_and_urls():
    assert parse_location("w", "p", "clean/") == S3Location(None, "clean/")
    assert parse_location("w", "p", "s3://my-bucket/raw/x/") == S3Location("my-bucket", "raw/x/")
    assert str(S3Location("b", "p/")) == "s3://b/p/"


# -- references -----------------------------------------------------------------------------------


def test_trigger_action_naming_unknown_job():
    with raises("workflows[0].triggers[0].actions[0]", "expected the name of a job or crawler of this spec: 'j_a'"):
        spec(jobs=[job()], workflows=[workflow(GlueTrigger(name="t", actions=("j_missing",)))])


def test_condition_naming_unknown_crawler():
    bad = GlueTrigger(name="t1", actions=("j_a",), when=(GlueCondition("c_missing"),))
    with raises("workflows[0].triggers[1].when[0].name", "'j_a', 'c_a'"):
        spec(jobs=[job()], crawlers=[crawler()], workflows=[workflow(GlueTrigger(name="t0", actions=("c_a",)), bad)])


def test_condition_on_something_the_workflow_never_starts():
    bad = GlueTrigger(name="t1", actions=("j_a",), when=(GlueCondition("c_a"),))
    with raises("workflows[0].triggers[1].when[0].name", "never starts it; expected one of 'j_a'"):
        spec(jobs=[job()], crawlers=[crawler()], workflows=[workflow(START, bad)])


def test_crawler_condition_with_a_job_state():
    bad = GlueTrigger(name="t1", actions=("j_a",), when=(GlueCondition("c_a", "TIMEOUT"),))
    with raises("workflows[0].triggers[1].when[0].state", "is a crawler; expected one of SUCCEEDED, FAILED, CANCELLED"):
        spec(jobs=[job()], crawlers=[crawler()], workflows=[workflow(GlueTrigger(name="t0", actions=("c_a",)), bad)])


def test_cycle_between_triggers():
    triggers = (
        GlueTrigger(name="t0", actions=("j_a",)),
        GlueTrigger(name="t1", actions=("j_b",), when=(GlueCondition("j_a"),)),
        GlueTrigger(name="t2", actions=("c_a",), when=(GlueCondition("j_b"),)),
        GlueTrigger(name="t3", actions=("j_a",), when=(GlueCondition("c_a"),)),
    )
    with pytest.raises(ValueError, match=r"cycle \(j_a -> j_b -> c_a -> j_a\); expected an acyclic workflow"):
        spec(jobs=[job("j_a"), job("j_b")], crawlers=[crawler("c_a")], workflows=[workflow(*triggers)])


def test_diamond_is_not_a_cycle():
    triggers = (
        GlueTrigger(name="t0", actions=("j_a",)),
        GlueTrigger(name="t1", actions=("j_b", "j_c"), when=(GlueCondition("j_a"),)),
        GlueTrigger(name="t2", actions=("j_d",), when=(GlueCondition("j_b"), GlueCondition("j_c"))),
    )
    s = spec(jobs=[job(n) for n in ("j_a", "j_b", "j_c", "j_d")], workflows=[workflow(*triggers)])
    assert len(s.workflows[0].triggers) == 3


# -- duplicates -----------------------------------------------------------------------------------


def test_duplicate_job_names():
    with raises("jobs[1].name", "names must be unique within the spec"):
        spec(jobs=[job("j_a"), job("j_a")])


def test_job_and_crawler_share_a_name():
    with raises("crawlers[0].name", "a job already has this name"):
        spec(jobs=[job("same")], crawlers=[crawler("same")])


def test_duplicate_trigger_names_across_workflows():
    w1 = workflow(START, name="w1")
    w2 = workflow(GlueTrigger(name="t_start", actions=("j_a",)), name="w2")
    with raises("workflows[1].triggers[0].name", "already used in workflow 'w1'"):
        spec(jobs=[job()], workflows=[w1, w2])


def test_duplicate_workflow_names():
    with raises("workflows[1].name", "names must be unique"):
        spec(jobs=[job()], workflows=[workflow(START), workflow(GlueTrigger(name="t2", actions=("j_a",)))])


# -- the spec itself ----------------------------------------------------------------------------------


def test_missing_script_lists_the_scripts_present():
    with raises("jobs[0].script", "j_emit_start_event.py"):
        spec(jobs=[GlueShellJob(name="j_a", script="nope.py")])


def test_missing_scripts_dir(tmp_path):
    with raises("scripts_dir", "expected a directory"):
        spec(scripts_dir=tmp_path / "missing")


@pytest.mark.parametrize("name", ["Sales", "sales-db", "", "a" * 256])
def test_bad_database_name(name):
    with raises("database", "lower-case letters, digits or '_'"):
        spec(database=name)


def test_jobs_must_be_job_objects_of_a_concrete_type():
    with raises("jobs[0]", "expected a GlueShellJob, GlueSparkJob or GlueStreamingJob"):
        spec(jobs=["j_a"])
    with raises("jobs[0]", "expected a GlueShellJob, GlueSparkJob or GlueStreamingJob"):
        spec(jobs=[GlueJob(name="j", script=SCRIPT)])


# -- value objects --------------------------------------------------------------------------------


def test_bad_job_name():
    with raises("name", "expected 1-255 characters"):
        job("has space")


def test_script_must_be_a_python_file_name():
    with raises("script", "expected a Python file name"):
        GlueShellJob(name="j", script="../etc/passwd")


@pytest.mark.parametrize("argument", ["--TempDir", "--job-bookmark-option", "--enable-metrics", "--continuous-log-x"])
def test_managed_arguments_are_rejected(argument):
    with raises(f"arguments[{argument!r}]", "managed by the workload or the Glue L2 construct"):
        job(arguments={argument: "x"})


def test_argument_names_need_two_dashes():
    with raises("arguments", "expected argument names like '--OUTPUT_PATH'"):
        job(arguments={"OUTPUT": "x"})


def test_unknown_placeholder():
    with raises("arguments['--OUT']", r"unknown placeholder \{bucket\}; allowed: \{data_bucket\}, \{database\}"):
        job(arguments={"--OUT": "s3://{bucket}/x"})


@pytest.mark.parametrize("location", ["/abs/", "s3://Bad_Bucket/x", "data/*", "s3://"])
def test_bad_locations(location):
    with raises("writes[0]", "expected a key prefix of the data bucket"):
        job(writes=(location,))


def test_retries_and_timeout_bounds():
    with raises("max_retries", "expected an integer from 0 to 10"):
        job(max_retries=11)
    with raises("timeout", "expected whole minutes from 1 to 2880"):
        job(timeout=cdk.Duration.days(3))
    assert GlueStreamingJob(name="s", script=SCRIPT, timeout=cdk.Duration.days(30)).timeout is not None


def test_spark_workers_version_and_worker_type():
    with raises("number_of_workers", "expected an integer of at least 2"):
        GlueSparkJob(name="j", script=SCRIPT, number_of_workers=1)
    with raises("glue_version", "expected one of V3_0, V4_0, V5_0, V5_1, V6_0"):
        GlueSparkJob(name="j", script=SCRIPT, glue_version=glue.GlueVersion.V1_0)
    with raises("worker_type", "expected one of"):
        GlueSparkJob(name="j", script=SCRIPT, worker_type=glue.WorkerType.G_025X)
    assert GlueStreamingJob(name="s", script=SCRIPT, worker_type=glue.WorkerType.G_025X)


def test_streaming_jobs_have_no_bookmarks():
    with raises("bookmarks", "streaming jobs keep their position in checkpoints"):
        GlueStreamingJob(name="s", script=SCRIPT, bookmarks=True)


def test_shell_job_capacity_is_typed():
    with raises("max_capacity", "expected glue.MaxCapacity.DPU_1_16TH or glue.MaxCapacity.DPU_1"):
        GlueShellJob(name="j", script=SCRIPT, max_capacity=0.0625)


def test_crawler_needs_targets_and_valid_policies():
    with raises("s3_targets", "with at least one item"):
        GlueCrawler(name="c", s3_targets=())
    with raises("s3_targets", "expected a list or tuple"):
        GlueCrawler(name="c", s3_targets="raw/")
    with raises("delete_behavior", "expected one of DeleteBehavior"):
        GlueCrawler(name="c", s3_targets=("raw/",), delete_behavior="DELETE_FROM_DATABASE")


def test_condition_state():
    with raises("state", "expected one of CANCELLED, FAILED, STOPPED, SUCCEEDED, TIMEOUT"):
        GlueCondition("j", "DONE")
    assert GlueCondition("c", glue.CrawlerState.CANCELLED).state == "CANCELLED"


def test_trigger_is_scheduled_or_conditional_not_both():
    with raises("schedule", "a trigger is either scheduled or conditional"):
        GlueTrigger(name="t", actions=("j",), schedule="cron(0 1 * * ? *)", when=(GlueCondition("x"),))


@pytest.mark.parametrize("schedule", ["0 10 1 * ? *", "rate(1 day)", "cron(0 10 1 *)"])
def test_trigger_schedule_must_be_glue_cron(schedule):
    with raises("schedule", r"expected a Glue cron expression like 'cron\(0 10 1 \* \? \*\)'"):
        GlueTrigger(name="t", actions=("j",), schedule=schedule)


def test_trigger_needs_actions():
    with raises("actions", "with at least one item"):
        GlueTrigger(name="t", actions=())


def test_workflow_needs_exactly_one_start_trigger():
    with raises("triggers", "expected exactly one start trigger"):
        workflow(START, GlueTrigger(name="t2", actions=("j_a",), schedule="cron(0 1 * * ? *)"))
    with raises("triggers", "expected exactly one start trigger"):
        workflow(GlueTrigger(name="t1", actions=("j_a",), when=(GlueCondition("j_b"),)))
