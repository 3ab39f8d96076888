"""One outcome per approval (issue 24): a stale workflow task that writes ``timeout``
after the run was decided leaves an intact chain, and ``verify`` still reports it."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from durable_approvals.audit_log import (
    TWO_OUTCOMES,
    AuditLog,
    verify_audit,
    verify_chain,
)
from durable_approvals.models import AuditEntry
from tests.test_cli import cli


def record(
    event_id: str, outcome: str, approval_id: str | None = "a-1", **extra: object
) -> AuditEntry:
    """A record as the workflow writes it (``<workflow id>/<run id>/<step>``)."""
    return AuditEntry(
        event_id=event_id,
        timestamp=datetime(2026, 12, 7, 10, 0, tzinfo=UTC),
        event_type="approval",
        workspace_id="ws-1",
        action="approve",
        resource="drop table",
        outcome=outcome,
        trace_id="trace-1",
        extra={"approval_id": approval_id, **extra} if approval_id else dict(extra),
    )


def write(path: Path, *entries: AuditEntry) -> None:
    log = AuditLog(path)
    for entry in entries:
        assert log.append(entry)


def normal_file(path: Path) -> None:
    """Three approvals, each ended once, with the records that do not end one."""
    write(
        path,
        record("wf-1/run-1/requested", "requested"),
        record("wf-1/run-1/rejected-1", "rejected", rejected_because="self-approval"),
        record("wf-1/run-1/decided", "granted"),
        record("wf-1/run-1/late-denied-bob", "rejected", rejected_because="late"),
        record("wf-2/run-2/requested", "requested", "a-2"),
        record("wf-2/run-2/voted-1", "voted", "a-2"),
        record("wf-2/run-2/timeout", "timeout", "a-2"),
        record("wf-3/run-3/rbac-deny", "denied", None),
        record("wf-1/run-4/requested", "requested", "a-4"),  # the same workflow id, run again
        record("wf-1/run-4/cancelled", "cancelled", "a-4"),
    )


def test_a_normal_file_verifies(tmp_path):
    path = tmp_path / "audit.jsonl"
    normal_file(path)
    report = verify_audit(path)
    assert report.ok and report.records == 10, report.summary()
    assert report.summary().startswith(f"OK {path}: 10 records")


def test_decided_then_timeout_for_one_approval_is_two_outcomes(tmp_path):
    path = tmp_path / "audit.jsonl"
    write(
        path,
        record("wf-1/run-1/requested", "requested"),
        record("wf-1/run-1/decided", "denied"),
        record("wf-1/run-1/timeout", "timeout"),  # the stale task's expiry
    )
    assert verify_chain(path).ok  # dedup and chain cannot see it: two event ids
    report = verify_audit(path)
    assert report.problem is not None, report.summary()
    assert (report.problem.line, report.problem.kind) == (3, TWO_OUTCOMES)
    assert report.summary() == (
        f"INCONSISTENT {path} line 3: two-outcomes: approval a-1 already ended denied "
        "on line 2; this record says timeout"
    )


def test_two_outcomes_by_run_or_by_approval_id(tmp_path):
    by_run = tmp_path / "run.jsonl"  # no approval id (refused before create): the run names it
    write(by_run, record("wf-1/run-1/rbac-deny", "denied", None))
    write(by_run, record("wf-1/run-1/submit-failed", "failure", None))
    problem = verify_audit(by_run).problem
    assert problem is not None and (problem.line, problem.kind) == (2, TWO_OUTCOMES)
    assert problem.detail.startswith("run wf-1/run-1 already ended denied on line 1")

    by_id = tmp_path / "id.jsonl"  # two runs (a reset) ending one approval
    write(by_id, record("wf-1/run-1/decided", "granted"), record("wf-1/run-2/decided", "denied"))
    problem = verify_audit(by_id).problem
    assert problem is not None and (problem.line, problem.kind) == (2, TWO_OUTCOMES)


def test_two_outcomes_across_a_rotation_with_follows(tmp_path):
    path, archive = tmp_path / "audit.jsonl", tmp_path / "old.jsonl"
    write(
        path, record("wf-1/run-1/requested", "requested"), record("wf-1/run-1/decided", "granted")
    )
    AuditLog(path).rotate(archive)
    write(path, record("wf-1/run-1/timeout", "timeout"))
    assert verify_audit(path).ok  # alone, the new file ends a-1 once
    report = verify_audit(path, follows=archive)
    assert report.problem is not None and report.problem.path == path
    assert (report.problem.line, report.problem.kind) == (2, TWO_OUTCOMES)
    assert "already ended granted on line 2 of old.jsonl" in report.problem.detail


async def test_cli_verify_exits_1_on_two_outcomes(tmp_path):
    path = tmp_path / "audit.jsonl"
    env = {**os.environ, "APPROVALS_ENV_FILE": "", "AUDIT_LOG_PATH": str(path)}
    normal_file(path)
    status, out, err = await cli(env, "audit", "verify")
    assert (status, err) == (0, "") and out.startswith(f"OK {path}: 10 records"), out

    write(path, record("wf-2/run-2/decided", "granted", "a-2"))  # a-2 timed out already
    status, out, err = await cli(env, "audit", "verify")
    assert (status, err) == (1, "")
    assert out.startswith(f"INCONSISTENT {path} line 11: two-outcomes: approval a-2 ")
    assert out.count("\n") == 1
