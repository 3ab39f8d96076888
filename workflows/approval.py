"""ApprovalWorkflow: ask a human, wait durably, answer once.

Lifecycle: RBAC check → create the request on the platform → audit
``requested`` → wait for the first of a decision (listener, poller or a
``decide`` signal), the durable timer, or cancellation → expire the request if
nobody decided → audit the outcome → return the result.

The requester never decides their own request: such a decision, from any path,
is refused, audited as ``rejected`` at once, and the wait goes on.

Deterministic: every clock, id and I/O goes through ``workflow.*`` APIs and
activities. Changing the order or kind of commands breaks running workflows:
guard such changes with ``workflow.patched`` and keep the replay test green.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.audit import AuditActivities
    from activities.platform_http import PlatformHttpActivities
    from activities.platform_ws import PlatformWebSocketActivities
    from activities.rbac import RbacActivities
    from approvals.identity import SELF_APPROVAL, is_self_decision
    from approvals.models import (
        ApprovalRequest,
        ApprovalResult,
        ApprovalState,
        ApprovalStatus,
        ApprovalStatusView,
        AuditEntry,
        AuditOutcome,
        CreateApprovalInput,
        CreatedApproval,
        Decision,
        DecisionSource,
        ExpireApprovalInput,
        ExpireOutcome,
        PermissionCheck,
        PermissionVerdict,
        RecordDecisionInput,
        WaitForDecisionInput,
        WebSocketMode,
    )
    from workflows import activity_options as options

DENIED_MESSAGE = "Denied by human"
LOCAL_AUDIT_PATCH = "audit-as-local-activity"
"""Histories recorded before this patch wrote audit records with regular activities."""
NO_FALLBACK_AFTER_CLOSE_PATCH = "no-poller-after-the-wait-ends"
"""Before this patch the listener's cancellation at the end of the wait started a poller."""
RECORD_CLIENT_DECISION_PATCH = "record-client-decision-on-platform"
"""Before this patch a decision sent by signal left the platform request pending."""
CANCEL_DURING_CREATE_PATCH = "expire-when-cancelled-during-create"
"""Before this patch a cancellation during the create left the platform request pending."""
SELF_APPROVAL_PATCH = "refuse-self-approval"
"""Runs recorded before this patch took a decision by the requester like any other."""


def _failure_message(error: ActivityError) -> str:
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause or error)


