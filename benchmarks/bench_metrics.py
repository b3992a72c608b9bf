"""Time every pixfuse fusion metric and the whole no-reference IVIF suite on a 640x480 pair.

Usage::

    PYTHONPATH=src python benchmarks/bench_metrics.py [--repeat 3] [--octave-ref DIR]

Runs on one core (OpenCV threads, the BLAS/OpenMP pools via threadpoolctl and scipy.fft pinned to 1;
the thread counts are printed).  Inputs:
../shared/data/ivif/msrs/00537D (IR grey, VIS RGB, 640x480); the fused image is
the mean of IR and the VIS luminance (grey, 8-bit), so every metric sees the
grey-fused case.  Per-metric times are cold (own cache scope); the suites are
timed as one ``pixfuse.evaluate`` call (shared gradients/SSIM statistics...),
warm (filter banks already built).  Each time is the best of ``--repeat`` runs,
as wall-clock time and as CPU time of the process (``time.process_time``, less
sensitive to other load on the machine); the load average is printed with them.

Peer: with ``--octave-ref DIR`` (a folder holding the reference MATLAB scripts
and a ``run_vifb.m`` driver that reads ``fname``; not shipped with pixfuse, the
reference code is not ours to redistribute) the VIFB-13 suite is also timed in
GNU Octave on the same images and the ratio is printed.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)

from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

# belt and braces: the environment variables above only act if numpy was not loaded with other settings
_POOLS = threadpool_limits(limits=1)

import pixfuse  # noqa: E402
from pixfuse.errors import PixfuseError  # noqa: E402
from pixfuse.metrics._common import cache_scope, rgb2gray  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ivif" / "msrs"
#: issue target for the whole no-reference IVIF suite at 640x480 on one core (seconds)
TARGET_S = 1.0
VIFB13 = ["en", "ce", "mi", "psnr", "rmse", "ag", "ei", "sf", "sd", "qabf", "ssim", "qcb", "qcv"]


def _load() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from PIL import Image

    ir = np.array(Image.open(DATA / "ir" / "00537D.png"))
    vi = np.array(Image.open(DATA / "vi" / "00537D.png"))
    f = np.rint((ir.astype(float) + rgb2gray(vi.astype(float), uint8=True)) / 2).astype(np.uint8)
    return ir, vi, f


def _best(fn, repeat: int) -> tuple[float, float]:
    """Best wall-clock and best CPU time of ``repeat`` calls."""
    walls, cpus = [], []
    for _ in range(repeat):
        c = time.process_time()
        t = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def _loadavg() -> str:
    try:
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"
    except OSError:
        return "load average unavailable"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--octave-ref", type=Path, default=None)
    args = ap.parse_args()
    ir, vi, f = _load()
    src = [ir, vi]
    specs = [s for s in pixfuse.registry.metric_specs("ivif") if s.needs in ("fused", "sources")]
    names = sorted(s.name for s in specs)
    pixfuse.evaluate(f, src, ["qp", "qcb", "qcv"])  # build the cached filter banks once
    print(f"pixfuse metrics on a {f.shape[1]}x{f.shape[0]} IVIF pair (MSRS 00537D), one core, best of {args.repeat}")
    pools = ", ".join(f"{p['internal_api']} {p['num_threads']}" for p in threadpool_info()) or "none"
    print(f"threads: OpenCV {cv2.getNumThreads()}, native pools {pools}, scipy.fft workers 1 (default)")
    print(f"start: {_loadavg()}")
    print(f"{'metric':22s} {'convention':48s} {'wall [ms]':>10s} {'CPU [ms]':>10s}  value")
    total = [0.0, 0.0]
    for n in names:
        spec = pixfuse.get_metric(n)

        def run(n=n):
            with cache_scope():
                return pixfuse.evaluate(f, src, [n])[n]

        t = _best(run, args.repeat)
        total[0] += t[0]
        total[1] += t[1]
        print(f"{n:22s} {spec.convention[:48]:48s} {t[0] * 1e3:10.1f} {t[1] * 1e3:10.1f}  {run():.6g}")
    print(f"{'sum of the above':71s} {total[0] * 1e3:10.1f} {total[1] * 1e3:10.1f}")
    suites = {
        "VIFB-13 suite": VIFB13,
        "IVIF suite without FMI": [n for n in names if not n.startswith("fmi")],
        f"whole no-reference IVIF suite ({len(names)} metrics)": names,
    }
    whole = None
    for label, ns in suites.items():
        t = _best(lambda ns=ns: pixfuse.evaluate(f, src, ns), args.repeat)
        print(f"{label:71s} {t[0] * 1e3:10.1f} {t[1] * 1e3:10.1f}")
        whole = t
    print(f"target: whole no-reference IVIF suite under {TARGET_S * 1e3:.0f} ms on one core -> CPU "
          f"{whole[1] * 1e3:.0f} ms = {whole[1] / TARGET_S:.2f}x the target "
          f"({'met' if whole[1] < TARGET_S else 'NOT met'}; wall {whole[0] * 1e3:.0f} ms)")
    try:
        n_all = len(pixfuse.evaluate(f, src))
        t = _best(lambda: pixfuse.evaluate(f, src), args.repeat)
        label = f"evaluate(metrics='all'), no task: {n_all} metrics"
        print(f"{label:71s} {t[0] * 1e3:10.1f} {t[1] * 1e3:10.1f}")
    except PixfuseError as exc:
        print(f"evaluate(metrics='all') failed: {exc}")
    print(f"end: {_loadavg()}")
    if args.octave_ref is not None:
        if shutil.which("octave") is None:
            print("octave not installed: no peer timing")
            return
        with tempfile.TemporaryDirectory() as td:
            from PIL import Image

            for name, x in (("ir", ir), ("vi", vi), ("f", f)):
                Image.fromarray(x).save(Path(td) / f"{name}.png")
            cmd = (f"cd('{args.octave_ref}'); fname='{td}/f.png'; irname='{td}/ir.png'; viname='{td}/vi.png'; "
                   "tic; run_vifb; printf('octave_seconds %f\\n', toc);")
            out = subprocess.run(["octave", "--no-gui", "-q", "--eval", cmd], capture_output=True, text=True)
            secs = [float(x.split()[1]) for x in out.stdout.splitlines() if x.startswith("octave_seconds")]
            if secs:
                ours = _best(lambda: pixfuse.evaluate(f, src, VIFB13), args.repeat)[0]
                print(f"VIFB-13 suite: reference MATLAB code in GNU Octave {secs[0]:.1f} s, pixfuse {ours:.3f} s, "
                      f"ratio {secs[0] / ours:.0f}x")
            else:
                print("octave run failed:", out.stderr[-500:])


if __name__ == "__main__":
    main()
