"""The data tree of one site: every path under the data home, built in one place.

A :class:`Site` is made once, at a command's start, from the environment
(:meth:`Site.from_env`: ``FERMI_HOME``, ``FERMI_DB_URL``) or from explicit values, and passed
down as an argument; nothing below a command reads the environment for paths, and nothing
writes ``os.environ`` to pass settings on.

Paths stored in the database or in a manifest are relative to the data home
(:meth:`Site.relative`), so a data home copied or moved elsewhere works on its own files
(:meth:`Site.resolve` turns them back into paths; an absolute path recorded by older software is
returned unchanged).

Layout (``<home>`` is :attr:`Site.home`)::

    <home>/fermi.db                      default SQLite database
    <home>/inbox/                        deliveries waiting for the pipeline
    <home>/archive/level0/<delivery>/    archived packet files (fermi-ingest)
    <home>/quarantine/<delivery>/        quarantined bytes, byte-exact (fermi-ingest)
    <home>/chunks/<delivery>/            chunk manifests (fermi-ingest)
    <home>/halfpipe/                     halfpipe working area: store/, spacecraft/, deliveries/
    <home>/runs/<run id>/                merged event files (fermi-halfpipe)
    <home>/l1/{inputs,work,products,logs}/<run folder>/   Level 1 (fermi-l1)
    <home>/l1/batch/                     Parsl's run directory (batch scripts, job and worker logs)
    <home>/outbox/                       FSSC exports (fermi-l1)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = "fermi-data"


def run_folder(run: int) -> str:
    """Folder (and key) name of a LAT run, ``r`` and the run id on ten digits: ``r0524669480``."""
    return f"r{int(run):010d}"


def run_version_folder(run: int, version: int = 1) -> str:
    """Folder (and task key) of one version of a LAT run's L1 products: ``r0524669480`` for version 1
    (as before versions existed), ``r0524669480.v002`` for the next ones."""
    return run_folder(run) if int(version) == 1 else f"{run_folder(run)}.v{int(version):03d}"


@dataclass(frozen=True)
class Site:
    """The data home of one site and its database URL.

    Parameters
    ----------
    home
        Root of the data tree (made absolute).
    db_url
        SQLAlchemy URL of the database; default SQLite ``<home>/fermi.db``.
    """

    home: Path
    db_url: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "home", Path(self.home).expanduser().resolve())
        if not self.db_url:
            object.__setattr__(self, "db_url", f"sqlite:///{self.home / 'fermi.db'}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, home: str | os.PathLike[str] | None = None,
                 db_url: str | None = None) -> Site:  # fmt: skip
        """The site of ``FERMI_HOME`` (default ``./fermi-data``) and ``FERMI_DB_URL``.

        ``home`` and ``db_url``, when given (e.g. from ``--home`` / ``--db-url`` options), take
        precedence over the environment.
        """
        env = os.environ if environ is None else environ
        root = home if home is not None else (env.get("FERMI_HOME", "").strip() or DEFAULT_HOME)
        url = db_url if db_url else env.get("FERMI_DB_URL", "").strip()
        return cls(Path(root), url)

    # -- paths stored in records ------------------------------------------------------------

    def relative(self, path: str | os.PathLike[str]) -> str:
        """``path`` relative to the data home, as stored in the database and in manifests.

        Raises
        ------
        ValueError
            ``path`` is not inside the data home.
        """
        p = Path(path)
        p = p if p.is_absolute() else Path.cwd() / p
        for candidate in (Path(os.path.normpath(p)), p.resolve()):  # the second follows symlinks
            try:
                return candidate.relative_to(self.home).as_posix()
            except ValueError:
                continue
        raise ValueError(f"{path}: not inside the data home {self.home}")

    def resolve(self, stored: str | os.PathLike[str]) -> Path:
        """The path of a stored (home-relative) path; an absolute one is returned as it is."""
        p = Path(stored)
        return p if p.is_absolute() else self.home / p

    # -- the tree ---------------------------------------------------------------------------

    @property
    def inbox(self) -> Path:
        """Deliveries waiting for the pipeline (folders or tar files)."""
        return self.home / "inbox"

    @property
    def archive(self) -> Path:
        """Archived Level-0 packet files, one folder per delivery."""
        return self.home / "archive" / "level0"

    def archive_dir(self, delivery_id: str) -> Path:
        """Archive folder of one delivery."""
        return self.archive / delivery_id

    @property
    def quarantine(self) -> Path:
        """Quarantined bytes, one folder per delivery."""
        return self.home / "quarantine"

    @property
    def chunks(self) -> Path:
        """Chunk manifests, one folder per delivery."""
        return self.home / "chunks"

    def chunk_dir(self, delivery_id: str) -> Path:
        """Chunk folder of one delivery."""
        return self.chunks / delivery_id

    @property
    def ingest_lock(self) -> Path:
        """Lock file serialising ingests of one data home."""
        return self.home / ".ingest.lock"

    @property
    def halfpipe(self) -> Path:
        """Working area of the halfpipe (datagram store, spacecraft files, delivery summaries)."""
        return self.home / "halfpipe"

    def halfpipe_store(self, run: int) -> Path:
        """Datagram store of one LAT run."""
        return self.halfpipe / "store" / run_folder(run)

    @property
    def halfpipe_spacecraft(self) -> Path:
        """Spacecraft (attitude/orbit) files the halfpipe extracts, one per delivery."""
        return self.halfpipe / "spacecraft"

    @property
    def halfpipe_summaries(self) -> Path:
        """Merge summaries, one JSON file per delivery."""
        return self.halfpipe / "deliveries"

    def halfpipe_fragments(self, delivery_id: str) -> Path:
        """Datagram fragments of one delivery, kept until the rest of their datagram arrives."""
        return self.halfpipe / "fragments" / delivery_id

    @property
    def halfpipe_forced(self) -> Path:
        """Reports of force-completed runs, one JSON file per run."""
        return self.halfpipe / "forced"

    @property
    def runs(self) -> Path:
        """Merged event files, one folder per LAT run."""
        return self.home / "runs"

    def run_dir(self, run: int) -> Path:
        """Merged event files of one LAT run (``runs/<run id>/``)."""
        return self.runs / str(int(run))

    @property
    def l1(self) -> Path:
        """Level-1 area."""
        return self.home / "l1"

    @property
    def l1_inputs(self) -> Path:
        """Per-run input folders of the FT1/FT2 step."""
        return self.l1 / "inputs"

    def l1_input_dir(self, run: int, version: int = 1) -> Path:
        """Input folder of one version of a run's products (``r<run10>``, ``r<run10>.v002`` ...)."""
        return self.l1_inputs / run_version_folder(run, version)

    @property
    def l1_work(self) -> Path:
        """Intermediate files (reconstructed crumbs) per run."""
        return self.l1 / "work"

    def l1_work_dir(self, run: int, version: int = 1) -> Path:
        """Work folder of one version of a run's products (``r<run10>``, ``r<run10>.v002`` ...)."""
        return self.l1_work / run_version_folder(run, version)

    @property
    def products(self) -> Path:
        """Catalogued products, one folder per run."""
        return self.l1 / "products"

    def products_dir(self, run: int) -> Path:
        """Product folder of one run."""
        return self.products / run_folder(run)

    def monitor_plot_dir(self, run: int, version: int = 1) -> Path:
        """Monitoring plots (PNG) of one version of a run's products (``products/r<run10>/monitor_v001/``)."""
        return self.products_dir(run) / f"monitor_v{int(version):03d}"

    @property
    def logs(self) -> Path:
        """Logs of the task attempts."""
        return self.l1 / "logs"

    @property
    def batch(self) -> Path:
        """Parsl's run directory: batch submit scripts, the jobs' stdout/stderr, worker logs."""
        return self.l1 / "batch"

    @property
    def scratch(self) -> Path:
        """Temporary folders of task attempts (one ``attempt-<id>/`` each, removed when it ends)."""
        return self.l1 / "scratch"

    def attempt_scratch(self, attempt_id: int) -> Path:
        """The temporary folder of one task attempt (its ``tempfile`` default while it runs)."""
        return self.scratch / f"attempt-{attempt_id}"

    @property
    def outbox(self) -> Path:
        """Exports waiting for the FSSC."""
        return self.home / "outbox"

    @property
    def tape(self) -> Path:
        """Default archive (tape) staging area of the retention tools."""
        return self.home / "tape"

    def environ(self) -> dict[str, str]:
        """``FERMI_HOME`` and ``FERMI_DB_URL`` of this site, for a child process's environment."""
        return {"FERMI_HOME": str(self.home), "FERMI_DB_URL": self.db_url}
