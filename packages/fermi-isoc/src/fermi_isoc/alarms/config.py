"""Alarm definitions in TOML, validated on load.

Each ``[[alarm]]`` table names a quantity, an algorithm and its limits::

    [[alarm]]
    name = "dead-mans-switch"
    quantity = "hours_since_last_delivery"
    algorithm = "upper"          # upper | lower | range | always
    warning = 6.0                # range: [low, high] bands, the error band around the warning one
    error = 12.0
    missing = "error"            # severity when the quantity has no value: ok | warning | error
    reduce = "each"              # each | mean | min | max (over the items of the quantity)
    window_hours = 24            # for measured quantities: how far back samples count
    paths = ["/data"]            # for disk_used_fraction
    runbook = "held-run"         # its runbook page: docs/operations/held-run.md
    [[alarm.exceptions]]         # known exceptions: items (glob on the key) excused, until a time
    key = "apid 1021 *"
    until = "2026-12-01T00:00:00"
    reason = "EPU 1 off for the reboot test"

Errors name the file, the alarm and the key, with the reason.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from fermi_isoc.alarms.quantities import QUANTITIES

ALGORITHMS = ("upper", "lower", "range", "always")
REDUCTIONS = ("each", "mean", "min", "max")
MISSING = ("ok", "warning", "error")
_KEYS = {
    "name", "quantity", "algorithm", "warning", "error", "missing", "reduce", "window_hours",
    "paths", "exceptions", "description", "runbook",
}  # fmt: skip
_EXCEPTION_KEYS = {"key", "until", "reason"}

#: The alarm set shipped with the package.
DEFAULT_ALARMS = Path(__file__).with_name("default_alarms.toml")
#: Where the runbook pages live, relative to the repository (and the documentation site) root.
RUNBOOK_DIR = "docs/operations"
_PAGE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def runbook_path(page: str) -> str:
    """The runbook file of a page name: ``held-run`` -> ``docs/operations/held-run.md`` ('' for none)."""
    return f"{RUNBOOK_DIR}/{page}.md" if page else ""


class AlarmConfigError(ValueError):
    """An alarm file that cannot be used: file, alarm, key and reason."""


@dataclass(frozen=True)
class KnownException:
    """Items of an alarm excused (key glob), optionally until a time, with the reason."""

    key: str
    reason: str
    until: datetime | None = None


@dataclass(frozen=True)
class AlarmSpec:
    """One validated alarm definition."""

    name: str
    quantity: str
    algorithm: str
    warning: float | tuple[float, float] | None = None
    error: float | tuple[float, float] | None = None
    missing: str = "warning"
    reduce: str = "each"
    window_hours: float = 24.0
    paths: tuple[str, ...] = ()
    exceptions: tuple[KnownException, ...] = field(default_factory=tuple)
    description: str = ""
    #: runbook page name (:func:`runbook_path` gives its file); "" when the alarm has none
    runbook: str = ""


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AlarmConfigError(f"{where}: must be a finite number, got {value!r}")
    return float(value)


def _band(value: object, where: str) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise AlarmConfigError(f"{where}: a range algorithm needs [low, high], got {value!r}")
    low, high = _number(value[0], where), _number(value[1], where)
    if low > high:
        raise AlarmConfigError(f"{where}: low {low:g} is above high {high:g}")
    return low, high


def _choice(raw: dict, key: str, allowed: tuple[str, ...], default: str, where: str) -> str:
    value = raw.get(key, default)
    if value not in allowed:
        raise AlarmConfigError(f"{where}: key '{key}': {value!r} is not one of {', '.join(allowed)}")
    return value


def _exceptions(raw: object, where: str) -> tuple[KnownException, ...]:
    if not isinstance(raw, list):
        raise AlarmConfigError(f"{where}: key 'exceptions': must be a list of tables")
    out = []
    for j, exc in enumerate(raw):
        w = f"{where}: exceptions[{j}]"
        if not isinstance(exc, dict):
            raise AlarmConfigError(f"{w}: must be a table with key, reason and optional until")
        unknown = set(exc) - _EXCEPTION_KEYS
        if unknown:
            raise AlarmConfigError(f"{w}: unknown key(s) {', '.join(sorted(unknown))}")
        for key in ("key", "reason"):
            if not isinstance(exc.get(key), str) or not exc[key].strip():
                raise AlarmConfigError(f"{w}: key '{key}': a non-empty string is required")
        until = exc.get("until")
        if until is not None:
            if isinstance(until, str):
                try:
                    until = datetime.fromisoformat(until)
                except ValueError as err:
                    raise AlarmConfigError(f"{w}: key 'until': {until!r} is not an ISO date/time") from err
            if not isinstance(until, datetime):
                raise AlarmConfigError(f"{w}: key 'until': must be a date-time, got {until!r}")
            if until.tzinfo is None:
                until = until.replace(tzinfo=timezone.utc)
        out.append(KnownException(exc["key"], exc["reason"], until))
    return tuple(out)


def _spec(raw: dict, where: str) -> AlarmSpec:
    unknown = set(raw) - _KEYS
    if unknown:
        raise AlarmConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("name", "quantity", "algorithm"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise AlarmConfigError(f"{where}: key '{key}': a non-empty string is required")
    if raw["quantity"] not in QUANTITIES:
        raise AlarmConfigError(
            f"{where}: key 'quantity': unknown quantity {raw['quantity']!r} "
            f"(known: {', '.join(sorted(QUANTITIES))})"
        )
    algorithm = _choice(raw, "algorithm", ALGORITHMS, "", where)
    warning = error = None
    if algorithm == "range":
        for key in ("warning", "error"):
            if key not in raw:
                raise AlarmConfigError(f"{where}: key '{key}': required by algorithm 'range'")
        warning = _band(raw["warning"], f"{where}: key 'warning'")
        error = _band(raw["error"], f"{where}: key 'error'")
        if not (error[0] <= warning[0] and warning[1] <= error[1]):
            raise AlarmConfigError(
                f"{where}: key 'error': band {list(error)} must contain the warning band {list(warning)}"
            )
    elif algorithm in ("upper", "lower"):
        if "warning" not in raw and "error" not in raw:
            raise AlarmConfigError(f"{where}: key 'warning'/'error': algorithm {algorithm!r} needs a limit")
        if "warning" in raw:
            warning = _number(raw["warning"], f"{where}: key 'warning'")
        if "error" in raw:
            error = _number(raw["error"], f"{where}: key 'error'")
        if warning is not None and error is not None:
            if algorithm == "upper" and warning > error:
                raise AlarmConfigError(
                    f"{where}: key 'warning': {warning:g} is above the error limit {error:g}"
                )
            if algorithm == "lower" and warning < error:
                raise AlarmConfigError(
                    f"{where}: key 'warning': {warning:g} is below the error limit {error:g}"
                )
    elif "warning" in raw or "error" in raw:
        raise AlarmConfigError(f"{where}: key 'warning'/'error': algorithm 'always' takes no limits")
    window = _number(raw.get("window_hours", 24.0), f"{where}: key 'window_hours'")
    if window <= 0:
        raise AlarmConfigError(f"{where}: key 'window_hours': must be positive, got {window:g}")
    paths = raw.get("paths", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise AlarmConfigError(f"{where}: key 'paths': must be a list of strings")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise AlarmConfigError(f"{where}: key 'description': must be a string")
    runbook = raw.get("runbook", "")
    if not isinstance(runbook, str) or (runbook and not _PAGE.match(runbook)):
        raise AlarmConfigError(
            f"{where}: key 'runbook': {runbook!r} is not a page name of {RUNBOOK_DIR}/ "
            "(lower-case letters, digits and '-', e.g. \"held-run\")"
        )
    return AlarmSpec(
        name=raw["name"],
        quantity=raw["quantity"],
        algorithm=algorithm,
        warning=warning,
        error=error,
        missing=_choice(raw, "missing", MISSING, "warning", where),
        reduce=_choice(raw, "reduce", REDUCTIONS, "each", where),
        window_hours=window,
        paths=tuple(paths),
        exceptions=_exceptions(raw.get("exceptions", []), where),
        description=description,
        runbook=runbook,
    )


def parse_alarms(text: str, source: str = "<string>") -> list[AlarmSpec]:
    """Parse and validate alarm definitions from TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AlarmConfigError(f"{source}: not valid TOML: {exc}") from exc
    unknown = set(data) - {"alarm"}
    if unknown:
        raise AlarmConfigError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    raw_alarms = data.get("alarm", [])
    if not isinstance(raw_alarms, list) or not raw_alarms:
        raise AlarmConfigError(f"{source}: no [[alarm]] table defined")
    specs: list[AlarmSpec] = []
    for i, raw in enumerate(raw_alarms):
        name = raw.get("name", "?") if isinstance(raw, dict) else "?"
        spec = _spec(raw, f"{source}: [[alarm]] #{i + 1} ({name})")
        if any(s.name == spec.name for s in specs):
            raise AlarmConfigError(
                f"{source}: [[alarm]] #{i + 1}: key 'name': {spec.name!r} is defined twice"
            )
        specs.append(spec)
    return specs


def load_alarms(path: str | Path | None = None) -> list[AlarmSpec]:
    """Read and validate an alarm file (default: the package's ``default_alarms.toml``)."""
    path = Path(path) if path is not None else DEFAULT_ALARMS
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AlarmConfigError(f"{path}: cannot read alarm file: {exc}") from exc
    return parse_alarms(text, source=str(path))
