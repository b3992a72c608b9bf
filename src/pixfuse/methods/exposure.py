"""Multi-exposure fusion (task ``multi_exposure``): N >= 2 differently exposed frames.

Every method here computes its weights once and applies them to every colour
channel (``color="channels"``); grey stacks work as well.  Methods that order
the stack internally (SPD-MEF, DSIFT-EF dynamic mode) sort the frames by mean
intensity, so results do not depend on the order the files were given in.

Presets of :func:`mertens` (see its docstring):

=========  ============================================================================
preset     weights
=========  ============================================================================
paper      contrast 1, saturation 1, well-exposedness 1 (sigma 0.2) - Mertens et al. 2007
opencv     contrast 1, saturation 1, well-exposedness 0 - ``cv2.createMergeMertens()``;
           output equal to OpenCV's to float rounding
enfuse     enfuse 4.2 defaults: exposure 1 (Gaussian of the channel average, optimum
           0.5, width 0.2), saturation 0.2 (HSL saturation), contrast 0
=========  ============================================================================
"""
from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from ..errors import ParameterError
from ..ops.domain_transform import recursive_filter_batch
from ..ops.dsift import dense_sift, normalise_sift
from ..ops.filters import box_mean, edge_preserving_mean, guided_filter, guided_filter_color
from ..ops.histogram import equalize_histogram, match_histogram
from ..ops.pyramid import cv_gaussian_pyramid, cv_levels, cv_pyr_up
from ..ops.weighted_guided import weighted_guided_filter
from ..registry import Param, register_method

_TASK = ("multi_exposure",)
_N = (2, None)

_POOL: ThreadPoolExecutor | None = None
#: Work is split into this many fixed chunks (independent of the core count, so
#: the summation order and therefore the output bytes never change).
_CHUNKS = 2


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, min(_CHUNKS, os.cpu_count() or 1)))
    return _POOL


def _chunks(n: int) -> list[list[int]]:
    return [list(range(c, n, _CHUNKS)) for c in range(min(_CHUNKS, n))]


def _gray(img: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB float32 image (cv2 RGB2GRAY), grey returned as is."""
    if img.ndim == 2:
        return img
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


def _mean_lum(img: np.ndarray) -> float:
    return float(np.mean(img))


def _order_by_luminance(images: Sequence[np.ndarray]) -> list[int]:
    return sorted(range(len(images)), key=lambda i: (_mean_lum(images[i]), i))


# ----------------------------------------------------------------------------- Mertens

_PRESETS = {
    "paper": (1.0, 1.0, 1.0),
    "opencv": (1.0, 1.0, 0.0),
    "enfuse": (0.0, 0.2, 1.0),
}


def _mertens_weight(img: np.ndarray, wc: float, ws: float, we: float, sigma: float,
                    enfuse: bool, wsp: "_Workspace | None" = None, key: object = None,
                    chunk: object = None) -> np.ndarray:
    """Raw (unnormalised) Mertens weight ``C^wc * S^ws * E^we + 1e-12`` of one frame.

    Contrast and saturation follow OpenCV's operation order (same grey image,
    same Laplacian, ``sqrt(sum_c (c - mean)^2)``), so the weights are the ones
    ``cv2.MergeMertens`` computes; the well-exposedness is evaluated as
    ``exp(k * sum_c (c - 0.5)^2)``, the product of the per-channel Gaussians
    in one exponential (equal to float rounding).  All arrays live in the
    workspace ``wsp`` (a private one when None): the weight in ``("w", key)``,
    the temporaries in per-``chunk`` buffers.
    """
    wsp = wsp if wsp is not None else _Workspace(cache=False)
    colour = img.ndim == 3
    hw = img.shape[:2]

    def buf(name: str, k: object = None) -> np.ndarray:
        return wsp.take((name, chunk if k is None else k), hw)

    planes: list[np.ndarray] = []
    if colour and (ws > 0 or we > 0):
        planes = cv2.split(img, [buf("ch0"), buf("ch1"), buf("ch2")])
    w: np.ndarray | None = None
    if wc > 0:
        g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY, dst=buf("gray")) if colour else img
        w = cv2.Laplacian(g, cv2.CV_32F, dst=buf("w", key))
        np.abs(w, out=w)
        if wc != 1:
            np.power(w, np.float32(wc), out=w)
    if ws > 0 and colour:
        r, g, b = planes
        s = buf("sat") if w is not None else buf("w", key)
        if enfuse:                       # HSL saturation
            mx = np.maximum(np.maximum(r, g), b)
            mn = np.minimum(np.minimum(r, g), b)
            ssum = mx + mn
            den = np.where(ssum <= 1, ssum, 2 - ssum)
            np.copyto(s, np.where(den > 0, (mx - mn) / np.where(den > 0, den, 1), 0))
        else:                            # OpenCV: sqrt(sum_c (c - mean)^2), mean = (r + g + b) * (1/3)
            m = cv2.add(r, g, dst=buf("mean"))
            cv2.add(m, b, dst=m)
            np.multiply(m, np.float32(1.0 / 3.0), out=m)
            d = cv2.subtract(r, m, dst=buf("dev"))
            cv2.multiply(d, d, dst=s)
            cv2.subtract(g, m, dst=d)
            cv2.accumulateSquare(d, s)
            cv2.subtract(b, m, dst=d)
            cv2.accumulateSquare(d, s)
            cv2.sqrt(s, dst=s)
        if ws != 1:
            np.power(s, np.float32(ws), out=s)
        w = s if w is None else cv2.multiply(w, s, dst=w)
    if we > 0:
        k = np.float32(-1.0 / (2.0 * sigma * sigma))
        e = buf("expo") if w is not None else buf("w", key)
        half = np.float32(0.5)
        if colour and enfuse:            # enfuse: Gaussian of the channel average
            cv2.add(planes[0], planes[1], dst=e)
            cv2.add(e, planes[2], dst=e)
            np.multiply(e, np.float32(1.0 / 3.0), out=e)
            np.subtract(e, half, out=e)
            cv2.multiply(e, e, dst=e)
        elif colour:                     # prod_c exp(k (c - 0.5)^2) = exp(k sum_c (c - 0.5)^2)
            t = buf("dev")
            np.subtract(planes[0], half, out=t)
            cv2.multiply(t, t, dst=e)
            for p in planes[1:]:
                np.subtract(p, half, out=t)
                cv2.accumulateSquare(t, e)
        else:
            np.subtract(img, half, out=e)
            cv2.multiply(e, e, dst=e)
        np.multiply(e, k * np.float32(we), out=e)      # E^we = exp(we * k * q)
        cv2.exp(e, dst=e)
        w = e if w is None else cv2.multiply(w, e, dst=w)
    if w is None:
        w = buf("w", key)
        w.fill(1.0)
    return cv2.add(w, 1e-12, dst=w)


_U8_SCALE = np.float32(1.0 / 255.0)      # OpenCV's convertTo(CV_32F, 1/255) factor, as float32


def _as_cv_8bit_scaled(img: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``img`` rescaled as ``Mat::convertTo(CV_32F, 1/255)`` rescales 8-bit data: ``round(255 x) * float(1/255)``.

    ``x / 255`` (pixfuse's reading of 8-bit data) and ``u * float(1/255)``
    (OpenCV's) differ in the last bit for some codes ``u``; near-flat pixels
    have weights of ~1e-12 whose last bits decide the result, so equality with
    OpenCV needs its scaling.  ``255 * (u / 255)`` is exactly ``u`` in float32
    for every code, so two multiplications do it (no rounding pass); data not
    of 8-bit origin move by at most two units in the last place.
    """
    out = np.multiply(img, np.float32(255.0), out=out)
    return np.multiply(out, _U8_SCALE, out=out)


