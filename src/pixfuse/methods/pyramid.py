"""Multi-scale pyramid fusion (Laplacian pyramid family)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..ops.pyramid import auto_levels, laplacian_pyramid, reconstruct_laplacian
from ..registry import Param, register_method
from ._util import stack


def choose_max_abs(bands: np.ndarray) -> np.ndarray:
    """Per-pixel choice of the coefficient with the largest magnitude (first wins ties)."""
    idx = np.argmax(np.abs(bands), axis=0)
    return np.take_along_axis(bands, idx[None], axis=0)[0]


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
