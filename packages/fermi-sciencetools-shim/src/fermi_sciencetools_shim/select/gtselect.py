"""gtselect: select FT1 events by sky cone, time, energy, zenith angle, class and type.

Python use::

    from fermi_sciencetools_shim.select.gtselect import gtselect
    gtselect("ft1.fits", "out.fits", ra=83.63, dec=22.01, rad=10, emin=100, emax=300000, zmax=90,
             evclass=128, evtype=3)

Command line (ScienceTools syntax)::

    gtselect infile=ft1.fits outfile=out.fits ra=83.63 dec=22.01 rad=10 emin=100 emax=300000 zmax=90

The cuts already recorded in the input's DSS keywords are read first, the user's cuts are
added with the dataSubselector rules (see :mod:`.selection`), the events passing the
resulting filter string (and the input GTI) are copied, and the output carries the
updated DSS keywords, the GTI cut to [tmin, tmax], and rewritten observation times.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from fermi_sciencetools_shim.atomic import atomic_output
from fermi_sciencetools_shim.errors import InputFileError, ParameterError, ShimError
from fermi_sciencetools_shim.gti import Gti
from fermi_sciencetools_shim.io._layout import table_hdu
from fermi_sciencetools_shim.io.dss import read_dss, write_dss
from fermi_sciencetools_shim.io.filelist import expand_file_list
from fermi_sciencetools_shim.io.fitsfile import open_fits
from fermi_sciencetools_shim.io.ft1 import (
    BIT_COLUMNS,
    bit_column_values,
    decode_bit_column,
    native,
    pass_version,
    read_gti_file,
)
from fermi_sciencetools_shim.io.headers import set_date, set_ontime, update_time_keywords
from fermi_sciencetools_shim.io.outfile import check_outfile
from fermi_sciencetools_shim.params import Parameter, resolve, run_command, tool_parameters
from fermi_sciencetools_shim.select.cuts import BitMaskCut, ConeCut, RangeCut, is_post_p7
from fermi_sciencetools_shim.select.selection import DssError, Selection

TOOL = "gtselect"
SUMMARY = "Select FT1 events (cone, time, energy, zenith angle, event class and type) as the ScienceTools do."

# The one definition of the parameters: the shipped pfiles/gtselect.par (hoops/ape semantics,
# ranges enforced for the parameters gtselect queries; see fermi_sciencetools_shim.queries).
PARAMETERS: list[Parameter] = tool_parameters(TOOL)


@dataclass(frozen=True)
class GtselectResult:
    """What a gtselect run produced.

    Attributes
    ----------
    outfile
        The output FT1 file.
    n_events
        Number of events written.
    filter_string
        The cfitsio filter applied (also in the ``HISTORY Filter string:`` card).
    gti
        The output good time intervals.
    messages
        Warnings (e.g. an event-class selection overwritten).
    """

    outfile: Path
    n_events: int
    filter_string: str
    gti: Gti
    messages: tuple[str, ...]


class _EventColumns(Mapping):
    """Columns of an EVENTS table read on demand (bit columns decoded to int64)."""

    def __init__(self, data: fits.FITS_rec | None, path: Path, evtable: str) -> None:
        self._data = data
        self._path = path
        self._evtable = evtable
        self._names = {} if data is None else {n.upper(): n for n in data.columns.names}
        self._cache: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        key = name.upper()
        if key not in self._cache:
            if key not in self._names:
                raise InputFileError(
                    self._path, f"{self._evtable} has no column {key}, which the selection needs"
                )
            fast = bit_column_values(self._data, self._names[key]) if key in BIT_COLUMNS else None
            raw = self._data.field(self._names[key]) if fast is None else None
            self._cache[key] = (
                fast if fast is not None
                else decode_bit_column(raw, self._path, self._evtable, key) if key in BIT_COLUMNS
                else native(raw)
            )  # fmt: skip
        return self._cache[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _check_range(name_min: str, low: float, name_max: str, high: float) -> None:
    if low > high:
        raise ParameterError(name_min, f"minimum {low!r} is greater than {name_max} {high!r}")


def _user_cuts(pars: Mapping[str, Any], pass_ver: str) -> list:
    """Return the user's cuts in the order gtselect adds them."""
    cuts: list = []
    ra, dec, rad = pars["ra"], pars["dec"], pars["rad"]
    if ra is not None and dec is not None and rad is not None and rad < 180.0:
        if not -90.0 <= dec <= 90.0:
            raise ParameterError("dec", f"{dec!r} is outside [-90, 90]")
        if rad < 0:
            raise ParameterError("rad", f"{rad!r} is negative")
        cuts.append(ConeCut(ra, dec, rad))
    tmin, tmax = pars["tmin"], pars["tmax"]
    if tmin is not None and tmax is not None and not (tmin == 0 and tmax == 0):
        _check_range("tmin", tmin, "tmax", tmax)
        cuts.append(RangeCut("TIME", "s", tmin, tmax))
    emin, emax = pars["emin"], pars["emax"]
    if emin is None or emax is None:
        raise ParameterError("emin" if emin is None else "emax", "INDEF is not allowed")
    if not (emin == 0 and emax == 0):
        _check_range("emin", emin, "emax", emax)
        cuts.append(RangeCut("ENERGY", "MeV", emin, emax))
    convtype = pars["convtype"]
    post_p7 = is_post_p7(pass_ver)
    evtype = pars["evtype"]
    if not post_p7 and evtype is not None:
        # Before Pass 8 there is no EVENT_TYPE column: FRONT/BACK is the conversion type.
        mapped = {1: 0, 2: 1, 3: None}
        if evtype not in mapped:
            raise ParameterError("evtype", f"{evtype} is not valid for PASS_VER {pass_ver!r} (use 1, 2 or 3)")
        if mapped[evtype] is not None:
            if convtype is not None and convtype >= 0 and convtype != mapped[evtype]:
                raise ParameterError("evtype", f"{evtype} contradicts convtype={convtype}")
            convtype = mapped[evtype]
    if convtype is not None and convtype >= 0:
        if convtype not in (0, 1):
            raise ParameterError("convtype", f"{convtype} is not -1, 0 or 1")
        cuts.append(RangeCut("CONVERSION_TYPE", "dimensionless", convtype, convtype))
    evclass = pars["evclass"]
    if evclass is not None:
        if post_p7:
            if not 0 < evclass < 2**32:
                raise ParameterError("evclass", f"{evclass} is not a bit mask in 1..2**32-1")
            cuts.append(BitMaskCut("EVENT_CLASS", evclass, pass_ver))
        else:
            if not 0 <= evclass < 32:
                raise ParameterError(
                    "evclass", f"{evclass} is not a bit position 0..31 (PASS_VER {pass_ver!r})"
                )
            cuts.append(BitMaskCut("EVENT_CLASS", 1 << evclass, pass_ver))
    if post_p7 and evtype is not None:
        if not 0 < evtype < 2**32:
            raise ParameterError("evtype", f"{evtype} is not a bit mask in 1..2**32-1")
        cuts.append(BitMaskCut("EVENT_TYPE", evtype, pass_ver))
    zmin, zmax = pars["zmin"], pars["zmax"]
    if zmin is None or zmax is None:
        raise ParameterError("zmin" if zmin is None else "zmax", "INDEF is not allowed")
    if zmin > 0 or zmax < 180:
        _check_range("zmin", zmin, "zmax", zmax)
        cuts.append(RangeCut("ZENITH_ANGLE", "deg", zmin, zmax))
    phasemin, phasemax = pars["phasemin"], pars["phasemax"]
    if (phasemin, phasemax) != (0.0, 1.0):
        _check_range("phasemin", phasemin, "phasemax", phasemax)
        cuts.append(RangeCut("PULSE_PHASE", "dimensionless", phasemin, phasemax))
    return cuts


