"""Histogram matching (the intensity mapping used by ghost-removal steps)."""
from __future__ import annotations

import numpy as np


def match_histogram(src: np.ndarray, ref: np.ndarray, nbins: int = 256) -> np.ndarray:
    """Map ``src`` so its histogram matches ``ref`` (per channel for HxWx3).

    Values are assumed in [0, 1]; both histograms use ``nbins`` bins.  Each
    source bin is mapped to the reference level whose cumulative frequency
    is closest (the rule of MATLAB ``histeq``/``imhistmatch``), so the
    mapping is monotone.

    Returns float64 in [0, 1], same shape as ``src``.
    """
    s = np.asarray(src, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    if s.ndim == 3:
        rr = r if r.ndim == 3 else np.repeat(r[:, :, None], s.shape[2], axis=2)
        return np.dstack([match_histogram(s[:, :, c], rr[:, :, c], nbins) for c in range(s.shape[2])])
    if r.ndim == 3:
        r = r.mean(axis=2)
    q = lambda a: np.clip(np.round(a * (nbins - 1)), 0, nbins - 1).astype(np.intp)  # noqa: E731
    sb, rb = q(s), q(r)
    cs = np.cumsum(np.bincount(sb.ravel(), minlength=nbins)) / sb.size
    cr = np.cumsum(np.bincount(rb.ravel(), minlength=nbins)) / rb.size
    # for each source level the reference level with the nearest CDF (first on ties)
    j = np.searchsorted(cr, cs, side="left")
    j = np.clip(j, 0, nbins - 1)
    jm = np.clip(j - 1, 0, nbins - 1)
    pick = np.where(np.abs(cr[jm] - cs) <= np.abs(cr[j] - cs), jm, j)
    lut = pick / (nbins - 1)
    return lut[sb]


def equalize_histogram(img: np.ndarray, nbins: int = 256) -> np.ndarray:
    """Global histogram equalisation of values in [0, 1] (per channel for HxWxC).

    Each value is quantised to ``nbins`` levels and mapped to the cumulative
    frequency of its level (the classic ``T(k) = sum_{j<=k} p_j`` transform),
    so the output histogram is approximately uniform on [0, 1].

    Returns float32 in [0, 1], same shape as ``img``.
    """
    a = np.asarray(img, dtype=np.float32)
    if a.ndim == 3:
        return np.dstack([equalize_histogram(a[:, :, c], nbins) for c in range(a.shape[2])])
    q = np.clip(np.rint(a * (nbins - 1)), 0, nbins - 1).astype(np.intp)
    cdf = np.cumsum(np.bincount(q.ravel(), minlength=nbins)).astype(np.float64) / q.size
    return cdf.astype(np.float32)[q]
