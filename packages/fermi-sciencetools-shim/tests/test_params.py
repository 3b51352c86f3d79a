"""ScienceTools parameter syntax: name=value, positional order, INDEF, yes/no, clear errors."""

import pytest

from fermi_sciencetools_shim.errors import ParameterError
from fermi_sciencetools_shim.params import Parameter, format_help, parse_command_line, resolve

PARS = [
    Parameter("infile", "s", None, "Input FT1 file"),
    Parameter("outfile", "s", None, "Output FT1 file"),
    Parameter("ra", "r", None, "RA of the cone centre (deg)"),
    Parameter("emin", "r", 30.0, "Lower energy limit (MeV)"),
    Parameter("evclass", "i", None, "Event class mask", hidden=True),
    Parameter("clobber", "b", True, "Overwrite the output?", hidden=True),
]


def test_named_and_positional_values():
    raw = parse_command_line(["a.fits", "outfile=b.fits", "ra=INDEF", "evclass=128", "clobber=no"], PARS)
    values = resolve(PARS, raw)
    assert values == {
        "infile": "a.fits",
        "outfile": "b.fits",
        "ra": None,
        "emin": 30.0,
        "evclass": 128,
        "clobber": False,
    }


def test_unknown_parameter_is_named():
    with pytest.raises(ParameterError, match="'emn': unknown parameter"):
        parse_command_line(["emn=3"], PARS)


def test_bad_number_is_named():
    with pytest.raises(
        ParameterError, match="'emin': cannot convert value \"abc\" cleanly to floating point type"
    ):
        resolve(PARS, {"infile": "a", "outfile": "b", "emin": "abc"})


def test_required_file_is_named():
    with pytest.raises(ParameterError, match="'outfile': is required"):
        resolve(PARS, {"infile": "a"})


def test_help_lists_defaults():
    text = format_help("gtselect", "Select events", PARS)
    assert "emin" in text and "[30.0]" in text and "(h) clobber" in text
