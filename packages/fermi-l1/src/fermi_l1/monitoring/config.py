"""The declarative check configuration of the monitoring (TOML; the default is ``default.toml`` here).

A configuration has ``[settings]`` (``min_events``: fewer events in a run and its statistical
checks are skipped; ``min_significance``: a spike or hole must also be this many Poisson sigma
from what its neighbours expect), a list of ``[[checks]]`` and a list of known ``[[exceptions]]``.
Each check names a ``quantity`` (a histogram of the monitoring file, or ``summary.<key>`` for a
run figure), an ``algorithm`` (``value``, ``mean``, ``spikes_holes``, ``reference``), and
``warning`` / ``error`` limits: a ``[low, high]`` range for ``value`` and ``mean``, an upper
limit for ``spikes_holes`` (relative deviation from the neighbours) and ``reference`` (chi-square
per degree of freedom of the shapes, or with ``statistic = "max_pull"`` the largest bin pull; an
optional ``systematic``, a fractional tolerance per bin added in quadrature to the Poisson
errors, keeps the statistic from growing with the run's events for shape differences the sky
itself makes, e.g. the Earth limb moving in the field of view over an orbit). Each exception names a ``quantity``, optionally a
``check``, an ``element`` (the start of an element name, e.g. ``"tower 3"``) and a run range
``runs = [first, last]``, and a ``reason``. Documented in ``docs/lifecycle/monitoring.md``.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fermi_core.errors import BadInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_CONFIG = Path(__file__).with_name("default.toml")
ALGORITHMS = ("value", "mean", "spikes_holes", "reference")
_RANGE = ("value", "mean")


class CheckConfigError(BadInput, ValueError):
    """A check configuration that cannot be used (names the file, the entry and the reason)."""


@dataclass(frozen=True)
class Check:
    """One declared check (see the module docstring)."""

    quantity: str
    algorithm: str
    warning: Any
    error: Any
    name: str = ""
    across: str | None = None
    along: str | None = None
    window: int = 2
    normalize: bool = False
    min_expected: float = 20.0
    statistic: str = "chi2_ndf"
    #: ``reference``: fractional shape tolerance per bin, added in quadrature to the Poisson errors
    systematic: float = 0.0
    description: str = ""

    @property
    def check(self) -> str:
        """The check's name as verdicts report it (its ``name``, else its algorithm)."""
        return self.name or self.algorithm


@dataclass(frozen=True)
class KnownException:
    """A known exception: failures of ``quantity`` (``check``, ``element``, ``runs``) that do not count."""

    quantity: str
    reason: str
    check: str | None = None
    element: str | None = None
    runs: tuple[int, int] | None = None

    def matches(self, run: int, quantity: str, check: str, element: str) -> bool:
        """Whether this exception covers one failing element of a check on ``run``."""
        if quantity != self.quantity or (self.check is not None and check != self.check):
            return False
        if self.runs is not None and not self.runs[0] <= run <= self.runs[1]:
            return False
        return self.element is None or element == self.element or element.startswith(self.element + ",")


@dataclass(frozen=True)
class CheckConfig:
    """A parsed check configuration with the digest of its text (recorded with every verdict)."""

    checks: tuple[Check, ...]
    exceptions: tuple[KnownException, ...] = ()
    min_events: int = 1000
    min_significance: float = 5.0
    source: str = "<text>"
    digest: str = field(default="")


def _fail(source: str, where: str, why: str) -> CheckConfigError:
    return CheckConfigError(f"{source}: {where}: {why}")


def parse_config(text: str, source: str = "<text>") -> CheckConfig:
    """Parse a check configuration from TOML text.

    Raises
    ------
    CheckConfigError
        Not TOML, an unknown algorithm or key, limits of the wrong form.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(source, "TOML", str(exc)) from None
    settings = doc.get("settings", {})
    checks = []
    for i, entry in enumerate(doc.get("checks", [])):
        where = f"checks[{i}] ({entry.get('quantity', '?')})"
        unknown = set(entry) - set(Check.__dataclass_fields__)
        if unknown:
            raise _fail(source, where, f"unknown key {sorted(unknown)[0]!r}")
        if entry.get("algorithm") not in ALGORITHMS:
            raise _fail(
                source, where, f"algorithm {entry.get('algorithm')!r} is not one of {', '.join(ALGORITHMS)}"
            )
        for level in ("warning", "error"):
            lim = entry.get(level)
            if entry["algorithm"] in _RANGE:
                ok = isinstance(lim, list) and len(lim) == 2 and all(isinstance(x, (int, float)) for x in lim)
                if not ok or lim[0] > lim[1]:
                    raise _fail(source, where, f"{level} must be a range [low, high], not {lim!r}")
            elif not isinstance(lim, (int, float)) or lim < 0:
                raise _fail(source, where, f"{level} must be a non-negative number, not {lim!r}")
        if entry["algorithm"] == "value" and not entry["quantity"].startswith("summary."):
            raise _fail(source, where, "algorithm 'value' checks a run figure 'summary.<key>'")
        if entry.get("statistic", "chi2_ndf") not in ("chi2_ndf", "max_pull"):
            raise _fail(source, where, f"statistic {entry['statistic']!r} is not chi2_ndf or max_pull")
        sys_ = entry.get("systematic", 0.0)
        if not isinstance(sys_, (int, float)) or not 0.0 <= sys_ < 1.0:
            raise _fail(source, where, f"systematic must be a fraction in [0, 1), not {sys_!r}")
        if entry["algorithm"] == "spikes_holes" and not (entry.get("across") or entry.get("along")):
            raise _fail(source, where, "spikes_holes needs 'across' or 'along' (an axis name)")
        try:
            checks.append(Check(**entry))
        except TypeError as exc:
            raise _fail(source, where, str(exc)) from None
    exceptions = []
    for i, entry in enumerate(doc.get("exceptions", [])):
        where = f"exceptions[{i}] ({entry.get('quantity', '?')})"
        if not entry.get("quantity") or not entry.get("reason"):
            raise _fail(source, where, "an exception needs a quantity and a reason")
        runs = entry.get("runs")
        if runs is not None and not (isinstance(runs, list) and len(runs) == 2):
            raise _fail(source, where, f"runs must be [first, last], not {runs!r}")
        unknown = set(entry) - {"quantity", "reason", "check", "element", "runs"}
        if unknown:
            raise _fail(source, where, f"unknown key {sorted(unknown)[0]!r}")
        exceptions.append(KnownException(entry["quantity"], entry["reason"], entry.get("check"),
                                         entry.get("element"), tuple(runs) if runs else None))  # fmt: skip
    return CheckConfig(
        checks=tuple(checks),
        exceptions=tuple(exceptions),
        min_events=int(settings.get("min_events", 1000)),
        min_significance=float(settings.get("min_significance", 5.0)),
        source=source,
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def load_config(path: str | os.PathLike[str] | None = None) -> CheckConfig:
    """Load a check configuration file (default: the shipped ``default.toml``).

    Raises
    ------
    CheckConfigError
        The file is unreadable or not a valid configuration.
    """
    p = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CheckConfigError(f"{p}: cannot read the check configuration ({exc})") from None
    return parse_config(text, str(p))
