"""Operator token and cross-site request protection for the page's write actions.

Write actions need the operator token configured in ``FERMI_ISOC_OPERATOR_TOKEN`` (there is no
default: without it every write is refused). Every form carries a CSRF token that must equal
the ``isoc_csrf`` cookie set when the form was served (double submit; the cookie is SameSite
Strict and HttpOnly), and a request with an ``Origin`` header from another site is refused.

Two more defences against a page in the operator's browser (DNS rebinding) or a script on the
network guessing the token:

* only the trusted host names are served (:func:`trusted_hosts`: ``localhost``, ``127.0.0.1``
  and the names configured in ``FERMI_ISOC_TRUSTED_HOSTS`` or ``--trusted-host``); a request
  with another ``Host`` header gets 400 (Starlette's ``TrustedHostMiddleware``);
* wrong operator tokens are counted per client address (:class:`FailureLimiter`): after
  ``max_failures`` wrong tokens within ``window_s`` every write from that client is refused with
  429 and a ``Retry-After`` until the oldest failure leaves the window, whether its token is
  right or not (so a lockout is not an oracle).
"""

from __future__ import annotations

import hmac
import math
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from fastapi import Request, Response

#: environment variable holding the operator token (no default: without it, writes are refused)
TOKEN_ENV = "FERMI_ISOC_OPERATOR_TOKEN"
#: environment variable with more trusted host names, comma separated
TRUSTED_HOSTS_ENV = "FERMI_ISOC_TRUSTED_HOSTS"
#: host names always served: this machine
DEFAULT_TRUSTED_HOSTS = ("localhost", "127.0.0.1")
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


def trusted_hosts(extra: Iterable[str] = (), *, environ: dict[str, str] | None = None) -> list[str]:
    """The host names the page answers: this machine, ``$FERMI_ISOC_TRUSTED_HOSTS`` and ``extra``.

    Names are lower-cased, without a port; ``*.example.org`` matches every subdomain (Starlette's
    rule). A bare ``*`` is refused: it would switch the check off.

    Raises
    ------
    ValueError
        A name that is empty after stripping, has a port or a scheme, or is ``*``.
    """
    env = os.environ if environ is None else environ
    names = [*DEFAULT_TRUSTED_HOSTS]
    configured = [n for n in env.get(TRUSTED_HOSTS_ENV, "").split(",") if n.strip()]
    for source, raw in [(TRUSTED_HOSTS_ENV, n) for n in configured] + [("--trusted-host", n) for n in extra]:
        name = raw.strip().lower()
        if not name or name == "*" or ":" in name or "/" in name:
            raise ValueError(
                f"{source}: {raw!r} is not a host name (give a name such as isoc.example.org, no port or scheme)"
            )
        if name not in names:
            names.append(name)
    return names


class FailureLimiter:
    """Wrong operator tokens per client address within a sliding window; thread-safe.

    Parameters
    ----------
    max_failures
        Wrong tokens a client may send within ``window_s`` before it is locked out.
    window_s
        Length of the window, seconds.
    clock
        Monotonic clock (seconds), for tests.
    max_clients
        Clients remembered at most; the ones whose last failure is oldest are forgotten first.
    """

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 300.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        if max_failures < 1 or window_s <= 0:
            raise ValueError(f"failure limit {max_failures} in {window_s} s: both must be positive")
        self.max_failures = max_failures
        self.window_s = float(window_s)
        self._clock = clock
        self._max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        q = self._failures.get(client, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            self._failures.pop(client, None)
        return q

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try again (0 when it is not locked out)."""
        with self._lock:
            now = self._clock()
            q = self._recent(client, now)
            if len(q) < self.max_failures:
                return 0
            return max(1, math.ceil(q[-self.max_failures] + self.window_s - now))

    def failed(self, client: str) -> None:
        """Count one wrong token from ``client``."""
        with self._lock:
            now = self._clock()
            q = self._recent(client, now)
            q.append(now)
            self._failures[client] = q
            if len(self._failures) > self._max_clients:
                oldest = min(self._failures, key=lambda c: self._failures[c][-1])
                del self._failures[oldest]

    def refusal(self, client: str) -> tuple[str, int] | None:
        """``(message, retry-after seconds)`` when ``client`` is locked out, else None."""
        wait = self.retry_after(client)
        if not wait:
            return None
        minutes = self.window_s / 60
        return (
            f"too many wrong operator tokens from {client}: {self.max_failures} within {minutes:g} min; "
            f"write actions from this address are refused for {wait} s",
            wait,
        )


def client_address(request: Request) -> str:
    """The address a request came from (the peer of the connection; ``unknown`` without one)."""
    return request.client.host if request.client else "unknown"
