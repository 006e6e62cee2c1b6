"""Interpreter-startup hook (loaded by ``pipeline_constructs_node.pth``): select Node 24 for jsii.

jsii reads ``JSII_NODE`` once, when the first jsii package (``aws_cdk``) is
imported, so a CDK app that imports ``aws_cdk`` before ``pipeline_constructs``
would otherwise run the machine's Node. This hook runs
:func:`pipeline_constructs.core.private.node.use_project_node` at interpreter start,
without importing the ``pipeline_constructs`` package (which imports
``aws_cdk``): it loads only the stdlib-only ``core/private/node.py``. It never raises,
and it leaves an existing ``JSII_NODE`` alone.
"""

from __future__ import annotations

import contextlib


def _select() -> None:
    import importlib.util
    import os

    if os.environ.get("JSII_NODE"):
        return
    package = importlib.util.find_spec("pipeline_constructs")
    if package is None or not package.submodule_search_locations:
        return
    path = os.path.join(next(iter(package.submodule_search_locations)), "core", "private", "node.py")
    spec = importlib.util.spec_from_file_location("_pipeline_constructs_node_select", path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.use_project_node()


# A startup hook must never break the interpreter.
with contextlib.suppress(Exception):
    _select()
