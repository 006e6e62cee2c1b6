"""Run a CDK app file in this process and print its cdk-nag counts as JSON (used by run.py).

Usage: python _inspect_app.py APP_PY OUTDIR
"""

from __future__ import annotations

import json
import runpy
import sys
from collections import Counter

import aws_cdk as cdk

import pipeline_constructs  # noqa: F401  (selects Node 24)
from pipeline_constructs.core.compliance import PACK_NAMES, acknowledgments, nag_packs, unacknowledged_findings

apps: list[cdk.App] = []
_App = cdk.App


class _RecordingApp(_App):  # type: ignore[misc, valid-type]
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        apps.append(self)


cdk.App = _RecordingApp  # type: ignore[misc]
app_py, outdir = sys.argv[1], sys.argv[2]
import os  # noqa: E402

os.environ["CDK_OUTDIR"] = outdir
sys.argv = [app_py]
try:
    runpy.run_path(app_py, run_name="__main__")
finally:
    cdk.App = _App  # type: ignore[misc]
findings: Counter[str] = Counter()
acks: Counter[str] = Counter()
for app in apps:
    for f in unacknowledged_findings(app, nag_packs(write_to_template=False)):
        findings[f.pack] += 1
    for _path, rule, _reason in acknowledgments(app):
        acks[rule.split("-", 1)[0]] += 1
print(
    json.dumps(
        {"findings": {p: findings.get(p, 0) for p in PACK_NAMES}, "acks": {p: acks.get(p, 0) for p in PACK_NAMES}}
    )
)
