"""Retention: old deliveries go to the archive area; nothing is deleted without a verified copy."""

import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.db import get_engine
from fermi_isoc.cli import main
from fermi_isoc.models import ArchiveCopy
from fermi_isoc.retention import check, migrate

from .conftest import NOW


def _delivery(db, tmp_path, delivery_id, age_days, contents=(b"packets-a" * 100, b"packets-b" * 50)):
    local_dir = tmp_path / "home" / "archive" / "level0" / delivery_id
    local_dir.mkdir(parents=True)
    pk = db.delivery(delivery_id, age_h=24 * age_days, archive_dir=str(local_dir))
    paths = []
    for i, data in enumerate(contents):
        path = local_dir / f"file{i}.pkt"
        path.write_bytes(data)
        db.file(pk, path.name, str(path), hashlib.sha256(data).hexdigest(), len(data))
        paths.append(path)
    return paths


def _session(db):
    return Session(get_engine(db.url))


def test_old_delivery_is_archived_verified_then_removed_locally(db, tmp_path):
    old = _delivery(db, tmp_path, "d-old", age_days=61)
    new = _delivery(db, tmp_path, "d-new", age_days=59)
    tape = tmp_path / "tape"
    with _session(db) as s:
        assert [(f.delivery_id, f.kind) for f in check(s, tape, now=NOW)] == [("d-old", "overdue")]
        result = migrate(s, tape, now=NOW)
        s.commit()
        assert result.deleted == ["d-old"] and result.problems == []
        assert not any(p.exists() for p in old) and not old[0].parent.exists()
        assert all(p.exists() for p in new)
        assert (tape / "d-old" / "file0.pkt").read_bytes() == b"packets-a" * 100
        rows = s.scalars(select(ArchiveCopy).order_by(ArchiveCopy.name)).all()
        assert [(r.name, r.verified_at is not None, r.local_deleted_at is not None) for r in rows] == [
            ("file0.pkt", True, True),
            ("file1.pkt", True, True),
        ]
        assert check(s, tape, now=NOW) == []  # archived and clean
        # running again changes nothing
        assert migrate(s, tape, now=NOW).archived == []


def test_corrupt_archive_copy_means_nothing_is_deleted(db, tmp_path):
    """Must show: the archive copy is corrupt, and nothing is deleted."""
    paths = _delivery(db, tmp_path, "d-old", age_days=90)
    tape = tmp_path / "tape"
    bad = tape / "d-old" / "file1.pkt"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"packets-b" * 49 + b"packets-X")  # a damaged earlier copy on the archive
    with _session(db) as s:
        result = migrate(s, tape, now=NOW)
        assert result.deleted == []
        assert [(p.name, p.kind) for p in result.problems] == [("file1.pkt", "corrupt-archive")]
        assert all(p.exists() for p in paths)  # every local file kept
        assert bad.read_bytes().endswith(b"packets-X")  # the archive copy is not overwritten either
        kinds = sorted((f.name, f.kind) for f in check(s, tape, now=NOW))
        assert kinds == [("", "overdue"), ("file1.pkt", "corrupt-archive")]


def test_copy_damaged_in_transit_means_nothing_is_deleted(db, tmp_path):
    paths = _delivery(db, tmp_path, "d-old", age_days=90)

    def flaky_tape(src, dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = bytearray(src.read_bytes())
        if src.name == "file0.pkt":
            data[10] ^= 0xFF
        dest.write_bytes(bytes(data))

    with _session(db) as s:
        result = migrate(s, tmp_path / "tape", now=NOW, copier=flaky_tape)
        assert result.deleted == []
        assert [(p.name, p.kind) for p in result.problems] == [("file0.pkt", "corrupt-archive")]
        assert all(p.exists() for p in paths)


def test_corrupt_local_copy_is_not_archived_and_missing_files_are_reported(db, tmp_path):
    paths = _delivery(db, tmp_path, "d-old", age_days=90)
    paths[0].write_bytes(b"bit rot")
    paths[1].unlink()
    recent = _delivery(db, tmp_path, "d-recent", age_days=3)
    recent[0].unlink()  # gone before the retention period ended
    tape = tmp_path / "tape"
    with _session(db) as s:
        result = migrate(s, tape, now=NOW)
        assert result.deleted == [] and result.archived == []
        assert sorted(p.kind for p in result.problems) == ["corrupt-local", "missing"]
        assert not (tape / "d-old").exists()
        found = sorted((f.delivery_id, f.name, f.kind) for f in check(s, tape, now=NOW))
        assert found == [
            ("d-old", "", "overdue"),
            ("d-old", "file0.pkt", "corrupt-local"),
            ("d-old", "file1.pkt", "missing"),
            ("d-recent", "file0.pkt", "missing"),
        ]


def test_dry_run_copies_and_deletes_nothing(db, tmp_path):
    paths = _delivery(db, tmp_path, "d-old", age_days=61)
    with _session(db) as s:
        result = migrate(s, tmp_path / "tape", now=NOW, dry_run=True)
    assert len(result.archived) == 2 and result.deleted == []
    assert all(p.exists() for p in paths) and not (tmp_path / "tape").exists()


def test_retention_command_exit_codes(db, tmp_path, capsys):
    _delivery(db, tmp_path, "d-old", age_days=10_000)  # NOW is in the past: use a huge age
    tape = tmp_path / "tape"
    assert main(["retention", "check", "--archive", str(tape)]) == 1
    assert "OVERDUE d-old" in capsys.readouterr().out
    assert main(["retention", "migrate", "--archive", str(tape)]) == 0
    assert "removed local copy of d-old" in capsys.readouterr().out
    assert main(["retention", "check", "--archive", str(tape)]) == 0
    (tape / "d-old" / "file0.pkt").write_bytes(b"tape error")
    assert main(["retention", "check", "--archive", str(tape)]) == 2
    assert "CORRUPT-ARCHIVE d-old/file0.pkt" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["retention", "prune"])
