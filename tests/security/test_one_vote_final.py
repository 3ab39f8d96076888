"""Door 2 (issue 23): a two-approver request cannot be closed on the platform with one vote.
A ``final`` closes a vote item only when the stored votes decide it, is never signed as a
person's decision, and a vote's proof is no decision's proof (durable_approvals/proof.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from durable_approvals.devstack.platform.approvers import Approvers, token_hash
from durable_approvals.devstack.platform.server import PlatformServer
from durable_approvals.models import Decision
from durable_approvals.proof import canonical_statement, verify
from durable_approvals.workflows.proof_check import ProofCheck
from tests.helpers import PLATFORM_TOKEN

WORKSPACE = "ws-final"
TOKENS = {"alice": "alice-secret-1", "bob": "bob-secret-2"}


@pytest.fixture
async def verified(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A platform with approvers and a signing key; a client holding the workspace token
    (the worker's credential) and the platform's public key."""
    entries = "".join(
        f"  - {{name: {name}, token_sha256: {token_hash(token)}}}\n"
        for name, token in TOKENS.items()
    )
    (tmp_path / "approvers.yaml").write_text(f"approvers:\n{entries}", encoding="utf-8")
    server = PlatformServer(
        tmp_path / "p.db",
        token=PLATFORM_TOKEN,
        approvers=Approvers.load(tmp_path / "approvers.yaml"),
        signing_key_path=tmp_path / "platform.key",
    )
    auth = {"Authorization": f"Bearer {PLATFORM_TOKEN}"}
    async with server, httpx.AsyncClient(base_url=server.url, headers=auth, timeout=5) as http:
        yield http, (tmp_path / "platform.key.pub").read_text().strip()


async def _vote_item(http: httpx.AsyncClient) -> str:
    body = {"action": "drop prod", "approvals_required": 2, "requester": "agent"}
    created = await http.post(f"/workspaces/{WORKSPACE}/approvals", json=body)
    approval_id: str = created.json()["approval_id"]
    return approval_id


async def _decide(
    http: httpx.AsyncClient, approval_id: str, approver: str | None = None, **body: Any
) -> httpx.Response:
    headers = {"X-Approver-Token": TOKENS[approver]} if approver else {}
    url = f"/workspaces/{WORKSPACE}/approvals/{approval_id}/decide"
    return await http.post(url, json={"decision": "approved", **body}, headers=headers)


async def _item(http: httpx.AsyncClient, approval_id: str) -> dict[str, Any]:
    item: dict[str, Any] = (
        await http.get(f"/workspaces/{WORKSPACE}/approvals/{approval_id}")
    ).json()
    return item


async def test_one_vote_and_a_final_close_nothing_and_the_second_vote_still_counts(
    verified: tuple[httpx.AsyncClient, str],
) -> None:
    http, _ = verified
    approval_id = await _vote_item(http)
    assert (await _decide(http, approval_id, "alice")).json()["votes"] == 1
    forged = await _decide(http, approval_id, decided_by="alice", final=True)
    assert (forged.status_code, forged.json()["reason"]) == (409, "votes-missing")
    assert (await _item(http, approval_id))["status"] == "pending"
    second = await _decide(http, approval_id, "bob")
    assert (second.status_code, second.json()["votes"]) == (200, 2)
    closed = await _decide(http, approval_id, decided_by="bob", final=True)
    assert closed.json() == {"status": "approved", "approval_id": approval_id}


async def test_the_final_is_unsigned_and_votes_sign_a_statement_of_their_own(
    verified: tuple[httpx.AsyncClient, str],
) -> None:
    http, public_key = verified
    approval_id = await _vote_item(http)
    await _decide(http, approval_id, "alice")
    await _decide(http, approval_id, "bob")
    await _decide(http, approval_id, decided_by="bob", final=True)
    item = await _item(http, approval_id)

    assert (item["status"], item["decided_by"], item.get("proof")) == ("approved", "bob", None)
    for vote in item["votes"]:
        fields = {
            "workspace_id": WORKSPACE,
            "approval_id": approval_id,
            "approved": True,
            "decided_by": vote["decided_by"],
            "action_hash": None,
            "decided_at": datetime.fromisoformat(vote["decided_at"].replace("Z", "+00:00")),
        }
        as_vote = canonical_statement(**fields, vote=True)
        as_decision = canonical_statement(**fields)
        assert verify(public_key, as_vote, vote["proof"])
        assert not verify(public_key, as_decision, vote["proof"])
        decision = Decision(
            approval_id=approval_id,
            approved=True,
            decided_by=vote["decided_by"],
            decided_at=fields["decided_at"],
            proof=vote["proof"],
        )
        check = ProofCheck(workspace_id=WORKSPACE, verify_key=public_key, required=True)
        assert replace(check, votes=True).verified(decision)
        assert not replace(check, votes=False).verified(decision)
