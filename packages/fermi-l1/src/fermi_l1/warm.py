"""Compiling the L1 kernels once per environment, shared by the pool workers that start together.

numba compiles a kernel on its first call in a process, or loads it from the on-disk cache
(:mod:`fermi_core.jit`) when another process saved it before. Two workers that start at once on
an empty cache would each compile every L1 kernel (numba has no cross-process coordination).
:func:`ensure_warm`, called at the start of an L1 task, shares that work: the kernels are in
:data:`PARTS`, each part a function calling a group of them on a few events made in memory, with
the argument types of the real pipeline (dtype, dimensions, layout, read-only or writable: each is
a signature of its own), so that the real calls then find them compiled. A worker takes the parts
one by one under a lock file per part in the numba cache folder: a part whose lock is free it runs
(compiling, or loading from the cache), a part another worker holds it passes; when only held
parts remain it waits for them, then runs them (loaded from the cache the other worker filled).
With two workers each part is compiled by one of them, both at the same time.

A part that fails only logs a warning: its kernels then compile on first use, as without warming.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

__all__ = ["PARTS", "ensure_warm"]

log = logging.getLogger(__name__)

_N_EVENTS = 6  # a few events: several hits each, so no array degenerates to one element


@cache
def _photons() -> Any:
    """Decoded events of a few photons with tracks (numpy only: the toy test beam)."""
    from fermi_l1.recon.toymc import simulate_photons

    rng = np.random.default_rng(20240601)
    n = _N_EVENTS
    charged = np.arange(n) % 2 == 1
    digi, _ = simulate_photons(np.geomspace(100.0, 20000.0, n), np.linspace(5.0, 60.0, n),
                               np.linspace(0.0, 300.0, n), rng, charged=charged)  # fmt: skip
    return digi


@cache
def _recon_inputs() -> dict[str, Any]:
    """The reconstruction's intermediate arrays for :func:`_photons`, from the numpy twins.

    They come from :func:`fermi_l1.recon.reconstruct.first_pass`, the pass
    :func:`fermi_l1.recon.reconstruct.reconstruct` makes, so each kernel of a part gets the types
    it gets there.
    """
    from fermi_l1.recon import _kernels
    from fermi_l1.recon import _reference as ref
    from fermi_l1.recon.reconstruct import first_pass

    digi = _photons()
    cfg = _kernels.config()
    fp = first_pass(digi, ref, cfg)
    return {
        "digi": digi, "cfg": cfg, "clu_ptr": fp.clu_ptr, "clu_plane": fp.clu_plane, "clu_view": fp.clu_view,
        "clu_pos": fp.clu_pos, "clu_z": fp.clu_z, "log_energy": fp.log_energy, "e_window": fp.e_window,
        "nhits": fp.nhits, "first": fp.first, "slope": fp.slope, "icpt": fp.icpt, "chi2": fp.chi2, "var": fp.var,
        "hits": fp.hits, "has": fp.has_track, "fp": fp.first_plane, "direction": fp.direction,
        "vertex": fp.vertex, "raw": fp.raw, "energy": fp.energy, "frac": fp.fraction,
    }  # fmt: skip


def _records() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Records of a few events as the recon task gets them: a read-only byte buffer (a memory map)."""
    from fermi_l1 import instrument as inst
    from fermi_l1.digi._reference import encode_record

    tile = int(inst.ACD_TILE_IDS[0])
    records = []
    for i in range(_N_EVENTS):
        tower = i % inst.N_TOWERS
        strips = [(p, v, 100 + 7 * i + p) for p in range(3) for v in range(2)]
        logs = [(layer, i % inst.N_CAL_COLUMNS, 0, 0, 400 + layer, 410 + layer) for layer in range(3)]
        fields = {"gem_sequence": 1000 + i, "gem_tkr_vector": 1 << tower, "gem_cal_le_vector": 1 << tower,
                  "tone_seconds": 1000, "prev_tone_seconds": 999, "trigger_ticks": 100 * i}  # fmt: skip
        records.append(
            encode_record(fields, [(tower, strips, logs)], [(tile, 1, 0, 300, 0)] if i % 2 else [])
        )
    lengths = np.array([len(r) for r in records], dtype=np.int64)
    offsets = np.zeros(lengths.size, dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    return np.frombuffer(b"".join(records), dtype=np.uint8), offsets, lengths


def _part_digi() -> None:
    """Digi decoding (scan_records, fill_records) and the crumb's monitoring fills."""
    from fermi_l1.digi import decode_events
    from fermi_l1.monitoring.fill import crumb_histograms

    buf, offsets, lengths = _records()
    digi = decode_events(buf, offsets, lengths, errors="flag", source="warm-up records")
    crumb_histograms(digi)


def _part_tracks() -> None:
    """Track finding (find_tracks)."""
    from fermi_l1.recon import _kernels
    from fermi_l1.recon import params as P

    r = _recon_inputs()
    _kernels.find_tracks(
        r["clu_ptr"], r["clu_plane"], r["clu_view"], r["clu_pos"], r["clu_z"], r["e_window"], P.TRACK_WINDOW_MM,
        P.TRACK_MAX_GAP, P.TRACK_SEED_PLANES, r["cfg"],
    )  # fmt: skip


def _part_refit() -> None:
    """The refit with multiple scattering, the tracker energy and the classification."""
    from fermi_l1.recon import _kernels

    r = _recon_inputs()
    digi, cfg, cos_z = r["digi"], r["cfg"], r["direction"][:, 2].copy()
    _kernels.refit_tracks(
        r["hits"], r["nhits"], r["clu_plane"], r["clu_pos"], r["clu_z"], r["slope"], r["icpt"], r["chi2"],
        r["var"], r["energy"], cos_z, cfg,
    )  # fmt: skip
    _kernels.tracker_energy(
        r["hits"], r["nhits"], r["clu_plane"], r["clu_pos"], r["clu_z"], r["slope"], cos_z, cfg
    )
    _kernels.classify(
        r["has"], r["nhits"], r["chi2"], r["fp"], r["vertex"], r["direction"], r["energy"], r["raw"], r["frac"],
        r["var"], digi.acd_ptr, digi.acd_id, digi.acd_energy, cfg,
    )  # fmt: skip


def _part_clusters() -> None:
    """Strip clustering, the event direction and the calorimeter energy."""
    from fermi_l1.recon import _kernels
    from fermi_l1.recon import params as P

    r = _recon_inputs()
    digi, cfg = r["digi"], r["cfg"]
    _kernels.cluster_hits(digi.tkr_ptr, digi.tkr_tower, digi.tkr_plane, digi.tkr_view, digi.tkr_strip, cfg)
    _kernels.event_direction(r["nhits"], r["first"], r["slope"], r["icpt"], P.TRACK_MIN_HITS, cfg)
    _kernels.calorimeter_energy(
        digi.cal_ptr, r["log_energy"], r["fp"], r["direction"][:, 2].copy(), P.ENERGY_ITERATIONS, cfg
    )


def _part_run() -> None:
    """Sky directions (to_sky) and the FT2 30 s merge (the shim's merge_groups)."""
    from fermi_l1.recon import sky_directions
    from fermi_sciencetools_shim.io.ft2_merge import merge_ft2

    r = _recon_inputs()
    n = r["digi"].n_events
    angle = np.linspace(0.1, 1.0, n)
    quaternion = np.stack([np.zeros(n), np.sin(angle / 2), np.zeros(n), np.cos(angle / 2)], axis=1)
    position = np.stack([7.0e6 * np.cos(angle), 7.0e6 * np.sin(angle), np.zeros(n)], axis=1)
    sky_directions(r["direction"], quaternion, position)
    start = 1000.0 + np.arange(8, dtype=np.float64)
    merge_ft2({"START": start, "STOP": start + 1.0, "LIVETIME": np.full(8, 0.9),
               "LAT_CONFIG": np.ones(8, np.int16), "LAT_MODE": np.full(8, 5, np.int16),
               "DATA_QUAL": np.ones(8, np.int16)}, 30.0)  # fmt: skip


#: (name, function) of each part, the longest to compile first (the greedy order of the workers)
PARTS: tuple[tuple[str, Callable[[], None]], ...] = (
    ("digi", _part_digi),
    ("tracks", _part_tracks),
    ("refit", _part_refit),
    ("clusters", _part_clusters),
    ("run", _part_run),
)

_done = False  # this process (or the one it was forked from) went through the parts
_lock = threading.Lock()


def _open_lock(folder: str, name: str) -> int | None:
    """The lock file of part ``name`` opened for locking, or None when it cannot be (then no sharing)."""
    try:
        os.makedirs(folder, exist_ok=True)
        return os.open(os.path.join(folder, f"fermi-l1-warm-{name}.lock"), os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return None


def _try_lock(fd: int | None) -> bool:
    if fd is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        return True  # a file system without locks: run the part unshared
    return True


def _run(name: str, fn: Callable[[], None], fd: int | None) -> None:
    try:
        fn()
    except Exception as exc:  # a warm-up must never break a task: its kernels compile when first used
        log.warning("numba warm-up part %r failed (%s: %s); its kernels compile when first used",
                    name, type(exc).__name__, exc)  # fmt: skip
    finally:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


def ensure_warm() -> bool:
    """Compile (or load from the cache) every L1 kernel in this process, sharing the compiling.

    Once per process (a no-op afterwards, and in processes forked from one that did it); a no-op
    when the numba cache is disabled (``FERMI_NUMBA_CACHE=0``: nothing to share). Parts another
    process is compiling are passed and waited for last (see the module docstring).

    Returns
    -------
    bool
        Whether this call went over the parts (False: a no-op).
    """
    global _done
    from fermi_core.jit import cache_dir, cache_enabled

    with _lock:
        if _done:
            return False
        _done = True
        if not cache_enabled():
            return False
        folder = cache_dir()
        held: list[tuple[str, Callable[[], None], int | None]] = []
        for name, fn in PARTS:
            fd = _open_lock(folder, name)
            if _try_lock(fd):
                _run(name, fn, fd)
            else:
                held.append((name, fn, fd))
        for name, fn, fd in held:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # type: ignore[arg-type]
            except OSError:
                pass  # run it anyway
            _run(name, fn, fd)
    return True
