"""LRD: sensitivity to its chosen parameters (ranked inside the medical table) and time at 256x256 / 640x480.

    PYTHONPATH=src python benchmarks/bench_lrd.py --cache /tmp/bench_ivif.json [--medical-per-set 4] [--repeats 9]

* Variants: ``lrd`` with one chosen parameter changed at a time (``gain``, ``levels``, ``alpha``,
  ``lowpass``) on the Harvard pairs of ``bench_ivif.py`` (``--medical-per-set`` per set), scored with the
  same metrics, and ranked together with every method row of the medical table found in ``--cache`` (a
  cache written by ``benchmarks/bench_ivif.py --tasks medical --cache ...``; without it the variants are
  ranked among themselves).
* Time: median wall time of ``pixfuse.fuse`` (colour policy included) after one warm-up, for ``lrd``,
  ``lp`` (the plain Laplacian pyramid it builds on) and ``nsst-papcnn`` (the other medical method), on the
  256x256 Harvard PET-MRI pair 25020 and the 640x480 MSRS pair 00537D (``nsst-papcnn`` once at 640x480).
  No peer tool: the authors' code is MATLAB P-code.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_ivif as B  # noqa: E402

import pixfuse  # noqa: E402
from pixfuse.io import read_image  # noqa: E402

VARIANTS = {
    "lrd (defaults)": {},
    "lrd gain=1": {"gain": 1.0},
    "lrd gain=1.25": {"gain": 1.25},
    "lrd gain=2": {"gain": 2.0},
    "lrd levels=3": {"levels": 3},
    "lrd alpha=0.5": {"alpha": 0.5},
    "lrd lowpass=max": {"lowpass": "max"},
    "lrd lowpass=average": {"lowpass": "average"},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="", help="bench_ivif.py cache holding the other methods' medical rows")
    ap.add_argument("--medical-per-set", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--no-time", action="store_true")
    a = ap.parse_args()

    pairs = B.medical_pairs(a.medical_per_set)
    ids = {pid for pid, _, _ in pairs}
    tab: dict[str, dict[str, float]] = {}
    if a.cache and Path(a.cache).exists():
        rows: dict[str, list] = {}
        for key, val in json.loads(Path(a.cache).read_text()).items():
            parts = key.split("|")
            if parts[0] == "medical" and parts[1] != "lrd" and parts[2] in ids and "error" not in val:
                rows.setdefault(parts[1], []).append(val)
        tab = {m: {k: float(np.mean([r[k] for r in rs])) for k in B.METRICS} for m, rs in rows.items()}
    loaded = {pid: B.load_pair(pa, pb, 640) for pid, pa, pb in pairs}
    for name, params in VARIANTS.items():
        scores = [B.score(pixfuse.fuse(loaded[pid], "lrd", **params), loaded[pid]) for pid in loaded]
        tab[name] = {k: float(np.mean([s[k] for s in scores])) for k in B.METRICS}
    rk = B.mean_ranks(tab)
    order = sorted(tab, key=lambda n: rk[n])
    print(f"\n### lrd variants on {len(pairs)} Harvard pairs, ranked among {len(tab)} rows\n")
    print("| variant | place | mean rank | " + " | ".join(B.get_metric(m).display for m in B.METRICS) + " |")
    print("|" + "---|" * (3 + len(B.METRICS)))
    for n in order:
        if n in VARIANTS:
            vals = " | ".join(f"{tab[n][k]:.4f}" for k in B.METRICS)
            print(f"| {n} | {order.index(n) + 1} | {rk[n]:.2f} | {vals} |")

    if a.no_time:
        return
    d = B.DATA
    big = [read_image(d / "ivif" / "msrs" / s / "00537D.png")[0] for s in ("ir", "vi")]
    small = [read_image(d / "medical" / "harvard" / "PET-MRI" / s / "25020.png")[0] for s in ("MRI", "PET")]
    print(f"\n### time (median wall seconds of pixfuse.fuse), load average {os.getloadavg()[0]:.1f}\n")
    print("| method | 256x256 | 640x480 |\n|---|---|---|")
    for m in ("lrd", "lp", "nsst-papcnn"):
        cells = []
        for label, pair in (("256", small), ("640", big)):
            pixfuse.fuse(pair, m)
            n = 1 if (m == "nsst-papcnn" and label == "640") else max(1, a.repeats)
            ts = []
            for _ in range(n):
                t0 = time.perf_counter()
                pixfuse.fuse(pair, m)
                ts.append(time.perf_counter() - t0)
            cells.append(f"{statistics.median(ts):.4f} (n={n})")
        print(f"| {m} | " + " | ".join(cells) + " |", flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
