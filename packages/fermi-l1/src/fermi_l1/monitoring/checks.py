"""Evaluating the declared checks on one run version's histograms: findings, exceptions, verdict.

Algorithms (limits and options in :mod:`.config`):

* ``value`` -- a run figure (``summary.<key>``) inside its warning / error range;
* ``mean`` -- the mean of a 1-D histogram (counts: weighted by the bin centres; profile: the mean
  of its finite values) inside its ranges;
* ``spikes_holes`` -- each bin against what its neighbours expect: ``across`` an axis (the
  median of the other elements of that axis, e.g. of the other towers at the same layer) or
  ``along`` an axis (the median of the ``window`` bins either side); with ``normalize`` each
  element is first divided by its own total (its shape is compared, not its rate). A bin fails
  when its relative deviation passes the limit *and* it is ``min_significance`` Poisson sigma
  away (counts only);
* ``reference`` -- chi-square per degree of freedom of the histogram's shape against the same
  histogram of the reference run (each normalised to its total; Poisson errors of both), or
  with ``statistic = "max_pull"`` the largest single-bin pull (a few bad bins among many).

Each failing element is a finding; findings covered by a known exception are set aside
(reported as ``excepted``); the rest are grouped per (quantity, check) into one failed check
naming the worst element and how many failed. Verdict: ``bad`` if a failed check is at error
level, ``warning`` if one is at warning level, else ``good``. A check that cannot be evaluated
(quantity absent, too few events, no reference run) is listed as skipped, never as passed silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import Check, CheckConfig
from .histograms import Histogram

VERDICTS = ("good", "warning", "bad")


@dataclass(frozen=True)
class Finding:
    """One failing element of one check."""

    quantity: str
    check: str
    severity: str  # 'warning' | 'error'
    element: str
    value: float
    limit: Any
    detail: str


@dataclass
class Evaluation:
    """The outcome of every check on one run version."""

    verdict: str
    failed: list[dict[str, Any]] = field(default_factory=list)
    excepted: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    n_checks: int = 0

    def as_json(self) -> dict[str, Any]:
        """What the verdict row stores (``failed``, ``excepted``, ``skipped``)."""
        return {"failed": self.failed, "excepted": self.excepted, "skipped": self.skipped}


def _severity(value: float, warning: Any, error: Any, ranged: bool) -> tuple[str | None, Any]:
    if ranged:
        if not error[0] <= value <= error[1]:
            return "error", list(error)
        if not warning[0] <= value <= warning[1]:
            return "warning", list(warning)
        return None, None
    if value > error:
        return "error", error
    if value > warning:
        return "warning", warning
    return None, None


def _mean(h: Histogram) -> float | None:
    if h.counts.ndim != 1:
        return None
    if h.meta.get("kind") == "profile":
        v = h.counts[np.isfinite(h.counts)]
        return float(v.mean()) if v.size else None
    if h.total <= 0:
        return None
    centres = 0.5 * (h.edges[0][1:] + h.edges[0][:-1])
    return float((centres * h.counts).sum() / h.total)


def _axis(h: Histogram, name: str | None) -> int:
    axes = h.meta.get("axes") or []
    if name not in axes:
        raise KeyError(f"histogram {h.name} has no axis {name!r} (axes: {', '.join(axes)})")
    return axes.index(name)


def _spikes(h: Histogram, c: Check, min_sig: float) -> list[tuple[tuple[int, ...], float, float, float]]:
    """(index, relative deviation, value, expected) of every bin failing at warning level or above."""
    counts = h.counts.astype(np.float64)
    is_counts = h.meta.get("kind") != "profile"
    if c.across is not None:
        ax = _axis(h, c.across)
        x = np.moveaxis(counts, ax, 0)
        if c.normalize:
            tot = x.reshape(x.shape[0], -1).sum(axis=1).reshape((-1,) + (1,) * (x.ndim - 1))
            frac = np.where(tot > 0, x / np.where(tot > 0, tot, 1.0), np.nan)
            med = np.nanmedian(frac, axis=0, keepdims=True)
            expected = med * tot
        else:
            expected = np.broadcast_to(np.nanmedian(x, axis=0, keepdims=True), x.shape)
        expected = np.moveaxis(np.asarray(expected, dtype=np.float64), 0, ax)
    else:
        ax = _axis(h, c.along)
        x = np.moveaxis(counts, ax, -1)
        n = x.shape[-1]
        expected = np.full(x.shape, np.nan)
        for i in range(n):
            nb = [j for j in range(max(0, i - c.window), min(n, i + c.window + 1)) if j != i]
            if nb:
                expected[..., i] = np.nanmedian(x[..., nb], axis=-1)
        expected = np.moveaxis(expected, -1, ax)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.abs(counts - expected) / expected
    ok = np.isfinite(dev) & (expected >= (c.min_expected if is_counts else 0.0))
    if is_counts:
        ok &= np.abs(counts - expected) > min_sig * np.sqrt(np.maximum(expected, 1.0))
    elif h.meta.get("unit") == "Hz" and h.counts.ndim == 1:  # a rate: its significance from the counts
        width = np.diff(h.edges[0])
        ok &= np.abs(counts - expected) * width > min_sig * np.sqrt(np.maximum(expected * width, 1.0))
    ok &= dev > float(c.warning)
    return [(tuple(int(i) for i in idx), float(dev[idx]), float(counts[idx]), float(expected[idx]))
            for idx in zip(*np.nonzero(ok), strict=True)]  # fmt: skip


def chi2_ndf(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Chi-square per degree of freedom between the shapes of two histograms of the same binning.

    Each is normalised to its total; the variance of a bin is that of the Poisson counts of both
    (bins empty in both do not count). Returns ``(chi2 / ndf, ndf)`` (``(nan, 0)`` if nothing to compare).
    """
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    ta, tb = a.sum(), b.sum()
    if ta <= 0 or tb <= 0:
        return float("nan"), 0
    use = (a + b) > 0
    var = a[use] / ta**2 + b[use] / tb**2
    chi2 = float((((a[use] / ta) - (b[use] / tb)) ** 2 / var).sum())
    ndf = int(use.sum()) - 1
    return (chi2 / ndf if ndf > 0 else float("nan")), ndf


