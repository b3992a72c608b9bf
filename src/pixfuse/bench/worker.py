"""What a worker does for one (dataset, item, method variant): load, fuse, cache, score.

Runs in Dask workers, in a process pool or in-process; it never touches the
store (the driver writes what it returns).

Timing protocol (see :data:`PROTOCOL`): only the ``pixfuse.fuse`` call is timed
(sources already decoded, no file I/O), after ``warmup`` untimed calls, as the
median of ``repeats`` timed calls, with BLAS/OpenMP/OpenCV limited to
``threads`` threads in the worker.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import platform
import re
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")

PROTOCOL = (
    "Timing covers the fusion call only (pixfuse.fuse on sources already decoded in memory: input validation, "
    "colour handling and the method itself; no file I/O). Each fusion is preceded by {warmup} untimed warm-up "
    "call(s) and timed over {repeats} call(s) with time.perf_counter; the median is reported. Workers run with "
    "{threads} thread(s) for OpenCV (cv2.setNumThreads) and BLAS/OpenMP ({env}), one task per worker at a time. "
    "Image sizes (HxW) are recorded per item. Fused images are stored losslessly (16-bit PNG, or float32 TIFF "
    "for values outside [0, 1] / more than 3 channels) and every metric is computed on the stored image read "
    "back from disk, so metrics recomputed later from the cache give identical values."
)


@dataclasses.dataclass
class Job:
    dataset: str
    item: Any  # pixfuse.io.datasets.Item
    task: str
    crop: int | None
    method: str
    params: dict[str, Any]
    params_hash: str
    version: str
    metrics: list[tuple[str, str]]  # (name, convention)
    cache_path: str | None  # where the fused image is (or goes)
    need_fuse: bool
    repeats: int = 3
    warmup: int = 1
    threads: int = 1
    external: bool = False
    plugins: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.dataset, self.item.name, self.method, self.params_hash, self.version)


@dataclasses.dataclass
class JobResult:
    key: tuple[str, str, str, str, str]
    fusion: dict[str, Any] | None
    metrics: list[tuple[str, str, float | None, float]]
    failures: list[tuple[str, str]]
    seconds: dict[str, float]  # load, fuse (all calls), cache, metrics, total
    transient: bool = False  # infrastructure error (worker lost): not recorded as a failure


# ----------------------------------------------------------- environment


_limited: int | None = None


def load_plugins(plugins: tuple[str, ...] | list[str]) -> None:
    """Import modules that register extra methods/metrics (a module name or a ``.py`` file path).

    Runs in the driver and in every worker, so user-defined methods and
    metrics are benchmarked exactly like built-in ones.
    """
    import importlib
    import importlib.util
    import sys

    from ..errors import PixfuseError

    for plug in plugins:
        if plug.endswith(".py") or os.sep in plug or "/" in plug:
            path = Path(plug).expanduser().resolve()
            name = "pixfuse_plugin_" + hashlib.sha1(str(path).encode()).hexdigest()[:10]
            if name in sys.modules:
                continue
            if not path.is_file():
                raise PixfuseError(f"plugin {plug}: no such file")
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod
            try:
                spec.loader.exec_module(mod)
            except Exception:
                del sys.modules[name]
                raise
        else:
            try:
                importlib.import_module(plug)
            except ImportError as exc:
                raise PixfuseError(f"plugin {plug}: cannot import ({exc})") from None


def limit_threads(n: int) -> None:
    """Limit OpenCV and (where threadpoolctl is installed) BLAS/OpenMP to ``n`` threads."""
    global _limited
    if _limited == n:
        return
    for k in THREAD_ENV:
        os.environ.setdefault(k, str(n))
    try:
        import cv2

        cv2.setNumThreads(n)
    except Exception:  # pragma: no cover - cv2 is a core dependency
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except Exception:
        pass
    _limited = n


def fingerprint() -> tuple[str, dict[str, Any]]:
    """Hardware/software description and its short hash."""
    import importlib.metadata as md

    import pixfuse

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    versions = {}
    for pkg in ("numpy", "scipy", "opencv-python-headless", "opencv-python", "PyWavelets", "pillow", "dask",
                "distributed"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    info = {
        "pixfuse": pixfuse.__version__,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_mb": mem,
        "packages": versions,
    }
    h = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:12]
    return h, info


# ------------------------------------------------------------------ cache


_SAFE = re.compile(r"[^A-Za-z0-9._@+=-]+")


def safe_name(s: str) -> str:
    out = _SAFE.sub("_", s.replace("/", "__")).strip("._") or "item"
    if out != s:
        out += "-" + hashlib.sha1(s.encode()).hexdigest()[:6]
    return out


def cache_path_for(cache_dir: Path, dataset: str, item: str, method: str, params_hash: str, version: str) -> Path:
    return cache_dir / safe_name(dataset) / f"{safe_name(method)}-{params_hash}" / f"v{safe_name(version)}" / f"{safe_name(item)}.png"


def _storable_png(img: np.ndarray) -> bool:
    return img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)


def save_fused(path: Path, img: np.ndarray) -> Path:
    """Write the fused image losslessly (atomic); returns the path actually used."""
    from ..io import write_image

    a = np.asarray(img)
    if a.dtype.kind == "f" and _storable_png(a) and np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1:
        return write_image(path, a.astype(np.float32), bit_depth=16)
    tif = path.with_suffix(".tif")
    arr = np.asarray(a, dtype=np.float32)
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4)):
        return write_image(tif, arr, bit_depth=32)
    import tifffile

    from ..io.atomic import atomic_output

    with atomic_output(tif, suffix=".part.tif") as tmp:
        tifffile.imwrite(tmp, arr, photometric="minisblack", planarconfig="contig")
    return tif


def load_fused(path: str | Path) -> np.ndarray:
    from ..io import read_image

    p = Path(path)
    if p.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        arr = tifffile.imread(str(p))
        if arr.ndim == 3 and arr.shape[2] > 4:
            return arr.astype(np.float32)
    return read_image(p)[0]


# ------------------------------------------------------------------ load


def centre_crop(img: Any, size: int | None) -> Any:
    if size is None or not isinstance(img, np.ndarray) or img.ndim < 2:
        return img
    h, w = img.shape[:2]
    ch, cw = min(h, size), min(w, size)
    y, x = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(img[y:y + ch, x:x + cw])


_SOURCES: dict[tuple[Any, ...], tuple[list[Any], Any]] = {}
_SOURCES_KEEP = 2


def load_sources(item: Any, crop: int | None) -> tuple[list[Any], Any]:
    """Decoded sources of an item; the last two items are kept per process (jobs arrive item by item)."""
    from ..io.datasets import load_item

    key = (item.sources, item.reference, item.kind, crop,
           tuple(p.stat().st_mtime_ns for p in item.sources if p.exists()))
    hit = _SOURCES.get(key)
    if hit is not None:
        return hit
    srcs, ref = load_item(item)
    if crop:
        srcs = [centre_crop(s, crop) for s in srcs]
        ref = centre_crop(ref, crop)
    for a in srcs + [ref]:
        if isinstance(a, np.ndarray):
            a.setflags(write=False)  # shared between jobs: a method must not modify its inputs
    while len(_SOURCES) >= _SOURCES_KEEP:
        _SOURCES.pop(next(iter(_SOURCES)))
    _SOURCES[key] = (srcs, ref)
    return srcs, ref


def stored_view(img: np.ndarray, path: Path) -> np.ndarray:
    """Exactly what :func:`load_fused` returns for ``img`` saved at ``path`` by :func:`save_fused`.

    16-bit PNG: the same rounding as :func:`pixfuse.io.write_image`, then the
    division of :func:`pixfuse.io.read_image`; grey stored as three equal
    channels comes back as grey (read_image's rule).  Float TIFF: float32.
    Scoring this view instead of re-reading the file saves a decode per job.
    """
    a = np.asarray(img)
    if path.suffix.lower() == ".png":
        q = np.clip(np.rint(a.astype(np.float32) * 65535.0), 0, 65535).astype(np.uint16)
        out = q.astype(np.float32) / np.float32(65535.0)
    else:
        out = a.astype(np.float32)
    if out.ndim == 3 and out.shape[2] == 3 and np.array_equal(out[:, :, 0], out[:, :, 1]) \
            and np.array_equal(out[:, :, 0], out[:, :, 2]):
        out = out[:, :, 0]
    return np.ascontiguousarray(out)


# ------------------------------------------------------------------ the job


def _err(exc: BaseException) -> str:
    from ..errors import PixfuseError

    msg = str(exc) or exc.__class__.__name__
    if not isinstance(exc, PixfuseError):
        msg = f"{exc.__class__.__name__}: {msg}"
    return msg.splitlines()[0][:500] if msg else exc.__class__.__name__


def score(fused: np.ndarray, sources: list[Any], reference: Any, metrics: list[tuple[str, str]]
          ) -> tuple[list[tuple[str, str, float | None, float]], list[tuple[str, str]], float]:
    """Compute each metric (timed); errors become failures, not exceptions.

    Metrics share intermediate results inside one cache scope (as in
    :func:`pixfuse.evaluate`), so a metric's time excludes work an earlier
    metric of the same image already did.
    """
    out: list[tuple[str, str, float | None, float]] = []
    fails: list[tuple[str, str]] = []
    total = 0.0
    try:  # intermediate results (gradients, SSIM maps, ...) shared between metrics, as in evaluate()
        from ..metrics._common import cache_scope
    except ImportError:  # pragma: no cover
        cache_scope = contextlib.nullcontext  # type: ignore[assignment]
    with cache_scope():
        for name, conv in metrics:
            total += _score_one(fused, sources, reference, name, conv, out, fails)
    return out, fails, total


def _score_one(fused: np.ndarray, sources: list[Any], reference: Any, name: str, conv: str,
               out: list[tuple[str, str, float | None, float]], fails: list[tuple[str, str]]) -> float:
    from ..api import evaluate

    t0 = time.perf_counter()
    try:
        v = float(evaluate(fused, sources, metrics=[name], reference=reference)[name])
        dt = time.perf_counter() - t0
        out.append((name, conv, None if v != v else v, dt))
    except Exception as exc:  # a metric bug must not kill the run
        dt = time.perf_counter() - t0
        fails.append((name, _err(exc)))
    return dt


def run_job(job: Job) -> JobResult:
    """Execute one job (called on a worker)."""
    from ..api import fuse

    limit_threads(job.threads)
    load_plugins(job.plugins)
    t_start = time.perf_counter()
    secs = {"load": 0.0, "fuse": 0.0, "cache": 0.0, "metrics": 0.0}
    fails: list[tuple[str, str]] = []
    t0 = time.perf_counter()
    try:
        sources, reference = load_sources(job.item, job.crop)
    except Exception as exc:
        msg = f"cannot load sources: {_err(exc)}"
        return JobResult(job.key, None, [], [("", msg)] if job.need_fuse else [(m, msg) for m, _ in job.metrics],
                         {**secs, "total": time.perf_counter() - t_start})
    secs["load"] = time.perf_counter() - t0
    fusion = None
    fused_path = job.cache_path
    if job.need_fuse:
        times: list[float] = []
        result = None
        try:
            for _ in range(job.warmup):
                t0 = time.perf_counter()
                r = fuse(sources, job.method, **job.params)
                secs["fuse"] += time.perf_counter() - t0
                if result is None:
                    result = r
            for _ in range(job.repeats):
                t0 = time.perf_counter()
                r = fuse(sources, job.method, **job.params)
                dt = time.perf_counter() - t0
                secs["fuse"] += dt
                times.append(dt)
                if result is None:
                    result = r
        except Exception as exc:
            return JobResult(job.key, None, [], [("", _err(exc))], {**secs, "total": time.perf_counter() - t_start})
        img = np.asarray(result)
        t0 = time.perf_counter()
        assert job.cache_path is not None
        written = save_fused(Path(job.cache_path), img)
        fused_path = str(written)
        secs["cache"] += time.perf_counter() - t0
        fusion = {
            "seconds": statistics.median(times), "times": times, "warmup": job.warmup, "repeats": job.repeats,
            "threads": job.threads, "height": int(img.shape[0]), "width": int(img.shape[1]),
            "channels": 1 if img.ndim == 2 else int(img.shape[2]), "n_sources": len(sources),
            "cache_path": fused_path,
        }
    metric_rows: list[tuple[str, str, float | None, float]] = []
    if job.metrics:
        t0 = time.perf_counter()
        try:
            # score exactly what is stored (and what a later run reads from the cache)
            fused = stored_view(img, Path(fused_path)) if job.need_fuse else load_fused(fused_path)
        except Exception as exc:
            msg = f"cannot read the fused image {fused_path}: {_err(exc)}"
            return JobResult(job.key, fusion, [], [(m, msg) for m, _ in job.metrics],
                             {**secs, "total": time.perf_counter() - t_start})
        secs["cache"] += time.perf_counter() - t0
        if job.external:
            src0 = next((s for s in sources if isinstance(s, np.ndarray)), None)
            if src0 is not None and tuple(src0.shape[:2]) != tuple(fused.shape[:2]):
                msg = (f"fused image {Path(fused_path).name} is {fused.shape[0]}x{fused.shape[1]} (HxW) but the "
                       f"sources are {src0.shape[0]}x{src0.shape[1]}")
                return JobResult(job.key, fusion, [], [(m, msg) for m, _ in job.metrics],
                                 {**secs, "total": time.perf_counter() - t_start})
            if fusion is None:
                fusion = {"height": int(fused.shape[0]), "width": int(fused.shape[1]),
                          "channels": 1 if fused.ndim == 2 else int(fused.shape[2]), "n_sources": len(sources),
                          "cache_path": fused_path, "external": 1}
        metric_rows, mfails, secs["metrics"] = score(fused, sources, reference, job.metrics)
        fails.extend(mfails)
    secs["total"] = time.perf_counter() - t_start
    return JobResult(job.key, fusion, metric_rows, fails, secs)
