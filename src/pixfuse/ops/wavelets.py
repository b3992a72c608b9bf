"""Wavelet transforms for fusion: DWT, SWT (PyWavelets), dual-tree complex wavelets, MSVD.

All functions take and return float arrays; the inverse of each transform
crops back to the input size, so any image size works.

References
----------
S. Mallat, "A theory for multiresolution signal decomposition: the wavelet
representation", IEEE TPAMI 11(7):674-693, 1989.

G. P. Nason and B. W. Silverman, "The stationary wavelet transform and some
statistical applications", Lecture Notes in Statistics 103, 1995.

N. G. Kingsbury, "Complex wavelets for shift invariant analysis and filtering
of signals", Applied and Computational Harmonic Analysis 10(3):234-253, 2001.

I. W. Selesnick, R. G. Baraniuk and N. G. Kingsbury, "The dual-tree complex
wavelet transform", IEEE Signal Processing Magazine 22(6):123-151, 2005.

V. P. S. Naidu, "Image fusion technique using multi-resolution singular value
decomposition", Defence Science Journal 61(5):479-484, 2011.
"""
from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np
import pywt

# ----------------------------------------------------------------------- DWT / SWT


def dwt_decompose(img: np.ndarray, wavelet: str, levels: int, mode: str = "symmetric") -> list:
    """``pywt.wavedec2`` (coarse approximation first, then detail triples coarse to fine)."""
    return pywt.wavedec2(np.asarray(img, np.float64), wavelet, mode=mode, level=levels)


def dwt_reconstruct(coeffs: list, wavelet: str, shape: tuple[int, ...], mode: str = "symmetric") -> np.ndarray:
    """Inverse of :func:`dwt_decompose`, cropped to ``shape``."""
    out = pywt.waverec2(coeffs, wavelet, mode=mode)
    return out[: shape[0], : shape[1]].astype(np.float32)


def max_dwt_levels(shape: tuple[int, ...], wavelet: str) -> int:
    return pywt.dwt_max_level(min(shape[0], shape[1]), pywt.Wavelet(wavelet).dec_len)


def _pad_to_multiple(img: np.ndarray, m: int, margin: int = 0) -> tuple[np.ndarray, tuple[int, int]]:
    h, w = img.shape
    ph = (-(h + 2 * margin)) % m
    pw = (-(w + 2 * margin)) % m
    top, left = margin, margin
    padded = np.pad(img, ((top, margin + ph), (left, margin + pw)), mode="symmetric")
    return padded, (top, left)


def swt_decompose(img: np.ndarray, wavelet: str, levels: int) -> tuple[list, tuple]:
    """Stationary (undecimated) 2-D wavelet transform.

    The image is mirror-padded to a multiple of ``2**levels`` (PyWavelets'
    requirement); returns ``(coeffs, crop)`` where ``coeffs`` is
    ``[cA_n, (cH_n, cV_n, cD_n), ..., (cH_1, cV_1, cD_1)]`` (as
    ``pywt.swt2(..., trim_approx=True)``) and ``crop`` is needed by
    :func:`swt_reconstruct`.
    """
    x = np.asarray(img, np.float64)
    padded, (top, left) = _pad_to_multiple(x, 2**levels)
    coeffs = pywt.swt2(padded, wavelet, level=levels, trim_approx=True, norm=True)
    return coeffs, (top, left, x.shape[0], x.shape[1])


def swt_reconstruct(coeffs: list, wavelet: str, crop: tuple) -> np.ndarray:
    top, left, h, w = crop
    out = pywt.iswt2(coeffs, wavelet, norm=True)
    return out[top : top + h, left : left + w].astype(np.float32)


# ----------------------------------------------------------------------- DTCWT

