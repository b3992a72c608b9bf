"""Pansharpening: the classical component-substitution (CS) and multi-resolution (MRA) methods.

Every method follows the MATLAB toolbox of Vivone et al. ("A new benchmarking of
pansharpening methods", IEEE GRSM 2021, and the 2015 "critical comparison"
toolbox for BT, GIHS, PCA, HPF, SFIM, Indusion, ATWT), re-written in numpy.

Inputs and units
----------------
``pixfuse.fuse([pan, ms], method, ...)`` passes the arrays through untouched
(``color="native"``):

* ``pan``: HxW (or HxWx1) PAN, any numeric dtype, **native units** (e.g. 11-bit DN);
* ``ms``: the **original low-resolution** MS, (H/r) x (W/r) x B, same units.

Each method interpolates the MS to the PAN grid itself with the toolbox's 23-tap
polynomial interpolator (:func:`pixfuse.ops.resample.interp23tap`; ratio a power
of two — for other integer ratios MATLAB-bicubic ``imresize`` is used, the toolbox's
alternative), and returns an HxWxB float64 array in the same units, unclipped
(the toolbox's ``thvalues = 0``).  The ratio is inferred from the sizes; the
``ratio`` parameter, when given, must agree.  NaN/inf, a non-integer size ratio,
a 3-D PAN or a band-count mismatch raise :class:`pixfuse.errors.InputError`.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputError, ParameterError
from ..ops import gstats
from ..ops.histmatch import match_moments, std2
from ..ops.mtf import SENSORS, canonical_sensor, gen_mtf, imfilter_replicate, imfilter_replicate_bands
from ..ops.mtf import lp_filter_gauss, mtf_filter, mtf_pan_filter
from ..ops.ndwt import starck_murtagh_lowpass
from ..ops.resample import decimate9tap, decimate_nearest, imresize, interp23tap, upsample7tap
from ..registry import Param, register_method

EPS = float(np.finfo(np.float64).eps)  # MATLAB eps, used where the toolbox adds it
_TASK = ("pansharpening",)
_V15 = ("G. Vivone, L. Alparone, J. Chanussot, M. Dalla Mura, A. Garzelli, G. Licciardi, R. Restaino, L. Wald, "
        "'A Critical Comparison Among Pansharpening Algorithms', IEEE TGRS 53(5):2565-2586, 2015")
_V21 = ("G. Vivone, M. Dalla Mura, A. Garzelli, R. Restaino, G. Scarpa, M. O. Ulfarsson, L. Alparone, J. Chanussot, "
        "'A New Benchmarking of Pansharpening Methods', IEEE GRSM 9(1):53-81, 2021")

_RATIO = Param(None, "PAN/MS resolution ratio; inferred from the sizes (must agree when given)", int, 2, 64)
_SENSOR = Param("generic", f"sensor for the MTF gains: {', '.join(SENSORS)} (or aliases)", str)


# ----------------------------------------------------------------------------- inputs


def _numeric(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise InputError(f"{name}: unsupported dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InputError(f"{name} contains NaN or infinite values (mask or fill nodata before pansharpening)")
    return arr


def upsample_ms(ms: np.ndarray, ratio: int) -> np.ndarray:
    """MS to the PAN grid: interp23tap for power-of-two ratios, MATLAB bicubic imresize otherwise."""
    if ratio & (ratio - 1) == 0:
        return interp23tap(ms, ratio)
    return imresize(ms, float(ratio))


def prepare_inputs(images: Sequence[Any], ratio: int | None = None, min_bands: int = 1, *, upsample: bool = True
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Validate ``[pan, ms]`` and return ``(pan, ms_lr, ms_up, ratio)`` as float64.

    ``ms_up`` is None with ``upsample=False``.  Raises InputError / ParameterError with a
    message naming the problem.
    """
    if len(images) != 2:
        raise InputError(f"pansharpening needs exactly two inputs [pan, ms], got {len(images)}")
    pan = _numeric(images[0], "pan")
    ms = _numeric(images[1], "ms")
    if pan.ndim == 3 and pan.shape[2] == 1:
        pan = pan[:, :, 0]
    if pan.ndim != 2:
        raise InputError(f"pan must be a single-band HxW image, got shape {pan.shape} (is the order [pan, ms]?)")
    if ms.ndim == 2:
        ms = ms[:, :, None]
    if ms.ndim != 3:
        raise InputError(f"ms must be an hxwxB image, got shape {ms.shape}")
    if ms.shape[2] < min_bands:
        raise InputError(f"this method needs at least {min_bands} MS bands, got {ms.shape[2]}")
    h, w = pan.shape
    mh, mw = ms.shape[:2]
    if (mh, mw) == (h, w):
        raise InputError("ms has the PAN's size; pass the original low-resolution MS (the method upsamples it)")
    if h % mh or w % mw or h // mh != w // mw:
        raise InputError(f"PAN size {h}x{w} is not the same integer multiple of the MS size {mh}x{mw} "
                         f"in both directions (ratios {h / mh:.4g} and {w / mw:.4g})")
    r = h // mh
    if ratio is not None and int(ratio) != r:
        raise ParameterError(f"ratio={ratio} but the PAN/MS sizes give a ratio of {r}")
    if min(mh, mw) < 4:
        raise InputError(f"MS of {mh}x{mw} pixels is too small (minimum 4x4)")
    return pan, ms, (upsample_ms(ms, r) if upsample else None), r


def _need_pow2(r: int, method: str) -> None:
    if r & (r - 1):
        raise ParameterError(f"{method} needs a power-of-two ratio (toolbox filters), got {r}")


def _lstsq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares over all pixels (``a``: HxWxK regressors, ``b``: HxW or HxWxM), via gstats (tile-aware)."""
    return gstats.lstsq(a, b)


def _cov(x: np.ndarray, y: np.ndarray) -> float:
    """MATLAB cov(x, y)(1, 2): sample covariance (N - 1), via :mod:`pixfuse.ops.gstats` (tile-aware)."""
    return float(gstats.cov(x, y))


def _corr2(x: np.ndarray, y: np.ndarray) -> float:
    """MATLAB ``corr2`` (correlation coefficient over all pixels), via gstats (tile-aware)."""
    return float(gstats.cov(x, y) / np.sqrt(gstats.var(x) * gstats.var(y)))


def _pan_lp_glp(pan_b: np.ndarray, kernel: np.ndarray, r: int) -> np.ndarray:
    """GLP low-pass PAN: MTF filter, nearest decimation, interp23tap (``MTF_GLP*.m``)."""
    return interp23tap(decimate_nearest(imfilter_replicate(pan_b, kernel), r), r)


def _pan_lp_glp_bands(pan: np.ndarray, sensor: str, nb: int, r: int) -> np.ndarray:
    """Low-pass PAN for every band's MTF (a 2-D PAN, or HxWxB of per-band equalised PANs)."""
    h = gen_mtf(r, sensor, nb)
    cube = pan if pan.ndim == 3 else np.repeat(pan[:, :, None], nb, axis=2)
    lp = imfilter_replicate_bands(cube, h)
    return interp23tap(decimate_nearest(lp, r), r)


# ----------------------------------------------------------------------------- CS methods


@register_method("bt", tasks=_TASK, n_inputs=(2, 2), color="native", params={"ratio": _RATIO},
                 citation="A. R. Gillespie, A. B. Kahle, R. E. Walker, 'Color enhancement of highly correlated "
                          "images II. Channel ratio and chromaticity transformation techniques', RSE 22(3), 1987; "
                          + _V15, aliases=("brovey",))
