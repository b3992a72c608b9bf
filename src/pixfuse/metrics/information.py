"""Information-theoretic fusion metrics: EN, CE, MI, NMI, FMI, Q_NCIE, Q_TE.

Defaults follow VIFB (EN, CE, MI), Tang's Evaluation-for-Image-Fusion scripts
(FMI) and Z. Liu's imageFusionMetrics as shipped in MEFB (NMI, Q_NCIE, Q_TE).
Named variants reproduce the other published conventions (MI in bits,
Tang's MI with its uint8 saturation).  All on the 8-bit (0-255) domain.
"""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ..registry import register_metric
from . import _common as C
from .statistics import ALL_TASKS, TANG, VIFB

LIU = (
    "Z. Liu et al., 'Objective assessment of multiresolution image fusion algorithms for context enhancement in "
    "night vision: a comparative study', IEEE TPAMI 34(1):94-109, 2012 (code: github.com/zhengliu6699/"
    "imageFusionMetrics, as shipped in MEFB, X. Zhang, Inf. Fusion 74:111-131, 2021)"
)


def _fused_only(fused: Any) -> np.ndarray:
    return C.to_domain(fused, "fused image")


# ------------------------------------------------------------------------ EN


def _entropy_img(x: np.ndarray) -> float:
    h = C.hist256(np.floor(x))
    return C.entropy_p(h / x.size, 2.0)


@register_metric("en", higher_is_better=True, needs="fused", tasks=ALL_TASKS, convention="VIFB",
                 citation="J. van Aardt, 'Assessment of image fusion procedures using entropy, image quality, and "
                          "multispectral classification', J. Appl. Remote Sens. 2(1):023522, 2008; " + VIFB,
                 display="EN", aliases=("entropy",))
def en(fused: Any, sources: Any = None, reference: Any = None) -> float:
    """Shannon entropy of the fused image in bits (VIFB ``metricsEntropy``).

    256-bin histogram of the 8-bit grey levels, ``EN = -sum p log2 p``; an RGB
    fused image gives the mean of the channel entropies (VIFB).  Tang's
    ``entropy(uint8 F)`` (MATLAB ``entropy``/``imhist``) is the same number on a
    grey image.  A two-level equiprobable image has EN = 1; a constant one 0.

    References
    ----------
    VIFB ``metrics/metricsEntropy.m``.
    """
    F = _fused_only(fused)
    chans = [F] if F.ndim == 2 else [F[:, :, k] for k in range(F.shape[2])]
    return float(np.mean([_entropy_img(c) for c in chans]))


# ------------------------------------------------------------------------ CE


def _hist(x: np.ndarray) -> np.ndarray:
    """Memoised :func:`~pixfuse.metrics._common.hist256` (the fused image's serves every source)."""
    return C.memo(("hist256",), lambda: C.hist256(x), x, users=frozenset({"ce"}))


def _ce(src: np.ndarray, f: np.ndarray) -> float:
    p1 = _hist(src) / src.size
    p2 = _hist(f) / src.size
    m = (p1 != 0) & (p2 != 0)
    return float((p1[m] * np.log2(p1[m] / p2[m])).sum())


@register_metric("ce", higher_is_better=False, needs="sources", tasks=ALL_TASKS, convention="VIFB",
                 citation="D. M. Bulanon, T. Burks, V. Alchanatis, 'Image fusion of visible and thermal images for "
                          "fruit detection', Biosystems Engineering 103(1):12-22, 2009; " + VIFB,
                 display="CE", aliases=("cross_entropy",))
def ce(fused: Any, sources: Any, reference: Any = None) -> float:
    """Cross entropy (VIFB ``metricsCross_entropy``), bits; lower is better.

    For each source ``CE(S, F) = sum_k p_S(k) log2(p_S(k) / p_F(k))`` over the
    grey levels where *both* histograms are non-zero (a KL divergence, not
    symmetric); result = (CE(VI,F) + CE(IR,F)) / 2.  A colour VI with a grey
    fused image is converted with ``rgb2gray`` of the uint8 image (rounded).

    References
    ----------
    VIFB ``metrics/metricsCross_entropy.m``.
    """
    F, S = C.prepare(fused, sources, min_sources=1)

    def single(*args: np.ndarray) -> float:
        f = args[-1]
        return float(np.mean([_ce(C.gray_of(s, uint8=True), f) for s in args[:-1]]))

    return C.vifb_dispatch(single, F, S, any_count=True)


# ------------------------------------------------------------------------ MI


def mutual_information(a: np.ndarray, b: np.ndarray, base: float = 2.0) -> float:
    """Mutual information of two integer-valued (0-255) images from their 256x256 joint histogram.

    ``MI = H(a) + H(b) - H(a, b)`` in units of ``log(base)`` (bits by default).
    ``mutual_information(x, x) == entropy(x)``.
    """
    h = C.joint_hist(a, b) / a.size
    return C.entropy_p(h.sum(1), base) + C.entropy_p(h.sum(0), base) - C.entropy_p(h.ravel(), base)


def _mi_vifb(a: np.ndarray, b: np.ndarray) -> float:
    # VIFB's int16(x * 255) of the min-max normalised image (round half away from zero, a constant
    # image -> zeros) is Liu's normalize1 operation for operation: memoised and shared with NMI & co.
    return mutual_information(normalize1(a), normalize1(b), np.e)


@register_metric("mi", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="VIFB",
                 citation="G. Qu, D. Zhang, P. Yan, 'Information measure for performance of image fusion', "
                          "Electronics Letters 38(7):313-315, 2002; " + VIFB,
                 display="MI", aliases=("mutinf", "mutual_information"))
