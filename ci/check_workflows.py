"""Validate ``.github/workflows/*.yml`` against the GitHub workflow JSON schema, offline.

check-jsonschema ships the schema (``--builtin-schema vendor.github-workflows``), so no
download is needed. Called by ``ci/conda_build.py``; also usable alone (e.g. from ``make lint``)::

    python ci/check_workflows.py [--root ROOT]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def workflow_files(root: Path) -> list[Path]:
    """The workflow files of ``root`` (``.yml`` and ``.yaml``), sorted."""
    folder = root / ".github" / "workflows"
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])


def check(root: Path) -> list[str]:
    """Schema errors of the workflows (empty when all are valid), each naming its file."""
    files = workflow_files(root)
    if not files:
        return [f"{root / '.github' / 'workflows'}: no workflow file"]
    cmd = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
    cmd += ["--output-format", "text", "--color", "never", *map(str, files)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        return []
    prefix = f"{root.resolve()}/"
    lines = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    problems = [ln.replace(prefix, "") for ln in lines if not ln.startswith("Schema validation errors")]
    return problems or [f"check-jsonschema exited {proc.returncode} with no message"]


def main(argv: Sequence[str] | None = None) -> int:
    """Validate the workflows; print the errors and return 1 if there is any."""
    parser = argparse.ArgumentParser(prog="ci/check_workflows.py", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="monorepo root (default: %(default)s)")
    args = parser.parse_args(argv)
    problems = check(args.root)
    if problems:
        print("ERROR: invalid GitHub workflow(s):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"OK: {len(workflow_files(args.root))} GitHub workflows are valid")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
