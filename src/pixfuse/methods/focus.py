"""Multi-focus fusion (task ``multi_focus``): decision-map methods for 2..N frames.

Every method here returns ``(fused, {"depth": index_map})``: ``depth`` is the
per-pixel index (0-based, in input order) of the frame the pixel was taken
from (the frame with the largest final weight), i.e. a coarse depth map of a
focus stack.  Weights are computed on the grey image and applied to every
colour channel (``color="channels"``).

The shared pipeline (:func:`decision_fusion`):

1. per-frame focus measure ``F_n`` -> initial decision ``argmax_n F_n``;
2. consistency verification (majority filter of the labels, Li et al. 1995);
3. small-region removal (regions under ``min_region`` of the image area are
   given the label that surrounds them - ``bwareaopen`` in both directions
   for two frames);
4. guided-filter refinement of each one-hot map, with the **hard-decision
   fused image** as the guide (Qiu et al. 2019) so weight edges follow the
   in-focus edges;
5. halo suppression: where the depth label jumps by more than one slice
   the refined soft weights are replaced by the hard decision (blending a
   sharp foreground with a far-defocused frame is what produces the halos of
   open-source stackers); adjacent slices still blend smoothly.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..errors import ParameterError
from ..ops.color import MATLAB_RGB2GRAY, rgb_to_gray
from ..ops.dsift import dense_sift, normalise_sift
from ..ops.filters import guided_filter
from ..ops.focus import MEASURES, focus_measure, modified_laplacian
from ..registry import Param, register_method
from .exposure import gff_fuse

_TASK = ("multi_focus",)
_N = (2, None)


def _gray(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img, np.float32)
    return cv2.cvtColor(a, cv2.COLOR_RGB2GRAY) if a.ndim == 3 else a


def _mgray(img: np.ndarray) -> np.ndarray:
    """Grey image with MATLAB ``rgb2gray`` weights (the authors' codes' convention)."""
    a = np.asarray(img, np.float32)
    return rgb_to_gray(a, MATLAB_RGB2GRAY) if a.ndim == 3 else a


def majority_filter(labels: np.ndarray, n: int, size: int) -> np.ndarray:
    """Mode of the labels in a ``size`` x ``size`` window (ties: lowest label)."""
    if size <= 1:
        return labels
    counts = np.stack([cv2.boxFilter((labels == k).astype(np.float32), cv2.CV_32F, (size, size), normalize=False,
                                     borderType=cv2.BORDER_REFLECT) for k in range(n)])
    return np.argmax(counts, axis=0).astype(labels.dtype)


def _area_open(mask: np.ndarray, area: int) -> np.ndarray:
    """MATLAB ``bwareaopen(mask, area)``: drop 8-connected components of fewer than ``area`` pixels."""
    if area <= 1 or not mask.any():
        return mask
    num, comp, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= area
    keep[0] = False
    return keep[comp]


def remove_small_regions(labels: np.ndarray, min_area: int) -> np.ndarray:
    """Give connected regions smaller than ``min_area`` pixels the label of the nearest large region."""
    if min_area <= 1:
        return labels
    keep = np.zeros(labels.shape, bool)
    for k in np.unique(labels):
        keep |= _area_open(labels == k, min_area)
    if keep.all() or not keep.any():
        return labels
    # label of the nearest kept pixel: cv2's Euclidean distance transform (5x5 mask) with per-pixel
    # Voronoi labels; the zero (kept) pixels carry their own label, which maps back to a position
    _, vor = cv2.distanceTransformWithLabels((~keep).astype(np.uint8), cv2.DIST_L2, 5,
                                             labelType=cv2.DIST_LABEL_PIXEL)
    where = np.zeros(int(vor.max()) + 1, np.int64)
    where[vor[keep]] = np.flatnonzero(keep)
    return labels.ravel()[where[vor]].reshape(labels.shape)


def _onehot(lab: np.ndarray, n: int, dtype: type = np.float32) -> np.ndarray:
    """(n, H, W) indicator maps of the labels ``0..n-1``."""
    return (np.arange(n)[:, None, None] == lab).astype(dtype)


def _normalised(W: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """Weights ``W`` (N, H, W) divided by their sum; the one-hot ``lab`` where the sum vanishes."""
    s = W.sum(axis=0)
    return np.where(s > 1e-6, W / np.where(s > 1e-6, s, 1), _onehot(lab, W.shape[0], W.dtype))


def _blend(W: np.ndarray, stack: np.ndarray) -> np.ndarray:
    """``sum_n W_n I_n`` of the (N, H, W[, C]) frame stack, the same weights on every channel."""
    return np.einsum("nhw,nhw...->hw...", W, stack) if stack.ndim == 4 else (W * stack).sum(axis=0)


def decision_fusion(images: Sequence[np.ndarray], fm: np.ndarray, *, consistency: int = 0,
                    min_region: float = 0.01, refine_r: int = 5, refine_eps: float = 0.3,
                    halo_suppression: bool = True, labels: np.ndarray | None = None
                    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Steps 1-5 of the module docstring for a focus-measure stack ``fm`` (N, H, W)."""
    imgs = [np.asarray(im, np.float32) for im in images]
    n = len(imgs)
    h, w = imgs[0].shape[:2]
    lab = np.argmax(fm, axis=0).astype(np.int32) if labels is None else labels.astype(np.int32)
    lab = majority_filter(lab, n, consistency)
    lab = remove_small_regions(lab, int(np.ceil(min_region * h * w)))
    stack = np.stack(imgs)
    hard = np.take_along_axis(stack, lab.reshape((1, h, w) + (1,) * (stack.ndim - 3)), axis=0)[0]
    if refine_r <= 0:
        return hard, {"depth": lab}
    guide = _gray(hard)
    W = np.stack([guided_filter(guide, (lab == k).astype(np.float32), refine_r, refine_eps) for k in range(n)])
    W = np.clip(W, 0, None)
    W = _normalised(W, lab)
    if halo_suppression and n > 2:
        k = 2 * refine_r + 1
        lo = cv2.erode(lab.astype(np.float32), np.ones((k, k), np.uint8))
        hi = cv2.dilate(lab.astype(np.float32), np.ones((k, k), np.uint8))
        jump = (hi - lo) > 1
        W = np.where(jump[None], _onehot(lab, n), W)
    fused = _blend(W, stack)
    depth = np.argmax(W, axis=0).astype(np.int32)
    return fused.astype(np.float32), {"depth": depth}


