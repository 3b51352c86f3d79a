"""Re-run ("repipe") requests: a failed step or a whole run, recorded with who and why.

The request is a row of ``isoc_rerun_request``; the pipeline driver picks requests up (isoc
never starts work itself). Only runs that failed or crashed, or steps whose latest attempt
failed or crashed, can be re-run.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from fermi_isoc.models import RerunRequest
from fermi_isoc.queries.pipeline import attempts_of, run_by_key

RERUNNABLE = ("failed", "crashed")


class RerunError(ValueError):
    """A re-run that cannot be requested, with the reason; ``status`` is the HTTP status to use."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def request_rerun(
    session: Session, key: str, step: str | None, who: str, why: str, origin: str
) -> RerunRequest:
    """Record a re-run request after checking the run (and step) can be re-run."""
    who, why = who.strip(), why.strip()
    if not who:
        raise RerunError("operator name is required", status=422)
    if len(why) < 3:
        raise RerunError("a reason (at least 3 characters) is required", status=422)
    run = run_by_key(session, key)
    if run is None:
        raise RerunError(f"no pipeline run {key!r}", status=404)
    if step:
        latest = {}
        for a in attempts_of(session, key):
            if a.step not in latest or a.attempt > latest[a.step].attempt:
                latest[a.step] = a
        if step not in latest:
            raise RerunError(f"run {key} has no step {step!r}", status=404)
        if latest[step].state not in RERUNNABLE:
            raise RerunError(
                f"step {step} of run {key} is {latest[step].state}: only a failed or crashed step can be re-run"
            )
    elif run.state not in RERUNNABLE:
        raise RerunError(f"run {key} is {run.state}: only a failed or crashed run can be re-run")
    request = RerunRequest(run_key=key, step=step or None, requested_by=who, reason=why, origin=origin)
    session.add(request)
    session.flush()
    return request
