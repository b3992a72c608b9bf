"""Structural / gradient fusion metrics: SSIM, MS-SSIM, Q_AB/F, N_AB/F, L_AB/F, Q_0, Q_W, Q_E, Q_C, Q_Y.

Defaults: VIFB (SSIM, Q_AB/F), Tang's Evaluation-for-Image-Fusion (N_AB/F,
the "MS_SSIM" variant), Z. Liu's imageFusionMetrics as shipped in MEFB (Q_W,
Q_E, Q_C, Q_Y) and the papers / authors' code (MS-SSIM, Q_0).  All on the
8-bit (0-255) domain of the reference scripts.
"""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ..registry import register_metric
from . import _common as C
from .information import LIU
from .statistics import ALL_TASKS, TANG, VIFB

SSIM_CIT = (
    "Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, 'Image quality assessment: from error visibility to "
    "structural similarity', IEEE Trans. Image Process. 13(4):600-612, 2004"
)

# ---------------------------------------------------------------- SSIM maps


#: metrics that reuse the memoised local statistics (see :func:`pixfuse.metrics._common.release_unused`)
_SSIM_USERS = frozenset({"ssim", "ssim_mean", "ms_ssim", "qw", "qe"})
_YANG_USERS = frozenset({"qy", "qc"})
_QABF_USERS = frozenset({"qabf", "qabf_tang"})
_KUMAR_USERS = frozenset({"nabf", "labf", "nabf_petrovic", "nabf_published_call"})
# evaluate() computes each group's members one after the other (see _common.evaluation_order)
for _name, _group in (("ssim11", _SSIM_USERS), ("yang", _YANG_USERS), ("xydeas", _QABF_USERS),
                      ("kumar", _KUMAR_USERS)):
    C.share_group(_name, *sorted(_group))


def _users(n: int, users: frozenset[str] | None) -> frozenset[str]:
    return users if users is not None else (_YANG_USERS if n == 7 else _SSIM_USERS)


def _mu(x: np.ndarray, n: int, sigma: float, users: frozenset[str] | None = None) -> np.ndarray:
    return C.memo(("gmu", n, sigma), lambda: C.gauss_valid(x, n, sigma), x, users=_users(n, users))


def _var(x: np.ndarray, n: int, sigma: float, users: frozenset[str] | None = None) -> np.ndarray:
    def f() -> np.ndarray:
        m = _mu(x, n, sigma, users)
        v = C.gauss_valid(x * x, n, sigma)
        v -= m * m
        return v

    return C.memo(("gsq", n, sigma), f, x, users=_users(n, users))


def _cov(a: np.ndarray, b: np.ndarray, n: int, sigma: float, users: frozenset[str] | None = None) -> np.ndarray:
    def f() -> np.ndarray:
        c = C.gauss_valid(a * b, n, sigma)
        c -= _mu(a, n, sigma, users) * _mu(b, n, sigma, users)
        return c

    # symmetric in (a, b) bit for bit (a * b == b * a): one entry for both orders
    return C.memo(("gab", n, sigma), f, *sorted((a, b), key=id), users=_users(n, users))


def _ssim_stats(a: np.ndarray, b: np.ndarray, n: int, sigma: float,
                users: frozenset[str] | None = None) -> tuple[np.ndarray, ...]:
    """mu_a, mu_b, sigma_a^2, sigma_b^2, sigma_ab with ``filter2(gauss, ., 'valid')`` (memoised, shared:
    callers must not modify them; ``users``: the metrics that may reuse them, by default by window)."""
    return (_mu(a, n, sigma, users), _mu(b, n, sigma, users), _var(a, n, sigma, users), _var(b, n, sigma, users),
            _cov(a, b, n, sigma, users))


def _ssim_formula(mua: np.ndarray, mub: np.ndarray, saa: np.ndarray, sbb: np.ndarray, sab: np.ndarray,
                  c1: float, c2: float) -> np.ndarray:
    """``((2 mua mub + c1)(2 sab + c2)) / ((mua^2 + mub^2 + c1)(saa + sbb + c2))``, evaluated in place
    in the same operation order (bit-identical to the plain expression); symmetric in (a, b) bit for bit."""
    num = np.multiply(mua, 2)
    num *= mub
    num += c1
    t = np.multiply(sab, 2)
    t += c2
    num *= t
    den = np.multiply(mua, mua)
    np.multiply(mub, mub, out=t)
    den += t
    den += c1
    np.add(saa, sbb, out=t)
    t += c2
    den *= t
    num /= den
    return num


def ssim_map(a: np.ndarray, b: np.ndarray, *, n: int = 11, sigma: float = 1.5, c1: float = (0.01 * 255) ** 2,
             c2: float = (0.03 * 255) ** 2, users: frozenset[str] | None = None) -> np.ndarray:
    """SSIM map of Wang's ``ssim_index.m`` (Gaussian window, ``filter2 'valid'``).

    Memoised per unordered pair (the map is symmetric bit for bit): SSIM, Q_W share it.
    The result is shared; callers must not modify it.
    """

    def f() -> np.ndarray:
        return _ssim_formula(*_ssim_stats(a, b, n, sigma, users), c1, c2)

    return C.memo(("ssim_map", n, sigma, c1, c2), f, *sorted((a, b), key=id), users=_users(n, users))


def _ssim_vifb(F: np.ndarray, S: list[np.ndarray], name: str) -> float:
    C.require_min_side(F, 11, name, "an 11x11 window applied 'valid'")

    def single(*args: np.ndarray) -> float:
        f = args[-1]
        return float(sum(ssim_map(C.gray_of(s, uint8=True), f).mean() for s in args[:-1]))

    return C.vifb_dispatch(single, F, S, any_count=True)


@register_metric("ssim", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="VIFB",
                 citation=SSIM_CIT + "; " + VIFB, display="SSIM")
