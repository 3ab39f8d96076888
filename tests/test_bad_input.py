"""Bad input, table-driven: every row ends in a typed, final error (or a skip with a
log line), within a time bound, and workflow rows leave no retried attempt behind.

The ends a row may reach:

- ``pydantic.ValidationError`` before anything starts (models, the client API);
- one line on stderr and exit status 2, before any network call (the CLI);
- the contract's 4xx and nothing stored (the reference platform's routes);
- ``PlatformError`` with a kind from ``approvals.errors``, no request sent or
  retrying marked off (the platform client);
- a workflow failure ``ApplicationError`` typed ``PayloadValidationError``
  (``approvals.converter``), or a bad signal dropped with the SDK's log line;
- a damaged audit file (truncated, not UTF-8, not JSON, a forged line): one line
  and exit 1 from ``approvals audit verify`` naming the first damaged line and its
  kind; an unreadable path: one line on stderr, exit 2 (``docs/audit.md``).

Covered elsewhere and not repeated here: ``tests/test_models.py`` (empty, blank and
oversized action; oversized reason; NUL and BEL; zero, negative and over-a-month
timeouts; bad workspace, idempotency and trace ids; unknown fields),
``tests/test_bad_platform_replies.py`` (broken create replies: HTML, truncated,
oversized, a missing, non-string or malformed ``approval_id``; 5xx/429/4xx),
``tests/test_approval_flow.py`` (unknown workspace and a create reply without
``approval_id`` end the workflow with one attempt), ``tests/test_platform.py``
(malformed create and decide bodies) and ``tests/test_events.py`` (garbage and
oversized WebSocket frames), ``tests/test_votes.py`` (votes refused by the N-of-M
rule: self, non-member, late), ``tests/test_verified_deciders.py`` (an approver token
for another workspace, a body naming someone else, forged signals end to end). Not bad
input: an empty or whitespace-only reason (the contract makes it optional).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowFailureError
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from durable_approvals import errors
from durable_approvals.action_hash import action_hash
from durable_approvals.activities.events import decision_from_item
from durable_approvals.audit_log import AuditLog, verify_chain
from durable_approvals.devstack.platform.approvers import Approvers, ApproversFileError, token_hash
from durable_approvals.models import (
    ApprovalRequest,
    ApprovalStatus,
    AuditEntry,
    Decision,
    DecisionSource,
)
from durable_approvals.platform_client import MAX_REPLY_BYTES, PlatformClient, PlatformError
from durable_approvals.proof import canonical_statement, public_key_text, sign
from durable_approvals.workflows.approval import ApprovalWorkflow
from durable_approvals.workflows.args_binding import ArgsBinding
from durable_approvals.workflows.decision_rules import DecisionRules, Verdict
from durable_approvals.workflows.proof_check import ProofCheck
from durable_approvals.workflows.votes import Tally, VoteVerdict
from tests.helpers import (
    PLATFORM_TOKEN,
    WORKSPACE,
    approval_request,
    audit_records,
    crash_loop_signs,
    finish,
    outcomes,
    platform_client,
    running_worker,
    start,
    wait_pending,
)
from tests.platform_faults import FaultyPlatform
from tests.test_cli import cli

LIMIT = 30.0  # seconds any one row may take
VALID_REQUEST = {"workspace_id": WORKSPACE, "action": "drop table users", "reason": "cleanup"}

# --- models: refused before anything starts --------------------------------------------

REQUEST, DECISION = ApprovalRequest, Decision


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


VALID = {
    REQUEST: VALID_REQUEST,
    DECISION: {"approval_id": "a1", "approved": True},
}
MODEL_ROWS: list[tuple[str, type[Any], dict[str, Any]]] = [
    # (row, model, the bad field and its value): the error names that field
    ("action-non-utf8-bytes", REQUEST, {"action": b"\xff"}),
    ("action-lone-surrogate", REQUEST, {"action": "a\ud800"}),
    ("action-c1-control", REQUEST, {"action": "ls \x9b2J"}),
    ("reason-lone-surrogate", REQUEST, {"reason": "\udcff"}),
    ("reason-non-utf8-bytes", REQUEST, {"reason": b"\xc0\xaf"}),
    ("requester-control", REQUEST, {"requester": "eve\x00"}),
    ("requester-oversized", REQUEST, {"requester": "e" * 201}),
    ("timeout-nan", REQUEST, {"timeout_seconds": float("nan")}),
    ("timeout-inf", REQUEST, {"timeout_seconds": float("inf")}),
    ("timeout-1e308", REQUEST, {"timeout_seconds": 1e308}),
    ("transport-field-in-request", REQUEST, {"websocket": "false"}),
    ("decision-id-traversal", DECISION, {"approval_id": "../../x"}),
    ("decision-id-fragment", DECISION, {"approval_id": "a#b"}),
    ("decision-id-empty", DECISION, {"approval_id": ""}),
    ("decision-id-oversized", DECISION, {"approval_id": "a" * 129}),
    ("decision-id-non-utf8", DECISION, {"approval_id": b"\xff"}),
    ("decision-by-oversized", DECISION, {"decided_by": "b" * 201}),
    ("decision-comment-oversized", DECISION, {"comment": "c" * 4001}),
    ("decision-by-control", DECISION, {"decided_by": "mallory\x1b[2K"}),
    ("decision-comment-control", DECISION, {"comment": "ok\x00"}),
    # structured args and edits (docs/policies/edits.md)
    ("args-not-an-object", REQUEST, {"args": ["db", "staging"]}),
    ("args-nan", REQUEST, {"args": {"ratio": float("nan")}}),
    ("args-non-json-value", REQUEST, {"args": {"tables": {"users", "orders"}}}),
    ("args-bytes", REQUEST, {"args": {"db": b"staging"}}),
    ("args-huge-integer", REQUEST, {"args": {"n": 2**64}}),
    ("args-lone-surrogate", REQUEST, {"args": {"db": "\ud800"}}),
    ("args-oversized", REQUEST, {"args": {"blob": "x" * (16 * 1024)}}),
    ("args-too-deep", REQUEST, {"args": _nested(11)}),
    ("args-schema-unsupported-keyword", REQUEST, {"args_schema": {"oneOf": []}}),
    ("args-schema-not-an-object", REQUEST, {"args_schema": "object"}),
    ("decision-hash-not-hex", DECISION, {"action_hash": "Z" * 64}),
    ("decision-hash-short", DECISION, {"action_hash": "ab12"}),
    ("decision-edits-not-an-object", DECISION, {"edited_args": [1]}),
    ("decision-edits-oversized", DECISION, {"edited_args": {"blob": "x" * (16 * 1024)}}),
    # N-of-M (docs/policies/n-of-m.md): n < 1, not an integer, over the limit, a bad group
    ("approvals-required-zero", REQUEST, {"approvals_required": 0}),
    ("approvals-required-negative", REQUEST, {"approvals_required": -2}),
    ("approvals-required-bool", REQUEST, {"approvals_required": True}),
    ("approvals-required-float", REQUEST, {"approvals_required": 2.5}),
    ("approvals-required-over-limit", REQUEST, {"approvals_required": 51}),
    ("approver-group-traversal", REQUEST, {"approver_group": "../prod"}),
    ("approver-group-empty", REQUEST, {"approver_group": ""}),
]


@pytest.mark.parametrize(
    ("model", "bad"), [row[1:] for row in MODEL_ROWS], ids=[row[0] for row in MODEL_ROWS]
)
def test_a_model_refuses_bad_input_before_anything_starts(model, bad):
    with pytest.raises(ValidationError) as caught:
        model(**{**VALID[model], **bad})
    assert caught.value.errors()[0]["loc"][0] == next(iter(bad))


@pytest.mark.parametrize(
    "policy", [{"approvals_required": 2}, {"approver_group": "admins"}], ids=["n-of-m", "group"]
)
def test_args_with_a_vote_policy_are_a_valid_request_whose_votes_name_the_hash(policy):
    """Votes are bound to the action hash (docs/policies/n-of-m.md): args combine with a
    vote policy; the votes the binding refuses are the rows below."""
    request = ApprovalRequest(**{**VALID[ApprovalRequest], "args": {"db": "prod"}, **policy})
    assert request.has_vote_policy and request.args == {"db": "prod"}


# escalation and reminders (docs/policies/escalation.md): rules across fields, so the
# error is the model's own (no field in ``loc``) and its message names the field
ESCALATION_ROWS: list[tuple[str, dict[str, Any], str]] = [
    # (row, the policy fields, what the message says)
    ("remind-zero", {"remind_every": 0}, "remind_every"),
    ("remind-negative", {"remind_every": -5}, "remind_every"),
    ("remind-nan", {"remind_every": float("nan")}, "remind_every"),
    ("remind-not-shorter", {"timeout_seconds": 60, "remind_every": 60}, "remind_every"),
    ("remind-too-often", {"timeout_seconds": 7200, "remind_every": 1}, "too short"),
    ("escalate-zero", {"escalate_after": 0, "escalate_to": "leads"}, "escalate_after"),
    (
        "escalate-not-shorter",
        {"timeout_seconds": 60, "escalate_after": 90, "escalate_to": "leads"},
        "escalate_after",
    ),
    ("escalate-without-target", {"escalate_after": 10}, "escalate_to"),
    ("on-timeout-escalate-without-target", {"on_timeout": "escalate"}, "escalate_to"),
    ("target-without-escalation", {"escalate_to": "leads"}, "nothing escalates"),
    ("target-traversal", {"escalate_after": 10, "escalate_to": "../root"}, "escalate_to"),
    ("on-timeout-unknown", {"on_timeout": "page"}, "on_timeout"),
    ("second-deadline-without-escalate", {"escalation_timeout": 60}, "escalation_timeout"),
    (
        "second-deadline-beyond-a-month",
        {
            "timeout_seconds": 20 * 86400,
            "on_timeout": "escalate",
            "escalate_to": "leads",
            "escalation_timeout": 20 * 86400,
        },
        "longer than a month",
    ),
]


@pytest.mark.parametrize(
    ("bad", "says"), [row[1:] for row in ESCALATION_ROWS], ids=[row[0] for row in ESCALATION_ROWS]
)
def test_an_escalation_policy_refuses_bad_input_before_anything_starts(bad, says):
    with pytest.raises(ValidationError) as caught:
        ApprovalRequest(**{**VALID_REQUEST, "timeout_seconds": 300, **bad})
    assert says in str(caught.value)


# --- the CLI: one line, exit 2, before any network call --------------------------------

CLI_ROWS: list[tuple[str, list[str | bytes], str]] = [
    # (row, arguments, what the one line says)
    ("request-empty-action", ["request", ""], "action"),
    ("request-blank-action", ["request", " \t "], "action"),
    ("request-oversized-action", ["request", "x" * 501], "action"),
    ("request-control-action", ["request", "rm -rf \x1b[2J"], "action"),
    ("request-non-utf8-action", [b"request", b"drop \xff\xfe"], "action"),
    ("request-negative-timeout", ["request", "x", "--timeout", "-1"], "timeout_seconds"),
    ("request-zero-timeout", ["request", "x", "--timeout", "0"], "timeout_seconds"),
    ("request-huge-timeout", ["request", "x", "--timeout", "1e12"], "timeout_seconds"),
    ("request-nan-timeout", ["request", "x", "--timeout", "nan"], "timeout_seconds"),
    ("request-zero-approvals", ["request", "x", "--approvals-required", "0"], "approvals-required"),
    ("request-bad-group", ["request", "x", "--approver-group", "a/b"], "approver_group"),
    ("decide-traversal-id", ["decide", "../../x", "--approve", "--by", "a"], "invalid approval id"),
    ("decide-fragment-id", ["decide", "a#b", "--deny", "--by", "a"], "invalid approval id"),
    ("decide-empty-id", ["decide", "", "--approve", "--by", "a"], "invalid approval id"),
    ("decide-blank-by", ["decide", "a1", "--approve", "--by", "  "], "--by"),
    ("show-traversal-id", ["show", "../../etc/passwd"], "invalid approval id"),
    ("show-oversized-id", ["show", "a" * 200], "invalid approval id"),
    ("unknown-command", ["approve", "a1"], "invalid choice"),
    ("request-missing-action", ["request"], "action"),
    ("request-timeout-not-a-number", ["request", "x", "--timeout", "soon"], "--timeout"),
    ("decide-no-decision", ["decide", "a1", "--by", "a"], "--approve"),
    ("list-zero-limit", ["list", "--limit", "0"], "--limit"),
    ("request-args-not-json", ["request", "x", "--args", "{db: staging}"], "--args: not JSON"),
    ("request-args-nan", ["request", "x", "--args", '{"n": NaN}'], "--args: NaN is not JSON"),
    ("request-args-not-an-object", ["request", "x", "--args", "[1]"], "args"),
    ("request-args-oversized", ["request", "x", "--args", '{"b": "%s"}' % ("x" * 17000)], "args"),
    (
        "request-args-failing-schema",
        [
            "request",
            "x",
            "--args",
            '{"db": 1}',
            "--args-schema",
            '{"properties": {"db": {"type": "string"}}}',
        ],
        "args do not satisfy args_schema",
    ),
    ("request-schema-without-args", ["request", "x", "--args-schema", "{}"], "needs args"),
    ("decide-edit-not-json", ["decide", "a1", "--approve", "--by", "a", "--edit", "{"], "--edit"),
    (
        "decide-edit-not-an-object",
        ["decide", "a1", "--approve", "--by", "a", "--edit", "1"],
        "--edit",
    ),
    ("decide-edit-on-a-denial", ["decide", "a1", "--deny", "--by", "a", "--edit", "{}"], "--edit"),
    ("request-remind-zero", ["request", "x", "--remind-every", "0"], "remind_every"),
    ("request-escalate-no-target", ["request", "x", "--escalate-after", "9"], "escalate_to"),
    (
        "request-remind-not-shorter",
        ["request", "x", "--timeout", "10", "--remind-every", "10"],
        "remind_every",
    ),
    ("request-on-timeout-unknown", ["request", "x", "--on-timeout", "page"], "--on-timeout"),
    ("request-escalate-to-traversal", ["request", "x", "--escalate-to", "../x"], "escalate_to"),
]


@pytest.mark.parametrize(
    ("args", "says"), [row[1:] for row in CLI_ROWS], ids=[row[0] for row in CLI_ROWS]
)
async def test_the_cli_refuses_bad_input_in_one_line_before_connecting(args, says):
    env = {
        **os.environ,
        # Nothing listens on either: an error about reaching them would mean the
        # input was not checked first.
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
        "PLATFORM_URL": "http://127.0.0.1:1",
        "WORKSPACE_ID": WORKSPACE,
    }
    async with asyncio.timeout(LIMIT * 4):
        status, out, err = await cli(env, *args)
    lines = err.strip().splitlines()
    assert status == 2 and out == "", (status, out, err)
    assert len(lines) == 1 and says in lines[0], err
    assert "reach" not in lines[0] and "Connect" not in lines[0], err


# --- the reference platform's routes: the contract's 4xx, nothing stored ----------------

ID_PATH_ROWS = [
    # (row, raw path segment): every one must be the contract's 404, not a 500
    ("id-non-utf8", "%FF"),
    ("id-nul", "%00"),
    ("id-encoded-surrogate", "%ED%A0%80"),
    ("id-overlong-dot", "%C0%AE"),
    ("id-newline", "x%0Ay"),
    ("id-oversized", "a" * 5000),
]


@pytest.mark.parametrize("segment", [r[1] for r in ID_PATH_ROWS], ids=[r[0] for r in ID_PATH_ROWS])
async def test_the_platform_answers_malformed_ids_with_the_contract_404(platform, segment):
    base = f"{platform.url}/workspaces/{WORKSPACE}/approvals"
    async with asyncio.timeout(LIMIT), httpx.AsyncClient(timeout=5.0) as http:
        created = await http.post(base, json={"action": "rotate keys"})
        approval_id = created.json()["approval_id"]
        got = await http.get(httpx.URL(f"{base}/{segment}"))
        decided = await http.post(
            httpx.URL(f"{base}/{segment}/decide"), json={"decision": "approved"}
        )
        expired = await http.post(httpx.URL(f"{base}/{segment}/expire"), json={})
        item = (await http.get(f"{base}/{approval_id}")).json()

    assert (got.status_code, got.json()) == (404, {"error": "approval not found"})
    assert (decided.status_code, decided.json()) == (
        404,
        {"error": "approval not found or already decided"},
    )
    assert (expired.status_code, expired.json()) == (404, {"error": "approval not found"})
    assert item["status"] == "pending" and platform.store.count() == 1


BODY_ROWS: list[tuple[str, str, bytes]] = [
    # (row, route, raw body): the contract's 400 "invalid request body", nothing stored
    ("create-non-utf8", "create", b'{"action": "drop \xff\xfe"}'),
    ("create-lone-surrogate", "create", b'{"action": "drop \\ud800"}'),
    ("create-requester-control", "create", b'{"action": "a", "requester": "eve\\u0000"}'),
    ("decide-non-utf8", "decide", b'{"decision": "approved", "decided_by": "\xff"}'),
    (
        "decide-by-oversized",
        "decide",
        b'{"decision": "approved", "decided_by": "%s"}' % (b"b" * 201),
    ),
    ("decide-by-control", "decide", b'{"decision": "approved", "decided_by": "bob\\u001b[31m"}'),
    ("decide-by-newline", "decide", b'{"decision": "denied", "decided_by": "bob\\nroot"}'),
    (
        "decide-comment-oversized",
        "decide",
        b'{"decision": "denied", "comment": "%s"}' % (b"c" * 4001),
    ),
    ("decide-comment-control", "decide", b'{"decision": "denied", "comment": "ok\\u0000"}'),
    # [ext] docs/policies/edits.md: a decision's hash and edits follow the library's models
    ("decide-hash-not-hex", "decide", b'{"decision": "approved", "action_hash": "xyz"}'),
    ("decide-edits-not-an-object", "decide", b'{"decision": "approved", "edited_args": [1]}'),
    (
        "decide-edits-oversized",
        "decide",
        b'{"decision": "approved", "edited_args": {"b": "%s"}}' % (b"x" * 17000),
    ),
    ("create-approvals-required-zero", "create", b'{"action": "a", "approvals_required": 0}'),
    ("create-approvals-required-text", "create", b'{"action": "a", "approvals_required": "x"}'),
]


# The platform holds names to the library's rule (``approvals.models.NameText``), which
# refuses control characters but lets a line break through.
ONE_RULE_GAPS: dict[str, str] = {}  # rows the one rule does not cover yet: none


@pytest.mark.parametrize(
    ("route", "body"),
    [
        pytest.param(
            *row[1:],
            id=row[0],
            marks=[pytest.mark.xfail(strict=True, reason=ONE_RULE_GAPS[row[0]])]
            if row[0] in ONE_RULE_GAPS
            else [],
        )
        for row in BODY_ROWS
    ],
)
async def test_the_platform_refuses_a_bad_body_with_the_contract_400(platform, route, body):
    """``decided_by`` and ``comment`` beyond the worker's ``Decision`` limits used to be
    stored: every listener and poller then skipped that decision, and the request timed
    out although a human had decided."""
    base = f"{platform.url}/workspaces/{WORKSPACE}/approvals"
    headers = {"Content-Type": "application/json"}
    async with asyncio.timeout(LIMIT), httpx.AsyncClient(timeout=5.0) as http:
        approval_id = (await http.post(base, json={"action": "rotate keys"})).json()["approval_id"]
        url = base if route == "create" else f"{base}/{approval_id}/decide"
        response = await http.post(url, content=body, headers=headers)
        listed = (await http.get(base)).json()

    assert (response.status_code, response.json()) == (400, {"error": "invalid request body"})
    assert [(item["id"], item["status"]) for item in listed] == [(approval_id, "pending")]


NOTICE_ROWS: list[tuple[str, str, bytes]] = [
    # (row, [ext] route, raw body): 400 in reference mode, nothing stored or sent
    ("remind-no-number", "remind", b"{}"),
    ("remind-zero", "remind", b'{"reminder": 0}'),
    ("remind-not-json", "remind", b"soon"),
    ("escalate-no-target", "escalate", b'{"level": 1}'),
    ("escalate-target-traversal", "escalate", b'{"escalated_to": "../x", "level": 1}'),
    ("escalate-level-zero", "escalate", b'{"escalated_to": "leads", "level": 0}'),
    ("escalate-bad-deadline", "escalate", b'{"escalated_to": "l", "level": 1, "expires_at": "x"}'),
]


@pytest.mark.platform_modes("reference", "strict")
@pytest.mark.parametrize(
    ("route", "body"), [row[1:] for row in NOTICE_ROWS], ids=[row[0] for row in NOTICE_ROWS]
)
async def test_the_platform_refuses_a_bad_reminder_or_escalation(platform, route, body):
    """Reference: the contract's 400; strict: no such route (Gin's 404), whatever the body."""
    base = f"{platform.url}/workspaces/{WORKSPACE}/approvals"
    headers = {"Content-Type": "application/json"}
    if platform.strict:
        headers["Authorization"] = f"Bearer {PLATFORM_TOKEN}"
    async with asyncio.timeout(LIMIT), httpx.AsyncClient(timeout=5.0, headers=headers) as http:
        approval_id = (await http.post(base, json={"action": "rotate keys"})).json()["approval_id"]
        response = await http.post(f"{base}/{approval_id}/{route}", content=body)
        listed = (await http.get(base)).json()

    if platform.strict:
        assert (response.status_code, response.text) == (404, "404 page not found")
    else:
        assert (response.status_code, response.json()) == (400, {"error": "invalid request body"})
    assert [(item["id"], item["status"]) for item in listed] == [(approval_id, "pending")]
    assert listed[0].get("reminders", 0) == 0 and listed[0].get("escalated_to") is None


# --- the platform client: typed errors, and no request for an id that would move the URL -


def _recording_client(reply: httpx.Response) -> tuple[PlatformClient, list[httpx.Request]]:
    """A client whose one peer answers ``reply`` to everything and records what it got.

    ``MockTransport`` because the reference platform's faults only bend create replies.
    """
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return reply

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer), timeout=5.0)
    return PlatformClient(http=http, base_url="http://platform", workspace_id=WORKSPACE), seen


BAD_IDS = {
    "climbs-to-the-fault-route": "../../../_faults#",
    "climbs-one-level": "../x",
    "query-string": "a?b=1",
    "climbs-from-inside": "x/../../y",
    "empty": "",
    "oversized": "a" * 129,
    "space": "a b",
    "lone-surrogate": "\udcff",
}


@pytest.mark.parametrize("approval_id", list(BAD_IDS.values()), ids=list(BAD_IDS))
@pytest.mark.parametrize("call", ["get_approval", "decide", "expire"])
async def test_the_client_refuses_an_id_that_would_change_the_url(call, approval_id):
    client, seen = _recording_client(httpx.Response(200, json={}))
    arguments: dict[str, Any] = {
        "get_approval": {},
        "decide": {"approved": True, "decided_by": "ops"},
        "expire": {"reason": "timeout"},
    }[call]
    with pytest.raises(PlatformError) as caught:
        async with asyncio.timeout(LIMIT):
            await getattr(client, call)(approval_id, **arguments)
    await client.http.aclose()
    assert (caught.value.kind, caught.value.retryable) == (errors.INVALID_APPROVAL_ID, False)
    assert seen == []


HUGE = b"x" * MAX_REPLY_BYTES
REPLY_ROWS: list[tuple[str, str, httpx.Response]] = [
    # (row, call, reply): a reply no retry can fix is a bad reply, never retryable
    ("get-oversized", "get_approval", httpx.Response(200, content=b'{"id": "%s"}' % HUGE)),
    # an oversized or malformed list item is skipped: tests/security/test_oversized_item.py
    ("get-non-utf8", "get_approval", httpx.Response(200, content=b'{"id": "\xff\xfe"}')),
    ("list-not-an-array", "list_approvals", httpx.Response(200, json={"approvals": []})),
    ("list-truncated", "list_approvals", httpx.Response(200, content=b'[{"id": "a1"}, {"id"')),
]


@pytest.mark.parametrize(
    ("call", "reply"), [row[1:] for row in REPLY_ROWS], ids=[row[0] for row in REPLY_ROWS]
)
async def test_a_broken_read_reply_is_a_bad_reply(call, reply):
    client, _ = _recording_client(reply)
    args = ("a1",) if call == "get_approval" else ()
    with pytest.raises(PlatformError) as caught:
        async with asyncio.timeout(LIMIT):
            await getattr(client, call)(*args)
    await client.http.aclose()
    assert (caught.value.kind, caught.value.retryable) == (errors.PLATFORM_BAD_REPLY, False)


REFUSAL_ROWS = [
    # (row, reply, the message: the platform's text only when it is short and printable)
    ("oversized-error-text", httpx.Response(403, json={"error": "x" * 10_000}), ""),
    (
        "control-chars-in-error-text",
        httpx.Response(403, json={"error": "no\nway\x1b"}),
        " (no way)",
    ),
    ("non-utf8-error-body", httpx.Response(404, content=b"\xff\xfe"), ""),
]


@pytest.mark.parametrize(
    ("reply", "detail"), [row[1:] for row in REFUSAL_ROWS], ids=[row[0] for row in REFUSAL_ROWS]
)
async def test_a_decide_refusal_shows_the_platforms_text_only_when_it_is_sane(reply, detail):
    client, _ = _recording_client(reply)
    with pytest.raises(PlatformError) as caught:
        async with asyncio.timeout(LIMIT):
            await client.decide("a1", approved=True, decided_by="ops")
    await client.http.aclose()
    assert caught.value.message == f"Failed to decide: {reply.status_code}{detail}"
    assert caught.value.kind == errors.PLATFORM_REJECTED and not caught.value.retryable


@pytest.mark.parametrize(
    ("decided_by", "comment", "taken_by", "taken_comment"),
    [
        ("b" * 201, None, "b" * 200, None),
        (
            "bob\x1b[31m",
            "ok\x00" + "c" * 4_100,
            "bob\ufffd[31m",
            ("ok\ufffd" + "c" * 4_100)[:4_000],
        ),
    ],
    ids=["oversized-name", "control-chars-and-oversized-comment"],
)
def test_a_platform_decision_beyond_the_models_limits_is_taken_cleaned_with_a_log_line(
    caplog, decided_by, comment, taken_by, taken_comment
):
    """A platform without the reference platform's 400 (the upstream) may store such a
    decision; the human's answer is still taken, its texts cleaned to fit, one log line each."""
    item = {"id": "a1", "status": "denied", "decided_by": decided_by, "comment": comment}
    with caplog.at_level(logging.WARNING, logger="durable_approvals.activities.events"):
        decision = decision_from_item(item, "a1", DecisionSource.POLLING)
    assert decision is not None and decision.approved is False
    assert (decision.decided_by, decision.comment) == (taken_by, taken_comment)
    assert "decision for a1: decided_by cleaned to fit" in caplog.text
    # one short line per field: a hostile peer cannot flood the log with long values
    assert all("\n" not in r.getMessage() and len(r.getMessage()) < 200 for r in caplog.records)


