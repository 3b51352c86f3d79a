"""Numba kernel of the CCSDS decoder: walk the packet boundaries of a whole file.

Packet lengths vary, so finding where packet ``k + 1`` starts needs packet ``k``'s length: the
walk is inherently sequential and is done here in one compiled loop. Everything else (field
extraction) is vectorised numpy in :mod:`fermi_ingest.ccsds.decode`.

Plain arrays in, arrays out; the plain-numpy twin is :mod:`._reference`. The reason codes are
those of ``docs/formats/telemetry.md`` section 6 (0 = good packet).
"""

from __future__ import annotations

import numpy as np

from fermi_core.jit import njit

OK = 0
BAD_VERSION = 1
TELECOMMAND = 2
NO_SECONDARY_HEADER = 3
UNKNOWN_APID = 4
IMPOSSIBLE_LENGTH = 5
BAD_SECONDARY_HEADER = 6
TRUNCATED = 7

PRIMARY_HEADER = 6
HEADER = 14  # primary + secondary header


@njit(nogil=True)
def check_header(buf: np.ndarray, p: int, apid_ok: np.ndarray, max_total: int) -> int:
    """Return the reason code of the packet header at byte ``p`` of ``buf`` (0 if it is good)."""
    n = buf.shape[0]
    if n - p < PRIMARY_HEADER:
        return TRUNCATED
    w0 = (np.int64(buf[p]) << 8) | np.int64(buf[p + 1])
    if (w0 >> 13) != 0:
        return BAD_VERSION
    if (w0 >> 12) & 1:
        return TELECOMMAND
    if ((w0 >> 11) & 1) == 0:
        return NO_SECONDARY_HEADER
    if not apid_ok[w0 & 0x7FF]:
        return UNKNOWN_APID
    total = ((np.int64(buf[p + 4]) << 8) | np.int64(buf[p + 5])) + 7
    if total < HEADER or total > max_total:
        return IMPOSSIBLE_LENGTH
    if n - p < HEADER:
        return TRUNCATED
    usec = (
        (np.int64(buf[p + 10]) << 24)
        | (np.int64(buf[p + 11]) << 16)
        | (np.int64(buf[p + 12]) << 8)
        | np.int64(buf[p + 13])
    )
    if usec >= 1_000_000:
        return BAD_SECONDARY_HEADER
    if n - p < total:
        return TRUNCATED
    return OK


@njit(nogil=True)
def walk_packets(
    buf: np.ndarray, apid_ok: np.ndarray, max_total: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut ``buf`` (uint8) into consecutive records: good packets and quarantined spans.

    Parameters
    ----------
    buf
        The whole file, uint8.
    apid_ok
        bool array of length 2048: which APIDs are accepted.
    max_total
        Largest accepted packet, bytes (headers included).

    Returns
    -------
    start, length : int64 arrays
        Byte range of each record; the records tile ``buf`` exactly, in order.
    code : uint8 array
        0 for a good packet, else the reason of the failure at ``start`` (see module constants).
    """
    n = buf.shape[0]
    # good packets are >= 14 bytes and two quarantined spans are never adjacent
    cap = 2 * (n // (HEADER + 1)) + 4
    start = np.empty(cap, dtype=np.int64)
    length = np.empty(cap, dtype=np.int64)
    code = np.empty(cap, dtype=np.uint8)
    k = 0
    p = 0
    while p < n:
        c = check_header(buf, p, apid_ok, max_total)
        if c == OK:
            total = ((np.int64(buf[p + 4]) << 8) | np.int64(buf[p + 5])) + 7
            start[k] = p
            length[k] = total
            code[k] = OK
            k += 1
            p += total
            continue
        q = p + 1
        while q < n and check_header(buf, q, apid_ok, max_total) != OK:
            q += 1
        start[k] = p
        length[k] = q - p
        code[k] = c
        k += 1
        p = q
    return start[:k].copy(), length[:k].copy(), code[:k].copy()