#: Kingsbury's Q-shift (14,14)-tap tree-a low-pass analysis filter "qshift_b"
#: (Kingsbury 2001; coefficients as distributed with the DTCWT toolbox).
QSHIFT_B_H0A = np.array(
    [
        0.003253142763653182, -0.00388321199915849, 0.03466034684485349, -0.03887280126882779,
        -0.11720388769911527, 0.27529538466888204, 0.7561456438925225, 0.5688104207121227,
        0.011866092033797, -0.1067118046866654, 0.023825384794920298, 0.01702522388155399,
        -0.005439475937274115, -0.004556895628475491,
    ]
)


@lru_cache(maxsize=None)
def _dtcwt_wavelets(level1: str) -> tuple[pywt.Wavelet, pywt.Wavelet, pywt.Wavelet]:
    w1 = pywt.Wavelet(level1)
    qa = pywt.Wavelet("qshift_b_a", filter_bank=pywt.orthogonal_filter_bank(QSHIFT_B_H0A))
    qb = pywt.Wavelet("qshift_b_b", filter_bank=pywt.orthogonal_filter_bank(QSHIFT_B_H0A[::-1].copy()))
    return w1, qa, qb


@dataclasses.dataclass
class DTCWTPyramid:
    """Dual-tree coefficients: per level an array ``(2, 3, H_j, W_j)`` complex (±45°-type pairs x 3 bands).

    ``lowpass`` holds the four trees' approximations ``(4, h, w)``.
    """

    lowpass: np.ndarray
    highpasses: list[np.ndarray]
    crop: tuple[int, int, int, int]
    level1: str


_TREES = ((0, 0), (1, 1), (0, 1), (1, 0))  # (column tree, row tree): aa, bb, ab, ba
_R2 = 1.0 / np.sqrt(2.0)


def dtcwt_forward(img: np.ndarray, levels: int, level1: str = "bior4.4") -> DTCWTPyramid:
    """2-D dual-tree complex wavelet transform (Kingsbury 2001; four separable real trees).

    Tree *a* and tree *b* use the same biorthogonal filters at level 1 with
    a one-sample offset (odd instead of even subsampling) and Kingsbury's
    Q-shift filters at levels >= 2 (tree *b* the time reverse of tree *a*,
    a quarter-sample delay each way, so tree *b* is approximately the
    Hilbert transform of tree *a*).  The four real separable transforms
    (aa, bb, ab, ba) are combined as in Selesnick et al. (2005) into six
    oriented complex sub-bands per level: ``(aa -/+ bb) + i (ab +/- ba)``
    over the three DWT detail types.

    The image is mirror-padded (32 px plus up to a multiple of ``2**levels``)
    and circular (periodization) boundaries are used inside, so the transform
    is exactly invertible by :func:`dtcwt_inverse`.
    """
    x = np.asarray(img, np.float64)
    w1, qa, qb = _dtcwt_wavelets(level1)
    padded, (top, left) = _pad_to_multiple(x, 2**levels, margin=32)
    lows = []
    details: list[list] = [[] for _ in range(levels)]
    for ct, rt in _TREES:
        lo = padded
        if ct:
            lo = np.roll(lo, -1, axis=0)
        if rt:
            lo = np.roll(lo, -1, axis=1)
        for j in range(levels):
            if j == 0:
                wv = (w1, w1)
            else:
                wv = (qb if ct else qa, qb if rt else qa)
            lo, (dh, dv, dd) = pywt.dwt2(lo, wv, mode="periodization")
            details[j].append(np.stack([dh, dv, dd]))
        lows.append(lo)
    highs = []
    for j in range(levels):
        aa, bb, ab, ba = details[j]
        z1 = ((aa - bb) + 1j * (ab + ba)) * _R2
        z2 = ((aa + bb) + 1j * (ab - ba)) * _R2
        highs.append(np.stack([z1, z2]))
    return DTCWTPyramid(np.stack(lows), highs, (top, left, x.shape[0], x.shape[1]), level1)