# --- workflows on the dev server: a typed failure, no retries ---------------------------


def _raw(data: bytes) -> RawValue:
    """A workflow input exactly as given: what ``temporal workflow start --input`` sends."""
    return RawValue(Payload(metadata={"encoding": b"json/plain"}, data=data))


def _json(fields: dict[str, Any]) -> RawValue:
    return _raw(json.dumps(fields).encode())


WORKFLOW_INPUT_ROWS: list[tuple[str, RawValue]] = [
    ("empty-action", _json({**VALID_REQUEST, "action": ""})),
    ("blank-action", _json({**VALID_REQUEST, "action": "   "})),
    ("negative-timeout", _json({**VALID_REQUEST, "timeout_seconds": -1})),
    ("zero-timeout", _json({**VALID_REQUEST, "timeout_seconds": 0})),
    ("huge-timeout", _json({**VALID_REQUEST, "timeout_seconds": 1e308})),
    ("control-char-reason", _json({**VALID_REQUEST, "reason": "\x1b[2J"})),
    ("non-utf8-action", _raw(b'{"workspace_id": "ws-test", "action": "drop \xff\xfe"}')),
    ("lone-surrogate-action", _raw(b'{"workspace_id": "ws-test", "action": "drop \\ud800"}')),
    ("traversal-workspace", _json({**VALID_REQUEST, "workspace_id": "../ws-test"})),
    ("missing-workspace", _json({"action": "drop table users"})),
    ("unknown-field", _json({**VALID_REQUEST, "timout_seconds": 5})),
    ("zero-approvals-required", _json({**VALID_REQUEST, "approvals_required": 0})),
    ("text-approvals-required", _json({**VALID_REQUEST, "approvals_required": "2"})),
    ("not-an-object", _raw(b'"drop table users"')),
]


