"""The base class of every input error of the monorepo.

A :class:`BadInput` says the input is at fault (a malformed file, a checksum that does not
match, a parameter out of range), not the machine: commands print it as one line naming the
file, offset and reason, and the task engine does not retry it. Each package's input errors
subclass it (``IngestError``, ``HalfpipeError``, ``MeritError`` ...).
"""

from __future__ import annotations


class BadInput(Exception):
    """An error in the input a user can act on; printed as one line, never retried."""
