"""The approvers' inbox page, one static HTML+JS file at ``GET /`` and ``GET /inbox`` (``router``).

The page holds no data and no secret, so it needs no token; everything it
reads or decides goes through the token-checked routes, and its socket
authenticates with ``/ws?token=...``. Reference mode only.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

PAGE_RESOURCE = "inbox.html"


def inbox_html() -> str:
    """The page's text, read from the package data (works from a wheel too)."""
    return (
        resources.files("devstack.platform")
        .joinpath("static", PAGE_RESOURCE)
        .read_text(encoding="utf-8")
    )


_PAGE = inbox_html()  # read once: a missing file fails at import, not per request

router = APIRouter(include_in_schema=False)


@router.get("/")
@router.get("/inbox")
async def inbox() -> HTMLResponse:
    """The page; ``no-store``, so a browser never keeps a page older than the routes."""
    return HTMLResponse(_PAGE, headers={"Cache-Control": "no-store"})


__all__ = ["inbox_html", "router"]
