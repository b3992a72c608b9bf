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
#: float64 elements of all the row-strip buffers of :func:`mef_ssim_map` together (4 MiB: they stay in
#: cache; 2^18 / 2^20 / 2^21 were 4-10% slower at 640x480 with 2 sources, 2^21 also with 3 to 9:
#: one-off A/B scripts, docs/metrics.md)
_STRIP_ELEMS = 1 << 19
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


def _sum0(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``a.sum(axis=0)`` in numpy's order (first term, then each next one added) into ``out``.

    numpy starts its sums from ``0.0``, which differs only in the sign of an exact zero; every sum
    of :func:`mef_ssim_map` then meets a ``+ eps``, ``+ C`` or ``> 0`` that makes the map identical.
    A 2-term sum is one ``add`` (numpy's reduction over a short first axis is ~2.5x slower;
    command in ``docs/metrics.md``, "MEF-SSIM map").
    """
    if len(a) == 1:
        np.copyto(out, a[0])
        return out
    np.add(a[0], a[1], out=out)
    for x in a[2:]:
        out += x
    return out


def _max0(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``a.max(axis=0)`` into ``out`` as pairwise ``maximum`` calls (exact in any order)."""
    if len(a) == 1:
        np.copyto(out, a[0])
        return out
    np.maximum(a[0], a[1], out=out)
    for x in a[2:]:
        np.maximum(out, x, out=out)
    return out


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

    Speed
    -----
    The N(N+1) + 3N + 2 whole-image filters (OpenCV, float64) write into preallocated
    arrays; all per-pixel arithmetic then runs over row strips of the 'valid' region
    in one reused pool of buffers (``_STRIP_ELEMS`` elements, 4 MiB, so the
    temporaries stay in cache and no page is faulted in per call), with the N x N
    quantities as (N, N, rows, W) blocks (one numpy call for all source pairs, the
    same ``einsum`` as the whole-image formulas; for N <= 2 a strided view of the
    filtered pair products, no copy).  Every operation and the order of
    every sum are those of the whole-image code, so the map is bit-identical to it
    (``benchmarks/check_mef_values.py`` and ``benchmarks/check_metric_values.py``
    with ``--baseline``).  Three-scale score of a 640x480 IR/VIS pair on one core
    (``ms_ssim_tang``): 73-82 -> 44-47 ms CPU (page faults per call 19.8k -> 0, a
    one-off count); see ``docs/metrics.md`` (Speed, "MEF-SSIM map") for the commands
    and figures.
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
    pairs = [(k, m) for k in range(n) for m in range(k, n)]
    # (k, m) -> its pair (k <= m), for the full n x n matrices of a strip
    pair_of = np.array([pairs.index((min(k, m), max(k, m))) for k in range(n) for m in range(n)])

    def square(a: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """The (n, n, rows, W) symmetric matrix of the pair strips ``a``: for N <= 2 the pair
        index is k + m, a strided view (no copy); else gathered into ``dst``."""
        if n <= 2:
            return np.lib.stride_tricks.as_strided(a, (n, n) + a.shape[1:], (a.strides[0],) + a.strides,
                                                   writeable=False)
        np.take(a, pair_of, axis=0, out=dst.reshape((n * n,) + a.shape[1:]))
        return dst

    # Whole-image filters.  The box filter keeps running sums along rows and columns, so its
    # value at a pixel depends (in the last bits) on the image it ran over: it sees the whole
    # image, as before, and only the 'valid' part is read.
    def box(a: np.ndarray, dst: np.ndarray) -> None:
        cv2.boxFilter(a, cv2.CV_64F, (win, win), dst=dst, normalize=True, borderType=cv2.BORDER_REFLECT)

    def gau(a: np.ndarray, dst: np.ndarray) -> None:
        cv2.sepFilter2D(a, cv2.CV_64F, g1, g1, dst=dst, borderType=cv2.BORDER_REFLECT)

    mu_f, gm_f, gxf_f = (np.empty((n, h, w)) for _ in range(3))
    bxx_f, gxx_f = (np.empty((len(pairs), h, w)) for _ in range(2))
    mu2_f, gff_f, tmp = (np.empty((h, w)) for _ in range(3))
    for k in range(n):
        box(seq[k], mu_f[k])
        gau(seq[k], gm_f[k])
    for i, (k, m) in enumerate(pairs):
        np.multiply(seq[k], seq[m], out=tmp)
        box(tmp, bxx_f[i])
        gau(tmp, gxx_f[i])
    gau(f, mu2_f)
    np.multiply(f, f, out=tmp)
    gau(tmp, gff_f)
    for k in range(n):
        np.multiply(seq[k], f, out=tmp)
        gau(tmp, gxf_f[k])
    del tmp, seq, f

    # Per-pixel arithmetic in row strips, in reused buffers that stay in cache; every
    # operation, and the order of every sum, is the one of the whole-image formulas.
    H, W = h - 2 * bd, w - 2 * bd
    out = np.empty((H, W), np.float64)
    nbuf = 4 * n * n + 3 * n + 8
    rows = max(1, min(H, _STRIP_ELEMS // (W * nbuf)))
    C = (K * 255.0) ** 2
    lo = 1 - _MATLAB_EPS
    pool = np.empty(nbuf * rows * W)

    def buffers(nr: int) -> tuple:
        """Contiguous (..., nr, W) views of the pool: 4 (n, n), 3 (n,) and 8 single strips."""
        size, o, views = nr * W, 0, []
        for lead in [(n, n)] * 4 + [(n,)] * 3 + [()] * 8:
            cnt = int(np.prod(lead))
            views.append(pool[o:o + cnt * size].reshape(lead + (nr, W)))
            o += cnt * size
        return tuple(views)

    bufs = {}
    for r0 in range(0, H, rows):
        r1 = min(H, r0 + rows)
        shape = (r1 - r0, W)
        if shape[0] not in bufs:
            bufs[shape[0]] = buffers(shape[0])
        cov, pp, e2, t4, ed, c, t3, num, den, R, a, mu1u, e2u, erfu, t1 = bufs[shape[0]]
        rs, cs = slice(bd + r0, bd + r1), slice(bd, bd + W)
        mu, gm = mu_f[:, rs, cs], gm_f[:, rs, cs]
        mu2 = mu2_f[rs, cs]
        # box covariance of every (k, m): mean of x_k x_m minus mu_k mu_m
        np.multiply(mu[:, None], mu[None, :], out=pp)
        np.subtract(square(bxx_f[:, rs, cs], cov), pp, out=cov)
        # signal strength ||x_k - mu_k|| and ed = strength + 0.001
        np.multiply(cov.reshape((n * n,) + shape)[::n + 1], area, out=ed)
        np.maximum(ed, 0.0, out=ed)
        np.sqrt(ed, out=ed)
        _sum0(ed, den)
        ed += 0.001
        # structure consistency R = ||sum_k (x_k - mu_k)|| / sum_k ||x_k - mu_k||
        _sum0(cov.reshape((n * n,) + shape), num)
        num *= area
        np.maximum(num, 0.0, out=num)
        np.sqrt(num, out=num)
        num += _MATLAB_EPS
        den += _MATLAB_EPS
        np.divide(num, den, out=R)
        np.copyto(R, lo, where=R > 1)                  # (R > 0 always: both terms are >= eps)
        p = R
        np.multiply(np.pi / 2, p, out=p)
        np.tan(p, out=p)
        np.minimum(p, 10.0, out=p)
        # weights (ed_k / win)^p + eps, normalised; over ed_k: the coefficient c_k of (x_k - mu_k)
        np.divide(ed, win, out=c)
        np.power(c, p, out=c)
        c += _MATLAB_EPS
        _sum0(c, den)
        c /= den
        c /= ed
        _max0(ed, a)                                   # largest strength
        # squared norm of the (unscaled) desired structure vector
        norm2 = np.einsum("kij,kmij,mij->ij", c, cov, c, out=num)
        norm2 *= area
        # Gaussian-weighted moments of the unscaled structure vector
        np.subtract(gm, mu, out=t3)                    # G*(x_k - mu_k)
        t3 *= c
        _sum0(t3, mu1u)
        # G*(x_k x_m) - mu_k gm_m - gm_k mu_m + mu_k mu_m, term by term
        np.multiply(mu[:, None], gm[None, :], out=t4)
        np.subtract(square(gxx_f[:, rs, cs], e2), t4, out=e2)
        e2 -= t4.swapaxes(0, 1)                        # gm_k mu_m = mu_m gm_k
        e2 += pp
        np.einsum("kij,kmij,mij->ij", c, e2, c, out=e2u)
        np.multiply(mu, mu2, out=t3)
        np.subtract(gxf_f[:, rs, cs], t3, out=t3)
        t3 *= c
        _sum0(t3, erfu)
        # scale: largest strength over the structure vector's norm (0 where the norm is 0)
        zero = norm2 <= 0
        np.copyto(norm2, 1.0, where=zero)
        np.sqrt(norm2, out=norm2)
        np.divide(a, norm2, out=a)
        np.copyto(a, 0.0, where=zero)
        # s11 = a^2 e2u - mu1^2, s12 = a erfu - mu1 mu2, s22 = G*f^2 - mu2^2
        mu1 = mu1u
        mu1 *= a
        np.multiply(a, a, out=t1)
        t1 *= e2u
        s11 = t1
        np.multiply(mu1, mu1, out=num)
        s11 -= num
        np.multiply(mu2, mu2, out=num)
        s22 = np.subtract(gff_f[rs, cs], num, out=num)
        s11 += s22
        s11 += C
        s12 = np.multiply(a, erfu, out=R)
        np.multiply(mu1, mu2, out=e2u)
        s12 -= e2u
        s12 *= 2
        s12 += C
        np.divide(s12, s11, out=out[r0:r1])
    return out


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
            seq = down2(seq)
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
