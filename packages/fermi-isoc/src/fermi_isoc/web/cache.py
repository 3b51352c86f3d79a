"""A short-lived cache of what the page reads, computed once for all the requests that want it.

With many clients at once (the page refreshes itself, Prometheus scrapes, operators look) the
same listing and the same alarm evaluation would be computed by every request. :class:`TtlCache`
keeps each value for ``ttl_s`` seconds and lets one request compute a missing value while the
others asking for the same key wait for it (no stampede). A write action (a re-run request, an
acknowledgement) clears it, so its author sees the change at once; other changes show within
``ttl_s``. ``ttl_s = 0`` switches caching off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class TtlCache:
    """Values by key for ``ttl_s`` seconds, each computed by one caller at a time; thread-safe.

    Parameters
    ----------
    ttl_s
        How long a value is served, seconds (0: never cached).
    max_keys
        Keys kept at most; the oldest are dropped first.
    clock
        Monotonic clock (seconds), for tests.
    """

    def __init__(
        self, ttl_s: float, *, max_keys: int = 256, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl_s < 0:
            raise ValueError(f"cache lifetime {ttl_s} s: must be >= 0")
        self.ttl_s = float(ttl_s)
        self._max_keys = max_keys
        self._clock = clock
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()
        self._generation = 0

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value of ``key``: the cached one while fresh, else ``compute()`` (by one caller)."""
        if self.ttl_s == 0:
            return compute()
        with self._lock:
            key_lock = self._locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                hit = self._values.get(key)
                generation = self._generation
            if hit is not None and self._clock() - hit[0] < self.ttl_s:
                return hit[1]
            value = compute()
            with self._lock:
                if generation == self._generation:  # not cleared while computing
                    self._values[key] = (self._clock(), value)
                    while len(self._values) > self._max_keys:
                        oldest = min(self._values, key=lambda k: self._values[k][0])
                        del self._values[oldest]
                        self._locks.pop(oldest, None)
            return value

    def clear(self) -> None:
        """Forget every value (after a write)."""
        with self._lock:
            self._values.clear()
            self._generation += 1
