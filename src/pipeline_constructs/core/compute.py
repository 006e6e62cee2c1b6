"""Opt-in CodeBuild Lambda compute for the synth step, refused at construct time where it cannot run.

CodeBuild can run a build on AWS Lambda instead of an EC2 container: it starts in seconds rather than
after provisioning (the run-time model of ``pipeline-constructs show --estimate`` charges 20 s for such
an action instead of 90 s). It is **off by default** and nothing here has been run against AWS: the
limits below come from AWS's documentation and aws-cdk's own validation, and the library refuses, at
construct time, every step that breaks one of them rather than synthesizing a pipeline that fails
at run time. Turn it on with ``pipeline_options={"lambda_compute": LambdaCompute(...)}`` (any pipeline
construct) or ``SecurePipeline(lambda_compute=...)``; it applies to the **synth step only**.

Documented limits (https://docs.aws.amazon.com/codebuild/latest/userguide/lambda.html#lambda.limitations):

* no tools that need root (``yum``, ``rpm``, ...), no Docker builds or runs, no privileged mode;
* no writing outside ``/tmp`` (``HOME`` is ``/tmp`` in the curated images);
* no caching, no custom build timeouts or queue timeouts, no runs longer than 15 minutes, no build badges,
  no custom runtime environments (``runtime-versions`` in the buildspec: version selection is a feature of
  the EC2 standard images, https://docs.aws.amazon.com/codebuild/latest/userguide/runtime-versions.html);
* no VPC connectivity, no EFS (file system locations), no certificate installation, no SSH/Session Manager;
* available in some regions only (US East/West, Mumbai, Singapore, Sydney, Tokyo, Frankfurt, Ireland,
  São Paulo at the time of writing): the region is not checked here.

aws-cdk enforces part of it itself (``aws-codebuild/lib/project.js`` ``validateLambdaBuildImage``:
"Cannot specify timeout/queuedTimeout/cache for Lambda compute", and ``LinuxLambdaBuildImage.validate``:
no privileged mode, only ``BUILD_LAMBDA_*`` compute types); this module checks the rest, and checks it
earlier, with errors naming the construct path, the prop, the bad value and the limit.

The curated images (https://docs.aws.amazon.com/codebuild/latest/userguide/lambda-compute-images.html)
each hold **one** language runtime (their definitions, aws/aws-codebuild-docker-images ``al-lambda/*/*``,
start from that runtime's Lambda base image) plus the AWS CLI, SAM CLI and git. A command whose program
belongs to another runtime (``pip`` on the ``nodejs*`` image, ``npx`` on ``python*``) is refused. This is
why the library's default synth (``pip install -r requirements.txt`` then ``npx aws-cdk synth`` of a
Python CDK app, which needs Node.js for jsii as well) runs on no curated Lambda image: give ``synth_commands``
that need one runtime (a TypeScript/JavaScript CDK app: ``npm ci``, ``npx cdk synth``), or keep the default
compute. aws-cdk 2.275 offers only the curated Lambda images (no custom-image factory), so neither can this.

``npm install -g`` is *not* refused on the ``nodejs*`` images: their definitions set npm's global prefix
to ``/tmp/opt/npm`` (``npm config --global set prefix $LAMBDA_USER_HOME/npm``), which is writable.

What stays on standard compute, and why: CDK Pipelines' generated ``SelfMutate`` and asset-publishing
projects (they install their CLIs with ``npm install -g`` into the EC2 image's root-owned prefix and are
shared by Docker image assets, which need privileged mode), the library's other CodeBuild steps (tests in
a Docker image, builds in a VPC, permission checks), and any step not named here. Reserved fleets
(``codebuild.Fleet``, ``BuildEnvironment(fleet=...)``) are not wrapped: they are EC2 capacity kept warm (and
billed) around the clock, the run-time model does not credit them, and ``synth_code_build_defaults``
already accepts a ``BuildEnvironment(fleet=...)``.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import pipelines
from constructs import Construct

from pipeline_constructs.core.validation import invalid, require_int, require_one_of, require_str, wrong_type

__all__ = [
    "ARCHITECTURES",
    "LAMBDA_IMAGES",
    "LAMBDA_LIMITS_URL",
    "LAMBDA_MAX_MINUTES",
    "LAMBDA_MEMORY_GB",
    "LambdaCompute",
    "check_code_build_options",
    "check_commands",
    "check_step",
    "command_problem",
    "synth_on_lambda_compute",
]

#: Where AWS documents what Lambda compute cannot do.
LAMBDA_LIMITS_URL = "https://docs.aws.amazon.com/codebuild/latest/userguide/lambda.html#lambda.limitations"
#: The longest a build on Lambda compute runs (AWS: "runtimes longer than 15 minutes" are not supported).
LAMBDA_MAX_MINUTES = 15
#: Memory sizes, in GB, of the Lambda compute types (``BUILD_LAMBDA_1GB`` ... ``BUILD_LAMBDA_10GB``).
LAMBDA_MEMORY_GB: tuple[int, ...] = (1, 2, 4, 8, 10)
#: ``x86_64`` (``LINUX_LAMBDA_CONTAINER``) or ``arm64`` (``ARM_LAMBDA_CONTAINER``).
ARCHITECTURES: tuple[str, ...] = ("x86_64", "arm64")

#: Curated Lambda images by tag -> (aws-cdk constant on ``LinuxLambdaBuildImage``/``LinuxArmLambdaBuildImage``,
#: the runtime it holds). Tags as in ``aws/codebuild/amazonlinux-<arch>-lambda-standard:<tag>``.
LAMBDA_IMAGES: Mapping[str, tuple[str, str]] = {
    "nodejs18": ("AMAZON_LINUX_2_NODE_18", "node"),
    "nodejs20": ("AMAZON_LINUX_2023_NODE_20", "node"),
    "nodejs22": ("AMAZON_LINUX_2023_NODE_22", "node"),
    "nodejs24": ("AMAZON_LINUX_2023_NODE_24", "node"),
    "python3.11": ("AMAZON_LINUX_2_PYTHON_3_11", "python"),
    "python3.12": ("AMAZON_LINUX_2023_PYTHON_3_12", "python"),
    "python3.13": ("AMAZON_LINUX_2023_PYTHON_3_13", "python"),
    "corretto11": ("AMAZON_LINUX_2_CORRETTO_11", "java"),
    "corretto17": ("AMAZON_LINUX_2_CORRETTO_17", "java"),
    "corretto21": ("AMAZON_LINUX_2023_CORRETTO_21", "java"),
    "dotnet6": ("AMAZON_LINUX_2_DOTNET_6", "dotnet"),
    "dotnet8": ("AMAZON_LINUX_2023_DOTNET_8", "dotnet"),
    "go1.21": ("AMAZON_LINUX_2_GO_1_21", "go"),
    "go1.24": ("AMAZON_LINUX_2023_GO_1_24", "go"),
    "ruby3.2": ("AMAZON_LINUX_2_RUBY_3_2", "ruby"),
    "ruby3.4": ("AMAZON_LINUX_2023_RUBY_3_4", "ruby"),
}

_RUNTIME_NAMES = {
    "node": "Node.js",
    "python": "Python",
    "java": "Java",
    "dotnet": ".NET",
    "go": "Go",
    "ruby": "Ruby",
}

#: Programs that belong to one runtime: refused on a curated image of another runtime.
_RUNTIME_PROGRAMS: Mapping[str, str] = {
    **dict.fromkeys(("node", "npm", "npx", "yarn", "pnpm", "corepack"), "node"),
    **dict.fromkeys(
        ("python", "python3", "pip", "pip3", "pipenv", "poetry", "virtualenv", "pytest", "tox", "uv"), "python"
    ),
    **dict.fromkeys(("java", "javac", "mvn", "gradle", "sbt"), "java"),
    "dotnet": "dotnet",
    **dict.fromkeys(("go", "gofmt"), "go"),
    **dict.fromkeys(("ruby", "gem", "bundle", "bundler", "rake"), "ruby"),
}
#: Programs that need root (package managers of the OS, privilege escalation).
_ROOT_PROGRAMS = frozenset(
    {"sudo", "su", "doas", "yum", "dnf", "microdnf", "rpm", "apt", "apt-get", "dpkg", "apk", "zypper"}
    | {"amazon-linux-extras", "update-alternatives", "mount", "chown", "useradd"}
)
#: Programs that need a Docker daemon (Lambda compute supports no Docker builds or runs).
_DOCKER_PROGRAMS = frozenset({"docker", "docker-compose", "dockerd", "podman", "buildah", "finch"})
#: Prefixes that run the next word as the program.
_WRAPPERS = frozenset(
    {"env", "time", "exec", "nohup", "command", "nice", "xargs", "if", "while", "until", "then", "do", "else", "{", "!"}
)
#: Shell operators that start a new simple command.
_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "(", ")", "\n", "|&", ";;"})


@dataclass(frozen=True)
class LambdaCompute:
    """CodeBuild on AWS Lambda compute for the synth step (opt-in; see the module docs for the limits).

    :param memory: GB of memory of the Lambda compute type, one of :data:`LAMBDA_MEMORY_GB`
        (``BUILD_LAMBDA_<memory>GB``; Lambda gives CPU in proportion to memory). Default: ``4``
        (a guess for a Node.js CDK synth, not a measurement).
    :param image: tag of a curated Lambda image, one of :data:`LAMBDA_IMAGES`
        (``aws/codebuild/amazonlinux-<architecture>-lambda-standard:<image>``). Default: ``"nodejs22"``.
    :param architecture: ``"x86_64"`` (environment type ``LINUX_LAMBDA_CONTAINER``) or ``"arm64"``
        (``ARM_LAMBDA_CONTAINER``). Default: ``"x86_64"``.
    :raises ValueError: for a value outside those allowed (the error names them).
    """

    memory: int = 4
    image: str = "nodejs22"
    architecture: str = "x86_64"

    def __post_init__(self) -> None:
        where = "LambdaCompute"
        if require_int(where, "memory", self.memory) not in LAMBDA_MEMORY_GB:
            raise invalid(
                where,
                "memory",
                self.memory,
                "expected GB of a Lambda compute type: " + ", ".join(map(str, LAMBDA_MEMORY_GB)),
            )
        require_str(where, "image", self.image)
        require_one_of(where, "image", self.image, LAMBDA_IMAGES)
        require_str(where, "architecture", self.architecture)
        require_one_of(where, "architecture", self.architecture, ARCHITECTURES)

    @property
    def compute_type(self) -> codebuild.ComputeType:
        """``codebuild.ComputeType.LAMBDA_<memory>GB``."""
        return getattr(codebuild.ComputeType, f"LAMBDA_{self.memory}GB")  # type: ignore[no-any-return]

    @property
    def build_image(self) -> codebuild.IBuildImage:
        """The curated image (``codebuild.LinuxLambdaBuildImage``/``LinuxArmLambdaBuildImage`` constant)."""
        images = codebuild.LinuxArmLambdaBuildImage if self.architecture == "arm64" else codebuild.LinuxLambdaBuildImage
        return getattr(images, LAMBDA_IMAGES[self.image][0])  # type: ignore[no-any-return]

    @property
    def runtime(self) -> str:
        """The language runtime the image holds: ``node``, ``python``, ``java``, ``dotnet``, ``go`` or ``ruby``."""
        return LAMBDA_IMAGES[self.image][1]

    def build_environment(self) -> codebuild.BuildEnvironment:
        """The ``BuildEnvironment``: this image and compute type, not privileged."""
        return codebuild.BuildEnvironment(
            build_image=self.build_image, compute_type=self.compute_type, privileged=False
        )

    def code_build_options(self) -> pipelines.CodeBuildOptions:
        """``pipelines.CodeBuildOptions`` holding only :meth:`build_environment`."""
        return pipelines.CodeBuildOptions(build_environment=self.build_environment())


# --------------------------------------------------------------------------- commands


def _words(command: str) -> list[str]:
    command = command.replace("\n", " ; ")
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|()")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:  # unbalanced quotes: CodeBuild's shell would fail too; look at plain words
        return command.replace("\n", " ; ").split()


def _programs(command: str) -> Iterator[tuple[str, list[str]]]:
    """Each simple command's program (after assignments and wrappers such as ``env``) and its arguments."""
    words = _words(command)
    start = True
    for i, word in enumerate(words):
        if word in _SEPARATORS or (set(word) <= set(";&|()") and word):
            start = True
            continue
        if not start:
            continue
        if "=" in word and not word.startswith("=") and word.split("=", 1)[0].replace("_", "a").isalnum():
            continue  # VAR=value before the program
        if word in _WRAPPERS or (word.startswith("-") and i > 0 and words[i - 1] in _WRAPPERS):
            continue
        start = False
        rest: list[str] = []
        for arg in words[i + 1 :]:
            if arg in _SEPARATORS:
                break
            rest.append(arg)
        yield word.rsplit("/", 1)[-1], rest


