"""FITS header templates of gtbin products (keyword names, order and comments as evtbin's).

A template is a list of ``(keyword, default, comment)``. Keywords listed in
:data:`HARVESTED` take their value from the input EVENTS header when it has them
(evtbin "harvests" them); the data-subspace (DSS) keywords are appended after the
template, then the input history.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from astropy.io import fits

Template = list[tuple[str, Any, str]]

HARVESTED = (
    "TELESCOP",
    "INSTRUME",
    "DATE-OBS",
    "DATE-END",
    "TSTART",
    "TSTOP",
    "MJDREFI",
    "MJDREFF",
    "TIMEUNIT",
    "TIMEZERO",
    "TIMESYS",
    "TIMEREF",
    "CLOCKAPP",
    "GPS_OUT",
    "EQUINOX",
    "RADECSYS",
    "OBSERVER",
    "NDSKEYS",
)

_TIME_KEYS: Template = [
    ("DATE-OBS", "", "start date and time of the observation (UTC)"),
    ("DATE-END", "", "end date and time of the observation (UTC)"),
    ("TIMEUNIT", "s", "units for the time related keywords"),
    ("TIMEZERO", 0.0, "clock correction"),
    ("TIMESYS", "TT", "type of time system that is used"),
    ("TIMEREF", "LOCAL", "reference frame used for times"),
    ("CLOCKAPP", False, "whether a clock drift correction has been appli"),
    ("GPS_OUT", False, "whether GPS time was unavailable at any time du"),
]

_MISSION: Template = [
    ("TELESCOP", "GLAST", "name of telescope generating data"),
    ("INSTRUME", "LAT", "name of instrument generating data"),
]

_MJDREF: Template = [
    ("MJDREFI", 51910.0, "Integer part of MJD corresponding to SC clock s"),
    ("MJDREFF", 7.428703703703703e-4, "Fractional part of MJD corresponding to SC cloc"),
]

_TSTARTSTOP: Template = [
    ("TSTART", 0.0, "mission time of the start of the observation"),
    ("TSTOP", 0.0, "mission time of the end of the observation"),
]

_PRIMARY_HEAD: Template = [
    ("DATE", "", "file creation date (YYYY-MM-DDThh:mm:ss UT)"),
    ("FILENAME", "", ""),
    *_MISSION,
    *_TIME_KEYS,
]
_PRIMARY_TAIL: Template = [
    ("NDSKEYS", 0, None),
    ("EQUINOX", 2000.0, "Equinox of RA & DEC specifications"),
    ("OBSERVER", "Peter Michelson", "GLAST/LAT PI"),
    ("CREATOR", "gtbin", "Software and version creating file"),
]

#: Primary HDU of CMAP/CCUBE after the WCS keywords (``LatCountMapTemplate``).
COUNT_MAP_PRIMARY: Template = [
    *_PRIMARY_HEAD,
    *_PRIMARY_TAIL,
]

#: Primary HDU of LC and PHA1 (no image).
TABLE_PRIMARY: Template = [
    *_PRIMARY_HEAD,
    *_TSTARTSTOP,
    *_MJDREF,
    *_PRIMARY_TAIL,
]

EBOUNDS: Template = [
    ("EXTNAME", "EBOUNDS", "Extension name"),
    *_MISSION,
    ("FILTER", "NONE", "Instrument filter in use (if any)"),
    ("CHANTYPE", "PI", "Energy channel type"),
    ("DETCHANS", 0, "Total number of detector channels available."),
    ("HDUCLASS", "OGIP", "Format confirms to OGIP standard"),
    ("HDUCLAS1", "RESPONSE", "Extension contains response data"),
    ("HDUCLAS2", "EBOUNDS", "Extension contains response matrix"),
    ("HDUVERS", "1.2.0", "Version number of the format"),
    *_TIME_KEYS,
    ("CREATOR", "gtbin", "Software and version creating file"),
]

GTI: Template = [
    ("EXTNAME", "GTI", "Extension name"),
    *_MISSION,
    *_MJDREF,
    *_TSTARTSTOP,
    ("EXPOSURE", 0.0, "Integration time (in seconds) for the PHA data"),
    ("ONTIME", 0.0, "sum of GTI lengths"),
    ("HDUCLASS", "OGIP", "File format is OGIP standard"),
    ("HDUCLAS1", "GTI", "Contains Good Time Intervals"),
    ("HDUVERS", "1.2.0", "Version of file format"),
    *_TIME_KEYS,
    ("NDSKEYS", 0, None),
    ("CREATOR", "gtbin", "Software and version creating file"),
]

RATE: Template = [
    ("EXTNAME", "RATE", "Extension name"),
    *_MISSION,
    ("HDUCLASS", "OGIP", "Format conforms to OGIP standard"),
    ("HDUCLAS1", "LIGHTCURVE", "Extension contains a light curve"),
    ("HDUCLAS2", "TOTAL", "Extension contains source + background"),
    ("HDUCLAS3", "COUNT", "Extension contains counts"),
    ("HDUVERS", "1.1.0", "Version number of the format"),
    *_MJDREF,
    *_TSTARTSTOP,
    *_TIME_KEYS,
    ("NDSKEYS", 0, None),
    ("CREATOR", "gtbin", "Software and version creating file"),
]

SPECTRUM: Template = [
    ("EXTNAME", "SPECTRUM", "Extension name"),
    *_MISSION,
    ("FILTER", "NONE", "Instrument filter in use (if any)"),
    ("HDUCLASS", "OGIP", "Format conforms to OGIP standard"),
    ("HDUCLAS1", "SPECTRUM", "Extension contains spectral data"),
    ("HDUCLAS2", "TOTAL", "Extension contains source + background"),
    ("HDUCLAS3", "COUNT", "Extension contains counts"),
    ("HDUCLAS4", "TYPE:I", "Single PHA file contained"),
    ("HDUVERS", "1.2.1", "Version number of the format"),
    ("CHANTYPE", "PI", "Channels assigned by detector electronics"),
    ("DETCHANS", 0, "Total number of detector channels available"),
    ("POISSERR", False, "Statistical errors are given in STAT_ERR"),
    ("EXPOSURE", 0.0, "Integration time (in seconds) for the PHA data"),
    ("AREASCAL", 1.0, "Nominal effective area"),
    ("BACKSCAL", 1.0, "Background scale factor"),
    ("CORRSCAL", 1.0, "Correlation scale factor"),
    ("BACKFILE", "none", "Background FITS file for this object"),
    ("CORRFILE", "none", "Correlation FITS file for this object"),
    ("RESPFILE", "none", "Redistribution matrix file (RMF)"),
    ("ANCRFILE", "none", "Ancillary response file (ARF)"),
    ("SYS_ERR", 0.0, "No systematic errors"),
    ("GROUPING", 0, "No grouping of the data has been defined"),
    ("QUALITY", 0, "No data quality information specified"),
    *_MJDREF,
    *_TSTARTSTOP,
    *_TIME_KEYS,
    ("NDSKEYS", 0, None),
    ("CREATOR", "gtbin", "Software and version creating file"),
]


def dss_cards(header: fits.Header) -> list[tuple[str, Any]]:
    """Return the DSS keywords (``DSTYPk``, ``DSUNIk``, ``DSVALk``, ``DSREFk``) of ``header`` in order."""
    n = int(header.get("NDSKEYS", 0) or 0)
    cards: list[tuple[str, Any]] = []
    for k in range(1, n + 1):
        for stem in ("DSTYP", "DSUNI", "DSVAL", "DSREF"):
            key = f"{stem}{k}"
            if key in header:
                cards.append((key, header[key]))
    return cards


def creation_date() -> str:
    """Return the ``DATE`` value: now, UTC, ``YYYY-MM-DDThh:mm:ss``."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def fill(
    template: Template,
    source: fits.Header | None,
    values: Mapping[str, Any] | None = None,
    header: fits.Header | None = None,
) -> fits.Header:
    """Append the ``template`` keywords to ``header`` (a new one by default).

    Values come, in order of priority, from ``values``, from ``source`` for harvested keywords,
    then from the template default.
    """
    out = fits.Header() if header is None else header
    values = values or {}
    for key, default, comment in template:
        if key in values:
            value = values[key]
        elif source is not None and key in HARVESTED and key in source:
            value = source[key]
        else:
            value = default
        out.append((key, value, comment) if comment is not None else (key, value), end=True)
    return out


