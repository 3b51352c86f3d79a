"""``gtbin``: bin FT1 events into CMAP, CCUBE, LC or PHA1 products (evtbin semantics).

Python use::

    from fermi_sciencetools_shim.bin.gtbin import gtbin
    gtbin("ft1.fits", "ccube.fits", "CCUBE", ebinalg="LOG", emin=1e3, emax=1e5, enumbins=4,
          nxpix=10, nypix=10, binsz=0.2, coordsys="GAL", xref=184.55, yref=-5.78, proj="CAR")

Command line (ScienceTools syntax): ``gtbin evfile=ft1.fits outfile=ccube.fits algorithm=CCUBE ...``.

No event filtering is done (no GTI, DSS or energy cut besides the binners' own ranges).
The GTI written is the union of the input GTIs; its ``EXPOSURE`` keyword is the FT2
livetime weighted by the GTI overlap of each row (``ONTIME`` when ``scfile=NONE``).
PHA2 and HEALPIX are not implemented (a :class:`ParameterError` says so).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning

from fermi_sciencetools_shim.atomic import atomic_output
from fermi_sciencetools_shim.bin import _headers as H
from fermi_sciencetools_shim.bin._inputs import EventInput, read_event_input
from fermi_sciencetools_shim.bin.binners import Binner, read_bin_file
from fermi_sciencetools_shim.bin.galactic import ROTATION_ANGLES
from fermi_sciencetools_shim.bin.skymap import SkyGrid, count_cube
from fermi_sciencetools_shim.errors import ParameterError
from fermi_sciencetools_shim.gti import Gti, intersection
from fermi_sciencetools_shim.io.filelist import expand_file_list
from fermi_sciencetools_shim.io.ft2 import read_ft2
from fermi_sciencetools_shim.params import Parameter, resolve, run_command
from fermi_sciencetools_shim.time import date_obs

TOOL = "gtbin"
SUMMARY = "Bin FT1 events into a counts map (CMAP), counts cube (CCUBE), light curve (LC) or spectrum (PHA1)."
ALGORITHMS = ("CCUBE", "CMAP", "LC", "PHA1", "PHA2", "HEALPIX")

PARAMETERS: list[Parameter] = [
    Parameter("evfile", "s", None, "Event data file name (or @list)"),
    Parameter("scfile", "s", "NONE", "Spacecraft data file name (NONE: EXPOSURE = ONTIME)"),
    Parameter("outfile", "s", None, "Output file name"),
    Parameter("algorithm", "s", "CMAP", "Type of output file", choices=ALGORITHMS),
    Parameter("ebinalg", "s", "LOG", "Algorithm for defining energy bins", choices=("FILE", "LIN", "LOG")),
    Parameter("emin", "r", 30.0, "Start value for first energy bin in MeV"),
    Parameter("emax", "r", 200000.0, "Stop value for last energy bin in MeV"),
    Parameter("enumbins", "i", 38, "Number of logarithmically uniform energy bins"),
    Parameter("denergy", "r", 50.0, "Width of linearly uniform energy bins in MeV"),
    Parameter("ebinfile", "s", "NONE", "Name of the file containing the energy bin definition"),
    Parameter("tbinalg", "s", "LIN", "Algorithm for defining time bins", choices=("FILE", "LIN", "SNR")),
    Parameter("tstart", "r", None, "Start value for first time bin in MET (INDEF: EVENTS TSTART)"),
    Parameter("tstop", "r", None, "Stop value for last time bin in MET (INDEF: EVENTS TSTOP)"),
    Parameter("dtime", "r", None, "Width of linearly uniform time bins in seconds"),
    Parameter("tbinfile", "s", "NONE", "Name of the file containing the time bin definition"),
    Parameter("snratio", "r", None, "Signal to noise ratio per bin"),
    Parameter("lcemin", "r", None, "Start energy (MeV) of light curve"),
    Parameter("lcemax", "r", None, "Stop energy (MeV) of light curve"),
    Parameter("nxpix", "i", None, "Size of the X axis in pixels"),
    Parameter("nypix", "i", None, "Size of the Y axis in pixels"),
    Parameter("binsz", "r", None, "Image scale (in degrees/pixel)"),
    Parameter(
        "coordsys", "s", "CEL", "Coordinate system (CEL - celestial, GAL - galactic)", choices=("CEL", "GAL")
    ),
    Parameter("xref", "r", None, "First coordinate of image center in degrees (RA or galactic l)"),
    Parameter("yref", "r", None, "Second coordinate of image center in degrees (DEC or galactic b)"),
    Parameter("axisrot", "r", 0.0, "Rotation angle of image axis, in degrees"),
    Parameter("rafield", "s", "RA", "First coordinate field to bin", hidden=True),
    Parameter("decfield", "s", "DEC", "Second coordinate field to bin", hidden=True),
    Parameter("proj", "s", "AIT", "Projection method e.g. AIT|ARC|CAR|GLS|MER|NCP|SIN|STG|TAN"),
    Parameter(
        "galrot",
        "s",
        "current",
        "Galactic rotation angles (current|pre2016)",
        hidden=True,
        choices=tuple(ROTATION_ANGLES),
    ),
    Parameter("hpx_ordering_scheme", "s", "RING", "HEALPix ordering scheme (HEALPIX only)", hidden=True),
    Parameter("hpx_order", "i", 3, "HEALPix order (HEALPIX only)", hidden=True),
    Parameter("hpx_ebin", "b", True, "Energy binning for HEALPIX", hidden=True),
    Parameter("hpx_region", "s", "", "HEALPix region (HEALPIX only)", hidden=True),
    Parameter("evtable", "s", "EVENTS", "Event table extension", hidden=True),
    Parameter("sctable", "s", "SC_DATA", "Spacecraft table extension", hidden=True),
    Parameter("efield", "s", "ENERGY", "Name of energy field to bin", hidden=True),
    Parameter("tfield", "s", "TIME", "Name of time field to bin", hidden=True),
    Parameter("chatter", "i", 2, "Output verbosity", hidden=True),
    Parameter("clobber", "b", True, "Overwrite existing output files", hidden=True),
    Parameter("debug", "b", False, "Activate debugging mode", hidden=True),
    Parameter("gui", "b", False, "GUI mode activated", hidden=True),
    Parameter("mode", "s", "ql", "Mode of automatic parameters", hidden=True),
]


def _energy_binner(p: dict[str, Any]) -> Binner:
    alg = p["ebinalg"].upper()
    if alg == "FILE":
        if p["ebinfile"].strip().upper() == "NONE":
            raise ParameterError("ebinfile", "is required with ebinalg=FILE")
        return read_bin_file(p["ebinfile"], "energy")
    if p["emin"] is None or p["emax"] is None:
        raise ParameterError("emin" if p["emin"] is None else "emax", "is required")
    if alg == "LIN":
        return Binner.linear(p["emin"], p["emax"], p["denergy"], name="denergy")
    return Binner.log(p["emin"], p["emax"], p["enumbins"], name="enumbins")


def _time_binner(p: dict[str, Any], header: fits.Header) -> Binner:
    alg = p["tbinalg"].upper()
    if alg == "FILE":
        if p["tbinfile"].strip().upper() == "NONE":
            raise ParameterError("tbinfile", "is required with tbinalg=FILE")
        return read_bin_file(p["tbinfile"], "time")
    if alg == "SNR":
        raise ParameterError("tbinalg", "SNR time binning is not implemented in this shim (use LIN or FILE)")
    tstart = p["tstart"] if p["tstart"] is not None else header.get("TSTART")
    tstop = p["tstop"] if p["tstop"] is not None else header.get("TSTOP")
    if tstart is None or tstop is None:
        raise ParameterError(
            "tstart" if tstart is None else "tstop", "not given and not in the EVENTS header"
        )
    if p["dtime"] is None:
        raise ParameterError("dtime", "is required with tbinalg=LIN")
    return Binner.linear(float(tstart), float(tstop), p["dtime"], name="dtime")


def count_error(counts: np.ndarray) -> np.ndarray:
    """Return evtbin's count uncertainty: ``1 + sqrt(N + 0.75)`` for N <= 10, else ``sqrt(N)``."""
    n = np.asarray(counts, dtype=np.float64)
    return np.where(n <= 10, 1.0 + np.sqrt(n + 0.75), np.sqrt(n))