@pytest.mark.parametrize(
    "raw", [row[1] for row in WORKFLOW_INPUT_ROWS], ids=[row[0] for row in WORKFLOW_INPUT_ROWS]
)
async def test_a_bad_workflow_input_fails_the_workflow_at_once(dev_env, settings, platform, raw):
    """Started around the models (as the ``temporal`` CLI would): the worker's decoder
    refuses it. Before ``approvals.converter`` the SDK failed the workflow *task* and
    retried it forever: the workflow hung."""
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await dev_env.client.start_workflow(
            "ApprovalWorkflow", raw, id=f"bad-input-{uuid.uuid4()}", task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await asyncio.wait_for(handle.result(), LIMIT)

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert (cause.type, cause.non_retryable) == (errors.PAYLOAD_INVALID, True)
    assert "ApprovalRequest" in cause.message
    assert await crash_loop_signs(handle) == []
    assert await _platform_items(settings) == [] and outcomes(settings) == []


async def test_a_malformed_decision_signal_is_dropped_with_a_log_line(
    dev_env, settings, platform, caplog
):
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue)
        approval_id = await wait_pending(handle)
        with caplog.at_level(logging.ERROR, logger="temporalio.worker"):
            await handle.signal("decide", {"approval_id": "../" + approval_id, "approved": True})
            # Signals are handled in order: once this one is taken, the bad one was seen.
            good = Decision(approval_id=approval_id, approved=False, decided_by="ops")
            await handle.signal(ApprovalWorkflow.decide, good)
            result = await asyncio.wait_for(handle.result(), LIMIT)
        view = await handle.query(ApprovalWorkflow.status)

    assert result.status is ApprovalStatus.DENIED and result.decided_by == "ops"
    assert "dropping the signal" in caplog.text and "Decision: approval_id" in caplog.text
    assert view.rejected_decisions == 0  # dropped before the workflow saw it
    assert await crash_loop_signs(handle) == []


