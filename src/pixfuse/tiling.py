"""Tile-wise pansharpening of scenes larger than memory, optionally in parallel with Dask.

A scene is cut into PAN-grid tiles (``tile`` x ``tile`` pixels, aligned to the
resolution ratio so every tile has a whole MS window).  Each tile is read with
a *halo* of ``halo`` extra PAN pixels on every side (clamped at the scene
edges), fused, and only its *core* is kept and written.  When the halo covers
the support of every filter chain of the method, each core pixel sees exactly
the inputs it sees in whole-image processing, so results agree to float
rounding; peak memory is bounded by the tile size and the number of tiles in
flight, not by the scene size.

Halo
----
``halo`` defaults to :data:`DEFAULT_HALO` = 128 PAN pixels (32 MS pixels at
ratio 4), well above the supports used by the reference methods: the 41-tap
MTF filters (radius 20 PAN pixels), ``interp23tap`` (23 taps at x2 then x4:
radius ~8.3 MS pixels = 33 PAN pixels), their cascade in the MTF-GLP family
(PAN low-pass -> decimation -> ``interp23tap``: ~53 PAN pixels), the 5x5 boxes
of HPF/SFIM and the a-trous B3 spline of ATWT/AWLP (radius 6 at ratio 4).  It
is rounded up to a multiple of the ratio.  :data:`METHOD_HALO` lists methods
that need more.

Global statistics (multi-pass "fit then apply")
-----------------------------------------------
Methods whose statistics are taken over the whole image (histogram matching,
GS/GSA/PCA/BDSD/PRACS regressions and covariances, haze percentiles/minima)
compute them through :mod:`pixfuse.ops.gstats`.  The runner detects this on
the first tile; it then runs a *statistics* pass (each tile contributes
additive sums over its core, and stops at the method's
:func:`~pixfuse.ops.gstats.checkpoint`), an output pass that replays the scene
statistics and re-collects them, and, when a statistic depends on another one
(GS: the mean of the intensity, then its covariances...), statistics-only
passes until they reach a fixed point, then a final output pass.
An iterative statistic (C-GSA's k-means: every Lloyd iteration needs per-cluster
sums over the whole scene) advances by one step per pass
(:func:`pixfuse.ops.gstats.iterate`), so it settles after as many passes as it
has iterations.  :data:`TILE_EXACT` lists the methods verified tile-exact by the
test suite (every registered pansharpening method); :func:`is_tile_exact` tells
whether a method is among them.

Scene borders
-------------
The toolbox mixes circular borders (``interp23tap``) with replicate/symmetric
ones (MTF filters, ``imresize``, wavelets).  For registered pansharpening
methods (:func:`wants_wrap`) a tile's halo continues *periodically* beyond
the scene border, and the non-circular filters are applied separately on each
side of the resulting seams (:mod:`pixfuse.ops.seams`), so tiles equal
whole-image processing everywhere, border included.  A callable method gets
clamped halos unless it sets ``tile_periodic = True``.

Parallelism
-----------
``workers=None/1`` runs in-process; ``workers=N`` starts a local Dask cluster
of N single-threaded worker processes; ``scheduler="tcp://host:8786"``
connects to an existing cluster (its workers must see the input paths and
the output folder is written by the client).  At most ``2 * workers`` tiles
are in flight, and the client writes each finished tile into the output as it
arrives.
"""
from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, ParameterError
from .ops import gstats, seams

__all__ = [
    "DEFAULT_TILE", "DEFAULT_HALO", "METHOD_HALO", "TILE_EXACT", "Tile", "tile_grid", "halo_for",
    "is_tile_exact", "pansharpen_array_tiled", "pansharpen_geotiff", "TiledResult",
]

#: Default tile side in PAN pixels.
DEFAULT_TILE = 2048
#: Default halo (overlap on each side) in PAN pixels; see the module docstring.
DEFAULT_HALO = 128
#: Methods needing a larger halo than the default (PAN pixels at ratio 4; scaled with the ratio).
METHOD_HALO: dict[str, int] = {}
#: Methods verified tile-exact by tests/test_tiling_methods.py: the tiled result equals whole-image processing
#: everywhere, scene border included, to float rounding (max |diff| < 2e-7 of the data range on a GeoEye-1 crop;
#: float32 output).  c-gsa runs its k-means over the scene (one pass per Lloyd iteration, gstats.iterate).
TILE_EXACT: set[str] = {"atwt", "awlp", "bdsd", "bdsd-pc", "brovey-gdal", "bt", "bt-h", "c-gsa", "gihs", "gs", "gsa",
                        "hpf", "indusion", "mtf-glp", "mtf-glp-cbd", "mtf-glp-fs", "mtf-glp-hpm", "mtf-glp-hpm-r",
                        "pca-ps", "pracs", "sfim"}

