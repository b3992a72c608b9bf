"""Workbench scaling and overhead: every IVIF method on the 16 shared IVIF pairs, scored with a metric suite.

    PYTHONPATH=src python benchmarks/bench_workbench.py [--metrics all|standard|en,sd,...]
        [--skip-methods nsst-papcnn] [--workers 1,2] [--repeats 3] [--warmup 1] [--sets tno,msrs] [--out DIR]

For each worker count, the script starts a fresh store and runs the whole benchmark on a Dask LocalCluster
(single-threaded workers). Then it runs the same configuration again on the last store: everything is cached,
so no cluster is started. It prints:

* **wall** (s), and the speed-up from 1 to N workers;
* **compute**: the sum of the time spent inside the fusion calls (warm-up and repeats included) and the
  metric calls, over all workers;
* **overhead** = 1 - compute / (wall x workers): the share of the available worker time spent outside fusion
  and metrics. This includes cluster start-up, decoding the sources, writing the lossless cache,
  the store's transactions, scheduling, and idle workers at the end.

The overhead is then broken down into its named parts. `--metrics standard` is the 18-metric VIFB/Tang table
(EN SD SF AG EI CE MI NMI Qabf Nabf SSIM VIF SCD CC PSNR MSE Qcb Qcv); `all` is every registered IVIF metric.

No peer tool is compared: the field's benchmark drivers (VIFB, MEFB, MFIFB) are MATLAB scripts that cannot
run here.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DATA = (ROOT / ".." / "shared" / "data" / "ivif").resolve()
SETS = ("tno", "roadscene", "msrs", "llvip", "m3fd")
STANDARD = ("en", "sd", "sf", "ag", "ei", "ce", "mi", "nmi", "qabf", "nabf", "ssim", "vif", "scd", "cc", "psnr",
            "mse", "qcb", "qcv")


def main() -> None:
    from pixfuse.bench import RunConfig, run_benchmark
    from pixfuse.bench.config import DatasetRef, MethodRef
    from pixfuse.registry import metric_specs, method_specs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--metrics", default="all", help="all | standard | comma-separated names")
    ap.add_argument("--skip-methods", default="", help="comma-separated methods to leave out")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--out", default=None, help="keep stores and the report here (default: a temp dir)")
    ap.add_argument("--sets", default=",".join(SETS), help="IVIF subsets of ../shared/data/ivif to use")
    a = ap.parse_args()

    skip = {m.strip() for m in a.skip_methods.split(",") if m.strip()}
    methods = [MethodRef(s.name) for s in sorted(method_specs("ivif"), key=lambda s: s.name) if s.name not in skip]
    if a.metrics == "all":
        metrics = sorted(s.name for s in metric_specs("ivif") if "reference" not in s.needs)
    elif a.metrics == "standard":
        have = {s.name for s in metric_specs("ivif")}
        metrics = [m for m in STANDARD if m in have]
    else:
        metrics = [m.strip() for m in a.metrics.split(",") if m.strip()]
    sets = [x.strip() for x in a.sets.split(",") if x.strip()]
    datasets = [DatasetRef(path=str(DATA / s)) for s in sets]
    out = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="pixfuse-bench-"))
    n_items = sum(len([p for p in (DATA / s / "ir").iterdir() if p.is_file()]) for s in sets)
    import os

    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{len(methods)} methods x {n_items} IVIF pairs x {len(metrics)} metrics; repeats {a.repeats}, "
          f"warm-up {a.warmup}, 1 thread per worker")
    print(f"methods: {' '.join(m.name for m in methods)}")
    print(f"metrics: {' '.join(metrics)}\n")

    rows = []
    last_store = None
    for w in [int(x) for x in a.workers.split(",")]:
        store = out / f"w{w}" / "results.sqlite"
        if store.parent.exists():
            shutil.rmtree(store.parent)
        cfg = RunConfig(datasets=datasets, methods=methods, metrics=metrics, store=str(store), workers=w,
                        executor="dask", repeats=a.repeats, warmup=a.warmup, threads=1)
        la0 = os.getloadavg()[0]
        st = run_benchmark(cfg, progress=False, log=lambda s: print("  " + s, file=sys.stderr))
        rows.append((w, st, (la0, os.getloadavg()[0])))
        last_store = (cfg, store)
    cfg, store = last_store
    t0 = time.perf_counter()
    cached = run_benchmark(cfg, progress=False, log=lambda s: None)
    t_cached = time.perf_counter() - t0
    t0 = time.perf_counter()
    from pixfuse.bench import make_report

    make_report(store, out / "report")
    t_report = time.perf_counter() - t0

    print("| workers | jobs | results | wall (s) | speed-up | compute (s) | overhead | cluster start (s) | "
          "decode (s) | cache writes (s) | store writes (s) | failures | load avg start/end |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    base = rows[0][1].wall_seconds
    for w, st, la in rows:
        avail = st.wall_seconds * st.workers
        over = 1 - st.compute_seconds / avail if avail else float("nan")
        print(f"| {st.workers} | {st.jobs} | {st.results_written} | {st.wall_seconds:.1f} | "
              f"{base / st.wall_seconds:.2f}x | {st.compute_seconds:.1f} | {over:.1%} | {st.setup_seconds:.1f} | "
              f"{st.load_seconds:.1f} | {st.cache_seconds:.1f} | {st.store_seconds:.2f} | {len(st.failures)} | "
              f"{la[0]:.1f} / {la[1]:.1f} |")
    print(f"\nsecond, fully cached run ({cached.results_cached} results already stored, {cached.jobs} jobs): "
          f"{t_cached:.2f} s wall")
    print(f"report (CSV, Markdown, LaTeX, HTML): {t_report:.1f} s -> {out / 'report'}")
    for w, st, _ in rows:
        for f in st.failures[:10]:
            print(f"failure ({w} workers): {f}")


if __name__ == "__main__":
    main()