# --- N-of-M policies the workspace config cannot meet ------------------------------

POLICY_GROUPS = "approver_groups:\n  prod-admins: [Alice, bob, agent-7]\n"
POLICY_ROWS: list[tuple[str, dict[str, Any], str, str]] = [
    # (row, request fields, error type, the result's error): a failure result, audited,
    # nothing created, no retry. The requester agent-7 is a member: never counted.
    (
        "unknown-approver-group",
        {"approver_group": "nobody"},
        errors.UNKNOWN_APPROVER_GROUP,
        "unknown approver group 'nobody': not in the workspace config's approver_groups",
    ),
    (
        "approvals-exceed-group",
        {"approver_group": "prod-admins", "approvals_required": 3},
        errors.APPROVALS_EXCEED_GROUP,
        "3 approvals required but approver group 'prod-admins' has 2 possible approver(s) "
        "(the requester never counts)",
    ),
]


@pytest.mark.parametrize(
    ("fields", "error_type", "error"),
    [row[1:] for row in POLICY_ROWS],
    ids=[row[0] for row in POLICY_ROWS],
)
async def test_a_vote_policy_that_cannot_be_met_fails_at_once(
    dev_env, settings, platform, fields, error_type, error
):
    settings.rbac_config_path.write_text(POLICY_GROUPS, encoding="utf-8")
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(
            dev_env.client, task_queue, approval_request(requester="agent-7", **fields)
        )
        result = await finish(handle, f"policy_{error_type}")

    assert (result.status, result.error) == (ApprovalStatus.FAILURE, error)
    assert await crash_loop_signs(handle) == [] and await _platform_items(settings) == []
    [record] = audit_records(settings)
    assert (record["outcome"], record["error_type"], record["error"]) == (
        "failure",
        error_type,
        error,
    )


