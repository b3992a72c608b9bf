"""Statistical fusion metrics: SD, SF, AG, EI, PSNR, MSE, RMSE, CC, SCD.

All values are computed on the 0-255 (8-bit) domain the reference MATLAB
scripts read from disk (see :func:`pixfuse.metrics._common.to_domain`).
Source order in pixfuse is (IR, VIS) for IVIF; each metric maps it to the
argument order of the reference it reproduces.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..registry import register_metric
from . import _common as C

ALL_TASKS = ("ivif", "medical", "multi_focus", "multi_exposure", "general")

VIFB = (
    "X. Zhang, P. Ye, G. Xiao, 'VIFB: A Visible and Infrared Image Fusion Benchmark', "
    "CVPR Workshops 2020, pp. 104-105 (code: github.com/xingchenzhang/VIFB)"
)
TANG = (
    "L. Tang et al., Evaluation-for-Image-Fusion MATLAB scripts (github.com/Linfeng-Tang/Evaluation-for-Image-Fusion), "
    "as used in SeAFusion (Inf. Fusion 82, 2022) and PIAFusion (Inf. Fusion 83-84, 2022)"
)


def _fused_only(fused: Any) -> np.ndarray:
    return C.to_domain(fused, "fused image")


# ----------------------------------------------------------------------- SD


@register_metric("sd", higher_is_better=True, needs="fused", tasks=ALL_TASKS, convention="VIFB",
                 citation="Y.-J. Rao, Meas. Sci. Technol. 8(4):355, 1997; " + VIFB,
                 display="SD", aliases=("std", "variance"))
def sd(fused: Any, sources: Any = None, reference: Any = None) -> float:
    """Standard deviation of the fused image (VIFB ``metricsVariance``).

    Formula: ``sqrt(sum((F - mean(F))^2) / (M N))`` (population SD) on 0-255
    grey levels; an RGB fused image gives the mean of the three channel SDs.
    VIFB calls it "Variance" but computes the standard deviation; Tang's
    ``SD_evaluation`` computes the same number on a grey image.

    Parameters
    ----------
    fused : HxW or HxWx3 array (float in [0, 1] or uint8).
    sources, reference : unused.

    Returns
    -------
    float, grey levels (0 for a constant image).

    References
    ----------
    VIFB ``metrics/metricsVariance.m``; Y.-J. Rao (1997) as cited by VIFB.
    """
    F = _fused_only(fused)
    chans = [F] if F.ndim == 2 else [F[:, :, k] for k in range(F.shape[2])]
    return float(np.mean([np.sqrt(((c - c.mean()) ** 2).sum() / c.size) for c in chans]))


# ----------------------------------------------------------------------- SF


@register_metric("sf", higher_is_better=True, needs="fused", tasks=ALL_TASKS, convention="VIFB",
                 citation="A. M. Eskicioglu, P. S. Fisher, IEEE Trans. Commun. 43(12):2959-2965, 1995; " + VIFB,
                 display="SF", aliases=("spatial_frequency",))
def sf(fused: Any, sources: Any = None, reference: Any = None) -> float:
    """Spatial frequency (VIFB ``metricsSpatial_frequency``).

    ``RF = sum((F(i,j) - F(i,j-1))^2) / (M N)``, ``CF = sum((F(i,j) - F(i-1,j))^2) / (M N)``,
    ``SF = sqrt(RF + CF)`` on 0-255 grey levels.  Both sums are divided by M*N
    (not by the number of differences -- see :func:`sf_tang`).  VIFB quirk kept:
    an RGB image is read by ``[m, n] = size(F)`` as one M x 3N matrix (the three
    channels side by side), so the value includes the two seams between channels.

    Returns
    -------
    float, grey levels.

    References
    ----------
    VIFB ``metrics/metricsSpatial_frequency.m``; Eskicioglu & Fisher (1995).
    """
    F = _fused_only(fused)
    if F.ndim == 3:  # MATLAB column-major view of an m x n x 3 array as m x 3n
        F = np.concatenate([F[:, :, k] for k in range(F.shape[2])], axis=1)
    mn = F.size
    rf = (np.diff(F, axis=1) ** 2).sum() / mn
    cf = (np.diff(F, axis=0) ** 2).sum() / mn
    return float(np.sqrt(rf + cf))


@register_metric("sf_tang", higher_is_better=True, needs="fused", tasks=ALL_TASKS, convention="Tang-Evaluation",
                 citation=TANG, display="SF (Tang)")
def sf_tang(fused: Any, sources: Any = None, reference: Any = None) -> float:
    """Spatial frequency as Tang's ``SF_evaluation``: means over the differences.

    ``SF = sqrt(mean(diff(F,1,1)^2) + mean(diff(F,1,2)^2))`` on the 0-255 grey
    image (colour -> ``rgb2gray`` of the uint8 image).  Differs from :func:`sf`
    by the normalisation ((M-1)N and M(N-1) instead of MN).

    References
    ----------
    Evaluation-for-Image-Fusion ``SF_evaluation.m``.
    """
    F = C.gray_of(_fused_only(fused), uint8=True)
    return float(np.sqrt((np.diff(F, axis=0) ** 2).mean() + (np.diff(F, axis=1) ** 2).mean()))


# ----------------------------------------------------------------------- AG


@register_metric("ag", higher_is_better=True, needs="fused", tasks=ALL_TASKS, convention="VIFB",
                 citation="G. Cui et al., Optics Communications 341:199-209, 2015; " + VIFB,
                 display="AG", aliases=("avg_gradient", "average_gradient"))
def ag(fused: Any, sources: Any = None, reference: Any = None) -> float:
    """Average gradient (VIFB ``metricsAvg_gradient``; Tang's ``AG_evaluation`` is identical).

    MATLAB ``gradient`` (central differences inside, one-sided at the border):
    ``AG = sum(sqrt((Gx^2 + Gy^2) / 2)) / ((M-1)(N-1))`` with the sum over all
    M*N pixels; mean over the channels of an RGB image.

    References
    ----------
    VIFB ``metrics/metricsAvg_gradient.m``; Cui et al. (2015).
    """
    F = _fused_only(fused)
    chans = [F] if F.ndim == 2 else [F[:, :, k] for k in range(F.shape[2])]
    r, c = F.shape[:2]
    vals = []
    for band in chans:
        gy, gx = np.gradient(band)
        vals.append(np.sqrt((gx * gx + gy * gy) / 2).sum() / ((r - 1) * (c - 1)))
    return float(np.mean(vals))


# ----------------------------------------------------------------------- EI


@register_metric("ei", higher_is_better=True, needs="fused", tasks=ALL_TASKS, convention="VIFB",
                 citation="B. Rajalingam, R. Priya, Int. J. Eng. Sci. Invention, 2018; " + VIFB,
                 display="EI", aliases=("edge_intensity",))
def ei(fused: Any, sources: Any = None, reference: Any = None) -> float:
    """Edge intensity (VIFB ``metricsEdge_intensity``).

    Sobel kernel ``fspecial('sobel')`` and its transpose applied with
    ``imfilter(..., 'replicate')`` (correlation, replicated border); mean of
    ``sqrt(gx^2 + gy^2)`` over all pixels and channels.

    References
    ----------
    VIFB ``metrics/metricsEdge_intensity.m``.
    """
    F = _fused_only(fused)
    w = np.array([[1.0, 2, 1], [0, 0, 0], [-1, -2, -1]])
    chans = [F] if F.ndim == 2 else [F[:, :, k] for k in range(F.shape[2])]
    tot = 0.0
    for band in chans:
        gx = C.filt(band, w, "replicate")
        gy = C.filt(band, w.T, "replicate")
        tot += np.sqrt(gx * gx + gy * gy).sum()
    return float(tot / F.size)


# --------------------------------------------------------------- PSNR, RMSE


def _vifb_mse(a: np.ndarray, b: np.ndarray) -> float:
    # VIFB helper: sqrt(sum((a-b)^2)) / (m n)  -- not an MSE
    d = a - b
    return float(np.sqrt((d * d).sum()) / a.size)


def _vifb_err(F: np.ndarray, S: list[np.ndarray], to_psnr: bool = False) -> float:
    def single(*args: np.ndarray) -> float:
        f = args[-1]
        # rgb2gray of a double image: unrounded
        e = float(np.mean([_vifb_mse(C.gray_of(s, uint8=False), f) for s in args[:-1]]))
        if not to_psnr:
            return e
        return float("inf") if e == 0 else float(20 * np.log10(255.0 / np.sqrt(e)))

    # per-channel values (RGB fused image) are averaged after the PSNR, as VIFB does
    return C.vifb_dispatch(single, F, S, any_count=True)


@register_metric("psnr", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="VIFB",
                 citation="P. Jagalingam, A. V. Hegde, Aquatic Procedia 4:133-142, 2015; " + VIFB,
                 display="PSNR")
def psnr(fused: Any, sources: Any, reference: Any = None) -> float:
    """PSNR as VIFB computes it (``metricsPsnr``), in dB.

    ``e(X, F) = sqrt(sum((X - F)^2)) / (M N)`` (VIFB's helper named ``mse``,
    which is *not* a mean squared error); ``PSNR = 20 log10(255 / sqrt((e(VI,F)
    + e(IR,F)) / 2))``.  Values are typically 55-70 dB and are not comparable
    with a textbook PSNR (see :func:`psnr_standard`, :func:`psnr_tang`).
    Colour: VIFB's per-channel rule; a colour VI with a grey fused image goes
    through ``rgb2gray`` of a double image (unrounded).

    Returns
    -------
    float dB; ``inf`` when the fused image equals both sources.

    References
    ----------
    VIFB ``metrics/metricsPsnr.m``.
    """
    F, S = C.prepare(fused, sources, min_sources=1)
    return _vifb_err(F, S, to_psnr=True)


@register_metric("rmse", higher_is_better=False, needs="sources", tasks=ALL_TASKS, convention="VIFB",
                 citation="P. Jagalingam, A. V. Hegde, Aquatic Procedia 4:133-142, 2015; " + VIFB,
                 display="RMSE")
def rmse(fused: Any, sources: Any, reference: Any = None) -> float:
    """RMSE as VIFB computes it (``metricsRmse``): ``(e(VI,F) + e(IR,F)) / 2``.

    ``e(X, F) = sqrt(sum((X - F)^2)) / (M N)`` on 0-255 grey levels -- VIFB's
    helper, i.e. the root of the *sum* of squares divided by the pixel count
    (so values are ~0.01-0.1, far below a textbook RMSE).  Lower is better.

    References
    ----------
    VIFB ``metrics/metricsRmse.m``.
    """
    F, S = C.prepare(fused, sources, min_sources=1)
    return _vifb_err(F, S)


def _tang_mse(F: np.ndarray, S: list[np.ndarray]) -> float:
    # MSE on the [0, 1] scale, averaged over the sources
    return float(np.mean([(((F - s) / 255.0) ** 2).mean() for s in S]))


@register_metric("mse", higher_is_better=False, needs="sources", tasks=ALL_TASKS, convention="Tang-Evaluation",
                 citation=TANG, display="MSE")
def mse(fused: Any, sources: Any, reference: Any = None) -> float:
    """Mean squared error between the fused image and the sources (Tang's ``MSE_evaluation``).

    ``MSE = mean_k mean((F - S_k)^2)`` with images scaled to [0, 1] (Tang
    divides the 0-255 doubles by 255); two sources give ``0.5 MSE(IR,F) +
    0.5 MSE(VI,F)``.  Colour images -> ``rgb2gray`` (uint8).  Works for N sources.

    References
    ----------
    Evaluation-for-Image-Fusion ``MSE_evaluation.m``.
    """
    F, S = C.prepare(fused, sources, min_sources=1)
    F, S = C.tang_gray(F, S)
    return _tang_mse(F, S)


@register_metric("psnr_tang", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="Tang-Evaluation",
                 citation=TANG, display="PSNR (Tang)")
def psnr_tang(fused: Any, sources: Any, reference: Any = None) -> float:
    """PSNR as Tang's ``PSNR_evaluation``: ``20 log10(255 / sqrt(MSE))`` with MSE on [0, 1].

    The MSE is :func:`mse` (on the [0, 1] scale) but the peak is 255, so the
    value is 20 log10(255) = 48.13 dB higher than a consistent PSNR
    (:func:`psnr_standard`).  ``inf`` when the MSE is 0.

    References
    ----------
    Evaluation-for-Image-Fusion ``PSNR_evaluation.m``.
    """
    F, S = C.prepare(fused, sources, min_sources=1)
    F, S = C.tang_gray(F, S)
    m = _tang_mse(F, S)
    return float("inf") if m == 0 else float(20 * np.log10(255.0 / np.sqrt(m)))


@register_metric("psnr_standard", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="textbook",
                 citation="Textbook PSNR, e.g. A. Hore, D. Ziou, 'Image quality metrics: PSNR vs. SSIM', ICPR 2010",
                 display="PSNR (standard)")
def psnr_standard(fused: Any, sources: Any, reference: Any = None) -> float:
    """Consistent PSNR: ``10 log10(255^2 / MSE)`` with ``MSE = mean_k mean((F - S_k)^2)`` on 0-255.

    Equals :func:`psnr_tang` minus 48.13 dB.  ``inf`` when the MSE is 0.
    """
    F, S = C.prepare(fused, sources, min_sources=1)
    F, S = C.tang_gray(F, S)
    m = float(np.mean([((F - s) ** 2).mean() for s in S]))
    return float("inf") if m == 0 else float(10 * np.log10(255.0 ** 2 / m))


# ------------------------------------------------------------------ CC, SCD


@register_metric("cc", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="Tang-Evaluation",
                 citation=TANG, display="CC", aliases=("correlation",))
def cc(fused: Any, sources: Any, reference: Any = None) -> float:
    """Correlation coefficient: mean over the sources of Pearson's r(S_k, F) (Tang's ``CC_evaluation``).

    Grey 0-255 images (colour -> ``rgb2gray`` uint8).  Works for N sources;
    ``nan`` if an image is constant (r undefined, as MATLAB's 0/0).

    References
    ----------
    Evaluation-for-Image-Fusion ``CC_evaluation.m``.
    """
    F, S = C.prepare(fused, sources, min_sources=1)
    F, S = C.tang_gray(F, S)
    return float(np.mean([C.pearson(s, F) for s in S]))


@register_metric("scd", higher_is_better=True, needs="sources", tasks=ALL_TASKS, convention="Tang-Evaluation",
                 citation="V. Aslantas, E. Bendes, 'A new image quality metric for image fusion: The sum of the "
                          "correlations of differences', AEU Int. J. Electron. Commun. 69(12):1890-1896, 2015",
                 display="SCD")
def scd(fused: Any, sources: Any, reference: Any = None) -> float:
    """Sum of the correlations of differences (Aslantas & Bendes 2015; Tang's ``analysis_SCD``).

    ``SCD = corr2(F - VI, IR) + corr2(F - IR, VI)`` on grey 0-255 images
    (colour -> ``rgb2gray`` uint8).  Exactly two sources; symmetric in them.
    ``nan`` if a difference image is constant.

    References
    ----------
    Evaluation-for-Image-Fusion ``analysis_SCD.m`` (code by E. Bendes).
    """
    F, S = C.prepare(fused, sources, min_sources=2, max_sources=2)
    F, S = C.tang_gray(F, S)
    ir, vi = S
    return C.pearson(F - vi, ir) + C.pearson(F - ir, vi)
