"""The search attributes that make a waiting approval findable by its workspace's listener.

Registered once per namespace: ``DEV_SERVER_ARGS`` for a dev server, else
``operator_command()``, or ``register()`` where the server lets the worker.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

APPROVAL_ID = SearchAttributeKey.for_keyword("ApprovalId")
APPROVAL_WORKSPACE = SearchAttributeKey.for_keyword("ApprovalWorkspace")
APPROVAL_STATE = SearchAttributeKey.for_keyword("ApprovalState")
KEYS = (APPROVAL_ID, APPROVAL_WORKSPACE, APPROVAL_STATE)

PENDING = "pending"
"""``ApprovalState`` while the workflow waits; it names the outcome once it has one."""

DEV_SERVER_ARGS: tuple[str, ...] = tuple(
    arg for key in KEYS for arg in ("--search-attribute", f"{key.name}=Keyword")
)


def operator_command(namespace: str = "default") -> str:
    """The one command an operator runs to register the attributes on a cluster."""
    names = " ".join(f"--name {key.name} --type Keyword" for key in KEYS)
    return f"temporal operator search-attribute create --namespace {namespace} {names}"


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _in_workspace(task_queue: str, workspace_id: str) -> str:
    return (
        f"TaskQueue = {_quoted(task_queue)} AND {APPROVAL_WORKSPACE.name} = {_quoted(workspace_id)}"
    )


def owner_query(task_queue: str, workspace_id: str, approval_id: str) -> str:
    """The running workflow that waits for ``approval_id`` in ``workspace_id``."""
    return (
        f"{_in_workspace(task_queue, workspace_id)} AND "
        f"{APPROVAL_ID.name} = {_quoted(approval_id)} AND ExecutionStatus = 'Running'"
    )


def closed_owner_query(task_queue: str, workspace_id: str, approval_id: str) -> str:
    """The finished workflow that waited for ``approval_id`` in ``workspace_id``."""
    return (
        f"{_in_workspace(task_queue, workspace_id)} AND "
        f"{APPROVAL_ID.name} = {_quoted(approval_id)} AND ExecutionStatus != 'Running'"
    )


def _timestamp(moment: datetime) -> str:
    return _quoted(moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def pending_query(task_queue: str, workspace_id: str, started_since: datetime | None = None) -> str:
    """Every running workflow of ``workspace_id`` that waits for a decision (started at or
    after ``started_since``, when given)."""
    query = (
        f"{_in_workspace(task_queue, workspace_id)} AND "
        f"{APPROVAL_STATE.name} = {_quoted(PENDING)} AND ExecutionStatus = 'Running'"
    )
    if started_since is not None:
        query += f" AND StartTime >= {_timestamp(started_since)}"
    return query


def unfindable_query(task_queue: str, workflow_type: str) -> str:
    """Running workflows of ``workflow_type`` on ``task_queue`` that have not yet become
    findable (no approval id: their request is still being created), in any workspace."""
    return (
        f"TaskQueue = {_quoted(task_queue)} AND WorkflowType = {_quoted(workflow_type)} AND "
        f"ExecutionStatus = 'Running' AND {APPROVAL_ID.name} IS NULL"
    )


def closed_query(task_queue: str, workspace_id: str, closed_since: datetime) -> str:
    """The workflows of ``workspace_id`` that closed at or after ``closed_since``."""
    return (
        f"{_in_workspace(task_queue, workspace_id)} AND ExecutionStatus != 'Running' AND "
        f"CloseTime >= {_timestamp(closed_since)}"
    )


async def missing(client: Client) -> list[str]:
    """The attributes not registered in the client's namespace (empty when all are)."""
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    return [key.name for key in KEYS if key.name not in response.custom_attributes]


async def register(client: Client) -> list[str]:
    """Register the missing attributes in the client's namespace; returns those added.

    Raises:
        RPCError: the server refused (no operator rights).
    """
    try:
        absent = await missing(client)
    except RPCError as error:
        if error.status is not RPCStatusCode.UNIMPLEMENTED:  # the time-skipping test server
            raise
        absent = [key.name for key in KEYS]
    if not absent:
        return []
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={
                    name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in absent
                },
            )
        )
    except RPCError as error:
        if error.status is not RPCStatusCode.ALREADY_EXISTS:
            raise
    return absent