# ----------------------------------------------------------------------------- GFDF

@register_method(
    "gfdf",
    tasks=_TASK,
    n_inputs=_N,
    color="channels",
    params={
        "w": Param(7, "mean-filter size of the focus detection", int, 3, 31),
        "r": Param(5, "guided-filter radius (focus map and decision refinement)", int, 1, 50),
        "eps": Param(0.3, "guided-filter regularisation", float, 1e-6, 10),
        "min_region": Param(0.01, "small-region removal threshold, fraction of the image area", float, 0, 0.5),
        "halo_suppression": Param(True, "hard decisions across depth jumps of more than one slice (N > 2)", bool),
    },
    citation=("X. Qiu, M. Li, L. Zhang and X. Yuan, 'Guided filter-based multi-focus image fusion through focus "
              "region detection', Signal Processing: Image Communication 72:35-46, 2019."),
    aliases=("gfdf-mff",),
)
def gfdf(images: Sequence[np.ndarray], *, w: int = 7, r: int = 5, eps: float = 0.3, min_region: float = 0.01,
         halo_suppression: bool = True) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Guided-filter decision-map fusion (GFDF, Qiu et al. 2019), generalised to N frames.

    Focus map of each grey frame: ``GF(I, |I - mean_w(I)|, r, eps)``; the
    initial decision is the arg-max; regions under 1% of the image are
    removed; the decision map is refined by a guided filter (same ``r``,
    ``eps``) whose guide is the hard-decision fused grey image, and the
    frames are blended with the refined weights.  For two frames this is the
    authors' code exactly (``bwareaopen`` on both labels = nearest-region
    relabelling of small regions).

    Parameters
    ----------
    images : N frames, HxW or HxWx3 float32 in [0, 1]
    w, r, eps : mean-filter size, guided-filter radius and regularisation (7, 5, 0.3)
    min_region : small-region threshold as a fraction of the area (0.01)
    halo_suppression : see the module docstring (N > 2 only)

    Returns
    -------
    (fused float32, {"depth": int32 index map})

    References
    ----------
    X. Qiu, M. Li, L. Zhang and X. Yuan, "Guided filter-based multi-focus
    image fusion through focus region detection", Signal Processing: Image
    Communication 72:35-46, 2019.
    """
    fm = []
    for im in images:
        g = _gray(im)
        sm = np.abs(g - cv2.blur(g, (w, w), borderType=cv2.BORDER_REPLICATE))
        fm.append(guided_filter(g, sm, r, eps))
    return decision_fusion(images, np.stack(fm), min_region=min_region, refine_r=r, refine_eps=eps,
                           halo_suppression=halo_suppression)


# ----------------------------------------------------------------------------- generic focus stacking

@register_method(
    "focus-stack",
    tasks=_TASK,
    n_inputs=_N,
    color="channels",
    params={
        "measure": Param("sml", "focus measure", str, choices=MEASURES),
        "window": Param(9, "focus-measure summation window", int, 1, 63),
        "consistency": Param(5, "majority-filter size of the consistency verification (0 = off)", int, 0, 63),
        "min_region": Param(0.002, "small-region removal threshold, fraction of the image area", float, 0, 0.5),
        "r": Param(4, "guided-filter radius of the refinement (0 = hard decision)", int, 0, 50),
        "eps": Param(0.1, "guided-filter regularisation of the refinement", float, 1e-6, 10),
        "halo_suppression": Param(True, "hard decisions across depth jumps of more than one slice", bool),
    },
    citation=("W. Huang and Z. Jing, 'Evaluation of focus measures in multi-focus image fusion', Pattern Recognition "
              "Letters 28(4):493-500, 2007; decision refinement after X. Qiu et al., Signal Processing: Image "
              "Communication 72:35-46, 2019."),
    aliases=("focus", "stack"),
)
def focus_stack(images: Sequence[np.ndarray], *, measure: str = "sml", window: int = 9, consistency: int = 5,
                min_region: float = 0.002, r: int = 4, eps: float = 0.1,
                halo_suppression: bool = True) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """N-frame focus stacking with a classic focus measure and the decision pipeline.

    Focus measure per frame (``sml``, ``eol``, ``variance``, ``tenengrad``
    or ``sf``, summed over ``window``), arg-max decision, majority-filter
    consistency verification, small-region removal, guided-filter refinement
    guided by the hard-decision fused image, halo suppression at depth jumps.
    Made for long stacks (50+ frames): cost is linear in N.

    Parameters
    ----------
    images : N frames, HxW or HxWx3 float32 in [0, 1]
    measure, window : focus measure and its window
    consistency : majority-filter size
    min_region : small-region threshold (fraction of the area)
    r, eps : guided-filter refinement
    halo_suppression : see the module docstring

    Returns
    -------
    (fused float32, {"depth": int32 index map})

    References
    ----------
    W. Huang and Z. Jing, "Evaluation of focus measures in multi-focus image
    fusion", Pattern Recognition Letters 28(4):493-500, 2007.
    """
    fm = np.stack([focus_measure(_gray(im), measure, window) for im in images])
    return decision_fusion(images, fm, consistency=consistency, min_region=min_region, refine_r=r,
                           refine_eps=eps, halo_suppression=halo_suppression)


# ----------------------------------------------------------------------------- DCT domain

def _dct_blocks(g: np.ndarray, b: int) -> tuple[np.ndarray, int, int]:
    h, w = g.shape
    hb, wb = -(-h // b), -(-w // b)
    p = cv2.copyMakeBorder(g, 0, hb * b - h, 0, wb * b - w, cv2.BORDER_REFLECT)
    blocks = p.reshape(hb, b, wb, b).transpose(0, 2, 1, 3)
    # orthonormal 2-D DCT-II of every block (matrix form)
    k = np.arange(b)
    C = np.sqrt(2.0 / b) * np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * b))
    C[0] /= np.sqrt(2.0)
    D = np.einsum("ij,abjk,lk->abil", C, blocks.astype(np.float64), C)
    return D, hb, wb


@register_method(
    "dct",
    tasks=_TASK,
    n_inputs=_N,
    color="channels",
    params={
        "criterion": Param("var", "block activity: var (DCT+Var), eol (DCT+EOL) or corr (DCT+Corr)", str,
                           choices=("var", "eol", "corr")),
        "block": Param(8, "DCT block size", int, 4, 32),
        "consistency": Param(True, "consistency verification (3x3 majority filter on the block map)", bool),
    },
    citation=("M. B. A. Haghighat, A. Aghagolzadeh and H. Seyedarabi, 'Multi-focus image fusion for visual sensor "
              "networks in DCT domain', Computers & Electrical Engineering 37(5):789-797, 2011; DCT+EOL and DCT+Corr "
              "activity: Y. A. V. Phamila and R. Amutha, 'Discrete Cosine Transform based fusion of multi-focus images "
              "for visual sensor networks', Signal Processing 95:161-170, 2014."),
    aliases=("dct-var", "dct-fusion"),
)
def dct(images: Sequence[np.ndarray], *, criterion: str = "var", block: int = 8,
        consistency: bool = True) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Block-DCT multi-focus fusion (Haghighat et al. 2011) with DCT+Var / DCT+EOL / DCT+Corr activity.

    Each grey frame is cut into ``block`` x ``block`` blocks and transformed
    by the orthonormal 2-D DCT.  Activity per block: ``var`` - the variance
    computed from the AC coefficients (``sum AC^2 / B^2``); ``eol`` - energy
    of Laplacian in the DCT domain (AC energy weighted by the Laplacian's
    frequency response ``(u^2 + v^2)^2``); ``corr`` - one minus the
    correlation between the block and its low-pass (DC + first AC)
    reconstruction, so a sharp block has low correlation.  The block of
    highest activity is chosen; with ``consistency`` a 3x3 majority filter
    over the block decision map removes isolated choices (Haghighat's "CV").

    Parameters
    ----------
    images : N frames, HxW or HxWx3 float32 in [0, 1]
    criterion : "var", "eol" or "corr"
    block : block size (8)
    consistency : apply consistency verification

    Returns
    -------
    (fused float32, {"depth": int32 index map})

    References
    ----------
    M. B. A. Haghighat, A. Aghagolzadeh and H. Seyedarabi, "Multi-focus image
    fusion for visual sensor networks in DCT domain", Computers & Electrical
    Engineering 37(5):789-797, 2011.
    """
    acts = []
    hb = wb = 0
    u = np.arange(block)
    for im in images:
        D, hb, wb = _dct_blocks(_gray(im), block)
        ac = D.copy()
        ac[:, :, 0, 0] = 0
        if criterion == "var":
            a = (ac ** 2).sum(axis=(2, 3)) / block ** 2
        elif criterion == "eol":
            wgt = (u[:, None] ** 2 + u[None, :] ** 2).astype(np.float64) ** 2
            a = (ac ** 2 * wgt).sum(axis=(2, 3))
        else:
            low = np.zeros_like(D)
            low[:, :, :2, :2] = D[:, :, :2, :2]
            e_all = (ac ** 2).sum(axis=(2, 3))
            e_low = (low[:, :, :2, :2] ** 2).sum(axis=(2, 3)) - D[:, :, 0, 0] ** 2
            corr = np.sqrt(np.clip(e_low, 0, None) / np.where(e_all > 0, e_all, 1))
            a = np.where(e_all > 0, 1 - corr, 0)
        acts.append(a)
    n = len(images)
    bl = np.argmax(np.stack(acts), axis=0).astype(np.int32)
    if consistency:
        bl = majority_filter(bl, n, 3)
    h, w = np.asarray(images[0]).shape[:2]
    lab = np.kron(bl, np.ones((block, block), np.int32))[:h, :w]
    return decision_fusion(images, np.zeros((n, h, w), np.float32), labels=lab, min_region=0, refine_r=0)


