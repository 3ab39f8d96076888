"""Which ApprovalWorkflow owns an approval id: Temporal visibility, with an LRU cache."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsRequest
from temporalio.client import Client
from temporalio.converter import PayloadConverter

from durable_approvals import search_attributes as attributes
from durable_approvals.models import APPROVAL_WORKFLOW

LISTING_PAGE_SIZE = 1000


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
        async for row in self._rows(query):
            approval_id, workflow_id = _approval_id(row), row.execution.workflow_id
            if approval_id:
                found[approval_id] = workflow_id
                self._remember(approval_id, workflow_id)
        return found

    async def earliest_unfindable_start(self) -> datetime | None:
        """When the oldest running approval workflow of the task queue that is not findable
        yet (its request still being created) started; ``None`` if there is none."""
        query = attributes.unfindable_query(self._task_queue, APPROVAL_WORKFLOW)
        earliest: datetime | None = None
        async for row in self._rows(query):
            started = row.start_time.ToDatetime(tzinfo=UTC)
            if earliest is None or started < earliest:
                earliest = started
        return earliest

    async def closed_since(self, since: datetime) -> set[str]:
        """The approval ids of the workspace whose workflows closed at or after ``since``."""
        closed: set[str] = set()
        query = attributes.closed_query(self._task_queue, self._workspace_id, since)
        async for row in self._rows(query):
            approval_id = _approval_id(row)
            if approval_id:
                closed.add(approval_id)
                self.forget(approval_id)
        return closed

    async def _rows(self, query: str) -> AsyncIterator[WorkflowExecutionInfo]:
        """Visibility's rows for ``query``, page by page, as the server sent them: a
        listing reads two fields of each, and ``Client.list_workflows`` would decode every
        search attribute and memo of every row on the event loop (docs/performance.md)."""
        token = b""
        while True:
            page = await self._client.workflow_service.list_workflow_executions(
                ListWorkflowExecutionsRequest(
                    namespace=self._client.namespace,
                    query=query,
                    page_size=LISTING_PAGE_SIZE,
                    next_page_token=token,
                ),
                retry=True,
            )
            for row in page.executions:
                self.listed += 1
                yield row
            token = page.next_page_token
            if not token:
                return

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


def _approval_id(row: WorkflowExecutionInfo) -> str | None:
    """The row's ``ApprovalId`` search attribute, if it holds one keyword."""
    fields = row.search_attributes.indexed_fields
    if attributes.APPROVAL_ID.name not in fields:
        return None
    value = PayloadConverter.default.from_payload(fields[attributes.APPROVAL_ID.name])
    if isinstance(value, list) and len(value) == 1:  # a keyword may come as a 1-item list
        value = value[0]
    return value if isinstance(value, str) and value else None
