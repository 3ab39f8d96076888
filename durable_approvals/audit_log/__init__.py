"""The JSON Lines audit file: one record per lifecycle event, written exactly once,
each record chained to the one before it by hash (docs/audit.md).

- ``record``: the record format and the hash chain;
- ``writer`` (``AuditLog``), over ``files`` (``flock``, ``O_APPEND``, fsync) and
  ``index`` (dedup by ``event_id``, torn-line repair);
- ``rotation``: a new file chained to its archive;
- ``verify`` (``verify_chain``, ``verify_audit``), ``outcomes`` (one outcome per
  approval) and ``report`` (what they find).
"""

from __future__ import annotations

from durable_approvals.audit_log.files import FILE_MODE, AuditUnwritableError
from durable_approvals.audit_log.outcomes import ENDING_OUTCOMES, second_outcome
from durable_approvals.audit_log.record import (
    GENESIS_HASH,
    ROTATE_ACTION,
    canonical_json,
    chain,
    record_hash,
    render_record,
)
from durable_approvals.audit_log.report import (
    DELETED,
    EDITED,
    INSERTED,
    NOT_JSON,
    PROBLEM_KINDS,
    REORDERED,
    TRUNCATED,
    TWO_OUTCOMES,
    UNCHAINED,
    ChainProblem,
    ChainReport,
)
from durable_approvals.audit_log.rotation import Rotation
from durable_approvals.audit_log.verify import verify_audit, verify_chain
from durable_approvals.audit_log.writer import AuditLog

__all__ = [
    "DELETED",
    "EDITED",
    "ENDING_OUTCOMES",
    "FILE_MODE",
    "GENESIS_HASH",
    "INSERTED",
    "NOT_JSON",
    "PROBLEM_KINDS",
    "REORDERED",
    "ROTATE_ACTION",
    "TRUNCATED",
    "TWO_OUTCOMES",
    "UNCHAINED",
    "AuditLog",
    "AuditUnwritableError",
    "ChainProblem",
    "ChainReport",
    "Rotation",
    "canonical_json",
    "chain",
    "record_hash",
    "render_record",
    "second_outcome",
    "verify_audit",
    "verify_chain",
]
