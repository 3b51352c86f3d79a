"""The .par definitions, ranges with the ScienceTools' messages, $PFILES memory, pset/pget/plist/punlearn."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from fermi_sciencetools_shim import pfiles, prompting
from fermi_sciencetools_shim.errors import InputFileError, ParameterError, ShimError
from fermi_sciencetools_shim.gtapp import GtApp
from fermi_sciencetools_shim.params import learns, resolve, tool_parameters
from fermi_sciencetools_shim.parfile import parse_par, system_par
from fermi_sciencetools_shim.pcommands import main_pget, main_plist, main_pset, main_punlearn
from fermi_sciencetools_shim.queries import UNCHECKED, query_order
from fermi_sciencetools_shim.tools import get_tool, tool_names


def _pars(tool: str):
    return get_tool(tool).parameters


def test_every_tool_is_defined_by_its_shipped_par_file():
    for tool in tool_names():
        names = [p.name for p in _pars(tool)]
        assert names == system_par(tool).names()
        assert {"chatter", "debug", "gui", "mode"} <= set(names), tool
    gtmktime = {p.name: p for p in _pars("gtmktime")}
    assert gtmktime["gtifile"].default == "default" and gtmktime["gtifile"].hidden
    gtltcube = {p.name: p for p in _pars("gtltcube")}
    assert gtltcube["outfile"].default == "expCube.fits" and (
        gtltcube["dcostheta"].minimum,
        gtltcube["dcostheta"].maximum,
    ) == ("0.", "1.")


def test_errors_are_runtime_errors_and_parameter_errors_value_errors():
    assert issubclass(ShimError, RuntimeError)
    assert issubclass(ParameterError, RuntimeError) and issubclass(ParameterError, ValueError)
    assert issubclass(InputFileError, RuntimeError)


@pytest.mark.parametrize(
    ("tool", "given", "message"),
    [
        ("gtselect", {"ra": 400}, "parameter 'ra': value 400 is greater than maximum value 360"),
        ("gtselect", {"rad": 200}, "parameter 'rad': value 200 is greater than maximum value 180"),
        ("gtselect", {"rad": -1}, "parameter 'rad': value -1 is less than minimum value 0"),
        ("gtselect", {"dec": -90.5}, "parameter 'dec': value -90.5 is less than minimum value -90"),
        ("gtselect", {"zmax": 181}, "parameter 'zmax': value 181 is greater than maximum value 180"),
        ("gtltcube", {"zmax": 200}, "parameter 'zmax': value 200 is greater than maximum value 180"),
        ("gtltcube", {"dcostheta": 1.5}, "parameter 'dcostheta': value 1.5 is greater than maximum value 1."),
        ("gtmktime", {"chatter": 5}, "parameter 'chatter': value 5 is greater than maximum value 4"),
        (
            "gtbin",
            {"algorithm": "MAP"},
            'invalid choice "MAP"; choose from "CCUBE|CMAP|LC|PHA1|PHA2|HEALPIX"',
        ),
        ("gtbin", {"snratio": 0}, "parameter 'snratio': value 0 is less than minimum value 1.e-8"),
        (
            "gtselect",
            {"emin": "lots"},
            "parameter 'emin': cannot convert value \"lots\" cleanly to floating point type",
        ),
        ("gtselect", {"mode": "x"}, "parameter 'mode': invalid mode \"x\""),
    ],
)
def test_ranges_are_enforced_with_the_real_messages(tool, given, message):
    required = {"gtselect": ("infile", "outfile"), "gtmktime": ("scfile", "evfile"), "gtbin": ("evfile", "outfile"),
                "gtltcube": ("scfile",)}[tool]  # fmt: skip
    values = {name: "x.fits" for name in required} | given
    with pytest.raises(ParameterError) as exc:
        resolve(_pars(tool), values)
    assert message in str(exc.value)


def test_in_range_values_pass_and_choices_take_the_listed_spelling():
    values = resolve(_pars("gtbin"), {"evfile": "a", "outfile": "b", "algorithm": "ccube", "coordsys": "gal"})
    assert (values["algorithm"], values["coordsys"]) == ("CCUBE", "GAL")
    # gtselect reads evclass without querying it, so its 0..31 par range does not apply (Pass 8 masks)
    assert "evclass" in UNCHECKED["gtselect"]
    assert (
        resolve(_pars("gtselect"), {"infile": "a", "outfile": "b", "evclass": 128, "rad": 180})["evclass"]
        == 128
    )


def test_pfiles_rules(monkeypatch, tmp_path):
    assert pfiles.pfiles_dirs("/u1:/u2;/s1:/s2") == ([Path("/u1"), Path("/u2")], [Path("/s1"), Path("/s2")])
    assert pfiles.pfiles_dirs("/a:/b") == ([Path("/a"), Path("/b")], [Path("/a"), Path("/b")])
    monkeypatch.delenv("PFILES")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert pfiles.pfiles_dirs() == ([tmp_path / "pfiles"], [])
    assert pfiles.user_par_path("gtselect") == tmp_path / "pfiles" / "gtselect.par"
    main_pset(["gtselect", "zmax=95"])  # the fallback folder is created on first save
    assert (tmp_path / "pfiles" / "gtselect.par").is_file()


def test_pset_pget_plist_punlearn(private_pfiles, capsys):
    assert main_pset(["gtselect", "evclass=128", "zmax=90", 'outfile="sel.fits"']) == 0
    assert main_pget(["gtselect", "evclass", "zmax", "outfile"]) == 0
    assert capsys.readouterr().out.split() == ["128", "90.0", "sel.fits"]
    app = GtApp("gtselect")  # GtApp reads the learned values, as the Fermitools' Pil does
    assert (app["evclass"], app["zmax"], app["outfile"]) == (128, 90.0, "sel.fits")
    assert main_plist(["gtselect"]) == 0
    listing = capsys.readouterr().out
    assert listing.startswith(f"Parameters for {private_pfiles / 'gtselect.par'}")
    assert "(evclass = 128)" in listing and "zmax = 90.0" in listing
    assert main_pset(["gtselect", "ra=400"]) == 1
    assert "value 400 is greater than maximum value 360" in capsys.readouterr().err
    assert main_pset(["gtselect", "nosuch=1"]) == 1 and main_pget(["gtfoo", "x"]) == 1
    assert "gtfoo.par" in capsys.readouterr().err
    assert main_punlearn(["gtselect"]) == 0
    assert not (private_pfiles / "gtselect.par").exists() and GtApp("gtselect")["zmax"] == 180.0


def test_a_damaged_user_copy_is_ignored_with_a_warning(private_pfiles, capsys):
    (private_pfiles / "gtselect.par").write_text('infile,f,a,"unterminated\n')
    assert GtApp("gtselect")["emin"] == 30.0
    err = capsys.readouterr().err
    assert "gtselect.par" in err and "line 1" in err and len(err.strip().splitlines()) == 1


def test_learning_rules():
    pars = {p.name: p for p in _pars("gtselect")}
    assert learns(pars["ra"], "ql") and not learns(pars["ra"], "h") and not learns(pars["zmin"], "ql")
    with pytest.raises(InputFileError, match="line 1: 3 fields"):
        parse_par("a,b,c\n", "x")


def test_prompting_asks_again_on_a_bad_value():
    pars = tool_parameters("gtselect", UNCHECKED["gtselect"])
    texts = {p.name: v for p, v in zip(pars, [e.value for e in system_par("gtselect").entries], strict=True)}
    texts["infile"] = "ft1.fits"
    answers = io.StringIO("\n".join(["out.fits", "400", "83.6", "22", "", "", "", "1000", "", "90"]) + "\n")
    shown = io.StringIO()
    asked = prompting.query("gtselect", pars, texts, {"infile"}, True, answers, shown)
    assert asked == ["outfile", "ra", "dec", "rad", "tmin", "tmax", "emin", "emax", "zmax"]
    out = shown.getvalue()
    assert "Output FT1 file [] " in out
    assert (
        "RA for new search center (degrees) (0:360) [INDEF] Parameter ra: value 400 is greater than maximum value 360.\n"
        in out
    )
    assert (texts["ra"], texts["rad"], texts["emin"], texts["zmax"], texts["zmin"]) == (
        "83.6",
        "INDEF",
        "1000",
        "90",
        "0",
    )
    with pytest.raises(ParameterError, match="end of input"):
        prompting.query("gtselect", pars, dict(texts), set(), True, io.StringIO(""), io.StringIO())
    assert prompting.query("gtselect", pars, texts, set(), False) == []  # not a terminal: never asks
    texts["mode"] = "h"
    assert prompting.query("gtselect", pars, texts, set(), True, io.StringIO(""), io.StringIO()) == []


def test_gtbin_queries_what_the_algorithm_needs():
    names = [p.name for p in _pars("gtbin")]

    def order(**values):
        return list(query_order("gtbin", names, values.get))

    cmap = order(algorithm="CMAP")
    assert cmap[:6] == ["algorithm", "evfile", "evtable", "outfile", "scfile", "sctable"]
    assert "nxpix" in cmap and "ebinalg" not in cmap
    ccube = order(algorithm="CCUBE", ebinalg="LOG")
    assert ccube[-5:] == ["ebinalg", "efield", "emin", "emax", "enumbins"]
    assert order(algorithm="LC", tbinalg="LIN")[-5:] == ["tbinalg", "tfield", "tstart", "tstop", "dtime"]
    assert "ebinalg" not in order(algorithm="HEALPIX", hpx_ebin=False)
    assert "hpx_order" in order(algorithm="HEALPIX", hpx_ebin=True)


@pytest.mark.requires_data
def test_every_tool_accepts_mode_chatter_debug_gui(shared_data, tmp_path):
    from fermi_sciencetools_shim.mktime.gtmktime import main as gtmktime_main

    folder = shared_data / "gammalib_p8v2"
    argv = [f"scfile={folder / 'ft2.fits.gz'}", f"evfile={folder / 'ft1.fits.gz'}", f"outfile={tmp_path / 'g.fits'}",
            "filter=DATA_QUAL>0 && LAT_CONFIG==1", "roicut=no"]  # fmt: skip
    assert gtmktime_main([*argv, "mode=h", "chatter=0", "debug=no", "gui=no", "gtifile=default"]) == 0
    assert (tmp_path / "g.fits").is_file()
