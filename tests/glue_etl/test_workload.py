"""GlueEtlWorkload and GlueEtlStage: key, buckets, security configuration, jobs, crawlers, workflows, scripts."""

from __future__ import annotations

import collections
import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template
from glue_etl.glue_example import EXAMPLE, SCRIPTS, SHELL, example, workload_example
from helpers import pipeline_stack

from pipeline_constructs.core.compliance import acknowledgments, unacknowledged_findings
from pipeline_constructs.glue_etl import GlueEtlSpec, GlueEtlWorkload, GlueShellJob
from pipeline_constructs.testing import deterministic_app


@pytest.fixture(scope="module")
def dev() -> Template:
    return Template.from_stack(example()[1].stages["Dev"].stack)


# -- the example's Dev workload ------------------------------------------------------------------


def test_security_configuration_encrypts_s3_logs_and_bookmarks_with_the_rotating_key(dev):
    (key_id,) = dev.find_resources("AWS::KMS::Key", {"Properties": {"EnableKeyRotation": True}})
    key = {"Fn::GetAtt": [key_id, "Arn"]}
    dev.has_resource_properties(
        "AWS::Glue::SecurityConfiguration",
        {
            "EncryptionConfiguration": {
                "S3Encryptions": [{"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": key}],
                "CloudWatchEncryption": {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": key},
                "JobBookmarksEncryption": {"JobBookmarksEncryptionMode": "CSE-KMS", "KmsKeyArn": key},
            }
        },
    )
    assert dev.find_resources("AWS::KMS::Alias") == {}  # the sample's alias changed on every synth


def test_buckets_are_kms_encrypted_and_ssl_only(dev):
    buckets = dev.find_resources(
        "AWS::S3::Bucket",
        {
            "Properties": {
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}
                    ]
                }
            }
        },
    )
    assert len(buckets) == 2  # scripts and data (the third, access logs, is SSE-S3 by necessity)
    for bucket in buckets:
        dev.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "Bucket": {"Ref": bucket},
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                    )
                },
            },
        )


