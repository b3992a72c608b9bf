"""Learned fusion vs the classical suite: metric table, mean rank, time at 640x480 on one core.

Usage (from the repository root):

    PYTHONPATH=src python benchmarks/bench_learned.py [--workers N] [--skip a,b] [--medical-limit N] [--methods a,b,...]
        [--no-time | --time-only [--rounds R]] [--no-ivif] [--no-medical]

Sets
----
* IVIF (../shared/data/ivif): the 12 pairs that were never trained on (TNO 5, MSRS 4, LLVIP 2, M3FD 1),
  and separately the 4 RoadScene pairs, which lie inside the training folder train_roadscene
  (3 of them in the training split, see below).
* Medical: the Harvard hold-out split (../shared/data/medical/harvard, pairs sorted by "<subset>/<stem>",
  every 10th held out = 81 pairs; the shipped medical models never saw them).

Every method fuses the luminance sources (BT.601 Y of colour images — what the colour policy feeds a
"luminance" method); the metrics are pixfuse's registered ones (EN, SD, SF, AG, MI, SCD, VIF, Q_AB/F, SSIM)
on that grey result.  Mean rank: methods ranked per metric on the set's mean value (1 = best, direction from
the metric's registry entry), averaged over the metrics.  Timing: median of 7 round-robin passes of ``pixfuse.fuse`` on the
640x480 MSRS pair 00537D after one warm-up, with OpenCV / BLAS / OpenMP limited to one thread; process CPU
time (robust to other jobs on a shared machine) and wall time.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import pixfuse  # noqa: E402
from pixfuse.learned.data import find_pairs, load_luminance, split_pairs  # noqa: E402
from pixfuse.registry import get_metric, method_specs  # noqa: E402

DATA = (ROOT / ".." / "shared" / "data").resolve()
METRICS = ["en", "sd", "sf", "ag", "mi", "scd", "vif", "qabf", "ssim"]
LEARNED = ("pixnet", "pixnet-tiny", "pixlut")


def ivif_sets() -> dict[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    root = DATA / "ivif"
    held, road = [], []
    for sub in ("tno", "msrs", "llvip", "m3fd", "roadscene"):
        for ir in sorted((root / sub / "ir").iterdir()):
            vi = next((root / sub / "vi").glob(ir.stem + ".*"))
            item = (f"{sub}/{ir.stem}", load_luminance(ir), load_luminance(vi))
            (road if sub == "roadscene" else held).append(item)
    return {"IVIF, 12 pairs never trained on": held, "IVIF, 4 RoadScene pairs (training folder)": road}


def medical_set(limit: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    _, test = split_pairs(find_pairs(DATA / "medical" / "harvard", "medical"), 10)
    if limit:
        test = test[:limit]
    return [(p.id, load_luminance(p.paths[0]), load_luminance(p.paths[1])) for p in test]


def metric_names() -> tuple[list[str], list[str]]:
    have, missing = [], []
    for m in METRICS:
        try:
            get_metric(m)
            have.append(m)
        except pixfuse.errors.PixfuseError:
            missing.append(m)
    return have, missing


def _one_method(args):
    m, items, task, metrics = args
    kw = {"weights": task} if m in LEARNED else {}
    vals = {k: [] for k in metrics}
    try:
        for _, a, b in items:
            f = pixfuse.fuse([a, b], m, **kw)
            r = pixfuse.evaluate(f, [a, b], metrics=metrics)
            for k in metrics:
                vals[k].append(r[k])
    except Exception as exc:  # report, do not abort the table
        return m, None, f"{type(exc).__name__}: {exc}"
    return m, {k: float(np.mean(v)) for k, v in vals.items()}, None


def run_set(items, methods, task, metrics, workers=1):
    jobs = [(m, items, task, metrics) for m in methods]
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as ex:
            results = list(ex.map(_one_method, jobs))
    else:
        results = [_one_method(j) for j in jobs]
    means = {m: v for m, v, e in results if v is not None}
    failed = {m: e for m, v, e in results if e is not None}
    return means, failed


def ranks(means, metrics):
    ms = list(means)
    rk = {m: [] for m in ms}
    for k in metrics:
        sign = 1.0 if get_metric(k).higher_is_better else -1.0
        v = np.array([sign * means[m][k] for m in ms])
        order = (-v).argsort(kind="stable")
        r = np.empty(len(ms))
        r[order] = np.arange(1, len(ms) + 1)
        for m, x in zip(ms, r):
            rk[m].append(x)
    return {m: float(np.mean(v)) for m, v in rk.items()}


def print_table(title, means, failed, metrics):
    rk = ranks(means, metrics)
    print(f"\n### {title}\n")
    print("| method | " + " | ".join(get_metric(k).display for k in metrics) + " | mean rank |")
    print("|---" * (len(metrics) + 2) + "|")
    for m in sorted(means, key=lambda m: rk[m]):
        name = f"**{m}**" if m in LEARNED else m
        print(f"| {name} | " + " | ".join(f"{means[m][k]:.4g}" for k in metrics) + f" | {rk[m]:.2f} |")
    for m, e in failed.items():
        print(f"| {m} | failed: {e} |")
    classical = [m for m in means if m not in LEARNED]
    if classical:
        best = min(classical, key=lambda m: rk[m])
        for m in LEARNED:
            if m in rk:
                verdict = "beats" if rk[m] < rk[best] else "does NOT beat"
                print(f"\n{m}: mean rank {rk[m]:.2f} {verdict} the best classical method {best} ({rk[best]:.2f})",
                      end="")
        print()
    if "pixnet" in means and "pixlut" in means:
        for k in ("qabf", "vif"):
            if k in metrics:
                print(f"pixlut keeps {100 * means['pixlut'][k] / means['pixnet'][k]:.1f}% of pixnet's "
                      f"{get_metric(k).display}")
    return rk


def timing(methods, task="ivif", rounds=7):
    """Per-method time on the 640x480 MSRS pair: ``rounds`` round-robin passes over all methods (so slow
    drifts in machine load hit every method alike); process CPU time (robust to other jobs on the machine)
    and wall time, medians."""
    ir = load_luminance(DATA / "ivif" / "msrs" / "ir" / "00537D.png")
    vi = load_luminance(DATA / "ivif" / "msrs" / "vi" / "00537D.png")
    assert ir.shape == (480, 640)
    ok = []
    for m in methods:
        try:
            pixfuse.fuse([ir, vi], m, **({"weights": task} if m in LEARNED else {}))
            ok.append(m)
        except Exception:
            continue
    cs: dict[str, list[float]] = {m: [] for m in ok}
    ws: dict[str, list[float]] = {m: [] for m in ok}
    for _ in range(rounds):
        for m in ok:
            kw = {"weights": task} if m in LEARNED else {}
            t, c = time.perf_counter(), time.process_time()
            pixfuse.fuse([ir, vi], m, **kw)
            ws[m].append(time.perf_counter() - t)
            cs[m].append(time.process_time() - c)
    out = {m: float(np.median(v)) for m, v in cs.items()}
    wall = {m: float(np.median(v)) for m, v in ws.items()}
    print(f"\n### Time per fusion at 640x480 (one thread; median of {rounds} round-robin passes; CPU time of this "
          "process, robust to other load on the machine, and wall time)\n")
    print("| method | CPU ms | wall ms | CPU time / pixlut's |")
    print("|---|---|---|---|")
    base = out.get("pixlut")
    for m in sorted(out, key=out.get):
        ratio = f"{out[m] / base:.2f}" if base else "-"
        print(f"| {m} | {1000 * out[m]:.1f} | {1000 * wall[m]:.1f} | {ratio} |")
    if base:
        faster = [m for m in out if m != "pixlut" and out[m] < base]
        print(f"\nmethods faster than pixlut: {', '.join(faster) if faster else 'none'}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--medical-limit", type=int, default=0, help="only the first N medical test pairs (0 = all 81)")
    ap.add_argument("--methods", default="", help="comma-separated subset of methods")
    ap.add_argument("--no-time", action="store_true")
    ap.add_argument("--time-only", action="store_true", help="only the timing table")
    ap.add_argument("--no-medical", action="store_true")
    ap.add_argument("--no-ivif", action="store_true")
    ap.add_argument("--skip", default="", help="comma-separated methods to leave out (e.g. slow ones)")
    ap.add_argument("--workers", type=int, default=1, help="processes for the metric tables (timing stays serial)")
    ap.add_argument("--rounds", type=int, default=7, help="round-robin timing passes (median reported)")
    args = ap.parse_args()
    metrics, missing = metric_names()
    if missing:
        print(f"note: metrics not registered in this tree, left out: {', '.join(missing)}")
    sel = [s for s in args.methods.split(",") if s]
    ivif_methods = [s.name for s in method_specs("ivif") if s.n_inputs[0] <= 2 and (s.n_inputs[1] or 2) >= 2]
    med_methods = [s.name for s in method_specs("medical") if s.n_inputs[0] <= 2 and (s.n_inputs[1] or 2) >= 2]
    if sel:
        ivif_methods = [m for m in ivif_methods if m in sel]
        med_methods = [m for m in med_methods if m in sel]
    skip = {s for s in args.skip.split(",") if s}
    if skip:
        print(f"left out on request: {', '.join(sorted(skip))}")
        ivif_methods = [m for m in ivif_methods if m not in skip]
        med_methods = [m for m in med_methods if m not in skip]
    print(f"pixfuse {pixfuse.__version__}; metrics: {', '.join(metrics)}")
    if args.time_only:
        timing(ivif_methods, rounds=args.rounds)
        return
    for title, items in ({} if args.no_ivif else ivif_sets()).items():
        means, failed = run_set(items, ivif_methods, "ivif", metrics, args.workers)
        print_table(title, means, failed, metrics)
    if not args.no_medical:
        items = medical_set(args.medical_limit)
        means, failed = run_set(items, med_methods, "medical", metrics, args.workers)
        print_table(f"Medical, Harvard hold-out split ({len(items)} pairs)", means, failed, metrics)
    if not args.no_time:
        timing(ivif_methods, rounds=args.rounds)


if __name__ == "__main__":
    main()
