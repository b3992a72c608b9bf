"""Information-theoretic fusion metrics: EN, CE, MI, NMI, FMI, Q_NCIE, Q_TE.

Defaults follow VIFB (EN, CE, MI), Tang's Evaluation-for-Image-Fusion scripts
(FMI) and Z. Liu's imageFusionMetrics as shipped in MEFB (NMI, Q_NCIE, Q_TE).
Named variants reproduce the other published conventions (MI in bits,
Tang's MI with its uint8 saturation).  All on the 8-bit (0-255) domain.
"""
from __future__ import annotations

from typing import Any

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


def _ce(src: np.ndarray, f: np.ndarray) -> float:
    p1 = C.hist256(src) / src.size
    p2 = C.hist256(f) / src.size
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
    def norm(x: np.ndarray) -> np.ndarray:
        lo, hi = x.min(), x.max()
        if hi == lo:
            return np.zeros_like(x)
        return (x - lo) / (hi - lo)

    ia = C.mround(norm(a) * 255)  # int16(x*255): round half away from zero
    ib = C.mround(norm(b) * 255)
    return mutual_information(ia, ib, np.e)


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
    """
    lo, hi = x.min(), x.max()
    if hi == lo:
        return np.zeros_like(x) if lo != 0 else x
    return C.mround((x - lo) / (hi - lo) * 255)


def _joint_p(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    h = C.joint_hist(a, b)
    return h / h.sum()


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
        h = _joint_p(s, f)
        hx = C.entropy_p(h.sum(0), 2.0)
        hy = C.entropy_p(h.sum(1), 2.0)
        hxy = C.entropy_p(h.ravel(), 2.0)
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
    h = _joint_p(a, b)
    lb = np.log2(256.0)
    return (C.entropy_p(h.sum(0)) + C.entropy_p(h.sum(1)) - C.entropy_p(h.ravel())) / lb


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


def _windows(x: np.ndarray) -> np.ndarray:
    """3x3 sliding windows in MATLAB column-major order, shape (N, 9)."""
    v = np.lib.stride_tricks.sliding_window_view(x, (3, 3))
    return np.ascontiguousarray(v.swapaxes(2, 3)).reshape(-1, 9)


def _seqsum(x: np.ndarray) -> np.ndarray:
    """Left-to-right sum over the last axis (MATLAB's loop order)."""
    s = x[..., 0].copy()
    for i in range(1, x.shape[-1]):
        s += x[..., i]
    return s


def _norm_win(x: np.ndarray) -> np.ndarray:
    mx, mn = x.max(1, keepdims=True), x.min(1, keepdims=True)
    rng = mx - mn
    const = rng == 0
    out = (x - mn) / np.where(const, 1.0, rng)
    return np.where(const, 1.0, out)


def _fmi_core(a: np.ndarray, f: np.ndarray) -> np.ndarray:
    """fmi(a, f) of normalised windows (rows), as in Haghighat's ``fmi.m`` inner branch."""
    a_tot = (a[:, 0] + a[:, 1] + a[:, 2]) + (a[:, 3] + a[:, 4] + a[:, 5]) + (a[:, 6] + a[:, 7] + a[:, 8])
    f_tot = (f[:, 0] + f[:, 1] + f[:, 2]) + (f[:, 3] + f[:, 4] + f[:, 5]) + (f[:, 6] + f[:, 7] + f[:, 8])
    ap = a / a_tot[:, None]
    fp = f / f_tot[:, None]
    acdf = np.cumsum(ap, axis=1)
    fcdf = np.cumsum(fp, axis=1)
    at = ap - (_seqsum(ap) / 9)[:, None]
    ft = fp - (_seqsum(fp) / 9)[:, None]
    s = _seqsum(at * ft)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(s == 0, 0.0, s / np.sqrt(_seqsum(at * at) * _seqsum(ft * ft)))
    idx = np.arange(1, 10, dtype=np.float64)
    asd = np.sqrt(np.maximum(_seqsum(idx * idx * ap) - _seqsum(idx * ap) ** 2, 0))
    fsd = np.sqrt(np.maximum(_seqsum(idx * idx * fp) - _seqsum(idx * fp) ** 2, 0))
    Fi = fcdf[:, :, None]
    Aj = acdf[:, None, :]
    pos = c >= 0
    n = len(a)
    # Frechet bounds M = min(F_i, A_j) (c >= 0) and W = max(F_i + A_j - 1, 0) (c < 0);
    # the reference writes them as 0.5 (F + A -+ |F - A|) (equal up to 1 ulp)
    bound = np.empty((n, 9, 9))
    ip, ineg = np.flatnonzero(pos), np.flatnonzero(~pos)
    if ip.size:
        bound[ip] = np.minimum(Fi[ip], Aj[ip])
    if ineg.size:
        bound[ineg] = np.maximum(Fi[ineg] + Aj[ineg] - 1, 0)
    cov = bound.reshape(n, 81).sum(1) - fcdf.sum(1) * acdf.sum(1)
    sdp = fsd * asd
    with np.errstate(invalid="ignore", divide="ignore"):
        w = c / (cov / sdp)
    w[(sdp == 0) | (pos & (c == 0))] = 0.0
    # joint-pdf mass of the bound: 2-D differences with zero padding
    d = np.diff(np.diff(bound, axis=1, prepend=0.0), axis=2, prepend=0.0)
    jp = ((1 - w)[:, None] * fp)[:, :, None] * ap[:, None, :]
    jp += w[:, None, None] * d
    ajp = np.abs(jp)
    ajp[ajp == 0] = 1.0
    joint = -(jp * np.log2(ajp)).reshape(n, 81).sum(1)  # real part of -p log2 p
    ae = -(ap * np.log2(np.where(ap != 0, ap, 1.0))).sum(1)
    fe = -(fp * np.log2(np.where(fp != 0, fp, 1.0))).sum(1)
    mi_ = ae + fe - joint
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mi_ == 0, 0.0, 2 * mi_ / (ae + fe))


