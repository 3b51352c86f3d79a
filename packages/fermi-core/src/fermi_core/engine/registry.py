"""Tasks, registered by the package that owns them through the entry point group ``fermi.tasks``.

A package adds a task by writing a function and declaring a :class:`TaskSpec` for it::

    # pyproject.toml of the owning package
    [project.entry-points."fermi.tasks"]
    ingest = "fermi_ingest.task:INGEST"

The entry point's name is the task's name. The spec says everything the engine needs and the
engine knows nothing else about a task:

* the function, called as ``function(params, ctx)`` with its parameter dataclass and a
  :class:`TaskContext`, returning what it made (paths, ids: recorded with the attempt);
* the parameter dataclass, stored as JSON in the task run's ``params`` (:meth:`TaskSpec.dump`,
  :meth:`TaskSpec.load`; field names are the JSON keys, sorted);
* which exception types are bad input besides :class:`fermi_core.errors.BadInput` (not retried);
* the re-run :class:`Chain` it belongs to, if any, and what it leaves that a re-run must move
  aside (:attr:`TaskSpec.intermediate`) or must find before it can start (:attr:`TaskSpec.ready`).

Task-run keys follow one convention: a task run belongs to a chain's subject (e.g. the LAT run
``r0239557414``) when its key is the subject's key or starts with it and a dot
(``r0239557414.c0000.k001``, one piece of it).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from fermi_core.errors import BadInput
from fermi_core.site import Site

__all__ = [
    "ENTRY_POINT_GROUP", "Chain", "RerunCandidate", "TaskContext", "TaskSpec", "UnknownTask", "chains", "get_task",
    "subjects_of", "tasks",
]  # fmt: skip

ENTRY_POINT_GROUP = "fermi.tasks"

P = TypeVar("P")


class UnknownTask(LookupError):
    """No installed package registers a task of that name."""


@dataclass(frozen=True)
class TaskContext:
    """What the engine gives a task besides its parameters.

    Parameters
    ----------
    site
        The data home and database the driver works on.
    key
        The task run's key.
    processing_date
        ``DATE`` of the products, fixed when the task run was first created (UTC,
        ``YYYY-MM-DDThh:mm:ss``), so a re-run writes the same bytes.
    """

    site: Site
    key: str
    processing_date: str


@dataclass(frozen=True)
class RerunCandidate:
    """One task run a re-run request would requeue, as a chain's :attr:`Chain.rerun_guard` sees it."""

    task: str
    key: str
    state: str


@dataclass(frozen=True)
class Chain:
    """Tasks that process one subject one after the other, and are re-run together.

    Parameters
    ----------
    name
        Short name, e.g. ``"l1"``.
    tasks
        Task names in processing order.
    subject
        What one subject is, for messages (``"LAT run"``).
    subject_key
        The subject's key named by a re-run request's text, or None when the text does not name
        one (e.g. ``"239557414"`` -> ``"r0239557414"``).
    examples
        How a subject is written, for messages (``"r0239557414 or 239557414"``).
    rerun_guard
        ``rerun_guard(session, targets, step) -> refusal or None``: the owning package's own rule
        on what may not be re-run (the engine knows nothing of products or catalogs). Called with
        the task runs a request would requeue (:class:`RerunCandidate`, every one in this chain)
        and the step asked for (None: the whole subject or one ``TASK/KEY``), when the request is
        recorded and again when a driver claims it; a returned text refuses the request with
        that one line (a claimed request is then ``refused`` with it as its outcome).
    """

    name: str
    tasks: tuple[str, ...]
    subject: str
    subject_key: Callable[[str], str | None]
    examples: str = ""
    rerun_guard: Callable[[Any, Sequence[RerunCandidate], str | None], str | None] | None = None

    def position(self, task: str) -> int:
        """Index of ``task`` in the chain (``ValueError`` if it is not in it)."""
        return self.tasks.index(task)


