"""WorkspaceListenerWorkflow: keeps one listener activity running per workspace and task queue.

Sessions run back to back; the workflow continues as new after ``SESSIONS_PER_RUN``
sessions, when Temporal suggests it, or with the settings ``reconfigure`` sends.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    import durable_approvals.workflows.activity_options as options
    from durable_approvals.activities.listener import ListenerActivities
    from durable_approvals.activities.messages import ListenerConfig, ListenerReport

SESSIONS_PER_RUN = 50


def listener_workflow_id(workspace_id: str, task_queue: str) -> str:
    """One listener per workspace for the fleet of workers that serve ``task_queue``."""
    return f"approvals-listener-{workspace_id}@{task_queue}"


@workflow.defn
class WorkspaceListenerWorkflow:
    @workflow.init
    def __init__(self, config: ListenerConfig) -> None:
        self._config = config
        self._wanted: ListenerConfig | None = None
        self._session: workflow.ActivityHandle[ListenerReport] | None = None
        self._sessions = 0
        self._last: ListenerReport | None = None

    @workflow.run
    async def run(self, config: ListenerConfig) -> None:
        listener = options.listener(config.session_seconds, config.heartbeat_timeout_seconds)
        while self._sessions < SESSIONS_PER_RUN and self._wanted is None:
            self._session = workflow.start_activity_method(
                ListenerActivities.listen_workspace,
                config,
                start_to_close_timeout=listener.start_to_close_timeout,
                heartbeat_timeout=listener.heartbeat_timeout,
                retry_policy=listener.retry_policy,
            )
            try:
                self._last = await self._session
            except ActivityError:
                if self._wanted is None:
                    raise
            self._sessions += 1
            if workflow.info().is_continue_as_new_suggested():
                break
        workflow.continue_as_new(self._wanted or config)

    @workflow.signal
    def reconfigure(self, config: ListenerConfig) -> None:
        """Run with ``config`` from now on (a no-op when it is the current one)."""
        if config == self._config or config == self._wanted:
            return
        self._wanted = config
        if self._session is not None and not self._session.done():
            self._session.cancel()

    @workflow.query
    def config(self) -> ListenerConfig:
        """The configuration the listener runs with (or will, once reconfigured)."""
        return self._wanted or self._config

    @workflow.query
    def last_session(self) -> ListenerReport | None:
        """What the last finished session of this run did (``None`` before the first ends)."""
        return self._last
