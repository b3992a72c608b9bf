"""Multi-exposure fusion quality: MEF-SSIM (Ma, Zeng & Wang 2015).

Convention (``MEFB``): the sources and the fused image are converted to
8-bit grey exactly as MEFB's wrapper ``metricsMEF_SSIM.m`` does (``rgb2gray``
of uint8 RGB, i.e. ``round(0.298936 R + 0.587043 G + 0.114021 B)``); float inputs in
[0, 1] are first quantised to uint8 (``round(255 x)``), as the fused image
would be when saved and re-read by the benchmark.  The statistics are then
computed on 0-255 doubles with the reference code's constants: ``K = 0.03``
(``C = (K * 255)^2``), an 11x11 Gaussian window of sigma 1.5 for the SSIM-like
comparison, an 11x11 square window for patch means / signal strengths, ``+0.001``
on the signal strength, the structure-consistency exponent ``p = tan(pi R / 2)``
capped at 10, ``eps = 2.2204e-16`` guards, and only "valid" window positions.
The multi-scale score uses 3 scales, 2x2 average + decimation between them
(MATLAB ``imfilter(ones(2)/4, 'symmetric')``) and weights
``[0.0448, 0.2856, 0.3001]`` normalised to sum 1.

Registered metrics
------------------
``mef_ssim``     one scale (the reference ``mef_ssim.m``).
``mef_ms_ssim``  three scales (the reference ``mef_ms_ssim.m``).  **This is the
                 number MEFB reports in its "MEF_SSIM" column** and the model
                 evaluated against MOS in Ma et al. 2015.

Implementation: the reference MATLAB code loops over every window position;
here every per-window quantity is expressed through box / Gaussian filtered
products of the sources (pairwise cross products for the structure vector's
norm and moments), so the whole map is a few dozen separable filters in
float64.  Agreement with a literal transliteration of the loops is tested to
1e-10 on real crops.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..errors import InputError
from ..registry import register_metric
from ._common import down2, gauss1d, require_min_side

_MATLAB_EPS = float(np.finfo(np.float64).eps)
#: The coefficients MATLAB's ``rgb2gray`` really applies: first row of the inverse
#: of the NTSC YIQ->RGB matrix (0.298936, 0.587043, 0.114021; documented rounded as
#: 0.2989, 0.5870, 0.1140).  They matter for the uint8 rounding.
_RGB2GRAY_EXACT = tuple(np.linalg.inv(np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647],
                                                 [1.0, -1.106, 1.703]]))[0])
#: MEFB / Ma et al. multi-scale weights (normalised at use).
MS_WEIGHTS = (0.0448, 0.2856, 0.3001)
_CITATION = (
    "K. Ma, K. Zeng and Z. Wang, 'Perceptual Quality Assessment for Multi-Exposure Image Fusion', "
    "IEEE Trans. Image Processing 24(11):3345-3356, 2015; convention of MEFB (X. Zhang, 'Benchmarking and "
    "comparing multi-exposure image fusion algorithms', Information Fusion 74:111-131, 2021)."
)


def _to_u8_gray(img: np.ndarray, name: str) -> np.ndarray:
    """MEFB grey conversion: uint8 RGB -> rgb2gray (rounded) -> float64 0..255."""
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise InputError(f"{name}: expected HxW or HxWx3, got shape {a.shape}")
    if a.dtype == np.uint8:
        u = a
    elif a.dtype == np.uint16:
        u = np.round(a.astype(np.float64) / 257.0).astype(np.uint8)
    elif a.dtype.kind == "f" or a.dtype == np.bool_:
        f = a.astype(np.float64)
        if not np.isfinite(f).all():
            raise InputError(f"{name}: contains NaN or infinite values")
        u = np.round(np.clip(f, 0.0, 1.0) * 255.0).astype(np.uint8)
    else:
        raise InputError(f"{name}: unsupported dtype {a.dtype}")
    if u.ndim == 2:
        return u.astype(np.float64)
    c = _RGB2GRAY_EXACT
    g = c[0] * u[:, :, 0].astype(np.float64) + c[1] * u[:, :, 1] + c[2] * u[:, :, 2]
    # MATLAB rgb2gray on uint8 rounds half away from zero (values are >= 0)
    return np.floor(g + 0.5)


def mef_ssim_map(seq: np.ndarray, fused: np.ndarray, K: float = 0.03, win: int = 11,
                 sigma: float = 1.5) -> np.ndarray:
    """Quality map of single-scale MEF-SSIM on 0-255 float64 grey data.

    Parameters
    ----------
    seq : (N, H, W) float64 source sequence, 0-255.
    fused : (H, W) float64 fused image, 0-255.
    K, win, sigma : SSIM constant, window size and Gaussian sigma of the
        reference code.

    Returns
    -------
    (H - win + 1, W - win + 1) float64 map; its mean is the MEF-SSIM score.
    """
    seq = np.asarray(seq, dtype=np.float64)
    f = np.asarray(fused, dtype=np.float64)
    n, h, w = seq.shape
    require_min_side(seq[0], win, "mef_ssim", f"an {win}x{win} window applied 'valid'")
    bd = win // 2
    area = float(win * win)
    # shift-invariant statistics: centre values to reduce cancellation
    seq = seq - 128.0
    f = f - 128.0
    g1 = gauss1d(win, sigma)

    def box(a: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(a, cv2.CV_64F, (win, win), normalize=True,
                             borderType=cv2.BORDER_REFLECT)[bd:h - bd, bd:w - bd]

    def gau(a: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(a, cv2.CV_64F, g1, g1, borderType=cv2.BORDER_REFLECT)[bd:h - bd, bd:w - bd]

    mu = np.stack([box(x) for x in seq])
    gm = np.stack([gau(x) for x in seq])
    cov = np.empty((n, n) + mu.shape[1:], np.float64)   # box covariance (per-pixel mean)
    gxx = np.empty_like(cov)                            # Gaussian-weighted raw products
    for k in range(n):
        for m in range(k, n):
            prod = seq[k] * seq[m]
            c = box(prod)
            c -= mu[k] * mu[m]
            cov[k, m] = c
            if m != k:
                cov[m, k] = c
            gxx[k, m] = gau(prod)
            if m != k:
                gxx[m, k] = gxx[k, m]
    strength = np.empty_like(mu)
    for k in range(n):
        np.multiply(cov[k, k], area, out=strength[k])
    np.maximum(strength, 0.0, out=strength)
    np.sqrt(strength, out=strength)
    ed = strength + 0.001
    # structure consistency R = ||sum_k (x_k - mu_k)|| / sum_k ||x_k - mu_k||
    var_sum = cov.sum(axis=(0, 1))
    num = np.sqrt(np.maximum(area * var_sum, 0.0))
    den = strength.sum(axis=0)
    R = (num + _MATLAB_EPS) / (den + _MATLAB_EPS)
    R[R > 1] = 1 - _MATLAB_EPS
    R[R < 0] = _MATLAB_EPS
    p = np.tan(np.pi / 2 * R)
    p[p > 10] = 10
    wmap = ed / win
    np.power(wmap, p[None], out=wmap)
    wmap += _MATLAB_EPS
    wmap /= wmap.sum(axis=0, keepdims=True)
    max_ed = ed.max(axis=0)
    c = wmap / ed                                       # coefficient of (x_k - mu_k)
    # squared norm of the (unscaled) desired structure vector
    norm2 = area * np.einsum("kij,kmij,mij->ij", c, cov, c)
    # Gaussian-weighted moments of the unscaled structure vector
    dm = gm - mu                                         # G*(x_k - mu_k)
    mu1u = (c * dm).sum(axis=0)
    e2 = np.empty_like(gxx)  # gxx - mu_k gm_m - gm_k mu_m + mu_k mu_m, term by term as written
    for k in range(n):
        for m in range(n):
            ekm = np.subtract(gxx[k, m], mu[k] * gm[m], out=e2[k, m])
            ekm -= gm[k] * mu[m]
            ekm += mu[k] * mu[m]
    e2u = np.einsum("kij,kmij,mij->ij", c, e2, c)
    mu2 = gau(f)
    s22 = gau(f * f) - mu2 * mu2
    erf = np.stack([gau(x * f) for x in seq]) - mu * mu2[None]
    erfu = (c * erf).sum(axis=0)
    pos = norm2 > 0
    a = np.where(pos, max_ed / np.sqrt(np.where(pos, norm2, 1.0)), 0.0)
    mu1 = a * mu1u
    s11 = a * a * e2u - mu1 * mu1
    s12 = a * erfu - mu1 * mu2
    C = (K * 255.0) ** 2
    return (2 * s12 + C) / (s11 + s22 + C)


def mef_ssim_score(seq: np.ndarray, fused: np.ndarray, *, levels: int = 1, K: float = 0.03,
                   win: int = 11, sigma: float = 1.5,
                   weights: Sequence[float] = MS_WEIGHTS) -> tuple[float, list[float]]:
    """MEF-SSIM of grey 0-255 data, single- or multi-scale.

    Parameters
    ----------
    seq : (N, H, W) source sequence, 0-255.
    fused : (H, W) fused image, 0-255.
    levels : number of scales (1 = ``mef_ssim.m``; 3 = ``mef_ms_ssim.m``).
    weights : per-scale exponents (normalised to sum 1), length ``levels``.

    Returns
    -------
    (overall score, per-scale scores).  Overall = ``prod Q_l ** w_l``.
    """
    seq = np.asarray(seq, dtype=np.float64)
    f = np.asarray(fused, dtype=np.float64)
    if levels == 1:
        q = float(mef_ssim_map(seq, f, K, win, sigma).mean())
        return q, [q]
    wts = np.asarray(weights[:levels], dtype=np.float64)
    if wts.size != levels:
        raise InputError(f"need {levels} scale weights, got {len(weights)}")
    wts = wts / wts.sum()
    require_min_side(seq[0], win * 2 ** (levels - 1), "mef_ms_ssim", f"{levels} scales of an {win}x{win} window")
    qs = []
    for lev in range(levels):
        qs.append(float(mef_ssim_map(seq, f, K, win, sigma).mean()))
        if lev < levels - 1:
            seq = np.stack([down2(x) for x in seq])
            f = down2(f)
    q_all = np.asarray(qs)
    # MATLAB: prod(Q.^weight); a negative Q with fractional exponent gives a complex number there
    overall = float(np.prod(np.sign(q_all) * np.abs(q_all) ** wts))
    return overall, qs


def _prepare(fused: np.ndarray, sources: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if sources is None or len(sources) < 2:
        raise InputError("MEF-SSIM needs at least two source exposures")
    f = _to_u8_gray(fused, "fused image")
    seq = np.stack([_to_u8_gray(s, f"source {i}") for i, s in enumerate(sources)])
    if seq.shape[1:] != f.shape:
        raise InputError(f"fused image is {f.shape[0]}x{f.shape[1]} but sources are {seq.shape[1]}x{seq.shape[2]}")
    return seq, f


@register_metric(
    "mef_ssim",
    higher_is_better=True,
    needs="sources",
    tasks=("multi_exposure",),
    convention="MEFB/Ma2015 mef_ssim.m: uint8 rgb2gray, 0-255, K=0.03, 11x11 Gaussian sigma 1.5, one scale",
    citation=_CITATION,
    display="MEF-SSIM (1 scale)",
    aliases=("mefssim_single",),
)
def mef_ssim(fused: np.ndarray, sources: Sequence[np.ndarray], reference: np.ndarray | None = None) -> float:
    """Single-scale MEF-SSIM (Ma, Zeng & Wang 2015; the reference ``mef_ssim.m``).

    For every 11x11 window the sources' patches are split into signal
    strength ``||x_k - mu_k||`` and structure; the desired patch takes the
    largest strength and a structure averaged with weights ``(ed_k/11)^p``
    where ``p = tan(pi R / 2)`` grows with the structural consistency ``R``
    of the sources.  It is compared with the fused patch by the
    structure/contrast term of SSIM (Gaussian window, ``C = (0.03*255)^2``);
    the score is the mean over all valid windows.

    Parameters
    ----------
    fused : HxW or HxWx3 (uint8, uint16 or float in [0, 1])
    sources : the exposure sequence (>= 2), same size

    Returns
    -------
    float in (-1, 1]; 1 for a fusion identical to the ideal local structure.

    References
    ----------
    K. Ma, K. Zeng and Z. Wang, "Perceptual Quality Assessment for
    Multi-Exposure Image Fusion", IEEE TIP 24(11):3345-3356, 2015.
    """
    seq, f = _prepare(fused, sources)
    return mef_ssim_score(seq, f, levels=1)[0]


@register_metric(
    "mef_ms_ssim",
    higher_is_better=True,
    needs="sources",
    tasks=("multi_exposure",),
    convention=(
        "MEFB metricsMEF_SSIM.m (= mef_ms_ssim.m): uint8 rgb2gray, 0-255, K=0.03, 11x11 Gaussian sigma 1.5, "
        "3 scales (2x2 mean, decimate), weights [0.0448 0.2856 0.3001]/sum"
    ),
    citation=_CITATION,
    display="MEF-SSIM",
    aliases=("mefssim", "mef-ssim", "mef_ssim_ms"),
)
def mef_ms_ssim(fused: np.ndarray, sources: Sequence[np.ndarray], reference: np.ndarray | None = None) -> float:
    """Multi-scale MEF-SSIM: the score of Ma et al. 2015 and of MEFB's "MEF_SSIM" column.

    Single-scale MEF-SSIM (:func:`mef_ssim`) at 3 dyadic scales (2x2 average
    then decimation), combined as ``prod_l Q_l ** beta_l`` with
    ``beta = [0.0448, 0.2856, 0.3001] / 0.6305``.

    Parameters
    ----------
    fused : HxW or HxWx3 (uint8, uint16 or float in [0, 1]); side >= 44 px
    sources : the exposure sequence (>= 2), same size

    Returns
    -------
    float, higher is better (1 = ideal).

    References
    ----------
    K. Ma, K. Zeng and Z. Wang, "Perceptual Quality Assessment for
    Multi-Exposure Image Fusion", IEEE TIP 24(11):3345-3356, 2015.
    X. Zhang, "Benchmarking and comparing multi-exposure image fusion
    algorithms", Information Fusion 74:111-131, 2021 (MEFB).
    """
    seq, f = _prepare(fused, sources)
    return mef_ssim_score(seq, f, levels=3)[0]
