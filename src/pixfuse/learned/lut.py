"""Look-up-table distillation of a fusion network (inference: numpy/OpenCV only).

Idea after LUT-Fuse (Yi et al., ICCV 2025): replace the network by a table
indexed by quantised source intensities plus a small local context, read with
multilinear interpolation.  pixfuse's table is three-dimensional with
two values per node, the network's blend weight ``S`` and residual ``R``:

    F(x) = I_2(x) + S(x) * (I_1(x) - I_2(x)) + R(x),
    (S, R)(x) = T[ I_1(x), I_2(x), c(x) ]   (trilinear interpolation, n nodes per axis)

with the sources at 8-bit precision and the quantised context

    c = bin( (D_1 + eps/2) / (D_1 + D_2 + eps) ),   D_i = box_r( |I_i - box_r(I_i)| )   (uint8, half resolution)

the share of local contrast that the first source holds (the middle bin where
both are flat), which is what decides the network's per-pixel blend.
Tabulating the blend weight rather than the fused value in the coarse table
keeps the fit smooth; the fit is regularised linear least squares —
trilinear interpolation is linear in the table entries — with a small
first-difference smoothness penalty that fills nodes no pixel visits
(:func:`fit_lut`).  No gradient descent and no torch: distillation is
deterministic.

Inference does no interpolation at all: since both sources are read at 8-bit
precision and the context is a bin, every possible (bin, q_1, q_2) is
tabulated once at load time (:meth:`FusionLUT.dense`, 16 x 256 x 256 fused
values, exactly the trilinear read of ``T``), and a fusion is a few uint8
OpenCV calls for the context, one ``cv2.merge`` that packs (q_2, q_1, bin, 0)
into the bytes of an int32 index, one ``np.take`` from the 8-bit form of the
dense table and one ``cv2.LUT`` to float32 (output rounded to 8 bits).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .infer import WeightsError, _atomic_savez, _stat_key, read_npz

#: Context-feature parameters (box radius at half resolution, epsilon in grey levels, number of bins).
CONTEXT_RADIUS = 3
CONTEXT_EPS = 0.5
CONTEXT_BINS = 16
_LITTLE = np.little_endian
_TO_FLOAT = np.arange(256, dtype=np.float32) / np.float32(255)
#: Format version of table files (2: 8-bit quantised context bins; version-1 files must be re-distilled).
VERSION = 2


def quantise(x: np.ndarray) -> np.ndarray:
    """``round(255 x)`` saturated to uint8 (the 8-bit grey level of a [0, 1] image)."""
    return cv2.convertScaleAbs(np.asarray(x, dtype=np.float32), alpha=255.0)


def bin_table(bins: int = CONTEXT_BINS, eps: float = CONTEXT_EPS) -> np.ndarray:
    """uint8 table of 65536 entries, index ``D_1 + 256 D_2`` (D in 0..255):
    ``round((bins - 1) * (D_1 + eps/2) / (D_1 + D_2 + eps))``."""
    d = np.arange(256, dtype=np.float64)
    c = (d[None, :] + eps / 2) / (d[None, :] + d[:, None] + eps)  # [D_2, D_1]
    return np.rint(c * (bins - 1)).astype(np.uint8).ravel()


def context_bins(qa: np.ndarray, qb: np.ndarray, radius: int = CONTEXT_RADIUS, bins: int = CONTEXT_BINS,
                 eps: float = CONTEXT_EPS, table: np.ndarray | None = None) -> np.ndarray:
    """Quantised local-contrast share of the first source, uint8 in ``0..bins-1`` (see module doc).

    From the 8-bit sources ``qa``, ``qb``: a half-resolution copy (area averaging),
    ``D = box(|I - box(I)|)`` with (2 radius + 1)^2 boxes there (uint8, rounded as OpenCV does), the bin of
    ``(D_1 + eps/2) / (D_1 + D_2 + eps)`` by one read of :func:`bin_table` (the two uint8 channels viewed
    as one uint16 index), and bilinear upsampling of the bin indices (rounded): about ``2 radius`` pixels
    of context at full resolution, at a fraction of the cost of the table read.
    """
    h, w = qa.shape
    small = ((w + 1) // 2, (h + 1) // 2)
    k = (2 * radius + 1, 2 * radius + 1)
    bt = cv2.BORDER_REFLECT_101
    # single-channel downsizing hits OpenCV's fastest path; the small images are then filtered as one 2-channel image
    x = cv2.merge([cv2.resize(q, small, interpolation=cv2.INTER_AREA) for q in (qa, qb)])
    d = cv2.blur(cv2.absdiff(x, cv2.blur(x, k, borderType=bt)), k, borderType=bt)
    if d.ndim == 2:  # OpenCV drops the channel axis of 1-pixel-wide images
        d = d.reshape(small[1], small[0], 2)
    idx = np.ascontiguousarray(d).view(np.uint16 if _LITTLE else np.dtype("<u2"))[..., 0]
    if table is None:
        table = bin_table(bins, eps)
    c = np.take(table, idx, mode="clip")  # in range by construction; "clip" skips the bounds check
    return cv2.resize(c, (w, h), interpolation=cv2.INTER_LINEAR)


@dataclasses.dataclass
class FusionLUT:
    """A distilled table ``T`` of shape (n, n, n, 2) over (I_1, I_2, c) -> (S, R), and its feature parameters.

    ``fuse`` reads a dense table of fused values at every 8-bit (I_1, I_2) and context bin, expanded once
    from ``T`` by trilinear interpolation (:meth:`dense`): one ``np.take`` per pixel, no interpolation at
    run time.
    """

    table: np.ndarray
    radius: int
    eps: float
    bins: int
    meta: dict[str, Any]

    def __post_init__(self) -> None:
        self._dense: np.ndarray | None = None
        self._dense8: np.ndarray | None = None
        self._bin_table = bin_table(self.bins, self.eps)

    @property
    def nodes(self) -> int:
        return int(self.table.shape[0])

    def dense(self) -> np.ndarray:
        """Fused value ``I_2 + S (I_1 - I_2) + R`` clipped to [0, 1] at every (bin, q_1, q_2), flat float32 of
        bins * 256 * 256 entries, index ``bin * 65536 + q_1 * 256 + q_2`` (built once, in about 0.1 s)."""
        if self._dense is None:
            g = np.arange(256, dtype=np.float32) / np.float32(255)
            cb = np.arange(self.bins, dtype=np.float32) / np.float32(self.bins - 1)
            out = np.empty((self.bins, 256, 256), np.float32)
            aa, bb = np.meshgrid(g, g, indexing="ij")
            for k in range(self.bins):
                sr = trilinear_reference(self.table, aa, bb, np.full_like(aa, cb[k]))
                out[k] = bb + sr[..., 0] * (aa - bb) + sr[..., 1]
            np.clip(out, 0, 1, out=out)
            self._dense = out.ravel()
            self._dense8 = np.rint(self._dense * 255).astype(np.uint8)
        return self._dense

    def _coords(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The 8-bit sources and the uint8 context bins of every pixel."""
        qa, qb = quantise(a), quantise(b)
        return qa, qb, context_bins(qa, qb, self.radius, self.bins, self.eps, self._bin_table)

    def index(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Flat dense-table index ``bin * 65536 + q_1 * 256 + q_2`` of every pixel (int32).

        Built without arithmetic: the bytes (q_2, q_1, bin, 0) of each pixel, merged into a 4-channel uint8
        image, are that little-endian int32.
        """
        qa, qb, c = self._coords(a, b)
        z = np.zeros_like(qa)
        parts = [qb, qa, c, z] if _LITTLE else [z, c, qa, qb]
        return cv2.merge(parts).view(np.int32)[..., 0]

    def fuse(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Fused image: one read of the dense table per pixel (sources taken at 8-bit precision).

        The table is read in its 8-bit form (1 MB, so it stays in cache between calls; "clip" skips the bounds
        check of an index that is in range by construction) and mapped to float32 grey levels / 255 by one
        ``cv2.LUT``: the output is the 8-bit rounding of :meth:`fuse_exact` (error at most 0.5/255).
        """
        self.dense()
        return cv2.LUT(np.take(self._dense8, self.index(a, b), mode="clip"), _TO_FLOAT)

    def fuse_exact(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """:meth:`fuse` without the 8-bit rounding of the output (float32 table read)."""
        return np.take(self.dense(), self.index(a, b), mode="clip")

    def features(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The table coordinates (I_1, I_2, c) in [0, 1] that :meth:`fuse` reads at (8-bit grey levels, bin centre)."""
        qa, qb, c = self._coords(a, b)
        s = np.float32(1 / 255)
        return qa * s, qb * s, c.astype(np.float32) / np.float32(self.bins - 1)

    def maps(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (S, R) maps at the quantised coordinates, by trilinear interpolation of the coarse table."""
        fa, fb, fc = self.features(a, b)
        n = self.nodes
        s, r = interpolate_many([make_atlas(self.table[..., k]) for k in range(2)], n, fa, fb, fc)
        return s, r


def make_atlas(table: np.ndarray) -> np.ndarray:
    """2-D image of a (n, n, n[, C]) table: ``atlas[j, i*n + k] = T[i, j, k]`` (slabs of axis 0 side by side)."""
    n = table.shape[0]
    rest = table.shape[3:]
    return np.ascontiguousarray(np.swapaxes(table, 0, 1).reshape(n, n * n, *rest), dtype=np.float32)


def interpolate(atlas: np.ndarray, n: int, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Trilinear read of the table stored as ``atlas`` (see :func:`make_atlas`) at (a, b, c) in [0, 1]^3.

    Returns HxW (one-value table) or HxWxC.
    """
    s = np.float32(n - 1)
    x = a * s
    i = np.minimum(x.astype(np.int32), n - 2)
    fx = x - i
    col = c * s
    col += (i * n).astype(np.float32)
    row = b * s
    v0 = cv2.remap(atlas, col, row, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    col += np.float32(n)
    v1 = cv2.remap(atlas, col, row, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    v1 -= v0
    if v1.ndim == 3:
        fx = fx[:, :, None]
    v1 *= fx
    v1 += v0
    return v1


def interpolate_many(atlases: list[np.ndarray], n: int, a: np.ndarray, b: np.ndarray,
                     c: np.ndarray, rows: int = 32) -> list[np.ndarray]:
    """:func:`interpolate` for several single-value atlases sharing the coordinates.

    Works on bands of ``rows`` image rows so that the temporaries stay in cache.
    """
    h, w = a.shape
    s = np.float32(n - 1)
    outs = [np.empty((h, w), np.float32) for _ in atlases]
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        x = a[y0:y1] * s
        i = np.minimum(x.astype(np.int32), n - 2)
        fi = i.astype(np.float32)
        x -= fi
        fi *= np.float32(n)
        col0 = c[y0:y1] * s
        col0 += fi
        col1 = col0 + np.float32(n)
        row = b[y0:y1] * s
        for atlas, out in zip(atlases, outs):
            v0 = cv2.remap(atlas, col0, row, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            v1 = cv2.remap(atlas, col1, row, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            v1 -= v0
            v1 *= x
            v1 += v0
            out[y0:y1] = v1
    return outs


def trilinear_reference(table: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Plain-numpy trilinear interpolation (the definition; slow, for tests)."""
    n = table.shape[0]
    coords = [np.clip(np.asarray(v, np.float64), 0, 1) * (n - 1) for v in (a, b, c)]
    idx = [np.minimum(np.floor(v).astype(int), n - 2) for v in coords]
    fr = [v - i for v, i in zip(coords, idx)]
    out = np.zeros(np.shape(a) + table.shape[3:])
    for di in (0, 1):
        for dj in (0, 1):
            for dk in (0, 1):
                w = (fr[0] if di else 1 - fr[0]) * (fr[1] if dj else 1 - fr[1]) * (fr[2] if dk else 1 - fr[2])
                v = table[idx[0] + di, idx[1] + dj, idx[2] + dk]
                out += (w[..., None] if v.ndim > w.ndim else w) * v
    return out


def _design(n: int, a: np.ndarray, b: np.ndarray, c: np.ndarray):
    """Sparse matrix whose rows hold the 8 trilinear weights of each sample."""
    import scipy.sparse as sp

    coords = [np.clip(v.astype(np.float64), 0, 1) * (n - 1) for v in (a, b, c)]
    idx = [np.minimum(np.floor(v).astype(np.int64), n - 2) for v in coords]
    fr = [v - i for v, i in zip(coords, idx)]
    rows, cols, vals = [], [], []
    r = np.arange(a.size)
    for di in (0, 1):
        for dj in (0, 1):
            for dk in (0, 1):
                w = (fr[0] if di else 1 - fr[0]) * (fr[1] if dj else 1 - fr[1]) * (fr[2] if dk else 1 - fr[2])
                rows.append(r)
                cols.append(((idx[0] + di) * n + idx[1] + dj) * n + idx[2] + dk)
                vals.append(w)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(a.size, n**3))


def _difference_operator(n: int):
    import scipy.sparse as sp

    d1 = sp.diags([-np.ones(n - 1), np.ones(n - 1)], [0, 1], shape=(n - 1, n))
    eye = sp.identity(n)
    return sp.vstack([sp.kron(sp.kron(d1, eye), eye), sp.kron(sp.kron(eye, d1), eye),
                      sp.kron(sp.kron(eye, eye), d1)]).tocsr()


def fit_lut(a: np.ndarray, b: np.ndarray, c: np.ndarray, target: np.ndarray, nodes: int = 17,
            smooth: float = 1e-4) -> np.ndarray:
    """Least-squares table: ``argmin_T sum (T(a,b,c) - target)^2 / N + smooth * |grad T|^2``.

    ``target`` has one value per sample (-> (n, n, n) table) or C values per sample, shape (N, C)
    (-> (n, n, n, C) table; the C fits share one factorisation).
    """
    import scipy.sparse.linalg as spla

    a, b, c = (np.ravel(v).astype(np.float64) for v in (a, b, c))
    t = np.asarray(target, dtype=np.float64)
    t2 = t.reshape(a.size, -1)
    A = _design(nodes, a, b, c)
    D = _difference_operator(nodes)
    lhs = (A.T @ A) / a.size + smooth * (D.T @ D)
    rhs = np.asarray(A.T @ t2) / a.size
    sol = spla.splu(lhs.tocsc()).solve(rhs)
    shape = (nodes, nodes, nodes) if t.ndim == 1 else (nodes, nodes, nodes, t2.shape[1])
    return sol.reshape(shape).astype(np.float32)


def distill(net: Any, pairs: list[np.ndarray], *, nodes: int = 17, samples: int = 1_500_000, seed: int = 0,
            smooth: float = 1e-4, radius: int = CONTEXT_RADIUS, eps: float = CONTEXT_EPS,
            bins: int = CONTEXT_BINS) -> FusionLUT:
    """Fit a table to the blend-weight and residual maps of ``net`` (numpy network, see :mod:`.infer`)
    on the (2, H, W) source stacks ``pairs``.

    ``samples`` pixels are drawn uniformly (``default_rng(seed)``) from all pixels of all pairs.
    """
    feats = []
    probe = FusionLUT(np.zeros((2, 2, 2, 2), np.float32), radius, eps, bins, {})
    for p in pairs:
        a, b = np.ascontiguousarray(p[0]), np.ascontiguousarray(p[1])
        _, m = net.fuse(a, b, return_maps=True)
        fa, fb, fc = probe.features(a, b)
        feats.append(np.stack([fa.ravel(), fb.ravel(), fc.ravel(), m["weight"].ravel(), m["residual"].ravel()]))
    allf = np.concatenate(feats, axis=1)
    rng = np.random.default_rng(seed)
    if allf.shape[1] > samples:
        sel = np.sort(rng.choice(allf.shape[1], size=samples, replace=False))
        allf = allf[:, sel]
    table = fit_lut(allf[0], allf[1], allf[2], allf[3:5].T, nodes=nodes, smooth=smooth)
    meta = {"nodes": nodes, "smooth": smooth, "samples": int(allf.shape[1]), "seed": seed}
    return FusionLUT(table, radius, eps, bins, meta)


def save_lut(path: str | Path, lut: FusionLUT, meta: dict[str, Any] | None = None) -> Path:
    m = dict(lut.meta, **(meta or {}))
    m.update(format="pixfuse-lut", version=VERSION, radius=lut.radius, eps=lut.eps, bins=lut.bins,
             features=["I1 (8-bit)", "I2 (8-bit)", "contrast-share bin"],
             values=["blend-weight", "residual"])
    return _atomic_savez(Path(path), m, {"table": lut.table.astype(np.float32)})


_cache: dict[tuple[str, int, int], FusionLUT] = {}


def load_lut(path: str | Path) -> FusionLUT:
    """Load a table ``.npz`` (cached per (path, mtime, size))."""
    p = Path(path)
    key = _stat_key(p)
    if key is not None and key in _cache:
        return _cache[key]
    meta, arrays = read_npz(p, "pixfuse-lut")
    t = arrays.get("table")
    if t is None or t.ndim != 4 or len(set(t.shape[:3])) != 1 or t.shape[0] < 2 or t.shape[3] != 2:
        raise WeightsError(f"{p}: 'table' must be an n x n x n x 2 array")
    if meta.get("version") != VERSION:
        raise WeightsError(f"{p}: table format version {meta.get('version', 1)}, this pixfuse reads version "
                           f"{VERSION}; re-run `pixfuse distill`")
    lut = FusionLUT(np.asarray(t, np.float32), int(meta["radius"]), float(meta["eps"]), int(meta["bins"]), meta)
    if key is not None:
        _cache[key] = lut
    return lut