async def test_an_oversized_create_reply_fails_the_request_without_retries(
    dev_env, settings, platform
):
    platform.faults.create_status = 201
    platform.faults.create_body = json.dumps({"approval_id": "a1", "pad": "x" * MAX_REPLY_BYTES})
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, approval_request())
        result = await finish(handle, "create_failed_oversized_reply", timeout=LIMIT)

    assert result.status is ApprovalStatus.FAILURE
    assert result.error is not None and result.error.startswith("Platform reply too large")
    assert await crash_loop_signs(handle) == []
    assert outcomes(settings) == ["failure"]


async def _platform_items(settings) -> list[dict[str, Any]]:
    async with platform_client(settings) as api:
        return await api.list_approvals()


# --- the binding rule: decisions refused by the workflow and the reference platform ----

BINDING_ARGS = {"db": "staging", "dry_run": False}
BINDING_SCHEMA = {
    "type": "object",
    "properties": {"db": {"enum": ["staging"]}, "dry_run": {"type": "boolean"}},
    "additionalProperties": False,
}
BINDING_HASH = action_hash(WORKSPACE, "drop table users", BINDING_ARGS)


def _edit(edited: dict[str, Any]) -> dict[str, Any]:
    return {
        "edited_args": edited,
        "action_hash": action_hash(WORKSPACE, "drop table users", edited),
    }


