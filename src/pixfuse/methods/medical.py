"""Medical image fusion: parameter-adaptive PCNN in the NSST domain (NSST-PAPCNN) and Laplacian
re-decomposition (LRD)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from ..errors import ParameterError
from ..ops.directional import frame_inverse, nsst_forward
from ..ops.filters import box_mean
from ..ops.gradient_domain import gradient_domain_enhance
from ..ops.pyramid import laplacian_pyramid, reconstruct_laplacian
from ..registry import Param, register_method
from .pyramid import pyramid_depth
from .wavelet import parse_ints

_W3 = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]], np.float32) / 16.0
_PCNN_W = np.array([[0.5, 1.0, 0.5], [1.0, 0.0, 1.0], [0.5, 1.0, 0.5]], np.float32)


def weighted_local_energy(s: np.ndarray) -> np.ndarray:
    """WLE: ``sum W(m, n) S(i+m, j+n)**2`` over a 3x3 window, ``W = [1 2 1; 2 4 2; 1 2 1] / 16``."""
    return cv2.filter2D(s * s, cv2.CV_32F, _W3, borderType=cv2.BORDER_REFLECT)


def wseml(s: np.ndarray) -> np.ndarray:
    """Weighted sum of eight-neighbourhood modified Laplacian (Yin et al. 2019, eq. 12-13).

    ``EML = |2S - S_up - S_down| + |2S - S_left - S_right|
    + |2S - S_ul - S_dr| / sqrt(2) + |2S - S_ur - S_dl| / sqrt(2)``, then the
    3x3 weighted sum with ``W``.
    """
    p = np.pad(s, 1, mode="symmetric")
    c = 2.0 * p[1:-1, 1:-1]
    eml = (
        np.abs(c - p[:-2, 1:-1] - p[2:, 1:-1])
        + np.abs(c - p[1:-1, :-2] - p[1:-1, 2:])
        + (np.abs(c - p[:-2, :-2] - p[2:, 2:]) + np.abs(c - p[:-2, 2:] - p[2:, :-2])) / np.sqrt(2.0)
    ).astype(np.float32)
    return cv2.filter2D(eml, cv2.CV_32F, _W3, borderType=cv2.BORDER_REFLECT)


def otsu_threshold(x: np.ndarray) -> float:
    """Otsu threshold of values in [0, 1] on 256 levels, returned in [0, 1] (as MATLAB ``graythresh``).

    Values above 1 count as 1 (``im2uint8`` saturation).
    """
    q = np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.intp).ravel()
    hist = np.bincount(q, minlength=256).astype(np.float64)
    p = hist / max(hist.sum(), 1.0)
    omega = np.cumsum(p)
    mu = np.cumsum(p * np.arange(256))
    mu_t = mu[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        sb = (mu_t * omega - mu) ** 2 / (omega * (1.0 - omega))
    sb = np.nan_to_num(sb, nan=0.0, posinf=0.0)
    if sb.max() <= 0:
        return 0.0
    idx = np.flatnonzero(sb == sb.max()).mean()
    return float(idx / 255.0)


def papcnn_parameters(s: np.ndarray) -> tuple[float, float, float, float]:
    """Adaptive PA-PCNN parameters ``(alpha_f, lambda, V_E, alpha_e)`` of a stimulus ``S = |coef|``.

    ``alpha_f = log10(1 / sigma(S))``, ``lambda = (S_max / S' - 1) / 6``,
    ``V_E = exp(-alpha_f) + 1 + 6 lambda``, ``alpha_e = ln(V_E / (S' m))`` with
    ``m = (1 - exp(-3 alpha_f)) / (1 - exp(-alpha_f)) + 6 lambda exp(-alpha_f)``
    and ``S'`` the Otsu threshold (Yin et al. 2019, eq. 15-18; ``log10`` as in
    the authors' code).
    """
    sigma = max(float(s.std()), 1e-12)
    smax = float(s.max())
    sp = max(otsu_threshold(s), 1.0 / 255.0)
    alpha_f = float(np.log10(1.0 / sigma))
    if abs(alpha_f) < 1e-6:
        alpha_f = 1e-6
    lam = (smax / sp - 1.0) / 6.0
    ve = float(np.exp(-alpha_f)) + 1.0 + 6.0 * lam
    m = (1.0 - np.exp(-3.0 * alpha_f)) / (1.0 - np.exp(-alpha_f)) + 6.0 * lam * np.exp(-alpha_f)
    arg = ve / (sp * m)
    alpha_e = float(np.log(arg)) if arg > 0 else 0.0
    return alpha_f, lam, ve, alpha_e


#: Pixels (bands x rows x columns) per chunk of the PA-PCNN: a chunk's state
#: (about 30 bytes a pixel) stays in the CPU cache through all iterations
#: instead of the whole band stack streaming from memory at every iteration.
PCNN_CHUNK_PIXELS = 1 << 16
#: Threads running chunks at once (chunks are independent; the counts do not
#: depend on the number of threads).
PCNN_THREADS = max(1, min(2, os.cpu_count() or 1))


def papcnn_firing_times(stimuli: np.ndarray, params: np.ndarray, iterations: int) -> np.ndarray:
    """Run the PA-PCNN on a stack of stimuli ``(C, H, W)`` with per-slice parameters ``(C, 4)``.

    ``U[n] = exp(-alpha_f) U[n-1] + S (1 + lambda sum W Y[n-1])``,
    ``Y[n] = U[n] > E[n-1]``, ``E[n] = exp(-alpha_e) E[n-1] + V_E Y[n]``;
    returns the firing counts ``T`` (E starts at 1, U and Y at 0) as integers.

    Slices are independent, so they run in chunks of whole slices (about
    :data:`PCNN_CHUNK_PIXELS` pixels, at least one slice) through all
    iterations, on up to :data:`PCNN_THREADS` threads; every chunk performs
    the same float32 operations in the same order, so the counts do not
    depend on the chunking or the threads.
    """
    c, h, w = stimuli.shape
    af = np.exp(-params[:, 0]).astype(np.float32)
    lam = params[:, 1].astype(np.float32)
    ve = params[:, 2].astype(np.float32)
    ae = np.exp(-params[:, 3]).astype(np.float32)
    out = np.empty((c, h, w), np.uint8 if iterations < 256 else np.uint16)
    per = int(max(1, min(c, PCNN_CHUNK_PIXELS // max(h * w, 1))))

    def run(s: int) -> None:
        sl = slice(s, min(c, s + per))
        _pcnn_chunk(stimuli[sl], af[sl], lam[sl], ve[sl], ae[sl], iterations, out[sl])

    starts = range(0, c, per)
    if PCNN_THREADS > 1 and len(starts) > 1:
        with ThreadPoolExecutor(PCNN_THREADS) as pool:
            list(pool.map(run, starts))
    else:
        for s in starts:
            run(s)
    return out


def _pcnn_chunk(stim: np.ndarray, af: np.ndarray, lam: np.ndarray, ve: np.ndarray, ae: np.ndarray,
                iterations: int, t: np.ndarray) -> None:
    """PA-PCNN of ``n`` slices ``(n, H, W)``; firing counts accumulated into ``t`` (zeroed here)."""
    f = np.ascontiguousarray(stim, dtype=np.float32)
    af, lam, ve, ae = (v.reshape(-1, 1, 1) for v in (af, lam, ve, ae))
    flam = f * lam
    u = np.zeros_like(f)
    e = np.ones_like(f)
    y = np.zeros_like(f)
    k = np.empty_like(f)
    tmp = np.empty_like(f)
    yb = np.empty(f.shape, bool)
    t[...] = 0
    for _ in range(iterations):
        for j in range(f.shape[0]):  # 3x3 linking sum (exact: weights 0.5 / 1 on 0 / 1 pulses)
            cv2.filter2D(y[j], cv2.CV_32F, _PCNN_W, dst=k[j], borderType=cv2.BORDER_CONSTANT)
        u *= af
        u += f
        k *= flam
        u += k
        np.greater(u, e, out=yb)
        np.copyto(y, yb)
        e *= ae
        np.multiply(y, ve, out=tmp)
        e += tmp
        np.add(t, yb, out=t)


@register_method(
    "nsst-papcnn",
    tasks=("medical", "ivif"),
    n_inputs=(2, 2),
    color="luminance",
    params={
        "dcomp": Param("3,3,4,4", "shear levels per scale, coarse to fine (2**d directions)", str),
        "iterations": Param(110, "PA-PCNN iterations", int, 1, 1000),
    },
    citation=(
        "M. Yin, X. Liu, Y. Liu and X. Chen, 'Medical image fusion with parameter-adaptive pulse coupled "
        "neural network in nonsubsampled shearlet transform domain', IEEE Trans. Instrumentation and "
        "Measurement 68(1):49-64, 2019."
    ),
    aliases=("papcnn", "pa-pcnn"),
)
def nsst_papcnn(images: Sequence[np.ndarray], *, dcomp: str = "3,3,4,4", iterations: int = 110) -> np.ndarray:
    """NSST-PAPCNN: PA-PCNN firing times fuse the shearlet bands, WLE x WSEML fuses the low-pass.

    Both sources are decomposed by the non-subsampled shearlet transform
    (4 scales of 8, 8, 16, 16 directions).  The low-pass band is fused by
    choosing, per pixel, the source with the larger product of weighted
    local energy (WLE) and weighted sum of eight-neighbourhood modified
    Laplacian (WSEML).  Each directional band is fused by a parameter-adaptive
    PCNN fed with the coefficient magnitudes, whose five free parameters are
    computed from the band itself (standard deviation, maximum, Otsu
    threshold); the coefficient whose neuron fired more often over
    ``iterations`` steps wins (source 0 on ties).

    Parameters
    ----------
    images : two HxW float32 arrays in [0, 1] (anatomical, functional luminance)
    dcomp : str
        Shear levels per scale, coarse to fine ("3,3,4,4", as the authors' code).
    iterations : int
        PCNN iterations (110).

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    M. Yin, X. Liu, Y. Liu and X. Chen, "Medical image fusion with
    parameter-adaptive pulse coupled neural network in nonsubsampled shearlet
    transform domain", IEEE Trans. Instrum. Meas. 68(1):49-64, 2019.
    """
    dc = parse_ints(dcomp, "dcomp")
    a, b = (nsst_forward(im, dc) for im in images)
    top, left, h, w = a.crop
    inner = (slice(None), slice(top, top + h), slice(left, left + w))
    # low-pass: WLE x WSEML, choose max (source 0 on ties)
    la, lb = a.lowpass, b.lowpass
    act_a = weighted_local_energy(la) * wseml(la)
    act_b = weighted_local_energy(lb) * wseml(lb)
    a.lowpass = np.where(act_a >= act_b, la, lb).astype(np.float32)
    # high-pass: PA-PCNN on the image area of every band of every scale at once
    sizes = [band.shape[0] for band in a.bands]
    coef_a = np.concatenate([band[inner] for band in a.bands])
    coef_b = np.concatenate([band[inner] for band in b.bands])
    stim = np.abs(np.concatenate([coef_a, coef_b]))
    params = np.array([papcnn_parameters(s) for s in stim], np.float64)
    t = papcnn_firing_times(stim, params, iterations)
    n = coef_a.shape[0]
    choose_a = t[:n] >= t[n:]
    fused_inner = np.where(choose_a, coef_a, coef_b)
    off = 0
    for s, sz in enumerate(sizes):
        # outside the image area (padding) keep the larger magnitude
        full = np.where(np.abs(a.bands[s]) >= np.abs(b.bands[s]), a.bands[s], b.bands[s])
        full[inner] = fused_inner[off : off + sz]
        a.bands[s] = full
        off += sz
    return frame_inverse(a)


# ----------------------------------------------------------------------------
# LRD: Laplacian re-decomposition (Li et al., IEEE TIM 2020)

_TINY = np.float32(1e-12)


def lrd_fuse_band(a: np.ndarray, b: np.ndarray, radius: int, alpha: float) -> np.ndarray:
    """Fuse one pair of Laplacian band-pass levels by decision-graph re-decomposition.

    * decision-graph decomposition: local energies ``E_X = mean_w(X**2)``, the
      match ``M = 2 mean_w(A B) / (E_A + E_B)`` in [-1, 1] and the global
      decision graph ``D = E_A >= E_B`` over the whole level split the band
      into an overlapping domain ``OD = M >= alpha`` (both sources carry the
      same structure: redundant information) and a non-overlapping domain
      ``NOD`` (the rest: complementary information);
    * OD rule: local-energy weighted mean ``(E_A A + E_B B) / (E_A + E_B)``;
    * NOD rule: the coefficient the decision graph ``D`` selects;
    * inverse re-decomposition: ``H = m F_OD + (1 - m) F_NOD`` with ``m`` the
      local mean of the binary OD map (same window), so the two domains join
      without seams.

    Identical bands give the band back exactly (``M = 1``, equal weights).
    """
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    ea = box_mean(a * a, radius)
    eb = box_mean(b * b, radius)
    den = ea + eb
    live = den > _TINY
    safe = np.where(live, den, np.float32(1.0))
    match = np.where(live, 2.0 * box_mean(a * b, radius) / safe, np.float32(1.0))
    od = (match >= np.float32(alpha)).astype(np.float32)
    wa = np.where(live, ea / safe, np.float32(0.5))
    f_od = wa * a + (np.float32(1.0) - wa) * b
    f_nod = np.where(ea >= eb, a, b)
    m = box_mean(od, radius)
    return (m * f_od + (np.float32(1.0) - m) * f_nod).astype(np.float32)


def lrd_fuse_lowpass(a: np.ndarray, b: np.ndarray, radius: int, rule: str) -> np.ndarray:
    """Low-frequency sub-band rule of :func:`lrd`: ``energy`` (larger local mean of the squared values,
    source 0 on ties), ``max`` (larger value) or ``average``."""
    if rule == "average":
        return (np.float32(0.5) * (a + b)).astype(np.float32)
    if rule == "max":
        return np.maximum(a, b).astype(np.float32)
    return np.where(box_mean(a * a, radius) >= box_mean(b * b, radius), a, b).astype(np.float32)


@register_method(
    "lrd",
    tasks=("medical",),
    n_inputs=(2, 2),
    color="luminance",
    params={
        "levels": Param(4, "Laplacian band-pass levels (limited by the image size)", int, 1, 10),
        "gain": Param(1.5, "gradient-domain enhancement: gradient gain (1 = no enhancement)", float, 1.0, 5.0),
        "fidelity": Param(0.1, "gradient-domain enhancement: intensity fidelity weight (screening)", float, 1e-4, 100.0),
        "window": Param(3, "local window (odd) of the local energies, match and local mean", int, 3, 31),
        "alpha": Param(0.75, "match threshold of the overlapping (redundant) domain", float, -1.0, 1.0),
        "lowpass": Param("energy", "low-frequency rule", str, choices=("energy", "max", "average")),
    },
    citation=(
        "X. Li, X. Guo, P. Han, X. Wang, H. Li and T. Luo, 'Laplacian redecomposition for multimodal medical "
        "image fusion', IEEE Trans. Instrumentation and Measurement 69(9):6880-6890, 2020."
    ),
    aliases=("laplacian-redecomposition",),
)
def lrd(
    images: Sequence[np.ndarray],
    *,
    levels: int = 4,
    gain: float = 1.5,
    fidelity: float = 0.1,
    window: int = 3,
    alpha: float = 0.75,
    lowpass: str = "energy",
) -> np.ndarray:
    """LRD: gradient-domain enhancement, Laplacian decision-graph re-decomposition, inverse Laplacian.

    Implements the structure of Li et al. (2020) as documented in the
    authors' abstract and repository (``WHU-lab/Medical-Image-Fusion``; the
    paper text and the authors' MATLAB code -- P-code -- were not readable):

    1. *image enhancement* (called GDIE, gradient-domain image enhancement):
       each source is enhanced in the gradient domain --
       ``argmin_E fidelity ||E - I||^2 + ||grad E - gain grad I||^2``, solved
       in closed form by DCT (:func:`pixfuse.ops.gradient_domain.gradient_domain_enhance`);
    2. *Laplacian decomposition* of the enhanced images (Burt & Adelson,
       ``levels`` band-pass levels + the low-frequency sub-band);
    3. *Laplacian decision-graph decomposition*: at each band-pass level the
       local match of the two sources splits the coefficients into an
       *overlapping domain* (OD, redundant information: match >= ``alpha``)
       and a *non-overlapping domain* (NOD, complementary information), with
       the *global decision graph* ``E_A >= E_B`` of local energies;
    4. *fusion rules*: OD by the local-energy weighted mean, NOD by the
       decision graph (see :func:`lrd_fuse_band`);
    5. *inverse re-decomposition*: the two fused domains are recombined with
       the local mean of the OD map as weight;
    6. the low-frequency sub-band is fused by ``lowpass`` and the *inverse
       Laplacian transform* gives the result (clipped to [0, 1] by the
       colour policy).

    Not stated in the sources available; chosen here (each is a parameter):
    the enhancement formula (screened-Poisson gradient gain, ``gain`` 1.5,
    ``fidelity`` 0.1), the number of levels (4), how OD / NOD are defined
    (Burt & Kolczynski's local match measure, threshold ``alpha`` 0.75), the
    OD rule (energy-weighted mean), the NOD rule (decision-graph selection),
    the local window (3x3), the use of the local mean in the inverse
    re-decomposition (smoothing of the OD map) and the low-frequency rule
    (larger local energy).  PET / SPECT colour: the luminance is fused and
    the functional image's chroma kept (pixfuse colour policy); how the
    authors' code treats colour is not documented.

    With ``gain = 1`` identical sources give the source back; with ``gain >
    1`` they give its gradient-domain enhancement.

    Parameters
    ----------
    images : two HxW float32 arrays in [0, 1] (anatomical, functional luminance)
    levels : int
        Laplacian band-pass levels (4; limited by the image size).
    gain : float
        Gradient gain of the enhancement (1.5; 1 disables it).
    fidelity : float
        Intensity fidelity weight of the enhancement (0.1: detail finer than
        about 20 pixels is boosted by ``gain``, the mean is kept).
    window : int
        Odd side of the local window of the energies, match and local mean (3).
    alpha : float
        Match threshold of the overlapping domain (0.75).
    lowpass : str
        Low-frequency rule: "energy" (default), "max" or "average".

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    X. Li, X. Guo, P. Han, X. Wang, H. Li and T. Luo, "Laplacian
    redecomposition for multimodal medical image fusion", IEEE Trans.
    Instrum. Meas. 69(9):6880-6890, 2020.
    P. J. Burt and R. J. Kolczynski, "Enhanced image capture through fusion",
    Proc. ICCV 1993, pp. 173-182 (local match measure).
    """
    if window % 2 == 0:
        raise ParameterError(f"lrd: window must be odd, got {window}")
    r = window // 2
    n_lev = pyramid_depth(images[0].shape, levels)
    pyrs = [laplacian_pyramid(gradient_domain_enhance(im, gain, fidelity), n_lev) for im in images]
    pa, pb = pyrs
    fused = [lrd_fuse_band(x, y, r, alpha) for x, y in zip(pa[:-1], pb[:-1])]
    fused.append(lrd_fuse_lowpass(pa[-1], pb[-1], r, lowpass))
    return reconstruct_laplacian(fused)
