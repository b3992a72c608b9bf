"""Optimisation and low-rank fusion: GTF, LatLRR, MDLatLRR.

Source order: infrared (or anatomical) first, visible (or functional) second.
"""
from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from importlib import resources

import numpy as np

from ..errors import InputError, PixfuseError
from ..ops.lowrank import latent_lrr
from ..ops.tv import tv_l1
from ..registry import Param, register_method

_IVIF_MED = ("ivif", "medical")

# --------------------------------------------------------------------------- GTF


@register_method(
    "gtf",
    tasks=_IVIF_MED,
    n_inputs=(2, 2),
    color="luminance",
    params={
        "lam": Param(4.0, "weight of the gradient (TV) term; larger keeps more infrared intensity structure", float, 0.0, 1000.0),
        "n_iter": Param(100, "maximum ADMM iterations of the TV-L1 solver", int, 1, 100000),
    },
    citation=(
        "J. Ma, C. Chen, C. Li and J. Huang, 'Infrared and visible image fusion via gradient transfer and total "
        "variation minimization', Information Fusion 31:100-109, 2016."
    ),
    aliases=("gradient-transfer",),
)
def gtf(images: Sequence[np.ndarray], *, lam: float = 4.0, n_iter: int = 100) -> np.ndarray:
    """Gradient transfer fusion (GTF): keep infrared intensities, transfer visible gradients.

    Solves ``min_F ||F - IR||_1 + lam ||grad F - grad VIS||_1`` (isotropic TV)
    through the substitution ``x = F - VIS``, which is the TV-L1 problem
    ``min_x ||x - (IR - VIS)||_1 + lam TV(x)``; ``F = x + VIS``.  The authors
    solve it with IRN (Rodriguez & Wohlberg) and ``lambda = 4`` on [0, 1]
    images; pixfuse uses ADMM (split Bregman) with exact DCT solves (same minimiser).

    Parameters
    ----------
    images : IR and visible HxW float32 in [0, 1]
    lam : TV weight (authors' code: 4)
    n_iter : iteration cap of the solver (stops earlier when u changes by < 1e-4 of its range)

    References
    ----------
    J. Ma, C. Chen, C. Li and J. Huang, "Infrared and visible image fusion via
    gradient transfer and total variation minimization", Information Fusion
    31:100-109, 2016.
    """
    ir = np.asarray(images[0], np.float32)
    vis = np.asarray(images[1], np.float32)
    x = tv_l1(ir - vis, lam, n_iter=n_iter)
    return (x + vis).astype(np.float32)


# --------------------------------------------------------------------------- LatLRR


@register_method(
    "latlrr",
    tasks=_IVIF_MED,
    n_inputs=(2, 2),
    color="luminance",
    params={
        "lam": Param(0.8, "weight of the sparse error term of latent LRR", float, 1e-4, 100.0),
        "max_iter": Param(1000, "iteration cap of the inexact ALM solver", int, 1, 100000),
    },
    citation=(
        "H. Li and X.-J. Wu, 'Infrared and visible image fusion using Latent Low-Rank Representation', "
        "arXiv:1804.08992, 2018; solver: G. Liu and S. Yan, 'Latent Low-Rank Representation for Subspace "
        "Segmentation and Feature Extraction', ICCV 2011."
    ),
)
def latlrr(images: Sequence[np.ndarray], *, lam: float = 0.8, max_iter: int = 1000) -> np.ndarray:
    """Latent low-rank representation fusion (LatLRR).

    Each source image, taken as a matrix X (rows x columns), is decomposed by
    latent LRR ``X = XZ + LX + E`` (inexact ALM, ``lam = 0.8``); the low-rank
    parts ``XZ`` are averaged and the salient parts ``LX`` added, each part
    clipped to [0, 1] first, as in Li & Wu's code.

    Cost: every ALM iteration needs SVDs of a W x W and an H x H matrix, and
    the solver runs to the reference tolerance (1e-6, about 200-300
    iterations); a 640x480 pair therefore takes tens of seconds (the MATLAB
    original: several minutes).  The SVD is skipped while the threshold
    exceeds the Frobenius norm.

    References
    ----------
    H. Li and X.-J. Wu, "Infrared and visible image fusion using Latent
    Low-Rank Representation", arXiv:1804.08992, 2018.
    G. Liu and S. Yan, "Latent Low-Rank Representation for Subspace
    Segmentation and Feature Extraction", ICCV 2011.
    """
    lrr = []
    sal = []
    for im in images:
        x = np.asarray(im, dtype=np.float64)
        z, lmat, _ = latent_lrr(x, lam, max_iter=max_iter)
        lrr.append(np.clip(x @ z, 0, 1))
        sal.append(np.clip(lmat @ x, 0, 1))
    return (0.5 * (lrr[0] + lrr[1]) + sal[0] + sal[1]).astype(np.float32)


