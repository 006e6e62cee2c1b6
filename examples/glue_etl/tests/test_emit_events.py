"""The start and end jobs put one EventBridge event each, and fail loudly when it is rejected."""

from __future__ import annotations

import json

import boto3
import j_emit_ended_event
import j_emit_start_event
import pytest
from botocore.stub import Stubber


def _events():
    return boto3.client("events", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.mark.parametrize(("module", "state"), [(j_emit_start_event, "STARTED"), (j_emit_ended_event, "ENDED")])
def test_job_puts_its_own_state(module, state):
    events = _events()
    entry = module.build_entry("Covid_19", "wr_123")
    with Stubber(events) as stub:
        stub.add_response(
            "put_events",
            {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]},
            {"Entries": [entry]},
        )
        assert module.emit(events, "Covid_19", "wr_123") == "e-1"
        stub.assert_no_pending_responses()
    assert json.loads(entry["Detail"]) == {"workflowName": "Covid_19", "runId": "wr_123", "state": state}
    assert entry["DetailType"] == "Glue Workflow State Change"


def test_start_and_end_events_differ():
    # The original sample ran the start script for the end job; the two events must be distinguishable.
    assert j_emit_start_event.build_entry("w", "r") != j_emit_ended_event.build_entry("w", "r")


def test_rejected_event_fails_the_job():
    events = _events()
    with Stubber(events) as stub:
        stub.add_response(
            "put_events",
            {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "boom"}]},
        )
        with pytest.raises(RuntimeError, match="InternalFailure"):
            j_emit_start_event.emit(events, "Covid_19", "wr_123")