@dataclass(frozen=True)
class TaskSpec(Generic[P]):
    """One task as its owning package registers it (see the module documentation).

    Parameters
    ----------
    name
        Registered name (the entry point's name), stored in ``pipeline_task``.
    function
        ``function(params, ctx) -> outputs``.
    params
        The parameter dataclass.
    label
        Short description for progress bars and pages (default: the name).
    bad_input
        Exception types that mean bad input besides :class:`~fermi_core.errors.BadInput`
        (for packages that cannot subclass it, e.g. the ScienceTools shim).
    chain
        The re-run chain the task belongs to.
    intermediate
        ``intermediate(params)``: outputs a re-run moves aside (kept under ``.rerun-<id>/``
        next to them) so that they are really recomputed; paths as stored in the parameters
        (relative to the data home, resolved by the engine against the driver's site).
    ready
        ``ready(params, site)``: False while an input the task needs is not there yet; a
        requeued task run waits for it (besides waiting for the earlier tasks of its chain).
        ``site`` is the driver's data home (None when the caller gave only a database URL: then
        stored paths are taken as they are).
    """

    name: str
    function: Callable[[P, TaskContext], Sequence[str]]
    params: type[P]
    label: str = ""
    bad_input: tuple[type[BaseException], ...] = ()
    chain: Chain | None = None
    intermediate: Callable[[P], Sequence[str | Path]] | None = None
    ready: Callable[[P, Site | None], bool] | None = None
    _fields: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.params):
            raise TypeError(f"task {self.name!r}: params {self.params!r} is not a dataclass")
        if self.chain is not None and self.name not in self.chain.tasks:
            raise ValueError(f"task {self.name!r} declares chain {self.chain.name!r}, which does not list it")
        object.__setattr__(self, "_fields", tuple(f.name for f in dataclasses.fields(self.params)))

    @property
    def title(self) -> str:
        """The label, or the name when there is none."""
        return self.label or self.name

    @property
    def bad_input_types(self) -> tuple[type[BaseException], ...]:
        """Every exception type that is bad input for this task (not retried)."""
        return (BadInput, *self.bad_input)

    def to_dict(self, params: P) -> dict[str, Any]:
        """``params`` as a JSON-ready dict (field names as keys)."""
        if not isinstance(params, self.params):
            raise TypeError(f"task {self.name!r}: parameters must be {self.params.__name__}, got {params!r}")
        return dataclasses.asdict(params)

    def dump(self, params: P) -> str:
        """JSON of ``params`` as stored in ``pipeline_run.params`` (keys sorted)."""
        return json.dumps(self.to_dict(params), sort_keys=True)

    def load(self, text: str | Mapping[str, Any]) -> P:
        """The parameter dataclass from stored JSON (or an already parsed mapping).

        Raises
        ------
        ValueError
            Not a JSON object, or keys that are not fields of the dataclass / required fields
            missing (the message names the task and the keys).
        """
        data = json.loads(text or "{}") if isinstance(text, str) else dict(text)
        if not isinstance(data, dict):
            raise ValueError(f"task {self.name!r}: parameters are not a JSON object: {text!r}")
        unknown = sorted(set(data) - set(self._fields))
        if unknown:
            raise ValueError(f"task {self.name!r}: unknown parameter(s) {', '.join(unknown)}")
        try:
            return self.params(**data)
        except TypeError as exc:
            raise ValueError(f"task {self.name!r}: {exc}") from None


@cache
def _discovered() -> dict[str, TaskSpec]:
    found: dict[str, TaskSpec] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        spec = ep.load()
        where = f"entry point {ep.name} = {ep.value} ({ENTRY_POINT_GROUP})"
        if not isinstance(spec, TaskSpec):
            raise RuntimeError(f"{where}: not a TaskSpec")
        if spec.name != ep.name:
            raise RuntimeError(f"{where}: the spec is named {spec.name!r}, not {ep.name!r}")
        other = found.get(spec.name)
        if other is not None and other is not spec:
            raise RuntimeError(
                f"two packages register the task {spec.name!r}: {where} and {other.function!r}"
            )
        found[spec.name] = spec
    by_name: dict[str, Chain] = {}
    for spec in found.values():
        if spec.chain is None:
            continue
        known = by_name.setdefault(spec.chain.name, spec.chain)
        if known != spec.chain:
            raise RuntimeError(f"task {spec.name!r}: two different chains are named {spec.chain.name!r}")
    return found


def tasks() -> dict[str, TaskSpec]:
    """Every installed task, by name (entry points read once per process; see :func:`refresh`)."""
    return dict(_discovered())


def refresh() -> None:
    """Forget the tasks read so far (after installing a package or changing ``sys.path``)."""
    _discovered.cache_clear()


def get_task(name: str) -> TaskSpec:
    """The installed task ``name``.

    Raises
    ------
    UnknownTask
        No installed package registers it (the message lists those that are).
    """
    found = _discovered()
    try:
        return found[name]
    except KeyError:
        names = ", ".join(sorted(found)) or "none"
        raise UnknownTask(f"no installed package registers the task {name!r} (installed: {names})") from None


def chains() -> dict[str, Chain]:
    """The re-run chains of the installed tasks, by name."""
    return {s.chain.name: s.chain for s in _discovered().values() if s.chain is not None}


def subjects_of(text: str) -> list[tuple[Chain, str]]:
    """Every chain (by name) whose subject ``text`` names, with the subject's key."""
    found = []
    for _name, chain in sorted(chains().items()):
        key = chain.subject_key(text)
        if key is not None:
            found.append((chain, key))
    return found