def command_problem(command: str, compute: LambdaCompute) -> str | None:
    """Why ``command`` cannot run on ``compute`` (``None``: nothing the library knows of).

    Looks at each simple command's program: one that needs root or Docker, ``sam build
    --use-container``/``sam local``, or a program of another runtime than the curated image's.
    A program the library does not know is not refused (it may still fail: see the module docs).
    """
    for program, args in _programs(command):
        if program in _ROOT_PROGRAMS:
            return f"{program!r} needs root; Lambda compute runs builds without root ({LAMBDA_LIMITS_URL})"
        if program in _DOCKER_PROGRAMS:
            return f"{program!r} needs Docker; Lambda compute supports no Docker builds or runs ({LAMBDA_LIMITS_URL})"
        if program == "sam" and ("--use-container" in args or "local" in args[:1]):
            shown = " ".join(["sam", *args])
            return f"{shown!r} runs Docker; Lambda compute supports no Docker builds or runs ({LAMBDA_LIMITS_URL})"
        needs = _RUNTIME_PROGRAMS.get(program)
        if needs is not None and needs != compute.runtime:
            return (
                f"{program!r} needs {_RUNTIME_NAMES[needs]}; the curated Lambda image {compute.image!r} holds "
                f"{_RUNTIME_NAMES[compute.runtime]} only (https://docs.aws.amazon.com/codebuild/latest/userguide/"
                "lambda-compute-images.html)"
            )
    return None


