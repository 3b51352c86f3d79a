"""astropy's Earth orientation table (IERS), parsed once per environment instead of once per process.

The ITRS transform of the FT2 geometry needs polar motion and UT1-UTC: astropy's
:class:`~astropy.utils.iers.IERS_Auto` table, which the first transform of every process builds
by parsing the IERS-A and IERS-B text files shipped in ``astropy-iers-data`` (3-8 s of CPU,
paid again by each L1 worker). :func:`ensure_earth_orientation` gives astropy that same table
from a binary copy of it (numpy ``.npz``, no pickle) made the first time by astropy itself, so a
process loads it in tens of milliseconds. Nothing is computed here: the values, the columns, their
classes and units, and the table's meta data are astropy's, and astropy keeps using them as its
own (``IERS_Auto.iers_table``, refreshed by astropy as usual when a time needs newer data).

The copy is keyed by the astropy and astropy-iers-data versions and the size and modification time
of every file astropy reads, so an update of either gives a new copy; it lives in a per-user folder
under the temporary directory (``$FERMI_IERS_CACHE`` names another; ``0`` disables the copy).
A folder not owned by this user, or a copy that cannot be read or written, is ignored: astropy
then parses its files as it always does.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from fermi_core.atomic import atomic_output

#: format of the cached copy (bump when the layout below changes)
_LAYOUT = 1
_KINDS = ("quantity", "masked", "column")


def cache_folder() -> Path | None:
    """The folder of the cached table, or None when caching is disabled (``FERMI_IERS_CACHE=0``)."""
    value = os.environ.get("FERMI_IERS_CACHE", "").strip()
    if value.lower() in {"0", "no", "false", "off"}:
        return None
    if value:
        return Path(value)
    try:
        user = getpass.getuser()
    except Exception:
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"fermi-iers-cache-{user}"


def _source_key() -> str | None:
    """Digest of what ``IERS_Auto.read()`` reads, or None when astropy would read a local file."""
    import astropy
    import astropy_iers_data
    from astropy.utils import iers

    if os.path.exists("finals2000A.all"):  # astropy reads this one from the working directory
        return None
    parts: list[object] = [_LAYOUT, astropy.__version__, astropy_iers_data.__version__]
    for path in (iers.IERS_A_FILE, iers.IERS_A_README, iers.IERS_B_FILE, iers.IERS_B_README):
        st = os.stat(path)
        parts.append([str(path), st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def _owned(folder: Path) -> bool:
    try:
        st = folder.stat()
    except OSError:
        return False
    return not hasattr(os, "getuid") or st.st_uid == os.getuid()


def _save(table: object, path: Path) -> None:
    from astropy.table import MaskedColumn
    from astropy.units import Quantity

    arrays: dict[str, np.ndarray] = {}
    columns = []
    for i, name in enumerate(table.colnames):  # type: ignore[attr-defined]
        col = table[name]  # type: ignore[index]
        if isinstance(col, Quantity):
            kind, unit = "quantity", col.unit.to_string()
            arrays[f"c{i}"] = col.value
        elif isinstance(col, MaskedColumn):
            kind, unit = "masked", None
            arrays[f"c{i}"] = np.asarray(col.data.data)
            arrays[f"m{i}"] = np.asarray(col.mask)
        else:
            kind, unit = "column", None
            arrays[f"c{i}"] = np.asarray(col)
        columns.append({"name": name, "kind": kind, "unit": unit})
    meta = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in table.meta.items()}  # type: ignore[attr-defined]
    header = {
        "columns": columns,
        "meta": meta,
        "meta_types": {k: type(v).__name__ for k, v in table.meta.items()},
    }  # type: ignore[attr-defined]
    arrays["header"] = np.array(json.dumps(header))
    with atomic_output(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def _load(path: Path) -> object:
    from astropy import units as u
    from astropy.table import Column, MaskedColumn
    from astropy.utils import iers

    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(str(npz["header"]))
        table = iers.IERS_Auto()
        for i, spec in enumerate(header["columns"]):
            data = npz[f"c{i}"]
            if spec["kind"] == "quantity":
                table[spec["name"]] = u.Quantity(data, spec["unit"], copy=False)
            elif spec["kind"] == "masked":
                table[spec["name"]] = MaskedColumn(data, mask=npz[f"m{i}"])
            elif spec["kind"] == "column":
                table[spec["name"]] = Column(data)
            else:
                raise ValueError(f"{path}: unknown column kind {spec['kind']!r}")
    types = {"int64": np.int64, "float64": np.float64}
    for key, value in header["meta"].items():
        table.meta[key] = (
            types[header["meta_types"][key]](value) if header["meta_types"][key] in types else value
        )
    return table


def ensure_earth_orientation() -> None:
    """Give astropy its IERS_Auto table from the cached copy (making the copy the first time).

    Does nothing when astropy holds the table already in this process. Any failure of the cache
    leaves astropy to parse its files itself, as without this function.
    """
    from astropy.utils import iers

    if iers.IERS_Auto.iers_table is not None:
        return
    folder = cache_folder()
    key = _source_key() if folder is not None else None
    if folder is None or key is None:
        return
    path = folder / f"iers-auto-{key}.npz"
    if path.is_file() and _owned(folder):
        try:
            iers.IERS_Auto.iers_table = _load(path)
            return
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged copy: astropy parses its files, and the copy is made again
    table = iers.IERS_Auto.open()  # astropy parses its files (and keeps the table itself)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if _owned(folder):
            _save(table, path)
    except OSError:
        pass
