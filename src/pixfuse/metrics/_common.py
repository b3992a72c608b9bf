"""Shared building blocks of the fusion metrics.

Everything here reproduces a MATLAB built-in exactly (the reference
implementations of the field are MATLAB scripts), so each metric module can
say "filter2 'valid'" or "imfilter 'replicate'" and mean it:

* :func:`to_domain` -- the 0-255 double images the reference scripts see
  after ``imread`` of an 8-bit file (``np.rint(x * 255)``);
* :func:`rgb2gray` -- MATLAB ``rgb2gray`` (weights 0.298936..., 0.587043...,
  0.114020...; rounded for uint8 input, unrounded for double input);
* :func:`mround` -- MATLAB ``round``/integer conversion (half away from zero);
* :func:`fspecial_gaussian`, :func:`filt` -- ``fspecial('gaussian')`` and
  ``filter2``/``imfilter``/``conv2`` with their border modes;
* :func:`memo` / :func:`cache_scope` -- a per-``evaluate`` cache so that
  gradients, histograms, phase congruency... are computed once when several
  metrics need them.
"""
from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any

import cv2
import numpy as np

from ..errors import ImageSizeError, InputError, ShapeMismatchError

#: MATLAB ``rgb2gray`` coefficients (first row of inv of the NTSC YIQ matrix).
RGB2GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])

# ----------------------------------------------------------------- memo cache

_local = threading.local()


@contextlib.contextmanager
def cache_scope() -> Iterator[None]:
    """Enable the shared-computation cache for the duration of the block.

    :func:`pixfuse.evaluate` opens one scope per call; intermediate results
    (domain conversions, gradients, phase congruency, ...) are keyed by the
    identity of the input arrays, which the cache keeps alive, so a key can
    never be reused by another object inside the scope.
    """
    outer = getattr(_local, "cache", None)
    if outer is not None:  # nested scope: share the outer cache
        yield
        return
    _local.cache = {}
    try:
        yield
    finally:
        _local.cache = None


def memo(key: tuple[Any, ...], fn: Callable[[], Any], *owners: Any,
         users: frozenset[str] | None = None) -> Any:
    """Return ``fn()``, cached under ``key`` + the ids of ``owners`` while a scope is open.

    ``users``: the names of the metrics that can reuse the entry.  :func:`pixfuse.evaluate`
    drops an entry (see :func:`release_unused`) as soon as none of the metrics still to be
    computed in the call is among them; ``None`` keeps it for the whole scope.
    """
    cache = getattr(_local, "cache", None)
    if cache is None:
        return fn()
    full: Hashable = key + tuple(id(o) for o in owners)
    hit = cache.get(full)
    if hit is not None:
        return hit[1]
    val = fn()
    # keep owners alive so their ids stay unique
    cache[full] = (owners, val) if users is None else (owners, val, users)
    return val


def release_unused(remaining: Iterable[str]) -> None:
    """Drop the cached entries that none of the ``remaining`` metrics can reuse (their ``users``).

    Called by :func:`pixfuse.evaluate` after each metric.  Speed: a whole-suite call
    otherwise keeps every intermediate (each a 2.4 MB float64 array at 640x480) until it
    returns; freeing what no later metric needs lets the allocator hand the same memory to
    the later metrics instead of faulting in fresh pages (~600 4-KiB page faults per
    array).  The suite driver as a whole (release, grouping, allocator priming) is measured
    by ``benchmarks/bench_evaluate_memory.py`` (table in ``docs/metrics.md``).  Values are
    unaffected (an entry dropped too early would only be recomputed).
    """
    cache = getattr(_local, "cache", None)
    if not cache:
        return
    rem = frozenset(remaining)
    dead = [k for k, e in cache.items() if len(e) > 2 and e[2].isdisjoint(rem)]
    for k in dead:
        del cache[k]


#: metric name -> name of its sharing group (see :func:`share_group`)
_GROUPS: dict[str, str] = {}


def share_group(group: str, *names: str) -> None:
    """Declare that the metrics ``names`` share memoised intermediates (one group name).

    :func:`pixfuse.evaluate` computes the members of a group one after the other (see
    :func:`evaluation_order`), so the shared arrays are computed, used and released in
    one stretch instead of being kept alive across unrelated metrics.
    """
    for n in names:
        _GROUPS[n] = group


