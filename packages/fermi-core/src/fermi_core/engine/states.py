"""The states of task runs and attempts, and of re-run requests: one definition each.

A *task run* (one unit of work of a task, e.g. the L1 products of one LAT run) and each of its
*attempts* (one try on an executor) are in one :class:`State`; a re-run request is in one
:class:`RequestState`. The values are the strings stored in the database.
"""

from __future__ import annotations

from enum import Enum


class State(str, Enum):
    """State of a task run or of one attempt of it.

    ``failed`` is bad input (not retried), ``crashed`` an infrastructure failure (retried up to
    the task's attempt budget), ``held`` waiting for data, ``late`` past its expected time.
    """

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CRASHED = "crashed"
    HELD = "held"
    LATE = "late"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


class RequestState(str, Enum):
    """State of a re-run request.

    ``requested`` (recorded), ``queued`` (a driver requeued its targets), ``done`` (every
    target ended done), ``failed`` (its targets are final but not all done -- failed, or
    cancelled because an input they need failed or is missing; the outcome says which and
    why), ``refused`` (its task runs changed before a driver came), ``superseded`` (recorded
    before the driver consumed requests; never acted on).
    """

    REQUESTED = "requested"
    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"
    REFUSED = "refused"
    SUPERSEDED = "superseded"

    def __str__(self) -> str:
        return self.value


#: every task-run state, in display order (the strings stored in the database)
STATE_NAMES: tuple[str, ...] = tuple(s.value for s in State)
#: states a driver leaves a task run in at the end of a pass: never resubmitted without a re-run
FINAL: tuple[State, ...] = (State.DONE, State.FAILED, State.CANCELLED)
#: states of work in flight or waiting: such a task run cannot be re-run
BUSY: tuple[State, ...] = (State.QUEUED, State.RUNNING, State.HELD, State.LATE)
#: states in which one step can be re-run (cancelled: a re-run gave it up because its input failed)
RERUNNABLE: tuple[State, ...] = (State.FAILED, State.CRASHED, State.CANCELLED)
#: attempt states that count as failed tries
FAILED_TRIES: tuple[State, ...] = (State.FAILED, State.CRASHED)
#: request states not finished yet
PENDING: tuple[RequestState, ...] = (RequestState.REQUESTED, RequestState.QUEUED)
#: request states of a request a driver acted on to the end (its targets are final)
SETTLED: tuple[RequestState, ...] = (RequestState.DONE, RequestState.FAILED)
