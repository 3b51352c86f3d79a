"""From halfpipe output to the L1 run input: digi -> recon per crumb, then merit chunks per run.

Both tasks run on the executor and are idempotent: a crumb's merit file and the run input folder
are written under temporary names and renamed, and an existing result is kept as it is.

* :func:`recon_crumb` decodes events ``[lo, hi)`` of one merged file, interpolates the attitude
  (samples not flagged attitude-invalid) and position (samples not flagged orbit-invalid) at each
  event time, reconstructs, and writes the crumb's merit table (and, just before, its digi
  monitoring histograms: :func:`fermi_l1.monitoring.fill.write_crumb_histograms`).
* :func:`assemble_run_input` concatenates the crumbs of each chunk into ``merit/chunkNNNN.parquet``,
  writes the run's spacecraft samples and, last, ``run.json`` with the provenance.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from fermi_core.atomic import atomic_directory
from fermi_core.checksum import sha256_file_unchanged
from fermi_core.errors import BadInput
from fermi_halfpipe.format import FLAG_ATTITUDE_INVALID, FLAG_ORBIT_INVALID
from fermi_l1.digi import decode_events
from fermi_l1.ft2.make import SpacecraftDataError, invalid_mask
from fermi_l1.merit import MeritError, build_merit, read_merit, write_merit
from fermi_l1.monitoring.fill import write_crumb_histograms
from fermi_l1.pipeline.inputs import write_run_inputs
from fermi_l1.recon import interpolate_attitude, reconstruct


class HandoffError(BadInput, ValueError):
    """Halfpipe output that L1 cannot use (checksum mismatch, unreadable file): bad input."""


def load_samples(files: Sequence[Mapping], t_min: float, t_max: float) -> dict[str, np.ndarray]:
    """Read the spacecraft sample files ``[{path, sha256}, ...]`` and keep ``t_min <= met <= t_max``.

    Samples of several deliveries are merged in time order; a time seen twice is kept once.

    Raises
    ------
    HandoffError
        A file that is missing, unreadable or whose SHA-256 is not the recorded one.
    SpacecraftDataError
        No sample in the span.
    """
    from fermi_halfpipe.spacecraft import read_samples

    parts = []
    for f in files:
        path = Path(f["path"])
        try:
            digest = sha256_file_unchanged(path)
            if digest != f["sha256"]:
                raise HandoffError(f"{path}: SHA-256 {digest} differs from the recorded {f['sha256']}")
            parts.append(read_samples(path))
        except (OSError, ValueError) as exc:
            if isinstance(exc, HandoffError):
                raise
            raise HandoffError(f"{path}: cannot read the spacecraft samples ({exc})") from None
    if not parts:
        raise SpacecraftDataError(f"no spacecraft sample file covers MET {t_min:.3f}..{t_max:.3f}")
    names = [n for n in parts[0] if all(n in p for p in parts)]
    merged = {n: np.concatenate([p[n] for p in parts]) for n in names}
    order = np.argsort(merged["met"], kind="stable")
    met = merged["met"][order]
    keep = np.ones(met.size, dtype=bool)
    keep[1:] = met[1:] != met[:-1]
    keep &= (met >= t_min) & (met <= t_max)
    if not keep.any():
        raise SpacecraftDataError(f"no spacecraft sample in MET {t_min:.3f}..{t_max:.3f}")
    return {n: v[order][keep] for n, v in merged.items()}


def pointing_at(samples: Mapping[str, np.ndarray], t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (quaternion (n, 4), position (n, 3)) at times ``t`` from the valid samples only."""
    met = np.asarray(samples["met"], dtype=np.float64)
    quat = np.asarray(samples["quaternion"], dtype=np.float64)
    pos = np.asarray(samples["position"], dtype=np.float64)
    att = ~invalid_mask(samples, "attitude_invalid", FLAG_ATTITUDE_INVALID)
    orb = ~invalid_mask(samples, "orbit_invalid", FLAG_ORBIT_INVALID)
    if not att.any() or not orb.any():
        raise SpacecraftDataError("no spacecraft sample with a valid attitude and one with a valid orbit")
    q, _ = interpolate_attitude(t, met[att], quat[att], pos[att])
    _, p = interpolate_attitude(t, met[orb], quat[orb], pos[orb])
    return q, p


