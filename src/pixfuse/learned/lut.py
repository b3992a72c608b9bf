"""Look-up-table distillation of a fusion network (inference: numpy/OpenCV only).

Idea after LUT-Fuse (Yi et al., ICCV 2025): replace the network by a table
indexed by quantised source intensities plus a small local context, read with
multilinear interpolation.  pixfuse's table is three-dimensional,

    F(x) = T[ I_1(x), I_2(x), c(x) ]        (trilinear interpolation, n nodes per axis)

with the context feature

    c = D_1 / (D_1 + D_2 + eps),   D_i = box_r( |I_i - box_r(I_i)| )

the share of local contrast that the first source holds (0.5 where both are
flat), which is what decides the network's per-pixel blend.  The table is
fitted to the network's outputs on training images by regularised linear
least squares — trilinear interpolation is linear in the table entries — with
a small first-difference smoothness penalty that fills nodes no pixel visits
(:func:`fit_lut`).  No gradient descent and no torch: distillation is
deterministic.

Inference reads the table with two ``cv2.remap`` calls (bilinear over
(I_2, c) in the slabs ``floor(I_1)`` and ``floor(I_1)+1``) and one linear
interpolation along I_1, which equals trilinear interpolation.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .infer import WeightsError, _atomic_savez, read_npz, sha256_file

#: Context-feature parameters (box radius, epsilon) used by the shipped tables.
CONTEXT_RADIUS = 3
CONTEXT_EPS = 2e-3


def context_feature(a: np.ndarray, b: np.ndarray, radius: int = CONTEXT_RADIUS,
                    eps: float = CONTEXT_EPS) -> np.ndarray:
    """Local-contrast share of the first source, ``D_a / (D_a + D_b + eps)`` in [0, 1] (see module doc)."""
    k = (2 * radius + 1, 2 * radius + 1)
    bt = cv2.BORDER_REFLECT_101
    da = cv2.blur(cv2.absdiff(a, cv2.blur(a, k, borderType=bt)), k, borderType=bt)
    db = cv2.blur(cv2.absdiff(b, cv2.blur(b, k, borderType=bt)), k, borderType=bt)
    den = da + db
    den += np.float32(eps)
    da += np.float32(eps / 2)
    return cv2.divide(da, den)


@dataclasses.dataclass
class FusionLUT:
    """A distilled table ``T`` of shape (n, n, n) over (I_1, I_2, c) and its feature parameters."""

    table: np.ndarray
    radius: int
    eps: float
    meta: dict[str, Any]

    def __post_init__(self) -> None:
        n = self.table.shape[0]
        # atlas[j, i*n + k] = T[i, j, k]: slab i of the first axis side by side.
        self._atlas = np.ascontiguousarray(self.table.transpose(1, 0, 2).reshape(n, n * n), dtype=np.float32)

    @property
    def nodes(self) -> int:
        return int(self.table.shape[0])

    def fuse(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a = np.ascontiguousarray(a, dtype=np.float32)
        b = np.ascontiguousarray(b, dtype=np.float32)
        c = context_feature(a, b, self.radius, self.eps)
        return interpolate(self._atlas, self.nodes, a, b, c)


def interpolate(atlas: np.ndarray, n: int, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Trilinear read of the table stored as ``atlas`` at (a, b, c) in [0, 1]^3."""
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
    v1 *= fx
    v1 += v0
    return v1


def trilinear_reference(table: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Plain-numpy trilinear interpolation (the definition; slow, for tests)."""
    n = table.shape[0]
    coords = [np.clip(np.asarray(v, np.float64), 0, 1) * (n - 1) for v in (a, b, c)]
    idx = [np.minimum(np.floor(v).astype(int), n - 2) for v in coords]
    fr = [v - i for v, i in zip(coords, idx)]
    out = np.zeros(np.shape(a))
    for di in (0, 1):
        for dj in (0, 1):
            for dk in (0, 1):
                w = (fr[0] if di else 1 - fr[0]) * (fr[1] if dj else 1 - fr[1]) * (fr[2] if dk else 1 - fr[2])
                out += w * table[idx[0] + di, idx[1] + dj, idx[2] + dk]
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
    """Least-squares table: ``argmin_T sum (T(a,b,c) - target)^2 / N + smooth * |grad T|^2``."""
    import scipy.sparse.linalg as spla

    a, b, c, t = (np.ravel(v).astype(np.float64) for v in (a, b, c, target))
    A = _design(nodes, a, b, c)
    D = _difference_operator(nodes)
    lhs = (A.T @ A) / a.size + smooth * (D.T @ D)
    rhs = (A.T @ t) / a.size
    sol = spla.spsolve(lhs.tocsc(), rhs)
    return sol.reshape(nodes, nodes, nodes).astype(np.float32)


def distill(net: Any, pairs: list[np.ndarray], *, nodes: int = 17, samples: int = 1_500_000, seed: int = 0,
            smooth: float = 1e-4, radius: int = CONTEXT_RADIUS, eps: float = CONTEXT_EPS) -> FusionLUT:
    """Fit a table to ``net.fuse`` on the (2, H, W) source stacks ``pairs`` (numpy network, see :mod:`.infer`).

    ``samples`` pixels are drawn uniformly (``default_rng(seed)``) from all pixels of all pairs.
    """
    feats = []
    for p in pairs:
        a, b = np.ascontiguousarray(p[0]), np.ascontiguousarray(p[1])
        f = net.fuse(a, b)
        feats.append(np.stack([a.ravel(), b.ravel(), context_feature(a, b, radius, eps).ravel(), f.ravel()]))
    allf = np.concatenate(feats, axis=1)
    rng = np.random.default_rng(seed)
    if allf.shape[1] > samples:
        sel = np.sort(rng.choice(allf.shape[1], size=samples, replace=False))
        allf = allf[:, sel]
    table = fit_lut(allf[0], allf[1], allf[2], allf[3], nodes=nodes, smooth=smooth)
    meta = {"nodes": nodes, "smooth": smooth, "samples": int(allf.shape[1]), "seed": seed}
    return FusionLUT(table, radius, eps, meta)


def save_lut(path: str | Path, lut: FusionLUT, meta: dict[str, Any] | None = None) -> Path:
    m = dict(lut.meta, **(meta or {}))
    m.update(format="pixfuse-lut", radius=lut.radius, eps=lut.eps, features=["I1", "I2", "contrast-share"])
    return _atomic_savez(Path(path), m, {"table": lut.table.astype(np.float32)})


_cache: dict[str, FusionLUT] = {}


def load_lut(path: str | Path) -> FusionLUT:
    p = Path(path)
    digest = sha256_file(p) if p.is_file() else ""
    if digest and digest in _cache:
        return _cache[digest]
    meta, arrays = read_npz(p, "pixfuse-lut")
    t = arrays.get("table")
    if t is None or t.ndim != 3 or len(set(t.shape)) != 1 or t.shape[0] < 2:
        raise WeightsError(f"{p}: 'table' must be an n x n x n array")
    lut = FusionLUT(np.asarray(t, np.float32), int(meta["radius"]), float(meta["eps"]), meta)
    if digest:
        _cache[digest] = lut
    return lut
