"""The cached copy of astropy's IERS table is astropy's table: same columns, values, meta, geometry."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.utils import iers

from fermi_l1.ft2 import earth_orientation as eo
from fermi_l1.ft2.geometry import earth_fixed


@pytest.fixture(scope="module")
def parsed() -> iers.IERS_Auto:
    """astropy's own table, parsed from its files (once for the module)."""
    return iers.IERS_Auto.read()


@pytest.fixture()
def fresh_table(parsed, monkeypatch: pytest.MonkeyPatch, tmp_path):
    """The parsed table, with a cache folder of the test's own; the process table restored afterwards."""
    monkeypatch.setenv("FERMI_IERS_CACHE", str(tmp_path / "iers"))
    monkeypatch.setattr(iers.IERS_Auto, "iers_table", None)
    return parsed


def test_cached_copy_is_astropys_table(fresh_table, tmp_path) -> None:
    path = tmp_path / "copy.npz"
    eo._save(fresh_table, path)
    copy = eo._load(path)
    assert type(copy) is type(fresh_table)
    assert copy.colnames == fresh_table.colnames
    for name in fresh_table.colnames:
        a, b = copy[name], fresh_table[name]
        assert type(a) is type(b) and a.dtype == b.dtype, name
        assert getattr(a, "unit", None) == getattr(b, "unit", None), name
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)
        if hasattr(b, "mask"):
            np.testing.assert_array_equal(np.asarray(a.mask), np.asarray(b.mask), err_msg=name)
    assert dict(copy.meta) == dict(fresh_table.meta)
    assert {k: type(v) for k, v in copy.meta.items()} == {k: type(v) for k, v in fresh_table.meta.items()}


def test_ensure_makes_then_uses_the_copy(fresh_table, tmp_path) -> None:
    met = np.arange(239557417.0, 239557417.0 + 600.0, 10.0)
    pos = np.column_stack(
        [7.0e6 * np.cos(met / 5800.0), 7.0e6 * np.sin(met / 5800.0), 1.0e6 * np.ones_like(met)]
    )
    iers.IERS_Auto.iers_table = fresh_table
    reference = earth_fixed(met, pos)  # astropy's table as astropy parsed it
    iers.IERS_Auto.iers_table = None
    eo.ensure_earth_orientation()  # parses (astropy) and writes the copy
    copies = list((tmp_path / "iers").glob("iers-auto-*.npz"))
    assert len(copies) == 1
    iers.IERS_Auto.iers_table = None
    eo.ensure_earth_orientation()  # from the copy
    assert iers.IERS_Auto.iers_table is not None and iers.IERS_Auto.iers_table is not fresh_table
    cached = earth_fixed(met, pos)
    for key, value in reference.items():
        np.testing.assert_array_equal(cached[key], value, err_msg=key)


def test_damaged_copy_falls_back_to_astropy(fresh_table, tmp_path) -> None:
    folder = tmp_path / "iers"
    folder.mkdir(mode=0o700)
    path = folder / f"iers-auto-{eo._source_key()}.npz"
    path.write_bytes(b"not an npz file")
    eo.ensure_earth_orientation()
    assert len(iers.IERS_Auto.iers_table) == len(fresh_table)
    assert eo._load(path).colnames == fresh_table.colnames  # made again


def test_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERMI_IERS_CACHE", "0")
    assert eo.cache_folder() is None