def _fmi_map(A: np.ndarray, B: np.ndarray, Fw: np.ndarray) -> np.ndarray:
    eq_a = (A == Fw).all(1)
    fn = _norm_win(Fw)
    fmod = np.where(eq_a[:, None], Fw, fn)  # MATLAB normalises fSub in place in the A branch
    eq_b = (B == fmod).all(1)
    out_a = np.ones(len(A))
    out_b = np.ones(len(A))
    ia = np.flatnonzero(~eq_a)
    ib = np.flatnonzero(~eq_b)
    chunk = 8192
    an = _norm_win(A)
    bn = _norm_win(B)
    for k in range(0, len(ia), chunk):
        sl = ia[k:k + chunk]
        out_a[sl] = _fmi_core(an[sl], fn[sl])
    for k in range(0, len(ib), chunk):
        sl = ib[k:k + chunk]
        out_b[sl] = _fmi_core(bn[sl], fn[sl])
    return (out_a + out_b) / 2


def fmi_value(a: np.ndarray, b: np.ndarray, f: np.ndarray, feature: str = "edge") -> float:
    """Haghighat's feature mutual information with a 3x3 window (``analysis_fmi``/``fmi.m``)."""
    fa, fb, ff = _feature(a, feature), _feature(b, feature), _feature(f, feature)
    A, B, Fw = _windows(fa), _windows(fb), _windows(ff)
    if feature == "edge":  # binary windows: evaluate each distinct (a, b, f) triple once
        pw = (1 << np.arange(9)).astype(np.int64)
        code = (A @ pw) * (1 << 18) + (B @ pw) * (1 << 9) + (Fw @ pw)
        uniq, first, inv = np.unique(code.astype(np.int64), return_index=True, return_inverse=True)
        vals = _fmi_map(A[first], B[first], Fw[first])
        return float(vals[inv.ravel()].mean())
    return float(_fmi_map(A, B, Fw).mean())


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

    See :func:`fmi_pixel`; Tang's ``analysis_fmi(IR, VI, F, 'dct')``.
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
    """
    return _fmi(fused, sources, "wavelet")
