"""The runbook pages (``docs/operations/<page>.md``) served by the status page, rendered from Markdown.

Every alarm names its page (:attr:`fermi_isoc.alarms.results.AlarmResult.runbook`); the page
links it as ``/runbook/<page>``. The folder is the one configured (``--runbook-dir`` or
``$FERMI_ISOC_RUNBOOK_DIR``), else ``docs/operations`` of the checkout this package runs from.
Raw HTML in the pages is not passed through.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from markdown_it import MarkdownIt

from fermi_isoc.alarms.config import RUNBOOK_DIR

#: environment variable naming the runbook folder
RUNBOOK_ENV = "FERMI_ISOC_RUNBOOK_DIR"
_PAGE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_MD = MarkdownIt("commonmark", {"html": False}).enable("table")


def find_runbook_dir(configured: str | None = None) -> Path | None:
    """The runbook folder: ``configured``, ``$FERMI_ISOC_RUNBOOK_DIR``, or the checkout's (None if none)."""
    chosen = configured or os.environ.get(RUNBOOK_ENV)
    if chosen:
        return Path(chosen)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / RUNBOOK_DIR
        if candidate.is_dir():
            return candidate
    return None


def render_runbook(folder: Path | None, name: str) -> tuple[str, str]:
    """``(title, HTML)`` of the runbook page ``name``.

    Raises
    ------
    LookupError
        The name is not a page name, no folder is known, or the page is absent.
    """
    name = name.removesuffix(".md")  # the pages link each other as ``page.md``
    if not _PAGE.match(name):
        raise LookupError(f"{name!r} is not a runbook page name (lower-case letters, digits and '-')")
    if folder is None:
        raise LookupError(
            f"no runbook folder: set ${RUNBOOK_ENV} (the pages are {RUNBOOK_DIR}/<page>.md of the repository)"
        )
    path = folder / f"{name}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LookupError(f"runbook page {path} cannot be read: {exc.strerror}") from exc
    title = next((line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")), name)
    return title, _MD.render(text)
