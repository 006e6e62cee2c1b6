"""The layer build: one CodeBuild action that puts the layer's content into the output directory."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_lambda as lambda_
from aws_cdk import pipelines

from pipeline_constructs.core.validation import invalid

__all__ = ["MAX_LAYER_UNZIPPED_BYTES", "default_build_commands"]

#: Lambda's limit for a layer's unzipped size (bytes); the build fails early above it.
MAX_LAYER_UNZIPPED_BYTES = 250 * 1024 * 1024


def default_build_commands(
    runtimes: Sequence[lambda_.Runtime],
    architectures: Sequence[lambda_.Architecture],
    *,
    layer_directory: str = ".",
    output_directory: str = "layer-build",
    where: str = "default_build_commands",
) -> list[str]:
    """Commands that build a layer from lock files into ``output_directory``.

    * Node.js runtimes: ``npm ci --omit=dev`` from ``package.json`` and
      ``package-lock.json`` (the lock file is required) into ``nodejs/``.
    * Python runtimes: ``pip install --require-hashes --only-binary=:all:``
      from ``requirements.txt`` (fully pinned, with hashes: e.g.
      ``pip-compile --generate-hashes``) into
      ``python/lib/python3.X/site-packages`` for each runtime, for the one
      target architecture's manylinux wheels.

    Both end with a check that the layer fits Lambda's 250 MB unzipped limit.

    :raises ValueError: when runtimes mix families, are neither Node.js nor
        Python, or a Python layer targets two architectures (wheels are per
        architecture): pass your own ``build_commands`` then. ``where`` names
        the caller in the message.
    """
    families = {r.family for r in runtimes}
    src = shlex.quote(layer_directory.rstrip("/") or ".")
    out = shlex.quote(output_directory)
    if families == {lambda_.RuntimeFamily.NODEJS}:
        commands = [
            f'test -f {src}/package-lock.json || {{ echo "{layer_directory}/package-lock.json is required: '
            'the layer is built with npm ci from the lock file"; exit 1; }',
            f"mkdir -p {out}/nodejs",
            f"cp {src}/package.json {src}/package-lock.json {out}/nodejs/",
            f"npm ci --omit=dev --no-audit --no-fund --prefix {out}/nodejs",
        ]
    elif families == {lambda_.RuntimeFamily.PYTHON}:
        if len(architectures) != 1:
            raise invalid(
                where,
                "compatible_architectures",
                [a.name for a in architectures],
                "the default Python build installs one architecture's wheels; give one architecture, "
                "or your own build_commands",
            )
        platform = "manylinux2014_aarch64" if architectures[0].name == "arm64" else "manylinux2014_x86_64"
        commands = [
            f'test -f {src}/requirements.txt || {{ echo "{layer_directory}/requirements.txt is required"; exit 1; }}',
        ]
        for version in sorted({r.name.removeprefix("python") for r in runtimes}):
            target = shlex.quote(f"{output_directory}/python/lib/python{version}/site-packages")
            commands.append(
                "python3 -m pip install --no-cache-dir --disable-pip-version-check --require-hashes "
                f"--only-binary=:all: --platform {platform} --implementation cp --python-version {version} "
                f"--target {target} -r {src}/requirements.txt"
            )
    else:
        raise invalid(
            where,
            "compatible_runtimes",
            sorted(r.name for r in runtimes),
            "default build commands exist for Node.js-only or Python-only layers; "
            "give build_commands for anything else",
        )
    commands.append(
        f'size=$(du -sb {out} | cut -f1); echo "layer size (unzipped): $size bytes"; '
        f'test "$size" -le {MAX_LAYER_UNZIPPED_BYTES} || {{ echo "the layer exceeds Lambda\'s 250 MB unzipped limit"; '
        "exit 1; }"
    )
    return commands


def layer_build_step(
    source: pipelines.IFileSetProducer,
    commands: Sequence[str],
    *,
    output_directory: str,
    architectures: Sequence[lambda_.Architecture],
    build_environment: codebuild.BuildEnvironment | None,
) -> pipelines.CodeBuildStep:
    """The ``BuildLayer`` step: ``commands`` on ``source``; its output (``output_directory``) is the layer zip.

    Without a ``build_environment`` an ARM-only layer builds on ARM (native modules are built for
    the build host); otherwise on the pipeline's image.
    """
    if build_environment is None and [a.name for a in architectures] == ["arm64"]:
        build_environment = codebuild.BuildEnvironment(
            build_image=codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0
        )
    return pipelines.CodeBuildStep(
        "BuildLayer",
        input=source,
        commands=list(commands),
        primary_output_directory=output_directory,
        build_environment=build_environment,
    )
