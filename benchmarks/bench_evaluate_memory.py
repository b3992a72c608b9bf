"""CPU time and page faults of repeated ``pixfuse.evaluate`` calls under three allocator settings.

Usage::

    PYTHONPATH=src python benchmarks/bench_evaluate_memory.py [--repeat 6] [--suite issue33|rest|all] [--rgb-fused]

Each setting runs in a fresh process (``mallopt`` cannot be undone), on the 640x480 MSRS pair of
``bench_metrics.py``, one core: ``default`` (what ``evaluate`` does: glibc's dynamic thresholds,
primed once per process by ``evaluate``), ``fixed`` (``mallopt`` M_MMAP_THRESHOLD 32 MiB and
M_TRIM_THRESHOLD 64 MiB: the maximum of the dynamic thresholds, frozen), ``retain``
(``retain_freed_memory()``: freed heap kept up to 1 GiB).  Prints, per setting, the page faults
(``ru_minflt``) of the first and of the last call and the best CPU time of the calls after the first.
``--suite``: ``issue33`` = the issue's 33 metrics, ``rest`` = those without FMI and Q_P, ``all`` = the
44 no-reference IVIF metrics.  ``--rgb-fused``: score an RGB fused image (0.6 VIS + 0.4 IR per channel,
8-bit) instead of the grey one (VIFB's per-channel scoring).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _child(mode: str, suite: str, repeat: int, rgb: bool) -> None:
    import resource
    import time

    sys.path.insert(0, str(HERE))
    import bench_metrics as B  # noqa: E402  (pins the thread pools to 1)

    import pixfuse

    import numpy as np

    ir, vi, f = B._load()
    if rgb:
        f = np.clip(np.rint(vi * 0.6 + (ir * 0.4)[..., None]), 0, 255).astype(np.uint8)
    src = [ir, vi]
    names = sorted(s.name for s in pixfuse.registry.metric_specs("ivif") if s.needs in ("fused", "sources"))
    ns = {"issue33": B.ISSUE33, "rest": [n for n in B.ISSUE33 if not n.startswith("fmi") and n != "qp"],
          "all": names}[suite]
    from pixfuse.metrics._common import retain_freed_memory

    pixfuse.evaluate(f, src, ["qp", "qcb", "qcv"])  # build the cached filter banks
    if mode == "fixed":
        retain_freed_memory(64 << 20)  # M_MMAP_THRESHOLD 32 MiB, M_TRIM_THRESHOLD 64 MiB
    elif mode == "retain":
        retain_freed_memory()
    out = []
    for _ in range(repeat):
        r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        c = time.process_time()
        pixfuse.evaluate(f, src, ns)
        t = time.process_time() - c
        out.append((t, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0))
    print(f"{mode:8s} {suite:8s} {'RGB' if rgb else 'grey'} fused  faults first {out[0][1]:6d} last {out[-1][1]:6d}   "
          f"best CPU {min(t for t, _ in out[1:]) * 1e3:7.1f} ms   ({len(ns)} metrics, {os.getloadavg()[0]:.2f} load)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=6)
    ap.add_argument("--suite", default="issue33", choices=["issue33", "rest", "all"])
    ap.add_argument("--rgb-fused", action="store_true")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.suite, max(args.repeat, 2), args.rgb_fused)
        return
    for mode in ("default", "fixed", "retain"):
        subprocess.run([sys.executable, __file__, "--child", mode, "--suite", args.suite,
                        "--repeat", str(args.repeat)] + (["--rgb-fused"] if args.rgb_fused else []), check=True)


if __name__ == "__main__":
    main()