# ----------------------------------------------------------------------------- quadtree

def weighted_modified_laplacian(g255: np.ndarray, step: int = 1, threshold: float = 5.0,
                                window: int = 17) -> np.ndarray:
    """Bai et al.'s weighted focus measure (``WML.m``) of a grey image on the 0-255 scale.

    Modified Laplacian ``|2f - f(y-s) - f(y+s)| + |2f - f(x-s) - f(x+s)|`` (symmetric padding), values
    below ``threshold`` set to 0, then correlated with the ``window`` x ``window`` kernel
    ``1 / (1 + distance to the centre)`` (symmetric padding).
    """
    ml = modified_laplacian(np.asarray(g255, np.float64), step)
    ml[ml < threshold - 1e-9] = 0            # the code's `result(result < T) = 0` on integer grey levels
    k = np.arange(window) - window // 2
    H = 1.0 / (1.0 + np.sqrt(k[:, None] ** 2 + k[None, :] ** 2))
    return cv2.filter2D(ml, cv2.CV_64F, H, borderType=cv2.BORDER_REFLECT)


def _sum2(a: np.ndarray) -> np.ndarray:
    """Sums over the non-overlapping 2x2 blocks of the last two axes (even sizes)."""
    *lead, H, W = a.shape
    return a.reshape(*lead, H // 2, 2, W // 2, 2).sum(axis=(-3, -1))


def _quadtree_labels(G: np.ndarray, ratio: float) -> np.ndarray:
    """``quad_decomp.m`` on a full (N, D, D) focus-measure stack (D a power of two >= 2); see
    :func:`_quadtree_labels_from_sums`."""
    return _quadtree_labels_from_sums(_sum2(G), _sum2(G.max(axis=0)), _sum2(G.min(axis=0)), ratio)


def _quadtree_labels_from_sums(F2: np.ndarray, mx2: np.ndarray, mn2: np.ndarray, ratio: float) -> np.ndarray:
    """``quad_decomp.m``: quadtree decomposition of the focus-measure stack and block decision.

    ``F2`` (N, D/2, D/2): sums of each frame's focus measure over the 2x2 blocks of the D x D square (D a
    power of two); ``mx2`` / ``mn2``: the same sums of the per-pixel maximum / minimum over the frames.
    Returns the (D, D) label map: the frame (0-based) with the unique largest focus-measure sum over the
    pixel's leaf block, -1 where several frames tie.
    """
    n = F2.shape[0]
    D = 2 * F2.shape[1]
    maxlevel = int(np.log2(D))
    # block sums of every frame / of the per-pixel max and min for all block sizes 2^k >= 2 (hierarchical)
    sums = {2: (F2, mx2, mn2)}
    d = 2
    while d < D:
        F, mx, mn = sums[d]
        sums[2 * d] = (_sum2(F), _sum2(mx), _sum2(mn))
        d *= 2
    lab = np.zeros((D, D), np.int32)
    active = np.ones((1, 1), bool)                 # blocks of the current size still to be examined
    d, level = D, 1
    while True:
        F, mx, mn = sums[d]
        if level < maxlevel:
            mdfm = np.abs(F.max(axis=0) - F.min(axis=0))       # maximum difference of the focus measures
            smdg = np.abs(mx - mn)                             # sum of the per-pixel maximum differences
            split = active & (mdfm > 0) & (mdfm < ratio * smdg)
        else:
            split = np.zeros_like(active)
        leaf = active & ~split
        if leaf.any():
            best = F.max(axis=0)
            eq = F == best
            idx = np.where(eq.sum(axis=0) == 1, np.argmax(eq, axis=0), -1).astype(np.int32)
            m = np.kron(leaf, np.ones((d, d), bool))
            lab[m] = np.kron(idx, np.ones((d, d), np.int32))[m]
        if not split.any():
            break
        active = np.kron(split, np.ones((2, 2), bool))
        d //= 2
        level += 1
    return lab


@register_method(
    "quadtree",
    tasks=_TASK,
    n_inputs=_N,
    color="channels",
    params={
        "threshold": Param(5.0, "modified-Laplacian values below this (in 8-bit grey levels) are set to 0", float,
                           0, 255),
        "window": Param(17, "size of the distance-weighted summation window of the focus measure", int, 1, 63),
        "ratio": Param(0.98, "a block is split when its focus-measure difference is below this fraction of the "
                             "summed per-pixel maximum differences", float, 0.0, 1.0),
        "min_region": Param(1 / 40, "regions and holes smaller than this fraction of the image area are removed",
                            float, 0, 0.5),
    },
    citation=("X. Bai, Y. Zhang, F. Zhou and B. Xue, 'Quadtree-based multi-focus image fusion using a weighted "
              "focus-measure', Information Fusion 22:105-118, 2015."),
    aliases=("quadtree-mff",),
)
def quadtree(images: Sequence[np.ndarray], *, threshold: float = 5.0, window: int = 17, ratio: float = 0.98,
             min_region: float = 1 / 40) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Quadtree-based multi-focus fusion with the weighted focus measure (Bai et al. 2015), as the authors' code.

    1. Weighted focus measure of every grey frame (MATLAB ``rgb2gray`` weights,
       0-255 scale): modified Laplacian (step 1) thresholded at ``threshold``
       (5), summed over a ``window`` x ``window`` (17) window with weights
       ``1 / (1 + d)``, ``d`` the distance to the centre
       (:func:`weighted_modified_laplacian`).
    2. The focus-measure maps are centred in a zero square of side
       ``D`` = the smallest power of two >= max(H, W).
    3. Quadtree decomposition from the whole square down to 2x2 blocks: a
       block is split when ``0 < MDFM < ratio * SMDG`` with
       ``MDFM = max_n S_n - min_n S_n`` (``S_n`` the block sum of frame n's
       focus measure) and ``SMDG = sum_block (max_n G_n - min_n G_n)`` -
       the frames' block totals differ by less than 98% of what the
       per-pixel winners would give, i.e. the block straddles a focus
       boundary.
    4. Every leaf block goes to the frame with the unique largest ``S_n``
       (ties: undefined).
    5. Decision map cleaning: per frame, a morphological opening and then
       closing with MATLAB's ``strel('disk', 3)`` (a 5x5 square); pixels
       claimed by no or several frames become undefined; then per frame,
       regions and holes (8-connected) smaller than ``min_region`` (1/40) of
       the image area are removed; pixels claimed by no or several frames
       stay undefined.
    6. Defined pixels are copied from their frame; undefined pixels from the
       frame of largest pixel focus measure, or the mean of the frames
       where several share the maximum.  No further blending.

    Parameters
    ----------
    images : N frames, HxW or HxWx3 float32 in [0, 1]
    threshold : modified-Laplacian threshold in 8-bit grey levels (5)
    window : focus-measure window (17)
    ratio : split ratio of the decomposition (0.98)
    min_region : small region / hole area as a fraction of the image (1/40)

    Returns
    -------
    (fused float32, {"depth": int32 index map})

    Notes
    -----
    Defaults are the authors' code's (``Quadtree_Fusion.m``: step 1, T 5,
    bsz 17; ``decomp_strategy.m``: 0.98; ``morph_filter.m``: disk 3, one
    iteration; ``Small_Block_Filter``: area / 40).  The code's per-level
    MATLAB loops are vectorised over all blocks of a level (block sums by
    2x2 aggregation).  The 8-bit rounding of the grey image is not
    reproduced (the threshold is compared on the float grey levels).

    References
    ----------
    X. Bai, Y. Zhang, F. Zhou and B. Xue, "Quadtree-based multi-focus image
    fusion using a weighted focus-measure", Information Fusion 22:105-118,
    2015 (MATLAB code by Y. Zhang: ``Quadtree_Fusion.m``, ``WML.m``,
    ``quad_decomp.m``, ``decomp_strategy.m``).
    """
    imgs = [np.asarray(im, np.float32) for im in images]
    n = len(imgs)
    h, w = imgs[0].shape[:2]
    D = 1 << max(1, int(np.ceil(np.log2(max(h, w)))))
    dy, dx = -(-(D - h) // 2), -(-(D - w) // 2)
    # per frame: focus measure -> its 2x2 block sums in the centred D x D square; running per-pixel
    # max / min / arg-max / tie count (memory O(N D^2 / 4), not O(N D^2))
    pad = np.zeros((D, D))
    F2 = np.empty((n, D // 2, D // 2))
    for k, im in enumerate(imgs):
        g = weighted_modified_laplacian(_mgray(im).astype(np.float64) * 255.0, 1, threshold, window)
        pad[dy:dy + h, dx:dx + w] = g
        F2[k] = _sum2(pad)
        if k == 0:
            gmax, gmin = g.copy(), g.copy()
            arg = np.zeros((h, w), np.int32)
            ties = np.ones((h, w), np.int32)
        else:
            gt = g > gmax
            ties = np.where(gt, 1, ties + (g == gmax))
            arg[gt] = k
            np.maximum(gmax, g, out=gmax)
            np.minimum(gmin, g, out=gmin)
    pad[dy:dy + h, dx:dx + w] = gmax
    mx2 = _sum2(pad)
    pad[dy:dy + h, dx:dx + w] = gmin
    mn2 = _sum2(pad)
    lab = _quadtree_labels_from_sums(F2, mx2, mn2, ratio)[dy:dy + h, dx:dx + w]
    # morph_filter: open + close each frame's region with strel('disk', 3) = 5x5 square
    se = np.ones((5, 5), np.uint8)
    maps = np.stack([cv2.morphologyEx(cv2.morphologyEx((lab == k).astype(np.uint8), cv2.MORPH_OPEN, se),
                                      cv2.MORPH_CLOSE, se) for k in range(n)]).astype(bool)
    lab = np.where(maps.sum(axis=0) == 1, np.argmax(maps, axis=0), -1)
    # Small_Block_Filter: small regions and small holes of each frame's region
    area = min_region * h * w
    amin = int(np.ceil(area)) if area > 0 else 0
    maps = np.stack([~_area_open(~_area_open(lab == k, amin), amin) for k in range(n)])
    lab = np.where(maps.sum(axis=0) == 1, np.argmax(maps, axis=0), -1).astype(np.int32)
    # undefined pixels: maximum pixel focus measure, mean of the frames on ties
    und = lab < 0
    lab = np.where(und & (ties == 1), arg, lab)
    avg = und & (ties > 1)
    W = _onehot(lab, n)
    W[:, avg] = 1.0 / n
    stack = np.stack(imgs)
    fused = _blend(W, stack)
    return fused.astype(np.float32), {"depth": np.argmax(W, axis=0).astype(np.int32)}


# ----------------------------------------------------------------------------- boundary finding

@register_method(
    "boundary",
    tasks=_TASK,
    n_inputs=_N,
    color="channels",
    params={
        "scales": Param(3, "number of morphological-gradient scales", int, 1, 8),
        "window": Param(7, "summation window of the focus measure", int, 1, 31),
        "band": Param(4, "half width of the boundary band decided pixel by pixel", int, 0, 32),
    },
    citation=("Y. Zhang, X. Bai and T. Wang, 'Boundary finding based multi-focus image fusion through multi-scale "
              "morphological focus-measure', Information Fusion 35:81-101, 2017."),
    aliases=("boundary-finding",),
)
def boundary(images: Sequence[np.ndarray], *, scales: int = 3, window: int = 7,
             band: int = 4) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Boundary-finding multi-focus fusion with a multi-scale morphological focus measure (after Zhang et al. 2017).

    Focus measure: ``sum_s w_s * G_s`` with ``G_s`` the morphological
    gradient (dilation - erosion) with a disk of radius ``s`` (s = 1..scales),
    weights ``w_s = 1 / (2 s + 1)``, summed over ``window``.  The region
    decision (arg-max, small regions removed) is reliable away from focus
    boundaries; inside a band of ``band`` pixels around the boundary between
    regions the pixel-level (unsummed) measure decides, which locates the
    boundary precisely; the result is then guided-filter refined.

    Returns
    -------
    (fused float32, {"depth": int32 index map})

    References
    ----------
    Y. Zhang, X. Bai and T. Wang, "Boundary finding based multi-focus image
    fusion through multi-scale morphological focus-measure", Information
    Fusion 35:81-101, 2017.
    """
    grads = []
    for im in images:
        g = _gray(im)
        acc = np.zeros_like(g)
        for s in range(1, scales + 1):
            se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * s + 1, 2 * s + 1))
            acc += (cv2.dilate(g, se) - cv2.erode(g, se)) / (2 * s + 1)
        grads.append(acc)
    G = np.stack(grads)
    fm = np.stack([cv2.boxFilter(x, cv2.CV_32F, (window, window), normalize=False,
                                 borderType=cv2.BORDER_REFLECT) for x in G])
    n, h, w = fm.shape
    lab = remove_small_regions(np.argmax(fm, axis=0).astype(np.int32), int(0.01 * h * w))
    if band > 0:
        k = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
        edge = cv2.dilate(lab.astype(np.float32), k) != cv2.erode(lab.astype(np.float32), k)
        fine = np.stack([cv2.GaussianBlur(x, (0, 0), 1.0) for x in G])
        lab = np.where(edge, np.argmax(fine, axis=0), lab).astype(np.int32)
    return decision_fusion(images, fm, labels=lab, min_region=0.0005, refine_r=3, refine_eps=0.05)


