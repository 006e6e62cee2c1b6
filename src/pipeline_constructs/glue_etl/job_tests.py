"""The job-test action: pytest in the aws-glue-libs image, no AWS credentials, results as a JUnit report.

Why the job tests are their own action (not inside synth, as in the blog
post): the synth action needs Node.js and the CDK CLI, the job tests need the
Glue libraries and Spark of the job's Glue version. Running the aws-glue-libs
image *as the CodeBuild image* of a separate action needs no Docker, so no
privileged build (cdk-nag ``AwsSolutions-CB3``), no ``docker pull`` inside a
build and no credentials handed to a container.

The action runs in the ``Build`` stage at the same run order as synth, so the
two CodeBuild starts overlap and the job tests add no time before the first
deployment (:mod:`pipeline_constructs.core.run_orders`). It stays a gate: a
stage succeeds only when every action in it succeeded, so a failing test fails
``Build`` and the pipeline stops before it mutates itself, publishes assets or
deploys anything. Synth reads nothing the job tests write (they have no output
artifact).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_glue as glue
from aws_cdk import pipelines

from pipeline_constructs.core.compliance import acknowledge
from pipeline_constructs.core.compliance.reasons import reason
from pipeline_constructs.core.reports import TestReports
from pipeline_constructs.core.validation import invalid, shell_quote
from pipeline_constructs.glue_etl.spec import GlueEtlSpec

__all__ = ["GLUE_LIBS_IMAGES", "REPORTS_DIR", "glue_libs_image"]

#: The AWS Glue libraries image of each Glue version (ECR Public mirror of ``amazon/aws-glue-libs``).
GLUE_LIBS_IMAGES: Mapping[glue.GlueVersion, str] = {
    glue.GlueVersion.V2_0: "public.ecr.aws/glue/aws-glue-libs:glue_libs_2.0.0_image_01",
    glue.GlueVersion.V3_0: "public.ecr.aws/glue/aws-glue-libs:glue_libs_3.0.0_image_01",
    glue.GlueVersion.V4_0: "public.ecr.aws/glue/aws-glue-libs:glue_libs_4.0.0_image_01",
    glue.GlueVersion.V5_0: "public.ecr.aws/glue/aws-glue-libs:5",
}

#: Directory (relative to the source root) the job tests write their JUnit XML to.
REPORTS_DIR = "glue-test-reports"

# Run pytest with no AWS credentials reachable: tests must not depend on an account or live data.
_NO_CREDENTIALS = (
    "env -u AWS_CONTAINER_CREDENTIALS_RELATIVE_URI -u AWS_CONTAINER_CREDENTIALS_FULL_URI "
    "-u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN AWS_EC2_METADATA_DISABLED=true"
)


def glue_libs_image(where: str, version: glue.GlueVersion) -> codebuild.IBuildImage:
    """The CodeBuild image running the AWS Glue libraries of ``version``; raise if none is published."""
    uri = GLUE_LIBS_IMAGES.get(version)
    if uri is None:
        raise invalid(
            where,
            "test_image",
            None,
            f"no aws-glue-libs image is known for {version.name}; pass test_image= (a CodeBuild image with "
            "the Glue libraries) or use one of " + ", ".join(v.name for v in GLUE_LIBS_IMAGES),
        )
    return codebuild.LinuxBuildImage.from_docker_registry(uri)


def default_test_image(where: str, spec: GlueEtlSpec) -> codebuild.IBuildImage:
    """The aws-glue-libs image of the spec's Spark jobs (Glue 5.0 without any); an error for several versions."""
    versions = spec.spark_glue_versions
    if len(versions) > 1:
        raise invalid(
            where,
            "test_image",
            None,
            "the Spark jobs use several Glue versions (" + ", ".join(v.name for v in versions) + "); pass "
            "test_image= for the job tests, or use one Glue version",
        )
    return glue_libs_image(where, versions[0] if versions else glue.GlueVersion.V5_0)


def job_tests_step(
    source: pipelines.IFileSetProducer,
    *,
    tests: str,
    image: codebuild.IBuildImage,
    compute_type: codebuild.ComputeType | None,
    install_commands: Sequence[str],
    reports: TestReports,
) -> pipelines.CodeBuildStep:
    """``JobTests``: pytest on ``tests`` in ``image`` without credentials, JUnit XML published to ``reports``."""
    return pipelines.CodeBuildStep(
        "JobTests",
        input=source,
        build_environment=codebuild.BuildEnvironment(build_image=image, compute_type=compute_type),
        install_commands=list(install_commands),
        commands=[
            f'mkdir -p "$CODEBUILD_SRC_DIR/{REPORTS_DIR}"',
            f"{_NO_CREDENTIALS} python3 -m pytest {shell_quote(tests)} "
            f'--junitxml="$CODEBUILD_SRC_DIR/{REPORTS_DIR}/glue-jobs.xml"',
        ],
        partial_build_spec=reports.partial_build_spec(),
        role_policy_statements=reports.policy_statements(),
        timeout=cdk.Duration.minutes(30),
    )


def acknowledge_test_image(pipeline: pipelines.CodePipeline, image: codebuild.IBuildImage) -> None:
    """Acknowledge ``AwsSolutions-CB5`` on the project that runs ``image`` (the job tests) only.

    A post-build rule (:func:`~pipeline_constructs.core.compliance.hardening.after_build`):
    the projects exist once CDK Pipelines built the pipeline.
    """
    stack = cdk.Stack.of(pipeline)
    for child in pipeline.node.find_all():
        if not isinstance(child, codebuild.CfnProject):
            continue
        environment = stack.resolve(child.environment)
        if isinstance(environment, dict) and environment.get("image") == image.image_id:
            acknowledge(child, "AwsSolutions-CB5", reason("glue-test-image", image=image.image_id))
