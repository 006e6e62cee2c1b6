# ruff: noqa: I001  (pipeline_constructs is imported before aws_cdk on purpose: it selects Node 24)
"""Progressive delivery of one service: Dev, Staging with a resilience assessment, Prod in two waves.

The service is the .NET function of the ``dotnet_lambda`` example, built and deployed by
``DotnetLambdaPipeline``; every option below is a ``DeploymentTarget`` or ``pipeline_options``
setting that every pipeline construct of the library accepts.

* **Triggers:** only a push to ``main`` that changes the service's folder or this app starts the
  pipeline (a monorepo).
* **Dev**, then **Staging**, followed by an AWS Resilience Hub assessment of what Staging runs
  (the pipeline fails when the app's resiliency policy is breached).
* **Prod** in two waves: ``Prod-1`` (one region), then ``Prod-2`` (two regions in parallel).
  Each prod stage is entered only on weekdays, 09:00-17:00 Berlin time; an AWS Health check of
  the region runs right before it; after the deployment the stage bakes for 30 minutes watching
  the service's error alarm and rolls back when it fires, or when the deployment fails.
* **Notifications:** failed executions go to a KMS-encrypted topic with an on-call address.

The bake alarms live in the pipeline's account, in each prod region (CodePipeline reads them with
the pipeline's role), and watch the prod account's metrics across accounts: the ``ServiceAlarms-*``
stacks below, deployed with the pipeline stack.

Run offline: ``python app.py`` (or ``cdk synth``) writes the cloud assembly to ``cdk.out``
(or ``$CDK_OUTDIR``). Accounts and ARNs are placeholders.
"""

from __future__ import annotations

from pathlib import Path

import pipeline_constructs  # noqa: F401  (first: selects Node 24 for jsii)
import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import pipelines
from pipeline_constructs import (
    AlarmBake,
    DeploymentTarget,
    DeploymentWindow,
    GitPushFilter,
    GitTrigger,
    HealthGate,
    OnFailure,
    PipelineNotifications,
    ResilienceAssessment,
    acknowledge,
    add_compliance_checks,
    create_app,
)
from pipeline_constructs.dotnet_lambda import DotnetLambdaPipeline

HERE = Path(__file__).resolve().parent
SERVICE = HERE.parent / "dotnet_lambda" / "src" / "HelloWorld"
PIPELINE_ACCOUNT = "111111111111"
DEV_ACCOUNT = "222222222222"
STAGING_ACCOUNT = "333333333333"
PROD_ACCOUNT = "444444444444"
PIPELINE_ENV = cdk.Environment(account=PIPELINE_ACCOUNT, region="eu-west-1")
CONNECTION_ARN = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"
RESILIENCE_APP_ARN = "arn:aws:resiliencehub:eu-west-1:111111111111:app/0a1b2c3d-0000-4000-8000-000000000000"
FUNCTION_NAME = "orders-service"
PROD_REGIONS = {"Prod-EU": "eu-west-1", "Prod-US": "us-east-1", "Prod-AP": "ap-southeast-2"}
#: The reason the bake alarms have no alarm action (the example's own claim, checked by its test).
BAKE_ALARM_REASON = (
    "A deployment bake signal: CodePipeline's CloudWatchAlarm rule reads its state and rolls the stage back; "
    "the team pages from its own on-call tooling."
)


def alarm_name(region: str) -> str:
    """The bake alarm of the service in ``region``."""
    return f"{FUNCTION_NAME}-errors-{region}"


def service_alarms(app: cdk.App, region: str) -> cdk.Stack:
    """The bake alarm over the prod function's errors in ``region``, in the pipeline's account."""
    stack = cdk.Stack(app, f"ServiceAlarms-{region}", env=cdk.Environment(account=PIPELINE_ACCOUNT, region=region))
    errors = cloudwatch.Metric(
        namespace="AWS/Lambda",
        metric_name="Errors",
        dimensions_map={"FunctionName": FUNCTION_NAME},
        statistic="Sum",
        period=cdk.Duration.minutes(1),
        account=PROD_ACCOUNT,
        region=region,
    )
    alarm = errors.create_alarm(
        stack,
        "Errors",
        alarm_name=alarm_name(region),
        threshold=1,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    for pack in ("NIST.800.53.R5", "HIPAA.Security"):
        acknowledge(alarm.node.default_child, f"{pack}-CloudWatchAlarmAction", BAKE_ALARM_REASON)
    return stack


def prod(name: str, wave: str) -> DeploymentTarget:
    """A prod region: behind the Health gate and the window, baked with its alarm, rolled back on failure."""
    region = PROD_REGIONS[name]
    return DeploymentTarget(
        name=name,
        account=PROD_ACCOUNT,
        region=region,
        wave=wave,
        health_gate=HealthGate(),
        deployment_window=DeploymentWindow.weekdays(start_hour=9, end_hour=17, time_zone="Europe/Berlin"),
        bake=AlarmBake(alarm_names=(alarm_name(region),), wait=cdk.Duration.minutes(30)),
        on_failure=OnFailure.rollback(),
    )


def build_app(app: cdk.App) -> cdk.Stack:
    """Add the pipeline stack (and the prod alarm stacks) to ``app``; return the pipeline stack."""
    stack = cdk.Stack(app, "ProgressiveDelivery", env=PIPELINE_ENV)
    DotnetLambdaPipeline(
        stack,
        "Orders",
        source=pipelines.CodePipelineSource.connection("example-org/monorepo", "main", connection_arn=CONNECTION_ARN),
        app_dir="pipelines/orders",
        project_dir=SERVICE,
        handler="HelloWorld::HelloWorld.Function::FunctionHandler",
        function_options={"function_props": {"function_name": FUNCTION_NAME}},
        pipeline_name="orders",
        targets=[
            DeploymentTarget(name="Dev", account=DEV_ACCOUNT, region="eu-west-1"),
            DeploymentTarget(
                name="Staging",
                account=STAGING_ACCOUNT,
                region="eu-west-1",
                resilience_assessment=ResilienceAssessment(app_arn=RESILIENCE_APP_ARN),
            ),
            prod("Prod-EU", wave="Prod-1"),
            prod("Prod-US", wave="Prod-2"),
            prod("Prod-AP", wave="Prod-2"),
        ],
        pipeline_options={
            "triggers": [
                GitTrigger(
                    push=(
                        GitPushFilter(
                            branches=("main",),
                            file_paths=("services/orders/**", "pipelines/orders/**"),
                        ),
                    )
                )
            ],
            "notifications": PipelineNotifications(emails=("orders-oncall@example.com",)),
        },
    )
    for region in sorted(set(PROD_REGIONS.values())):
        service_alarms(app, region)
    return stack


if __name__ == "__main__":
    app = create_app()  # cdk.json's context also under `python app.py`; the assembly goes to ./cdk.out
    add_compliance_checks(app)
    build_app(app)
    app.synth()
