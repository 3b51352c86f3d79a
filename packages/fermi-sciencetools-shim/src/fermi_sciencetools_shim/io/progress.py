"""Progress of long runs on a terminal: one self-overwriting line on stderr, nothing otherwise.

Shown only when stderr is a terminal and ``chatter >= 2`` (the tools' default); with
``chatter`` 0 or 1, or when the output goes to a file or a pipe, nothing is printed. The
line is refreshed at most every :data:`INTERVAL` seconds and cleared at the end.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

INTERVAL = 0.5


class Progress:
    """Report ``done`` out of ``total`` units of work for ``label``.

    Parameters
    ----------
    label
        What is being done, e.g. ``"gtltcube: FT2 rows"``.
    total
        Units of work (rows, files ...).
    chatter
        The tool's verbosity; progress needs ``chatter >= 2``.
    stream
        Where to write (default ``sys.stderr``); progress needs it to be a terminal.
    """

    def __init__(self, label: str, total: int, chatter: int | None = 2, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(int(total), 0)
        self.stream = sys.stderr if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = (chatter or 0) >= 2 and bool(isatty and isatty()) and self.total > 0
        self._last = 0.0
        self._shown = False

    def update(self, done: int) -> None:
        """Show that ``done`` units are finished (throttled)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < INTERVAL and done < self.total:
            return
        self._last = now
        percent = 100.0 * min(done, self.total) / self.total
        self.stream.write(f"\r{self.label}: {percent:5.1f}% ({done} of {self.total})")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """Clear the progress line."""
        if self.enabled and self._shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
        self._shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