def test_jobs_run_their_own_scripts_with_the_security_configuration(dev):
    jobs = {j["Properties"]["Name"]: j["Properties"] for j in dev.find_resources("AWS::Glue::Job").values()}
    assert set(jobs) == {"j_emit_start_event", "j_neherlab_denorm", "j_emit_ended_event"}
    scripts = {name: json.dumps(job["Command"]["ScriptLocation"]) for name, job in jobs.items()}
    assert "/scripts/j_emit_ended_event.py" in scripts["j_emit_ended_event"]  # not the start script
    assert "/scripts/j_emit_start_event.py" in scripts["j_emit_start_event"]
    for job in jobs.values():
        assert "SecurityConfiguration" in job
    denorm = jobs["j_neherlab_denorm"]
    assert (denorm["Command"]["Name"], denorm["GlueVersion"], denorm["WorkerType"], denorm["NumberOfWorkers"]) == (
        "glueetl",
        "5.0",
        "G.1X",
        10,
    )
    assert denorm["Timeout"] == 120
    assert denorm["DefaultArguments"]["--DATABASE"] == "covid19db"
    assert denorm["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-disable"
    for shell in ("j_emit_start_event", "j_emit_ended_event"):
        assert (jobs[shell]["Command"]["Name"], jobs[shell]["Command"]["PythonVersion"]) == ("pythonshell", "3.9")
        assert jobs[shell]["MaxCapacity"] == 0.0625


def test_four_crawlers_write_to_the_database_encrypted(dev):
    crawlers = dev.find_resources("AWS::Glue::Crawler")
    assert len(crawlers) == 4
    for crawler in crawlers.values():
        props = crawler["Properties"]
        assert "CrawlerSecurityConfiguration" in props
        assert props["SchemaChangePolicy"] == {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"}
        (target,) = props["Targets"]["S3Targets"]
        assert target["Path"].startswith("s3://covid19-harmonized-dataset/covid19tos3/neherlab_")
    dev.has_resource_properties("AWS::Glue::Database", {"DatabaseInput": {"Name": "covid19db"}})


def test_seven_triggers_monthly_start_and_an_and_of_four_crawls(dev):
    triggers = {t["Properties"]["Name"]: t for t in dev.find_resources("AWS::Glue::Trigger").values()}
    assert len(triggers) == 7
    start = triggers["t_start"]["Properties"]
    assert (start["Type"], start["Schedule"], start["StartOnCreation"]) == ("SCHEDULED", "cron(0 10 1 * ? *)", True)
    denorm = triggers["t_neherlab_denorm"]["Properties"]
    assert denorm["Type"] == "CONDITIONAL"
    assert denorm["Predicate"]["Logical"] == "AND"
    assert {c["CrawlState"] for c in denorm["Predicate"]["Conditions"]} == {"SUCCEEDED"}
    assert len(denorm["Predicate"]["Conditions"]) == 4
    for trigger in triggers.values():
        props = trigger["Properties"]
        assert "EventBatchingCondition" not in props
        if props["Type"] == "CONDITIONAL":
            assert props["StartOnCreation"] is True
            assert "Logical" in props["Predicate"]  # Glue rejects a predicate without one


def test_triggers_are_created_one_after_another(dev):
    triggers = dev.find_resources("AWS::Glue::Trigger")
    chained = [t for t in triggers.values() if t.get("DependsOn")]
    assert len(chained) == len(triggers) - 1
    assert all(len(t["DependsOn"]) == 1 and t["DependsOn"][0] in triggers for t in chained)


def test_scripts_are_deployed_to_the_script_bucket_as_an_asset(dev):
    dev.has_resource_properties(
        "Custom::CDKBucketDeployment", {"DestinationBucketKeyPrefix": "scripts/", "Prune": True}
    )
    (fn,) = dev.find_resources("AWS::Lambda::Function").values()
    assert fn["Properties"]["MemorySize"] == 256
    (group,) = dev.find_resources("AWS::Logs::LogGroup").values()
    assert "KmsKeyId" in group["Properties"]
    assert group["Properties"]["RetentionInDays"] == 365


def test_workload_synth_is_reproducible(dev):
    # The sample's KMS alias embedded the synth time: two synths of the same code must be identical.
    app = deterministic_app()
    EXAMPLE.build_app(app)
    again = app.node.find_child("GlueEtlPipeline").node.find_child("Delivery")
    assert Template.from_stack(again.stages["Dev"].stack).to_json() == dev.to_json()


def test_workload_acknowledgments_are_narrow_and_reasoned():
    acks = acknowledgments(example()[1].stages["Dev"])
    rules = collections.Counter(rule.split("[")[0] for _path, rule, _reason in acks)
    # Job policy: 3 object prefixes, Glue log groups, catalog tables, the metrics namespace;
    # script deployment: objects under scripts/.
    iam5 = sorted(rule for _p, rule, _r in acks if rule.startswith("AwsSolutions-IAM5["))
    assert len(iam5) == 7, iam5
    assert all(len(reason) > 60 for _p, _rule, reason in acks)
    assert "AwsSolutions-IAM5" not in {r for _p, r, _ in acks}  # always with the finding
    assert rules["AwsSolutions-L1"] == 1


# -- a workload beyond the example ---------------------------------------------------------------


@pytest.fixture(scope="module")
def built() -> tuple[cdk.App, GlueEtlWorkload]:
    return workload_example()


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


def test_no_unacknowledged_findings(built):
    assert [str(f) for f in unacknowledged_findings(built[0])] == []


def test_own_key_is_used_and_no_key_is_created():
    app = deterministic_app()
    stack = pipeline_stack(app, "Etl")
    key = kms.Key(stack, "TeamKey", enable_key_rotation=True)
    spec = GlueEtlSpec(database="db", scripts_dir=SCRIPTS, jobs=(GlueShellJob(name="j", script=SHELL),))
    GlueEtlWorkload(stack, "Workload", spec=spec, encryption_key=key, security_configuration_name="team-sc")
    template = Template.from_stack(stack)
    assert len(template.find_resources("AWS::KMS::Key")) == 1
    team_key = {"Fn::GetAtt": [stack.resolve(key.node.default_child.logical_id), "Arn"]}
    template.has_resource_properties(
        "AWS::Glue::SecurityConfiguration",
        {
            "Name": "team-sc",
            "EncryptionConfiguration": {"S3Encryptions": [{"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": team_key}]},
        },
    )


def test_spec_is_required():
    stack = cdk.Stack(deterministic_app(), "Etl")
    with pytest.raises(ValueError, match=r"Etl/W: spec = .* is invalid: expected a GlueEtlSpec"):
        GlueEtlWorkload(stack, "W", spec=None)