def max_pull(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Largest bin pull ``|a/A - b/B| / sigma`` between two shapes (same errors as :func:`chi2_ndf`).

    Sensitive to a difference in a few bins (a dead layer) that chi-square per degree of freedom
    dilutes over all. Returns ``(pull, flat index of that bin)`` (``(nan, -1)`` if nothing to compare).
    """
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    ta, tb = a.sum(), b.sum()
    if ta <= 0 or tb <= 0 or not ((a + b) > 0).any():
        return float("nan"), -1
    var = a / ta**2 + b / tb**2
    with np.errstate(divide="ignore", invalid="ignore"):
        pull = np.where(var > 0, np.abs(a / ta - b / tb) / np.sqrt(var), 0.0)
    i = int(np.argmax(pull))
    return float(pull[i]), i


def _findings(c: Check, run: int, hists: Mapping[str, Histogram], summary: Mapping[str, Any],
              reference: Mapping[str, Histogram] | None, cfg: CheckConfig) -> tuple[list[Finding], str | None]:  # fmt: skip
    """Findings of one check, or ``([], reason)`` when it cannot be evaluated."""
    name = c.check
    if c.algorithm == "value":
        key = c.quantity.removeprefix("summary.")
        v = summary.get(key)
        if v is None:
            return [], f"run figure {key!r} not known for this run"
        sev, lim = _severity(float(v), c.warning, c.error, True)
        return ([Finding(c.quantity, name, sev, "run", float(v), lim, f"{key} = {float(v):.4g}, allowed {lim}")]
                if sev else []), None  # fmt: skip
    h = hists.get(c.quantity)
    if h is None:
        why = summary.get("digi") if summary.get("digi") not in (None, "complete") else None
        return [], f"histogram {c.quantity!r} not in the run's monitoring file" + (f" ({why})" if why else "")
    if int(summary.get("n_events", 0)) < cfg.min_events:
        return [], f"{summary.get('n_events', 0)} events, fewer than min_events = {cfg.min_events}"
    if c.algorithm == "mean":
        v = _mean(h)
        if v is None:
            return [], f"histogram {c.quantity!r} has no mean"
        sev, lim = _severity(v, c.warning, c.error, True)
        return ([Finding(c.quantity, name, sev, "run", v, lim, f"mean {v:.4g} {h.meta.get('unit', '')}".rstrip()
                         + f", allowed {lim}")] if sev else []), None  # fmt: skip
    if c.algorithm == "spikes_holes":
        out = []
        for idx, dev, val, exp in _spikes(h, c, cfg.min_significance):
            sev, lim = _severity(dev, c.warning, c.error, False)
            kind = "hole" if val < exp else "spike"
            el = h.element(idx)
            out.append(Finding(c.quantity, name, sev, el, dev, lim,
                               f"{el}: {kind}, {val:.4g} against {exp:.4g} expected ({100 * (val - exp) / exp:+.0f} %)"))  # fmt: skip
        return out, None
    # reference
    if reference is None:
        return [], "no reference run set"
    r = reference.get(c.quantity)
    if r is None or r.counts.shape != h.counts.shape:
        return [], f"the reference run has no histogram {c.quantity!r} of this binning"
    if c.statistic == "max_pull":
        v, i = max_pull(h.counts, r.counts)
        el = h.element(np.unravel_index(i, h.counts.shape)) if i >= 0 else "run"
        text = f"largest pull {v:.3g} sigma ({el}) against the reference"
    else:
        v, ndf = chi2_ndf(h.counts, r.counts)
        el, text = "run", f"chi2/ndf {v:.3g} (ndf {ndf}) against the reference"
    if not np.isfinite(v):
        return [], f"nothing to compare in {c.quantity!r}"
    sev, lim = _severity(v, c.warning, c.error, False)
    return ([Finding(c.quantity, name, sev, el, v, lim, text)] if sev else []), None


def evaluate(
    run: int,
    hists: Mapping[str, Histogram],
    summary: Mapping[str, Any],
    config: CheckConfig,
    reference: Mapping[str, Histogram] | None = None,
) -> Evaluation:
    """Evaluate every check of ``config`` on one run version; return the verdict and the failed checks.

    Parameters
    ----------
    run
        LAT run id (for run-limited known exceptions).
    hists, summary
        The run version's histograms and summary (:func:`fermi_l1.monitoring.fill.run_histograms`).
    config
        The check configuration.
    reference
        The reference run's histograms (``reference`` checks are skipped without).
    """
    ev = Evaluation("good", n_checks=len(config.checks))
    for c in config.checks:
        try:
            found, why = _findings(c, run, hists, summary, reference, config)
        except KeyError as exc:
            found, why = [], str(exc.args[0])
        if why is not None:
            ev.skipped.append({"quantity": c.quantity, "check": c.check, "reason": why})
            continue
        kept = []
        for f in found:
            exc = next((x for x in config.exceptions if x.matches(run, f.quantity, f.check, f.element)), None)
            if exc is None:
                kept.append(f)
            else:
                ev.excepted.append({"quantity": f.quantity, "check": f.check, "severity": f.severity,
                                    "element": f.element, "value": f.value, "reason": exc.reason})  # fmt: skip
        if not kept:
            continue
        worst = max(kept, key=lambda f: (f.severity == "error", f.value))
        n_err = sum(f.severity == "error" for f in kept)
        others = [f.element for f in sorted(kept, key=lambda f: -f.value) if f is not worst][:5]
        detail = worst.detail + (f"; {len(kept) - 1} more: {'; '.join(others)}" if len(kept) > 1 else "")
        ev.failed.append({"quantity": c.quantity, "check": c.check, "severity": worst.severity,
                          "element": worst.element, "value": worst.value, "limit": worst.limit,
                          "detail": detail, "n_failed": len(kept), "n_error": n_err})  # fmt: skip
    if any(f["severity"] == "error" for f in ev.failed):
        ev.verdict = "bad"
    elif ev.failed:
        ev.verdict = "warning"
    return ev
