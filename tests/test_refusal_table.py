"""Every surface answers a refusal the same way, on both platform modes (docs/deciding.md):
each refusal reason x each surface (the ``approvals decide`` CLI as a real process, the
Python API ``durable_approvals.client.decide`` given the platform, as the CLI is) x each
platform mode. The CLI prints ``refused <id>: <reason>`` and exits 3; the Python API
answers a refused ``DecisionVerdict`` with the same reason; a repeat is accepted (exit 0).

The reference platform answers through its decide route (403, 404, 409 mapped to the
workflow's words); the upstream contract (strict) through the workflow's update.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio.client import Client

from durable_approvals.action_hash import action_hash
from durable_approvals.client import decide
from durable_approvals.models import ApprovalRequest, Ballot, DecisionVerdict, VerdictOutcome
from durable_approvals.settings import Settings
from tests.helpers import (
    WORKSPACE,
    approval_request,
    finish,
    platform_client,
    running_worker,
    start,
    wait_pending,
)
from tests.test_cli import cli, cli_env
from tests.test_decide_update import known
from tests.test_verified_deciders import (  # noqa: F401 (fixtures)
    verified_platform,
    verified_settings,
)

pytestmark = pytest.mark.platform_modes("reference", "strict")

REQUESTER = "agent-7"
GROUPS = "approver_groups:\n  prod-admins: [alice, bob, agent-7]\n"
ACTION = "Drop the staging database"
ARGS = {"db": "staging", "dry_run": False}
SCHEMA = {
    "type": "object",
    "properties": {"db": {"type": "string", "enum": ["staging"]}, "dry_run": {"type": "boolean"}},
}
REFUSED, TAKEN = 3, 0


@dataclass(frozen=True)
class Case:
    """A request, what happens to it first, the decision under test, and its answer."""

    reason: str
    request: dict[str, Any]
    by: str = "alice"
    approve: bool = True
    vote: bool = False
    """CLI ``--vote``: by the workflow's update whatever the platform serves."""
    edit: dict[str, Any] | None = None
    action_hash: str | None = None
    bind: bool = True
    """Python only: ``bind_to_request`` (the CLI always names the hash it reads)."""
    first: tuple[str, bool] | None = None
    """A decision (by, approved) the approval takes first, and ends with."""
    expire: bool = False
    """The request times out first."""
    cli: bool = True
    accepted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


ONE = {"requester": REQUESTER}
GROUP = {"requester": REQUESTER, "approvals_required": 2, "approver_group": "prod-admins"}
WITH_ARGS = {"requester": REQUESTER, "action": ACTION, "args": ARGS, "args_schema": SCHEMA}
VOTE_WITH_ARGS = {"requester": REQUESTER, "action": ACTION, "args": ARGS, "approvals_required": 2}

CASES = {
    "self-approval": Case("self-approval", ONE, by="Agent-7"),
    "not in approver group": Case("not in approver group", GROUP, by="mallory", vote=True),
    # Not an approver of the vote item: the reference platform's 403, the update on strict.
    "not an approver": Case("not in approver group", GROUP, by="mallory"),
    "already decided differently": Case("conflicting", ONE, first=("bob", False)),
    "already decided the same": Case(
        "repeated", ONE, by="bob", approve=False, first=("bob", False), accepted=True
    ),
    "hash-mismatch": Case(
        "hash-mismatch",
        WITH_ARGS,
        action_hash=action_hash(WORKSPACE, ACTION, {"db": "prod"}),
        cli=False,
    ),
    "hash-missing": Case("hash-missing", WITH_ARGS, bind=False, cli=False),
    "edit-invalid": Case("edit-invalid", WITH_ARGS, edit={"db": "prod"}),
    "edits-need-one-decider": Case(
        "edits-need-one-decider", VOTE_WITH_ARGS, edit={"dry_run": True}
    ),
    "late": Case("late", {**ONE, "timeout_seconds": 2}, expire=True),
}

Surface = Callable[[Case, str], Awaitable[tuple[int, str, str]]]


