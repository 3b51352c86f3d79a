"""The release-validation configuration: which products are compared and the check thresholds.

The documented default is ``default.toml`` next to this module; a user file (``--config``)
overrides any of its keys, table by table. Unknown tables or keys and values of the wrong type
are refused with one line naming the file and the key.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fermi_core.errors import BadInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: The shipped, documented default configuration.
DEFAULT_CONFIG = Path(__file__).with_name("default.toml")
#: A threshold set to this string never triggers.
OFF = "off"


class ConfigError(BadInput, ValueError):
    """A configuration file that cannot be used (one line: file, key, reason)."""


@dataclass(frozen=True)
class Limits:
    """Warning and failure thresholds of a check (``None``: never triggers)."""

    warn: float | None = None
    fail: float | None = None

    def status(self, value: float) -> str:
        """``"fail"``, ``"warn"`` or ``"ok"`` for ``value`` (strictly above a threshold triggers it)."""
        if self.fail is not None and value > self.fail:
            return "fail"
        if self.warn is not None and value > self.warn:
            return "warn"
        return "ok"


@dataclass(frozen=True)
class Config:
    """The validation settings (see ``default.toml`` for the meaning of each)."""

    source: str
    events_product: str
    event_files: tuple[str, ...]
    spacecraft_product: str
    counts: Limits
    min_events: int
    columns: tuple[str, ...]
    distributions: Limits
    significance: float
    event_atol: float
    event_rtol: float
    removed: Limits
    added: Limits
    changed: Limits
    max_listed: int
    gti: Limits
    livetime: Limits
    ft2_atol: float
    ft2_rtol: float
    ft2: Limits

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-able values (recorded in the verdict)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = value.__dict__.copy() if isinstance(value, Limits) else value
            if isinstance(value, tuple):
                out[key] = list(value)
        return out


_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "products": {"events": str, "event_files": list, "spacecraft": str},
    "counts": {"warn": (int, float), "fail": (int, float), "min_events": int},
    "distributions": {"columns": list, "warn": (int, float), "fail": (int, float), "significance": (int, float)},
    "events": {
        "atol": (int, float), "rtol": (int, float), "removed_warn": (int, float), "removed_fail": (int, float),
        "added_warn": (int, float), "added_fail": (int, float), "changed_warn": (int, float),
        "changed_fail": (int, float), "max_listed": int,
    },
    "gti": {"warn": (int, float), "fail": (int, float)},
    "livetime": {"warn": (int, float), "fail": (int, float)},
    "ft2": {"atol": (int, float), "rtol": (int, float), "warn": (int, float), "fail": (int, float)},
}  # fmt: skip


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the validation configuration: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _check(path: Path, data: dict[str, Any]) -> None:
    for table, values in data.items():
        if table not in _SCHEMA:
            raise ConfigError(f"{path}: unknown table [{table}] (known: {', '.join(_SCHEMA)})")
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: {table} must be a table")
        for key, value in values.items():
            kind = _SCHEMA[table].get(key)
            if kind is None:
                raise ConfigError(
                    f"{path}: [{table}] unknown key {key!r} (known: {', '.join(_SCHEMA[table])})"
                )
            if key.endswith(("warn", "fail")) and value == OFF:
                continue
            if isinstance(value, bool) or not isinstance(value, kind):
                raise ConfigError(f"{path}: [{table}] {key} = {value!r} has the wrong type")
            if isinstance(value, (int, float)) and (math.isnan(value) or value < 0):
                raise ConfigError(f"{path}: [{table}] {key} = {value!r} must be a number >= 0")
            if isinstance(value, list) and not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{path}: [{table}] {key} must be a list of names")


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Return the default configuration, overridden by the file ``path`` when given.

    Raises
    ------
    ConfigError
        The file is unreadable, not TOML, or has an unknown key or a value of the wrong type.
    """
    data = _read(DEFAULT_CONFIG)
    _check(DEFAULT_CONFIG, data)
    source = str(DEFAULT_CONFIG)
    if path is not None:
        user_path = Path(path)
        user = _read(user_path)
        _check(user_path, user)
        for table, values in user.items():
            data.setdefault(table, {}).update(values)
        source = str(user_path)
    p, d, e = data["products"], data["distributions"], data["events"]

    def limits(table: str, prefix: str = "") -> Limits:
        values = data[table]
        warn, fail = (values.get(f"{prefix}{k}") for k in ("warn", "fail"))
        return Limits(
            None if warn in (None, OFF) else float(warn), None if fail in (None, OFF) else float(fail)
        )

    return Config(
        source=source,
        events_product=p["events"].upper(),
        event_files=tuple(t.upper() for t in p["event_files"]),
        spacecraft_product=p["spacecraft"].upper(),
        counts=limits("counts"),
        min_events=int(data["counts"]["min_events"]),
        columns=tuple(c.upper() for c in d["columns"]),
        distributions=limits("distributions"),
        significance=float(d["significance"]),
        event_atol=float(e["atol"]),
        event_rtol=float(e["rtol"]),
        removed=limits("events", "removed_"),
        added=limits("events", "added_"),
        changed=limits("events", "changed_"),
        max_listed=int(e["max_listed"]),
        gti=limits("gti"),
        livetime=limits("livetime"),
        ft2_atol=float(data["ft2"]["atol"]),
        ft2_rtol=float(data["ft2"]["rtol"]),
        ft2=limits("ft2"),
    )
