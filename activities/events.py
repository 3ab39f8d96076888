"""Platform data (WebSocket frames, list/get items) to ``Decision`` objects, for every path:
each accepts the same shapes and skips the same garbage (with one short log line)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from durable_approvals.models import (
    CONTROL_CHARS,
    MAX_NAME_CHARS,
    MAX_REASON_CHARS,
    NAME_CONTROL_CHARS,
    Decision,
    DecisionSource,
)

logger = logging.getLogger(__name__)

DECIDED_STATUSES = {"approved": True, "denied": False}
_ENVELOPE_EVENTS = {"APPROVAL_APPROVED", "APPROVAL_DENIED"}
_FLAT_EVENT = "APPROVAL_DECIDED"
_VOTE_EVENT = "APPROVAL_VOTED"
"""[ext] N-of-M: one vote on a reference platform's vote item (docs/policies/n-of-m.md)."""
MAX_FRAME_BYTES = 1_000_000
MAX_PROOF_CHARS = 200


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _as_recorded(
    approval_id: str, name: str, value: Any, limit: int, refused: re.Pattern[str] = CONTROL_CHARS
) -> str | None:
    """A platform's text made to fit our models: control characters become U+FFFD, the
    rest is cut at ``limit``. The human's answer is kept either way (a decision is never
    dropped for the way a name or comment was typed)."""
    if not isinstance(value, str):
        return None
    cleaned = refused.sub("\ufffd", value)[:limit]
    if cleaned != value:
        logger.warning("decision for %.80s: %s cleaned to fit (%d chars)", approval_id, name, limit)
    return cleaned


def _proof(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_PROOF_CHARS else None


def _decision(
    approval_id: str,
    status: Any,
    fields: Mapping[str, Any],
    source: DecisionSource,
    hash_key: str = "action_hash",
) -> Decision | None:
    if not isinstance(status, str) or status not in DECIDED_STATUSES:  # a list is no answer
        return None
    decided_by = _as_recorded(
        approval_id, "decided_by", fields.get("decided_by"), MAX_NAME_CHARS, NAME_CONTROL_CHARS
    )
    comment = _as_recorded(approval_id, "comment", fields.get("comment"), MAX_REASON_CHARS)
    try:
        return Decision(
            approval_id=approval_id,
            approved=DECIDED_STATUSES[status],
            decided_by=decided_by or "human",
            comment=comment,
            decided_at=_parse_time(fields.get("decided_at") or fields.get("timestamp")),
            source=source,
            # [ext] the hash it approves and its edits (docs/policies/edits.md)
            action_hash=fields.get(hash_key),
            edited_args=fields.get("edited_args"),
            # [ext] the platform's signature (docs/trust-model.md); a malformed one is no
            # proof, and the decision is kept (refused as unverified where proof is required)
            proof=_proof(fields.get("proof")),
        )
    except ValidationError as error:  # one short line: a peer must not flood the log
        bad = ",".join(str(e["loc"][0]) for e in error.errors() if e["loc"])
        logger.warning("skipping malformed decision for %.80s (bad %s)", approval_id, bad)
        return None


def decision_in_frame(frame: str | bytes) -> Decision | None:
    """The decision one WebSocket frame carries, for whichever approval it names.

    Accepts the platform's envelope (``APPROVAL_APPROVED``/``APPROVAL_DENIED`` with a
    ``payload``) and the reference tool's flat ``APPROVAL_DECIDED``; else ``None``.
    """
    if len(frame) > MAX_FRAME_BYTES:
        logger.warning("skipping oversized WebSocket frame (%d bytes)", len(frame))
        return None
    try:
        event = json.loads(frame)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested too deep: not a frame
        logger.debug("skipping non-JSON WebSocket frame")
        return None
    if not isinstance(event, dict):
        return None
    name = event.get("event")
    if not isinstance(name, str):
        return None
    if name == _VOTE_EVENT:  # a vote must say which answer: there is no default
        payload = event.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("approval_id"), str):
            return None
        fields = {**payload, "timestamp": event.get("timestamp")}
        return _decision(
            payload["approval_id"], payload.get("decision"), fields, DecisionSource.WEBSOCKET
        )
    if name in _ENVELOPE_EVENTS:
        payload = event.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("approval_id"), str):
            return None
        status = payload.get("decision") or (
            "approved" if name == "APPROVAL_APPROVED" else "denied"
        )
        fields = {**payload, "timestamp": event.get("timestamp")}
        return _decision(payload["approval_id"], status, fields, DecisionSource.WEBSOCKET)
    if name == _FLAT_EVENT and isinstance(event.get("approval_id"), str):
        return _decision(event["approval_id"], event.get("status"), event, DecisionSource.WEBSOCKET)
    return None


def decision_from_frame(frame: str | bytes, approval_id: str) -> Decision | None:
    """The decision for ``approval_id`` carried by one WebSocket frame, if any."""
    decision = decision_in_frame(frame)
    return decision if decision is not None and decision.approval_id == approval_id else None


def votes_from_item(item: Any, approval_id: str, source: DecisionSource) -> list[Decision]:
    """The votes a reference platform's vote item holds ([ext] ``votes``), oldest first."""
    if not isinstance(item, dict) or item.get("id") != approval_id:
        return []
    votes = item.get("votes")
    if not isinstance(votes, list):
        return []
    found = []
    for vote in votes[:1_000]:
        if isinstance(vote, dict):
            decision = _decision(approval_id, vote.get("decision"), vote, source)
            if decision is not None:
                found.append(decision)
    return found


def decision_from_item(item: Any, approval_id: str, source: DecisionSource) -> Decision | None:
    """The decision recorded in one list/get item, or ``None`` while it is still open."""
    if not isinstance(item, dict) or item.get("id") != approval_id:
        return None
    return _decision(approval_id, item.get("status"), item, source, "decision_action_hash")
