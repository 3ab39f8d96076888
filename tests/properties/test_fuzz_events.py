"""Fuzzing the socket events and the list/get items (activities/events.py): whatever a
platform or a peer sends, parsing never raises, and a decision comes only from a
well-formed one: a known event, a string approval id that is an ``Identifier``, an
answer that is exactly ``approved`` or ``denied`` (or, in the envelope without one, the
event's name), and a hash and edits that are valid or absent."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from durable_approvals.action_hash import ArgsError, check_json_args
from durable_approvals.activities.events import (
    decision_from_frame,
    decision_from_item,
    decision_in_frame,
    votes_from_item,
)
from durable_approvals.models import Decision, DecisionSource, is_identifier
from tests.properties.strategies import APPROVAL, any_json, json_objects

HASH = "ab" * 32
ENVELOPE = ("APPROVAL_APPROVED", "APPROVAL_DENIED")
EVENTS = (*ENVELOPE, "APPROVAL_DECIDED", "APPROVAL_VOTED")
ANSWERS = ("approved", "denied")

junk = any_json | st.sampled_from([[], {}, [1], {"a": 1}, 0, 1.5, True, None, ""])


good_values = {
    "approval_id": st.sampled_from([APPROVAL, "a-2"]),
    "decision": st.sampled_from(ANSWERS),
    "status": st.sampled_from(ANSWERS),
    "decided_by": st.sampled_from(["alice", "", "bob\n", "\x00x", "é" * 300]) | st.text(),
    "comment": st.sampled_from(["ok", "\x07bell", "c" * 5000]) | st.text(),
    "decided_at": st.sampled_from(["2026-12-01T00:00:00Z", "yesterday", "2026-13-01"]),
    "timestamp": st.sampled_from(["2026-12-01T00:00:00+00:00", "x"]),
    "action_hash": st.just(HASH),
    "decision_action_hash": st.just(HASH),
    "edited_args": json_objects(2),
    "proof": st.sampled_from(["sig", "p" * 300]),
    "id": st.sampled_from([APPROVAL, "a-2"]),
}
bad_values = {
    "approval_id": st.sampled_from(["", "../x", "a b", "a" * 200]),
    "decision": st.sampled_from(["APPROVED", "pending", "expired"]),
    "status": st.sampled_from(["pending", "Approved"]),
    "action_hash": st.sampled_from([HASH.upper(), "ab", "g" * 64]),
    "decision_action_hash": st.just("zz"),
    "edited_args": st.just({"deep": [[[[[[[[[[[1]]]]]]]]]]]}),
}
OPTIONAL = (
    "decided_by",
    "comment",
    "decided_at",
    "timestamp",
    "action_hash",
    "decision_action_hash",
    "edited_args",
    "proof",
)


@st.composite
def fields(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed body (every field of every shape), then at most one field broken:
    replaced by a wrong value or junk, or removed."""
    names = ["approval_id", "decision", "status", "id"]
    names += draw(st.lists(st.sampled_from(OPTIONAL), unique=True, max_size=4))
    body = {name: draw(good_values[name]) for name in names}
    how = draw(st.sampled_from(["intact", "wrong", "junk", "removed"]))
    target = draw(st.sampled_from(names))
    if how == "wrong" and target in bad_values:
        body[target] = draw(bad_values[target])
    elif how == "junk":
        body[target] = draw(junk)
    elif how == "removed":
        del body[target]
    return body


@st.composite
def frames(draw: st.DrawFn) -> dict[str, Any]:
    form = draw(st.sampled_from([*EVENTS, "APPROVAL_DECIDED", "junk"]))
    name = draw(junk) if form == "junk" else form
    body = draw(fields())
    if name == "APPROVAL_DECIDED" and draw(st.sampled_from(["flat"] * 3 + ["payload"])) == "flat":
        return {"event": name, **body}
    if draw(st.sampled_from(["payload"] * 7 + ["junk"])) == "junk":
        body = draw(junk)
    return {"event": name, "payload": body, "timestamp": "x"}


def valid_hash(value: Any) -> bool:
    return value is None or (isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value))


def valid_args(value: Any) -> bool:
    if value is None:
        return True
    try:
        check_json_args(value)
    except ArgsError:
        return False
    return True


