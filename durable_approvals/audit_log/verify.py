"""Verifying an audit file: its hash chain (the first record that breaks it, and how),
then one outcome per approval (docs/audit.md, "approvals audit verify")."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from durable_approvals.audit_log.files import read_shared
from durable_approvals.audit_log.outcomes import second_outcome
from durable_approvals.audit_log.record import GENESIS_HASH, ROTATE_ACTION, record_hash
from durable_approvals.audit_log.report import (
    DELETED,
    EDITED,
    INSERTED,
    NOT_JSON,
    REORDERED,
    TRUNCATED,
    UNCHAINED,
    ChainProblem,
    ChainReport,
)


def verify_audit(path: Path, *, follows: Path | None = None) -> ChainReport:
    """What ``approvals audit verify`` checks: ``verify_chain``, then, on an intact chain,
    that no approval has two outcome records (``follows`` first, then ``path``).

    Raises:
        OSError: a file cannot be read.
    """
    report = verify_chain(path, follows=follows)
    if not report.ok:
        return report
    problem = second_outcome([follows, path] if follows is not None else [path])
    return report if problem is None else dataclasses.replace(report, problem=problem)


def _strict_object(raw: bytes) -> dict[str, Any] | str:
    """The JSON object on a line, or why it is not one (duplicate keys are not allowed:
    a reader would see one value, the hash another)."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate key")
        return dict(pairs)

    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except UnicodeDecodeError:
        return "not UTF-8"
    except ValueError as error:
        return str(error).splitlines()[0] if str(error) else "not JSON"
    return value if isinstance(value, dict) else "not a JSON object"


def verify_chain(path: Path, *, follows: Path | None = None) -> ChainReport:
    """Check ``path``'s chain and report the first record that breaks it.

    ``follows``: the file this one was rotated from; it is verified first, and this
    file's chain must start from its last hash.

    Raises:
        OSError: a file cannot be read.
    """
    expected_start: str | None = None
    previous_name: str | None = None
    if follows is not None:
        previous = verify_chain(follows)
        if not previous.ok:
            return previous
        expected_start, previous_name = previous.last_hash, follows.name
    data = read_shared(path)
    raws = data.split(b"\n")
    cut = not data.endswith(b"\n")
    if not cut or data == b"":
        raws = raws[:-1]
    records = [_strict_object(raw) for raw in raws]
    at: dict[str, int] = {}
    for number, record in enumerate(records, start=1):
        stored = record.get("record_hash") if isinstance(record, dict) else None
        if isinstance(stored, str):
            at.setdefault(stored, number)

    count, unchained = 0, 0
    last = expected_start or GENESIS_HASH
    first: int | None = None
    follows_name: str | None = None

    def report(problem: ChainProblem | None = None) -> ChainReport:
        return ChainReport(
            path=path,
            records=count,
            last_hash=last,
            unchained=unchained,
            first_chained_line=first,
            follows=follows_name or previous_name,
            follows_checked=expected_start is not None,
            problem=problem,
        )

    def broken(line: int, kind: str, detail: str) -> ChainReport:
        return report(ChainProblem(path=path, line=line, kind=kind, detail=detail))

    for number, record in enumerate(records, start=1):
        if cut and number == len(records):
            return broken(
                number, TRUNCATED, "the last line is cut off (no newline: a partial write?)"
            )
        if not isinstance(record, dict):
            return broken(number, NOT_JSON, record)
        if "record_hash" not in record and "prev_hash" not in record:
            if first is None:
                unchained += 1
                continue
            return broken(number, UNCHAINED, "a record without hashes inside the chain")
        stored = record.get("record_hash")
        if not isinstance(stored, str) or record_hash(record) != stored:
            return broken(number, EDITED, "record_hash does not match the record")
        if at[stored] != number:
            return broken(number, INSERTED, f"a copy of the record on line {at[stored]}")
        prev = record.get("prev_hash")
        if first is None:
            first = number
            if expected_start is not None:
                if prev != expected_start:
                    return broken(
                        number,
                        DELETED,
                        f"prev_hash is not the last hash of {previous_name} "
                        "(records missing between the files, or not the previous file)",
                    )
            elif record.get("action") == ROTATE_ACTION and prev == record.get("follows_last_hash"):
                name = record.get("follows")
                follows_name = name if isinstance(name, str) else "the previous file"
            elif prev != GENESIS_HASH:
                return broken(
                    number,
                    DELETED,
                    "the first record's prev_hash is neither the genesis value nor a "
                    "rotation's link: records before it are missing",
                )
        elif prev != last:
            where = at.get(prev) if isinstance(prev, str) else None
            following = records[number] if number < len(records) else None
            if where is not None and where > number:
                return broken(
                    number, REORDERED, f"prev_hash names the record on line {where}, after it"
                )
            if isinstance(following, dict) and following.get("prev_hash") == last:
                return broken(
                    number, INSERTED, "not in the chain: the next record follows the one before"
                )
            if where is not None and where < number:
                return broken(
                    where + 1,
                    INSERTED,
                    f"lines {where + 1}-{number - 1} are not in the chain: line {number} "
                    f"follows line {where}",
                )
            return broken(
                number,
                DELETED,
                "prev_hash names no record before it: records are missing (or the one "
                "before was rewritten with a new hash)",
            )
        count += 1
        last = stored
    return report()


__all__ = ["verify_audit", "verify_chain"]
