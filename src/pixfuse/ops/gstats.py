"""Global (whole-scene) statistics that stay exact when a scene is processed in tiles.

Many pansharpening methods use statistics of the *whole* image: the means and
standard deviations of histogram matching, the covariances of Gram-Schmidt,
the least-squares fits of GSA, BDSD and MTF-GLP-CBD, the minima of haze
correction.  Computed on one tile, these differ from tile to tile, and a
tiled result would show seams and differ from whole-image processing.

A method that computes such statistics through the functions of this module
(:func:`mean`, :func:`std`, :func:`var`, :func:`cov`, :func:`lstsq`,
:func:`amin`, :func:`amax`) runs unchanged on a whole image (they are plain
numpy reductions there), and becomes *tile-exact* under
:func:`pixfuse.tiling.pansharpen_tiled`, which runs it in passes:

1. **collect** — on every tile, each statistic is computed from the tile's
   *core* pixels only (the part of the tile that does not overlap its
   neighbours) as additive sufficient statistics (count, sums, cross
   products, minima), the method continuing with the tile-local value;
2. the tile sums are added up, which gives the whole-scene statistics to
   floating-point rounding;
3. **replay** — every tile is run again with each statistic replaced by its
   scene value (the :class:`Recorder` hands them out in call order), and the
   statistics are collected again; when none changed, the pass's output is
   final, otherwise (a statistic computed from an earlier one) another pass
   follows.

How a statistic knows a tile's core: the array it reduces must have the
tile's full shape (PAN scale) or the tile's shape divided by the resolution
ratio (MS scale), optionally with trailing band axes; anything else raises
:class:`NotTileable` in tile mode and the caller falls back (documented per
method).

Conventions follow MATLAB, as the reference toolbox: :func:`std` and
:func:`var` use ``ddof=1`` (``std2``), :func:`cov` returns the scalar
covariance with ``ddof=1``.
"""
from __future__ import annotations

import contextvars
import dataclasses
from typing import Any

import numpy as np

__all__ = [
    "mean", "var", "std", "cov", "lstsq", "gram", "scatter", "amin", "amax", "percentile", "total", "gather",
    "iterate", "register_iteration", "checkpoint", "Recorder", "NotTileable", "recording", "active",
]


class NotTileable(RuntimeError):
    """A global statistic on an array whose pixels cannot be mapped to the tile's core."""


@dataclasses.dataclass
class _Entry:
    kind: str
    acc: dict[str, np.ndarray]