Method = str | Callable[..., np.ndarray]


@dataclasses.dataclass(frozen=True)
class Tile:
    """One tile: its core and its extended (core + halo) rectangle, PAN pixels, half-open."""

    index: int
    core: tuple[int, int, int, int]  # r0, r1, c0, c1
    ext: tuple[int, int, int, int]

    @property
    def core_in_ext(self) -> tuple[int, int, int, int]:
        r0, r1, c0, c1 = self.core
        e0, _, f0, _ = self.ext
        return (r0 - e0, r1 - e0, c0 - f0, c1 - f0)

    @property
    def ext_shape(self) -> tuple[int, int]:
        return (self.ext[1] - self.ext[0], self.ext[3] - self.ext[2])


def _round_up(v: int, m: int) -> int:
    return int(math.ceil(v / m) * m)


def tile_grid(height: int, width: int, ratio: int, tile: int = DEFAULT_TILE, halo: int = DEFAULT_HALO,
              wrap: bool = False) -> list[Tile]:
    """Cut a ``height`` x ``width`` PAN grid into ratio-aligned tiles with a halo.

    ``tile`` and ``halo`` are rounded up to multiples of ``ratio``; ``tile <= 0``
    gives one tile covering the scene.  The halo is clamped at the scene border,
    or, with ``wrap=True`` and more than one tile along that axis, continues
    periodically beyond it (``ext`` then reaches outside ``[0, size)``; see
    :mod:`pixfuse.ops.seams`).
    """
    if height % ratio or width % ratio:
        raise InputError(f"PAN size {width}x{height} is not a multiple of the ratio {ratio}")
    if tile <= 0:
        tile = max(height, width)
    tile = _round_up(max(tile, ratio), ratio)
    halo = _round_up(max(halo, 0), ratio)
    wrap_r = wrap and height > tile
    wrap_c = wrap and width > tile
    out: list[Tile] = []
    for r0 in range(0, height, tile):
        r1 = min(r0 + tile, height)
        e0, e1 = (r0 - halo, r1 + halo) if wrap_r else (max(0, r0 - halo), min(height, r1 + halo))
        for c0 in range(0, width, tile):
            c1 = min(c0 + tile, width)
            f0, f1 = (c0 - halo, c1 + halo) if wrap_c else (max(0, c0 - halo), min(width, c1 + halo))
            out.append(Tile(len(out), (r0, r1, c0, c1), (e0, e1, f0, f1)))
    return out


