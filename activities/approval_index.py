"""Which ApprovalWorkflow owns an approval id: Temporal visibility, with an LRU cache."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from temporalio.client import Client

from durable_approvals import search_attributes as attributes
from durable_approvals.models import APPROVAL_WORKFLOW


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
        self.listed = 0
        """Workflows read by the listings (``pending``, ``earliest_unfindable_start``,
        ``closed_since``)."""

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

    async def pending(self, started_since: datetime | None = None) -> dict[str, str]:
        """Every approval id of the workspace whose workflow is waiting → its workflow id
        (only workflows started at or after ``started_since``, when given)."""
        found: dict[str, str] = {}
        query = attributes.pending_query(self._task_queue, self._workspace_id, started_since)
        async for execution in self._client.list_workflows(query):
            self.listed += 1
            approval_id = execution.typed_search_attributes.get(attributes.APPROVAL_ID)
            if approval_id:
                found[approval_id] = execution.id
                self._remember(approval_id, execution.id)
        return found

    async def earliest_unfindable_start(self) -> datetime | None:
        """When the oldest running approval workflow of the task queue that is not findable
        yet (its request still being created) started; ``None`` if there is none."""
        query = attributes.unfindable_query(self._task_queue, APPROVAL_WORKFLOW)
        earliest: datetime | None = None
        async for execution in self._client.list_workflows(query):
            self.listed += 1
            if earliest is None or execution.start_time < earliest:
                earliest = execution.start_time
        return earliest

    async def closed_since(self, since: datetime) -> set[str]:
        """The approval ids of the workspace whose workflows closed at or after ``since``."""
        closed: set[str] = set()
        query = attributes.closed_query(self._task_queue, self._workspace_id, since)
        async for execution in self._client.list_workflows(query):
            self.listed += 1
            approval_id = execution.typed_search_attributes.get(attributes.APPROVAL_ID)
            if approval_id:
                closed.add(approval_id)
                self.forget(approval_id)
        return closed

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