def evaluation_order(names: Sequence[str]) -> list[int]:
    """Indices into ``names`` in the order :func:`pixfuse.evaluate` computes them.

    The given order, except that the members of a sharing group (:func:`share_group`)
    are moved up to follow the group's first member (stable).  Speed: on the 33-metric
    IVIF suite in the issue's order this keeps e.g. the SSIM statistics of SSIM, MS-SSIM,
    Q_W and Q_E together, so they are computed, used and released in one stretch (fewer
    page faults; the grouping's own share was measured ad hoc, no kept script isolates it:
    ``benchmarks/bench_evaluate_memory.py`` measures the suite driver as a whole).  Values
    are unaffected: every metric reads the same memoised arrays.
    """
    first: dict[str, int] = {}
    keys = []
    for i, n in enumerate(names):
        g = _GROUPS.get(n)
        if g is None:
            keys.append((i, i))
        else:
            keys.append((first.setdefault(g, i), i))
    return [i for _, i in sorted(keys)]


_PRIMED = False


def prime_allocator() -> None:
    """Once per process: move glibc's *dynamic* mmap/trim thresholds to their maximum.

    Allocates and frees one untouched block of just under 32 MiB (no page is touched:
    microseconds).  glibc serves it with ``mmap`` and, on ``free``, raises its dynamic
    ``M_MMAP_THRESHOLD`` to the block's size and ``M_TRIM_THRESHOLD`` to twice that --
    the state any process reaches the first time it frees such a block (e.g. one
    1280x1024 RGB float64 image); the thresholds never go down again.  Afterwards blocks
    under 32 MiB come from the heap and up to 64 MiB of freed heap stay mapped.

    Why: :func:`pixfuse.evaluate` frees each metric group's intermediates as soon as no
    later metric needs them (:func:`release_unused`); with the thresholds still low,
    glibc hands that memory back to the OS at once and the next group faults it in
    again (~600 page faults per 2.4 MB array).  Measured together with the release and the
    grouping (``PYTHONPATH=src python benchmarks/bench_evaluate_memory.py --suite issue33``,
    this tree vs the tree before them, ``docs/metrics.md``): 62k -> 17k page faults per call
    of the issue's 33 metrics on the 640x480 MSRS pair; the priming's own share is not
    isolated by a kept script.

    Process-wide and not undone (glibc has no call that lowers the dynamic thresholds
    again); unlike :func:`retain_freed_memory` it does not switch the dynamic
    adjustment off and keeps at most 64 MiB of free memory.  Harmless elsewhere (one
    malloc/free of untouched memory).
    """
    global _PRIMED
    if _PRIMED:
        return
    _PRIMED = True
    np.empty((32 << 20) - (64 << 10), dtype=np.uint8)  # freed at once, never touched


