"""Real-data round trip: the week-323 PSR J0030+0451 FT1 + FT2 replayed into raw telemetry and
processed by the pipeline through its public commands give back the real pointing and photons.

"Within the PSF" is measured, not assumed: the containment radii of *our* instrument (fermi-latsim
detector + fermi-l1 reconstruction, every event with a track) vs. true energy, true inclination
and conversion type, from simulated beams (:func:`fermi_latsim.validation.containment_table`).
Each replayed photon is thrown again through the detector (new conversion point and type), so its
reconstructed direction is a draw from that PSF. Every photon must lie within the **99 %**
radius for its energy, inclination and conversion type: with 27 photons a 95 % radius would leave
1.35 photons outside on average even for a perfect replay; at 99 % the expectation is 0.27.
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from fermi_halfpipe.cli import main as halfpipe
from fermi_ingest.cli import main as ingest
from fermi_l1.cli import main as l1
from fermi_l1.recon.reconstruct import interpolate_attitude
from fermi_latsim import validation
from fermi_latsim.cli import main as latsim
from fermi_sciencetools_shim.io.ft1 import read_events
from fermi_sciencetools_shim.io.ft2 import read_ft2

from .conftest import _capture

FT1 = "pint/J0030+0451_w323_ft1weights.fits"
FT2 = "pint/lat_spacecraft_weekly_w323_p202_v001.fits"


#: table energies (MeV, quarter decades) spanning the photons of the FT1 (116 MeV - 3.1 GeV)
PSF_ENERGIES = (100.0, 177.8, 316.2, 562.3, 1000.0, 1778.3, 3162.3)
#: photons per beam: ~500 BACK events even in the 60-75 deg bin, so its 99 % radius is measured
PSF_PHOTONS = 40_000


#: FT1 rows whose replayed event is a failed reconstruction, investigated: they must be flagged by
#: our event classification (EVENT_CLASS 0) and are left out of the 99 % check
KNOWN_RECON_FAILURES: dict[int, str] = {}


@pytest.fixture(scope="module")
def psf_table():
    """Our instrument's containment radii (computed once; ~20 s)."""
    return validation.containment_table(PSF_ENERGIES, n=PSF_PHOTONS, seed=323)


def _sep_deg(ra1, dec1, ra2, dec2):
    r1, d1, r2, d2 = (np.radians(x) for x in (ra1, dec1, ra2, dec2))
    c = np.sin(d1) * np.sin(d2) + np.cos(d1) * np.cos(d2) * np.cos(r1 - r2)
    return np.degrees(np.arccos(np.clip(c, -1, 1)))


