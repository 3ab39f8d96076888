"""WorkspaceListenerWorkflow: keeps one listener activity running per workspace and task queue.

Started idempotently by every worker (fixed id, :func:`listener_workflow_id`).
It runs listener sessions back to back; a session that dies with its worker is
retried on another after the heartbeat timeout. Its history stays bounded: it
continues as new after ``SESSIONS_PER_RUN`` sessions or when Temporal suggests it.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.listener import ListenerActivities
    from approvals.models import ListenerConfig, ListenerReport
    from workflows import activity_options as options

SESSIONS_PER_RUN = 50


def listener_workflow_id(workspace_id: str, task_queue: str) -> str:
    """One listener per workspace for the fleet of workers that serve ``task_queue``."""
    return f"approvals-listener-{workspace_id}@{task_queue}"


@workflow.defn
class WorkspaceListenerWorkflow:
    def __init__(self) -> None:
        self._sessions = 0
        self._last: ListenerReport | None = None

    @workflow.run
    async def run(self, config: ListenerConfig) -> None:
        listener = options.listener(config.session_seconds, config.heartbeat_timeout_seconds)
        while self._sessions < SESSIONS_PER_RUN:
            self._last = await workflow.execute_activity_method(
                ListenerActivities.listen_workspace,
                config,
                start_to_close_timeout=listener.start_to_close_timeout,
                heartbeat_timeout=listener.heartbeat_timeout,
                retry_policy=listener.retry_policy,
            )
            self._sessions += 1
            if workflow.info().is_continue_as_new_suggested():
                break
        workflow.continue_as_new(config)

    @workflow.query
    def last_session(self) -> ListenerReport | None:
        """What the last finished session of this run did (``None`` before the first ends)."""
        return self._last