def retain_freed_memory(limit_bytes: int = 1 << 30) -> bool:
    """Opt-in, process-wide: let glibc's allocator keep freed memory instead of returning it to the OS.

    One :func:`pixfuse.evaluate` call keeps the intermediates that declare no users (FMI's
    feature maps, Q_P's phase congruency) alive until it returns; by default glibc then
    gives that memory back (heap trimming, large blocks unmapped) and the next call
    faults it in again.  ``PYTHONPATH=src python benchmarks/bench_evaluate_memory.py --suite
    issue33`` (``docs/metrics.md``): 16.9k -> 0 page faults, 1021 -> 951 ms CPU per call of
    the issue's 33 metrics on the 640x480 MSRS pair, one core, shared machine.  After this
    call (``M_MMAP_THRESHOLD`` = 32 MiB, ``M_TRIM_THRESHOLD`` = ``limit_bytes``) blocks
    below 32 MiB come from the heap and up to ``limit_bytes`` of freed heap stay mapped,
    so repeated evaluations (folder mode, benchmarks) reuse it.  The process's resident
    memory then stays near its peak.  pixfuse calls it only in the CLI's folder mode
    (``pixfuse metrics --fused DIR ...``, a process that scores many images).

    Returns True when the settings were applied (glibc), False elsewhere.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, int(limit_bytes)))


# ------------------------------------------------------------- input handling


def _as_array(img: Any, name: str) -> np.ndarray:
    from ..api import as_float_image

    try:
        return as_float_image(img, 0)
    except InputError as exc:
        raise InputError(str(exc).replace("source 0", name, 1)) from None


def to_domain(img: Any, name: str = "image") -> np.ndarray:
    """Validate an image and return it as 0-255 float64 integers (8-bit quantised).

    float input in [0, 1] -> ``np.rint(x * 255)``; uint8 -> as is; uint16 ->
    scaled to [0, 1] first.  The reference MATLAB scripts read 8-bit files, so
    this is the data they compute on.  Memoised per input array.
    """

    def conv() -> np.ndarray:
        a = np.asarray(img)
        if a.dtype == np.uint8:
            if a.ndim == 3 and a.shape[2] == 1:
                a = a[:, :, 0]
            _as_array(a, name)  # validate shape
            return a.astype(np.float64)
        f = _as_array(a, name)
        return np.rint(f.astype(np.float64) * 255.0)

    return memo(("domain",), conv, img)


def prepare(fused: Any, sources: Sequence[Any] | None, *, min_sources: int = 1,
            max_sources: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Fused image and sources in the 0-255 domain, with count and size checks."""
    F = to_domain(fused, "fused image")
    srcs = list(sources or [])
    if len(srcs) < min_sources or (max_sources is not None and len(srcs) > max_sources):
        if max_sources == min_sources:
            want = f"exactly {min_sources}"
        elif max_sources is None:
            want = f"at least {min_sources}"
        else:
            want = f"{min_sources} to {max_sources}"
        raise InputError(f"this metric needs {want} source image(s), got {len(srcs)}")
    S = [to_domain(s, f"source {i}") for i, s in enumerate(srcs)]
    for i, s in enumerate(S):
        if s.shape[:2] != F.shape[:2]:
            raise ShapeMismatchError(
                f"source {i} is {s.shape[0]}x{s.shape[1]} but the fused image is {F.shape[0]}x{F.shape[1]}"
            )
    return F, S


def require_min_side(img: np.ndarray, min_side: int, metric: str, why: str) -> None:
    """Raise :class:`~pixfuse.errors.ImageSizeError` unless both sides of ``img`` are >= ``min_side``.

    ``evaluate(metrics="all")`` skips a metric that raises it; asked for by name it is an error.
    """
    h, w = img.shape[:2]
    if min(h, w) < min_side:
        raise ImageSizeError(f"{metric} needs images of at least {min_side}x{min_side} pixels ({why}), got {h}x{w}")


def mround(x: np.ndarray) -> np.ndarray:
    """MATLAB ``round`` (half away from zero), exact for any double."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    r = np.floor(a)
    if x.ndim == 0:
        return np.copysign(r + ((a - r) >= 0.5), x)
    # the same operations in place (no temporaries: fewer fresh pages to fault in)
    a -= r
    r += a >= 0.5
    return np.copysign(r, x, out=r)


def rgb2gray(x: np.ndarray, *, uint8: bool) -> np.ndarray:
    """MATLAB ``rgb2gray`` of a 0-255 image; ``uint8=True`` rounds as for a uint8 input."""
    if x.ndim == 2:
        return x
    # (R c0 + G c1) + B c2, as the expression, with one temporary
    g = np.multiply(x[:, :, 0], RGB2GRAY[0])
    t = np.multiply(x[:, :, 1], RGB2GRAY[1])
    g += t
    np.multiply(x[:, :, 2], RGB2GRAY[2], out=t)
    g += t
    if uint8:
        g = mround(g)
        np.clip(g, 0, 255, out=g)
    return g


def gray_of(x: np.ndarray, *, uint8: bool) -> np.ndarray:
    """Memoised :func:`rgb2gray`."""
    if x.ndim == 2:
        return x
    return memo(("gray", uint8), lambda: rgb2gray(x, uint8=uint8), x)


def channel(x: np.ndarray, k: int) -> np.ndarray:
    """Channel ``k`` of an RGB image (a grey image as is), memoised as a contiguous copy: every
    metric scoring the channels of an RGB fused image then gets the same array, so their shared
    intermediates (SSIM statistics, gradients, ...) are computed once per channel, not once per metric."""
    if x.ndim != 3:
        return x
    return memo(("channel", k), lambda: np.ascontiguousarray(x[:, :, k]), x)


# ------------------------------------------------------------------- filters


def fspecial_gaussian(n: int, sigma: float) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', n, sigma)`` (normalised, tiny values zeroed)."""
    r = (n - 1) / 2.0
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    h = np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    h[h < np.finfo(float).eps * h.max()] = 0
    return h / h.sum()


