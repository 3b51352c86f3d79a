"""``gtltcube``: livetime cube from event-file GTIs and a spacecraft (FT2) file.

For every FT2 row the livetime weight is ``LIVETIME x (GTI overlap / row duration)``; it is
added, for every HEALPix (NESTED, equatorial) pixel centre above the LAT horizon (and inside
the zenith cut, if any), to the cell of the pixel's ``sqrt(1 - cos theta)`` inclination bin.
``WEIGHTED_EXPOSURE`` uses the weight times the row's livetime fraction. Accumulation is in
float32 like the ScienceTools. With ``phibins > 0`` the azimuth of each pixel in the
instrument frame (S/C z and x axes) is binned too, folded into 0..45 deg as ``CosineBinner``
does: ``COSBINS`` then has ``nbins * (1 + phibins)`` values (the phi-summed bins first).

Refused before any work, with one line naming the file: an FT2 that does not cover the
GTIs (the ScienceTools write an all-zero cube), FT2 rows out of time order or with a repeated
``START``, ``STOP < START``, negative ``LIVETIME`` or a NaN pointing; a cube larger than the
memory budget. Progress is shown on a terminal (``chatter >= 2``).

Python use: ``gtltcube(evfile="ft1.fits", scfile="ft2.fits", outfile="ltcube.fits", zmax=90)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning

from fermi_sciencetools_shim._version import __version__
from fermi_sciencetools_shim.atomic import atomic_output
from fermi_sciencetools_shim.bin._headers import creation_date
from fermi_sciencetools_shim.errors import InputFileError, ParameterError
from fermi_sciencetools_shim.gti import Gti
from fermi_sciencetools_shim.io.filelist import expand_file_list
from fermi_sciencetools_shim.io.ft1 import read_gti
from fermi_sciencetools_shim.io.ft2 import read_ft2_checked
from fermi_sciencetools_shim.io.limits import check_allocation
from fermi_sciencetools_shim.io.outfile import check_outfile
from fermi_sciencetools_shim.io.progress import Progress
from fermi_sciencetools_shim.ltcube.grid import LivetimeGrid, nside_for_binsz
from fermi_sciencetools_shim.ltcube.livetime import livetime_cube
from fermi_sciencetools_shim.params import Parameter, resolve, run_command, tool_parameters
from fermi_sciencetools_shim.time import date_obs

TOOL = "gtltcube"
SUMMARY = "Compute the livetime cube (livetime vs sky position and inclination) from FT2 and event GTIs."

# The one definition of the parameters: the shipped pfiles/gtltcube.par (hoops/ape semantics).
PARAMETERS: list[Parameter] = tool_parameters(TOOL)

FT2_COLUMNS = ("START", "STOP", "LIVETIME", "RA_SCZ", "DEC_SCZ", "RA_ZENITH", "DEC_ZENITH")
#: Extra columns needed with phibins > 0 (the S/C x axis fixes the azimuth).
FT2_PHI_COLUMNS = ("RA_SCX", "DEC_SCX")
#: Bytes per (pixel, cell) while the cube is built and written (accumulator pairs, outputs, FITS).
_CELL_BYTES = 24
#: Bytes per pixel of the grid (centres, unit vectors, padding).
_PIXEL_BYTES = 80


def cos_theta_bounds(nbins: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(CTHETA_MIN, CTHETA_MAX)``: ``1 - ((i + 1) / n)^2`` and ``1 - (i / n)^2``."""
    i = np.arange(nbins, dtype=np.float64)
    return 1.0 - ((i + 1) / nbins) ** 2, 1.0 - (i / nbins) ** 2


def _common(tstart: float, tstop: float, date: str) -> list[tuple[str, Any, str]]:
    return [
        ("TELESCOP", "GLAST", "name of telescope generating data"),
        ("INSTRUME", "LAT", "name of instrument generating data"),
        ("EQUINOX", 2000.0, "equinox for ra and dec"),
        ("RADECSYS", "FK5", "world coord. system for this file (FK5 or FK4)"),
        ("DATE", date, "file creation date (UTC)"),
        ("DATE-OBS", date_obs(tstart), "start date/time of the obs. (UTC)"),
        ("DATE-END", date_obs(tstop), "end date/time of the obs. (UTC)"),
    ]


