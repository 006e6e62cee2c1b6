"""Hand-written port of the "CI/CD for AWS Glue ETL with the AWS CDK" pipeline (what a team writes from the post).

Same shape as the post: CDK Pipelines with Docker in synth; the synth step runs
pytest in the ``amazon/aws-glue-libs`` image (``docker run``) and then ``cdk synth``;
one deployment stage with the Glue stack: a KMS-encrypted security configuration,
the job role (AWSGlueServiceRole), script and output buckets, the scripts copied
with a BucketDeployment, database ``covid19db``, four crawlers, three jobs and the
``Covid_19`` workflow with seven triggers (L1 constructs, as in the post). No
hardening: no test report, no gates, default buckets and roles.
Same scripts, dummy account and region as examples/glue_etl.
Run: ``python glue_etl.py`` (honours CDK_OUTDIR).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from aws_cdk import pipelines
from constructs import Construct

SCRIPTS = Path(__file__).resolve().parents[2] / "examples" / "glue_etl" / "glue_jobs"
CONNECTION_ARN = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"
ENV = cdk.Environment(account="111111111111", region="eu-west-1")
GLUE_IMAGE = "amazon/aws-glue-libs:glue_libs_4.0.0_image_01"
SOURCE = "s3://covid19-harmonized-dataset/covid19tos3/"
TABLES = ("neherlab_case_counts", "neherlab_country_codes", "neherlab_icu_capacity", "neherlab_population")


class CdkGlueBlogStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        security = glue.SecurityConfiguration(self, "SecurityConfiguration", s3_encryption=glue.S3Encryption.kms())
        role = iam.Role(
            self,
            "GlueRole",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSGlueServiceRole")],
        )
        script_bucket = s3.Bucket(self, "ScriptBucket", encryption=s3.BucketEncryption.KMS)
        output_bucket = s3.Bucket(self, "OutputBucket", encryption=s3.BucketEncryption.KMS)
        script_bucket.grant_read(role)
        output_bucket.grant_read_write(role)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:ListBucket"],
                resources=["arn:aws:s3:::covid19-harmonized-dataset", "arn:aws:s3:::covid19-harmonized-dataset/*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["events:PutEvents"],
                resources=[f"arn:aws:events:{self.region}:{self.account}:event-bus/default"],
            )
        )
        s3_deployment.BucketDeployment(
            self,
            "DeployScripts",
            destination_bucket=script_bucket,
            destination_key_prefix="etl-script",
            sources=[s3_deployment.Source.asset(str(SCRIPTS))],
        )
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=self.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(name="covid19db"),
        )

        crawlers = []
        for table in TABLES:
            crawler = glue.CfnCrawler(
                self,
                f"c_{table}",
                name=f"c_{table}",
                role=role.role_arn,
                database_name="covid19db",
                targets=glue.CfnCrawler.TargetsProperty(
                    s3_targets=[glue.CfnCrawler.S3TargetProperty(path=SOURCE + table)]
                ),
                crawler_security_configuration=security.security_configuration_name,
                configuration=json.dumps(
                    {"Version": 1.0, "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"}}
                ),
            )
            crawler.node.add_dependency(database)
            crawlers.append(crawler)

        def job(name: str, script: str, command: str, arguments: dict[str, str], **extra: object) -> glue.CfnJob:
            return glue.CfnJob(
                self,
                name,
                name=name,
                role=role.role_arn,
                security_configuration=security.security_configuration_name,
                command=glue.CfnJob.JobCommandProperty(
                    name=command,
                    script_location=f"s3://{script_bucket.bucket_name}/etl-script/{script}",
                    python_version="3.9" if command == "pythonshell" else "3",
                ),
                default_arguments=arguments,
                **extra,  # type: ignore[arg-type]
            )

        start = job("j_emit_start_event", "j_emit_start_event.py", "pythonshell", {}, max_capacity=0.0625)
        denorm = job(
            "j_neherlab_denorm",
            "j_neherlab_denorm_etl.py",
            "glueetl",
            {
                "--DATABASE": "covid19db",
                **{f"--{t.removeprefix('neherlab_').upper()}_TABLE": t for t in TABLES},
                "--OUTPUT_PATH": f"s3://{output_bucket.bucket_name}/neherlab_denormalized/",
                "--OUTPUT_TABLE": "neherlab_denormalized",
                "--job-bookmark-option": "job-bookmark-disable",
                "--TempDir": f"s3://{script_bucket.bucket_name}/temp-glue/",
            },
            glue_version="4.0",
            worker_type="G.1X",
            number_of_workers=10,
        )
        end = job("j_emit_ended_event", "j_emit_ended_event.py", "pythonshell", {}, max_capacity=0.0625)

        workflow = glue.CfnWorkflow(self, "Covid_19", name="Covid_19")
        start_trigger = glue.CfnTrigger(
            self,
            "t_start",
            name="t_start",
            type="SCHEDULED",
            schedule="cron(0 10 1 * ? *)",
            start_on_creation=True,
            workflow_name=workflow.name,
            actions=[glue.CfnTrigger.ActionProperty(job_name=start.name)],
        )
        crawl_triggers = []
        for table, crawler in zip(TABLES, crawlers, strict=True):
            trigger = glue.CfnTrigger(
                self,
                f"t_{table}",
                name=f"t_{table}",
                type="CONDITIONAL",
                start_on_creation=True,
                workflow_name=workflow.name,
                actions=[glue.CfnTrigger.ActionProperty(crawler_name=crawler.name)],
                predicate=glue.CfnTrigger.PredicateProperty(
                    logical="ANY",
                    conditions=[
                        glue.CfnTrigger.ConditionProperty(
                            job_name=start.name, logical_operator="EQUALS", state="SUCCEEDED"
                        )
                    ],
                ),
            )
            trigger.node.add_dependency(start_trigger)
            crawl_triggers.append(trigger)
        denorm_trigger = glue.CfnTrigger(
            self,
            "t_neherlab_denorm",
            name="t_neherlab_denorm",
            type="CONDITIONAL",
            start_on_creation=True,
            workflow_name=workflow.name,
            actions=[glue.CfnTrigger.ActionProperty(job_name=denorm.name)],
            predicate=glue.CfnTrigger.PredicateProperty(
                logical="AND",
                conditions=[
                    glue.CfnTrigger.ConditionProperty(
                        crawler_name=c.name, crawl_state="SUCCEEDED", logical_operator="EQUALS"
                    )
                    for c in crawlers
                ],
            ),
        )
        for trigger in crawl_triggers:
            denorm_trigger.node.add_dependency(trigger)
        end_trigger = glue.CfnTrigger(
            self,
            "t_end",
            name="t_end",
            type="CONDITIONAL",
            start_on_creation=True,
            workflow_name=workflow.name,
            actions=[glue.CfnTrigger.ActionProperty(job_name=end.name)],
            predicate=glue.CfnTrigger.PredicateProperty(
                logical="ANY",
                conditions=[
                    glue.CfnTrigger.ConditionProperty(
                        job_name=denorm.name, logical_operator="EQUALS", state="SUCCEEDED"
                    )
                ],
            ),
        )
        end_trigger.node.add_dependency(denorm_trigger)


class CdkGlueBlogStage(cdk.Stage):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        CdkGlueBlogStack(self, "CdkGlueBlogStack")


class PipelineCDKStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        source = pipelines.CodePipelineSource.connection(
            "example-org/covid19-glue", "main", connection_arn=CONNECTION_ARN
        )
        pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name="cdk-covid19-glue",
            docker_enabled_for_synth=True,
            synth=pipelines.CodeBuildStep(
                "PyTest_CdkSynth",
                input=source,
                install_commands=["pip install -r requirements.txt", "npm install -g aws-cdk"],
                commands=[
                    f"docker pull {GLUE_IMAGE}",
                    f"docker run --rm -v $(pwd):/home/glue_user/workspace/ {GLUE_IMAGE} -c 'python3 -m pytest'",
                    "cdk synth",
                ],
            ),
        )
        pipeline.add_stage(CdkGlueBlogStage(self, "CdkGlueStage", env=ENV))


app = cdk.App(outdir=os.environ.get("CDK_OUTDIR"))
PipelineCDKStack(app, "cdk-covid19-glue-stack-pipeline", env=ENV)
app.synth()
