"""Error type names carried by ``ApplicationError.type``: match on these, never on messages.

retryable (Temporal retries the activity)
├── PLATFORM_UNAVAILABLE     connect error, timeout, 5xx, 429
└── AUDIT_UNWRITABLE         the audit file cannot be appended to (a record is never dropped)
non-retryable
├── PLATFORM_REJECTED        4xx on create/decide/expire; a token that cannot be sent
│                            (a control character), refused before any request
├── PLATFORM_BAD_REPLY       201 without valid JSON or without an approval_id; a reply
│                            over MAX_REPLY_BYTES; a list reply that is not an array
│                            or runs over MAX_LIST_BYTES (one bad item is skipped)
├── UNKNOWN_WORKSPACE        the request names a workspace this worker does not serve
├── INVALID_APPROVAL_ID      an approval id that is not an ``Identifier``, refused
│                            before it is put in a URL (no request is sent)
├── UNKNOWN_APPROVER_GROUP   a request names an approver group the workspace config lacks
├── APPROVALS_EXCEED_GROUP   a request needs more approvals than its group has deciders
│                            (both end the request as a failure result, audited)
├── DECISION_REFUSED         the ``decide_update`` validator refused a decision: the
│                            update is rejected (no history event), ``details[0]`` is
│                            the ``DecisionVerdict`` as a dict
└── PAYLOAD_INVALID          a payload the models refuse while a worker decodes it
                             (``approvals.converter``): the workflow fails at once
"""

from __future__ import annotations

PLATFORM_UNAVAILABLE = "PlatformUnavailable"
PLATFORM_REJECTED = "PlatformRejected"
PLATFORM_BAD_REPLY = "PlatformBadReply"
UNKNOWN_WORKSPACE = "UnknownWorkspace"
AUDIT_UNWRITABLE = "AuditUnwritable"
INVALID_APPROVAL_ID = "InvalidApprovalId"
UNKNOWN_APPROVER_GROUP = "UnknownApproverGroup"
APPROVALS_EXCEED_GROUP = "ApprovalsExceedGroup"
DECISION_REFUSED = "DecisionRefused"
PAYLOAD_INVALID = "PayloadValidationError"
"""The SDK's reserved type name for a payload that failed validation (temporalio.converter)."""

NON_RETRYABLE_CREATE_ERRORS = (PLATFORM_REJECTED, PLATFORM_BAD_REPLY, UNKNOWN_WORKSPACE)
