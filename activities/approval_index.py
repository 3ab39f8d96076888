"""Which ApprovalWorkflow owns an approval id: Temporal visibility, with an LRU cache."""

from __future__ import annotations

from collections import OrderedDict

from temporalio.client import Client

from durable_approvals import search_attributes as attributes


class ApprovalIndex:
    """Look-ups for one workspace on one task queue, with an LRU cache in front."""

    def __init__(
        self, client: Client, task_queue: str, workspace_id: str, cache_size: int = 100_000
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._workspace_id = workspace_id
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._cache_size = cache_size
        self.lookups = 0
        """Owner look-ups made in visibility (``owner`` calls the cache did not answer)."""

    async def owner(self, approval_id: str) -> str | None:
        """The workflow id waiting for ``approval_id``, or ``None`` if no running one does."""
        cached = self._cache.get(approval_id)
        if cached is not None:
            self._cache.move_to_end(approval_id)
            return cached
        query = attributes.owner_query(self._task_queue, self._workspace_id, approval_id)
        self.lookups += 1
        async for execution in self._client.list_workflows(query, limit=1):
            self._remember(approval_id, execution.id)
            return execution.id
        return None

    async def closed_owner(self, approval_id: str) -> tuple[str, str] | None:
        """(workflow id, run id) of the finished workflow that owned ``approval_id``, if any."""
        query = attributes.closed_owner_query(self._task_queue, self._workspace_id, approval_id)
        async for execution in self._client.list_workflows(query, limit=1):
            return execution.id, execution.run_id
        return None

    async def pending(self) -> dict[str, str]:
        """Every approval id of the workspace whose workflow is waiting → its workflow id."""
        found: dict[str, str] = {}
        query = attributes.pending_query(self._task_queue, self._workspace_id)
        async for execution in self._client.list_workflows(query):
            approval_id = execution.typed_search_attributes.get(attributes.APPROVAL_ID)
            if approval_id:
                found[approval_id] = execution.id
                self._remember(approval_id, execution.id)
        return found

    def learn(self, approval_id: str, workflow_id: str) -> None:
        """Take ``workflow_id`` as the owner of a new ``approval_id`` (an ``APPROVAL_REQUESTED``
        hint, ``owner_hints``); an owner already known from visibility is kept."""
        if approval_id not in self._cache:
            self._remember(approval_id, workflow_id)

    def forget(self, approval_id: str) -> None:
        self._cache.pop(approval_id, None)

    def _remember(self, approval_id: str, workflow_id: str) -> None:
        self._cache[approval_id] = workflow_id
        self._cache.move_to_end(approval_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
