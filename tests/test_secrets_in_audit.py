"""Each secret format, in the action, the reason and an error text, stays out of the audit file.

Complements tests/test_redaction.py (the patterns) by going through the real
writer to the bytes on disk, once per (format, field) pair, so a field that
skipped redaction would show up as a failing row.
"""

from __future__ import annotations

import base64
import os
import stat
from datetime import UTC, datetime

import pytest

from durable_approvals.audit_log import AuditLog
from durable_approvals.models import AuditEntry

SECRETS = {
    "openai-key": "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
    "anthropic-key": "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx-0123456789",
    "github-fine-grained-pat": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "github-classic-token": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "aws-access-key-id": "AKIAIOSFODNN7EXAMPLE",
    "bearer-token": "Bearer zq81Lk2mN0pXv7",
    "base64-admin-token": base64.b64encode(b"ADMIN_TOKEN=supersecret1234567890").decode(),
    "private-key": (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx1f2\n-----END RSA PRIVATE KEY-----"
    ),
}
# The part of each secret that must never appear (a bearer keeps its label).
NEEDLES = {name: value.removeprefix("Bearer ") for name, value in SECRETS.items()}
NEEDLES["private-key"] = "MIIEowIBAAKCAQEAx1f2"


def make_entry(field: str, text: str) -> AuditEntry:
    action = text if field == "action" else "deploy"
    extra = {"reason": text} if field == "reason" else {}
    if field == "error":
        extra = {"error": f"Failed to request approval: 401 for header Authorization: {text}"}
    return AuditEntry(
        event_id=f"wf/run/{field}",
        timestamp=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        event_type="approval",
        workspace_id="ws-1",
        action=action,
        resource="prod",
        outcome="requested",
        trace_id="trace-1",
        extra=extra,
    )


@pytest.mark.parametrize("field", ["action", "reason", "error"])
@pytest.mark.parametrize("name", sorted(SECRETS))
def test_secret_never_reaches_the_audit_file(tmp_path, name, field):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    assert log.append(make_entry(field, f"use {SECRETS[name]} please"))
    written = path.read_text(encoding="utf-8")
    assert NEEDLES[name] not in written
    assert "***REDACTED***" in written


def test_audit_file_is_owner_only_even_under_a_permissive_umask(tmp_path):
    previous = os.umask(0)
    try:
        AuditLog(tmp_path / "a" / "audit.jsonl").append(make_entry("action", "deploy"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "a" / "audit.jsonl").stat().st_mode) == 0o600
