"""Multi-scale pyramid fusion: Laplacian, ratio-of-low-pass, contrast, gradient and morphological pyramids."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..ops.pyramid import (
    auto_levels,
    contrast_pyramid,
    gradient_pyramid,
    laplacian_pyramid,
    morphological_pyramid,
    ratio_pyramid,
    reconstruct_contrast,
    reconstruct_gradient,
    reconstruct_laplacian,
    reconstruct_morphological,
    reconstruct_ratio,
)
from ..ops.rules import salience_match, select_consistent, select_max, select_max_abs
from ..registry import Param, register_method
from ._util import stack

_TASKS = ("ivif", "medical", "multi_focus")


def choose_max_abs(bands: np.ndarray) -> np.ndarray:
    """Per-pixel choice of the coefficient with the largest magnitude (first wins ties)."""
    return select_max_abs(bands)


def pyramid_depth(shape: tuple[int, ...], levels: int, min_size: int = 4) -> int:
    """Total pyramid levels (band-pass ``levels`` + the low-pass residual), limited by the image size.

    The coarsest level keeps at least ``min_size`` pixels a side; at least one
    band-pass level is always made.
    """
    m = min(shape[0], shape[1])
    possible = max(1, int(math.floor(math.log2(m / min_size)))) if m >= 2 * min_size else 1
    return 1 + max(1, min(levels, possible))


def _levels_param(default: int = 4) -> Param:
    return Param(default, "decomposition levels (band-pass levels; limited by the image size)", int, 1, 10)


@register_method(
    "lp",
    tasks=("ivif", "medical", "multi_focus", "multi_exposure", "general"),
    n_inputs=(2, None),
    color="luminance",
    params={
        "levels": Param(0, "pyramid levels; 0 = from image size (coarsest level >= 8 px)", int, 0, 12),
        "a": Param(0.4, "Burt-Adelson generating-kernel parameter (0.375 = binomial 1-4-6-4-1)", float, 0.3, 0.6),
    },
    citation=(
        "P. J. Burt and E. H. Adelson, 'The Laplacian Pyramid as a Compact Image Code', "
        "IEEE Trans. Communications 31(4):532-540, 1983; fusion rule: choose-max-absolute detail, "
        "averaged base (Burt & Kolczynski, ICCV 1993)."
    ),
    aliases=("laplacian", "laplacian-pyramid"),
)
def lp(images: Sequence[np.ndarray], *, levels: int = 0, a: float = 0.4) -> np.ndarray:
    """Laplacian-pyramid fusion: choose-max-absolute details, averaged base.

    Each source is decomposed into a Laplacian pyramid (Burt & Adelson 1983,
    generating kernel parameter ``a``); at every band-pass level the
    coefficient of largest magnitude is kept, the coarsest (low-pass) levels
    are averaged, and the pyramid is collapsed.

    Parameters
    ----------
    images : sequence of HxW float32 arrays
    levels : int
        Number of pyramid levels including the low-pass residual; 0 chooses
        ``floor(log2(min(H, W) / 8)) + 1`` (at most 10).
    a : float
        Generating-kernel parameter; 0.4 is the paper's Gaussian-like kernel.

    Returns
    -------
    HxW float32 fused image (not clipped; :func:`pixfuse.fuse` clips).

    References
    ----------
    P. J. Burt and E. H. Adelson, "The Laplacian Pyramid as a Compact Image
    Code", IEEE Trans. Communications 31(4):532-540, 1983.
    """
    n_lev = levels or auto_levels(images[0].shape)
    pyrs = [laplacian_pyramid(im, n_lev, a) for im in images]
    fused = [choose_max_abs(stack([p[k] for p in pyrs])) for k in range(n_lev - 1)]
    fused.append(stack([p[-1] for p in pyrs]).mean(axis=0))
    return reconstruct_laplacian(fused, a)


def _fuse_pyramids(pyrs: list[list], detail_rule, base_rule=lambda b: b.mean(axis=0)) -> list:
    n = len(pyrs[0])
    out = [detail_rule(stack([p[k] for p in pyrs])) for k in range(n - 1)]
    out.append(base_rule(stack([p[-1] for p in pyrs])))
    return out


@register_method(
    "rp",
    tasks=_TASKS,
    n_inputs=(2, None),
    color="luminance",
    params={
        "levels": _levels_param(4),
        "a": Param(0.4, "Burt-Adelson generating-kernel parameter", float, 0.3, 0.6),
    },
    citation=(
        "A. Toet, 'Image fusion by a ratio of low-pass pyramid', Pattern Recognition Letters "
        "9(4):245-253, 1989."
    ),
    aliases=("rolp", "ratio-pyramid"),
)
def rp(images: Sequence[np.ndarray], *, levels: int = 4, a: float = 0.4) -> np.ndarray:
    """Ratio-of-low-pass (ROLP) pyramid fusion: larger ratio wins, low-pass averaged.

    Each source (offset by one 8-bit grey level, see
    :data:`pixfuse.ops.pyramid.RATIO_OFFSET`) is decomposed into ratios
    ``R_k = G_k / EXPAND(G_{k+1})`` of successive Gaussian levels; at each
    position of each level the larger ratio (the locally brighter feature)
    is kept, as in the ROLP fusion of Toet (1989) and the ``fuse_rat``
    reference implementation (O. Rockinger's toolbox, used by Liu et al.'s
    RP-SR), and the coarsest low-pass levels are averaged.

    Parameters
    ----------
    images : sequence of HxW float32 arrays in [0, 1]
    levels : int
        Band-pass (ratio) levels, 4 by default.
    a : float
        Generating-kernel parameter of REDUCE/EXPAND.

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    A. Toet, "Image fusion by a ratio of low-pass pyramid", Pattern
    Recognition Letters 9(4):245-253, 1989.
    """
    n = pyramid_depth(images[0].shape, levels)
    pyrs = [ratio_pyramid(im, n, a) for im in images]
    return reconstruct_ratio(_fuse_pyramids(pyrs, select_max), a)


@register_method(
    "cp",
    tasks=_TASKS,
    n_inputs=(2, None),
    color="luminance",
    params={
        "levels": _levels_param(4),
        "a": Param(0.4, "Burt-Adelson generating-kernel parameter", float, 0.3, 0.6),
    },
    citation=(
        "A. Toet, L. J. van Ruyven and J. M. Valeton, 'Merging thermal and visual images by a "
        "contrast pyramid', Optical Engineering 28(7):789-792, 1989."
    ),
    aliases=("contrast-pyramid",),
)
def cp(images: Sequence[np.ndarray], *, levels: int = 4, a: float = 0.4) -> np.ndarray:
    """Contrast-pyramid fusion: largest absolute luminance contrast wins, low-pass averaged.

    The contrast pyramid ``C_k = G_k / EXPAND(G_{k+1}) - 1`` holds the local
    luminance contrast of each level; the composite keeps, position by
    position, the contrast of largest magnitude (bright or dark features
    alike) and averages the low-pass residuals.

    Parameters
    ----------
    images : sequence of HxW float32 arrays in [0, 1]
    levels : int
        Band-pass (contrast) levels, 4 by default.
    a : float
        Generating-kernel parameter of REDUCE/EXPAND.

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    A. Toet, L. J. van Ruyven and J. M. Valeton, "Merging thermal and visual
    images by a contrast pyramid", Optical Engineering 28(7):789-792, 1989.
    """
    n = pyramid_depth(images[0].shape, levels)
    pyrs = [contrast_pyramid(im, n, a) for im in images]
    return reconstruct_contrast(_fuse_pyramids(pyrs, select_max_abs), a)


@register_method(
    "grp",
    tasks=_TASKS,
    n_inputs=(2, None),
    color="luminance",
    params={
        "levels": _levels_param(4),
        "window": Param(3, "salience / match window (odd)", int, 1, 15),
        "alpha": Param(0.85, "match threshold: above it coefficients are averaged, below it selected", float, 0.0, 0.99),
    },
    citation=(
        "P. J. Burt and R. J. Kolczynski, 'Enhanced image capture through fusion', Proc. 4th IEEE "
        "ICCV, pp. 173-182, 1993; P. J. Burt, 'A gradient pyramid basis for pattern-selective image "
        "fusion', SID Digest 23:467-470, 1992."
    ),
    aliases=("gradient-pyramid",),
)
def grp(images: Sequence[np.ndarray], *, levels: int = 4, window: int = 3, alpha: float = 0.85) -> np.ndarray:
    """Gradient-pyramid fusion with Burt & Kolczynski's salience / match rule.

    Every level of the filter-subtract-decimate pyramid is split into four
    oriented gradient bands ``D_kl = d_l * [G_k + w' * G_k]``.  In each band
    the salience is the local energy over a ``window`` x ``window``
    neighbourhood and the match is the normalised local correlation of the
    two sources: where the match is below ``alpha`` the more salient
    coefficient is selected, otherwise the two are averaged with weights
    ``1/2 -/+ 1/2 (1 - M)/(1 - alpha)``.  The fused oriented bands are turned
    back into a Laplacian level (``-1/8 sum_l d_l * D_l``, converted to the
    reduce-expand form by ``[1 + w]``), the low-pass residuals averaged and
    the pyramid collapsed.

    Parameters
    ----------
    images : sequence of HxW float32 arrays in [0, 1]
    levels : int
        Band-pass levels, 4 by default.
    window : int
        Salience / match window (3x3 in the paper's experiments).
    alpha : float
        Match threshold (0.85 in the paper).

    Returns
    -------
    HxW float32 fused image.  The gradient pyramid's inverse is approximate
    (an FSD pyramid); identical sources come back within about 1e-2.

    References
    ----------
    P. J. Burt and R. J. Kolczynski, "Enhanced image capture through fusion",
    Proc. 4th IEEE ICCV, pp. 173-182, 1993.
    """
    if window % 2 == 0:
        from ..errors import ParameterError

        raise ParameterError(f"parameter 'window' must be odd, got {window}")
    n = pyramid_depth(images[0].shape, levels)
    pyrs = [gradient_pyramid(im, n) for im in images]
    fused: list = []
    for k in range(n - 1):
        fused.append([salience_match(stack([p[k][d] for p in pyrs]), window, alpha) for d in range(4)])
    fused.append(stack([p[-1] for p in pyrs]).mean(axis=0))
    return reconstruct_gradient(fused)


@register_method(
    "mp",
    tasks=_TASKS,
    n_inputs=(2, None),
    color="luminance",
    params={
        "levels": _levels_param(4),
        "size": Param(5, "side of the square structuring element of the opening-closing filter", int, 3, 15),
    },
    citation=(
        "A. Toet, 'A morphological pyramidal image decomposition', Pattern Recognition Letters "
        "9(4):255-261, 1989; fusion: A. Toet, 'Hierarchical image fusion', Machine Vision and "
        "Applications 3(1):1-11, 1990."
    ),
    aliases=("morphological-pyramid",),
)
def mp(images: Sequence[np.ndarray], *, levels: int = 4, size: int = 5) -> np.ndarray:
    """Morphological-pyramid fusion: maximum-magnitude differences, low-pass averaged.

    Each level is low-passed by a grey opening-closing with a ``size`` x
    ``size`` square and subsampled; the difference between a level and the
    dilation-expanded next level is the detail band.  Details of largest
    magnitude are kept, residuals averaged, and the exact morphological
    reconstruction applied.

    Parameters
    ----------
    images : sequence of HxW float32 arrays in [0, 1]
    levels : int
        Band-pass levels, 4 by default.
    size : int
        Structuring-element side of the opening-closing filter (5, as in the
        reference implementation of Rockinger's toolbox); the expansion uses
        ``size + 2``.

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    A. Toet, "A morphological pyramidal image decomposition", Pattern
    Recognition Letters 9(4):255-261, 1989.
    """
    n = pyramid_depth(images[0].shape, levels)
    pyrs = [morphological_pyramid(im, n, size) for im in images]
    return reconstruct_morphological(_fuse_pyramids(pyrs, select_max_abs), size)
