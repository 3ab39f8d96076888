"""The platform's approvals in one SQLite file (WAL), kept across restarts.

- ``schema``: the one list of columns (table, select, migrations) and the one "still
  open" predicate (``Status.is_open``, ``OPEN_SQL``);
- ``approval``: ``Approval``, a row read through those columns;
- ``wire``: the four shapes an approval takes on the wire;
- ``transactions``: ``Store``, one short transaction per method;
- ``times``: the contract's timestamps.
"""

from __future__ import annotations

from durable_approvals.devstack.platform.store.approval import Approval
from durable_approvals.devstack.platform.store.schema import OPEN_SQL, Status
from durable_approvals.devstack.platform.store.times import utc_now
from durable_approvals.devstack.platform.store.transactions import (
    LIST_LIMIT,
    ExpireOutcome,
    NotAnApprover,
    NoticeOutcome,
    SelfDecisionRefused,
    Store,
)

__all__ = [
    "LIST_LIMIT",
    "OPEN_SQL",
    "Approval",
    "ExpireOutcome",
    "NotAnApprover",
    "NoticeOutcome",
    "SelfDecisionRefused",
    "Status",
    "Store",
    "utc_now",
]
