"""A photon "test beam" through the simulator and back through the ground reconstruction.

Photons of one energy from directions spread over the field of view go through
:func:`fermi_latsim.detector.simulate_response`, are encoded into event datagrams exactly as in a
delivery (:func:`fermi_latsim.events.encode_run`, fermi-halfpipe's encoder), decoded by
fermi-halfpipe (:func:`fermi_halfpipe.datagram.decode_datagrams`) and fermi-l1
(:func:`fermi_l1.digi.decode_events`) and reconstructed (:func:`fermi_l1.recon.reconstruct`).
The result pairs every reconstructed event with its truth, for the science validation
(:mod:`fermi_latsim.validation`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fermi_halfpipe.datagram import decode_datagrams
from fermi_l1.digi import decode_events
from fermi_l1.recon.reconstruct import reconstruct
from fermi_latsim import detector, events

#: run id (MET of its start) of the beam runs; any whole second works
BEAM_RUN = 500_000_000


@dataclass
class BeamResult:
    """Reconstructed events of a beam with their truth, one row per read-out event.

    ``truth_dir`` is the unit vector towards the source in the instrument frame, ``recon`` the
    columns of :data:`fermi_l1.recon.reconstruct.RECON_COLUMNS`.
    """

    energy_mev: np.ndarray
    truth_dir: np.ndarray
    conversion_plane: np.ndarray
    recon: dict[str, np.ndarray]
    n_photons: int

    @property
    def recon_dir(self) -> np.ndarray:
        """(n, 3) reconstructed direction towards the source (NaN without a track)."""
        return np.column_stack([self.recon["DIR_X"], self.recon["DIR_Y"], self.recon["DIR_Z"]])

    @property
    def angle_deg(self) -> np.ndarray:
        """Angle between the reconstructed and true directions (deg; NaN without a track)."""
        cos = np.sum(self.recon_dir * self.truth_dir, axis=1)
        with np.errstate(invalid="ignore"):
            return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def isotropic_directions(rng: np.random.Generator, n: int, theta_max_deg: float) -> np.ndarray:
    """(n, 3) unit vectors uniform in solid angle within ``theta_max_deg`` of the boresight +Z."""
    if not 0 < theta_max_deg <= 90:
        raise ValueError(f"parameter 'theta_max_deg': must be in (0, 90], got {theta_max_deg}")
    cos = rng.uniform(np.cos(np.radians(theta_max_deg)), 1.0, n)
    phi = rng.uniform(0.0, 2 * np.pi, n)
    sin = np.sqrt(1.0 - cos**2)
    return np.column_stack([sin * np.cos(phi), sin * np.sin(phi), cos])


def photon_beam(
    energy_mev: float, n: int, seed: int = 0, theta_max_deg: float = 60.0, rate_hz: float = 100.0
) -> BeamResult:
    """Simulate ``n`` photons of ``energy_mev`` and reconstruct the events they trigger.

    Parameters
    ----------
    energy_mev
        True energy of every photon (MeV).
    n
        Number of photons thrown at the LAT, each entering the tracker uniformly over the area
        it presents to the photon's direction, top and side walls (``entry="volume"`` of
        :func:`fermi_latsim.detector.simulate_response`).
    seed
        Random seed.
    theta_max_deg
        Directions are isotropic within this angle of the boresight.
    rate_hz
        Arrival rate; low enough that the dead time loses nothing.
    """
    if not energy_mev > 0:
        raise ValueError(f"parameter 'energy_mev': must be positive, got {energy_mev}")
    if n < 1:
        raise ValueError(f"parameter 'n': need at least one photon, got {n}")
    rng = np.random.default_rng(seed)
    body = isotropic_directions(rng, n, theta_max_deg)
    met = BEAM_RUN + 1.0 + np.arange(n) / rate_hz
    resp = detector.simulate_response(
        rng, met, body, np.full(n, float(energy_mev)), np.zeros(n, bool), entry="volume"
    )
    enc = events.encode_run(resp, BEAM_RUN, rng, float(met[-1]) + 1.0)
    digi, gem = decode_encoded_run(enc)
    recon = reconstruct(digi)
    order = np.argsort(gem)
    if not np.array_equal(gem[order], np.arange(len(resp))):
        raise RuntimeError("beam: decoded GEM sequence numbers differ from the simulated events")
    recon = {k: v[order] for k, v in recon.items()}
    return BeamResult(
        energy_mev=np.full(len(resp), float(energy_mev)),
        truth_dir=body[resp.source],
        conversion_plane=resp.conversion_plane,
        recon=recon,
        n_photons=n,
    )


def decode_encoded_run(enc: events.EncodedRun):  # type: ignore[no-untyped-def]
    """Decode the datagrams of an encoded run with fermi-halfpipe and fermi-l1.

    Returns ``(digi events, GEM sequence of each)`` in datagram order (EPU 0 then EPU 1).
    """
    chunks, apids = [], []
    for crate in sorted(enc.datagrams):
        chunks += enc.datagrams[crate]
        apids += [956 + crate] * len(enc.datagrams[crate])
    lengths = np.array([len(c) for c in chunks], np.int64)
    offsets = np.cumsum(lengths) - lengths
    buffer = np.frombuffer(b"".join(chunks), np.uint8)
    dec = decode_datagrams(buffer, offsets, lengths, np.asarray(apids))
    if dec.problems:
        raise RuntimeError(f"beam: datagram problems: {dec.problems[:3]}")
    digi = decode_events(dec.buffer, dec.events["offset"], dec.events["length"], source="beam run")
    return digi, dec.events["gem_seq"].astype(np.int64)
