"""Histogram (moment) matching as the pansharpening toolbox does it.

The toolbox "equalises" the PAN to an MS band or intensity by matching the
first two moments, with MATLAB's ``mean2`` and ``std2`` (sample standard
deviation, N - 1):

    P_eq = (P - mean(P)) * std(T) / std(P_ref) + mean(T)

where ``P_ref`` is the PAN itself (GIHS, BT, HPF, SFIM, ATWT) or a low-pass
version of it (MTF-GLP family: ``LPfilterGauss``; AWLP: bicubic down/up), so
that the *low-pass* PAN has the target's standard deviation.

The means and standard deviations go through :mod:`pixfuse.ops.gstats`, so a method
built on these helpers gets whole-scene statistics when run tile by tile
(:mod:`pixfuse.tiling`); on a whole image they are plain numpy reductions.
"""
from __future__ import annotations

import numpy as np

from . import gstats

__all__ = ["std2", "match_moments", "match_moments_bands"]


def std2(x: np.ndarray) -> float:
    """MATLAB ``std2``: sample standard deviation (N - 1) of all elements."""
    return float(gstats.std(np.asarray(x, dtype=np.float64), ddof=1))


def match_moments(src: np.ndarray, target: np.ndarray, src_ref: np.ndarray | None = None) -> np.ndarray:
    """Return ``(src - mean(src)) * std2(target) / std2(src_ref) + mean(target)``.

    ``src_ref`` defaults to ``src``.  A constant reference gives a division by
    zero in the toolbox; here the source is then only shifted to the target mean.
    """
    s = np.asarray(src, dtype=np.float64)
    ref = s if src_ref is None else np.asarray(src_ref, dtype=np.float64)
    sr = std2(ref)
    gain = std2(target) / sr if sr > 0 else 1.0
    return (s - float(gstats.mean(s))) * gain + float(gstats.mean(np.asarray(target, dtype=np.float64)))


def match_moments_bands(pan: np.ndarray, ms: np.ndarray, pan_ref: np.ndarray | None = None) -> np.ndarray:
    """PAN equalised to every MS band: HxW PAN, HxWxB MS -> HxWxB (``pan_ref``: HxW or HxWxB)."""
    out = np.empty(ms.shape, dtype=np.float64)
    for b in range(ms.shape[2]):
        ref = None
        if pan_ref is not None:
            ref = pan_ref if pan_ref.ndim == 2 else pan_ref[:, :, b]
        out[:, :, b] = match_moments(pan, ms[:, :, b], ref)
    return out
