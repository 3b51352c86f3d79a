"""Evaluating the declared checks on one run version's histograms: findings, exceptions, verdict.

Algorithms (limits and options in :mod:`.config`):

* ``value`` -- a run figure (``summary.<key>``) inside its warning / error range;
* ``mean`` -- the mean of a 1-D histogram (counts: weighted by the bin centres; profile: the mean
  of its finite values) inside its ranges;
* ``spikes_holes`` -- each bin against what its neighbours expect: ``across`` an axis (the
  median of the other elements of that axis, e.g. of the other towers at the same layer) or
  ``along`` an axis (the median of the ``window`` bins either side; at an end of the axis, where
  they are all on one side, their median or their steady trend, whichever is nearer); with ``normalize`` each
  element's shape is compared, not its rate: the expectation is the median shape times the
  element's total, made again from its other bins when some are past the warning limit (its own
  dead bins do not lower what its other bins expect). A bin fails
  when its relative deviation passes the limit *and* it is ``min_significance`` sigma away:
  the Poisson error of the bin and that of its expectation, a median of ``n`` neighbours
  (variance ``(pi / 2) e / n``), added in quadrature (counts, and rates from their counts);
* ``reference`` -- chi-square per degree of freedom of the histogram's shape against the same
  histogram of the reference run (each normalised to its total; Poisson errors of both, and the
  check's ``systematic`` fraction of the bin's content in quadrature), or with
  ``statistic = "max_pull"`` the largest single-bin pull (a few bad bins among many).

Each failing element is a finding; findings covered by a known exception are set aside
(reported as ``excepted``); the rest are grouped per (quantity, check) into one failed check
naming the worst element and how many failed. Verdict: ``bad`` if a failed check is at error
level, ``warning`` if one is at warning level, else ``good``. A check that cannot be evaluated
(quantity absent, too few events, no reference run) is listed as skipped, never as passed silently.
"""

from __future__ import annotations

import warnings
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


def _robust_shapes(x: np.ndarray, limit: float) -> np.ndarray:
    """What each row of ``x`` (elements x bins) expects per bin: the median shape times its total.

    The shape is the median over the elements of each one's bins over its total. The total of an
    element with bins more than ``limit`` (relative) off that expectation (dead or hot layers of a
    tower) is then made again from its other bins, as if those had been normal: six dead layers
    of 36 would otherwise lower what its 30 other layers expect by 17 % and make spikes of them.
    """
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: no element with counts
        tot = x.sum(axis=1)
        frac = np.where(tot[:, None] > 0, x / np.where(tot > 0, tot, 1.0)[:, None], np.nan)
        shape = np.nanmedian(frac, axis=0)
        shape = np.where(np.isfinite(shape), shape, 0.0)
        first = shape[None, :] * tot[:, None]
        off = (first > 0) & (np.abs(x - first) > limit * first)
        kept_share = 1.0 - (shape[None, :] * off).sum(axis=1) / max(float(shape.sum()), 1e-300)
        total = np.where(
            kept_share > 0, (x * ~off).sum(axis=1) / np.where(kept_share > 0, kept_share, 1.0), tot
        )
    return shape[None, :] * total[:, None]


