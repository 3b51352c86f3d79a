"""FT1 production with the real L1 chain (L1Proc ``makeFT1`` -> ``mergeFT1`` -> ``gtiFT1`` -> ``filterFT1``).

1. One FT1 per chunk from its merit rows, ``TSTART``/``TSTOP`` = the chunk's span rounded down/up
   to 0.1 s, GTI = that whole span ("bad GTI": it still contains the dead time).
2. The chunk FT1s are merged into the run FT1 (events sorted by time, GTIs united). In the run
   step 1 and 2 are done in memory (:func:`chunk_events`); :func:`write_chunk_ft1` and
   :func:`merge_ft1` make the same merged file through the chunk files.
3. ``gtiFT1``: ``gtmktime overwrite=yes roicut=no filter="LIVETIME>0 && DATA_QUAL>0"`` with the
   run's 1 s FT2 -> the extended file ``gll_xp_...`` (all event classes, GTI = FT2 rows with
   livetime outside bad time intervals; gtmktime keeps only the events inside the GTI).
4. ``filterFT1``: ``gtselect evclass=128 emin=0 emax=0 zmax=180`` on the extended file, then the
   same gtmktime -> the photon file ``gll_ph_...``; likewise ``evclass=65544`` (TRANSIENT020E |
   TRANSIENT015S) -> the LS1 extended event file ``gll_ev_...``.

A run with no FT2 row passing the GTI filter (entirely inside a flagged bad time interval, or
without livetime) has no good time: gtmktime refuses zero selected rows, so L1 writes what it
would mean instead -- each product is its input with no events and an empty GTI (``ONTIME`` 0),
every other header card kept (:func:`write_no_good_time`).

Every tool used is the shim's; intermediate files live in a work folder and the products are
renamed into place only when complete and stamped (the work folder of a killed attempt is removed
by the next one: :func:`fermi_l1.fitsdate.product_work_dir`).
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from fermi_l1._version import __version__
from fermi_l1.configkeys import header_cards
from fermi_l1.fitsdate import processing_date, product_work_dir, stamp_date
from fermi_l1.ft1.merit_input import ft1_columns
from fermi_l1.merit import MeritError
from fermi_l1.naming import product_name
from fermi_sciencetools_shim.gti import Gti, union
from fermi_sciencetools_shim.io.ft1 import read_events, read_gti, write_ft1
from fermi_sciencetools_shim.io.ft2 import read_ft2
from fermi_sciencetools_shim.io.headers import set_ontime
from fermi_sciencetools_shim.mktime.filter_expr import parse_filter
from fermi_sciencetools_shim.mktime.gtmktime import gtmktime
from fermi_sciencetools_shim.select.gtselect import gtselect

CREATOR = f"fermi-l1 {__version__} makeFT1"
#: gtselect event-class masks of the L1 products (L1Proc ``gtSelectClass``).
PHOTON_CLASS = 128
LS1_CLASS = 65544
#: FT2 rows that make the FT1 GTI: with livetime (L1Proc ``gtiFT1``) and not in a bad time interval
#: (``DATA_QUAL>0``, the FSSC convention: the GTIs follow DATA_QUAL; docs/lifecycle/bad-time-intervals.md)
GTI_FILTER = "LIVETIME>0 && DATA_QUAL>0"
#: FT1 header keyword with the events the run lost in missing datagrams (completed at its deadline)
LOST_EVENTS_KEYWORD = "NLOSTEVT"
LOST_EVENTS_COMMENT = "events lost in missing datagrams of the run"


def _keywords(run: int, version: int, proc_ver: int, pass_ver: str) -> dict[str, object]:
    return {
        "CREATOR": CREATOR,
        "ORIGIN": "LISOC",
        "VERSION": str(int(version)),
        "PROC_VER": int(proc_ver),
        "PASS_VER": pass_ver,
    }


def chunk_events(
    merit: str | os.PathLike[str] | Mapping[str, np.ndarray],
    *,
    tstart: float | None = None,
    tstop: float | None = None,
) -> tuple[dict[str, np.ndarray], float, float]:
    """The FT1 columns of one chunk's merit table and its span (makeFT1's events and GTI).

    ``tstart``/``tstop`` default to the event times rounded down/up to 0.1 s.
    """
    events = ft1_columns(merit)
    times = events["TIME"]
    if times.size == 0 and (tstart is None or tstop is None):
        raise MeritError(
            f"{merit if not isinstance(merit, Mapping) else 'merit table'}: no events and no span"
        )
    lo = math.floor(float(times.min()) * 10.0) / 10.0 if tstart is None else float(tstart)
    hi = math.ceil(float(times.max()) * 10.0) / 10.0 if tstop is None else float(tstop)
    return events, lo, hi


def write_chunk_ft1(
    path: str | os.PathLike[str],
    merit: str | os.PathLike[str] | Mapping[str, np.ndarray],
    *,
    tstart: float | None = None,
    tstop: float | None = None,
    version: int = 1,
    proc_ver: int = 305,
    pass_ver: str = "P8R3",
) -> Path:
    """Write the FT1 of one chunk (makeFT1): all events of the merit table, GTI = chunk span.

    ``tstart``/``tstop`` default to the event times rounded down/up to 0.1 s.
    """
    events, lo, hi = chunk_events(merit, tstart=tstart, tstop=tstop)
    run = int(events["RUN_ID"][0]) if events["TIME"].size else 0
    keywords = {**_keywords(run, version, proc_ver, pass_ver), "TSTART": lo, "TSTOP": hi}
    return write_ft1(path, events, Gti(np.array([lo]), np.array([hi])), keywords)


def _merged(
    parts: Sequence[tuple[Mapping[str, np.ndarray], float, float]],
) -> tuple[dict[str, np.ndarray], Gti, float, float]:
    """Chunks' events by time (stable), their GTIs united and the span of them all (mergeFT1)."""
    names = list(parts[0][0])
    events = {n: np.concatenate([np.asarray(p[0][n]) for p in parts]) for n in names}
    order = np.argsort(events["TIME"], kind="stable")
    events = {n: v[order] for n, v in events.items()}
    gti = union(*(Gti(np.array([lo]), np.array([hi])) for _, lo, hi in parts))
    return events, gti, min(lo for _, lo, _ in parts), max(hi for _, _, hi in parts)


