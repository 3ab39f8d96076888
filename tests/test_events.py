"""Both event shapes are understood; everything else on the socket is skipped."""

import json

from activities.events import decision_from_frame, decision_from_item
from approvals.models import DecisionSource

ID = "7d1e8e52-0b55-4b8e-9f1e-4f4a2f1b9c10"


def envelope(event, approval_id=ID, **payload):
    return json.dumps(
        {
            "event": event,
            "workspace_id": "ws-1",
            "timestamp": "2026-11-25T10:00:00Z",
            "payload": {"approval_id": approval_id, **payload},
        }
    )


def test_platform_envelope_approved_and_denied():
    approved = decision_from_frame(
        envelope("APPROVAL_APPROVED", decision="approved", decided_by="alice"), ID
    )
    assert approved and approved.approved and approved.decided_by == "alice"
    assert approved.source is DecisionSource.WEBSOCKET
    denied = decision_from_frame(envelope("APPROVAL_DENIED", decision="denied"), ID)
    assert denied and not denied.approved and denied.decided_by == "human"


def test_reference_tool_flat_event():
    frame = json.dumps(
        {"event": "APPROVAL_DECIDED", "approval_id": ID, "status": "denied", "decided_by": "bob"}
    )
    decision = decision_from_frame(frame, ID)
    assert decision and not decision.approved and decision.decided_by == "bob"


def test_garbage_and_unrelated_frames_are_skipped():
    for frame in [
        "not json",
        b"\xff\xfe",
        "[1,2]",
        "null",
        envelope("APPROVAL_APPROVED", approval_id="other-id", decision="approved"),
        envelope("APPROVAL_REQUESTED", action="x"),
        json.dumps({"event": "APPROVAL_APPROVED", "payload": "oops"}),
        envelope("APPROVAL_APPROVED", decision="maybe"),
        "x" * 2_000_000,
    ]:
        assert decision_from_frame(frame, ID) is None


def test_items_give_decisions_only_once_decided():
    base = {"id": ID, "decided_by": "carol", "decided_at": "2026-11-25T10:00:00+00:00"}
    assert decision_from_item({**base, "status": "pending"}, ID, DecisionSource.POLLING) is None
    assert decision_from_item({**base, "status": "expired"}, ID, DecisionSource.POLLING) is None
    assert decision_from_item(None, ID, DecisionSource.POLLING) is None
    decision = decision_from_item({**base, "status": "approved"}, ID, DecisionSource.POLLING)
    assert decision and decision.approved and decision.decided_at is not None
