"""ApprovalWorkflow: ask a human, wait durably, answer once.

RBAC check → create → become findable (search attributes) → audit ``requested`` →
read once → wait for a ``decide`` signal, the timer or cancellation → expire on
timer or cancellation (a decision the platform had wins) → audit the outcome.
Changing its commands breaks running workflows: see docs/internals.md.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    # cryptography's Rust code imports this module when it first raises InvalidSignature,
    # which may be inside the sandbox: it must find the host's module (docs/internals.md).
    import cryptography.exceptions  # noqa: F401

    from durable_approvals import search_attributes as attributes
    from durable_approvals import tracing
    from durable_approvals.activities.audit import AuditActivities
    from durable_approvals.activities.messages import (
        CreateApprovalInput,
        CreatedApproval,
        EscalateApprovalInput,
        ExpireApprovalInput,
        ExpireOutcome,
        PermissionCheck,
        PermissionVerdict,
        ReadApprovalInput,
        RecordDecisionInput,
        RemindApprovalInput,
    )
    from durable_approvals.activities.platform_http import PlatformHttpActivities
    from durable_approvals.activities.rbac import RbacActivities
    from durable_approvals.channels.notice import NoticeEvent
    from durable_approvals.errors import (
        APPROVALS_EXCEED_GROUP,
        DECISION_REFUSED,
        UNKNOWN_APPROVER_GROUP,
    )
    from durable_approvals.identity import identity_key
    from durable_approvals.models import (
        APPROVAL_WORKFLOW,
        DECIDE_SIGNAL,
        DECIDE_UPDATE,
        STATUS_QUERY,
        ApprovalRequest,
        ApprovalResult,
        ApprovalState,
        ApprovalStatus,
        ApprovalStatusView,
        AuditEntry,
        AuditOutcome,
        Decision,
        DecisionSource,
        DecisionVerdict,
        VerdictOutcome,
    )
    from durable_approvals.workflows import activity_options as options
    from durable_approvals.workflows import metrics
    from durable_approvals.workflows.args_binding import ArgsBinding
    from durable_approvals.workflows.decision_rules import (
        CONFLICTING,
        LATE,
        REPEATED,
        DecisionRules,
        Verdict,
    )
    from durable_approvals.workflows.escalation import (
        Policy,
        Step,
        StepKind,
        next_reminder,
        next_step,
    )
    from durable_approvals.workflows.notifier import ChannelNotifier
    from durable_approvals.workflows.proof_check import ProofCheck
    from durable_approvals.workflows.votes import Tally, VoteVerdict

DENIED_MESSAGE = "Denied by human"


ACTIVITY_FAILED = (ActivityError, ApplicationError)
"""What a failed local activity raises: the activity's own ``ApplicationError`` (retries
exhausted or non-retryable), or an ``ActivityError`` (timed out, cancelled)."""


def _failure_message(error: ActivityError | ApplicationError) -> str:
    if isinstance(error, ApplicationError):
        return error.message
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause or error)


_OUTCOMES = {
    Verdict.TAKEN: VerdictOutcome.TAKEN,
    Verdict.REPEATED: VerdictOutcome.REPEATED,
    Verdict.REFUSED: VerdictOutcome.REFUSED,
}
_VOTE_OUTCOMES = {
    VoteVerdict.COUNTED: VerdictOutcome.COUNTED,
    VoteVerdict.DECIDED: VerdictOutcome.TAKEN,
    VoteVerdict.REPEATED: VerdictOutcome.REPEATED,
    VoteVerdict.REFUSED: VerdictOutcome.REFUSED,
}


@workflow.defn(name=APPROVAL_WORKFLOW)
class ApprovalWorkflow:
    @workflow.init
    def __init__(self, request: ApprovalRequest) -> None:
        self._request = request
        self._trace_id = request.trace_id or str(workflow.uuid4())
        self._state = ApprovalState.CHECKING
        self._deadline: datetime | None = None
        self._final_deadline: datetime | None = None  # the last one, escalation included
        self._rules = DecisionRules(requester=request.requester)
        self._binding = ArgsBinding.of(request)  # pure: the action hash, no I/O
        self._rules.binding = self._binding
        self._refusals_audited = 0
        self._requested_audited = False
        # Escalation and reminders (workflows/escalation.py); no policy: today's one timer.
        self._policy = Policy.of(request) if request.has_escalation_policy else None
        self._escalated_to: str | None = None
        self._escalated_at: datetime | None = None
        self._escalations = 0
        self._reminders = 0
        self._last_reminder = 0
        self._waiting_since: datetime | None = None
        # N-of-M (workflows/votes.py): None keeps today's single decision, command for command.
        self._tally = (
            Tally(self._rules, request.approvals_required, request.approver_group)
            if request.has_vote_policy
            else None
        )
        self._votes_audited = 0
        self._update_unsettled = False  # an accepted decide_update, its task not yet completed
        self._proofs: ProofCheck | None = None
        self._channels = ChannelNotifier(request, self._audit, enabled=False)

    @workflow.run
    async def run(self, request: ApprovalRequest) -> ApprovalResult:
        verdict = await self._check_permission()
        self._check_proofs(verdict)
        self._channels.enabled = verdict.notify_channels  # docs/channels.md
        if not verdict.allowed:
            return await self._refuse_by_rbac(verdict)
        if self._tally is not None and (problem := self._vote_policy_problem(verdict)):
            return await self._refuse_vote_policy(*problem)
        try:
            approval_id = await self._create()
        except ACTIVITY_FAILED as error:
            return await self._fail_to_create(error)

        self._deadline = workflow.now() + timedelta(seconds=request.timeout_seconds)
        self._final_deadline = workflow.now() + timedelta(seconds=request.total_timeout_seconds)
        self._state = ApprovalState.PENDING
        self._become_findable(approval_id)
        try:
            # Inside the try: a cancellation while these run still expires the request.
            await self._audit_requested(approval_id)
            self._tell(NoticeEvent.REQUESTED)
            await self._read_once(approval_id)
            if self._policy is None:
                await self._wait_for_decision(self._deadline)
            else:
                await self._wait_with_policy(approval_id, self._policy)
        except asyncio.CancelledError:
            await self._close_as_cancelled(approval_id)
            self._tell(NoticeEvent.CANCELLED, outcome=ApprovalStatus.CANCELLED.value)
            await self._channels.settle()
            raise
        self._rules.close()
        if self._rules.decision is None:
            self._adopt_platform_decision(await self._expire(approval_id, "timeout"))
        if self._rules.decision is None:
            return await self._time_out(approval_id)
        return await self._conclude(self._rules.decision)

    @workflow.signal(name=DECIDE_SIGNAL)
    def decide(self, decision: Decision) -> None:
        """Offer a decision (``DecisionRules``); one without ``decided_at`` is dated on arrival."""
        self._offer(self._dated(decision))

    @workflow.update(name=DECIDE_UPDATE)
    def decide_update(self, decision: Decision) -> DecisionVerdict:
        """Offer a decision as the ``decide`` signal does (same rules, same audit records)
        and answer its verdict: taken, counted (a vote), repeated, or refused with a reason.

        Its validator has refused already what the rules refuse at the time it arrives;
        a refusal here (a signal in the same workflow task got there first) is audited
        as a signal's is (docs/deciding.md)."""
        decision = self._dated(decision)
        self._update_unsettled = True
        if self._tally is not None:
            vote = self._tally.offer(decision)
            outcome = _VOTE_OUTCOMES[vote]
        else:
            outcome = _OUTCOMES[self._rules.offer(decision)]
        reason = None
        if outcome is VerdictOutcome.REFUSED:
            reason = self._rules.refusals[-1].because
        elif outcome is VerdictOutcome.REPEATED:
            reason = REPEATED if self._stands(decision) else self._refusal_of(decision)
            if reason != REPEATED:  # a repeat of a decision refused before
                outcome = VerdictOutcome.REFUSED
        return self._verdict(decision, outcome, reason)

    @decide_update.validator
    def _validate_decision(self, decision: Decision) -> None:
        """Refuse, before anything reaches history, what the rules would refuse now
        (``DecisionRules.check``, ``Tally.check``) or a decision after the last deadline.
        Deterministic and read-only; validators do not run on replay."""
        reason = self._check(decision)
        if reason is not None:
            verdict = self._verdict(decision, VerdictOutcome.REFUSED, reason)
            raise ApplicationError(
                f"refused {decision.approval_id}: {reason}",
                verdict.model_dump(mode="json"),
                type=DECISION_REFUSED,
                non_retryable=True,
            )

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> ApprovalStatusView:
        return ApprovalStatusView(
            state=self._state,
            approval_id=self._rules.approval_id,
            deadline=self._deadline,
            trace_id=self._trace_id,
            decision=self._rules.decision,
            rejected_decisions=len(self._rules.refusals),
            action_hash=self._binding.request_hash,
            action=self._request.action,
            args=self._request.args,
            escalated_to=self._escalated_to,
            escalated_at=self._escalated_at,
            escalations=self._escalations,
            reminders=self._reminders,
            next_reminder_at=self._next_reminder_at(),
            votes=list(self._tally.votes) if self._tally else [],
            approvals_required=self._request.approvals_required,
            approver_group=self._request.approver_group,
        )

    def span_attributes(self) -> dict[str, str]:
        """What its activity spans carry when the worker traces (durable_approvals/tracing.py)."""
        span = {tracing.TRACE_ID: self._trace_id, tracing.WORKSPACE: self._request.workspace_id}
        if self._rules.approval_id is not None:
            span[tracing.APPROVAL_ID] = self._rules.approval_id
        return span

    # --- the decide update (docs/deciding.md) ---------------------------------------

    def _dated(self, decision: Decision) -> Decision:
        if decision.decided_at is None:
            return decision.model_copy(update={"decided_at": workflow.now()})
        return decision

    def _check(self, decision: Decision) -> str | None:
        """Why ``_offer`` would refuse ``decision`` now, or ``None``; pure."""
        rules = self._rules
        reason = (self._tally or rules).check(decision)
        final = self._final_deadline
        due = final is not None and workflow.now() >= final
        if reason is None and rules.decision is None and due:
            reason = LATE  # the timer is due: late, though the wait is not closed yet
        if reason == LATE and rules.decision is not None:
            reason = CONFLICTING  # decided already, this one differs: say so
        return reason

    def _stands(self, decision: Decision) -> bool:
        """Whether ``decision`` is the one taken, or a vote counted, already."""
        taken = self._rules.decision
        if taken is not None and taken.same_answer(decision):
            return True
        key = identity_key(decision.decided_by)
        votes = self._tally.votes if self._tally is not None else []
        return any(
            v.approved == decision.approved and identity_key(v.decided_by) == key for v in votes
        )

    def _refusal_of(self, decision: Decision) -> str:
        """Why an earlier copy of ``decision`` was refused."""
        for refusal in self._rules.refusals:
            if refusal.decision.approval_id == decision.approval_id and (
                refusal.decision.same_answer(decision)
            ):
                return refusal.because
        return REPEATED

    def _verdict(
        self, decision: Decision, outcome: VerdictOutcome, reason: str | None
    ) -> DecisionVerdict:
        taken = self._rules.decision
        return DecisionVerdict(
            approval_id=decision.approval_id,
            accepted=outcome is not VerdictOutcome.REFUSED,
            outcome=outcome,
            reason=reason,
            state=ApprovalState.DECIDED if taken is not None else self._state,
            decision=taken,
            votes=len(self._tally.votes) if self._tally is not None else 0,
            approvals_required=self._request.approvals_required,
        )

    # --- steps ---------------------------------------------------------------

    async def _check_permission(self) -> PermissionVerdict:
        verdict: PermissionVerdict = await self._call(
            RbacActivities.check_permission,
            PermissionCheck(
                workspace_id=self._request.workspace_id,
                approver_group=self._request.approver_group,
            ),
            options.RBAC,
        )
        return verdict

    def _check_proofs(self, verdict: PermissionVerdict) -> None:
        """Verified deciders (docs/trust-model.md): the policy and the platform's public key
        come in the RBAC verdict, from the worker's config; none: today's rules."""
        if (
            verdict.verify_key is not None
            or verdict.require_verified_deciders
            or verdict.channel_verify_key is not None
        ):
            self._proofs = ProofCheck(
                workspace_id=self._request.workspace_id,
                verify_key=verdict.verify_key,
                required=verdict.require_verified_deciders,
                channel_key=verdict.channel_verify_key,
            )
            self._rules.verify = self._proofs

    async def _refuse_by_rbac(self, verdict: PermissionVerdict) -> ApprovalResult:
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

    async def _create(self) -> str:
        """Create the request; on cancellation meanwhile, let it finish, then close it."""
        request = self._request
        info = workflow.info()
        creating = workflow.start_local_activity_method(
            PlatformHttpActivities.create_approval,
            CreateApprovalInput(
                workspace_id=request.workspace_id,
                action=request.action,
                reason=request.reason,
                task_id=request.task_id,
                idempotency_key=f"{info.workflow_id}/{info.run_id}",
                requester=request.requester,
                timeout_seconds=request.timeout_seconds,
                **self._args_fields(),
                **self._vote_item_fields(),
            ),
            start_to_close_timeout=options.CREATE.start_to_close_timeout,
            retry_policy=options.CREATE.retry_policy,
        )
        try:
            created: CreatedApproval = await asyncio.shield(creating)
        except asyncio.CancelledError as cancelled:
            try:
                made: CreatedApproval = await creating
            except ACTIVITY_FAILED:
                raise cancelled from None  # nothing was created: just end cancelled
            self._rules.approval_id = made.approval_id
            await self._close_as_cancelled(made.approval_id)
            raise
        self._rules.approval_id = created.approval_id
        return created.approval_id

    async def _fail_to_create(self, error: ActivityError | ApplicationError) -> ApprovalResult:
        message = _failure_message(error)
        await self._audit(
            "submit-failed", outcome=AuditOutcome.FAILURE, reason="submit_failed", error=message
        )
        return self._finish(ApprovalStatus.FAILURE, error=message)

    def _become_findable(self, approval_id: str) -> None:
        """Let the workspace listener find this workflow by its approval id."""
        workflow.upsert_search_attributes(
            [
                attributes.APPROVAL_ID.value_set(approval_id),
                attributes.APPROVAL_WORKSPACE.value_set(self._request.workspace_id),
                attributes.APPROVAL_STATE.value_set(attributes.PENDING),
            ]
        )

    async def _read_once(self, approval_id: str) -> None:
        """Take a decision made before the listener could find this workflow (best effort)."""
        try:
            decision: Decision | None = await self._call(
                PlatformHttpActivities.read_decision,
                ReadApprovalInput(workspace_id=self._request.workspace_id, approval_id=approval_id),
                options.PLATFORM_CALL,
            )
        except ACTIVITY_FAILED as error:
            workflow.logger.warning("could not read %s once: %s", approval_id, error)
            return
        if decision is not None:
            self._offer(decision)

    async def _wait_for_decision(self, deadline: datetime) -> None:
        """Return once a decision is taken or at ``deadline``; refusals are audited as they come."""
        while self._rules.decision is None:
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                return
            try:
                await workflow.wait_condition(
                    lambda: (
                        self._rules.decision is not None
                        or self._refusals_unaudited()
                        or self._votes_unaudited()
                    ),
                    timeout=remaining,
                )
            except TimeoutError:
                return
            if self._rules.decision is None:
                await self._audit_arrivals()  # the outcome's record comes first otherwise

    # --- escalation and reminders (docs/policies/escalation.md) --------------------

    def _next_reminder_at(self) -> datetime | None:
        since = self._waiting_since
        if self._policy is None or since is None or self._state is not ApprovalState.PENDING:
            return None
        elapsed = (workflow.now() - since).total_seconds()
        at = next_reminder(self._policy, elapsed, self._escalations, self._last_reminder)
        return None if at is None else since + timedelta(seconds=at)

    async def _wait_with_policy(self, approval_id: str, policy: Policy) -> None:
        """``_wait_for_decision`` to each of the policy's steps in turn (one timer each)."""
        assert self._deadline is not None
        since = self._deadline - timedelta(seconds=policy.timeout)
        self._waiting_since = since
        while self._rules.decision is None:
            elapsed = (workflow.now() - since).total_seconds()
            step = next_step(policy, elapsed, self._escalations, self._last_reminder)
            await self._wait_for_decision(since + timedelta(seconds=step.at))
            if self._rules.decision is not None or step.kind is StepKind.DEADLINE:
                return
            if step.kind is StepKind.REMIND:
                await self._remind(approval_id, step.number)
            else:
                await self._escalate(
                    approval_id, step, since + timedelta(seconds=policy.final_deadline)
                )

    async def _remind(self, approval_id: str, number: int) -> None:
        self._last_reminder = number
        self._reminders += 1
        shown, error = await self._tell_platform(
            PlatformHttpActivities.remind_approval,
            RemindApprovalInput(
                workspace_id=self._request.workspace_id,
                approval_id=approval_id,
                reminder=number,
                escalated_to=self._escalated_to,
            ),
        )
        await self._audit(
            f"reminded-{number}",
            outcome=AuditOutcome.REMINDED,
            approval_id=approval_id,
            reminder=number,
            escalated_to=self._escalated_to,
            shown_on_platform=shown,
            platform_error=error,
        )
        self._tell(NoticeEvent.REMINDED, sequence=number)

    async def _escalate(self, approval_id: str, step: Step, final_deadline: datetime) -> None:
        escalated_to = self._request.escalate_to
        assert escalated_to is not None  # the request's validation
        self._escalations = step.number
        self._escalated_to = escalated_to
        self._escalated_at = workflow.now()
        at_deadline = step.kind is StepKind.ESCALATE_AT_DEADLINE
        if at_deadline:
            self._deadline = final_deadline  # the second deadline
        deadline = self._deadline
        assert deadline is not None  # set before the wait began
        shown, error = await self._tell_platform(
            PlatformHttpActivities.escalate_approval,
            EscalateApprovalInput(
                workspace_id=self._request.workspace_id,
                approval_id=approval_id,
                escalated_to=escalated_to,
                level=step.number,
                expires_at=deadline,
            ),
        )
        await self._audit(
            f"escalated-{step.number}",
            outcome=AuditOutcome.ESCALATED,
            approval_id=approval_id,
            escalated_to=escalated_to,
            level=step.number,
            because="timeout" if at_deadline else "escalate_after",
            deadline=deadline.isoformat(),
            shown_on_platform=shown,
            platform_error=error,
        )
        self._tell(NoticeEvent.ESCALATED, sequence=step.number)

    async def _tell_platform(self, activity: Any, arg: Any) -> tuple[bool, str | None]:
        """Show a reminder or an escalation on the platform (best effort): whether it is
        shown, and why not when a call failed (a platform without the route: no error)."""
        try:
            shown: bool = await self._call(activity, arg, options.PLATFORM_CALL)
        except ACTIVITY_FAILED as error:
            workflow.logger.warning("could not tell the platform: %s", error)
            return False, _failure_message(error)
        return shown, None

    def _adopt_platform_decision(self, outcome: ExpireOutcome | None) -> None:
        """A decision the platform recorded before the expiry wins over the timer."""
        if outcome is not None and outcome.decision is not None:
            self._offer(outcome.decision, made_in_time=True)

    async def _time_out(self, approval_id: str) -> ApprovalResult:
        timeout = self._request.total_timeout_seconds
        await self._audit_arrivals(before=self._rules.closed_at_arrival)
        await self._audit(
            "timeout",
            outcome=AuditOutcome.TIMEOUT,
            approval_id=approval_id,
            timeout_seconds=timeout,
            escalated_to=self._escalated_to,
        )
        await self._audit_arrivals()
        self._tell(NoticeEvent.TIMED_OUT, outcome=ApprovalStatus.TIMEOUT.value)
        await self._channels.settle()
        return self._finish(
            ApprovalStatus.TIMEOUT,
            error=f"Timed out after {timeout}s waiting for human decision",
        )

    async def _conclude(self, decision: Decision) -> ApprovalResult:
        self._state = ApprovalState.DECIDED
        await self._audit_arrivals(before=self._rules.decided_at_arrival)
        on_platform = await self._record_client_decision(decision)
        await self._audit(
            "decided",
            outcome=AuditOutcome.GRANTED if decision.approved else AuditOutcome.DENIED,
            **_who_decided(decision),
            comment=decision.comment,
            via=decision.source.value,
            recorded_on_platform=on_platform,
            verified=(self._proofs is not None and self._proofs.verified(decision)) or None,
            **self._approved_args_audit(decision),
            escalated_to=self._escalated_to,
            approvers=self._tally.approvers if self._tally else None,
            approvals_required=self._request.approvals_required if self._tally else None,
        )
        await self._audit_arrivals()
        self._tell(
            NoticeEvent.DECIDED,
            outcome=(ApprovalStatus.GRANTED if decision.approved else ApprovalStatus.DENIED).value,
            decided_by=decision.decided_by,
        )
        await self._channels.settle()
        return self._finish(
            ApprovalStatus.GRANTED if decision.approved else ApprovalStatus.DENIED,
            decided_by=decision.decided_by,
            message=None if decision.approved else DENIED_MESSAGE,
            comment=decision.comment,
            decided_at=decision.decided_at,
            **self._approved_args_result(decision),
        )

    async def _close_as_cancelled(self, approval_id: str) -> None:
        """Expire and audit the request of a cancelled workflow; the caller re-raises."""
        self._rules.close()
        if not self._requested_audited:
            await self._audit_requested(approval_id)  # same event_id: written once
        await self._expire(approval_id, "cancelled")
        await self._audit_arrivals(before=self._rules.closed_at_arrival)
        await self._audit("cancelled", outcome=AuditOutcome.CANCELLED, approval_id=approval_id)
        await self._audit_arrivals()
        self._state = ApprovalState.CLOSED
        self._set_final_state(ApprovalStatus.CANCELLED)

    async def _record_client_decision(self, decision: Decision) -> bool | None:
        """Write a signalled decision to the platform (best effort); ``None``: not a client's.
        After votes, the outcome is written whichever path its last vote came by."""
        if decision.source is not DecisionSource.CLIENT and self._tally is None:
            return None
        try:
            recorded: bool = await self._call(
                PlatformHttpActivities.record_decision,
                RecordDecisionInput(
                    workspace_id=self._request.workspace_id,
                    decision=decision,
                    final=self._tally is not None,
                ),
                options.PLATFORM_CALL,
            )
        except ACTIVITY_FAILED as error:
            workflow.logger.warning("could not record the decision on the platform: %s", error)
            return False
        return recorded

    async def _expire(self, approval_id: str, why: str) -> ExpireOutcome | None:
        """Close the request on the platform (best effort)."""
        try:
            outcome: ExpireOutcome = await self._call(
                PlatformHttpActivities.expire_approval,
                ExpireApprovalInput(
                    workspace_id=self._request.workspace_id, approval_id=approval_id, reason=why
                ),
                options.PLATFORM_CALL,
            )
        except ACTIVITY_FAILED as error:
            workflow.logger.warning("could not expire %s: %s", approval_id, error)
            return None
        return outcome

    # --- args and the action hash (docs/policies/edits.md) -------------------------

    def _args_fields(self) -> dict[str, Any]:
        """The create input's args fields; none for a request without args."""
        request = self._request
        if request.args is None:
            return {}
        return {
            "args": request.args,
            "args_schema": request.args_schema,
            "action_hash": self._binding.request_hash,
        }

    def _args_audit(self) -> dict[str, Any]:
        """Audit the hash and the args' key names, never their values (they may hold secrets)."""
        if self._request.args is None:
            return {}
        return {"action_hash": self._binding.request_hash, "arg_keys": sorted(self._request.args)}

    def _approved_args_audit(self, decision: Decision) -> dict[str, Any]:
        if self._request.args is None and decision.action_hash is None:
            return {}
        _, approved_hash = self._binding.approved_args(decision)
        edited = decision.edited_args is not None
        return {"action_hash": approved_hash, "edited": edited}

    def _approved_args_result(self, decision: Decision) -> dict[str, Any]:
        """The result's binding fields (``ApprovalResult.covers``), for a request with args."""
        if self._request.args is None:
            return {}
        args, approved_hash = self._binding.approved_args(decision)
        return {
            "workspace_id": self._request.workspace_id,
            "args": args,
            "action_hash": approved_hash,
            "edited": decision.edited_args is not None,
        }

    # --- N-of-M (docs/policies/n-of-m.md) ---------------------------------------------

    def _offer(self, decision: Decision, *, made_in_time: bool = False) -> None:
        """A decision for ``DecisionRules``, or a vote for the tally if the request counts votes."""
        if self._tally is not None:
            if (why := self._rules.unverified(decision)) is not None:
                self._rules.refuse(decision, why)  # a vote without proof counts for nothing
                return
            self._tally.offer(decision, made_in_time=made_in_time)
        else:
            self._rules.offer(decision, made_in_time=made_in_time)

    def _vote_item_fields(self) -> dict[str, Any]:
        """What makes the platform's item a vote item ([ext]); nothing without a policy."""
        if self._tally is None:
            return {}
        members = self._tally.member_names if self._tally.members is not None else None
        return {"approvals_required": self._tally.required, "approvers": members}

    def _vote_policy_problem(self, verdict: PermissionVerdict) -> tuple[str, str] | None:
        """(error type, message) when the request's vote policy can never be met, else None."""
        assert self._tally is not None
        group, required = self._request.approver_group, self._request.approvals_required
        if group is None:
            return None
        if verdict.group_members is None:
            return UNKNOWN_APPROVER_GROUP, (
                f"unknown approver group {group!r}: not in the workspace config's approver_groups"
            )
        self._tally.set_members(verdict.group_members)
        eligible = self._tally.eligible_count() or 0
        if required > eligible:
            return APPROVALS_EXCEED_GROUP, (
                f"{required} approvals required but approver group {group!r} has "
                f"{eligible} possible approver(s) (the requester never counts)"
            )
        return None

    async def _refuse_vote_policy(self, error_type: str, message: str) -> ApprovalResult:
        await self._audit(
            "policy-invalid",
            outcome=AuditOutcome.FAILURE,
            reason="invalid_vote_policy",
            error_type=error_type,
            error=message,
            approver_group=self._request.approver_group,
            approvals_required=self._request.approvals_required,
        )
        return self._finish(ApprovalStatus.FAILURE, error=message)

    def _votes_unaudited(self) -> bool:
        return self._tally is not None and self._votes_audited < len(self._tally.votes)

    async def _audit_arrivals(self, before: int | None = None) -> None:
        """Audit the votes and refusals not audited yet, in arrival order; with ``before``,
        only those that arrived before that stamp (``DecisionRules.stamp``)."""
        while True:
            tally = self._tally
            vote_at = (
                tally.vote_arrivals[self._votes_audited]
                if tally is not None and self._votes_unaudited()
                else None
            )
            refusal_at = (
                self._rules.refusals[self._refusals_audited].arrival
                if self._refusals_unaudited()
                else None
            )
            first = min((at for at in (vote_at, refusal_at) if at is not None), default=None)
            if first is None or (before is not None and first >= before):
                return
            if first == vote_at:
                await self._audit_next_vote()
            else:
                await self._audit_next_refusal()

    async def _audit_next_vote(self) -> None:
        assert self._tally is not None
        vote = self._tally.votes[self._votes_audited]
        counted = self._tally.votes[: self._votes_audited + 1]
        # Counted once written, as refusals are.
        await self._audit(
            f"voted-{self._votes_audited + 1}",
            outcome=AuditOutcome.VOTED,
            **_who_decided(vote),
            decision="approved" if vote.approved else "denied",
            comment=vote.comment,
            approvals=sum(1 for v in counted if v.approved),
            approvals_required=self._request.approvals_required,
            approver_group=self._request.approver_group,
            via=vote.source.value,
        )
        self._votes_audited += 1
        if self._rules.decision is None:  # the outcome's own notice says the rest
            self._tell(NoticeEvent.VOTED)

    # --- audit -------------------------------------------------------------------

    def _refusals_unaudited(self) -> bool:
        return self._refusals_audited < len(self._rules.refusals)

    async def _audit_requested(self, approval_id: str) -> None:
        await self._audit(
            "requested",
            outcome=AuditOutcome.REQUESTED,
            approval_id=approval_id,
            reason_text=self._request.reason,
            **self._args_audit(),
        )
        self._requested_audited = True

    async def _audit_next_refusal(self) -> None:
        refusal = self._rules.refusals[self._refusals_audited]
        decision = refusal.decision
        # Counted once written: an interrupted write is redone, deduplicated by event_id.
        await self._audit(
            f"rejected-{self._refusals_audited + 1}",
            outcome=AuditOutcome.REJECTED,
            **_who_decided(decision),
            decision="approved" if decision.approved else "denied",
            rejected_because=refusal.because,
            via=decision.source.value,
            action_hash=decision.action_hash,
            edited=decision.edited_args is not None or None,
        )
        self._refusals_audited += 1

    def _tell(self, event: NoticeEvent, **state: Any) -> None:
        """Notify the channels (workflows/notifier.py): best effort, beside the steps."""
        approval_id = self._rules.approval_id
        if approval_id is None:
            return
        self._channels.tell(
            event,
            approval_id=approval_id,
            deadline=self._deadline,
            action_hash=self._binding.request_hash,
            approvers=self._tally.approvers if self._tally is not None else [],
            escalated_to=self._escalated_to,
            **state,
        )

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
        await self._call(AuditActivities.write_audit, entry, options.AUDIT)

    # --- plumbing ----------------------------------------------------------------

    async def _call(self, activity: Any, arg: Any, call: options.CallOptions) -> Any:
        """Run one short activity as a local activity with ``call``'s timeout and retries."""
        if self._update_unsettled:
            await self._settle_update()
        return await workflow.execute_local_activity_method(
            activity,
            arg,
            start_to_close_timeout=call.start_to_close_timeout,
            retry_policy=call.retry_policy,
        )

    async def _settle_update(self) -> None:
        """Complete the workflow task that accepted a ``decide_update`` before a local
        activity runs: local activities run inside the task, and an event that arrives
        meanwhile (the listener's signal of the decision the workflow is recording on the
        platform) fails the task as an unhandled command, taking the update's acceptance
        with it. A 1 ms timer ends the task; runs without an update never get here."""
        self._update_unsettled = False
        await workflow.sleep(timedelta(milliseconds=1))

    def _set_final_state(self, status: ApprovalStatus) -> None:
        metrics.approval_ended(self._request, status, self._rules.decision)
        if self._rules.approval_id is not None:
            workflow.upsert_search_attributes([attributes.APPROVAL_STATE.value_set(status.value)])

    def _finish(self, status: ApprovalStatus, **fields: Any) -> ApprovalResult:
        if self._state is not ApprovalState.DECIDED:
            self._state = ApprovalState.CLOSED
        self._set_final_state(status)
        if self._tally is not None:
            fields.setdefault("approvers", self._tally.approvers)
        return ApprovalResult(
            approved=status is ApprovalStatus.GRANTED,
            status=status,
            approval_id=self._rules.approval_id,
            trace_id=self._trace_id,
            escalated_to=self._escalated_to,
            escalated_at=self._escalated_at,
            **fields,
        )


def _who_decided(decision: Decision) -> dict[str, Any]:
    """The audit fields naming a decision's decider and approval, in the records' order."""
    return {
        "actor": decision.decided_by,
        "approval_id": decision.approval_id,
        "decided_by": decision.decided_by,
        "channel": decision.channel,  # docs/channels.md: where, and who there
        "channel_user": decision.channel_user,
    }