def mi(fused: Any, sources: Any, reference: Any = None) -> float:
    """Mutual information as VIFB computes it (``metricsMutinf``): a sum, in **nats**.

    ``MI = MI(VI, F) + MI(IR, F)`` with natural logarithms; each image is first
    min-max normalised to [0, 1] and binned with ``int16(x * 255) + 1`` into a
    256x256 joint histogram (a constant image becomes all zeros).  A colour VI
    with a grey fused image -> ``rgb2gray`` of the uint8 image.  See
    :func:`mi_bits` (bits, no normalisation) and :func:`mi_tang`.

    References
    ----------
    VIFB ``metrics/metricsMutinf.m``; Qu et al. (2002).
    """
    F, S = C.prepare(fused, sources, min_sources=1)

    def single(*args: np.ndarray) -> float:
        f = args[-1]
        return float(sum(_mi_vifb(C.gray_of(s, uint8=True), f) for s in args[:-1]))

    return C.vifb_dispatch(single, F, S, any_count=True)


@register_metric("mi_bits", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="paper (bits)",
                 citation="G. Qu, D. Zhang, P. Yan, Electronics Letters 38(7):313-315, 2002",
                 display="MI (bits)")
def mi_bits(fused: Any, sources: Any, reference: Any = None) -> float:
    """Mutual information in bits, summed over the sources (Qu et al. 2002, plain definition).

    ``MI = sum_k MI(S_k, F)`` from the 256x256 joint histogram of the 8-bit grey
    levels (colour -> ``rgb2gray`` uint8), no normalisation, no saturation.
    ``MI(x, x) = EN(x)``.  Works for N sources.
    """
    F, S = C.prepare(fused, sources, min_sources=1)
    F, S = C.tang_gray(F, S)
    return float(sum(mutual_information(s, F) for s in S))


@register_metric("mi_tang", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="Tang-Evaluation",
                 citation=TANG, display="MI (Tang)")
def mi_tang(fused: Any, sources: Any, reference: Any = None) -> float:
    """Mutual information as Tang's ``MI_evaluation`` (X. Qu's code): sum over sources, bits.

    ``MI = sum_k H(S_k) + H(F) - H(F, S_k)`` with the marginals from MATLAB
    ``entropy`` (256-bin ``imhist``) and the joint histogram indexed by
    ``uint8(x) + 1`` -- uint8 saturation makes grey levels 254 and 255 share a
    joint bin (kept: it is what the published numbers contain).
    """
    F, S = C.prepare(fused, sources, min_sources=1)
    F, S = C.tang_gray(F, S)
    hf = _entropy_img(F)
    Fi = np.minimum(F + 1, 255) - 1
    tot = 0.0
    for s in S:
        hj = C.joint_hist(Fi, np.minimum(s + 1, 255) - 1) / F.size
        tot += _entropy_img(s) + hf - C.entropy_p(hj.ravel(), 2.0)
    return float(tot)


# ----------------------------------------------------- Liu / MEFB MI family


def normalize1(x: np.ndarray) -> np.ndarray:
    """Z. Liu's ``normalize1``: min-max to 0-255 and round.

    A constant image (which MATLAB turns into NaN, 0/0) becomes all zeros here.
    Memoised per input array (MI, NMI, Q_TE, Q_NCIE, Q_CB and Q_CV normalise the same
    images); the result is shared, callers must not modify it.
    """

    def f() -> np.ndarray:
        lo, hi = x.min(), x.max()
        if hi == lo:
            return np.zeros_like(x) if lo != 0 else x
        return C.mround((x - lo) / (hi - lo) * 255)

    return C.memo(("normalize1",), f, x)


#: the metrics that share the joint pdfs of the normalised images (see ``_common.release_unused``)
_LIU_MI_USERS = frozenset({"nmi", "q_te", "q_ncie"})
C.share_group("liu_mi", *sorted(_LIU_MI_USERS))


