"""Ranking statistics for the reports: ranks, Friedman test, Nemenyi post-hoc, Kendall tau.

References
----------
J. Demšar, "Statistical Comparisons of Classifiers over Multiple Data Sets",
Journal of Machine Learning Research 7:1-30, 2006 (Friedman test with the
Nemenyi critical difference ``CD = q_alpha sqrt(k (k + 1) / (6 N))``, where
``q_alpha`` is the studentized range quantile divided by sqrt(2)).
M. G. Kendall, "A New Measure of Rank Correlation", Biometrika 30:81-93, 1938.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np


def ranks(values: Sequence[float], higher_is_better: bool) -> np.ndarray:
    """Rank 1 = best; ties share the average rank; NaN ranks last."""
    from scipy.stats import rankdata

    v = np.asarray(values, dtype=np.float64)
    key = -v if higher_is_better else v.copy()
    key[~np.isfinite(key)] = np.inf
    return rankdata(key, method="average")


@dataclasses.dataclass
class FriedmanResult:
    """Friedman test over ``n_blocks`` blocks (images or metrics) and ``k`` treatments (methods)."""

    statistic: float
    p_value: float
    n_blocks: int
    k: int
    mean_ranks: dict[str, float]
    cd: float  # Nemenyi critical difference at alpha
    alpha: float
    significant_pairs: list[tuple[str, str, float]]  # (better, worse, rank difference)

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha


def friedman_nemenyi(table: np.ndarray, names: Sequence[str], higher_is_better: bool | Sequence[bool],
                     alpha: float = 0.05) -> FriedmanResult | None:
    """Friedman test and Nemenyi post-hoc on a blocks x treatments table.

    ``table[b, t]`` is treatment ``t``'s score on block ``b``; rows with a
    non-finite value are dropped.  ``higher_is_better`` may be one flag per
    block (blocks = metrics).  Returns None with fewer than 3 treatments or 2
    complete blocks (the test is undefined).
    """
    from scipy.stats import chi2, studentized_range

    t = np.asarray(table, dtype=np.float64)
    if t.ndim != 2:
        return None
    hib = np.broadcast_to(np.asarray(higher_is_better, dtype=bool), (t.shape[0],))
    ok = np.isfinite(t).all(axis=1)
    t, hib = t[ok], hib[ok]
    n, k = t.shape
    if k < 3 or n < 2:
        return None
    r = np.vstack([ranks(row, bool(h)) for row, h in zip(t, hib)])
    mean_r = r.mean(axis=0)
    # Friedman statistic with the tie correction (as scipy.stats.friedmanchisquare).
    ssbn = float((r.sum(axis=0) ** 2).sum())
    ties = 0.0
    for row in r:
        _, counts = np.unique(row, return_counts=True)
        ties += float((counts ** 3 - counts).sum())
    c = 1.0 - ties / (k * (k * k - 1) * n)
    if c <= 0:  # every block fully tied
        stat, p = 0.0, 1.0
    else:
        stat = (12.0 / (k * n * (k + 1)) * ssbn - 3.0 * n * (k + 1)) / c
        p = float(chi2.sf(stat, k - 1))
    q = float(studentized_range.ppf(1 - alpha, k, np.inf)) / math.sqrt(2.0)
    cd = q * math.sqrt(k * (k + 1) / (6.0 * n))
    pairs = []
    if p < alpha:
        for i in range(k):
            for j in range(k):
                d = mean_r[j] - mean_r[i]
                if d > cd:
                    pairs.append((names[i], names[j], float(d)))
        pairs.sort(key=lambda x: -x[2])
    return FriedmanResult(float(stat), p, n, k, {nm: float(v) for nm, v in zip(names, mean_r)}, cd, alpha, pairs)


def kendall_matrix(means: np.ndarray, higher_is_better: Sequence[bool]) -> np.ndarray:
    """Kendall tau-b between metrics' method rankings.

    ``means[m, j]`` is method ``j``'s mean under metric ``m``.  Each metric is
    oriented so that larger = better before correlating, so tau = 1 means two
    metrics order the methods identically.  Entries are NaN where fewer than
    2 methods have finite values under both metrics or a metric is constant.
    """
    from scipy.stats import kendalltau

    x = np.asarray(means, dtype=np.float64).copy()
    for m, h in enumerate(higher_is_better):
        if not h:
            x[m] = -x[m]
    n = x.shape[0]
    out = np.full((n, n), np.nan)
    for a in range(n):
        for b in range(a, n):
            ok = np.isfinite(x[a]) & np.isfinite(x[b])
            if ok.sum() < 2 or np.ptp(x[a][ok]) == 0 or np.ptp(x[b][ok]) == 0:
                continue
            tau = kendalltau(x[a][ok], x[b][ok]).statistic
            out[a, b] = out[b, a] = float(tau)
    return out
