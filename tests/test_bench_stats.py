"""Ranks, Friedman/Nemenyi and Kendall tau used by the reports, against scipy and Demšar (2006)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import friedmanchisquare, kendalltau

from pixfuse.bench.stats import friedman_nemenyi, kendall_matrix, ranks


def test_ranks_orientation_and_ties():
    assert ranks([0.1, 0.5, 0.5, 0.2], higher_is_better=True).tolist() == [4.0, 1.5, 1.5, 3.0]
    assert ranks([0.1, 0.5, np.nan, 0.2], higher_is_better=False).tolist() == [1.0, 3.0, 4.0, 2.0]


def test_friedman_matches_scipy_and_demsar_cd():
    rng = np.random.default_rng(3)
    t = rng.random((12, 5)) + np.array([0.0, 0.1, 0.2, 0.5, 0.9])  # 12 images, 5 methods
    t[2, 1] = t[2, 2]  # a tie
    res = friedman_nemenyi(t, list("abcde"), higher_is_better=True)
    ref = friedmanchisquare(*t.T)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    # Demšar 2006, Table 5(a): q_0.05 = 2.728 for k = 5
    assert res.cd == pytest.approx(2.728 * np.sqrt(5 * 6 / (6 * 12)), abs=2e-3)
    assert res.mean_ranks["e"] < res.mean_ranks["a"]
    assert ("e", "a", pytest.approx(res.mean_ranks["a"] - res.mean_ranks["e"])) in [
        (x, y, d) for x, y, d in res.significant_pairs]
    # lower is better flips the ranking; incomplete blocks are dropped; too few methods -> None
    low = friedman_nemenyi(t, list("abcde"), higher_is_better=False)
    assert low.mean_ranks["a"] < low.mean_ranks["e"] and low.statistic == pytest.approx(res.statistic)
    t2 = t.copy()
    t2[0, 0] = np.nan
    assert friedman_nemenyi(t2, list("abcde"), True).n_blocks == 11
    assert friedman_nemenyi(t[:, :2], ["a", "b"], True) is None


def test_kendall_matrix():
    means = np.array([[1.0, 2.0, 3.0, 4.0],     # higher is better
                      [4.0, 3.0, 2.0, 1.0],     # lower is better: same ordering of methods
                      [1.0, 3.0, 2.0, 4.0],
                      [5.0, 5.0, 5.0, 5.0]])    # constant: undefined
    k = kendall_matrix(means, [True, False, True, True])
    assert k[0, 1] == pytest.approx(1.0) and k[0, 0] == pytest.approx(1.0)
    assert k[0, 2] == pytest.approx(kendalltau(means[0], means[2]).statistic)
    assert np.allclose(k, k.T, equal_nan=True) and np.isnan(k[3]).all()
