"""Look-up-table distillation of a fusion network (inference: numpy/OpenCV only).

Idea after LUT-Fuse (Yi et al., ICCV 2025): replace the network by a table
indexed by quantised source intensities plus a small local context, read with
multilinear interpolation.  pixfuse's table is three-dimensional with
two values per node, the network's blend weight ``S`` and residual ``R``:

    F(x) = I_2(x) + S(x) * (I_1(x) - I_2(x)) + R(x),
    (S, R)(x) = T[ I_1(x), I_2(x), c(x) ]   (trilinear interpolation, n nodes per axis)

with the context feature

    c = D_1 / (D_1 + D_2 + eps),   D_i = box_r( |I_i - box_r(I_i)| )   (at half resolution)

the share of local contrast that the first source holds (0.5 where both are
flat), which is what decides the network's per-pixel blend.  Tabulating the
blend weight rather than the fused value keeps the sources' fine detail
exact (the blend is applied to the full-precision pixels; a value table
would flatten detail finer than a node step).  The table is fitted to the
network's weight and residual maps on training images by regularised linear
least squares — trilinear interpolation is linear in the table entries — with
a small first-difference smoothness penalty that fills nodes no pixel visits
(:func:`fit_lut`).  No gradient descent and no torch: distillation is
deterministic.

Inference reads both values with two 2-channel ``cv2.remap`` calls
(bilinear over (I_2, c) in the slabs ``floor(I_1)`` and ``floor(I_1)+1``) and
one linear interpolation along I_1, which equals trilinear interpolation.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .infer import WeightsError, _atomic_savez, _stat_key, read_npz

#: Context-feature parameters (box radius, epsilon) used by the shipped tables.
CONTEXT_RADIUS = 3
CONTEXT_EPS = 2e-3


def context_feature(a: np.ndarray, b: np.ndarray, radius: int = CONTEXT_RADIUS,
                    eps: float = CONTEXT_EPS) -> np.ndarray:
    """Local-contrast share of the first source, ``D_a / (D_a + D_b + eps)`` in [0, 1] (see module doc).

    Computed on a half-resolution copy (area averaging; box radius ``radius`` there, i.e. about
    ``2*radius`` pixels at full resolution) and brought back with bilinear interpolation: the feature is a
    smooth local statistic, and this keeps it at a fraction of the cost of the table read.
    """
    h, w = a.shape
    small = ((w + 1) // 2, (h + 1) // 2)
    ab = cv2.resize(cv2.merge([a, b]), small, interpolation=cv2.INTER_AREA)
    k = (2 * radius + 1, 2 * radius + 1)
    bt = cv2.BORDER_REFLECT_101
    d = cv2.blur(cv2.absdiff(ab, cv2.blur(ab, k, borderType=bt)), k, borderType=bt)
    if d.ndim == 2:  # 1-pixel-wide inputs come back without the channel axis
        d = d[:, :, None]
    da = np.ascontiguousarray(d[:, :, 0])
    den = da + d[:, :, 1]
    den += np.float32(eps)
    da += np.float32(eps / 2)
    return cv2.resize(cv2.divide(da, den), (w, h), interpolation=cv2.INTER_LINEAR)


@dataclasses.dataclass
class FusionLUT:
    """A distilled table ``T`` of shape (n, n, n, 2) over (I_1, I_2, c) -> (S, R), and its feature parameters."""

    table: np.ndarray
    radius: int
    eps: float
    meta: dict[str, Any]

    def __post_init__(self) -> None:
        n = self.table.shape[0]
        # one single-channel atlas per value: OpenCV's 1-channel float remap is exact and fast
        self._atlases = [make_atlas(self.table[..., k]) for k in range(self.table.shape[3])]

    @property
    def nodes(self) -> int:
        return int(self.table.shape[0])

    def fuse(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a = np.ascontiguousarray(a, dtype=np.float32)
        b = np.ascontiguousarray(b, dtype=np.float32)
        s, r = self.maps(a, b)
        f = cv2.multiply(s, cv2.subtract(a, b))
        f += b
        f += r
        return f

    def maps(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The interpolated (S, R) maps."""
        a = np.ascontiguousarray(a, dtype=np.float32)
        b = np.ascontiguousarray(b, dtype=np.float32)
        return interpolate_many(self._atlases, self.nodes, a, b, context_feature(a, b, self.radius, self.eps))


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
            smooth: float = 1e-4, radius: int = CONTEXT_RADIUS, eps: float = CONTEXT_EPS) -> FusionLUT:
    """Fit a table to the blend-weight and residual maps of ``net`` (numpy network, see :mod:`.infer`)
    on the (2, H, W) source stacks ``pairs``.

    ``samples`` pixels are drawn uniformly (``default_rng(seed)``) from all pixels of all pairs.
    """
    feats = []
    for p in pairs:
        a, b = np.ascontiguousarray(p[0]), np.ascontiguousarray(p[1])
        _, m = net.fuse(a, b, return_maps=True)
        feats.append(np.stack([a.ravel(), b.ravel(), context_feature(a, b, radius, eps).ravel(),
                               m["weight"].ravel(), m["residual"].ravel()]))
    allf = np.concatenate(feats, axis=1)
    rng = np.random.default_rng(seed)
    if allf.shape[1] > samples:
        sel = np.sort(rng.choice(allf.shape[1], size=samples, replace=False))
        allf = allf[:, sel]
    table = fit_lut(allf[0], allf[1], allf[2], allf[3:5].T, nodes=nodes, smooth=smooth)
    meta = {"nodes": nodes, "smooth": smooth, "samples": int(allf.shape[1]), "seed": seed}
    return FusionLUT(table, radius, eps, meta)


def save_lut(path: str | Path, lut: FusionLUT, meta: dict[str, Any] | None = None) -> Path:
    m = dict(lut.meta, **(meta or {}))
    m.update(format="pixfuse-lut", radius=lut.radius, eps=lut.eps, features=["I1", "I2", "contrast-share"],
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
    lut = FusionLUT(np.asarray(t, np.float32), int(meta["radius"]), float(meta["eps"]), meta)
    if key is not None:
        _cache[key] = lut
    return lut
