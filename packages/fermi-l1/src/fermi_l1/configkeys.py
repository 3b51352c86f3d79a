"""The FITS header keywords of the LAT configuration keys (FT1 and FT2 products).

The halfpipe records the hardware, software and MOOT keys the run's datagrams carry
(:class:`fermi_halfpipe.published.RetiredRun` ``config_keys``; ``docs/formats/telemetry.md``
§4.2.1 and §11); the run version's plan carries them to the ``l1run`` step, which writes them
into the primary header (and the ``EVENTS`` header of FT1) of every product and into the catalog
provenance (``config_keys``). Values are the unsigned 32-bit keys as integers; 4294967295
(0xFFFFFFFF) means the data carried none.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["KEYWORDS", "header_cards"]

#: ``config_keys`` name -> (FITS keyword, comment)
KEYWORDS: dict[str, tuple[str, str]] = {
    "hw_key": ("HW_KEY", "LAT hardware configuration key (LATC master)"),
    "sw_key": ("SW_KEY", "LAT flight-software configuration key"),
    "moot_key": ("MOOT_KEY", "LAT MOOT configuration key (calibration set)"),
}


def header_cards(config_keys: Mapping[str, int] | None) -> dict[str, tuple[int, str]]:
    """``{KEYWORD: (value, comment)}`` of the keys given (empty for None or an empty mapping)."""
    keys = dict(config_keys or {})
    return {kw: (int(keys[name]), comment) for name, (kw, comment) in KEYWORDS.items() if name in keys}