def _python_ballot(case: Case, approval_id: str) -> Ballot:
    return Ballot(
        approval_id=approval_id,
        approved=case.approve,
        decided_by=case.by,
        edit=case.edit,
        action_hash=case.action_hash,
        bind_to_request=case.bind,
        by_update=case.vote,
    )


def _as_cli(verdict: DecisionVerdict, approve: bool) -> tuple[int, str, str]:
    """The Python verdict in the CLI's terms, so both surfaces compare to one expectation."""
    if not verdict.accepted:
        return REFUSED, f"refused {verdict.approval_id}: {verdict.reason}\n", ""
    word = "approved" if approve else "denied"
    return TAKEN, f"{word} {verdict.approval_id}: {verdict.outcome.value}\n", ""


async def _first_decision(client: Client, settings: Settings, approval_id: str, case: Case):
    assert case.first is not None
    by, approved = case.first
    verdict = await decide(client, settings, approval_id, approved=approved, decided_by=by)
    assert verdict.outcome is VerdictOutcome.TAKEN, verdict


def _expected(case: Case, approval_id: str) -> tuple[int, str, str]:
    if case.accepted:
        word = "approved" if case.approve else "denied"
        return TAKEN, f"{word} {approval_id}: {case.reason}\n", ""
    return REFUSED, f"refused {approval_id}: {case.reason}\n", ""


@pytest.mark.parametrize("surface", ["cli", "python"])
@pytest.mark.parametrize("name", list(CASES))
async def test_a_refusal_reads_the_same_on_every_surface(
    dev_env, settings, platform, surface: str, name: str
):
    case = CASES[name]
    if surface == "cli" and not case.cli:
        pytest.skip("the CLI always names the hash it reads: it cannot send this one")
    settings.rbac_config_path.write_text(GROUPS, encoding="utf-8")
    client = dev_env.client
    async with asyncio.timeout(120), running_worker(client, settings) as task_queue:
        ours = settings.model_copy(update={"temporal_task_queue": task_queue})
        request: ApprovalRequest = approval_request(**case.request)
        handle = await start(client, task_queue, request)
        approval_id = await wait_pending(handle)
        await known(client, ours, approval_id)
        if case.first is not None:
            await _first_decision(client, ours, approval_id, case)
        if case.first is not None or case.expire:
            await finish(handle, f"refusal_{name}")
        if surface == "cli":
            argv = ["decide", approval_id, "--approve" if case.approve else "--deny"]
            argv += ["--by", case.by]
            if case.edit is not None:
                argv += ["--edit", json.dumps(case.edit)]
            if case.vote:
                argv.append("--vote")
            answer = await cli(cli_env(dev_env, settings, task_queue), *argv)
        else:
            async with platform_client(ours) as api:
                verdict = await decide(
                    client,
                    ours,
                    approval_id,
                    approved=case.approve,
                    decided_by=case.by,
                    ballot=_python_ballot(case, approval_id),
                    platform=api,
                )
            answer = _as_cli(verdict, case.approve)

    assert answer == _expected(case, approval_id)


@pytest.mark.reference_only("verified deciders need the reference platform's approvers file")
@pytest.mark.parametrize("surface", ["cli", "python"])
async def test_a_decision_without_proof_reads_the_same_on_every_surface(
    dev_env,
    verified_settings,  # noqa: F811
    surface: str,
):
    """Where deciders must be verified, a decision by the workflow's update carries no
    platform proof: refused ``unverified`` in the same words on both surfaces."""
    client = dev_env.client
    async with asyncio.timeout(120), running_worker(client, verified_settings) as task_queue:
        ours = verified_settings.model_copy(update={"temporal_task_queue": task_queue})
        handle = await start(client, task_queue, approval_request(requester=REQUESTER))
        approval_id = await wait_pending(handle)
        await known(client, ours, approval_id)
        if surface == "cli":
            env = cli_env(dev_env, verified_settings, task_queue)
            answer = await cli(env, "decide", approval_id, "--approve", "--by", "bob", "--vote")
        else:
            verdict = await decide(client, ours, approval_id, approved=True, decided_by="bob")
            answer = _as_cli(verdict, approve=True)
        await handle.terminate("the table row is read")

    assert answer == (REFUSED, f"refused {approval_id}: unverified\n", "")
