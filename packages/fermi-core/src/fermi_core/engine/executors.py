"""Executors: a local process pool (default) and Parsl (local provider in CI, Slurm on the farm).

An executor only runs things: ``submit(fn, *args)`` returns a :class:`concurrent.futures.Future`;
it knows nothing of tasks (the driver records every attempt, the worker runs it). Parsl is the
optional extra ``fermi-core[farm]``. The farm configuration is a TOML file::

    [executor]
    kind = "parsl"               # or "local"
    provider = "slurm"           # or "local"
    max_workers = 4              # worker processes per node (per block on the local provider)
    worker_init = "source /opt/conda/bin/activate fermi"    # shell lines run first in the job
    command_prefix = "apptainer exec --bind /sdf /sdf/images/fermi.sif"   # put before the worker
    run_dir = "l1/batch"         # Parsl's run directory; relative = under the data home
    address = "10.0.0.5"         # where the workers reach this host (default: every address)
    heartbeat_period = 30        # s between worker <-> interchange heartbeats
    heartbeat_threshold = 120    # s without a heartbeat before a worker's tasks are lost
    max_block_failures = 3       # this many failed blocks in a row fail every task
    strategy_period = 5          # s between Parsl's scaling decisions
    [slurm]
    partition = "milano"
    account = "fermi:l1"
    qos = "normal"
    walltime = "00:30:00"
    nodes_per_block = 1
    init_blocks = 0
    max_blocks = 10
    exclusive = false
    scheduler_options = "#SBATCH --mem=8G"
    status_polling_interval = 60 # s between squeue/sacct polls of the blocks

An attempt's batch id is the batch job it ran in, read from the worker's environment
(:func:`batch_job_id`: ``SLURM_JOB_ID``, LSF's ``LSB_JOBID``, PBS's ``PBS_JOBID``) and recorded
by the worker when the attempt starts; a job cancelled or a node lost mid-attempt fails the
Parsl future (``ManagerLost`` once no heartbeat came for ``heartbeat_threshold``), which the
driver records as a crashed attempt and retries.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import sys
import threading
import time

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fermi_core.site import Site

#: label of the Parsl executor the tasks run on
PARSL_LABEL = "fermi"

#: environment variables naming the batch job a process runs in (Slurm, LSF, PBS/Torque)
BATCH_JOB_VARIABLES = ("SLURM_JOB_ID", "LSB_JOBID", "PBS_JOBID")

#: keys of the ``[slurm]`` table and their types
SLURM_KEYS: dict[str, type] = {
    "partition": str, "account": str, "qos": str, "walltime": str, "nodes_per_block": int,
    "init_blocks": int, "max_blocks": int, "exclusive": bool, "scheduler_options": str,
    "status_polling_interval": int,
}  # fmt: skip


def batch_job_id(environ: Mapping[str, str] | None = None) -> str | None:
    """The batch job this process runs in (``SLURM_JOB_ID`` etc.), or None outside a batch job."""
    env = os.environ if environ is None else environ
    for name in BATCH_JOB_VARIABLES:
        if value := env.get(name, "").strip():
            return value
    return None


@dataclass
class ExecutorConfig:
    """Executor settings (see the module documentation for the TOML form)."""

    kind: str = "local"
    provider: str = "local"
    max_workers: int = 2
    worker_init: str = ""
    command_prefix: str = ""
    run_dir: str = ""
    address: str = ""
    heartbeat_period: int = 30
    heartbeat_threshold: int = 120
    max_block_failures: int = 3
    strategy_period: float = 5.0
    slurm: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> ExecutorConfig:
        """Read a TOML configuration file (``ValueError`` naming the file and key when invalid)."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"{p}: cannot read the executor configuration ({exc})") from None
        for table in data:
            if table not in ("executor", "slurm"):
                raise ValueError(f"{p}: unknown table [{table}] (known: [executor], [slurm])")
        types = {f.name: f.type for f in fields(cls) if f.name != "slurm"}
        values: dict[str, Any] = {}
        for key, value in data.get("executor", {}).items():
            if key not in types:
                raise ValueError(f"{p}: executor.{key} is not a setting (known: {', '.join(sorted(types))})")
            values[key] = _typed(p, f"executor.{key}", value, types[key])
        slurm = {}
        for key, value in data.get("slurm", {}).items():
            if key not in SLURM_KEYS:
                raise ValueError(
                    f"{p}: slurm.{key} is not a setting (known: {', '.join(sorted(SLURM_KEYS))})"
                )
            slurm[key] = _typed(p, f"slurm.{key}", value, SLURM_KEYS[key])
        cfg = cls(**values, slurm=slurm)
        if cfg.kind not in ("local", "parsl"):
            raise ValueError(f"{p}: executor.kind {cfg.kind!r} is not 'local' or 'parsl'")
        if cfg.provider not in ("local", "slurm"):
            raise ValueError(f"{p}: executor.provider {cfg.provider!r} is not 'local' or 'slurm'")
        return cfg

    def resolved_run_dir(self, site: Site | None = None) -> Path:
        """Parsl's run directory: ``run_dir`` under the data home (default :attr:`Site.batch`)."""
        if self.run_dir and Path(self.run_dir).is_absolute():
            return Path(self.run_dir)
        if site is None:
            return Path(self.run_dir or "parsl-runinfo").absolute()
        return site.home / self.run_dir if self.run_dir else site.batch


