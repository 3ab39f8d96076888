"""An async client for the approvals platform's HTTP contract.

Every failure is a ``PlatformError`` that says whether trying again can help.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx

from durable_approvals import errors
from durable_approvals.json_items import ArrayItems, NotAnArray, Oversized
from durable_approvals.models import is_identifier, require_identifier
from durable_approvals.redaction import redact_text
from durable_approvals.settings import SettingsError, token_problem

logger = logging.getLogger(__name__)

MAX_REPLY_BYTES = 2_000_000
MAX_ITEM_BYTES = MAX_REPLY_BYTES
"""One item of the list reply; a larger one is skipped (counted, warned once), not the list."""
MAX_LIST_BYTES = 128_000_000
"""The whole list reply, read as it streams; past this the read fails (a runaway reply)."""
MAX_WARNED_ITEMS = 10_000
MAX_ERROR_BYTES = 4_096
MAX_ERROR_CHARS = 200
_RETRYABLE_4XX = {408, 425, 429}


APPROVER_HEADER = "X-Approver-Token"
"""[ext] The header that carries an approver's token (docs/trust-model.md)."""


class PlatformError(Exception):
    """A platform call that did not succeed: ``kind`` (an ``approvals.errors`` name),
    ``retryable``, ``status_code`` if a reply came, the reference tool's ``message``, and
    the [ext] ``reason`` word of a refused decision (``self-approval``, ``hash-mismatch``...)."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        retryable: bool,
        status_code: int | None = None,
        reason: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.retryable = retryable
        self.status_code = status_code
        self.reason = reason


class ExpireResult(StrEnum):
    EXPIRED = "expired"
    ALREADY_DECIDED = "already_decided"
    NOT_SUPPORTED = "not_supported"  # unknown id, or a platform without the route


def _status_error(
    prefix: str, response: httpx.Response, *, detail: str | None = None
) -> PlatformError:
    code = response.status_code
    retryable = code >= 500 or code in _RETRYABLE_4XX
    kind = errors.PLATFORM_UNAVAILABLE if retryable else errors.PLATFORM_REJECTED
    message = f"{prefix}: {code}" + (f" ({detail})" if detail else "")
    return PlatformError(message, kind=kind, retryable=retryable, status_code=code)


def _error_text(response: httpx.Response, key: str = "error") -> str | None:
    """The platform's ``{"error": ...}`` text (or ``key``'s) as one short printable line."""
    if len(response.content) > MAX_ERROR_BYTES:
        return None
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested too deep: no text
        return None
    text = data.get(key) if isinstance(data, dict) else None
    if not isinstance(text, str):
        return None
    printable = "".join(c if c.isprintable() else " " for c in text).strip()
    return printable[:MAX_ERROR_CHARS] or None


def _json_body(response: httpx.Response) -> Any:
    if len(response.content) > MAX_REPLY_BYTES:
        raise PlatformError(
            f"Platform reply too large ({len(response.content)} bytes, status "
            f"{response.status_code})",
            kind=errors.PLATFORM_BAD_REPLY,
            retryable=False,
            status_code=response.status_code,
        )
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested too deep: not JSON to us
        raise PlatformError(
            f"Platform returned invalid JSON (status {response.status_code})",
            kind=errors.PLATFORM_BAD_REPLY,
            retryable=False,
            status_code=response.status_code,
        ) from None


def _header_safe(token: str, name: str) -> str:
    if problem := token_problem(token, name):
        raise PlatformError(problem, kind=errors.PLATFORM_REJECTED, retryable=False)
    return token


def _transport_error(error: httpx.HTTPError, failed: str, base_url: str) -> PlatformError:
    """``{failed}: cannot reach the platform at {url} (PLATFORM_URL): {why}``."""
    detail = redact_text(str(error)) or type(error).__name__
    return PlatformError(
        f"{failed}: cannot reach the platform at {base_url} (PLATFORM_URL): {detail}",
        kind=errors.PLATFORM_UNAVAILABLE,
        retryable=True,
    )


@dataclass(frozen=True)
class ListReply:
    """The usable items of one list reply, and how many were skipped (oversized or
    malformed: not a JSON object with a valid ``id``)."""

    items: list[dict[str, Any]]
    skipped: int = 0


_ITEM_ID = re.compile(rb'"id"\s*:\s*"([^"\\]{1,200})"')


def _item_name(raw: bytes) -> str | None:
    """The ``id`` an unusable item's first bytes give, if a valid one."""
    found = _ITEM_ID.search(raw[:4_096])
    name = found.group(1).decode("utf-8", "replace") if found else None
    return name if is_identifier(name) else None


