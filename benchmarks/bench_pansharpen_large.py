"""Large-scene pansharpening: time, peak RSS and 1 -> 2 worker scaling of the tiled GeoTIFF pipeline.

    PYTHONPATH=src python benchmarks/bench_pansharpen_large.py [--size 20000] [--tile 2048] [--method mtf-glp-hpm]

Builds a SIZE x SIZE PAN / (SIZE/4)^2 x 4 MS GeoTIFF pair in a temporary folder (never committed) by
mirror-tiling the real 800x800 / 200x200x4 11-bit scene of ../shared/data/pansharpening/geotiff_sample
(EPSG:32649), then runs pixfuse.tiling.pansharpen_geotiff with 1 worker (in-process) and 2 workers
(local Dask cluster, 2 single-threaded processes). Peak RSS is sampled every 50 ms over the process tree
(client + Dask workers, summed). Also checks the tiled output of a 2048x2048 crop equals whole-image
processing.

If --method is not a registered method (the pansharpening family not installed), a stand-in MTF-GLP-HPM
built from pixfuse.ops (interp23tap, sensor MTF filter, histogram matching through pixfuse.ops.gstats) is
used and named "glp-hpm-standin" in the output.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pixfuse.ops import gstats  # noqa: E402
from pixfuse.tiling import pansharpen_array_tiled, pansharpen_geotiff  # noqa: E402

SAMPLE = ROOT / ".." / "shared" / "data" / "pansharpening" / "geotiff_sample"


def glp_hpm_standin(images, *, ratio=4, sensor="none"):
    """MTF-GLP-HPM (PAN equalised to each band, MTF low-pass, interp23tap) from pixfuse.ops."""
    from pixfuse.ops.mtf import mtf_filter
    from pixfuse.ops.resample import decimate_nearest, interp23tap

    pan, ms = images
    pan = np.asarray(pan, dtype=np.float64)
    up = interp23tap(np.asarray(ms, dtype=np.float64), ratio)
    mu, su = gstats.mean(up, axis=(0, 1)), gstats.std(up, axis=(0, 1))
    mp, sp = gstats.mean(pan), gstats.std(pan)
    p = (pan[:, :, None] - mp) * (su / sp) + mu
    p_lp = interp23tap(decimate_nearest(mtf_filter(p, sensor, ratio), ratio), ratio)
    return up * p / (p_lp + np.finfo(np.float64).eps)


def build_scene(folder: Path, size: int) -> tuple[Path, Path]:
    """Mirror-tile the sample pair to size x size (PAN) and write tiled GeoTIFFs block by block."""
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(SAMPLE / "pan.tif") as ds:
        pan, pprof = ds.read(1), ds.profile
    with rasterio.open(SAMPLE / "ms.tif") as ds:
        ms, mprof = ds.read(), ds.profile
    r = pan.shape[0] // ms.shape[1]
    from rasterio.transform import Affine

    mprof = dict(mprof, transform=pprof["transform"] * Affine.scale(r))  # MS grid = PAN grid x r (no drift)
    size = (size // (4 * r)) * 4 * r
    out = []
    for name, arr, prof, scale in (("pan.tif", pan[None], pprof, 1), ("ms.tif", ms, mprof, r)):
        n = size // scale
        prof = dict(prof, width=n, height=n, tiled=True, blockxsize=256, blockysize=256, compress="deflate",
                    BIGTIFF="IF_SAFER", interleave="pixel")
        p = folder / name
        h = arr.shape[1]
        with rasterio.open(p, "w", **prof) as dst:
            step = 2 * h  # a 2x2 mirror block is seamless
            block = np.concatenate([arr, arr[:, ::-1]], axis=1)
            block = np.concatenate([block, block[:, :, ::-1]], axis=2)
            rows = max(1, 4096 // step) * step
            for r0 in range(0, n, rows):
                rr = min(rows, n - r0)
                reps = int(np.ceil(n / step))
                strip = np.tile(block, (1, int(np.ceil(rr / step)), reps))[:, :rr, :n]
                dst.write(strip, window=Window(0, r0, n, rr))
        out.append(p)
    return out[0], out[1]


class PeakRSS:
    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            tot = 0
            try:
                procs = [self.proc] + self.proc.children(recursive=True)
                for p in procs:
                    try:
                        tot += p.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            self.peak = max(self.peak, tot)
            time.sleep(0.05)

    def __enter__(self) -> "PeakRSS":
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=20000)
    ap.add_argument("--tile", type=int, default=2048)
    ap.add_argument("--method", default="mtf-glp-hpm")
    ap.add_argument("--sensor", default="none")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--tmp", default=None, help="folder for the scene (default: a temporary folder)")
    a = ap.parse_args()
    from pixfuse.registry import get_method
    from pixfuse.errors import UnknownMethodError

    try:
        method = get_method(a.method).name
        params = {"sensor": a.sensor} if "sensor" in get_method(a.method).params else {}
    except UnknownMethodError:
        method, params = glp_hpm_standin, {"sensor": a.sensor}
    mname = method if isinstance(method, str) else "glp-hpm-standin"
    with tempfile.TemporaryDirectory(dir=a.tmp) as td:
        tdp = Path(td)
        t0 = time.perf_counter()
        pan, ms = build_scene(tdp, a.size)
        import rasterio

        with rasterio.open(pan) as ds:
            n = ds.width
        print(f"scene {n}x{n} PAN + {n // 4}x{n // 4}x4 MS (uint16, 11-bit), built in {time.perf_counter() - t0:.1f} s; "
              f"method {mname}, tile {a.tile}, cores {os.cpu_count()}\n")
        # exactness on a crop that fits in memory
        from pixfuse.io.geotiff import read_window

        c = min(n, 2048)
        cp, cm = read_window(pan, 0, c, 0, c).astype(np.float32), read_window(ms, 0, c // 4, 0, c // 4).astype(np.float32)
        from pixfuse.tiling import _call_method

        whole = _call_method(method, cp, cm, 4, params)
        tiled = pansharpen_array_tiled(cp, cm, method, tile=512, **params)
        inner = (slice(64, -64), slice(64, -64))
        d_in = float(np.abs(tiled[inner] - whole[inner]).max())
        d_all = float(np.abs(tiled - whole).max())
        print(f"exactness on a {c}x{c} crop, tile 512: max |tiled - whole| = {d_in:.2e} (64 px from the scene border), "
              f"{d_all:.2e} (everywhere; circular interp23tap borders), values up to {whole.max():.0f}\n")
        print("| workers | time (s) | Mpix/s (PAN) | peak RSS (MiB) | passes | tiles | speed-up |")
        print("|---|---|---|---|---|---|---|")
        base = None
        for w in [int(v) for v in a.workers.split(",")]:
            out = tdp / f"out_{w}.tif"
            with PeakRSS() as mem:
                t0 = time.perf_counter()
                info = pansharpen_geotiff(pan, ms, out, method, tile=a.tile, workers=w, **params)
                dt = time.perf_counter() - t0
            base = base or dt
            print(f"| {w} | {dt:.1f} | {n * n / dt / 1e6:.2f} | {mem.peak / 2**20:.0f} | {info.passes} | {info.tiles} | "
                  f"{base / dt:.2f} |", flush=True)
        if len(list(tdp.glob("out_*.tif"))) >= 2:
            a1 = read_window(tdp / "out_1.tif", 0, 1024, 0, 1024)
            a2 = read_window(tdp / "out_2.tif", 0, 1024, 0, 1024)
            print(f"\n1-worker and 2-worker outputs identical (first 1024x1024 block): {np.array_equal(a1, a2)}")


if __name__ == "__main__":
    main()