BINDING_ROWS: list[tuple[str, dict[str, Any], str]] = [
    # (row, the decision's fields, why it is refused): audited as rejected, still pending
    (
        "hash-mismatch",
        {"action_hash": action_hash(WORKSPACE, "drop table orders", BINDING_ARGS)},
        "hash-mismatch",
    ),
    (
        "hash-of-another-workspace",
        {"action_hash": action_hash("ws-other", "drop table users", BINDING_ARGS)},
        "hash-mismatch",
    ),
    ("hash-missing-on-an-approval", {}, "hash-missing"),
    (
        "edits-under-the-original-hash",
        {"edited_args": {**BINDING_ARGS, "dry_run": True}, "action_hash": BINDING_HASH},
        "hash-mismatch",
    ),
    ("edits-failing-the-schema", _edit({**BINDING_ARGS, "db": "prod"}), "edit-invalid"),
    (
        "edits-adding-a-key-the-schema-forbids",
        _edit({**BINDING_ARGS, "force": True}),
        "edit-invalid",
    ),
    (
        "edits-on-a-denial",
        {"approved": False, **_edit({**BINDING_ARGS, "dry_run": True})},
        "edit-invalid",
    ),
]


@pytest.mark.parametrize(
    ("fields", "because"), [row[1:] for row in BINDING_ROWS], ids=[row[0] for row in BINDING_ROWS]
)
def test_a_decision_not_bound_to_the_args_is_refused(fields, because):
    request = ApprovalRequest(**VALID_REQUEST, args=BINDING_ARGS, args_schema=BINDING_SCHEMA)
    decision = Decision(approval_id="a1", **{"approved": True, **fields})
    rules = DecisionRules(requester="", approval_id="a1", binding=ArgsBinding.of(request))
    assert rules.offer(decision) is Verdict.REFUSED
    assert (rules.decision, [r.because for r in rules.refusals]) == (None, [because])


