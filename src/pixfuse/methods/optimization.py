"""Optimisation and low-rank fusion: GTF, LatLRR, MDLatLRR.

Source order: infrared (or anatomical) first, visible (or functional) second.
"""
from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources

import numpy as np

from ..errors import InputError, PixfuseError
from ..ops.lowrank import LRR_THREADS, latent_lrr
from ..ops.threads import blas_threads
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

    Cost: every ALM iteration needs eigen-decompositions of an H x H and a
    min(H, W) x min(H, W) Gram matrix once the threshold is small, and the
    solver runs to the reference tolerance (1e-6, about 200-300
    iterations); a 640x480 pair takes ~40 s of CPU time (the MATLAB
    original: several minutes).  The two images are decomposed on two
    threads, so the wall time is about half that on an idle 2-core machine;
    see :func:`pixfuse.ops.lowrank.latent_lrr` for the exact reductions of
    the solver.

    References
    ----------
    H. Li and X.-J. Wu, "Infrared and visible image fusion using Latent
    Low-Rank Representation", arXiv:1804.08992, 2018.
    G. Liu and S. Yan, "Latent Low-Rank Representation for Subspace
    Segmentation and Feature Extraction", ICCV 2011.
    """
    def parts(im: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(im, dtype=np.float64)
        z, lmat, _ = latent_lrr(x, lam, max_iter=max_iter)
        return np.clip(x @ z, 0, 1), np.clip(lmat @ x, 0, 1)

    # the two decompositions are independent: run them side by side (single-threaded BLAS in each;
    # the limit is set once around both so that the threads do not restore each other's setting)
    with blas_threads(1):
        if LRR_THREADS > 1:
            with ThreadPoolExecutor(2) as pool:
                (l0, s0), (l1, s1) = pool.map(parts, images)
        else:
            (l0, s0), (l1, s1) = (parts(im) for im in images)
    return (0.5 * (l0 + l1) + s0 + s1).astype(np.float32)


# --------------------------------------------------------------------------- MDLatLRR

#: sha256 of src/pixfuse/data/latlrr_projection.npz (written by scripts/learn_latlrr_projection.py)
LATLRR_PROJECTION_SHA256 = "e6780d520da4a15cdb09e4230154b3a250a2c8fa148b6bd79d3136462cb000ed"


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


def _patch_planes(img: np.ndarray, unit: int, stride: int) -> np.ndarray:
    """All ``unit x unit`` patches at ``stride`` as a (unit^2, ny, nx) array of planes.

    Plane ``a = c*unit + r`` (column-major patch vectors, as MATLAB's ``temp(:)``)
    holds pixel ``(r, c)`` of every patch; contiguous planes keep the projection a
    single matrix product and the overlap averaging a sum of shifted planes.
    """
    h, w = img.shape
    ny = (h - unit) // stride + 1
    nx = (w - unit) // stride + 1
    planes = np.empty((unit * unit, ny, nx), np.float32)
    for c in range(unit):
        for r in range(unit):
            planes[c * unit + r] = img[r : r + stride * (ny - 1) + 1 : stride, c : c + stride * (nx - 1) + 1 : stride]
    return planes


def _patch_average(planes: np.ndarray, unit: int, stride: int, shape: tuple[int, int]) -> np.ndarray:
    """Put patch planes back at their origins and average overlapping pixels."""
    _, ny, nx = planes.shape
    acc = np.zeros(shape, np.float32)
    cnt = np.zeros(shape, np.float32)
    for c in range(unit):
        sx = slice(c, c + stride * (nx - 1) + 1, stride)
        for r in range(unit):
            sy = slice(r, r + stride * (ny - 1) + 1, stride)
            acc[sy, sx] += planes[c * unit + r]
            cnt[sy, sx] += 1.0
    return acc / cnt


def _pad_for_stride(img: np.ndarray, unit: int, stride: int) -> np.ndarray:
    h, w = img.shape
    hd = (-(h - unit)) % stride
    wd = (-(w - unit)) % stride
    if hd == 0 and wd == 0:
        return img
    return np.pad(img, ((0, hd), (0, wd)), mode="symmetric")


#: Patches per chunk of the MDLatLRR projection / nuclear norms, and threads running the chunks
#: (BLAS / LAPACK single-threaded inside each; results do not depend on either).
MDLATLRR_CHUNK = 32768
MDLATLRR_THREADS = max(1, min(2, os.cpu_count() or 1))


def _nuclear_norms_flat(cols: np.ndarray, unit: int) -> np.ndarray:
    """Nuclear norm of every patch of a (unit^2, m) column block (column-major patch vectors).

    The Gram matrices ``M^T M`` of the patches are formed, then their eigenvalues:
    ``||M||_* = sum sqrt(eig(M^T M))``.
    """
    m = cols.shape[1]
    c3 = cols.reshape(unit, unit, m)  # [c, r, patch]: column c of every patch is c3[c]
    g = np.einsum("irp,jrp->pij", c3, c3, optimize=True)
    ev = np.linalg.eigvalsh(g)
    return np.sqrt(np.maximum(ev, 0.0)).sum(axis=1)


def _project_with_norms(lmat: np.ndarray, planes: np.ndarray, unit: int) -> tuple[np.ndarray, np.ndarray]:
    """Detail patches ``L p`` of every patch plane column and their nuclear norms.

    Chunks of :data:`MDLATLRR_CHUNK` patches run on :data:`MDLATLRR_THREADS`
    threads (single-threaded BLAS / LAPACK in each, which releases the GIL).
    """
    flat = planes.reshape(unit * unit, -1)
    n = flat.shape[1]
    det = np.empty_like(flat)
    norms = np.empty(n, np.float64)

    def run(s: int) -> None:
        e = min(n, s + MDLATLRR_CHUNK)
        np.matmul(lmat, flat[:, s:e], out=det[:, s:e])
        norms[s:e] = _nuclear_norms_flat(det[:, s:e], unit)

    starts = range(0, n, MDLATLRR_CHUNK)
    with blas_threads(1):
        if MDLATLRR_THREADS > 1 and len(starts) > 1:
            with ThreadPoolExecutor(MDLATLRR_THREADS) as pool:
                list(pool.map(run, starts))
        else:
            for s in starts:
                run(s)
    return det.reshape(planes.shape), norms


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
    (~300k patches per level and source at 640x480), a few seconds per level;
    chunks of patches run on :data:`MDLATLRR_THREADS` threads.

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
        details = []
        norms = []
        for k, b in enumerate(bases):
            planes = _patch_planes(b, unit, stride)
            d, nn = _project_with_norms(lmat, planes, unit)
            del planes
            details.append(d)
            norms.append(nn)
            bases[k] = b - _patch_average(d, unit, stride, shape)
        n1, n2 = norms
        tot = n1 + n2
        w1 = np.where(tot > 0, n1 / np.where(tot > 0, tot, 1), 0.5).astype(np.float32).reshape(details[0].shape[1:])
        fused = w1 * details[0] + (1 - w1) * details[1]
        detail_sum += _patch_average(fused, unit, stride, shape)
    out = 0.5 * (bases[0].astype(np.float64) + bases[1]) + detail_sum
    return out[:h, :w].astype(np.float32)