@pytest.mark.requires_data
def test_replayed_week_323_gives_back_the_real_pointing_and_photons(
    shared_data, psf_table, tmp_path, monkeypatch
):
    monkeypatch.setenv("FERMI_HOME", str(tmp_path))
    monkeypatch.delenv("FERMI_DB_URL", raising=False)
    out = tmp_path / "replay"
    argv = [
        "replay",
        "--ft1",
        str(shared_data / FT1),
        "--ft2",
        str(shared_data / FT2),
        "--out",
        str(out),
        "--background",
    ]
    assert latsim(argv) == 0
    ids = sorted(p.name for p in (out / "deliveries").iterdir())
    assert all(_capture(ingest, ["ingest", str(out / "deliveries" / d)])[0] == 0 for d in ids)
    assert all(_capture(halfpipe, ["merge", d])[0] == 0 for d in ids)
    rc, log = _capture(l1, ["pipeline", "--from-halfpipe", "--no-progress", "--workers", "1"])
    products = sorted((tmp_path / "l1" / "products").glob("r*/gll_xp_*.fit"))
    pointing = sorted((tmp_path / "l1" / "products").glob("r*/gll_pt_*.fit"))
    assert rc == 0 and len(products) == 24, (
        f"fermi-l1 pipeline on the replayed runs: rc={rc}, {len(products)} of 24 FT1; log:\n{log[-2000:]}"
    )

    # FT2: the pipeline's pointing matches the real FT2 attitude (interpolated) within arcminutes
    real = read_ft2(shared_data / FT2, ["START", "QSJ_1", "QSJ_2", "QSJ_3", "QSJ_4", "SC_POSITION"])
    ours = read_ft2(pointing, ["START", "RA_SCZ", "DEC_SCZ"])
    qsj = np.column_stack([real[f"QSJ_{k}"] for k in (1, 2, 3, 4)])
    quat, _ = interpolate_attitude(ours["START"], real["START"], qsj, real["SC_POSITION"])
    x, y, z, w = quat.T
    zax = np.column_stack([2 * (x * z + y * w), 2 * (y * z - x * w), 1 - 2 * (x * x + y * y)])
    ra = np.degrees(np.arctan2(zax[:, 1], zax[:, 0])) % 360
    dec = np.degrees(np.arcsin(np.clip(zax[:, 2], -1, 1)))
    sep = _sep_deg(ra, dec, ours["RA_SCZ"], ours["DEC_SCZ"])
    assert ours["START"].size >= 24 and sep.max() * 60 < 5.0, sep.max() * 60  # arcmin

    # FT1: every real photon recovered, its time exact, its direction within our PSF for its true
    # energy (the FT1 energy it was replayed at), true inclination and conversion type
    ft1, _ = read_events(shared_data / FT1, ["TIME", "RA", "DEC", "ENERGY"])
    cols = ["TIME", "RA", "DEC", "CONVERSION_TYPE", "ENERGY", "EVENT_CLASS"]
    got = {k: [] for k in cols}
    for p in products:
        ev, _ = read_events(p, cols)
        for k in got:
            got[k].append(ev[k])
    got = {k: np.concatenate(v) for k, v in got.items()}
    truth = pq.read_table(out / "truth" / "events.parquet", columns=["ft1_row", "theta"]).to_pydict()
    theta_of = dict(zip(truth["ft1_row"], truth["theta"], strict=True))
    n = ft1["TIME"].size
    sep, k_of = np.empty(n), np.empty(n, np.int64)
    for i in range(n):
        k = np.flatnonzero(np.abs(got["TIME"] - ft1["TIME"][i]) < 1e-6)
        assert k.size == 1, f"FT1 row {i}: {k.size} events at TIME {ft1['TIME'][i]}"
        k_of[i] = k[0]
        sep[i] = _sep_deg(got["RA"][k[0]], got["DEC"][k[0]], ft1["RA"][i], ft1["DEC"][i])
    theta = np.array([theta_of[i] for i in range(n)])
    ctype = got["CONVERSION_TYPE"][k_of]
    r68 = psf_table.radius(0.68, ft1["ENERGY"], theta, ctype)
    r99 = psf_table.radius(0.99, ft1["ENERGY"], theta, ctype)
    report = "\n".join(
        f"FT1 row {i}: E {ft1['ENERGY'][i]:.0f} MeV, theta {theta[i]:.1f} deg, {'FRONT BACK'.split()[ctype[i]]}: "
        f"{sep[i]:.2f} deg off (R68 {r68[i]:.2f}, R99 {r99[i]:.2f}); reconstructed E "
        f"{got['ENERGY'][k_of[i]]:.0f} MeV, EVENT_CLASS {got['EVENT_CLASS'][k_of[i]]}"
        for i in np.argsort(sep / r99)[::-1]
    )
    assert np.median(sep / r68) < 1.0, report  # half the photons well inside the 68 % radius
    known = np.isin(np.arange(n), list(KNOWN_RECON_FAILURES))
    assert (sep[~known] < r99[~known]).all(), report
    assert (got["EVENT_CLASS"][k_of[known]] == 0).all(), report  # a failed reconstruction is flagged
