"""``gtbin``: bin FT1 events into CMAP, CCUBE, LC, PHA1, PHA2 or HEALPIX products (evtbin semantics).

Python use::

    from fermi_sciencetools_shim.bin.gtbin import gtbin
    gtbin("ft1.fits", "ccube.fits", "CCUBE", ebinalg="LOG", emin=1e3, emax=1e5, enumbins=4,
          nxpix=10, nypix=10, binsz=0.2, coordsys="GAL", xref=184.55, yref=-5.78, proj="CAR")

Command line (ScienceTools syntax): ``gtbin evfile=ft1.fits outfile=ccube.fits algorithm=CCUBE ...``.

No event filtering is done (no GTI, DSS or energy cut besides the binners' own ranges).
The GTI written is the union of the input GTIs; its ``EXPOSURE`` keyword is the FT2
livetime weighted by the GTI overlap of each row (``ONTIME`` when ``scfile=NONE``).
PHA2 is a type II spectrum file (one spectrum per time bin, each with its own FT2
``EXPOSURE``; a spacecraft file is required, as in the ScienceTools). HEALPIX writes a
``SKYMAP`` table with one ``CHANNELn`` column per energy bin (see :mod:`.healpix`); as in
evtbin, with a single energy bin (or ``hpx_ebin=no``) every event is counted whatever its
energy, and ``hpx_ebin=no`` gives one EBOUNDS bin spanning the events' energies.
Products larger than the memory budget (:mod:`fermi_sciencetools_shim.io.limits`) are
refused before anything is allocated; the output folder is checked before any work.
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
from fermi_sciencetools_shim.bin import _kernels
from fermi_sciencetools_shim.bin._inputs import EventInput, read_event_input
from fermi_sciencetools_shim.bin.binners import Binner, read_bin_file
from fermi_sciencetools_shim.bin.healpix import HealpixGrid
from fermi_sciencetools_shim.bin.skymap import SkyGrid, count_cube
from fermi_sciencetools_shim.errors import ParameterError
from fermi_sciencetools_shim.gti import Gti, intersection
from fermi_sciencetools_shim.io.filelist import expand_file_list
from fermi_sciencetools_shim.io.ft2 import read_ft2_checked
from fermi_sciencetools_shim.io.limits import check_allocation
from fermi_sciencetools_shim.io.outfile import check_outfile
from fermi_sciencetools_shim.params import Parameter, resolve, run_command, tool_parameters
from fermi_sciencetools_shim.time import date_obs

TOOL = "gtbin"
SUMMARY = "Bin FT1 events into a counts map (CMAP), counts cube (CCUBE), light curve (LC) or spectrum (PHA1)."
ALGORITHMS = ("CCUBE", "CMAP", "LC", "PHA1", "PHA2", "HEALPIX")

# The one definition of the parameters: the shipped pfiles/gtbin.par (hoops/ape semantics).
PARAMETERS: list[Parameter] = tool_parameters(TOOL)


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


def _has_scfile(scfile: str) -> bool:
    return scfile.strip().upper() not in ("NONE", "")


def _read_sc(scfile: str, sctable: str) -> dict[str, np.ndarray]:
    paths = expand_file_list(scfile, "scfile")
    return read_ft2_checked(paths, ("START", "STOP", "LIVETIME"), sctable)


def _exposure(scfile: str, sctable: str, gti: Gti, sc: dict[str, np.ndarray] | None = None) -> float:
    if not _has_scfile(scfile):
        return gti.ontime
    sc = _read_sc(scfile, sctable) if sc is None else sc
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


#: Bytes per counts cell while a map is built (int64 histogram, int32 copy, FITS buffer).
_CELL_BYTES = 16


def _hpx_direction_columns(grid: HealpixGrid) -> tuple[str, str]:
    return ("L", "B") if grid.coordsys == "GAL" else ("RA", "DEC")


def _healpix_hdus(p: dict[str, Any], paths: list[Path], out: Path) -> list[fits.hdu.base.ExtensionHDU]:
    grid = HealpixGrid.build(p["hpx_order"], p["hpx_ordering_scheme"], p["coordsys"], p["hpx_region"])
    ebins = _energy_binner(p) if p["hpx_ebin"] else None
    nplanes = ebins.nbins if ebins is not None else 1
    check_allocation(
        float(grid.nbins) * nplanes * 8.0 * 3,
        f"the HEALPix map of {grid.nbins} pixels x {nplanes} energy planes",
        "hpx_order",
    )
    lon_col, lat_col = _hpx_direction_columns(grid)
    ev = read_event_input(paths, [lon_col, lat_col, p["efield"]], p["evtable"], progress_chatter=p["chatter"])
    energy = ev.columns[p["efield"]]
    pix = grid.index(ev.columns[lon_col], ev.columns[lat_col])
    # evtbin: with a single energy bin every event goes to it, whatever its energy
    iz = ebins.index(energy) if ebins is not None and ebins.nbins > 1 else np.zeros(pix.size, dtype=np.int64)
    counts = _kernels.count_3d(pix, np.zeros(pix.size, dtype=np.int64), iz, grid.nbins, 1, nplanes)[:, 0, :]
    if ebins is None:
        if energy.size:
            lo, hi = float(energy.min()), float(energy.max())
        else:
            lo = hi = 0.0
        ebounds = Binner(np.array([lo]), np.array([hi]), "FILE")
    else:
        ebounds = ebins
    exposure = _exposure(p["scfile"], p["sctable"], ev.gti)
    primary = H.fill(H.HEALPIX_PRIMARY, ev.header, {"DATE": H.creation_date(), "FILENAME": out.name})
    H.append_dss(primary, ev.header)
    sky_header = H.fill(H.SKYMAP, ev.header, {})
    for key, value, comment in grid.keywords():
        sky_header[key] = (value, comment) if comment else value
    cols = []
    if grid.pixels is not None:
        cols.append(fits.Column("PIX", "J", array=grid.pixels.astype(np.int32)))
    for k in range(nplanes):
        cols.append(fits.Column(f"CHANNEL{k + 1}", "D", array=counts[k].astype(np.float64)))
    skymap = fits.BinTableHDU.from_columns(cols, header=sky_header)
    H.append_history(skymap.header, ev.header, [f"{q}[{p['evtable']}]" for q in ev.paths])
    H.append_dss(skymap.header, ev.header)
    gti_header = H.fill(H.HEALPIX_GTI, ev.header, {"EXPOSURE": exposure})
    gti = fits.BinTableHDU.from_columns(
        [
            fits.Column("START", "D", unit="s", array=ev.gti.start),
            fits.Column("STOP", "D", unit="s", array=ev.gti.stop),
        ],
        header=gti_header,
    )
    return [fits.PrimaryHDU(header=primary), skymap, _ebounds_hdu(ebounds, ev.header, {}), gti]


def _pha2_hdus(p: dict[str, Any], paths: list[Path], out: Path) -> list[fits.hdu.base.ExtensionHDU]:
    if not _has_scfile(p["scfile"]):
        raise ParameterError(
            "scfile",
            "binning LAT data for spectral analysis requires a spacecraft file for an accurate exposure",
        )
    ebins = _energy_binner(p)
    ev = read_event_input(paths, [p["tfield"], p["efield"]], p["evtable"], progress_chatter=p["chatter"])
    tbins = _time_binner(p, ev.header)
    if not tbins.hi[-1] > tbins.lo[0]:
        raise ParameterError("tstop", "TSTART must be before TSTOP")
    check_allocation(
        float(tbins.nbins) * ebins.nbins * 16.0,
        f"the PHA2 file of {tbins.nbins} spectra x {ebins.nbins} channels",
        "dtime",
    )
    it = tbins.index(ev.columns[p["tfield"]])
    ie = ebins.index(ev.columns[p["efield"]])
    ok = (it >= 0) & (ie >= 0)
    counts = _kernels.count_3d(
        ie[ok], np.zeros(int(ok.sum()), dtype=np.int64), it[ok], ebins.nbins, 1, tbins.nbins
    )[:, 0, :].astype(np.int32)
    sc = _read_sc(p["scfile"], p["sctable"])
    exposures = np.array(
        [
            _exposure(p["scfile"], p["sctable"], intersection(ev.gti, Gti.from_intervals([lo], [hi])), sc)
            for lo, hi in zip(tbins.lo, tbins.hi, strict=True)
        ],
        dtype=np.float64,
    )
    gti = intersection(ev.gti, Gti.from_intervals(tbins.lo, tbins.hi))
    tstart = max(float(ev.header.get("TSTART", tbins.lo[0])), float(tbins.lo[0]))
    tstop = min(float(ev.header.get("TSTOP", tbins.hi[-1])), float(tbins.hi[-1]))
    times_kw = {"TSTART": tstart, "TSTOP": tstop, "DATE-OBS": date_obs(tstart), "DATE-END": date_obs(tstop)}
    total_exposure = _exposure(p["scfile"], p["sctable"], gti, sc)
    primary = H.fill(
        H.TABLE_PRIMARY, ev.header, {"DATE": H.creation_date(), "FILENAME": out.name, **times_kw}
    )
    _finish_primary(primary, ev, p["evtable"])
    spec_header = H.fill(H.SPECTRUM_TYPE2, ev.header, {"DETCHANS": ebins.nbins, **times_kw})
    H.append_dss(spec_header, ev.header)
    n = ebins.nbins
    channels = np.tile(np.arange(1, n + 1, dtype=np.int16), (tbins.nbins, 1))
    spectrum = fits.BinTableHDU.from_columns(
        [
            fits.Column("TSTART", "D", unit="s", array=tbins.lo),
            fits.Column("TELAPSE", "D", unit="s", array=tbins.widths),
            fits.Column("SPEC_NUM", "I", array=np.arange(1, tbins.nbins + 1, dtype=np.int16)),
            fits.Column("CHANNEL", f"{n}I", array=channels),
            fits.Column("COUNTS", f"{n}J", unit="Counts", array=counts),
            fits.Column("STAT_ERR", f"{n}E", array=count_error(counts).astype(np.float32)),
            fits.Column("ROWID", "1A", array=np.full(tbins.nbins, "", dtype="U1")),
            fits.Column("EXPOSURE", "D", unit="s", array=exposures),
        ],
        header=spec_header,
    )
    H.append_history(spectrum.header, ev.header, [f"{q}[{p['evtable']}]" for q in ev.paths])
    return [
        fits.PrimaryHDU(header=primary),
        spectrum,
        _ebounds_hdu(ebins, ev.header, {}),
        _gti_hdu(gti, total_exposure, ev.header, times_kw),
    ]


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
        ``CMAP``, ``CCUBE``, ``LC``, ``PHA1``, ``PHA2`` or ``HEALPIX``.
    scfile
        FT2 file(s) for the ``EXPOSURE`` keyword, or ``"NONE"``.
    **pars
        Any other gtbin parameter (``ebinalg``, ``emin``, ``nxpix``, ``coordsys``, ``galrot``,
        ``hpx_order``, ``hpx_region`` ...).

    Raises
    ------
    ParameterError, InputFileError
        For bad parameters or unreadable inputs, or a product larger than the memory
        budget; nothing is written then.
    """
    p = resolve(
        PARAMETERS, {"evfile": evfile, "outfile": outfile, "algorithm": algorithm, "scfile": scfile, **pars}
    )
    alg = p["algorithm"].upper()
    out = check_outfile(p["outfile"], p["clobber"])
    paths = expand_file_list(p["evfile"], "evfile")
    if any(out.resolve() == q.resolve() for q in paths):
        raise ParameterError("outfile", f"{out} is also an input file")
    chatter = p["chatter"]

    if alg in ("CMAP", "CCUBE"):
        grid = SkyGrid(
            p["nxpix"], p["nypix"], p["binsz"], p["coordsys"], p["xref"], p["yref"], p["proj"], p["axisrot"]
        )
        ebins = _energy_binner(p) if alg == "CCUBE" else None
        nplanes = 1 if ebins is None else ebins.nbins
        check_allocation(
            float(grid.nxpix) * grid.nypix * nplanes * _CELL_BYTES,
            f"the counts {'cube' if ebins is not None else 'map'} of {grid.nxpix} x {grid.nypix} x {nplanes} pixels",
            "nxpix",
        )
        cols = [p["rafield"], p["decfield"]] + ([p["efield"]] if ebins is not None else [])
        ev = read_event_input(paths, cols, p["evtable"], progress_chatter=chatter)
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
    elif alg == "HEALPIX":
        hdus = _healpix_hdus(p, paths, out)
    elif alg == "PHA2":
        hdus = _pha2_hdus(p, paths, out)
    elif alg == "LC":
        cols = [p["tfield"]] + ([p["efield"]] if p["lcemin"] is not None or p["lcemax"] is not None else [])
        ev = read_event_input(paths, cols, p["evtable"], progress_chatter=chatter)
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
        ev = read_event_input(paths, [p["efield"]], p["evtable"], progress_chatter=chatter)
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
    except OSError as exc:
        raise ParameterError("outfile", f"{out}: cannot write ({exc.strerror or exc})") from None
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gtbin`` with ScienceTools ``name=value`` arguments; return the exit code."""
    return run_command(TOOL, SUMMARY, PARAMETERS, gtbin, argv, describe=lambda out: f"wrote {out}")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