def append_dss(header: fits.Header, source: fits.Header) -> None:
    """Append the DSS keywords of ``source`` at the end of ``header``."""
    for key, value in dss_cards(source):
        header.append((key, value), end=True)


def append_history(header: fits.Header, source: fits.Header, names: Iterable[str]) -> None:
    """Copy the HISTORY of ``source`` with gtbin's banner lines naming the input(s)."""
    rule = "-" * 72
    header.add_history("The following history was copied from input files by gtbin")
    header.add_history(rule)
    lines = list(source.get("HISTORY", []))
    label = ", ".join(names)
    if lines:
        header.add_history(f"BEGIN history copied from {label}")
        header.add_history(rule)
        for line in lines:
            header.add_history(str(line))
        header.add_history(rule)
        header.add_history("END copied history")
    else:
        header.add_history(f"No history available in {label}")
    header.add_history(rule)


#: Primary HDU of a HEALPIX map (``LatHealpixTemplate``; no image, no TSTART/TSTOP).
HEALPIX_PRIMARY: Template = [
    ("DATE", "", "Date file was made"),
    ("FILENAME", "", "Name of this file"),
    ("TELESCOP", "GLAST", "Name of telescope generating data"),
    ("INSTRUME", "LAT", "Name of instrument generating data"),
    ("DATE-OBS", "", "Start Date and Time of the observation (UTC)"),
    ("DATE-END", "", "End Date and Time of the observation (UTC)"),
    ("TIMEUNIT", "s", "units for the time related keywords"),
    ("TIMEZERO", 0.0, "clock correction"),
    ("TIMESYS", "TT", "Time system used to define time"),
    ("TIMEREF", "LOCAL", "reference frame used for times"),
    ("CLOCKAPP", False, "was a clock drift correction applied"),
    ("GPS_OUT", False, "whether GPS time was unavailable at any time"),
    ("NDSKEYS", 0, "Number of data subspace keywords in header"),
    ("EQUINOX", 2000.0, "Equinox of RA & DEC specifications"),
    ("OBSERVER", "Michelson", "PI name"),
    ("CREATOR", "gtbin", "Software and version creating file"),
]