def recon_crumb(
    merged: str,
    sha256: str,
    lo: int,
    hi: int,
    run: int,
    spacecraft: Sequence[Mapping],
    out: str,
) -> list[str]:
    """Reconstruct events ``[lo, hi)`` of the merged file ``merged`` into the merit file ``out``.

    Malformed event records are kept with their ``DIGI_STATUS`` (no hits). Returns ``[out]``.

    Raises
    ------
    HandoffError
        The merged file's checksum differs from the halfpipe's record, or it is unreadable.
    """
    from fermi_halfpipe.outputs import read_merged

    target = Path(out)
    if target.is_file():
        return [str(target)]
    try:
        events = read_merged(merged, sha256=sha256)
    except (OSError, ValueError) as exc:
        raise HandoffError(str(exc)) from None
    n = events.offsets.size
    if not 0 <= lo < hi <= n:
        raise HandoffError(f"{merged}: event range [{lo}, {hi}) outside the file's {n} events")
    digi = decode_events(
        events.records_buffer,
        events.offsets[lo:hi],
        events.lengths[lo:hi],
        errors="flag",
        source=f"{merged} events {lo}..{hi - 1}",
    )
    t = np.asarray(events.columns["event_time"][lo:hi], dtype=np.float64)
    samples = load_samples(spacecraft, float(t.min()) - 60.0, float(t.max()) + 60.0)
    quaternion, position = pointing_at(samples, t)
    merit = build_merit(digi, reconstruct(digi, quaternion, position), run)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_crumb_histograms(target, digi)  # before the merit file, which marks the crumb done
    write_merit(target, merit, run_id=run)
    return [str(target)]


def assemble_run_input(
    run: int,
    start: float,
    stop: float,
    chunks: Sequence[Sequence[str]],
    spacecraft: Sequence[Mapping],
    merged: Sequence[Mapping],
    input_dir: str,
    pass_info: Mapping | None = None,
) -> list[str]:
    """Write the run input folder ``input_dir`` from the crumb merit files of each chunk.

    ``merged`` and ``spacecraft`` (``{path, relpath, sha256, ...}``) are recorded in ``run.json`` as
    the provenance, with ``pass_info`` (which version of the products this folder makes:
    :mod:`fermi_l1.versions`) as its ``pass``. Nothing is done if ``input_dir/run.json`` exists.
    Returns the folder's files.

    Raises
    ------
    MeritError
        A crumb's merit file is missing or unreadable.
    """
    root = Path(input_dir)
    if not (root / "run.json").is_file():
        if root.exists():  # a partial folder of a killed attempt (no run.json)
            shutil.rmtree(root)
        with atomic_directory(root) as tmp:
            (tmp / "merit").mkdir()
            for i, crumbs in enumerate(chunks):
                try:
                    parts = [read_merit(c) for c in crumbs]
                except ValueError as exc:
                    raise MeritError(str(exc)) from None
                table = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
                write_merit(tmp / "merit" / f"chunk{i:04d}.parquet", table, run_id=run)
            samples = load_samples(spacecraft, start - 10.0, stop + 10.0)
            provenance = {
                "merged_files": [
                    {k: f[k] for k in ("relpath", "sha256", "first_gem", "last_gem", "n_events")}
                    for f in merged
                ],
                "spacecraft_files": [{k: f[k] for k in ("relpath", "sha256")} for f in spacecraft],
            }
            if pass_info:
                provenance["pass"] = dict(pass_info)
            write_run_inputs(tmp, run, start, stop, samples, [], provenance=provenance)
    return [str(p) for p in sorted(root.rglob("*")) if p.is_file()]