def _exposure(scfile: str, sctable: str, gti: Gti) -> float:
    if scfile.strip().upper() in ("NONE", ""):
        return gti.ontime
    sc = read_ft2(expand_file_list(scfile, "scfile"), ("START", "STOP", "LIVETIME"), sctable)
    return float(np.sum(sc["LIVETIME"] * gti.overlap_fraction(sc["START"], sc["STOP"])))


def _gti_hdu(gti: Gti, exposure: float, source: fits.Header, values: dict[str, Any]) -> fits.BinTableHDU:
    header = H.fill(
        H.GTI,
        source,
        {"EXPOSURE": exposure, "ONTIME": gti.ontime, **values},
    )
    cols = [
        fits.Column("START", "D", unit="s", array=gti.start),
        fits.Column("STOP", "D", unit="s", array=gti.stop),
    ]
    return fits.BinTableHDU.from_columns(cols, header=header)


def _ebounds_hdu(ebins: Binner, source: fits.Header, values: dict[str, Any]) -> fits.BinTableHDU:
    header = H.fill(H.EBOUNDS, source, {"DETCHANS": ebins.nbins, **values})
    cols = [
        fits.Column("CHANNEL", "I", array=np.arange(1, ebins.nbins + 1, dtype=np.int16)),
        fits.Column("E_MIN", "1E", unit="keV", array=(ebins.lo * 1e3).astype(np.float32)),
        fits.Column("E_MAX", "1E", unit="keV", array=(ebins.hi * 1e3).astype(np.float32)),
    ]
    return fits.BinTableHDU.from_columns(cols, header=header)


