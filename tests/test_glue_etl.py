"""GlueEtlPipeline on the COVID-19 example: stages, the job-test action, gates, the workload, compliance."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_glue as glue
from aws_cdk import pipelines
from aws_cdk.assertions import Match, Template
from conftest import EXAMPLES, load_example
from syrupy.extensions.json import JSONSnapshotExtension

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.core.compliance import acknowledgments, suspended_acknowledgments, unacknowledged_findings
from pipeline_constructs.core.private.defaults import CDK_CLI_VERSION
from pipeline_constructs.glue_etl import GlueEtlPipeline, GlueEtlSpec, GlueSparkJob
from pipeline_constructs.testing import deterministic_app, normalize_template

EXAMPLE = load_example("glue_etl")
SOURCE = pipelines.CodePipelineSource.connection(
    "o/r", "main", connection_arn="arn:aws:codeconnections:eu-west-1:111111111111:connection/x"
)
DEV = DeploymentTarget(name="Dev", account="111111111111", region="eu-west-1")


@pytest.fixture(scope="module")
def app() -> cdk.App:
    app = deterministic_app()
    EXAMPLE.build_app(app)
    app.synth()
    return app


@pytest.fixture(scope="module")
def construct(app) -> GlueEtlPipeline:
    found = app.node.find_child("GlueEtlPipeline").node.find_child("Delivery")
    assert isinstance(found, GlueEtlPipeline)
    return found


@pytest.fixture(scope="module")
def template(app) -> Template:
    return Template.from_stack(app.node.find_child("GlueEtlPipeline"))


@pytest.fixture(scope="module")
def pipeline(template) -> dict:
    (resource,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    return resource["Properties"]


@pytest.fixture(scope="module")
def dev(construct) -> Template:
    return Template.from_stack(construct.stages["Dev"].stack)


def _actions(pipeline: dict) -> list[tuple[str, str, str, int]]:
    return [
        (s["Name"], a["Name"], a["ActionTypeId"]["Provider"], a["RunOrder"])
        for s in pipeline["Stages"]
        for a in s["Actions"]
    ]


def _project(template: Template, step: str) -> dict:
    projects = template.find_resources("AWS::CodeBuild::Project")
    (project,) = [p for p in projects.values() if p["Properties"].get("Description", "").endswith(f"/Build/{step}")]
    return project["Properties"]


def _buildspec(project: dict) -> dict:
    spec = project["Source"]["BuildSpec"]
    if isinstance(spec, dict):
        spec = "".join(p if isinstance(p, str) else "<ref>" for p in spec["Fn::Join"][1])
    return json.loads(spec)


# -- the pipeline ---------------------------------------------------------------------------------


def test_stages_in_order(pipeline):
    assert pipeline["PipelineType"] == "V2"
    assert pipeline["Name"] == "covid19-glue"
    assert [s["Name"] for s in pipeline["Stages"]] == ["Source", "Build", "UpdatePipeline", "Assets", "Dev", "Prod"]


def test_job_tests_run_before_synth(pipeline):
    build = [(a, p, o) for s, a, p, o in _actions(pipeline) if s == "Build"]
    assert build == [("JobTests", "CodeBuild", 1), ("Synth", "CodeBuild", 2)]


def test_four_codebuild_actions_before_the_first_deployment(pipeline):
    before = []
    for stage, action, provider, _order in _actions(pipeline):
        if stage == "Dev":
            break
        if provider == "CodeBuild":
            before.append(action)
    assert before == ["JobTests", "Synth", "SelfMutate", "FileAssets"]


def test_prod_is_gated_in_its_own_account(pipeline, construct):
    prod = [(a, p, o) for s, a, p, o in _actions(pipeline) if s == "Prod"]
    assert prod == [
        ("PermissionCheck.Check", "CodeBuild", 1),
        ("PermissionCheck.Confirm", "Manual", 2),
        ("PromoteToProd", "Manual", 3),
        ("covid19-glue-Etl.Prepare", "CloudFormation", 4),
        ("covid19-glue-Etl.Deploy", "CloudFormation", 5),
    ]
    assert construct.stages["Prod"].account == "222222222222"
    assert set(construct.gates) == {"Prod"}
    dev = [(a, p) for s, a, p, _ in _actions(pipeline) if s == "Dev"]
    assert dev == [("Prepare", "CloudFormation"), ("Deploy", "CloudFormation")]


def test_job_tests_run_in_the_glue_libs_image_unprivileged(template):
    project = _project(template, "JobTests")
    assert project["Environment"]["Image"] == "public.ecr.aws/glue/aws-glue-libs:5"
    assert project["Environment"]["PrivilegedMode"] is False
    assert project["TimeoutInMinutes"] == 30


def test_job_tests_have_no_credentials_and_publish_junit(template):
    project = _project(template, "JobTests")
    spec = _buildspec(project)
    commands = spec["phases"]["build"]["commands"]
    pytest_line = next(c for c in commands if "pytest" in c)
    for variable in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN"):
        assert f"-u {variable}" in pytest_line
    assert "AWS_EC2_METADATA_DISABLED=true" in pytest_line
    assert "python3 -m pytest tests --junitxml=" in pytest_line
    assert "docker" not in json.dumps(spec)
    assert "aws configure" not in json.dumps(spec)
    (report,) = spec["reports"].values()
    assert report == {"files": ["*.xml"], "base-directory": "glue-test-reports", "file-format": "JUNITXML"}


def test_job_test_role_may_only_publish_to_its_report_group(template, construct):
    group = cdk.Stack.of(construct).resolve(construct.test_reports["JobTests"].report_group.report_group_arn)
    policies = template.find_resources("AWS::IAM::Policy")
    (policy,) = [p for k, p in policies.items() if "JobTests" in k]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    report = [s for s in statements if s["Resource"] == group]
    assert report == [
        {
            "Action": ["codebuild:CreateReport", "codebuild:UpdateReport", "codebuild:BatchPutTestCases"],
            "Effect": "Allow",
            "Resource": group,
        }
    ]
    assert not any("glue:" in json.dumps(s) or "sts:AssumeRole" in json.dumps(s) for s in statements)


def test_synth_is_standard_and_unprivileged(template):
    project = _project(template, "Synth")
    assert project["Environment"]["Image"].startswith("aws/codebuild/")
    assert project["Environment"]["PrivilegedMode"] is False
    commands = _buildspec(project)["phases"]["build"]["commands"]
    assert commands == ["pip install -r requirements.txt", f"npx -y aws-cdk@{CDK_CLI_VERSION} synth"]


def test_report_group_is_junit_test_group(template):
    template.has_resource_properties("AWS::CodeBuild::ReportGroup", {"Type": "TEST"})


def test_the_example_job_tests_cover_every_job_script():
    tests = "\n".join(p.read_text() for p in (EXAMPLES / "glue_etl" / "tests").glob("test_*.py"))
    for script in (EXAMPLES / "glue_etl" / "glue_jobs").glob("*.py"):
        assert f"import {script.stem}" in tests, f"no test imports {script.name}"


# -- the workload (Dev) ---------------------------------------------------------------------------


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


def _all_statements(template: Template) -> list[dict]:
    out = []
    for kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
        for policy in template.find_resources(kind).values():
            out.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return out


def test_no_assume_role_no_s3_star_no_inline_policies_in_the_workload(dev):
    assert dev.find_resources("AWS::IAM::Policy") == {}
    for statement in _all_statements(dev):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert "sts:AssumeRole" not in actions
        assert not any(a.endswith("*") for a in actions), actions
    for role in dev.find_resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"] or all(
            "aws:policy" not in json.dumps(arn) for arn in role["Properties"]["ManagedPolicyArns"]
        )


def test_job_role_is_scoped_to_the_spec(dev):
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for k, p in dev.find_resources("AWS::IAM::ManagedPolicy").items()
        if k.startswith("WorkloadJobPolicy")
    ]
    by_sid = {s["Sid"]: s for s in policy}
    scripts = json.dumps(by_sid["ReadJobScripts"]["Resource"])
    assert scripts.count("/scripts/") == 3
    assert "*" not in scripts
    data = json.dumps(by_sid["WriteDataBucket"]["Resource"])
    assert "/neherlab_denormalized/*" in data
    assert "/glue-temp/*" in data
    assert by_sid["ListDataBucket"]["Condition"] == {
        "StringLike": {"s3:prefix": ["glue-temp/*", "neherlab_denormalized/*"]}
    }
    source = json.dumps(by_sid["ReadSource1"]["Resource"])
    assert ":s3:::covid19-harmonized-dataset/covid19tos3/*" in source
    assert by_sid["ReadSource1"]["Action"] == "s3:GetObject"  # the public source is never written
    assert by_sid["PutEventsOnDefaultBus"]["Action"] == "events:PutEvents"
    assert "event-bus/default" in json.dumps(by_sid["PutEventsOnDefaultBus"]["Resource"])
    assert by_sid["GlueJobMetrics"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Glue"}}
    assert "database/covid19db" in json.dumps(by_sid["GlueCatalog"]["Resource"])
    assert "glue:DeleteTable" not in by_sid["GlueCatalog"]["Action"]


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


# -- compliance and snapshot ----------------------------------------------------------------------


def test_no_unacknowledged_findings_in_five_packs(app):
    assert [str(f) for f in unacknowledged_findings(app)] == []


def test_workload_acknowledgments_are_narrow_and_reasoned(construct):
    acks = acknowledgments(construct.stages["Dev"])
    rules = collections.Counter(rule.split("[")[0] for _path, rule, _reason in acks)
    # Job policy: 3 object prefixes, Glue log groups, catalog tables, the metrics namespace;
    # script deployment: objects under scripts/.
    iam5 = sorted(rule for _p, rule, _r in acks if rule.startswith("AwsSolutions-IAM5["))
    assert len(iam5) == 7, iam5
    assert all(len(reason) > 60 for _p, _rule, reason in acks)
    assert "AwsSolutions-IAM5" not in {r for _p, r, _ in acks}  # always with the finding
    assert rules["AwsSolutions-L1"] == 1


def test_pipeline_snapshot(template, snapshot):
    assert normalize_template(template.to_json()) == snapshot.use_extension(JSONSnapshotExtension)


def test_workload_snapshot(dev, snapshot):
    assert normalize_template(dev.to_json()) == snapshot.use_extension(JSONSnapshotExtension)


# -- pipeline bad inputs and escape hatches ----------------------------------------------------------


def _stack() -> cdk.Stack:
    return cdk.Stack(deterministic_app(), "P", env=cdk.Environment(account="111111111111", region="eu-west-1"))


def _spec(*jobs) -> GlueEtlSpec:
    return GlueEtlSpec(database="db", scripts_dir=EXAMPLES / "glue_etl" / "glue_jobs", jobs=jobs)


def test_no_targets():
    with pytest.raises(ValueError, match=r"P/G: targets = \[\] is invalid: expected at least one DeploymentTarget"):
        GlueEtlPipeline(_stack(), "G", source=SOURCE, spec=_spec(), targets=[])


def test_spec_must_be_a_spec():
    with pytest.raises(ValueError, match=r"spec = .* is invalid: expected a GlueEtlSpec"):
        GlueEtlPipeline(_stack(), "G", source=SOURCE, spec={"database": "db"}, targets=[DEV])


@pytest.mark.parametrize("path", ["/abs/tests", "../tests", ""])
def test_job_tests_path_must_be_relative(path):
    with pytest.raises(ValueError, match=r"job_tests = .* is invalid: expected a path relative to the repository"):
        GlueEtlPipeline(_stack(), "G", source=SOURCE, spec=_spec(), targets=[DEV], job_tests=path)


def test_mixed_glue_versions_need_an_explicit_test_image():
    spec = _spec(
        GlueSparkJob(name="a", script="j_neherlab_denorm_etl.py", glue_version=glue.GlueVersion.V4_0),
        GlueSparkJob(name="b", script="j_neherlab_denorm_etl.py", glue_version=glue.GlueVersion.V5_0),
    )
    with pytest.raises(ValueError, match=r"test_image = None is invalid: the Spark jobs use several Glue versions"):
        GlueEtlPipeline(_stack(), "G", source=SOURCE, spec=spec, targets=[DEV])
    image = codebuild.LinuxBuildImage.from_docker_registry("public.ecr.aws/glue/aws-glue-libs:5")
    assert GlueEtlPipeline(_stack(), "G", source=SOURCE, spec=spec, targets=[DEV], test_image=image).test_image is image


def test_glue_version_without_a_published_image():
    spec = _spec(GlueSparkJob(name="a", script="j_neherlab_denorm_etl.py", glue_version=glue.GlueVersion.V6_0))
    with pytest.raises(ValueError, match=r"no aws-glue-libs image is known for V6_0; pass test_image="):
        GlueEtlPipeline(_stack(), "G", source=SOURCE, spec=spec, targets=[DEV])


def test_glue_4_jobs_are_tested_in_the_glue_4_image():
    spec = _spec(GlueSparkJob(name="a", script="j_neherlab_denorm_etl.py", glue_version=glue.GlueVersion.V4_0))
    built = GlueEtlPipeline(_stack(), "G", source=SOURCE, spec=spec, targets=[DEV])
    assert built.test_image.image_id == "public.ecr.aws/glue/aws-glue-libs:glue_libs_4.0.0_image_01"


def test_escape_hatches_let_a_team_add_a_stage_and_reach_the_pipeline(tmp_path, monkeypatch):
    (tmp_path / "etl" / "tests").mkdir(parents=True)  # the app runs in etl/; the tests are etl/tests
    monkeypatch.chdir(tmp_path / "etl")
    stack = _stack()
    built = GlueEtlPipeline(
        stack,
        "G",
        source=SOURCE,
        spec=_spec(),
        targets=[
            DEV,
            DeploymentTarget(name="Staging", account="111111111111", region="eu-west-1", manual_approval=True),
        ],
        app_dir="etl",
        job_tests="etl/tests",
    )
    built.pipeline.add_wave("Smoke", post=[pipelines.ShellStep("SmokeTest", commands=["echo ok"])])
    stages = [s.stage_name for s in built.code_pipeline.stages]
    assert stages == ["Source", "Build", "UpdatePipeline", "Assets", "Dev", "Staging", "Smoke"]
    template = Template.from_stack(stack)
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    staging = next(s for s in pipeline["Properties"]["Stages"] if s["Name"] == "Staging")
    assert staging["Actions"][0]["Name"] == "PromoteToStaging"
    synth = _project(template, "Synth")
    assert _buildspec(synth)["phases"]["build"]["commands"][0] == "cd etl"
    assert "pytest etl/tests" in json.dumps(_buildspec(_project(template, "JobTests")))


def test_every_acknowledgment_matches_a_finding_it_silences(app):
    with suspended_acknowledgments():
        bare = deterministic_app()
        EXAMPLE.build_app(bare)
        raised = {(f.path, f.rule) for f in unacknowledged_findings(bare)}
    stale = sorted(
        (path, rule)
        for path, rule, _ in acknowledgments(app)
        if not any(rule == r and (p == path or p.startswith(path + "/")) for p, r in raised)
    )
    assert stale == [], f"acknowledgments without a finding (remove them): {stale}"


def test_cfn_lint_reports_no_errors_on_the_example_templates(app):
    templates = sorted(str(p) for p in Path(app.outdir).rglob("*.template.json"))
    assert len(templates) == 3  # pipeline, Dev and Prod workloads
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--format",
            "parseable",
            "--ignore-checks",
            "E3703",
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [line for line in proc.stdout.splitlines() if ":E" in line]
    assert errors == [], "\n".join(errors)
    assert proc.returncode in (0, 4, 8, 12), (proc.returncode, proc.stderr)  # bitmask: 2 means errors
