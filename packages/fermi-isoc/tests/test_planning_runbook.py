"""The runbook (docs/operations): every page of interface F, every alarm's page, real commands only."""

import argparse
import importlib
import re
import shlex
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[3]
RUNBOOK = ROOT / "docs" / "operations"
PAGES = ("index", "no-data-received", "gap-not-filled", "held-run", "overdue-run", "rejected-run",
         "failed-step", "rerun", "reprocessing", "retention-and-backup", "database-down", "leap-second",
         "saa-polygon", "watchdog", "instrument-rates", "disk-usage")  # fmt: skip
CLIS = {"fermi-isoc": "fermi_isoc", "fermi-l1": "fermi_l1", "fermi-halfpipe": "fermi_halfpipe",
        "fermi-ingest": "fermi_ingest", "fermi-core": "fermi_core"}  # fmt: skip


def _pages() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(RUNBOOK.glob("*.md"))}


def test_every_page_exists_and_the_index_links_them_all():
    pages = _pages()
    assert set(PAGES) <= set(pages)
    assert [p for p in pages if p != "index" and f"]({p}.md)" not in pages["index"]] == []
    for name, text in pages.items():
        assert text.startswith("# "), name
        for link in re.findall(r"\]\(([a-z0-9-]+\.md)\)", text):
            assert (RUNBOOK / link).exists(), f"{name}.md links {link}"


def test_every_default_alarm_names_an_existing_page():
    alarms = tomllib.loads(
        (ROOT / "packages/fermi-isoc/src/fermi_isoc/alarms/default_alarms.toml").read_text()
    )
    missing = [
        (a["name"], a.get("runbook"))
        for a in alarms["alarm"]
        if not (RUNBOOK / f"{a.get('runbook')}.md").exists()
    ]
    assert missing == []


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _choices(parser: argparse.ArgumentParser) -> set[str]:
    """Choices of positional arguments that are not sub-commands (``retention check|migrate|…``)."""
    return {
        str(c)
        for a in parser._actions
        if not a.option_strings and a.choices and not isinstance(a, argparse._SubParsersAction)
        for c in a.choices
    }


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


def _commands() -> list[tuple[str, str]]:
    out = []
    for name, text in _pages().items():
        for span in re.findall(r"`([^`]+)`", text):
            if span.split(" ", 1)[0] in CLIS and " " in span:
                out.append((name, span))
    return out


@pytest.mark.parametrize(("page", "command"), _commands())
def test_commands_in_the_runbook_exist(page, command):
    """Each ``fermi-… sub …`` of the pages names real sub-commands and options (checked on the parsers)."""
    tokens = shlex.split(command.replace("…", "x"))
    parser = importlib.import_module(f"{CLIS[tokens[0]]}.cli").build_parser()
    known = _options(parser)
    chosen = False
    for token in tokens[1:]:
        subs = _subparsers(parser)
        choices = _choices(parser)
        if choices and not chosen and not token.startswith("-"):
            assert token in choices, f"{page}.md: {command!r}: {token!r} is not one of {sorted(choices)}"
            chosen = True
        elif token.startswith("--"):
            assert token.split("=")[0] in known, f"{page}.md: {command!r}: no option {token}"
        elif subs and token in subs:
            parser = subs[token]
            known |= _options(parser)
            chosen = False
        elif subs and token.isidentifier() and token.lower() == token and "/" not in token:
            pytest.fail(f"{page}.md: {command!r}: {token!r} is not a sub-command ({', '.join(subs)})")
