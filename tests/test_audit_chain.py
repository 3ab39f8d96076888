"""The audit file's hash chain (docs/audit.md): each record names the previous record's
hash, concurrent writers keep it, ``verify_chain`` and ``approvals audit verify`` report
the first edited, deleted, inserted, reordered or cut record, rotation links two files,
and files from before the chain verify with a warning."""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from durable_approvals.audit_log import (
    DELETED,
    EDITED,
    GENESIS_HASH,
    INSERTED,
    NOT_JSON,
    REORDERED,
    TRUNCATED,
    UNCHAINED,
    AuditLog,
    record_hash,
    verify_chain,
)
from durable_approvals.models import ApprovalStatus
from tests.helpers import finish, platform_client, running_worker, start, wait_pending
from tests.test_audit_log import entry
from tests.test_cli import cli


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def write_lines(path: Path, text: list[str]) -> None:
    path.write_text("".join(text), encoding="utf-8")


def chained_file(path: Path, count: int = 6) -> list[dict[str, Any]]:
    log = AuditLog(path)
    for i in range(count):
        assert log.append(entry(f"wf/run/step-{i}", approval_id=f"a-{i}"))
    return [json.loads(line) for line in lines(path)]


def rehash(record: dict[str, Any]) -> str:
    """The hash as docs/audit.md defines it, computed independently of the module."""
    body = {k: v for k, v in record.items() if k != "record_hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_each_record_names_the_previous_hash(tmp_path):
    records = chained_file(tmp_path / "audit.jsonl", 3)
    assert records[0]["prev_hash"] == GENESIS_HASH == "0" * 64
    for before, record in itertools.pairwise(records):
        assert record["prev_hash"] == before["record_hash"]
    for record in records:
        assert list(record)[-2:] == ["prev_hash", "record_hash"]  # contract fields stay first
        assert record["record_hash"] == rehash(record) == record_hash(record)
    report = verify_chain(tmp_path / "audit.jsonl")
    assert report.ok and report.records == 3 and report.last_hash == records[-1]["record_hash"]
    assert AuditLog(tmp_path / "audit.jsonl").last_hash() == report.last_hash


def test_the_hash_covers_the_redacted_record(tmp_path):
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append(entry(reason_text="use ghp_abcdefghijklmnopqrstuvwxyz0123456789"))
    [record] = [json.loads(line) for line in lines(path)]
    assert "ghp_" not in path.read_text(encoding="utf-8")
    assert record["record_hash"] == rehash(record)
    assert verify_chain(path).ok


def test_a_retried_event_adds_no_record_and_keeps_the_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    chained_file(path, 2)
    assert AuditLog(path).append(entry("wf/run/step-1")) is False  # a retry, a fresh process
    assert AuditLog(path).append(entry("wf/run/step-9")) is True
    report = verify_chain(path)
    assert report.ok and report.records == 3, report.summary()


def test_extras_cannot_set_the_chain_fields(tmp_path):
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append(entry(prev_hash="f" * 64, record_hash="e" * 64))
    [record] = [json.loads(line) for line in lines(path)]
    assert record["prev_hash"] == GENESIS_HASH and verify_chain(path).ok


def _append_many(path, worker, count):
    log = AuditLog(path)
    for i in range(count):
        log.append(entry(f"w{worker}-{i}", padding="x" * 5000))
        log.append(entry(f"shared-{i}"))


def test_concurrent_processes_keep_one_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_append_many, args=(path, n, 40)) for n in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    report = verify_chain(path)
    assert report.ok, report.summary()
    assert report.records == 4 * 40 + 40
    ids = [json.loads(line)["event_id"] for line in lines(path)]
    assert len(ids) == len(set(ids)) == report.records


# --- tampering: the first broken line and its kind ---------------------------------------


def _edit_field(text: list[str]) -> list[str]:
    record = json.loads(text[2])
    record["outcome"] = "granted"  # was "requested": the hash no longer matches
    return [*text[:2], json.dumps(record, ensure_ascii=False) + "\n", *text[3:]]


def _edit_and_rehash(text: list[str]) -> list[str]:
    record = json.loads(text[2])
    record["actor"] = "mallory"
    record["record_hash"] = rehash(record)  # consistent itself: the next link breaks
    return [*text[:2], json.dumps(record) + "\n", *text[3:]]