# ----------------------------------------------------------------------------- dense SIFT

def _window_sf(g: np.ndarray, r: int) -> np.ndarray:
    """``SF.m`` of the (2r+1)^2 window centred on every pixel (0 where the window leaves the image).

    ``sqrt((sum of the window's squared vertical differences + squared horizontal differences) / (2r+1)^2)``,
    the differences taken inside the window only.
    """
    g = np.asarray(g, np.float64)
    h, w = g.shape
    k = 2 * r + 1
    out = np.zeros((h, w))
    if h < k or w < k:
        return out
    dv = np.zeros((h, w))
    dv[:-1] = np.diff(g, axis=0) ** 2         # dv[y] = (g[y+1] - g[y])^2
    dh = np.zeros((h, w))
    dh[:, :-1] = np.diff(g, axis=1) ** 2
    # direct window sums (not running sums): equal windows give bit-equal values, flat windows exactly 0
    one, less = np.ones(k), np.ones(k - 1)
    sv = cv2.sepFilter2D(dv, cv2.CV_64F, one, less, anchor=(r, r), borderType=cv2.BORDER_CONSTANT)
    sh = cv2.sepFilter2D(dh, cv2.CV_64F, less, one, anchor=(r, r), borderType=cv2.BORDER_CONSTANT)
    out[r:h - r, r:w - r] = np.sqrt((sv + sh)[r:h - r, r:w - r] / (k * k))
    return out


