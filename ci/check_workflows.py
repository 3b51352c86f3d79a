"""Validate ``.github/workflows/*.yml`` against the GitHub workflow JSON schema, offline.

check-jsonschema ships the schema (``--builtin-schema vendor.github-workflows``), so no
download is needed. Beyond the schema (which takes any string as a cron line and any shell
text as a step), every workflow is also checked for what would only fail on GitHub, and late:

* each ``schedule`` cron line has five fields within their ranges (minute 0-59, hour 0-23, day
  1-31, month 1-12, weekday 0-6; ``*``, lists, ranges and steps);
* a scheduled workflow can also be started by hand (``workflow_dispatch``), and every job of it
  has a ``timeout-minutes`` (a nightly job left hanging would hold a runner for six hours);
* every ``make TARGET`` in a ``run`` step names a target of the monorepo's Makefile (when the
  root has one): a renamed target breaks the nightly bench first, silently, at 3 am.

Called by ``ci/conda_build.py``; also usable alone (e.g. from ``make lint``)::

    python ci/check_workflows.py [--root ROOT]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

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


#: (lowest, highest) of the five cron fields
CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_CRON_ITEM = re.compile(r"^(\*|\d+(?:-\d+)?)(?:/(\d+))?$")
_MAKE_CALL = re.compile(
    r"(?:^|[;&|(]\s*|\s)make\s+((?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+|-\S+\s+)*)([A-Za-z0-9][\w.-]*)"
)
_MAKE_TARGET = re.compile(r"^([A-Za-z0-9][\w.-]*(?:\s+[A-Za-z0-9][\w.-]*)*)\s*:(?!=)", re.MULTILINE)


def cron_problem(line: str) -> str | None:
    """Why the cron line ``line`` is not a valid five-field GitHub schedule (None if it is)."""
    fields = line.split()
    if len(fields) != 5:
        return f"cron {line!r}: {len(fields)} fields, expected 5 (minute hour day month weekday)"
    for name, value, (lo, hi) in zip(
        ("minute", "hour", "day", "month", "weekday"), fields, CRON_RANGES, strict=True
    ):
        for item in value.split(","):
            m = _CRON_ITEM.match(item)
            if m is None:
                return f"cron {line!r}: {name} {item!r} is not *, N, N-M or a step of them"
            numbers = [int(x) for x in re.findall(r"\d+", m.group(1))]
            if any(not lo <= x <= hi for x in numbers) or (m.group(2) is not None and int(m.group(2)) == 0):
                return f"cron {line!r}: {name} {item!r} outside {lo}-{hi}"
    return None


def make_targets(root: Path) -> set[str] | None:
    """Targets of ``root/Makefile`` (None when there is no Makefile)."""
    path = root / "Makefile"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    return {t for m in _MAKE_TARGET.finditer(text) for t in m.group(1).split() if not t.startswith(".")}


def _triggers(doc: dict) -> dict:
    on = doc.get("on", doc.get(True))  # PyYAML reads a bare ``on:`` key as the boolean True
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on if isinstance(on, dict) else {}


def semantic_problems(root: Path) -> list[str]:
    """What the schema lets through (see the module docstring), each naming its file."""
    targets = make_targets(root)
    problems: list[str] = []
    for path in workflow_files(root):
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            problems.append(f"{rel}: not YAML ({exc})")
            continue
        if not isinstance(doc, dict):
            continue  # the schema check reports it
        on = _triggers(doc)
        jobs = doc.get("jobs") if isinstance(doc.get("jobs"), dict) else {}
        if "schedule" in on:
            for entry in on.get("schedule") or []:
                cron = entry.get("cron") if isinstance(entry, dict) else None
                why = cron_problem(str(cron)) if cron is not None else "schedule entry without a cron line"
                if why:
                    problems.append(f"{rel}: {why}")
            if "workflow_dispatch" not in on:
                problems.append(f"{rel}: scheduled, but cannot be run by hand (add workflow_dispatch)")
            for name, job in jobs.items():
                if isinstance(job, dict) and "uses" not in job and "timeout-minutes" not in job:
                    problems.append(f"{rel}: job {name!r} of a scheduled workflow has no timeout-minutes")
        if targets is None:
            continue
        for name, job in jobs.items():
            for step in job.get("steps") or [] if isinstance(job, dict) else []:
                run = step.get("run") if isinstance(step, dict) else None
                if not isinstance(run, str):
                    continue
                for m in _MAKE_CALL.finditer(run.replace("\\\n", " ")):
                    if m.group(2) not in targets:
                        problems.append(
                            f"{rel}: job {name!r}: 'make {m.group(2)}' is not a target of the Makefile"
                        )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Validate the workflows; print the errors and return 1 if there is any."""
    parser = argparse.ArgumentParser(prog="ci/check_workflows.py", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="monorepo root (default: %(default)s)")
    args = parser.parse_args(argv)
    problems = check(args.root)
    if not problems:
        problems = semantic_problems(args.root)
    if problems:
        print("ERROR: invalid GitHub workflow(s):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"OK: {len(workflow_files(args.root))} GitHub workflows are valid")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
