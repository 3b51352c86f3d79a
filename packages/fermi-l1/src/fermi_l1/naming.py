"""File names of the L1 products, as exported to the FSSC (ICD naming).

``gll_<kind>_p<proc>_r<run10>_v<ver3>.fit`` with the run id on 10 digits and the file version
on 3, e.g. ``gll_ph_p305_r0239557414_v001.fit``. Processing versions follow the L1 config:
305 for event files (P8R3), 310 for spacecraft files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fermi_core.site import run_folder

#: Product kind -> (file-name tag, default processing version, catalog data type).
KINDS: dict[str, tuple[str, int, str]] = {
    "ft1": ("ph", 305, "FT1"),
    "extendedft1": ("xp", 305, "EXTENDEDFT1"),
    "ls1": ("ev", 305, "LS1"),
    "ft2": ("pt", 310, "FT2"),
    "ft2seconds": ("pt1s", 310, "FT2SECONDS"),
}

_NAME = re.compile(r"^gll_(?P<tag>[a-z0-9]+)_p(?P<proc>\d+)_r(?P<run>\d{10})_v(?P<ver>\d{3})\.fit$")


@dataclass(frozen=True)
class ProductName:
    """The parts of an L1 product file name."""

    kind: str
    run: int
    version: int = 1
    proc: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown product kind {self.kind!r} (known: {', '.join(KINDS)})")
        if not 0 <= self.run < 10**10:
            raise ValueError(f"run id {self.run} does not fit 10 digits")
        if not 0 <= self.version < 1000:
            raise ValueError(f"file version {self.version} does not fit 3 digits")

    @property
    def proc_ver(self) -> int:
        """Processing version (the kind's default unless given)."""
        return KINDS[self.kind][1] if self.proc is None else int(self.proc)

    @property
    def data_type(self) -> str:
        """Data-catalog type (upper case, as the L1 pipeline registers it)."""
        return KINDS[self.kind][2]

    @property
    def filename(self) -> str:
        """The file name, e.g. ``gll_pt1s_p310_r0239557414_v001.fit``."""
        tag = KINDS[self.kind][0]
        return f"gll_{tag}_p{self.proc_ver}_{run_folder(self.run)}_v{self.version:03d}.fit"

    @classmethod
    def parse(cls, name: str) -> ProductName:
        """Return the parts of a product file name (``ValueError`` naming it if it is not one)."""
        m = _NAME.match(name)
        if m is None:
            raise ValueError(f"{name!r} is not an L1 product name gll_<kind>_p<proc>_r<run10>_v<ver3>.fit")
        tags = {tag: kind for kind, (tag, _, _) in KINDS.items()}
        if m["tag"] not in tags:
            raise ValueError(f"{name!r}: unknown product tag {m['tag']!r}")
        return cls(tags[m["tag"]], int(m["run"]), int(m["ver"]), int(m["proc"]))


def product_name(kind: str, run: int, version: int = 1, proc: int | None = None) -> str:
    """Return the file name of product ``kind`` of ``run`` (see :class:`ProductName`)."""
    return ProductName(kind, int(run), int(version), proc).filename
