"""Multi-scale transform + sparse representation fusion (MST-SR: LP-SR, RP-SR, DWT-SR, NSST-SR).

Liu, Liu & Wang (2015): the low-pass bands of a multi-scale transform are
fused by sparse representation (8x8 sliding patches coded by OMP on a learned
dictionary, "max-L1" choice of the coefficient vector), the high-pass bands
by the transform's usual maximum-magnitude rule.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ..errors import ParameterError
from ..ops.directional import frame_inverse, nsst_forward
from ..ops.pyramid import laplacian_pyramid, ratio_pyramid, reconstruct_laplacian, reconstruct_ratio
from ..ops.rules import select_consistent, select_max_abs
from ..ops.sparse import aggregate_patches, extract_patches, load_sr_dictionary, omp
from ..ops.wavelets import dwt_decompose, dwt_reconstruct, max_dwt_levels
from ..registry import Param, register_method
from ._util import stack
from .pyramid import pyramid_depth
from .wavelet import parse_ints

_TASKS = ("ivif", "medical", "multi_focus")
_CITE = (
    "Y. Liu, S. Liu and Z. Wang, 'A general framework for image fusion based on multi-scale "
    "transform and sparse representation', Information Fusion 24:147-164, 2015."
)
_PATCH = 8


@lru_cache(maxsize=1)
def _dictionary() -> np.ndarray:
    return load_sr_dictionary()


def _positions(n: int, size: int, stride: int) -> np.ndarray:
    pos = np.arange(0, n - size + 1, stride)
    if pos[-1] != n - size:  # cover the last rows/columns too
        pos = np.append(pos, n - size)
    return pos


def sr_fuse(bands: Sequence[np.ndarray], *, stride: int = 2, epsilon: float = 0.1) -> np.ndarray:
    """Fuse same-size low-pass bands by sparse representation with the max-L1 rule.

    Every ``8 x 8`` patch (grid step ``stride``) of each band is made zero-mean
    and coded by OMP on the shipped dictionary until the residual norm is at
    most ``epsilon / 255`` (``epsilon`` is given on the 8-bit grey scale, as
    in the reference code); per position the coefficient vector of largest
    L1 norm wins and carries its patch mean; overlapping fused patches are
    averaged.  Bands smaller than a patch are averaged instead.
    """
    b = stack(bands)
    n, h, w = b.shape
    if h < _PATCH or w < _PATCH:
        return b.mean(axis=0)
    d = _dictionary()
    ys = _positions(h, _PATCH, stride)
    xs = _positions(w, _PATCH, stride)
    cols = []
    for band in b:
        win = np.lib.stride_tricks.sliding_window_view(band, (_PATCH, _PATCH))[ys][:, xs]
        cols.append(win.transpose(0, 1, 3, 2).reshape(len(ys) * len(xs), _PATCH * _PATCH).T)
    x = np.concatenate(cols, axis=1)  # (64, n * P)
    means = x.mean(axis=0)
    x = x - means
    approx, coefs = omp(d, x, tol=epsilon / 255.0)
    npatch = len(ys) * len(xs)
    l1 = np.abs(coefs).sum(axis=0).reshape(n, npatch)
    win = np.argmax(l1, axis=0)  # first source wins ties
    sel = win * npatch + np.arange(npatch)
    fused_cols = approx[:, sel] + means[sel]
    acc, cnt = aggregate_patches(fused_cols, ys, xs, (h, w), _PATCH)
    return (acc / cnt).astype(np.float32)


def _check_common(stride: int, epsilon: float) -> None:
    if stride < 1 or stride > _PATCH:
        raise ParameterError(f"parameter 'stride' must be in [1, {_PATCH}], got {stride}")


_SR_PARAMS = {
    "stride": Param(2, "patch grid step of the low-pass SR (8 - overlap; the reference code uses overlap 6)", int, 1, 8),
    "epsilon": Param(0.1, "OMP residual tolerance on the 8-bit grey scale", float, 1e-4, 50.0),
}


@register_method(
    "lp-sr",
    tasks=_TASKS,
    n_inputs=(2, None),
    color="luminance",
    params={"levels": Param(4, "Laplacian pyramid decomposition levels", int, 1, 8), **_SR_PARAMS},
    citation=_CITE,
    aliases=("lpsr",),
)
def lp_sr(images: Sequence[np.ndarray], *, levels: int = 4, stride: int = 2, epsilon: float = 0.1) -> np.ndarray:
    """LP-SR: Laplacian pyramid; SR-fused low-pass, maximum-activity high-pass with consistency check.

    Parameters
    ----------
    images : sequence of HxW float32 arrays in [0, 1]
    levels : int
        Band-pass levels of the Laplacian pyramid (binomial 1-4-6-4-1 kernel), 4.
    stride : int
        Patch step of the low-pass sparse fusion (2 = the reference code's overlap of 6).
    epsilon : float
        OMP error tolerance on the 8-bit scale (0.1).

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    Y. Liu, S. Liu and Z. Wang, "A general framework for image fusion based on
    multi-scale transform and sparse representation", Information Fusion
    24:147-164, 2015.
    """
    _check_common(stride, epsilon)
    n = pyramid_depth(images[0].shape, levels)
    pyrs = [laplacian_pyramid(im, n, 0.375) for im in images]
    fused = [select_consistent(stack([p[k] for p in pyrs]), 3) for k in range(n - 1)]
    fused.append(sr_fuse([p[-1] for p in pyrs], stride=stride, epsilon=epsilon))
    return reconstruct_laplacian(fused, 0.375)


@register_method(
    "rp-sr",
    tasks=_TASKS,
    n_inputs=(2, None),
    color="luminance",
    params={"levels": Param(4, "ratio pyramid decomposition levels", int, 1, 8), **_SR_PARAMS},
    citation=_CITE,
    aliases=("rpsr",),
)
def rp_sr(images: Sequence[np.ndarray], *, levels: int = 4, stride: int = 2, epsilon: float = 0.1) -> np.ndarray:
    """RP-SR: ratio-of-low-pass pyramid; SR-fused low-pass, maximum-ratio high-pass with consistency check.

    Parameters
    ----------
    images : sequence of HxW float32 arrays in [0, 1]
    levels : int
        Ratio levels (binomial kernel), 4.
    stride, epsilon : see :func:`lp_sr`.

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    Y. Liu, S. Liu and Z. Wang, Information Fusion 24:147-164, 2015.
    """
    _check_common(stride, epsilon)
    n = pyramid_depth(images[0].shape, levels)
    pyrs = [ratio_pyramid(im, n, 0.375) for im in images]
    fused = [select_consistent(stack([p[k] for p in pyrs]), 3) for k in range(n - 1)]
    fused.append(sr_fuse([p[-1] for p in pyrs], stride=stride, epsilon=epsilon))
    return reconstruct_ratio(fused, 0.375)


@register_method(
    "dwt-sr",
    tasks=_TASKS,
    n_inputs=(2, None),
    color="luminance",
    params={
        "wavelet": Param("db1", "PyWavelets discrete wavelet", str),
        "levels": Param(4, "DWT decomposition levels", int, 1, 8),
        **_SR_PARAMS,
    },
    citation=_CITE,
    aliases=("dwtsr",),
)
def dwt_sr(images: Sequence[np.ndarray], *, wavelet: str = "db1", levels: int = 4, stride: int = 2,
           epsilon: float = 0.1) -> np.ndarray:
    """DWT-SR: discrete wavelet transform; SR-fused approximation, maximum-magnitude details.

    Parameters
    ----------
    images : sequence of HxW float32 arrays in [0, 1]
    wavelet : str
        Wavelet (Haar by default).
    levels : int
        Decomposition levels, 4.
    stride, epsilon : see :func:`lp_sr` (``epsilon`` applies to the
        approximation coefficients as they are, as in the reference code).

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    Y. Liu, S. Liu and Z. Wang, Information Fusion 24:147-164, 2015.
    """
    import pywt

    if wavelet not in pywt.wavelist(kind="discrete"):
        raise ParameterError(f"parameter 'wavelet': unknown discrete wavelet {wavelet!r}")
    _check_common(stride, epsilon)
    lev = max(1, min(levels, max_dwt_levels(images[0].shape, wavelet)))
    cs = [dwt_decompose(im, wavelet, lev, mode="periodization") for im in images]
    fused: list = [sr_fuse([c[0].astype(np.float32) for c in cs], stride=stride, epsilon=epsilon)]
    for k in range(1, lev + 1):
        fused.append(tuple(select_max_abs(np.stack([c[k][d] for c in cs])) for d in range(3)))
    return dwt_reconstruct(fused, wavelet, images[0].shape, mode="periodization")


@register_method(
    "nsst-sr",
    tasks=_TASKS,
    n_inputs=(2, None),
    color="luminance",
    params={"dcomp": Param("2,3,3,4", "shear levels per scale, coarse to fine (2**d directions)", str), **_SR_PARAMS},
    citation=_CITE + " NSST in place of the NSCT: G. Easley, D. Labate and W.-Q. Lim, ACHA 25(1):25-46, 2008.",
    aliases=("nsstsr", "nsct-sr"),
)
def nsst_sr(images: Sequence[np.ndarray], *, dcomp: str = "2,3,3,4", stride: int = 2,
            epsilon: float = 0.1) -> np.ndarray:
    """NSST-SR: non-subsampled shearlets; SR-fused low-pass, maximum-magnitude directional bands.

    The MST-SR framework with the non-subsampled shearlet transform in the
    role of the NSCT (same scale / direction layout: 4, 8, 8, 16 directions).
    The low-pass band is full size, so the sparse coding covers every patch
    of the image: the slowest of the family.

    Parameters
    ----------
    images : sequence of HxW float32 arrays in [0, 1]
    dcomp : str
        Shear levels per scale, coarse to fine ("2,3,3,4" as the reference NSCT-SR).
    stride, epsilon : see :func:`lp_sr`.

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    Y. Liu, S. Liu and Z. Wang, Information Fusion 24:147-164, 2015.
    """
    _check_common(stride, epsilon)
    dc = parse_ints(dcomp, "dcomp")
    coefs = [nsst_forward(im, dc) for im in images]
    out = coefs[0]
    crop = out.crop
    # SR on the image area of the (padded) low-pass only; the margin is averaged
    top, left, h, w = crop
    low = np.mean([c.lowpass for c in coefs], axis=0)
    low[top : top + h, left : left + w] = sr_fuse(
        [c.lowpass[top : top + h, left : left + w] for c in coefs], stride=stride, epsilon=epsilon
    )
    out.lowpass = low
    for s in range(len(out.bands)):
        b = np.stack([c.bands[s] for c in coefs])
        idx = np.argmax(np.abs(b), axis=0)
        out.bands[s] = np.take_along_axis(b, idx[None], axis=0)[0]
    return frame_inverse(out)
