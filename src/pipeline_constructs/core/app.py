"""``create_app()``: one ``cdk.App`` that reads the same context under ``python app.py`` as under ``cdk synth``.

How each way of running an app gets its context and output folder:

=========================  ==================================================  ==========================
run as                     context                                             cloud assembly
=========================  ==================================================  ==========================
``cdk synth`` (CLI)        ``-c`` > ``cdk.json`` > ``cdk.context.json`` >      ``-o``, else ``cdk.out``
                           ``~/.cdk.json``, passed in ``CDK_CONTEXT_JSON``;
                           plus the CLI's own keys (``aws:cdk:bundling-stacks``)
``python app.py``,         none: ``cdk.json`` is not read                       a temporary folder
plain ``cdk.App()``
``python app.py``,         ``cdk.json`` > ``cdk.context.json`` >                ``$CDK_OUTDIR``, else
``create_app()``           ``~/.cdk.json`` > ``context=``                       ``cdk.json``'s ``output``,
                                                                               else ``cdk.out``
=========================  ==================================================  ==========================

Under the CLI (or ``pipeline-constructs synth``), :func:`create_app` is a plain ``cdk.App``: the
CLI has already read the files.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk

__all__ = ["create_app", "read_cdk_context", "run_by_cdk_cli"]

# Set by the CDK CLI (and `pipeline-constructs synth`) for the app process (aws-cdk-lib cx-api).
_CONTEXT_ENV = ("CDK_CONTEXT_JSON", "CONTEXT_OVERFLOW_LOCATION_ENV")


def run_by_cdk_cli(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the app runs under the CDK CLI (which passes the context in the environment)."""
    env = os.environ if environ is None else environ
    return any(name in env for name in _CONTEXT_ENV)


def _json_object(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: is invalid: expected a JSON object ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: is invalid: expected a JSON object")
    return data


def read_cdk_context(app_dir: str | Path, *, home: str | Path | None = None) -> dict[str, Any]:
    """The context the CDK CLI would read for the app in ``app_dir`` (without ``-c``).

    ``cdk.json``'s ``context`` wins over ``cdk.context.json``, which wins over ``~/.cdk.json``'s ``context``.
    """
    folder = Path(app_dir)
    user = _json_object(Path(home if home is not None else Path.home()) / ".cdk.json").get("context") or {}
    project = _json_object(folder / "cdk.json").get("context") or {}
    cached = _json_object(folder / "cdk.context.json")
    for name, value in (("~/.cdk.json context", user), ("cdk.json context", project)):
        if not isinstance(value, dict):
            raise ValueError(f"{folder}: {name} is invalid: expected a JSON object")
    return {**user, **cached, **project}


def _default_app_dir() -> Path:
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.suffix == ".py" and script.is_file():
        return script.resolve().parent
    return Path.cwd()


def create_app(
    app_dir: str | Path | None = None,
    *,
    context: Mapping[str, Any] | None = None,
    outdir: str | Path | None = None,
    **app_props: Any,
) -> cdk.App:
    """A ``cdk.App`` that reads ``cdk.json`` also when run as ``python app.py``.

    Under the CDK CLI this is ``cdk.App(context=context, **app_props)``. Otherwise it reads
    the context the CLI would (``cdk.json`` > ``cdk.context.json`` > ``~/.cdk.json``; team defaults
    such as ``pipeline-constructs:logRetentionDays`` then apply) and writes the cloud assembly to
    a folder that stays: ``outdir``, else ``$CDK_OUTDIR``, else ``cdk.json``'s ``output``, else
    ``<app_dir>/cdk.out``.

    :param app_dir: the folder holding ``cdk.json``. Default: the folder of the script being run
        (``sys.argv[0]``), else the current directory.
    :param context: defaults, below every file's context (as ``cdk.App(context=...)``). Default: none.
    :param outdir: the cloud assembly folder when not run by the CLI. Default: as above.
    :param app_props: other ``cdk.App`` keyword arguments.
    """
    if run_by_cdk_cli():
        # The CLI reads the assembly from the folder it chose ($CDK_OUTDIR): `outdir` does not apply.
        return cdk.App(context=dict(context or {}), **app_props)
    folder = Path(app_dir) if app_dir is not None else _default_app_dir()
    merged = {**dict(context or {}), **read_cdk_context(folder)}
    output = outdir or os.environ.get("CDK_OUTDIR") or _json_object(folder / "cdk.json").get("output") or "cdk.out"
    target = Path(output)
    if not target.is_absolute():
        target = folder / target
    return cdk.App(context=merged, outdir=str(target), **app_props)