def _time_keys() -> list[tuple[str, Any, str]]:
    return [
        ("MJDREFI", 51910.0, "Int. part of MJD of SC clock start"),
        ("MJDREFF", 7.428703703703703e-4, "Frac. part of MJD of SC clock start"),
        ("TIMEUNIT", "s", "units for the time related keywords"),
        ("TIMEZERO", 0.0, "clock correction"),
        ("TIMESYS", "TT", "type of time system that is used"),
        ("TIMEREF", "LOCAL", "reference frame used for times"),
        ("CLOCKAPP", False, "clock drift correction applied?"),
        ("GPS_OUT", False, "GPS time unavailable at any time during interval?"),
    ]


def _exposure_hdu(
    name: str,
    data: np.ndarray,
    grid: LivetimeGrid,
    gti: Gti,
    date: str,
    zmin: float,
    zmax: float,
    phibins: int = 0,
) -> fits.BinTableHDU:
    ncells = data.shape[1]
    nbins = ncells // (1 + phibins)
    cols = [
        fits.Column("COSBINS", f"{ncells}E", unit="s", array=data),
        fits.Column("RA", "E", unit="deg", array=grid.ra.astype(np.float32)),
        fits.Column("DEC", "E", unit="deg", array=grid.dec.astype(np.float32)),
    ]
    hdu = fits.BinTableHDU.from_columns(cols)
    h = hdu.header
    cards = [
        *_common(gti.tmin, gti.tmax, date),
        ("OBSERVER", "Peter Michelson", "LAT PI"),
        ("ORIGIN", "LISOC", "name of organization making file"),
        ("EXTNAME", name, "name of this binary table extension"),
        ("TSTART", gti.tmin, "mission time of the obs. start"),
        ("TSTOP", gti.tmax, "mission time of the obs. end"),
        *_time_keys(),
        ("PIXTYPE", "HEALPIX", "Indicates this is a HEALPix representation"),
        ("ORDERING", "NESTED", "Can be NESTED or RING"),
        ("COORDSYS", "EQU", ""),
        ("NSIDE", grid.nside, "Number of pixels per side per dodecahedron face"),
        ("FIRSTPIX", 0, "First pixel index"),
        ("LASTPIX", grid.npix - 1, "Last pixel index"),
        ("THETABIN", "SQRT(1-COSTHETA)", "Costheta binning scheme"),
        ("NBRBINS", nbins, "Number of costheta bins"),
        ("COSMIN", 0.0, "Minimum costheta value"),
        ("PHIBINS", phibins, "Number of phi bins"),
    ]
    if zmax < 180.0:
        cards.append(("ZENMIN", zmin, "Minimum zenith angle"))
        cards.append(("ZENMAX", zmax, "Maximum zenith angle"))
    for card in cards:
        h.append(card, end=True)
    h["TLMIN2"], h["TLMAX2"], h["TLMIN3"], h["TLMAX3"] = 0.0, 360.0, -90.0, 90.0
    for card in [
        ("NDSKEYS", 1),
        ("DSTYP1", "TIME"),
        ("DSUNI1", "s"),
        ("DSVAL1", "TABLE"),
        ("DSREF1", ":GTI"),
    ]:
        h.append(card, end=True)
    return hdu


