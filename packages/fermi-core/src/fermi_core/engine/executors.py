"""Executors: a local process pool (default) and Parsl (local provider in CI, Slurm on the farm).

An executor only runs things: ``submit(fn, *args)`` returns a :class:`concurrent.futures.Future`;
it knows nothing of tasks (the driver records every attempt, the worker runs it). Parsl is the
optional extra ``fermi-core[farm]``. The farm configuration is a TOML file::

    [executor]
    kind = "parsl"               # or "local"
    provider = "slurm"           # or "local"
    command_prefix = "apptainer exec /sdf/images/fermi.sif"   # or "source activate fermi"
    max_workers = 4
    [slurm]
    partition = "milano"
    account = "fermi:l1"
    walltime = "00:30:00"
    nodes_per_block = 1
    max_blocks = 10
"""

from __future__ import annotations

import os
import sys

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: label of the Parsl executor the tasks run on
PARSL_LABEL = "fermi"


@dataclass
class ExecutorConfig:
    """Executor settings (see the module documentation for the TOML form)."""

    kind: str = "local"
    provider: str = "local"
    max_workers: int = 2
    command_prefix: str = ""
    slurm: dict[str, Any] = field(default_factory=dict)
    run_dir: str = "parsl-runinfo"

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> ExecutorConfig:
        """Read a TOML configuration file (``ValueError`` naming the file and key when invalid)."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"{p}: cannot read the executor configuration ({exc})") from None
        section = data.get("executor", {})
        cfg = cls(
            kind=section.get("kind", "local"),
            provider=section.get("provider", "local"),
            max_workers=int(section.get("max_workers", 2)),
            command_prefix=section.get("command_prefix", ""),
            slurm=dict(data.get("slurm", {})),
            run_dir=section.get("run_dir", "parsl-runinfo"),
        )
        if cfg.kind not in ("local", "parsl"):
            raise ValueError(f"{p}: executor.kind {cfg.kind!r} is not 'local' or 'parsl'")
        if cfg.provider not in ("local", "slurm"):
            raise ValueError(f"{p}: executor.provider {cfg.provider!r} is not 'local' or 'slurm'")
        return cfg


class LocalExecutor:
    """A process pool on this machine."""

    name = "local"

    def __init__(self, max_workers: int = 2) -> None:
        self._pool = ProcessPoolExecutor(max_workers=max_workers)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` in a worker process."""
        return self._pool.submit(fn, *args)

    def batch_id(self, future: Future) -> str | None:
        """Batch-system job id of a submission (none for a local pool)."""
        return None

    def shutdown(self) -> None:
        """Stop the workers."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def worker_init(cfg: ExecutorConfig) -> str:
    """Shell lines run before a Parsl worker starts: this environment's ``bin`` first on ``PATH``, then the prefix.

    Parsl starts its worker pool by script name (``process_worker_pool.py``): it is found in this
    environment even when the environment is not activated, as the interchange is
    (:func:`parsl_config`). The command prefix (e.g. activating the farm environment) runs last.
    """
    bindir = os.path.dirname(sys.executable)
    lines = [f'export PATH="{bindir}:$PATH"']
    if cfg.command_prefix:
        lines.append(cfg.command_prefix)
    return "\n".join(lines)


def slurm_provider(cfg: ExecutorConfig) -> Any:
    """Return a Parsl ``SlurmProvider`` from the ``[slurm]`` table (the command prefix runs first on the node)."""
    from parsl.launchers import SrunLauncher
    from parsl.providers import SlurmProvider

    s: Mapping[str, Any] = cfg.slurm
    return SlurmProvider(
        partition=s.get("partition"),
        account=s.get("account"),
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


def parsl_config(cfg: ExecutorConfig) -> Any:
    """Return the Parsl ``Config``: one HighThroughputExecutor on a local or Slurm provider."""
    from parsl.config import Config
    from parsl.executors import HighThroughputExecutor
    from parsl.providers import LocalProvider

    if cfg.provider == "slurm":
        provider = slurm_provider(cfg)
    else:
        provider = LocalProvider(init_blocks=1, min_blocks=0, max_blocks=1, worker_init=worker_init(cfg))
    # the interchange runs here, started by script name: the one of this environment
    interchange = os.path.join(os.path.dirname(sys.executable), "interchange.py")
    htex = HighThroughputExecutor(
        label=PARSL_LABEL, max_workers_per_node=cfg.max_workers, provider=provider,
        interchange_launch_cmd=[interchange] if os.path.exists(interchange) else None,
    )  # fmt: skip
    return Config(executors=[htex], run_dir=cfg.run_dir, strategy="simple")


class ParslExecutor:
    """Parsl HighThroughputExecutor (local provider for CI, Slurm on the farm)."""

    name = "parsl"

    def __init__(self, cfg: ExecutorConfig) -> None:
        import parsl
        from parsl import python_app

        self._dfk = parsl.load(parsl_config(cfg))
        self._app = python_app(_call, executors=[PARSL_LABEL])

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` on a Parsl worker."""
        return self._app(fn, *args)

    def batch_id(self, future: Future) -> str | None:
        """Parsl task id (the batch job id is in Parsl's own records)."""
        tid = getattr(future, "tid", None)
        return None if tid is None else f"parsl-{tid}"

    def shutdown(self) -> None:
        """Stop Parsl and its workers."""
        import parsl

        self._dfk.cleanup()
        parsl.clear()


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def make_executor(cfg: ExecutorConfig) -> LocalExecutor | ParslExecutor:
    """Return the executor described by ``cfg``."""
    return ParslExecutor(cfg) if cfg.kind == "parsl" else LocalExecutor(cfg.max_workers)
