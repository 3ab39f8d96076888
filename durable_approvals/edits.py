"""The approver's side of args binding, kept under its first name: the implementation is
``durable_approvals.deciding`` (``bind`` and ``finding``), the one path of a decision.

``bound_decision`` builds the ``Decision`` an approver sends for a request with args
(docs/policies/edits.md); ``find_waiting_workflow`` finds the workflow that waits for
an approval id.
"""

from __future__ import annotations

from durable_approvals.deciding.bind import approved_args, bound_decision
from durable_approvals.deciding.finding import running_workflow as find_waiting_workflow

__all__ = ["approved_args", "bound_decision", "find_waiting_workflow"]