def gauss1d(n: int, sigma: float) -> np.ndarray:
    """1-D factor of :func:`fspecial_gaussian` (normalised)."""
    r = (n - 1) / 2.0
    x = np.arange(-r, r + 1)
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


_BORDERS = {
    "zero": cv2.BORDER_CONSTANT,
    "replicate": cv2.BORDER_REPLICATE,
    "symmetric": cv2.BORDER_REFLECT,  # MATLAB 'symmetric' (edge sample repeated)
    "reflect": cv2.BORDER_REFLECT_101,  # mirror without repeating the edge
}


def filt(img: np.ndarray, kernel: np.ndarray, border: str = "zero", *, shape: str = "same") -> np.ndarray:
    """2-D correlation (MATLAB ``filter2``/``imfilter``) of a float64 image.

    ``shape="same"`` keeps the size (border handled by ``border``), ``"valid"``
    returns only the fully-overlapping part (as ``filter2(..., 'valid')``).
    Odd kernel sizes only.
    """
    k = np.asarray(kernel, dtype=np.float64)
    kh, kw = k.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError("odd kernel sizes only")
    img = np.ascontiguousarray(img, dtype=np.float64)
    out = cv2.filter2D(img, cv2.CV_64F, k, borderType=_BORDERS[border])
    if shape == "valid":
        ry, rx = kh // 2, kw // 2
        out = out[ry:out.shape[0] - ry, rx:out.shape[1] - rx]
    return out


def sepfilt(img: np.ndarray, ky: np.ndarray, kx: np.ndarray | None = None, border: str = "zero", *,
            shape: str = "same") -> np.ndarray:
    """Separable correlation with column kernel ``ky`` and row kernel ``kx``."""
    kx = ky if kx is None else kx
    img = np.ascontiguousarray(img, dtype=np.float64)
    out = cv2.sepFilter2D(img, cv2.CV_64F, np.asarray(kx, np.float64), np.asarray(ky, np.float64),
                          borderType=_BORDERS[border])
    if shape == "valid":
        ry, rx = len(ky) // 2, len(kx) // 2
        out = out[ry:out.shape[0] - ry, rx:out.shape[1] - rx]
    return out


def gauss_valid(img: np.ndarray, n: int, sigma: float) -> np.ndarray:
    """``filter2(fspecial('gaussian', n, sigma), img, 'valid')`` (separable), as a contiguous array
    (the SSIM-family statistics: elementwise passes over a strided 'valid' view are slower)."""
    g = gauss1d(n, sigma)
    return np.ascontiguousarray(sepfilt(img, g, g, "zero", shape="valid"))


def down2(x: np.ndarray) -> np.ndarray:
    """MATLAB ``imfilter(x, ones(2)/4, 'symmetric', 'same')`` then ``x(1:2:end, 1:2:end)``
    (the scale step of MS-SSIM and MEF-MS-SSIM), over the last two axes (a stack: every image at once)."""
    h, w = x.shape[-2:]
    # the symmetric pad is read only along an odd side
    p = x if h % 2 == 0 and w % 2 == 0 else np.pad(x, [(0, 0)] * (x.ndim - 2) + [(0, h % 2), (0, w % 2)],
                                                   mode="symmetric")
    # only the kept samples (every other row and column), same additions in the same order
    y = p[..., 0:h:2, 0:w:2] + p[..., 1:h + 1:2, 0:w:2]
    y += p[..., 0:h:2, 1:w + 1:2]
    y += p[..., 1:h + 1:2, 1:w + 1:2]
    y /= 4.0
    return y


