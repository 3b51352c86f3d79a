"""Which parameters each tool queries, and in which order (as the Fermitools tools do).

The real tools do not prompt for every parameter: gtselect asks for the file names, the
cone, the time and energy ranges and the zenith range (``DataFilter::promptForParameters``);
gtmktime and gtltcube for all of them in par-file order (hidden ones are never asked);
gtbin for the algorithm, the files, then what the chosen algorithm and binning schemes
need (evtbin's ``BinConfig``). Only the parameters a tool queries have their par-file
range enforced by the real tools, hence :data:`UNCHECKED`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

GTSELECT = ("infile", "outfile", "ra", "dec", "rad", "tmin", "tmax", "emin", "emax", "zmin", "zmax")

# Parameters read without being queried, whose par-file range the real tool does not enforce
# (gtselect's evclass is 0..31 in its par file, yet Pass 8 masks such as 128 are valid).
UNCHECKED: dict[str, tuple[str, ...]] = {
    "gtselect": ("evclass", "evtype", "convtype", "phasemin", "phasemax", "evtable", "chatter"),
}

_SPATIAL = ("nxpix", "nypix", "binsz", "coordsys", "xref", "yref", "rafield", "decfield", "axisrot", "proj")
_HEALPIX = ("hpx_ordering_scheme", "hpx_order", "coordsys", "hpx_region", "hpx_ebin")


def _binning(value_of: Callable[[str], object], kind: str) -> Iterator[str]:
    if kind == "energy":
        alg, field, begin, end, size, number, file = (
            "ebinalg",
            "efield",
            "emin",
            "emax",
            "denergy",
            "enumbins",
            "ebinfile",
        )
    else:
        alg, field, begin, end, size, number, file = (
            "tbinalg",
            "tfield",
            "tstart",
            "tstop",
            "dtime",
            "",
            "tbinfile",
        )
    yield alg
    yield field
    scheme = str(value_of(alg) or "").upper()
    if scheme == "LIN":
        yield from (begin, end, size)
    elif scheme == "LOG" and number:
        yield from (begin, end, number)
    elif scheme == "FILE":
        yield file
    elif scheme == "SNR" and kind == "time":
        yield from (begin, end, "snratio", "lcemin", "lcemax")


def _gtbin(value_of: Callable[[str], object]) -> Iterator[str]:
    yield "algorithm"
    yield from ("evfile", "evtable", "outfile", "scfile", "sctable")
    algorithm = str(value_of("algorithm") or "").upper()
    if algorithm in ("CCUBE", "CMAP"):
        yield from _SPATIAL
    if algorithm == "HEALPIX":
        yield from _HEALPIX
    if algorithm in ("CCUBE", "PHA1", "PHA2") or (algorithm == "HEALPIX" and value_of("hpx_ebin")):
        yield from _binning(value_of, "energy")
    if algorithm in ("LC", "PHA2"):
        yield from _binning(value_of, "time")


def query_order(tool: str, names: Sequence[str], value_of: Callable[[str], object]) -> Iterator[str]:
    """Yield the names ``tool`` queries, in order; ``value_of(name)`` gives a current value.

    The order is lazy: a name is yielded after the answers it depends on (gtbin's
    ``algorithm``, ``ebinalg``, ``tbinalg``, ``hpx_ebin``) are known. Each name once.
    """
    if tool == "gtselect":
        plan: Iterator[str] = iter(GTSELECT)
    elif tool == "gtbin":
        plan = _gtbin(value_of)
    else:
        plan = iter(names)
    seen: set[str] = set()
    for name in plan:
        if name in names and name not in seen:
            seen.add(name)
            yield name
