"""Properties of the audit chain (durable_approvals.audit_log, docs/audit.md): any single
edit, deletion, insertion or reordering of the records of a file written by ``AuditLog``
is found.

"Found" as docs/audit.md promises it: ``verify_chain`` reports the file broken, except for
the tail, which a chain cannot protect by itself: removing or rewriting (with a recomputed
hash) the last record, or appending a well-chained one, leaves a valid, different chain,
found by comparing its last hash with the anchored one; a record without hashes put before
the first one is reported as an unchained record (a warning).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from durable_approvals.audit_log import GENESIS_HASH, AuditLog, verify_chain
from durable_approvals.models import AuditEntry
from tests.properties.strategies import json_values, keys

START = datetime(2026, 12, 1, tzinfo=UTC)


def spec_hash(record: dict[str, Any]) -> str:
    """``record_hash`` as docs/audit.md defines it (written out, not imported)."""
    body = {k: v for k, v in record.items() if k != "record_hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


entries = st.builds(
    dict,
    actor=st.sampled_from(["alice", "bob", "Zoë", None]),
    outcome=st.sampled_from(["requested", "granted", "denied", "rejected", "voted"]),
    extra=st.dictionaries(
        st.sampled_from(["comment", "votes", "n", "ü"]), json_values(1), max_size=2
    ),
)


def written(specs: list[dict[str, Any]], directory: Path) -> list[bytes]:
    """The lines ``AuditLog`` writes for ``specs``, in order."""
    path = directory / "audit.jsonl"
    log = AuditLog(path)
    for number, spec in enumerate(specs):
        log.append(
            AuditEntry(
                event_id=f"wf/run/{number}",
                timestamp=START + timedelta(seconds=number),
                event_type="approval",
                workspace_id="ws",
                action="deploy",
                resource=f"a-{number}",
                trace_id="t-1",
                **spec,
            )
        )
    return path.read_bytes().splitlines(keepends=True)


@dataclass(frozen=True)
class Tampering:
    kind: str
    at: int
    other: int
    field: str
    value: Any


tamperings = st.builds(
    Tampering,
    kind=st.sampled_from(
        [
            "edit",
            "edit-rehashed",
            "drop-field",
            "delete",
            "insert-copy",
            "insert-forged",
            "insert-unchained",
            "swap",
            "move",
        ]
    ),
    at=st.integers(0, 10),
    other=st.integers(0, 10),
    field=st.sampled_from(["actor", "outcome", "timestamp", "prev_hash", "record_hash", "event_id"])
    | keys,
    value=json_values(1),
)


def tamper(lines: list[bytes], t: Tampering) -> tuple[list[bytes], bool]:
    """``lines`` changed by ``t``, and whether only the tail changed (see the docstring)."""
    n = len(lines)
    records = [json.loads(raw) for raw in lines]
    i, j = t.at % n, t.other % n
    out = list(lines)
    if t.kind in ("edit", "edit-rehashed", "drop-field"):
        record = dict(records[i])
        if t.kind == "drop-field":
            assume(t.field in record)
            del record[t.field]
        else:
            assume(json.dumps(record.get(t.field, ...), default=str) != json.dumps(t.value))
            record[t.field] = t.value
        if t.kind == "edit-rehashed":
            assume(t.field != "prev_hash")  # a rehashed link is an insertion, below
            record["record_hash"] = spec_hash(record)
        out[i] = line(record)
        return out, t.kind == "edit-rehashed" and i == n - 1
    if t.kind == "delete":
        del out[i]
        return out, i == n - 1
    position = t.at % (n + 1)
    if t.kind == "insert-copy":
        out.insert(position, lines[j])
        return out, False
    if t.kind == "insert-forged":  # a well-formed record chained to the one before it
        forged = {**records[j], "event_id": "forged", "outcome": "granted"}
        forged["prev_hash"] = records[position - 1]["record_hash"] if position else GENESIS_HASH
        forged["record_hash"] = spec_hash(forged)
        out.insert(position, line(forged))
        return out, position == n
    if t.kind == "insert-unchained":
        plain = {k: v for k, v in records[j].items() if k not in ("prev_hash", "record_hash")}
        out.insert(position, line({**plain, "event_id": "forged"}))
        return out, False
    assume(i != j)
    if t.kind == "swap":
        out[i], out[j] = out[j], out[i]
    else:
        out.insert(j, out.pop(i))
    return out, False


@given(st.lists(entries, min_size=1, max_size=5), tamperings)
def test_any_single_change_is_found(specs, tampering):
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        lines = written(specs, directory)
        path = directory / "audit.jsonl"
        intact = verify_chain(path)
        assert intact.ok and intact.records == len(specs) and intact.unchained == 0
        anchor = intact.last_hash

        changed, tail_only = tamper(lines, tampering)
        assume(changed != lines)
        path.write_bytes(b"".join(changed))
        report = verify_chain(path)
        if tail_only:
            assert not report.ok or report.last_hash != anchor
        elif tampering.kind == "insert-unchained" and tampering.at % (len(lines) + 1) == 0:
            assert not report.ok or report.unchained == 1
        else:
            assert not report.ok, f"{tampering} not found: {report.summary()}"