def _forge(text: list[str], prev: str) -> list[str]:
    forged = json.loads(text[2])
    forged.update(event_id="wf/run/forged", outcome="granted", actor="mallory", prev_hash=prev)
    forged["record_hash"] = rehash(forged)
    return [*text[:3], json.dumps(forged) + "\n", *text[3:]]


def _forge_wrong_prev(text: list[str]) -> list[str]:
    return _forge(text, "ab" * 32)


def _forge_right_prev(text: list[str]) -> list[str]:
    return _forge(text, json.loads(text[2])["record_hash"])


def _duplicate_key(text: list[str]) -> list[str]:
    line = text[1].rstrip("\n")
    return [text[0], line[:-1] + ', "outcome": "granted"}\n', *text[2:]]


def _legacy_inside(text: list[str]) -> list[str]:
    record = json.loads(text[2])
    del record["prev_hash"], record["record_hash"]
    return [*text[:3], json.dumps(record) + "\n", *text[3:]]


TAMPERING = [
    # (row, damage, the first broken line, kind)
    ("edit-one-field-of-a-middle-record", _edit_field, 3, EDITED),
    ("edit-and-recompute-its-own-hash", _edit_and_rehash, 4, DELETED),
    ("delete-a-middle-record", lambda t: [*t[:2], *t[3:]], 3, DELETED),
    ("delete-the-first-record", lambda t: t[1:], 1, DELETED),
    ("swap-two-records", lambda t: [*t[:2], t[3], t[2], *t[4:]], 3, REORDERED),
    ("move-a-record-back", lambda t: [t[0], t[4], *t[1:4], t[5]], 2, REORDERED),
    ("truncate-the-last-line", lambda t: [*t[:-1], t[-1][:40]], 6, TRUNCATED),
    ("strip-the-last-newline", lambda t: [*t[:-1], t[-1].rstrip("\n")], 6, TRUNCATED),
    ("forged-record-wrong-prev", _forge_wrong_prev, 4, INSERTED),
    ("forged-record-right-prev", _forge_right_prev, 4, INSERTED),
    ("a-record-copied-to-the-end", lambda t: [*t, t[2]], 7, INSERTED),
    ("a-record-copied-in-the-middle", lambda t: [*t[:4], t[1], *t[4:]], 5, INSERTED),
    ("a-line-not-json", lambda t: [*t[:3], "not json\n", *t[3:]], 4, NOT_JSON),
    ("a-blank-line", lambda t: [*t[:3], "\n", *t[3:]], 4, NOT_JSON),
    ("a-duplicate-key", _duplicate_key, 2, NOT_JSON),
    ("an-unchained-record-inside-the-chain", _legacy_inside, 4, UNCHAINED),
]


@pytest.mark.parametrize(
    ("damage", "line", "kind"), [r[1:] for r in TAMPERING], ids=[r[0] for r in TAMPERING]
)
def test_verify_reports_the_first_tampered_line(tmp_path, damage, line, kind):
    path = tmp_path / "audit.jsonl"
    chained_file(path)
    assert verify_chain(path).ok
    write_lines(path, damage(lines(path)))
    report = verify_chain(path)
    assert report.problem is not None, report.summary()
    assert (report.problem.line, report.problem.kind) == (line, kind), report.summary()
    assert report.summary().startswith(f"TAMPERED {path} line {line}: {kind}: ")


def test_deleting_the_last_record_is_what_the_anchor_catches(tmp_path):
    path = tmp_path / "audit.jsonl"
    records = chained_file(path, 3)
    write_lines(path, lines(path)[:-1])
    report = verify_chain(path)
    assert report.ok  # a chain alone cannot tell: the anchored last hash can
    assert report.last_hash != records[-1]["record_hash"]


def test_a_torn_last_line_is_reported_then_cut_off_by_the_next_write(tmp_path):
    path = tmp_path / "audit.jsonl"
    chained_file(path, 2)
    with path.open("ab") as handle:
        handle.write(b'{"timestamp": "2026-11-2')  # a crash in the middle of a write
    assert verify_chain(path).problem.kind == TRUNCATED  # type: ignore[union-attr]
    assert AuditLog(path).append(entry("wf/run/after-the-crash"))
    report = verify_chain(path)
    assert report.ok and report.records == 3, report.summary()


