"""``@list`` expansion of file parameters."""

from __future__ import annotations

import pytest

from fermi_sciencetools_shim.errors import InputFileError, ParameterError
from fermi_sciencetools_shim.io import expand_file_list


def _fits(path):
    path.write_bytes(b"SIMPLE  =                    T" + b" " * 2850)
    return path


def test_single_file_and_at_list(tmp_path):
    a, b = _fits(tmp_path / "a.fits"), _fits(tmp_path / "b.fits")
    assert expand_file_list(str(a), "evfile") == [a]
    lst = tmp_path / "files.txt"
    lst.write_text(f"{b}\n\n# comment\n{a}\n")
    assert expand_file_list(f"@{lst}", "scfile") == [b, a]
    # ScienceTools also accept a list file named without '@'
    assert expand_file_list(str(lst), "scfile") == [b, a]


def test_relative_names_fall_back_to_the_list_folder(tmp_path):
    _fits(tmp_path / "a.fits")
    lst = tmp_path / "files.txt"
    lst.write_text("a.fits\n")
    assert expand_file_list(f"@{lst}", "scfile") == [tmp_path / "a.fits"]


def test_errors_name_the_file_and_parameter(tmp_path):
    with pytest.raises(ParameterError, match="'evfile'"):
        expand_file_list("  ", "evfile")
    with pytest.raises(InputFileError, match=r"missing\.fits.*'evfile'"):
        expand_file_list(str(tmp_path / "missing.fits"), "evfile")
    lst = tmp_path / "l.txt"
    lst.write_text(f"{tmp_path / 'gone.fits'}\n")
    with pytest.raises(InputFileError, match=r"gone.fits: no such file \(line 1 of list file"):
        expand_file_list(f"@{lst}", "scfile")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(InputFileError, match="names no file"):
        expand_file_list(f"@{empty}", "scfile")
    with pytest.raises(InputFileError, match="list file"):
        expand_file_list(f"@{tmp_path / 'nolist.txt'}", "scfile")
