"""One line, not a traceback, when a command cannot use its database.

Every command runs its handler through :func:`call_guarded`: if the database is unreachable (or
refuses the command: locked, missing, wrong credentials), it prints one line naming the database
URL (password hidden) and the cause on stderr, and returns the command's exit code for that case::

    fermi-isoc alarms: database postgresql+psycopg://fermi:***@db/fermi unreachable: connection refused
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from fermi_core.schema import safe_url

__all__ = ["EXIT_DATABASE", "call_guarded", "database_error_line", "is_database_unavailable"]

#: exit code of a command whose database is unusable (commands with their own code pass it)
EXIT_DATABASE = 2

log = logging.getLogger(__name__)


def is_database_unavailable(error: BaseException) -> bool:
    """True if ``error`` means the database cannot be used (connection, lock, missing file)."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def _cause(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    lines = [ln.strip() for ln in str(orig).splitlines() if ln.strip()]
    text = lines[0] if lines else type(orig).__name__
    return text.removeprefix("FATAL:").strip()


def database_error_line(command: str, url: str, error: BaseException) -> str:
    """The one line printed for ``error`` of ``command`` on database ``url``."""
    shown = safe_url(url) if url else "(no database URL)"
    return f"{command}: database {shown} unreachable: {_cause(error)}"


def call_guarded(
    command: str,
    url: str | Callable[[], str],
    handler: Callable[..., Any],
    *args: Any,
    exit_code: int = EXIT_DATABASE,
    stream: TextIO | None = None,
    **kwargs: Any,
) -> int:
    """Return ``int(handler(*args, **kwargs))``, or ``exit_code`` after one line if the database fails.

    Parameters
    ----------
    command
        The command as the operator typed it (``fermi-isoc alarms``), leading the line.
    url
        The database URL, or a function returning it (called only on failure).
    handler
        The command's work.
    exit_code
        Returned when the database is unusable (e.g. ``alarms`` returns its "critical" code).
    stream
        Where the line goes (default stderr).
    """
    try:
        return int(handler(*args, **kwargs))
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise
        shown = url() if callable(url) else url
        log.debug("database failure of %s", command, exc_info=True)
        print(database_error_line(command, shown, exc), file=stream or sys.stderr)
        return exit_code