def _seams(e0: int, e1: int, n: int) -> tuple[int, ...]:
    """Positions inside ``[e0, e1)`` (relative to e0) where a periodic axis of length n wraps."""
    k = (e0 // n + 1) * n
    out = []
    while k < e1:
        if k - e0 > 0:
            out.append(k - e0)
        k += n
    return tuple(out)


def _runs(e0: int, e1: int, n: int) -> list[tuple[int, int]]:
    """Contiguous source ranges in ``[0, n)`` that make up the periodic range ``[e0, e1)``."""
    out = []
    v = e0
    while v < e1:
        s0 = v % n
        step = min(n - s0, e1 - v)
        out.append((s0, s0 + step))
        v += step
    return out


def wants_wrap(method: Method) -> bool:
    """Whether ``method`` gets periodic halos at the scene border (registered pansharpening methods, or a
    callable with ``tile_periodic = True``): it must do its non-circular filtering with
    :func:`pixfuse.ops.seams.segmentwise` functions (all of ``pixfuse.ops`` pansharpening filters are)."""
    if callable(method):
        return bool(getattr(method, "tile_periodic", False))
    from .registry import get_method

    return "pansharpening" in get_method(method).tasks


def _method_name(method: Method) -> str:
    if callable(method):
        return getattr(method, "__name__", "callable")
    from .registry import get_method

    return get_method(method).name


def halo_for(method: Method, ratio: int = 4) -> int:
    """Default halo (PAN pixels) for ``method`` at ``ratio``."""
    base = METHOD_HALO.get(_method_name(method), DEFAULT_HALO)
    return _round_up(int(math.ceil(base * ratio / 4)), ratio)


def is_tile_exact(method: Method) -> bool:
    """Whether ``method`` is verified tile-exact (see :data:`TILE_EXACT`)."""
    return _method_name(method) in TILE_EXACT


# ------------------------------------------------------------------------------- running one tile

def _call_method(method: Method, pan: np.ndarray, ms: np.ndarray, ratio: int, params: dict[str, Any]) -> np.ndarray:
    if callable(method):
        out = method([pan, ms], ratio=ratio, **params)
    else:
        from .api import fuse
        from .registry import get_method

        spec = get_method(method)
        kw = dict(params)
        if "ratio" in spec.params and "ratio" not in kw:
            kw["ratio"] = ratio
        out = fuse([pan, ms], spec.name, **kw)
    if isinstance(out, tuple):  # (fused, maps)
        out = out[0]
    return np.asarray(out)


@dataclasses.dataclass
class _Job:
    """Everything a worker needs to process one tile (picklable).

    ``mode``: ``"plain"`` (no statistics recorder: a method without global
    statistics), ``"collect"`` (statistics only; the method stops at
    :func:`pixfuse.ops.gstats.checkpoint`), ``"both"`` (output and statistics),
    ``"apply"`` (output with the settled scene statistics, strict replay).
    """

    tile: Tile
    source: Any
    method: Method
    params: dict[str, Any]
    ratio: int
    fitted: dict[int, Any] | None
    mode: str
    out_dtype: str | None = None
    out_bits: int | None = None
    out_nodata: float | None = None


def _run_job(job: _Job) -> tuple[int, np.ndarray | None, list[tuple[str, dict[str, np.ndarray]]] | None]:
    """Read, fuse and crop one tile; returns (index, core output or None, recorded statistics or None)."""
    t = job.tile
    pan, ms, invalid = job.source.read(t.ext, job.ratio)
    produce = job.mode != "collect"
    h, w = job.source.shape
    ctx = seams.SeamContext(t.ext_shape, job.ratio, _seams(t.ext[0], t.ext[1], h), _seams(t.ext[2], t.ext[3], w))
    with seams.using(ctx if ctx.has_seams else None):
        return _run_job_inner(job, pan, ms, invalid, produce)


def _run_job_inner(job: _Job, pan: np.ndarray, ms: np.ndarray, invalid: np.ndarray | None,
                   produce: bool) -> tuple[int, np.ndarray | None, list[tuple[str, dict[str, np.ndarray]]] | None]:
    t = job.tile
    if job.mode == "plain":
        fused = _call_method(job.method, pan, ms, job.ratio, job.params)
        entries = None
    else:
        rec = gstats.Recorder(t.ext_shape, t.core_in_ext, job.ratio, job.fitted, strict=job.mode == "apply",
                              stop_at_checkpoint=job.mode == "collect", origin=(t.core[0], t.core[2]),
                              scene_shape=tuple(job.source.shape))
        fused = None
        with gstats.recording(rec):
            try:
                fused = _call_method(job.method, pan, ms, job.ratio, job.params)
            except gstats.CheckpointReached:
                pass
        entries = None if job.mode == "apply" else [(e.kind, e.acc) for e in rec.entries]
    if not produce:
        return t.index, None, entries
    if fused is None:  # pragma: no cover - checkpoint only stops collect passes
        raise RuntimeError("method stopped at a checkpoint in a producing pass")
    if fused.shape[:2] != t.ext_shape:
        raise RuntimeError(f"method returned {fused.shape[:2]} for a tile of {t.ext_shape}")
    a0, a1, b0, b1 = t.core_in_ext
    core = fused[a0:a1, b0:b1]
    if job.out_dtype is not None:
        from .io.geotiff import to_dtype

        core = to_dtype(core, job.out_dtype, job.out_bits)
        if job.out_nodata is not None:
            nd = np.asarray(job.out_nodata).astype(core.dtype)
            clash = core == nd
            if clash.any():  # a valid sample must not read as nodata: move it one step away
                core[clash] = _off_nodata(nd, core.dtype, job.out_bits)
            if invalid is not None:
                m = invalid[a0:a1, b0:b1]
                if m.any():
                    core[m] = nd
    else:
        core = np.array(core, dtype=np.float32, copy=True)
    return t.index, core, entries


# ------------------------------------------------------------------------------- sources

def _off_nodata(nd: np.ndarray, dtype: np.dtype, bits: int | None) -> Any:
    """The value next to the nodata value ``nd`` inside the valid range (one step up, or down at the top)."""
    if dtype.kind == "f":
        return np.nextafter(nd, np.inf, dtype=dtype)
    top = np.iinfo(dtype).max if not bits or dtype.kind != "u" else min(2**bits - 1, np.iinfo(dtype).max)
    return int(nd) - 1 if int(nd) >= top else int(nd) + 1


class ArraySource:
    """In-memory PAN (HxW) and MS (hxwxB) arrays."""

    def __init__(self, pan: np.ndarray, ms: np.ndarray) -> None:
        self.pan = pan
        self.ms = ms
        self.shape = np.asarray(pan).shape[:2]

    def read(self, ext: tuple[int, int, int, int], ratio: int) -> tuple[np.ndarray, np.ndarray, None]:
        r0, r1, c0, c1 = ext
        h, w = self.shape
        if 0 <= r0 and r1 <= h and 0 <= c0 and c1 <= w:
            return (self.pan[r0:r1, c0:c1],
                    self.ms[r0 // ratio:r1 // ratio, c0 // ratio:c1 // ratio], None)
        rows, cols = np.arange(r0, r1) % h, np.arange(c0, c1) % w  # periodic halo (scene border)
        mrows = np.arange(r0 // ratio, r1 // ratio) % (h // ratio)
        mcols = np.arange(c0 // ratio, c1 // ratio) % (w // ratio)
        return self.pan[np.ix_(rows, cols)], self.ms[np.ix_(mrows, mcols)], None


class FileSource:
    """A PAN and an MS GeoTIFF read by windows; nodata samples are filled with scene means."""

    def __init__(self, pan_path: str, ms_path: str, pan_nodata: float | None, ms_nodata: float | None,
                 pan_fill: float | None, ms_fill: np.ndarray | None) -> None:
        self.pan_path, self.ms_path = pan_path, ms_path
        self.pan_nodata, self.ms_nodata = pan_nodata, ms_nodata
        self.pan_fill, self.ms_fill = pan_fill, ms_fill
        from .io.geotiff import raster_info

        info = raster_info(pan_path)
        self.shape = (info.height, info.width)

    @staticmethod
    def _read_periodic(path: str, r0: int, r1: int, c0: int, c1: int, h: int, w: int) -> np.ndarray:
        """Window ``[r0, r1) x [c0, c1)`` of a raster, continued periodically outside it (a few windowed reads)."""
        from .io.geotiff import read_window

        if 0 <= r0 and r1 <= h and 0 <= c0 and c1 <= w:
            return read_window(path, r0, r1, c0, c1).astype(np.float32)
        rows = [np.concatenate([read_window(path, a0, a1, b0, b1).astype(np.float32)
                                for b0, b1 in _runs(c0, c1, w)], axis=1) for a0, a1 in _runs(r0, r1, h)]
        return np.concatenate(rows, axis=0)

    def read(self, ext: tuple[int, int, int, int], ratio: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        r0, r1, c0, c1 = ext
        h, w = self.shape
        pan = self._read_periodic(self.pan_path, r0, r1, c0, c1, h, w)
        ms = self._read_periodic(self.ms_path, r0 // ratio, r1 // ratio, c0 // ratio, c1 // ratio,
                                 h // ratio, w // ratio)
        invalid = None
        if self.pan_nodata is not None:
            m = pan == np.float32(self.pan_nodata)
            if m.any():
                pan[m] = np.float32(self.pan_fill)
            invalid = m
        if self.ms_nodata is not None:
            mm = ms == np.float32(self.ms_nodata)
            if mm.any():
                ms = np.where(mm, self.ms_fill.astype(np.float32)[None, None, :], ms)
            mpix = np.repeat(np.repeat(mm.any(axis=2), ratio, axis=0), ratio, axis=1)
            invalid = mpix if invalid is None else (invalid | mpix)
        return pan, ms, invalid


# ------------------------------------------------------------------------------- executors

class _Executor:
    """Runs jobs serially or on a Dask client, yielding results as they finish."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None, client: Any = None) -> None:
        self.client = client
        self._own: list[Any] = []
        self.nworkers = 1
        if client is None and (scheduler or (workers or 1) > 1):
            try:
                from distributed import Client, LocalCluster
            except ImportError:
                raise InputError("parallel processing needs Dask: pip install 'pixfuse[dist]'") from None
            if scheduler:
                try:
                    self.client = Client(scheduler, timeout=30)
                except Exception as exc:
                    raise InputError(f"cannot connect to the Dask scheduler {scheduler}: {exc}") from None
                self._own.append(self.client)
            else:
                cluster = LocalCluster(n_workers=int(workers or 1), threads_per_worker=1, processes=True,
                                       dashboard_address=":0", memory_limit=0, silence_logs=40)
                self.client = Client(cluster)
                self._own += [self.client, cluster]
        if self.client is not None:
            self.nworkers = max(1, len(self.client.scheduler_info().get("workers", {})) or (workers or 1))

    def map(self, jobs: Sequence[_Job]) -> Iterator[tuple[int, Any, Any]]:
        if self.client is None:
            for j in jobs:
                yield _run_job(j)
            return
        from distributed import as_completed

        pending = list(jobs)[::-1]
        window = 2 * self.nworkers
        first = [self.client.submit(_run_job, pending.pop(), pure=False) for _ in range(min(window, len(pending)))]
        ac = as_completed(first)
        for fut in ac:
            res = fut.result()
            fut.release()
            if pending:
                ac.add(self.client.submit(_run_job, pending.pop(), pure=False))
            yield res

    def close(self) -> None:
        for obj in self._own:
            try:
                obj.close()
            except Exception:  # pragma: no cover
                pass
        self._own = []

    def __enter__(self) -> "_Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ------------------------------------------------------------------------------- the driver

@dataclasses.dataclass
class TiledResult:
    """What a tiled run did: tile count, passes, global statistics used, exactness flag."""

    tiles: int
    passes: int
    statistics: int
    tile_exact: bool
    output: Any = None


def _merge_entries(per_tile: dict[int, list[tuple[str, dict[str, np.ndarray]]]]) -> dict[int, Any]:
    order = sorted(per_tile)
    lens = {len(per_tile[i]) for i in order}
    if len(lens) != 1:
        raise gstats.NotTileable(f"tiles recorded different numbers of global statistics: {sorted(lens)}")
    n = lens.pop()
    fitted: dict[int, Any] = {}
    for k in range(n):
        kinds = {per_tile[i][k][0] for i in order}
        if len(kinds) != 1:
            raise gstats.NotTileable(f"statistic #{k} has different kinds across tiles: {sorted(kinds)}")
        kind = kinds.pop()
        acc = gstats.merge(kind, [per_tile[i][k][1] for i in order])
        fitted[k] = (kind, gstats.finalize(kind, acc))
    return fitted


def _leaves(v: Any) -> list[np.ndarray]:
    if isinstance(v, dict):
        return [np.asarray(v[k], dtype=np.float64) for k in sorted(v)]
    if isinstance(v, tuple):
        return [x for item in v for x in _leaves(item)]
    return [np.asarray(v, dtype=np.float64)]


def _same_fit(a: dict[int, Any], b: dict[int, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        if a[k][0] != b[k][0]:
            return False
        la, lb = _leaves(a[k][1]), _leaves(b[k][1])
        if len(la) != len(lb):
            return False
        for x, y in zip(la, lb):
            if x.shape != y.shape or not np.allclose(x, y, rtol=1e-12, atol=0.0):
                return False
    return True


def _drive(tiles: list[Tile], source: Any, method: Method, params: dict[str, Any], ratio: int,
           sink: Callable[[Tile, np.ndarray], None], executor: _Executor, *, exact: bool = True,
           out: tuple[str | None, int | None, float | None] = (None, None, None),
           progress: Callable[[int, int, str], None] | None = None, max_passes: int = 200) -> TiledResult:
    """Run the passes: probe, statistics until they settle, output.

    1. probe: the first tile is run with a recorder; a method without global
       statistics is then run once over all tiles ("plain");
    2. a statistics-only pass over all tiles (each stops at its checkpoint);
    3. an output pass with those statistics that also re-collects them: when
       they did not change (no statistic depends on another), it is final;
    4. otherwise statistics-only passes until a fixed point (one per level of
       dependency between statistics), then a strict output pass.
    """
    dtype, bits, nodata = out
    mk = lambda t, fitted, mode: _Job(t, source, method, params, ratio, fitted, mode,  # noqa: E731
                                      dtype, bits, nodata)
    report = progress or (lambda done, total, phase: None)
    total = len(tiles)
    idx0, core0, entries0 = _run_job(mk(tiles[0], None, "both"))
    if not entries0 or len(tiles) == 1:
        sink(tiles[0], core0)
        report(1, total, "fusing")
        for i, (idx, core, _) in enumerate(executor.map([mk(t, None, "plain") for t in tiles[1:]]), 2):
            sink(tiles[idx], core)
            report(i, total, "fusing")
        return TiledResult(total, 1, len(entries0 or []), True)
    if not exact:
        warnings.warn("per-tile statistics: the result is not tile-exact", UserWarning, stacklevel=3)
        for i, (idx, core, _) in enumerate(executor.map([mk(t, None, "plain") for t in tiles]), 1):
            sink(tiles[idx], core)
            report(i, total, "fusing")
        return TiledResult(total, 1, len(entries0), False)

    def collect(fitted: dict[int, Any] | None, phase: str, known: dict[int, Any] | None = None) -> dict[int, Any]:
        per_tile = dict(known or {})
        todo = [t for t in tiles if t.index not in per_tile]
        for i, (idx, _, ent) in enumerate(executor.map([mk(t, fitted, "collect") for t in todo]),
                                          len(per_tile) + 1):
            per_tile[idx] = ent
            report(i, total, phase)
        return _merge_entries(per_tile)

    fitted = collect(None, "statistics", {idx0: entries0})  # the probe already collected tile 0
    passes = 2
    per_tile: dict[int, Any] = {}
    for i, (idx, core, ent) in enumerate(executor.map([mk(t, fitted, "both") for t in tiles]), 1):
        per_tile[idx] = ent
        sink(tiles[idx], core)
        report(i, total, "fusing")
    new = _merge_entries(per_tile)
    if _same_fit(new, fitted):
        return TiledResult(total, passes, len(fitted), True)
    fitted = new
    while True:
        passes += 1
        if passes > max_passes:
            raise gstats.NotTileable(f"global statistics did not settle after {max_passes} passes")
        new = collect(fitted, f"statistics (pass {passes})")
        if _same_fit(new, fitted):
            break
        fitted = new
    passes += 1
    for i, (idx, core, _) in enumerate(executor.map([mk(t, fitted, "apply") for t in tiles]), 1):
        sink(tiles[idx], core)
        report(i, total, f"fusing (pass {passes})")
    return TiledResult(total, passes, len(fitted), True)


def _check_arrays(pan: np.ndarray, ms: np.ndarray) -> int:
    pan = np.asarray(pan)
    ms = np.asarray(ms)
    if pan.ndim != 2:
        raise InputError(f"PAN must be a 2-D array, got shape {pan.shape}")
    if ms.ndim != 3 or ms.shape[2] < 2:
        raise InputError(f"MS must be an HxWxB array with B >= 2 bands, got shape {ms.shape}")
    rh, rw = pan.shape[0] / ms.shape[0], pan.shape[1] / ms.shape[1]
    if rh != rw or not float(rh).is_integer():
        raise InputError(f"PAN/MS size ratio is not an integer: PAN {pan.shape[1]}x{pan.shape[0]}, "
                         f"MS {ms.shape[1]}x{ms.shape[0]}")
    return int(rh)


def pansharpen_array_tiled(pan: np.ndarray, ms: np.ndarray, method: Method, *, tile: int = 512,
                           halo: int | None = None, exact: bool = True, workers: int | None = None,
                           scheduler: str | None = None, client: Any = None,
                           progress: Callable[[int, int, str], None] | None = None,
                           return_info: bool = False, **params: Any) -> Any:
    """Pansharpen in-memory arrays tile by tile (the reference for tile-exactness tests).

    Parameters
    ----------
    pan
        ``HxW`` PAN array.
    ms
        ``(H/r)x(W/r)xB`` low-resolution MS array.
    method
        Registered pansharpening method name, or a callable ``f([pan, ms], ratio=r, **params)``.
    tile, halo
        Tile side and halo in PAN pixels (halo default: :func:`halo_for`).
    exact
        Use scene-wide statistics for methods that record them (two passes);
        False uses per-tile statistics (faster, not tile-exact).
    workers, scheduler, client
        Parallelism (see the module docstring).
    return_info
        Also return a :class:`TiledResult`.
    **params
        Method parameters (e.g. ``sensor="WV2"``).

    Returns
    -------
    ``HxWxB`` float32 array (and the :class:`TiledResult`).
    """
    ratio = _check_arrays(pan, ms)
    h, w = np.asarray(pan).shape
    halo = halo_for(method, ratio) if halo is None else halo
    tiles = tile_grid(h, w, ratio, tile, halo, wrap=wants_wrap(method))
    result: dict[str, np.ndarray] = {}

    def sink(t: Tile, core: np.ndarray) -> None:
        if "out" not in result:
            shape = (h, w) + core.shape[2:]
            result["out"] = np.zeros(shape, dtype=np.float32)
        r0, r1, c0, c1 = t.core
        result["out"][r0:r1, c0:c1] = core

    with _Executor(workers, scheduler, client) as ex:
        info = _drive(tiles, ArraySource(pan, ms), method, params, ratio, sink, ex, exact=exact, progress=progress)
    if return_info:
        info.output = result["out"]
        return result["out"], info
    return result["out"]


def _scan(path: str, nodata: float | None, rows: int = 512) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per band: max, sum and count of the valid samples (windowed, row blocks)."""
    from .io.geotiff import raster_info, read_window

    info = raster_info(path)
    mx = np.full(info.count, -np.inf)
    s = np.zeros(info.count)
    n = np.zeros(info.count)
    for r0 in range(0, info.height, rows):
        a = read_window(path, r0, min(info.height, r0 + rows), 0, info.width)
        a = a.reshape(a.shape[0], a.shape[1], -1).astype(np.float64)
        if nodata is not None:
            valid = a != nodata
            a = np.where(valid, a, np.nan)
            mx = np.fmax(mx, np.nanmax(a, axis=(0, 1)) if valid.any() else mx)
            s += np.nansum(a, axis=(0, 1))
            n += valid.sum(axis=(0, 1))
        else:
            mx = np.maximum(mx, a.max(axis=(0, 1)))
            s += a.sum(axis=(0, 1))
            n += a.shape[0] * a.shape[1]
    return mx, s, n


def pansharpen_geotiff(pan_path: str | os.PathLike[str], ms_path: str | os.PathLike[str],
                       out_path: str | os.PathLike[str], method: Method, *, tile: int = DEFAULT_TILE,
                       halo: int | None = None, exact: bool = True, bits: int | None = None,
                       ms_bands: int | Sequence[int] | None = None, workers: int | None = None,
                       scheduler: str | None = None, client: Any = None, overwrite: bool = False,
                       out_dtype: str | None = None, compress: str | None = "deflate",
                       progress: Callable[[int, int, str], None] | None = None, gdal_cache_mb: int = 128,
                       **params: Any) -> TiledResult:
    """Pansharpen a PAN/MS GeoTIFF pair into a GeoTIFF on the PAN grid, tile by tile.

    Parameters
    ----------
    pan_path, ms_path
        Input GeoTIFFs (validated by :func:`pixfuse.io.geotiff.check_pair`).
    out_path
        Output ``.tif``; written atomically, never over an input.
    method
        Registered pansharpening method (or a callable, see
        :func:`pansharpen_array_tiled`).
    tile, halo, exact
        Tiling (``tile <= 0``: one tile = whole scene in memory).
    bits
        Significant bits of the data; default: the ``NBITS`` tag, else inferred
        from the maximum of the data (e.g. 11 for values <= 2047 in uint16).
        The output is clipped to ``[0, 2**bits - 1]``.
    ms_bands
        Required MS band count(s).
    workers, scheduler, client
        Parallelism (see the module docstring).
    overwrite
        Replace an existing output (never an input).
    out_dtype
        Output sample type; default the MS dtype.
    compress
        GDAL compression of the output.
    progress
        ``progress(done, total, phase)`` callback.
    gdal_cache_mb
        GDAL block cache while writing (MiB; GDAL's default of 5 % of the RAM
        would hold most of a large output in memory).
    **params
        Method parameters (e.g. ``sensor="WV2"``).

    Returns
    -------
    :class:`TiledResult` (``output`` is the written path).

    Notes
    -----
    Pixel values are passed to the method as float32 digital numbers (as the
    MATLAB toolbox does); see :mod:`pixfuse.io.geotiff` for nodata handling.
    """
    from .io.geotiff import GeoTiffWriter, data_bits, open_pair

    pair = open_pair(pan_path, ms_path, ms_bands=ms_bands)
    pan_i, ms_i, ratio = pair.pan, pair.ms, pair.ratio
    if Path(out_path).exists() and not overwrite:
        from .errors import OutputError

        for q in (pan_path, ms_path):
            if os.path.exists(q) and os.path.samefile(out_path, q):
                raise OutputError(f"refusing to overwrite input file {out_path}")
        raise OutputError(f"{out_path} exists (pass overwrite=True / --overwrite to replace it)")
    dtype = np.dtype(out_dtype or ms_i.dtype)
    need_scan_bits = bits is None and not (pan_i.nbits_tag or ms_i.nbits_tag) and dtype.kind == "u"
    pan_fill = ms_fill = None
    if pan_i.nodata is not None or need_scan_bits:
        mx, s, n = _scan(pan_i.path, pan_i.nodata)
        if pan_i.nodata is not None:
            if n[0] == 0:
                raise InputError(f"{pan_i.path}: every pixel is nodata ({pan_i.nodata:g})")
            pan_fill = float(s[0] / n[0])
        pan_max = float(mx[0])
    if ms_i.nodata is not None or need_scan_bits:
        mx2, s2, n2 = _scan(ms_i.path, ms_i.nodata)
        if ms_i.nodata is not None:
            if (n2 == 0).any():
                raise InputError(f"{ms_i.path}: band(s) {list(np.nonzero(n2 == 0)[0] + 1)} are entirely nodata")
            ms_fill = s2 / n2
        ms_max = float(mx2.max())
    if bits is None:
        if ms_i.nbits_tag:
            bits = ms_i.bits
        elif pan_i.nbits_tag:
            bits = pan_i.bits
        elif need_scan_bits:
            bits = data_bits(max(pan_max, ms_max), dtype)
        else:
            bits = ms_i.bits
    if bits is not None and dtype.kind == "u" and not 1 <= bits <= dtype.itemsize * 8:
        raise ParameterError(f"bits={bits} does not fit the output type {dtype.name}")
    source = FileSource(pan_i.path, ms_i.path, pan_i.nodata, ms_i.nodata, pan_fill, ms_fill)
    halo = halo_for(method, ratio) if halo is None else halo
    tiles = tile_grid(pan_i.height, pan_i.width, ratio, tile, halo, wrap=wants_wrap(method))
    name = _method_name(method)
    tags = dict(ms_i.tags)
    tags.update(PIXFUSE_METHOD=name, PIXFUSE_PARAMS=",".join(f"{k}={v}" for k, v in sorted(params.items())),
                PIXFUSE_PAN=os.path.basename(pan_i.path), PIXFUSE_MS=os.path.basename(ms_i.path))
    writer = GeoTiffWriter(out_path, width=pan_i.width, height=pan_i.height, count=ms_i.count, dtype=dtype,
                           crs=pan_i.crs, transform=pan_i.transform, nodata=pair.out_nodata, bits=bits,
                           descriptions=ms_i.descriptions, tags=tags, band_tags=ms_i.band_tags,
                           protect=(pan_path, ms_path), overwrite=overwrite, compress=compress)
    import rasterio

    try:
        # GDAL keeps written blocks (NBITS-packed, compressed) in its block cache, 5 % of the RAM by default:
        # bounded here so that peak memory does not grow with the scene (20000^2: +1.2 GiB otherwise)
        with rasterio.Env(GDAL_CACHEMAX=int(gdal_cache_mb) * 2**20), _Executor(workers, scheduler, client) as ex:
            def sink(t: Tile, core: np.ndarray) -> None:
                writer.write(core, t.core[0], t.core[2])

            info = _drive(tiles, source, method, params, ratio, sink, ex, exact=exact,
                          out=(dtype.name, bits, pair.out_nodata), progress=progress)
            info.output = writer.commit()
    except BaseException:
        writer.abort()
        raise
    return info
