"""Merge an ingested delivery: the packets come from what fermi-ingest published.

The halfpipe never reads the Level-0 archive itself: :func:`fermi_ingest.published.delivery_pieces`
gives the packets the ingest accepted (archived files verified against their registered
SHA-256, quarantined packets left out) piece by piece
(:attr:`~fermi_halfpipe.options.HalfpipeOptions.piece_bytes` at a time), and
:func:`fermi_halfpipe.stitch.merge_packets` merges them: memory does not grow with the delivery.
"""

from __future__ import annotations

from fermi_core.db import session_scope
from fermi_core.site import Site
from fermi_halfpipe.errors import HalfpipeError
from fermi_halfpipe.options import HalfpipeOptions
from fermi_halfpipe.stitch import MergeSummary, merge_packets
from fermi_ingest.published import ArchiveDamaged, NotIngested, delivery_pieces


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
    options = options or HalfpipeOptions.from_env()
    try:
        with session_scope(site.db_url) as session:
            pieces = delivery_pieces(session, site, delivery_id, options.piece_bytes)
        # a damaged file is found while it is read: the merge's transaction is then rolled back
        return merge_packets(delivery_id, pieces, options, site=site)
    except (NotIngested, ArchiveDamaged) as exc:
        raise HalfpipeError(str(exc)) from exc