@workflow.defn
class ApprovalWorkflow:
    @workflow.init
    def __init__(self, request: ApprovalRequest) -> None:
        self._request = request
        self._trace_id = request.trace_id or str(workflow.uuid4())
        self._state = ApprovalState.CHECKING
        self._approval_id: str | None = None
        self._deadline: datetime | None = None
        self._decision: Decision | None = None
        self._closed = False
        self._rejected: list[tuple[Decision, str]] = []
        self._rejected_audited = 0
        self._waiting_via: str | None = None
        self._requested_audited = False

    @workflow.run
    async def run(self, request: ApprovalRequest) -> ApprovalResult:
        verdict: PermissionVerdict = await workflow.execute_activity_method(
            RbacActivities.check_permission,
            PermissionCheck(workspace_id=request.workspace_id),
            **options.RBAC,
        )
        if not verdict.allowed:
            await self._audit(
                "rbac-deny",
                event_type="rbac",
                action="rbac.deny",
                outcome="denied",
                attempted_action="approve",
                roles=verdict.roles,
            )
            return self._finish(
                ApprovalStatus.RBAC_DENIED,
                error="RBAC: this workspace does not have the 'approve' permission. "
                f"Current roles: {verdict.roles}",
            )

        try:
            created = await self._create(
                CreateApprovalInput(
                    workspace_id=request.workspace_id,
                    action=request.action,
                    reason=request.reason,
                    task_id=request.task_id,
                    idempotency_key=f"{workflow.info().workflow_id}/{workflow.info().run_id}",
                    requester=request.requester,
                    timeout_seconds=request.timeout_seconds,
                )
            )
        except ActivityError as error:
            message = _failure_message(error)
            await self._audit(
                "submit-failed", outcome=AuditOutcome.FAILURE, reason="submit_failed", error=message
            )
            return self._finish(ApprovalStatus.FAILURE, error=message)

        approval_id = self._approval_id = created.approval_id
        self._deadline = workflow.now() + timedelta(seconds=request.timeout_seconds)
        self._state = ApprovalState.PENDING
        waiter = asyncio.create_task(self._wait_on_platform(approval_id))
        try:
            # Inside the try: a cancellation that lands while this record is being
            # written must still expire the request on the platform.
            await self._audit_requested(approval_id)
            await self._wait_for_decision(self._deadline)
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            waiter.cancel()
            await self._close_as_cancelled(approval_id)
            raise
        self._closed = True
        waiter.cancel()

        if self._decision is None:
            adopted = await self._expire(approval_id, "timeout")
            if adopted is not None and not self._refused_as_self_approval(adopted):
                self._decision = adopted
        if self._decision is None:
            await self._audit(
                "timeout",
                outcome=AuditOutcome.TIMEOUT,
                approval_id=approval_id,
                timeout_seconds=request.timeout_seconds,
            )
            await self._audit_rejected()
            return self._finish(
                ApprovalStatus.TIMEOUT,
                error=f"Timed out after {request.timeout_seconds}s waiting for human decision",
            )

        decision = self._decision
        self._state = ApprovalState.DECIDED
        on_platform = await self._record_client_decision(decision)
        await self._audit(
            "decided",
            outcome=AuditOutcome.GRANTED if decision.approved else AuditOutcome.DENIED,
            actor=decision.decided_by,
            approval_id=approval_id,
            decided_by=decision.decided_by,
            comment=decision.comment,
            via=decision.source.value,
            recorded_on_platform=on_platform,
        )
        await self._audit_rejected()
        return self._finish(
            ApprovalStatus.GRANTED if decision.approved else ApprovalStatus.DENIED,
            decided_by=decision.decided_by,
            message=None if decision.approved else DENIED_MESSAGE,
            comment=decision.comment,
            decided_at=decision.decided_at,
        )

    @workflow.signal
    def decide(self, decision: Decision) -> None:
        """Offer a decision; the first one for this approval wins, later ones are audited.

        One by the requester is refused and audited (``rejected_because``
        ``self-approval``): someone else must look at the action.
        """
        self._offer(decision)

    @workflow.query
    def status(self) -> ApprovalStatusView:
        return ApprovalStatusView(
            state=self._state,
            approval_id=self._approval_id,
            deadline=self._deadline,
            trace_id=self._trace_id,
            decision=self._decision,
            waiting_via=self._waiting_via,
            rejected_decisions=len(self._rejected),
        )

    def _offer(self, decision: Decision) -> None:
        if decision.approval_id != self._approval_id:
            self._rejected.append((decision, "unknown approval"))
        elif self._decision is not None and self._decision.same_answer(decision):
            return  # the same decision seen twice (socket and poller, or a retried signal)
        elif self._refused_as_self_approval(decision):
            return
        elif self._closed:
            self._rejected.append((decision, "late"))
        elif self._decision is not None:
            self._rejected.append((decision, "conflicting"))
        else:
            self._decision = decision

    async def _create(self, create_input: CreateApprovalInput) -> CreatedApproval:
        """Create the request; a cancellation meanwhile still closes what the POST made.

        The POST may already have reached the platform when the workflow is
        cancelled: left alone, that request would stay pending in the inbox
        forever, with no audit record. So the create is shielded, allowed to
        finish, and its request expired and audited before the cancellation
        goes on.
        """
        if not self._create_is_shielded():
            created: CreatedApproval = await workflow.execute_activity_method(
                PlatformHttpActivities.create_approval, create_input, **options.CREATE
            )
            return created
        creating = workflow.start_activity_method(
            PlatformHttpActivities.create_approval, create_input, **options.CREATE
        )
        try:
            return await asyncio.shield(creating)
        except asyncio.CancelledError as cancelled:
            try:
                made = await creating
            except ActivityError:
                raise cancelled from None  # nothing was created: just end cancelled
            self._approval_id = made.approval_id
            await self._close_as_cancelled(made.approval_id)
            raise

    async def _close_as_cancelled(self, approval_id: str) -> None:
        """Expire and audit the request of a cancelled workflow; the caller re-raises."""
        self._closed = True
        if not self._requested_audited:
            await self._audit_requested(approval_id)  # same event_id: written once
        await self._expire(approval_id, "cancelled")
        await self._audit("cancelled", outcome=AuditOutcome.CANCELLED, approval_id=approval_id)
        await self._audit_rejected()
        self._state = ApprovalState.CLOSED

    async def _record_client_decision(self, decision: Decision) -> bool | None:
        """Write a decision that came by signal to the platform (best effort).

        Decisions that came from the platform are already there. ``None`` when
        nothing was tried; the patch is asked only for client decisions, so
        runs decided on the platform record no marker.
        """
        if decision.source is not DecisionSource.CLIENT:
            return None
        if not self._records_client_decisions():
            return None
        try:
            recorded: bool = await workflow.execute_activity_method(
                PlatformHttpActivities.record_decision,
                RecordDecisionInput(workspace_id=self._request.workspace_id, decision=decision),
                **options.EXPIRE,
            )
        except ActivityError as error:
            workflow.logger.warning("could not record the decision on the platform: %s", error)
            return False
        return recorded

    def _waits_no_more_once_closed(self) -> bool:
        """Runs from before the patch replay as they ran: with a poller started (and
        abandoned) after the listener was cancelled at the end of the wait."""
        return workflow.patched(NO_FALLBACK_AFTER_CLOSE_PATCH)

    def _records_client_decisions(self) -> bool:
        """Runs from before the patch replay as they ran: without the platform write."""
        return workflow.patched(RECORD_CLIENT_DECISION_PATCH)

    def _create_is_shielded(self) -> bool:
        """Runs from before the patch replay as they ran: the create cancelled with them."""
        return workflow.patched(CANCEL_DURING_CREATE_PATCH)

    def _refused_as_self_approval(self, decision: Decision) -> bool:
        """Refuse (and keep for the audit) a decision by the requester; True if refused.

        ``workflow.patched`` is asked only when the decider is the requester, so
        runs that never meet one record no marker; runs recorded before the patch
        replay taking it. The same refused answer seen again (socket, then the
        platform's reply to the expiry) is one attempt, audited once.
        """
        if not is_self_decision(self._request.requester, decision.decided_by):
            return False
        if not workflow.patched(SELF_APPROVAL_PATCH):
            return False
        seen = any(
            why == SELF_APPROVAL and earlier.same_answer(decision)
            for earlier, why in self._rejected
        )
        if not seen:
            self._rejected.append((decision, SELF_APPROVAL))
        return True

    def _self_approval_unaudited(self) -> bool:
        return any(why == SELF_APPROVAL for _, why in self._rejected[self._rejected_audited :])

    async def _wait_for_decision(self, deadline: datetime) -> None:
        """Return once a decision is taken; ``TimeoutError`` at ``deadline``.

        A refused self-approval wakes the wait so that the attempt is in the audit
        trail now rather than when the workflow ends, days later perhaps; the
        deadline does not move. Only a patched run has such refusals, so runs
        recorded before the patch wait exactly once, as they did.
        """
        while True:
            await workflow.wait_condition(
                lambda: self._decision is not None or self._self_approval_unaudited(),
                timeout=max(deadline - workflow.now(), timedelta(0)),
            )
            if self._decision is not None:
                return
            await self._audit_rejected()

    async def _wait_on_platform(self, approval_id: str) -> None:
        """Listen on the socket; when it fails for good (or is off), poll instead."""
        request = self._request
        wait_input = WaitForDecisionInput(
            workspace_id=request.workspace_id,
            approval_id=approval_id,
            poll_interval_seconds=request.poll_interval_seconds,
        )
        wait_options = options.waiting(request.timeout_seconds, request.heartbeat_timeout_seconds)
        if request.websocket is not WebSocketMode.FALSE:
            self._waiting_via = "websocket"
            try:
                decision: Decision = await workflow.execute_activity_method(
                    PlatformWebSocketActivities.listen_for_decision, wait_input, **wait_options
                )
                self._offer_from_platform(decision)
                return
            except ActivityError as error:
                if self._closed and self._waits_no_more_once_closed():
                    return  # cancelled because the wait is over, not a failed socket
                workflow.logger.warning("listener gave up, polling instead: %s", error)
        self._waiting_via = "polling"
        try:
            decision = await workflow.execute_activity_method(
                PlatformHttpActivities.poll_for_decision, wait_input, **wait_options
            )
        except ActivityError as error:
            # Only a refusal (401/403) ends the poller; the timer and signals still work.
            workflow.logger.error("poller gave up: %s", error)
            self._waiting_via = None
            return
        self._offer_from_platform(decision)

    def _offer_from_platform(self, decision: Decision) -> None:
        """The platform's decision is final there: if it is refused, nothing else will come.

        Only a platform that lets the requester decide (the reference platform
        refuses with 403) can send one; signals and the timer still end the wait.
        """
        self._offer(decision)
        if self._decision is None:
            workflow.logger.warning(
                "the platform's decision by %r was refused; waiting for a signal or the timer",
                decision.decided_by,
            )
            self._waiting_via = None

    async def _expire(self, approval_id: str, why: str) -> Decision | None:
        """Close the request on the platform (best effort); a decision it already had wins."""
        try:
            outcome: ExpireOutcome = await workflow.execute_activity_method(
                PlatformHttpActivities.expire_approval,
                ExpireApprovalInput(
                    workspace_id=self._request.workspace_id, approval_id=approval_id, reason=why
                ),
                **options.EXPIRE,
            )
        except ActivityError as error:
            workflow.logger.warning("could not expire %s: %s", approval_id, error)
            return None
        return outcome.decision

    async def _audit_requested(self, approval_id: str) -> None:
        await self._audit(
            "requested",
            outcome=AuditOutcome.REQUESTED,
            approval_id=approval_id,
            reason_text=self._request.reason,
        )
        self._requested_audited = True

    async def _audit_rejected(self) -> None:
        while self._rejected_audited < len(self._rejected):
            decision, why = self._rejected[self._rejected_audited]
            # Counted once written: a cancellation that interrupts the write lets the
            # next drain write it again, and the audit activity dedups by event_id.
            await self._audit(
                f"rejected-{self._rejected_audited + 1}",
                outcome=AuditOutcome.REJECTED,
                actor=decision.decided_by,
                approval_id=decision.approval_id,
                decided_by=decision.decided_by,
                decision="approved" if decision.approved else "denied",
                rejected_because=why,
                via=decision.source.value,
            )
            self._rejected_audited += 1

    async def _audit(
        self,
        key: str,
        *,
        outcome: str,
        event_type: str = "approval",
        action: str = "approve",
        actor: str | None = None,
        **extra: Any,
    ) -> None:
        info = workflow.info()
        entry = AuditEntry(
            event_id=f"{info.workflow_id}/{info.run_id}/{key}",
            timestamp=workflow.now(),
            event_type=event_type,
            workspace_id=self._request.workspace_id,
            actor=actor,
            action=action,
            resource=self._request.action,
            outcome=outcome,
            trace_id=self._trace_id,
            extra={k: v for k, v in extra.items() if v is not None},
        )
        if workflow.patched(LOCAL_AUDIT_PATCH):
            # A local activity runs inside the workflow task that asked for it:
            # no round trip through the server's task queues (two fewer workflow
            # tasks per decision, see README "Performance").
            await workflow.execute_local_activity_method(
                AuditActivities.write_audit, entry, **options.LOCAL_AUDIT
            )
        else:
            await workflow.execute_activity_method(
                AuditActivities.write_audit, entry, **options.AUDIT
            )

    def _finish(self, status: ApprovalStatus, **fields: Any) -> ApprovalResult:
        if self._state is not ApprovalState.DECIDED:
            self._state = ApprovalState.CLOSED
        return ApprovalResult(
            approved=status is ApprovalStatus.GRANTED,
            status=status,
            approval_id=self._approval_id,
            trace_id=self._trace_id,
            **fields,
        )