def _joint_p(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Joint pdf of two ``normalize1``-d images (rows index ``a``); memoised per ordered pair:
    NMI, Q_TE and Q_NCIE use the same (source, fused) pairs.  Shared: do not modify."""

    def f() -> np.ndarray:
        h = C.joint_hist(a, b)
        return h / h.sum()

    return C.memo(("joint_p",), f, a, b, users=_LIU_MI_USERS)


def _joint_entropies(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Entropies in bits of the column sums, the row sums and the whole of :func:`_joint_p` (memoised)."""

    def f() -> tuple[float, float, float]:
        h = _joint_p(a, b)
        return C.entropy_p(h.sum(0), 2.0), C.entropy_p(h.sum(1), 2.0), C.entropy_p(h.ravel(), 2.0)

    return C.memo(("joint_ent",), f, a, b, users=_LIU_MI_USERS)


def _liu_single(fn: Any) -> Any:
    def single(vi: np.ndarray, ir: np.ndarray, f: np.ndarray) -> float:
        # MEFB: img1 = double(img1) before rgb2gray -> unrounded; normalize1 rounds anyway
        a = normalize1(C.gray_of(vi, uint8=False))
        b = normalize1(C.gray_of(ir, uint8=False))
        return fn(a, b, normalize1(f))

    return single


def _nmi_core(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    tot = 0.0
    for s in (a, b):
        hx, hy, hxy = _joint_entropies(s, f)
        den = hx + hy
        tot += (hx + hy - hxy) / den if den > 0 else 0.0
    return 2.0 * tot


@register_metric("nmi", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="MEFB (Liu metricMI)",
                 citation="M. Hossny, S. Nahavandi, D. Creighton, 'Comments on \"Information measure for performance "
                          "of image fusion\"', Electronics Letters 44(18):1066-1067, 2008; " + LIU,
                 display="NMI", aliases=("q_mi", "qmi"))
def nmi(fused: Any, sources: Any, reference: Any = None) -> float:
    """Normalised mutual information Q_MI (Hossny et al. 2008), MEFB ``metricsNMI`` / Liu ``metricMI(...,1)``.

    ``NMI = 2 [MI(A,F) / (H(A) + H(F)) + MI(B,F) / (H(B) + H(F))]`` in bits,
    each image first normalised by Liu's ``normalize1`` (min-max to 0-255,
    rounded); range [0, 2].  Colour: MEFB/VIFB per-channel rule (two grey
    sources with an RGB result: channel R only, as MEFB).

    References
    ----------
    MEFB ``metrics/metricsNMI.m``; imageFusionMetrics ``metricMI.m``, ``mutual_info.m``.
    """
    F, S = C.prepare(fused, sources, min_sources=2, max_sources=2)
    return C.mefb_dispatch(_liu_single(_nmi_core), F, S)


def _tsallis(a: np.ndarray, f: np.ndarray, q: float) -> float:
    h = _joint_p(a, f)
    # Liu's tsallis.m: its "im1_marg" is sum(h) (column sums, the marginal of
    # the second image) and is indexed by the first image's level -- kept.
    m1 = h.sum(0)
    m2 = h.sum(1)
    buff = np.outer(m1, m2)
    nz = buff != 0
    res = (h[nz] ** q / buff[nz] ** (q - 1)).sum()
    return float((1 - res) / (1 - q))


@register_metric("q_te", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="MEFB (Liu metricMI)",
                 citation="N. Cvejic, C. N. Canagarajah, D. R. Bull, 'Image fusion metric based on mutual information "
                          "and Tsallis entropy', Electronics Letters 42(11):626-627, 2006; " + LIU,
                 display="Q_TE", aliases=("qte", "te", "tsallis"))
def q_te(fused: Any, sources: Any, reference: Any = None) -> float:
    """Tsallis-entropy metric Q_TE (Cvejic et al. 2006), MEFB ``metricsTE`` / Liu ``metricMI(...,2)``.

    ``Q_TE = I_q(A,F) + I_q(B,F)`` with ``I_q = (1 - sum h^q / (p p')^(q-1)) / (1 - q)``,
    q = 1.85, on ``normalize1``-d images.  Liu's ``tsallis.m`` pairs the
    marginals crosswise (p_F indexed by the source level and vice versa); that
    is reproduced, as all published MEFB numbers contain it.

    References
    ----------
    MEFB ``metrics/metricsTE.m``; imageFusionMetrics ``tsallis.m``.
    """
    F, S = C.prepare(fused, sources, min_sources=2, max_sources=2)
    return C.mefb_dispatch(_liu_single(lambda a, b, f: _tsallis(a, f, 1.85) + _tsallis(b, f, 1.85)), F, S)


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    h0, h1, hj = _joint_entropies(a, b)
    lb = np.log2(256.0)
    return (h0 + h1 - hj) / lb


def _ncie_core(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    nxy, nxf, nyf = _ncc(a, b), _ncc(a, f), _ncc(b, f)
    R = np.array([[1.0, nxy, nxf], [nxy, 1.0, nyf], [nxf, nyf, 1.0]])
    r = np.clip(np.linalg.eigvalsh(R), 0, None) / 3.0
    nz = r > 0
    hr = -(r[nz] * np.log2(r[nz])).sum() / np.log2(256.0)
    return float(1.0 - hr)


@register_metric("q_ncie", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="MEFB (Liu metricWang)",
                 citation="Q. Wang, Y. Shen, J. Jin, 'Performance evaluation of image fusion techniques', in Image "
                          "Fusion: Algorithms and Applications (T. Stathaki, ed.), ch. 19, pp. 469-492, 2008; " + LIU,
                 display="Q_NCIE", aliases=("qncie", "ncie"))
def q_ncie(fused: Any, sources: Any, reference: Any = None) -> float:
    """Nonlinear correlation information entropy Q_NCIE (Wang et al. 2008), MEFB ``metricsQncie``.

    NCC(X, Y) = H(X) + H(Y) - H(X, Y) with entropies in base 256 (256-bin
    histograms of ``normalize1``-d images); ``R = [[1, NCC_AB, NCC_AF],
    [NCC_AB, 1, NCC_BF], [NCC_AF, NCC_BF, 1]]`` with eigenvalues lambda_i;
    ``Q_NCIE = 1 + sum (lambda_i/3) log_256(lambda_i/3)``.  A zero eigenvalue
    (identical images) contributes 0 (MATLAB gives NaN there).

    References
    ----------
    MEFB ``metrics/metricsQncie.m``; imageFusionMetrics ``metricWang.m``, ``NCC.m``.
    """
    F, S = C.prepare(fused, sources, min_sources=2, max_sources=2)
    return C.mefb_dispatch(_liu_single(_ncie_core), F, S)


# ----------------------------------------------------------------------- FMI


def matlab_edge_sobel(a: np.ndarray) -> np.ndarray:
    """MATLAB ``edge(a)`` (default 'sobel', automatic threshold, thinning) as float 0/1.

    ``bx = imfilter(a, fspecial('sobel')'/8, 'replicate')``, ``by`` with the
    transpose; ``b = bx^2 + by^2``; cutoff ``4 * mean(b)``; an edge pixel has
    ``b > cutoff`` and is a local maximum of ``b`` across the dominant gradient
    direction (MATLAB's ``computeEdgesWithThinning``: ``b(r,c-1) <= b < ... >
    b(r,c+1)`` where |bx| >= |by| - 100 eps, the same vertically where |by| >=
    |bx| - 100 eps; comparisons outside the image count as true).
    """
    op = np.array([[1.0, 2, 1], [0, 0, 0], [-1, -2, -1]]) / 8
    bx = C.filt(a, op.T, "replicate")
    by = C.filt(a, op, "replicate")
    b = bx * bx + by * by
    cutoff = 4.0 * b.sum() / b.size
    bx, by = np.abs(bx), np.abs(by)
    t = np.ones_like(b, dtype=bool)
    b1 = t.copy()
    b1[:, 1:] = b[:, :-1] <= b[:, 1:]
    b2 = t.copy()
    b2[:, :-1] = b[:, :-1] > b[:, 1:]
    b3 = t.copy()
    b3[1:, :] = b[:-1, :] <= b[1:, :]
    b4 = t.copy()
    b4[:-1, :] = b[:-1, :] > b[1:, :]
    tol = np.finfo(float).eps * 100
    e = (b > cutoff) & (((bx >= by - tol) & b1 & b2) | ((by >= bx - tol) & b3 & b4))
    return e.astype(np.float64)


def _dwt_dmey(a: np.ndarray) -> np.ndarray:
    import pywt

    cA, (cH, cV, cD) = pywt.dwt2(a, "dmey", mode="symmetric")
    m = np.block([[cA, cH], [cV, cD]])
    lo, hi = m.min(), m.max()
    return np.ones_like(m) if hi == lo else (m - lo) / (hi - lo)


def _feature(x: np.ndarray, kind: str) -> np.ndarray:
    def f() -> np.ndarray:
        if kind == "edge":
            return matlab_edge_sobel(x)
        if kind == "dct":
            from scipy import fft

            return fft.dctn(x, type=2, norm="ortho")
        if kind == "wavelet":
            return _dwt_dmey(x)
        return x

    return C.memo(("fmi_feature", kind), f, x)


#: windows per batch in the FMI computation (~150 float64 per window: the temporaries stay cache-sized;
#: fewer, larger batches cut the per-call overhead of the ~300 numpy calls per batch)
_FMI_CHUNK = 5120
#: precision of the per-window pdf arithmetic for DCT / wavelet features (after the float64
#: normalisation; see :func:`fmi_value`), and for the binary edge windows (few distinct ones: exact)
_FMI_DTYPE: type = np.float32
_FMI_EDGE_DTYPE: type = np.float64
#: moments of a 9-bin pdf: sum i p_i, sum i^2 p_i, sum (10 - i) p_i, sum p_i
_MOM = np.array([np.arange(1.0, 10.0), np.arange(1.0, 10.0) ** 2, 10.0 - np.arange(1.0, 10.0), np.ones(9)])
#: added to |x| before its logarithm: keeps log(0) finite and equals |x| for any pdf value that matters
#: (normal numbers: a subnormal would read as 0 under flush-to-zero, and 0 * log(0) is NaN)
_TINY = {np.float64: 1e-300, np.float32: np.finfo(np.float32).tiny}


def _windows(x: np.ndarray, r0: int = 0, r1: int | None = None) -> np.ndarray:
    """3x3 sliding windows with top-left corner in rows ``r0:r1``, shape (9, N).

    Row k of the result is element k of each window in MATLAB's column-major
    order (``x(:)`` of the 3x3 block); windows are in row-major image order.
    """
    r1 = x.shape[0] - 2 if r1 is None else r1
    nr, nc = r1 - r0, x.shape[1] - 2
    out = np.empty((9, nr * nc))
    for k in range(9):
        dc, dr = divmod(k, 3)
        out[k].reshape(nr, nc)[...] = x[r0 + dr:r1 + dr, dc:dc + nc]
    return out


def _seqsum(x: np.ndarray) -> np.ndarray:
    """Sum over the first axis, in order (MATLAB's loop order)."""
    s = x[0].copy()
    for i in range(1, x.shape[0]):
        s += x[i]
    return s


def _divisor(rng: np.ndarray, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """Window ranges as divisors in ``dtype``, and the mask of those that must be divided in float64
    instead (zero, subnormal or overflowed in ``dtype``; set to 1 in the divisor)."""
    r = rng.astype(dtype)
    fi = np.finfo(dtype)
    bad = ~((r >= fi.tiny) & (r <= fi.max))
    r[bad] = 1.0
    return r, bad


def _norm_win(x: np.ndarray, dtype: type = np.float64, *, inplace: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per window (column) min-max normalisation; a constant window becomes all ones.

    Returns the normalised windows in ``dtype`` and the mask of constant windows.
    ``x - min`` is always formed in float64 (a window's spread may be a few ulps of
    its values: the wavelet features of flat regions); with ``dtype=float32`` it is
    rounded once and divided by the range in single precision (in float64 for a
    range outside float32's normal numbers).  ``inplace=True`` (float64 only) writes
    the result into ``x``.
    """
    mn = x.min(0)
    rng = x.max(0)
    rng -= mn
    const = rng == 0
    any_const = bool(const.any())
    if dtype is np.float64:
        if any_const:
            rng[const] = 1.0
        out = np.subtract(x, mn, out=x if inplace else None)
        out /= rng
    else:
        out = np.empty(x.shape, dtype)
        np.subtract(x, mn, out=out, casting="same_kind")
        r, bad = _divisor(rng, dtype)
        fix = np.flatnonzero(bad & ~const)
        if fix.size:
            out[:, fix] = (x[:, fix] - mn[fix]) / rng[fix]
        out /= r
    if any_const:
        out[:, const] = 1.0
    return out, const


_LN2 = float(np.log(2.0))


def _xlnx_cols(x: np.ndarray, signed: bool = True) -> np.ndarray:
    """``sum_k x_k ln|x_k|`` per column, 0 where ``x_k = 0`` (the reference skips 0 log 0;
    MATLAB's ``log2`` of a negative value is complex, its real part ``log2|x|``).

    ``|x| + tiny`` (:data:`_TINY`: 1e-300 in float64, equal to ``|x|`` above ~1e-284;
    1.2e-38 in float32, equal to ``|x|`` above ~1e-31, where ``x ln x`` is negligible)
    keeps the logarithm finite at zero.  ``signed=False``: x >= 0.
    """
    tiny = _TINY[x.dtype.type]
    if signed:
        ax = np.abs(x)
        ax += tiny
    else:
        ax = x + tiny
    np.log(ax, out=ax)
    return np.einsum("ij,ij->j", x, ax)


def _seg_lengths(out: np.ndarray, table: np.ndarray, idx: np.ndarray, prev: np.ndarray, end: np.ndarray) -> None:
    """``out = max(end - max(table.flat[idx], prev), 0)``, row 9 of ``table`` counting as +inf.

    The staircase segment ending at ``end`` (a CDF value) starts at the larger of the
    previous value of its own CDF (``prev``) and the gathered value of the other CDF.
    An index into row 9 (beyond the other CDF's last value: a rounding sliver outside
    the grid) must give 0: row 9 is set to +inf for the gather, then restored (true
    segments are >= 0).  Indices are always in range: mode="wrap" only skips numpy's
    bounds check.
    """
    t9 = table[9].copy()
    table[9] = np.inf
    np.take(table.ravel(), idx, out=out, mode="wrap")
    table[9] = t9
    np.maximum(out, prev, out=out)
    np.subtract(end, out, out=out)
    np.maximum(out, np.zeros((1, out.shape[1]), out.dtype), out=out)  # a row, not a scalar: SIMD (docs/metrics.md)


class _Pdf:
    """Per-window quantities of one normalised 9-value window set (columns of shape (9, n)).

    ``x`` is consumed: its buffer is reused for the centred pdf ``t``.
    """

    def __init__(self, x: np.ndarray, const: np.ndarray | None = None) -> None:
        n = x.shape[1]
        dt = x.dtype
        # (x1 + x2 + x3) + (x4 + x5 + x6) + (x7 + x8 + x9), as the reference, without temporaries
        tot = np.add(x[0], x[1])
        tot += x[2]
        g = np.add(x[3], x[4])
        g += x[5]
        tot += g
        np.add(x[6], x[7], out=g)
        g += x[8]
        tot += g
        self.pz = np.empty((10, n), dt)  # the pdf, with a zero row for cells outside the grid
        np.divide(x, tot, out=self.pz[:9])
        self.pz[9] = 0.0
        self.p = p = self.pz[:9]
        m = _seqsum(p)  # centred, as the reference (decides the sign of c)
        m /= 9
        self.t = np.subtract(p, m, out=x)
        if const is not None and const.any():
            # a constant window's centred pdf is float64 rounding residue, which the reference's
            # c (and with it the bound used) depends on: every such window gets the float64 value
            self.t[:, const] = _FLAT_T
        self.tt = np.einsum("ij,ij->j", self.t, self.t)
        self.mom = _MOM @ p  # float64 (4, n) in any precision: the covariances below cancel
        self.sd = np.sqrt(np.maximum(self.mom[1] - self.mom[0] ** 2, 0))
        self.ent = _xlnx_cols(p, signed=False)
        self.ent *= -1.0 / _LN2  # p >= 0


#: the centred pdf of a constant window in float64 (all nine values equal), which :class:`_Pdf` gives
#: constant windows in any precision
_FLAT_T = float(_Pdf(np.ones((9, 1))).t[0, 0])


def _cdf_rows(p: np.ndarray) -> np.ndarray:
    """(10, n): a zero row, then the cumulative sums of the 9 rows of ``p``, in order."""
    cp = np.empty((10, p.shape[1]), p.dtype)
    cp[0] = 0.0
    for i in range(9):
        np.add(cp[i], p[i], out=cp[i + 1])
    return cp


def _fmi_core(A: _Pdf, F: _Pdf, fcp: np.ndarray) -> np.ndarray:
    """fmi(a, f) per window, Haghighat's ``fmi.m`` inner branch (``fcp = _cdf_rows(F.p)``).

    Per window the reference builds the 9x9 joint pdf ``jp = w dB + (1 - w) p_F p_A^T``,
    where ``dB`` is the mass of a Frechet bound of the CDFs F, A (upper
    ``min(F_i, A_j)`` when the correlation c of the two pdfs is >= 0, lower
    ``max(F_i + A_j - 1, 0)`` when c < 0) and ``w = c / corr(bound)``, and sums
    ``g(jp) = -jp log2|jp|`` over the 81 cells.  Here, without the grid:

    * the lower bound of (F, A) is the upper bound of (F, A') with A' the CDF of the
      reversed pdf (cell (i, j) <-> (i, 10 - j)), so only upper bounds are needed;
    * the upper bound's mass lies on a staircase of at most 17 cells: merging
      ``F_1..F_9`` with ``A_1..A_9`` cuts (0, 1] into 18 segments, each inside one
      cell (row = number of F values before it, column = number of A values before
      it) whose mass is the segment's length;
    * the product part has a closed form,
      ``sum_ij g((1-w) f_i a_j) = (1-w) (S_a H_f + S_f H_a - S_f S_a log2|1-w|)``,
      so only the staircase cells need the correction ``g(q + w d) - g(q)``;
    * ``sum_ij min(F_i, A_j)`` (for the bound's covariance) comes from the same merge.

    The centring of the pdfs (whose rounding decides c == 0 for flat windows)
    follows the reference's summation order; the rest equals the grid computation
    up to rounding (tests: 1e-12 relative against a literal per-window transcription
    in float64; float32 pdfs: see :func:`fmi_value`).
    Call it with floating-point "divide" and "invalid" warnings silenced (as :func:`_fmi_map` does).
    ``A`` is consumed (its pdf buffer receives the reversed pdfs of the c < 0 windows);
    the lower-bound work is done on those windows only (a few percent on real images).
    """
    n = A.p.shape[1]
    fp = F.p
    dt = fp.dtype.type
    # c in float64 (per window, cheap): tt of a constant window (~7e-33) squared underflows float32
    s = np.einsum("ij,ij->j", A.t, F.t).astype(np.float64, copy=False)
    c = np.where(s == 0, 0.0, s / np.sqrt(A.tt.astype(np.float64) * F.tt))
    neg = np.flatnonzero(~(c >= 0))  # lower bound (NaN c as the reference's else branch)
    # the partner pdf: as is (upper bound) or reversed (lower bound); zero row 9
    a2z = A.pz
    if neg.size:
        a2z[:9, neg] = a2z[8::-1, neg]
    a2 = a2z[:9]
    acp = _cdf_rows(a2)
    fc, ac = fcp[1:], acp[1:]
    lt = np.less(ac[None, :, :], fc[:, None, :]).view(np.uint8)  # (9, 9, n): A_j < F_i
    ka = lt.sum(1, dtype=np.uint8)  # A values before F_i (merge order, F first on ties)
    fa = lt.sum(0, dtype=np.uint8)  # F values after A_j
    # sum_ij min(F_i, A_j); for the lower bound sum_ij max(F_i + A_j - 1, 0)
    # = sum_i [9 F_i + min(F_i, A'_9)] - sum_ij min(F_i, A'_j)
    bsum = np.einsum("ij,ij->j", fc, 9 - ka).astype(np.float64)
    bsum += np.einsum("ij,ij->j", ac, fa)
    fsum = F.mom[2]  # sum_i F_i = sum_k (10 - k) f_k
    if neg.size:
        bn = bsum[neg]
        bsum[neg] = 9 * fsum[neg] + _seqsum(np.minimum(fc[:, neg], ac[8, neg])) - bn
    cov = bsum
    cov -= fsum * A.mom[2]
    sdp = F.sd * A.sd
    cov /= sdp
    w = (c / cov).astype(dt, copy=False)
    w[(sdp == 0) | (c == 0)] = 0.0
    # the 18 segments (previous merged value, v]: 9 ending at F_i, 9 ending at A_j;
    # x[:18] = q = (1-w) f a of their cells, x[18:] = q + w * (segment length)
    cols = np.arange(n)
    i_f = np.multiply(ka, n, dtype=np.intp)
    i_f += cols  # flat index of row ka
    i_a = np.multiply(fa, -n, dtype=np.intp)
    cols += 9 * n
    i_a += cols  # flat index of row 9 - fa
    u = 1.0 - w
    x = np.empty((36, n), fp.dtype)
    seg, q = x[18:], x[:18]
    # segment ending at F_i: F_i - max(F_(i-1), A_ka), 0 for ka = 9 (beyond A_9);
    # ending at A_j: A_j - max(A_(j-1), F_(9-fa)), 0 for fa = 0 (beyond F_9)
    _seg_lengths(seg[:9], acp, i_f, fcp[:9], fc)
    _seg_lengths(seg[9:], fcp, i_a, acp[:9], ac)
    qf, qa = q[:9], q[9:]
    np.take(a2z.ravel(), i_f, out=qf, mode="wrap")
    qf *= fp * u
    np.take(F.pz.ravel(), i_a, out=qa, mode="wrap")
    qa *= u
    qa *= a2
    seg *= w
    seg += q
    corr = _xlnx_cols(x[:18])
    corr -= _xlnx_cols(x[18:])
    corr *= 1.0 / _LN2
    sa, sf = A.mom[3], F.mom[3]
    l1w = np.log2(np.abs(u))
    l1w[u == 0] = 0.0
    joint = u * (sa * F.ent + sf * A.ent - l1w * sf * sa) + corr
    ent = A.ent + F.ent
    mi_ = ent - joint
    return np.where(mi_ == 0, 0.0, 2 * mi_ / ent)


def _fmi_pair(A: _Pdf, B: _Pdf, F: _Pdf, eq_a: np.ndarray, eq_b: np.ndarray) -> np.ndarray:
    """(FMI(A, F) + FMI(B, F)) / 2 per window from the normalised windows' pdfs; 1 where ``eq_*``."""
    fcp = _cdf_rows(F.p)
    with np.errstate(invalid="ignore", divide="ignore"):
        va = _fmi_core(A, F, fcp)
        vb = _fmi_core(B, F, fcp)
    va[eq_a] = 1.0
    vb[eq_b] = 1.0
    va += vb
    va /= 2
    return va


def _fmi_map(A: np.ndarray, B: np.ndarray, Fw: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """(FMI(A, F) + FMI(B, F)) / 2 per window (columns of 9 column-major values).

    As the reference: FMI = 1 for a window equal to the fused one (for the second
    source compared with the fused window already normalised by the first test,
    unless that test found equality).  ``A`` and ``B`` are used as scratch space.
    The same arithmetic as :func:`fmi_value`'s image route (bit for bit).
    """
    eq_a = (A == Fw).all(0)
    fn, fconst = _norm_win(Fw, dtype)
    fn64 = fn if dtype is np.float64 else _norm_win(Fw)[0]
    eq_b = (B == (np.where(eq_a, Fw, fn64) if eq_a.any() else fn64)).all(0)
    inplace = dtype is np.float64
    return _fmi_pair(_Pdf(*_norm_win(A, dtype, inplace=inplace)), _Pdf(*_norm_win(B, dtype, inplace=inplace)),
                     _Pdf(fn, fconst), eq_a, eq_b)


_K3 = np.ones((3, 3), np.uint8)


def _win_all(mask: np.ndarray) -> np.ndarray:
    """Per 3x3 window (top-left indexing, ravelled): are all nine values of ``mask`` true?"""
    return cv2.erode(mask.view(np.uint8), _K3)[1:-1, 1:-1].ravel().view(bool)


def _windows_at(x: np.ndarray, idx: np.ndarray, nc: int) -> np.ndarray:
    """(9, m) windows of ``x`` (column-major order, as :func:`_windows`) at ravelled window indices."""
    r, c = np.divmod(idx, nc)
    return np.stack([x[r + dr, c + dc] for dc in range(3) for dr in range(3)])


class _WinNorm:
    """Per-window min-max normalisation of a whole feature image, batch by batch.

    The windows' minima and maxima come from 3x3 erosion / dilation (exact); a
    batch of window rows is normalised without building the float64 windows:
    ``x - min`` in float64 stored in ``dtype``, divided by the range in ``dtype`` --
    the arithmetic of :func:`_norm_win`, value for value.
    """

    def __init__(self, x: np.ndarray, dtype: type) -> None:
        self.x = x = np.ascontiguousarray(x, dtype=np.float64)
        self.nc = x.shape[1] - 2
        self.mn = cv2.erode(x, _K3)[1:-1, 1:-1]
        self.mx = cv2.dilate(x, _K3)[1:-1, 1:-1]
        rng = self.mx - self.mn
        self.rng = rng.ravel()
        self.const = self.rng == 0
        if dtype is np.float64:
            self.r, self.bad = np.where(self.const, 1.0, self.rng), self.const
        else:
            self.r, self.bad = _divisor(self.rng, dtype)
        self.dtype = dtype

    def rows(self, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
        """Normalised windows with top-left corner in rows ``r0:r1`` (9, n) and their constant mask."""
        x, nc, nr = self.x, self.nc, r1 - r0
        out = np.empty((9, nr * nc), self.dtype)
        mn = self.mn[r0:r1]
        for k in range(9):
            dc, dr = divmod(k, 3)
            np.subtract(x[r0 + dr:r1 + dr, dc:dc + nc], mn, out=out[k].reshape(nr, nc), casting="same_kind")
        sl = slice(r0 * nc, r1 * nc)
        out /= self.r[sl]
        const = self.const[sl]
        fix = np.flatnonzero(self.bad[sl] & ~const)
        if fix.size:  # a range outside the dtype's normal numbers: divide in float64
            g = fix + r0 * nc
            out[:, fix] = (_windows_at(x, g, nc) - self.mn.ravel()[g]) / self.rng[g]
        if const.any():
            out[:, const] = 1.0
        return out, const

    def exact(self, idx: np.ndarray) -> np.ndarray:
        """float64 normalised windows (:func:`_norm_win`) at ravelled window indices."""
        return _norm_win(_windows_at(self.x, idx, self.nc))[0]


def _edge_codes(x: np.ndarray) -> np.ndarray:
    """9-bit code of every 3x3 window of a 0/1 image (bit k = column-major element k)."""
    nr, nc = x.shape[0] - 2, x.shape[1] - 2
    xi = x.astype(np.uint16)
    code = np.zeros((nr, nc), dtype=np.uint16)
    for k in range(9):
        dc, dr = divmod(k, 3)
        code |= xi[dr:dr + nr, dc:dc + nc] << np.uint16(k)
    return code.ravel()


def fmi_value(a: np.ndarray, b: np.ndarray, f: np.ndarray, feature: str = "edge") -> float:
    """Haghighat's feature mutual information with a 3x3 window (``analysis_fmi``/``fmi.m``).

    Mean over all 3x3 windows of ``(FMI(A, F) + FMI(B, F)) / 2`` on the feature maps;
    windows are processed in batches of ``_FMI_CHUNK``.

    **Precision.**  The reference runs in double precision.  Here the windows are
    compared (the equal-window rule) and min-max normalised in float64; for DCT and
    wavelet features the per-window pdf arithmetic then runs in float32
    (``_FMI_DTYPE``; 1.3-1.5x faster per window in four runs of
    ``benchmarks/bench_fmi_windows.py --baseline DIR`` with DIR the float64 tree
    8853276, e.g. 1.31 / 1.28 for DCT / wavelet windows at load 0.4).  Kept in float64: the moments, the
    covariance subtraction of the bound (its sum of ``min(F_i, A_j)`` is accumulated
    in float32), the correlation ``c``, and a constant window's centred pdf
    (:data:`_FLAT_T`), whose rounding residue decides ``c = +1`` between two constant
    windows in the reference (float32 rounding alone gives 0, which moved FMI_w by 5%
    on images with flat areas in a one-off check).  Against the float64 evaluation:
    at most 8.5e-8 (FMI_dct) and 6.5e-7 (FMI_w) relative on the metric over the 43
    IVIF / medical cases of ``benchmarks/check_metric_values.py --baseline`` (float64
    tree 8853276); ~4e-6 per window at most (one-off script, not kept); tests: 2e-5
    per window, 2e-6 on means.  Edge (FMI_pixel) windows are binary and few distinct
    ones are evaluated: float64.
    """
    fa, fb, ff = _feature(a, feature), _feature(b, feature), _feature(f, feature)
    if feature == "edge":  # binary windows: evaluate each distinct (a, b, f) triple once
        code = _edge_codes(fa).astype(np.int32) << 18  # 27-bit codes
        code |= _edge_codes(fb).astype(np.int32) << 9
        code |= _edge_codes(ff)
        uniq, counts = np.unique(code, return_counts=True)
        bits = ((uniq[None, :] >> np.arange(27)[:, None]) & 1).astype(np.float64)
        vals = _fmi_map(bits[18:], bits[9:18], bits[:9], _FMI_EDGE_DTYPE)
        return float(vals @ counts / code.size)
    nr, nc = ff.shape[0] - 2, ff.shape[1] - 2
    if nr <= 0 or nc <= 0:
        return float("nan")  # no 3x3 window
    dt = _FMI_DTYPE
    na, nb, nf = _WinNorm(fa, dt), _WinNorm(fb, dt), _WinNorm(ff, dt)
    eq_a = _win_all(na.x == nf.x)
    # the reference compares B with the fused window *normalised* unless A equalled it; a
    # normalised window holds an exact 0 and 1 (or is all ones), so only windows of B with
    # min in {0, 1} and max 1 can match it: those are compared exactly
    eq_b = np.where(eq_a, _win_all(nb.x == nf.x), False)
    cand = np.flatnonzero(~eq_a & (nb.mx.ravel() == 1) & ((nb.mn.ravel() == 0) | (nb.mn.ravel() == 1)))
    if cand.size:
        eq_b[cand] = (_windows_at(nb.x, cand, nc) == nf.exact(cand)).all(0)
    out = np.empty(nr * nc)
    step = max(1, _FMI_CHUNK // nc)
    for r0 in range(0, nr, step):
        r1 = min(nr, r0 + step)
        sl = slice(r0 * nc, r1 * nc)
        out[sl] = _fmi_pair(_Pdf(*na.rows(r0, r1)), _Pdf(*nb.rows(r0, r1)), _Pdf(*nf.rows(r0, r1)), eq_a[sl], eq_b[sl])
    return float(out.mean())


_FMI_CIT = (
    "M. B. A. Haghighat, A. Aghagolzadeh, H. Seyedarabi, 'A non-reference image fusion metric based on mutual "
    "information of image features', Computers & Electrical Engineering 37(5):744-756, 2011; M. Haghighat, "
    "M. A. Razian, 'Fast-FMI: non-reference image fusion metric', IEEE AICT 2014; " + TANG
)


def _fmi(fused: Any, sources: Any, feature: str) -> float:
    F, S = C.prepare(fused, sources, min_sources=2, max_sources=2)
    F, S = C.tang_gray(F, S)
    return fmi_value(S[0], S[1], F, feature)


@register_metric("fmi_pixel", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="Tang-Evaluation",
                 citation=_FMI_CIT, display="FMI_pixel", aliases=("fmi_edge",))
def fmi_pixel(fused: Any, sources: Any, reference: Any = None) -> float:
    """Feature mutual information "FMI_pixel" as Tang's scripts compute it -- with **edge** features.

    ``analysis_fmi(IR, VI, F)`` defaults to the ``'edge'`` feature (MATLAB
    ``edge``, Sobel, automatic threshold, thinning; see
    :func:`matlab_edge_sobel`), 3x3 sliding windows, Fast-FMI joint pdf from
    the Frechet bounds (Nelsen), and reports the mean over windows of
    ``(FMI(A,F) + FMI(B,F)) / 2``.  The reference's quirk of comparing the
    second source with the already-normalised fused window is kept.

    References
    ----------
    Evaluation-for-Image-Fusion ``analysis_fmi.m`` (Haghighat's ``fmi.m``).
    """
    return _fmi(fused, sources, "edge")


@register_metric("fmi_dct", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="Tang-Evaluation",
                 citation=_FMI_CIT, display="FMI_dct")
def fmi_dct(fused: Any, sources: Any, reference: Any = None) -> float:
    """Feature mutual information on ``dct2`` (orthonormal DCT-II of the whole image), 3x3 windows.

    See :func:`fmi_pixel`; Tang's ``analysis_fmi(IR, VI, F, 'dct')``.  The per-window
    pdf arithmetic runs in float32 with the decisions kept in float64: within 5e-7
    of the double-precision value (:func:`fmi_value`, "Precision").
    """
    return _fmi(fused, sources, "dct")


@register_metric("fmi_w", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="Tang-Evaluation",
                 citation=_FMI_CIT, display="FMI_w", aliases=("fmi_wavelet",))
def fmi_w(fused: Any, sources: Any, reference: Any = None) -> float:
    """Feature mutual information on the one-level ``dwt2(x, 'dmey')`` coefficients.

    The four sub-bands are tiled ``[cA cH; cV cD]`` and min-max rescaled to
    [0, 1] (``rerange``); MATLAB's default 'sym' extension = PyWavelets
    ``mode='symmetric'``.  See :func:`fmi_pixel`; Tang's ``analysis_fmi(IR, VI,
    F, 'wavelet')``.

    **Conditioning.**  Where the image is flat the detail coefficients are 0 up
    to convolution rounding (~1e-13), and each 3x3 window is min-max normalised
    on its own, so those windows' pdfs are made of rounding noise.  On MSRS
    00537D (640x480) 1.1% of the windows are flat to 1e-12 and multiplying the
    coefficients by ``1 + 2e-16 * N(0, 1)`` moves FMI_w by 0.7%: any two DWT
    implementations that round differently (MATLAB ``dwt2`` vs PyWavelets)
    disagree at that level, whatever the FMI code.  FMI_dct does not have the
    problem (the same perturbation leaves it unchanged).  The window arithmetic
    after the float64 normalisation is float32 (:func:`fmi_value`, "Precision"):
    within 7e-7 of the double-precision value on the same coefficients (6.5e-7
    measured).
    """
    return _fmi(fused, sources, "wavelet")
