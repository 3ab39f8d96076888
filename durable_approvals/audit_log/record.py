"""The record format and the hash chain (docs/audit.md, "Record format")."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from durable_approvals.models import AuditEntry
from durable_approvals.redaction import redact

CHAIN_FIELDS = ("prev_hash", "record_hash")
"""The writer's fields, last in every record; an entry's extras never set them."""
GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first record of a chain that follows no other file."""
ROTATE_ACTION = "audit.rotate"
"""The ``action`` of a rotation's ``chain_start`` record, the first of a new file."""


def render_record(entry: AuditEntry) -> dict[str, Any]:
    """The record as the contract orders it, redacted; extras never overwrite core fields.

    The chain fields (``prev_hash``, ``record_hash``) are the writer's: ``AuditLog.append``
    adds them after redaction, last in the record.
    """
    record: dict[str, Any] = {
        "timestamp": entry.timestamp.astimezone(UTC).isoformat(),
        "event_type": entry.event_type,
        "workspace_id": entry.workspace_id,
        "actor": entry.actor or entry.workspace_id,
        "action": entry.action,
        "resource": entry.resource,
        "outcome": entry.outcome,
        "trace_id": entry.trace_id,
    }
    for key, value in entry.extra.items():
        if key not in record and key != "event_id" and key not in CHAIN_FIELDS:
            record[key] = value
    record["event_id"] = entry.event_id
    redacted: dict[str, Any] = redact(record)
    return redacted


def canonical_json(record: Mapping[str, Any]) -> bytes:
    """What a record's hash covers: the record without ``record_hash`` as JSON with
    sorted keys, no whitespace, non-ASCII kept, UTF-8."""
    body = {key: value for key, value in record.items() if key != "record_hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of ``canonical_json(record)``; it covers ``prev_hash``, so the chain."""
    return hashlib.sha256(canonical_json(record)).hexdigest()


def chain(record: Mapping[str, Any], prev_hash: str) -> dict[str, Any]:
    """``record`` as written: its JSON round trip, then ``prev_hash`` and ``record_hash``."""
    chained: dict[str, Any] = json.loads(json.dumps(dict(record), ensure_ascii=False))
    for key in CHAIN_FIELDS:
        chained.pop(key, None)
    chained["prev_hash"] = prev_hash
    chained["record_hash"] = record_hash(chained)
    return chained


def chain_start(
    archive_name: str, last_hash: str, *, workspace_id: str, actor: str, now: datetime
) -> dict[str, Any]:
    """The first record of a rotated file: it names the archive and its last hash."""
    return chain(
        {
            "timestamp": now.isoformat(),
            "event_type": "audit",
            "workspace_id": workspace_id,
            "actor": actor or workspace_id or "approvals",
            "action": ROTATE_ACTION,
            "resource": archive_name,
            "outcome": "chain_start",
            "trace_id": "",
            "follows": archive_name,
            "follows_last_hash": last_hash,
            "event_id": f"audit/chain_start/{last_hash}",
        },
        last_hash,
    )


def encode_line(record: Mapping[str, Any]) -> bytes:
    """One record as its line in the file (UTF-8, newline-terminated)."""
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def parse_line(raw: bytes) -> dict[str, Any] | None:
    """The JSON object on a line, or ``None`` (a writer's lenient read)."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


__all__ = [
    "CHAIN_FIELDS",
    "GENESIS_HASH",
    "ROTATE_ACTION",
    "canonical_json",
    "chain",
    "chain_start",
    "encode_line",
    "parse_line",
    "record_hash",
    "render_record",
]