def ssim(fused: Any, sources: Any, reference: Any = None) -> float:
    """SSIM as VIFB computes it (``metricsSsim``): SSIM(VI, F) + SSIM(IR, F), a **sum** (range up to 2).

    Each term: Wang's SSIM with an 11x11 Gaussian window (sigma 1.5) applied
    with ``filter2(..., 'valid')``, L = 255, K = (0.01, 0.03), mean of the map.
    A colour VI with a grey fused image -> ``rgb2gray`` of the uint8 image.
    SSIM(x, x) = 1 per term, so ``ssim(x, [x, x]) = 2``.  See :func:`ssim_mean`
    (averaged) and :func:`ssim_tang` (MATLAB built-in ``ssim``).

    References
    ----------
    VIFB ``metrics/metricsSsim.m``; Wang et al. (2004).
    """
    F, S = C.prepare(fused, sources, min_sources=1)
    return _ssim_vifb(F, S, "ssim")


@register_metric("ssim_mean", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="VIFB (averaged)",
                 citation=SSIM_CIT + "; " + VIFB, display="SSIM (mean)")
def ssim_mean(fused: Any, sources: Any, reference: Any = None) -> float:
    """VIFB's SSIM averaged over the two sources instead of summed (= ``ssim / 2``), range up to 1."""
    F, S = C.prepare(fused, sources, min_sources=1)
    return _ssim_vifb(F, S, "ssim_mean") / len(S)


def _ssim_builtin(a: np.ndarray, ref: np.ndarray) -> float:
    # MATLAB ssim(A, ref) on doubles: DynamicRange 1, Gaussian sigma 1.5 (11 taps),
    # 'replicate' padding, full-size map, exponents 1 and C3 = C2/2.
    g = C.gauss1d(11, 1.5)
    users = frozenset({"ssim_tang"})

    def gf(x: np.ndarray) -> np.ndarray:
        return C.sepfilt(x, g, g, "replicate")

    def mu(x: np.ndarray) -> np.ndarray:
        return C.memo(("rep_mu",), lambda: gf(x), x, users=users)

    def var(x: np.ndarray) -> np.ndarray:
        def f() -> np.ndarray:
            v = gf(x * x)
            m = mu(x)
            v -= m * m
            return v

        return C.memo(("rep_var",), f, x, users=users)

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mx, my = mu(a), mu(ref)  # the fused image's (a) serve every source
    sxy = gf(a * ref)
    sxy -= mx * my
    return float(_ssim_formula(mx, my, var(a), var(ref), sxy, c1, c2).mean())


@register_metric("ssim_tang", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="Tang-Evaluation",
                 citation=SSIM_CIT + "; " + TANG, display="SSIM (Tang)")
def ssim_tang(fused: Any, sources: Any, reference: Any = None) -> float:
    """SSIM as Tang's current scripts: mean over sources of MATLAB's built-in ``ssim(F, S)``.

    The built-in is called on 0-255 doubles with its default DynamicRange = 1,
    so C1 = 1e-4 and C2 = 9e-4 are ~0 relative to the data (a known quirk);
    Gaussian sigma 1.5 (11 taps), 'replicate' padding, full-size map.
    """
    F, S = C.prepare(fused, sources, min_sources=1)
    F, S = C.tang_gray(F, S)
    return float(np.mean([_ssim_builtin(F, s) for s in S]))


# ------------------------------------------------------------------ MS-SSIM


_MS_USERS = frozenset({"ms_ssim"})


def _pyramid(x: np.ndarray) -> list[np.ndarray]:
    """The 5 scales of ``msssim.m`` (memoised: the fused image's serves every source)."""

    def f() -> list[np.ndarray]:
        levels = [x]
        for _ in range(4):
            levels.append(C.down2(levels[-1]))
        return levels

    return C.memo(("ms_pyr",), f, x, users=_MS_USERS)


def msssim_wang(a: np.ndarray, b: np.ndarray) -> float:
    """Wang's multi-scale SSIM (``msssim.m``, Asilomar 2003): 5 scales, default weights.

    Speed: the scale-0 statistics are the SSIM ones (shared through the cache), the
    fused image's pyramid and per-scale means/variances are computed once for all sources.
    """
    w = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    cs_l = []
    pa, pb = _pyramid(a), _pyramid(b)
    for lev in range(5):
        a, b = pa[lev], pb[lev]
        u = None if lev == 0 else _MS_USERS  # scale 0: the SSIM statistics
        saa, sbb, sab = _var(a, 11, 1.5, u), _var(b, 11, 1.5, u), _cov(a, b, 11, 1.5, u)
        cs = np.multiply(sab, 2)
        cs += c2
        t = np.add(saa, sbb)
        t += c2
        cs /= t
        if lev < 4:
            cs_l.append(cs.mean())
        else:
            mua, mub = _mu(a, 11, 1.5, u), _mu(b, 11, 1.5, u)
            l_ = (2 * mua * mub + c1) / (mua * mua + mub * mub + c1)
            last = (l_ * cs).mean()
    vals = np.array(cs_l + [last])
    with np.errstate(invalid="ignore"):
        return float(np.prod(vals ** w))  # NaN if a factor is negative (MATLAB: complex)


@register_metric("ms_ssim", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="paper (Wang msssim.m)",
                 citation="Z. Wang, E. P. Simoncelli, A. C. Bovik, 'Multiscale structural similarity for image quality "
                          "assessment', 37th Asilomar Conf. Signals, Systems and Computers, 2003, pp. 1398-1402",
                 display="MS-SSIM")
