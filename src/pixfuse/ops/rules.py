"""Coefficient-combination rules of multi-scale fusion, written once.

Every rule takes a stack ``(N, H, W)`` of co-located transform coefficients
(one slice per source) and returns the fused ``(H, W)`` band.

References
----------
P. J. Burt and R. J. Kolczynski, "Enhanced image capture through fusion",
Proc. 4th ICCV, pp. 173-182, 1993 (salience / match rule).

H. Li, B. S. Manjunath and S. K. Mitra, "Multisensor image fusion using the
wavelet transform", Graphical Models and Image Processing 57(3):235-245, 1995
(area-based maximum selection with consistency verification).
"""
from __future__ import annotations

import cv2
import numpy as np


def _as_stack(bands: np.ndarray) -> np.ndarray:
    b = np.asarray(bands)
    if b.ndim != 3:
        raise ValueError(f"expected a (N, H, W) stack of bands, got shape {b.shape}")
    return b


def take(bands: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``bands[idx[y, x], y, x]`` for an index map ``idx`` (H, W)."""
    return np.take_along_axis(bands, idx[None].astype(np.intp), axis=0)[0]


def select_max_abs(bands: np.ndarray) -> np.ndarray:
    """Per coefficient, the source value of largest magnitude (first source wins ties)."""
    b = _as_stack(bands)
    return take(b, np.argmax(np.abs(b), axis=0))


def select_max(bands: np.ndarray) -> np.ndarray:
    """Per coefficient, the largest source value (signed)."""
    return _as_stack(bands).max(axis=0)


def _box_sum(x: np.ndarray, size: int) -> np.ndarray:
    """Sum over a ``size`` x ``size`` window with symmetric borders (float32, per slice)."""
    x = np.asarray(x, np.float32)
    k = np.ones(size, np.float32)
    if x.ndim == 3:
        return np.stack([cv2.sepFilter2D(s, cv2.CV_32F, k, k, borderType=cv2.BORDER_REFLECT) for s in x])
    return cv2.sepFilter2D(x, cv2.CV_32F, k, k, borderType=cv2.BORDER_REFLECT)


def max_filter(x: np.ndarray, size: int) -> np.ndarray:
    """Grey dilation with a ``size`` x ``size`` square (symmetric borders)."""
    x = np.asarray(x, np.float32)
    kern = np.ones((size, size), np.uint8)
    if x.ndim == 3:
        return np.stack([cv2.dilate(s, kern, borderType=cv2.BORDER_REFLECT) for s in x])
    return cv2.dilate(x, kern, borderType=cv2.BORDER_REFLECT)


def consistency_verify(decision: np.ndarray, n: int, window: int = 3) -> np.ndarray:
    """Majority filter of an index map: each pixel takes the source that wins most often in its window.

    This is the consistency verification of Li, Manjunath & Mitra (1995): a
    coefficient whose neighbours mostly come from the other source is switched.
    Ties keep the lower source index.
    """
    if window <= 1:
        return decision
    onehot = np.stack([(decision == i).astype(np.float32) for i in range(n)])
    votes = _box_sum(onehot, window)
    return np.argmax(votes, axis=0)


def select_consistent(bands: np.ndarray, window: int = 3, verify: bool = True) -> np.ndarray:
    """Li-Manjunath-Mitra rule: area-based maximum activity, then consistency verification.

    The activity of a coefficient is the maximum absolute value in a
    ``window`` x ``window`` neighbourhood; each position takes the source of
    highest activity, and the binary decision map is majority filtered over
    the same window.

    Parameters
    ----------
    bands : (N, H, W) array of real coefficients (or of magnitudes paired with
        values; see :func:`decision_consistent` for complex data).
    window : odd int, activity and verification window (3 in the paper)
    verify : apply the consistency verification

    Returns
    -------
    (H, W) fused band.
    """
    b = _as_stack(bands)
    return take(b, decision_consistent(np.abs(b), window, verify))


def decision_consistent(activity_src: np.ndarray, window: int = 3, verify: bool = True) -> np.ndarray:
    """Index map of :func:`select_consistent` from non-negative magnitudes ``(N, H, W)``."""
    act = max_filter(activity_src, window) if window > 1 else np.asarray(activity_src, np.float32)
    dec = np.argmax(act, axis=0)
    return consistency_verify(dec, act.shape[0], window) if verify else dec


def salience_match(bands: np.ndarray, window: int = 3, alpha: float = 0.85) -> np.ndarray:
    """Burt & Kolczynski (1993) salience / match combination.

    Salience ``S_i`` is the local energy of each source over a ``window`` x
    ``window`` neighbourhood; the match ``M = 2 sum(D_A D_B) / (S_A + S_B)``.
    Where ``M <= alpha`` the more salient coefficient is selected; otherwise
    the two are averaged with weights ``w_min = 1/2 - 1/2 (1 - M) / (1 - alpha)``
    for the less salient and ``1 - w_min`` for the more salient source.
    More than two sources are fused pairwise in order.
    """
    b = _as_stack(bands).astype(np.float32)
    out = b[0]
    for nxt in b[1:]:
        out = _salience_match_pair(out, nxt, window, alpha)
    return out


def _salience_match_pair(a: np.ndarray, b: np.ndarray, window: int, alpha: float) -> np.ndarray:
    sa = _box_sum(a * a, window)
    sb = _box_sum(b * b, window)
    m = 2.0 * _box_sum(a * b, window) / (sa + sb + np.float32(1e-12))
    wmin = np.float32(0.5) - np.float32(0.5) * (1.0 - m) / np.float32(1.0 - alpha)
    wmin = np.where(m > alpha, wmin, np.float32(0.0))
    a_wins = sa >= sb
    wa = np.where(a_wins, 1.0 - wmin, wmin)
    return (wa * a + (1.0 - wa) * b).astype(np.float32)
