"""Both event shapes are understood; everything else on the socket is skipped."""

import json

from durable_approvals.activities.events import (
    decision_from_frame,
    decision_from_item,
    votes_from_item,
)
from durable_approvals.models import DecisionSource

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


def test_a_vote_event_is_a_decision_and_must_say_its_answer():
    """N-of-M [ext]: ``APPROVAL_VOTED`` carries one vote; without ``decision`` it is skipped
    (a vote has no default answer, unlike ``APPROVAL_DENIED``)."""
    vote = decision_from_frame(
        envelope("APPROVAL_VOTED", decision="approved", decided_by="alice", comment="ok"), ID
    )
    assert vote and vote.approved and (vote.decided_by, vote.comment) == ("alice", "ok")
    assert vote.source is DecisionSource.WEBSOCKET
    assert decision_from_frame(envelope("APPROVAL_VOTED", decided_by="alice"), ID) is None
    assert decision_from_frame(envelope("APPROVAL_VOTED", decision="maybe"), ID) is None


def test_the_votes_of_a_vote_item_are_decisions_and_garbage_is_skipped():
    item = {
        "id": ID,
        "status": "pending",
        "approvals_required": 2,
        "votes": [
            {"decided_by": "alice", "decision": "approved", "decided_at": "2026-11-25T10:00:00Z"},
            {"decided_by": "bob", "decision": "abstain"},
            "garbage",
            {"decided_by": "carol", "decision": "denied", "comment": "no"},
        ],
    }
    votes = votes_from_item(item, ID, DecisionSource.POLLING)
    assert [(v.decided_by, v.approved) for v in votes] == [("alice", True), ("carol", False)]
    assert votes[0].decided_at is not None and votes[1].comment == "no"
    assert decision_from_item(item, ID, DecisionSource.POLLING) is None  # still open
    assert votes_from_item({**item, "votes": "x"}, ID, DecisionSource.POLLING) == []
    assert votes_from_item(item, "another", DecisionSource.POLLING) == []


def test_a_vote_names_its_action_hash_in_the_event_and_in_the_item():
    """Args with N-of-M [ext]: the vote's ``action_hash`` reaches the workflow by either
    path (the workflow's binding rule judges it); a malformed one drops the vote."""
    hashed = "ab" * 32
    vote = decision_from_frame(
        envelope("APPROVAL_VOTED", decision="approved", decided_by="alice", action_hash=hashed),
        ID,
    )
    assert vote and (vote.action_hash, vote.edited_args) == (hashed, None)
    item = {
        "id": ID,
        "status": "pending",
        "approvals_required": 2,
        "votes": [
            {"decided_by": "alice", "decision": "approved", "action_hash": hashed},
            {"decided_by": "bob", "decision": "approved", "action_hash": "not-a-hash"},
            {"decided_by": "carol", "decision": "denied"},
        ],
    }
    votes = votes_from_item(item, ID, DecisionSource.POLLING)
    assert [(v.decided_by, v.action_hash) for v in votes] == [("alice", hashed), ("carol", None)]