class Recorder:
    """Collects or replays the global statistics of one method on one tile.

    Parameters
    ----------
    ext_shape
        (rows, cols) of the tile including its halo, PAN scale.
    core
        ``(r0, r1, c0, c1)``: the core rectangle inside the tile (PAN scale).
    ratio
        PAN/MS resolution ratio (core coordinates are multiples of it).
    fitted
        Scene values per call index from the previous pass (None: collect only).
    strict
        Replay only: a statistic without a scene value raises :class:`NotTileable`
        (the final pass of the driver, after the values have settled).
    stop_at_checkpoint
        Collect only: :func:`checkpoint` ends the method early (raises
        :class:`CheckpointReached`, caught by the driver), skipping the work that
        follows the last statistic.
    origin, scene_shape
        Scene position (PAN pixels) of the core's top-left pixel and the scene's
        (rows, cols), for statistics defined by scene coordinates (e.g. a random
        pixel sample); None when unknown (:meth:`scene_core` then raises
        :class:`NotTileable`).
    """

    def __init__(self, ext_shape: tuple[int, int], core: tuple[int, int, int, int], ratio: int,
                 fitted: dict[int, Any] | None = None, *, strict: bool = False,
                 stop_at_checkpoint: bool = False, origin: tuple[int, int] | None = None,
                 scene_shape: tuple[int, int] | None = None) -> None:
        self.ext_shape = tuple(int(v) for v in ext_shape)
        self.core = core
        self.ratio = int(ratio)
        self.fitted = fitted or {}
        self.strict = strict
        self.stop_at_checkpoint = stop_at_checkpoint
        self.origin = None if origin is None else (int(origin[0]), int(origin[1]))
        self.scene_shape = None if scene_shape is None else (int(scene_shape[0]), int(scene_shape[1]))
        self.entries: list[_Entry] = []

    def scene_core(self) -> tuple[int, int, int, int, int, int]:
        """``(row0, col0, rows, cols, scene_rows, scene_cols)``: the core's scene rectangle (PAN pixels)."""
        if self.origin is None or self.scene_shape is None:
            raise NotTileable("a statistic by scene coordinates needs the tile's scene position")
        r0, r1, c0, c1 = self.core
        return self.origin[0], self.origin[1], r1 - r0, c1 - c0, self.scene_shape[0], self.scene_shape[1]

    # --- mapping of array pixels to the core -------------------------------------------------
    def core_of(self, x: np.ndarray) -> np.ndarray:
        h, w = x.shape[:2]
        r0, r1, c0, c1 = self.core
        if (h, w) == self.ext_shape:
            return x[r0:r1, c0:c1]
        r = self.ratio
        if r > 1 and (h * r, w * r) == self.ext_shape:
            return x[r0 // r:r1 // r, c0 // r:c1 // r]
        raise NotTileable(f"global statistic over an array of shape {x.shape[:2]} that is neither the tile "
                          f"{self.ext_shape} nor the tile / ratio {self.ratio}")

    def take(self, kind: str, acc: dict[str, np.ndarray]) -> Any:
        """Record one statistic; return the scene value when known (replay), else None."""
        idx = len(self.entries)
        self.entries.append(_Entry(kind, acc))
        fit = self.fitted.get(idx)
        if fit is not None and fit[0] != kind:
            raise NotTileable(f"statistic #{idx} changed kind between passes ({fit[0]} -> {kind})")
        if fit is None and self.strict:
            raise NotTileable(f"statistic #{idx} ({kind}) has no scene value: a global statistic after "
                              "gstats.checkpoint(), or a number of statistics that depends on the data")
        return None if fit is None else fit[1]

    def next_fitted(self) -> bool:
        """Whether the next statistic has a scene value (replay)."""
        return len(self.entries) in self.fitted


class CheckpointReached(Exception):
    """Raised by :func:`checkpoint` in a statistics-only pass: the method's remaining work is not needed."""


def checkpoint() -> None:
    """Mark the point after which a method takes no more global statistics.

    A no-op on a whole image and in the passes that produce output; in a
    statistics-only pass of :mod:`pixfuse.tiling` it ends the method there
    (so that pass costs only the work up to the last statistic).  A statistic
    taken after the checkpoint makes the final pass raise :class:`NotTileable`.
    """
    rec = _current.get()
    if rec is not None and rec.stop_at_checkpoint:
        raise CheckpointReached()


_current: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar("pixfuse_gstats", default=None)


def active() -> Recorder | None:
    """The recorder of the tile being processed (None outside tiled processing)."""
    return _current.get()


class recording:
    """Context manager installing a :class:`Recorder` for the calls made inside it."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self._tok: contextvars.Token[Recorder | None] | None = None

    def __enter__(self) -> Recorder:
        self._tok = _current.set(self.rec)
        return self.rec

    def __exit__(self, *exc: Any) -> None:
        assert self._tok is not None
        _current.reset(self._tok)


# --- additive accumulators and their finalisation ------------------------------------------------

def _flat(x: np.ndarray, axis: Any) -> np.ndarray:
    """Pixels x channels (float64) for a reduction over all pixels (axis None) or per band (axis=(0, 1))."""
    a = np.asarray(x, dtype=np.float64)
    if axis is None:
        return a.reshape(-1, 1)
    if tuple(np.atleast_1d(axis)) != (0, 1):
        raise ValueError("gstats reduces over all pixels (axis=None) or per band (axis=(0, 1))")
    return a.reshape(a.shape[0] * a.shape[1], -1)


def merge(kind: str, accs: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Add up the per-tile accumulators of one statistic."""
    if kind in ("min", "max"):
        f = np.minimum if kind == "min" else np.maximum
        vals = [a["v"] for a in accs if a["n"] > 0]
        return {"n": np.array(sum(a["n"] for a in accs)), "v": f.reduce(vals) if vals else accs[0]["v"]}
    if kind == "cat":
        return {k: (np.array(sum(a[k] for a in accs)) if k == "n" else np.concatenate([a[k] for a in accs], axis=0))
                for k in accs[0]}
    if kind.startswith("iter:"):  # sums add up; the state is the same on every tile once settled: the first one's
        return {k: (sum(a[k] for a in accs) if k == "n" or k.startswith("sum.") else accs[0][k]) for k in accs[0]}
    out = {k: np.zeros_like(v) for k, v in accs[0].items()}
    for a in accs:
        for k in out:
            out[k] = out[k] + a[k]
    return out


def finalize(kind: str, acc: dict[str, np.ndarray], meta: dict[str, Any] | None = None) -> Any:
    """Scene value of a statistic from its merged accumulator."""
    n = acc["n"]
    if kind == "mean":
        return acc["s"] / n
    if kind == "var":
        ddof = acc["ddof"].item() / max(acc["k"].item(), 1)
        m = acc["s"] / n
        return np.maximum(acc["ss"] - n * m * m, 0.0) / (n - ddof)
    if kind == "cov":
        ddof = acc["ddof"].item() / max(acc["k"].item(), 1)
        return (acc["sxy"] - acc["sx"] * acc["sy"] / n) / (n - ddof)
    if kind == "lstsq":
        return np.linalg.lstsq(acc["ata"], acc["aty"], rcond=None)[0]
    if kind == "gram":
        return acc["ata"], acc["aty"]
    if kind == "scatter":
        m = acc["s"] / n
        return m, (acc["sxx"] - n * np.outer(m, m)) / (n - 1)
    if kind in ("sum", "cat"):
        return {k: v for k, v in acc.items()}
    if kind in ("min", "max"):
        return acc["v"]
    if kind.startswith("iter:"):
        return _finalize_iteration(kind[5:], acc)
    raise ValueError(kind)


def _shape_result(v: np.ndarray, axis: Any) -> Any:
    v = np.asarray(v)
    if axis is None:
        return float(v.reshape(-1)[0])
    return v.reshape(-1)


def _stat(kind: str, acc_fn: Any, local_fn: Any, axis: Any) -> Any:
    rec = _current.get()
    if rec is None:
        return local_fn()
    acc = acc_fn(rec)
    acc.setdefault("n", np.array(0.0))
    value = rec.take(kind, acc)
    if value is not None:
        return value
    return local_fn()


def mean(x: np.ndarray, axis: Any = None) -> Any:
    """Mean over all pixels (``axis=None``: a float; ``axis=(0, 1)``: one value per band)."""
    def acc(rec: Recorder) -> dict[str, np.ndarray]:
        f = _flat(rec.core_of(x), axis)
        return {"n": np.array(float(f.shape[0])), "s": f.sum(axis=0)}

    def local() -> Any:
        f = _flat(x, axis)
        return _shape_result(f.mean(axis=0), axis)

    return _shape_result(_stat("mean", acc, local, axis), axis)


def var(x: np.ndarray, axis: Any = None, ddof: int = 1) -> Any:
    """Variance over all pixels (``ddof=1`` as MATLAB ``var``/``std2``)."""
    def acc(rec: Recorder) -> dict[str, np.ndarray]:
        f = _flat(rec.core_of(x), axis)
        return {"n": np.array(float(f.shape[0])), "s": f.sum(axis=0), "ss": (f * f).sum(axis=0),
                "ddof": np.array(float(ddof)), "k": np.array(1.0)}

    def local() -> Any:
        f = _flat(x, axis)
        return _shape_result(f.var(axis=0, ddof=ddof), axis)

    return _shape_result(_stat("var", acc, local, axis), axis)


def std(x: np.ndarray, axis: Any = None, ddof: int = 1) -> Any:
    """Standard deviation over all pixels (``ddof=1`` as MATLAB ``std2``)."""
    v = var(x, axis=axis, ddof=ddof)
    return float(np.sqrt(v)) if axis is None else np.sqrt(v)


def cov(x: np.ndarray, y: np.ndarray, ddof: int = 1) -> float:
    """Scalar covariance of two same-shape arrays over all their elements (``ddof=1``)."""
    def acc(rec: Recorder) -> dict[str, np.ndarray]:
        a = np.asarray(rec.core_of(x), dtype=np.float64).ravel()
        b = np.asarray(rec.core_of(y), dtype=np.float64).ravel()
        return {"n": np.array(float(a.size)), "sx": np.array(a.sum()), "sy": np.array(b.sum()),
                "sxy": np.array(a @ b), "ddof": np.array(float(ddof)), "k": np.array(1.0)}

    def local() -> float:
        a = np.asarray(x, dtype=np.float64).ravel()
        b = np.asarray(y, dtype=np.float64).ravel()
        return float(((a - a.mean()) @ (b - b.mean())) / (a.size - ddof))

    return float(_stat("cov", acc, local, None))


def _normal_equations(aa: np.ndarray, yy: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    A = np.asarray(aa, dtype=np.float64)
    A = A.reshape(-1, A.shape[-1])
    Y = np.asarray(yy, dtype=np.float64)
    Y = Y.reshape(A.shape[0], -1) if Y.ndim == 3 else Y.reshape(-1)
    return A.T @ A, A.T @ Y, float(A.shape[0])


def _normal_equations_acc(a: np.ndarray, y: np.ndarray) -> Any:
    """Tile accumulator of the normal equations of ``a``, ``y`` over the recorder's core (lstsq, gram)."""
    def acc(rec: Recorder) -> dict[str, np.ndarray]:
        ata, aty, n = _normal_equations(rec.core_of(a), rec.core_of(y))
        return {"n": np.array(n), "ata": ata, "aty": aty}

    return acc


def lstsq(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients ``c`` minimising ``||A c - y||`` over all pixels.

    ``a`` is ``HxWxK`` (K regressors per pixel, e.g. MS bands and a constant),
    ``y`` is ``HxW`` (returns K coefficients) or ``HxWxM`` (returns ``K x M``,
    one column per target).  Solved through the normal equations, which add up
    over tiles; the whole-image path solves the same normal equations so both
    agree to rounding.
    """
    def local() -> np.ndarray:
        ata, aty, _ = _normal_equations(a, y)
        return np.linalg.lstsq(ata, aty, rcond=None)[0]

    return np.asarray(_stat("lstsq", _normal_equations_acc(a, y), local, 0))


def gram(a: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normal equations ``(A'A, A'y)`` summed over all pixels (``a``: HxWxK, ``y``: HxW or HxWxM).

    For solvers other than plain least squares (e.g. bound-constrained), which
    can work on the ``K x K`` system instead of the pixels.
    """
    def local() -> tuple[np.ndarray, np.ndarray]:
        ata, aty, _ = _normal_equations(a, y)
        return ata, aty

    ata, aty = _stat("gram", _normal_equations_acc(a, y), local, 0)
    return np.asarray(ata), np.asarray(aty)


def scatter(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Band means and ``B x B`` sample covariance (``ddof=1``) of an ``HxWxB`` array over all pixels."""
    def sums(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        f = _flat(v, (0, 1))
        return f.sum(axis=0), f.T @ f, float(f.shape[0])

    def acc(rec: Recorder) -> dict[str, np.ndarray]:
        s1, sxx, n = sums(rec.core_of(x))
        return {"n": np.array(n), "s": s1, "sxx": sxx}

    def local() -> tuple[np.ndarray, np.ndarray]:
        s1, sxx, n = sums(x)
        return finalize("scatter", {"n": np.array(n), "s": s1, "sxx": sxx})

    m, c = _stat("scatter", acc, local, 0)
    return np.asarray(m), np.asarray(c)


def total(name: str, local_fn: Any, core_fn: Any) -> Any:
    """A user-defined additive statistic: ``core_fn(rec)`` returns a dict of arrays summed over tiles.

    On a whole image ``local_fn()`` returns the same dict.  Returns the (merged)
    dict.  Used for histograms and per-cluster sums.
    """
    def acc(rec: Recorder) -> dict[str, np.ndarray]:
        return {k: np.asarray(v, dtype=np.float64) for k, v in core_fn(rec).items()}

    return _stat("sum", acc, local_fn, 0)


def gather(local_fn: Any, core_fn: Any) -> Any:
    """A user-defined statistic whose tile parts are *concatenated* (in tile order) along axis 0."""
    return _stat("cat", core_fn, local_fn, 0)


def percentile(x: np.ndarray, q: float, axis: Any = (0, 1), nbins: int = 4096) -> Any:
    """Exact percentile ``q`` (0-100) with MATLAB ``prctile``'s definition (numpy ``method="hazen"``).

    On a whole image: :func:`numpy.percentile`.  Under tiling, three chained
    statistics give the same order statistics: the range (min/max), a histogram
    of ``nbins`` bins per band, and the values of the bins holding the two
    order statistics that the interpolation needs (gathered, then sorted).
    """
    rec = _current.get()
    f_all = _flat(x, axis)
    if rec is None:
        return _shape_result(np.percentile(f_all, q, axis=0, method="hazen"), axis)
    lo = np.atleast_1d(amin(x, axis=axis)).astype(np.float64)
    hi = np.atleast_1d(amax(x, axis=axis)).astype(np.float64)
    nb = f_all.shape[1]
    width = np.where(hi > lo, hi - lo, 1.0)

    def bins_of(f: np.ndarray) -> np.ndarray:
        k = np.floor((f - lo) / width * nbins)
        return np.clip(k, 0, nbins - 1).astype(np.int64)

    def hist_core(r: Recorder) -> dict[str, np.ndarray]:
        b = bins_of(_flat(r.core_of(x), axis))
        return {"h": np.stack([np.bincount(b[:, j], minlength=nbins) for j in range(nb)]).astype(np.float64)}

    def local_value() -> Any:
        return _shape_result(np.percentile(f_all, q, axis=0, method="hazen"), axis)

    hist_fitted = rec.next_fitted()
    h = total("hist", lambda: hist_core(rec), hist_core)["h"]
    n = h.sum(axis=1)
    v = np.clip(n * q / 100.0 - 0.5, 0, n - 1)
    k0 = np.floor(v)
    k1 = np.minimum(k0 + 1, n - 1)
    cum = np.cumsum(h, axis=1)
    b0 = np.array([np.searchsorted(cum[j], k0[j], side="right") for j in range(nb)])
    b1 = np.array([np.searchsorted(cum[j], k1[j], side="right") for j in range(nb)])

    def cat_core(r: Recorder) -> dict[str, np.ndarray]:
        f = _flat(r.core_of(x), axis)
        b = bins_of(f)
        vals, band = [], []
        for j in range(nb):
            sel = f[(b[:, j] >= b0[j]) & (b[:, j] <= b1[j]), j]
            vals.append(sel)
            band.append(np.full(sel.size, j, dtype=np.float64))
        return {"n": np.array(float(f.shape[0])), "v": np.concatenate(vals), "b": np.concatenate(band)}

    cat_fitted = rec.next_fitted()
    got = gather(lambda: None, cat_core)
    if not (hist_fitted and cat_fitted) or got is None:
        return local_value()
    out = np.empty(nb)
    for j in range(nb):
        vals = np.sort(got["v"][got["b"] == j])
        below = cum[j, b0[j] - 1] if b0[j] > 0 else 0.0
        i0, i1 = int(k0[j] - below), int(k1[j] - below)
        if not (0 <= i0 < vals.size and 0 <= i1 < vals.size):  # inconsistent pass (statistics not settled)
            return local_value()
        out[j] = vals[i0] + (v[j] - k0[j]) * (vals[i1] - vals[i0])
    return _shape_result(out, axis)


def amin(x: np.ndarray, axis: Any = None) -> Any:
    """Minimum over all pixels (or per band with ``axis=(0, 1)``)."""
    def acc(rec: Recorder) -> dict[str, np.ndarray]:
        f = _flat(rec.core_of(x), axis)
        return {"n": np.array(float(f.shape[0])), "v": f.min(axis=0)}

    def local() -> Any:
        return _shape_result(_flat(x, axis).min(axis=0), axis)

    return _shape_result(_stat("min", acc, local, axis), axis)


def amax(x: np.ndarray, axis: Any = None) -> Any:
    """Maximum over all pixels (or per band with ``axis=(0, 1)``)."""
    def acc(rec: Recorder) -> dict[str, np.ndarray]:
        f = _flat(rec.core_of(x), axis)
        return {"n": np.array(float(f.shape[0])), "v": f.max(axis=0)}

    def local() -> Any:
        return _shape_result(_flat(x, axis).max(axis=0), axis)

    return _shape_result(_stat("max", acc, local, axis), axis)


# --- scene-wide fixed-point iterations (Lloyd's k-means, ...) -------------------------------------

_ITERATIONS: dict[str, Any] = {}


def register_iteration(name: str, update: Any) -> None:
    """Register the update rule of an iteration run by :func:`iterate`.

    ``update(state, sums) -> (next_state, done)``: ``state`` and ``sums`` are dicts of
    arrays (``sums`` added up over the whole scene); ``done`` True means ``state`` is
    final, and ``next_state`` must then equal ``state``.
    """
    _ITERATIONS[name] = update


def _split(acc: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: np.asarray(v) for k, v in acc.items() if k.startswith(prefix)}


def _finalize_iteration(name: str, acc: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if name not in _ITERATIONS:  # the methods register their rules on import
        from .. import registry

        registry.method_specs()
    state, sums = _split(acc, "state."), _split(acc, "sum.")
    nxt, done = _ITERATIONS[name](state, sums)
    out = {"init." + k: v for k, v in _split(acc, "init.").items()}
    out.update({"state." + k: v for k, v in state.items()})
    out.update({"next." + k: np.asarray(v) for k, v in nxt.items()})
    out["done"] = np.array(1.0 if done else 0.0)
    return out


def _same_state(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.shape(a[k]) == np.shape(b[k]) and np.array_equal(a[k], b[k]) for k in a)


def iterate(name: str, init: dict[str, np.ndarray], core_fn: Any) -> tuple[dict[str, np.ndarray], bool]:
    """One step per tiled pass of a scene-wide fixed-point iteration (tiled processing only).

    An iteration whose every step needs sums over the whole scene (Lloyd's k-means: the
    per-cluster sums of the pixels assigned to the current centres) cannot finish inside
    one pass over the tiles.  Here it advances by one step per pass of the
    :mod:`pixfuse.tiling` driver, whose passes repeat until every statistic settles:

    * the state a tile starts from is the ``next`` state of the previous pass (the
      same on every tile), or ``init`` in the first pass and whenever ``init`` changed
      (it depends on earlier statistics that settled meanwhile);
    * ``core_fn(rec, state)`` returns the tile's additive sums over its core for that state;
    * after the pass the driver adds them up and calls the registered ``update``
      (:func:`register_iteration`), which gives the next state and whether the
      iteration is done; a done state reproduces itself, so the driver's passes reach
      their fixed point exactly when the iteration has converged (at most
      ``max_passes`` of :func:`pixfuse.tiling._drive`).

    Returns ``(state, done)``: the scene's ``next`` state of the previous pass (final
    when ``done``), or ``(init, False)`` in the first pass.  Each pass costs the
    method's work up to this call on every tile: a k-means of T iterations costs about
    T passes.  On a whole image (no recorder) this raises: run the iteration's own loop
    there.
    """
    rec = _current.get()
    if rec is None:
        raise RuntimeError("gstats.iterate runs under tiled processing only")
    kind = "iter:" + name
    init = {k: np.asarray(v, dtype=np.float64) for k, v in init.items()}
    prev = rec.fitted.get(len(rec.entries))
    state = init
    if prev is not None and prev[0] == kind and _same_state(_split(prev[1], "init."), init):
        state = _split(prev[1], "next.")
    sums = core_fn(rec, state)
    acc: dict[str, np.ndarray] = {"n": np.array(1.0)}
    acc.update({"init." + k: v for k, v in init.items()})
    acc.update({"state." + k: np.asarray(v, dtype=np.float64) for k, v in state.items()})
    acc.update({"sum." + k: np.asarray(v, dtype=np.float64) for k, v in sums.items()})
    value = rec.take(kind, acc)
    if value is None:
        return init, False
    return _split(value, "next."), bool(value["done"])
