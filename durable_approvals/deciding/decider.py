"""One path for a decision: find where the approval waits, bind the decision to the
request's action hash, choose the route from what the platform serves, answer a verdict.

docs/deciding.md: every surface (CLI, Python API, tools) decides through ``Decider``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client, WorkflowHandle

from durable_approvals.deciding import update_route
from durable_approvals.deciding.bind import bound_decision
from durable_approvals.deciding.capabilities import REFERENCE, PlatformCapabilities
from durable_approvals.deciding.errors import TemporalUnreachableError, UnknownApprovalError
from durable_approvals.deciding.finding import VISIBILITY_WAIT_SECONDS, find_workflow
from durable_approvals.deciding.platform_route import decide_on_platform
from durable_approvals.deciding.verdicts import UNKNOWN_APPROVAL, refused
from durable_approvals.models import (
    STATUS_QUERY,
    ApprovalResult,
    ApprovalStatusView,
    Ballot,
    Decision,
    DecisionSource,
    DecisionVerdict,
)
from durable_approvals.platform_client import PlatformClient
from durable_approvals.settings import Settings

TemporalSource = Callable[[], Awaitable[Client]]
"""How the decider gets a Temporal client, when a route needs one (connected lazily)."""

NOT_BOUND_WITHOUT_TEMPORAL = (
    "the decision was not sent: on this platform (the upstream contract) only the "
    "approval's workflow can bind it to the request's args and answer it"
)


def _given(client: Client) -> TemporalSource:
    async def source() -> Client:
        return client

    return source


@dataclass
class Decider:
    """Decides approvals of one deployment (``settings``): through ``platform``'s decide
    route where the platform answers for the workflow, else through the workflow's
    ``decide_update``. Without a platform every decision goes by the update."""

    settings: Settings
    temporal: TemporalSource
    platform: PlatformClient | None = None
    timeout: float = update_route.DECIDE_TIMEOUT_SECONDS
    visibility_wait: float = VISIBILITY_WAIT_SECONDS
    _capabilities: PlatformCapabilities | None = field(default=None, repr=False)
    _client: Client | None = field(default=None, repr=False)

    @classmethod
    def with_client(cls, client: Client, settings: Settings, **options: Any) -> Decider:
        """A decider over a connected Temporal ``client`` (no platform: by update only)."""
        return cls(settings=settings, temporal=_given(client), **options)

    @property
    def capabilities(self) -> PlatformCapabilities | None:
        """What the platform serves, once learned (``None`` before, or without a platform)."""
        return self._capabilities

    async def decide(self, ballot: Ballot) -> DecisionVerdict:
        """The verdict on ``ballot``: taken, counted, repeated, or refused with the rule's
        reason (``unknown approval`` for an id no workflow of this deployment has).

        Raises:
            UnknownApprovalError: the platform's route knows no such approval.
            TemporalUnreachableError: the route needs Temporal and it cannot be reached
                (on the upstream contract the decision is then not sent at all).
            DecisionTimeoutError: no worker answered the update in time.
            PlatformError: the platform failed (unreachable, 401, a bad request).
            ValueError: an edit the request's args cannot take.
        """
        if self.platform is not None and not ballot.by_update and self._may_answer():
            item = await self.platform.get_approval(ballot.approval_id)
            if self._capabilities is None:
                # A 404 with the platform's error text is the [ext] route answering too.
                self._capabilities = PlatformCapabilities.learned(self.platform) or REFERENCE
            if self._capabilities.answers_for_the_workflow:
                if item is None:
                    raise UnknownApprovalError(f"unknown approval id {ballot.approval_id}")
                return await decide_on_platform(
                    self.platform, ballot, item, self.settings.workspace_id
                )
        try:
            client = await self._temporal()
        except TemporalUnreachableError as error:
            if self.platform is None or ballot.by_update:
                raise
            raise TemporalUnreachableError(f"{error}; {NOT_BOUND_WITHOUT_TEMPORAL}") from error
        return await self._by_update(client, ballot)

    def _may_answer(self) -> bool:
        """Whether the platform may answer for the workflow: yes, or not learned yet."""
        return self._capabilities is None or self._capabilities.answers_for_the_workflow

    async def _temporal(self) -> Client:
        if self._client is None:
            self._client = await self.temporal()
        return self._client

    async def _by_update(self, client: Client, ballot: Ballot) -> DecisionVerdict:
        if not ballot.decided_by.strip():
            raise ValueError(
                "decided_by: a decision sent to the workflow names who decides "
                "(it carries no approver credential)"
            )
        found = await find_workflow(
            client,
            self.settings.temporal_task_queue,
            self.settings.workspace_id,
            ballot.approval_id,
            wait=self.visibility_wait,
        )
        if found is None:
            return refused(ballot.approval_id, UNKNOWN_APPROVAL)
        if not found.running:
            return await update_route.ended_verdict(found.handle, _unbound(ballot))
        decision = await self._bound(found.handle, ballot)
        return await update_route.send(found.handle, decision, timeout=self.timeout)

    async def _bound(self, handle: WorkflowHandle[Any, ApprovalResult], ballot: Ballot) -> Decision:
        """``ballot`` naming the hash of what it decides: the caller's, or that of the args
        the workflow's status query reports (edited by ``ballot.edit``)."""
        if ballot.action_hash is not None or not (ballot.bind_to_request or ballot.edit):
            return _unbound(ballot)
        view: ApprovalStatusView = await handle.query(STATUS_QUERY, result_type=ApprovalStatusView)
        if view.args is None and ballot.edit is None:
            return _unbound(ballot)
        return bound_decision(
            workspace_id=self.settings.workspace_id,
            action=view.action or "",
            args=view.args,
            approval_id=ballot.approval_id,
            approved=ballot.approved,
            decided_by=ballot.decided_by,
            comment=ballot.comment,
            edit=ballot.edit,
        )


def _unbound(ballot: Ballot) -> Decision:
    """``ballot`` as it is: with the hash (and edited args) its caller named, if any."""
    return Decision(
        approval_id=ballot.approval_id,
        approved=ballot.approved,
        decided_by=ballot.decided_by,
        comment=ballot.comment,
        source=DecisionSource.CLIENT,
        action_hash=ballot.action_hash,
        edited_args=ballot.edited_args,
    )


__all__ = ["NOT_BOUND_WITHOUT_TEMPORAL", "Decider", "TemporalSource"]