def test_an_empty_file_verifies(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"")
    report = verify_chain(path)
    assert report.ok and report.records == 0 and report.last_hash == GENESIS_HASH


# --- files from before the chain -------------------------------------------------------


def _legacy_lines(count: int) -> list[str]:
    out = []
    for i in range(count):
        record = json.loads(json.dumps({"timestamp": "2026-11-01T00:00:00+00:00", "i": i}))
        record.update(event_type="approval", outcome="requested", event_id=f"old-{i}")
        out.append(json.dumps(record) + "\n")
    return out


def test_records_from_before_the_chain_are_a_warning_and_the_chain_starts_after(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_lines(path, _legacy_lines(2))
    log = AuditLog(path)
    assert log.append(entry("old-1")) is False  # dedup still reads the old records
    log.append(entry("new-1"))
    log.append(entry("new-2"))
    first = json.loads(lines(path)[2])
    assert first["prev_hash"] == GENESIS_HASH
    report = verify_chain(path)
    assert report.ok and (report.records, report.unchained) == (2, 2)
    assert report.first_chained_line == 3
    assert "WARNING 2 unchained records before line 3" in report.summary()


def test_a_file_with_no_chain_at_all_verifies_with_a_warning(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_lines(path, _legacy_lines(3))
    report = verify_chain(path)
    assert report.ok and report.records == 0 and report.unchained == 3
    assert "WARNING 3 unchained records before line 4" in report.summary()


# --- rotation ----------------------------------------------------------------------------


def test_rotation_starts_the_new_file_from_the_old_files_last_hash(tmp_path):
    path, archive = tmp_path / "audit.jsonl", tmp_path / "audit.jsonl.1"
    old = chained_file(path, 3)
    log = AuditLog(path)
    rotation = log.rotate(archive, workspace_id="ws-1")
    assert rotation.last_hash == old[-1]["record_hash"]
    assert [json.loads(line) for line in lines(archive)] == old
    log.append(entry("wf/run/next"))  # the writer that rotated
    AuditLog(path).append(entry("wf/run/next-2"))  # a fresh one
    assert log.append(entry("wf/run/step-1")) is False  # its ids before the rotation stay seen
    assert AuditLog(path).append(entry("wf/run/step-2")) is False  # a fresh one reads the archive
    start_record, *_ = [json.loads(line) for line in lines(path)]
    assert start_record["prev_hash"] == start_record["follows_last_hash"] == rotation.last_hash
    assert (start_record["outcome"], start_record["follows"]) == ("chain_start", "audit.jsonl.1")
    assert list(start_record)[:8] == [
        "timestamp",
        "event_type",
        "workspace_id",
        "actor",
        "action",
        "resource",
        "outcome",
        "trace_id",
    ]

    alone = verify_chain(path)
    assert alone.ok and alone.records == 3 and alone.follows == "audit.jsonl.1"
    assert "continues from audit.jsonl.1 (not checked: pass --follows)" in alone.summary()
    linked = verify_chain(path, follows=archive)
    assert linked.ok and linked.follows_checked, linked.summary()
    assert "(checked)" in linked.summary()
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_rotation_refuses_an_existing_archive(tmp_path):
    path = tmp_path / "audit.jsonl"
    chained_file(path, 1)
    (tmp_path / "taken").write_text("x", encoding="utf-8")
    with pytest.raises(FileExistsError):
        AuditLog(path).rotate(tmp_path / "taken")
    assert verify_chain(path).records == 1


def test_a_new_file_that_does_not_follow_the_named_one_is_caught(tmp_path):
    one, other = tmp_path / "one.jsonl", tmp_path / "other.jsonl"
    chained_file(one, 2)
    AuditLog(one).rotate(tmp_path / "one.jsonl.1")
    chained_file(other, 3)  # same first records as one's archive, one more
    report = verify_chain(one, follows=other)
    assert report.problem is not None and (report.problem.line, report.problem.kind) == (
        1,
        DELETED,
    )
    # a broken previous file is reported as such, with its own name
    write_lines(other, lines(other)[1:])
    report = verify_chain(one, follows=other)
    assert report.problem is not None and report.problem.path == other


def test_rotation_under_concurrent_writers_loses_no_record_and_keeps_both_chains(tmp_path):
    path, archive = tmp_path / "audit.jsonl", tmp_path / "audit.jsonl.1"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_append_many, args=(path, n, 30)) for n in range(3)]
    for process in processes:
        process.start()
    rotated = threading.Event()

    def rotate_when_half_written() -> None:
        while not path.exists() or len(lines(path)) < 60:
            time.sleep(0.005)
        AuditLog(path).rotate(archive)
        rotated.set()

    rotator = threading.Thread(target=rotate_when_half_written)
    rotator.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    rotator.join(timeout=60)
    assert rotated.is_set()
    assert verify_chain(archive).ok
    report = verify_chain(path, follows=archive)
    assert report.ok, report.summary()
    ids = [json.loads(line)["event_id"] for f in (archive, path) for line in lines(f)]
    ids = [i for i in ids if not i.startswith("audit/chain_start/")]
    assert len(ids) == len(set(ids)) == 3 * 30 + 30


