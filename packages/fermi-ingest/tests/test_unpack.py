"""Bad delivery inputs are refused in one line naming the file, and nothing is registered."""

from __future__ import annotations

import io
import os
import tarfile

import numpy as np
import pytest
from sqlalchemy import select

from fermi_core.db import session_scope
from fermi_ingest import synthetic as sy
from fermi_ingest.cli import main
from fermi_ingest.ingest import count_rows, ingest
from fermi_ingest.models import Delivery
from fermi_ingest.unpack import BadDeliveryInput

RUN = 600_000_000


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FERMI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FERMI_DB_URL", raising=False)
    return tmp_path / "home"


def _delivery(tmp_path, did="230430001"):
    cols = sy.interleave([sy.event_stream(956, RUN, 6, float(RUN)), sy.spacecraft_stream(float(RUN), 6)])
    sy.write_delivery(tmp_path / did, did, [cols])
    return tmp_path / did


def _refused(capsys, path) -> str:
    """Run the command on ``path``: exit 1, one line on stderr, no traceback; return the line."""
    capsys.readouterr()
    assert main(["ingest", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def _nothing_registered(home):
    with session_scope() as s:
        assert s.scalars(select(Delivery)).all() == []
        assert set(count_rows(s).values()) == {0}
    assert not list(home.glob(".unpack-*"))  # the scratch directory is gone
    assert not (home / "archive").exists() or not any((home / "archive").rglob("*.pkt"))


def _tar_with(tmp_path, name, add) -> os.PathLike:
    path = tmp_path / name
    with tarfile.open(path, "w:gz") as tf:
        add(tf)
    return path


def test_member_outside_the_destination_is_refused(tmp_path, home, capsys):
    d = _delivery(tmp_path)

    def add(tf):
        tf.add(d, arcname="230430001")
        tf.add(d / "manifest.json", arcname="../escape.json")

    err = _refused(capsys, _tar_with(tmp_path, "bad.tar.gz", add))
    assert "bad.tar.gz" in err and "'../escape.json'" in err and "refused" in err
    assert not (tmp_path / "escape.json").exists() and not (home / "escape.json").exists()
    _nothing_registered(home)


def test_absolute_link_is_refused(tmp_path, home, capsys):
    d = _delivery(tmp_path)

    def add(tf):
        tf.add(d, arcname="230430001")
        link = tarfile.TarInfo("230430001/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)

    err = _refused(capsys, _tar_with(tmp_path, "abs.tar.gz", add))
    assert "abs.tar.gz" in err and "230430001/passwd" in err and "/etc/passwd" in err
    _nothing_registered(home)


@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_truncated_archive_is_refused_naming_where(keep, tmp_path, home, capsys):
    d = _delivery(tmp_path)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(d, arcname="230430001")
    data = buf.getvalue()
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(data[: int(len(data) * keep)])
    err = _refused(capsys, path)
    assert "cut.tar.gz" in err and "truncated or damaged archive" in err
    _nothing_registered(home)
    with pytest.raises(BadDeliveryInput, match=r"cut\.tar\.gz"):
        ingest(path)


def test_damaged_compressed_stream_is_refused(tmp_path, home, capsys):
    d = _delivery(tmp_path)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(d, arcname="230430001")
    data = np.frombuffer(buf.getvalue(), np.uint8).copy()
    data[len(data) // 2 : len(data) // 2 + 64] ^= 0x5A
    path = tmp_path / "flipped.tar.gz"
    path.write_bytes(data.tobytes())
    err = _refused(capsys, path)
    assert "flipped.tar.gz" in err
    _nothing_registered(home)


def test_symlink_out_of_a_delivery_directory_is_refused(tmp_path, home, capsys):
    d = _delivery(tmp_path)
    pkt = d / "230430001_000.pkt"
    outside = tmp_path / "elsewhere.pkt"
    outside.write_bytes(pkt.read_bytes())
    pkt.unlink()
    pkt.symlink_to(outside)  # same bytes, so the manifest still matches
    err = _refused(capsys, d)
    assert "230430001_000.pkt" in err and "outside the delivery directory" in err
    _nothing_registered(home)


def test_a_delivery_directory_reached_through_a_link_is_fine(tmp_path, home):
    d = _delivery(tmp_path)
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "230430001").symlink_to(d, target_is_directory=True)
    assert ingest(tmp_path / "inbox" / "230430001").n_packets > 0


def test_a_good_tar_still_ingests(tmp_path, home):
    d = _delivery(tmp_path)
    path = _tar_with(tmp_path, "good.tar.gz", lambda tf: tf.add(d, arcname="230430001"))
    assert ingest(path).n_packets > 0
