"""Hyperspectral-multispectral fusion (task ``hsi_msi``): a low-resolution HSI + a high-resolution MSI.

Every method takes ``[hsi, msi]``: ``hsi`` is ``h x w x L`` (L bands, low
spatial resolution), ``msi`` is ``H x W x M`` (M < L bands) with ``H = r h``,
``W = r w`` for an integer ratio r; values are non-negative reflectance-like
floats (any scale, e.g. [0, 1]).  They return the ``H x W x L`` estimate of
the high-resolution HSI (float32).  None needs the camera's spectral response
or the PSF: they are estimated from the data (CNMF, hypersharpening) or
assumed Gaussian with FWHM = ratio (HySure's ``sigma``; see
:mod:`pixfuse.ops.psf`).

Methods
-------
``hs-upsample``
    Bicubic upsampling of the HSI alone (no MSI): the floor every fusion
    method must beat.
``hs-detail``
    Baseline: upsampled HSI plus the high-pass detail of the MSI intensity
    (mean of the MSI bands), with a regression gain per band.
``hs-glp``
    Hypersharpening (Selva et al. 2015): for each HS band a synthetic
    high-resolution image is regressed from the MSI bands at low resolution,
    and its high-pass detail is injected with the generalised Laplacian
    pyramid (Gaussian low-pass of FWHM = ratio).
``cnmf``
    Coupled non-negative matrix factorisation (Yokoya et al. 2012).
``hysure``
    Subspace-based fusion with vector total variation (Simoes et al. 2015),
    solved by ADMM with FFT-diagonalised blur.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError, ShapeMismatchError
from ..ops.psf import fwhm_sigma, gaussian_otf, resize
from ..registry import Param, register_method

_EPS = 1e-12


def _check(images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
    if len(images) != 2:
        raise InputError(f"hsi_msi fusion needs [hsi, msi], got {len(images)} images")
    hsi = np.asarray(images[0], dtype=np.float64)
    msi = np.asarray(images[1], dtype=np.float64)
    if msi.ndim == 2:
        msi = msi[:, :, None]
    if hsi.ndim != 3:
        raise InputError(f"the HSI must be h x w x L, got shape {hsi.shape}")
    if not (np.isfinite(hsi).all() and np.isfinite(msi).all()):
        raise InputError("HSI/MSI contain NaN or infinite values")
    h, w, L = hsi.shape
    H, W, M = msi.shape
    if H % h or W % w or H // h != W // w or H < h:
        raise ShapeMismatchError(f"MSI {W}x{H} is not an integer multiple of the HSI {w}x{h}")
    if M >= L:
        raise InputError(f"the MSI has {M} bands and the HSI {L}: the HSI must have more bands (did you swap them?)")
    return hsi, msi, H // h


def _upsample(cube: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return resize(cube, shape).astype(np.float64)


def _lowpass(img: np.ndarray, ratio: int) -> np.ndarray:
    """Periodic Gaussian low-pass of FWHM = ratio (GLP analysis filter), same size."""
    a = img if img.ndim == 3 else img[:, :, None]
    h, w = a.shape[:2]
    otf = gaussian_otf((h, w), fwhm_sigma(ratio))
    out = np.fft.irfft2(np.fft.rfft2(a, axes=(0, 1)) * otf[:, :, None], s=(h, w), axes=(0, 1))
    return out if img.ndim == 3 else out[:, :, 0]


def _lr_version(img: np.ndarray, ratio: int) -> np.ndarray:
    """Low-resolution version of a high-resolution map (blur + area decimation), low-res grid."""
    h, w = img.shape[:2]
    return resize(_lowpass(img, ratio), (h // ratio, w // ratio)).astype(np.float64)


_CITE_SELVA = ("M. Selva, B. Aiazzi, F. Butera, L. Chiarantini, S. Baronti, \"Hyper-sharpening: a first approach on "
               "SIM-GA data,\" IEEE J. Sel. Topics Appl. Earth Observ. Remote Sens. 8(6):3008-3024, 2015")
_CITE_CNMF = ("N. Yokoya, T. Yairi, A. Iwasaki, \"Coupled nonnegative matrix factorization unmixing for "
              "hyperspectral and multispectral data fusion,\" IEEE Trans. Geosci. Remote Sens. 50(2):528-537, 2012")
_CITE_HYSURE = ("M. Simoes, J. Bioucas-Dias, L. B. Almeida, J. Chanussot, \"A convex formulation for hyperspectral "
                "image superresolution via subspace-based regularization,\" IEEE Trans. Geosci. Remote Sens. "
                "53(6):3373-3388, 2015")


@register_method("hs-upsample", tasks=("hsi_msi",), n_inputs=(2, 2), color="native", params={},
                 citation="Bicubic interpolation (R. Keys, IEEE Trans. ASSP 29(6):1153-1160, 1981)")
def hs_upsample(images: Sequence[np.ndarray]) -> np.ndarray:
    """Bicubic upsampling of the HSI to the MSI grid, ignoring the MSI (lower bound).

    Parameters
    ----------
    images
        ``[hsi, msi]`` (see the module docstring); only the MSI's size is used.

    Returns
    -------
    ``H x W x L`` float32.

    References
    ----------
    R. Keys, "Cubic convolution interpolation for digital image processing," IEEE Trans. ASSP, 1981.
    """
    hsi, msi, _ = _check(images)
    return _upsample(hsi, msi.shape[:2]).astype(np.float32)


@register_method("hs-detail", tasks=("hsi_msi",), n_inputs=(2, 2), color="native", params={},
                 citation="Component-substitution detail injection with regression gains (B. Aiazzi, S. Baronti, "
                          "M. Selva, IEEE Trans. Geosci. Remote Sens. 45(10):3230-3239, 2007)")
def hs_detail(images: Sequence[np.ndarray]) -> np.ndarray:
    """Baseline: upsampled HSI plus the MSI intensity's high-resolution detail, one gain per band.

    ``F_l = up(HSI_l) + g_l (I - I_lp)`` with ``I`` the mean of the MSI bands,
    ``I_lp`` its low-resolution version (Gaussian FWHM = ratio, area
    decimation) brought back with the same bicubic upsampler as the HSI, and
    ``g_l = cov(up(HSI_l), I_lp) / var(I_lp)`` (the Gram-Schmidt-style
    injection gain).

    Parameters
    ----------
    images
        ``[hsi, msi]``.

    Returns
    -------
    ``H x W x L`` float32.

    References
    ----------
    B. Aiazzi, S. Baronti, M. Selva, "Improving component substitution pansharpening through multivariate
    regression of MS+Pan data," IEEE Trans. Geosci. Remote Sens. 45(10):3230-3239, 2007.
    """
    hsi, msi, r = _check(images)
    shape = msi.shape[:2]
    up = _upsample(hsi, shape)
    inten = msi.mean(axis=2)
    inten_lp = _upsample(_lr_version(inten, r), shape)
    d = inten_lp - inten_lp.mean()
    gains = np.tensordot(up - up.mean(axis=(0, 1)), d, axes=([0, 1], [0, 1])) / max(float((d * d).sum()), _EPS)
    return np.clip(up + (inten - inten_lp)[:, :, None] * gains, 0, None).astype(np.float32)


@register_method("hs-glp", tasks=("hsi_msi",), n_inputs=(2, 2), color="native",
                 params={"injection": Param("add", "detail injection: additive ('add') or high-pass modulation "
                                                   "('hpm')", str, choices=("add", "hpm"))},
                 citation=_CITE_SELVA)
def hs_glp(images: Sequence[np.ndarray], *, injection: str = "add") -> np.ndarray:
    """Hypersharpening with regression-synthesised images and GLP detail injection.

    For each HS band ``l`` the MSI bands and a constant are regressed (least
    squares) onto the band at low resolution, ``HSI_l ~ [MSI_lr, 1] w_l``;
    the synthetic high-resolution image ``P_l = [MSI, 1] w_l`` then plays the
    PAN of an MTF-GLP fusion: ``F_l = up(HSI_l) + (P_l - P_l,lp)`` (``add``) or
    ``F_l = up(HSI_l) * P_l / P_l,lp`` (``hpm``), with ``P_l,lp`` the
    low-pass/decimated/upsampled ``P_l`` (Gaussian of FWHM = ratio).

    Parameters
    ----------
    images
        ``[hsi, msi]``.
    injection
        ``"add"`` (default, MTF-GLP) or ``"hpm"`` (multiplicative GLP-HPM; the low-pass image is
        floored at 1 % of its mean so dark pixels do not explode).

    Returns
    -------
    ``H x W x L`` float32.

    References
    ----------
    M. Selva et al., "Hyper-sharpening: a first approach on SIM-GA data," IEEE JSTARS 8(6), 2015;
    B. Aiazzi et al., "MTF-tailored multiscale fusion of high-resolution MS and Pan imagery," PE&RS 72(5), 2006.
    """
    hsi, msi, r = _check(images)
    H, W, M = msi.shape
    h, w, L = hsi.shape
    up = _upsample(hsi, (H, W))
    msi_lr = _lr_version(msi, r)
    A = np.concatenate([msi_lr.reshape(-1, M), np.ones((h * w, 1))], axis=1)
    coef, *_ = np.linalg.lstsq(A, hsi.reshape(-1, L), rcond=None)  # (M+1) x L
    P = msi.reshape(-1, M) @ coef[:M] + coef[M]
    P = P.reshape(H, W, L)
    P_lp = _upsample(_lr_version(P, r), (H, W))
    if injection == "add":
        out = up + (P - P_lp)
    else:
        floor = 0.01 * np.abs(P_lp).mean(axis=(0, 1))
        out = up * P / np.maximum(P_lp, floor)
    return np.clip(out, 0, None).astype(np.float32)


# --------------------------------------------------------------------------------------------- CNMF

def vca(Y: np.ndarray, p: int, seed: int = 0) -> np.ndarray:
    """Vertex component analysis: indices of ``p`` pixels (columns of the ``L x N`` matrix Y) that are endmembers.

    J. M. P. Nascimento, J. M. Bioucas-Dias, "Vertex component analysis: a fast algorithm to unmix
    hyperspectral data," IEEE Trans. Geosci. Remote Sens. 43(4):898-910, 2005.
    """
    L, N = Y.shape
    rng = np.random.default_rng(seed)
    y_m = Y.mean(axis=1, keepdims=True)
    Y0 = Y - y_m
    U = np.linalg.svd(Y0 @ Y0.T / N)[0][:, :p]
    x_p = U.T @ Y0
    P_y = float((Y ** 2).sum() / N)
    P_x = float((x_p ** 2).sum() / N + (y_m ** 2).sum())
    snr = 10 * np.log10(max(P_x - p / L * P_y, _EPS) / max(P_y - P_x, _EPS))
    if snr < 15 + 10 * np.log10(p):  # projection onto a (p-1)-dim affine subspace
        x = x_p[:p - 1]
        c = np.sqrt((x ** 2).sum(axis=0)).max()
        y = np.vstack([x, c * np.ones((1, N))])
    else:  # projective projection
        U = np.linalg.svd(Y @ Y.T / N)[0][:, :p]
        x = U.T @ Y
        u = x.mean(axis=1)
        y = x / np.where(np.abs(u @ x) < _EPS, _EPS, u @ x)[None, :]
    idx = np.zeros(p, dtype=int)
    A = np.zeros((p, p))
    A[-1, 0] = 1.0
    for i in range(p):
        wv = rng.random(p)
        f = wv - A @ np.linalg.pinv(A) @ wv
        f /= max(np.linalg.norm(f), _EPS)
        idx[i] = int(np.argmax(np.abs(f @ y)))
        A[:, i] = y[:, idx[i]]
    return idx


def virtual_dimensionality(Y: np.ndarray, pf: float = 5e-2) -> int:
    """Number of endmembers by the Harsanyi-Farrand-Chang Neyman-Pearson test (``L x N`` data).

    C.-I Chang, Q. Du, "Estimation of number of spectrally distinct signal sources in hyperspectral imagery,"
    IEEE Trans. Geosci. Remote Sens. 42(3):608-619, 2004.
    """
    from scipy.stats import norm

    L, N = Y.shape
    R = Y @ Y.T / N
    m = Y.mean(axis=1, keepdims=True)
    K = R - m @ m.T
    lr = np.sort(np.linalg.eigvalsh(R))[::-1]
    lk = np.sort(np.linalg.eigvalsh(K))[::-1]
    sigma = np.sqrt(2.0 * (lr ** 2 + lk ** 2) / N)
    tau = norm.ppf(1.0 - pf) * sigma
    return int(np.sum((lr - lk) > tau))


def _nnls_srf(hsi: np.ndarray, msi_lr: np.ndarray) -> np.ndarray:
    """Relative spectral responses ``M x L``: non-negative least squares of each LR MSI band on the HSI bands."""
    from scipy.optimize import nnls

    A = hsi.reshape(-1, hsi.shape[2])
    return np.stack([nnls(A, msi_lr[:, :, k].ravel(), maxiter=500)[0] for k in range(msi_lr.shape[2])])


def _cost(V: np.ndarray, W: np.ndarray, Hm: np.ndarray, rows: int) -> float:
    return float(((V[:rows] - W[:rows] @ Hm) ** 2).sum())


def _upd_h(V: np.ndarray, W: np.ndarray, Hm: np.ndarray) -> np.ndarray:
    return Hm * (W.T @ V) / np.maximum(W.T @ W @ Hm, _EPS)


def _upd_w(V: np.ndarray, W: np.ndarray, Hm: np.ndarray, rows: int) -> np.ndarray:
    W = W.copy()
    W[:rows] = W[:rows] * (V[:rows] @ Hm.T) / np.maximum(W[:rows] @ Hm @ Hm.T, _EPS)
    return W


def _unmix(V: np.ndarray, W: np.ndarray, Hm: np.ndarray, rows: int, n_iter: int, tol: float,
           first: str, alt_w: bool, alt_h: bool) -> tuple[np.ndarray, np.ndarray]:
    """Yokoya's two-stage NMF: update ``first`` ('H' or 'W') alone until it settles, then alternate.

    ``rows`` is the number of data rows (the last row of V and W is the sum-to-one row).  A step
    that lowers the cost by less than ``tol`` (relative) is undone and ends the stage.
    """
    cost0 = 0.0
    for q in range(n_iter):
        old = (W, Hm)
        if first == "H":
            Hm = _upd_h(V, W, Hm)
        else:
            W = _upd_w(V, W, Hm, rows)
        cost = _cost(V, W, Hm, rows)
        if q > 0 and (cost0 - cost) / max(cost, _EPS) < tol:
            W, Hm = old
            break
        cost0 = cost
    for _ in range(n_iter - 1):
        old = (W, Hm)
        if first == "H":
            if alt_w:
                W = _upd_w(V, W, Hm, rows)
            Hm = _upd_h(V, W, Hm)
        else:
            if alt_h:
                Hm = _upd_h(V, W, Hm)
            W = _upd_w(V, W, Hm, rows)
        cost = _cost(V, W, Hm, rows)
        if (cost0 - cost) / max(cost, _EPS) < tol:
            W, Hm = old
            break
        cost0 = cost
    return W, Hm


def _resize_rows(Hm: np.ndarray, src: tuple[int, int], dst: tuple[int, int]) -> np.ndarray:
    """Resize every row of a K x (src pixels) abundance matrix to ``dst`` pixels."""
    maps = Hm.T.reshape(src[0], src[1], -1)
    out = resize(maps, dst).astype(np.float64)
    return np.clip(out.reshape(dst[0] * dst[1], -1).T, 0, None)


@register_method(
    "cnmf", tasks=("hsi_msi",), n_inputs=(2, 2), color="native",
    params={
        "n_endmembers": Param(0, "number of endmembers; 0 = virtual dimensionality (HFC, Pf = 0.05)", int, 0, 200),
        "n_inner": Param(100, "maximum NMF iterations per unmixing stage (reference code: 100)", int, 1, 10000),
        "n_outer": Param(1, "outer (coupled) iterations (reference code: 1 for real data, 3-5 synthetic)", int,
                         1, 50),
        "tol": Param(1e-8, "relative cost decrease that ends an NMF stage", float, 0.0, 1.0),
    },
    citation=_CITE_CNMF)
def cnmf(images: Sequence[np.ndarray], *, n_endmembers: int = 0, n_inner: int = 100, n_outer: int = 1,
         tol: float = 1e-8) -> np.ndarray:
    """Coupled non-negative matrix factorisation (CNMF) fusion.

    Alternately unmixes the HSI (``V_h ~ W_h H_h``) and the MSI
    (``V_m ~ W_m H_m``) with multiplicative NMF updates and a sum-to-one row;
    the two factorisations are coupled through the spectral response
    (``W_m = R W_h``, with R estimated by non-negative least squares of the
    decimated MSI on the HSI, as in Yokoya et al. 2013) and through the
    spatial degradation (``H_h`` initialised by reducing ``H_m``). The fused
    image is ``W_h H_m``.  Endmembers are initialised by VCA; their number by
    the virtual dimensionality.  Constants follow the authors' reference
    code (2015): sum-to-one weight ``2 sqrt(mean(MSI)/0.7455) / M^3``, MSI
    endmembers kept fixed for MSIs of at most three bands.

    Parameters
    ----------
    images
        ``[hsi, msi]``.
    n_endmembers
        Number of endmembers (0: virtual dimensionality, at least 3).
    n_inner
        Maximum iterations of each NMF stage.
    n_outer
        Coupled outer iterations.
    tol
        Convergence threshold of the NMF stages.

    Returns
    -------
    ``H x W x L`` float32.

    References
    ----------
    N. Yokoya, T. Yairi, A. Iwasaki, "Coupled nonnegative matrix factorization unmixing for hyperspectral and
    multispectral data fusion," IEEE Trans. Geosci. Remote Sens. 50(2):528-537, 2012.
    N. Yokoya, N. Mayumi, A. Iwasaki, "Cross-calibration for data fusion of EO-1/Hyperion and Terra/ASTER,"
    IEEE JSTARS 6(2):419-426, 2013.
    """
    hsi, msi, r = _check(images)
    hsi = np.clip(hsi, 0, None)
    msi = np.clip(msi, 0, None)
    h, w, L = hsi.shape
    H, W, M = msi.shape
    srf = _nnls_srf(hsi, resize(msi, (h, w)).astype(np.float64))
    delta = 2.0 * np.sqrt(msi.mean() / 0.7455) / M ** 3
    Vh = hsi.reshape(-1, L).T
    Vm = msi.reshape(-1, M).T
    K = n_endmembers or max(3, virtual_dimensionality(Vh))
    K = min(K, L, Vh.shape[1])
    idx = vca(Vh, K)
    Wh = np.vstack([Vh[:, idx], delta * np.ones((1, K))])
    Hh = np.ones((K, h * w)) / K
    Vh1 = np.vstack([Vh, delta * np.ones((1, h * w))])
    Vm1 = np.vstack([Vm, delta * np.ones((1, H * W))])
    # initialisation: HS unmixing (H first), then MS unmixing with W_m = R W_h
    Wh, Hh = _unmix(Vh1, Wh, Hh, L, n_inner, tol, "H", True, True)
    Wm = np.vstack([srf @ Wh[:L], delta * np.ones((1, K))])
    Hm = _resize_rows(Hh, (h, w), (H, W))
    Wm, Hm = _unmix(Vm1, Wm, Hm, M, n_inner, tol, "H", M > 3, True)
    for it in range(n_outer):
        Hh = _resize_rows(Hm, (H, W), (h, w))
        Wh, Hh = _unmix(Vh1, Wh, Hh, L, n_inner, tol, "W", True, M > 3)
        if it < n_outer - 1:
            Wm = Wm.copy()
            Wm[:M] = srf @ Wh[:L]
            Wm, Hm = _unmix(Vm1, Wm, Hm, M, n_inner, tol, "H", M > 3, True)
    out = (Wh[:L] @ Hm).T.reshape(H, W, L)
    return np.clip(out, 0, None).astype(np.float32)


# ------------------------------------------------------------------------------------------- HySure

def _diff_otfs(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """rfft2 transfer functions of periodic horizontal and vertical first differences."""
    h, w = shape
    kh = np.zeros((h, w))
    kh[0, 0], kh[0, -1] = 1.0, -1.0
    kv = np.zeros((h, w))
    kv[0, 0], kv[-1, 0] = 1.0, -1.0
    return np.fft.rfft2(kh), np.fft.rfft2(kv)


@register_method(
    "hysure", tasks=("hsi_msi",), n_inputs=(2, 2), color="native",
    params={
        "p": Param(10, "subspace dimension (number of VCA endmembers spanning it)", int, 1, 100),
        "lambda_phi": Param(5e-4, "weight of the vector total variation of the subspace coefficients", float,
                            0.0, 10.0),
        "lambda_m": Param(1.0, "weight of the MSI data term relative to the HSI term", float, 0.0, 1e6),
        "mu": Param(0.05, "ADMM penalty", float, 1e-6, 1e3),
        "n_iter": Param(200, "ADMM iterations", int, 1, 10000),
        "sigma": Param(0.0, "std of the Gaussian PSF in MSI pixels (0: FWHM = ratio)", float, 0.0, 100.0),
    },
    citation=_CITE_HYSURE)
def hysure(images: Sequence[np.ndarray], *, p: int = 10, lambda_phi: float = 5e-4, lambda_m: float = 1.0,
           mu: float = 0.05, n_iter: int = 200, sigma: float = 0.0) -> np.ndarray:
    """HySure: subspace-constrained fusion with vector total variation, solved by ADMM.

    The fused image is ``X = E Z`` with ``E`` (``L x p``) the spectra of ``p``
    VCA endmembers of the HSI (the reference code's ``basis_type='VCA'``) and
    ``Z`` the subspace coefficients solving

    ``min_Z 1/2 ||Y_h - E Z B S||^2 + lambda_m/2 ||Y_m - R E Z||^2 + lambda_phi sum_pixels ||(Z D_h, Z D_v)||_2``

    with ``B`` a periodic Gaussian blur (FWHM = ratio unless ``sigma``), ``S``
    the decimation at block centres, ``R`` the relative spectral responses
    (here estimated by non-negative least squares of the decimated MSI on the
    HSI; HySure's own estimator regularises R and B jointly) and ``D_h, D_v``
    periodic first differences.  ADMM (SALSA) with the splitting
    ``V1 = Z B, V2 = Z, V3 = Z D_h, V4 = Z D_v``: the Z step is diagonal in the
    Fourier domain, the V1/V2 steps are small linear systems per pixel, the
    V3/V4 step is vector soft-thresholding.  Defaults from the authors'
    HS+MS demo: p = 10, lambda_phi = 5e-4, lambda_m = 1, mu = 0.05, 200 iterations.

    Parameters
    ----------
    images
        ``[hsi, msi]``; the PSF of the HSI must be centred on the block of pixels it averages
        (as :func:`pixfuse.ops.psf.gaussian_downsample` simulates).
    p, lambda_phi, lambda_m, mu, n_iter, sigma
        See the registry entry.

    Returns
    -------
    ``H x W x L`` float32.

    References
    ----------
    M. Simoes, J. Bioucas-Dias, L. B. Almeida, J. Chanussot, "A convex formulation for hyperspectral image
    superresolution via subspace-based regularization," IEEE Trans. Geosci. Remote Sens. 53(6):3373-3388, 2015.
    """
    hsi, msi, r = _check(images)
    h, w, L = hsi.shape
    H, W, M = msi.shape
    Yh = hsi.reshape(-1, L).T
    Ym = msi.reshape(-1, M).T
    p = min(p, L, h * w)
    E = Yh[:, vca(Yh, p)]
    srf = _nnls_srf(hsi, resize(msi, (h, w)).astype(np.float64))
    s = fwhm_sigma(r) if sigma <= 0 else sigma
    Bf = gaussian_otf((H, W), s, (r // 2) - (r - 1) / 2.0)
    Dhf, Dvf = _diff_otfs((H, W))
    denom = np.abs(Bf) ** 2 + 1.0 + np.abs(Dhf) ** 2 + np.abs(Dvf) ** 2
    fft = lambda a: np.fft.rfft2(a, axes=(1, 2))  # noqa: E731
    ifft = lambda a: np.fft.irfft2(a, s=(H, W), axes=(1, 2))  # noqa: E731
    # initial Z: least-squares subspace coefficients of the upsampled HSI
    up = _upsample(hsi, (H, W)).reshape(-1, L).T
    Z = np.linalg.lstsq(E, up, rcond=None)[0].reshape(p, H, W)
    # fixed pieces of the V1 / V2 steps
    sel = (slice(None), slice(r // 2, None, r), slice(r // 2, None, r))
    EtE = E.T @ E
    inv1 = np.linalg.inv(EtE + mu * np.eye(p))
    EtYh = (E.T @ Yh).reshape(p, h, w)
    RE = srf @ E
    inv2 = np.linalg.inv(lambda_m * RE.T @ RE + mu * np.eye(p))
    RtYm = lambda_m * (RE.T @ Ym).reshape(p, H, W)
    Zf = fft(Z)
    V1, V2, V3, V4 = ifft(Zf * Bf), Z.copy(), ifft(Zf * Dhf), ifft(Zf * Dvf)
    A1, A2, A3, A4 = (np.zeros_like(Z) for _ in range(4))
    thr = lambda_phi / mu
    for _ in range(n_iter):
        num = fft(V1 + A1) * np.conj(Bf) + fft(V2 + A2) + fft(V3 + A3) * np.conj(Dhf) + fft(V4 + A4) * np.conj(Dvf)
        Zf = num / denom
        Z = ifft(Zf)
        ZB, ZH, ZV = ifft(Zf * Bf), ifft(Zf * Dhf), ifft(Zf * Dvf)
        V1 = ZB - A1
        V1[sel] = np.einsum("ij,jxy->ixy", inv1, EtYh + mu * V1[sel])
        V2 = np.einsum("ij,jxy->ixy", inv2, RtYm + mu * (Z - A2))
        n3, n4 = ZH - A3, ZV - A4
        norm = np.sqrt((n3 ** 2).sum(axis=0) + (n4 ** 2).sum(axis=0))
        shrink = np.maximum(0.0, 1.0 - thr / np.maximum(norm, _EPS))
        V3, V4 = n3 * shrink, n4 * shrink
        A1 -= ZB - V1
        A2 -= Z - V2
        A3 -= ZH - V3
        A4 -= ZV - V4
    X = (E @ Z.reshape(p, -1)).T.reshape(H, W, L)
    return np.clip(X, 0, None).astype(np.float32)
