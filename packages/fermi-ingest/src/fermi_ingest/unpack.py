"""What a delivery path may be: a directory of packet files, or a tar (optionally compressed) of one.

Refused, with one line naming the file (and the member or offset where known) and the reason:

* a tar the stdlib ``data`` filter refuses (a member outside the destination, an absolute or
  outside link, a device file), a truncated or damaged tar or compressed stream;
* a symbolic link inside a delivery directory pointing outside it (it would archive bytes that
  are not part of the delivery), or one that cannot be resolved (a loop).

Nothing is registered for a refused delivery: the caller unpacks into a scratch directory it
removes whatever happens.
"""

from __future__ import annotations

import os
import tarfile
import zlib
from pathlib import Path

from fermi_ingest.errors import IngestError


class BadDeliveryInput(IngestError):
    """The delivery path is not a usable directory or archive (the message names the file)."""


def _where(tar: tarfile.TarFile | None) -> str:
    """Where reading stopped: in or after the last member read (and where its data ends), or at the start."""
    members = tar.members if tar is not None else []  # what was read (the archive may be closed)
    if not members:
        return "at the start"
    last = members[-1]
    return f"in or after member {last.name!r} (its data ends at tar offset {last.offset_data + last.size})"


def unpack_tar(path: Path, workdir: Path) -> None:
    """Extract the tar ``path`` into ``workdir`` with the ``data`` filter; refuse it on any fault.

    Raises
    ------
    BadDeliveryInput
        A member the filter refuses (names it and why), or a truncated or damaged archive
        (names the last good member and its offset).
    """
    tar = None
    try:
        with tarfile.open(path) as tar:
            tar.extractall(workdir, filter="data")
    except tarfile.FilterError as exc:
        info = exc.tarinfo
        name = info.name if info is not None else "?"
        link = f" (link to {info.linkname!r})" if info is not None and (info.issym() or info.islnk()) else ""
        raise BadDeliveryInput(f"{path}: tar member {name!r}{link}: refused: {exc}") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, EOFError) and exc.filename is not None:
            raise  # a local I/O failure (disk full, permissions), not the archive's fault
        reason = str(exc) or type(exc).__name__
        raise BadDeliveryInput(f"{path}: truncated or damaged archive {_where(tar)}: {reason}") from None


def refuse_outside_links(directory: Path) -> None:
    """Refuse a delivery directory holding a symbolic link that points outside it.

    Raises
    ------
    BadDeliveryInput
        Names the link and its target.
    """
    root = directory.resolve()
    for entry in sorted(directory.rglob("*")):
        if entry.is_symlink():
            try:
                target = entry.resolve()
            except (RuntimeError, OSError) as exc:  # a symlink loop (RuntimeError before Python 3.13)
                raise BadDeliveryInput(
                    f"{entry}: symbolic link that cannot be resolved ({exc}); refused"
                ) from None
            if not target.is_relative_to(root):
                raise BadDeliveryInput(
                    f"{entry}: symbolic link to {target}, outside the delivery directory; refused"
                )


def open_delivery(path: Path, workdir: Path) -> Path:
    """Return the delivery directory at ``path``: itself, or a tar of one unpacked into ``workdir``.

    Raises
    ------
    BadDeliveryInput
        See the module docstring; also a path that is neither a directory nor a tar.
    """
    if path.is_dir():
        refuse_outside_links(path)
        return path
    if path.is_file():
        try:
            is_tar = tarfile.is_tarfile(path)
        except (OSError, EOFError, zlib.error) as exc:
            raise BadDeliveryInput(f"{path}: unreadable ({exc})") from None
        if is_tar:
            unpack_tar(path, workdir)
            entries = list(workdir.iterdir())
            directory = entries[0] if len(entries) == 1 and entries[0].is_dir() else workdir
            try:
                refuse_outside_links(directory)
            except BadDeliveryInput as exc:
                # name the archive and its member, not the scratch directory it was unpacked into
                raise BadDeliveryInput(str(exc).replace(f"{workdir}{os.sep}", f"{path}: member ")) from None
            return directory
    raise BadDeliveryInput(f"{path}: neither a delivery directory nor a tar archive")