def _concatenate(pieces: Sequence[fits.FITS_rec], header: fits.Header) -> fits.BinTableHDU:
    """Return an EVENTS HDU holding the rows of ``pieces`` in order (formats of the first)."""
    total = sum(len(p) for p in pieces)
    if len(pieces) == 1:
        return table_hdu(pieces[0], header)  # bit columns kept as bytes
    hdu = fits.BinTableHDU.from_columns(pieces[0].columns, header=header, nrows=total)
    names = pieces[0].columns.names
    start = len(pieces[0])
    for piece in pieces[1:]:
        stop = start + len(piece)
        for name in names:
            hdu.data[name][start:stop] = piece[name]
        start = stop
    return hdu


def gtselect(
    infile: str | Path,
    outfile: str | Path,
    ra: float | None = None,
    dec: float | None = None,
    rad: float | None = None,
    tmin: float | None = None,
    tmax: float | None = None,
    emin: float = 30.0,
    emax: float = 300000.0,
    zmin: float = 0.0,
    zmax: float = 180.0,
    evclass: int | None = None,
    evtype: int | None = None,
    convtype: int = -1,
    phasemin: float = 0.0,
    phasemax: float = 1.0,
    evtable: str = "EVENTS",
    chatter: int = 2,
    clobber: bool = True,
    debug: bool = False,
    gui: bool = False,
    mode: str = "ql",
) -> GtselectResult:
    """Select events of one or several FT1 files into a new FT1 file (the ScienceTools gtselect).

    Parameters are those of the gtselect par file (``None`` = ``INDEF``): a cone needs
    ``ra``, ``dec`` and ``rad`` (< 180); a time cut needs ``tmin`` and ``tmax`` (not both 0);
    the energy cut is skipped only when ``emin == emax == 0``; the zenith cut applies when
    ``zmin > 0`` or ``zmax < 180``; ``evclass``/``evtype`` are bit masks (Pass 8) or a bit
    position / FRONT-BACK choice (earlier passes). ``debug``, ``gui`` and ``mode`` are
    accepted for compatibility and ignored.

    Returns
    -------
    GtselectResult
        Output path, number of events, filter string, output GTI and warnings.

    Raises
    ------
    ParameterError
        For inconsistent parameters (e.g. ``emin > emax``).
    InputFileError
        For a missing or unusable input file (no PASS_VER, unknown DSS, no GTI ...).
    """
    pars = resolve(
        PARAMETERS,
        dict(
            infile=str(infile), outfile=str(outfile), ra=ra, dec=dec, rad=rad, tmin=tmin, tmax=tmax,
            emin=emin, emax=emax, zmin=zmin, zmax=zmax, evclass=evclass, evtype=evtype,
            convtype=convtype, phasemin=phasemin, phasemax=phasemax, evtable=evtable,
            chatter=chatter, clobber=clobber, debug=debug, gui=gui, mode=mode,
        ),
    )  # fmt: skip
    chatter = pars["chatter"]
    evtable = pars["evtable"]
    paths = expand_file_list(pars["infile"], "infile")
    out_path = check_outfile(pars["outfile"], bool(pars["clobber"]))
    if any(out_path.resolve() == p.resolve() for p in paths):
        raise ParameterError("outfile", f"{out_path} is also an input file")

    hduls = []
    try:
        for path in paths:
            hduls.append(open_fits(path))
        tables = []
        for path, hdul in zip(paths, hduls, strict=True):
            if evtable not in hdul or not isinstance(hdul[evtable], fits.BinTableHDU):
                raise InputFileError(path, f"has no {evtable} binary table")
            tables.append(hdul[evtable])
        versions = [pass_version(t.header, path) for path, t in zip(paths, tables, strict=True)]
        if len(set(versions)) > 1:
            listed = ", ".join(f"{p.name}={v}" for p, v in zip(paths, versions, strict=True))
            raise InputFileError(paths[0], f"PASS_VER is not consistent across input FT1 files ({listed})")
        pass_ver = versions[0]
        file_gtis = [read_gti_file(path) for path in paths]
        try:
            file_selections = [
                Selection.from_dss(read_dss(t.header), gti=g, columns=t.columns.names, source=str(p))
                for p, t, g in zip(paths, tables, file_gtis, strict=True)
            ]
            selection = Selection.merge_files(file_selections, [str(p) for p in paths])
        except DssError as exc:
            raise InputFileError(paths[0], str(exc)) from None
        try:
            for cut in _user_cuts(pars, pass_ver):
                selection.add(cut)
        except ValueError as exc:
            if isinstance(exc, ShimError):
                raise
            raise ParameterError("infile", f"cut inconsistent with the existing selection: {exc}") from None
        selection.merge_range_cuts()
        filter_string = selection.filter_string()
        if chatter >= 3:
            for message in selection.messages:
                print(f"\nWARNING:\n{message}\n", file=sys.stderr)
        if chatter >= 2:
            print(f"Applying filter string: {filter_string}")

        pieces = []
        for path, table, gti in zip(paths, tables, file_gtis, strict=True):
            if table.data is None:
                continue  # a table with no rows at all contributes nothing
            pieces.append(table.data[selection.mask(_EventColumns(table.data, path, evtable), gti)])
        if not pieces:
            raise InputFileError(paths[0], f"{evtable} table has no data section")

        out_gti = selection.apply_time_range(selection.gti if selection.gti is not None else Gti.empty())
        time_cut = selection.time_range()
        tstart = min(float(t.header.get("TSTART", np.inf)) for t in tables)
        tstop = max(float(t.header.get("TSTOP", -np.inf)) for t in tables)
        rewrite_times = time_cut is not None or len(paths) > 1
        if time_cut is not None:
            if time_cut[0] is not None:
                tstart = max(tstart, time_cut[0])
            if time_cut[1] is not None:
                tstop = min(tstop, time_cut[1])

        header = tables[0].header.copy()
        write_dss(header, selection.dss_keys())
        header.append(("HISTORY", f"Filter string: {filter_string}"), end=True)
        events_hdu = _concatenate(pieces, header)
        primary = fits.PrimaryHDU(header=hduls[0][0].header.copy())
        gti_header = hduls[0]["GTI"].header.copy()
        gti_hdu = fits.BinTableHDU.from_columns(
            [
                fits.Column("START", "D", unit="s", array=out_gti.start),
                fits.Column("STOP", "D", unit="s", array=out_gti.stop),
            ],
            header=gti_header,
        )
        set_ontime(gti_hdu.header, out_gti)
        others = [h.copy() for h in hduls[0][1:] if h.name not in (evtable.upper(), "GTI")]
        for hdu in (primary, events_hdu, gti_hdu):
            set_date(hdu.header)
            if rewrite_times and np.isfinite(tstart) and np.isfinite(tstop):
                update_time_keywords(hdu.header, tstart, tstop)
        output = fits.HDUList([primary, events_hdu, gti_hdu, *others])
        try:
            with atomic_output(out_path, clobber=bool(pars["clobber"])) as tmp:
                output.writeto(tmp, checksum=True)
        except FileExistsError:
            raise ParameterError("outfile", f"{out_path} exists and clobber=no") from None
        except OSError as exc:
            raise ParameterError("outfile", f"{out_path}: cannot write ({exc.strerror or exc})") from None
        n_events = len(events_hdu.data) if events_hdu.data is not None else 0
    finally:
        for hdul in hduls:
            hdul.close()
    if chatter >= 2:
        print("Done.")
    return GtselectResult(out_path, n_events, filter_string, out_gti, tuple(selection.messages))


def run(**pars: Any) -> GtselectResult:
    """Run gtselect with keyword parameters (same names as the par file)."""
    return gtselect(**pars)


def main(argv: Sequence[str] | None = None) -> int:
    """Run gtselect with ScienceTools command-line syntax; return the exit code."""
    return run_command(TOOL, SUMMARY, PARAMETERS, gtselect, argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