def check_commands(where: str, prop: str, commands: Sequence[str] | None, compute: LambdaCompute) -> None:
    """Raise ``ValueError`` naming ``prop[i]`` for the first command :func:`command_problem` refuses."""
    for i, command in enumerate(commands or ()):
        problem = command_problem(command, compute)
        if problem is not None:
            raise invalid(where, f"{prop}[{i}]", command, problem)


# --------------------------------------------------------------------------- options and steps


def _unsupported(where: str, prop: str, value: Any, what: str) -> ValueError:
    return invalid(where, prop, value, f"Lambda compute does not support {what} ({LAMBDA_LIMITS_URL})")


def _check_environment(where: str, prop: str, env: codebuild.BuildEnvironment | None, *, own: bool) -> None:
    if env is None:
        return
    if env.privileged:
        raise _unsupported(where, f"{prop}.privileged", env.privileged, "privileged mode (Docker)")
    if env.docker_server is not None:
        raise _unsupported(where, f"{prop}.docker_server", env.docker_server, "Docker")
    if env.fleet is not None:
        raise _unsupported(where, f"{prop}.fleet", env.fleet, "reserved fleets (EC2 capacity)")
    if env.certificate is not None:
        raise _unsupported(where, f"{prop}.certificate", env.certificate, "installing certificates")
    if own:  # a step's own environment wins over every default: it would undo the Lambda image
        for name in ("build_image", "compute_type"):
            value = getattr(env, name)
            if value is not None:
                raise invalid(
                    where, f"{prop}.{name}", value, "leave it unset: lambda_compute chooses the image and compute type"
                )


