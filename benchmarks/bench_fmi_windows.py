"""Time the FMI window kernel (``information._fmi_map``) per window, this tree vs a baseline tree.

Usage::

    PYTHONPATH=src python benchmarks/bench_fmi_windows.py --baseline DIR [--repeat 60]

``DIR`` is another pixfuse source tree (``git archive REV src | tar -x -C /tmp/base`` then
``--baseline /tmp/base/src``).  Inputs: the 640x480 MSRS pair of ``bench_metrics.py`` (IR,
VIS luminance, their rounded mean as the fused image); for the DCT and the wavelet (dmey)
features, two fixed batches of ~5000 windows each (image rows 100-108 and 300-308 of the
DCT maps, 60-67 and 400-407 of the wavelet tiles).  Each batch is timed ``--repeat`` times
for each tree, the calls interleaved (baseline, this, baseline, ...), as process CPU time on
one core; the best call of each tree counts (on a shared machine the minimum of many short
calls is steadier than whole-metric timings; two identical trees read 0.93-1.01 at load
2-3, so differences under ~5% are noise).  Also printed: the largest relative difference
of the per-window values.

This isolates the window work (features, windowing and the final mean excluded): the part
of ``fmi_dct`` / ``fmi_w`` that a kernel change moves.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from bench_metrics import _import_baseline, _load, _loadavg  # noqa: E402
from pixfuse.metrics import information as INF  # noqa: E402
from pixfuse.metrics._common import rgb2gray  # noqa: E402

#: (feature, [(first window row, end row)]): ~5000 windows per batch, as in one ``_FMI_CHUNK``
BATCHES = (("dct", [(100, 108), (300, 308)]), ("wavelet", [(60, 67), (400, 407)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", type=Path, required=True, help="another pixfuse source tree (DIR/pixfuse)")
    ap.add_argument("--repeat", type=int, default=60, help="calls per batch and tree (best counts)")
    args = ap.parse_args()
    _import_baseline(args.baseline)
    from pixfuse_baseline.metrics import information as BINF

    ir, vi, f = _load()
    imgs = [np.asarray(x, np.float64) for x in (ir, rgb2gray(vi.astype(float), uint8=True), f)]
    print(f"FMI window kernel, baseline {args.baseline} vs this tree, CPU time, best of {args.repeat}; {_loadavg()}")
    print(f"{'feature':8s} {'windows':>8s} {'baseline [ns/window]':>21s} {'this [ns/window]':>17s} {'ratio':>6s}"
          "  max rel. difference per window")
    for kind, rows in BATCHES:
        feats = [BINF._feature(x, kind) for x in imgs]
        tb = tc = 0.0
        nw = 0
        diff = 0.0
        for r0, r1 in rows:
            wins = [BINF._windows(x, r0, r1) for x in feats]
            nw += wins[0].shape[1]
            best = {BINF: np.inf, INF: np.inf}
            for _ in range(args.repeat):
                for mod in (BINF, INF):
                    w = [x.copy() for x in wins]
                    t = time.process_time()
                    mod._fmi_map(*w)
                    best[mod] = min(best[mod], time.process_time() - t)
            tb += best[BINF]
            tc += best[INF]
            vb = BINF._fmi_map(*[x.copy() for x in wins])
            vc = INF._fmi_map(*[x.copy() for x in wins])
            same = (vb == vc) | (np.isnan(vb) & np.isnan(vc))
            if not same.all():
                diff = max(diff, float(np.max(np.abs(vc - vb)[~same] / np.maximum(np.abs(vb[~same]), 1e-300))))
        print(f"{kind:8s} {nw:8d} {tb * 1e9 / nw:21.1f} {tc * 1e9 / nw:17.1f} {tb / tc:6.3f}  {diff:.1e}")


if __name__ == "__main__":
    main()
