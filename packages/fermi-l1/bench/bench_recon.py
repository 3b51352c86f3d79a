"""Benchmark (not a test): reconstruction throughput in events per second per core.

Makes toy photons (:mod:`fermi_l1.recon.toymc`: 100 MeV - 100 GeV, theta < 70 deg, tracker noise,
30 % charged particles), encodes them to event records, then times in the same run, on one core
(numba kernels are single-threaded):

* digi: :func:`fermi_l1.digi.decode_events` (numba) vs the plain-Python reference decoder;
* every recon kernel (clustering, track finding, GLS refit, direction, energy, sky, classify)
  against its numpy twin in :mod:`fermi_l1.recon._reference`;
* the whole chain :func:`fermi_l1.recon.reconstruct` with ``engine="numba"`` vs ``"numpy"``.

The first numba call (compilation, or loading the on-disk cache) is excluded. The numpy
reference runs on a subset (``--ref-events``) because its track finder loops in Python.

Usage: ``python bench_recon.py [--events N] [--ref-events M] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np

from fermi_l1.digi import _reference as digi_ref
from fermi_l1.digi import decode_events, encode_events
from fermi_l1.recon import _kernels, _reference, reconstruct
from fermi_l1.recon import params as P
from fermi_l1.recon.toymc import simulate_photons


def _best(fn: Callable[..., object], repeat: int, *args: object) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def _events(n: int, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    energy = 10.0 ** rng.uniform(2.0, 5.0, n)
    return simulate_photons(
        energy, rng.uniform(0, 70, n), rng.uniform(0, 360, n), rng, charged=rng.random(n) < 0.3
    )[0]


def _stage_args(digi, cfg):  # type: ignore[no-untyped-def]
    """Run the numba chain once and collect every kernel's inputs."""
    n = digi.n_events
    a: dict[str, tuple] = {}
    a["cluster_hits"] = (digi.tkr_ptr, digi.tkr_tower, digi.tkr_plane, digi.tkr_view, digi.tkr_strip, cfg)
    clu_ptr, clu_plane, clu_view, _t, _n, clu_pos, clu_z = _kernels.cluster_hits(*a["cluster_hits"])
    log_e = np.ascontiguousarray(digi.cal_energy)
    e_win = np.maximum(np.bincount(digi.cal_event, weights=log_e, minlength=n), P.MIN_WINDOW_ENERGY_MEV)
    a["find_tracks"] = (
        clu_ptr,
        clu_plane,
        clu_view,
        clu_pos,
        clu_z,
        e_win,
        P.TRACK_WINDOW_MM,
        P.TRACK_MAX_GAP,
        P.TRACK_SEED_PLANES,
        cfg,
    )
    nhits, first, _last, slope, icpt, chi2, var, hits = _kernels.find_tracks(*a["find_tracks"])
    a["event_direction"] = (nhits, first, slope, icpt, P.TRACK_MIN_HITS, cfg)
    has, fp, d, _th, _ph, vertex = _kernels.event_direction(*a["event_direction"])
    cz = d[:, 2].copy()
    a["calorimeter_energy"] = (digi.cal_ptr, log_e, fp, cz, P.ENERGY_ITERATIONS, cfg)
    raw, energy, frac = _kernels.calorimeter_energy(*a["calorimeter_energy"])
    a["refit_tracks"] = (hits, nhits, clu_plane, clu_pos, clu_z, slope, icpt, chi2, var, energy, cz, cfg)
    a["tracker_energy"] = (hits, nhits, clu_plane, clu_pos, clu_z, slope, cz, cfg)
    rng = np.random.default_rng(1)
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    a["to_sky"] = (d, q, rng.normal(size=(n, 3)) * 7e6, np.eye(3))
    a["classify"] = (
        has,
        nhits,
        chi2,
        fp,
        vertex,
        d,
        energy,
        raw,
        frac,
        var,
        digi.acd_ptr,
        digi.acd_id,
        digi.acd_energy,
        cfg,
    )
    return a


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--ref-events", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    n, m, r = args.events, min(args.ref_events, args.events), args.repeat
    print(f"making {n} toy events ...", flush=True)
    sim = _events(n)
    buf, off, ln = encode_events(sim)
    sub_buf, sub_off, sub_ln = encode_events(_events(m, seed=1))
    decode_events(sub_buf, sub_off, sub_ln)  # compile / load cache
    reconstruct(decode_events(sub_buf, sub_off, sub_ln))
    print(f"cpu count {os.cpu_count()}; single-threaded numba; best of {r}\n")
    print(f"{'stage':<22}{'numba ev/s':>14}{'numpy ev/s':>14}{'speed-up':>10}")

    def row(name: str, t_fast: float, n_fast: int, t_ref: float, n_ref: int) -> None:
        f, s = n_fast / t_fast, n_ref / t_ref
        print(f"{name:<22}{f:>14,.0f}{s:>14,.0f}{f / s:>10.1f}")

    t_fast = _best(lambda: decode_events(buf, off, ln), r)
    t_ref = _best(lambda: digi_ref.decode_records(sub_buf, sub_off, sub_ln), 1)
    row("digi decode", t_fast, n, t_ref, m)
    digi = decode_events(buf, off, ln)
    cfg = _kernels.config()
    stages = _stage_args(digi, cfg)
    sub_digi = decode_events(sub_buf, sub_off, sub_ln)
    sub_stages = _stage_args(sub_digi, cfg)
    for name, fast_args in stages.items():
        tf = _best(getattr(_kernels, name), r, *fast_args)
        tr = _best(getattr(_reference, name), 1, *sub_stages[name])
        row(name, tf, n, tr, m)
    tf = _best(lambda: reconstruct(digi), r)
    tr = _best(lambda: reconstruct(sub_digi, engine="numpy"), 1)
    row("reconstruct (all)", tf, n, tr, m)
    t_chain = _best(lambda: reconstruct(decode_events(buf, off, ln)), r)
    print(f"\nfull chain digi + recon, numba: {n / t_chain:,.0f} events/s/core")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
