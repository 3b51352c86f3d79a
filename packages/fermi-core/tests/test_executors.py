"""Executor configuration: the farm TOML, its errors, Parsl's run directory, batch job ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from fermi_core.engine.executors import ExecutorConfig, batch_job_id, launch_command, parsl_config
from fermi_core.site import Site


def _toml(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "farm.toml"
    p.write_text(text)
    return p


def test_farm_toml_is_read_with_its_types(tmp_path):
    cfg = ExecutorConfig.from_toml(_toml(tmp_path, """
[executor]
kind = "parsl"
provider = "slurm"
max_workers = 4
worker_init = "source /opt/conda/bin/activate fermi"
command_prefix = "apptainer exec --bind /sdf /sdf/images/fermi.sif"
heartbeat_threshold = 30
strategy_period = 2
[slurm]
partition = "milano"
max_blocks = 3
exclusive = true
"""))  # fmt: skip
    assert (cfg.kind, cfg.provider, cfg.max_workers, cfg.heartbeat_threshold) == ("parsl", "slurm", 4, 30)
    assert cfg.strategy_period == 2.0 and cfg.heartbeat_period == 30  # default kept
    assert cfg.slurm == {"partition": "milano", "max_blocks": 3, "exclusive": True}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[executor]\nkind = "lsf"\n', r"farm\.toml: executor\.kind 'lsf' is not 'local' or 'parsl'"),
        (
            "[executor]\nheartbeat_treshold = 5\n",
            r"farm\.toml: executor\.heartbeat_treshold is not a setting",
        ),
        ('[executor]\nmax_workers = "4"\n', r"farm\.toml: executor\.max_workers = '4' is not an integer"),
        ("[slurm]\nmax_blocks = true\n", r"farm\.toml: slurm\.max_blocks = True is not an integer"),
        ('[slurm]\npartitoin = "x"\n', r"farm\.toml: slurm\.partitoin is not a setting"),
        ("[lsf]\nqueue = 1\n", r"farm\.toml: unknown table \[lsf\]"),
        ("[executor\n", r"farm\.toml: cannot read the executor configuration"),
    ],
)
def test_bad_configuration_is_one_line_naming_file_and_key(tmp_path, text, message):
    with pytest.raises(ValueError, match=message) as info:
        ExecutorConfig.from_toml(_toml(tmp_path, text))
    assert "\n" not in str(info.value)


def test_run_directory_is_under_the_data_home(tmp_path):
    site = Site(tmp_path / "home")
    assert ExecutorConfig().resolved_run_dir(site) == site.batch == site.home / "l1" / "batch"
    assert ExecutorConfig(run_dir="farm/runinfo").resolved_run_dir(site) == site.home / "farm" / "runinfo"
    assert ExecutorConfig(run_dir=str(tmp_path / "abs")).resolved_run_dir(site) == tmp_path / "abs"


def test_batch_job_id_comes_from_the_batch_system_environment():
    assert batch_job_id({"SLURM_JOB_ID": "4242", "PATH": "/bin"}) == "4242"
    assert batch_job_id({"LSB_JOBID": "17"}) == "17"
    assert batch_job_id({"PBS_JOBID": "9.pbs01"}) == "9.pbs01"
    assert batch_job_id({"SLURM_JOB_ID": " "}) is None
    assert batch_job_id({}) is None


def test_command_prefix_wraps_the_worker_and_worker_init_runs_first(tmp_path):
    pytest.importorskip("parsl")
    cfg = ExecutorConfig(
        kind="parsl", provider="local", command_prefix="podman run --rm --network host fermi:1"
    )
    assert launch_command(cfg).startswith("podman run --rm --network host fermi:1 process_worker_pool.py ")
    assert launch_command(ExecutorConfig()).startswith("process_worker_pool.py ")
    site = Site(tmp_path / "home")
    config = parsl_config(
        ExecutorConfig(kind="parsl", worker_init="source activate fermi", heartbeat_threshold=9), site
    )
    (htex,) = config.executors
    assert config.run_dir == str(site.batch) and htex.worker_logdir_root == str(site.batch)
    assert htex.heartbeat_threshold == 9 and htex.address == "127.0.0.1"  # local provider: workers run here
    assert htex.provider.worker_init.splitlines()[-1] == "source activate fermi"