def ms_ssim(fused: Any, sources: Any, reference: Any = None) -> float:
    """Multi-scale SSIM (Wang et al. 2003), averaged over the sources: ``mean_k MS-SSIM(F, S_k)``.

    Wang's ``msssim.m``: 5 scales, weights (0.0448, 0.2856, 0.3001, 0.2363,
    0.1333), 11x11 Gaussian window sigma 1.5 (``filter2 'valid'``), K = (0.01,
    0.03), L = 255, 2x2 mean filter (``imfilter 'symmetric'``) and decimation
    between scales; contrast-structure at the 4 finer scales, luminance too at
    the coarsest.  Grey 0-255 images (colour -> ``rgb2gray`` uint8).  Needs
    images of at least 176 pixels per side.  Not to be confused with Tang's
    "MS_SSIM" (:func:`ms_ssim_tang`, a MEF-SSIM).
    """
    F, S = C.prepare(fused, sources, min_sources=1)
    F, S = C.tang_gray(F, S)
    C.require_min_side(F, 176, "ms_ssim", "5 scales of an 11x11 window")
    return float(np.mean([msssim_wang(F, s) for s in S]))


def mef_ms_ssim_tang(seq: list[np.ndarray], f: np.ndarray) -> float:
    """``analysis_ms_ssim`` (Ma et al. MEF-MS-SSIM): 3 scales, weights (0.0448, 0.2856, 0.3001) renormalised.

    The same computation as MEFB's ``mef_ms_ssim`` (:func:`pixfuse.metrics.exposure.mef_ssim_score`,
    ``levels=3``, K = 0.03): one implementation serves both conventions.
    """
    from .exposure import mef_ssim_score

    return mef_ssim_score(np.stack(seq), f, levels=3, K=0.03)[0]


@register_metric("ms_ssim_tang", higher_is_better=True, needs="sources", tasks=ALL_TASKS,
                 convention="Tang-Evaluation (MEF-MS-SSIM of [IR, VI])",
                 citation="K. Ma, K. Zeng, Z. Wang, 'Perceptual quality assessment for multi-exposure image fusion', "
                          "IEEE Trans. Image Process. 24(11):3345-3356, 2015; " + TANG,
                 display="MS_SSIM (Tang = MEF-MS-SSIM)", aliases=("mef_ms_ssim_ir_vi",))
def ms_ssim_tang(fused: Any, sources: Any, reference: Any = None) -> float:
    """Tang's "MS_SSIM": the **MEF**-MS-SSIM of Ma et al. with the sources as an exposure stack.

    ``analysis_ms_ssim([IR, VI], F)``: K = 0.03, 11x11 Gaussian window sigma
    1.5, 3 scales with weights (0.0448, 0.2856, 0.3001) renormalised, 2x2 mean
    filter (``'symmetric'``) and decimation between scales.  The per-window
    structure of the desired patch is computed from window sums (exact algebra,
    no per-pixel loop).  Grey 0-255 images; N sources allowed (a stack).
    This is not Wang's MS-SSIM (:func:`ms_ssim`).
    """
    F, S = C.prepare(fused, sources, min_sources=1)
    F, S = C.tang_gray(F, S)
    C.require_min_side(F, 44, "ms_ssim_tang", "3 scales of an 11x11 window")
    return mef_ms_ssim_tang(S, F)


# ------------------------------------------------------------------ Q_AB/F

_H1 = np.array([[1.0, 2, 1], [0, 0, 0], [-1, -2, -1]])
_H3 = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])


def _is_integral(p: np.ndarray) -> bool:
    return bool((np.floor(p) == p).all())