def dtcwt_inverse(pyr: DTCWTPyramid) -> np.ndarray:
    """Inverse of :func:`dtcwt_forward` (average of the four trees' exact inverses)."""
    w1, qa, qb = _dtcwt_wavelets(pyr.level1)
    levels = len(pyr.highpasses)
    trees = [[None] * levels for _ in range(4)]
    for j, z in enumerate(pyr.highpasses):
        z1, z2 = z[0], z[1]
        aa = (z1.real + z2.real) * _R2
        bb = (z2.real - z1.real) * _R2
        ab = (z1.imag + z2.imag) * _R2
        ba = (z1.imag - z2.imag) * _R2
        for t, d in enumerate((aa, bb, ab, ba)):
            trees[t][j] = d
    acc = None
    for t, (ct, rt) in enumerate(_TREES):
        lo = pyr.lowpass[t]
        for j in reversed(range(levels)):
            wv = (w1, w1) if j == 0 else (qb if ct else qa, qb if rt else qa)
            d = trees[t][j]
            lo = pywt.idwt2((lo, (d[0], d[1], d[2])), wv, mode="periodization")
        if ct:
            lo = np.roll(lo, 1, axis=0)
        if rt:
            lo = np.roll(lo, 1, axis=1)
        acc = lo if acc is None else acc + lo
    top, left, h, w = pyr.crop
    return (acc / 4.0)[top : top + h, left : left + w].astype(np.float32)


# ----------------------------------------------------------------------- MSVD


@dataclasses.dataclass
class MSVDLevel:
    """One MSVD level: the 4 x 4 eigenvector matrix and the 3 detail planes."""

    u: np.ndarray
    details: np.ndarray  # (3, h, w)


def msvd_forward(img: np.ndarray, levels: int) -> tuple[np.ndarray, list[MSVDLevel], list[tuple[int, int]]]:
    """Multi-resolution SVD (Naidu 2011): 2x2 blocks, eigenvectors of their scatter matrix.

    At each level the non-overlapping 2x2 blocks form the columns of a
    ``4 x (H/2 W/2)`` matrix ``X``; with ``U`` the eigenvectors of ``X X^T``
    (descending eigenvalues) the coefficients ``U^T X`` give an approximation
    plane (first row) and three detail planes.  Odd sizes are mirror-padded
    by one row/column (cropped by :func:`msvd_inverse`).

    Returns ``(approximation, levels, shapes)``.
    """
    a = np.asarray(img, np.float64)
    out: list[MSVDLevel] = []
    shapes = []
    for _ in range(levels):
        h, w = a.shape
        shapes.append((h, w))
        if h % 2 or w % 2:
            a = np.pad(a, ((0, h % 2), (0, w % 2)), mode="symmetric")
        hh, ww = a.shape[0] // 2, a.shape[1] // 2
        x = a.reshape(hh, 2, ww, 2).transpose(3, 1, 0, 2).reshape(4, hh * ww)
        # column-major 2x2 block order as in Naidu's code: (0,0), (1,0), (0,1), (1,1)
        evals, u = np.linalg.eigh(x @ x.T)
        u = u[:, np.argsort(evals)[::-1]]
        # fix the sign so that the approximation is positive for positive images
        u = u * np.where(u[:, :1].sum() < 0, -1.0, 1.0)
        t = u.T @ x
        out.append(MSVDLevel(u, t[1:].reshape(3, hh, ww)))
        a = t[0].reshape(hh, ww)
    return a, out, shapes


def msvd_inverse(approx: np.ndarray, levels: list[MSVDLevel], shapes: list[tuple[int, int]]) -> np.ndarray:
    """Inverse of :func:`msvd_forward` (exact: ``U`` is orthogonal)."""
    a = np.asarray(approx, np.float64)
    for lev, (h, w) in zip(reversed(levels), reversed(shapes)):
        hh, ww = a.shape
        t = np.concatenate([a.reshape(1, -1), lev.details.reshape(3, -1)])
        x = lev.u @ t
        a = x.reshape(2, 2, hh, ww).transpose(2, 1, 3, 0).reshape(2 * hh, 2 * ww)[:h, :w]
    return a.astype(np.float32)
