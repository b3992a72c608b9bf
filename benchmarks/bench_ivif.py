"""Every registered IVIF / medical method on the shared IVIF pairs and a Harvard sample: time and quality.

    PYTHONPATH=src python benchmarks/bench_ivif.py [--methods a,b] [--medical-per-set 4] [--repeats 3]
                                                   [--max-side 640] [--cache /tmp/bench_ivif.json]
                                                   [--extra-metrics psnr]

* Timing: median of ``--repeats`` runs of ``pixfuse.fuse`` on the 640x480 MSRS pair 00537D (grey IR +
  colour VIS, i.e. including the colour policy), in seconds; methods slower than 20 s are timed once.
* Quality: every method with its default parameters on the 16 IVIF pairs of ../shared/data/ivif (IR first)
  and on ``--medical-per-set`` pairs of each Harvard set (CT-MRI as [CT, MRI], PET-MRI and SPECT-MRI as
  [MRI, functional]); pairs larger than ``--max-side`` on their long side (LLVIP 1280x1024, M3FD 1024x768)
  are downsampled (INTER_AREA) to at most that side for every method alike.  Metrics are computed on the
  grey images (MATLAB rgb2gray weights, 8-bit) with pixfuse's metric conventions (VIFB / Tang): EN, SD,
  SF, AG, MI, SCD, VIF, Q_AB/F, SSIM, Q_CB.  The table is sorted by the mean rank over the metrics
  (rank 1 = best per metric; ties share the mean rank).
* ``--cache``: per (method, pair) results are kept in a JSON file so an interrupted run resumes.
No peer tool is run: the reference implementations are MATLAB programs.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import pixfuse  # noqa: E402
from pixfuse.io import list_images, read_image  # noqa: E402
from pixfuse.ops.color import MATLAB_RGB2GRAY, rgb_to_gray  # noqa: E402
from pixfuse.registry import get_metric, method_specs  # noqa: E402

DATA = ROOT / ".." / "shared" / "data"
METRICS = ["en", "sd", "sf", "ag", "mi", "scd", "vif", "qabf", "ssim", "qcb"]
TIMING_PAIR = ("msrs", "00537D.png")


def ivif_pairs() -> list[tuple[str, Path, Path]]:
    out = []
    for sub in ("tno", "roadscene", "msrs", "llvip", "m3fd"):
        for ir in list_images(DATA / "ivif" / sub / "ir"):
            out.append((f"{sub}/{ir.stem}", ir, DATA / "ivif" / sub / "vi" / ir.name))
    return out


def medical_pairs(per_set: int) -> list[tuple[str, Path, Path]]:
    out = []
    root = DATA / "medical" / "harvard"
    for name, first, second in (("CT-MRI", "CT", "MRI"), ("PET-MRI", "MRI", "PET"), ("SPECT-MRI", "MRI", "SPECT")):
        files = list_images(root / name / second)
        if not files or per_set <= 0:
            continue
        idx = np.linspace(0, len(files) - 1, per_set).round().astype(int)
        for i in sorted(set(idx.tolist())):
            f = files[i]
            out.append((f"{name}/{f.stem}", root / name / first / f.name, f))
    return out


def load_pair(a: Path, b: Path, max_side: int) -> list[np.ndarray]:
    imgs = [read_image(a)[0], read_image(b)[0]]
    h, w = imgs[0].shape[:2]
    s = max_side / max(h, w)
    if s < 1:
        size = (int(round(w * s)), int(round(h * s)))
        imgs = [cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in imgs]
    return imgs


def grey(x: np.ndarray) -> np.ndarray:
    return rgb_to_gray(x, MATLAB_RGB2GRAY) if x.ndim == 3 else x


def score(fused: np.ndarray, srcs: list[np.ndarray], extra: tuple[str, ...] = ()) -> dict[str, float]:
    g = [grey(s) for s in srcs]
    f = grey(fused)
    return {m: float(get_metric(m).func(f, g)) for m in (*METRICS, *extra)}


def mean_ranks(table: dict[str, dict[str, float]]) -> dict[str, float]:
    names = list(table)
    ranks = {n: [] for n in names}
    for m in METRICS:
        hib = get_metric(m).higher_is_better
        vals = np.array([table[n][m] for n in names])
        key = -vals if hib else vals
        order = np.argsort(key, kind="stable")
        r = np.empty(len(names))
        r[order] = np.arange(1, len(names) + 1)
        for v in np.unique(key):  # ties share the mean rank
            sel = key == v
            r[sel] = r[sel].mean()
        for n, ri in zip(names, r):
            ranks[n].append(ri)
    return {n: float(np.mean(v)) for n, v in ranks.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="", help="comma-separated subset (default: every ivif/medical method)")
    ap.add_argument("--medical-per-set", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-side", type=int, default=640)
    ap.add_argument("--cache", default="")
    ap.add_argument("--tasks", default="ivif,medical", help="which tables to compute: ivif, medical or both")
    ap.add_argument("--no-time", action="store_true")
    ap.add_argument("--cached-only", action="store_true", help="print the tables from --cache without computing")
    ap.add_argument("--extra-metrics", default="",
                    help="comma-separated metrics computed and cached in addition (not ranked), e.g. psnr for "
                         "benchmarks/compare_vifb.py; cached pairs lacking them are fused again")
    a = ap.parse_args()

    specs = {s.name: s for s in method_specs() if ("ivif" in s.tasks or "medical" in s.tasks)}
    if a.methods:
        want = [m.strip() for m in a.methods.split(",") if m.strip()]
        methods = [pixfuse.registry.get_method(m).name for m in want]
    else:
        methods = sorted(specs)
    cache: dict[str, dict] = {}
    cpath = Path(a.cache) if a.cache else None
    if cpath and cpath.exists():
        cache = json.loads(cpath.read_text())

    # ---- timing
    times: dict[str, float] = {}
    if not a.no_time:
        sub, name = TIMING_PAIR
        pair = load_pair(DATA / "ivif" / sub / "ir" / name, DATA / "ivif" / sub / "vi" / name, 10**6)
        for m in methods:
            key = f"time|{m}"
            if key in cache or a.cached_only:
                if key in cache:
                    times[m] = cache[key]["t"]
                continue
            ts = []
            for _ in range(max(1, a.repeats)):
                t0 = time.perf_counter()
                pixfuse.fuse(pair, m)
                ts.append(time.perf_counter() - t0)
                if ts[-1] > 20:
                    break
            times[m] = statistics.median(ts)
            cache[key] = {"t": times[m]}
            if cpath:
                cpath.write_text(json.dumps(cache))
            print(f"# time {m}: {times[m]:.3f} s", file=sys.stderr, flush=True)

    # ---- quality (fast methods first, so an interrupted run has the most rows)
    methods = sorted(methods, key=lambda m: times.get(m, 0.0))
    wanted = {t.strip() for t in a.tasks.split(",")}
    extra = tuple(m.strip() for m in a.extra_metrics.split(",") if m.strip())
    sets = {"ivif": ivif_pairs(), "medical": medical_pairs(a.medical_per_set)}
    sets = {t: p for t, p in sets.items() if t in wanted}
    results: dict[str, dict[str, dict[str, float]]] = {"ivif": {}, "medical": {}}
    for task, pairs in sets.items():
        loaded = {}
        for m in methods:
            if task not in specs.get(m, pixfuse.registry.get_method(m)).tasks:
                continue
            rows = []
            for pid, pa, pb in pairs:
                key = f"{task}|{m}|{pid}"
                if key not in cache and a.cached_only:
                    continue
                stale = key in cache and "error" not in cache[key] and any(x not in cache[key] for x in extra)
                if (key not in cache or stale) and not a.cached_only:
                    if pid not in loaded:
                        loaded[pid] = load_pair(pa, pb, a.max_side)
                    srcs = loaded[pid]
                    try:
                        fused = pixfuse.fuse(srcs, m)
                        cache[key] = score(fused, srcs, extra)
                    except Exception as e:  # report, keep going
                        print(f"# {m} failed on {pid}: {e}", file=sys.stderr)
                        cache[key] = {"error": str(e)}
                    if cpath:
                        cpath.write_text(json.dumps(cache))
                if "error" not in cache[key]:
                    rows.append(cache[key])
            if rows:
                results[task][m] = {k: float(np.mean([r[k] for r in rows])) for k in METRICS}
                results[task][m]["n"] = len(rows)
            print(f"# {task} {m}: {len(rows)} pairs", file=sys.stderr, flush=True)

    for task in sets:
        tab = results[task]
        if not tab:
            continue
        rk = mean_ranks(tab)
        npairs = len(sets[task])
        print(f"\n### {task}: mean over {npairs} pairs, sorted by mean rank over {len(METRICS)} metrics\n")
        hdr = "| # | method | pairs | mean rank | time 640x480 (s) | " + " | ".join(get_metric(m).display for m in METRICS) + " |"
        print(hdr)
        print("|" + "---|" * (5 + len(METRICS)))
        for i, m in enumerate(sorted(tab, key=lambda n: rk[n]), 1):
            t = f"{times[m]:.3f}" if m in times else "-"
            vals = " | ".join(f"{tab[m][k]:.4f}" for k in METRICS)
            print(f"| {i} | {m} | {tab[m]['n']} | {rk[m]:.2f} | {t} | {vals} |")


if __name__ == "__main__":
    main()
