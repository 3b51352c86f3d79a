"""Bit-array (``nX``) columns without astropy's per-bit conversion: the same bytes and values as astropy's."""

from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.io import fits

from fermi_sciencetools_shim.io._layout import (
    ColumnSpec,
    build_table_hdu,
    pack_bits,
    table_hdu,
    unpack_bits_value,
)
from fermi_sciencetools_shim.io.ft1 import bit_column_values, decode_bits, encode_bits

WIDTHS = (1, 7, 8, 9, 20, 32, 62)


def _astropy_raw(bits: np.ndarray, nbits: int) -> np.ndarray:
    """astropy's own bytes of a boolean ``nbitsX`` column (its ``_wrapx``)."""
    hdu = fits.BinTableHDU.from_columns([fits.Column(name="A", format=f"{nbits}X", array=bits)])
    return np.asarray(hdu.data)["A"]


def _bytes(*hdus: fits.BinTableHDU) -> bytes:
    out = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), *hdus]).writeto(out)
    return out.getvalue()


@pytest.mark.parametrize("nbits", WIDTHS)
def test_pack_and_unpack_match_astropy(nbits: int) -> None:
    rng = np.random.default_rng(nbits)
    values = rng.integers(0, np.int64(1) << nbits, size=500, dtype=np.int64)
    values[:2] = [0, (np.int64(1) << nbits) - 1]
    bits = encode_bits(values, nbits)
    raw = _astropy_raw(bits, nbits)
    np.testing.assert_array_equal(pack_bits(bits, nbits), raw)
    np.testing.assert_array_equal(pack_bits(values, nbits), raw)
    np.testing.assert_array_equal(unpack_bits_value(raw, nbits), values)
    # astropy's boolean view of the same bytes, decoded, gives the same integers
    back = fits.BinTableHDU.from_columns([fits.Column(name="A", format=f"{nbits}X", array=bits)]).data["A"]
    np.testing.assert_array_equal(decode_bits(back), values)


def test_pack_bits_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="must lie in"):
        pack_bits(np.array([-1]), 32)
    with pytest.raises(ValueError, match="must lie in"):
        pack_bits(np.array([1 << 32]), 32)
    with pytest.raises(ValueError, match="shape"):
        pack_bits(np.zeros((3, 31), dtype=bool), 32)


def _specs() -> tuple[ColumnSpec, ...]:
    return (
        ColumnSpec("TIME", "D", "time", "s", 0.0, 1.0e10),
        ColumnSpec("EVENT_CLASS", "32X", "event class", None, 0, 32767),
        ColumnSpec("FLAGS", "20X", "flags", None),
        ColumnSpec("CALIB_VERSION", "3I", "versions", None),
    )


def test_build_table_hdu_writes_astropys_bytes() -> None:
    rng = np.random.default_rng(7)
    n = 1000
    time = rng.random(n)
    cls = rng.integers(0, 1 << 32, size=n, dtype=np.int64)
    flags = rng.integers(0, 2, size=(n, 20)).astype(bool)
    calib = rng.integers(0, 100, size=(n, 3)).astype(np.int16)
    fast = build_table_hdu(
        _specs(), {"TIME": time, "EVENT_CLASS": cls, "FLAGS": flags, "CALIB_VERSION": calib}, n
    )
    ref = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="TIME", format="D", array=time),
            fits.Column(name="EVENT_CLASS", format="32X", array=encode_bits(cls)),
            fits.Column(name="FLAGS", format="20X", array=flags),
            fits.Column(name="CALIB_VERSION", format="3I", array=calib),
        ],
        nrows=n,
    )
    assert [str(c.format) for c in fast.columns] == ["D", "32X", "20X", "3I"]
    assert fast.header["TFORM2"] == "32X" and fast.header["TFORM3"] == "20X"
    np.testing.assert_array_equal(np.asarray(fast.data).view(np.uint8), np.asarray(ref.data).view(np.uint8))
    # the values read back, by astropy and from the raw bytes
    read = fits.open(io.BytesIO(_bytes(fast)))[1].data
    np.testing.assert_array_equal(decode_bits(read["EVENT_CLASS"]), cls)
    np.testing.assert_array_equal(read["FLAGS"], flags)
    np.testing.assert_array_equal(bit_column_values(read, "EVENT_CLASS"), cls)
    np.testing.assert_array_equal(bit_column_values(read, "FLAGS"), decode_bits(flags))
    assert bit_column_values(read, "TIME") is None


def test_table_hdu_gives_astropys_file() -> None:
    rng = np.random.default_rng(11)
    n = 800
    ref = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="TIME", format="D", unit="s", array=rng.random(n)),
            fits.Column(name="EVENT_TYPE", format="32X", array=rng.integers(0, 2, size=(n, 32)).astype(bool)),
            fits.Column(name="B9", format="9X", array=rng.integers(0, 2, size=(n, 9)).astype(bool)),
        ],
        nrows=n,
    )
    ref.header["EXTNAME"] = "EVENTS"
    ref.header["TLMIN2"] = (0, "minimum value")
    keep = rng.random(n) < 0.4
    with fits.open(io.BytesIO(_bytes(ref))) as a, fits.open(io.BytesIO(_bytes(ref))) as b:
        slow = fits.BinTableHDU(data=a[1].data[keep], header=a[1].header.copy())
        fast = table_hdu(b[1].data[keep], b[1].header.copy())
        assert str(b[1].columns["EVENT_TYPE"].format) == "32X"  # the input's columns are left as they were
        assert _bytes(fast) == _bytes(slow)
