"""A database outage gives one line, not a traceback, from every command that uses the database (issue 17).

Before, an unreachable PostgreSQL server gave a traceback of 125-138 lines from every command,
and ``fermi-isoc alarms`` exited 1, its "warning" code. Now each command runs its handler through
:func:`fermi_core.dbguard.call_guarded`: exactly one line naming the database URL (password
hidden) and the cause, and a non-zero exit code (``fermi-isoc alarms``: its critical code).

The commands run as an operator runs them: the installed entry points, in a subprocess, with
the URL given by ``--db-url`` / ``--db`` or by ``FERMI_DB_URL``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fermi_isoc.commands.alarms import EXIT_CRITICAL

#: a PostgreSQL URL nobody listens on, with a password that must never be printed
URL = "postgresql+psycopg://u:secret@127.0.0.1:1/x"
SHOWN = "postgresql+psycopg://u:***@127.0.0.1:1/x"
BIN = Path(sys.executable).parent

#: (command line, exit code expected; None: any non-zero code)
COMMANDS: list[tuple[list[str], int | None]] = [
    (["fermi-core", "db", "current"], None),
    (["fermi-core", "db", "check"], None),
    (["fermi-core", "db", "upgrade"], None),
    (["fermi-ingest", "status"], None),
    (["fermi-ingest", "gaps"], None),
    (["fermi-halfpipe", "status"], None),
    (["fermi-halfpipe", "settle"], None),
    (["fermi-l1", "pipeline", "--no-progress"], None),
    (["fermi-l1", "catalog"], None),
    (["fermi-l1", "campaigns"], None),
    (["fermi-l1", "rerun", "r0239557414", "--who", "ops", "--why", "outage test"], None),
    (["fermi-isoc", "alarms"], EXIT_CRITICAL),
    (["fermi-isoc", "rerun", "r0239557414", "--reason", "outage test", "--operator", "ops"], None),
    (["fermi-isoc", "dq", "list"], None),
    (["fermi-isoc", "retention", "check"], None),
    (["fermi-isoc", "report", "--week", "900", "--out", "report"], None),
    (["fermi-isoc", "trend", "ingest"], None),
    (["fermi-isoc", "serve", "--port", "1"], None),  # refused before it listens
]


def _run(argv: list[str], tmp_path: Path, *, env_url: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERMI_")}
    env["FERMI_HOME"] = str(tmp_path / "home")
    if env_url:
        env["FERMI_DB_URL"] = URL
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


def _with_url_option(argv: list[str]) -> list[str]:
    """The command line with the URL as an option (``--db`` for fermi-isoc, ``--db-url`` otherwise)."""
    if argv[:2] == ["fermi-isoc", "dq"]:  # an option of ``dq`` itself, before its sub-command
        return [*argv[:2], "--db", URL, *argv[2:]]
    if argv[0] == "fermi-isoc":
        return [*argv, "--db", URL]
    return [argv[0], "--db-url", URL, *argv[1:]]


@pytest.mark.parametrize("how", ["env", "option"])
@pytest.mark.parametrize(("argv", "code"), COMMANDS, ids=[" ".join(a[:2]) for a, _ in COMMANDS])
def test_an_unreachable_database_gives_one_line_and_a_nonzero_exit(argv, code, how, tmp_path):
    proc = _run(argv if how == "env" else _with_url_option(argv), tmp_path, env_url=how == "env")
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert len(lines) == 1, lines[:20]
    (line,) = lines
    assert line.startswith(f"{argv[0]} {argv[1]}"), line
    assert f"database {SHOWN} unreachable: " in line and "secret" not in line, line
    assert "refused" in line.lower(), line  # the cause
    assert proc.returncode != 0
    if code is not None:
        assert proc.returncode == code