def _whole_list(body: bytes) -> list[Any] | None:
    """``body`` parsed as one JSON array; ``None`` when it is not valid JSON (then it is
    read item by item).

    Raises:
        NotAnArray: valid JSON, but not an array.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, list):
        raise NotAnArray("not a JSON array")
    return data


def _described(value: Any) -> bytes:
    """An unusable parsed element as bytes to tell it from others (its JSON, cut)."""
    try:
        return json.dumps(value)[:MAX_ITEM_BYTES].encode()
    except (ValueError, TypeError, RecursionError):
        return type(value).__name__.encode()


def _parsed_item(raw: bytes) -> dict[str, Any] | None:
    try:
        item = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return item if isinstance(item, dict) and is_identifier(item.get("id")) else None


@dataclass
class PlatformClient:
    """Calls for one workspace on one platform, over the ``http`` pool it is given."""

    http: httpx.AsyncClient
    base_url: str
    workspace_id: str
    token: str | None = None
    token_source: Callable[[], str | None] | None = None
    """Called for the token of each request when set (a rotated token file); else ``token``."""
    _single_item_route: bool | None = None
    _warned_items: set[str] = field(default_factory=set)

    @property
    def has_single_item_route(self) -> bool | None:
        """Whether the platform serves ``GET .../approvals/{id}``; ``None`` until known."""
        return self._single_item_route

    def headers(self) -> dict[str, str]:
        """The workspace's headers, with its token.

        Raises:
            PlatformError: a token that cannot be a header (never sent, never shown).
        """
        headers = {"X-Workspace-ID": self.workspace_id}
        try:
            token = self.token_source() if self.token_source is not None else self.token
        except SettingsError as error:  # a token file that cannot be sent
            raise PlatformError(
                str(error), kind=errors.PLATFORM_REJECTED, retryable=False
            ) from None
        if token:
            headers["Authorization"] = f"Bearer {_header_safe(token, 'the workspace token')}"
        return headers

    def websocket_url(self) -> str:
        scheme, rest = self.base_url.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws"

    def _url(self, suffix: str = "") -> str:
        return f"{self.base_url}/workspaces/{self.workspace_id}/approvals{suffix}"

    def _item_url(self, approval_id: str, suffix: str = "") -> str:
        """The URL of one approval; an id that could change the route is refused first."""
        try:
            require_identifier(approval_id, "approval id")
        except ValueError as error:
            raise PlatformError(
                str(error), kind=errors.INVALID_APPROVAL_ID, retryable=False
            ) from None
        return self._url(f"/{approval_id}{suffix}")

    async def _send(
        self,
        method: str,
        url: str,
        *,
        failed: str,
        json: Any = None,
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = {**self.headers(), **(extra_headers or {})}
        try:
            return await self.http.request(method, url, headers=headers, json=json)
        except httpx.HTTPError as error:
            raise _transport_error(error, failed, self.base_url) from error

    async def create_approval(
        self,
        action: str,
        reason: str,
        *,
        idempotency_key: str,
        task_id: str | None = None,
        requester: str | None = None,
        timeout_seconds: float | None = None,
        context: dict[str, Any] | None = None,
        approvals_required: int | None = None,
        approvers: list[str] | None = None,
    ) -> str:
        """Create the request and return its ``approval_id`` (an ``Identifier``).

        ``idempotency_key``: a retry gets the first request back (where honoured);
        ``requester`` and ``timeout_seconds`` are [ext] inbox fields; ``context`` is the
        contract's object (args, args_schema and action_hash go there); ``approvals_required``
        the [ext] that makes the decide route record votes, ``approvers`` the only names it
        takes votes from (docs/policies/n-of-m.md).

        Raises:
            PlatformError: a reply other than 201, or a bad one.
        """
        body: dict[str, Any] = {"action": action, "reason": reason}
        if task_id:
            body["task_id"] = task_id
        if requester:
            body["requester"] = requester
        if timeout_seconds is not None:
            body["timeout_seconds"] = timeout_seconds
        if context is not None:
            body["context"] = context
        if approvals_required is not None:
            body["approvals_required"] = approvals_required
        if approvers is not None:
            body["approvers"] = approvers
        response = await self._send(
            "POST",
            self._url(),
            failed="Failed to request approval",
            json=body,
            extra_headers={"Idempotency-Key": idempotency_key},
        )
        if response.status_code != 201:
            raise _status_error("Failed to create request", response)
        data = _json_body(response)
        approval_id = data.get("approval_id") if isinstance(data, dict) else None
        if not is_identifier(approval_id):
            raise PlatformError(
                "Platform reply has no valid approval_id (status 201)",
                kind=errors.PLATFORM_BAD_REPLY,
                retryable=False,
                status_code=201,
            )
        return approval_id

    async def list_approvals(self) -> list[dict[str, Any]]:
        """The newest 50 approvals of the workspace, newest first (``read_list``'s items)."""
        return (await self.read_list()).items

    async def read_list(self) -> ListReply:
        """The newest 50 approvals, read item by item as the reply streams in: an item over
        ``MAX_ITEM_BYTES`` or not a JSON object with a valid ``id`` is skipped (counted,
        warned once), never a failure of the read (docs/internals.md).

        Raises:
            PlatformError: a reply other than 200, not a JSON array, or over ``MAX_LIST_BYTES``.
        """
        failed = "Failed to list approvals"
        reply = ListReply([])
        headers = self.headers()
        try:
            async with self.http.stream("GET", self._url(), headers=headers) as response:
                if response.status_code != 200:
                    raise _status_error(failed, response)
                array: ArrayItems | None = None
                small = bytearray()  # a reply no larger than one item is parsed whole
                read = 0
                async for chunk in response.aiter_bytes():
                    read += len(chunk)
                    if read > MAX_LIST_BYTES:
                        raise PlatformError(
                            f"Platform list reply too large (over {MAX_LIST_BYTES} bytes)",
                            kind=errors.PLATFORM_BAD_REPLY,
                            retryable=False,
                            status_code=200,
                        )
                    if array is None:
                        small += chunk
                        if len(small) <= MAX_ITEM_BYTES:
                            continue
                        array, chunk, small = ArrayItems(MAX_ITEM_BYTES), bytes(small), bytearray()
                    array.feed(chunk)
                    reply = self._collect(reply, array.take())
                    if array.done:
                        break
                if array is None and (whole := _whole_list(bytes(small))) is not None:
                    return self._collect(reply, whole)
                if array is None:  # not valid JSON as a whole: item by item then
                    array = ArrayItems(MAX_ITEM_BYTES)
                    array.feed(bytes(small))
                    reply = self._collect(reply, array.take())
                array.close()
        except NotAnArray:
            raise PlatformError(
                "Platform list reply is not a JSON array",
                kind=errors.PLATFORM_BAD_REPLY,
                retryable=False,
                status_code=200,
            ) from None
        except httpx.HTTPError as error:
            raise _transport_error(error, failed, self.base_url) from error
        return reply

    def _collect(self, reply: ListReply, found: list[Any]) -> ListReply:
        """``reply`` with ``found`` (raw items, or items parsed already) added."""
        items, skipped = list(reply.items), reply.skipped
        for raw in found:
            item = self._usable(raw)
            if item is None:
                skipped += 1
            else:
                items.append(item)
        return ListReply(items, skipped)

    def _usable(self, raw: Any) -> dict[str, Any] | None:
        """The item, or ``None`` (with one warning per item) when it cannot be used."""
        if isinstance(raw, Oversized):
            name, why, size, digest_of = _item_name(raw.head), "oversized", raw.size, raw.head
        elif isinstance(raw, bytes):
            if (item := _parsed_item(raw)) is not None:
                return item
            name, why, size, digest_of = _item_name(raw), "malformed", len(raw), raw
        else:  # an element of a list parsed whole
            if isinstance(raw, dict) and is_identifier(raw.get("id")):
                return raw
            digest_of = _described(raw)
            name, why, size = None, "malformed", len(digest_of)
        key = name or hashlib.sha256(digest_of).hexdigest()
        if key not in self._warned_items:
            if len(self._warned_items) >= MAX_WARNED_ITEMS:
                self._warned_items.clear()
            self._warned_items.add(key)
            logger.warning(
                "skipping %s item %s in the platform's list (%d bytes): that item is not "
                "read, the others are (warned once per item)",
                why,
                name or "(no readable id)",
                size,
            )
        return None

    async def find_by_task_id(self, task_id: str, *also: str) -> str | None:
        """The id of the newest approval with this ``task_id`` (or one of ``also``) among the
        newest 50, if any."""
        wanted = {task_id, *also}
        for item in await self.list_approvals():
            found = item.get("id")
            if item.get("task_id") in wanted and is_identifier(found):
                return found
        return None

    async def get_approval(self, approval_id: str) -> dict[str, Any] | None:
        """One approval by id: the single-item route where the platform has it, else the list.

        Returns:
            The item, or ``None``: not found right now (never a decision).

        Raises:
            PlatformError: a failed read.
        """
        if self._single_item_route is not False:
            response = await self._send(
                "GET", self._item_url(approval_id), failed="Failed to read approval"
            )
            if response.status_code == 200:
                self._single_item_route = True
                data = _json_body(response)
                return data if isinstance(data, dict) else None
            if response.status_code not in (404, 405):
                raise _status_error("Failed to read approval", response)
            if response.status_code == 405 or _error_text(response) is None:
                self._single_item_route = False  # a router's bare 404/405: no such route
            elif self._single_item_route:
                return None  # the route exists; the approval does not
        for item in await self.list_approvals():
            if item.get("id") == approval_id:
                self._single_item_route = False  # listed, yet 404 on the single route
                return item
        return None

    async def decide(
        self,
        approval_id: str,
        *,
        approved: bool,
        decided_by: str,
        comment: str | None = None,
        action_hash: str | None = None,
        edited_args: dict[str, Any] | None = None,
        final: bool = False,
        approver_token: str | None = None,
    ) -> dict[str, Any]:
        """Record a decision; the first one wins. On a reference platform's vote item (N-of-M)
        a decision is a vote, unless ``final`` (the [ext] the workflow's outcome carries).
        Returns the platform's reply (``status``; a vote's [ext] ``votes`` and
        ``approvals_required``).

        ``action_hash`` and ``edited_args`` are [ext] fields (docs/policies/edits.md):
        the reference platform checks them; the upstream contract ignores them.
        ``approver_token``: [ext] the approver's credential (``X-Approver-Token``) a reference
        platform with an approvers file takes ``decided_by`` from (docs/trust-model.md).

        Raises:
            PlatformError: 404 when unknown or already decided, 403 from the
                reference platform for a self-approval; the message carries the
                platform's error text, ``reason`` its [ext] reason word.
        """
        body: dict[str, Any] = {
            "decision": "approved" if approved else "denied",
            "decided_by": decided_by,
        }
        if comment:
            body["comment"] = comment
        if action_hash is not None:
            body["action_hash"] = action_hash
        if edited_args is not None:
            body["edited_args"] = edited_args
        if final:
            body["final"] = True
        response = await self._send(
            "POST",
            self._item_url(approval_id, "/decide"),
            failed="Failed to decide",
            json=body,
            extra_headers=(
                {APPROVER_HEADER: _header_safe(approver_token, "the approver token")}
                if approver_token
                else None
            ),
        )
        if response.status_code != 200:
            error = _status_error("Failed to decide", response, detail=_error_text(response))
            error.reason = _error_text(response, "reason")
            raise error
        try:  # the reply adds detail only: a 200 is the decision recorded, whatever its body
            reply = _json_body(response)
        except PlatformError:
            return {}
        return reply if isinstance(reply, dict) else {}

    async def expire(self, approval_id: str, reason: str) -> ExpireResult:
        """Close a request that nobody may approve any more.

        Returns:
            ``EXPIRED``, ``ALREADY_DECIDED`` (409), or ``NOT_SUPPORTED`` (404/405:
            an unknown id, or a platform without the route).

        Raises:
            PlatformError: any other reply.
        """
        response = await self._send(
            "POST",
            self._item_url(approval_id, "/expire"),
            failed="Failed to expire",
            json={"reason": reason},
        )
        if response.status_code == 200:
            return ExpireResult.EXPIRED
        if response.status_code == 409:
            return ExpireResult.ALREADY_DECIDED
        if response.status_code in (404, 405):
            return ExpireResult.NOT_SUPPORTED
        raise _status_error("Failed to expire", response)

    async def _notify(self, approval_id: str, suffix: str, body: dict[str, Any]) -> bool:
        response = await self._send(
            "POST", self._item_url(approval_id, suffix), failed=f"Failed to {suffix[1:]}", json=body
        )
        if response.status_code == 200:
            return True
        if response.status_code in (404, 405):
            return False  # no such route (the upstream contract), or the approval is closed
        raise _status_error(f"Failed to {suffix[1:]}", response, detail=_error_text(response))

    async def remind(
        self, approval_id: str, *, reminder: int, escalated_to: str | None = None
    ) -> bool:
        """[ext] Show reminder number ``reminder`` (``APPROVAL_REMINDED``); a repeat shows nothing.

        Returns:
            Whether the platform shows it (``False``: no such route, or the approval is closed).

        Raises:
            PlatformError: any other reply.
        """
        body: dict[str, Any] = {"reminder": reminder}
        if escalated_to:
            body["escalated_to"] = escalated_to
        return await self._notify(approval_id, "/remind", body)

    async def escalate(
        self, approval_id: str, *, escalated_to: str, level: int, expires_at: str | None = None
    ) -> bool:
        """[ext] Escalate to ``escalated_to`` (status ``escalated``, ``APPROVAL_ESCALATED``);
        the approval stays decidable, a repeated ``level`` shows nothing new.

        Returns and Raises: as ``remind``.
        """
        body: dict[str, Any] = {"escalated_to": escalated_to, "level": level}
        if expires_at:
            body["expires_at"] = expires_at
        return await self._notify(approval_id, "/escalate", body)


__all__ = ["ExpireResult", "ListReply", "PlatformClient", "PlatformError"]
