"""More bad delivery inputs (issue 12, "ingest input edge cases"), each refused through
``fermi-ingest ingest`` with exit 1 and one line on stderr naming the file, no traceback, and
nothing registered: tar members the stdlib ``data`` filter refuses (a relative link leaving the
destination, a hard link to an absolute path, a FIFO), a truncated plain tar and a ``.tar.gz``
cut inside its gzip header, a symbolic link loop (in a folder and in a tar) and a linked
directory pointing outside the delivery folder.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import select

from fermi_core.db import session_scope
from fermi_ingest import synthetic as sy
from fermi_ingest.cli import main
from fermi_ingest.ingest import count_rows
from fermi_ingest.models import Delivery

RUN = 600_000_000
DID = "230430001"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("FERMI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FERMI_DB_URL", raising=False)
    return tmp_path / "home"


def _delivery(tmp_path: Path) -> Path:
    cols = sy.interleave([sy.event_stream(956, RUN, 6, float(RUN)), sy.spacecraft_stream(float(RUN), 6)])
    sy.write_delivery(tmp_path / DID, DID, [cols])
    return tmp_path / DID


def _refused(capsys, path: Path) -> str:
    """Run ``fermi-ingest ingest path``: exit 1, one line on stderr, no traceback; return the line."""
    capsys.readouterr()
    assert main(["ingest", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("fermi-ingest ingest: error: ") and str(path) in err, err
    assert ".unpack-" not in err, err  # the archive is named, not the scratch directory
    return err


def _nothing_registered(home: Path) -> None:
    with session_scope() as s:
        assert s.scalars(select(Delivery)).all() == []
        assert set(count_rows(s).values()) == {0}
    assert not list(home.glob(".unpack-*"))  # the scratch directory is gone
    assert not (home / "archive").exists() or not any((home / "archive").rglob("*.pkt"))


def _tar(tmp_path: Path, name: str, delivery: Path, extra: list[tarfile.TarInfo], mode: str = "w:gz") -> Path:
    path = tmp_path / name
    with tarfile.open(path, mode) as tf:
        tf.add(delivery, arcname=DID)
        for info in extra:
            tf.addfile(info)
    return path


def _link(name: str, kind: bytes, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize(
    ("member", "kind", "target"),
    [
        (f"{DID}/up.pkt", tarfile.SYMTYPE, "../../outside.pkt"),  # relative, leaves the destination
        (f"{DID}/hard.pkt", tarfile.LNKTYPE, "/etc/passwd"),  # hard link to an absolute path
    ],
)
def test_tar_link_leaving_the_destination_is_refused(member, kind, target, tmp_path, home, capsys):
    path = _tar(tmp_path, "links.tar.gz", _delivery(tmp_path), [_link(member, kind, target)])
    err = _refused(capsys, path)
    assert repr(member) in err and repr(target) in err and "refused" in err, err
    _nothing_registered(home)


def test_tar_fifo_member_is_refused(tmp_path, home, capsys):
    fifo = tarfile.TarInfo(f"{DID}/pipe")
    fifo.type = tarfile.FIFOTYPE
    err = _refused(capsys, _tar(tmp_path, "fifo.tar.gz", _delivery(tmp_path), [fifo]))
    assert f"'{DID}/pipe'" in err and "refused" in err, err
    _nothing_registered(home)


def test_truncated_plain_tar_is_refused(tmp_path, home, capsys):
    full = _tar(tmp_path, "whole.tar", _delivery(tmp_path), [], mode="w")
    data = full.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: len(data) * 2 // 3])
    err = _refused(capsys, cut)
    assert "truncated or damaged archive" in err or "neither a delivery directory nor a tar" in err, err
    _nothing_registered(home)


def test_tar_gz_cut_inside_its_gzip_header_is_refused(tmp_path, home, capsys):
    data = _tar(tmp_path, "whole.tar.gz", _delivery(tmp_path), []).read_bytes()
    cut = tmp_path / "header.tar.gz"
    cut.write_bytes(data[:6])  # the gzip magic and part of its header only
    _refused(capsys, cut)
    _nothing_registered(home)


def test_symlink_loop_in_a_delivery_folder_is_refused(tmp_path, home, capsys):
    d = _delivery(tmp_path)
    (d / "loop_a").symlink_to("loop_b")
    (d / "loop_b").symlink_to("loop_a")
    err = _refused(capsys, d)
    assert "loop_a" in err and "cannot be resolved" in err, err
    _nothing_registered(home)


def test_symlink_loop_in_a_tar_is_refused(tmp_path, home, capsys):
    loop = [
        _link(f"{DID}/loop_a", tarfile.SYMTYPE, "loop_b"),
        _link(f"{DID}/loop_b", tarfile.SYMTYPE, "loop_a"),
    ]
    path = _tar(tmp_path, "loop.tar.gz", _delivery(tmp_path), loop)
    err = _refused(capsys, path)
    assert f"{path}: member {DID}/loop_a: symbolic link that cannot be resolved" in err, err
    _nothing_registered(home)


def test_linked_directory_pointing_outside_the_delivery_is_refused(tmp_path, home, capsys):
    d = _delivery(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "extra.pkt").write_bytes(b"\0" * 16)
    (d / "more").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    err = _refused(capsys, d)
    assert f"{d / 'more'}:" in err and "outside the delivery directory" in err, err
    _nothing_registered(home)


def test_the_refusals_leave_a_good_delivery_ingestible(tmp_path, home, capsys):
    """A refused tar registers nothing, so the same delivery as a folder still ingests."""
    d = _delivery(tmp_path)
    _refused(capsys, _tar(tmp_path, "bad.tar.gz", d, [_link(f"{DID}/up", tarfile.SYMTYPE, "/etc")]))
    assert main(["ingest", str(d)]) == 0
    with session_scope() as s:
        assert [x.delivery_id for x in s.scalars(select(Delivery))] == [DID]
    assert os.listdir(home / "archive")
