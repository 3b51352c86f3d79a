"""Merge an ingested delivery: the packets come from what fermi-ingest published.

The halfpipe never reads the Level-0 archive itself: :func:`fermi_ingest.published.accepted_packets`
returns the packets the ingest accepted (archived files verified against their registered
SHA-256, quarantined packets left out), and :func:`fermi_halfpipe.stitch.merge_packets` merges them.
"""

from __future__ import annotations

from fermi_core.db import session_scope
from fermi_core.site import Site
from fermi_halfpipe.errors import HalfpipeError
from fermi_halfpipe.options import HalfpipeOptions
from fermi_halfpipe.stitch import MergeSummary, merge_packets
from fermi_ingest.published import ArchiveDamaged, NotIngested, accepted_packets


def merge_delivery(
    delivery_id: str,
    options: HalfpipeOptions | None = None,
    url: str | None = None,
    *,
    site: Site | None = None,
) -> MergeSummary:
    """Merge the ingested delivery ``delivery_id`` (see :func:`fermi_halfpipe.stitch.merge_packets`).

    ``site`` is the data home and database (default :meth:`Site.from_env`, ``url`` as database).

    Raises
    ------
    HalfpipeError
        The delivery is not ingested, or an archived file of it is missing or differs from its
        registered SHA-256 (the message names the file).
    """
    site = site if site is not None else Site.from_env(db_url=url)
    try:
        with session_scope(site.db_url) as session:
            packets = accepted_packets(session, site, delivery_id)
    except (NotIngested, ArchiveDamaged) as exc:
        raise HalfpipeError(str(exc)) from exc
    return merge_packets(delivery_id, packets, options, site=site)
