"""Where a request may come from ([ext], reference mode): ``Host``, ``Origin`` and
``Content-Type`` checks, so a web page in the approver's browser cannot write through
the platform (docs/trust-model.md, "The platform's doors").

``DoorMiddleware`` checks every HTTP request; the WebSocket route asks ``socket_refusal``.
A request without ``Origin`` (the worker, the CLI, curl) passes the origin check: browsers
send one on every cross-origin request and on every POST.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

ALLOWED_ORIGINS_VARIABLE = "PLATFORM_ALLOWED_ORIGINS"
"""Comma-separated origins (``scheme://host[:port]``) trusted besides the platform's own."""

ERROR_HOST = "host not allowed"
ERROR_ORIGIN = "origin not allowed"
ERROR_CONTENT_TYPE = "Content-Type must be application/json"

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_LOOPBACK_NAMES = frozenset({"localhost"})


def parse_origins(text: str | None) -> tuple[str, ...]:
    """The origins in a comma- or space-separated list, normalized.

    Raises:
        ValueError: an entry that is not ``http(s)://host[:port]`` (no path).
    """
    origins = []
    for entry in (text or "").replace(",", " ").split():
        origins.append(normalize_origin(entry))
    return tuple(origins)


def normalize_origin(text: str) -> str:
    """``scheme://host[:port]`` lower-cased, without a trailing slash.

    Raises:
        ValueError: not an http(s) origin.
    """
    parts = urlsplit(text.strip().rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise ValueError(f"not an origin (scheme://host[:port]): {text!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def origins_from_environment() -> tuple[str, ...]:
    """``$PLATFORM_ALLOWED_ORIGINS`` parsed (``parse_origins``)."""
    return parse_origins(os.environ.get(ALLOWED_ORIGINS_VARIABLE))


def _hostname(host_header: str) -> str:
    """The name part of a ``Host`` value (``[::1]:8080`` -> ``::1``), lower-cased."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Doors:
    """The platform's own names and the origins it trusts besides its own."""

    allowed_origins: tuple[str, ...] = ()
    """Normalized origins (``normalize_origin``); their hosts are served names too."""

    def host_allowed(self, host_header: str | None) -> bool:
        """Whether ``Host`` names this platform: an IP literal, ``localhost`` (or a
        ``*.localhost``), or a host of an allowed origin. A DNS name that merely resolves
        here (DNS rebinding) is refused."""
        if not host_header:
            return False
        name = _hostname(host_header)
        if _is_ip(name) or name in _LOOPBACK_NAMES or name.endswith(".localhost"):
            return True
        allowed = {urlsplit(origin).hostname for origin in self.allowed_origins}
        return name in allowed

    def origin_allowed(self, origin: str | None, scheme: str, host_header: str) -> bool:
        """Whether ``Origin`` (when sent) is the platform's own or an allowed one."""
        if origin is None:
            return True
        own = f"{scheme}://{host_header.strip().lower()}"
        try:
            presented = normalize_origin(origin)
        except ValueError:
            return False  # "null" (a sandboxed frame, a file:// page) and the like
        return presented in (own, *self.allowed_origins) or _same_default_port(presented, own)

    def http_refusal(self, method: str, scheme: str, headers: Headers) -> tuple[int, str] | None:
        """(status, error) for a request that may not come in, else ``None``."""
        host = headers.get("host")
        if not self.host_allowed(host):
            return 403, ERROR_HOST
        if method.upper() in _SAFE_METHODS:
            return None
        if not self.origin_allowed(headers.get("origin"), scheme, host or ""):
            return 403, ERROR_ORIGIN
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            return 415, ERROR_CONTENT_TYPE
        return None

    def socket_refusal(self, scheme: str, headers: Headers) -> tuple[int, str] | None:
        """(status, error) for a WebSocket handshake from elsewhere, else ``None``."""
        host = headers.get("host")
        if not self.host_allowed(host):
            return 403, ERROR_HOST
        http_scheme = "https" if scheme == "wss" else "http"
        if not self.origin_allowed(headers.get("origin"), http_scheme, host or ""):
            return 403, ERROR_ORIGIN
        return None


def _same_default_port(presented: str, own: str) -> bool:
    """``http://h`` and ``http://h:80`` are one origin."""
    defaults = {"http": 80, "https": 443}
    a, b = urlsplit(presented), urlsplit(own)
    return (
        a.scheme == b.scheme
        and a.hostname == b.hostname
        and (a.port or defaults[a.scheme]) == (b.port or defaults.get(b.scheme, 0))
    )


class DoorMiddleware:
    """Refuses an HTTP request ``Doors.http_refusal`` refuses, before any route reads it."""

    def __init__(self, app: ASGIApp, doors: Doors) -> None:
        self.app = app
        self.doors = doors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.doors.http_refusal(
                scope["method"], scope.get("scheme", "http"), Headers(scope=scope)
            )
            if refusal is not None:
                await _refuse(send, *refusal)
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


__all__ = [
    "ALLOWED_ORIGINS_VARIABLE",
    "ERROR_CONTENT_TYPE",
    "ERROR_HOST",
    "ERROR_ORIGIN",
    "DoorMiddleware",
    "Doors",
    "normalize_origin",
    "origins_from_environment",
    "parse_origins",
]
