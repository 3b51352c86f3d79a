"""Spacecraft attitude/orbit records (APID 1020, ``docs/formats/telemetry.md`` section 5).

The real spacecraft sends attitude at 5 Hz and orbit at 1 Hz. Format version 1 has a single
record type carrying both, so records go out at the attitude rate; a record whose time is not a
whole multiple of the orbit period carries the orbit-invalid flag (bit 2) and zero position and
velocity. Readers must honour that flag. The CCSDS packets are built by fermi-ingest's encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fermi_core.mission.orbit import Orbit, ascending_nodes
from fermi_core.mission.packets import APID_SPACECRAFT
from fermi_core.mission.saa import LAT_SAA_2008198, SaaPolygon
from fermi_halfpipe.format import FLAG_IN_SAA, FLAG_ORBIT_INVALID, SPACECRAFT_RECORD_DTYPE
from fermi_ingest.ccsds import PacketColumns, segment_datagrams
from fermi_latsim.attitude import Attitude, survey_attitude

RECORD_TYPE_ATT_ORB = 1
RECORD_FORMAT_VERSION = 1
#: FT2 ``LAT_MODE`` written while taking data and while in the SAA **[ours]**.
LAT_MODE_SCIENCE = 5
LAT_MODE_SAA = 4

RECORD_DTYPE = SPACECRAFT_RECORD_DTYPE


@dataclass(frozen=True)
class SpacecraftTimeline:
    """Everything the simulation knows about the spacecraft at the attitude sample times.

    Attributes
    ----------
    met : (n,) float64
        Sample times (attitude rate).
    position, velocity : (n, 3) float64
        GCRS, m and m/s (at every sample, including those not sent as orbit samples).
    attitude : Attitude
    lat_deg, lon_deg : (n,) float64
        Ground track.
    in_saa : (n,) bool
    orbit_sample : (n,) bool
        Whether the sample is an orbit (position) sample, i.e. on the orbit-rate grid.
    nodes : float64 array
        Ascending-node times in (and just around) the span.
    """

    met: np.ndarray
    position: np.ndarray
    velocity: np.ndarray
    attitude: Attitude
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    in_saa: np.ndarray
    orbit_sample: np.ndarray
    nodes: np.ndarray


def timeline(
    orbit: Orbit,
    start_met: float,
    stop_met: float,
    attitude_hz: int = 5,
    orbit_hz: int = 1,
    rock_deg: float = 50.0,
    saa: SaaPolygon = LAT_SAA_2008198,
) -> SpacecraftTimeline:
    """Sample orbit, attitude, ground track and SAA flag on ``[start_met, stop_met)``.

    ``start_met`` is rounded down to a whole second; samples are at ``k / attitude_hz`` s.
    """
    if attitude_hz < 1 or orbit_hz < 1 or attitude_hz % orbit_hz:
        raise ValueError(
            f"parameters 'attitude_hz'={attitude_hz}, 'orbit_hz'={orbit_hz}: "
            "both must be positive and the attitude rate a multiple of the orbit rate"
        )
    if not stop_met > start_met:
        raise ValueError(f"parameter 'stop_met': {stop_met} is not after start {start_met}")
    t0 = float(np.floor(start_met))
    k = np.arange(int(np.ceil((stop_met - t0) * attitude_hz)), dtype=np.int64)
    met = t0 + k / attitude_hz
    states = orbit.states(met)
    # nodes over a margin of one orbit either side, so the rocking side is right at the edges
    pad = orbit.mean_motion_period_s * 1.05
    coarse = orbit.states(np.arange(t0 - pad, float(met[-1]) + pad, 10.0))
    nodes = ascending_nodes(coarse)
    att = survey_attitude(states, nodes, rock_deg)
    track = orbit.ground_track(met)
    return SpacecraftTimeline(
        met=met,
        position=states.position,
        velocity=states.velocity,
        attitude=att,
        lat_deg=track.lat_deg,
        lon_deg=track.lon_deg,
        in_saa=saa.contains(track.lat_deg, track.lon_deg),
        orbit_sample=(k % (attitude_hz // orbit_hz)) == 0,
        nodes=nodes,
    )


def records(tl: SpacecraftTimeline) -> np.ndarray:
    """The 104-byte APID 1020 records of a timeline, as a structured array (one per sample)."""
    n = tl.met.size
    rec = np.zeros(n, dtype=RECORD_DTYPE)
    sec = np.floor(tl.met).astype(np.int64)
    rec["record_type"] = RECORD_TYPE_ATT_ORB
    rec["version"] = RECORD_FORMAT_VERSION
    rec["sec"] = sec
    rec["usec"] = np.clip(np.round((tl.met - sec) * 1e6), 0, 999_999).astype(np.int64)
    rec["flags"] = np.where(tl.in_saa, FLAG_IN_SAA, 0) | np.where(tl.orbit_sample, 0, FLAG_ORBIT_INVALID)
    rec["quaternion"] = tl.attitude.quaternion
    rec["position"] = np.where(tl.orbit_sample[:, None], tl.position, 0.0)
    rec["velocity"] = np.where(tl.orbit_sample[:, None], tl.velocity, 0.0)
    rec["sc_mode"] = 0
    rec["lat_mode"] = np.where(tl.in_saa, LAT_MODE_SAA, LAT_MODE_SCIENCE)
    rec["lat_config"] = 1
    rec["data_qual"] = 1
    return rec


def packets(rec: np.ndarray, first_count: int = 0, apid: int = APID_SPACECRAFT) -> PacketColumns:
    """CCSDS packet columns of APID 1020 records (one unsegmented packet each, time = validity)."""
    payload = np.ascontiguousarray(rec).view(np.uint8).reshape(rec.size, RECORD_DTYPE.itemsize)
    return segment_datagrams(
        apid,
        [row.tobytes() for row in payload],
        sec=rec["sec"].astype(np.int64),
        usec=rec["usec"].astype(np.int64),
        first_count=first_count,
    )


def decode_records(payloads: np.ndarray) -> np.ndarray:
    """Structured records from an (n, 104) uint8 array of APID 1020 payloads (for checks)."""
    payloads = np.ascontiguousarray(payloads, dtype=np.uint8)
    if payloads.ndim != 2 or payloads.shape[1] != RECORD_DTYPE.itemsize:
        raise ValueError(f"parameter 'payloads': expected shape (n, 104), got {payloads.shape}")
    return payloads.view(RECORD_DTYPE).reshape(-1)