def _primary_map(grid: SkyGrid, ebins: Binner | None, ev: EventInput, outfile: Path) -> fits.Header:
    c1, c2 = grid.ctypes
    header = fits.Header()
    header.extend(
        [
            ("CTYPE1", c1, "RA---%%%, %%% represents the projection method"),
            ("CRPIX1", grid.crpix[0], "Reference pixel"),
            ("CRVAL1", grid.xref, "RA at the reference pixel"),
            ("CDELT1", -grid.binsz, "X-axis incr per pixel of physical coord at posi"),
            ("CUNIT1", "deg", "Physical unit of X-axis"),
            ("CTYPE2", c2, "DEC---%%%, %%% represents the projection method"),
            ("CRPIX2", grid.crpix[1], "Reference pixel"),
            ("CRVAL2", grid.yref, "DEC at the reference pixel"),
            ("CDELT2", grid.binsz, "Y-axis incr per pixel of physical coord at posi"),
            ("CUNIT2", "deg", "Physical unit of Y-axis"),
            ("CROTA2", grid.axisrot, "Image rotation (deg)"),
        ]
    )
    if ebins is not None:
        header.extend(
            [
                ("CTYPE3", "Energy", "Energy"),
                ("CRPIX3", 1, "Reference pixel"),
                ("CRVAL3", float(ebins.lo[0]), "Energy at the reference pixel"),
                (
                    "CDELT3",
                    float(ebins.hi[0] - ebins.lo[0]),
                    "Z-axis incr per pixel of physical coord at posi",
                ),
                ("CUNIT3", "MeV", "Physical unit of Z-axis"),
            ]
        )
    H.fill(H.COUNT_MAP_PRIMARY, ev.header, {"DATE": H.creation_date(), "FILENAME": outfile.name}, header)
    return header


def _finish_primary(header: fits.Header, ev: EventInput, evtable: str) -> None:
    H.append_dss(header, ev.header)
    H.append_history(header, ev.header, [f"{p}[{evtable}]" for p in ev.paths])


