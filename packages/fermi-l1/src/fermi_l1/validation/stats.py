"""The two-sample Kolmogorov–Smirnov test, in numpy.

``D`` is the largest distance between the two empirical cumulative distributions; the p-value
is the asymptotic Kolmogorov distribution with Stephens' small-sample correction
(Numerical Recipes ``kstwo``/``probks``): with ``n_e = n1 n2 / (n1 + n2)`` and
``lambda = (sqrt(n_e) + 0.12 + 0.11 / sqrt(n_e)) D``,
``p = 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 lambda^2)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class KsResult:
    """Result of :func:`ks_2samp`: the statistic, its p-value and the sample sizes (NaNs dropped)."""

    statistic: float
    pvalue: float
    n_old: int
    n_new: int


def kolmogorov_survival(lam: float) -> float:
    """``Q_KS(lambda) = 2 sum (-1)^(k-1) exp(-2 k^2 lambda^2)``, the probability of a larger D."""
    if lam < 0.2:  # the series converges slowly there and Q is 1 to 1e-10
        return 1.0
    k = np.arange(1, 101, dtype=np.float64)
    terms = 2.0 * (-1.0) ** (k - 1) * np.exp(-2.0 * k * k * lam * lam)
    return float(min(max(terms.sum(), 0.0), 1.0))


def ks_2samp(old: np.ndarray, new: np.ndarray) -> KsResult:
    """Two-sample Kolmogorov–Smirnov test of ``old`` against ``new`` (NaNs are dropped).

    Parameters
    ----------
    old, new
        1-d samples (any real or boolean dtype).

    Returns
    -------
    KsResult
        ``statistic`` 0 and ``pvalue`` 1 for identical samples or two empty ones; ``statistic`` 1
        and ``pvalue`` 0 when exactly one sample is empty.
    """
    a = np.sort(_finite(old))
    b = np.sort(_finite(new))
    if a.size == 0 or b.size == 0:
        same = a.size == b.size
        return KsResult(0.0 if same else 1.0, 1.0 if same else 0.0, int(a.size), int(b.size))
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    en = np.sqrt(a.size * b.size / (a.size + b.size))
    p = kolmogorov_survival((en + 0.12 + 0.11 / en) * d) if d > 0 else 1.0
    return KsResult(d, p, int(a.size), int(b.size))


def _finite(values: np.ndarray) -> np.ndarray:
    x = np.asarray(values)
    if x.ndim != 1:
        raise ValueError(f"a KS sample must be 1-d, got shape {x.shape}")
    x = x.astype(np.float64)
    return x[~np.isnan(x)]
