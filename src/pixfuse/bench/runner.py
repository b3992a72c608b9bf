"""Plan and execute method x item x metric jobs; store results as they complete.

Executors
---------
``dask`` (extra ``dist``)
    A :class:`distributed.LocalCluster` with ``workers`` single-threaded worker
    processes, or an existing cluster with ``scheduler`` (``tcp://host:8786``).
``processes``
    :class:`concurrent.futures.ProcessPoolExecutor` (no extra needed).
``serial``
    In this process (debugging, tiny runs).
``auto`` (default)
    ``dask`` when installed, else ``processes``; ``serial`` when ``workers=0``.

Only the driver writes the store: each finished job (one dataset item fused
by one method variant, plus its metrics) is committed in one transaction the
moment it completes, so an interrupted run loses at most the jobs in flight
and re-running the same configuration computes exactly what is missing.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import PixfuseError
from .config import ConfigError, ResolvedDataset, RunConfig, Variant, make_variant, resolve
from .store import ResultStore
from .worker import PROTOCOL, THREAD_ENV, Job, JobResult, cache_path_for, fingerprint, limit_threads, run_job


@dataclasses.dataclass
class RunStats:
    run_id: str
    jobs: int = 0
    done: int = 0
    failed_jobs: int = 0
    results_written: int = 0
    results_cached: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)
    wall_seconds: float = 0.0
    setup_seconds: float = 0.0
    compute_seconds: float = 0.0  # fusion calls + metric calls, summed over workers
    worker_seconds: float = 0.0  # whole job time, summed over workers
    load_seconds: float = 0.0  # decoding the sources (workers)
    cache_seconds: float = 0.0  # writing / reading back the fused images (workers)
    store_seconds: float = 0.0
    executor: str = ""
    workers: int = 0
    skipped: list[str] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def default_cache(store: Path) -> Path:
    return store.parent / (store.stem + "-fused")


def plan_jobs(resolved: Sequence[ResolvedDataset], store: ResultStore, cfg: RunConfig, version: str,
              cache_dir: Path) -> tuple[list[Job], int]:
    """Jobs for everything not yet in the store; also returns the number of results already there."""
    jobs: list[Job] = []
    cached = 0
    for rd in resolved:
        wanted = [(s.name, s.convention) for s in rd.metrics]
        for v in rd.variants:
            done = store.done_metrics(rd.key, v.method, v.params_hash, version)
            fused = store.fusions_done(rd.key, v.method, v.params_hash, version)
            failed = {} if cfg.retry_failed else store.failed(rd.key, v.method, v.params_hash, version)
            for it in rd.dataset.items:
                have = done.get(it.name, set())
                bad = failed.get(it.name, set())
                if "" in bad:  # the fusion itself failed before
                    continue
                missing = [(m, c) for m, c in wanted if (m, c) not in have and m not in bad]
                cached += len([1 for m, c in wanted if (m, c) in have])
                path = fused.get(it.name)
                fused_ok = path is not None and Path(path).exists()
                if not missing and (fused_ok or it.name in fused):
                    continue
                jobs.append(Job(
                    dataset=rd.key, item=it, task=rd.dataset.task, crop=rd.ref.crop, method=v.method,
                    params=v.params, params_hash=v.params_hash, version=version, metrics=missing,
                    cache_path=path if fused_ok else str(cache_path_for(cache_dir, rd.key, it.name, v.method,
                                                                         v.params_hash, version)),
                    need_fuse=not fused_ok, repeats=cfg.repeats, warmup=cfg.warmup, threads=cfg.threads,
                    plugins=tuple(cfg.plugins),
                ))
    # item-major order: consecutive jobs share their decoded sources in the worker
    order = {}
    for j in jobs:
        order.setdefault((j.dataset, j.item.name), len(order))
    jobs.sort(key=lambda j: order[(j.dataset, j.item.name)])
    return jobs, cached


# ---------------------------------------------------------------- executors


def _lost(job: Job, exc: BaseException) -> JobResult:
    return JobResult(job.key, None, [], [("", f"worker error: {exc.__class__.__name__}: {exc}")], {}, transient=True)


class _Serial:
    def __init__(self, threads: int):
        limit_threads(threads)

    def map_unordered(self, fn: Callable[[Job], JobResult], jobs: Sequence[Job]) -> Iterator[JobResult]:
        for j in jobs:
            try:
                yield fn(j)
            except Exception as exc:
                yield _lost(j, exc)

    def close(self) -> None:
        pass


class _Processes:
    def __init__(self, workers: int, threads: int):
        import concurrent.futures as cf
        import multiprocessing as mp

        with _thread_env(threads):
            self.pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                               initializer=limit_threads, initargs=(threads,))

    def map_unordered(self, fn: Callable[[Job], JobResult], jobs: Sequence[Job]) -> Iterator[JobResult]:
        import concurrent.futures as cf

        futs = {self.pool.submit(fn, j): j for j in jobs}
        for f in cf.as_completed(futs):
            try:
                yield f.result()
            except Exception as exc:
                yield _lost(futs[f], exc)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class _Dask:
    def __init__(self, workers: int | None, threads: int, scheduler: str | None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise PixfuseError("the dask executor needs the 'dist' extra: pip install 'pixfuse[dist]'") from None
        import logging

        logging.getLogger("distributed").setLevel(logging.ERROR)
        self.cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout="20s")
            except OSError as exc:
                raise PixfuseError(f"cannot connect to the Dask scheduler at {scheduler}: {exc}") from None
            self.client.run(limit_threads, threads)
        else:
            with _thread_env(threads):
                self.cluster = LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True,
                                            dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        self.workers = len(self.client.scheduler_info().get("workers", {}))

    def map_unordered(self, fn: Callable[[Job], JobResult], jobs: Sequence[Job]) -> Iterator[JobResult]:
        from distributed import as_completed

        futs = {self.client.submit(fn, j, pure=False, key=f"pixfuse-{uuid.uuid4().hex}"): j for j in jobs}
        for f in as_completed(list(futs)):
            try:
                yield f.result()
            except Exception as exc:
                yield _lost(futs[f], exc)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()


@contextlib.contextmanager
def _thread_env(threads: int) -> Iterator[None]:
    """Worker processes inherit these variables, set before numpy/OpenCV load there."""
    old = {k: os.environ.get(k) for k in THREAD_ENV}
    for k in THREAD_ENV:
        os.environ[k] = str(threads)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def make_executor(cfg: RunConfig, n_jobs: int) -> tuple[Any, str, int]:
    kind = cfg.executor
    workers = cfg.workers
    if kind == "auto":
        if workers == 0:
            kind = "serial"
        elif cfg.scheduler:
            kind = "dask"
        else:
            try:
                import distributed  # noqa: F401

                kind = "dask"
            except ImportError:
                kind = "processes"
    if kind == "serial":
        return _Serial(cfg.threads), "serial", 1
    n = workers or min(os.cpu_count() or 1, max(n_jobs, 1))
    n = max(1, min(n, max(n_jobs, 1)))
    if kind == "processes":
        return _Processes(n, cfg.threads), "processes", n
    ex = _Dask(n, cfg.threads, cfg.scheduler)
    return ex, "dask", ex.workers


# ---------------------------------------------------------------- the run


class _Progress:
    def __init__(self, total: int, enabled: bool, label: str):
        self.p = None
        if enabled and total:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self.p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                              TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                              console=Console(stderr=True), transient=False)
            self.p.start()
            self.t = self.p.add_task(label, total=total)

    def advance(self, desc: str | None = None) -> None:
        if self.p is not None:
            self.p.update(self.t, advance=1, description=desc) if desc else self.p.advance(self.t)

    def close(self) -> None:
        if self.p is not None:
            self.p.stop()


def protocol_dict(cfg: RunConfig) -> dict[str, Any]:
    return {"warmup": cfg.warmup, "repeats": cfg.repeats, "threads": cfg.threads,
            "text": PROTOCOL.format(warmup=cfg.warmup, repeats=cfg.repeats, threads=cfg.threads,
                                    env=", ".join(THREAD_ENV[:3]))}


def run_benchmark(cfg: RunConfig, *, progress: bool = True, log: Callable[[str], None] | None = None,
                  on_result: Callable[[JobResult], None] | None = None) -> RunStats:
    """Execute a run: resolve (fails fast on bad names), plan what is missing, execute, store.

    Returns the run's statistics (wall time, time inside fusion/metrics, time
    writing the store, failures).
    """
    import pixfuse

    t_wall = time.perf_counter()
    say = log or (lambda s: print(s, file=sys.stderr))
    resolved = resolve(cfg)
    version = pixfuse.__version__
    store_path = Path(cfg.store).expanduser()
    cache_dir = Path(cfg.cache).expanduser() if cfg.cache else default_cache(store_path)
    fp_id, fp = fingerprint()
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    stats = RunStats(run_id)
    with ResultStore(store_path) as store:
        store.register(
            datasets=[(rd.key, rd.dataset, rd.ref.crop) for rd in resolved],
            variants=[(v, False) for rd in resolved for v in rd.variants],
            metrics={s.name: s for rd in resolved for s in rd.metrics}.values(),
            fingerprint=(fp_id, fp),
        )
        for rd in resolved:
            stats.skipped.extend(f"{rd.key}: {s}" for s in rd.skipped)
        jobs, stats.results_cached = plan_jobs(resolved, store, cfg, version, cache_dir)
        stats.jobs = len(jobs)
        for s in stats.skipped:
            say(f"skipped {s}")
        if not jobs:
            stats.wall_seconds = time.perf_counter() - t_wall
            say(f"nothing to do: all {stats.results_cached} results are in {store_path}")
            return stats
        store.start_run(run_id, cfg.as_dict(), fp_id, protocol_dict(cfg))
        t_setup = time.perf_counter()
        ex, stats.executor, stats.workers = make_executor(cfg, len(jobs))
        stats.setup_seconds = time.perf_counter() - t_setup
        n_metric = sum(len(j.metrics) for j in jobs)
        say(f"{len(jobs)} jobs ({sum(j.need_fuse for j in jobs)} fusions, {n_metric} metric values; "
            f"{stats.results_cached} already stored) on {stats.workers} {stats.executor} worker(s)")
        bar = _Progress(len(jobs), progress, "bench")
        try:
            for res in ex.map_unordered(run_job, jobs):
                store.write_job(res.key, fusion=res.fusion, metrics=res.metrics,
                                failures=[] if res.transient else res.failures, fingerprint=fp_id, run_id=run_id)
                stats.done += 1
                stats.results_written += len(res.metrics)
                stats.compute_seconds += res.seconds.get("fuse", 0.0) + res.seconds.get("metrics", 0.0)
                stats.worker_seconds += res.seconds.get("total", 0.0)
                stats.load_seconds += res.seconds.get("load", 0.0)
                stats.cache_seconds += res.seconds.get("cache", 0.0)
                if res.failures:
                    stats.failed_jobs += 1
                    for m, msg in res.failures:
                        stats.failures.append(f"{res.key[0]}/{res.key[1]} {res.key[2]}"
                                              f"{' ' + m if m else ''}: {msg}")
                if on_result is not None:
                    on_result(res)
                bar.advance(f"{res.key[2]} {res.key[1]}")
        finally:
            bar.close()
            ex.close()
        stats.store_seconds = store.write_seconds
        stats.wall_seconds = time.perf_counter() - t_wall
        store.finish_run(run_id, {k: v for k, v in stats.as_dict().items() if k not in ("failures", "skipped")})
    for f in stats.failures[:20]:
        say(f"failed: {f}")
    if len(stats.failures) > 20:
        say(f"... and {len(stats.failures) - 20} more failures (see the report)")
    say(f"stored {stats.results_written} results in {stats.wall_seconds:.1f} s ({store_path})")
    return stats


# ------------------------------------------------------------ add-results


@dataclasses.dataclass
class AddResultsReport:
    scored: list[str]
    missing: list[str]
    unreadable: list[str]
    extra: list[str]
    failures: list[str]
    results_written: int


def add_results(
    dataset_path: str,
    method_name: str,
    folder: str | os.PathLike[str],
    *,
    store: str | os.PathLike[str],
    metrics: Sequence[str] | str = "all",
    task: str | None = None,
    dataset_name: str | None = None,
    crop: int | None = None,
    replace: bool = False,
    plugins: Sequence[str] = (),
    log: Callable[[str], None] | None = None,
) -> AddResultsReport:
    """Score a folder of externally fused images (matched to items by file name stem).

    The same metric code, conventions and store keys as built-in methods are
    used; the method is recorded with ``params_hash="external"``.  Missing or
    unreadable images are reported by name and the rest are scored.
    """
    import pixfuse

    from ..io import list_images
    from ..io.datasets import image_header, open_dataset, validate_dataset
    from ..registry import get_metric, metric_specs
    from .config import DatasetRef, dataset_key

    from .worker import load_plugins

    load_plugins(list(plugins))
    say = log or (lambda s: print(s, file=sys.stderr))
    mnames = None if metrics == "all" else list(metrics)
    specs = [get_metric(n) for n in mnames] if mnames else None  # names first: fail before any work
    ds = open_dataset(dataset_path, task=task, name=dataset_name)
    validate_dataset(ds)
    bad = {i.item for i in ds.errors}
    items = [it for it in ds.items if it.name not in bad]
    key = dataset_key(DatasetRef(path=str(dataset_path), crop=crop), ds.name)
    if specs is None:
        has_ref = any(it.reference is not None for it in items)
        specs = [s for s in sorted(metric_specs(ds.task), key=lambda s: s.name) if has_ref or "reference" not in s.needs]
    if not specs:
        raise ConfigError(f"no metrics for task {ds.task!r}; name some with --metric")
    d = Path(folder)
    if not d.is_dir():
        raise PixfuseError(f"{d}: not a folder of fused images")
    files: dict[str, Path] = {}
    for p in list_images(d):
        files.setdefault(p.stem, p)
    # Items with nested names (tno-scenes) match on their last component too.
    def find(name: str) -> Path | None:
        return files.get(name) or files.get(name.replace("/", "__")) or files.get(Path(name).name)

    variant = Variant(method_name.lower(), {"external": str(d.resolve())}, "external", method_name.lower())
    version = pixfuse.__version__
    rep = AddResultsReport([], [], [], [], [], 0)
    matched = set()
    jobs: list[Job] = []
    with ResultStore(store) as st:
        if replace:
            n = st.delete_method(key, variant.method, variant.params_hash)
            if n:
                say(f"removed {n} earlier results of {variant.method} on {key}")
        fp_id, fp = fingerprint()
        st.register(datasets=[(key, ds, crop)], variants=[(variant, True)], metrics=specs, fingerprint=(fp_id, fp))
        done = st.done_metrics(key, variant.method, variant.params_hash, version)
        for it in items:
            p = find(it.name)
            if p is None:
                rep.missing.append(it.name)
                say(f"missing: no fused image for item {it.name!r} in {d} (expected {it.name}.png or another image "
                    "suffix)")
                continue
            matched.add(p.stem)
            try:
                image_header(p)
                from ..io import read_image

                read_image(p)
            except PixfuseError as exc:
                rep.unreadable.append(p.name)
                say(f"unreadable: {exc}")
                continue
            want = [(s.name, s.convention) for s in specs if (s.name, s.convention) not in done.get(it.name, set())]
            if not want:
                rep.scored.append(it.name)
                continue
            jobs.append(Job(dataset=key, item=it, task=ds.task, crop=crop, method=variant.method,
                            params=variant.params, params_hash="external", version=version, metrics=want,
                            cache_path=str(p), need_fuse=False, external=True))
        rep.extra = sorted(set(files) - matched)
        for e in rep.extra:
            say(f"ignored: {files[e].name} matches no item of dataset {key!r}")
        run_id = "external-" + time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        for j in jobs:
            res = run_job(j)
            st.write_job(res.key, fusion=res.fusion, metrics=res.metrics, failures=res.failures, fingerprint=fp_id,
                         run_id=run_id)
            rep.results_written += len(res.metrics)
            if res.failures:
                for m, msg in res.failures:
                    rep.failures.append(f"{j.item.name} {m}: {msg}")
                    say(f"failed: {j.item.name} {m}: {msg}")
            if res.metrics:
                rep.scored.append(j.item.name)
    say(f"scored {len(rep.scored)} of {len(items)} items of {key} as {variant.method!r} "
        f"({rep.results_written} new values); missing {len(rep.missing)}, unreadable {len(rep.unreadable)}")
    return rep


__all__ = ["run_benchmark", "add_results", "plan_jobs", "RunStats", "AddResultsReport", "make_variant", "ConfigError"]