def gtbin(
    evfile: str,
    outfile: str,
    algorithm: str = "CMAP",
    scfile: str = "NONE",
    **pars: Any,
) -> Path:
    """Run gtbin and return the output path.

    Parameters
    ----------
    evfile
        FT1 file or ``@list`` of FT1 files.
    outfile
        Output FITS file (written atomically).
    algorithm
        ``CMAP``, ``CCUBE``, ``LC`` or ``PHA1``.
    scfile
        FT2 file(s) for the ``EXPOSURE`` keyword, or ``"NONE"``.
    **pars
        Any other gtbin parameter (``ebinalg``, ``emin``, ``nxpix``, ``coordsys``, ``galrot`` ...).

    Raises
    ------
    ParameterError, InputFileError
        For bad parameters or unreadable inputs; nothing is written then.
    """
    p = resolve(
        PARAMETERS, {"evfile": evfile, "outfile": outfile, "algorithm": algorithm, "scfile": scfile, **pars}
    )
    alg = p["algorithm"].upper()
    if alg in ("PHA2", "HEALPIX"):
        raise ParameterError(
            "algorithm", f"{alg} is not implemented in this shim (use CMAP, CCUBE, LC or PHA1)"
        )
    out = Path(p["outfile"])
    paths = expand_file_list(p["evfile"], "evfile")

    if alg in ("CMAP", "CCUBE"):
        grid = SkyGrid(
            p["nxpix"], p["nypix"], p["binsz"], p["coordsys"], p["xref"], p["yref"], p["proj"], p["axisrot"]
        )
        ebins = _energy_binner(p) if alg == "CCUBE" else None
        cols = [p["rafield"], p["decfield"]] + ([p["efield"]] if ebins is not None else [])
        ev = read_event_input(paths, cols, p["evtable"])
        energy = ev.columns[p["efield"]] if ebins is not None else None
        counts = count_cube(
            grid, ev.columns[p["rafield"]], ev.columns[p["decfield"]], energy, ebins, p["galrot"]
        )
        exposure = _exposure(p["scfile"], p["sctable"], ev.gti)
        primary = _primary_map(grid, ebins, ev, out)
        _finish_primary(primary, ev, p["evtable"])
        hdus = [fits.PrimaryHDU(counts, header=primary)]
        if ebins is not None:
            hdus.append(_ebounds_hdu(ebins, ev.header, {}))
        hdus.append(_gti_hdu(ev.gti, exposure, ev.header, {}))
    elif alg == "LC":
        cols = [p["tfield"]] + ([p["efield"]] if p["lcemin"] is not None or p["lcemax"] is not None else [])
        ev = read_event_input(paths, cols, p["evtable"])
        tbins = _time_binner(p, ev.header)
        times = ev.columns[p["tfield"]]
        if p["efield"] in ev.columns:
            e = ev.columns[p["efield"]]
            lo = -np.inf if p["lcemin"] is None else p["lcemin"]
            hi = np.inf if p["lcemax"] is None else p["lcemax"]
            times = times[(e >= lo) & (e < hi)]
        idx = tbins.index(times)
        counts = np.bincount(idx[idx >= 0], minlength=tbins.nbins).astype(np.int32)
        gti = intersection(ev.gti, Gti.from_intervals(tbins.lo, tbins.hi))
        tstart = max(float(ev.header.get("TSTART", tbins.lo[0])), float(tbins.lo[0]))
        tstop = min(float(ev.header.get("TSTOP", tbins.hi[-1])), float(tbins.hi[-1]))
        times_kw = {
            "TSTART": tstart,
            "TSTOP": tstop,
            "DATE-OBS": date_obs(tstart),
            "DATE-END": date_obs(tstop),
        }
        exposure = _exposure(p["scfile"], p["sctable"], gti)
        primary = H.fill(
            H.TABLE_PRIMARY, ev.header, {"DATE": H.creation_date(), "FILENAME": out.name, **times_kw}
        )
        _finish_primary(primary, ev, p["evtable"])
        rate_header = H.fill(H.RATE, ev.header, times_kw)
        H.append_dss(rate_header, ev.header)
        rate = fits.BinTableHDU.from_columns(
            [
                fits.Column("TIME", "D", unit="s", array=tbins.centers),
                fits.Column("TIMEDEL", "D", unit="s", array=tbins.widths),
                fits.Column("COUNTS", "J", unit="count", array=counts),
                fits.Column("ERROR", "E", unit="count", array=count_error(counts).astype(np.float32)),
            ],
            header=rate_header,
        )
        hdus = [fits.PrimaryHDU(header=primary), rate, _gti_hdu(gti, exposure, ev.header, times_kw)]
    else:  # PHA1
        ebins = _energy_binner(p)
        ev = read_event_input(paths, [p["efield"]], p["evtable"])
        idx = ebins.index(ev.columns[p["efield"]])
        counts = np.bincount(idx[idx >= 0], minlength=ebins.nbins).astype(np.int32)
        exposure = _exposure(p["scfile"], p["sctable"], ev.gti)
        primary = H.fill(H.TABLE_PRIMARY, ev.header, {"DATE": H.creation_date(), "FILENAME": out.name})
        _finish_primary(primary, ev, p["evtable"])
        spec_header = H.fill(H.SPECTRUM, ev.header, {"DETCHANS": ebins.nbins, "EXPOSURE": exposure})
        H.append_dss(spec_header, ev.header)
        spectrum = fits.BinTableHDU.from_columns(
            [
                fits.Column("CHANNEL", "I", array=np.arange(1, ebins.nbins + 1, dtype=np.int16)),
                fits.Column("COUNTS", "J", unit="count", array=counts),
                fits.Column("STAT_ERR", "E", unit="count", array=count_error(counts).astype(np.float32)),
            ],
            header=spec_header,
        )
        hdus = [
            fits.PrimaryHDU(header=primary),
            spectrum,
            _ebounds_hdu(ebins, ev.header, {}),
            _gti_hdu(ev.gti, exposure, ev.header, {}),
        ]

    try:
        with atomic_output(out, clobber=p["clobber"]) as tmp, warnings.catch_warnings():
            # long comments are cut at 80 columns, as CFITSIO does
            warnings.simplefilter("ignore", VerifyWarning)
            fits.HDUList(hdus).writeto(tmp, checksum=True)
    except FileExistsError:
        raise ParameterError("outfile", f"{out} exists and clobber=no") from None
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gtbin`` with ScienceTools ``name=value`` arguments; return the exit code."""
    return run_command(TOOL, SUMMARY, PARAMETERS, gtbin, argv, describe=lambda out: f"wrote {out}")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
