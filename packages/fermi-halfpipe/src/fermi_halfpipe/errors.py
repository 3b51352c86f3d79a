"""Errors of the halfpipe.

:class:`HalfpipeError` is the halfpipe's input error: it names the delivery, run or file at
fault, and, being a :class:`fermi_core.errors.BadInput`, is printed as one line by the commands
and never retried by the task engine.
"""

from __future__ import annotations

from fermi_core.errors import BadInput


class HalfpipeError(BadInput):
    """An error a user can act on (names the delivery, run or file at fault)."""
