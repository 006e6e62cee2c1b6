"""The two job functions as the constructs deploy them (aws_cdk.assertions on the example stacks).

For the layer distributor (MultiRegionLayerPipeline) and the Flink update (KdaAppPipeline) alike: only the
pipeline's role can start the action; the function trusts the pipeline's own artifact bucket (fixed in
its environment); it claims jobs with least privilege; a failed invocation lands in a queue that an alarm
watches; its timeout fits the worst case of its retries; its asset is the handler and the job machinery.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from aws_cdk.assertions import Template
from conftest import load_example

from pipeline_constructs import DeploymentTarget
from pipeline_constructs.core import pipeline_jobs
from pipeline_constructs.kda_app import ApplicationSource, KdaAppPipeline
from pipeline_constructs.multi_region_layer.pipeline import MIN_DISTRIBUTOR_TIMEOUT
from pipeline_constructs.runtime import _pipeline_job as pj
from pipeline_constructs.testing import deterministic_app


@dataclass
class Deployed:
    """One job function in its synthesized pipeline stack."""

    template: dict[str, Any]
    outdir: Path
    handler: str
    claims: str
    pipeline_name: str | None

    @property
    def resources(self) -> dict[str, Any]:
        return self.template["Resources"]

    def of_type(self, type_: str) -> dict[str, Any]:
        return {k: v for k, v in self.resources.items() if v["Type"] == type_}

    @property
    def function_id(self) -> str:
        (logical_id,) = [
            k
            for k, v in self.of_type("AWS::Lambda::Function").items()
            if v["Properties"].get("Handler") == self.handler
        ]
        return logical_id

    @property
    def function(self) -> dict[str, Any]:
        return self.resources[self.function_id]["Properties"]

    @property
    def pipeline(self) -> dict[str, Any]:
        pipelines = [
            p["Properties"]
            for p in self.of_type("AWS::CodePipeline::Pipeline").values()
            if self.pipeline_name is None or p["Properties"].get("Name") == self.pipeline_name
        ]
        (pipeline,) = [p for p in pipelines if self.function_id in json.dumps(p)]
        return pipeline

    def invoke_actions(self) -> list[dict[str, Any]]:
        return [
            a
            for s in self.pipeline["Stages"]
            for a in s["Actions"]
            if a["ActionTypeId"]["Provider"] == "Lambda" and self.function_id in json.dumps(a["Configuration"])
        ]

    def policy_statements(self) -> list[dict[str, Any]]:
        role = self.function["Role"]["Fn::GetAtt"][0]
        return [
            s
            for p in self.of_type("AWS::IAM::ManagedPolicy").values()
            if {"Ref": role} in p["Properties"].get("Roles", [])
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        ]


def _synth(example: str, stack_name: str, tmp: Path) -> cdk.App:
    app = deterministic_app(outdir=str(tmp))
    load_example(example).build_app(app)
    app.synth()
    return app


@pytest.fixture(scope="module", params=["layer", "kda"])
def deployed(request, tmp_path_factory) -> Deployed:
    tmp = tmp_path_factory.mktemp(request.param)
    if request.param == "layer":
        app = _synth("multi_region_layer", "LayerPipeline", tmp)
        template = Template.from_stack(app.node.find_child("LayerPipeline")).to_json()
        return Deployed(template, tmp, "layer_distributor.handler", "pipeline-jobs/layer-distributor/", None)
    app = _synth("kda_app", "KdaAppPipeline", tmp)
    template = Template.from_stack(app.node.find_child("KdaAppPipeline")).to_json()
    return Deployed(template, tmp, "kda_update.handler", "pipeline-jobs/kda-update/", "clickstream-application")


def _artifact_bucket(deployed: Deployed) -> str:
    (store,) = [s["ArtifactStore"] for s in deployed.pipeline.get("ArtifactStores", [])] or [
        deployed.pipeline["ArtifactStore"]
    ]
    return store["Location"]["Ref"]


# --------------------------------------------------------------------------- who may start the action


def test_every_invoke_action_role_trusts_exactly_the_pipeline_role(deployed):
    pipeline_role = deployed.pipeline["RoleArn"]["Fn::GetAtt"][0]
    actions = deployed.invoke_actions()
    assert actions
    for action in actions:
        role = deployed.resources[action["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
        assert role["AssumeRolePolicyDocument"]["Statement"] == [
            {
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": {"AWS": {"Fn::GetAtt": [pipeline_role, "Arn"]}},
            }
        ]


# --------------------------------------------------------------------------- what the function trusts


def test_the_function_is_told_the_pipelines_artifact_bucket_and_its_retry_policy(deployed):
    variables = deployed.function["Environment"]["Variables"]
    assert variables["ARTIFACT_BUCKET"] == {"Ref": _artifact_bucket(deployed)}
    policy = pj.Policy.from_env({pj.POLICY_ENV: variables[pj.POLICY_ENV]})
    assert policy == pj.Policy()  # the construct's numbers are the handler's defaults


def test_the_user_parameters_name_no_role_bucket_or_release(deployed):
    for action in deployed.invoke_actions():
        params = json.loads(action["Configuration"]["UserParameters"])
        assert not {"roleArn", "releaseBucketArn", "stagingBucketPrefix", "artifactBucket"} & set(params)


# --------------------------------------------------------------------------- claims


def test_claims_are_the_only_writes_to_the_artifact_bucket_and_expire(deployed):
    bucket = _artifact_bucket(deployed)
    touching = [s for s in deployed.policy_statements() if bucket in json.dumps(s)]
    assert [s["Sid"] for s in touching] == ["JobClaims"]
    (claims,) = touching
    assert claims["Action"] == ["s3:PutObject", "s3:GetObject"]
    assert claims["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, f"/{deployed.claims}*"]]}
    rules = deployed.resources[bucket]["Properties"]["LifecycleConfiguration"]["Rules"]
    (rule,) = [r for r in rules if r.get("Prefix") == deployed.claims]
    assert rule["ExpirationInDays"] == pipeline_jobs.CLAIM_RETENTION.to_days()
    (key,) = [s for s in deployed.policy_statements() if s["Sid"] == "JobClaimsKey"]
    assert key["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert key["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}


# --------------------------------------------------------------------------- failures


def test_a_failed_invocation_goes_to_a_queue_an_alarm_watches_and_notifies(deployed):
    queue_arn = deployed.function["DeadLetterConfig"]["TargetArn"]
    queue = queue_arn["Fn::GetAtt"][0]
    assert deployed.resources[queue]["Type"] == "AWS::SQS::Queue"
    assert "KmsMasterKeyId" in deployed.resources[queue]["Properties"]
    (config,) = [
        c["Properties"]
        for c in deployed.of_type("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": deployed.function_id}
    ]
    assert config["MaximumRetryAttempts"] == 0  # a retry would be a duplicate delivery, which stands down
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn
    (alarm,) = [
        a["Properties"]
        for a in deployed.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Dimensions") == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    ]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    (topic_ref,) = alarm["AlarmActions"]
    topic = deployed.resources[topic_ref["Ref"]]
    assert "KmsMasterKeyId" in topic["Properties"]
    (topic_policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in deployed.of_type("AWS::SNS::TopicPolicy").values()
        if topic_ref in p["Properties"]["Topics"]
    ]
    (publish,) = [s for s in topic_policy if s.get("Sid") == "CloudWatchAlarmPublishes"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    statements = {s["Sid"] for s in deployed.policy_statements()}
    assert {"DeadLetters", "DeadLettersKey"} <= statements  # the role may deliver to the encrypted queue


def test_the_timeout_fits_the_worst_case_of_the_retries(deployed):
    timeout = deployed.function["Timeout"]
    margin = pipeline_jobs.watchdog_margin_seconds()
    assert margin == pj.Policy().watchdog_margin
    calls_worst = pipeline_jobs.CALLS.worst_case_seconds()
    assert calls_worst == pj.Policy().calls.worst_case_seconds()
    if deployed.handler.startswith("kda"):
        assert timeout >= 10 * calls_worst + margin
        assert timeout == pipeline_jobs.job_function_timeout(10).to_seconds()
    else:
        assert timeout >= MIN_DISTRIBUTOR_TIMEOUT.to_seconds() >= 12 * calls_worst + margin + 120


def test_the_asset_is_the_handler_and_the_job_machinery(deployed):
    asset = deployed.outdir / f"asset.{deployed.function['Code']['S3Key'].removesuffix('.zip')}"
    handler_file = deployed.handler.split(".")[0] + ".py"
    assert sorted(p.name for p in asset.iterdir()) == sorted(["_pipeline_job.py", handler_file])
    for file in asset.iterdir():
        imports = [line for line in file.read_text().splitlines() if line.lstrip().startswith(("import ", "from "))]
        assert not [line for line in imports if "aws_cdk" in line or "pipeline_constructs" in line], file.name


_PACKAGE = Path(pipeline_jobs.__file__).parent.parent
_CONSTRUCT_MODULES = sorted(
    str(p.relative_to(_PACKAGE)) for p in _PACKAGE.rglob("*.py") if p.relative_to(_PACKAGE).parts[0] != "runtime"
)


@pytest.mark.parametrize("module", _CONSTRUCT_MODULES)
def test_construct_code_never_imports_runtime_code(module):
    """Constants shared with a handler go through the function's environment, never an import."""
    source = (_PACKAGE / module).read_text()
    imports = [line for line in source.splitlines() if line.lstrip().startswith(("import ", "from "))]
    assert not [line for line in imports if "pipeline_constructs.runtime" in line or "from .runtime" in line]


