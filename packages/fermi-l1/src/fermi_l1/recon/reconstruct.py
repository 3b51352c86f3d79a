"""Event reconstruction: digi hit arrays -> one row of reconstructed quantities per event.

Chain (each step a numba kernel in ``_kernels`` with a numpy twin in ``_reference``):
strip clustering -> track finding and straight-line fit in x-z and y-z -> direction, first hit
plane (FRONT/BACK) and vertex -> calorimeter energy with leakage correction (the tracks'
multiple-scattering estimate for events without it) -> sky directions
from the attitude quaternion and position -> ACD veto and EVENT_CLASS / EVENT_TYPE bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from fermi_core.mission.pointing import nlerp
from fermi_l1 import instrument as inst
from fermi_l1.digi import DigiEvents
from fermi_sciencetools_shim.bin.galactic import rotation_matrix

from . import _kernels, _reference
from . import params as P

#: columns returned by :func:`reconstruct` (name -> dtype) in this order
RECON_COLUMNS: dict[str, str] = {
    "ENERGY": "f8",  # MeV, leakage corrected
    "CAL_ENERGY_RAW": "f8",  # MeV, sum of the logs
    "CAL_FRACTION": "f8",  # contained fraction used by the correction
    "CAL_NLOGS": "i4",
    "THETA": "f8",  # deg from +Z (instrument frame, source direction)
    "PHI": "f8",  # deg from +X towards +Y
    "RA": "f8",
    "DEC": "f8",
    "L": "f8",
    "B": "f8",
    "ZENITH_ANGLE": "f8",
    "EARTH_AZIMUTH_ANGLE": "f8",
    "DIR_X": "f8",  # unit vector towards the source, instrument frame
    "DIR_Y": "f8",
    "DIR_Z": "f8",
    "VERTEX_X": "f8",  # mm, first hit (top layer of the first plane) on the track
    "VERTEX_Y": "f8",
    "VERTEX_Z": "f8",
    "HAS_TRACK": "?",
    "FIRST_PLANE": "i2",  # 0 = top plane, -1 no track
    "CONVERSION_TYPE": "i2",  # 0 FRONT, 1 BACK, -1 no track
    "TKR_NCLUSTERS": "i4",
    "TKR_NHITS_X": "i2",
    "TKR_NHITS_Y": "i2",
    "TKR_LAST_PLANE_X": "i2",
    "TKR_LAST_PLANE_Y": "i2",
    "TKR_CHI2_X": "f8",
    "TKR_CHI2_Y": "f8",
    "TKR_SLOPE_X": "f8",  # dx/dz
    "TKR_SLOPE_Y": "f8",  # dy/dz
    "PSF_ERROR": "f8",  # deg, estimated direction error
    "ACD_TILE": "i2",  # tile crossed by the track extrapolation, -1 none
    "ACD_TILE_ENERGY": "f8",  # MeV in that tile
    "ACD_TOTAL_ENERGY": "f8",  # MeV, all ACD hits
    "EVENT_CLASS": "u4",
    "EVENT_TYPE": "u4",
    "TKR_ENERGY": "f8",  # MeV, multiple-scattering estimate of the tracks (0 = none)
    "ENERGY_METHOD": "i2",  # what ENERGY comes from: 0 none, 1 calorimeter, 2 tracker
}

#: values of the ENERGY_METHOD column
ENERGY_NONE, ENERGY_CAL, ENERGY_TKR = 0, 1, 2


def _engine(name: str) -> ModuleType:
    if name == "numba":
        return _kernels
    if name == "numpy":
        return _reference
    raise ValueError(f"engine={name!r}: use 'numba' or 'numpy'")


@dataclass(frozen=True)
class FirstPass:
    """The reconstruction before the refit (:func:`first_pass`): clusters, tracks, direction, energy."""

    clu_ptr: np.ndarray
    clu_plane: np.ndarray
    clu_view: np.ndarray
    clu_pos: np.ndarray
    clu_z: np.ndarray
    log_energy: np.ndarray
    e_window: np.ndarray
    nhits: np.ndarray
    first: np.ndarray
    last: np.ndarray
    slope: np.ndarray
    icpt: np.ndarray
    chi2: np.ndarray
    var: np.ndarray
    hits: np.ndarray
    has_track: np.ndarray
    first_plane: np.ndarray
    direction: np.ndarray
    vertex: np.ndarray
    raw: np.ndarray
    energy: np.ndarray
    fraction: np.ndarray


def first_pass(digi: DigiEvents, k: ModuleType, cfg: np.ndarray) -> FirstPass:
    """Clusters, track finding, direction and calorimeter energy of ``digi`` with the kernels ``k``.

    ``k`` is :mod:`fermi_l1.recon._kernels` or its twin :mod:`fermi_l1.recon._reference`; the
    arguments each kernel gets here (types included) are those of :func:`reconstruct`, which
    continues from this pass with the refit (:mod:`fermi_l1.warm` builds its inputs with it).
    """
    n = digi.n_events
    clu_ptr, clu_plane, clu_view, _tower, _nstrips, clu_pos, clu_z = k.cluster_hits(
        digi.tkr_ptr, digi.tkr_tower, digi.tkr_plane, digi.tkr_view, digi.tkr_strip, cfg
    )
    log_energy = np.ascontiguousarray(digi.cal_energy, dtype=np.float64)
    # energy scale of the track windows: the raw calorimeter sum (an underestimate: wider windows)
    e_window = np.maximum(
        np.bincount(digi.cal_event, weights=log_energy, minlength=n), P.MIN_WINDOW_ENERGY_MEV
    )
    nhits, first, last, slope, icpt, chi2, var, hits = k.find_tracks(
        clu_ptr, clu_plane, clu_view, clu_pos, clu_z, e_window, P.TRACK_WINDOW_MM, P.TRACK_MAX_GAP,
        P.TRACK_SEED_PLANES, cfg,
    )  # fmt: skip
    has, fp, direction, _theta, _phi, vertex = k.event_direction(
        nhits, first, slope, icpt, P.TRACK_MIN_HITS, cfg
    )
    raw, energy, frac = k.calorimeter_energy(
        digi.cal_ptr, log_energy, fp, direction[:, 2].copy(), P.ENERGY_ITERATIONS, cfg
    )
    return FirstPass(clu_ptr, clu_plane, clu_view, clu_pos, clu_z, log_energy, e_window, nhits, first, last,
                     slope, icpt, chi2, var, hits, has, fp, direction, vertex, raw, energy, frac)  # fmt: skip


def reconstruct(
    digi: DigiEvents,
    quaternion: np.ndarray | None = None,
    sc_position: np.ndarray | None = None,
    *,
    galrot: str = "current",
    engine: str = "numba",
) -> dict[str, np.ndarray]:
    """Reconstruct every event of ``digi``.

    Parameters
    ----------
    digi
        Decoded events (:func:`fermi_l1.digi.decode_events` or :func:`~fermi_l1.digi.make_events`).
    quaternion
        (n, 4) attitude per event, scalar last (FT2 ``QSJ_1..4``; instrument -> J2000), e.g. from
        :func:`interpolate_attitude`. Without it the sky columns are NaN.
    sc_position
        (n, 3) spacecraft position (m, Earth-centred J2000, FT2 ``SC_POSITION``); needed with
        ``quaternion`` for ZENITH_ANGLE and EARTH_AZIMUTH_ANGLE.
    galrot
        Galactic rotation convention of :func:`fermi_sciencetools_shim.bin.galactic.rotation_matrix`.
    engine
        ``"numba"`` (kernels) or ``"numpy"`` (the reference twins; slow, for checks).

    Returns
    -------
    dict
        One array of length n per entry of :data:`RECON_COLUMNS`.
    """
    k = _engine(engine)
    cfg = _kernels.config()
    n = digi.n_events
    fp1 = first_pass(digi, k, cfg)
    clu_ptr, clu_plane, clu_pos, clu_z = fp1.clu_ptr, fp1.clu_plane, fp1.clu_pos, fp1.clu_z
    nhits, first, last, hits = fp1.nhits, fp1.first, fp1.last, fp1.hits
    slope, icpt, chi2, var, direction, energy = (
        fp1.slope,
        fp1.icpt,
        fp1.chi2,
        fp1.var,
        fp1.direction,
        fp1.energy,
    )
    log_energy = fp1.log_energy
    # refit with multiple scattering for this energy, then redo direction and energy
    slope, icpt, chi2, var = k.refit_tracks(
        hits, nhits, clu_plane, clu_pos, clu_z, slope, icpt, chi2, var, energy, direction[:, 2].copy(), cfg
    )
    has, fp, direction, theta, phi, vertex = k.event_direction(
        nhits, first, slope, icpt, P.TRACK_MIN_HITS, cfg
    )
    raw, energy, frac = k.calorimeter_energy(
        digi.cal_ptr, log_energy, fp, direction[:, 2].copy(), P.ENERGY_ITERATIONS, cfg
    )
    ev_class, ev_type, tile, tile_e, acd_tot, psf = k.classify(
        has,
        nhits,
        chi2,
        fp,
        vertex,
        direction,
        energy,
        raw,
        frac,
        var,
        digi.acd_ptr,
        digi.acd_id,
        digi.acd_energy,
        cfg,
    )
    # events whose shower missed the calorimeter (e.g. leaving through the tracker's side) take
    # the tracker estimate; classification still requires calorimeter energy
    tkr_energy, _kinks = k.tracker_energy(
        hits, nhits, clu_plane, clu_pos, clu_z, slope, direction[:, 2].copy(), cfg
    )
    use_tkr = (raw < P.TKR_ENERGY_BELOW_CAL_MEV) & (tkr_energy > 0.0)
    method = np.where(use_tkr, ENERGY_TKR, np.where(energy > 0.0, ENERGY_CAL, ENERGY_NONE))
    energy = np.where(use_tkr, tkr_energy, energy)
    if quaternion is not None:
        sky = sky_directions(direction, quaternion, sc_position, galrot=galrot, engine=engine)
    else:
        sky = tuple(np.full(n, np.nan) for _ in range(6))
    cols = {
        "ENERGY": energy,
        "CAL_ENERGY_RAW": raw,
        "CAL_FRACTION": frac,
        "CAL_NLOGS": np.diff(digi.cal_ptr),
        "THETA": theta,
        "PHI": phi,
        "RA": sky[0],
        "DEC": sky[1],
        "L": sky[2],
        "B": sky[3],
        "ZENITH_ANGLE": sky[4],
        "EARTH_AZIMUTH_ANGLE": sky[5],
        "DIR_X": direction[:, 0],
        "DIR_Y": direction[:, 1],
        "DIR_Z": direction[:, 2],
        "VERTEX_X": vertex[:, 0],
        "VERTEX_Y": vertex[:, 1],
        "VERTEX_Z": vertex[:, 2],
        "HAS_TRACK": has,
        "FIRST_PLANE": fp,
        "CONVERSION_TYPE": inst.conversion_type(fp),
        "TKR_NCLUSTERS": np.diff(clu_ptr),
        "TKR_NHITS_X": nhits[:, 0],
        "TKR_NHITS_Y": nhits[:, 1],
        "TKR_LAST_PLANE_X": last[:, 0],
        "TKR_LAST_PLANE_Y": last[:, 1],
        "TKR_CHI2_X": chi2[:, 0],
        "TKR_CHI2_Y": chi2[:, 1],
        "TKR_SLOPE_X": slope[:, 0],
        "TKR_SLOPE_Y": slope[:, 1],
        "PSF_ERROR": psf,
        "ACD_TILE": tile,
        "ACD_TILE_ENERGY": tile_e,
        "ACD_TOTAL_ENERGY": acd_tot,
        "EVENT_CLASS": ev_class,
        "EVENT_TYPE": ev_type,
        "TKR_ENERGY": tkr_energy,
        "ENERGY_METHOD": method,
    }
    return {name: np.ascontiguousarray(cols[name], dtype=dt) for name, dt in RECON_COLUMNS.items()}


def sky_directions(
    direction: np.ndarray,
    quaternion: np.ndarray,
    sc_position: np.ndarray | None = None,
    *,
    galrot: str = "current",
    engine: str = "numba",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (RA, DEC, L, B, ZENITH_ANGLE, EARTH_AZIMUTH_ANGLE) in degrees, float64.

    Parameters
    ----------
    direction
        (n, 3) directions towards the source in the instrument frame (need not be unit vectors;
        NaN rows give NaN).
    quaternion
        (n, 4) attitude, scalar last (FT2 ``QSJ_1..4``), rotating instrument vectors to J2000.
    sc_position
        (n, 3) spacecraft position, Earth-centred J2000 (any unit); None gives NaN zenith/azimuth.
    galrot, engine
        As in :func:`reconstruct`.
    """
    k = _engine(engine)
    d = np.ascontiguousarray(direction, dtype=np.float64)
    if d.ndim != 2 or d.shape[1] != 3:
        raise ValueError(f"direction: expected shape (n, 3), got {d.shape}")
    n = d.shape[0]
    quat = _as_rows(quaternion, n, 4, "quaternion")
    pos = _as_rows(sc_position, n, 3, "sc_position") if sc_position is not None else np.full((n, 3), np.nan)
    return k.to_sky(d, quat, pos, rotation_matrix(galrot))


def _as_rows(a: np.ndarray, n: int, width: int, name: str) -> np.ndarray:
    arr = np.ascontiguousarray(a, dtype=np.float64)
    if arr.shape != (n, width):
        raise ValueError(f"{name}: expected shape ({n}, {width}), got {arr.shape}")
    return arr


def interpolate_attitude(
    time: np.ndarray, ft2_start: np.ndarray, qsj: np.ndarray, sc_position: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return (quaternion (n, 4), position (n, 3)) at event times from FT2-like rows.

    The pointing of reconstruction: :func:`fermi_core.mission.pointing.nlerp` (quaternions
    interpolated linearly and renormalised, positions linearly; times outside the rows take the
    nearest row).

    Parameters
    ----------
    time
        Event times (MET s).
    ft2_start
        Increasing row times (MET s), e.g. FT2 ``START``.
    qsj
        (m, 4) ``QSJ_1..QSJ_4`` of the rows (scalar last).
    sc_position
        (m, 3) ``SC_POSITION`` of the rows (m).

    Raises
    ------
    ValueError
        Without a row, or with row times not strictly increasing.
    """
    return nlerp(time, ft2_start, qsj, sc_position)
