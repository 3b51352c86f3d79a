"""gtltcube ``phibins > 0``: the phi kernel against its brute-force twin, the file layout, progress."""

import io
import math

import numpy as np
import pytest
from astropy.io import fits

from fermi_sciencetools_shim.gti import Gti
from fermi_sciencetools_shim.io.progress import Progress
from fermi_sciencetools_shim.ltcube import _reference
from fermi_sciencetools_shim.ltcube.grid import LivetimeGrid, unit_vectors
from fermi_sciencetools_shim.ltcube.gtltcube import gtltcube
from fermi_sciencetools_shim.ltcube.livetime import instrument_frames, livetime_cube, row_weights


def _pointing(n, seed=3):
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0.0, 360.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    z = unit_vectors(ra, dec)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x, axis=1)[:, None]
    # float32 columns, as in FT2 files: x is then only nearly orthogonal to z
    ra_x = (np.degrees(np.arctan2(x[:, 1], x[:, 0])) % 360.0).astype(np.float32).astype(np.float64)
    dec_x = np.degrees(np.arcsin(np.clip(x[:, 2], -1, 1))).astype(np.float32).astype(np.float64)
    return dict(
        START=np.arange(n) * 30.0,
        STOP=np.arange(n) * 30.0 + 30.0,
        LIVETIME=np.full(n, 25.0),
        RA_SCZ=ra.astype(np.float32).astype(np.float64),
        DEC_SCZ=dec.astype(np.float32).astype(np.float64),
        RA_SCX=ra_x,
        DEC_SCX=dec_x,
        RA_ZENITH=rng.uniform(0.0, 360.0, n),
        DEC_ZENITH=rng.uniform(-30.0, 30.0, n),
    )


def test_instrument_frames_are_orthonormal():
    ft2 = _pointing(50)
    frames = instrument_frames(
        unit_vectors(ft2["RA_SCZ"], ft2["DEC_SCZ"]), unit_vectors(ft2["RA_SCX"], ft2["DEC_SCX"])
    )
    gram = np.einsum("rij,rkj->rik", frames, frames)
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(3), gram.shape), atol=1e-12)
    np.testing.assert_allclose(np.cross(frames[:, 0], frames[:, 1]), frames[:, 2], atol=1e-12)
    np.testing.assert_allclose(frames[:, 2], unit_vectors(ft2["RA_SCZ"], ft2["DEC_SCZ"]), atol=1e-6)


@pytest.mark.parametrize(("zmin", "zmax"), [(0.0, 180.0), (0.0, 90.0), (20.0, 100.0)])
def test_phi_kernel_equals_brute_force(zmin, zmax):
    ft2 = _pointing(300)
    gti = Gti.from_intervals([0.0], [300 * 30.0 - 45.0])
    grid = LivetimeGrid.build(8)
    exposure, weighted = livetime_cube(grid, gti, ft2, 10, zmin, zmax, phibins=5)
    delta, wdelta = row_weights(gti, ft2)
    frames = instrument_frames(
        unit_vectors(ft2["RA_SCZ"], ft2["DEC_SCZ"]), unit_vectors(ft2["RA_SCX"], ft2["DEC_SCX"])
    )
    cut = zmax < 180.0 or zmin > 0.0
    want_e, want_w = _reference.accumulate_livetime_phi(
        grid.xyz, frames, unit_vectors(ft2["RA_ZENITH"], ft2["DEC_ZENITH"]), delta, wdelta, 10, 5,
        math.cos(math.radians(zmax)), math.cos(math.radians(zmin)) if zmin > 0 else 1.0, cut,
    )  # fmt: skip
    np.testing.assert_array_equal(exposure, want_e)
    np.testing.assert_array_equal(weighted, want_w)
    # the phi blocks add up to the theta-only part, which is the phibins=0 cube
    np.testing.assert_allclose(exposure[:, 10:].reshape(-1, 5, 10).sum(axis=1), exposure[:, :10], rtol=1e-5)
    plain, _ = livetime_cube(grid, gti, ft2, 10, zmin, zmax)
    np.testing.assert_allclose(exposure[:, :10], plain, rtol=1e-6, atol=1e-3)


def test_gtltcube_phibins_file_layout(tmp_path):
    ft2 = _pointing(200)
    cols = [
        fits.Column(k, "D" if k in ("START", "STOP", "LIVETIME") else "E", array=v) for k, v in ft2.items()
    ]
    scfile = tmp_path / "ft2.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="SC_DATA")]).writeto(scfile)
    out = gtltcube(
        str(scfile), str(tmp_path / "lt.fits"), tmin=100.0, tmax=5000.0, binsz=10.0, dcostheta=0.1, phibins=3
    )
    with fits.open(out) as h:
        for name in ("EXPOSURE", "WEIGHTED_EXPOSURE"):
            assert h[name].header["PHIBINS"] == 3 and h[name].header["NBRBINS"] == 10
            assert h[name].data["COSBINS"].shape == (768, 40)
        assert len(h["CTHETABOUNDS"].data) == 10
        assert h["EXPOSURE"].data["COSBINS"][:, :10].sum() > 0


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_only_on_a_terminal_and_with_chatter():
    term = _Terminal()
    with Progress("gtltcube: FT2 rows", 10, chatter=2, stream=term) as bar:
        bar.update(10)
    assert "100.0% (10 of 10)" in term.getvalue()
    for chatter, stream in ((0, _Terminal()), (1, _Terminal()), (2, io.StringIO())):
        with Progress("x", 10, chatter=chatter, stream=stream) as bar:
            bar.update(10)
        assert stream.getvalue() == ""
