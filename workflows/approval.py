"""ApprovalWorkflow: ask a human, wait durably, answer once.

RBAC check → create → become findable (search attributes) → audit ``requested`` →
read once → wait for a ``decide`` signal, the timer or cancellation → expire on
timer or cancellation (a decision the platform had wins) → audit the outcome.

The class is the handlers and these steps; the state and the policies are plain
collaborators: ``DecisionRules`` and ``Tally`` (which decision counts), ``AuditTrail``
(the records and their arrival order), ``Wait`` and ``EscalationRun`` (the timers, the
reminders and escalations), ``PlatformCalls`` (the best-effort platform calls).
Changing its commands breaks running workflows: see docs/internals.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    # cryptography's Rust code imports this module when it first raises InvalidSignature,
    # which may be inside the sandbox: it must find the host's module (docs/internals.md).
    import cryptography.exceptions  # noqa: F401

    import durable_approvals.search_attributes as attributes
    import durable_approvals.tracing as tracing
    import durable_approvals.workflows.activity_options as options
    import durable_approvals.workflows.metrics as metrics
    from durable_approvals.activities.audit import AuditActivities
    from durable_approvals.activities.messages import (
        CreateApprovalInput,
        CreatedApproval,
        ExpireOutcome,
        PermissionCheck,
        PermissionVerdict,
    )
    from durable_approvals.activities.platform_http import PlatformHttpActivities
    from durable_approvals.activities.rbac import RbacActivities
    from durable_approvals.channels.notice import NoticeEvent
    from durable_approvals.errors import DECISION_REFUSED
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
    from durable_approvals.workflows.args_binding import ArgsBinding
    from durable_approvals.workflows.audit_trail import AuditTrail, who_decided
    from durable_approvals.workflows.decision_rules import (
        CONFLICTING,
        LATE,
        REPEATED,
        DecisionRules,
        Verdict,
    )
    from durable_approvals.workflows.escalation import Policy, Step, StepKind
    from durable_approvals.workflows.escalation_run import EscalationRun
    from durable_approvals.workflows.notifier import ChannelNotifier
    from durable_approvals.workflows.platform_calls import (
        ACTIVITY_FAILED,
        PlatformCalls,
        failure_message,
    )
    from durable_approvals.workflows.proof_check import ProofCheck
    from durable_approvals.workflows.votes import Tally, VoteVerdict
    from durable_approvals.workflows.waiting import SETTLE, Wait

DENIED_MESSAGE = "Denied by human"
UNTRIED_FIRST_TASK = 3
"""History length when a run starts in its first workflow task on its first attempt
(started, task scheduled, task started)."""


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
        # The deadline in force is the rules' (the last one, escalation included); a
        # decision counts by when it was made: its platform date, or its arrival.
        self._rules = DecisionRules(requester=request.requester, clock=workflow.now)
        self._binding = ArgsBinding.of(request)  # pure: the action hash, no I/O
        self._rules.binding = self._binding
        # N-of-M (workflows/votes.py): None keeps today's single decision, command for command.
        self._tally = (
            Tally(self._rules, request.approvals_required, request.approver_group)
            if request.has_vote_policy
            else None
        )
        info = workflow.info()
        self._trail = AuditTrail(
            run_key=f"{info.workflow_id}/{info.run_id}",
            workspace_id=request.workspace_id,
            resource=request.action,
            trace_id=self._trace_id,
            rules=self._rules,
            tally=self._tally,
            write=self._write_audit,
            clock=workflow.now,
            approver_group=request.approver_group,
            approvals_required=request.approvals_required,
        )
        self._platform = PlatformCalls(request.workspace_id, self._call, workflow.logger)
        # Escalation and reminders (workflows/escalation.py); no policy: today's one timer.
        policy = Policy.of(request) if request.has_escalation_policy else None
        self._escalation = EscalationRun(policy)
        self._wait = Wait(
            self._rules,
            self._trail,
            self._escalation,
            self._platform,
            request.escalate_to,
            after_step=self._tell_step,
        )
        # Channels (docs/channels.md): off, with no command, unless the RBAC verdict says so.
        self._channels = ChannelNotifier(request, self._record_beside, enabled=False)
        self._trail.after_vote = self._tell_vote
        # A decision that arrives while a local activity runs is held and admitted when it
        # returns; the task that admitted a client's decision or an update completes before
        # the next local activity runs (docs/internals.md, "The clock").
        self._unsettled = False
        self._calls = asyncio.Lock()  # local activities run one at a time
        self._local_calls = 0
        self._held: list[tuple[Decision, asyncio.Future[DecisionVerdict] | None]] = []
        self._proofs: ProofCheck | None = None
        self._expire_retry_seconds: float | None = None  # EXPIRE_RETRY_FOR, from the RBAC verdict
        # No create can have been sent before this instance's (docs/internals.md, "Create
        # once"): it starts the run, live, in an untried first task. A retried task (its
        # failure event), a signal-with-start or a reset make the history longer, and an
        # instance that replays was not the first to run the steps.
        self._untried_start = (
            info.get_current_history_length() == UNTRIED_FIRST_TASK
            and not workflow.unsafe.is_replaying()
        )

    @workflow.run
    async def run(self, request: ApprovalRequest) -> ApprovalResult:
        verdict = await self._check_permission()
        self._use_proofs(verdict)
        self._expire_retry_seconds = verdict.expire_retry_seconds
        self._channels.enabled = verdict.notify_channels
        if not verdict.allowed:
            return await self._refuse_by_rbac(verdict)
        if self._tally is not None and (
            problem := self._tally.policy_problem(verdict.group_members)
        ):
            return await self._refuse_vote_policy(*problem)
        try:
            approval_id = await self._create()
        except ACTIVITY_FAILED as error:
            return await self._fail_to_create(error)

        self._wait.deadline = workflow.now() + timedelta(seconds=request.timeout_seconds)
        self._rules.deadline = workflow.now() + timedelta(seconds=request.total_timeout_seconds)
        self._state = ApprovalState.PENDING
        self._become_findable(approval_id)
        try:
            # Inside the try: a cancellation while these run still expires the request.
            await self._audit_requested(approval_id)
            self._tell(NoticeEvent.REQUESTED)
            await self._read_once(approval_id)
            if self._escalation.policy is None:
                await self._wait.until(self._wait.deadline)
            else:
                await self._wait.through_policy(approval_id)
        except asyncio.CancelledError:
            if self._rules.decision is None:  # one taken before the cancel still ends it
                await self._close_as_cancelled(approval_id)
                self._tell(NoticeEvent.CANCELLED, outcome=ApprovalStatus.CANCELLED.value)
                await self._channels.settle()
                raise
        return await self._uncancelled(self._end(approval_id))

    async def _end(self, approval_id: str) -> ApprovalResult:
        """The wait is over: conclude the decision, or expire (where a decision the
        platform had wins) and time out. The deadline's task completes before the expiry
        acts on it, so a retry of that task cannot end otherwise after its effects."""
        self._rules.close()
        if self._rules.decision is None:
            await workflow.sleep(SETTLE)
            self._adopt_platform_decision(await self._expire(approval_id, "timeout"))
        if self._rules.decision is None:
            return await self._time_out(approval_id)
        return await self._conclude(self._rules.decision)

    @staticmethod
    async def _uncancelled(ending: Coroutine[Any, Any, ApprovalResult]) -> ApprovalResult:
        """Run ``ending`` to its result whatever cancellation arrives meanwhile: the outcome
        was fixed when the wait ended, and its records may be written already (a task that
        fails because a cancellation arrived as it completed is retried with it)."""
        task = asyncio.ensure_future(ending)
        while True:
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                if task.done():  # the ending itself was cancelled: nothing left to finish
                    raise

    @workflow.signal(name=DECIDE_SIGNAL)
    def decide(self, decision: Decision) -> None:
        """Offer a decision (``DecisionRules``), admitted on arrival or, while a local
        activity runs, when it returns (``_admit``)."""
        if self._must_hold():
            self._held.append((decision, None))
        else:
            self._admit(decision, None)

    @workflow.update(name=DECIDE_UPDATE)
    async def decide_update(self, decision: Decision) -> DecisionVerdict:
        """Offer a decision as the ``decide`` signal does (same rules, same audit records,
        same dating) and answer its verdict: taken, counted (a vote), repeated, or refused
        with a reason.

        Its validator has refused already what the rules refuse at the time it arrives;
        a refusal here (a signal in the same workflow task got there first) is audited
        as a signal's is (docs/deciding.md)."""
        answer: asyncio.Future[DecisionVerdict] = asyncio.get_running_loop().create_future()
        if self._must_hold():
            self._held.append((decision, answer))
        else:
            self._admit(decision, answer)
        return await answer

    def _must_hold(self) -> bool:
        """Whether a decision arriving now waits for the running local activity: while
        its fate may depend on the clock (nothing taken yet, the wait not closed)."""
        rules = self._rules
        return bool(self._local_calls) and rules.decision is None and not rules.closed

    def _admit(self, decision: Decision, answer: asyncio.Future[DecisionVerdict] | None) -> None:
        """Apply the rules to ``decision`` now, dated now if it has no ``decided_at``; an
        update's verdict goes to ``answer``. A client's decision and an update leave the
        task unsettled: it completes before the next local activity runs (``_call``)."""
        decision = self._dated_on_arrival(decision)
        if answer is not None or decision.source is DecisionSource.CLIENT:
            self._unsettled = True
        if answer is None:
            self._apply_rules(decision)
        elif not answer.done():
            answer.set_result(self._offer_update(decision))

    def _offer_update(self, decision: Decision) -> DecisionVerdict:
        """The update's rules and verdict."""
        if self._tally is not None:
            vote = self._tally.offer(decision)
            outcome = _VOTE_OUTCOMES[vote]
        else:
            outcome = _OUTCOMES[self._rules.offer(decision)]
        reason = None
        if outcome is VerdictOutcome.REFUSED:
            reason = self._rules.refusals[-1].because
        elif outcome is VerdictOutcome.REPEATED:
            reason = REPEATED if self._already_counts(decision) else self._refusal_of(decision)
            if reason != REPEATED:  # a repeat of a decision refused before
                outcome = VerdictOutcome.REFUSED
        return self._verdict(decision, outcome, reason)

    @decide_update.validator
    def _validate_decision(self, decision: Decision) -> None:
        """Refuse, before anything reaches history, what the rules would refuse now
        (``DecisionRules.check``, ``Tally.check``) or a decision after the last deadline.
        Deterministic and read-only; validators do not run on replay."""
        reason = self._refusal_now(decision)
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
        escalation = self._escalation
        pending = self._state is ApprovalState.PENDING
        return ApprovalStatusView(
            state=self._state,
            approval_id=self._rules.approval_id,
            deadline=self._wait.deadline,
            trace_id=self._trace_id,
            decision=self._rules.decision,
            rejected_decisions=len(self._rules.refusals),
            action_hash=self._binding.request_hash,
            action=self._request.action,
            args=self._request.args,
            escalated_to=escalation.escalated_to,
            escalated_at=escalation.escalated_at,
            escalations=escalation.escalations,
            reminders=escalation.reminders,
            next_reminder_at=escalation.next_reminder_at(workflow.now()) if pending else None,
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

    def _dated_on_arrival(self, decision: Decision) -> Decision:
        if decision.decided_at is None:
            return decision.model_copy(update={"decided_at": workflow.now()})
        return decision

    def _refusal_now(self, decision: Decision) -> str | None:
        """Why ``_apply_rules`` would refuse ``decision`` now, or ``None``; pure. Arriving
        at or after the deadline is late, though the timer's task has not closed the wait."""
        rules = self._rules
        reason = (self._tally or rules).check(decision)
        if reason == LATE and rules.decision is not None:
            reason = CONFLICTING  # decided already, this one differs: say so
        return reason

    def _already_counts(self, decision: Decision) -> bool:
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

    def _apply_rules(self, decision: Decision, *, made_in_time: bool = False) -> None:
        """A decision for ``DecisionRules``, or a vote for the tally if the request counts votes."""
        if self._tally is not None:
            if (why := self._rules.unverified(decision)) is not None:
                self._rules.refuse(decision, why)  # a vote without proof counts for nothing
                return
            self._tally.offer(decision, made_in_time=made_in_time)
        else:
            self._rules.offer(decision, made_in_time=made_in_time)

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

    def _use_proofs(self, verdict: PermissionVerdict) -> None:
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
                votes=self._tally is not None,  # a vote's proof signs a vote's statement
                channel_key=verdict.channel_verify_key,
            )
            self._rules.verify = self._proofs

    async def _refuse_by_rbac(self, verdict: PermissionVerdict) -> ApprovalResult:
        await self._trail.record(
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

    async def _refuse_vote_policy(self, error_type: str, message: str) -> ApprovalResult:
        await self._trail.record(
            "policy-invalid",
            outcome=AuditOutcome.FAILURE,
            reason="invalid_vote_policy",
            error_type=error_type,
            error=message,
            approver_group=self._request.approver_group,
            approvals_required=self._request.approvals_required,
        )
        return self._finish(ApprovalStatus.FAILURE, error=message)

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
                **self._binding.create_fields(),
                **self._vote_item_fields(),
                may_exist=not self._untried_start,
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

    def _vote_item_fields(self) -> dict[str, Any]:
        """What makes the platform's item a vote item ([ext]); nothing without a policy."""
        if self._tally is None:
            return {}
        members = self._tally.member_names if self._tally.members is not None else None
        return {"approvals_required": self._tally.required, "approvers": members}

    async def _fail_to_create(self, error: ActivityError | ApplicationError) -> ApprovalResult:
        message = failure_message(error)
        await self._trail.record(
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

    async def _audit_requested(self, approval_id: str) -> None:
        await self._trail.record_requested(
            approval_id, self._request.reason, **self._binding.audit_fields()
        )

    async def _read_once(self, approval_id: str) -> None:
        """Take a decision made before the listener could find this workflow (best effort)."""
        decision = await self._platform.read_decision(approval_id)
        if decision is not None:
            self._apply_rules(decision)

    def _adopt_platform_decision(self, outcome: ExpireOutcome | None) -> None:
        """A decision the platform recorded before the expiry wins over the timer."""
        if outcome is not None and outcome.decision is not None:
            self._apply_rules(outcome.decision, made_in_time=True)

    async def _time_out(self, approval_id: str) -> ApprovalResult:
        timeout = self._request.total_timeout_seconds
        await self._trail.write_arrivals(before=self._rules.closed_at_arrival)
        await self._trail.record_outcome(
            outcome=AuditOutcome.TIMEOUT,
            approval_id=approval_id,
            timeout_seconds=timeout,
            escalated_to=self._escalation.escalated_to,
        )
        self._tell(NoticeEvent.TIMED_OUT, outcome=ApprovalStatus.TIMEOUT.value)
        await self._channels.settle()
        return self._finish(
            ApprovalStatus.TIMEOUT,
            error=f"Timed out after {timeout}s waiting for human decision",
        )

    async def _conclude(self, decision: Decision) -> ApprovalResult:
        self._state = ApprovalState.DECIDED
        await self._trail.write_arrivals(before=self._rules.decided_at_arrival)
        on_platform = await self._record_on_platform(decision)
        await self._trail.record_outcome(
            outcome=AuditOutcome.GRANTED if decision.approved else AuditOutcome.DENIED,
            **who_decided(decision),
            comment=decision.comment,
            via=decision.source.value,
            recorded_on_platform=on_platform,
            verified=(self._proofs is not None and self._proofs.verified(decision)) or None,
            **self._binding.approved_audit_fields(decision),
            escalated_to=self._escalation.escalated_to,
            approvers=self._tally.approvers if self._tally else None,
            approvals_required=self._request.approvals_required if self._tally else None,
        )
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
            **self._binding.result_fields(decision),
        )

    async def _expire(self, approval_id: str, why: str) -> ExpireOutcome | None:
        """Close the request on the platform, trying for EXPIRE_RETRY_FOR while it does
        not answer: a request closed here is closed there, and a later click is refused."""
        return await self._platform.expire(approval_id, why, self._expire_retry_seconds)

    async def _record_on_platform(self, decision: Decision) -> bool | None:
        """Write a signalled decision to the platform (best effort); ``None``: not a client's.
        After votes, the outcome is written whichever path its last vote came by."""
        if decision.source is not DecisionSource.CLIENT and self._tally is None:
            return None
        return await self._platform.record_decision(decision, final=self._tally is not None)

    async def _close_as_cancelled(self, approval_id: str) -> None:
        """Expire and audit the request of a cancelled workflow; the caller re-raises."""
        self._rules.close()
        if not self._trail.requested_written:
            await self._audit_requested(approval_id)  # same event_id: written once
        await self._expire(approval_id, "cancelled")
        await self._trail.write_arrivals(before=self._rules.closed_at_arrival)
        await self._trail.record_outcome(outcome=AuditOutcome.CANCELLED, approval_id=approval_id)
        self._state = ApprovalState.CLOSED
        self._set_final_state(ApprovalStatus.CANCELLED)

    # --- channels (docs/channels.md) ----------------------------------------------

    def _tell(self, event: NoticeEvent, **state: Any) -> None:
        """Notify the channels (workflows/notifier.py): best effort, beside the steps."""
        approval_id = self._rules.approval_id
        if approval_id is None:
            return
        self._channels.tell(
            event,
            approval_id=approval_id,
            deadline=self._wait.deadline,
            action_hash=self._binding.request_hash,
            approvers=self._tally.approvers if self._tally is not None else [],
            escalated_to=self._escalation.escalated_to,
            **state,
        )

    def _tell_step(self, step: Step) -> None:
        """A reminder or an escalation was carried out."""
        if step.kind is StepKind.REMIND:
            self._tell(NoticeEvent.REMINDED, sequence=step.number)
        else:
            self._tell(NoticeEvent.ESCALATED, sequence=step.number)

    def _tell_vote(self) -> None:
        """A vote was audited; the outcome's own notice says the rest."""
        if self._rules.decision is None:
            self._tell(NoticeEvent.VOTED)

    # --- plumbing ----------------------------------------------------------------

    async def _write_audit(self, entry: AuditEntry) -> None:
        await self._call(AuditActivities.write_audit, entry, options.AUDIT)

    async def _record_beside(self, key: str, **fields: Any) -> None:
        """A record of something that ran beside the steps (a channel notice), written by a
        regular activity: a local activity there would run beside the steps' timers, and
        its completion time would move the clock they read on replay ("The clock")."""
        await self._trail.record(key, write=self._write_audit_beside, **fields)

    async def _write_audit_beside(self, entry: AuditEntry) -> None:
        await workflow.execute_activity_method(
            AuditActivities.write_audit,
            entry,
            start_to_close_timeout=options.AUDIT.start_to_close_timeout,
            retry_policy=options.AUDIT.retry_policy,
        )

    async def _call(self, activity: Any, arg: Any, call: options.CallOptions) -> Any:
        """Run one short activity as a local activity with ``call``'s timeout and retries,
        one at a time; the decisions that arrived meanwhile are admitted when it returns."""
        async with self._calls:
            while self._unsettled:
                await self._settle()
            self._local_calls += 1
            try:
                return await workflow.execute_local_activity_method(
                    activity,
                    arg,
                    start_to_close_timeout=call.start_to_close_timeout,
                    retry_policy=call.retry_policy,
                )
            finally:
                self._local_calls -= 1
                self._admit_held()

    def _admit_held(self) -> None:
        """Apply the decisions held while a local activity ran, in arrival order, dated now.

        While a local activity runs, the workflow's clock at a decision's arrival is not
        the same on replay (the SDK may deliver the activity's result with it and advance
        the clock to its completion): dated when the activity returns, a decision reads
        one clock in both (docs/internals.md, "The clock")."""
        held, self._held = self._held, []
        for decision, answer in held:
            self._admit(decision, answer)

    async def _settle(self) -> None:
        """Complete the workflow task that admitted a client's decision or an update before
        a local activity runs. Local activities run inside the task: if it fails (an event
        that arrives meanwhile fails a task that completes the workflow as an unhandled
        command; a worker dies), its retry admits the decision again at a later time, where
        it may be late, while the activities' effects (the platform's record, the outcome's
        audit record) stayed; an update's acceptance would go with it. A 1 ms timer ends
        the task; runs without such a decision never get here."""
        self._unsettled = False
        await workflow.sleep(SETTLE)

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
            escalated_to=self._escalation.escalated_to,
            escalated_at=self._escalation.escalated_at,
            **fields,
        )