def write_ltcube(
    path: Path,
    grid: LivetimeGrid,
    gti: Gti,
    exposure: np.ndarray,
    weighted: np.ndarray,
    *,
    zmin: float,
    zmax: float,
    file_version: str = "1",
    clobber: bool = True,
    phibins: int = 0,
) -> None:
    """Write the livetime cube: PRIMARY, EXPOSURE, WEIGHTED_EXPOSURE, CTHETABOUNDS, GTI.

    ``exposure`` and ``weighted`` have ``nbins * (1 + phibins)`` columns; CTHETABOUNDS has
    ``nbins`` rows.
    """
    date = creation_date()
    primary = fits.PrimaryHDU()
    for card in [
        *_common(gti.tmin, gti.tmax, date),
        ("TSTART", gti.tmin, "mission time of the obs. start"),
        ("TSTOP", gti.tmax, "mission time of the obs. end"),
        ("TIMEUNIT", "s", "units for the time related keywords"),
        ("TIMESYS", "TT", "type of time system that is used"),
        ("GPS_OUT", False, "whether GPS time was unavailable at any time during this interval"),
        ("MJDREFI", 51910.0, "Int. part of MJD of SC clock start"),
        ("MJDREFF", 7.428703703703703e-4, "Frac. part of MJD of SC clock start"),
        ("OBSERVER", "Peter Michelson", "LAT PI"),
        ("FILENAME", path.name, "name of this file"),
        ("ORIGIN", "LISOC", "name of organization making file"),
        ("CREATOR", f"gtltcube fermi-sciencetools-shim {__version__}", "software and version creating file"),
        ("VERSION", file_version, "release version of the file"),
    ]:
        primary.header.append(card, end=True)
    nbins = exposure.shape[1] // (1 + phibins)
    cmin, cmax = cos_theta_bounds(nbins)
    ctheta = fits.BinTableHDU.from_columns(
        [
            fits.Column("CTHETA_MIN", "E", array=cmin.astype(np.float32)),
            fits.Column("CTHETA_MAX", "E", array=cmax.astype(np.float32)),
        ]
    )
    for card in [
        *_common(gti.tmin, gti.tmax, date),
        ("TSTART", gti.tmin, "mission time of the obs. start"),
        ("TSTOP", gti.tmax, "mission time of the obs. end"),
        ("OBSERVER", "Peter Michelson", "LAT PI"),
        ("ORIGIN", "LISOC", "name of organization making file"),
        ("TLMIN1", -1.0, "minimum value"),
        ("TLMAX1", 1.0, "maximum value"),
        ("TLMIN2", -1.0, "minimum value"),
        ("TLMAX2", 1.0, "maximum value"),
        ("EXTNAME", "CTHETABOUNDS", "Extension name"),
        ("HDUCLASS", "OGIP", "Format confirms to OGIP standard"),
        ("HDUVERS", "0.0.0", "Version number of the format"),
    ]:
        ctheta.header.append(card, end=True)
    gti_hdu = fits.BinTableHDU.from_columns(
        [
            fits.Column("START", "D", unit="s", array=gti.start),
            fits.Column("STOP", "D", unit="s", array=gti.stop),
        ]
    )
    for card in [
        *_common(gti.tmin, gti.tmax, date),
        ("OBSERVER", "Peter Michelson", "LAT PI"),
        ("ORIGIN", "LISOC", "name of organization making file"),
        ("EXTNAME", "GTI", "name of this binary table ext."),
        ("HDUCLASS", "OGIP", "format conforms to OGIP standard"),
        ("HDUCLAS1", "GTI", "ext. contains good time intervals"),
        ("HDUCLAS2", "ALL", "ext. contains all science time"),
        ("TSTART", gti.tmin, "mission time of the obs. start"),
        ("TSTOP", gti.tmax, "mission time of the obs. end"),
        *_time_keys(),
        ("ONTIME", gti.ontime, "sum of GTI lengths"),
        ("TELAPSE", gti.tmax - gti.tmin, "time between first GTI START and last GTI STOP"),
    ]:
        gti_hdu.header.append(card, end=True)
    hdus = fits.HDUList(
        [
            primary,
            _exposure_hdu("EXPOSURE", exposure, grid, gti, date, zmin, zmax, phibins),
            _exposure_hdu("WEIGHTED_EXPOSURE", weighted, grid, gti, date, zmin, zmax, phibins),
            ctheta,
            gti_hdu,
        ]
    )
    try:
        with atomic_output(path, clobber=clobber) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore", VerifyWarning)  # long comments are cut at 80 columns
            hdus.writeto(tmp, checksum=True)
    except FileExistsError:
        raise ParameterError("outfile", f"{path} exists and clobber=no") from None
    except OSError as exc:
        raise ParameterError("outfile", f"{path}: cannot write ({exc.strerror or exc})") from None


