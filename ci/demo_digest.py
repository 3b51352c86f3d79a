"""SHA-256 of every product and merged file of a demo data home, for before/after comparisons.

``python ci/demo_digest.py HOME > digest.txt`` prints one line per file (path relative to
``HOME``). The only thing that differs between two runs of the same seed is the processing date
(``DATE`` in every FITS header, chosen when a run's task is first created): FITS files are hashed
after stamping a fixed ``DATE`` into a temporary copy (with re-computed checksums), and the outbox
manifests after replacing each FITS file's hash by its normalised one. Everything else is hashed
as it is.

``python ci/demo_digest.py HOME --compare digest.txt`` exits 1 and lists the differences.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

FIXED_DATE = "2000-01-01T00:00:00"
PATTERNS = (
    "runs/**/*.arrow",
    "halfpipe/spacecraft/*.arrow",
    "l1/work/**/*.parquet",
    "l1/inputs/**/*.parquet",
    "l1/products/**/*.fit",
    "outbox/**/*.fit",
    "outbox/**/manifest.json",
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fits_digest(path: Path, tmp: Path) -> str:
    from fermi_l1.fitsdate import stamp_date

    copy = tmp / path.name
    shutil.copyfile(path, copy)
    stamp_date(copy, FIXED_DATE)
    digest = _sha(copy.read_bytes())
    copy.unlink()
    return digest


def digest(home: Path) -> dict[str, str]:
    """``{relative path: normalised SHA-256}`` of the demo's products and merged files."""
    out: dict[str, str] = {}
    raw_to_norm: dict[str, str] = {}
    files = sorted({p for pattern in PATTERNS for p in home.glob(pattern) if p.is_file()})
    with tempfile.TemporaryDirectory() as tmp:
        for p in files:
            if p.suffix == ".fit":
                norm = _fits_digest(p, Path(tmp))
                raw_to_norm[_sha(p.read_bytes())] = norm
                out[str(p.relative_to(home))] = norm
        for p in files:
            rel = str(p.relative_to(home))
            if p.name == "manifest.json":
                doc = json.loads(p.read_text())
                for f in doc.get("files", []):
                    f["sha256"] = raw_to_norm.get(f["sha256"], f["sha256"])
                out[rel] = _sha(json.dumps(doc, sort_keys=True).encode())
            elif p.suffix != ".fit":
                out[rel] = _sha(p.read_bytes())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path)
    parser.add_argument("--compare", type=Path, help="a digest printed before; exit 1 on any difference")
    args = parser.parse_args(argv)
    now = digest(args.home)
    if args.compare is None:
        for rel, sha in now.items():
            print(f"{sha}  {rel}")
        return 0
    before = dict(reversed(line.split("  ", 1)) for line in args.compare.read_text().splitlines() if line)
    diffs = [f"differs: {r}" for r in sorted(set(now) & set(before)) if now[r] != before[r]]
    diffs += [f"missing now: {r}" for r in sorted(set(before) - set(now))]
    diffs += [f"new: {r}" for r in sorted(set(now) - set(before))]
    for line in diffs:
        print(line)
    print(f"{len(now)} files compared, {len(diffs)} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