def merge_ft1(
    paths: Sequence[str | os.PathLike[str]],
    outfile: str | os.PathLike[str],
    *,
    version: int = 1,
    proc_ver: int = 305,
    pass_ver: str = "P8R3",
) -> Path:
    """Merge chunk FT1s into one run FT1 (mergeFT1): events by time, GTIs united, span = union."""
    if not paths:
        raise MeritError("no chunk FT1 to merge")
    parts = [read_events(p) for p in paths]
    names = list(parts[0][0])
    events = {n: np.concatenate([p[0][n] for p in parts]) for n in names}
    order = np.argsort(events["TIME"], kind="stable")
    events = {n: v[order] for n, v in events.items()}
    gti = union(*(read_gti(p) for p in paths))
    tstart = min(float(h["TSTART"]) for _, h in parts)
    tstop = max(float(h["TSTOP"]) for _, h in parts)
    keywords = {**_keywords(0, version, proc_ver, pass_ver), "TSTART": tstart, "TSTOP": tstop}
    return write_ft1(outfile, events, gti, keywords)


def has_good_time(ft2: str | os.PathLike[str], expression: str = GTI_FILTER) -> bool:
    """Whether any row of the FT2 file passes ``expression`` (the rows gtmktime would make GTIs of)."""
    expr = parse_filter(expression)
    cols = read_ft2(ft2, columns=expr.columns)
    n = len(next(iter(cols.values()))) if cols else 0
    return bool(n and expr.evaluate(cols, n).any())


def write_no_good_time(evfile: str | os.PathLike[str], outfile: str | os.PathLike[str]) -> Path:
    """Write ``evfile`` as ``outfile`` with no events and an empty GTI (``ONTIME`` 0).

    What gtmktime makes of a file whose run has no good time, which it refuses to do itself (zero
    FT2 rows selected). Every other HDU and header card is kept; ``FILENAME`` is the new name.
    """
    out = Path(outfile)
    with fits.open(evfile, memmap=False) as hdul:
        new = fits.HDUList()
        for hdu in hdul:
            if isinstance(hdu, fits.PrimaryHDU):
                primary = fits.PrimaryHDU(data=hdu.data, header=hdu.header.copy())
                primary.header["FILENAME"] = out.name
                new.append(primary)
            elif hdu.name in ("EVENTS", "GTI"):
                table = fits.BinTableHDU(data=hdu.data[:0], header=hdu.header.copy())
                table.header["NAXIS2"] = 0
                if hdu.name == "GTI":
                    set_ontime(table.header, Gti.empty())
                new.append(table)
            else:
                new.append(hdu.copy())
        new.writeto(out, overwrite=True, checksum=True)
    return out