def _buildspec(
    scope: Construct, where: str, prop: str, spec: codebuild.BuildSpec | None, compute: LambdaCompute
) -> None:
    if spec is None:
        return
    if not spec.is_immediate:
        raise invalid(where, prop, spec, "expected an inline BuildSpec.from_object(...) the library can check")
    resolved = cdk.Stack.of(scope).resolve(spec.to_build_spec(scope))
    if not isinstance(resolved, str):  # a Fn::Join around a token: look for what can be seen
        if "runtime-versions" in json.dumps(resolved):
            raise _unsupported(where, prop, resolved, "custom runtime environments (runtime-versions)")
        return
    body = json.loads(resolved)
    phases = body.get("phases") or {}
    for phase, content in phases.items():
        if isinstance(content, Mapping):
            if "runtime-versions" in content:
                raise _unsupported(
                    where,
                    f"{prop}.phases.{phase}.runtime-versions",
                    content["runtime-versions"],
                    "custom runtime environments (runtime-versions)",
                )
            commands = content.get("commands")
            if isinstance(commands, list):
                check_commands(where, f"{prop}.phases.{phase}.commands", [str(c) for c in commands], compute)
    if "cache" in body:
        raise _unsupported(where, f"{prop}.cache", body["cache"], "caching")


def check_code_build_options(
    scope: Construct, where: str, prop: str, options: pipelines.CodeBuildOptions | None, compute: LambdaCompute
) -> None:
    """Refuse what ``options`` sets that Lambda compute cannot do: privileged mode, Docker, a fleet,
    certificates, a VPC (subnets, security groups), file system locations, a cache, any custom timeout,
    ``runtime-versions``, a cache or refused commands in ``partial_build_spec`` (resolved in ``scope``'s stack)."""
    if options is None:
        return
    _check_environment(where, f"{prop}.build_environment", options.build_environment, own=False)
    _check_network_and_storage(where, prop, options)
    _buildspec(scope, where, f"{prop}.partial_build_spec", options.partial_build_spec, compute)


