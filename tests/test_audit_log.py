"""The audit file: contract field order, exactly-once by event_id, whole lines, 0600."""

import json
import multiprocessing
import stat
from datetime import UTC, datetime

import pytest

from durable_approvals.audit_log import AuditLog, AuditUnwritableError
from durable_approvals.models import AuditEntry


def entry(event_id="wf/run/requested", **extra):
    return AuditEntry(
        event_id=event_id,
        timestamp=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        event_type="approval",
        workspace_id="ws-1",
        action="approve",
        resource="drop table",
        outcome="requested",
        trace_id="trace-1",
        extra=extra,
    )


def test_record_fields_in_contract_order_and_unicode_kept(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(entry(approval_id="a-1", reason_text="nettoyer l'entrepôt", outcome="hijack"))
    line = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    assert "entrepôt" in line
    record = json.loads(line)
    assert list(record)[:8] == [
        "timestamp",
        "event_type",
        "workspace_id",
        "actor",
        "action",
        "resource",
        "outcome",
        "trace_id",
    ]
    assert record["outcome"] == "requested"  # extras never overwrite core fields
    assert record["actor"] == "ws-1"
    assert record["timestamp"] == "2026-11-25T10:00:00+00:00"
    assert record["event_id"] == "wf/run/requested"


def test_same_event_id_is_written_once_even_by_a_fresh_writer(tmp_path):
    path = tmp_path / "audit.jsonl"
    assert AuditLog(path).append(entry()) is True
    assert AuditLog(path).append(entry()) is False  # another process after a retry
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1


def test_secrets_are_redacted(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(entry(reason_text="use ghp_abcdefghijklmnopqrstuvwxyz0123456789"))
    assert "ghp_" not in (tmp_path / "audit.jsonl").read_text(encoding="utf-8")


def test_file_is_owner_only(tmp_path):
    log = AuditLog(tmp_path / "sub" / "audit.jsonl")
    log.ensure_writable()
    assert stat.S_IMODE((tmp_path / "sub" / "audit.jsonl").stat().st_mode) == 0o600


def test_unwritable_path_is_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(AuditUnwritableError):
        AuditLog(blocker / "audit.jsonl").ensure_writable()


def _append_many(path, worker, count):
    log = AuditLog(path)
    for i in range(count):
        log.append(entry(f"w{worker}-{i}", padding="x" * 5000))
        log.append(entry(f"shared-{i}"))


def test_concurrent_processes_never_interleave_or_duplicate(tmp_path):
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_append_many, args=(path, n, 40)) for n in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    ids = [json.loads(line)["event_id"] for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(ids) == len(set(ids)) == 4 * 40 + 40
