"""Perceptual fusion metrics: VIF, VIFF, Q_CB, Q_CV, Q_P (phase congruency).

Defaults: Tang's scripts (VIF = LIVE ``vifp_mscale`` summed over sources),
VIFB (Q_CB, Q_CV, from Z. Liu's code), MEFB (VIFF = Han et al.'s code, Q_P =
Liu's ``metricZhao`` with ``myphasecong3``).  All on the 0-255 domain.
"""
from __future__ import annotations

import functools
import sys
from typing import Any

import cv2
import numpy as np
from scipy import fft

from ..registry import register_metric
from . import _common as C
from .information import LIU, normalize1
from .statistics import ALL_TASKS, TANG, VIFB

# ------------------------------------------------------------------ VIF(F)

#: the metrics that reuse the memoised VIF statistics (dropped by ``evaluate`` after the last of them)
_VIF_USERS = frozenset({"vif", "viff"})


def _vif_gv(n: int):
    g1 = C.gauss1d(n, n / 5.0)

    def gv(x: np.ndarray) -> np.ndarray:
        return C.sepfilt(x, g1, g1, "zero", shape="valid")

    return gv


def _vif_side(x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per scale (image at that scale, its local mean, its local variance) -- the quantities
    of ``vifp_mscale`` that depend on one image only; memoised, so the fused image's are
    computed once for all sources (VIF and VIFF)."""

    def f() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        out = []
        for scale in range(1, 5):
            gv = _vif_gv(2 ** (4 - scale + 1) + 1)
            y = x if scale == 1 else gv(out[-1][0])[::2, ::2]
            mu = gv(y)
            out.append((y, mu, gv(y * y) - mu * mu))
        return out

    return C.memo(("vif_side",), f, x, users=_VIF_USERS)


def _vif_scales(ref: np.ndarray, dist: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per scale (g, sv_sq, sigma1_sq) of LIVE's pixel-domain multi-scale VIF (``vifp_mscale.m``)."""

    def f() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        out = []
        for scale, ((r, mu1, s1), (d, mu2, s2)) in enumerate(zip(_vif_side(ref), _vif_side(dist)), 1):
            gv = _vif_gv(2 ** (4 - scale + 1) + 1)
            s12 = gv(r * d) - mu1 * mu2
            s1 = np.maximum(s1, 0)  # copies: the one-image statistics are shared
            s2 = np.maximum(s2, 0)
            g = s12 / (s1 + 1e-10)
            sv = s2 - g * s12
            # the reference's masked assignments, as masked copies (same values)
            m = s1 < 1e-10
            np.copyto(g, 0.0, where=m)
            np.copyto(sv, s2, where=m)
            np.copyto(s1, 0.0, where=m)
            m = s2 < 1e-10
            np.copyto(g, 0.0, where=m)
            np.copyto(sv, 0.0, where=m)
            m = g < 0
            np.copyto(sv, s2, where=m)
            np.copyto(g, 0.0, where=m)
            np.maximum(sv, 1e-10, out=sv)  # sv(sv <= 1e-10) = 1e-10 (NaN stays NaN either way)
            out.append((g, sv, s1))
        return out

    return C.memo(("vif_scales",), f, ref, dist, users=_VIF_USERS)


#: smallest side for which all four VIF scales are non-empty (17-tap 'valid' window at full
#: size; 9, 5, 3 taps after each 'valid' filter + 2x decimation).  The reference code
#: silently drops the empty scales below it (VIF) or returns NaN (VIFF, 0/0).
VIF_MIN_SIDE = 41
_VIF_WHY = "4 scales: 17-, 9-, 5- and 3-tap windows with 2x decimation"


def vifp(ref: np.ndarray, dist: np.ndarray, sigma_nsq: float = 2.0) -> float:
    """LIVE ``vifp_mscale(ref, dist)`` (Sheikh & Bovik, pixel domain, 4 scales)."""
    num = den = 0.0
    for g, sv, s1 in _vif_scales(ref, dist):
        num += np.log10(1 + g * g * s1 / (sv + sigma_nsq)).sum()
        den += np.log10(1 + s1 / sigma_nsq).sum()
    return float(num / den) if den > 0 else float("nan")


@register_metric("vif", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="Tang-Evaluation",
                 citation="H. R. Sheikh, A. C. Bovik, 'Image information and visual quality', IEEE Trans. Image "
                          "Process. 15(2):430-444, 2006; " + TANG, display="VIF")
def vif(fused: Any, sources: Any, reference: Any = None) -> float:
    """Visual information fidelity as Tang's scripts: ``sum_k vifp_mscale(S_k, F)``.

    LIVE's pixel-domain multi-scale VIF (4 scales, Gaussian windows of 17, 9,
    5, 3 taps with sigma = N/5, ``filter2 'valid'``, dyadic decimation,
    sigma_n^2 = 2) with each source as the reference and the fused image as
    the distorted image; the two values are **summed** (IR + VI).  Grey 0-255
    images (colour -> ``rgb2gray`` uint8).  Works for N sources (sum).
    A constant source (zero information) gives NaN for its term.

    Speed: the one-image statistics of each scale are memoised (the fused image's are
    computed once for all sources and shared with :func:`viff`), and the reference's
    masked assignments are masked copies (``np.copyto``, the same values).
    """
    F, S = C.prepare(fused, sources, min_sources=1)
    C.require_min_side(F, VIF_MIN_SIDE, "vif", _VIF_WHY)
    F, S = C.tang_gray(F, S)
    return float(sum(vifp(s, F) for s in S))


def _viff_core(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    sq = 0.005 * 255 * 255
    Cc = 1e-7
    p = np.array([1, 0, 0.15, 1]) / 2.15
    A = _vif_scales(a, f)
    B = _vif_scales(b, f)
    Fs = []
    for (g1, sv1, s11), (g2, sv2, s12) in zip(A, B):
        # the logarithms of the selected arguments (= the selected logarithms, half the log10 calls)
        L = g1 < g2
        z = np.log10(np.where(L, 1 + g1 * g1 * s11 / (sv1 + sq), 1 + g2 * g2 * s12 / (sv2 + sq)))
        d = np.log10(np.where(L, 1 + s11 / sq, 1 + s12 / sq))
        Fs.append((z + Cc).sum() / (d + Cc).sum())
    return float((np.array(Fs) * p).sum())


@register_metric("viff", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="MEFB (Han et al. code)",
                 citation="Y. Han, Y. Cai, Y. Cao, X. Xu, 'A new image fusion performance metric based on visual "
                          "information fidelity', Information Fusion 14(2):127-135, 2013",
                 display="VIFF", aliases=("vif_fusion",))
def viff(fused: Any, sources: Any, reference: Any = None) -> float:
    """Visual information fidelity for fusion (Han et al. 2013), the authors' code as in MEFB ``metricsVIF``.

    The VIF sub-band quantities of :func:`vif` (4 scales) with visual noise
    sigma_n^2 = 0.005 * 255^2; at each pixel of each scale the source with the
    smaller gain g supplies VID (distorted information) and VIND (reference
    information); ``F_s = sum(VID + 1e-7) / sum(VIND + 1e-7)``; result
    ``sum_s p_s F_s`` with p = (1, 0, 0.15, 1) / 2.15.  Grey 0-255 images
    (MEFB wrapper rules; a colour VI with grey F -> unrounded ``rgb2gray``).

    Speed: the VIF sub-band quantities are shared with :func:`vif` (memoised per image
    pair); the logarithm is taken of the selected argument rather than selecting
    between two logarithms (the same values, half the ``log10`` calls).
    """
    F, S = C.prepare(fused, sources, min_sources=2, max_sources=2)
    C.require_min_side(F, VIF_MIN_SIDE, "viff", _VIF_WHY)

    def single(vi: np.ndarray, ir: np.ndarray, f: np.ndarray) -> float:
        return _viff_core(C.gray_of(vi, uint8=False), C.gray_of(ir, uint8=False), f)

    return C.mefb_dispatch(single, F, S)


# --------------------------------------------------------------------- Q_CB


# The two responses stay cached per size although C.freq_filter caches their shifted half-planes: without
# these long-lived arrays glibc trims the heap between evaluate calls (measured: 0 -> 17k page faults per
# call of the 29 metrics, `PYTHONPATH=src python benchmarks/bench_evaluate_memory.py --suite rest`).
@functools.lru_cache(maxsize=8)
def _chen_blum_csf(shape: tuple[int, int]) -> np.ndarray:
    f0, f1, a = 15.3870, 1.3456, 0.7622
    hang, lie = shape
    u, v = C.freqspace(shape)
    u = (lie / 30) * u
    v = (hang / 30) * v
    r = np.sqrt(u * u + v * v)
    return np.exp(-((r / f0) ** 2)) - a * np.exp(-((r / f1) ** 2))


def _qcb_single(im1: np.ndarray, im2: np.ndarray, fu: np.ndarray) -> float:
    x = np.arange(-15, 16, dtype=np.float64)

    def contrast(im: np.ndarray) -> np.ndarray:
        out = []
        for sigma in (2.0, 4.0):
            g = np.exp(-(x * x) / (2 * sigma * sigma))
            out.append(C.sepfilt(im, g, g / (2 * np.pi * sigma * sigma), "zero"))
        with np.errstate(divide="ignore", invalid="ignore"):
            c = out[0]  # |G1*I / G2*I - 1|, in place
            c /= out[1]
            c -= 1
            np.abs(c, out=c)
            p = c ** 3
            np.multiply(c, c, out=c)
            c += 1e-4
            p /= c
            return p  # C^3 / (C^2 + 1e-4): k = h = 1, p = 3, q = 2, Z = 1e-4

    c1 = contrast(C.freq_filter(normalize1(im1), _chen_blum_csf))
    c2 = contrast(C.freq_filter(normalize1(im2), _chen_blum_csf))
    cf = contrast(C.freq_filter(normalize1(fu), _chen_blum_csf))
    with np.errstate(divide="ignore", invalid="ignore"):
        q1 = np.where(c1 < cf, c1 / cf, cf / c1)
        q2 = np.where(c2 < cf, c2 / cf, cf / c2)
        w1 = c1 * c1  # (c1^2 / den) q1 + (c2^2 / den) q2, den = c1^2 + c2^2, in place
        w2 = c2 * c2
        den = w1 + w2
        w1 /= den
        w1 *= q1
        w2 /= den
        w2 *= q2
        w1 += w2
    return float(w1.mean())


@register_metric("qcb", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="VIFB",
                 citation="Y. Chen, R. S. Blum, 'A new automated quality assessment algorithm for image fusion', "
                          "Image and Vision Computing 27(10):1421-1432, 2009; " + VIFB + "; " + LIU,
                 display="Q_CB", aliases=("q_cb",))
def qcb(fused: Any, sources: Any, reference: Any = None) -> float:
    """Chen-Blum perceptual metric Q_CB, VIFB ``metricsQcb`` (Liu's ``metricChenBlum``).

    Images min-max normalised to 0-255 and rounded (``normalize1``); contrast
    sensitivity filtering in the frequency domain with the DoG
    ``S(r) = exp(-(r/f0)^2) - a exp(-(r/f1)^2)``, f0 = 15.3870, f1 = 1.3456,
    a = 0.7622, on the ``freqspace`` grid scaled by (cols/30, rows/30) (real
    part of the inverse FFT); local contrast ``|G2*I|`` ratio ``C = G1*I / G2*I - 1``
    with fixed 31x31 unnormalised Gaussians (sigma 2 and 4, ``filter2 'same'``),
    masked ``C' = C^3 / (C^2 + 1e-4)``; preservation ``Q_AF = min/max`` of C';
    saliency weights ``C'_A^2 / (C'_A^2 + C'_B^2)``; mean of the quality map.
    Colour: VIFB's per-channel rule.  Deviation: with a grey fused image and a
    colour VI VIFB's code fails (it records 0); pixfuse scores ``rgb2gray``
    (unrounded) of the VI instead.  NaN if an image is constant (0/0 in the
    reference's contrast ratio).

    Speed: the CSF's shifted half-plane response (``rfft2`` layout) is cached per
    image size and the contrast and quality maps are evaluated in place -- the same
    floating-point operations in the same order as the formulae.
    """
    F, S = C.prepare(fused, sources, min_sources=2, max_sources=2)

    def single(vi: np.ndarray, ir: np.ndarray, f: np.ndarray) -> float:
        return _qcb_single(C.gray_of(vi, uint8=False), C.gray_of(ir, uint8=False), f)

    return C.vifb_dispatch(single, F, S)


# --------------------------------------------------------------------- Q_CV


@functools.lru_cache(maxsize=8)  # see _chen_blum_csf
def _mannos_sakrison(shape: tuple[int, int]) -> np.ndarray:
    hang, lie = shape
    u, v = C.freqspace(shape)
    u = lie / 8 * u
    v = hang / 8 * v
    r = np.sqrt(u * u + v * v)
    return 2.6 * (0.0192 + 0.144 * r) * np.exp(-((0.144 * r) ** 1.1))


def _qcv_single(im1: np.ndarray, im2: np.ndarray, fu: np.ndarray) -> float:
    im1, im2, fu = normalize1(im1), normalize1(im2), normalize1(fu)
    k1 = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    k2 = k1.T.copy()

    def sal(x: np.ndarray) -> np.ndarray:
        gx = C.filt(x, k1, "zero")
        gy = C.filt(x, k2, "zero")
        g = np.sqrt(gx * gx + gy * gy)
        return (C.blocks(g, 16) ** 5).sum(axis=(2, 3))

    r1, r2 = sal(im1), sal(im2)
    def dist(diff: np.ndarray) -> np.ndarray:
        d = C.freq_filter(diff, _mannos_sakrison)
        return (C.blocks(d, 16) ** 2).sum(axis=(2, 3)) / 256.0

    D1, D2 = dist(im1 - fu), dist(im2 - fu)
    den = (r1 + r2).sum()
    return float((r1 * D1 + r2 * D2).sum() / den) if den > 0 else 0.0


@register_metric("qcv", higher_is_better=False, needs="sources", tasks=ALL_TASKS, convention="VIFB",
                 citation="H. Chen, P. K. Varshney, 'A human perception inspired quality metric for image fusion based "
                          "on regional information', Information Fusion 8(2):193-207, 2007; " + VIFB + "; " + LIU,
                 display="Q_CV", aliases=("q_cv",))
def qcv(fused: Any, sources: Any, reference: Any = None) -> float:
    """Chen-Varshney metric Q_CV, VIFB ``metricsQcv`` (Liu's ``metricChen``).  **Lower is better.**

    Images ``normalize1``-d (0-255, rounded); region saliency = sum over 16x16
    blocks (``blkproc``, zero padding to a multiple of 16) of the Sobel
    gradient magnitude to the power alpha = 5 (``filter2 'same'``); the
    differences A - F and B - F are filtered with the Mannos-Sakrison CSF
    ``2.6 (0.0192 + 0.144 r) exp(-(0.144 r)^1.1)`` on the ``freqspace`` grid
    scaled by (cols/8, rows/8) (real part of the inverse FFT) and their block
    mean squares D are weighted: ``Q = sum(l_A D_A + l_B D_B) / sum(l_A + l_B)``.
    Colour: VIFB's per-channel rule; a colour VI with a grey fused image (VIFB
    fails and records 0) is converted with unrounded ``rgb2gray`` here.

    Speed: the CSF's shifted half-plane response is cached per image size (as Q_CB).
    """
    F, S = C.prepare(fused, sources, min_sources=2, max_sources=2)

    def single(vi: np.ndarray, ir: np.ndarray, f: np.ndarray) -> float:
        return _qcv_single(C.gray_of(vi, uint8=False), C.gray_of(ir, uint8=False), f)

    return C.vifb_dispatch(single, F, S)


# ---------------------------------------------------------------------- Q_P


def _pc_log_gabor(shape: tuple[int, int]) -> tuple[list[list[np.ndarray]], list[float], list[tuple[float, float]]]:
    """Log-Gabor filters of Kovesi's ``phasecong3`` as revised by Liu (``myphasecong3``),
    ``filters[o][s]`` in float64 (FFT layout), and the per-orientation noise constants
    (EM_n, and the sums of the filters' spatial products)."""
    rows, cols = shape
    nscale, norient, minwl, mult, sigma_onf, dtheta = 4, 6, 3.0, 2.1, 0.55, 1.2
    theta_sigma = np.pi / norient / dtheta
    if cols % 2:
        xr = np.arange(-(cols - 1) / 2, (cols - 1) / 2 + 1) / (cols - 1)
    else:
        xr = np.arange(-cols / 2, cols / 2) / cols
    if rows % 2:
        yr = np.arange(-(rows - 1) / 2, (rows - 1) / 2 + 1) / (rows - 1)
    else:
        yr = np.arange(-rows / 2, rows / 2) / rows
    x, y = np.meshgrid(xr, yr)
    radius = np.sqrt(x * x + y * y)
    radius[rows // 2, cols // 2] = 1
    theta = np.arctan2(-y, x)
    radius = np.fft.ifftshift(radius)
    theta = np.fft.ifftshift(theta)
    st, ct = np.sin(theta), np.cos(theta)
    # lowpassfilter([rows cols], .45, 15) -- note fftshift
    lx = (np.arange(1, cols + 1) - (cols // 2 + 1)) / cols
    ly = (np.arange(1, rows + 1) - (rows // 2 + 1)) / rows
    lxx, lyy = np.meshgrid(lx, ly)
    lp = np.fft.fftshift(1.0 / (1.0 + (np.sqrt(lxx * lxx + lyy * lyy) / 0.45) ** 30))
    log_gabor = []
    for s in range(nscale):
        fo = 1.0 / (minwl * mult ** s)
        lg = np.exp(-(np.log(radius / fo) ** 2) / (2 * np.log(sigma_onf) ** 2)) * lp
        lg[0, 0] = 0
        log_gabor.append(lg)
    filters: list[list[np.ndarray]] = []
    em_n: list[float] = []
    noise_sum: list[tuple[float, float]] = []
    sq = np.sqrt(rows * cols)
    for o in range(norient):
        ang = o * np.pi / norient
        ds = st * np.cos(ang) - ct * np.sin(ang)
        dc = ct * np.cos(ang) + st * np.sin(ang)
        dth = np.abs(np.arctan2(ds, dc))
        spread = np.exp(-(dth ** 2) / (2 * theta_sigma ** 2))
        fl = [lg * spread for lg in log_gabor]
        filters.append(fl)
        em_n.append(float((fl[0] ** 2).sum()))
        ifl = [np.real(fft.ifft2(f)) * sq for f in fl]
        s_an2 = sum((f * f).sum() for f in ifl)
        s_aiaj = 0.0
        for i in range(nscale - 1):
            for j in range(i + 1, nscale):
                s_aiaj += (ifl[i] * ifl[j]).sum()
        noise_sum.append((float(s_an2), float(s_aiaj)))
    return filters, em_n, noise_sum


@functools.lru_cache(maxsize=2)
def _pc_filters(shape: tuple[int, int]) -> tuple[np.ndarray, list[float], list[tuple[float, float]]]:
    """:func:`_pc_log_gabor` as a single-precision bank, cached per image size.

    Shape (norient, nscale, rows, cols, 2), float32, each value stored twice so that
    it multiplies the interleaved real/imaginary parts of a complex64 spectrum in one
    contiguous pass (59 MB for 640x480).
    """
    filters, em_n, noise_sum = _pc_log_gabor(shape)
    bank = np.empty((len(filters), len(filters[0]), *shape, 2), dtype=np.float32)
    for o, fl in enumerate(filters):
        for s, flt in enumerate(fl):
            bank[o, s] = flt[:, :, None]
    bank.setflags(write=False)
    return bank, em_n, noise_sum


#: elements (rows x cols) per band of the per-orientation passes (operands ~L2-sized; 16k-64k measured
#: within noise of each other, 8k slower)
_PC_BAND_ELEMS = 32768


def _median_pair(a: np.ndarray) -> tuple[float, float]:
    """The two middle order statistics of a non-negative float32 array (equal for odd sizes).

    MATLAB's ``median`` averages them.  The float32 bit patterns of non-negative
    numbers sort like the numbers, so a histogram of the top 16 bits (OpenCV's
    ``calcHist`` on their uint16 view: one gather and one counting pass) finds the
    buckets holding both ranks and only those values are partitioned (exact; 0.54 vs
    2.6 ms for a full ``np.partition`` of 640x480 values: ``docs/metrics.md``, command [2]).
    """
    v = np.ascontiguousarray(a, dtype=np.float32).ravel()
    n = v.size
    r1, r2 = (n - 1) // 2, n // 2
    u16 = v.view(np.uint16)
    hi = np.ascontiguousarray(u16[1::2] if sys.byteorder == "little" else u16[::2])
    if n < 1 << 24:  # calcHist counts in float32: exact below 2**24
        cnt = cv2.calcHist([hi.reshape(1, n)], [0], None, [1 << 16], [0, 1 << 16]).ravel().astype(np.int64)
    else:
        cnt = np.bincount(hi, minlength=1 << 16)
    cum = cnt.cumsum()
    b1 = int(np.searchsorted(cum, r1, side="right"))
    b2 = int(np.searchsorted(cum, r2, side="right"))
    base = int(cum[b1 - 1]) if b1 > 0 else 0
    sel = v[hi == b1] if b1 == b2 else v[(hi >= b1) & (hi <= b2)]
    sel = np.partition(sel, [r1 - base, r2 - base])
    return float(sel[r1 - base]), float(sel[r2 - base])


def phase_congruency(im: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phase congruency, maximum and minimum moments (``myphasecong3`` defaults: 4 scales,
    6 orientations, min wavelength 3, mult 2.1, sigmaOnf 0.55, k = 2, cutOff 0.5, g = 10).

    One forward FFT of the image; per orientation the four scales are filtered and
    inverse-transformed in single precision (complex64, OpenCV's ``idft`` in place,
    the 1/N scaling folded into the spectrum; the filter bank is cached per image
    size); amplitudes, energy, noise threshold and orientation moments are float32,
    the returned maps float64.  The noise median comes from a radix pre-selection
    (:func:`_median_pair`).  Agrees with the double-precision transcription to ~1e-6
    of the maximum.

    Speed (same bits as the straightforward single-precision evaluation): each scale
    is multiplied by its filter and inverse-transformed while the spectrum is in
    cache; the smallest scale's amplitudes (needed whole for the noise median) are
    taken right after its transform, so the noise threshold is known before the
    per-pixel pass; that pass then runs once per orientation over bands of ~32k
    pixels (all scales, real and imaginary parts de-interleaved by ``cv2.split``)
    and includes the weighting and the orientation moments, so every operand stays
    in the L2 cache; the float64 outputs are formed in place.
    """

    def f() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        f32 = np.float32
        eps = f32(1e-4)
        nscale, norient, k, cut, g = 4, 6, 2.0, 0.5, 10.0
        rows, cols = im.shape
        bank, em_n, noise = _pc_filters(im.shape)
        imf = fft.fft2(np.asarray(im, dtype=np.float64), workers=1).astype(np.complex64)
        imf *= f32(1.0 / (rows * cols))  # cv2.idft does not scale
        imf_ri = imf.view(np.float32).reshape(rows, cols, 2)
        spec = np.empty((nscale, rows, cols, 2), dtype=np.float32)
        eo = spec.view(np.complex64)[..., 0]
        total_e = np.zeros(im.shape, f32)
        total_an = np.zeros(im.shape, f32)
        covx2 = np.zeros(im.shape, f32)
        covy2 = np.zeros(im.shape, f32)
        covxy = np.zeros(im.shape, f32)
        an0 = np.empty(im.shape, f32)
        # work buffers for a band of rows: after the inverse transforms of an orientation,
        # everything runs band by band so that the operands stay in cache
        band = max(1, _PC_BAND_ELEMS // max(cols, 1))
        abuf = np.empty((nscale, band, cols), f32)
        rbuf = np.empty((nscale, band, cols), f32)
        ibuf = np.empty((nscale, band, cols), f32)
        sbuf = np.empty((3, band, cols), f32)
        for o in range(norient):
            ang = o * np.pi / norient
            for s in range(nscale):  # real filter times complex spectrum, inverse DFT while in cache
                np.multiply(bank[o, s], imf_ri, out=spec[s])
                cv2.idft(spec[s], dst=spec[s], flags=cv2.DFT_COMPLEX_OUTPUT)
                if s == 0:
                    np.abs(eo[0], out=an0)
            # noise: median of the smallest scale's squared amplitude (Rayleigh fit)
            lo, hi = _median_pair(an0)
            median_e2n = (lo * lo + hi * hi) / 2
            mean_e2n = -median_e2n / np.log(0.5)
            noise_power = mean_e2n / em_n[o]
            s_an2, s_aiaj = noise[o]
            est2 = 2 * noise_power * s_an2 + 4 * noise_power * s_aiaj
            tau = np.sqrt(est2 / 2)
            T = (tau * np.sqrt(np.pi / 2) + k * np.sqrt((2 - np.pi / 2) * tau * tau)) / 1.7
            T = f32(T)
            cs, sn = f32(np.cos(ang)), f32(np.sin(ang))
            for r0 in range(0, rows, band):
                r1 = min(rows, r0 + band)
                n = r1 - r0
                e = eo[:, r0:r1]
                an = abuf[:, :n]  # (nscale, band, cols) amplitudes
                an[0] = an0[r0:r1]
                np.abs(e[1:], out=an[1:])
                s_an = np.sum(an, axis=0, out=sbuf[0, :n])
                m_an = np.max(an, axis=0, out=sbuf[1, :n])
                # real and imaginary parts de-interleaved once (contiguous operands below); the
                # destinations are C-contiguous of the right size and type, so cv2.split fills them
                er = rbuf[:, :n]
                ei = ibuf[:, :n]
                for s in range(nscale):
                    cv2.split(spec[s, r0:r1], [er[s], ei[s]])
                sum_e = er.sum(0)
                sum_o = ei.sum(0)
                xe = np.sqrt(sum_e * sum_e + sum_o * sum_o)
                xe += eps
                me = sum_e / xe
                mo = sum_o / xe
                en = np.multiply(sum_e, me, out=sbuf[2, :n])
                en += sum_o * mo
                E = np.multiply(er, mo, out=er)  # the parts are not needed any more
                O = np.multiply(ei, me, out=ei)
                E -= O
                np.abs(E, out=E)
                en -= E.sum(0)
                # noise-compensated, frequency-spread weighted energy; its orientation moments
                en -= T
                np.maximum(en, 0, out=en)
                m_an += eps
                width = np.divide(s_an, m_an, out=m_an)
                width *= f32(-g / nscale)
                width += f32(cut * g)
                weight = np.exp(width, out=width)  # 1 / (1 + exp((cut - width) g))
                weight += 1
                en /= weight  # e_o = weight * energy
                total_an[r0:r1] += s_an
                total_e[r0:r1] += en
                with np.errstate(divide="ignore", invalid="ignore"):
                    pc_o = np.divide(en, s_an, out=en)
                cx = pc_o * cs
                cy = pc_o * sn
                covx2[r0:r1] += cx * cx
                covy2[r0:r1] += cy * cy
                covxy[r0:r1] += cx * cy
        # float64 outputs, evaluated in place (same operations and order as the formulae)
        f64 = np.float64
        pc = total_an.astype(f64)
        pc += 1e-4
        np.divide(total_e, pc, out=pc)  # total_e / (total_an + 1e-4)
        covx2 = np.divide(covx2, norient / 2, dtype=f64)
        covy2 = np.divide(covy2, norient / 2, dtype=f64)
        denom = np.divide(covxy, norient, dtype=f64)
        denom *= denom
        d = np.subtract(covx2, covy2)
        d *= d
        denom += d
        np.sqrt(denom, out=denom)
        denom += 1e-4  # sqrt(covxy^2 + (covx2 - covy2)^2) + 1e-4
        M = np.add(covy2, covx2, out=covy2)
        m = np.subtract(M, denom, out=covx2)
        M += denom
        M /= 2
        m /= 2
        return pc, M, m

    # kept for the whole evaluate call (no ``users``): releasing the nine maps right after Q_P
    # measured 10-20k more page faults per suite call (freed heap trimmed, faulted in again)
    return C.memo(("phasecong",), f, im)


def _zhao_cc(i1: np.ndarray, i2: np.ndarray, imax: np.ndarray, imf: np.ndarray, m1: np.ndarray, m2: np.ndarray,
             m3: np.ndarray) -> float:
    """Liu's masked local correlation of ``metricZhao``: max over (A, B, max) of the
    per-pixel ratio inside each mask (0 outside), summed over the max-mask area."""
    g = C.gauss1d(11, 1.5)

    def gf(x: np.ndarray) -> np.ndarray:
        return C.sepfilt(x, g, g, "zero")

    c = 1e-4
    mf = gf(imf)
    sf = gf(imf * imf)
    sf -= mf * mf
    result = None
    for im, mk in ((i1, m1), (i2, m2), (imax, m3)):
        im = mk * im
        mu = gf(im)
        s = gf(im * im)
        s -= mu * mu
        np.multiply(im, imf, out=im)
        r = gf(im)  # sxf, then the ratio, in place
        mu *= mf
        r -= mu
        r += c
        s *= sf
        np.abs(s, out=s)
        np.sqrt(s, out=s)
        s += c
        with np.errstate(divide="ignore", invalid="ignore"):
            r /= s  # evaluated everywhere, kept inside the mask
        np.copyto(r, 0.0, where=~mk)
        result = r if result is None else np.maximum(result, r, out=result)
    a3 = m3.sum()
    return float(result.sum() / a3) if a3 > 0 else 0.0


def _qp_core(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    pc1, M1, n1 = phase_congruency(a)
    pc2, M2, n2 = phase_congruency(b)
    pcf, Mf, nf = phase_congruency(f)
    mask = pc1 > pc2
    thr = 0.1
    m1, m2 = pc1 > thr, pc2 > thr
    pcmax = np.where(mask, pc1, pc2)
    m3 = pcmax > thr
    r_pc = _zhao_cc(pc1, pc2, pcmax, pcf, m1, m2, m3)
    r_M = _zhao_cc(M1, M2, np.where(mask, M1, M2), Mf, m1, m2, m3)
    r_m = _zhao_cc(n1, n2, np.where(mask, n1, n2), nf, m1, m2, m3)
    return r_pc * r_M * r_m


@register_metric("qp", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="MEFB (Liu metricZhao)",
                 citation="J. Zhao, R. Laganiere, Z. Liu, 'Performance assessment of combinative pixel-level image "
                          "fusion based on an absolute feature measurement', Int. J. Innovative Computing, Information "
                          "and Control 3(6A):1433-1447, 2007; P. Kovesi, 'Image features from phase congruency', "
                          "Videre 1(3), 1999; " + LIU,
                 display="Q_P", aliases=("q_p", "phase_congruency"))
def qp(fused: Any, sources: Any, reference: Any = None) -> float:
    """Phase-congruency metric Q_P (Zhao et al. 2007), MEFB ``metricsQp`` / Liu ``metricZhao``.

    Phase congruency (PC), maximum (M) and minimum (m) moments of each image
    from Liu's ``myphasecong3`` (Kovesi's phasecong3, 4 scales, 6 orientations,
    log-Gabor filters via FFT, noise threshold k = 2 rescaled by 1/1.7).  For
    each feature a masked local correlation (11x11 Gaussian sigma 1.5,
    ``filter2 'same'``, C = 1e-4) between F and A, B and the pixel-wise max of
    A, B (masks PC > 0.1) is maxed over the three and summed over the max-mask
    area; ``Q_P = P_pc * P_M * P_m``.  Grey 0-255 images (a colour VI with a
    grey F -> unrounded ``rgb2gray``; MEFB wrapper rules otherwise).  NaN when
    an image is constant (no filter response: 0/0 in the per-orientation phase
    congruency, as in the reference).  The log-Gabor filter bank and its noise
    constants are cached per image size.

    Speed: most of the time is the three phase congruencies (72 single-precision
    inverse DFTs and ~65 float32 passes per orientation and image, see
    :func:`phase_congruency`), the rest the 33 float64 11-tap Gaussian filters of
    the masked correlations (split measured by an ad-hoc script, ``docs/metrics.md``;
    ``benchmarks/bench_metrics.py`` times Q_P as a whole).  Every value is bit-identical to the straightforward
    evaluation of the formulae, so the remaining cost is that arithmetic itself.
    """
    F, S = C.prepare(fused, sources, min_sources=2, max_sources=2)

    def single(vi: np.ndarray, ir: np.ndarray, f: np.ndarray) -> float:
        return _qp_core(C.gray_of(vi, uint8=False), C.gray_of(ir, uint8=False), f)

    return C.mefb_dispatch(single, F, S)