def _dsift_pair(g1: np.ndarray, g2: np.ndarray, scale: int, block: int, matching: bool, threshold: float,
                area: int, radius: int) -> np.ndarray:
    """Decision map of two grey frames (1 = frame 1, 0 = frame 2, 0.5 = undecided -> average)."""
    h, w = g1.shape
    patch = scale // 2
    ds = [dense_sift(g, patch, n_bins=4, sample_shift=patch / 2) for g in (g1, g2)]
    # 1. activity = sum of the unnormalised descriptor; 2. sliding blocks (stride 1) vote for the frame of
    # larger block activity; a pixel is assigned where more than `threshold` of the blocks covering it agree
    acts = [d.sum(axis=2, dtype=np.float64) for d in ds]
    b = min(block, h, w)
    sums = [cv2.boxFilter(a, cv2.CV_64F, (b, b), normalize=False, anchor=(0, 0),
                          borderType=cv2.BORDER_CONSTANT)[:h - b + 1, :w - b + 1] for a in acts]
    votes = []
    for v in ((sums[0] > sums[1]), (sums[1] > sums[0]), np.ones_like(sums[0], bool)):
        full = np.zeros((h + b - 1, w + b - 1))
        full[b - 1:h, b - 1:w] = v
        votes.append(cv2.boxFilter(full, cv2.CV_64F, (b, b), normalize=False, anchor=(b - 1, b - 1),
                                   borderType=cv2.BORDER_CONSTANT)[b - 1:, b - 1:])
    cnt = np.maximum(votes[2], 1)
    init = []
    for v in votes[:2]:
        m = _area_open(v / cnt > threshold, area)          # small focused regions removed
        init.append(~_area_open(~m, area))                  # small holes filled
    fmap = init[0] * 1.0 + 0.5 * (1.0 - init[0] - init[1])
    # 3. undecided pixels (boundary band, both or neither frame claimed) away from the border
    und = fmap == 0.5
    und[:radius] = und[h - radius:] = False
    und[:, :radius] = und[:, w - radius:] = False
    ys, xs = np.nonzero(und)
    if ys.size == 0:
        return fmap
    sf1, sf2 = _window_sf(g1, radius), _window_sf(g2, radius)
    if not matching:
        fmap[ys, xs] = (sf1[ys, xs] > sf2[ys, xs]).astype(np.float64)
        return fmap
    # Lowe-normalised descriptors, needed only within `radius` of an undecided pixel
    near = cv2.dilate(und.astype(np.uint8), np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)) > 0
    n1, n2 = ds
    n1[near] = normalise_sift(n1[near])
    n2[near] = normalise_sift(n2[near])
    offs = [(dy, dx) for dx in range(-radius, radius + 1) for dy in range(-radius, radius + 1)]  # MATLAB find order
    p12 = np.empty((ys.size, 2), np.int64)
    p21 = np.empty((ys.size, 2), np.int64)
    step = 8192
    for s in range(0, ys.size, step):
        y, x = ys[s:s + step], xs[s:s + step]
        v1, v2 = n1[y, x], n2[y, x]
        best1 = np.full(y.size, np.inf, np.float32)
        best2 = np.full(y.size, np.inf, np.float32)
        a1 = np.zeros((y.size, 2), np.int64)
        a2 = np.zeros((y.size, 2), np.int64)
        for dy, dx in offs:
            d = n2[y + dy, x + dx] - v1
            d1 = np.einsum("ij,ij->i", d, d)
            d = n1[y + dy, x + dx] - v2
            d2 = np.einsum("ij,ij->i", d, d)
            sel = d1 < best1
            best1[sel] = d1[sel]
            a1[sel] = (dy, dx)
            sel = d2 < best2
            best2[sel] = d2[sel]
            a2[sel] = (dy, dx)
        p12[s:s + step] = a1
        p21[s:s + step] = a2
    y12, x12 = ys + p12[:, 0], xs + p12[:, 1]
    y21, x21 = ys + p21[:, 0], xs + p21[:, 1]

    def inside(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        return (yy >= radius) & (yy < h - radius) & (xx >= radius) & (xx < w - radius)

    ok = inside(y12, x12) & inside(y21, x21)
    fm1, fm12 = sf1[ys, xs], sf2[y12, x12]
    fm2, fm21 = sf2[ys, xs], sf1[y21, x21]
    to1 = ok & (fm1 > fm12) & (fm2 < fm21)
    to2 = ok & (fm1 < fm12) & (fm2 > fm21)
    fmap[ys[to1], xs[to1]] = 1.0
    fmap[ys[to2], xs[to2]] = 0.0
    return fmap


@register_method(
    "dsift-mff",
    tasks=_TASK,
    n_inputs=_N,
    color="channels",
    params={
        "scale": Param(48, "dense SIFT scale (descriptor patch = scale / 2 pixels, 4x4 cells x 8 orientations); "
                           "a multiple of 8", int, 16, 128),
        "block": Param(8, "side of the sliding blocks (stride 1) whose activity sums vote", int, 1, 64),
        "matching": Param(True, "decide the undecided pixels by descriptor matching (False: by spatial frequency "
                                "only)", bool),
        "threshold": Param(0.99, "fraction of the votes covering a pixel that must agree to assign it", float,
                           0.5, 1.0),
        "area": Param(3600, "regions and holes of the initial maps smaller than this many pixels are removed",
                      int, 0, 10_000_000),
    },
    citation=("Y. Liu, S. Liu and Z. Wang, 'Multi-focus image fusion with dense SIFT', Information Fusion "
              "23:139-155, 2015."),
    aliases=("dsift-focus",),
)
def dsift_mff(images: Sequence[np.ndarray], *, scale: int = 48, block: int = 8, matching: bool = True,
              threshold: float = 0.99, area: int = 3600) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Dense-SIFT multi-focus fusion (Liu, Liu & Wang 2015), following the authors' MATLAB code.

    For two frames (MATLAB ``rgb2gray`` grey, weights 0.2989/0.5870/0.1140):

    1. Dense SIFT of every pixel: the grey frame zero-padded by
       ``scale/4 - 1``, C. Liu's ``DenseSIFT`` with a ``scale/2`` patch,
       4x4 cells x 8 orientations (128-D, unnormalised), sampled as in the
       multi-focus code (:func:`pixfuse.ops.dsift.dense_sift`,
       ``sample_shift = patch/2``).
    2. Activity = sum of the descriptor.  Every ``block`` x ``block``
       window (stride 1, inside the image) votes for the frame with the
       larger activity sum (ties vote for neither); a pixel is assigned to a
       frame when more than ``threshold`` (0.99) of the windows covering it
       voted for that frame.
    3. Each initial map is cleaned with ``bwareaopen(., area)`` on the map
       and on its complement (8-connectivity, 3600 px): small regions go,
       small holes are filled.
    4. Map ``M = M1 + 0.5 (1 - M1 - M2)``: 1 / 0 where one frame owns the
       pixel, 0.5 where none (or both) do - the band around focus
       boundaries.
    5. Undecided pixels at least 3 px from the border are decided by
       descriptor matching (``matching=True``): the Lowe-normalised
       descriptor of frame 1 at ``p`` is matched to the nearest (squared
       L2) descriptor of frame 2 in the 7x7 neighbourhood (first minimum in
       MATLAB's column-major order), and vice versa; with ``SF`` the spatial
       frequency of a 7x7 window (``SF.m``), the pixel goes to frame 1 if
       ``SF1(p) > SF2(p12)`` and ``SF2(p) < SF1(p21)``, to frame 2 if both
       inequalities are reversed, and otherwise stays 0.5 (both matched
       points must lie 3 px inside the image).  With ``matching=False``
       the undecided pixels take the frame of larger ``SF`` at ``p``.
    6. ``F = M I1 + (1 - M) I2`` on every colour channel; no further
       filtering.

    N > 2 frames are merged one by one in series (``F = fuse(fuse(I1, I2),
    I3) ...``), as the authors' README prescribes; the depth map is the
    arg-max of the resulting per-frame weights (0.5/0.5 pixels go to the
    earlier frame).

    Parameters
    ----------
    images : N frames, HxW or HxWx3 float32 in [0, 1]
    scale : dense SIFT scale, 48 (patch 24); a multiple of 8
    block : sliding block size, 8
    matching : descriptor-matching decision of the boundary band (True)
    threshold : vote fraction for an initial assignment, 0.99
    area : small-region / hole area of ``bwareaopen``, 3600 pixels (an
        absolute count in the code, whatever the image size)

    Returns
    -------
    (fused float32, {"depth": int32 index map})

    Notes
    -----
    Defaults are those of the authors' demo (``scale=48, blocksize=8,
    matching=1``) and functions (``k=0.99``, ``area=3600``, ``r=3``).  The
    pixel loops of ``generate_initmap`` / ``refine_withmatching`` are
    vectorised (sliding-window sums, batched neighbourhood search); the
    result is the same map.  Grey values are not rounded to 8 bits.

    References
    ----------
    Y. Liu, S. Liu and Z. Wang, "Multi-focus image fusion with dense SIFT",
    Information Fusion 23:139-155, 2015 (MATLAB code by Yu Liu, 2015:
    ``DSIFT_Fusion.m``, ``generate_initmap.m``, ``refine_withmatching.m``).
    """
    if scale % 8:
        raise ParameterError(f"dsift-mff: scale must be a multiple of 8 (patch scale/2 in 4x4 cells), "
                                    f"got {scale}")
    imgs = [np.asarray(im, np.float32) for im in images]
    n = len(imgs)
    h, w = imgs[0].shape[:2]
    radius = 3
    fused = imgs[0]
    W = np.zeros((n, h, w), np.float64)
    W[0] = 1.0
    for k in range(1, n):
        m = _dsift_pair(_mgray(fused), _mgray(imgs[k]), scale, block, matching, threshold, area, radius)
        mm = m[..., None] if fused.ndim == 3 else m
        fused = (mm * fused + (1.0 - mm) * imgs[k]).astype(np.float32)
        W[:k] *= m
        W[k] = 1.0 - m
    return fused, {"depth": np.argmax(W, axis=0).astype(np.int32)}


# ----------------------------------------------------------------------------- GFF

@register_method(
    "gff-mff",
    tasks=_TASK,
    n_inputs=_N,
    color="channels",
    params={
        "r1": Param(45, "guided-filter radius for the base-layer weights", int, 1, 200),
        "eps1": Param(0.3, "guided-filter regularisation for the base-layer weights", float, 1e-9, 10),
        "r2": Param(7, "guided-filter radius for the detail-layer weights", int, 1, 100),
        "eps2": Param(1e-6, "guided-filter regularisation for the detail-layer weights", float, 1e-12, 10),
    },
    citation=("S. Li, X. Kang and J. Hu, 'Image Fusion With Guided Filtering', IEEE Trans. Image Processing "
              "22(7):2864-2875, 2013."),
    aliases=("gff-focus",),
)
def gff_mff(images: Sequence[np.ndarray], *, r1: int = 45, eps1: float = 0.3, r2: int = 7,
            eps2: float = 1e-6) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """GFF (Li, Kang & Hu 2013) for focus stacks; the depth map is the arg-max of the detail weights.

    See :func:`pixfuse.methods.exposure.gff_mef` for the algorithm (same
    two-scale decomposition, saliency and guided-filter weights).

    Returns
    -------
    (fused float32, {"depth": int32 index map})

    References
    ----------
    S. Li, X. Kang and J. Hu, "Image Fusion With Guided Filtering", IEEE TIP
    22(7):2864-2875, 2013.
    """
    from .exposure import gff_weights

    WB, WD = gff_weights(images, r1, eps1, r2, eps2)
    fused = gff_fuse(images, r1, eps1, r2, eps2, weights=(WB, WD))
    return fused, {"depth": np.argmax(WD, axis=0).astype(np.int32)}


# ----------------------------------------------------------------------------- image matting

def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def matting_trimap(images: Sequence[np.ndarray], *, se_radius: int = 2, window: int = 7, clean_radius: int = 4,
                   band: int = 6, min_region: float = 0.01) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Focus measure and trimap of image-matting fusion.

    Returns ``(fm, known_label, lab)``: the (N, H, W) focus measure, an int32
    map with the frame index where that frame is definitely focused and -1 in
    the unknown region, and the cleaned arg-max decision.
    """
    grays = [_gray(im) for im in images]
    se = _disk(se_radius)
    fm = []
    for g in grays:
        th = cv2.morphologyEx(g, cv2.MORPH_TOPHAT, se, borderType=cv2.BORDER_REFLECT)
        bh = cv2.morphologyEx(g, cv2.MORPH_BLACKHAT, se, borderType=cv2.BORDER_REFLECT)
        fm.append(cv2.blur(th + bh, (window, window), borderType=cv2.BORDER_REFLECT))
    fm = np.stack(fm)
    n, h, w = fm.shape
    lab = np.argmax(fm, axis=0).astype(np.int32)
    lab = remove_small_regions(lab, int(np.ceil(min_region * h * w)))
    count = np.zeros((h, w), np.int32)
    known = np.full((h, w), -1, np.int32)
    dc, db = _disk(clean_radius), _disk(band)
    for k in range(n):
        m = (lab == k).astype(np.uint8)
        if clean_radius > 0:
            m = cv2.morphologyEx(cv2.morphologyEx(m, cv2.MORPH_OPEN, dc), cv2.MORPH_CLOSE, dc)
        if band > 0:
            m = cv2.erode(m, db, borderType=cv2.BORDER_REPLICATE)
        count += m
        known[m > 0] = k
    known[count != 1] = -1
    return fm, known, lab


@register_method(
    "imf",
    tasks=_TASK,
    n_inputs=_N,
    color="channels",
    params={
        "se_radius": Param(2, "disk radius of the top-hat / bottom-hat focus measure", int, 1, 15),
        "window": Param(7, "averaging window of the focus measure", int, 1, 31),
        "clean_radius": Param(4, "disk radius of the opening + closing that cleans the focus regions", int, 0, 31),
        "band": Param(6, "erosion radius that leaves an unknown band around focus boundaries", int, 0, 63),
        "min_region": Param(0.01, "small-region removal threshold, fraction of the image area", float, 0, 0.5),
        "eps": Param(1e-7, "regularisation of the matting Laplacian", float, 1e-10, 1),
    },
    citation=("S. Li, X. Kang, J. Hu and B. Yang, 'Image matting for fusion of multi-focus images in dynamic "
              "scenes', Information Fusion 14(2):147-162, 2013; matting: A. Levin, D. Lischinski and Y. Weiss, "
              "'A Closed-Form Solution to Natural Image Matting', IEEE TPAMI 30(2):228-242, 2008."),
    aliases=("matting", "image-matting", "ifm"),
)
def imf(images: Sequence[np.ndarray], *, se_radius: int = 2, window: int = 7, clean_radius: int = 4, band: int = 6,
        min_region: float = 0.01, eps: float = 1e-7) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Image-matting multi-focus fusion (after Li, Kang, Hu & Yang 2013), N frames one-vs-rest.

    1. Focus measure: white + black top-hat (morphological opening / closing
       residue, disk of radius ``se_radius``) of each grey frame, averaged
       over ``window``; arg-max decision; regions under ``min_region`` of
       the area are relabelled.
    2. Trimap: each frame's focus region is cleaned by a morphological
       opening and closing (disk ``clean_radius``) and eroded by ``band``;
       what survives is *definitely focused* in that frame, everything else
       (the band around focus boundaries, where the focus measure is
       unreliable, and moving objects) is *unknown*.
    3. Closed-form matting (Levin et al. 2008, 3x3 windows, ``eps``): for
       every frame ``n`` the alpha ``a_n`` is 1 on its definitely-focused
       region and 0 on the other frames', and is propagated into the unknown
       region by the matting Laplacian of the mean of the frames (exact
       sparse solve of the reduced system, hard constraints; one
       factorisation serves all N alphas, and since ``L 1 = 0`` they sum to
       one before clipping).
    4. Fusion: ``F = sum_n a_n I_n / sum_n a_n`` with the alphas clipped to
       [0, 1]; the depth map is the arg-max of the alphas.

    Notes
    -----
    The paper's text and code were not available to us; the pipeline above
    follows its published outline (morphological focus detection, trimap of
    definitely-focused / unknown regions, closed-form matting, weighted
    fusion); the structuring-element sizes, the band width and the N-frame
    one-vs-rest extension and the matting guide (the mean frame: order
    independent, one factorisation; per-frame guides gave the same Q_AB/F
    within 5e-4 on Lytro pairs 01/05/10 at twice the time) are our choices.
    Levin et al.'s soft constraints (lambda = 100) are replaced by hard ones.

    Parameters
    ----------
    images : N frames, HxW or HxWx3 float32 in [0, 1]
    se_radius, window : focus measure
    clean_radius, band, min_region : trimap construction
    eps : matting-Laplacian regularisation

    Returns
    -------
    (fused float32, {"depth": int32 index map})

    References
    ----------
    S. Li, X. Kang, J. Hu and B. Yang, "Image matting for fusion of
    multi-focus images in dynamic scenes", Information Fusion 14(2):147-162,
    2013.
    A. Levin, D. Lischinski and Y. Weiss, "A Closed-Form Solution to Natural
    Image Matting", IEEE TPAMI 30(2):228-242, 2008.
    """
    from ..ops.matting import solve_alpha

    imgs = [np.asarray(im, np.float32) for im in images]
    n = len(imgs)
    _, known_lab, lab = matting_trimap(imgs, se_radius=se_radius, window=window, clean_radius=clean_radius,
                                       band=band, min_region=min_region)
    known = known_lab >= 0
    targets = np.stack([(known_lab == k) for k in range(n)]).astype(np.float64)
    prior = np.stack([(lab == k) for k in range(n)]).astype(np.float64)
    guide = np.mean(np.stack(imgs), axis=0)
    alphas = solve_alpha(guide, known, targets, eps=eps, prior=prior)
    A = np.clip(alphas, 0, 1)
    A = _normalised(A, lab).astype(np.float32)
    stack = np.stack(imgs)
    fused = _blend(A, stack)
    return fused.astype(np.float32), {"depth": np.argmax(A, axis=0).astype(np.int32)}
