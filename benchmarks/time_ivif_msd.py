"""Per-method wall time of the multi-scale / sparse / medical methods at 640x480.

Fuses the MSRS pair 00537D (640x480: IR grey + VIS colour, through
``pixfuse.fuse`` and its colour policy) ``--repeat`` times per method after
one warm-up run (which also builds the cached frequency windows of the
curvelet / shearlet frames), and prints the median wall time, the process CPU
time and the ratio to the Laplacian pyramid (``lp``) measured in the same run.
The peer tools (MATLAB toolboxes) are not available here, so ``lp`` is the
in-run reference.

Usage::

    PYTHONPATH=src python benchmarks/time_ivif_msd.py [--repeat 3] [--warmup 1] [--methods rp,cp,...]

Any registered two-input method name works in ``--methods`` (e.g. ``latlrr,mdlatlrr``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import pixfuse  # noqa: E402
from pixfuse.io import read_image  # noqa: E402

METHODS = ["lp", "rp", "cp", "grp", "mp", "dwt", "swt", "dtcwt", "cvt", "nsst", "msvd",
           "lp-sr", "rp-sr", "dwt-sr", "nsst-sr", "nsst-papcnn"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs per method before timing")
    a = ap.parse_args()
    data = ROOT / ".." / "shared" / "data" / "ivif" / "msrs"
    ir, _ = read_image(data / "ir" / "00537D.png")
    vi, _ = read_image(data / "vi" / "00537D.png")
    print(f"MSRS 00537D {ir.shape[1]}x{ir.shape[0]}, median of {a.repeat} runs "
          f"({a.warmup} warm-up); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    rows = []
    for m in [s for s in a.methods.split(",") if s]:
        for _ in range(a.warmup):
            pixfuse.fuse([ir, vi], m)
        wall, cpu = [], []
        for _ in range(a.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            pixfuse.fuse([ir, vi], m)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        rows.append((m, statistics.median(wall), statistics.median(cpu)))
    ref = next((w for m, w, _ in rows if m == "lp"), None)
    print(f"| method | wall s | CPU s | x lp |\n|---|---:|---:|---:|")
    for m, w, c in rows:
        ratio = f"{w / ref:.1f}" if ref else "-"
        print(f"| {m} | {w:.3f} | {c:.3f} | {ratio} |")


if __name__ == "__main__":
    main()
