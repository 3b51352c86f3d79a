"""What runs on the executor: one attempt of one task run, its log, and the classification of failures.

Tasks (:data:`TASKS`): ``ingest`` and ``merge`` of an inbox delivery, ``recon`` of a crumb,
``runinput`` of a halfpipe run, ``l1run`` (FT2, FT1, catalog, outbox) of a run input.
Bad input (a refused delivery, halfpipe output that fails its checksum, a malformed merit table,
spacecraft data that do not cover the run, a product that contradicts the catalog, a shim
input/parameter error) returns exit code 2 and is not retried; anything else is an
infrastructure failure (exit code 1) that the driver retries.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
import traceback
from pathlib import Path

from sqlalchemy import update

from fermi_halfpipe.stitch import HalfpipeError
from fermi_ingest.errors import IngestError
from fermi_l1.catalog.api import CatalogError
from fermi_l1.db import session
from fermi_l1.digi import DigiError
from fermi_l1.export.outbox import ExportError
from fermi_l1.ft1.merit_input import MeritError
from fermi_l1.ft2.make import SpacecraftDataError
from fermi_l1.merit import MeritError as MeritFileError
from fermi_l1.pipeline.models import PipelineAttempt, utcnow
from fermi_l1.pipeline.runinput import HandoffError
from fermi_sciencetools_shim.errors import ShimError

BAD_INPUT = (
    MeritError, SpacecraftDataError, CatalogError, ExportError, ShimError, HandoffError, IngestError,
    HalfpipeError, DigiError, MeritFileError,
)  # fmt: skip
EXIT_OK, EXIT_CRASH, EXIT_BAD_INPUT = 0, 1, 2

#: task name -> (module, function); each function takes its params and ``db_url``, returns paths
TASKS = {
    "ingest": ("fermi_l1.pipeline.inbox", "ingest_task"),
    "merge": ("fermi_l1.pipeline.inbox", "merge_task"),
    "recon": ("fermi_l1.pipeline.runinput", "recon_crumb"),
    "runinput": ("fermi_l1.pipeline.runinput", "assemble_run_input"),
    "l1run": ("fermi_l1.pipeline.l1run", "process_run"),
}


def run_attempt(attempt_id: int, db_url: str, log_path: str, params: dict, task: str = "l1run") -> dict:
    """Run one attempt of ``task`` with ``params``; return the outcome (exit code, error, products)."""
    module, name = TASKS[task]
    process_run = getattr(importlib.import_module(module), name)

    with session(db_url) as s:
        s.execute(
            update(PipelineAttempt)
            .where(PipelineAttempt.id == attempt_id)
            .values(state="running", host=socket.gethostname(), pid=os.getpid(), started_at=utcnow())
        )
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            products = process_run(**params, db_url=db_url)
        except BAD_INPUT as exc:
            traceback.print_exc()
            return {"exit_code": EXIT_BAD_INPUT, "error": f"{type(exc).__name__}: {exc}"}
        except Exception as exc:
            traceback.print_exc()
            return {"exit_code": EXIT_CRASH, "error": f"{type(exc).__name__}: {exc}"}
        print("products:", *products, sep="\n  ")
    return {"exit_code": EXIT_OK, "products": products}
