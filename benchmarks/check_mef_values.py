"""Compare the MEF-SSIM metrics of this tree with another source tree, bit for bit, on real exposure stacks.

Usage::

    PYTHONPATH=src python benchmarks/check_mef_values.py --baseline /tmp/base/src [--scenes N]

Data: the Kede Ma multi-exposure sequences in ``../shared/data/multi_exposure/kede_ma_mef`` (3 to 9
exposures each) with their 8 published fused results per scene, and the MEFB under/over pairs.  Each
fused image is scored by ``mef_ssim``, ``mef_ms_ssim`` and ``ms_ssim_tang`` as read (RGB, 8-bit), as
its grey float32 version in [0, 1], and with only the first and last exposure as sources; then
``mef_ssim_map`` is called directly on a few odd-sized crops (1, 2 and all sources).  Both trees are
imported in one process (as in ``bench_metrics.py --baseline``).  Prints how many values are identical
(``==``) and the largest relative difference, per metric, and the CPU time of each tree.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import pixfuse
from bench_metrics import _import_baseline
from pixfuse.io import read_image

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "multi_exposure"
METRICS = ("mef_ssim", "mef_ms_ssim", "ms_ssim_tang")


def _cases(scenes: int):
    kede = DATA / "kede_ma_mef"
    for folder in sorted((kede / "source").iterdir())[:scenes]:
        srcs = [read_image(p)[0] for p in sorted(folder.glob("*.png"))]
        scene = folder.name.split("_")[0]
        for fp in sorted((kede / "fused").glob(scene + "_*.png")):
            fused = read_image(fp)[0]
            grey = fused.mean(axis=2).astype(np.float32) if fused.ndim == 3 else fused
            yield f"{fp.stem} rgb", fused, srcs
            yield f"{fp.stem} grey-float", grey, srcs
            yield f"{fp.stem} first+last", fused, [srcs[0], srcs[-1]]
    for a in sorted((DATA / "mefb_pairs").glob("*_A.*")):
        srcs = [read_image(a)[0], read_image(a.with_name(a.name.replace("_A.", "_B.")))[0]]
        yield f"{a.stem[:-2]} mean", (srcs[0] + srcs[1]) / 2, srcs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, required=True)
    ap.add_argument("--scenes", type=int, default=5)
    args = ap.parse_args()
    base = _import_baseline(args.baseline)
    same = {m: 0 for m in METRICS + ("mef_ssim_map",)}
    total = dict.fromkeys(same, 0)
    worst = dict.fromkeys(same, 0.0)
    cpu = [0.0, 0.0]

    def record(name: str, a: np.ndarray | float, b: np.ndarray | float) -> None:
        a, b = np.asarray(a), np.asarray(b)
        total[name] += a.size
        same[name] += int((a == b).sum())
        if a.size and not (a == b).all():
            worst[name] = max(worst[name], float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))))

    for label, fused, srcs in _cases(args.scenes):
        for m in METRICS:
            t = time.process_time()
            vb = base.evaluate(fused, srcs, [m])[m]
            t1 = time.process_time()
            vc = pixfuse.evaluate(fused, srcs, [m])[m]
            cpu[0] += t1 - t
            cpu[1] += time.process_time() - t1
            record(m, vc, vb)
            if vc != vb:
                print(f"DIFFERENT {m} {label}: {vc!r} vs {vb!r}")
    # the map itself on odd-sized crops, 1, 2 and all exposures
    from pixfuse.metrics.exposure import _to_u8_gray, mef_ssim_map
    from pixfuse_baseline.metrics.exposure import mef_ssim_map as base_map

    for folder in sorted((DATA / "kede_ma_mef" / "source").iterdir())[:args.scenes]:
        srcs = np.stack([_to_u8_gray(read_image(p)[0], "s") for p in sorted(folder.glob("*.png"))])
        f = srcs.mean(axis=0).round()
        for crop in ((slice(3, 120), slice(7, 140)), (slice(0, 11), slice(0, 300)), (slice(None), slice(None))):
            for sel in (slice(0, 1), slice(0, 2), slice(None)):
                s, ff = srcs[sel][(slice(None),) + crop], f[crop]
                record("mef_ssim_map", mef_ssim_map(s, ff), base_map(s, ff))
    for m in same:
        print(f"{m:14s} identical {same[m]:8d} of {total[m]:8d}   max rel. difference {worst[m]:.1e}")
    print(f"CPU time of the metric calls: baseline {cpu[0]:.2f} s, this tree {cpu[1]:.2f} s")


if __name__ == "__main__":
    main()