def check_coverage(
    gti: Gti, ft2: dict[str, np.ndarray], scfiles: list[Path], scfile: str, evfile: str
) -> None:
    """Refuse a spacecraft file that does not cover the good time intervals (as gtmktime does).

    The GTIs must lie within ``[first START, last STOP]`` of the FT2 rows; otherwise the
    cube would silently miss (or entirely lack) the livetime of the uncovered time.

    Raises
    ------
    InputFileError
        Naming the FT2 file (or list) and both time spans.
    """
    name = scfiles[0] if len(scfiles) == 1 else scfile
    what = f"the GTIs of {Path(evfile).name}" if evfile else "the requested tmin..tmax"
    if ft2["START"].size == 0:
        raise InputFileError(name, f"spacecraft data have no rows, so they cannot cover {what}")
    lo, hi = float(ft2["START"].min()), float(ft2["STOP"].max())
    if gti.tmin < lo or gti.tmax > hi:
        raise InputFileError(
            name,
            f"spacecraft data cover MET {lo:.6f}..{hi:.6f} but {what} span {gti.tmin:.6f}..{gti.tmax:.6f}",
        )


def gtltcube(scfile: str, outfile: str, evfile: str = "", **pars: Any) -> Path:
    """Run gtltcube and return the output path.

    Parameters
    ----------
    scfile
        FT2 file or ``@list`` (files concatenated in order).
    outfile
        Output livetime cube (written atomically).
    evfile
        FT1 file(s) whose GTI union is used; empty to use ``[tmin, tmax]``.
    **pars
        ``dcostheta`` (0.025), ``binsz`` (1 deg), ``zmin``/``zmax``, ``tmin``/``tmax``, ``phibins`` ...

    Raises
    ------
    ParameterError, InputFileError
        For bad parameters or unreadable inputs; nothing is written then.
    """
    p = resolve(PARAMETERS, {"scfile": scfile, "outfile": outfile, "evfile": evfile, **pars})
    out = check_outfile(p["outfile"], p["clobber"])
    phibins = p["phibins"] or 0
    if phibins < 0:
        raise ParameterError("phibins", f"must be 0 or a positive integer (got {phibins!r})")
    if p["dcostheta"] is None or not 0 < p["dcostheta"] <= 1:
        raise ParameterError("dcostheta", f"must be in (0, 1] (got {p['dcostheta']!r})")
    nbins = int(1.0 / p["dcostheta"])
    zmin, zmax = p["zmin"], p["zmax"]
    if zmin is None or zmax is None or not 0.0 <= zmin < zmax <= 180.0:
        raise ParameterError("zmax", f"need 0 <= zmin < zmax <= 180 (got zmin={zmin!r}, zmax={zmax!r})")
    tmin, tmax = p["tmin"] or 0.0, p["tmax"] or 0.0
    ev = p["evfile"].strip()
    if ev and ev.upper() != "NONE":
        gti = read_gti(expand_file_list(ev, "evfile"))
        if tmax > tmin:
            gti = gti.clip(tmin, tmax)
    else:
        if not tmax > tmin:
            raise ParameterError("tmax", "without evfile, tmin < tmax must be given")
        gti = Gti.from_intervals([tmin], [tmax])
    if len(gti) == 0:
        raise ParameterError("evfile" if ev else "tmin", "the good time intervals are empty")
    nside = nside_for_binsz(p["binsz"])
    ncells = nbins * (1 + phibins)
    check_allocation(
        12.0 * nside * nside * (ncells * _CELL_BYTES + _PIXEL_BYTES),
        f"the livetime cube of {12 * nside * nside} pixels x {ncells} cells",
        "dcostheta" if phibins == 0 else "phibins",
    )
    scfiles = expand_file_list(p["scfile"], "scfile")
    columns = FT2_COLUMNS + (FT2_PHI_COLUMNS if phibins else ())
    ft2 = read_ft2_checked(scfiles, columns, p["sctable"])
    check_coverage(gti, ft2, scfiles, p["scfile"], ev if ev and ev.upper() != "NONE" else "")
    grid = LivetimeGrid.build(nside)
    rows = int(np.count_nonzero(ft2["START"] < gti.tmax))
    with Progress("gtltcube: FT2 rows", rows, p["chatter"]) as bar:
        exposure, weighted = livetime_cube(
            grid, gti, ft2, nbins, zmin, zmax, phibins=phibins, progress=bar.update
        )
    write_ltcube(
        out,
        grid,
        gti,
        exposure,
        weighted,
        zmin=zmin,
        zmax=zmax,
        file_version=p["file_version"],
        clobber=p["clobber"],
        phibins=phibins,
    )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gtltcube`` with ScienceTools ``name=value`` arguments; return the exit code."""
    return run_command(TOOL, SUMMARY, PARAMETERS, gtltcube, argv, describe=lambda out: f"wrote {out}")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
