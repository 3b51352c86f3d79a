"""What alarms are evaluated against (:class:`Context`) and what they give (:class:`AlarmResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import IntEnum
from pathlib import Path

from sqlalchemy.orm import Session

from fermi_core.site import Site


class Severity(IntEnum):
    """Alarm severity; the value is the exit code of ``fermi-isoc alarms``."""

    OK = 0
    WARNING = 1
    ERROR = 2


@dataclass
class Context:
    """What alarms are evaluated against."""

    session: Session
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    fermi_home: Path = field(default_factory=lambda: Site.from_env().home)


@dataclass(frozen=True)
class AlarmResult:
    """The outcome of one alarm for one item.

    ``firing`` is True for a raised alarm and for the always-firing watchdog; ``excused`` holds
    the reason when a known exception silenced it; ``acknowledged`` who acknowledged it (it then
    does not page); ``runbook`` the page telling on-call what to do
    (:func:`fermi_isoc.alarms.config.runbook_path`).
    """

    alarm: str
    quantity: str
    key: str
    value: float
    severity: Severity
    firing: bool
    message: str
    excused: str = ""
    acknowledged: str = ""
    #: the alarm's runbook page name (``docs/operations/<runbook>.md``), "" when none
    runbook: str = ""

    @property
    def paging(self) -> bool:
        """True when the alarm should page: a warning or error nobody acknowledged."""
        return self.firing and self.severity > Severity.OK and not self.acknowledged
