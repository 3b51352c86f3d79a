"""Plain-numpy twin of :mod:`._kernels` (the tests compare the two).

The header checks are evaluated with numpy at *every* byte offset of the file at once; the walk
then jumps from record to record in Python. Slow for big files, independent of the kernel.
"""

from __future__ import annotations

import numpy as np

from fermi_ingest.ccsds._kernels import (
    BAD_SECONDARY_HEADER,
    BAD_VERSION,
    HEADER,
    IMPOSSIBLE_LENGTH,
    NO_SECONDARY_HEADER,
    OK,
    PRIMARY_HEADER,
    TELECOMMAND,
    TRUNCATED,
    UNKNOWN_APID,
)


def header_codes(buf: np.ndarray, apid_ok: np.ndarray, max_total: int) -> np.ndarray:
    """Return the reason code (uint8) of a packet header starting at each byte offset of ``buf``."""
    n = buf.shape[0]
    padded = np.zeros(n + HEADER, dtype=np.int64)
    padded[:n] = buf
    at = np.arange(n)
    left = n - at

    def byte(k: int) -> np.ndarray:
        return padded[at + k]

    w0 = (byte(0) << 8) | byte(1)
    total = ((byte(4) << 8) | byte(5)) + 7
    usec = (byte(10) << 24) | (byte(11) << 16) | (byte(12) << 8) | byte(13)
    checks = [
        (left < PRIMARY_HEADER, TRUNCATED),
        ((w0 >> 13) != 0, BAD_VERSION),
        (((w0 >> 12) & 1) == 1, TELECOMMAND),
        (((w0 >> 11) & 1) == 0, NO_SECONDARY_HEADER),
        (~apid_ok[w0 & 0x7FF], UNKNOWN_APID),
        ((total < HEADER) | (total > max_total), IMPOSSIBLE_LENGTH),
        (left < HEADER, TRUNCATED),
        (usec >= 1_000_000, BAD_SECONDARY_HEADER),
        (left < total, TRUNCATED),
    ]
    codes = np.full(n, OK, dtype=np.uint8)
    decided = np.zeros(n, dtype=bool)
    for failed, reason in checks:
        hit = failed & ~decided
        codes[hit] = reason
        decided |= hit
    return codes


def walk_packets(
    buf: np.ndarray, apid_ok: np.ndarray, max_total: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same contract as :func:`fermi_ingest.ccsds._kernels.walk_packets`."""
    n = buf.shape[0]
    codes = header_codes(buf, apid_ok, max_total)
    good_at = np.flatnonzero(codes == OK)
    starts: list[int] = []
    lengths: list[int] = []
    reasons: list[int] = []
    p = 0
    while p < n:
        if codes[p] == OK:
            total = ((int(buf[p + 4]) << 8) | int(buf[p + 5])) + 7
            starts.append(p)
            lengths.append(total)
            reasons.append(OK)
            p += total
            continue
        i = np.searchsorted(good_at, p + 1)
        q = int(good_at[i]) if i < good_at.size else n
        starts.append(p)
        lengths.append(q - p)
        reasons.append(int(codes[p]))
        p = q
    return (
        np.asarray(starts, dtype=np.int64),
        np.asarray(lengths, dtype=np.int64),
        np.asarray(reasons, dtype=np.uint8),
    )