def _xydeas_grad(img: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Strength and angle of ``conv2(scale * img, h, 'same')`` Sobel responses (zero border)."""

    def f() -> tuple[np.ndarray, np.ndarray]:
        p = img if scale == 1.0 else scale * img
        # conv2 flips the kernel; the flipped Sobels are the negatives, which
        # leaves the strength and atan(y/x) unchanged.
        sx = C.filt(p, _H3, "zero")
        sy = C.filt(p, _H1, "zero")
        # A response that is zero in exact arithmetic can come out as +-1e-11
        # (summation-order noise) for non-integer input; its sign would flip the
        # orientation between +-pi/2.  Snap such noise to 0 (-> pi/2, the exact
        # result); integer-valued inputs never have nonzero responses this small
        # (their responses are exact integers, >= 1 in magnitude when nonzero), so
        # the snap is skipped for them while the tolerance is below 1.
        tol = 64 * np.finfo(float).eps * 8 * max(abs(float(p.max())), abs(float(p.min())), 1.0)
        if tol >= 1 or not _is_integral(p):
            sx[np.abs(sx) < tol] = 0
            sy[np.abs(sy) < tol] = 0
        zero = sx == 0
        g = sx * sx
        # atan(sy / sx), pi/2 where sx = 0 (the divisor set to 1 there first)
        sx[zero] = 1
        np.divide(sy, sx, out=sx)
        a = np.arctan(sx, out=sx)
        a[zero] = np.pi / 2
        sy *= sy
        g += sy
        np.sqrt(g, out=g)
        return g, a

    return C.memo(("xydeas", scale), f, img, users=_QABF_USERS)


def _strength_ratio(gA: np.ndarray, gF: np.ndarray) -> np.ndarray:
    """``min(gA, gF) / max(gA, gF)`` (a fresh array; NaN where both are 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.minimum(gA, gF)
        r /= np.maximum(gA, gF)
    return r


def _sigmoid(x: np.ndarray, T: float, k: float, D: float) -> np.ndarray:
    """``T / (1 + exp(k (x - D)))`` in place on ``x`` (same operations as the expression)."""
    x -= D
    x *= k
    with np.errstate(over="ignore"):
        np.exp(x, out=x)
    x += 1
    return np.divide(T, x, out=x)


def _qabf_core(*args: np.ndarray, scale: float = 1.0) -> float:
    Tg, kg, Dg, Ta, ka, Da = 0.9994, -15.0, 0.5, 0.9879, -22.0, 0.8
    gF, aF = _xydeas_grad(args[-1], scale)
    num = 0.0
    den = 0.0
    for p in args[:-1]:
        gA, aA = _xydeas_grad(p, scale)
        # G = gF / gA where gA > gF, gA / gF where gA < gF, gF where equal (VIFB)
        G = _strength_ratio(gA, gF)
        eq = gA == gF
        G[eq] = gF[eq]
        A = np.subtract(aA, aF)
        np.abs(A, out=A)
        A /= np.pi / 2
        np.subtract(1, A, out=A)
        Q = _sigmoid(G, Tg, kg, Dg)
        Q *= _sigmoid(A, Ta, ka, Da)
        Q *= gA
        num += Q.sum()
        den += gA.sum()
    return float(num / den) if den > 0 else 0.0


_QABF_CIT = "C. S. Xydeas, V. Petrovic, 'Objective image fusion performance measure', Electronics Letters 36(4):308-309, 2000"


@register_metric("qabf", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="VIFB",
                 citation=_QABF_CIT + "; " + VIFB, display="Q^{AB/F}", aliases=("q_abf", "qg"))
def qabf(fused: Any, sources: Any, reference: Any = None) -> float:
    """Gradient-based fusion performance Q^{AB/F} (Xydeas & Petrovic 2000) as VIFB computes it.

    Sobel responses by ``conv2(..., 'same')`` (zero border); strength
    ``g = sqrt(sx^2 + sy^2)``, orientation ``atan(sy/sx)`` (pi/2 where sx = 0);
    ``G = min(gA, gF) / max(gA, gF)``, ``A = 1 - |aA - aF| / (pi/2)``;
    ``Q = Tg / (1 + e^{kg (G - Dg)}) * Ta / (1 + e^{ka (A - Da)})`` with Tg =
    0.9994, kg = -15, Dg = 0.5, Ta = 0.9879, ka = -22, Da = 0.8; weights = the
    source gradient strengths (L = 1): ``sum(QAF gA + QBF gB) / sum(gA + gB)``.
    VIFB quirks kept: where gA == gF the strength ratio is set to gF (not 1),
    and images are scaled by 255 twice (``255 * im2double(double(x))``), which
    makes that quirk scale-dependent.  Colour: VIFB per-channel rule; colour
    VI with grey F -> unrounded ``rgb2gray`` of the double image.  Returns 0
    when both sources have no gradient.  N sources: ``sum_k QkF gk / sum_k gk``.

    Deviation (grey fused image with a colour VI only): there the VI is a
    non-integer image, and where its horizontal Sobel response is zero in exact
    arithmetic MATLAB's ``conv2`` returns +-1e-11 rounding noise whose sign sets
    the orientation to +-pi/2 (strong-gradient pixels included), so no two
    implementations agree (Octave differs from MATLAB too).  pixfuse snaps
    responses below 64 eps * 8 * max|p| to 0 (the exact value); for integer
    inputs (every other case) results equal VIFB's to ~1e-12.

    References
    ----------
    VIFB ``metrics/metricsQabf.m``; Xydeas & Petrovic (2000).
    """
    F, S = C.prepare(fused, sources, min_sources=1)

    def single(*args: np.ndarray) -> float:
        return _qabf_core(*[C.gray_of(s, uint8=False) for s in args[:-1]], args[-1], scale=255.0)

    return C.vifb_dispatch(single, F, S, any_count=True)


@register_metric("qabf_tang", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="Tang-Evaluation",
                 citation=_QABF_CIT + "; " + TANG, display="Q^{AB/F} (Tang)")
def qabf_tang(fused: Any, sources: Any, reference: Any = None) -> float:
    """Q^{AB/F} as Tang's ``analysis_Qabf``: same algorithm and constants as :func:`qabf`
    (same gA == gF quirk) on plain 0-255 grey images (no extra x255)."""
    F, S = C.prepare(fused, sources, min_sources=1)
    F, S = C.tang_gray(F, S)
    return _qabf_core(*S, F)


# --------------------------------------------------- Petrovic / Kumar family


def _kumar_grad(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kumar's ``sobel_fn`` (kernels / 8, mirror extension without edge repeat): strength g and
    angle ``atan(gv / gh)`` (+-pi/2 where gh = 0, 0 where both are 0); memoised per image."""

    def f() -> tuple[np.ndarray, np.ndarray]:
        gv = C.filt(x, np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 8, "reflect")
        gh = C.filt(x, np.array([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]) / 8, "reflect")
        both0 = (gv == 0) & (gh == 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.divide(gv, gh)
        np.arctan(a, out=a)
        a[both0] = 0.0
        gv *= gv
        gh *= gh
        gh += gv  # gh^2 + gv^2
        return np.sqrt(gh, out=gh), a

    return C.memo(("kumar_grad",), f, x, users=_KUMAR_USERS)


def petrovic_kumar(f: np.ndarray, i1: np.ndarray, i2: np.ndarray) -> dict[str, float]:
    """Kumar's ``objective_fusion_perform_fn(f, I1, I2)``: QABF, LABF, NABF (Petrovic), NABF (Kumar).

    Speed: each image's strength and angle are memoised (shared with the published-call
    variant); the per-pixel terms are evaluated in place, in the reference's operation order.
    """
    Td, wt_min, Lg = 2.0, 0.001, 1.5
    Nrg, kg, sg, Nra, ka, sa = 0.9999, 19.0, 0.5, 0.9995, 22.0, 0.5
    gA, aA = _kumar_grad(i1)
    gB, aB = _kumar_grad(i2)
    gF, aF = _kumar_grad(f)

    def q(g: np.ndarray, a: np.ndarray) -> np.ndarray:
        # sqrt(Nrg / (1 + exp(-kg (ratio - sg))) * Nra / (1 + exp(-ka (angle term - sa))))
        r = _strength_ratio(g, gF)  # g / gF or gF / g, 0 where either is 0
        r[np.maximum(g, gF) == 0] = 0.0
        t = np.subtract(a, aF)
        np.abs(t, out=t)
        t -= np.pi / 2
        np.abs(t, out=t)
        t *= 2
        t /= np.pi
        out = _sigmoid(r, Nrg, -kg, sg)
        out *= _sigmoid(t, Nra, -ka, sa)
        return np.sqrt(out, out=out)

    def weight(x: np.ndarray, g: np.ndarray) -> np.ndarray:
        def w() -> np.ndarray:
            out = g ** Lg
            out[g < Td] = wt_min
            return out

        return C.memo(("kumar_weight",), w, x, users=_KUMAR_USERS)

    QAF = q(gA, aA)
    QBF = q(gB, aB)
    wA, wB = weight(i1, gA), weight(i2, gB)
    wAB = wA + wB
    ws = wAB.sum()
    qabf_ = (QAF * wA).sum() / ws + (QBF * wB).sum() / ws
    art = (gF > gA) & (gF > gB)
    # nabf1 = sum(art (2 - QAF - QBF) (wA + wB)) / ws
    t = np.subtract(2, QAF)
    t -= QBF
    t *= art
    t *= wAB
    nabf1 = t.sum() / ws
    # L = (1 - QAF) wA + (1 - QBF) wB; labf over ~art (gF <= gA or gF <= gB), nabf over art
    np.subtract(1, QAF, out=QAF)
    QAF *= wA
    np.subtract(1, QBF, out=QBF)
    QBF *= wB
    QAF += QBF
    np.multiply(QAF, art, out=t)
    nabf_ = t.sum() / ws
    np.logical_not(art, out=art)
    np.multiply(QAF, art, out=t)
    labf_ = t.sum() / ws
    return {"qabf": float(qabf_), "labf": float(labf_), "nabf_petrovic": float(nabf1), "nabf": float(nabf_)}


def _pk(fused: Any, sources: Any, published_call: bool = False) -> dict[str, float]:
    F, S = C.prepare(fused, sources, min_sources=2, max_sources=2)
    F, S = C.tang_gray(F, S)
    ir, vi = S
    if published_call:  # analysis_nabf(ir, vi, fused) against the signature (f, I1, I2)
        return C.memo(("pk_pub",), lambda: petrovic_kumar(ir, vi, F), F, ir, vi)
    return C.memo(("pk",), lambda: petrovic_kumar(F, ir, vi), F, ir, vi)


_KUMAR_CIT = (
    "B. K. Shreyamsha Kumar, 'Multifocus and multispectral image fusion based on pixel significance using discrete "
    "cosine harmonic wavelet transform', Signal, Image and Video Processing 7(6):1125-1143, 2013; V. Petrovic, "
    "C. Xydeas, 'Objective image fusion performance characterisation', ICCV 2005, pp. 1866-1871"
)


@register_metric("nabf", higher_is_better=False, needs="sources", tasks=ALL_TASKS,
                 convention="Tang-Evaluation (documented argument order)", citation=_KUMAR_CIT + "; " + TANG,
                 display="N^{AB/F}", aliases=("n_abf", "nabf_kumar"))
def nabf(fused: Any, sources: Any, reference: Any = None) -> float:
    """Fusion artefacts N^{AB/F}, Kumar's modified form, with the fused image as the fused image.

    Kumar's ``objective_fusion_perform_fn`` (= Tang's ``analysis_nabf(f, I1,
    I2)``) on 0-255 grey images: Sobel/8 with mirror extension; Td = 2,
    wt_min = 0.001, L = 1.5, Nrg = 0.9999, kg = 19, sigma_g = 0.5, Nra =
    0.9995, ka = 22, sigma_a = 0.5; ``N = sum(na ((1 - QAF) wA + (1 - QBF) wB))
    / sum(wA + wB)`` where ``na = 1`` where gF > gA and gF > gB.  Lower is
    better; ~0 for a plain average.  The widely published Tang call passes
    (IR, VI, F) into the (f, I1, I2) slots: see :func:`nabf_published_call`.
    """
    return _pk(fused, sources)["nabf"]


@register_metric("nabf_published_call", higher_is_better=False, needs="sources", tasks=ALL_TASKS,
                 convention="Tang-Evaluation (published call analysis_nabf(ir, vi, fused))",
                 citation=_KUMAR_CIT + "; " + TANG, display="N^{AB/F} (published call)")
def nabf_published_call(fused: Any, sources: Any, reference: Any = None) -> float:
    """N^{AB/F} exactly as the widely copied ``analysis_nabf(ir, vi, fused)`` call computes it.

    The function's signature is ``(f, I1, I2)``, so the published numbers treat
    the IR image as the fused image and the fused image as a source.  Kept only
    to reproduce published tables; prefer :func:`nabf`.
    """
    return _pk(fused, sources, published_call=True)["nabf"]


@register_metric("nabf_petrovic", higher_is_better=False, needs="sources", tasks=ALL_TASKS,
                 convention="Kumar objective_fusion_perform_fn (NABF1)", citation=_KUMAR_CIT,
                 display="N^{AB/F} (Petrovic)")
def nabf_petrovic(fused: Any, sources: Any, reference: Any = None) -> float:
    """Petrovic's original artefact measure: ``sum(na (2 - QAF - QBF)(wA + wB)) / sum(wA + wB)``
    (Kumar's NABF1, same gradients and constants as :func:`nabf`)."""
    return _pk(fused, sources)["nabf_petrovic"]


@register_metric("labf", higher_is_better=False, needs="sources", tasks=ALL_TASKS,
                 convention="Kumar objective_fusion_perform_fn", citation=_KUMAR_CIT, display="L^{AB/F}",
                 aliases=("l_abf",))
def labf(fused: Any, sources: Any, reference: Any = None) -> float:
    """Loss of information L^{AB/F} (Petrovic & Xydeas 2005, Kumar's code).

    ``L = sum(r ((1 - QAF) wA + (1 - QBF) wB)) / sum(wA + wB)`` with ``r = 1``
    where gF <= gA or gF <= gB; gradients, Q maps and weights as :func:`nabf`.
    Lower is better.
    """
    return _pk(fused, sources)["labf"]


# -------------------------------------------------------------------- Q_0


def _window_sums(x: np.ndarray, block: int) -> np.ndarray:
    """Sums over every ``block`` x ``block`` window ('valid'), contiguous.

    Exact for the integer-valued 8-bit data the metrics see (integer sums stay far
    below 2^53), so any summation order gives the same numbers: OpenCV's running box
    sum for integer-valued input (faster), the integral image otherwise.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    h, w = x.shape
    if _is_integral(x) and max(float(x.max()), -float(x.min())) <= 2.0 ** 20:
        s = cv2.boxFilter(x, cv2.CV_64F, (block, block), anchor=(0, 0), normalize=False,
                          borderType=cv2.BORDER_CONSTANT)
        return np.ascontiguousarray(s[:h - block + 1, :w - block + 1])
    c = cv2.integral(x, sdepth=cv2.CV_64F)
    return c[block:, block:] - c[:-block, block:] - c[block:, :-block] + c[:-block, :-block]


def uiqi(a: np.ndarray, b: np.ndarray, block: int = 8) -> float:
    """Wang & Bovik's universal image quality index (``img_qi.m``, sliding 8x8 window).

    ``b``'s window sums are memoised (the fused image is shared by all sources).
    """
    N = block * block

    def wsum(x: np.ndarray, key: str, *owners: np.ndarray) -> np.ndarray:
        return C.memo(("uiqi_wsum", key, block), lambda: _window_sums(x, block), *owners,
                      users=frozenset({"q0"}))

    s1, s2 = wsum(a, "x", a), wsum(b, "x", b)
    s11, s22 = wsum(a * a, "xx", a), wsum(b * b, "xx", b)
    s12 = _window_sums(a * b, block)
    prod = s1 * s2
    sq = s1 * s1
    t = s2 * s2
    sq += t
    # num = 4 (N s12 - prod) prod, den1 = N (s11 + s22) - sq, den = den1 sq
    num = s12
    num *= N
    num -= prod
    num *= 4
    num *= prod
    den1 = np.add(s11, s22, out=t)
    den1 *= N
    den1 -= sq
    den = den1 * sq
    # 1 where both windows are flat and equal; the luminance term where only the variances vanish
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.divide(num, den, out=num)
        z = den == 0
        if z.any():
            q[z] = np.where((den1[z] == 0) & (sq[z] != 0), 2 * prod[z] / sq[z], 1.0)
    return float(q.mean())


@register_metric("q0", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="paper (Wang img_qi.m)",
                 citation="Z. Wang, A. C. Bovik, 'A universal image quality index', IEEE Signal Process. Lett. "
                          "9(3):81-84, 2002", display="Q_0", aliases=("uiqi", "q_0"))
def q0(fused: Any, sources: Any, reference: Any = None) -> float:
    """Universal image quality index Q_0 (Wang & Bovik 2002), averaged over the sources.

    ``mean_k Q0(S_k, F)``, each from Wang's ``img_qi.m``: 8x8 sliding window,
    ``Q = 4 sigma_xy mu_x mu_y / ((sigma_x^2 + sigma_y^2)(mu_x^2 + mu_y^2))``
    per window (1 where both windows are flat and equal, the luminance term
    where only the variances vanish), mean over windows.  Grey 0-255 images;
    N sources.  Q0(x, x) = 1.
    """
    F, S = C.prepare(fused, sources, min_sources=1)
    F, S = C.tang_gray(F, S)
    return float(np.mean([uiqi(s, F) for s in S]))


# -------------------------------------------------------- Piella Q_W, Q_E


def _piella_qw(a: np.ndarray, b: np.ndarray, f: np.ndarray, users: frozenset[str] | None = None) -> float:
    s1, s2 = _var(a, 11, 1.5, users), _var(b, 11, 1.5, users)
    both0 = (s1 + s2) == 0
    h = both0 * 0.5
    s1 = s1 + h
    s2 = s2 + h
    m1 = ssim_map(f, a, users=users)
    m2 = ssim_map(f, b, users=users)
    cw = np.maximum(s1, s2)
    cw /= cw.sum()
    # cw * (lam m1 + (1 - lam) m2), lam = s1 / (s1 + s2), in place (same operations)
    lam = np.add(s1, s2, out=s2)
    np.divide(s1, lam, out=lam)
    t = np.subtract(1, lam, out=s1)
    t *= m2
    lam *= m1
    lam += t
    lam *= cw
    return float(lam.sum())


_QE_USERS = frozenset({"qe"})


def _prewitt_mag(x: np.ndarray) -> np.ndarray:
    def f() -> np.ndarray:
        gx = C.filt(x, np.array([[1.0, 0, -1], [1, 0, -1], [1, 0, -1]]), "zero")
        gy = C.filt(x, np.array([[1.0, 1, 1], [0, 0, 0], [-1, -1, -1]]), "zero")
        gx *= gx
        gy *= gy
        gx += gy
        return np.sqrt(gx, out=gx)

    return C.memo(("prewitt",), f, x, users=_QE_USERS)


def _mefb_gray_single(fn: Any) -> Any:
    def single(vi: np.ndarray, ir: np.ndarray, f: np.ndarray) -> float:
        # MEFB's Qw/Qy/Qc wrappers call rgb2gray on the uint8 image (rounded)
        return fn(C.gray_of(vi, uint8=True), C.gray_of(ir, uint8=True), f)

    return single


_PIELLA_CIT = "G. Piella, H. Heijmans, 'A new quality metric for image fusion', Proc. ICIP 2003, vol. 3, pp. 173-176"


@register_metric("qw", higher_is_better=True, needs="sources", tasks=ALL_TASKS,
                 convention="Liu metricPeilla (sw=2)", citation=_PIELLA_CIT + "; " + LIU, display="Q_W",
                 aliases=("q_w",))
def qw(fused: Any, sources: Any, reference: Any = None) -> float:
    """Weighted fusion quality index Q_W (Piella & Heijmans 2003), Liu's ``metricPeilla(A, B, F, 2)``.

    Local SSIM maps (Wang's ``ssim_index``: 11x11 Gaussian sigma 1.5, 'valid',
    K = (0.01, 0.03), L = 255) of (F, A) and (F, B); saliency = local variance,
    ``lambda = s_A / (s_A + s_B)`` (0.5 added to both where both vanish), window
    weights ``c = max(s_A, s_B) / sum(max(s_A, s_B))``;
    ``Q_W = sum c (lambda SSIM(F,A) + (1 - lambda) SSIM(F,B))``.  Colour:
    MEFB's wrapper rules with ``rgb2gray`` (uint8).  Note: MEFB's column
    labelled "Qw" is the edge-dependent index, see :func:`qe`.
    """
    F, S = C.prepare(fused, sources, min_sources=2, max_sources=2)
    return C.mefb_dispatch(_mefb_gray_single(_piella_qw), F, S)


@register_metric("qe", higher_is_better=True, needs="sources", tasks=ALL_TASKS,
                 convention="MEFB metricsQw (Liu metricPeilla sw=3, alpha=1)", citation=_PIELLA_CIT + "; " + LIU,
                 display="Q_E", aliases=("q_e",))
def qe(fused: Any, sources: Any, reference: Any = None) -> float:
    """Edge-dependent fusion quality index Q_E (Piella & Heijmans 2003) with alpha = 1.

    ``Q_E = Q_W(A, B, F)^(1 - alpha) * Q_W(A', B', F')^alpha`` where ' denotes
    the edge image ``sqrt(gx^2 + gy^2)`` of the Prewitt-like kernels
    ``[1 0 -1; 1 0 -1; 1 0 -1]`` and its transpose (``filter2 'same'``, zero
    border).  With Liu's alpha = 1 this is Q_W of the edge images -- exactly the
    value MEFB reports under the name "Qw" (``metricsQw`` computes case 3 with
    ``Qe = Qw^alpha``; Liu's original line ``Q * Qw^alpha`` referenced an
    undefined variable).
    """
    F, S = C.prepare(fused, sources, min_sources=2, max_sources=2)

    def core(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        return _piella_qw(_prewitt_mag(a), _prewitt_mag(b), _prewitt_mag(f), _QE_USERS)

    return C.mefb_dispatch(_mefb_gray_single(core), F, S)


# --------------------------------------------------------- Yang Q_Y, Cvejic Q_C


#: |local (co)variance| below this (grey levels^2, 0-255 domain) is rounding noise: the smallest
#: non-zero variance of 8-bit data in the 7x7 sigma-1.5 window is ~1e-3, the noise of
#: ``E[x^2] - E[x]^2`` at 255^2 is ~1e-11
_QY_FLAT = 1e-6


def _ssim_yang(a: np.ndarray, b: np.ndarray, snap: bool = False) -> tuple[np.ndarray, ...]:
    """Liu's local SSIM (7x7 Gaussian sigma 1.5, C1 = C2 = 2e-16), s_a^2, s_b^2, s_ab (shared, read-only)."""
    if snap:  # copies: the statistics are shared through the cache
        mua, mub, saa, sbb, sab = _ssim_stats(a, b, 7, 1.5)
        saa, sbb, sab = (np.where(np.abs(x) < _QY_FLAT, 0.0, x) for x in (saa, sbb, sab))
        return _ssim_formula(mua, mub, saa, sbb, sab, 2e-16, 2e-16), saa, sbb, sab

    def f() -> np.ndarray:
        return _ssim_formula(*_ssim_stats(a, b, 7, 1.5), 2e-16, 2e-16)

    with np.errstate(divide="ignore", invalid="ignore"):
        # symmetric bit for bit: Q_Y and Q_C share the (source, fused) maps
        m = C.memo(("yang_map",), f, *sorted((a, b), key=id), users=_YANG_USERS)
    return m, _var(a, 7, 1.5), _var(b, 7, 1.5), _cov(a, b, 7, 1.5)


def _mean_finite(q: np.ndarray) -> float:
    """Mean over the non-NaN entries (NaN if none), as ``mean(q(~isnan(q)))``."""
    q = q[~np.isnan(q)]
    return float(q.mean()) if q.size else float("nan")


def _qy_core(a: np.ndarray, b: np.ndarray, f: np.ndarray, snap: bool = False) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        m1, s1, s2, _ = _ssim_yang(a, b, snap)
        m2, _, _, _ = _ssim_yang(a, f, snap)
        m3, _, _, _ = _ssim_yang(b, f, snap)
        binm = m1 >= 0.75
        # (lam m2 + (1 - lam) m3) binm + max(m2, m3) ~binm, lam = s1 / (s1 + s2), in place
        lam = np.add(s1, s2)
        np.divide(s1, lam, out=lam)
        q = np.subtract(1, lam)
        q *= m3
        lam *= m2
        q += lam
        q *= binm
        np.maximum(m2, m3, out=lam)
        np.logical_not(binm, out=binm)
        lam *= binm
        q += lam
    return _mean_finite(q)


@register_metric("qy", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="MEFB (Liu metricYang)",
                 citation="C. Yang, J.-Q. Zhang, X.-R. Wang, X. Liu, 'A novel similarity based quality metric for "
                          "image fusion', Information Fusion 9(2):156-160, 2008; " + LIU,
                 display="Q_Y", aliases=("q_y",))
def qy(fused: Any, sources: Any, reference: Any = None, *, stable: bool = False) -> float:
    """Yang's SSIM-based metric Q_Y, MEFB ``metricsQy`` / Liu ``metricYang``.

    Local SSIM with a 7x7 Gaussian window (sigma 1.5, 'valid') and C1 = C2 =
    2e-16: where SSIM(A, B) >= 0.75, ``lambda SSIM(A,F) + (1 - lambda)
    SSIM(B,F)`` with ``lambda = s_A^2 / (s_A^2 + s_B^2)``; elsewhere
    ``max(SSIM(A,F), SSIM(B,F))``; mean over the non-NaN windows (NaN when
    every window is 0/0, e.g. constant sources).

    **Flat regions (default, as the reference).**  Liu's C = 2e-16 is far below
    the rounding noise of the local variances ``E[x^2] - E[x]^2`` (~1e-11 at
    grey level 255).  In a flat window -- typically a saturated region -- the
    variances and the covariance are 0 in exact arithmetic, so the structure
    term and lambda become ratios of rounding noise: arbitrary values (lambda
    even outside [0, 1]) that depend on the filter implementation, and they
    count in the mean like any other window.  The default reproduces the
    reference's arithmetic (agreement with Octave: 4e-7 relative on real images);
    on images with large flat areas the score is not reproducible across
    implementations to better than those windows' share.

    Parameters
    ----------
    stable : bool, default False
        Snap local (co)variances below 1e-6 grey levels^2 to exactly 0 (the
        smallest real variance of 8-bit data in this window is ~1e-3): a flat
        window then has structure term C/C = 1, and where both sources are flat
        lambda is 0/0 and the window is left out, as the reference leaves out
        its NaN windows.  Pass ``options={"stable": True}`` to
        :func:`pixfuse.evaluate`.  Identical to the default wherever no window
        is flat.

    References
    ----------
    C. Yang et al., Information Fusion 9(2):156-160, 2008; MEFB
    ``metrics/metricsQy.m``; imageFusionMetrics ``metricYang.m``.
    """
    F, S = C.prepare(fused, sources, min_sources=2, max_sources=2)
    core = (lambda a, b, f: _qy_core(a, b, f, True)) if stable else _qy_core
    return C.mefb_dispatch(_mefb_gray_single(core), F, S)


def _qc_core(a: np.ndarray, b: np.ndarray, f: np.ndarray, snap: bool = False) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        m2, _, _, sxf = _ssim_yang(a, f, snap)
        m3, _, _, syf = _ssim_yang(b, f, snap)
        sim = np.add(sxf, syf)
        np.divide(sxf, sim, out=sim)
        # sim m2 + (1 - sim) m3, in place
        q = np.subtract(1, sim)
        q *= m3
        t = np.multiply(sim, m2)
        q += t
    q[sim < 0] = 0
    q[sim > 1] = 1
    return _mean_finite(q)


@register_metric("qc", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="MEFB (Liu metricCvejic)",
                 citation="N. Cvejic, A. Loza, D. Bull, N. Canagarajah, 'A similarity metric for assessment of image "
                          "fusion algorithms', Int. J. Signal Process. 2(3):178-182, 2005; " + LIU,
                 display="Q_C", aliases=("q_c",))
def qc(fused: Any, sources: Any, reference: Any = None, *, stable: bool = False) -> float:
    """Cvejic's metric Q_C, MEFB ``metricsQc`` / Liu ``metricCvejic``.

    ``sim = s_AF / (s_AF + s_BF)`` (local covariances, 7x7 Gaussian sigma 1.5,
    'valid'); ``Q = sim SSIM(A,F) + (1 - sim) SSIM(B,F)`` with SSIM as in
    :func:`qy`, set to 0 where sim < 0 and 1 where sim > 1; mean over non-NaN.
    NaN if no window is defined (constant images).

    **Flat source windows (default, as the reference).**  Where one source is
    flat over a 7x7 window (a saturated sky, say) its covariance with F is 0 in
    exact arithmetic, and the reference computes it as +-4e-12 rounding noise:
    ``sim`` is then +-1e-14, and its *sign* decides between ``q = 0`` (sim < 0)
    and ``q ~ SSIM(B,F)``.  That sign depends on the filter implementation, so
    such windows flip between implementations (MATLAB, Octave, pixfuse) and the
    score agrees with the reference only to their share: 1.2e-4 relative on the
    MSRS crop of the tests, 1.6e-3 on a RoadScene crop (70 of 55,264 windows
    flipped against Octave's run; the per-window covariances agree to 8e-11).

    Parameters
    ----------
    stable : bool, default False
        Snap local (co)variances below 1e-6 grey levels^2 to exactly 0 (as
        :func:`qy`'s option): a window where one source is flat then gets
        ``sim = 0`` or 1, the exact-arithmetic value, whatever the rounding.
        Identical to the default wherever no window is flat.  Pass
        ``options={"stable": True}`` to :func:`pixfuse.evaluate`.
    """
    F, S = C.prepare(fused, sources, min_sources=2, max_sources=2)
    core = (lambda a, b, f: _qc_core(a, b, f, True)) if stable else _qc_core
    return C.mefb_dispatch(_mefb_gray_single(core), F, S)
