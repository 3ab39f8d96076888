"""Tracebacks in the stack's logs (workers, the in-process platforms, the Temporal
server): each one is expected fault noise named in ``ALLOWED`` (with why), or counted."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

START = re.compile(r"Traceback \(most recent call last\)|^panic: |fatal error: ")


@dataclass(frozen=True)
class Allowed:
    """Noise a fault makes on purpose: the exception line it matches, and why it is fine."""

    pattern: str
    why: str


ALLOWED: tuple[Allowed, ...] = (
    Allowed(
        r"Completing activity as failed[\s\S]*PlatformUnavailable: ",
        "an activity attempt found the platform down (restarted on purpose: connection "
        "refused) or answering 503 (the create fault); the SDK logs the failed attempt "
        "and Temporal retries it (PlatformUnavailable is retryable)",
    ),
    Allowed(
        r"'activity_type': 'listen_workspace'[\s\S]*CancelledError",
        "the workspace listener's session activity is cancelled when its heartbeat times "
        "out (its worker paused by SIGSTOP or killed, Temporal restarted); the listener "
        "workflow starts a new session (docs/internals.md)",
    ),
    Allowed(
        r"'activity_type': '(create_approval|check_permission|write_audit|read_decision)'"
        r"[\s\S]*CancelledError: Activity cancelled$",
        "a local activity of a workflow task the worker lost (its task timed out while the "
        "worker was paused or Temporal restarted) is cancelled, and the task runs again; or "
        "a cancellation of the approval reached it while the `requested` record or the read "
        "ran: the cancelled path writes the record again under the same event id",
    ),
    Allowed(
        r"start_workflow_execution retried \d+ times[\s\S]*RPCError: tcp connect error$",
        "a worker the soak (re)started while it restarts the Temporal server connected, then "
        "lost the server while starting the workspace listener: it exits, as worker.py does "
        "when Temporal is unreachable at start, and the soak starts it again",
    ),
    Allowed(
        r"uvicorn.error[\s\S]*CancelledError: Task cancelled, timeout graceful shutdown "
        r"exceeded$",
        "the platform restart fault stops uvicorn while a request is held (a create reply "
        "delayed on purpose, a socket): uvicorn cancels it after its graceful timeout",
    ),
    Allowed(
        r"uvicorn.error[\s\S]*starlette.requests.ClientDisconnect$",
        "a client went away while the platform read its body: a worker killed or paused, "
        "or its HTTP timeout during the slowed-create fault",
    ),
    Allowed(
        r"RuntimeError: Failed client connect: ",
        "a worker the soak (re)started while it restarts the Temporal server exits at "
        "once, as worker.py does when Temporal is unreachable at start; the soak starts "
        "it again as a supervisor would (counted: 'worker exited by itself')",
    ),
    Allowed(
        r"the stored votes do not decide this approval",
        "by design, not a fault: a vote approval on the reference platform whose votes came "
        "by signal or update is closed there only by votes stored on the item (the one-vote "
        "final, docs/trust-model.md); the record_decision activity fails non-retryably with "
        "409 and the workflow audits recorded_on_platform: false",
    ),
)


@dataclass
class Traceback:
    """One traceback: where, its context line and its last (exception) line."""

    path: Path
    line: int
    text: str

    def allowed_by(self) -> Allowed | None:
        return next((a for a in ALLOWED if re.search(a.pattern, self.text)), None)


CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


def _frame_line(line: str) -> bool:
    return line.startswith((" ", "\t")) or not line.strip() or line.startswith(CHAINED)


def tracebacks(path: Path) -> list[Traceback]:
    """Each traceback in ``path`` with the exceptions chained to it, as one text: the log
    line before it, then its exception lines (frames left out)."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    found = []
    number = 0
    while number < len(lines):
        if not START.search(lines[number]):
            number += 1
            continue
        first, end, kept = number, number + 1, [lines[number - 1] if number else ""]
        while end < len(lines):
            line = lines[end]
            if START.search(line) or line.startswith(CHAINED) or _frame_line(line):
                end += 1
            else:  # an exception line: the chain may go on after it
                kept.append(line)
                end += 1
                if end < len(lines) and not _frame_line(lines[end]):
                    break
        found.append(Traceback(path, first + 1, "\n".join(kept)))
        number = end
    return found


def scan(files: list[Path]) -> tuple[Counter[str], list[Traceback]]:
    """Allowed tracebacks counted by entry, and the unexpected ones."""
    allowed: Counter[str] = Counter()
    unexpected = []
    for path in files:
        if not path.exists():
            continue
        for found in tracebacks(path):
            entry = found.allowed_by()
            if entry is None:
                unexpected.append(found)
            else:
                allowed[entry.pattern] += 1
    return allowed, unexpected
