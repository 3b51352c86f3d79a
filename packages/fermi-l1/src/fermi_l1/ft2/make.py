"""FT2 production: the 1 s file from attitude/orbit samples and livetime counters, then 30 s.

Rows are ``[START, STOP)`` on whole MET seconds, cut at the run boundaries (first row starts at
the run start, last row stops at the run stop). Every pointing quantity refers to START:
attitude by slerp of the quaternion samples, position by Hermite interpolation of the orbit
samples (with their velocities). Mode, configuration, quality and SAA flags are those of the
latest sample at or before START. ``LIVETIME`` comes from the GEM livetime counters of the events
(:mod:`.livetime`). The 30 s file is the shim's ``mergeFT2`` (ft2Util rules) of the 1 s rows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fermi_core.errors import BadInput
from fermi_core.mission.pointing import hermite, slerp
from fermi_halfpipe.format import FLAG_ATTITUDE_INVALID, FLAG_ORBIT_INVALID
from fermi_l1._version import __version__
from fermi_l1.configkeys import header_cards
from fermi_l1.fitsdate import processing_date, product_work_dir, stamp_date
from fermi_l1.ft2.attitude import radec, rotate
from fermi_l1.ft2.geomag import dipole_quantities
from fermi_l1.ft2.geometry import earth_fixed, sun_radec
from fermi_l1.ft2.livetime import row_livetime
from fermi_l1.naming import product_name
from fermi_sciencetools_shim.io.ft2 import write_ft2
from fermi_sciencetools_shim.io.ft2_merge import merge_ft2

CREATOR = f"fermi-l1 {__version__} makeFT2"


class SpacecraftDataError(BadInput, ValueError):
    """The spacecraft samples or event counters cannot make an FT2 for the requested span (bad input)."""


def row_edges(run_start: float, run_stop: float) -> tuple[np.ndarray, np.ndarray]:
    """Return START/STOP of the 1 s rows covering ``[run_start, run_stop)`` on whole seconds."""
    if not run_stop > run_start:
        raise SpacecraftDataError(f"run stop {run_stop!r} is not after run start {run_start!r}")
    inner = np.arange(np.floor(run_start) + 1.0, np.ceil(run_stop), 1.0)
    edges = np.concatenate(([run_start], inner[(inner > run_start) & (inner < run_stop)], [run_stop]))
    return edges[:-1], edges[1:]


def _field(samples: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    try:
        return np.asarray(samples[name])
    except KeyError:
        raise SpacecraftDataError(
            f"spacecraft samples lack the {name!r} field (have: {', '.join(samples)})"
        ) from None


def invalid_mask(samples: Mapping[str, np.ndarray], name: str, bit: int) -> np.ndarray:
    """Return the samples flagged ``name`` (boolean field, else that bit of ``flags``; none if neither)."""
    n = np.asarray(samples["met"]).size
    if name in samples:
        return np.asarray(samples[name], dtype=bool).reshape(n)
    if "flags" in samples:
        return (np.asarray(samples["flags"]).astype(np.uint32) & np.uint32(bit)) != 0
    return np.zeros(n, dtype=bool)


def _step(met: np.ndarray, values: np.ndarray, t: np.ndarray) -> np.ndarray:
    i = np.clip(np.searchsorted(met, t, side="right") - 1, 0, met.size - 1)
    return values[i]


def make_ft2_rows(
    samples: Mapping[str, np.ndarray],
    event_met: np.ndarray,
    event_livetime_s: np.ndarray,
    run_start: float,
    run_stop: float,
    *,
    max_extrapolation: float = 3.0,
    max_gap: float = 1.0,
) -> dict[str, np.ndarray]:
    """Return the 30 FT2 columns of the 1 s rows of one run.

    Parameters
    ----------
    samples
        Spacecraft samples: ``met`` (n,), ``quaternion`` (n, 4) ``(x, y, z, w)`` body -> J2000,
        ``position`` (n, 3) m and optionally ``velocity`` (n, 3) m/s, ``in_saa`` (bool),
        ``lat_mode``, ``lat_config``, ``data_qual`` (integers; defaults 5, 1, 1). Attitude and
        orbit may come at different rates as long as they share ``met`` (one record per sample):
        records flagged ``attitude_invalid`` / ``orbit_invalid`` (or bits 1 / 2 of ``flags``, as
        fermi-halfpipe delivers them) are not used for the attitude / the position and velocity.
    event_met, event_livetime_s
        Event times (sorted) and GEM livetime counters in seconds since the run start.
    run_start, run_stop
        Span of the run (MET).
    max_extrapolation
        Rows whose START is further than this (s) outside the sample span are an error.
    max_gap
        See :func:`.livetime.row_livetime`.

    Raises
    ------
    SpacecraftDataError
        Missing fields, unsorted samples, or samples that do not cover the run.
    """
    met = np.asarray(_field(samples, "met"), dtype=np.float64)
    if met.size == 0:
        raise SpacecraftDataError("no spacecraft samples")
    if np.any(np.diff(met) <= 0):
        k = int(np.argmax(np.diff(met) <= 0))
        raise SpacecraftDataError(
            f"spacecraft sample times not increasing at sample {k + 1} (MET {met[k + 1]!r})"
        )
    quat = np.asarray(_field(samples, "quaternion"), dtype=np.float64).reshape(-1, 4)
    pos = np.asarray(_field(samples, "position"), dtype=np.float64).reshape(-1, 3)
    vel = samples.get("velocity")
    vel = None if vel is None else np.asarray(vel, dtype=np.float64).reshape(-1, 3)
    if quat.shape[0] != met.size or pos.shape[0] != met.size:
        raise SpacecraftDataError("spacecraft sample arrays differ in length")
    att_ok = ~invalid_mask(samples, "attitude_invalid", FLAG_ATTITUDE_INVALID)
    orb_ok = ~invalid_mask(samples, "orbit_invalid", FLAG_ORBIT_INVALID)
    start, stop = row_edges(float(run_start), float(run_stop))
    for what, ok in (("attitude", att_ok), ("orbit", orb_ok)):
        t = met[ok]
        if t.size == 0:
            raise SpacecraftDataError(
                f"no spacecraft sample with a valid {what} ({met.size} flagged invalid)"
            )
        if start[0] < t[0] - max_extrapolation or start[-1] > t[-1] + max_extrapolation:
            raise SpacecraftDataError(
                f"spacecraft samples with a valid {what} cover MET {t[0]:.3f}..{t[-1]:.3f}, the run needs "
                f"{start[0]:.3f}..{start[-1]:.3f} (extrapolation limit {max_extrapolation} s)"
            )

    q = slerp(met[att_ok], quat[att_ok], start)
    # flagged records carry zero position/velocity: interpolate the valid orbit samples only
    om, pos = met[orb_ok], pos[orb_ok]
    vel = None if vel is None else vel[orb_ok]
    p = hermite(om, pos, vel, start)
    if vel is not None:
        v = hermite(om, vel, None, start)
    else:  # orbital velocity from the position track
        v = hermite(om, pos, None, start + 0.5) - hermite(om, pos, None, start - 0.5)
    z_axis = rotate(q, np.array([0.0, 0.0, 1.0]))
    x_axis = rotate(q, np.array([1.0, 0.0, 0.0]))
    ra_scz, dec_scz = radec(z_axis)
    ra_scx, dec_scx = radec(x_axis)
    ra_zen, dec_zen = radec(p)
    ra_np, dec_np = radec(np.cross(p, v))
    zenith = p / np.linalg.norm(p, axis=1, keepdims=True)
    rock = np.degrees(np.arccos(np.clip(np.sum(z_axis * zenith, axis=1), -1.0, 1.0)))
    # sign: + when the boresight points north (in declination) of the zenith, as in real files
    rock = np.where(dec_scz >= dec_zen, rock, -rock)
    geo = earth_fixed(start, p)
    mag = dipole_quantities(geo["itrs"], geo["decimal_year"])
    ra_sun, dec_sun = sun_radec(start)

    n = start.size

    def discrete(name: str, default: int) -> np.ndarray:
        values = samples.get(name)
        if values is None:
            return np.full(n, default)
        return _step(met, np.asarray(values), start)

    return {
        "START": start,
        "STOP": stop,
        "SC_POSITION": p.astype(np.float32),
        "LAT_GEO": geo["LAT_GEO"],
        "LON_GEO": geo["LON_GEO"],
        "RAD_GEO": geo["RAD_GEO"],
        "RA_ZENITH": ra_zen,
        "DEC_ZENITH": dec_zen,
        "B_MCILWAIN": mag["B_MCILWAIN"],
        "L_MCILWAIN": mag["L_MCILWAIN"],
        "GEOMAG_LAT": mag["GEOMAG_LAT"],
        "LAMBDA": mag["LAMBDA"],
        "IN_SAA": discrete("in_saa", 0).astype(bool),
        "RA_SCZ": ra_scz,
        "DEC_SCZ": dec_scz,
        "RA_SCX": ra_scx,
        "DEC_SCX": dec_scx,
        "RA_NPOLE": ra_np,
        "DEC_NPOLE": dec_np,
        "ROCK_ANGLE": rock,
        "LAT_MODE": discrete("lat_mode", 5).astype(np.int32),
        "LAT_CONFIG": discrete("lat_config", 1).astype(np.uint8),
        "DATA_QUAL": discrete("data_qual", 1).astype(np.int16),
        "LIVETIME": row_livetime(start, stop, event_met, event_livetime_s, max_gap),
        "QSJ_1": q[:, 0],
        "QSJ_2": q[:, 1],
        "QSJ_3": q[:, 2],
        "QSJ_4": q[:, 3],
        "RA_SUN": ra_sun,
        "DEC_SUN": dec_sun,
    }


@dataclass(frozen=True)
class Ft2Products:
    """The two FT2 files of a run."""

    seconds: Path
    merged: Path


def write_ft2_products(
    outdir: str | os.PathLike[str],
    run: int,
    rows: Mapping[str, np.ndarray],
    *,
    version: int = 1,
    proc_ver: int = 310,
    date: str | None = None,
    dt: float = 30.0,
    config_keys: Mapping[str, int] | None = None,
) -> Ft2Products:
    """Write ``gll_pt1s_...`` (the 1 s rows) and ``gll_pt_...`` (merged to ``dt`` s) into ``outdir``.

    ``date`` (``YYYY-MM-DDThh:mm:ss``) is written as ``DATE`` so that re-runs are byte-identical;
    None keeps the wall-clock date of the writer. ``config_keys`` (``hw_key``, ``sw_key``,
    ``moot_key``) are written as ``HW_KEY``, ``SW_KEY``, ``MOOT_KEY`` in the primary header
    (:mod:`fermi_l1.configkeys`).
    """
    out = Path(outdir)
    keywords = {"CREATOR": CREATOR, "VERSION": str(int(version)), "PROC_VER": int(proc_ver)}
    seconds = out / product_name("ft2seconds", run, version, proc_ver)
    merged = out / product_name("ft2", run, version, proc_ver)
    # written and stamped in a work folder, then renamed: a file under a product's name is finished
    with product_work_dir(out, f".ft2-{run:010d}-v{version:03d}-") as work:
        write_ft2(work / seconds.name, rows, keywords, layout="30")
        write_ft2(work / merged.name, merge_ft2(rows, dt), keywords, layout="30")
        cards = header_cards(config_keys)
        for final in (seconds, merged):
            if date is not None or cards:
                stamp_date(work / final.name, date or processing_date(), cards or None)
            shutil.move(work / final.name, final)  # same file system: an atomic rename
    return Ft2Products(seconds, merged)