def answer(approval_id: Any, status: Any, body: dict[str, Any], hash_key: str) -> Any:
    """``(approval_id, approved)`` if this is a well-formed decision, else ``None``."""
    if not isinstance(status, str) or status not in ANSWERS or not is_identifier(approval_id):
        return None
    if not valid_hash(body.get(hash_key)) or not valid_args(body.get("edited_args")):
        return None
    return approval_id, status == "approved"


def expected(frame: Any) -> Any:
    if not isinstance(frame, dict):
        return None
    name, payload = frame.get("event"), frame.get("payload")
    if isinstance(name, str) and name in (*ENVELOPE, "APPROVAL_VOTED"):
        if not isinstance(payload, dict) or not isinstance(payload.get("approval_id"), str):
            return None
        status = payload.get("decision")
        if name in ENVELOPE:
            status = status or ("approved" if name == "APPROVAL_APPROVED" else "denied")
        return answer(payload["approval_id"], status, payload, "action_hash")
    if name == "APPROVAL_DECIDED" and isinstance(frame.get("approval_id"), str):
        return answer(frame["approval_id"], frame.get("status"), frame, "action_hash")
    return None


def check(decision: Decision | None, want: Any, body: Any, hash_key: str) -> None:
    if want is None:
        assert decision is None
        return
    assert decision is not None
    assert (decision.approval_id, decision.approved) == want
    assert decision.action_hash == body.get(hash_key)  # never invented, never dropped
    assert decision.edited_args == body.get("edited_args")


@given(frames())
@example({"event": []})  # found: an unhashable event name raised TypeError
@example({"event": "APPROVAL_DECIDED", "approval_id": APPROVAL, "status": [1]})  # TypeError
@example({"event": "APPROVAL_VOTED", "payload": {"approval_id": APPROVAL, "decision": {}}})
def test_a_frame_decides_only_when_well_formed(frame):
    text = json.dumps(frame)
    decision = decision_in_frame(text)
    want = expected(frame)
    body = frame.get("payload") if isinstance(frame.get("payload"), dict) else frame
    check(decision, want, body, "action_hash")
    assert decision_in_frame(text.encode()) == decision
    for approval_id in (APPROVAL, "a-2"):
        mine = decision_from_frame(text, approval_id)
        assert mine == (decision if decision and decision.approval_id == approval_id else None)


@given(st.text(max_size=200) | st.binary(max_size=200) | any_json.map(json.dumps))
@example(b"\xff\xfe\x00")
def test_any_frame_is_parsed_or_skipped(frame):
    decision = decision_in_frame(frame)
    assert decision is None or isinstance(decision, Decision)


@given(
    st.sampled_from(["[", '{"a":', '{"event":"APPROVAL_DECIDED","approval_id":"a-1","x":[']),
    st.integers(1, 200_000),
)
@example("[", 100_000)  # found: a deeply nested frame (within the size limit) raised RecursionError
@example('{"a":', 50_000)
def test_a_nesting_bomb_is_skipped(opener, depth):
    assert decision_in_frame(opener * depth) is None


@given(fields() | junk, st.sampled_from(list(DecisionSource)))
@example({"id": APPROVAL, "status": []}, DecisionSource.READ)  # found: TypeError
def test_an_item_decides_only_when_well_formed(item, source):
    decision = decision_from_item(item, APPROVAL, source)
    want = None
    if isinstance(item, dict) and item.get("id") == APPROVAL:
        want = answer(APPROVAL, item.get("status"), item, "decision_action_hash")
    body = item if isinstance(item, dict) else {}
    check(decision, want, body, "decision_action_hash")
    if decision is not None:
        assert decision.source is source


@given(st.lists(fields() | junk, max_size=6), junk, st.sampled_from(list(DecisionSource)))
@example([{"decision": ["approved"]}], None, DecisionSource.POLLING)  # found: TypeError
def test_a_vote_item_yields_only_well_formed_votes(votes, item_id, source):
    for item in ({"id": APPROVAL, "votes": votes}, {"id": item_id, "votes": votes}):
        found = votes_from_item(item, APPROVAL, source)
        if item["id"] != APPROVAL:
            assert found == []
            continue
        wanted = [
            w
            for v in votes
            if isinstance(v, dict)
            and (w := answer(APPROVAL, v.get("decision"), v, "action_hash")) is not None
        ]
        assert [(d.approval_id, d.approved) for d in found] == wanted