#: The SKYMAP table of a HEALPIX map, before the HEALPix keywords.
SKYMAP: Template = [
    ("EXTNAME", "SKYMAP", "Extension name"),
    *_MISSION,
    ("FILTER", "NONE", "Instrument filter in use (if any)"),
    ("CHANTYPE", "PI", "Energy channel type"),
    ("HDUCLASS", "OGIP", "Format confirms to OGIP standard"),
    ("HDUCLAS1", "RESPONSE", "Extension contains response data"),
    ("HDUCLAS2", "SKYMAP", "Extension contains response matrix"),
    ("PIXTYPE", "HEALPIX", "HEALPIX scheme"),
    ("HDUVERS", "1.2.0", "Version number of the format"),
    *_TIME_KEYS,
    ("CREATOR", "gtbin", "Software and version creating file"),
]

#: The GTI of a HEALPIX map (its template has EXPOSURE but no ONTIME).
HEALPIX_GTI: Template = [
    ("EXTNAME", "GTI", "Extension name"),
    *_MISSION,
    *_MJDREF,
    *_TSTARTSTOP,
    ("EXPOSURE", 0.0, "Total livetime in seconds"),
    ("HDUCLASS", "OGIP", "File format is OGIP standard"),
    ("HDUCLAS1", "GTI", "Contains Good Time Intervals"),
    ("HDUVERS", "1.2.0", "Version of file format"),
    *_TIME_KEYS,
    ("NDSKEYS", 0, None),
    ("CREATOR", "gtbin", "Software and version creating file"),
]

#: The SPECTRUM table of a PHA2 (type II) file (``LatBinnedTemplate``).
SPECTRUM_TYPE2: Template = [
    ("EXTNAME", "SPECTRUM", "Extension name"),
    *_MISSION,
    ("HDUCLASS", "OGIP", "Format confirms to OGIP standard"),
    ("HDUCLAS1", "SPECTRUM", "PHA dataset (OGIP memo OGIP-92-007)"),
    ("HDUCLAS2", "TOTAL", "Type of data stored"),
    ("HDUCLAS3", "COUNT", "Further details of type of data stored"),
    ("HDUCLAS4", "TYPE:II", "Multiple PHA datasets"),
    ("HDUVERS", "1.2.0", "Version number of the format"),
    ("DETCHANS", 0, "Total number of detector channels available"),
    ("BACKFILE", "NONE", "Name of background file (if any)"),
    ("CORRFILE", "NONE", "Name of correction file (if any)"),
    ("CORRSCAL", 1.0, "Correction scaling factor."),
    ("RESPFILE", "NONE", "Name of redistribution matrix file (if any)"),
    ("ANCRFILE", "NONE", "Name of ancillary response file (if any)"),
    ("SYS_ERR", 0.0, "Fractional systematic error"),
    ("QUALITY", 0, "Data quality flag"),
    ("GROUPING", 0, "Data grouping flag"),
    ("AREASCAL", 1.0, "Area scaling factor"),
    ("BACKSCAL", 1.0, "Scaling factor to be applied to Bkgdfile"),
    ("CHANTYPE", "PI", "Whether channels used in the file have been corrected in any way"),
    ("FILTER", "NONE", "Instrument filter in use"),
    ("OBJECT", "", "Observed object"),
    ("EQUINOX", 2000.0, "Equinox of RA & DEC specifications"),
    ("RADECSYS", "FK5", "Stellar reference frame"),
    *_TIME_KEYS,
    ("NDSKEYS", 0, None),
    ("CREATOR", "gtbin", "Software and version creating file"),
]
