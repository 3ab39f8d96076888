"""Verified deciders (docs/trust-model.md): the reference platform authenticates approvers
by token and signs what it records; the workflow checks the signature before it takes a
decision, and refuses (and audits) one without valid proof when the workspace requires it.

Real dev server, real worker, real platform on 127.0.0.1; nothing mocked.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from websockets.asyncio.client import connect

from durable_approvals.devstack.platform.approvers import Approvers, ApproversFileError, token_hash
from durable_approvals.models import ApprovalStatus, Decision, DecisionSource
from durable_approvals.platform_client import PlatformError
from durable_approvals.proof import canonical_statement, format_time, public_key_text, sign, verify
from durable_approvals.workflows.approval import ApprovalWorkflow
from durable_approvals.workflows.decision_rules import DecisionRules, Verdict
from durable_approvals.workflows.proof_check import UNVERIFIED, ProofCheck
from tests.helpers import (
    PLATFORM_TOKEN,
    WORKSPACE,
    approval_request,
    audit_records,
    eventually,
    finish,
    outcomes,
    platform_client,
    running_worker,
    settings_env,
    start,
    start_platform,
    wait_pending,
)
from tests.platform_faults import FaultyPlatform
from tests.test_cli import cli

AUTH = {"Authorization": f"Bearer {PLATFORM_TOKEN}"}

LIMIT = 90.0
BOB_TOKEN = "bob-approver-token-1"
CAROL_TOKEN = "carol-approver-token-2"
OUTSIDER_TOKEN = "dave-other-workspace-3"
HASH = "a" * 64
OTHER_HASH = "b" * 64
WHEN = datetime(2026, 11, 26, 14, 0, 0, 123456, tzinfo=UTC)


def approvers_yaml(workspace: str = WORKSPACE) -> str:
    return (
        "approvers:\n"
        f"  - name: Bob\n    token_sha256: {token_hash(BOB_TOKEN)}\n"
        f"  - name: Carol\n    token_sha256: {token_hash(CAROL_TOKEN)}\n"
        f"    workspaces: [{workspace}]\n"
        f"  - name: Dave\n    token_sha256: {token_hash(OUTSIDER_TOKEN)}\n"
        "    workspaces: [ws-elsewhere]\n"
    )


def statement(**overrides):
    fields = {
        "workspace_id": WORKSPACE,
        "approval_id": "ap-1",
        "approved": True,
        "decided_by": "Bob",
        "action_hash": HASH,
        "decided_at": WHEN,
    }
    fields.update(overrides)
    return canonical_statement(**fields)


# --- the proof itself ----------------------------------------------------------------


def test_the_statement_is_one_compact_json_array_in_a_fixed_order():
    assert (
        statement()
        == (
            '["durable-approvals/decision/v1","ws-test","ap-1","approved","Bob",'
            f'"{HASH}","2026-11-26T14:00:00.123456Z"]'
        ).encode()
    )
    assert b",null," in statement(action_hash=None)
    assert format_time(WHEN.astimezone()) == "2026-11-26T14:00:00.123456Z"


@pytest.mark.parametrize(
    "other",
    [
        {"workspace_id": "ws-other"},
        {"approval_id": "ap-2"},
        {"approved": False},
        {"decided_by": "Mallory"},
        {"action_hash": OTHER_HASH},
        {"action_hash": None},
        {"decided_at": WHEN.replace(microsecond=0)},
    ],
)
def test_a_proof_verifies_its_own_statement_and_no_other(other):
    key = Ed25519PrivateKey.generate()
    public = public_key_text(key)
    proof = sign(key, statement())
    assert verify(public, statement(), proof)
    assert not verify(public, statement(**other), proof)


@pytest.mark.parametrize(
    ("public", "proof"),
    [
        ("not base64!", "x"),
        (None, "AAAA"),  # filled in below: a real key, a signature of the wrong length
        (None, None),
        (None, ""),
        (None, "A" * 300),
        ("other-key", None),
    ],
)
def test_a_malformed_key_or_signature_is_not_valid_and_never_raises(public, proof):
    key = Ed25519PrivateKey.generate()
    good = sign(key, statement())
    public = public_key_text(key) if public is None else public
    if public == "other-key":
        public, proof = public_key_text(Ed25519PrivateKey.generate()), good
    assert not verify(public, statement(), proof)


def _decision(proof, **overrides):
    fields = {
        "approval_id": "ap-1",
        "approved": True,
        "decided_by": "Bob",
        "action_hash": HASH,
        "decided_at": WHEN,
        "proof": proof,
        "source": DecisionSource.WEBSOCKET,
    }
    fields.update(overrides)
    return Decision(**fields)


def test_the_rules_refuse_an_unproven_decision_when_proof_is_required_and_take_a_proven_one():
    key = Ed25519PrivateKey.generate()
    check = ProofCheck(WORKSPACE, public_key_text(key), required=True)
    rules = DecisionRules(requester="agent", approval_id="ap-1", verify=check)
    forged = _decision(sign(Ed25519PrivateKey.generate(), statement()))
    replayed = _decision(sign(key, statement(approval_id="ap-0")))
    other_decider = _decision(sign(key, statement()), decided_by="Carol")
    missing = _decision(None, decided_by="Erin")
    for decision in (forged, replayed, other_decider, missing):
        assert rules.offer(decision) is Verdict.REFUSED
    assert [r.because for r in rules.refusals] == [UNVERIFIED, UNVERIFIED, UNVERIFIED, UNVERIFIED]
    assert rules.offer(_decision(sign(key, statement()))) is Verdict.TAKEN


def test_without_the_policy_a_decision_is_taken_and_its_proof_only_noted():
    key = Ed25519PrivateKey.generate()
    check = ProofCheck(WORKSPACE, public_key_text(key), required=False)
    rules = DecisionRules(requester="agent", approval_id="ap-1", verify=check)
    assert rules.offer(_decision(None)) is Verdict.TAKEN
    assert check.verified(_decision(sign(key, statement())))
    assert not check.verified(_decision(None))
    assert not ProofCheck(WORKSPACE, None, required=True).verified(_decision("x"))


# --- the approvers file ----------------------------------------------------------------


def test_the_approvers_file_authenticates_by_token_hash():
    approvers = Approvers.parse(json.loads(json.dumps({"approvers": [
        {"name": "Bob", "token_sha256": token_hash(BOB_TOKEN)},
        {"name": "Carol", "token_sha256": token_hash(CAROL_TOKEN), "workspaces": ["ws-a"]},
    ]})))  # fmt: skip
    bob, carol = approvers.authenticate(BOB_TOKEN), approvers.authenticate(CAROL_TOKEN)
    assert bob is not None and bob.name == "Bob" and bob.may_decide_in("anything")
    assert carol is not None and carol.may_decide_in("ws-a") and not carol.may_decide_in("ws-b")
    for wrong in (None, "", "bob-approver-token", token_hash(BOB_TOKEN), "x" * 5000):
        assert approvers.authenticate(wrong) is None


# --- the platform ----------------------------------------------------------------------


@pytest.fixture
async def verified_platform(tmp_path):
    """A reference platform with approvers and a signing key (its public key at ``.pub``)."""
    (tmp_path / "approvers.yaml").write_text(approvers_yaml(), encoding="utf-8")
    server = FaultyPlatform(
        tmp_path / "platform.db",
        token=PLATFORM_TOKEN,  # approvers need a workspace token (issue 23)
        approvers=Approvers.load(tmp_path / "approvers.yaml"),
        signing_key_path=tmp_path / "keys" / "platform.key",
    )
    await server.start()
    yield server
    await server.stop()


async def _create(http: httpx.AsyncClient, workspace: str = WORKSPACE, **extra) -> str:
    body = {"action": "rotate the keys", "requester": "agent-7", **extra}
    response = await http.post(f"/workspaces/{workspace}/approvals", json=body)
    assert response.status_code == 201, response.text
    approval_id: str = response.json()["approval_id"]
    return approval_id


def _decide(http, approval_id, token=None, workspace=WORKSPACE, **body):
    headers = {"X-Approver-Token": token} if token else {}
    return http.post(
        f"/workspaces/{workspace}/approvals/{approval_id}/decide",
        json={"decision": "approved", **body},
        headers=headers,
    )


async def test_the_platform_takes_decided_by_from_the_credential_and_signs_it(
    verified_platform, tmp_path
):
    public = (tmp_path / "keys" / "platform.key.pub").read_text().strip()
    port = verified_platform.port
    async with (
        asyncio.timeout(LIMIT),
        httpx.AsyncClient(base_url=verified_platform.url, timeout=5.0, headers=AUTH) as http,
        connect(
            f"ws://127.0.0.1:{port}/ws?workspace={WORKSPACE}&token={PLATFORM_TOKEN}",
            open_timeout=5,
        ) as socket,
    ):
        approval_id = await _create(http)
        await socket.recv()  # APPROVAL_REQUESTED
        decided = await _decide(http, approval_id, BOB_TOKEN, comment="ok")
        item = (await http.get(f"/workspaces/{WORKSPACE}/approvals/{approval_id}")).json()
        event = json.loads(await socket.recv())

    assert decided.status_code == 200, decided.text
    assert item["decided_by"] == "Bob" and event["payload"]["decided_by"] == "Bob"
    assert event["payload"]["proof"] == item["proof"]
    assert event["payload"]["decided_at"] == item["decided_at"]
    signed = canonical_statement(
        workspace_id=WORKSPACE,
        approval_id=approval_id,
        approved=True,
        decided_by="Bob",
        action_hash=None,
        decided_at=datetime.fromisoformat(item["decided_at"].replace("Z", "+00:00")),
    )
    assert verify(public, signed, item["proof"])


@pytest.mark.parametrize(
    ("token", "body", "status", "reason"),
    [
        (None, {}, 401, "unknown approver"),
        ("wrong-token", {}, 401, "unknown approver"),
        (OUTSIDER_TOKEN, {}, 403, "workspace"),
        (BOB_TOKEN, {"decided_by": "Carol"}, 403, "decider-mismatch"),
    ],
)
async def test_the_platform_refuses_a_decision_without_the_right_credential(
    verified_platform, token, body, status, reason
):
    async with httpx.AsyncClient(base_url=verified_platform.url, timeout=5.0, headers=AUTH) as http:
        approval_id = await _create(http)
        refused = await _decide(http, approval_id, token, **body)
        item = (await http.get(f"/workspaces/{WORKSPACE}/approvals/{approval_id}")).json()
    assert refused.status_code == status and refused.json()["reason"] == reason
    assert (item["status"], item["decided_by"]) == ("pending", None)


async def test_a_body_decided_by_naming_the_approver_is_taken_as_the_files_name(
    verified_platform,
):
    async with httpx.AsyncClient(base_url=verified_platform.url, timeout=5.0, headers=AUTH) as http:
        approval_id = await _create(http)
        decided = await _decide(http, approval_id, CAROL_TOKEN, decided_by=" carol ")
        item = (await http.get(f"/workspaces/{WORKSPACE}/approvals/{approval_id}")).json()
    assert decided.status_code == 200 and item["decided_by"] == "Carol"


async def test_the_requester_is_refused_even_with_a_valid_credential(tmp_path):
    (tmp_path / "a.yaml").write_text(approvers_yaml(), encoding="utf-8")
    server = FaultyPlatform(
        tmp_path / "p.db", token=PLATFORM_TOKEN, approvers=Approvers.load(tmp_path / "a.yaml")
    )
    async with server, httpx.AsyncClient(base_url=server.url, timeout=5.0, headers=AUTH) as http:
        approval_id = await _create(http, requester="bob")
        refused = await _decide(http, approval_id, BOB_TOKEN)
    assert refused.status_code == 403 and refused.json()["reason"] == "self-approval"


def test_strict_mode_and_unsigned_names_refuse_the_identity_options(tmp_path):
    approvers = Approvers.parse({"approvers": [{"name": "B", "token_sha256": "0" * 64}]})
    with pytest.raises(ValueError, match="strict mode"):
        FaultyPlatform(tmp_path / "s.db", token=PLATFORM_TOKEN, strict=True, approvers=approvers)
    with pytest.raises(ValueError, match="needs an approvers file"):
        FaultyPlatform(tmp_path / "s.db", signing_key_path=tmp_path / "k")


def test_the_signing_key_is_kept_across_restarts_and_private(tmp_path):
    from durable_approvals.devstack.platform.approvers import load_signing_key

    path = tmp_path / "platform.key"
    first = public_key_text(load_signing_key(path))
    assert public_key_text(load_signing_key(path)) == first
    assert (path.stat().st_mode & 0o777) == 0o600
    assert (tmp_path / "platform.key.pub").read_text().strip() == first


def test_a_malformed_approvers_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "approvers.yaml"
    path.write_text("approvers:\n  - name: Bob\n    token: clear-text\n", encoding="utf-8")
    with pytest.raises(ApproversFileError, match="approvers file"):
        Approvers.load(path)


# --- the workflow ------------------------------------------------------------------------


@pytest.fixture
def verified_settings(verified_platform, settings, tmp_path):
    settings.rbac_config_path.write_text("require_verified_deciders: true\n", "utf-8")
    return settings.model_copy(
        update={
            "platform_url": verified_platform.url,
            "workspace_token": SecretStr(PLATFORM_TOKEN),
            "platform_verify_key": str(tmp_path / "keys" / "platform.key.pub"),
        }
    )


def test_a_forged_proof_first_refused_inside_the_sandbox_does_not_abort_the_worker():
    """cryptography imports its exceptions module when it first raises InvalidSignature;
    in a fresh process that happens inside the workflow sandbox, where a module not passed
    through aborted the process (a pyo3 panic). Run the forged-signals test alone."""
    selected = f"{__file__}::{FORGED_SIGNALS_TEST}"
    alone = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", selected],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert alone.returncode == 0, (alone.stdout + alone.stderr)[-3000:]
    assert "1 passed" in alone.stdout


FORGED_SIGNALS_TEST = "test_a_platform_decision_is_taken_verified_and_forged_signals_are_rejected"


async def test_a_platform_decision_is_taken_verified_and_forged_signals_are_rejected(
    dev_env, verified_settings
):
    settings = verified_settings
    async with running_worker(dev_env.client, settings) as task_queue:
        # An earlier approval, decided on the platform: its proof is replayed below.
        first = await start(dev_env.client, task_queue)
        first_id = await wait_pending(first)
        async with platform_client(settings) as api:
            await api.decide(first_id, approved=True, decided_by="", approver_token=BOB_TOKEN)
        done = await finish(first, "verified_decider_platform")
        item = await _item(settings, first_id)

        handle = await start(dev_env.client, task_queue)
        approval_id = await wait_pending(handle)
        at = datetime.fromisoformat(item["decided_at"].replace("Z", "+00:00"))
        forged = [
            # a signature by some other key
            Decision(
                approval_id=approval_id,
                approved=True,
                decided_by="Bob",
                decided_at=at,
                proof=sign(Ed25519PrivateKey.generate(), b"anything"),
            ),
            # the first approval's genuine proof, replayed for this one
            Decision(
                approval_id=approval_id,
                approved=True,
                decided_by="Bob",
                decided_at=at,
                proof=item["proof"],
            ),
            # no proof at all: a client's signal
            Decision(approval_id=approval_id, approved=True, decided_by="Mallory"),
        ]
        for decision in forged:
            await handle.signal(ApprovalWorkflow.decide, decision)
        await eventually(lambda: _count(settings, "rejected", 3))
        view = await handle.query(ApprovalWorkflow.status)
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=False, decided_by="", approver_token=CAROL_TOKEN)
        result = await finish(handle, "verified_decider_forged_signals")

    assert done.status is ApprovalStatus.GRANTED and done.decided_by == "Bob"
    assert (view.state.value, view.decision, view.rejected_decisions) == ("pending", None, 3)
    assert result.status is ApprovalStatus.DENIED and result.decided_by == "Carol"
    records = audit_records(settings)
    decided = [r for r in records if r["outcome"] in ("granted", "denied")]
    assert [(r["decided_by"], r.get("verified")) for r in decided] == [
        ("Bob", True),
        ("Carol", True),
    ]
    rejected = [r for r in records if r["outcome"] == "rejected"]
    assert [r["rejected_because"] for r in rejected] == ["unverified"] * 3
    assert {r["approval_id"] for r in rejected} == {approval_id}


async def test_a_proof_for_another_hash_is_rejected(dev_env, verified_settings):
    settings = verified_settings
    request = approval_request(action="pay", args={"amount": 10})
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, request)
        approval_id = await wait_pending(handle)
        async with platform_client(settings) as api:
            with pytest.raises(PlatformError) as mismatch:
                await api.decide(
                    approval_id,
                    approved=True,
                    decided_by="",
                    action_hash=OTHER_HASH,
                    approver_token=BOB_TOKEN,
                )
        # A signal naming another hash: the platform signed no such decision.
        item = await _item(settings, approval_id)
        await handle.signal(
            ApprovalWorkflow.decide,
            Decision(
                approval_id=approval_id,
                approved=True,
                decided_by="Bob",
                action_hash=OTHER_HASH,
                decided_at=datetime.now(UTC),
                proof=sign(Ed25519PrivateKey.generate(), b"x"),
            ),
        )
        await eventually(lambda: _count(settings, "rejected", 1))
        async with platform_client(settings) as api:
            await api.decide(
                approval_id,
                approved=True,
                decided_by="",
                action_hash=request.action_hash(),
                approver_token=BOB_TOKEN,
            )
        result = await finish(handle, "verified_decider_hash")
    assert mismatch.value.status_code == 409 and item["status"] == "pending"
    assert result.status is ApprovalStatus.GRANTED and result.action_hash == request.action_hash()
    assert [r["outcome"] for r in audit_records(settings)][-1] == "granted"


async def test_without_the_policy_an_unsigned_signal_is_taken_as_today(dev_env, verified_settings):
    settings = verified_settings
    settings.rbac_config_path.write_text("{}\n", "utf-8")
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue)
        approval_id = await wait_pending(handle)
        await handle.signal(
            ApprovalWorkflow.decide,
            Decision(approval_id=approval_id, approved=True, decided_by="Mallory"),
        )
        result = await finish(handle, "verified_decider_not_required")
    assert result.status is ApprovalStatus.GRANTED and result.decided_by == "Mallory"
    granted = audit_records(settings)[-1]
    assert granted["outcome"] == "granted" and "verified" not in granted


async def test_on_the_upstream_contract_a_workspace_requiring_proof_takes_no_decision(
    dev_env, settings, tmp_path
):
    """The documented limit: the upstream platform signs nothing, so every decision it
    brings is rejected as unverified and the request times out."""
    strict = await start_platform(tmp_path / "strict.db", "strict")
    key = Ed25519PrivateKey.generate()
    settings.rbac_config_path.write_text("require_verified_deciders: true\n", "utf-8")
    settings = settings.model_copy(
        update={
            "platform_url": strict.url,
            "workspace_token": SecretStr(PLATFORM_TOKEN),
            "platform_verify_key": public_key_text(key),
        }
    )
    try:
        async with running_worker(dev_env.client, settings) as task_queue:
            handle = await start(dev_env.client, task_queue, approval_request(timeout_seconds=4))
            approval_id = await wait_pending(handle)
            async with platform_client(settings) as api:
                await api.decide(approval_id, approved=True, decided_by="bob")
            result = await finish(handle, "verified_decider_strict")
    finally:
        await strict.stop()
    assert result.status is ApprovalStatus.TIMEOUT
    assert outcomes(settings)[0] == "requested" and "timeout" in outcomes(settings)
    rejected = [r for r in audit_records(settings) if r["outcome"] == "rejected"]
    assert rejected and rejected[0]["rejected_because"] == "unverified"


async def _item(settings, approval_id):
    async with httpx.AsyncClient(base_url=settings.platform_url, timeout=5.0, headers=AUTH) as http:
        response = await http.get(f"/workspaces/{WORKSPACE}/approvals/{approval_id}")
    return response.json()


async def _final(settings, approval_id):
    async with httpx.AsyncClient(base_url=settings.platform_url, timeout=5.0, headers=AUTH) as http:
        url = f"/workspaces/{WORKSPACE}/approvals/{approval_id}/decide"
        return await http.post(url, json={"decision": "denied", "decided_by": "Bob", "final": True})


async def _count(settings, outcome, n):
    return sum(1 for o in outcomes(settings) if o == outcome) >= n


async def test_the_cli_decides_with_the_approvers_credential_never_a_typed_name(
    dev_env, verified_settings, tmp_path
):
    settings = verified_settings
    async with running_worker(dev_env.client, settings) as task_queue:
        env = {**settings_env(dev_env.client, settings, task_queue), "APPROVER_TOKEN": BOB_TOKEN}
        handle = await start(dev_env.client, task_queue)
        approval_id = await wait_pending(handle)
        posing = await cli(env, "decide", approval_id, "--approve", "--by", "Carol")
        no_token = await cli(
            {k: v for k, v in env.items() if k != "APPROVER_TOKEN"}, "decide", approval_id,
            "--approve", "--by", "Bob",
        )  # fmt: skip
        token_file = tmp_path / "carol.token"
        token_file.write_text(CAROL_TOKEN + "\n", encoding="utf-8")
        without_env = {k: v for k, v in env.items() if k != "APPROVER_TOKEN"}
        decided = await cli(without_env, "decide", approval_id, "--deny", "--token-file",
                            str(token_file))  # fmt: skip
        result = await finish(handle, "verified_decider_cli")

    assert posing == (3, f"refused {approval_id}: decider-mismatch\n", "")
    assert no_token[0] == 2 and "unauthorized" in no_token[2]
    assert decided[0] == 0, decided
    assert CAROL_TOKEN not in decided[1] + decided[2]
    assert result.status is ApprovalStatus.DENIED and result.decided_by == "Carol"
    assert audit_records(settings)[-1].get("verified") is True


async def test_votes_through_the_platform_count_verified_and_a_forged_vote_does_not(
    dev_env, verified_settings
):
    settings = verified_settings
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, approval_request(approvals_required=2))
        approval_id = await wait_pending(handle)
        await handle.signal(
            ApprovalWorkflow.decide,
            Decision(approval_id=approval_id, approved=True, decided_by="Mallory"),
        )
        await eventually(lambda: _count(settings, "rejected", 1))
        async with platform_client(settings) as api:
            await api.decide(approval_id, approved=True, decided_by="", approver_token=BOB_TOKEN)
            await eventually(lambda: _count(settings, "voted", 1))
            await api.decide(approval_id, approved=True, decided_by="", approver_token=CAROL_TOKEN)
        result = await finish(handle, "verified_decider_votes")
        forged_final = await _final(settings, approval_id)
    assert result.status is ApprovalStatus.GRANTED and result.approvers == ["Bob", "Carol"]
    records = audit_records(settings)
    assert [r["rejected_because"] for r in records if r["outcome"] == "rejected"] == [UNVERIFIED]
    granted = records[-1] if records[-1]["outcome"] == "granted" else records[-2]
    assert granted["verified"] is True
    # The worker's write-back of the outcome closes the item as Carol's counted vote.
    assert granted["recorded_on_platform"] is True
    item = await _item(settings, approval_id)
    assert (item["status"], item["decided_by"]) == ("approved", "Carol")
    # No stored denial by Bob: a final closes a vote item only as its stored votes decide it.
    assert forged_final.status_code == 409


async def test_votes_on_a_request_with_args_are_signed_over_their_hash_and_verified(
    dev_env, verified_settings
):
    """Args with N-of-M: the platform signs each vote's ``action_hash`` into its proof,
    so a vote that names the hash is both bound and verified."""
    from durable_approvals.action_hash import action_hash

    settings = verified_settings
    args = {"db": "staging"}
    request = approval_request(approvals_required=2, args=args)
    hashed = action_hash(WORKSPACE, request.action, args)
    async with running_worker(dev_env.client, settings) as task_queue:
        handle = await start(dev_env.client, task_queue, request)
        approval_id = await wait_pending(handle)
        async with platform_client(settings) as api:
            for token in (BOB_TOKEN, CAROL_TOKEN):
                await api.decide(
                    approval_id,
                    approved=True,
                    decided_by="",
                    action_hash=hashed,
                    approver_token=token,
                )
        result = await finish(handle, "verified_decider_votes_with_args")
    # Both votes are on the platform before either reaches the workflow: the listener may
    # deliver them in either order.
    assert result.status is ApprovalStatus.GRANTED
    assert sorted(result.approvers or []) == ["Bob", "Carol"]
    assert result.covers(request.action, args)
    records = audit_records(settings)
    assert [r["outcome"] for r in records if r["outcome"] == "rejected"] == []
    granted = [r for r in records if r["outcome"] == "granted"]
    assert granted and granted[0]["verified"] is True