def bt(images: Sequence[np.ndarray], *, ratio: int | None = None) -> np.ndarray:
    """Brovey transform (BT): MS scaled by the ratio of the equalised PAN to the MS mean intensity.

    Parameters
    ----------
    images : [pan (HxW), ms (H/r x W/r x B)] in native units.
    ratio : resolution ratio (inferred).

    Returns
    -------
    HxWxB float64 in the input units.

    Notes
    -----
    ``Brovey.m``: I = mean over bands of the upsampled MS; the PAN is matched to I in
    mean and standard deviation; F_b = MS_b * P / (I + eps).

    References
    ----------
    Gillespie et al., RSE 1987; Tu et al., Information Fusion 2(3), 2001; Vivone et al., IEEE TGRS 2015.
    """
    pan, _, ms, _ = prepare_inputs(images, ratio)
    i = ms.mean(axis=2)
    p = match_moments(pan, i)
    return ms * (p / (i + EPS))[:, :, None]


@register_method("bt-h", tasks=_TASK, n_inputs=(2, 2), color="native", params={"ratio": _RATIO},
                 citation="S. Lolli, L. Alparone, A. Garzelli, G. Vivone, 'Haze correction for contrast-based "
                          "multispectral pansharpening', IEEE GRSL 14(12):2255-2259, 2017; " + _V21,
                 aliases=("bth", "brovey-haze"))
def bt_h(images: Sequence[np.ndarray], *, ratio: int | None = None) -> np.ndarray:
    """Brovey with haze correction and regression-based intensity (BT-H).

    Parameters
    ----------
    images : [pan, ms] in native units.  ratio : resolution ratio (inferred).

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``BroveyRegHazeMin.m``: haze per band = (0.95, 0.45, 0.40, 0.05) x the 1st percentile
    (MATLAB ``prctile``) for 4 bands, the band minimum otherwise; intensity weights by global
    least squares of the upsampled MS on the Gaussian low-pass PAN (``LPfilterGauss``, gain 0.3);
    F_b = (MS_b - haze_b)_+ * P / (I + eps) + haze_b with the PAN matched to I.

    References
    ----------
    Lolli et al., IEEE GRSL 2017; Vivone et al., IEEE GRSM 2021.
    """
    pan, _, ms, r = prepare_inputs(images, ratio)
    nb = ms.shape[2]
    if nb == 4:
        fac = np.array([0.95, 0.45, 0.40, 0.05])
        haze = fac * gstats.percentile(ms, 1, axis=(0, 1))  # MATLAB prctile (hazen), exact under tiling
    else:
        haze = gstats.amin(ms, axis=(0, 1))
    pan_lp = lp_filter_gauss(pan, r)
    alpha = _lstsq(ms, pan_lp)
    i = ((ms - haze) * alpha).sum(axis=2)
    p = (pan - gstats.mean(pan_lp)) * (std2(i) / std2(pan_lp)) + gstats.mean(i)
    gstats.checkpoint()
    ms_l = np.maximum(ms - haze, 0)
    return ms_l * (p / (i + EPS))[:, :, None] + haze


@register_method("gihs", tasks=_TASK, n_inputs=(2, 2), color="native", params={"ratio": _RATIO},
                 citation="T.-M. Tu, S.-C. Su, H.-C. Shyu, P. S. Huang, 'A new look at IHS-like image fusion methods', "
                          "Information Fusion 2(3):177-186, 2001; " + _V15, aliases=("fihs", "gihs-ps"))
def gihs(images: Sequence[np.ndarray], *, ratio: int | None = None) -> np.ndarray:
    """Generalised (fast) IHS: add the difference between the equalised PAN and the MS mean to every band.

    Parameters
    ----------
    images : [pan, ms].  ratio : resolution ratio (inferred).

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``IHS.m`` (2015 toolbox, flag 'all'): I = mean of the upsampled MS bands; P matched
    to I in mean/std; F_b = MS_b + (P - I).

    References
    ----------
    Tu et al., Information Fusion 2001; Vivone et al., IEEE TGRS 2015.
    """
    pan, _, ms, _ = prepare_inputs(images, ratio)
    i = ms.mean(axis=2)
    return ms + (match_moments(pan, i) - i)[:, :, None]