def _check_network_and_storage(where: str, prop: str, source: Any) -> None:
    for name, what in (
        ("vpc", "VPC connectivity"),
        ("subnet_selection", "VPC connectivity (subnets)"),
        ("security_groups", "VPC connectivity (security groups)"),
        ("file_system_locations", "EFS (file system locations)"),
        ("cache", "caching"),
    ):
        value = getattr(source, name, None)
        if value:
            raise _unsupported(where, f"{prop}.{name}", value, what)
    timeout = getattr(source, "timeout", None)
    if timeout is not None:
        # aws-cdk: "Cannot specify timeout for Lambda compute"; AWS: no custom build timeouts, 15 minutes at most.
        shown = timeout.to_human_string() if isinstance(timeout, cdk.Duration) else timeout
        raise _unsupported(
            where,
            f"{prop}.timeout",
            shown,
            f"custom build timeouts (a build runs at most {LAMBDA_MAX_MINUTES} minutes)",
        )


def check_step(scope: Construct, where: str, prop: str, step: Any, compute: LambdaCompute) -> pipelines.ShellStep:
    """Refuse a synth step that cannot run on ``compute``; return it.

    The step must be a ``pipelines.ShellStep`` (or ``CodeBuildStep``) whose commands the library can read:
    its install commands and commands (:func:`command_problem`), and for a ``CodeBuildStep`` its own
    build environment (no image or compute type of its own, not privileged), VPC, file systems, cache,
    timeout and partial buildspec (:func:`check_code_build_options`).
    """
    if not isinstance(step, pipelines.ShellStep):
        raise wrong_type(
            where, prop, step, "lambda_compute needs a pipelines.ShellStep or CodeBuildStep whose commands it can check"
        )
    check_commands(where, f"{prop}.install_commands", step.install_commands, compute)
    check_commands(where, f"{prop}.commands", step.commands, compute)
    if isinstance(step, pipelines.CodeBuildStep):
        _check_environment(where, f"{prop}.build_environment", step.build_environment, own=True)
        _check_network_and_storage(where, prop, step)
        _buildspec(scope, where, f"{prop}.partial_build_spec", step.partial_build_spec, compute)
    return step


def synth_on_lambda_compute(
    scope: Construct, where: str, prop: str, compute: Any, props: Mapping[str, Any]
) -> pipelines.CodeBuildOptions:
    """The ``synth_code_build_defaults`` that put the synth step of ``props`` (``pipelines.CodePipeline``
    keyword arguments) on ``compute``, after checking everything that reaches the synth project.

    :param scope: a construct in the pipeline's stack (resolves partial buildspecs).
    :param where: who owns the option (a pipeline construct's path, or the ``SecurePipeline``'s).
    :param prop: how errors name the option (``pipeline_options['lambda_compute']`` or ``lambda_compute``).
    :raises ValueError: naming ``prop``, the offending prop and value, and the limit it breaks.
    """
    if not isinstance(compute, LambdaCompute):
        raise wrong_type(where, prop, compute, "expected a LambdaCompute")
    if props.get("docker_enabled_for_synth"):
        raise _unsupported(
            where, f"{prop} with docker_enabled_for_synth", True, "Docker (the synth action would run privileged)"
        )
    context = f"{prop} (the synth step)"
    check_step(scope, where, f"{context}: synth", props.get("synth"), compute)
    for name in ("code_build_defaults", "synth_code_build_defaults"):
        check_code_build_options(scope, where, f"{context}: {name}", props.get(name), compute)
    from pipeline_constructs.core.options import merge_code_build_options  # options imports this module

    return merge_code_build_options(
        props.get("synth_code_build_defaults") or pipelines.CodeBuildOptions(), compute.code_build_options()
    )
