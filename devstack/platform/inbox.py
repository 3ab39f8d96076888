"""The approvers' inbox page: one static HTML+JS file served at ``/`` and ``/inbox``.

The page holds no data and no secret, so serving it needs no token; every
read and decision it makes goes through the token-checked API routes, and its
socket authenticates with ``/ws?token=...`` (browsers cannot set headers on a
WebSocket upgrade). Kept out of ``app.py`` so the API routes stay one module.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

PAGE_RESOURCE = "inbox.html"


def inbox_html() -> str:
    """The page's text, read from the package data (works from a wheel too)."""
    return (
        resources.files("devstack.platform")
        .joinpath("static", PAGE_RESOURCE)
        .read_text(encoding="utf-8")
    )


def add_inbox_routes(app: FastAPI) -> None:
    """Serve the page at ``GET /`` and ``GET /inbox``."""
    page = inbox_html()  # read once: a missing file fails at startup, not per request

    async def inbox() -> HTMLResponse:
        # no-store: a stale page after an upgrade would talk to changed routes.
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    app.add_api_route("/", inbox, methods=["GET"], include_in_schema=False)
    app.add_api_route("/inbox", inbox, methods=["GET"], include_in_schema=False)


__all__ = ["add_inbox_routes", "inbox_html"]
