"""The layer build: the commands that put the layer's content into the output directory, and where they run.

By default they run inside the synth action, before the CDK app is synthesized
(:func:`synth_commands_before`); the output directory is then a second output
of that action (one CodeBuild start fewer than a build action of its own). With
a synth step of your own, which the construct cannot add commands to, they run
in a ``BuildLayer`` action of their own at the start of the ``Layer`` stage
(:func:`layer_build_step`).
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Sequence

from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_lambda as lambda_
from aws_cdk import pipelines

from pipeline_constructs.core.options import merge_code_build_options
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


#: The image an ARM-only layer builds on when nothing else is said (native modules are built for the host).
ARM_BUILD_IMAGE = codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0

#: What the synth action runs after the layer build: back to the repository root, where the synth commands
#: start (a ``cd`` in your build commands would otherwise move them, as CodeBuild runs the commands of a
#: phase in one shell).
BACK_TO_ROOT = 'cd "$CODEBUILD_SRC_DIR"'


def synth_commands_before(commands: Sequence[str]) -> list[str]:
    """The layer build as the first commands of the synth action (at the repository root), then back to the root.

    Each command stays a command of its own, so CodeBuild fails the synth action (and the
    pipeline stops before it mutates itself) at the first one that fails: a missing lock file,
    a hash mismatch, a layer above 250 MB.
    """
    return [*commands, BACK_TO_ROOT]


def check_output_directory(where: str, output_directory: str, app_dir: str | None) -> None:
    """The layer's output must not overlap the synth action's ``<app_dir>/cdk.out``: both are outputs of one action.

    :raises ValueError: naming ``output_directory`` when it is, holds or lies inside the cloud assembly.
    """
    assembly = posixpath.normpath(posixpath.join(app_dir or ".", "cdk.out"))
    layer = posixpath.normpath(output_directory)
    if layer == assembly or layer.startswith(assembly + "/") or assembly.startswith(layer + "/"):
        raise invalid(
            where,
            "output_directory",
            output_directory,
            f"expected a directory apart from the cloud assembly {assembly!r}: the synth action outputs both, "
            "and the layer must not contain (or be part of) cdk.out",
        )


def synth_code_build_defaults(
    where: str,
    architectures: Sequence[lambda_.Architecture],
    build_environment: codebuild.BuildEnvironment | None,
    synth_defaults: pipelines.CodeBuildOptions | None,
) -> pipelines.CodeBuildOptions | None:
    """The synth action's CodeBuild options when it also builds the layer.

    * ``build_environment`` given: it is the layer build's environment, so the synth action's:
      merged over ``pipeline_options['synth_code_build_defaults']`` field by field (it wins);
    * else, an ARM-only layer: the synth action runs on :data:`ARM_BUILD_IMAGE` (native modules are
      built for the host), unless ``synth_code_build_defaults`` names an ARM image of its own;
    * else ``synth_code_build_defaults`` unchanged (the pipeline's image).

    :raises ValueError: when an ARM-only layer would build on the non-ARM image that
        ``synth_code_build_defaults`` names (pass ``build_environment`` with an ARM image).
    """
    if build_environment is not None:
        return merge_code_build_options(
            synth_defaults or pipelines.CodeBuildOptions(),
            pipelines.CodeBuildOptions(build_environment=build_environment),
        )
    if [a.name for a in architectures] != ["arm64"]:
        return synth_defaults
    environment = synth_defaults.build_environment if synth_defaults is not None else None
    image = environment.build_image if environment is not None else None
    if image is None:
        return merge_code_build_options(
            synth_defaults or pipelines.CodeBuildOptions(),
            pipelines.CodeBuildOptions(build_environment=codebuild.BuildEnvironment(build_image=ARM_BUILD_IMAGE)),
        )
    if "ARM" not in str(image.type):
        raise invalid(
            where,
            "pipeline_options['synth_code_build_defaults']",
            f"<build image {image.image_id}>",
            "an arm64-only layer is built in the synth action, on ARM (native modules are built for the host); "
            "name an ARM image there, or pass build_environment= with an ARM image",
        )
    return synth_defaults


def layer_build_step(
    source: pipelines.IFileSetProducer,
    commands: Sequence[str],
    *,
    output_directory: str,
    architectures: Sequence[lambda_.Architecture],
    build_environment: codebuild.BuildEnvironment | None,
) -> pipelines.CodeBuildStep:
    """The ``BuildLayer`` step (with a synth step of your own): ``commands`` on ``source``; its output
    (``output_directory``) is the layer zip.

    Without a ``build_environment`` an ARM-only layer builds on ARM (native modules are built for
    the build host); otherwise on the pipeline's image.
    """
    if build_environment is None and [a.name for a in architectures] == ["arm64"]:
        build_environment = codebuild.BuildEnvironment(build_image=ARM_BUILD_IMAGE)
    return pipelines.CodeBuildStep(
        "BuildLayer",
        input=source,
        commands=list(commands),
        primary_output_directory=output_directory,
        build_environment=build_environment,
    )
