"""The ``merge`` task of the task engine: merge one ingested delivery.

Registered under the entry point group ``fermi.tasks`` (see :mod:`fermi_core.engine.registry`).
The task calls :func:`fermi_halfpipe.delivery.merge_delivery` (what ``fermi-halfpipe merge``
runs), which is idempotent: merging the same delivery again changes nothing. It returns the
merged event files written for the delivery's runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from fermi_core.engine.registry import TaskContext, TaskSpec

__all__ = ["MERGE", "MergeParams", "merge_delivery_task"]


@dataclass(frozen=True)
class MergeParams:
    """Parameters of one ``merge`` task run (stored as JSON, keys sorted).

    Parameters
    ----------
    path
        The inbox entry the delivery came from, relative to the data home (absolute in older rows).
    delivery_id
        The delivery, as the ingest returned it. Empty in task runs recorded before it was
        passed on: then it is read from the entry's manifest.
    """

    path: str
    delivery_id: str = ""
    #: data home, recorded by older rows; the task's site is the data home it merges into
    home: str = ""


def merge_delivery_task(params: MergeParams, ctx: TaskContext) -> list[str]:
    """Merge the ingested delivery of ``params``; return the merged files of its runs."""
    from fermi_halfpipe.delivery import merge_delivery

    site = ctx.site
    delivery_id = params.delivery_id
    if not delivery_id:
        from fermi_ingest.task import delivery_id_of

        delivery_id = delivery_id_of(site.resolve(params.path))
    summary = merge_delivery(delivery_id, site=site)
    for r in summary["runs"]:
        print(f"run {r['run_id']}: {r.get('status')}")
    return [f["path"] for r in summary["runs"] for f in r["step"]["files"]]  # written by this delivery


MERGE = TaskSpec(name="merge", function=merge_delivery_task, params=MergeParams, label="merge")
