"""Smoke tests of the ``fermi-shim`` command: it imports, answers --help and --version."""

import pytest

import fermi_sciencetools_shim
from fermi_sciencetools_shim.cli import main


def test_version_matches_package(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"fermi-shim {fermi_sciencetools_shim.__version__}"


def test_help_describes_the_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: fermi-shim")