VOTE_BINDING_ROWS: list[tuple[str, dict[str, Any], str]] = [
    # (row, the vote's fields, why it is refused): audited as rejected, not counted
    (
        "vote-hash-mismatch",
        {"action_hash": action_hash(WORKSPACE, "drop table orders", BINDING_ARGS)},
        "hash-mismatch",
    ),
    ("vote-hash-missing", {}, "hash-missing"),
    ("vote-with-edits", _edit({**BINDING_ARGS, "dry_run": True}), "edits-need-one-decider"),
    (
        "vote-with-edits-under-the-original-hash",
        {"edited_args": {**BINDING_ARGS, "dry_run": True}, "action_hash": BINDING_HASH},
        "edits-need-one-decider",
    ),
    (
        "denial-vote-with-edits",
        {"approved": False, **_edit({**BINDING_ARGS, "dry_run": True})},
        "edits-need-one-decider",
    ),
]


@pytest.mark.parametrize(
    ("fields", "because"),
    [row[1:] for row in VOTE_BINDING_ROWS],
    ids=[row[0] for row in VOTE_BINDING_ROWS],
)
def test_a_vote_not_bound_to_the_args_is_refused_and_not_counted(fields, because):
    request = ApprovalRequest(
        **VALID_REQUEST, args=BINDING_ARGS, args_schema=BINDING_SCHEMA, approvals_required=2
    )
    rules = DecisionRules(requester="", approval_id="a1", binding=ArgsBinding.of(request))
    tally = Tally(rules, required=2)
    vote = Decision(approval_id="a1", decided_by="alice", **{"approved": True, **fields})
    assert tally.check(vote) == because
    assert tally.offer(vote) is VoteVerdict.REFUSED
    assert (tally.votes, [r.because for r in rules.refusals]) == ([], [because])


# --- a damaged audit file: `approvals audit verify` says where, in one line -------------


def _good_audit_lines(path: Path) -> bytes:
    log = AuditLog(path)
    for step in ("requested", "granted"):
        log.append(
            AuditEntry(
                event_id=f"wf/run/{step}",
                timestamp=datetime(2026, 11, 26, tzinfo=UTC),
                event_type="approval",
                workspace_id=WORKSPACE,
                action="approve",
                resource="drop table users",
                outcome=step,
                trace_id="t-1",
            )
        )
    return path.read_bytes()


def _bad_hash_type(good: bytes) -> bytes:
    first, second = good.splitlines(keepends=True)
    record = json.loads(second)
    record["record_hash"] = 5
    return first + json.dumps(record).encode() + b"\n"


AUDIT_FILE_ROWS: list[tuple[str, Any, int, str]] = [
    # (row, the file from the good bytes, exit status, what the one line says)
    ("audit-truncated-mid-record", lambda good: good[:-30], 1, "line 2: truncated"),
    ("audit-truncated-in-the-first-line", lambda good: good[:20], 1, "line 1: truncated"),
    ("audit-truncated-to-nothing", lambda good: b"", 0, "OK"),
    ("audit-non-utf8-line", lambda good: good + b"\xff\xfe\n", 1, "line 3: not-json: not UTF-8"),
    ("audit-nul-bytes", lambda good: good + b"\x00" * 16 + b"\n", 1, "line 3: not-json"),
    ("audit-json-array-line", lambda good: good + b"[1, 2]\n", 1, "not a JSON object"),
    ("audit-binary-garbage", lambda good: good + bytes(range(256)), 1, "line 3: not-json"),
    ("audit-hash-not-a-string", _bad_hash_type, 1, "line 2: edited"),
    (
        "audit-oversized-forged-line",
        lambda good: good.replace(b"granted", b"g" * 1_000_000, 1),
        1,
        "line 2: edited",
    ),
    ("audit-crlf-line-ends", lambda good: good.replace(b"\n", b"\r\n"), 0, "OK"),
]


@pytest.mark.parametrize(
    ("damage", "status", "says"),
    [row[1:] for row in AUDIT_FILE_ROWS],
    ids=[row[0] for row in AUDIT_FILE_ROWS],
)
async def test_a_damaged_audit_file_is_reported_in_one_line(tmp_path, damage, status, says):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(damage(_good_audit_lines(path)))
    async with asyncio.timeout(LIMIT):
        code, out, err = await cli(
            {**os.environ, "APPROVALS_ENV_FILE": ""}, "audit", "verify", str(path)
        )
    assert (code, err) == (status, ""), (code, out, err)
    assert out.count("\n") == 1 and says in out, out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["audit", "verify", "{dir}"], "Is a directory"),
        (["audit", "verify", "{dir}/missing.jsonl"], "No such file"),
        (["audit", "verify", "--follows", "{dir}/missing.jsonl", "{dir}/a.jsonl"], "No such file"),
        (["audit", "verify", "--follows"], "expected one argument"),
    ],
    ids=["path-is-a-directory", "path-missing", "follows-missing", "follows-without-a-file"],
)
async def test_an_unreadable_audit_path_is_exit_2_in_one_line(tmp_path, args, says):
    (tmp_path / "a.jsonl").write_bytes(b"")
    async with asyncio.timeout(LIMIT):
        code, out, err = await cli(
            {**os.environ, "APPROVALS_ENV_FILE": ""},
            *[arg.format(dir=tmp_path) for arg in args],
        )
    assert (code, out) == (2, "") and err.count("\n") == 1 and says in err, err