# --- the CLI -----------------------------------------------------------------------------


def _env(path: Path) -> dict[str, str]:
    return {**os.environ, "APPROVALS_ENV_FILE": "", "AUDIT_LOG_PATH": str(path)}


async def test_cli_verify_exit_codes_and_one_line(tmp_path):
    path = tmp_path / "audit.jsonl"
    records = chained_file(path, 3)
    env = _env(path)

    status, out, err = await cli(env, "audit", "verify")  # AUDIT_LOG_PATH by default
    assert (status, err) == (0, "")
    assert out == f"OK {path}: 3 records, last hash {records[-1]['record_hash']}\n"

    write_lines(path, _edit_field(lines(path)))
    status, out, err = await cli(env, "audit", "verify", str(path))
    assert (status, err) == (1, "")
    assert out.startswith(f"TAMPERED {path} line 3: edited: ") and out.count("\n") == 1

    for args in (["audit", "verify", str(tmp_path / "missing.jsonl")], ["audit", "verify", "/"]):
        status, out, err = await cli(env, *args)
        assert (status, out) == (2, "") and err.startswith("approvals: cannot read audit file")
        assert err.count("\n") == 1
    for args in (["audit"], ["audit", "verify", "a", "b"], ["audit", "check"]):
        status, out, err = await cli(env, *args)
        assert (status, out) == (2, "") and err.count("\n") == 1, err


async def test_cli_rotate_then_verify_follows(tmp_path):
    path, archive = tmp_path / "audit.jsonl", tmp_path / "old.jsonl"
    chained_file(path, 2)
    env = _env(path)
    status, out, err = await cli(env, "audit", "rotate", str(archive))
    assert status == 0 and out.startswith(f"rotated {path} to {archive}"), err
    AuditLog(path).append(entry("wf/run/after"))
    status, out, _ = await cli(env, "audit", "verify", "--follows", str(archive))
    assert status == 0 and out.startswith(f"OK {path}: 2 records") and "(checked)" in out
    status, out, _ = await cli(env, "audit", "rotate", str(archive))
    assert status == 2  # the archive exists


# --- a real approval ---------------------------------------------------------------------


async def test_a_real_approval_leaves_a_verifying_file(dev_env, settings, platform):
    async with running_worker(dev_env.client, settings) as task_queue:
        handles = [await start(dev_env.client, task_queue) for _ in range(2)]
        for handle, approved in zip(handles, (True, False), strict=True):
            approval_id = await wait_pending(handle)
            async with platform_client(settings) as api:
                await api.decide(approval_id, approved=approved, decided_by="alice")
        results = [await finish(h, f"audit_chain_{n}") for n, h in enumerate(handles)]
    assert [r.status for r in results] == [ApprovalStatus.GRANTED, ApprovalStatus.DENIED]
    report = verify_chain(settings.audit_log_path)
    assert report.ok and report.records == 4, report.summary()
    status, out, _ = await cli(_env(settings.audit_log_path), "audit", "verify")
    assert status == 0 and out.startswith("OK ") and "4 records" in out