def princomp(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB ``princomp`` of the pixels of an HxWxB image (or an N x B matrix): loadings (columns sorted by variance, the
    largest |entry| of each made positive) and the HxWxB scores of the centred data.

    The loadings are the eigenvectors of the sample covariance matrix (the right singular vectors
    of the centred data), computed from :func:`pixfuse.ops.gstats.scatter` so that they are scene-wide
    under tiling."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:  # N x B pixel matrix
        coeff, score = princomp(x[:, None, :])
        return coeff, score[:, 0, :]
    mean, c = gstats.scatter(x)
    evals, evecs = np.linalg.eigh(c)
    coeff = evecs[:, np.argsort(evals)[::-1]]
    idx = np.argmax(np.abs(coeff), axis=0)
    sign = np.sign(coeff[idx, np.arange(coeff.shape[1])])
    sign[sign == 0] = 1
    coeff = coeff * sign
    return coeff, (x - mean) @ coeff


@register_method("pca-ps", tasks=_TASK, n_inputs=(2, 2), color="native", params={"ratio": _RATIO},
                 citation="P. S. Chavez Jr., A. W. Kwarteng, 'Extracting spectral contrast in Landsat Thematic Mapper "
                          "image data using selective principal component analysis', PE&RS 55(3):339-348, 1989; "
                          + _V15, aliases=("ps-pca", "pca-pansharpening"))
def pca(images: Sequence[np.ndarray], *, ratio: int | None = None) -> np.ndarray:
    """Principal component substitution: the first PC of the MS is replaced by the equalised PAN.

    Parameters
    ----------
    images : [pan, ms] (at least 2 bands).  ratio : resolution ratio (inferred).

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``PCA.m`` (2015 toolbox) with MATLAB ``princomp``'s sign convention (the largest
    |loading| of each component positive — other sign choices change the result): the
    PAN is matched to PC1 in mean/std, substituted, the inverse transform applied and
    every band's mean restored to the MS mean.

    References
    ----------
    Chavez & Kwarteng, PE&RS 1989; Vivone et al., IEEE TGRS 2015.
    """
    pan, _, ms, _ = prepare_inputs(images, ratio, min_bands=2)
    coeff, score = princomp(ms)
    pc1 = score[:, :, 0]
    score[:, :, 0] = (pan - gstats.mean(pan)) * (gstats.std(pc1) / gstats.std(pan)) + gstats.mean(pc1)
    f = score @ coeff.T
    out = f - gstats.mean(f, axis=(0, 1)) + gstats.mean(ms, axis=(0, 1))
    gstats.checkpoint()
    return out


def _gs_inject(ms: np.ndarray, i0: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """GS injection: F_b = (MS_b - mean) + cov(I0, MS_b)/var(I0) * delta, then the MS means restored."""
    ms_mean = gstats.mean(ms, axis=(0, 1))
    ms0 = ms - ms_mean
    var_i = float(gstats.var(i0))
    g = np.array([_cov(i0, ms0[:, :, b]) / var_i for b in range(ms.shape[2])])
    f = ms0 + delta[:, :, None] * g
    out = f - gstats.mean(f, axis=(0, 1)) + ms_mean
    gstats.checkpoint()
    return out


@register_method("gs", tasks=_TASK, n_inputs=(2, 2), color="native", params={"ratio": _RATIO},
                 citation="C. A. Laben, B. V. Brower, 'Process for enhancing the spatial resolution of multispectral "
                          "imagery using pan-sharpening', US Patent 6,011,875, 2000; " + _V21,
                 aliases=("gram-schmidt",))
def gs(images: Sequence[np.ndarray], *, ratio: int | None = None) -> np.ndarray:
    """Gram-Schmidt (mode 1: intensity = MS mean) component substitution.

    Parameters
    ----------
    images : [pan, ms].  ratio : resolution ratio (inferred).

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``GS.m``: I0 = mean-removed band average; the PAN is matched to I0; F_b = MS_b + g_b (P - I0)
    with g_b = cov(I0, MS_b)/var(I0), then each band's mean is reset to the MS mean.

    References
    ----------
    Laben & Brower, US Patent 6,011,875, 2000; Aiazzi et al., IEEE TGRS 45(10), 2007; Vivone et al., 2015/2021.
    """
    pan, _, ms, _ = prepare_inputs(images, ratio)
    i = ms.mean(axis=2)
    i0 = i - gstats.mean(i)
    p = match_moments(pan, i0)
    return _gs_inject(ms, i0, p - i0)


def _gsa_weights(ms_lr: np.ndarray, pan_lr: np.ndarray) -> np.ndarray:
    """Least-squares weights (bands + constant) of the low-resolution intensity."""
    a = np.concatenate([ms_lr, np.ones(ms_lr.shape[:2] + (1,))], axis=2)
    return _lstsq(a, pan_lr)


@register_method("gsa", tasks=_TASK, n_inputs=(2, 2), color="native", params={"ratio": _RATIO},
                 citation="B. Aiazzi, S. Baronti, M. Selva, 'Improving component substitution pansharpening through "
                          "multivariate regression of MS+Pan data', IEEE TGRS 45(10):3230-3239, 2007; " + _V21,
                 aliases=("gs-adaptive",))
def gsa(images: Sequence[np.ndarray], *, ratio: int | None = None) -> np.ndarray:
    """Adaptive Gram-Schmidt: intensity weights regressed at low resolution.

    Parameters
    ----------
    images : [pan, ms].  ratio : resolution ratio (inferred; power of two).

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``GSA.m``: the mean-removed PAN is low-passed and decimated (``LPfilterPlusDec``: Starck-Murtagh
    non-decimated wavelet approximation, log2(ratio) levels, then nearest decimation); weights
    (bands plus offset) by least squares of the mean-removed low-resolution MS on it; the
    full-resolution intensity is the same combination of the upsampled MS; GS injection.

    References
    ----------
    Aiazzi et al., IEEE TGRS 2007; Vivone et al., IEEE TGRS 2015 and IEEE GRSM 2021.
    """
    pan, ms_lr, ms, r = prepare_inputs(images, ratio)
    _need_pow2(r, "GSA")
    levels = int(np.ceil(np.log2(r)))
    pan0 = pan - gstats.mean(pan)
    pan_lr = decimate_nearest(starck_murtagh_lowpass(pan0, levels), r)
    ms_lr0 = ms_lr - gstats.mean(ms_lr, axis=(0, 1))
    alpha = _gsa_weights(ms_lr0, pan_lr)
    ms0 = ms - gstats.mean(ms, axis=(0, 1))
    i = (ms0 * alpha[:-1]).sum(axis=2) + alpha[-1]
    i0 = i - gstats.mean(i)
    return _gs_inject(ms, i0, pan0 - i0)


def _bdsd_gamma(ms_lp_d: np.ndarray, ms_orig: np.ndarray, pan_lp_d: np.ndarray) -> np.ndarray:
    """gamma = (H'H)^-1 H'(MS_orig - MS_LP_d) with H = [MS_LP_d, PAN_LP_d] (normal equations via gstats)."""
    hd = np.concatenate([ms_lp_d, pan_lp_d[:, :, None]], axis=2)
    return np.asarray(gstats.lstsq(hd, ms_orig - ms_lp_d)).reshape(hd.shape[2], -1)      # (nb+1, nb)


@register_method("bdsd", tasks=_TASK, n_inputs=(2, 2), color="native",
                 params={"ratio": _RATIO, "sensor": _SENSOR,
                         "block": Param(0, "local estimation on block x block PAN tiles; 0 = global (toolbox "
                                           "2021 demo)", int, 0, None)},
                 citation="A. Garzelli, F. Nencini, L. Capobianco, 'Optimal MMSE pan sharpening of very high "
                          "resolution multispectral images', IEEE TGRS 46(1):228-236, 2008; " + _V21)
def bdsd(images: Sequence[np.ndarray], *, ratio: int | None = None, sensor: str = "generic",
         block: int = 0) -> np.ndarray:
    """Band-Dependent Spatial Detail (BDSD), MMSE injection estimated at reduced resolution.

    Parameters
    ----------
    images : [pan, ms].  ratio : (inferred).  sensor : MTF gains.  block : 0 for global
    estimation (as the 2021 toolbox demo), else local estimation on block x block tiles
    (even, a multiple of ratio, dividing the PAN size).

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``BDSD.m``: at reduced scale, PAN_LP_d = MTF_PAN(PAN)[2::r], MS_orig = imresize(MS_up, 1/r)
    (bicubic), MS_LP_d = MTF(MS_orig); gamma_b = (H'H)^-1 H'(MS_orig_b - MS_LP_d_b) with
    H = [MS_LP_d, PAN_LP_d]; full scale F_b = MS_b + [MS, PAN] gamma_b.

    References
    ----------
    Garzelli et al., IEEE TGRS 2008; Vivone et al., IEEE TGRS 2015 and GRSM 2021.
    """
    pan, _, ms, r = prepare_inputs(images, ratio)
    canonical_sensor(sensor)
    h, w, nb = ms.shape
    pan_lp_d = mtf_pan_filter(pan, sensor, r)[2::r, 2::r]  # pan_LP(3:ratio:end, 3:ratio:end)
    ms_orig = imresize(ms, 1.0 / r)
    ms_lp_d = mtf_filter(ms_orig, sensor, r)
    full = np.concatenate([ms, pan[:, :, None]], axis=2)
    if block == 0:
        gamma = _bdsd_gamma(ms_lp_d, ms_orig, pan_lp_d)
        gstats.checkpoint()
        return ms + (full.reshape(-1, nb + 1) @ gamma).reshape(h, w, nb)
    s = int(block)
    if s % 2 or s % r or h % s or w % s:
        raise ParameterError(f"BDSD block {s} must be even, a multiple of the ratio {r} and divide the PAN size {h}x{w}")
    out = np.empty_like(ms)
    sl = s // r
    for y in range(0, h, s):
        for x in range(0, w, s):
            ly, lx = y // r, x // r
            gamma = _bdsd_gamma(ms_lp_d[ly:ly + sl, lx:lx + sl], ms_orig[ly:ly + sl, lx:lx + sl],
                                pan_lp_d[ly:ly + sl, lx:lx + sl])
            tile = full[y:y + s, x:x + s]
            out[y:y + s, x:x + s] = ms[y:y + s, x:x + s] + (tile.reshape(-1, nb + 1) @ gamma).reshape(s, s, nb)
    return out


@register_method("bdsd-pc", tasks=_TASK, n_inputs=(2, 2), color="native",
                 params={"ratio": _RATIO, "sensor": _SENSOR},
                 citation="G. Vivone, 'Robust band-dependent spatial-detail approaches for panchromatic sharpening', "
                          "IEEE TGRS 57(9):6421-6433, 2019; " + _V21, aliases=("bdsdpc",))
def bdsd_pc(images: Sequence[np.ndarray], *, ratio: int | None = None, sensor: str = "generic") -> np.ndarray:
    """BDSD with physical constraints: sign-constrained least squares for the injection gains.

    Parameters
    ----------
    images : [pan, ms].  ratio : (inferred).  sensor : MTF gains.

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``BDSD_PC.m``: GT = imresize(MS_up, 1/r) (bicubic), MS_LR = MTF(GT), PAN_LR =
    nearest-decimated MTF_PAN(PAN); per band, gamma = argmin ||[PAN_LR, MS_LR] g - (GT_b - MS_LR_b)||^2
    subject to g_PAN >= 0 and g_MS <= 0 (MATLAB ``lsqlin``; here an exact bounded least-squares
    solver, scipy ``lsq_linear`` BVLS); F_b = MS_b + [PAN, MS] gamma.

    References
    ----------
    Vivone, IEEE TGRS 2019; Vivone et al., IEEE GRSM 2021.
    """
    from scipy.optimize import lsq_linear

    pan, _, ms, r = prepare_inputs(images, ratio)
    canonical_sensor(sensor)
    h, w, nb = ms.shape
    gt = imresize(ms, 1.0 / r)
    ms_lr = mtf_filter(gt, sensor, r)
    pan_lr = decimate_nearest(mtf_pan_filter(pan, sensor, r), r)
    hmat = np.concatenate([pan_lr[:, :, None], ms_lr], axis=2)
    # min ||H g - y||^2 = ||L' g - L^-1 H'y||^2 + const with H'H = L L': the same bounded problem on the
    # (nb+1)x(nb+1) normal equations, which add up over tiles (gstats.gram)
    hth, hty = gstats.gram(hmat, gt - ms_lr)
    gstats.checkpoint()
    chol = np.linalg.cholesky(hth)
    lb = np.r_[0.0, np.full(nb, -np.inf)]
    ub = np.r_[np.inf, np.zeros(nb)]
    full = np.concatenate([pan[:, :, None], ms], axis=2).reshape(-1, nb + 1)
    out = np.empty_like(ms)
    for b in range(nb):
        rhs = np.linalg.solve(chol, hty[:, b])
        g = lsq_linear(chol.T, rhs, bounds=(lb, ub), method="bvls", tol=1e-12).x
        out[:, :, b] = ms[:, :, b] + (full @ g).reshape(h, w)
    return out


@register_method("pracs", tasks=_TASK, n_inputs=(2, 2), color="native",
                 params={"ratio": _RATIO, "beta": Param(0.95, "detail weight (toolbox: 0.95 for 11-bit data, "
                                                               "1.95 suggested for 8-bit)", float, 0.0, 10.0)},
                 citation="J. Choi, K. Yu, Y. Kim, 'A new adaptive component-substitution-based satellite image "
                          "fusion by using partial replacement', IEEE TGRS 49(1):295-309, 2011; " + _V21,
                 aliases=())
def pracs(images: Sequence[np.ndarray], *, ratio: int | None = None, beta: float = 0.95) -> np.ndarray:
    """Partial Replacement Adaptive Component Substitution (PRACS).

    Parameters
    ----------
    images : [pan, ms].  ratio : (inferred).  beta : detail weight (0.95).

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``PRACS.m``: MS bands histogram-matched to the PAN; intensity regressions (with offset) on a
    bicubic down/up-sampled PAN; partial replacement I_h,b = cc_b PAN + (1 - cc_b) MS_hm,b; band-wise
    regressions on the down/up-sampled I_h; weights beta * corr * std / mean std; local
    instability adjustment; F_b = MS_b + w_b L_I,b (I_h,b - I'_l,b - mean difference).

    References
    ----------
    Choi et al., IEEE TGRS 2011; Vivone et al., IEEE TGRS 2015 and GRSM 2021.
    """
    pan, _, ms, r = prepare_inputs(images, ratio)
    h, w, nb = ms.shape
    sp_, mp_ = std2(pan), gstats.mean(pan)
    ms_mean = gstats.mean(ms, axis=(0, 1))
    hm = np.empty_like(ms)
    for k in range(nb):
        b = ms[:, :, k]
        sb = std2(b)
        v = (b - ms_mean[k] + mp_ / sp_ * sb) * sp_ / sb
        hm[:, :, k] = np.maximum(v, 0)
    pan_l = imresize(imresize(pan, 1.0 / r), float(r))
    bb = np.concatenate([np.ones((h, w, 1)), hm], axis=2)
    alpha = _lstsq(bb, pan_l)
    i_l = bb @ alpha
    i_h = np.empty_like(ms)
    cc = np.empty(nb)
    for k in range(nb):
        cc[k] = _corr2(i_l, hm[:, :, k])
        i_h[:, :, k] = cc[k] * pan + (1 - cc[k]) * hm[:, :, k]
    i_h_low = imresize(imresize(i_h, 1.0 / r), float(r))
    alphas = _lstsq(bb, i_h_low)
    i_lp = bb @ alphas
    delta = i_h - i_lp - (gstats.mean(i_h, axis=(0, 1)) - gstats.mean(i_lp, axis=(0, 1)))
    stds = [std2(ms[:, :, k]) for k in range(nb)]
    mean_std = np.mean(stds)
    wks = [beta * _corr2(i_lp[:, :, k], ms[:, :, k]) * stds[k] / mean_std for k in range(nb)]
    cls = [_corr2(i_l, ms[:, :, k]) for k in range(nb)]
    gstats.checkpoint()
    out = np.empty_like(ms)
    for k in range(nb):
        b = ms[:, :, k]
        with np.errstate(divide="ignore", invalid="ignore"):
            li = 1 - np.abs(1 - cls[k] * b / i_lp[:, :, k])
        out[:, :, k] = b + wks[k] * li * delta[:, :, k]
    return out


_KM_SAMPLE = 20000  # k-means++ seeds from a random sample of this many pixels
_KM_ITERS = 100  # at most this many Lloyd iterations


def _km_assign(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Nearest centre of every row of ``x`` (N x B) among the rows of ``c`` (squared Euclidean distance)."""
    # explicit per-dimension sums: small k and B, avoids BLAS overhead
    d = np.zeros((x.shape[0], c.shape[0]))
    for dim in range(x.shape[1]):
        diff = x[:, dim:dim + 1] - c[None, :, dim]
        d += diff * diff
    return np.argmin(d, axis=1)


def _km_sample_index(n: int, seed: int) -> tuple[np.random.Generator, np.ndarray]:
    """The seeded generator and the flat (row-major) indices of the k-means++ sample."""
    rng = np.random.default_rng(seed)
    return rng, rng.choice(n, size=min(n, _KM_SAMPLE), replace=False)


def _km_plusplus(sample: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding on ``sample`` (continues the generator of :func:`_km_sample_index`)."""
    centers = [sample[rng.integers(len(sample))]]
    for _ in range(1, k):
        d = np.min(((sample[:, None, :] - np.array(centers)[None]) ** 2).sum(-1), axis=1)
        tot = d.sum()
        centers.append(sample[rng.choice(len(sample), p=d / tot)] if tot > 0 else sample[rng.integers(len(sample))])
    return np.array(centers)


def _km_update(c: np.ndarray, counts: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """Lloyd update: the mean of each cluster's pixels (an empty cluster keeps its centre)."""
    c = c.copy()
    for dim in range(c.shape[1]):
        c[:, dim] = np.where(counts > 0, sums[:, dim] / np.maximum(counts, 1), c[:, dim])
    return c


def _km_sums(x: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(labels, minlength=k)
    sums = np.stack([np.bincount(labels, weights=x[:, dim], minlength=k) for dim in range(x.shape[1])], axis=1)
    return counts, sums


def _kmeans(x: np.ndarray, k: int, seed: int, iters: int = _KM_ITERS) -> np.ndarray:
    """Deterministic k-means of the rows of ``x`` (k-means++ seeding on a seeded random sample, Lloyd iterations
    until no label changes, at most ``iters``); returns the labels."""
    rng, idx = _km_sample_index(x.shape[0], seed)
    c = _km_plusplus(x[idx], k, rng)
    labels = np.full(x.shape[0], -1, dtype=np.int64)
    for _ in range(iters):
        new = _km_assign(x, c)
        if np.array_equal(new, labels):
            break
        labels = new
        c = _km_update(c, *_km_sums(x, labels, k))
    return labels


def _km_step(state: dict[str, np.ndarray], sums: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], bool]:
    """One Lloyd iteration of the scene-wide k-means (:func:`pixfuse.ops.gstats.iterate` rule).

    ``state``: centres ``c`` of iteration t, those of t - 1 (``cprev``), ``t``, ``iters``; ``sums``: the scene's
    per-cluster counts and sums for the labels of ``c`` and the number of labels that differ from those of
    ``cprev``.  Done when no label changed (t >= 1) or at the last iteration, exactly when :func:`_kmeans` stops;
    the labels are then those of ``c``."""
    t, iters = int(state["t"]), int(state["iters"])
    if (t >= 1 and float(sums["changed"]) == 0) or t >= iters - 1:
        return state, True
    c = np.asarray(state["c"])
    return {"c": _km_update(c, sums["counts"], sums["sums"]), "cprev": c, "t": np.array(t + 1.0),
            "iters": state["iters"]}, False


gstats.register_iteration("pixfuse.kmeans", _km_step)


def _kmeans_tiled(feats: np.ndarray, k: int, seed: int, rec: gstats.Recorder) -> np.ndarray:
    """:func:`_kmeans` over the whole scene from one tile (HxWxB features of the tile with its halo): the same
    sample (scene coordinates), the same k-means++ seeds, one Lloyd iteration per pass of the tiled driver;
    returns the HxW labels of the tile."""
    nb = feats.shape[2]
    r0, c0, nr, nc, hs, ws = rec.scene_core()
    rng, idx = _km_sample_index(hs * ws, seed)
    rows, cols = np.divmod(idx, ws)
    inside = (rows >= r0) & (rows < r0 + nr) & (cols >= c0) & (cols < c0 + nc)
    core = np.asarray(rec.core_of(feats))
    pos = np.nonzero(inside)[0]
    vals = core[rows[inside] - r0, cols[inside] - c0]
    got = gstats.gather(lambda: None, lambda _r: {"n": np.array(float(pos.size)), "pos": pos.astype(np.float64),
                                                   "v": vals})
    if got is not None and got["pos"].size == idx.size:
        sample = np.empty((idx.size, nb))
        sample[got["pos"].astype(np.int64)] = got["v"]
    else:  # first pass: the sample is not known yet (any provisional value; later passes replace it)
        sample = core.reshape(-1, nb)[:_KM_SAMPLE]
    c_init = _km_plusplus(sample, k, rng)
    x = core.reshape(-1, nb)

    def step_sums(_r: gstats.Recorder, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        labels = _km_assign(x, np.asarray(state["c"]))
        changed = x.shape[0]
        if int(state["t"]) >= 1:
            changed = int(np.count_nonzero(labels != _km_assign(x, np.asarray(state["cprev"]))))
        counts, sums = _km_sums(x, labels, k)
        return {"counts": counts, "sums": sums, "changed": np.array(float(changed))}

    init = {"c": c_init, "cprev": c_init, "t": np.array(0.0), "iters": np.array(float(_KM_ITERS))}
    state, _ = gstats.iterate("pixfuse.kmeans", init, step_sums)
    return _km_assign(feats.reshape(-1, nb), np.asarray(state["c"])).reshape(feats.shape[:2])


@register_method("c-gsa", tasks=_TASK, n_inputs=(2, 2), color="native",
                 params={"ratio": _RATIO,
                         "segments": Param(5, "number of k-means clusters (toolbox demo: 5)", int, 1, 50),
                         "seed": Param(0, "seed of the deterministic k-means++ initialisation", int, 0, None)},
                 citation="R. Restaino, M. Dalla Mura, G. Vivone, J. Chanussot, 'Context-adaptive pansharpening based "
                          "on image segmentation', IEEE TGRS 55(2):753-766, 2017; " + _V21, aliases=("cgsa",))
def c_gsa(images: Sequence[np.ndarray], *, ratio: int | None = None, segments: int = 5, seed: int = 0
          ) -> np.ndarray:
    """Context-adaptive GSA: GSA injection gains estimated per k-means cluster of the MS.

    Parameters
    ----------
    images : [pan, ms].  ratio : (inferred).  segments : clusters (5).  seed : k-means seed.

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    Demo call ``GS_Segm(I_MS, I_PAN, gen_LP_image('GSA', ...), k_means_clustering(I_MS, 5))``:
    the low-resolution intensity is the least-squares combination (bands + offset) of the MS
    matching the Gaussian-filtered (``LPfilterGauss``), nearest-decimated PAN, applied to the
    upsampled MS; each band's gain cov(I, MS_b)/var(I) is estimated inside every cluster of the
    max-normalised MS; F_b = MS_b + g_b (PAN - I).  MATLAB's ``kmeans`` seeds randomly; pixfuse
    uses a seeded k-means++ so results are reproducible (they depend on the seed, like the toolbox's):
    k-means++ on a random sample of 20000 pixels (by scene position), then Lloyd iterations until no
    label changes (at most 100).

    Tile-exact: under :mod:`pixfuse.tiling` the sample is gathered by scene coordinates and each
    Lloyd iteration is one pass over the tiles (per-cluster counts and sums added up,
    :func:`pixfuse.ops.gstats.iterate`), so the clusters, the per-cluster gains and the result
    equal whole-image processing; the cost is one pass per iteration (typically 20-60).

    References
    ----------
    Restaino et al., IEEE TGRS 2017; Vivone et al., IEEE GRSM 2021.
    """
    pan, ms_lr, ms, r = prepare_inputs(images, ratio)
    h, w, nb = ms.shape
    k = int(segments)
    pan_lp2 = decimate_nearest(lp_filter_gauss(pan, r), r)
    alpha = _gsa_weights(ms_lr, pan_lp2)
    i_lr = (ms * alpha[:-1]).sum(axis=2) + alpha[-1]
    mx = np.asarray(gstats.amax(ms, axis=(0, 1)))
    feats = ms / np.where(mx == 0, 1, mx)
    rec = gstats.active()
    if rec is None:
        labels = _kmeans(feats.reshape(-1, nb), k, int(seed)).reshape(h, w)
    else:  # tiled: the same clustering of the whole scene, one Lloyd iteration per pass
        labels = _kmeans_tiled(feats, k, int(seed), rec)

    # per-cluster GSA gains cov(I, MS_b) / var(I): cluster sums, then centred cross products (additive over tiles)
    def sums1(lab: np.ndarray, iv: np.ndarray, mv: np.ndarray) -> dict[str, np.ndarray]:
        lab = lab.ravel()
        return {"n": np.bincount(lab, minlength=k).astype(np.float64),
                "si": np.bincount(lab, weights=iv.ravel(), minlength=k),
                "sm": np.stack([np.bincount(lab, weights=mv[:, :, b].ravel(), minlength=k) for b in range(nb)], 1)}

    s1 = gstats.total("cgsa-sums", lambda: sums1(labels, i_lr, ms),
                      lambda rr: sums1(rr.core_of(labels), rr.core_of(i_lr), rr.core_of(ms)))
    cnt = np.asarray(s1["n"])
    mean_i = np.asarray(s1["si"]) / np.maximum(cnt, 1)
    mean_m = np.asarray(s1["sm"]) / np.maximum(cnt, 1)[:, None]

    def sums2(lab: np.ndarray, iv: np.ndarray, mv: np.ndarray) -> dict[str, np.ndarray]:
        di = iv - mean_i[lab]
        lab = lab.ravel()
        return {"sii": np.bincount(lab, weights=(di * di).ravel(), minlength=k),
                "sim": np.stack([np.bincount(lab, weights=(di * (mv[:, :, b] - mean_m[:, b][lab.reshape(di.shape)])
                                                          ).ravel(), minlength=k) for b in range(nb)], 1)}

    s2 = gstats.total("cgsa-cov", lambda: sums2(labels, i_lr, ms),
                      lambda rr: sums2(rr.core_of(labels), rr.core_of(i_lr), rr.core_of(ms)))
    gstats.checkpoint()
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where((cnt > 1)[:, None], np.asarray(s2["sim"]) / np.asarray(s2["sii"])[:, None], 0.0)
    return gain[labels] * (pan - i_lr)[:, :, None] + ms


# ----------------------------------------------------------------------------- MRA methods


def _box_detail_pan(pan: np.ndarray, ms: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-band equalised PAN and its (r or r+1) box low-pass with replicate borders (HPF/SFIM)."""
    n = r + 1 if r % 2 == 0 else r
    box = np.full((n, n), 1.0 / (n * n))
    p = np.stack([match_moments(pan, ms[:, :, b]) for b in range(ms.shape[2])], axis=2)
    lp = np.stack([imfilter_replicate(p[:, :, b], box) for b in range(ms.shape[2])], axis=2)
    return p, lp


@register_method("hpf", tasks=_TASK, n_inputs=(2, 2), color="native", params={"ratio": _RATIO},
                 citation="P. S. Chavez Jr., S. C. Sides, J. A. Anderson, 'Comparison of three different methods to "
                          "merge multiresolution and multispectral data: Landsat TM and SPOT panchromatic', "
                          "PE&RS 57(3):295-303, 1991; " + _V15)
def hpf(images: Sequence[np.ndarray], *, ratio: int | None = None) -> np.ndarray:
    """High-pass filtering: add the PAN minus its box-filtered version (box of ratio+1 for even ratios).

    Parameters
    ----------
    images : [pan, ms].  ratio : (inferred).

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``HPF.m``: the PAN is matched to each band (mean/std), low-passed with a 5x5 average for
    ratio 4 (replicate borders) and its detail added.

    References
    ----------
    Chavez et al., PE&RS 1991; Vivone et al., IEEE TGRS 2015.
    """
    pan, _, ms, r = prepare_inputs(images, ratio)
    p, lp = _box_detail_pan(pan, ms, r)
    return ms + p - lp


@register_method("sfim", tasks=_TASK, n_inputs=(2, 2), color="native", params={"ratio": _RATIO},
                 citation="J. G. Liu, 'Smoothing filter-based intensity modulation: a spectral preserve image fusion "
                          "technique for improving spatial details', IJRS 21(18):3461-3472, 2000; " + _V15)
def sfim(images: Sequence[np.ndarray], *, ratio: int | None = None) -> np.ndarray:
    """Smoothing Filter-based Intensity Modulation: MS times PAN over its box low-pass.

    Parameters
    ----------
    images : [pan, ms].  ratio : (inferred).

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``SFIM.m``: per band, F_b = MS_b * P_b / (box(P_b) + eps), with P_b the PAN matched to band b.

    References
    ----------
    Liu, IJRS 2000; Vivone et al., IEEE TGRS 2015.
    """
    pan, _, ms, r = prepare_inputs(images, ratio)
    p, lp = _box_detail_pan(pan, ms, r)
    return ms * p / (lp + EPS)


@register_method("indusion", tasks=_TASK, n_inputs=(2, 2), color="native", params={"ratio": _RATIO},
                 citation="M. M. Khan, J. Chanussot, L. Condat, A. Montanvert, 'Indusion: fusion of multispectral and "
                          "panchromatic images using the induction scaling technique', IEEE GRSL 5(1):98-102, 2008; "
                          + _V15)
def indusion(images: Sequence[np.ndarray], *, ratio: int | None = None) -> np.ndarray:
    """Indusion: induction-scaling fusion with the 9-tap decimator and 7-tap interpolator.

    Parameters
    ----------
    images : [pan, ms].  ratio : (inferred; power of two).

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``Indusion.m``: PAN_L = deg9tap(PAN); per band, PAN_L matched to the low-resolution band,
    both upsampled with the 7-tap interpolator (not interp23tap); the PAN matched to the upsampled
    band; F_b = MS7_b + P_b - PAN_L7_b.

    References
    ----------
    Khan et al., IEEE GRSL 2008; Vivone et al., IEEE TGRS 2015.
    """
    pan, ms_lr, _, r = prepare_inputs(images, ratio)
    _need_pow2(r, "Indusion")
    pan_l = decimate9tap(pan, r)
    out = np.empty(pan.shape + (ms_lr.shape[2],))
    for b in range(ms_lr.shape[2]):
        lb = ms_lr[:, :, b]
        pl_eq = match_moments(pan_l, lb)
        ms_b = upsample7tap(lb, r)
        pl_up = upsample7tap(pl_eq, r)
        ph = match_moments(pan, ms_b)
        out[:, :, b] = ms_b + ph - pl_up
    return out


@register_method("atwt", tasks=_TASK, n_inputs=(2, 2), color="native", params={"ratio": _RATIO},
                 citation="J. Nunez, X. Otazu, O. Fors, A. Prades, V. Pala, R. Arbiol, 'Multiresolution-based image "
                          "fusion with additive wavelet decomposition', IEEE TGRS 37(3):1204-1211, 1999; " + _V15)
def atwt(images: Sequence[np.ndarray], *, ratio: int | None = None) -> np.ndarray:
    """Additive wavelet (a trous, Starck-Murtagh filter) detail injection.

    Parameters
    ----------
    images : [pan, ms].  ratio : (inferred).

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``ATWT.m``: the PAN matched to each band, its non-decimated wavelet approximation
    (``ndwt2`` with the Starck-Murtagh bank, ceil(log2(ratio)) levels, details zeroed) subtracted,
    and the detail added to the band.

    References
    ----------
    Nunez et al., IEEE TGRS 1999; Vivone et al., IEEE TGRS 2015.
    """
    pan, _, ms, r = prepare_inputs(images, ratio)
    levels = int(np.ceil(np.log2(r)))
    out = np.empty_like(ms)
    for b in range(ms.shape[2]):
        p = match_moments(pan, ms[:, :, b])
        out[:, :, b] = ms[:, :, b] + p - starck_murtagh_lowpass(p, levels)
    return out


@register_method("awlp", tasks=_TASK, n_inputs=(2, 2), color="native", params={"ratio": _RATIO},
                 citation="X. Otazu, M. Gonzalez-Audicana, O. Fors, J. Nunez, 'Introduction of sensor spectral response "
                          "into image fusion methods. Application to wavelet-based methods', IEEE TGRS 43(10):2376-2385, "
                          "2005; " + _V21)
def awlp(images: Sequence[np.ndarray], *, ratio: int | None = None) -> np.ndarray:
    """Additive Wavelet Luminance Proportional: wavelet detail injected proportionally to each band's share.

    Parameters
    ----------
    images : [pan, ms].  ratio : (inferred).

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``AWLP.m`` (2021): weights MS_b / (mean_b MS + eps); the PAN matched to each band with the
    std of its bicubic down/up-sampled version; detail = P_b - Starck-Murtagh approximation;
    F_b = MS_b + detail * weight_b.

    References
    ----------
    Otazu et al., IEEE TGRS 2005; Alparone et al., IEEE TGRS 55(8), 2017; Vivone et al., IEEE GRSM 2021.
    """
    pan, _, ms, r = prepare_inputs(images, ratio)
    levels = int(np.ceil(np.log2(r)))
    ratio_img = ms / (ms.mean(axis=2, keepdims=True) + EPS)
    pan_lr = imresize(imresize(pan, 1.0 / r), float(r))
    out = np.empty_like(ms)
    for b in range(ms.shape[2]):
        p = match_moments(pan, ms[:, :, b], pan_lr)
        out[:, :, b] = (p - starck_murtagh_lowpass(p, levels)) * ratio_img[:, :, b] + ms[:, :, b]
    return out


def _glp_equalised(pan: np.ndarray, ms: np.ndarray, r: int) -> np.ndarray:
    """PAN matched to each band with the std of its Gaussian low-pass (``MTF_GLP*.m``)."""
    std_lp = std2(lp_filter_gauss(pan, r))
    pan0 = pan - gstats.mean(pan)
    ms_mean = gstats.mean(ms, axis=(0, 1))
    out = np.empty_like(ms)
    for b in range(ms.shape[2]):
        out[:, :, b] = pan0 * (std2(ms[:, :, b]) / std_lp) + ms_mean[b]
    return out


@register_method("mtf-glp", tasks=_TASK, n_inputs=(2, 2), color="native",
                 params={"ratio": _RATIO, "sensor": _SENSOR},
                 citation="B. Aiazzi, L. Alparone, S. Baronti, A. Garzelli, M. Selva, 'MTF-tailored multiscale fusion "
                          "of high-resolution MS and Pan imagery', PE&RS 72(5):591-596, 2006; " + _V21)
def mtf_glp(images: Sequence[np.ndarray], *, ratio: int | None = None, sensor: str = "generic") -> np.ndarray:
    """MTF-matched Generalized Laplacian Pyramid with additive injection.

    Parameters
    ----------
    images : [pan, ms].  ratio : (inferred; power of two).  sensor : MTF gains.

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``MTF_GLP.m``: PAN matched to each band (std of its ``LPfilterGauss`` low-pass); low-pass =
    interp23tap(nearest decimation of the band's MTF-filtered PAN); F_b = MS_b + P_b - P_LP,b.

    References
    ----------
    Aiazzi et al., PE&RS 2006; Vivone et al., IEEE TGRS 2015 and GRSM 2021.
    """
    pan, _, ms, r = prepare_inputs(images, ratio)
    _need_pow2(r, "MTF-GLP")
    p = _glp_equalised(pan, ms, r)
    gstats.checkpoint()
    return ms + p - _pan_lp_glp_bands(p, sensor, ms.shape[2], r)


@register_method("mtf-glp-hpm", tasks=_TASK, n_inputs=(2, 2), color="native",
                 params={"ratio": _RATIO, "sensor": _SENSOR},
                 citation="B. Aiazzi, L. Alparone, S. Baronti, A. Garzelli, M. Selva, 'An MTF-based spectral distortion "
                          "minimizing model for pan-sharpening of very high resolution multispectral images of urban "
                          "areas', URBAN 2003; " + _V21, aliases=("glp-hpm",))
def mtf_glp_hpm(images: Sequence[np.ndarray], *, ratio: int | None = None, sensor: str = "generic"
                ) -> np.ndarray:
    """MTF-GLP with High-Pass Modulation (multiplicative) injection.

    Parameters
    ----------
    images : [pan, ms].  ratio : (inferred; power of two).  sensor : MTF gains.

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``MTF_GLP_HPM.m``: as MTF-GLP, with F_b = MS_b * P_b / (P_LP,b + eps).

    References
    ----------
    Aiazzi et al., URBAN 2003 and PE&RS 2006; Vivone et al., IEEE GRSM 2021.
    """
    pan, _, ms, r = prepare_inputs(images, ratio)
    _need_pow2(r, "MTF-GLP-HPM")
    p = _glp_equalised(pan, ms, r)
    gstats.checkpoint()
    return ms * (p / (_pan_lp_glp_bands(p, sensor, ms.shape[2], r) + EPS))


@register_method("mtf-glp-hpm-r", tasks=_TASK, n_inputs=(2, 2), color="native",
                 params={"ratio": _RATIO, "sensor": _SENSOR},
                 citation="G. Vivone, R. Restaino, J. Chanussot, 'A regression-based high-pass modulation "
                          "pansharpening approach', IEEE TGRS 56(2):984-996, 2018; " + _V21,
                 aliases=("glp-hpm-r", "hpm-r"))
def mtf_glp_hpm_r(images: Sequence[np.ndarray], *, ratio: int | None = None, sensor: str = "generic"
                  ) -> np.ndarray:
    """MTF-GLP with regression-based High-Pass Modulation (global version).

    Parameters
    ----------
    images : [pan (HxW), ms (H/r x W/r x B)] in native units.
    ratio : resolution ratio (inferred; power of two).
    sensor : sensor for the MTF gains of the PAN low-pass (see :mod:`pixfuse.ops.mtf`).

    Returns
    -------
    HxWxB float64 in the input units, unclipped.

    Notes
    -----
    The HPM model F_b = MS_b * P / P_LP assumes MS_b proportional to P_LP; the regression
    variant fits MS_b ~ g_b (P_LP,b + c_b) instead, so that an offset between the MS band
    and the PAN (haze, different radiometric calibration) no longer biases the modulation:

    * P_LP,b = interp23tap(nearest decimation of the PAN filtered with band b's MTF), the
      PAN not equalised (as MTF-GLP-FS / -CBD);
    * g_b = cov(MS_b, P_LP,b) / var(P_LP,b) (sample statistics over the whole image);
    * c_b = mean(MS_b) / g_b - mean(PAN);
    * F_b = MS_b * (PAN + c_b) / (P_LP,b + c_b + eps).

    This is the global version the 2021 benchmark runs (toolbox ``MTF_GLP_HPM_R.m``).  Where
    a band is uncorrelated with the low-pass PAN (g_b = 0, e.g. a constant PAN) the toolbox
    divides by zero and returns NaN; pixfuse returns the interpolated band unchanged there (also when
    the low-pass PAN's variance is at rounding level).

    References
    ----------
    G. Vivone, R. Restaino, J. Chanussot, "A regression-based high-pass modulation pansharpening
    approach", IEEE TGRS 56(2):984-996, 2018. G. Vivone et al., "A new benchmarking of
    pansharpening methods", IEEE GRSM 9(1):53-81, 2021.
    """
    pan, _, ms, r = prepare_inputs(images, ratio)
    _need_pow2(r, "MTF-GLP-HPM-R")
    lp = _pan_lp_glp_bands(pan, sensor, ms.shape[2], r)
    pan_mean = float(gstats.mean(pan))
    out = np.empty_like(ms)
    for b in range(ms.shape[2]):
        msb, lpb = ms[:, :, b], lp[:, :, b]
        var_lp = float(gstats.var(lpb))
        # a flat low-pass PAN (std below 1e-8 of the PAN mean, i.e. FFT rounding): no regression, no detail
        flat = var_lp <= (1e-8 * (abs(pan_mean) + 1.0)) ** 2
        g = 0.0 if flat else _cov(msb, lpb) / var_lp
        if g == 0 or not np.isfinite(g):
            out[:, :, b] = msb
            continue
        cb = float(gstats.mean(msb)) / g - pan_mean
        out[:, :, b] = msb * (pan + cb) / (lpb + cb + EPS)
    return out


@register_method("mtf-glp-fs", tasks=_TASK, n_inputs=(2, 2), color="native",
                 params={"ratio": _RATIO, "sensor": _SENSOR},
                 citation="G. Vivone, R. Restaino, J. Chanussot, 'Full scale regression-based injection coefficients "
                          "for panchromatic sharpening', IEEE TIP 27(7):3418-3431, 2018; " + _V21,
                 aliases=("glp-fs",))
def mtf_glp_fs(images: Sequence[np.ndarray], *, ratio: int | None = None, sensor: str = "generic"
               ) -> np.ndarray:
    """MTF-GLP with full-scale regression injection gains.

    Parameters
    ----------
    images : [pan, ms].  ratio : (inferred; power of two).  sensor : MTF gains.

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``MTF_GLP_FS.m``: no equalisation; per band P_LP,b = interp23tap(decimated MTF_b(PAN));
    g_b = cov(MS_b, PAN) / cov(P_LP,b, PAN); F_b = MS_b + g_b (PAN - P_LP,b).

    References
    ----------
    Vivone et al., IEEE TIP 2018 and IEEE GRSM 2021.
    """
    pan, _, ms, r = prepare_inputs(images, ratio)
    _need_pow2(r, "MTF-GLP-FS")
    lp = _pan_lp_glp_bands(pan, sensor, ms.shape[2], r)
    out = np.empty_like(ms)
    for b in range(ms.shape[2]):
        g = _cov(ms[:, :, b], pan) / _cov(lp[:, :, b], pan)
        out[:, :, b] = ms[:, :, b] + g * (pan - lp[:, :, b])
    return out


@register_method("mtf-glp-cbd", tasks=_TASK, n_inputs=(2, 2), color="native",
                 params={"ratio": _RATIO, "sensor": _SENSOR},
                 citation="B. Aiazzi, L. Alparone, S. Baronti, A. Garzelli, M. Selva, 'MTF-tailored multiscale fusion "
                          "of high-resolution MS and Pan imagery', PE&RS 72(5), 2006; L. Alparone et al., 'Comparison "
                          "of pansharpening algorithms: outcome of the 2006 GRS-S data fusion contest', IEEE TGRS "
                          "45(10), 2007; " + _V21, aliases=("gs2-glp", "glp-cbd"))
def mtf_glp_cbd(images: Sequence[np.ndarray], *, ratio: int | None = None, sensor: str = "generic"
                ) -> np.ndarray:
    """MTF-GLP with context-based-decision-like global regression injection (GS2-GLP).

    Parameters
    ----------
    images : [pan, ms].  ratio : (inferred; power of two).  sensor : MTF gains.

    Returns
    -------
    HxWxB float64.

    Notes
    -----
    ``GS2_GLP.m`` (the toolbox's MTF-GLP-CBD): P_LP,b as in MTF-GLP-FS (no equalisation);
    g_b = cov(P_LP,b, MS_b) / var(P_LP,b); F_b = MS_b + g_b (PAN - P_LP,b).

    References
    ----------
    Aiazzi et al., PE&RS 2006; Alparone et al., IEEE TGRS 2007; Vivone et al., IEEE GRSM 2021.
    """
    pan, _, ms, r = prepare_inputs(images, ratio)
    _need_pow2(r, "MTF-GLP-CBD")
    lp = _pan_lp_glp_bands(pan, sensor, ms.shape[2], r)
    out = np.empty_like(ms)
    for b in range(ms.shape[2]):
        g = _cov(lp[:, :, b], ms[:, :, b]) / float(gstats.var(lp[:, :, b]))
        out[:, :, b] = ms[:, :, b] + g * (pan - lp[:, :, b])
    return out


# ----------------------------------------------------------------------------- GDAL-compatible Brovey


@register_method("brovey-gdal", tasks=_TASK, n_inputs=(2, 2), color="native",
                 params={"ratio": _RATIO,
                         "weights": Param(None, "pseudo-PAN weight per MS band (comma-separated); default 1/B each",
                                          str),
                         "upsampling": Param("interp23tap", "MS to PAN grid: 'interp23tap' or 'nearest' (GDAL -r "
                                                            "nearest)", str, choices=("interp23tap", "nearest"))},
                 citation="GDAL pansharpening (gdal_pansharpen.py / VRT 'WeightedBrovey', E. Rouault, 2015); "
                          "Gillespie et al., RSE 22(3), 1987", aliases=("weighted-brovey",))
def brovey_gdal(images: Sequence[np.ndarray], *, ratio: int | None = None, weights: str | None = None,
                upsampling: str = "interp23tap") -> np.ndarray:
    """GDAL's weighted Brovey: F_b = MS_b * PAN / sum_k(w_k MS_k) (0 where the pseudo-PAN is 0).

    Parameters
    ----------
    images : [pan, ms].  ratio : (inferred).
    weights : one weight per band for the pseudo-panchromatic (GDAL ``-w``); default 1/B each.
    upsampling : 'interp23tap' (toolbox) or 'nearest' (pixel replication, as GDAL ``-r nearest``).

    Returns
    -------
    HxWxB float64 (GDAL rounds to the output type and clips to the bit depth; round the result
    the same way to compare).

    Notes
    -----
    Unlike the toolbox BT, the PAN is not equalised and the intensity is a weighted sum, not a
    mean.

    References
    ----------
    GDAL documentation, "Pansharpening" (gdal_pansharpen, VRT PansharpenedDataset); Gillespie et al., 1987.
    """
    pan, ms_lr, _, r = prepare_inputs(images, ratio, upsample=False)
    nb = ms_lr.shape[2]
    if weights is None:
        wts = np.full(nb, 1.0 / nb)
    else:
        try:
            text = str(weights).strip("[]() ")
            vals = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
        except ValueError:
            raise ParameterError(f"weights must be numbers, got {weights!r}") from None
        if len(vals) != nb:
            raise ParameterError(f"weights needs one value per MS band ({nb}), got {len(vals)}")
        wts = np.asarray(vals)
    if upsampling == "nearest":
        # replication commutes with the per-pixel weighted sum: compute the pseudo-PAN at low resolution
        ms = np.repeat(np.repeat(ms_lr, r, axis=0), r, axis=1)
        pseudo = np.repeat(np.repeat((ms_lr * wts).sum(axis=2), r, axis=0), r, axis=1)
    else:
        ms = upsample_ms(ms_lr, r)
        pseudo = (ms * wts).sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(pseudo != 0, pan / pseudo, 0.0)
    ms *= factor[:, :, None]
    return ms