def _typed(path: Path, key: str, value: Any, kind: Any) -> Any:
    kind = {"str": str, "int": int, "float": float, "bool": bool}.get(kind, kind)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        noun = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}[kind]
        raise ValueError(f"{path}: {key} = {value!r} is not {noun}")
    return value


#: prctl(2) option: the signal a process gets when its parent dies (Linux)
PR_SET_PDEATHSIG = 1
#: seconds between two looks of a pool worker at its parent (where prctl is not available)
PARENT_WATCH_SECONDS = 1.0


def die_with_parent(parent: int) -> None:
    """Pool-worker initializer: end this worker when its driver process ``parent`` ends.

    On Linux the kernel sends the worker SIGKILL when the driver dies (``prctl(PR_SET_PDEATHSIG)``
    through ctypes), even when the driver is killed with SIGKILL; elsewhere, or if that call is
    refused, a daemon thread looks every :data:`PARENT_WATCH_SECONDS` whether the parent changed
    and ends the worker. The attempt it was running is settled by the next driver
    (:func:`fermi_core.engine.driver.recover_orphans`).
    """
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent:  # the driver died before the signal was armed
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_WATCH_SECONDS)
        if os.getppid() != parent:
            os._exit(1)


class LocalExecutor:
    """A process pool on this machine; its workers die with the driver (:func:`die_with_parent`)."""

    name = "local"

    def __init__(self, max_workers: int = 2) -> None:
        #: worker processes of the pool (a driver keeps about as many attempts in flight)
        self.max_workers = max_workers
        self._pool = ProcessPoolExecutor(
            max_workers=max_workers, initializer=die_with_parent, initargs=(os.getpid(),)
        )

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` in a worker process."""
        return self._pool.submit(fn, *args)

    def batch_id(self, future: Future) -> str | None:
        """Batch id when the worker recorded none (none for a local pool)."""
        return None

    def shutdown(self) -> None:
        """Stop the workers."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def worker_init(cfg: ExecutorConfig) -> str:
    """Shell lines run before a Parsl worker starts: this environment's ``bin`` first on ``PATH``, then ``worker_init``.

    Parsl starts its worker pool by script name (``process_worker_pool.py``): it is found in this
    environment even when the environment is not activated, as the interchange is
    (:func:`parsl_config`). The configured ``worker_init`` (e.g. activating the farm
    environment) runs last.
    """
    bindir = os.path.dirname(sys.executable)
    lines = [f'export PATH="{bindir}:$PATH"']
    if cfg.worker_init:
        lines.append(cfg.worker_init)
    return "\n".join(lines)


def launch_command(cfg: ExecutorConfig) -> str:
    """The command that starts a worker pool on a node: Parsl's, after ``command_prefix`` if any.

    A container prefix (``apptainer exec IMAGE``, ``podman run ... IMAGE``) runs the pool inside
    the image, which must hold the same Parsl version and this software.
    """
    from parsl.executors.high_throughput.executor import DEFAULT_LAUNCH_CMD

    prefix = cfg.command_prefix.strip()
    return f"{prefix} {DEFAULT_LAUNCH_CMD}" if prefix else DEFAULT_LAUNCH_CMD


def slurm_provider(cfg: ExecutorConfig) -> Any:
    """Return a Parsl ``SlurmProvider`` from the ``[slurm]`` table (``worker_init`` runs first in the job)."""
    from parsl.launchers import SrunLauncher
    from parsl.providers import SlurmProvider

    s: Mapping[str, Any] = cfg.slurm
    polling = int(s.get("status_polling_interval", 60))

    class _Slurm(SlurmProvider):  # Parsl fixes the poll interval at 60 s; the farm's is configurable
        @property
        def status_polling_interval(self) -> int:
            return polling

    return _Slurm(
        partition=s.get("partition"),
        account=s.get("account"),
        qos=s.get("qos"),
        walltime=s.get("walltime", "00:30:00"),
        nodes_per_block=int(s.get("nodes_per_block", 1)),
        init_blocks=int(s.get("init_blocks", 0)),
        min_blocks=0,
        max_blocks=int(s.get("max_blocks", 10)),
        scheduler_options=s.get("scheduler_options", ""),
        worker_init=worker_init(cfg),
        launcher=SrunLauncher(),
        exclusive=bool(s.get("exclusive", False)),
    )


def parsl_config(cfg: ExecutorConfig, site: Site | None = None) -> Any:
    """Return the Parsl ``Config``: one HighThroughputExecutor on a local or Slurm provider.

    Its run directory (submit scripts, the blocks' stdout/stderr, worker logs) is
    :meth:`ExecutorConfig.resolved_run_dir`.
    """
    from parsl.config import Config
    from parsl.executors import HighThroughputExecutor
    from parsl.jobs.error_handlers import windowed_error_handler
    from parsl.providers import LocalProvider

    if cfg.provider == "slurm":
        provider = slurm_provider(cfg)
        address = cfg.address or None
    else:
        provider = LocalProvider(init_blocks=1, min_blocks=0, max_blocks=1, worker_init=worker_init(cfg))
        address = cfg.address or "127.0.0.1"  # the workers run here
    run_dir = cfg.resolved_run_dir(site)
    # the interchange runs here, started by script name: the one of this environment
    interchange = os.path.join(os.path.dirname(sys.executable), "interchange.py")
    htex = HighThroughputExecutor(
        label=PARSL_LABEL, max_workers_per_node=cfg.max_workers, provider=provider, address=address,
        launch_cmd=launch_command(cfg), heartbeat_period=cfg.heartbeat_period,
        heartbeat_threshold=cfg.heartbeat_threshold, worker_logdir_root=str(run_dir),
        block_error_handler=functools.partial(windowed_error_handler, threshold=cfg.max_block_failures),
        interchange_launch_cmd=[interchange] if os.path.exists(interchange) else None,
    )  # fmt: skip
    return Config(
        executors=[htex], run_dir=str(run_dir), strategy="simple", strategy_period=cfg.strategy_period
    )


class ParslExecutor:
    """Parsl HighThroughputExecutor (local provider for CI, Slurm on the farm)."""

    name = "parsl"

    def __init__(self, cfg: ExecutorConfig, site: Site | None = None) -> None:
        import parsl
        from parsl import python_app

        cfg.resolved_run_dir(site).mkdir(parents=True, exist_ok=True)
        logging.getLogger("parsl").propagate = False  # its debug lines go to parsl.log in the run directory
        self._dfk = parsl.load(parsl_config(cfg, site))
        self._app = python_app(_call, executors=[PARSL_LABEL])

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` on a Parsl worker."""
        return self._app(fn, *args)

    def batch_id(self, future: Future) -> str | None:
        """Batch id when the worker recorded none (it never started): the Parsl task id."""
        tid = getattr(future, "tid", None)
        return None if tid is None else f"parsl-{tid}"

    def batch_jobs(self) -> dict[str, str]:
        """``{Parsl block id: batch job id}`` of every block started so far."""
        return dict(self._dfk.executors[PARSL_LABEL].blocks_to_job_id)

    def shutdown(self) -> None:
        """Stop Parsl and its workers (the blocks' batch jobs are cancelled)."""
        import parsl

        self._dfk.cleanup()
        parsl.clear()


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def make_executor(cfg: ExecutorConfig, site: Site | None = None) -> LocalExecutor | ParslExecutor:
    """Return the executor described by ``cfg`` (Parsl's run directory under ``site``'s data home)."""
    return ParslExecutor(cfg, site) if cfg.kind == "parsl" else LocalExecutor(cfg.max_workers)
