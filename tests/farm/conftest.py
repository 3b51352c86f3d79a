"""The L1 pipeline on a real Slurm cluster through Parsl's SlurmProvider (issue 13).

The cluster is the throw-away single-node one of ``ci/slurm.sh`` (started once for the whole
CI run by ``.ci/run``; by hand: ``source ci/slurm.sh && slurm_start``), announced by
``FERMI_TEST_SLURM=1``, ``SLURM_CONF`` and ``FERMI_SLURM_PARTITION``. Without it every test
here skips, saying so.

One small simulated data set (``hours=0.05``: two LAT runs, four recon crumbs) is ingested and
merged once per session with the public commands; each test copies that data home (its paths
are home-relative) and runs ``fermi-l1 pipeline --from-halfpipe --config farm.toml`` on the
copy in a child process, with the processing date fixed so that products can be compared byte
for byte with those of the local process pool on the same inputs.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SLURM_SH = ROOT / "ci" / "slurm.sh"
DATE = "2026-01-01T00:00:00"
HOURS = 0.05
#: how long one pipeline pass on the cluster may take before the test gives up
PASS_TIMEOUT = 300.0


@dataclass(frozen=True)
class Cluster:
    """The test cluster: partition, ``slurm.conf`` and the ``ci/slurm.sh`` state folder."""

    partition: str
    conf: str
    folder: str

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a Slurm or ``ci/slurm.sh`` command against this cluster."""
        env = {**os.environ, "SLURM_CONF": self.conf}
        return subprocess.run(list(argv), env=env, capture_output=True, text=True, check=check, timeout=120)

    def job_state(self, job_id: str) -> str:
        """The controller's state of a job (``RUNNING``, ``CANCELLED``, ``NODE_FAIL``, ...; '' once forgotten)."""
        out = self.run("scontrol", "--oneliner", "show", "job", job_id, check=False).stdout
        m = re.search(r"\bJobState=(\S+)", out)
        return m[1] if m else ""

    def node_state(self) -> str:
        """State of the partition's node (``idle``, ``mixed``, ``down*``, ...)."""
        out = self.run("sinfo", "--noheader", f"--partition={self.partition}", "--format=%T", check=False)
        return out.stdout.strip()


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    """The running test cluster (skips with the reason when there is none)."""
    if os.environ.get("FERMI_TEST_SLURM") != "1":
        pytest.skip(
            "no Slurm test cluster: FERMI_TEST_SLURM is unset (start one: source ci/slurm.sh && slurm_start)"
        )
    pytest.importorskip("parsl", reason="Parsl (fermi-core[farm]) is not installed")
    conf = os.environ.get("SLURM_CONF", "")
    c = Cluster(os.environ.get("FERMI_SLURM_PARTITION", "fermi"), conf, os.environ.get("FERMI_SLURM_DIR", ""))
    if not conf or shutil.which("sinfo") is None or not c.node_state():
        pytest.skip(f"FERMI_TEST_SLURM=1 but the cluster of SLURM_CONF={conf!r} does not answer sinfo")
    return c


def _quiet(fn: Callable[[list[str]], int], argv: list[str]) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        rc = fn(argv)
    return int(rc or 0), buf.getvalue()


@pytest.fixture(scope="session")
def merged_home(tmp_path_factory: pytest.TempPathFactory, cluster: Cluster) -> Path:
    """A data home with the simulated deliveries ingested and merged (not to be modified: copy it)."""
    from fermi_halfpipe.cli import main as halfpipe
    from fermi_ingest.cli import main as ingest
    from fermi_latsim.simulate import SimulationConfig, simulate

    root = tmp_path_factory.mktemp("farm-data")
    home = root / "merged"
    summary = simulate(root / "latsim", SimulationConfig(hours=HOURS, seed=5))
    site = ["--home", str(home), "--db-url", f"sqlite:///{home / 'fermi.db'}"]
    for d in summary["deliveries"]:
        rc, out = _quiet(ingest, [*site, "ingest", str(root / "latsim" / "deliveries" / d["delivery_id"])])
        assert rc == 0, out
    for d in summary["deliveries"]:
        rc, out = _quiet(halfpipe, [*site, "merge", d["delivery_id"]])
        assert rc == 0, out
    return home


def copy_home(merged: Path, dest: Path) -> Path:
    """A copy of the merged data home at ``dest``."""
    shutil.copytree(merged, dest)
    return dest