def test_the_environment_fits_lambdas_4_kb(deployed):
    stack = cdk.Stack(deterministic_app(), "Sizes")
    rendered = json.dumps(stack.resolve(deployed.function["Environment"]["Variables"]))
    assert len(rendered) < 4096


def test_too_many_flink_targets_for_the_configuration_is_a_clear_error():
    app = deterministic_app()
    stack = cdk.Stack(app, "Many", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    source = pipelines.CodePipelineSource.git_hub("o/r", "main")
    targets = [DeploymentTarget(name=f"Target{i:02d}", account="111111111111", region="eu-west-1") for i in range(40)]
    with pytest.raises(ValueError, match=r"Many/Flink: targets = '<40 targets>' is invalid: too many targets"):
        KdaAppPipeline(
            stack,
            "Flink",
            application_name="app",
            targets=targets,
            application_source=ApplicationSource.s3(
                s3.Bucket.from_bucket_name(stack, "SourceBucket", "source-bucket"), "source.zip"
            ),
            source=source,
        )


_RUNTIME_DIR = _PACKAGE / "runtime"
#: Every job handler in runtime/ (the modules without a leading underscore are handlers; the rest is shared).
#: pipeline_changed.py is no handler: a script the synth CodeBuild action runs (core/self_mutation.py).
_HANDLER_FILES = sorted(
    p.name for p in _RUNTIME_DIR.glob("*.py") if not p.name.startswith("_") and p.name != "pipeline_changed.py"
)


def _packaged(handler_file: str) -> list[str]:
    """The runtime/ files ``Code.from_asset(RUNTIME_DIR, exclude=job_function_asset_excludes(...))`` keeps:
    the exclude patterns apply in order, a ``!`` pattern takes a file back."""
    kept = []
    for path in sorted(_RUNTIME_DIR.iterdir()):
        included = True
        for pattern in pipeline_jobs.job_function_asset_excludes(handler_file):
            negated = pattern.startswith("!")
            if fnmatch.fnmatchcase(path.name, pattern.removeprefix("!")):
                included = negated
        if included:
            kept.append(path.name)
    return kept


def test_the_packaging_rule_is_the_one_the_synthesized_assets_show():
    assert _HANDLER_FILES == ["health_gate.py", "kda_update.py", "layer_distributor.py", "resilience_assessment.py"]
    assert _packaged("kda_update.py") == ["_pipeline_job.py", "kda_update.py"]  # as the asset test above finds


@pytest.mark.parametrize("handler_file", _HANDLER_FILES)
def test_every_handler_runs_from_only_the_files_its_asset_packages(tmp_path, handler_file):
    """Each job function's asset holds what its handler imports: the shared job machinery included."""
    for name in _packaged(handler_file):
        shutil.copy(_RUNTIME_DIR / name, tmp_path / name)
    module = handler_file.removesuffix(".py")
    code = (
        f"import sys, {module}\n"
        "assert 'pipeline_constructs' not in sys.modules\n"
        "try:\n"
        f"    {module}.handler({{'not': 'a job'}}, None)\n"
        "except ValueError as err:\n"
        "    assert 'CodePipeline job event' in str(err), err\n"
        "else:\n"
        "    raise AssertionError('no ValueError')\n"
    )
    result = subprocess.run(
        [sys.executable, "-E", "-s", "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
