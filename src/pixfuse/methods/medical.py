"""Medical image fusion: parameter-adaptive PCNN in the NSST domain (NSST-PAPCNN)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from ..ops.directional import frame_inverse, nsst_forward
from ..registry import Param, register_method
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
