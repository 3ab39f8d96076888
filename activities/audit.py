"""Audit activity: append one lifecycle record to the JSON Lines trail, exactly once."""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.exceptions import ApplicationError

from durable_approvals import errors
from durable_approvals.audit_log import AuditLog, AuditUnwritableError
from durable_approvals.models import AuditEntry


class AuditActivities:
    """The audit activity over the worker's ``AuditLog``."""

    def __init__(self, audit_log: AuditLog) -> None:
        self._log = audit_log

    @activity.defn
    async def write_audit(self, entry: AuditEntry) -> bool:
        """True if written, False if a record with this ``event_id`` was already there.

        Raises:
            ApplicationError: ``AUDIT_UNWRITABLE``, retryable: a record is never dropped.
        """
        try:
            return await asyncio.to_thread(self._log.append, entry)
        except AuditUnwritableError as error:
            raise ApplicationError(str(error), type=errors.AUDIT_UNWRITABLE) from error
