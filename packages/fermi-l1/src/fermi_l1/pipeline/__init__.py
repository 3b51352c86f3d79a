"""The pipeline driver: run-state tables, retries, executors (local pool, Parsl), the L1 run task.

* :mod:`.models` -- ``pipeline_task``, ``pipeline_run``, ``pipeline_attempt``.
* :mod:`.inputs` -- the per-run input folder.
* :mod:`.l1run` -- FT2, FT1, catalog and outbox for one run.
* :mod:`.worker` -- one attempt on an executor, failure classification.
* :mod:`.executors` -- local process pool and Parsl (local / Slurm provider from TOML).
* :mod:`.driver` -- bookkeeping, orphan recovery, retries.
"""
