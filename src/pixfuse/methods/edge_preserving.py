"""Edge-preserving and saliency-driven fusion: GFF, CBF, ADF, FPDE, TIF, MGFF,
Hybrid-MSD, GFCE, HMSD-GF, VSM-WLS, IFEVIP.

All are ports of the authors' MATLAB codes (as distributed by the authors and
collected in the VIFB benchmark, Zhang et al., CVPRW 2020), rewritten in
vectorised numpy/OpenCV.  Where the published code works on 0-255 images, the
port scales to 0-255 internally so that intensity parameters (kappa, sigma_r,
...) keep the papers' values.  Source order: infrared (or anatomical) first,
visible (or functional) second.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..errors import InputError
from ..ops.bilateral import bilateral_grid, cross_bilateral_filter, rolling_guidance_guided
from ..ops.diffusion import anisotropic_diffusion, fourth_order_pde
from ..ops.filters import box_mean, guided_filter
from ..ops.imfilter import box_blur, gaussian_blur, imfilter
from ..ops.resample import imresize
from ..ops.saliency import histogram_saliency, mean_median_saliency, perceptual_saliency
from ..registry import Param, register_method
from ._util import stack

_IVIF_MED = ("ivif", "medical")


def _f64(img: np.ndarray) -> np.ndarray:
    return np.asarray(img, dtype=np.float64)


def _safe_ratio(num: np.ndarray, den: np.ndarray, default: float) -> np.ndarray:
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), default)


def _kl_weights(details: Sequence[np.ndarray]) -> np.ndarray:
    """Karhunen-Loeve weights: principal eigenvector of the sources' covariance, divided by its sum.

    Follows the ADF/FPDE reference code (``V(:,k) ./ sum(V(:,k))`` for the
    largest eigenvalue, no absolute value).  A degenerate eigenvector (sum 0,
    e.g. all-zero details) gives equal weights.
    """
    x = np.stack([d.ravel() for d in details], 0)
    c = np.atleast_2d(np.cov(x))
    vals, vecs = np.linalg.eigh(c)
    v = vecs[:, int(np.argmax(vals))]
    s = v.sum()
    if not np.isfinite(s) or abs(s) < 1e-12:
        return np.full(len(details), 1.0 / len(details))
    return v / s


# --------------------------------------------------------------------------- GFF


@register_method(
    "gff",
    tasks=("ivif", "medical", "multi_focus"),
    n_inputs=(2, None),
    color="luminance",
    params={
        "r1": Param(45, "guided-filter radius for the base-layer weights", int, 1, 200),
        "eps1": Param(0.3, "guided-filter regularisation for the base-layer weights", float, 1e-12, 100.0),
        "r2": Param(7, "guided-filter radius for the detail-layer weights", int, 1, 200),
        "eps2": Param(1e-6, "guided-filter regularisation for the detail-layer weights", float, 1e-12, 100.0),
    },
    citation=(
        "S. Li, X. Kang and J. Hu, 'Image Fusion With Guided Filtering', IEEE Trans. Image Processing "
        "22(7):2864-2875, 2013."
    ),
    aliases=("guided-filtering-fusion",),
)
def gff(images: Sequence[np.ndarray], *, r1: int = 45, eps1: float = 0.3, r2: int = 7, eps2: float = 1e-6) -> np.ndarray:
    """Guided filtering fusion (GFF): two-scale decomposition with guided-filter-refined weights.

    Each source is split into a base layer (31x31 mean filter) and a detail
    layer.  Saliency is the 11x11 Gaussian (sigma 5) average of the absolute
    3x3 Laplacian; the binary "most salient source" maps are refined by a
    guided filter with the source as guide (``r1, eps1`` for the base layer,
    ``r2, eps2`` for the detail layer), quantised to 8 bits and normalised as
    in Kang's reference code; base and detail layers are fused with their
    weights and added.  Borders are replicated (MATLAB ``'replicate'``).

    Parameters
    ----------
    images : N >= 2 HxW float32 sources in [0, 1]
    r1, eps1, r2, eps2 : guided-filter parameters (paper: 45, 0.3, 7, 1e-6)

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    S. Li, X. Kang and J. Hu, "Image Fusion With Guided Filtering", IEEE Trans.
    Image Processing 22(7):2864-2875, 2013.
    """
    src = stack(images)
    lap = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32)
    sal = np.stack([gaussian_blur(np.abs(imfilter(im, lap, "replicate")), 5.0, 11, "replicate") for im in src])
    labels = np.argmax(sal, axis=0)
    wb, wd = [], []
    for n, im in enumerate(src):
        p = (labels == n).astype(np.float32)
        for w, r, e in ((wb, r1, eps1), (wd, r2, eps2)):
            q = guided_filter(im, p, r, e)
            w.append(np.clip(np.round(q * 255.0), 0, 255) / 255.0 + 1e-12)
    wb_a = np.stack(wb)
    wd_a = np.stack(wd)
    wb_a /= wb_a.sum(0)
    wd_a /= wd_a.sum(0)
    base = np.stack([box_blur(im, 31, "replicate") for im in src])
    detail = src - base
    return ((wb_a * base).sum(0) + (wd_a * detail).sum(0)).astype(np.float32)


# --------------------------------------------------------------------------- CBF


def _cbf_strength(detail: np.ndarray, w: int) -> np.ndarray:
    """Sum of eigenvalues of the horizontal and vertical covariance matrices of every w x w window.

    The eigenvalue sum is the trace, i.e. the sum of the (unbiased) column
    variances plus the sum of the row variances, computed with box sums over a
    reflect-101 extension (Shreyamsha Kumar's ``per_extn_im_fn``).
    """
    r = w // 2
    p = np.pad(np.asarray(detail, dtype=np.float64), r, mode="reflect")
    h, wd = detail.shape

    def boxsum(a: np.ndarray, ky: int, kx: int) -> np.ndarray:
        return cv2.boxFilter(a, cv2.CV_64F, (kx, ky), normalize=False, borderType=cv2.BORDER_CONSTANT)

    s2 = boxsum(p * p, w, w)
    colsum = boxsum(p, w, 1)  # vertical sums (one window column)
    rowsum = boxsum(p, 1, w)  # horizontal sums (one window row)
    sq = boxsum(colsum * colsum, 1, w) + boxsum(rowsum * rowsum, w, 1)
    out = (2.0 * s2 - sq / w) / (w - 1)
    out = out[r : r + h, r : r + wd]
    return np.maximum(out, 0.0)


@register_method(
    "cbf",
    tasks=("ivif", "medical", "multi_focus"),
    n_inputs=(2, 2),
    color="luminance",
    params={
        "sigma_s": Param(1.8, "spatial sigma of the cross bilateral filter (pixels)", float, 0.1, 20.0),
        "sigma_r": Param(25.0, "range sigma of the cross bilateral filter (0-255 grey levels)", float, 0.1, 1000.0),
        "ksize": Param(11, "cross bilateral window size (odd)", int, 3, 31),
        "cov_wsize": Param(5, "window size of the covariance-based detail strength (odd)", int, 3, 31),
    },
    citation=(
        "B. K. Shreyamsha Kumar, 'Image fusion based on pixel significance using cross bilateral filter', "
        "Signal, Image and Video Processing 9(5):1193-1204, 2015."
    ),
    aliases=("cross-bilateral",),
)
def cbf(
    images: Sequence[np.ndarray],
    *,
    sigma_s: float = 1.8,
    sigma_r: float = 25.0,
    ksize: int = 11,
    cov_wsize: int = 5,
) -> np.ndarray:
    """Cross bilateral filter fusion (CBF): pixel weights from detail-layer covariance strength.

    Each source is filtered by a cross bilateral filter whose range kernel is
    computed on the *other* source; the detail layer is the source minus that
    output.  The weight of a pixel is the sum of the eigenvalues of the
    horizontal and vertical covariance matrices of its ``cov_wsize`` window of
    detail (the windows' rows and columns as observations); the fused image is
    the weight-normalised average of the *sources*.  Computed on 0-255 values;
    borders reflect (reflect-101) as in the author's code.

    Parameters
    ----------
    images : two HxW float32 sources in [0, 1]
    sigma_s, sigma_r, ksize : cross bilateral filter (paper: 1.8, 25, 11x11)
    cov_wsize : covariance window (author's code: 5)

    References
    ----------
    B. K. Shreyamsha Kumar, "Image fusion based on pixel significance using
    cross bilateral filter", Signal, Image and Video Processing 9(5):1193-1204, 2015.
    """
    if ksize % 2 == 0 or cov_wsize % 2 == 0:
        raise InputError("cbf: ksize and cov_wsize must be odd")
    x1, x2 = (_f64(im) * 255.0 for im in images)
    d1 = x1 - cross_bilateral_filter(x1, x2, sigma_s, sigma_r, ksize)
    d2 = x2 - cross_bilateral_filter(x2, x1, sigma_s, sigma_r, ksize)
    eps = np.finfo(np.float64).eps
    w1 = _cbf_strength(d1, cov_wsize)
    w2 = _cbf_strength(d2, cov_wsize)
    w1[w1 == 0] = eps
    w2[w2 == 0] = eps
    return ((x1 * w1 + x2 * w2) / (w1 + w2) / 255.0).astype(np.float32)


# --------------------------------------------------------------------------- ADF / FPDE


def _base_detail_kl(images: Sequence[np.ndarray], smoother) -> np.ndarray:
    x = [_f64(im) * 255.0 for im in images]
    base = [smoother(a) for a in x]
    det = [a - b for a, b in zip(x, base)]
    w = _kl_weights(det)
    fused = sum(wi * d for wi, d in zip(w, det)) + sum(base) / len(base)
    return (fused / 255.0).astype(np.float32)


@register_method(
    "adf",
    tasks=_IVIF_MED,
    n_inputs=(2, None),
    color="luminance",
    params={
        "n_iter": Param(10, "anisotropic diffusion iterations", int, 1, 200),
        "dt": Param(0.15, "diffusion time step (stable up to 1/7 ~ 0.143 in theory; the authors use 0.15)", float, 0.001, 0.25),
        "kappa": Param(30.0, "conduction threshold in 0-255 grey levels", float, 0.1, 1000.0),
        "option": Param(1, "conduction function: 1 = exp(-(g/k)^2), 2 = 1/(1+(g/k)^2)", int, choices=(1, 2)),
    },
    citation=(
        "D. P. Bavirisetti and R. Dhuli, 'Fusion of Infrared and Visible Sensor Images Based on Anisotropic "
        "Diffusion and Karhunen-Loeve Transform', IEEE Sensors Journal 16(1):203-209, 2016."
    ),
)
def adf(images: Sequence[np.ndarray], *, n_iter: int = 10, dt: float = 0.15, kappa: float = 30.0, option: int = 1) -> np.ndarray:
    """Anisotropic diffusion fusion (ADF): Perona-Malik base layers, Karhunen-Loeve detail weights.

    Base layers come from Perona-Malik diffusion (8 neighbours, zero
    extension as in the reference code); detail layers are fused with the
    normalised principal eigenvector of their covariance (KL transform), base
    layers are averaged.  Works on 0-255 values.

    References
    ----------
    D. P. Bavirisetti and R. Dhuli, "Fusion of Infrared and Visible Sensor
    Images Based on Anisotropic Diffusion and Karhunen-Loeve Transform",
    IEEE Sensors Journal 16(1):203-209, 2016.
    """
    return _base_detail_kl(images, lambda a: anisotropic_diffusion(a, n_iter, dt, kappa, option))


@register_method(
    "fpde",
    tasks=_IVIF_MED,
    n_inputs=(2, None),
    color="luminance",
    params={
        "n_iter": Param(15, "fourth-order PDE iterations", int, 1, 200),
        "dt": Param(0.9, "time step", float, 0.001, 2.0),
        "k": Param(4.0, "edge threshold of the conduction function (0-255 grey levels)", float, 0.01, 1000.0),
    },
    citation=(
        "D. P. Bavirisetti, G. Xiao and G. Liu, 'Multi-sensor image fusion based on fourth order partial "
        "differential equations', 20th International Conference on Information Fusion (FUSION), 2017, pp. 1-9."
    ),
)
def fpde(images: Sequence[np.ndarray], *, n_iter: int = 15, dt: float = 0.9, k: float = 4.0) -> np.ndarray:
    """Fourth-order PDE fusion (FPDE): You-Kaveh smoothing for base layers, PCA detail weights.

    The base layer is the You-Kaveh fourth-order PDE result rounded to 8 bits
    (the authors' ``fpdepyou`` returns ``uint8``); details are fused with the
    principal-component weights of their covariance, bases averaged.

    References
    ----------
    D. P. Bavirisetti, G. Xiao and G. Liu, "Multi-sensor image fusion based on
    fourth order partial differential equations", FUSION 2017.
    """

    def smoother(a: np.ndarray) -> np.ndarray:
        return np.clip(np.floor(fourth_order_pde(a, n_iter, dt, k) + 0.5), 0, 255)

    return _base_detail_kl(images, smoother)


# --------------------------------------------------------------------------- TIF


@register_method(
    "tif",
    tasks=_IVIF_MED,
    n_inputs=(2, None),
    color="luminance",
    params={
        "mean_size": Param(35, "mean filter size for the base layer and the saliency (odd)", int, 3, 201),
        "median_size": Param(3, "median filter size for the saliency", int, choices=(3, 5)),
    },
    citation=(
        "D. P. Bavirisetti and R. Dhuli, 'Two-scale image fusion of visible and infrared images using "
        "saliency detection', Infrared Physics & Technology 76:52-64, 2016."
    ),
)
def tif(images: Sequence[np.ndarray], *, mean_size: int = 35, median_size: int = 3) -> np.ndarray:
    """Two-scale image fusion (TIF) with mean-median saliency weights.

    Base layer: ``mean_size`` mean filter (circular extension, as the code);
    detail = source - base.  Saliency ``(mean - median_3x3)^2``; detail
    weights ``S_i / sum S``; bases averaged.  Pixels where every saliency is 0
    take equal detail weights (the reference code gives NaN there).

    References
    ----------
    D. P. Bavirisetti and R. Dhuli, "Two-scale image fusion of visible and
    infrared images using saliency detection", Infrared Phys. Technol.
    76:52-64, 2016.
    """
    if mean_size % 2 == 0:
        raise InputError("tif: mean_size must be odd")
    x = [_f64(im) for im in images]
    base = [box_blur(a, mean_size, "circular") for a in x]
    sal = np.stack([mean_median_saliency(a, mean_size, median_size) for a in x])
    tot = sal.sum(0)
    n = len(x)
    w = np.stack([_safe_ratio(s, tot, 1.0 / n) for s in sal])
    det = np.stack([a - b for a, b in zip(x, base)])
    return ((w * det).sum(0) + sum(base) / n).astype(np.float32)


# --------------------------------------------------------------------------- MGFF


@register_method(
    "mgff",
    tasks=_IVIF_MED,
    n_inputs=(2, 2),
    color="luminance",
    params={
        "r": Param(9, "guided-filter radius at every level", int, 1, 100),
        "eps": Param(1000.0 / 255.0**2, "guided-filter regularisation on [0,1] data (authors: 10^3 on 0-255)", float, 1e-8, 10.0),
        "levels": Param(4, "decomposition levels", int, 1, 8),
    },
    citation=(
        "D. P. Bavirisetti, G. Xiao, J. Zhao, R. Dhuli and G. Liu, 'Multi-scale Guided Image and Video Fusion: "
        "A Fast and Efficient Approach', Circuits, Systems, and Signal Processing 38:5576-5605, 2019."
    ),
)
def mgff(images: Sequence[np.ndarray], *, r: int = 9, eps: float = 1000.0 / 255.0**2, levels: int = 4) -> np.ndarray:
    """Multi-scale guided filter fusion (MGFF).

    At every level each source's current base is guided-filtered *with the
    other source's base as the input and its own as the guide* (the authors'
    ``guidedfilter(I1, I2, r, eps)`` call), giving the next bases; the
    differences are the detail layers.  Detail weights are the normalised
    absolute details ``|D_1| / (|D_1| + |D_2|)`` (equal where both are 0); the
    coarsest bases are averaged.

    References
    ----------
    D. P. Bavirisetti, G. Xiao, J. Zhao, R. Dhuli and G. Liu, "Multi-scale
    Guided Image and Video Fusion: A Fast and Efficient Approach", Circuits,
    Systems, and Signal Processing 38:5576-5605, 2019.
    """
    a1, a2 = (np.asarray(im, np.float32) for im in images)
    fused = np.zeros_like(a1, dtype=np.float64)
    for _ in range(levels):
        n1 = guided_filter(a1, a2, r, eps)
        n2 = guided_filter(a2, a1, r, eps)
        d1, d2 = _f64(a1) - n1, _f64(a2) - n2
        s1, s2 = np.abs(d1), np.abs(d2)
        w1 = _safe_ratio(s1, s1 + s2, 0.5)
        fused += w1 * d1 + (1 - w1) * d2
        a1, a2 = n1, n2
    return (fused + 0.5 * (_f64(a1) + _f64(a2))).astype(np.float32)


# --------------------------------------------------------------------------- Hybrid-MSD family


def _gauss_win(img: np.ndarray, sigma: float) -> np.ndarray:
    """MATLAB ``imfilter(img, fspecial('gaussian', 2*floor(3*sigma)+1, sigma), 'symmetric')``."""
    w = int(np.floor(3 * sigma))
    if w == 0:
        return np.asarray(img, dtype=np.float64)
    return gaussian_blur(np.asarray(img, np.float32), sigma, 2 * w + 1, "symmetric").astype(np.float64)


def _hybrid_combine(
    m1: list, m1d: list, m1e: list, m2: list, m2d: list, m2e: list, lam: float, sigma_base: float,
    small_sigma_e: float, smooth_small_d: bool, small_sigma_d: float = 0.0,
) -> np.ndarray:
    """Zhou et al.'s perceptual combination rule (source 2 = infrared, source 1 = visible)."""
    n = len(m1) - 1
    mf = None
    for j in range(n, 1, -1):
        r = np.maximum(np.abs(m2e[j]) - np.abs(m1e[j]), 0.0)
        rmax = r.max()
        p = r / rmax if rmax > 0 else np.zeros_like(r)
        c = np.arctan(lam * p) / np.arctan(lam)
        if j == n:
            cb = _gauss_win(c, sigma_base)
            mf = cb * m2[n] + (1 - cb) * m1[n]
        c = _gauss_win(c, 1.0)
        mf = mf + c * m2e[j] + (1 - c) * m1e[j]
        mf = mf + c * m2d[j] + (1 - c) * m1d[j]
    c0 = (np.abs(m1e[1]) < np.abs(m2e[1])).astype(np.float64)
    c0 = _gauss_win(c0, small_sigma_e)
    mf = mf + c0 * m2e[1] + (1 - c0) * m1e[1]
    c0 = (np.abs(m1d[1]) < np.abs(m2d[1])).astype(np.float64)
    if smooth_small_d:
        c0 = _gauss_win(c0, small_sigma_d)
    return mf + c0 * m2d[1] + (1 - c0) * m1d[1]


def _hybrid_decompose(img: np.ndarray, n_level: int, coarse, fine) -> tuple[list, list, list]:
    """Two smoothing chains: M (coarse, e.g. Gaussian) and ML (edge-preserving).

    ``D_j = M_{j-1} - ML_j`` (small-scale texture), ``E_j = ML_j - M_j``
    (edge features); ``img = sum_j (D_j + E_j) + M_n``.  Index 0 is unused for
    D/E (lists are 1-based like the MATLAB cells).
    """
    m = [img]
    ml = [img]
    d: list = [None]
    e: list = [None]
    for j in range(1, n_level + 1):
        m.append(coarse(m[-1], j))
        ml.append(fine(ml[-1], j))
        d.append(m[j - 1] - ml[j])
        e.append(ml[j] - m[j])
    return m, d, e


@register_method(
    "hybrid-msd",
    tasks=_IVIF_MED,
    n_inputs=(2, 2),
    color="luminance",
    params={
        "levels": Param(4, "decomposition levels", int, 1, 6),
        "sigma_s": Param(2.0, "spatial sigma of the first level (doubles per level)", float, 0.5, 10.0),
        "sigma_r": Param(0.05, "range sigma of the first bilateral level on [0,1] (halves per level)", float, 1e-3, 1.0),
        "lam": Param(30.0, "perceptual weight gain lambda of the arctan weighting", float, 0.1, 1e5),
    },
    citation=(
        "Z. Zhou, B. Wang, S. Li and M. Dong, 'Perceptual fusion of infrared and visible images through a hybrid "
        "multi-scale decomposition with Gaussian and bilateral filters', Information Fusion 30:15-26, 2016."
    ),
    aliases=("hmsd",),
)
def hybrid_msd(
    images: Sequence[np.ndarray], *, levels: int = 4, sigma_s: float = 2.0, sigma_r: float = 0.05, lam: float = 30.0
) -> np.ndarray:
    """Hybrid multi-scale decomposition (Gaussian + bilateral) with perceptual weights.

    Two chains per source: repeated Gaussian filtering (sigma ``sigma_s *
    2^(j-1)``, window ``2*floor(3 sigma)+1``, symmetric border) and repeated
    bilateral filtering (same spatial sigma, range sigma ``sigma_r / 2^(j-1)``
    on [0,1] data, Paris-Durand bilateral grid as in the authors' MEX code).
    Their differences give small-scale textures ``D`` and edge features ``E``.
    Large-scale layers and the base are combined with the infrared weight
    ``atan(lam P)/atan(lam)`` where ``P`` is the normalised excess of infrared
    over visible edge energy (base weights smoothed with a Gaussian of sigma
    ``2 * sigma_s * 2^levels``, layer weights with sigma 1); the finest level
    takes the larger-magnitude coefficient.  Result clipped to [0, 1].

    References
    ----------
    Z. Zhou, B. Wang, S. Li and M. Dong, "Perceptual fusion of infrared and
    visible images through a hybrid multi-scale decomposition with Gaussian and
    bilateral filters", Information Fusion 30:15-26, 2016.
    """
    ir, vis = (_f64(im) * 255.0 for im in images)

    def coarse(a: np.ndarray, j: int) -> np.ndarray:
        return _gauss_win(a, sigma_s * 2 ** (j - 1))

    def fine(a: np.ndarray, j: int) -> np.ndarray:
        return 255.0 * bilateral_grid(np.clip(a / 255.0, 0, 1), sigma_s * 2 ** (j - 1), sigma_r / 2 ** (j - 1))

    m1, d1, e1 = _hybrid_decompose(vis, levels, coarse, fine)
    m2, d2, e2 = _hybrid_decompose(ir, levels, coarse, fine)
    sigma_base = 2 * sigma_s * 2**levels
    mf = _hybrid_combine(m1, d1, e1, m2, d2, e2, lam, sigma_base, 0.2, True, 0.2)
    return (np.clip(mf, 0, 255) / 255.0).astype(np.float32)


def _lambda_from_ps(ir255: np.ndarray, vis255: np.ndarray) -> float:
    rs = perceptual_saliency(ir255) / max(perceptual_saliency(vis255), 1e-12)
    if rs < 0.8:
        return 100.0
    if rs > 1.6:
        return 2000.0
    return 2500.0 * rs - 1900.0


def _hmsd_gf_core(ir255: np.ndarray, vis255: np.ndarray, levels: int, gain: float) -> np.ndarray:
    lam = _lambda_from_ps(ir255, vis255)
    r0, eps0 = 2, 0.1

    def coarse(a: np.ndarray, j: int) -> np.ndarray:
        return guided_filter(a, a, r0 * 2 ** (j - 1), 100.0**2).astype(np.float64)

    def fine(a: np.ndarray, j: int) -> np.ndarray:
        return guided_filter(a, a, r0 * 2 ** (j - 1), (eps0 / 2 ** (j - 1)) ** 2).astype(np.float64)

    m1, d1, e1 = _hybrid_decompose(vis255 / 255.0, levels, coarse, fine)
    m2, d2, e2 = _hybrid_decompose(ir255 / 255.0, levels, coarse, fine)
    sigma_base = 2 * 2.0 * 2**levels
    mf = _hybrid_combine(m1, d1, e1, m2, d2, e2, lam, sigma_base, 1.0, False)
    return np.clip(np.round(mf * gain), 0, 255) / 255.0


@register_method(
    "hmsd-gf",
    tasks=_IVIF_MED,
    n_inputs=(2, 2),
    color="luminance",
    params={
        "levels": Param(4, "decomposition levels", int, 1, 6),
        "gain": Param(275.0, "output scale of the authors' code (fused*gain, clipped at 255); 255 = no brightening", float, 1.0, 1000.0),
    },
    citation=(
        "Z. Zhou, M. Dong, X. Xie and Z. Gao, 'Fusion of infrared and visible images for night-vision context "
        "enhancement', Applied Optics 55(23):6480-6490, 2016."
    ),
)
def hmsd_gf(images: Sequence[np.ndarray], *, levels: int = 4, gain: float = 275.0) -> np.ndarray:
    """Hybrid multi-scale decomposition with guided filters (HMSD-GF), without visibility enhancement.

    The Hybrid-MSD scheme with both chains built from self-guided filters
    (radius ``2 * 2^(j-1)``; eps ``100^2`` for the coarse chain, ``(0.1 /
    2^(j-1))^2`` for the edge-preserving chain); the arctan gain ``lambda``
    is chosen automatically from the relative perceptual saliency
    ``PS(IR)/PS(VIS)`` (100 below 0.8, 2000 above 1.6, linear between).  As in
    the authors' code the result is scaled by ``gain/255`` (275/255) and
    rounded to 8 bits.

    References
    ----------
    Z. Zhou, M. Dong, X. Xie and Z. Gao, "Fusion of infrared and visible images
    for night-vision context enhancement", Applied Optics 55(23):6480-6490, 2016.
    """
    ir, vis = (_f64(im) * 255.0 for im in images)
    return _hmsd_gf_core(ir, vis, levels, gain).astype(np.float32)


def _fast_guided_filter(i: np.ndarray, p: np.ndarray, r: int, eps: float, s: float) -> np.ndarray:
    """He & Sun's fast guided filter (subsampled box statistics, bilinear upsampling), Zhou's variant."""
    if s > 1:
        i_sub = imresize(i, 1.0 / s, method="nearest")
        p_sub = imresize(p, 1.0 / s, method="nearest")
    else:
        i_sub, p_sub = i, p
    r_sub = max(int(round(r / s)), 1)
    mean_i = box_mean(i_sub, r_sub).astype(np.float64)
    mean_p = box_mean(p_sub, r_sub).astype(np.float64)
    cov = box_mean(i_sub * p_sub, r_sub) - mean_i * mean_p
    var = box_mean(i_sub * i_sub, r_sub) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    ma = box_mean(a, r_sub).astype(np.float64)
    mb = box_mean(b, r_sub).astype(np.float64)
    if s > 1:
        ma = imresize(ma, output_shape=i.shape, method="bilinear")
        mb = imresize(mb, output_shape=i.shape, method="bilinear")
    return ma * i + mb


def visibility_enhance(img255: np.ndarray) -> np.ndarray:
    """GFCE visibility enhancement of a 0-255 image (Zhou et al. 2016, ``Ehn_GF``).

    Min-max stretch to 0-255, log-domain base/detail split with a fast guided
    filter (radius ``floor(0.04 max(H, W))``, eps 0.1^2, subsampling r/4),
    base compressed to a log-contrast of ``log 4`` while details are kept,
    then ``exp`` and a cap at 255.
    """
    x = _f64(img255)
    mi, ma = x.min(), x.max()
    x1 = (x - mi) / (ma - mi) * 255.0 if ma > mi else np.zeros_like(x)
    log_img = np.log(x1 + 1)
    r = int(np.floor(0.04 * max(x.shape)))
    base = 255.0 * _fast_guided_filter(x1 / 255.0, x1 / 255.0, max(r, 1), 0.1**2, max(1.0, r / 4))
    log_base = np.log(np.maximum(base, -0.999) + 1)
    rng = log_base.max() - log_base.min()
    cf = np.log(4.0) / rng if rng > 0 else 1.0
    out = np.exp(cf * log_base + (log_img - log_base) + (1 - cf) * log_base.max())
    return np.minimum(out, 255.0)


@register_method(
    "gfce",
    tasks=_IVIF_MED,
    n_inputs=(2, 2),
    color="luminance",
    params={
        "levels": Param(4, "decomposition levels", int, 1, 6),
        "gain": Param(275.0, "output scale of the authors' code (fused*gain, clipped at 255)", float, 1.0, 1000.0),
    },
    citation=(
        "Z. Zhou, M. Dong, X. Xie and Z. Gao, 'Fusion of infrared and visible images for night-vision context "
        "enhancement', Applied Optics 55(23):6480-6490, 2016."
    ),
)
def gfce(images: Sequence[np.ndarray], *, levels: int = 4, gain: float = 275.0) -> np.ndarray:
    """Guided-filter context enhancement (GFCE): visibility enhancement, then HMSD-GF fusion.

    The visible image is enhanced by :func:`visibility_enhance`, the infrared
    image min-max stretched to 0-255, and both fused by the HMSD-GF rule
    (automatic lambda from perceptual saliency, output scaled by 275/255).

    References
    ----------
    Z. Zhou, M. Dong, X. Xie and Z. Gao, "Fusion of infrared and visible images
    for night-vision context enhancement", Applied Optics 55(23):6480-6490, 2016.
    """
    ir, vis = (_f64(im) * 255.0 for im in images)
    vis_e = visibility_enhance(vis)
    mi, ma = ir.min(), ir.max()
    ir_n = (ir - mi) / (ma - mi) * 255.0 if ma > mi else np.zeros_like(ir)
    return _hmsd_gf_core(ir_n, vis_e, levels, gain).astype(np.float32)


# --------------------------------------------------------------------------- VSM-WLS


@register_method(
    "vsm-wls",
    tasks=_IVIF_MED,
    n_inputs=(2, 2),
    color="luminance",
    params={
        "levels": Param(4, "decomposition levels (RGF levels + one Gaussian level)", int, 2, 6),
        "lam": Param(0.01, "weight of the WLS term pulling details to the infrared detail", float, 0.0, 100.0),
        "sigma_r": Param(0.05, "range parameter of the rolling guidance filter ([0,1] data)", float, 1e-3, 1.0),
    },
    citation=(
        "J. Ma, Z. Zhou, B. Wang and H. Zong, 'Infrared and visible image fusion based on visual saliency map "
        "and weighted least square optimization', Infrared Physics & Technology 82:8-17, 2017."
    ),
    aliases=("vsmwls",),
)
def vsm_wls(images: Sequence[np.ndarray], *, levels: int = 4, lam: float = 0.01, sigma_r: float = 0.05) -> np.ndarray:
    """Visual saliency map + weighted least squares fusion (VSM-WLS).

    Decomposition: rolling guidance filter (guided-filter variant, 4
    iterations, spatial sigma 2, 4, 8, ...) for the first ``levels-1``
    levels and a Gaussian (sigma 2) for the last.  Base layers are fused with
    histogram-contrast saliency weights ``0.5 + 0.5 (V_1 - V_2)``; the finest
    detail by max-absolute choice; each other detail level by the WLS rule of
    the authors' code: a Gaussian-smoothed max-absolute map ``M`` is pulled
    towards the infrared detail where the visible detail is weak,
    ``D = (M + lam A D_ir) / (1 + lam A)`` with ``A = 1/(|mean_7x7(D_vis)| + 1e-6)``
    (the WLS system is diagonal, so it is solved in closed form).

    References
    ----------
    J. Ma, Z. Zhou, B. Wang and H. Zong, "Infrared and visible image fusion
    based on visual saliency map and weighted least square optimization",
    Infrared Phys. Technol. 82:8-17, 2017.
    """
    ir, vis = (np.asarray(im, np.float32) for im in images)

    def decompose(img: np.ndarray) -> list[np.ndarray]:
        g = [img]
        lyr = []
        ss = 2.0
        for _ in range(levels - 1):
            g.append(rolling_guidance_guided(g[-1], ss, sigma_r, 4))
            lyr.append(_f64(g[-2]) - g[-1])
            ss *= 2
        last = gaussian_blur(g[-1], 2.0, 2 * int(np.uint8(6)) + 1, "replicate")
        lyr.append(_f64(g[-1]) - last)
        lyr.append(_f64(last))
        return lyr

    l1 = decompose(ir)
    l2 = decompose(vis)
    w1 = histogram_saliency(ir)
    w2 = histogram_saliency(vis)
    fused = (0.5 + 0.5 * (w1 - w2)) * l1[-1] + (0.5 + 0.5 * (w2 - w1)) * l2[-1]
    c0 = np.abs(l1[0]) < np.abs(l2[0])
    fused += np.where(c0, l2[0], l1[0])
    for i in range(levels - 1, 0, -1):
        c = _gauss_win((np.abs(l1[i]) < np.abs(l2[i])).astype(np.float64), 2.0)
        m = c * l2[i] + (1 - c) * l1[i]
        a = 1.0 / (np.abs(box_blur(l2[i], 7, "replicate")) + 1e-6)
        fused += (m + lam * a * l1[i]) / (1 + lam * a)
    return fused.astype(np.float32)


# --------------------------------------------------------------------------- IFEVIP


def _qtdecomp(img: np.ndarray, thr: float, min_dim: int) -> list[tuple[int, int, int]]:
    """Quadtree decomposition of a square power-of-two image (MATLAB ``qtdecomp(I, thr, mindim)``).

    A block is split while its dynamic range exceeds ``thr`` and its halves are
    at least ``min_dim``.  Returns ``(row, col, size)`` of the leaves.
    """
    n = img.shape[0]
    leaves = []
    todo = [(0, 0, n)]
    while todo:
        size = todo[0][2]
        nxt = []
        for y, x, s in todo:
            blk = img[y : y + s, x : x + s]
            if s // 2 >= min_dim and float(blk.max()) - float(blk.min()) > thr:
                h = s // 2
                nxt += [(y, x, h), (y + h, x, h), (y, x + h, h), (y + h, x + h, h)]
            else:
                leaves.append((y, x, s))
        todo = nxt
        del size
    return leaves


_BEZIER_M = np.array([[-1, 3, -3, 1], [3, -6, 3, 0], [-3, 3, 0, 0], [1, 0, 0, 0]], dtype=np.float64)


def _quad_bezier_background(leaves: list[tuple[int, int, int]], img: np.ndarray) -> np.ndarray:
    """Zhang et al.'s Bezier-surface background on the quadtree (``QuadReconstructRefined``).

    Each leaf of size ``s`` (plus one pixel of overlap) is replaced by the bicubic
    Bezier patch through 4x4 control points taken at offsets ``0, s/2-1,
    3s/4-1, s``; larger leaves are drawn first.
    """
    p = np.pad(_f64(img), ((0, 1), (0, 1)), mode="edge")
    out = np.zeros_like(p)
    for s in sorted({b[2] for b in leaves}, reverse=True):
        blocks = [(y, x) for y, x, sz in leaves if sz == s]
        dim = s + 1
        sub = s // 4
        rows = np.array([0, 2 * sub - 1, 3 * sub - 1, 4 * sub])
        u = np.arange(dim, dtype=np.float64) / (dim - 1)
        uu = np.stack([u**3, u**2, u, np.ones_like(u)], 1)
        lm = uu @ _BEZIER_M
        rm = _BEZIER_M @ uu.T
        ys = np.array([b[0] for b in blocks])
        xs = np.array([b[1] for b in blocks])
        ctrl = p[ys[:, None, None] + rows[None, :, None], xs[:, None, None] + rows[None, None, :]]
        patches = np.einsum("yi,bij,jx->byx", lm, ctrl, rm)
        for (y, x), patch in zip(blocks, patches):
            out[y : y + dim, x : x + dim] = patch
    return out[:-1, :-1]


def _entropy_u8(a: np.ndarray) -> float:
    h = np.bincount(a.ravel().astype(np.int64), minlength=256).astype(np.float64)
    p = h[h > 0] / a.size
    return float(-(p * np.log2(p)).sum())


def _u8(a: np.ndarray) -> np.ndarray:
    """MATLAB ``uint8()`` conversion: round half away from zero and saturate."""
    return np.clip(np.floor(a + 0.5), 0, 255)


@register_method(
    "ifevip",
    tasks=_IVIF_MED,
    n_inputs=(2, 2),
    color="luminance",
    params={
        "quad_norm_dim": Param(512, "side of the resized infrared image for the quadtree (power of two)", int, choices=(64, 128, 256, 512, 1024, 2048)),
        "quad_min_dim": Param(32, "smallest quadtree block (power of two)", int, choices=(4, 8, 16, 32, 64, 128)),
        "gauss_scale": Param(9, "size of the Gaussian smoothing the background (sigma = size/2)", int, 1, 63),
        "max_ratio": Param(0.001, "fraction of brightest pixels whose mean sets the feature gain", float, 1e-6, 1.0),
        "std_ratio": Param(0.8, "upper bound of the feature gain", float, 0.0, 10.0),
    },
    citation=(
        "Y. Zhang, L. Zhang, X. Bai and L. Zhang, 'Infrared and visual image fusion through infrared feature "
        "extraction and visual information preservation', Infrared Physics & Technology 83:227-237, 2017."
    ),
)
def ifevip(
    images: Sequence[np.ndarray],
    *,
    quad_norm_dim: int = 512,
    quad_min_dim: int = 32,
    gauss_scale: int = 9,
    max_ratio: float = 0.001,
    std_ratio: float = 0.8,
) -> np.ndarray:
    """Infrared feature extraction + visual information preservation (IFEVIP).

    The infrared background is reconstructed from a quadtree decomposition
    (threshold 0.2 of the range, on the IR resized to ``quad_norm_dim``
    squared) of the grey-eroded image with Bezier patches, resized back
    (MATLAB bicubic) and Gaussian-smoothed (zero border, as the code); the
    bright infrared features ``IR - background`` plus the entropy-weighted
    difference ``(IR - VIS) H(IR)/H(VIS)`` are added, where positive, to the
    visible image with a gain ``min(255 / mean(top max_ratio of VIS + F), std_ratio)``.
    8-bit arithmetic (rounding, saturation) is emulated as in the code.

    References
    ----------
    Y. Zhang, L. Zhang, X. Bai and L. Zhang, "Infrared and visual image fusion
    through infrared feature extraction and visual information preservation",
    Infrared Phys. Technol. 83:227-237, 2017.
    """
    ir = _u8(_f64(images[0]) * 255.0)
    vis = _u8(_f64(images[1]) * 255.0)
    small = _u8(imresize(ir, output_shape=(quad_norm_dim, quad_norm_dim), method="bicubic"))
    leaves = _qtdecomp(small, 0.2 * 255.0, quad_min_dim)
    k = np.ones((quad_min_dim, quad_min_dim), np.uint8)
    anchor = (quad_min_dim - 1) // 2
    eroded = cv2.erode(small.astype(np.uint8), k, anchor=(anchor, anchor), borderType=cv2.BORDER_CONSTANT, borderValue=255)
    bg = _quad_bezier_background(leaves, eroded.astype(np.float64))
    bg = imresize(bg, output_shape=ir.shape, method="bicubic")
    if gauss_scale % 2 == 0:
        raise InputError(f"ifevip: gauss_scale must be odd, got {gauss_scale}")
    if gauss_scale > 1:
        bg = gaussian_blur(bg, gauss_scale / 2.0, gauss_scale, "zero")
    feat = np.maximum(ir - _u8(bg), 0)
    hv = _entropy_u8(vis)
    ratio_h = _entropy_u8(ir) / hv if hv > 0 else 1.0
    add = feat + (ir - vis) * ratio_h
    added = np.where(add > 0, add, 0) + vis
    k_top = max(int(np.floor(max_ratio * added.size + 0.5)), 1)
    top = np.partition(added.ravel(), added.size - k_top)[added.size - k_top :]
    max_mean = float(top.mean())
    gain = min(255.0 / max_mean, std_ratio) if max_mean > 0 else std_ratio
    out = np.minimum(vis + _u8(add * gain), 255.0)
    return (out / 255.0).astype(np.float32)