def blocks(x: np.ndarray, size: int) -> np.ndarray:
    """``blkproc(x, [size size], [0 0], ...)`` view: zero-padded to a multiple, shape (H/size, W/size, size, size)."""
    h, w = x.shape
    H = -(-h // size) * size
    W = -(-w // size) * size
    if (H, W) != (h, w):
        x = np.pad(x, ((0, H - h), (0, W - w)))
    return x.reshape(H // size, size, W // size, size).swapaxes(1, 2)


def freqspace(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB ``[u, v] = freqspace([rows, cols], 'meshgrid')``."""
    m, n = shape
    f1 = (np.arange(n) - np.floor(n / 2)) * (2.0 / n)
    f2 = (np.arange(m) - np.floor(m / 2)) * (2.0 / m)
    return np.meshgrid(f1, f2)


@functools.lru_cache(maxsize=8)
def _half_plane(response: Callable[[tuple[int, int]], np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """``response(shape)`` (a centred frequency response) in ``rfft2`` layout: ``ifftshift``-ed, the
    non-negative column frequencies, complex128 with zero imaginary part (the operand numpy's
    complex-by-real product converts to anyway); cached per response and size, read-only."""
    h = np.fft.ifftshift(response(shape))[:, : shape[1] // 2 + 1].astype(np.complex128)
    h.setflags(write=False)
    return h


def freq_filter(img: np.ndarray, response: Callable[[tuple[int, int]], np.ndarray]) -> np.ndarray:
    """``real(ifft2(ifftshift(fftshift(fft2(img)) .* H)))`` for the centred, symmetric ``H = response(img.shape)``.

    ``response`` maps an image size to ``H``; its shifted half-plane is cached per response and size
    (Q_CB and Q_CV filter several images of one size).
    """
    from scipy import fft

    X = fft.rfft2(img)
    X *= _half_plane(response, tuple(img.shape))
    return fft.irfft2(X, s=img.shape, overwrite_x=True)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """MATLAB ``corr2``."""
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def hist256(x: np.ndarray) -> np.ndarray:
    """Counts of the integer values 0..255 (``imhist`` of a uint8 image)."""
    return np.bincount(x.astype(np.intp).ravel(), minlength=256)[:256].astype(np.float64)


def joint_hist(a: np.ndarray, b: np.ndarray, n: int = 256) -> np.ndarray:
    """n x n joint histogram of two integer-valued images (rows index ``a``)."""
    idx = a.astype(np.intp).ravel()
    idx *= n
    idx += b.astype(np.intp).ravel()
    return np.bincount(idx, minlength=n * n)[: n * n].reshape(n, n).astype(np.float64)


def entropy_p(p: np.ndarray, base: float = 2.0) -> float:
    """Shannon entropy of a probability vector, zero terms skipped."""
    p = p[p > 0]
    return float(-(p * np.log(p)).sum() / np.log(base))


# -------------------------------------------------------- colour dispatchers


def vifb_dispatch(single: Callable[..., float], F: np.ndarray, S: list[np.ndarray], *,
                  any_count: bool = False) -> float:
    """VIFB's wrapper around a source-based metric (``compute_metrics.m`` conventions).

    pixfuse source order is (IR, VIS); VIFB calls ``metric(VI, IR, F)``, so two
    sources are passed to ``single`` as ``single(VI, IR, F)``.  A grey fused
    image is passed whole (the metric converts a colour VI itself, with its own
    ``rgb2gray`` rounding); an RGB fused image is scored per channel --
    ``metric(VI(:,:,k), IR, F(:,:,k))`` (or ``IR(:,:,k)`` when IR is RGB too) --
    and the three values are averaged.  A grey source with an RGB fused image
    (which VIFB never meets) is used for every channel.  With ``any_count`` a
    metric whose formula sums/averages over sources also accepts N != 2 sources
    (passed in the given order).
    """
    if len(S) == 2:
        order = [S[1], S[0]]
    elif any_count and len(S) >= 1:
        order = list(S)
    else:
        raise InputError(f"this metric (VIFB convention) needs exactly 2 source images, got {len(S)}")
    if F.ndim == 2:
        return float(single(*order, F))
    vals = [single(*[channel(s, k) for s in order], channel(F, k)) for k in range(F.shape[2])]
    return float(np.mean(vals))


def mefb_dispatch(single: Callable[[np.ndarray, np.ndarray, np.ndarray], float], F: np.ndarray,
                  S: list[np.ndarray]) -> float:
    """MEFB's wrapper (a copy of VIFB's) with its extra rule: two grey sources and an
    RGB fused image -> only the first (R) channel of the fused image is scored."""
    if len(S) != 2:
        raise InputError(f"this metric needs exactly 2 source images, got {len(S)}")
    if F.ndim == 3 and S[0].ndim == 2 and S[1].ndim == 2:
        F = F[:, :, 0]
    return vifb_dispatch(single, F, S)


def tang_gray(F: np.ndarray, S: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Tang's evaluation scripts: every colour image -> ``rgb2gray`` of the uint8 image."""
    return gray_of(F, uint8=True), [gray_of(s, uint8=True) for s in S]
