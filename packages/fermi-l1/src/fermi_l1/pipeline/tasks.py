"""The tasks of fermi-l1 for the task engine: ``recon``, ``runinput``, ``l1run``, and their re-run chain.

Registered under the entry point group ``fermi.tasks`` (:mod:`fermi_core.engine.registry`).
Each task is a parameter dataclass (stored as the task run's JSON ``params``; field names are
those written before the engine moved to fermi-core, so existing rows still load; paths in them
are relative to the data home, resolved against the task's site, while the absolute paths of
older rows are used as they are) and a small function calling the domain code:

* ``recon`` -- :func:`.runinput.recon_crumb`: one crumb of a merged file to a merit file (key
  ``r<run10>.cCCCC.kKKK``; ``r<run10>.vVVV.cCCCC.kKKK`` for version 2 and later);
* ``runinput`` -- :func:`.runinput.assemble_run_input`: the run input folder of a version of a
  LAT run's products (key ``r<run10>``, ``r<run10>.vVVV``);
* ``l1run`` -- :func:`.l1run.make_run_products`: FT2, FT1, catalog and outbox of a run input
  (key ``r<run10>``, ``r<run10>.vVVV``), with the task run's fixed processing date.

Keys name the version (:func:`fermi_core.site.run_version_folder`), so the next version of a
run is new work for the engine, never "already finished".

Together they are the re-run chain :data:`L1_CHAIN`, whose subject is a LAT run
(``r0239557414`` or ``239557414``). Bad input is a :class:`fermi_core.errors.BadInput` (every
fermi-l1 input error is one) or a :class:`fermi_sciencetools_shim.errors.ShimError` (the shim,
installable alone, cannot depend on fermi-core).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fermi_core.engine.registry import Chain, TaskContext, TaskSpec
from fermi_core.site import Site, run_folder
from fermi_l1.warm import ensure_warm
from fermi_sciencetools_shim.errors import ShimError

__all__ = [
    "L1RUN",
    "L1_CHAIN",
    "RECON",
    "RUNINPUT",
    "L1RunParams",
    "ReconParams",
    "RunInputParams",
    "lat_run_key",
]

_LAT_RUN = re.compile(r"^r?(\d{1,10})$")


def lat_run_key(text: str) -> str | None:
    """The task-run key of the LAT run ``text`` names (``239557414`` -> ``r0239557414``), else None."""
    m = _LAT_RUN.match(text.strip())
    return None if m is None else run_folder(int(m.group(1)))


def _rerun_guard(session: Any, targets: Any, step: str | None) -> str | None:
    """:func:`fermi_l1.pipeline.rerun_guard.rerun_guard` (imported when a re-run is asked)."""
    from fermi_l1.pipeline.rerun_guard import rerun_guard

    return rerun_guard(session, targets, step)


#: recon crumbs -> run input -> L1 products, for one LAT run; done work of a catalogued version
#: is not re-run in place (:mod:`fermi_l1.pipeline.rerun_guard`: that is ``fermi-l1 reprocess``)
L1_CHAIN = Chain(
    name="l1",
    tasks=("recon", "runinput", "l1run"),
    subject="LAT run",
    subject_key=lat_run_key,
    examples="r0239557414 or 239557414",
    rerun_guard=_rerun_guard,
)
#: bad input of the L1 tasks besides fermi_core.errors.BadInput
_BAD_INPUT = (ShimError,)


@dataclass(frozen=True)
class ReconParams:
    """One crumb: events ``[lo, hi)`` of the merged file ``merged`` (with its SHA-256) to ``out``.

    ``spacecraft`` lists the spacecraft sample files (``path``, ``relpath``, ``sha256``, ...).
    """

    merged: str
    sha256: str
    lo: int
    hi: int
    run: int
    spacecraft: list[dict[str, Any]]
    out: str


@dataclass(frozen=True)
class RunInputParams:
    """The run input folder ``input_dir`` of LAT run ``run`` from its crumbs (``chunks``: per merged file).

    ``pass_info`` is what the planner says of this version of the run's products (version,
    processing version, halfpipe revision, completion, lost events, campaign:
    :meth:`fermi_l1.versions.PlannedVersion.pass_info`), recorded in ``run.json``.
    """

    run: int
    start: float
    stop: float
    chunks: list[list[str]]
    spacecraft: list[dict[str, Any]]
    merged: list[dict[str, Any]]
    input_dir: str
    pass_info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class L1RunParams:
    """The products of the run input ``input_dir``, into ``products_dir`` and the FSSC ``outbox``."""

    input_dir: str
    products_dir: str
    outbox: str


def _path(site: Site | None, stored: str) -> str:
    """A path of the parameters (relative to the data home since 0.1; absolute in older rows)."""
    return str(site.resolve(stored)) if site is not None else stored


def _files(site: Site, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """File records (``path``, ``relpath``, ``sha256`` ...) with ``path`` resolved in the data home."""
    return [{**f, "path": _path(site, f.get("relpath") or f["path"])} for f in files]


def recon(params: ReconParams, ctx: TaskContext) -> list[str]:
    """Reconstruct one crumb (:func:`.runinput.recon_crumb`); return ``[merit file]``."""
    from fermi_l1.pipeline.runinput import recon_crumb

    ensure_warm()  # the kernels compiled once, shared with the other workers
    site = ctx.site
    return recon_crumb(
        _path(site, params.merged), params.sha256, params.lo, params.hi, params.run,
        _files(site, params.spacecraft), _path(site, params.out),
    )  # fmt: skip


def runinput(params: RunInputParams, ctx: TaskContext) -> list[str]:
    """Assemble the run input folder (:func:`.runinput.assemble_run_input`); return its files."""
    from fermi_l1.pipeline.runinput import assemble_run_input

    ensure_warm()  # the kernels compiled once, shared with the other workers
    site = ctx.site
    chunks = [[_path(site, c) for c in crumbs] for crumbs in params.chunks]
    return assemble_run_input(params.run, params.start, params.stop, chunks, _files(site, params.spacecraft),
                              _files(site, params.merged), _path(site, params.input_dir),
                              pass_info=params.pass_info)  # fmt: skip


def l1run(params: L1RunParams, ctx: TaskContext) -> list[str]:
    """Make, register and export the run's products (:func:`.l1run.make_run_products`); return them."""
    from fermi_l1.pipeline.l1run import make_run_products

    ensure_warm()  # the kernels compiled once, shared with the other workers
    site = ctx.site
    return make_run_products(_path(site, params.input_dir), _path(site, params.products_dir),
                             _path(site, params.outbox), date=ctx.processing_date, db_url=site.db_url,
                             site=site)  # fmt: skip


def _input_folder_complete(params: L1RunParams, site: Site | None) -> bool:
    return (Path(_path(site, params.input_dir)) / "run.json").is_file()


RECON = TaskSpec(
    name="recon", function=recon, params=ReconParams, label="recon crumbs", bad_input=_BAD_INPUT,
    chain=L1_CHAIN, intermediate=lambda p: [p.out],
)  # fmt: skip
RUNINPUT = TaskSpec(
    name="runinput", function=runinput, params=RunInputParams, label="run inputs", bad_input=_BAD_INPUT,
    chain=L1_CHAIN, intermediate=lambda p: [p.input_dir],
)  # fmt: skip
L1RUN = TaskSpec(
    name="l1run", function=l1run, params=L1RunParams, label="L1 runs", bad_input=_BAD_INPUT,
    chain=L1_CHAIN, ready=_input_folder_complete,
)  # fmt: skip
