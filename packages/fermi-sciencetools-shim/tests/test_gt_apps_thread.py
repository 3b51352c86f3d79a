"""An FSSC analysis-thread script, unchanged, on the shim's ``gt_apps`` (a fresh interpreter)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import gt_apps
import numpy as np
import pytest
from astropy.io import fits

from fermi_sciencetools_shim.errors import InputFileError, ShimError

# As in the FSSC "Binned likelihood" / "Data preparation" threads (file names of the data here).
THREAD = textwrap.dedent(
    """
    import gt_apps as my_apps

    my_apps.filter['evclass'] = 128
    my_apps.filter['evtype'] = 3
    my_apps.filter['ra'] = 83.633
    my_apps.filter['dec'] = 22.015
    my_apps.filter['rad'] = 10
    my_apps.filter['emin'] = 1000
    my_apps.filter['emax'] = 20000
    my_apps.filter['zmax'] = 90
    my_apps.filter['tmin'] = 239557417
    my_apps.filter['tmax'] = 239643817
    my_apps.filter['infile'] = 'ft1.fits.gz'
    my_apps.filter['outfile'] = 'crab_filtered.fits'
    my_apps.filter.run()

    my_apps.maketime['scfile'] = 'ft2.fits.gz'
    my_apps.maketime['filter'] = '(DATA_QUAL>0)&&(LAT_CONFIG==1)'
    my_apps.maketime['roicut'] = 'no'
    my_apps.maketime['evfile'] = 'crab_filtered.fits'
    my_apps.maketime['outfile'] = 'crab_filtered_gti.fits'
    my_apps.maketime.run()

    my_apps.counts_map['evfile'] = 'crab_filtered_gti.fits'
    my_apps.counts_map['scfile'] = 'ft2.fits.gz'
    my_apps.counts_map['outfile'] = 'crab_cmap.fits'
    my_apps.counts_map['algorithm'] = 'CMAP'
    my_apps.counts_map['nxpix'] = 100
    my_apps.counts_map['nypix'] = 100
    my_apps.counts_map['binsz'] = 0.2
    my_apps.counts_map['coordsys'] = 'CEL'
    my_apps.counts_map['xref'] = 83.633
    my_apps.counts_map['yref'] = 22.015
    my_apps.counts_map['axisrot'] = 0
    my_apps.counts_map['proj'] = 'AIT'
    my_apps.counts_map.run()

    my_apps.expCube['evfile'] = 'crab_filtered_gti.fits'
    my_apps.expCube['scfile'] = 'ft2.fits.gz'
    my_apps.expCube['outfile'] = 'crab_ltcube.fits'
    my_apps.expCube['zmax'] = 90
    my_apps.expCube['dcostheta'] = 0.025
    my_apps.expCube['binsz'] = 1
    my_apps.expCube.run()
    """
)


@pytest.mark.requires_data
def test_fssc_thread_script_runs_unchanged(shared_data, tmp_path, private_pfiles):
    for name in ("ft1.fits.gz", "ft2.fits.gz"):  # the thread's relative names, read in place
        os.symlink(shared_data / "gammalib_p8v2" / name, tmp_path / name)
    (tmp_path / "thread.py").write_text(THREAD)
    env = {**os.environ, "PFILES": f"{private_pfiles};"}
    done = subprocess.run(
        [sys.executable, "thread.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    commands = [line.split()[2] for line in printed if line.startswith("time -p gt")]
    assert commands == ["gtselect", "gtmktime", "gtbin", "gtltcube"]
    assert sum(line.startswith("real ") for line in printed) == 4
    with (
        fits.open(tmp_path / "crab_filtered_gti.fits") as gti,
        fits.open(tmp_path / "crab_cmap.fits") as cmap,
    ):
        n_events = len(gti["EVENTS"].data)
        assert n_events > 0 and cmap[0].data.shape == (100, 100)
        assert int(cmap[0].data.sum()) <= n_events
        dss = [v for k, v in gti["EVENTS"].header.items() if k.startswith(("DSTYP", "DSVAL"))]
        assert "BIT_MASK(EVENT_CLASS,128,P8R2)" in dss and "CIRCLE(83.633,22.015,10)" in dss
    with fits.open(tmp_path / "crab_ltcube.fits") as lt:
        assert (
            np.all(np.isfinite(lt["EXPOSURE"].data["COSBINS"])) and lt["EXPOSURE"].data["COSBINS"].max() > 0
        )
    # the a-mode parameters were learned in the user's pfiles folder, as the Fermitools do
    assert "crab_filtered.fits" in (private_pfiles / "gtselect.par").read_text()


def test_failures_are_runtime_errors(tmp_path):
    app = gt_apps.filter
    app["infile"] = str(tmp_path / "missing.fits")
    app["outfile"] = str(tmp_path / "out.fits")
    with pytest.raises(RuntimeError, match=r"missing\.fits") as exc:
        app.run(print_command=False)
    assert isinstance(exc.value, ShimError) and isinstance(exc.value, InputFileError)
    with pytest.raises(RuntimeError):
        app.runWithOutput(print_command=False)
    assert app.run(dry_run=True) == app.command()
    with pytest.raises(AttributeError, match=r"gtlike.*not provided"):
        gt_apps.like  # noqa: B018


@pytest.mark.requires_data
def test_run_with_output_returns_the_tool_output(shared_data, tmp_path):
    app = gt_apps.maketime.__class__("gtselect", "dataSubselector")
    app["infile"] = str(shared_data / "gammalib_p8v2" / "ft1.fits.gz")
    app["outfile"] = str(tmp_path / "sel.fits")
    app["emin"] = 1000
    stdin, stdout = app.runWithOutput(print_command=False)
    lines = [line.strip() for line in stdout]
    stdin.close()
    assert lines[0].startswith("Applying filter string: ") and lines[-1] == "Done."