def test_a_writer_after_a_truncated_audit_file_cuts_the_partial_line_and_chains_on(tmp_path):
    path = tmp_path / "audit.jsonl"
    good = _good_audit_lines(path)
    path.write_bytes(good[:-30])  # the second record cut short: a crash mid-write
    assert verify_chain(path).problem is not None
    AuditLog(path).append(
        AuditEntry(
            event_id="wf/run/granted",  # the retried write
            timestamp=datetime(2026, 11, 26, tzinfo=UTC),
            event_type="approval",
            workspace_id=WORKSPACE,
            action="approve",
            resource="drop table users",
            outcome="granted",
            trace_id="t-1",
        )
    )
    assert path.read_bytes() == good
    assert verify_chain(path).ok


# --- verified deciders (docs/trust-model.md): proofs that prove nothing -----------------

PROOF_KEY = Ed25519PrivateKey.generate()
PROOF_AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _proof(**overrides: Any) -> str:
    fields: dict[str, Any] = {
        "workspace_id": WORKSPACE,
        "approval_id": "a1",
        "approved": True,
        "decided_by": "bob",
        "action_hash": None,
        "decided_at": PROOF_AT,
    }
    fields.update(overrides)
    return sign(PROOF_KEY, canonical_statement(**fields))


PROOF_ROWS: list[tuple[str, dict[str, Any]]] = [
    ("proof-forged-by-another-key", {"proof": sign(Ed25519PrivateKey.generate(), b"x" * 64)}),
    ("proof-not-base64", {"proof": "not a signature!"}),
    ("proof-truncated", {"proof": _proof()[:40]}),
    ("proof-missing", {"proof": None}),
    ("proof-replayed-from-another-approval", {"proof": _proof(approval_id="a0")}),
    ("proof-replayed-for-another-hash", {"proof": _proof(), "action_hash": "c" * 64}),
    ("proof-for-another-decider", {"proof": _proof(decided_by="carol")}),
    ("proof-for-the-other-answer", {"proof": _proof(approved=False)}),
    ("proof-from-another-workspace", {"proof": _proof(workspace_id="ws-other")}),
    ("proof-for-another-time", {"proof": _proof(decided_at=PROOF_AT.replace(minute=1))}),
    ("proof-without-a-time", {"decided_at": None}),
]


@pytest.mark.parametrize(
    "fields", [row[1] for row in PROOF_ROWS], ids=[row[0] for row in PROOF_ROWS]
)
def test_a_decision_without_valid_proof_is_refused_where_proof_is_required(fields):
    check = ProofCheck(WORKSPACE, public_key_text(PROOF_KEY), required=True)
    rules = DecisionRules(requester="", approval_id="a1", verify=check)
    values = {"approval_id": "a1", "approved": True, "decided_by": "bob"}
    decision = Decision(**{**values, "decided_at": PROOF_AT, "proof": _proof(), **fields})
    assert rules.offer(decision) is Verdict.REFUSED
    assert (rules.decision, [r.because for r in rules.refusals]) == (None, ["unverified"])
    assert rules.offer(Decision(**values, decided_at=PROOF_AT, proof=_proof())) is Verdict.TAKEN


APPROVERS_FILE_ROWS: list[tuple[str, str, str]] = [
    ("approvers-not-yaml", "approvers: [\n", "not YAML or JSON"),
    ("approvers-empty-file", "", "top level"),
    ("approvers-empty-list", "approvers: []\n", "approvers"),
    ("approvers-token-in-clear", "approvers:\n  - {name: bob, token: hunter2}\n", "token"),
    ("approvers-short-hash", "approvers:\n  - {name: bob, token_sha256: abc}\n", "token_sha256"),
    ("approvers-blank-name", f"approvers:\n  - {{name: ' ', token_sha256: {'ab' * 32}}}\n", "name"),
    (
        "approvers-bad-workspace",
        f"approvers:\n  - {{name: b, token_sha256: {'ab' * 32}, workspaces: ['a b']}}\n",
        "workspaces",
    ),
    (
        "approvers-listed-twice",
        f"approvers:\n  - {{name: Bob, token_sha256: {'ab' * 32}}}\n"
        f"  - {{name: ' bob', token_sha256: {'cd' * 32}}}\n",
        "listed twice",
    ),
]


@pytest.mark.parametrize(
    ("text", "says"),
    [row[1:] for row in APPROVERS_FILE_ROWS],
    ids=[row[0] for row in APPROVERS_FILE_ROWS],
)
def test_a_malformed_approvers_file_stops_the_platform_in_one_line(tmp_path, text, says):
    path = tmp_path / "approvers.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ApproversFileError, match=says):
        Approvers.load(path)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "durable_approvals.devstack.platform",
            "--approvers",
            str(path),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2 and "hunter2" not in done.stderr
    assert len(done.stderr.strip().splitlines()[-1]) < 300 and says in done.stderr


async def test_a_decider_not_in_the_approvers_file_is_401_and_nothing_is_stored(tmp_path):
    path = tmp_path / "approvers.yaml"
    path.write_text(
        f"approvers:\n  - {{name: bob, token_sha256: {token_hash('bob-token')}}}\n", "utf-8"
    )
    server = FaultyPlatform(tmp_path / "p.db", token=PLATFORM_TOKEN, approvers=Approvers.load(path))
    auth = {"Authorization": f"Bearer {PLATFORM_TOKEN}"}  # approvers need a workspace token
    async with server, httpx.AsyncClient(base_url=server.url, timeout=5.0, headers=auth) as http:
        created = await http.post(f"/workspaces/{WORKSPACE}/approvals", json={"action": "x"})
        url = f"/workspaces/{WORKSPACE}/approvals/{created.json()['approval_id']}"
        refused = [
            await http.post(f"{url}/decide", json=body, headers=headers)
            for body, headers in (
                ({"decision": "approved", "decided_by": "mallory"}, {}),
                ({"decision": "approved", "decided_by": "bob"}, {}),
                ({"decision": "approved"}, {"X-Approver-Token": "mallory-token"}),
                ({"decision": "approved"}, {"Authorization": "Bearer bob-token"}),
            )
        ]
        item = (await http.get(url)).json()
    assert [r.status_code for r in refused] == [401] * 4
    assert (item["status"], item["decided_by"]) == ("pending", None)