def _trend(values: np.ndarray, at: list[int], i: int) -> np.ndarray:
    """What bin ``i`` expects from the steady trend of its one-sided neighbours (``values[..., k]`` at ``at``).

    The median rate of change (Theil-Sen on the logarithms, so a steady exponential rise or fall
    is a straight line) extrapolated to ``i``; NaN where a neighbour is not positive or there is
    only one.
    """
    pos = np.asarray(at, dtype=np.float64)
    if pos.size < 2:
        return np.full(values.shape[:-1], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        logs = np.log(np.where(values > 0, values, np.nan))
        slopes = np.stack(
            [
                (logs[..., b] - logs[..., a]) / (pos[b] - pos[a])
                for a in range(pos.size)
                for b in range(a + 1, pos.size)
            ],
            axis=-1,
        )
        slope = np.median(slopes, axis=-1)  # NaN if any neighbour is not positive
        level = np.median(logs - slope[..., None] * pos, axis=-1)
        return np.exp(level + slope * i)


def _nearer(value: np.ndarray, median: np.ndarray, trend: np.ndarray) -> np.ndarray:
    """Of the neighbours' median and their trend, the expectation nearer the bin's own value.

    At an end of the axis the neighbours are all on one side, and their median lags a rate that
    rises or falls steadily there (a run ending at the SAA entry, where the charged-particle rate
    climbs): such a bin is a spike or a hole only if neither its neighbours' median nor their
    trend expects it. Inside the axis the median of both sides follows a steady trend already.
    """
    use_trend = np.isfinite(trend) & (np.abs(value - trend) < np.abs(value - median))
    return np.where(use_trend, trend, median)


def _spikes(h: Histogram, c: Check, min_sig: float) -> list[tuple[tuple[int, ...], float, float, float]]:
    """(index, relative deviation, value, expected) of every bin failing at warning level or above."""
    counts = h.counts.astype(np.float64)
    is_counts = h.meta.get("kind") != "profile"
    if c.across is not None:
        ax = _axis(h, c.across)
        x = np.moveaxis(counts, ax, 0)
        n_median = np.full(x.shape, float(max(x.shape[0], 1)))  # the median includes the bin itself
        if c.normalize:
            expected = _robust_shapes(x.reshape(x.shape[0], -1), float(c.warning)).reshape(x.shape)
        else:
            expected = np.broadcast_to(np.nanmedian(x, axis=0, keepdims=True), x.shape)
        expected = np.moveaxis(np.asarray(expected, dtype=np.float64), 0, ax)
        n_median = np.moveaxis(n_median, 0, ax)
    else:
        ax = _axis(h, c.along)
        x = np.moveaxis(counts, ax, -1)
        n = x.shape[-1]
        expected = np.full(x.shape, np.nan)
        n_median = np.ones(x.shape)
        for i in range(n):
            nb = [j for j in range(max(0, i - c.window), min(n, i + c.window + 1)) if j != i]
            if nb:
                expected[..., i] = np.nanmedian(x[..., nb], axis=-1)
                n_median[..., i] = len(nb)
                if all(j < i for j in nb) or all(j > i for j in nb):  # a bin at an end of the axis
                    expected[..., i] = _nearer(x[..., i], expected[..., i], _trend(x[..., nb], nb, i))
        expected = np.moveaxis(expected, -1, ax)
        n_median = np.moveaxis(n_median, -1, ax)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.abs(counts - expected) / expected
    ok = np.isfinite(dev) & (expected >= (c.min_expected if is_counts else 0.0))
    #: variance of a median of n Poisson counts of mean e: (pi / 2) e / n
    median_var = 0.5 * np.pi / n_median
    if is_counts:
        e = np.maximum(expected, 1.0)
        ok &= np.abs(counts - expected) > min_sig * np.sqrt(e * (1.0 + median_var))
    elif h.meta.get("unit") == "Hz" and h.counts.ndim == 1:  # a rate: its significance from the counts
        width = np.diff(h.edges[0])
        e = np.maximum(expected * width, 1.0)
        ok &= np.abs(counts - expected) * width > min_sig * np.sqrt(e * (1.0 + median_var))
    ok &= dev > float(c.warning)
    return [(tuple(int(i) for i in idx), float(dev[idx]), float(counts[idx]), float(expected[idx]))
            for idx in zip(*np.nonzero(ok), strict=True)]  # fmt: skip


def _shape_var(a: np.ndarray, b: np.ndarray, ta: float, tb: float, systematic: float) -> np.ndarray:
    """Variance of ``a/ta - b/tb`` per bin: Poisson of both, plus ``systematic`` of the mean shape."""
    return a / ta**2 + b / tb**2 + (systematic * 0.5 * (a / ta + b / tb)) ** 2


def chi2_ndf(a: np.ndarray, b: np.ndarray, systematic: float = 0.0) -> tuple[float, int]:
    """Chi-square per degree of freedom between the shapes of two histograms of the same binning.

    Each is normalised to its total; the variance of a bin is that of the Poisson counts of both,
    plus ``systematic`` times the bin's mean shape in quadrature (bins empty in both do not count).
    Returns ``(chi2 / ndf, ndf)`` (``(nan, 0)`` if nothing to compare).
    """
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    ta, tb = a.sum(), b.sum()
    if ta <= 0 or tb <= 0:
        return float("nan"), 0
    use = (a + b) > 0
    var = _shape_var(a[use], b[use], ta, tb, systematic)
    chi2 = float((((a[use] / ta) - (b[use] / tb)) ** 2 / var).sum())
    ndf = int(use.sum()) - 1
    return (chi2 / ndf if ndf > 0 else float("nan")), ndf


def max_pull(a: np.ndarray, b: np.ndarray, systematic: float = 0.0) -> tuple[float, int]:
    """Largest bin pull ``|a/A - b/B| / sigma`` between two shapes (same errors as :func:`chi2_ndf`).

    Sensitive to a difference in a few bins (a dead layer) that chi-square per degree of freedom
    dilutes over all. Returns ``(pull, flat index of that bin)`` (``(nan, -1)`` if nothing to compare).
    """
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    ta, tb = a.sum(), b.sum()
    if ta <= 0 or tb <= 0 or not ((a + b) > 0).any():
        return float("nan"), -1
    var = _shape_var(a, b, ta, tb, systematic)
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
        v, i = max_pull(h.counts, r.counts, c.systematic)
        el = h.element(np.unravel_index(i, h.counts.shape)) if i >= 0 else "run"
        text = f"largest pull {v:.3g} sigma ({el}) against the reference"
    else:
        v, ndf = chi2_ndf(h.counts, r.counts, c.systematic)
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