class _Workspace:
    """Work arrays of :func:`mertens` kept between calls (at most ``LIMIT`` = 256 MiB, one image size).

    Fresh multi-megabyte arrays cost page faults (the allocator returns freed
    blocks to the system, most of all in the worker threads' arenas); on a
    5-frame 512x340 stack they were about half of the CPU time.  Re-using the
    pyramids' level buffers, the rescaled frames and the normalised weights
    across calls removes them.  One call at a time uses the shared instance
    (a non-blocking lock); a concurrent call gets a private, uncached one.
    Outputs never alias these buffers.
    """

    LIMIT = 256 * 2 ** 20

    def __init__(self, cache: bool = True) -> None:
        self.cache = cache
        self.arrays: dict[object, np.ndarray] = {}
        self.nbytes = 0
        self.lock = threading.Lock()        # one mertens() call at a time uses the shared instance
        self._dict_lock = threading.Lock()  # the two worker threads of that call share the dict

    def take(self, key: object, shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
        with self._dict_lock:
            a = self.arrays.get(key)
            if a is not None and a.shape == tuple(shape) and a.dtype == dtype:
                return a
        a = np.empty(shape, dtype)
        if self.cache and a.nbytes <= self.LIMIT:
            with self._dict_lock:
                old = self.arrays.pop(key, None)
                self.nbytes -= 0 if old is None else old.nbytes
                if self.nbytes + a.nbytes > self.LIMIT:   # another image size: start over
                    self.arrays.clear()
                    self.nbytes = 0
                self.arrays[key] = a
                self.nbytes += a.nbytes
        return a


_WORKSPACE = _Workspace()


def _level_shapes(hw: tuple[int, int], maxlevel: int) -> list[tuple[int, int]]:
    shapes = [tuple(hw)]
    for _ in range(maxlevel):
        h, w = shapes[-1]
        shapes.append(((h + 1) // 2, (w + 1) // 2))
    return shapes  # type: ignore[return-value]


def _blend_chunk(images: Sequence[np.ndarray], weights: Sequence[np.ndarray], idx: list[int],
                 maxlevel: int, ws: _Workspace | None = None, chunk: int = 0,
                 total: np.ndarray | None = None) -> list[np.ndarray]:
    """``sum_{i in idx} G_k(W_i) * L_k(I_i)`` for every level k, in the chunk's own level buffers.

    With ``total`` the weights are first divided by it in place (normalised).
    """
    ws = ws if ws is not None else _Workspace(cache=False)
    shp = images[idx[0]].shape
    colour = len(shp) == 3
    shapes = _level_shapes(shp[:2], maxlevel)
    ext = shp[2:]
    # every buffer fetched once per call: the inner loop makes only OpenCV calls
    acc = [ws.take(("acc", chunk, k), shapes[k] + ext) for k in range(maxlevel + 1)]
    gp = [None] + [ws.take(("gp", chunk, k), shapes[k] + ext) for k in range(1, maxlevel + 1)]
    wp = [None] + [ws.take(("wp", chunk, k), shapes[k]) for k in range(1, maxlevel + 1)]
    up = [ws.take(("up", chunk, k), shapes[k] + ext) for k in range(maxlevel)]
    w3 = [ws.take(("w3", chunk, k), shapes[k] + ext) for k in range(maxlevel + 1)] if colour else wp
    dsz = [s[::-1] for s in shapes]
    pyr_down, pyr_up, subtract, multiply, accumulate = (cv2.pyrDown, cv2.pyrUp, cv2.subtract, cv2.multiply,
                                                         cv2.accumulateProduct)
    cvt, g2rgb = cv2.cvtColor, cv2.COLOR_GRAY2RGB
    for j, i in enumerate(idx):
        gp[0] = images[i]
        wp[0] = weights[i] if total is None else cv2.divide(weights[i], total, dst=weights[i])
        for k in range(maxlevel):
            pyr_down(gp[k], dst=gp[k + 1], dstsize=dsz[k + 1])
            pyr_down(wp[k], dst=wp[k + 1], dstsize=dsz[k + 1])
        for k in range(maxlevel + 1):
            if k < maxlevel:
                band = pyr_up(gp[k + 1], dst=up[k], dstsize=dsz[k])
                subtract(gp[k], band, dst=band)
            else:
                band = gp[k]
            ww = cvt(wp[k], g2rgb, dst=w3[k]) if colour else wp[k]
            if j == 0:
                multiply(band, ww, dst=acc[k])
            else:
                accumulate(band, ww, acc[k])
    return acc


def _run_chunks(fn, n_chunks: int) -> list:
    """``fn(c)`` for every chunk, on the pool when OpenCV may use more than one thread, else in this thread."""
    if n_chunks > 1 and cv2.getNumThreads() > 1 and (os.cpu_count() or 1) > 1:
        return list(_pool().map(fn, range(n_chunks)))
    return [fn(c) for c in range(n_chunks)]


def pyramid_blend(images: Sequence[np.ndarray], weights: Sequence[np.ndarray], maxlevel: int | None = None,
                  workspace: _Workspace | None = None, total: np.ndarray | None = None) -> np.ndarray:
    """Multi-resolution blending of Mertens et al.: ``sum_i G(W_i) * L(I_i)`` per level, then collapse.

    ``weights`` must be normalised to sum 1 per pixel, or ``total`` given: their
    sum, by which they are then divided in place.  Uses OpenCV's
    5-tap binomial pyramid (``pyrDown``/``pyrUp``, reflect-101 borders) with
    ``maxlevel = int(log2(min(h, w)))`` as ``cv2.MergeMertens``; the frames are
    processed in two fixed chunks (on a thread pool when ``cv2.getNumThreads()
    > 1``), each into its own pre-allocated level buffers.  Returns a new array.
    """
    lev = cv_levels(images[0].shape) if maxlevel is None else maxlevel
    ws = workspace if workspace is not None else _Workspace(cache=False)
    chunks = _chunks(len(images))
    parts = _run_chunks(lambda c: _blend_chunk(images, weights, chunks[c], lev, ws, c, total), len(chunks))
    pyr = parts[0]
    for other in parts[1:]:
        for k in range(lev + 1):
            cv2.add(pyr[k], other[k], dst=pyr[k])
    shp = images[0].shape
    out = np.empty(shp, np.float32)
    for k in range(lev - 1, -1, -1):
        upk = cv2.pyrUp(pyr[k + 1], dst=ws.take(("up", 0, k), pyr[k].shape), dstsize=pyr[k].shape[1::-1])
        cv2.add(pyr[k], upk, dst=out if k == 0 else pyr[k])
    if lev == 0:
        np.copyto(out, pyr[0])
    return out


@register_method(
    "mertens",
    tasks=_TASK,
    n_inputs=_N,
    color="channels",
    params={
        "preset": Param("paper", "weight defaults: paper (1,1,1), opencv (createMergeMertens: 1,1,0), enfuse (0,0.2,1)",
                        str, choices=("paper", "opencv", "enfuse")),
        "contrast_weight": Param(None, "exponent of the contrast measure (overrides the preset)", float, 0, 10),
        "saturation_weight": Param(None, "exponent of the saturation measure (overrides the preset)", float, 0, 10),
        "exposure_weight": Param(None, "exponent of the well-exposedness measure (overrides the preset)", float, 0, 10),
        "sigma": Param(0.2, "width of the well-exposedness Gaussian (enfuse: --exposure-width)", float, 0.01, 1),
        "levels": Param(0, "highest pyramid level; 0 = int(log2(min(h, w))) as OpenCV", int, 0, 30),
    },
    citation=(
        "T. Mertens, J. Kautz and F. Van Reeth, 'Exposure Fusion', Pacific Graphics 2007, pp. 382-390 "
        "(extended: Computer Graphics Forum 28(1):161-171, 2009)."
    ),
    aliases=("exposure-fusion", "mertens07"),
    copy_free=True,
)
def mertens(images: Sequence[np.ndarray], *, preset: str = "paper", contrast_weight: float | None = None,
            saturation_weight: float | None = None, exposure_weight: float | None = None,
            sigma: float = 0.2, levels: int = 0) -> np.ndarray:
    """Exposure fusion of Mertens, Kautz & Van Reeth (2007).

    Per frame the weight is ``C^wc * S^ws * E^we + 1e-12`` with ``C`` the
    absolute response of the 3x3 Laplacian ``[0 1 0; 1 -4 1; 0 1 0]`` on the
    BT.601 grey image, ``S`` the standard deviation of R, G, B (OpenCV's
    form ``sqrt(sum (c - mean)^2)``, a constant factor away from the paper's)
    and ``E = prod_c exp(-(c - 0.5)^2 / (2 sigma^2))``.  Weights are
    normalised to sum 1, and the frames are blended in a Laplacian pyramid
    weighted by the Gaussian pyramid of the weights (:func:`pyramid_blend`).

    Presets: ``paper`` (1, 1, 1); ``opencv`` (1, 1, 0) - the defaults of
    ``cv2.createMergeMertens()``, whose output this reproduces to float32
    rounding (same operations, same pyramid); ``enfuse`` - enfuse 4.2's
    defaults: ``--exposure-weight=1`` on the channel average ("average" grey
    projector, optimum 0.5, width ``sigma`` 0.2), ``--saturation-weight=0.2``
    with HSL saturation, ``--contrast-weight=0``, blended in RGB (enfuse's
    IDENTITY blend space for files without ICC profile).  enfuse's own pyramid
    and mask quantisation differ slightly; ``benchmarks/bench_stacks.py``
    prints the PSNR between the two.

    Work is done in two fixed chunks of frames, on a thread pool when
    ``cv2.getNumThreads() > 1`` and in the calling thread otherwise (the same
    bytes either way); work arrays are kept between calls (see ``_Workspace``).

    Parameters
    ----------
    images : N frames, HxW or HxWx3 float32 in [0, 1]
    preset : "paper", "opencv" or "enfuse"
    contrast_weight, saturation_weight, exposure_weight : exponents
        overriding the preset's
    sigma : well-exposedness width
    levels : highest pyramid level (0 = automatic)

    Returns
    -------
    Fused image (float32, not clipped).

    References
    ----------
    T. Mertens, J. Kautz and F. Van Reeth, "Exposure Fusion", Pacific
    Graphics 2007, pp. 382-390.
    """
    wc, ws, we = _PRESETS[preset]
    wc = wc if contrast_weight is None else contrast_weight
    ws = ws if saturation_weight is None else saturation_weight
    we = we if exposure_weight is None else exposure_weight
    enf = preset == "enfuse"
    imgs = [np.ascontiguousarray(im, dtype=np.float32) for im in images]
    n = len(imgs)
    raw: list[np.ndarray] = [None] * n  # type: ignore[list-item]
    shared = _WORKSPACE.lock.acquire(blocking=False)
    wsp = _WORKSPACE if shared else _Workspace(cache=False)
    try:
        chunks = _chunks(n)

        def weigh(c: int) -> None:
            for i in chunks[c]:
                if preset == "opencv":
                    imgs[i] = _as_cv_8bit_scaled(imgs[i], wsp.take(("scaled", i), imgs[i].shape))
                raw[i] = _mertens_weight(imgs[i], wc, ws, we, sigma, enf, wsp, i, c)

        _run_chunks(weigh, len(chunks))
        total = wsp.take(("total",), raw[0].shape)     # summed in frame order, as OpenCV
        np.copyto(total, raw[0])
        for w in raw[1:]:
            cv2.add(total, w, dst=total)
        lev = levels if levels else cv_levels(imgs[0].shape)
        lev = min(lev, cv_levels(imgs[0].shape))
        return pyramid_blend(imgs, raw, lev, wsp, total=total)
    finally:
        if shared:
            _WORKSPACE.lock.release()


# ----------------------------------------------------------------------------- GFF

def gff_weights(images: Sequence[np.ndarray], r1: int, eps1: float, r2: int, eps2: float,
                lap_radius: int = 5, lap_sigma: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Base- and detail-layer weight maps of GFF (Li, Kang & Hu 2013), normalised to sum 1.

    Saliency = Gaussian-smoothed (size ``2 lap_radius + 1``, ``lap_sigma``)
    absolute 3x3 Laplacian of the grey frame; the winner-take-all maps are
    refined by the guided filter with the source (colour guide for colour
    frames) as guidance: ``(r1, eps1)`` for the base, ``(r2, eps2)`` for the
    detail layer.
    """
    gray = [_gray(np.asarray(im, np.float32)) for im in images]
    k = 2 * lap_radius + 1
    sal = np.stack([
        cv2.GaussianBlur(np.abs(cv2.Laplacian(g, cv2.CV_32F, borderType=cv2.BORDER_REPLICATE)), (k, k), lap_sigma,
                         borderType=cv2.BORDER_REPLICATE)
        for g in gray
    ])
    idx = np.argmax(sal, axis=0)
    wb, wd = [], []
    for i, im in enumerate(images):
        P = (idx == i).astype(np.float32)
        if im.ndim == 3:
            wb.append(guided_filter_color(im, P, r1, eps1))
            wd.append(guided_filter_color(im, P, r2, eps2))
        else:
            wb.append(guided_filter(im, P, r1, eps1))
            wd.append(guided_filter(im, P, r2, eps2))

    def norm(ws: list[np.ndarray]) -> np.ndarray:
        a = np.stack(ws).astype(np.float32)
        s = a.sum(axis=0)
        s = np.where(np.abs(s) < 1e-6, 1e-6, s)
        return a / s

    return norm(wb), norm(wd)


def gff_fuse(images: Sequence[np.ndarray], r1: int = 45, eps1: float = 0.3, r2: int = 7,
             eps2: float = 1e-6, avg_size: int = 31,
             weights: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Two-scale GFF fusion: ``sum W_B * B + sum W_D * D`` with ``B`` a ``avg_size`` box mean."""
    WB, WD = gff_weights(images, r1, eps1, r2, eps2) if weights is None else weights
    out = None
    for i, im in enumerate(images):
        im = np.asarray(im, np.float32)
        base = cv2.blur(im, (avg_size, avg_size), borderType=cv2.BORDER_REPLICATE)
        det = im - base
        wb = WB[i] if im.ndim == 2 else WB[i][:, :, None]
        wd = WD[i] if im.ndim == 2 else WD[i][:, :, None]
        t = base * wb + det * wd
        out = t if out is None else out + t
    return out


_GFF_CITATION = ("S. Li, X. Kang and J. Hu, 'Image Fusion With Guided Filtering', IEEE Trans. Image "
                 "Processing 22(7):2864-2875, 2013.")
_GFF_PARAMS = {
    "r1": Param(45, "guided-filter radius for the base-layer weights", int, 1, 200),
    "eps1": Param(0.3, "guided-filter regularisation for the base-layer weights", float, 1e-9, 10),
    "r2": Param(7, "guided-filter radius for the detail-layer weights", int, 1, 100),
    "eps2": Param(1e-6, "guided-filter regularisation for the detail-layer weights", float, 1e-12, 10),
    "avg_size": Param(31, "box-filter size of the two-scale decomposition", int, 3, 201),
}


@register_method("gff-mef", tasks=_TASK, n_inputs=_N, color="channels", params=_GFF_PARAMS,
                 citation=_GFF_CITATION, aliases=("gff-exposure",))
def gff_mef(images: Sequence[np.ndarray], *, r1: int = 45, eps1: float = 0.3, r2: int = 7, eps2: float = 1e-6,
            avg_size: int = 31) -> np.ndarray:
    """Guided-filtering fusion (GFF, Li, Kang & Hu 2013) of an exposure stack.

    Two-scale decomposition (31x31 mean = base, remainder = detail);
    saliency = Gaussian-smoothed |Laplacian| (11x11, sigma 5) of the grey
    frame; winner-take-all maps refined by the guided filter with the colour
    frame as guide (base: r=45, eps=0.3; detail: r=7, eps=1e-6), normalised,
    and applied to every channel.

    Parameters
    ----------
    images : N frames, HxW or HxWx3 float32 in [0, 1]
    r1, eps1, r2, eps2 : guided-filter parameters (paper defaults)
    avg_size : size of the averaging filter of the decomposition

    Returns
    -------
    Fused image (float32).

    References
    ----------
    S. Li, X. Kang and J. Hu, "Image Fusion With Guided Filtering", IEEE TIP
    22(7):2864-2875, 2013.
    """
    return gff_fuse(images, r1, eps1, r2, eps2, avg_size)


# ----------------------------------------------------------------------------- FMMR

def color_dissimilarity(images: Sequence[np.ndarray], median_size: int = 3) -> np.ndarray:
    """Per-frame colour dissimilarity of FMMR's motion detection, (N, H, W) float32.

    Every frame is histogram-equalised (per channel), which maps differently
    exposed views of a static scene to nearly the same values; the per-pixel
    median over the equalised frames is the static-scene estimate (a moving
    object present in a minority of frames is rejected by the median);
    ``D_n`` is the Euclidean colour distance of equalised frame ``n`` to that
    median, median-filtered (``median_size``) to remove isolated responses.
    """
    eq = np.stack([equalize_histogram(im) for im in images])
    med = np.median(eq, axis=0)
    d = eq - med[None]
    D = np.sqrt((d * d).sum(axis=-1)) if d.ndim == 4 else np.abs(d)
    if median_size > 1:
        D = np.stack([_median(x, median_size) for x in D.astype(np.float32)])
    return D.astype(np.float32)


def _median(a: np.ndarray, size: int) -> np.ndarray:
    """Median filter of a float map (cv2 float path for 3/5, 8-bit quantised above, as cv2 requires)."""
    if size in (3, 5):
        return cv2.medianBlur(np.ascontiguousarray(a, np.float32), size)
    hi = float(a.max()) or 1.0
    u = np.clip(np.rint(a / hi * 255), 0, 255).astype(np.uint8)
    return cv2.medianBlur(u, size).astype(np.float32) * np.float32(hi / 255)


@register_method(
    "fmmr",
    tasks=_TASK,
    n_inputs=_N,
    color="channels",
    params={
        "median_size": Param(3, "median-filter size applied to the contrast and dissimilarity maps", int, 1, 15),
        "sigma": Param(0.2, "width of the brightness (well-exposedness) Gaussian", float, 0.01, 1),
        "sigma_d": Param(0.2, "width of the colour-dissimilarity Gaussian; 0 disables the term (static scenes)",
                         float, 0, 10),
        "sigma_s": Param(100.0, "recursive-filter spatial sigma", float, 1, 1000),
        "sigma_r": Param(4.0, "recursive-filter range sigma", float, 0.01, 100),
        "iterations": Param(3, "recursive-filter iterations", int, 1, 10),
    },
    citation=("S. Li and X. Kang, 'Fast multi-exposure image fusion with median filter and recursive filter', "
              "IEEE Trans. Consumer Electronics 58(2):626-632, 2012."),
    aliases=("fast-mef", "li-kang-2012"),
)
def fmmr(images: Sequence[np.ndarray], *, median_size: int = 3, sigma: float = 0.2, sigma_d: float = 0.2,
         sigma_s: float = 100.0, sigma_r: float = 4.0, iterations: int = 3) -> np.ndarray:
    """Fast multi-exposure fusion with median and recursive filters (Li & Kang 2012).

    Three features give the weight of frame n: local contrast ``C_n`` (the
    median-filtered absolute Laplacian of the grey frame), brightness
    ``B_n = exp(-(y - 0.5)^2 / 2 sigma^2)``, and colour dissimilarity
    ``D_n`` (:func:`color_dissimilarity`: distance of the histogram-equalised
    frame to the per-pixel median of all equalised frames, median-filtered),
    which enters as ``exp(-D_n^2 / 2 sigma_d^2)`` so pixels that disagree
    with the rest of the stack (moving objects) lose weight.  The
    winner-take-all map of ``C * B * exp(-D^2 / 2 sigma_d^2)`` is refined by
    the domain-transform recursive filter (Gastal & Oliveira 2011) with the
    colour frame as the edge guide, renormalised, and the frames averaged
    with it at a single scale.

    Notes
    -----
    Written from the paper's description (no reference code was found):
    the exact normalisation of the dissimilarity and ``sigma_d = 0.2`` are
    our reading, not a value printed in the paper.  ``sigma_d = 0`` drops
    the term (the static-scene variant).

    Parameters
    ----------
    images : N frames, HxW or HxWx3 float32 in [0, 1]
    median_size : median filter size for the contrast and dissimilarity maps
    sigma : brightness Gaussian width
    sigma_d : colour-dissimilarity Gaussian width (0 = off)
    sigma_s, sigma_r, iterations : recursive filter parameters

    Returns
    -------
    Fused image (float32).

    References
    ----------
    S. Li and X. Kang, "Fast multi-exposure image fusion with median filter
    and recursive filter", IEEE Trans. Consumer Electronics 58(2):626-632, 2012.
    """
    imgs = [np.asarray(im, np.float32) for im in images]
    ws = []
    for im in imgs:
        g = _gray(im)
        c = np.abs(cv2.Laplacian(g, cv2.CV_32F, borderType=cv2.BORDER_REPLICATE))
        if median_size > 1:
            c = _median(c, median_size)
        b = np.exp(-((g - 0.5) ** 2) / (2 * sigma * sigma))
        ws.append(c * b)
    W = np.stack(ws)
    if sigma_d > 0 and len(imgs) > 2:
        D = color_dissimilarity(imgs, median_size)
        W = W * np.exp(-(D * D) / np.float32(2 * sigma_d * sigma_d))
    idx = np.argmax(W, axis=0)
    P = np.stack([(idx == i).astype(np.float64) for i in range(len(imgs))])
    R = recursive_filter_batch(P, np.stack(imgs), sigma_s, sigma_r, iterations)
    R = np.maximum(R, 0) + 1e-12
    R /= R.sum(axis=0, keepdims=True)
    out = None
    for i, im in enumerate(imgs):
        w = R[i].astype(np.float32)
        t = im * (w if im.ndim == 2 else w[:, :, None])
        out = t if out is None else out + t
    return out


# ----------------------------------------------------------------------------- SPD-MEF

def _select_ref(imgs: Sequence[np.ndarray], thr: float = 0.01) -> int:
    """selectRef of the SPD-MEF code: the middle frame of 3, else the fewest badly exposed 3x3 means."""
    n = len(imgs)
    if n == 3:
        return 1
    counts = []
    for im in imgs:
        a = im if im.ndim == 2 else im.mean(axis=2)
        m = cv2.blur(a.astype(np.float64), (3, 3))[1:-1, 1:-1]
        counts.append(int(((m < thr) | (m > 1 - thr)).sum()))
    return int(np.argmin(counts))


def _box_valid(a: np.ndarray, size: int, normalize: bool = True) -> np.ndarray:
    r = size // 2
    out = cv2.boxFilter(a, cv2.CV_64F, (size, size), normalize=normalize, borderType=cv2.BORDER_REFLECT)
    return out[r:a.shape[0] - r, r:a.shape[1] - r]


def _grid(n_valid: int, step: int) -> np.ndarray:
    g = list(range(0, n_valid, step))
    g += list(range(g[-1] + 1, n_valid))
    return np.asarray(g)


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


@register_method(
    "spd-mef",
    tasks=_TASK,
    n_inputs=_N,
    color="channels",
    params={
        "p": Param(4.0, "exponent of the structure weights (signal strength ** p)", float, 0, 20),
        "g_sigma": Param(0.2, "spread of the global-mean Gaussian", float, 0.01, 5),
        "l_sigma": Param(0.5, "spread of the local-mean Gaussian", float, 0.01, 5),
        "patch": Param(21, "patch size (odd)", int, 3, 63),
        "stride": Param(2, "patch stride", int, 1, 32),
        "exposure_thres": Param(0.01, "reference means below / above 1 - this are treated as consistent", float, 0, 0.5),
        "consistency_thres": Param(0.1, "intensity-mapping (IMF) consistency threshold", float, 0, 1),
        "structure_thres": Param(0.8, "structural-consistency threshold for ghost removal", float, -1, 1),
        "ghost_removal": Param(True, "detect motion against a reference frame and use its exposure-matched "
                               "version there (the paper's robust mode)", bool),
    },
    citation=("K. Ma, H. Li, H. Yong, Z. Wang, D. Meng and L. Zhang, 'Robust Multi-Exposure Image Fusion: "
              "A Structural Patch Decomposition Approach', IEEE Trans. Image Processing 26(5):2519-2532, 2017."),
    aliases=("spdmef", "spd"),
)
def spd_mef(images: Sequence[np.ndarray], *, p: float = 4.0, g_sigma: float = 0.2, l_sigma: float = 0.5,
            patch: int = 21, stride: int = 2, exposure_thres: float = 0.01, consistency_thres: float = 0.1,
            structure_thres: float = 0.8, ghost_removal: bool = True) -> np.ndarray:
    """Structural patch decomposition MEF (SPD-MEF, Ma et al. 2017), ghost-free.

    Each colour patch is split into signal strength ``c = ||x - mu||``,
    structure ``s = (x - mu) / c`` and mean intensity ``l``.  The fused patch
    takes the largest strength, the structure averaged with weights ``c^p``
    and renormalised, and the mean averaged with
    ``exp(-(g - 0.5)^2/2 g_sigma^2 - (l - 0.5)^2/2 l_sigma^2)`` (``g``: frame's
    global mean).  Patches (21x21, stride 2) are averaged where they overlap.

    Ghost removal (``ghost_removal=True``): the reference frame is selected as
    in the authors' code (middle of 3, else fewest badly exposed pixels);
    every other frame's patch is consistent if its SSIM structure term with
    the reference exceeds ``structure_thres`` (0.8; patches the reference
    has under/over-exposed count as consistent; binary map opened with a
    disk of the patch radius) and its mean matches the reference's after
    histogram-based intensity mapping within ``consistency_thres``.
    Inconsistent patches are replaced by "pseudo exposures": the reference
    histogram-matched to that frame.

    The patch loop is evaluated in closed form: every per-patch coefficient
    is a function of box-filtered (pairwise) products, and the overlap
    averaging is a box filter of the coefficients placed on the stride grid.

    Parameters
    ----------
    images : N frames, HxW or HxWx3 float32 in [0, 1]
    p, g_sigma, l_sigma, patch, stride : paper defaults 4, 0.2, 0.5, 21, 2
    exposure_thres, consistency_thres, structure_thres : 0.01, 0.1, 0.8
    ghost_removal : enable the structural-consistency test

    Returns
    -------
    Fused image (float32, clipped to [0, 1]).

    Notes
    -----
    Deviation: MATLAB ``strel('disk', 21)`` is a line-segment approximation of
    a disk; an OpenCV ellipse of the same radius is used.

    References
    ----------
    K. Ma, H. Li, H. Yong, Z. Wang, D. Meng and L. Zhang, "Robust
    Multi-Exposure Image Fusion: A Structural Patch Decomposition Approach",
    IEEE TIP 26(5):2519-2532, 2017.
    """
    if patch % 2 == 0:
        raise ParameterError("spd-mef: patch must be odd")
    order = _order_by_luminance(images)
    X = [np.asarray(images[i], np.float64) for i in order]
    X = [x if x.ndim == 3 else x[:, :, None] for x in X]
    n = len(X)
    h, w, s3 = X[0].shape
    if min(h, w) < patch:
        raise ParameterError(f"spd-mef: images of {h}x{w} are smaller than the {patch}x{patch} patch")
    ref = _select_ref([x[:, :, 0] if s3 == 1 else x for x in X])
    # pseudo exposures: the reference mapped to every other frame's histogram
    others = [k for k in range(n) if k != ref]
    Y: dict[int, np.ndarray] = {}
    npx = float(patch * patch * s3)

    def lmean(x: np.ndarray) -> np.ndarray:
        return np.mean([_box_valid(x[:, :, c], patch) for c in range(s3)], axis=0)

    lmu = np.stack([lmean(x) for x in X])                             # (n, hv, wv)
    sq = np.stack([np.mean([_box_valid(x[:, :, c] ** 2, patch) for c in range(s3)], axis=0) for x in X])
    sig = np.sqrt(np.maximum(sq - lmu ** 2, 0.0))
    ed = sig * math.sqrt(npx) + 0.001
    gmu = np.array([x.mean() for x in X])
    hv, wv = lmu.shape[1:]
    cmap = np.ones((n, hv, wv))
    if ghost_removal and n > 1:
        C = 0.03 ** 2 / 2
        bad = (lmu[ref] < exposure_thres) | (lmu[ref] > 1 - exposure_thres)
        se = _disk(patch)
        for k in others:
            cross = np.mean([_box_valid(X[ref][:, :, c] * X[k][:, :, c], patch) for c in range(s3)], axis=0)
            smap = (cross - lmu[ref] * lmu[k] + C) / (sig[ref] * sig[k] + C)
            sref = (smap > structure_thres) | bad
            sref = cv2.morphologyEx(sref.astype(np.uint8), cv2.MORPH_OPEN, se).astype(bool)
            cm = match_histogram(lmu[k], lmu[ref])
            iref = np.abs(cm - lmu[ref]) <= consistency_thres
            cmap[k] = (sref & iref).astype(np.float64)
    use_pseudo = [k for k in others if (cmap[k] < 1).any()]
    for k in use_pseudo:
        y = match_histogram(X[ref], X[k])
        Y[k] = np.clip(y, 0, 1)
    # statistics of the pseudo exposures (they enter the mean/strength weights)
    ext_lmu = [lmu[k] for k in range(n)]
    ext_ed = [ed[k] for k in range(n)]
    ext_g = [gmu[k] for k in range(n)]
    ext_c = [cmap[k] for k in range(n)]
    for k in others:
        if k in Y:
            yl = lmean(Y[k])
            ysq = np.mean([_box_valid(Y[k][:, :, c] ** 2, patch) for c in range(s3)], axis=0)
            ext_lmu.append(yl)
            ext_ed.append(np.sqrt(np.maximum(ysq - yl ** 2, 0.0)) * math.sqrt(npx) + 0.001)
            ext_g.append(Y[k].mean())
        else:
            ext_lmu.append(np.zeros_like(lmu[0]))
            ext_ed.append(np.full_like(lmu[0], 0.001))
            ext_g.append(0.5)
        ext_c.append(1.0 - cmap[k])
    E_l = np.stack(ext_lmu)
    E_ed = np.stack(ext_ed)
    E_c = np.stack(ext_c)
    E_g = np.asarray(ext_g)[:, None, None]
    mu_w = np.exp(-0.5 * ((E_g - 0.5) ** 2 / g_sigma ** 2 + (E_l - 0.5) ** 2 / l_sigma ** 2)) * E_c
    mu_w /= mu_w.sum(axis=0, keepdims=True)
    s_w = E_ed ** p * E_c + 0.001
    s_w /= s_w.sum(axis=0, keepdims=True)
    max_ed = (E_ed * E_c).max(axis=0)
    l_hat = (mu_w * E_l).sum(axis=0)
    cf = s_w[:n] / ed                       # coefficient of (B_k - lmu_k), originals' statistics
    # blocks B_k = X_k where consistent, else the pseudo exposure Y_k
    srcs: list[tuple[int, np.ndarray, np.ndarray]] = []      # (k, image, selector map)
    for k in range(n):
        srcs.append((k, X[k], cmap[k]))
        if k in Y:
            srcs.append((k, Y[k], 1.0 - cmap[k]))
    # box sums over the patch of sum_c B and pairwise sum_c B_k B_l
    S = [_box_valid(im.sum(axis=2), patch, normalize=False) for _, im, _ in srcs]
    norm2 = np.zeros((hv, wv))
    for a_i, (ka, ia, sa) in enumerate(srcs):
        for b_i in range(a_i, len(srcs)):
            kb, ib, sb = srcs[b_i]
            sel = sa * sb
            if not np.any(sel):
                continue
            P = _box_valid((ia * ib).sum(axis=2), patch, normalize=False)
            term = P - lmu[kb] * S[a_i] - lmu[ka] * S[b_i] + npx * lmu[ka] * lmu[kb]
            fac = 1.0 if a_i == b_i else 2.0
            norm2 += fac * sel * cf[ka] * cf[kb] * term
    pos = norm2 > 0
    scale = np.where(pos, max_ed / np.sqrt(np.where(pos, norm2, 1.0)), 1.0)
    gamma = l_hat - scale * (cf * lmu).sum(axis=0)
    # keep only the patches on the stride grid and aggregate them
    gx, gy = _grid(hv, stride), _grid(wv, stride)
    mask = np.zeros((hv, wv))
    mask[np.ix_(gx, gy)] = 1.0

    def agg(m: np.ndarray) -> np.ndarray:
        full = np.zeros((h, w))
        full[:hv, :wv] = m * mask
        return cv2.boxFilter(full, cv2.CV_64F, (patch, patch), anchor=(patch - 1, patch - 1), normalize=False,
                             borderType=cv2.BORDER_CONSTANT)

    count = agg(np.ones((hv, wv)))
    out = np.zeros((h, w, s3))
    for k, im, sel in srcs:
        out += im * agg(scale * cf[k] * sel)[:, :, None]
    out += agg(gamma)[:, :, None]
    out /= count[:, :, None]
    out = np.clip(out, 0, 1).astype(np.float32)
    return out[:, :, 0] if s3 == 1 else out


# ----------------------------------------------------------------------------- fast multi-scale SPD-MEF

def _fmspd_detail(X: list[np.ndarray], p: float, r: int, lam: float | None = None,
                  damping: str = "last") -> tuple[np.ndarray, list[np.ndarray]]:
    """One scale of fast SPD-MEF: structure/strength detail term and the local means.

    With ``lam`` (MESPD, Li, Chan, Qi & Xie 2021) the local means are the
    edge-preserving means :func:`pixfuse.ops.filters.edge_preserving_mean`
    (``a_k = var_k / (var_k + lam)``), used both in the detail term and as the
    next scale's input, and the structure weights are multiplied by
    ``1 - a`` of the last frame (``damping="last"``, the authors' code), of
    each frame (``"own"``) or not at all (``"none"``).

    Patch statistics are float32 box means (:func:`pixfuse.ops.filters.box_mean`,
    the three channels filtered in one call); the structure weights are
    float64.  At the (colour) finest scale the detail ``sum_k box(W_k) X_k -
    box(W_k mu_k)`` is accumulated in float32 (it is added to a float32
    result; about 1e-7 from a float64 sum), at the grey coarser scales in
    float64.
    """
    R = 2 * r + 1
    colour = X[0].ndim == 3

    def chan_mean(a: np.ndarray) -> np.ndarray:       # ((c0 + c1) + c2) / 3, as np.mean over a stack
        c = cv2.split(a)
        m = cv2.add(c[0], c[1])
        cv2.add(m, c[2], dst=m)
        return np.divide(m, np.float32(3), out=m)

    X32 = [x if x.dtype == np.float32 else x.astype(np.float32) for x in X]
    means, strengths, edges = [], [], []
    for xf in X32:
        if colour:
            m = chan_mean(box_mean(xf, r))
            sq = chan_mean(box_mean(cv2.multiply(xf, xf), r))
            gain = math.sqrt(3 * R * R)
        else:
            m = box_mean(xf, r)
            sq = box_mean(cv2.multiply(xf, xf), r)
            gain = R
        v = sq - m * m
        if lam is None:
            means.append(m.astype(np.float64))
        else:                            # a_k from the unclamped variance, as the reference code
            q, a = edge_preserving_mean(xf, r, lam, mean=m, var=v)
            means.append(q)
            edges.append(a)
        np.maximum(v, 0, out=v)
        np.sqrt(v, out=v)
        v *= gain
        v += 1e-12
        strengths.append(v.astype(np.float64))
    Cs = np.stack(strengths)
    cmax = Cs.max(axis=0)
    wd = cmax * Cs ** (p - 1) / (Cs ** p + 1e-12).sum(axis=0)
    if lam is not None and damping != "none":
        wd *= (1 - edges[-1]) if damping == "last" else (1 - np.stack(edges))
    out: np.ndarray | None = None
    w1sum: np.ndarray | None = None
    for k, x in enumerate(X):
        w2 = box_mean(wd[k].astype(np.float32), r)
        w1 = box_mean((means[k] * wd[k]).astype(np.float32), r)
        if colour:                       # sum_k X_k box(W_k), minus sum_k box(W_k mu_k) once at the end
            w2 = cv2.cvtColor(w2, cv2.COLOR_GRAY2RGB)
            if out is None:
                out, w1sum = cv2.multiply(X32[k], w2), w1
            else:
                cv2.accumulateProduct(X32[k], w2, out)
                cv2.add(w1sum, w1, dst=w1sum)
        else:
            t = x * w2.astype(np.float64) - w1.astype(np.float64)
            out = t if out is None else out + t
    if colour:
        cv2.subtract(out, cv2.cvtColor(w1sum, cv2.COLOR_GRAY2RGB), dst=out)
    return out, means


def _arctan_exposedness(x: np.ndarray) -> np.ndarray:
    """'our' brightness function of the fast SPD-MEF code: ``2/pi * atan(20 * min(x, 1 - x))``."""
    return 2 / np.pi * np.arctan(20 * np.where(x <= 0.5, x, 1 - x))


def _checker_count(shape: tuple[int, int], r: int) -> np.ndarray:
    t = np.zeros(shape, np.float32)
    t[::2, ::2] = 1
    return cv2.boxFilter(t, cv2.CV_32F, (2 * r + 1, 2 * r + 1), normalize=False,
                         borderType=cv2.BORDER_CONSTANT).astype(np.float64)


def _box_up(coarse: np.ndarray, shape: tuple[int, int], r: int) -> np.ndarray:
    """Zero insertion at even positions + normalised box sum (the code's upsampling)."""
    z = np.zeros(shape[:2] + coarse.shape[2:])
    z[::2, ::2] = coarse
    s = cv2.boxFilter(z, cv2.CV_64F, (2 * r + 1, 2 * r + 1), normalize=False, borderType=cv2.BORDER_CONSTANT)
    return s / _checker_count(shape[:2], r)


def _deghost_reference(X: list[np.ndarray], r: int = 10) -> list[np.ndarray]:
    """Motion detection of the fast SPD-MEF code (``detection_color``): replace regions
    inconsistent with the middle frame by the middle frame histogram-matched to that exposure."""
    n = len(X)
    ref = (n + 1) // 2 - 1
    C = 0.03 ** 2 / 2
    colour = X[0].ndim == 3

    def stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if colour:
            m = np.mean([box_mean(x[:, :, c], r) for c in range(3)], axis=0).astype(np.float64)
            sq = np.mean([box_mean(x[:, :, c] ** 2, r) for c in range(3)], axis=0).astype(np.float64)
        else:
            m = box_mean(x, r).astype(np.float64)
            sq = box_mean(x * x, r).astype(np.float64)
        return m, np.sqrt(np.maximum(sq - m * m, 0))

    Rm, Rs = stats(X[ref])
    bad = (Rm < 0.02) | (Rm > 0.98)
    se = _disk(2 * r + 1)
    out = []
    for k, x in enumerate(X):
        if k == ref:
            out.append(x)
            continue
        m, s = stats(x)
        if colour:
            cross = np.mean([box_mean(x[:, :, c] * X[ref][:, :, c], r) for c in range(3)], axis=0)
        else:
            cross = box_mean(x * X[ref], r)
        smap = (cross - m * Rm + C) / (Rs * s + C)
        sref = ((smap > 0.8) | bad).astype(np.uint8)
        sref = cv2.morphologyEx(sref, cv2.MORPH_OPEN, se).astype(np.float64)
        cm = match_histogram(m, Rm)
        sref *= (np.abs(cm - Rm) <= 0.2)
        temp = match_histogram(X[ref], x)
        sel = sref[:, :, None] if colour else sref
        out.append((x * sel + temp * (1 - sel)).astype(np.float32))
    return out


def _spd_multiscale(X: list[np.ndarray], p: float, r: int, r_coarse: int, base_weights,
                    lam: float | None = None, lam_decay: float = 1.0, damping: str = "last") -> np.ndarray:
    """Multi-scale SPD pipeline shared by :func:`fmspd_mef` and :func:`mespd`.

    The finest scale works on the frames ``X``, every coarser one on the local
    means of the previous scale decimated by 2: ``floor(log2(min(h, w))) - 5``
    intermediate scales (radius ``r``), then the coarsest (radius ``r_coarse``)
    whose detail layer gets the base layer ``sum_k box(WB_k m_k)``, ``WB`` =
    ``base_weights(inputs, means)`` of that scale normalised over the frames.
    Rebuilt coarse to fine by :func:`_box_up` (radius ``r``) plus each scale's
    detail layer.  ``lam`` (None = box means) is the edge-preserving
    regularisation of :func:`_fmspd_detail` at the finest scale, multiplied by
    ``lam_decay`` per scale.
    """
    h, w = X[0].shape[:2]
    details: list[np.ndarray] = []
    shapes: list[tuple[int, int]] = []
    lam_s = None if lam is None else float(lam)
    d1, means = _fmspd_detail(X if X[0].ndim == 3 else [x.astype(np.float64) for x in X], p, r, lam_s, damping)
    details.append(d1)
    shapes.append((h, w))
    cur = [m[::2, ::2] for m in means]
    nlev = int(math.floor(math.log(min(h, w)) / math.log(2))) - 5
    for _ in range(max(nlev, 0)):
        lam_s = None if lam_s is None else lam_s * lam_decay
        d, means = _fmspd_detail(cur, p, r, lam_s, damping)
        details.append(d)
        shapes.append(cur[0].shape)
        cur = [m[::2, ::2] for m in means]
    # coarsest scale: detail + base
    lam_s = None if lam_s is None else lam_s * lam_decay
    dc, means = _fmspd_detail(cur, p, r_coarse, lam_s, damping)
    WB = base_weights(cur, means)
    WB /= WB.sum(axis=0, keepdims=True)
    base = sum(box_mean((means[k] * WB[k]).astype(np.float32), r_coarse).astype(np.float64)
               for k in range(len(means)))
    fused = dc + base
    for d, shp in zip(reversed(details[1:]), reversed(shapes[1:])):
        fused = _box_up(fused, shp, r) + d
    up = _box_up(fused, (h, w), r)
    if X[0].ndim == 3:
        up = up[:, :, None]
    return (up + details[0]).astype(np.float32)


@register_method(
    "fmspd-mef",
    tasks=_TASK,
    n_inputs=_N,
    color="channels",
    params={
        "p": Param(4.0, "exponent of the structure weights", float, 0, 20),
        "r": Param(4, "box radius of the patch statistics at every scale", int, 1, 32),
        "deghost": Param(False, "reference-based motion detection before fusion (dynamic scenes)", bool),
    },
    citation=("H. Li, K. Ma, H. Yong and L. Zhang, 'Fast Multi-Scale Structural Patch Decomposition for "
              "Multi-Exposure Image Fusion', IEEE Trans. Image Processing 29:5805-5816, 2020."),
    aliases=("fast-spd-mef", "fmmef"),
)
def fmspd_mef(images: Sequence[np.ndarray], *, p: float = 4.0, r: int = 4, deghost: bool = False) -> np.ndarray:
    """Fast multi-scale structural patch decomposition MEF (Li, Ma, Yong & Zhang 2020).

    At the finest scale every pixel's (2r+1)^2 colour patch gives a local
    mean and a signal strength ``C_k``; the detail layer is the
    patch-aggregated structure term ``sum_k box(W_k) X_k - box(W_k mu_k)``
    with ``W_k = C_max C_k^(p-1) / sum C^p`` (box-filter aggregation of the
    overlapping patches).  The local means, decimated by 2, are the input of
    the next (grey) scale; ``floor(log2(min(h, w))) - 5`` intermediate scales
    follow, and the coarsest adds a base layer weighted by |Laplacian| times
    the arctan exposedness ``2/pi atan(20 min(x, 1-x))``.  The result is
    rebuilt coarse to fine by zero insertion + normalised box interpolation
    plus each scale's detail layer.

    ``deghost=True`` first runs the authors' motion detection against the
    middle frame (SSIM structure > 0.8, histogram-matched means within 0.2,
    radius 10) and replaces moving regions by the exposure-matched reference.

    Parameters
    ----------
    images : N frames, HxW or HxWx3 float32 in [0, 1]
    p : structure-weight exponent (4)
    r : patch radius at every scale (4)
    deghost : dynamic-scene mode

    Returns
    -------
    Fused image (float32).

    References
    ----------
    H. Li, K. Ma, H. Yong and L. Zhang, "Fast Multi-Scale Structural Patch
    Decomposition for Multi-Exposure Image Fusion", IEEE TIP 29:5805-5816, 2020.
    """
    X = [np.asarray(im, np.float32) for im in images]
    if deghost:
        X = _deghost_reference(X)

    def base_weights(cur: list[np.ndarray], means: list[np.ndarray]) -> np.ndarray:
        # |Laplacian| of the coarsest inputs times their arctan exposedness
        return np.stack([np.abs(cv2.Laplacian(x.astype(np.float64), cv2.CV_64F, borderType=cv2.BORDER_REPLICATE))
                         * _arctan_exposedness(x) + 1e-12 for x in cur])

    return _spd_multiscale(X, p, r, r, base_weights)


# ----------------------------------------------------------------------------- MESPD (edge-preserving SPD)

def _gamma_exposedness(x: np.ndarray, gamma: float = 5.0) -> np.ndarray:
    """The 'gamma' brightness curve of the MESPD code: a symmetric S-shaped bump on [0, 1].

    With ``t = min(x, 1 - x)``: ``t^g / 0.25^(g-1)`` for ``t <= 0.25`` and
    ``0.5 - (0.5 - t)^g / 0.25^(g-1)`` above (0 at the ends, 0.25 at
    ``x = 0.25, 0.75``, 0.5 at ``x = 0.5``); values above 1 give 0.
    """
    x = np.asarray(x, np.float64)
    t = np.minimum(x, 1 - x)
    k = 0.25 ** (1 - gamma)
    y = np.where(t <= 0.25, np.sign(t) * np.abs(t) ** gamma * k, 0.5 - (0.5 - t) ** gamma * k)
    return np.where(x > 1, 0.0, y)


@register_method(
    "mespd",
    tasks=_TASK,
    n_inputs=_N,
    color="channels",
    params={
        "p": Param(6.0, "exponent of the structure weights", float, 0, 20),
        "r": Param(4, "box radius at the finest and intermediate scales", int, 1, 32),
        "r_coarse": Param(3, "box radius at the coarsest scale", int, 1, 32),
        "lam": Param(0.25, "edge-preserving-mean regularisation at the finest scale", float, 1e-12, 1e6),
        "lam_decay": Param(0.5, "factor applied to lam from one scale to the next coarser", float, 1e-6, 1e3),
        "damping": Param("last", "frame whose edge coefficient damps the detail weights (last = authors' code)",
                         str, choices=("last", "own", "none")),
    },
    citation=("H. Li, T. N. Chan, X. Qi and W. Xie, 'Detail-Preserving Multi-Exposure Fusion with "
              "Edge-Preserving Structural Patch Decomposition', IEEE Trans. Circuits and Systems for Video "
              "Technology 31(11):4293-4304, 2021."),
    aliases=("mespd-mef", "ep-spd-mef"),
)
def mespd(images: Sequence[np.ndarray], *, p: float = 6.0, r: int = 4, r_coarse: int = 3, lam: float = 0.25,
          lam_decay: float = 0.5, damping: str = "last") -> np.ndarray:
    """Detail-preserving MEF with edge-preserving structural patch decomposition (Li, Chan, Qi & Xie 2021).

    The fast multi-scale SPD-MEF pipeline (:func:`fmspd_mef`, same first
    author) with the box-filter local means replaced by edge-preserving means,
    following the authors' MATLAB code (``demo_multi_sta.m``, ``scale_fine``,
    ``scale_interm``, ``scale_coarse``, ``weight_spd_detail``,
    ``weight_cal_base``, ``meanfun``):

    1. Every scale ``s`` (0 = finest, the colour frames; then the grey local
       means decimated by 2) computes per frame ``k`` the (2r+1)^2 window mean
       ``mu_k`` and variance ``v_k`` (pooled over the colour channels at the
       finest scale), the signal strength ``C_k = sqrt(v_k) sqrt(3 R^2)``
       (``R`` for grey) + 1e-12, the edge coefficient
       ``a_k = v_k / (v_k + lam_s)`` with ``lam_s = lam * lam_decay^s`` and the
       edge-preserving mean ``m_k = (1 - a_k) mu_k + a_k mean_c(X_k)``
       (:func:`pixfuse.ops.filters.edge_preserving_mean`).
    2. Structure weights ``W_k = C_max C_k^(p-1) (1 - a_N) / sum_j (C_j^p + 1e-12)``
       - ``a_N`` is the edge coefficient of the *last* frame of the stack, as
       in the code (``damping="own"`` uses each frame's ``a_k``, ``"none"``
       drops the factor).
    3. Detail layer ``D_s = sum_k box(W_k) X_k - box(W_k m_k)`` (normalised box
       means, radius ``r``; patch aggregation); ``m_k`` decimated by 2 is the
       next scale's input.  ``floor(log2(min(h, w))) - 5`` intermediate scales
       (radius ``r``) follow the finest.
    4. Coarsest scale (radius ``r_coarse``): its detail layer plus a base
       layer ``sum_k box(WB_k m_k)`` with ``WB_k`` proportional to
       ``2 (g(m_k) + g(mean(m_k))) + 1e-12`` (``g`` the code's 'gamma' curve,
       exponent 5, :func:`_gamma_exposedness`; ``mean(m_k)`` the global mean of
       the frame's coarsest means), normalised over frames.
    5. Reconstruction coarse to fine by zero insertion + normalised box
       interpolation (radius ``r``) plus each scale's detail layer; the fused
       grey base is added to every colour channel of the finest detail.

    Identical frames are not returned exactly: the detail weights become
    ``(1 - a) / N``, so detail on strong edges is carried by the decimated
    means and the box interpolation, not by ``D_s`` (constant frames are
    returned exactly).

    Parameters
    ----------
    images : N frames, HxW or HxWx3 float32 in [0, 1]
    p : structure-weight exponent (6, as the code's scale functions)
    r : patch radius at the finest and intermediate scales (4)
    r_coarse : patch radius at the coarsest scale (3)
    lam : edge-preserving regularisation at the finest scale (0.25)
    lam_decay : ``lam`` factor per scale (0.5: the code's ``T``)
    damping : "last" (code), "own" or "none" - see step 2

    Returns
    -------
    Fused image (float32; :func:`pixfuse.fuse` clips it to [0, 1] as the
    code's ``imwrite`` does).

    Notes
    -----
    Deviations from the reference code: the demo first downsamples the frames
    to at most 1024 pixels on the long side (``downSample``); here the caller's
    resolution is used.  Images too small for an intermediate scale
    (``min(h, w) < 64``, where the code fails) go straight from the coarsest
    to the finest scale.  Patch statistics are float32 box sums (as
    :func:`fmspd_mef`), weights float64.  Grey stacks use the code's grey
    branch of ``weight_spd_detail`` at the finest scale as well.

    References
    ----------
    H. Li, T. N. Chan, X. Qi and W. Xie, "Detail-Preserving Multi-Exposure
    Fusion with Edge-Preserving Structural Patch Decomposition", IEEE TCSVT
    31(11):4293-4304, 2021.  Code: github.com/xiaohuiben/MESPD_TCSVT-2021.
    H. Li, K. Ma, H. Yong and L. Zhang, "Fast Multi-Scale Structural Patch
    Decomposition for Multi-Exposure Image Fusion", IEEE TIP 29:5805-5816, 2020.
    """
    if damping not in ("last", "own", "none"):
        raise ParameterError(f"mespd: damping must be 'last', 'own' or 'none', got {damping!r}")
    if not (lam > 0 and lam_decay > 0):
        raise ParameterError(f"mespd: lam and lam_decay must be > 0 (got {lam}, {lam_decay})")
    if r < 1 or r_coarse < 1:
        raise ParameterError(f"mespd: r and r_coarse must be >= 1 (got {r}, {r_coarse})")
    X = [np.asarray(im, np.float32) for im in images]

    def base_weights(cur: list[np.ndarray], means: list[np.ndarray]) -> np.ndarray:
        # the code's 'gamma' exposedness of the coarsest edge-preserving means and of their global mean
        return np.stack([2 * (_gamma_exposedness(m) + _gamma_exposedness(m.mean())) for m in means]) + 1e-12

    return _spd_multiscale(X, p, r, r_coarse, base_weights, lam, lam_decay, damping)


# ----------------------------------------------------------------------------- DSIFT-EF

@register_method(
    "dsift-ef",
    tasks=_TASK,
    n_inputs=_N,
    color="channels",
    params={
        "scale": Param(16, "dense SIFT patch size", int, 4, 64),
        "winner_take_all": Param(True, "winner-take-all contrast (static default); False = weighted average", bool),
        "dynamic": Param(False, "ghost removal by dense-SIFT spatial consistency (dynamic scenes)", bool),
        "sigma_s": Param(100.0, "recursive-filter spatial sigma of the weight refinement", float, 1, 1000),
        "sigma_r": Param(4.0, "recursive-filter range sigma of the weight refinement", float, 0.01, 100),
    },
    citation=("Y. Liu and Z. Wang, 'Dense SIFT for ghost-free multi-exposure fusion', J. Visual Communication "
              "and Image Representation 31:208-224, 2015."),
    aliases=("dsift-mef",),
)
def dsift_ef(images: Sequence[np.ndarray], *, scale: int = 16, winner_take_all: bool = True, dynamic: bool = False,
             sigma_s: float = 100.0, sigma_r: float = 4.0) -> np.ndarray:
    """Dense-SIFT exposure fusion (Liu & Wang 2015).

    Local contrast = L1 norm of each pixel's unnormalised dense SIFT
    descriptor (32-D: 2x2 cells x 8 orientations, support ``scale``);
    winner-take-all over frames (static mode); exposure quality = 0 where
    the grey value is <= 0.1 or >= 0.9, else 1.  In dynamic mode the
    normalised descriptors give a spatial-consistency term
    ``sum_{j != i} exp(-0.5 D_ij / 0.05^2)`` with ``D_ij`` the 19x19 mean
    squared descriptor distance, which suppresses moving objects.  The
    weights are refined by the recursive filter (sigma_s 100, sigma_r 4,
    3 iterations) guided by the colour frame, renormalised and used for a
    single-scale weighted average.

    Parameters
    ----------
    images : N frames, HxW or HxWx3 float32 in [0, 1]
    scale : descriptor size (16)
    winner_take_all : static-mode contrast rule (the authors' script uses
        winner-take-all for static and weighted average for dynamic scenes)
    dynamic : enable the ghost-removal consistency term
    sigma_s, sigma_r : recursive-filter parameters

    Returns
    -------
    Fused image (float32).

    References
    ----------
    Y. Liu and Z. Wang, "Dense SIFT for ghost-free multi-exposure fusion",
    JVCIR 31:208-224, 2015.
    """
    imgs = [np.asarray(im, np.float32) for im in images]
    n = len(imgs)
    gray = [_gray(im).astype(np.float64) for im in imgs]
    ds = [dense_sift(g, scale) for g in gray]
    contrast = np.stack([d.sum(axis=2, dtype=np.float64) for d in ds])
    if winner_take_all:
        lab = np.argmax(contrast, axis=0)
        contrast = np.stack([(lab == i).astype(np.float64) for i in range(n)])
    G = np.stack(gray)
    T = np.where((G >= 0.9) | (G <= 0.1), 0.0, 1.0)
    if dynamic:
        dn = [normalise_sift(d) for d in ds]
        dist = np.zeros_like(T)
        for i in range(n):
            for j in range(n):
                if i != j:
                    dd = ((dn[i] - dn[j]) ** 2).sum(axis=2, dtype=np.float64)
                    dd = cv2.blur(dd, (19, 19), borderType=cv2.BORDER_REPLICATE)
                    dist[i] += np.exp(-(0.5 * dd) / 0.05 ** 2)
        T = T * dist
    T = T + 1e-25
    T /= T.sum(axis=0, keepdims=True)
    W = contrast * T
    W = recursive_filter_batch(W, np.stack(imgs), sigma_s, sigma_r, 3)
    W = W + 1e-25
    W /= W.sum(axis=0, keepdims=True)
    out = None
    for i, im in enumerate(imgs):
        w = W[i].astype(np.float32)
        t = im * (w if im.ndim == 2 else w[:, :, None])
        out = t if out is None else out + t
    return out


# ----------------------------------------------------------------------------- detail-enhanced MEF

@register_method(
    "demef",
    tasks=_TASK,
    n_inputs=_N,
    color="channels",
    params={
        "r": Param(4, "WGIF radius for the weight smoothing at every pyramid level", int, 1, 32),
        "lam": Param(1.0 / 1024, "WGIF regularisation lambda", float, 1e-8, 1),
        "detail_gain": Param(1.0, "amplification of the fine details extracted by WGIF (1 = none)", float, 0, 4),
        "detail_r": Param(16, "WGIF radius of the detail-extraction filter", int, 1, 64),
        "detail_lam": Param(0.01, "WGIF lambda of the detail-extraction filter", float, 1e-8, 10),
    },
    citation=("Z. Li, Z. Wei, C. Wen and J. Zheng, 'Detail-Enhanced Multi-Scale Exposure Fusion', "
              "IEEE Trans. Image Processing 26(3):1243-1252, 2017."),
    aliases=("detail-enhanced-mef", "mef-wgif"),
)
def demef(images: Sequence[np.ndarray], *, r: int = 4, lam: float = 1.0 / 1024, detail_gain: float = 1.0,
          detail_r: int = 16, detail_lam: float = 0.01) -> np.ndarray:
    """Detail-preserving multi-scale exposure fusion with WGIF-smoothed weights (Li, Wei, Wen & Zheng 2017).

    Mertens' weights (contrast, saturation, well-exposedness) are built into
    Gaussian pyramids as in exposure fusion, but at every level the weight
    map of each frame is smoothed by the weighted guided image filter (WGIF,
    radius ``r``, ``lambda``) guided by that frame's luminance at the same
    level, which keeps weight transitions on edges and removes the halos of
    plain pyramid blending.  The smoothed weights are renormalised and the
    Laplacian pyramids blended.  ``detail_gain > 1`` adds the fused
    luminance's fine details (its difference to a WGIF-smoothed version),
    amplified, to every channel - a simplified form of the paper's
    detail-enhancement step (which solves a quadratic optimisation over the
    sources' gradient field).

    Parameters
    ----------
    images : N frames, HxW or HxWx3 float32 in [0, 1]
    r, lam : WGIF parameters of the weight smoothing (4, 1/1024)
    detail_gain : detail amplification (1 = no enhancement)
    detail_r, detail_lam : WGIF parameters of the detail extraction

    Returns
    -------
    Fused image (float32).

    Notes
    -----
    Not verified against the paper: its text was not available to us and the
    authors' MATLAB code (github.com/weizhe/deef) could not be read from
    here, so the weight smoothing and the detail step above are our reading
    of the published outline, and the defaults are ours.

    References
    ----------
    Z. Li, Z. Wei, C. Wen and J. Zheng, "Detail-Enhanced Multi-Scale Exposure
    Fusion", IEEE TIP 26(3):1243-1252, 2017.
    Z. Li, J. Zheng, Z. Zhu, W. Yao and S. Wu, "Weighted Guided Image
    Filtering", IEEE TIP 24(1):120-129, 2015.
    """
    imgs = [np.ascontiguousarray(im, dtype=np.float32) for im in images]
    raw = [_mertens_weight(im, 1.0, 1.0, 1.0, 0.2, False) for im in imgs]
    tot = sum(raw)
    W = [w / tot for w in raw]
    lev = cv_levels(imgs[0].shape)
    pyr: list[np.ndarray] | None = None
    gps = [cv_gaussian_pyramid(im, lev) for im in imgs]
    wps = [cv_gaussian_pyramid(w, lev) for w in W]
    for k in range(lev + 1):
        sm = []
        for i in range(len(imgs)):
            y = _gray(gps[i][k])
            sm.append(np.maximum(weighted_guided_filter(y, wps[i][k], r, lam), 0) if min(y.shape) > 2 * r
                      else wps[i][k])
        tot_k = sum(sm) + np.float32(1e-12)
        for i in range(len(imgs)):
            band = gps[i][k] if k == lev else gps[i][k] - cv_pyr_up(gps[i][k + 1], gps[i][k].shape)
            ww = sm[i] / tot_k
            t = band * (ww if band.ndim == 2 else ww[:, :, None])
            if pyr is None:
                pyr = [None] * (lev + 1)  # type: ignore[list-item]
            pyr[k] = t if pyr[k] is None else pyr[k] + t
    assert pyr is not None
    out = pyr[lev]
    for k in range(lev - 1, -1, -1):
        out = pyr[k] + cv_pyr_up(out, pyr[k].shape)
    if detail_gain != 1.0:
        y = _gray(np.clip(out, 0, 1).astype(np.float32))
        detail = y - weighted_guided_filter(y, y, detail_r, detail_lam)
        add = (detail_gain - 1.0) * detail
        out = out + (add if out.ndim == 2 else add[:, :, None])
    return out