def products(home: Path) -> dict[str, str]:
    """``{home-relative path: SHA-256}`` of every product and export of a data home.

    The monitoring PNGs are compared by their image size only: their pixels come from the
    host's font rendering, which differed between the batch jobs and the pytest process in CI
    (every plot, with the same histograms and verdicts); the science products are compared byte
    for byte.
    """
    out = {}
    for top in ("l1/products", "outbox"):
        for f in sorted((home / top).rglob("*")):
            if f.is_file() and f.suffix == ".png":
                ihdr = f.read_bytes()[16:24]  # width, height (big-endian uint32) of the IHDR chunk
                out[f.relative_to(home).as_posix()] = "png {}x{}".format(*struct.unpack(">II", ihdr))
            elif f.is_file():
                out[f.relative_to(home).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def pipeline_argv(home: Path, *extra: str) -> list[str]:
    """``fermi-l1 pipeline`` of ``home`` (its own SQLite database, the fixed processing date)."""
    return ["--home", str(home), "--db-url", f"sqlite:///{home / 'fermi.db'}", "pipeline", "--from-halfpipe",
            "--no-progress", "--processing-date", DATE, *extra]  # fmt: skip


@pytest.fixture(scope="session")
def local_products(tmp_path_factory: pytest.TempPathFactory, merged_home: Path) -> dict[str, str]:
    """Products of the local process pool on the merged inputs (the reference)."""
    from fermi_l1.cli import main as l1

    home = copy_home(merged_home, tmp_path_factory.mktemp("farm-local") / "home")
    rc, out = _quiet(l1, pipeline_argv(home, "--workers", "2"))
    assert rc == 0, out
    got = products(home)
    fits = [p for p in got if p.startswith("l1/products/") and p.endswith(".fit")]
    assert len(fits) == 10, got  # 5 FITS products x 2 runs (besides the MONITOR file and plots)
    return got


def farm_toml(path: Path, cluster: Cluster, **executor: object) -> Path:
    """A farm configuration for the test cluster, with short Parsl timeouts (CI time is small).

    One worker per block and up to two blocks: the node's two CPUs run two batch jobs side by
    side. The command prefix (``env ...``, standing in for ``apptainer exec IMAGE``) is put in
    front of every worker pool.
    """
    settings: dict[str, object] = {
        "kind": "parsl", "provider": "slurm", "max_workers": 1, "address": "127.0.0.1",
        "command_prefix": "env FERMI_FARM_TEST=1", "heartbeat_period": 2, "heartbeat_threshold": 8,
        "strategy_period": 1, **executor,
    }  # fmt: skip
    lines = ["[executor]"] + [f"{k} = {_toml(v)}" for k, v in settings.items()]
    lines += ["[slurm]", f"partition = {_toml(cluster.partition)}", 'walltime = "00:10:00"', "init_blocks = 1",
              "max_blocks = 2", "status_polling_interval = 2"]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(v: object) -> str:
    return f'"{v}"' if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)


class FarmPass:
    """``fermi-l1 pipeline --config farm.toml`` running in a child process, watched from the test."""

    def __init__(self, home: Path, config: Path, cluster: Cluster) -> None:
        self.home, self.cluster = home, cluster
        self.t0 = time.monotonic()
        code = "import sys; from fermi_l1.cli import main; sys.exit(main(sys.argv[1:]))"
        env = {**os.environ, "SLURM_CONF": cluster.conf}
        env.pop("FERMI_DB_URL", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, *pipeline_argv(home, "--config", str(config))],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
        )  # fmt: skip

    def attempts(self) -> list[dict]:
        """Every attempt so far: task, key, number, state, batch id, exit code, error, log path."""
        db = self.home / "fermi.db"
        if not db.exists():
            return []
        try:
            with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as con:
                con.row_factory = sqlite3.Row
                rows = con.execute(
                    "SELECT t.name AS task, r.key, a.id, a.number, a.state, a.batch_id, a.exit_code, a.error, "
                    "a.log_path FROM pipeline_attempt a JOIN pipeline_run r ON r.id = a.run_pk "
                    "JOIN pipeline_task t ON t.id = r.task_pk ORDER BY a.id"
                ).fetchall()
        except sqlite3.OperationalError:  # tables not there yet, or locked for a moment
            return []
        return [dict(r) for r in rows]

    def wait_for(self, what: str, pred: Callable[[dict], bool], timeout: float = 120.0) -> dict:
        """The first attempt for which ``pred`` holds (polled every 0.1 s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for a in self.attempts():
                if pred(a):
                    return a
            if self.proc.poll() is not None:
                pytest.fail(
                    f"the pipeline ended (rc {self.proc.returncode}) before {what}:\n{self.proc.stdout.read()}"
                )
            time.sleep(0.1)
        pytest.fail(f"no {what} within {timeout:.0f} s; attempts: {self.attempts()}")

    def finish(self) -> tuple[int, str]:
        """Wait for the pass to end; its exit code and output."""
        try:
            out, _ = self.proc.communicate(timeout=PASS_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            out, _ = self.proc.communicate()
            pytest.fail(
                f"the pipeline did not finish within {PASS_TIMEOUT:.0f} s:\n{out}\nattempts: {self.attempts()}"
            )
        self.seconds = time.monotonic() - self.t0
        return self.proc.returncode, out

    def kill(self) -> None:
        """Stop the pass (its process group) if it still runs."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()


@pytest.fixture
def farm_pass(cluster: Cluster) -> Iterator[Callable[[Path, Path], FarmPass]]:
    """Start a pipeline pass on the cluster; at the end, stop it and cancel its leftover jobs."""
    started: list[FarmPass] = []

    def start(home: Path, config: Path) -> FarmPass:
        p = FarmPass(home, config, cluster)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()
    cluster.run("scancel", "--quiet", f"--partition={cluster.partition}", check=False)


def block_job_ids(home: Path) -> set[str]:
    """Slurm job ids of the Parsl blocks, as Parsl logged them when it submitted each one."""
    ids = set()
    for log in (home / "l1" / "batch").glob("*/parsl.log"):
        for line in log.read_text().splitlines():
            if "Launched block" in line and "with job ID" in line:
                ids.add(line.rsplit("with job ID", 1)[1].strip())
    return ids
