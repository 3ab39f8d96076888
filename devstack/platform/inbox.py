"""The approvers' inbox page, one static HTML+JS file at ``GET /`` and ``GET /inbox`` (``router``).

The page holds no data and no secret, so it needs no token; everything it
reads or decides goes through the token-checked routes (``/signed-in`` too), and its
socket authenticates with ``/ws?token=...``. It is never framed and runs no script from
elsewhere (``PAGE_HEADERS``). Reference mode only.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from durable_approvals.devstack.platform.context import Context, require_token
from durable_approvals.platform_client import APPROVER_HEADER

PAGE_RESOURCE = "inbox.html"


def inbox_html() -> str:
    """The page's text, read from the package data (works from a wheel too)."""
    return (
        resources.files("durable_approvals.devstack.platform")
        .joinpath("static", PAGE_RESOURCE)
        .read_text(encoding="utf-8")
    )


# A check mark on a green disc: the tab's icon, so the browser's /favicon.ico is not a 404.
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<circle cx="8" cy="8" r="8" fill="#070"/>'
    '<path d="M4 8.5l2.5 2.5L12 5.5" stroke="#fff" stroke-width="2" fill="none"/></svg>'
)

_PAGE = inbox_html()  # read once: a missing file fails at import, not per request

router = APIRouter(include_in_schema=False)


PAGE_HEADERS = {
    "Cache-Control": "no-store",
    # Never framed (clickjacking); scripts, styles and connections to this origin only.
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
"""The page's headers: ``no-store`` so a browser never keeps a page older than the routes."""


@router.get("/")
@router.get("/inbox")
async def inbox() -> HTMLResponse:
    """The page, with ``PAGE_HEADERS``."""
    return HTMLResponse(_PAGE, headers=PAGE_HEADERS)


@router.get("/signed-in", dependencies=[Depends(require_token)])
async def signed_in(request: Request, platform: Context) -> dict[str, Any]:
    """[ext] Whether this platform has approvers (docs/trust-model.md), and whom the
    ``X-Approver-Token`` header signs in (``name``: ``null`` for none or an unknown one).
    The inbox asks it to show a sign-in instead of the free-text name."""
    if platform.approvers is None:
        return {"approvers": False, "name": None}
    approver = platform.approvers.authenticate(request.headers.get(APPROVER_HEADER))
    return {"approvers": True, "name": approver.name if approver is not None else None}


@router.get("/favicon.ico")
async def favicon() -> Response:
    """The page's icon (SVG), cacheable for a day."""
    return Response(
        FAVICON_SVG, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
    )


__all__ = ["PAGE_HEADERS", "inbox_html", "router"]
