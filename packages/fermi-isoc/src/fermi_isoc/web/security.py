"""Operator token and cross-site request protection for the page's write actions.

Write actions need the operator token configured in ``FERMI_ISOC_OPERATOR_TOKEN`` (there is no
default: without it every write is refused). Every form carries a CSRF token that must equal
the ``isoc_csrf`` cookie set when the form was served (double submit; the cookie is SameSite
Strict and HttpOnly), and a request with an ``Origin`` header from another site is refused.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response

#: environment variable holding the operator token (no default: without it, writes are refused)
TOKEN_ENV = "FERMI_ISOC_OPERATOR_TOKEN"
CSRF_COOKIE = "isoc_csrf"
CSRF_FIELD = "csrf_token"


def csrf_token_for(request: Request) -> str:
    """Return this browser's CSRF token (its cookie), or a new one when it has none."""
    token = request.cookies.get(CSRF_COOKIE)
    if not token or len(token) < 32:
        token = secrets.token_urlsafe(32)
    return token


def set_csrf_cookie(response: Response, token: str) -> None:
    """Set the CSRF cookie (HttpOnly, SameSite Strict) on a response."""
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/")


def csrf_problem(request: Request, submitted: str | None) -> str | None:
    """Return why the request fails the CSRF check, or None when it passes."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        o = urlsplit(origin)
        if (o.scheme, o.netloc) != (request.url.scheme, request.url.netloc):
            return f"cross-site request from {origin} refused"
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted:
        return "missing CSRF token: reload the page and submit the form again"
    if not hmac.compare_digest(cookie, submitted):
        return "CSRF token does not match: reload the page and submit the form again"
    return None


def token_problem(configured: str | None, submitted: str | None) -> str | None:
    """Return why the operator token is refused, or None when it is accepted."""
    if not configured:
        return "write actions are disabled: no operator token is configured (FERMI_ISOC_OPERATOR_TOKEN)"
    if not submitted or not hmac.compare_digest(configured.encode(), submitted.encode()):
        return "operator token missing or wrong"
    return None
