"""GtApp (Fermitools/fermipy interface) and the tool registry."""

from __future__ import annotations

import shlex

import gt_apps
import numpy as np
import pytest
from astropy.io import fits

from fermi_sciencetools_shim.errors import ParameterError
from fermi_sciencetools_shim.gtapp import GtApp
from fermi_sciencetools_shim.select.gtselect import main as gtselect_main
from fermi_sciencetools_shim.tools import get_tool, tool_names


def test_registry_lists_and_loads_the_four_tools():
    assert tool_names() == ["gtselect", "gtmktime", "gtbin", "gtltcube"]
    expected_first = {"gtselect": "infile", "gtmktime": "scfile", "gtbin": "evfile", "gtltcube": "evfile"}
    for name in tool_names():
        tool = get_tool(name)
        assert tool.name == name and callable(tool.function) and callable(tool.main)
        assert tool.function.__name__ == name
        names = [p.name for p in tool.parameters]
        assert expected_first[name] in names and "outfile" in names
    with pytest.raises(ParameterError, match="unknown tool 'gtfoo'"):
        get_tool("gtfoo")


def test_parameters_read_and_set_like_gtapp():
    app = GtApp("gtselect", "dataSubselector")
    assert app["emin"] == 30.0 and app["ra"] is None and app["evtable"] == "EVENTS"
    app["emin"] = "100"
    app.pars["zmax"] = 90
    app["evtable"] = '"EVENTS"'
    assert (app["emin"], app["zmax"], app["evtable"]) == (100.0, 90.0, "EVENTS")
    app["clobber"] = "no"
    assert app["clobber"] is False
    with pytest.raises(KeyError):
        app["nonsense"] = 1
    with pytest.raises(ParameterError, match="emax"):
        app["emax"] = "lots"
    lenient = GtApp("gtselect", raiseKeyErrors=False)
    lenient["nonsense"] = 1
    assert lenient["nonsense"] is None
    assert gt_apps.filter.appName == "gtselect" and gt_apps.expCube.appName == "gtltcube"


def test_command_lists_every_parameter_in_par_order():
    app = GtApp("gtselect")
    app["infile"] = "/data/ft1 copy.fits"
    app["outfile"] = "out.fits"
    app["ra"] = 83.6324
    command = app.command()
    # As the Fermitools' GtApp writes it: timed, strings and INDEF in double quotes.
    assert command.startswith(
        'time -p gtselect infile="/data/ft1 copy.fits" outfile=out.fits ra=83.6324 dec="INDEF"'
    )
    assert "emin=30.0 emax=300000.0" in command and command.endswith('clobber=yes debug=no gui=no mode="ql"')
    assert app.command(do_timing=False) == "gtselect" + app.pars()


def test_run_without_required_parameter_fails_clearly():
    with pytest.raises(ParameterError, match=r"'outfile'.*required"):
        GtApp("gtselect").run(print_command=False, infile="x.fits")


@pytest.mark.requires_data
def test_run_and_command_line_give_the_same_selection(shared_data, tmp_path, capsys):
    src = shared_data / "gammalib_p8v2" / "ft1.fits.gz"
    app = GtApp("gtselect")
    result = app.run(
        infile=str(src),
        outfile=str(tmp_path / "a.fits"),
        ra=83.6331,
        dec=22.0145,
        rad=3.0,
        emin=1000,
        zmax=90,
    )
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == app.command()
    assert printed[-3].startswith("real ") and printed[-1].startswith("sys ")
    assert result.n_events > 0
    argv = shlex.split(app.command(do_timing=False))[1:]
    argv[1] = f"outfile={tmp_path / 'b.fits'}"
    assert gtselect_main(argv) == 0
    with fits.open(tmp_path / "a.fits") as a, fits.open(tmp_path / "b.fits") as b:
        assert len(a["EVENTS"].data) == result.n_events
        np.testing.assert_array_equal(a["EVENTS"].data["EVENT_ID"], b["EVENTS"].data["EVENT_ID"])
        assert a["EVENTS"].header["DSVAL4"] == b["EVENTS"].header["DSVAL4"]
