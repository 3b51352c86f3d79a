"""fermipy's own data preparation (GTAnalysis._select_data/_create_ltcube/_bin_data, i.e. its
``run_gtapp`` driving ``GtApp``) on the real gammalib P8R2 files, compared with the shim's commands.

fermipy 1.4.3 comes from PyPI (requirements-fermipy.txt); the Fermitools' likelihood modules it
imports but does not use for data preparation (pyLikelihood, BinnedAnalysis ...) are stubbed here.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest
from astropy.io import fits

from fermi_sciencetools_shim.bin.gtbin import main as gtbin_main
from fermi_sciencetools_shim.ltcube.gtltcube import main as gtltcube_main
from fermi_sciencetools_shim.mktime.gtmktime import main as gtmktime_main
from fermi_sciencetools_shim.select.gtselect import main as gtselect_main

# Fermitools (C++/SWIG) modules fermipy.gtanalysis imports at module level.
LIKELIHOOD_MODULES = (
    "pyLikelihood",
    "SrcModel",
    "AnalysisBase",
    "LikelihoodState",
    "pyIrfLoader",
    "SummedLikelihood",
    "BinnedAnalysis",
    "UnbinnedAnalysis",
    "FluxDensity",
    "IntegralUpperLimit",
    "UpperLimits",
)
MAINS = {"gtselect": gtselect_main, "gtmktime": gtmktime_main, "gtbin": gtbin_main, "gtltcube": gtltcube_main}
TSTART, TSTOP = 239557417.5, 239643817.5  # the FT1 header of gammalib p8v2


class _Unused(type):
    """A stand-in class: any attribute is another stand-in, calling it returns itself."""

    def __getattr__(cls, name: str) -> type:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Unused(name, (), {})

    def __call__(cls, *args: object, **kwargs: object) -> type:
        return cls


def _stub(name: str) -> types.ModuleType:
    module = types.ModuleType(name)

    def attribute(attr: str) -> type:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Unused(attr, (), {})

    module.__getattr__ = attribute  # type: ignore[method-assign]
    return module


@pytest.fixture
def gtanalysis(monkeypatch):
    pytest.importorskip(
        "fermipy", reason="fermipy is a test dependency (pip install --no-deps -r requirements-fermipy.txt)"
    )
    for name in LIKELIHOOD_MODULES:
        if name not in sys.modules:
            monkeypatch.setitem(sys.modules, name, _stub(name))
    import fermipy.gtanalysis

    return fermipy.gtanalysis


def _config(folder: Path, outdir: Path, projtype: str) -> dict:
    binning = {"roiwidth": 4.0, "binsz": 0.2, "binsperdec": 4, "coordsys": "CEL", "proj": "AIT"}
    if projtype == "HPX":
        binning.update(projtype="HPX", hpx_order=6, hpx_ordering_scheme="RING", hpx_ebin=True)
    return {
        "data": {"evfile": str(folder / "ft1.fits.gz"), "scfile": str(folder / "ft2.fits.gz")},
        "binning": binning,
        "selection": {
            "emin": 1000, "emax": 20000, "zmax": 90, "evclass": 128, "evtype": 3,
            "ra": 83.633, "dec": 22.015, "tmin": TSTART, "tmax": TSTOP,
            "filter": "DATA_QUAL>0 && LAT_CONFIG==1", "roicut": "no",
        },
        "ltcube": {"binsz": 1.0, "dcostheta": 0.025},
        "gtlike": {"edisp": False, "irfs": "P8R2_SOURCE_V6"},
        "model": {"catalogs": [], "src_roiwidth": 5.0},
        "fileio": {"outdir": str(outdir), "usescratch": False},
        "logging": {"chatter": 2, "verbosity": 1},
    }  # fmt: skip


def _run_fermipy(gtanalysis, monkeypatch, config: dict) -> list[tuple[str, dict]]:
    """Run fermipy's data preparation; return the (tool, parameters) it passed to run_gtapp."""
    calls: list[tuple[str, dict]] = []
    original = gtanalysis.run_gtapp

    def recording(appname, logger, kw, **kwargs):
        calls.append((appname, dict(kw)))
        return original(appname, logger, kw, **kwargs)

    monkeypatch.setattr(gtanalysis, "run_gtapp", recording)
    gta = gtanalysis.GTAnalysis(config)
    component = gta.components[0]
    component._select_data()
    component._create_ltcube()
    component._bin_data()
    return calls


def _replay(calls: list[tuple[str, dict]], outdir: Path, direct: Path) -> None:
    """Run the same parameters through the shim's commands, outputs under ``direct``."""
    for tool, kw in calls:
        argv = []
        for name, value in kw.items():
            if value is None:
                continue
            text = str(value).replace(str(outdir), str(direct))
            argv.append(f"{name}={text}")
        assert MAINS[tool](argv) == 0, (tool, argv)
        if tool == "gtmktime":  # fermipy then renames the filtered file over the selection
            os.replace(direct / "ft1_filtered_00.fits", direct / "ft1_00.fits")


def _assert_same_fits(a: Path, b: Path) -> None:
    diff = fits.FITSDiff(
        str(a), str(b), ignore_keywords=["DATE", "CHECKSUM", "DATASUM", "FILENAME", "HISTORY"], rtol=0.0
    )
    assert diff.identical, diff.report()


@pytest.mark.requires_data
def test_fermipy_run_gtapp_ccube_matches_the_shim_commands(
    gtanalysis, monkeypatch, shared_data, tmp_path, capsys
):
    outdir, direct = tmp_path / "fermipy", tmp_path / "direct"
    direct.mkdir()
    calls = _run_fermipy(gtanalysis, monkeypatch, _config(shared_data / "gammalib_p8v2", outdir, "WCS"))
    assert [tool for tool, _ in calls] == ["gtselect", "gtmktime", "gtltcube", "gtbin"]
    assert calls[3][1]["algorithm"] == "ccube" and calls[1][1]["roicut"] == "no"
    # fermipy points PFILES at its work folder: the tools learned their values there
    assert (outdir / "gtselect.par").is_file()
    _replay(calls, outdir, direct)
    for name in ("ft1_00.fits", "ltcube_00.fits", "ccube_00.fits"):
        _assert_same_fits(outdir / name, direct / name)
    with fits.open(outdir / "ccube_00.fits") as cube, fits.open(outdir / "ft1_00.fits") as ft1:
        assert cube[0].data.shape == (5, 20, 20)
        assert 0 < cube[0].data.sum() <= len(ft1["EVENTS"].data)


@pytest.mark.requires_data
def test_fermipy_run_gtapp_hpx_counts_cube(gtanalysis, monkeypatch, shared_data, tmp_path):
    """fermipy's ``projtype: HPX`` runs gtbin algorithm=HEALPIX (needs the shim's HEALPIX binning)."""
    outdir, direct = tmp_path / "fermipy", tmp_path / "direct"
    direct.mkdir()
    calls = _run_fermipy(gtanalysis, monkeypatch, _config(shared_data / "gammalib_p8v2", outdir, "HPX"))
    assert calls[-1][0] == "gtbin" and calls[-1][1]["algorithm"] == "healpix"
    _replay(calls, outdir, direct)
    _assert_same_fits(outdir / "ccube_00.fits", direct / "ccube_00.fits")
    with fits.open(outdir / "ccube_00.fits") as cube:
        assert "SKYMAP" in [h.name for h in cube] or cube[1].header.get("PIXTYPE") == "HEALPIX"