def _mktime(ft2_seconds: str | os.PathLike[str], good: bool, evfile: Path, outfile: Path) -> None:
    if good:
        gtmktime(ft2_seconds, GTI_FILTER, False, evfile, outfile, overwrite=True)
    else:
        write_no_good_time(evfile, outfile)


@dataclass(frozen=True)
class Ft1Products:
    """The event files of a run."""

    extended: Path
    photon: Path
    ls1: Path

    def all(self) -> tuple[Path, ...]:
        """The three paths."""
        return (self.extended, self.photon, self.ls1)


def make_run_ft1(
    outdir: str | os.PathLike[str],
    run: int,
    merit_chunks: Sequence[str | os.PathLike[str] | Mapping[str, np.ndarray]],
    ft2_seconds: str | os.PathLike[str],
    *,
    version: int = 1,
    proc_ver: int = 305,
    pass_ver: str = "P8R3",
    date: str | None = None,
    chunk_spans: Sequence[tuple[float, float]] | None = None,
    lost_events: int | None = None,
    config_keys: Mapping[str, int] | None = None,
) -> Ft1Products:
    """Run the L1 FT1 chain for one run and return the extended, photon and LS1 files.

    Parameters
    ----------
    outdir
        Where the products are written (``gll_xp_...``, ``gll_ph_...``, ``gll_ev_...``).
    run
        Run id (MET of the run start).
    merit_chunks
        One merit table per chunk (Parquet path or mapping), in any order.
    ft2_seconds
        The run's 1 s FT2 (its rows passing :data:`GTI_FILTER` make the GTI).
    version, proc_ver, pass_ver
        ``VERSION``, ``PROC_VER`` and ``PASS_VER`` of the products.
    date
        ``DATE`` written in every HDU (re-runs are byte-identical); None = wall clock.
    chunk_spans
        ``(tstart, tstop)`` per chunk; default: each chunk's event span rounded to 0.1 s.
    lost_events
        Events the run lost in missing datagrams, written as :data:`LOST_EVENTS_KEYWORD` in the
        primary and ``EVENTS`` headers (0: the run is complete; None: not known, not written).
    config_keys
        The run's configuration keys (``hw_key``, ``sw_key``, ``moot_key``), written as
        ``HW_KEY``, ``SW_KEY``, ``MOOT_KEY`` in the primary and ``EVENTS`` headers
        (:mod:`fermi_l1.configkeys`; None: not written).
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    names = {kind: out / product_name(kind, run, version, proc_ver) for kind in ("extendedft1", "ft1", "ls1")}
    if not merit_chunks:
        raise MeritError("no chunk FT1 to merge")
    with product_work_dir(out, f".ft1-{run:010d}-v{version:03d}-") as work:
        # makeFT1 + mergeFT1 in memory: the chunk files were written only to be read back (the
        # merged file is the same bytes as through write_chunk_ft1 and merge_ft1)
        parts = []
        for i, merit in enumerate(merit_chunks):
            span = chunk_spans[i] if chunk_spans is not None else (None, None)
            parts.append(chunk_events(merit, tstart=span[0], tstop=span[1]))
        events, gti, tstart, tstop = _merged(parts)
        bad_gti = write_ft1(work / "ft1BadGti.fits", events, gti,
                            {**_keywords(0, version, proc_ver, pass_ver), "TSTART": tstart, "TSTOP": tstop})  # fmt: skip
        extended = work / names["extendedft1"].name
        good = has_good_time(ft2_seconds)
        _mktime(ft2_seconds, good, bad_gti, extended)
        products = {"extendedft1": extended}
        for kind, evclass in (("ft1", PHOTON_CLASS), ("ls1", LS1_CLASS)):
            selected = work / f"{kind}_selected.fits"
            gtselect(extended, selected, emin=0.0, emax=0.0, zmax=180.0, evclass=evclass, chatter=0)
            final = work / names[kind].name
            _mktime(ft2_seconds, good, selected, final)
            products[kind] = final
        extra = {
            **({} if lost_events is None else {LOST_EVENTS_KEYWORD: (int(lost_events), LOST_EVENTS_COMMENT)}),
            **header_cards(config_keys),
        }
        for kind, path in products.items():
            if date is not None or extra:
                stamp_date(path, date or processing_date(), extra)
            shutil.move(path, names[kind])  # same file system: an atomic rename
    return Ft1Products(names["extendedft1"], names["ft1"], names["ls1"])
