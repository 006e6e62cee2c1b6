"""Glue Python shell job: announce on EventBridge that a run of the workflow started.

Glue passes ``--WORKFLOW_NAME`` and ``--WORKFLOW_RUN_ID`` to every job a
workflow starts. The job fails (and so does the workflow run) when EventBridge
rejects the event, instead of ignoring ``FailedEntryCount``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

SOURCE = "covid19.glue-workflow"
DETAIL_TYPE = "Glue Workflow State Change"
STATE = "STARTED"


def build_entry(workflow_name: str, run_id: str, state: str = STATE) -> dict[str, str]:
    """The PutEvents entry announcing ``state`` for one workflow run."""
    detail = {"workflowName": workflow_name, "runId": run_id, "state": state}
    return {"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(detail, sort_keys=True)}


def emit(events: Any, workflow_name: str, run_id: str) -> str:
    """Put the event with the ``events`` client; return its id or raise if it was rejected."""
    response = events.put_events(Entries=[build_entry(workflow_name, run_id)])
    entry = response["Entries"][0]
    if response.get("FailedEntryCount", 0) or "EventId" not in entry:
        reason = f"{entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
        raise RuntimeError(f"EventBridge rejected the {STATE} event: {reason}")
    return str(entry["EventId"])


def main(argv: list[str]) -> None:
    import boto3
    from awsglue.utils import getResolvedOptions  # only in the Glue runtime and the aws-glue-libs image

    args = getResolvedOptions(argv, ["WORKFLOW_NAME", "WORKFLOW_RUN_ID"])
    event_id = emit(boto3.client("events"), args["WORKFLOW_NAME"], args["WORKFLOW_RUN_ID"])
    print(json.dumps({"event": STATE, "eventId": event_id, "workflow": args["WORKFLOW_NAME"]}))


if __name__ == "__main__":
    main(sys.argv)
