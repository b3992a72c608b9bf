"""Low-pass part of the toolbox's non-decimated wavelet transform (ATWT, AWLP, GSA).

The pansharpening toolbox builds the "a trous" low-pass image with MATLAB's old
``ndwt2``/``indwt2`` pair (``Tools/ndwt2_working.m``) and the Starck-Murtagh
filter bank h = sqrt(2) [1 4 6 4 1]/16, keeping only the approximation and
reconstructing.  That transform is *not* an a-trous (hole) transform: every level
filters with the same 5-tap kernel without dilation, the decomposition of each
level extends its input half-sample-symmetrically by 4 samples and keeps the
central ``n + 4`` samples of the full convolution (the signal grows by 2 per
side), and each reconstruction level is a full convolution followed by
extraction of the central part, i.e. a 'valid' filtering.  Per axis and level the
gains multiply to one (sqrt(2)^2 / 2 per axis with the 1/4 of ``indwt2``).

:func:`starck_murtagh_lowpass` reproduces that operator exactly (separable, any
number of levels; the toolbox uses ``ceil(log2(ratio))``).

Reference
---------
J.-L. Starck, J. Fadili, F. Murtagh, "The undecimated wavelet decomposition and its
reconstruction", IEEE TIP 16(2), 2007; G. Vivone et al., IEEE TGRS 53(5), 2015 (toolbox).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .seams import segmentwise

__all__ = ["starck_murtagh_lowpass", "B3_KERNEL"]

#: Normalised B3-spline kernel (sum 1).
B3_KERNEL = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _dec(a: np.ndarray, axis: int) -> np.ndarray:
    # half-sample symmetric extension by 4, full convolution, central n+4 samples
    pad = [(0, 0)] * a.ndim
    pad[axis] = (4, 4)
    ext = np.pad(a, pad, mode="symmetric")
    f = ndimage.correlate1d(ext, B3_KERNEL, axis=axis, mode="constant")
    sl = [slice(None)] * a.ndim
    sl[axis] = slice(2, ext.shape[axis] - 2)
    return f[tuple(sl)]


def _rec(a: np.ndarray, axis: int) -> np.ndarray:
    # full convolution then central part of size n-4: a 'valid' filtering
    f = ndimage.correlate1d(a, B3_KERNEL, axis=axis, mode="constant")
    sl = [slice(None)] * a.ndim
    sl[axis] = slice(2, a.shape[axis] - 2)
    return f[tuple(sl)]


@segmentwise
def starck_murtagh_lowpass(img: np.ndarray, levels: int) -> np.ndarray:
    """Approximation image of ``indwt2(ndwt2(img, levels, SM filters))`` with all details zeroed.

    Parameters
    ----------
    img : HxW array (each side at least 5 samples).
    levels : number of decomposition levels (toolbox: ``ceil(log2(ratio))``).

    Returns
    -------
    float64 HxW low-pass image.
    """
    a = np.asarray(img, dtype=np.float64)
    for _ in range(levels):
        a = _dec(_dec(a, 0), 1)
    for _ in range(levels):
        a = _rec(_rec(a, 0), 1)
    return a
