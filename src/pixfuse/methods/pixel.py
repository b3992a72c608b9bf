"""Pixel-level rules: average, weighted average, maximum, minimum, PCA weights."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..registry import Param, register_method
from ._util import parse_floats, stack

_ALL = ("ivif", "medical", "multi_focus", "multi_exposure", "general")


@register_method(
    "average",
    tasks=_ALL,
    n_inputs=(2, None),
    color="channels",
    citation="Baseline: arithmetic mean of the sources (e.g. Piella, Inf. Fusion 4(4):259-280, 2003).",
    aliases=("mean", "avg"),
)
def average(images: Sequence[np.ndarray]) -> np.ndarray:
    """Arithmetic mean of the sources, pixel by pixel and channel by channel.

    References
    ----------
    G. Piella, "A general framework for multiresolution image fusion: from
    pixels to regions", Information Fusion 4(4):259-280, 2003 (baseline rule).
    """
    return stack(images).mean(axis=0)


@register_method(
    "weighted-average",
    tasks=_ALL,
    n_inputs=(2, None),
    color="channels",
    params={"weights": Param(None, "one non-negative weight per source, e.g. '0.3,0.7' (normalised to sum 1); default equal", type=None)},
    citation="Baseline: fixed convex combination of the sources.",
    aliases=("wavg",),
)
def weighted_average(images: Sequence[np.ndarray], *, weights: object = None) -> np.ndarray:
    """Fixed convex combination ``sum_i w_i I_i`` with user weights normalised to sum 1.

    Parameters
    ----------
    images : sequence of float32 arrays of equal shape
    weights : sequence of float or comma-separated string, optional
        One weight per source; equal weights by default.
    """
    s = stack(images)
    n = s.shape[0]
    w = np.full(n, 1.0 / n) if weights is None else parse_floats(weights, n, "weights")
    w = (w / w.sum()).astype(np.float32)
    return np.tensordot(w, s, axes=(0, 0)).astype(np.float32)


@register_method(
    "max",
    tasks=_ALL,
    n_inputs=(2, None),
    color="luminance",
    citation="Baseline: per-pixel maximum (choose-max rule).",
    aliases=("maximum",),
)
def maximum(images: Sequence[np.ndarray]) -> np.ndarray:
    """Per-pixel maximum of the (luminance) sources."""
    return stack(images).max(axis=0)


@register_method(
    "min",
    tasks=_ALL,
    n_inputs=(2, None),
    color="luminance",
    citation="Baseline: per-pixel minimum (choose-min rule).",
    aliases=("minimum",),
)
def minimum(images: Sequence[np.ndarray]) -> np.ndarray:
    """Per-pixel minimum of the (luminance) sources."""
    return stack(images).min(axis=0)


def pca_weights(images: Sequence[np.ndarray]) -> np.ndarray:
    """Weights of PCA fusion: the principal eigenvector of the sources' covariance, normalised to sum 1."""
    s = stack(images).reshape(len(images), -1).astype(np.float64)
    cov = np.cov(s)
    cov = np.atleast_2d(cov)
    vals, vecs = np.linalg.eigh(cov)
    v = np.abs(vecs[:, np.argmax(vals)])
    if not np.isfinite(v).all() or v.sum() <= 0:
        return np.full(len(images), 1.0 / len(images))
    return v / v.sum()


@register_method(
    "pca",
    tasks=("ivif", "medical", "multi_focus", "general"),
    n_inputs=(2, None),
    color="luminance",
    citation=(
        "V. P. S. Naidu and J. R. Raol, 'Pixel-level Image Fusion using Wavelets and Principal "
        "Component Analysis', Defence Science Journal 58(3):338-352, 2008."
    ),
)
def pca(images: Sequence[np.ndarray]) -> np.ndarray:
    """PCA-weighted fusion (Naidu & Raol 2008).

    The sources are the variables of a covariance matrix (each image a column
    of pixel values); the normalised principal eigenvector gives one global
    weight per source, ``F = sum_i P_i I_i`` with ``sum P_i = 1``.  Constant
    sources (zero covariance) fall back to equal weights.

    References
    ----------
    V. P. S. Naidu and J. R. Raol, "Pixel-level Image Fusion using Wavelets
    and Principal Component Analysis", Defence Science Journal 58(3):338-352, 2008.
    """
    w = pca_weights(images).astype(np.float32)
    return np.tensordot(w, stack(images), axes=(0, 0)).astype(np.float32)
