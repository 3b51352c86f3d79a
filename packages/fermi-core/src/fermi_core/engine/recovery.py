"""What a killed driver leaves behind: attempts it never recorded, and the temporary files of dead attempts.

A driver records an attempt's outcome when its worker reports back. If the driver is killed in
between, the worker may have finished the work -- outputs written -- with nothing recorded.
So a worker leaves a *result file* beside the attempt's log when its task returns
(:func:`write_result`: the outputs and the SHA-256 of each output that is a file), and the next
driver, finding the attempt still ``queued``/``running`` under a dead driver, reconciles it
(:func:`reconciled_outputs`): when every output file is there with the checksum the worker
recorded, the work is recorded done (the attempt and its task run); otherwise the attempt is
``crashed`` and retried.

Temporary files of attempts killed mid-way are removed by the next pass
(:func:`clean_dead_attempts`):

* each attempt's own scratch folder (``Site.attempt_scratch``: its ``tempfile`` default while
  it runs), once the attempt is no longer in flight;
* the hidden temporary names of the atomic writers (:mod:`fermi_core.atomic`:
  ``.<name>.<8 random>.tmp`` files and ``.<name>.<8 random>`` folders, ``.unpack-<8 random>``
  folders of an ingest) anywhere in the data home, last changed since the earliest dead
  attempt started (``.rerun-<id>/`` folders, kept on purpose by re-runs, are not searched).
  The driver holds the data home's lock (:mod:`.lock`), so no other driver is writing them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from fermi_core.atomic import atomic_write_text
from fermi_core.checksum import sha256_file
from fermi_core.site import Site

__all__ = ["TEMP_NAMES", "clean_dead_attempts", "reconciled_outputs", "result_path", "write_result"]

log = logging.getLogger(__name__)

#: hidden temporary names of the atomic writers (files and folders being written)
TEMP_NAMES = (
    re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$"),  # atomic_output: .<name>.<random>.tmp
    re.compile(r"^\..+\.[a-z0-9_]{8}$"),  # atomic_directory: .<name>.<random>
    re.compile(r"^\.unpack-[a-z0-9_]{8}$"),  # an ingest's unpacked delivery
)
_KEPT = re.compile(r"^\.rerun-\d+$")
_SCRATCH = re.compile(r"^attempt-(\d+)$")


def result_path(log_path: str | os.PathLike[str]) -> Path:
    """The result file of the attempt whose log is ``log_path`` (``….attempt3.log`` -> ``….attempt3.result.json``)."""
    p = Path(log_path)
    return p.with_name(p.name.removesuffix(".log") + ".result.json")


def _resolve(site: Site, output: str) -> Path:
    return site.resolve(output)


def write_result(
    site: Site, log_path: str | os.PathLike[str], attempt_id: int, outputs: Sequence[str]
) -> Path:
    """Record, beside the attempt's log, what its task returned and the SHA-256 of each output file."""
    sums = {}
    for out in outputs:
        path = _resolve(site, out)
        if path.is_file():
            sums[out] = sha256_file(path)
    body = {"attempt": attempt_id, "outputs": list(outputs), "sha256": sums}
    return atomic_write_text(result_path(log_path), json.dumps(body, indent=1, sort_keys=True) + "\n")


def reconciled_outputs(site: Site, attempt_id: int, log_path: str | None) -> list[str] | None:
    """The outputs of a finished attempt nobody recorded, if its result file and output checksums hold.

    None when there is no result file for this attempt, or an output file is missing or does
    not have the checksum its worker recorded (the work is then redone).
    """
    if not log_path:
        return None
    path = result_path(site.resolve(log_path))
    try:
        body: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if body.get("attempt") != attempt_id:
        return None
    for out, digest in dict(body.get("sha256", {})).items():
        file = _resolve(site, out)
        try:
            if sha256_file(file) != digest:
                log.warning("attempt %s: %s changed since its worker finished: redone", attempt_id, file)
                return None
        except OSError:
            log.warning("attempt %s: %s is missing: redone", attempt_id, file)
            return None
    return [str(o) for o in body.get("outputs", [])]


def _remove(path: Path) -> bool:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("cannot remove the temporary %s of a dead attempt: %s", path, exc)
        return False
    return True


def _temp_entries(root: Path, since: float) -> Iterable[Path]:
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        keep = []
        for d in dirs:
            if _KEPT.match(d):
                continue
            if any(p.match(d) for p in TEMP_NAMES) and (here / d).lstat().st_mtime >= since:
                yield here / d
                continue
            keep.append(d)
        dirs[:] = keep
        for f in files:
            if any(p.match(f) for p in TEMP_NAMES[:1]):
                try:
                    if (here / f).lstat().st_mtime >= since:
                        yield here / f
                except FileNotFoundError:
                    continue


def clean_dead_attempts(site: Site, in_flight: set[int], dead_since: datetime | None) -> list[Path]:
    """Remove the temporary files of attempts no longer in flight; return what was removed.

    Parameters
    ----------
    site
        The data home.
    in_flight
        Ids of the attempts still queued or running (their scratch folders are kept).
    dead_since
        When the earliest attempt of a dead driver started (None: no dead attempt was found,
        and only scratch folders are removed); hidden temporary names changed since then are
        removed from the whole data home.
    """
    removed = []
    if site.scratch.is_dir():
        for entry in sorted(site.scratch.iterdir()):
            m = _SCRATCH.match(entry.name)
            if m and int(m.group(1)) not in in_flight and _remove(entry):
                removed.append(entry)
    if dead_since is not None and site.home.is_dir():
        since = dead_since.timestamp() - 1.0  # file times have a coarser clock on some file systems
        for entry in list(_temp_entries(site.home, since)):
            if _remove(entry):
                removed.append(entry)
    for path in removed:
        log.info("removed %s, left by a dead attempt", site.relative(path))
    return removed
