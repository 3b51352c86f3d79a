"""Synthetic two-EPU runs for tests, examples and the benchmark (not a physics simulator).

Events carry valid headers and contributions (§4.3–4.7) with random hit contents; fermi-latsim
writes physically meaningful content. The two EPUs share one GEM sequence (each event goes to
one EPU), with holes where the on-board filter dropped triggers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fermi_halfpipe.datagram import (
    DatagramContext,
    contribution_header,
    datagrams_to_packets,
    encode_events,
    pack_datagrams,
)
from fermi_halfpipe.format import CONTRIB_AEM, CONTRIB_GEM, CONTRIB_TEM, EVENT_HEADER_DTYPE
from fermi_halfpipe.keys import ConfigKeys
from fermi_ingest.ccsds.encode import PacketColumns


def _contributions(rng: np.random.Generator, hw: int, trigger: int) -> tuple[bytes, int]:
    gem = np.zeros(60, dtype=np.uint8)
    gem[0:2] = rng.integers(0, 256, 2)
    gem[10] = 2  # condition summary: TKR
    gem[44:48] = np.frombuffer(np.array([trigger], ">u4").tobytes(), np.uint8)
    parts = [contribution_header(CONTRIB_GEM, 0, 68, hw) + gem.tobytes()]
    towers = np.sort(rng.choice(16, size=int(rng.integers(0, 4)), replace=False))
    for tower in towers:
        ns, nl = int(rng.integers(0, 12)), int(rng.integers(0, 6))
        strips = np.zeros(ns, dtype=[("layer", "u1"), ("view", "u1"), ("strip", ">u2")])
        strips["layer"] = np.sort(rng.integers(0, 18, ns))
        strips["view"] = rng.integers(0, 2, ns)
        strips["strip"] = rng.integers(0, 1536, ns)
        logs = np.zeros(
            nl, dtype=[("layer", "u1"), ("col", "u1"), ("rng", "u1"), ("r", "u1"), ("p", ">u2"), ("n", ">u2")]
        )
        logs["layer"] = np.sort(rng.integers(0, 8, nl))
        logs["col"] = rng.integers(0, 12, nl)
        logs["p"] = rng.integers(0, 4096, nl)
        logs["n"] = rng.integers(0, 4096, nl)
        body = np.array([ns, nl], ">u2").tobytes() + strips.tobytes() + logs.tobytes()
        parts.append(contribution_header(CONTRIB_TEM, int(tower), 8 + len(body), hw) + body)
    if rng.random() < 0.5:
        nh = int(rng.integers(1, 5))
        hits = np.zeros(nh, dtype=[("id", ">u2"), ("f", "u1"), ("r", "u1"), ("a", ">u2"), ("b", ">u2")])
        hits["id"] = np.sort(rng.choice(508, nh, replace=False))
        hits["f"] = 3
        hits["a"] = rng.integers(0, 4096, nh)
        body = np.array([nh, 0], ">u2").tobytes() + hits.tobytes()
        parts.append(contribution_header(CONTRIB_AEM, 0, 8 + len(body), hw) + body)
    return b"".join(parts), len(parts)


def make_events(
    rng: np.random.Generator, n: int, first_seq: int = 0, t0: int = 700_000_000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (records, lengths, header) of ``n`` events with increasing GEM sequence."""
    header = np.zeros(n, dtype=EVENT_HEADER_DTYPE)
    gem = first_seq + np.cumsum(rng.integers(1, 4, n)) - 1
    elapsed = np.cumsum(rng.integers(1_000, 20_000, n))
    header["gem_seq"] = gem
    header["elapsed"] = elapsed
    header["livetime"] = (elapsed * 0.9).astype(np.int64)
    header["prescaled"] = gem // 7
    trigger = (elapsed % (1 << 25)).astype(np.int64)
    header["trigger_ticks"] = trigger
    sec = t0 + elapsed // 20_000_000
    header["cur_tone_sec"] = sec
    header["cur_tone_ticks"] = (sec - t0) * 20_000_000 % (1 << 25)
    header["prev_tone_sec"] = sec - 1
    header["prev_tone_ticks"] = (sec - 1 - t0) * 20_000_000 % (1 << 25)
    header["cur_tone_flags"] = 1
    header["prev_tone_flags"] = 1
    header["filter_status"] = 1
    contribs = []
    ncon = np.empty(n, dtype=np.int64)
    for i in range(n):
        body, ncon[i] = _contributions(rng, int(gem[i]) & 0x1FFFF, int(trigger[i]))
        contribs.append(body)
    header["n_contributions"] = ncon
    records, lengths = encode_events(header, contribs)
    return records, lengths, header


@dataclass
class SyntheticRun:
    """A run's datagrams per EPU (bytes, in sending order) and its events in merged order."""

    run: int
    apids: tuple[int, int]
    datagrams: dict[int, list[bytes]]
    times: dict[int, np.ndarray]
    gem_seq: np.ndarray  # merged order
    records: list[bytes]  # merged order
    epu: np.ndarray

    def packets(
        self, apid: int, first: int = 0, stop: int | None = None, first_count: int = 0
    ) -> PacketColumns:
        """Packets of datagrams ``first:stop`` of ``apid`` (counts continue from ``first_count``)."""
        d = self.datagrams[apid][first:stop]
        t = self.times[apid][first:stop]
        return datagrams_to_packets(apid, d, sec=t.astype(np.int64), first_count=first_count)


def make_run(
    rng: np.random.Generator,
    n_events: int,
    run: int = 700_000_000,
    apids: tuple[int, int] = (956, 957),
    events_per_datagram: int = 5,
    close_action: int | dict[int, int] = 0,
    keys: ConfigKeys | dict[int, ConfigKeys] | None = None,
) -> SyntheticRun:
    """A run of ``n_events`` events spread at random over two EPUs (datagrams of a few events).

    ``close_action`` of the last datagram: one value, or one per APID (0 stop, 1 abort, 2 pause,
    3 continue = the run goes on beyond these datagrams). ``keys``: the configuration keys every
    datagram carries (format version 2), one set or one per APID; None writes format version 1.
    """
    records, lengths, header = make_events(rng, n_events, t0=run)
    starts = np.cumsum(lengths) - lengths
    epu = rng.integers(0, 2, n_events)
    dgms: dict[int, list[bytes]] = {}
    times: dict[int, np.ndarray] = {}
    for k, apid in enumerate(apids):
        sel = np.flatnonzero(epu == k)
        recs = (
            np.concatenate([records[starts[i] : starts[i] + lengths[i]] for i in sel])
            if sel.size
            else np.empty(0, np.uint8)
        )
        ctx = DatagramContext(run=run, crate=k, keys=keys.get(apid) if isinstance(keys, dict) else keys)
        close = close_action[apid] if isinstance(close_action, dict) else close_action
        dgms[apid] = pack_datagrams(ctx, recs, lengths[sel], events_per_datagram, close_action=close)
        times[apid] = run + 1 + np.arange(len(dgms[apid]))
    recs = [records[starts[i] : starts[i] + lengths[i]].tobytes() for i in range(n_events)]
    return SyntheticRun(
        run, apids, dgms, times, header["gem_seq"].astype(np.uint64), recs, epu.astype(np.uint8)
    )