# --------------------------------------------------------------------------- MDLatLRR

#: sha256 of src/pixfuse/data/latlrr_projection.npz (written by scripts/learn_latlrr_projection.py)
LATLRR_PROJECTION_SHA256 = "TO_BE_FILLED"


@functools.lru_cache(maxsize=1)
def latlrr_projection() -> np.ndarray:
    """The learned 256x256 MDLatLRR projection matrix (16x16 patches, column-major vectors).

    Loaded from the package data file and checked against its sha256.
    """
    ref = resources.files("pixfuse").joinpath("data/latlrr_projection.npz")
    try:
        raw = ref.read_bytes()
    except FileNotFoundError:  # pragma: no cover - packaging error
        raise PixfuseError("MDLatLRR projection matrix data/latlrr_projection.npz is missing") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != LATLRR_PROJECTION_SHA256:
        raise PixfuseError(
            f"MDLatLRR projection matrix is corrupt (sha256 {digest}, expected {LATLRR_PROJECTION_SHA256}); "
            "regenerate it with scripts/learn_latlrr_projection.py"
        )
    import io

    with np.load(io.BytesIO(raw)) as z:
        return np.asarray(z["L"], dtype=np.float32)


def _patch_matrix(img: np.ndarray, unit: int, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ``unit x unit`` patches at ``stride`` as column-major vectors (n_patches x unit^2) and their origins."""
    h, w = img.shape
    ys = np.arange(0, h - unit + 1, stride)
    xs = np.arange(0, w - unit + 1, stride)
    win = np.lib.stride_tricks.sliding_window_view(img, (unit, unit))[ys][:, xs]
    # win[i, j, r, c]; column-major flattening = index c*unit + r
    vec = win.transpose(0, 1, 3, 2).reshape(len(ys) * len(xs), unit * unit)
    return vec, ys, xs


def _patch_average(vec: np.ndarray, ys: np.ndarray, xs: np.ndarray, unit: int, shape: tuple[int, int]) -> np.ndarray:
    """Put patch vectors back at their origins and average overlapping pixels."""
    acc = np.zeros(shape, np.float64)
    cnt = np.zeros(shape, np.float64)
    blocks = vec.reshape(len(ys), len(xs), unit, unit)  # [i, j, c, r] (column-major vectors)
    step = int(ys[1] - ys[0]) if len(ys) > 1 else 1
    stepx = int(xs[1] - xs[0]) if len(xs) > 1 else 1
    ny, nx = len(ys), len(xs)
    for r in range(unit):
        sy = slice(r, r + step * (ny - 1) + 1, step)
        for c in range(unit):
            sx = slice(c, c + stepx * (nx - 1) + 1, stepx)
            acc[sy, sx] += blocks[:, :, c, r]
            cnt[sy, sx] += 1.0
    return acc / cnt


def _pad_for_stride(img: np.ndarray, unit: int, stride: int) -> np.ndarray:
    h, w = img.shape
    hd = (-(h - unit)) % stride
    wd = (-(w - unit)) % stride
    if hd == 0 and wd == 0:
        return img
    return np.pad(img, ((0, hd), (0, wd)), mode="symmetric")


def _nuclear_norms(vec: np.ndarray, unit: int) -> np.ndarray:
    """Nuclear norm of every patch (rows of ``vec`` reshaped to unit x unit), in chunks."""
    out = np.empty(vec.shape[0], np.float64)
    step = 65536
    for s in range(0, vec.shape[0], step):
        m = vec[s : s + step].reshape(-1, unit, unit).astype(np.float32)
        g = np.matmul(m.transpose(0, 2, 1), m)
        ev = np.linalg.eigvalsh(g)
        out[s : s + step] = np.sqrt(np.maximum(ev, 0.0)).sum(axis=1)
    return out


@register_method(
    "mdlatlrr",
    tasks=_IVIF_MED,
    n_inputs=(2, 2),
    color="luminance",
    params={
        "levels": Param(2, "decomposition levels", int, 1, 6),
        "stride": Param(1, "patch stride (1 = every overlapping 16x16 patch, as the paper)", int, 1, 16),
    },
    citation=(
        "H. Li, X.-J. Wu and J. Kittler, 'MDLatLRR: A Novel Decomposition Method for Infrared and Visible Image "
        "Fusion', IEEE Trans. Image Processing 29:4733-4746, 2020."
    ),
)
def mdlatlrr(images: Sequence[np.ndarray], *, levels: int = 2, stride: int = 1) -> np.ndarray:
    """Multi-level latent-LRR decomposition fusion (MDLatLRR).

    A projection matrix ``L`` (256x256), learned offline by latent LRR on
    16x16 training patches (pixfuse's own, see
    ``scripts/learn_latlrr_projection.py``), maps every overlapping patch of
    the image to its salient (detail) part; averaging the overlapping detail
    patches gives the detail image, the remainder the base image, which is
    decomposed again for the next level.  At every level the detail patch
    vectors of the two sources are fused with nuclear-norm weights
    ``||P_1||_* / (||P_1||_* + ||P_2||_*)`` and put back by averaging; the
    final bases are averaged and the fused details of all levels added.
    Images are padded symmetrically so the patch grid covers them.

    Note: the authors' code accumulates the reconstructed detail across levels
    before summing (so level 1 is counted ``levels`` times); pixfuse follows
    the paper's equation (each level once).

    Cost: the nuclear norms need an eigen-decomposition per 16x16 patch
    (~300k patches per level and source at 640x480), a few seconds per level.

    References
    ----------
    H. Li, X.-J. Wu and J. Kittler, "MDLatLRR: A Novel Decomposition Method for
    Infrared and Visible Image Fusion", IEEE Trans. Image Processing
    29:4733-4746, 2020.
    """
    lmat = latlrr_projection()
    unit = int(round(np.sqrt(lmat.shape[0])))
    h, w = images[0].shape
    if min(h, w) < unit:
        raise InputError(f"mdlatlrr needs images of at least {unit}x{unit} pixels, got {h}x{w}")
    bases = [_pad_for_stride(np.asarray(im, np.float32), unit, stride) for im in images]
    shape = bases[0].shape
    detail_sum = np.zeros(shape, np.float64)
    for _ in range(levels):
        vecs = []
        for k, b in enumerate(bases):
            pv, ys, xs = _patch_matrix(b, unit, stride)
            d = pv @ lmat.T
            vecs.append(d)
            bases[k] = (b - _patch_average(d, ys, xs, unit, shape)).astype(np.float32)
        n1 = _nuclear_norms(vecs[0], unit)
        n2 = _nuclear_norms(vecs[1], unit)
        tot = n1 + n2
        w1 = np.where(tot > 0, n1 / np.where(tot > 0, tot, 1), 0.5)[:, None].astype(np.float32)
        fused = w1 * vecs[0] + (1 - w1) * vecs[1]
        detail_sum += _patch_average(fused, ys, xs, unit, shape)
    out = 0.5 * (bases[0].astype(np.float64) + bases[1]) + detail_sum
    return out[:h, :w].astype(np.float32)
