"""Large-scene pansharpening through ``pixfuse pansharpen``: wall time, peak RSS and 1 -> 2 worker scaling.

    PYTHONPATH=src python benchmarks/bench_pansharpen_large.py --size 20000 --method mtf-glp --workers 1
    PYTHONPATH=src python benchmarks/bench_pansharpen_large.py --size 8192 --method mtf-glp-hpm --workers 1,2

Builds (once, kept in ``--scene``, default /tmp/pixfuse_large; never in the repository) a SIZE x SIZE PAN and a
(SIZE/4) x (SIZE/4) x 4 MS GeoTIFF pair (uint16, NBITS=11, EPSG:32649) by mirror-tiling the real 800x800 /
200x200x4 11-bit scene of ../shared/data/pansharpening/geotiff_sample.  The files are written window by window
(row strips), so building a 20000^2 scene needs a few hundred MiB, not the scene.

Each run is the CLI in a subprocess, ``python -m pixfuse pansharpen PAN MS -o OUT -m METHOD --sensor S --tile T
--workers W -q --overwrite``; its peak RSS is sampled every 100 ms over the whole process tree (CLI + Dask
scheduler/nanny/worker processes, summed), and the 1-minute load average (``os.getloadavg``) is printed before
and after the run (the machine is shared).  ``--check`` also verifies, in-process, that tiled equals whole-image
processing on a crop.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SAMPLE = ROOT / ".." / "shared" / "data" / "pansharpening" / "geotiff_sample"


def build_scene(folder: Path, size: int, ratio: int = 4) -> tuple[Path, Path]:
    """Mirror-tile the sample pair to ``size`` x ``size`` (PAN) GeoTIFFs, written strip by strip.

    Reuses the files when they exist (a ``.done`` marker is written last).
    """
    import rasterio
    from rasterio.transform import Affine
    from rasterio.windows import Window

    size = (size // (4 * ratio)) * 4 * ratio
    pan_p, ms_p = folder / f"pan_{size}.tif", folder / f"ms_{size}.tif"
    done = folder / f".done_{size}"
    if done.exists() and pan_p.exists() and ms_p.exists():
        return pan_p, ms_p
    with rasterio.open(SAMPLE / "pan.tif") as ds:
        pan, pprof = ds.read(1), ds.profile
    with rasterio.open(SAMPLE / "ms.tif") as ds:
        ms, mprof = ds.read(), ds.profile
    assert pan.shape[0] == ratio * ms.shape[1]
    mprof = dict(mprof, transform=pprof["transform"] * Affine.scale(ratio))  # MS grid = PAN grid x r (no drift)
    for path, arr, prof, scale in ((pan_p, pan[None], pprof, 1), (ms_p, ms, mprof, ratio)):
        n = size // scale
        prof = dict(prof, width=n, height=n, tiled=True, blockxsize=256, blockysize=256, compress="deflate",
                    BIGTIFF="YES", interleave="pixel")
        h = arr.shape[1]
        step = 2 * h  # a 2x2 mirror block is seamless and periodic
        block = np.concatenate([arr, arr[:, ::-1]], axis=1)
        block = np.concatenate([block, block[:, :, ::-1]], axis=2)
        row = np.tile(block, (1, 1, int(np.ceil(n / step))))[:, :, :n]  # one period of rows, full width
        strip_rows = max(1, (1 << 25) // (n * arr.shape[0] * 2 * step)) * step  # ~32 MiB strips
        with rasterio.open(path, "w", **prof) as dst:
            dst.update_tags(NBITS=11)
            for b in range(1, arr.shape[0] + 1):
                dst.update_tags(b, NBITS=11)
            strip = np.tile(row, (1, strip_rows // step, 1))
            for r0 in range(0, n, strip_rows):
                rr = min(strip_rows, n - r0)
                dst.write(strip[:, :rr], window=Window(0, r0, n, rr))
    done.touch()
    return pan_p, ms_p


def run_cli(pan: Path, ms: Path, out: Path, method: str, sensor: str, tile: int, workers: int,
            extra: list[str]) -> tuple[float, float, str]:
    """Run the CLI; return (wall s, peak RSS MiB over the process tree, stderr)."""
    import psutil

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    cmd = [sys.executable, "-m", "pixfuse", "pansharpen", str(pan), str(ms), "-o", str(out), "-m", method,
           "--tile", str(tile), "--workers", str(workers), "-q", "--overwrite"] + extra
    from pixfuse.registry import get_method

    if sensor and "sensor" in get_method(method).params:
        cmd += ["--sensor", sensor]
    peak = [0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop = threading.Event()

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while not stop.is_set():
            tot = 0
            try:
                for p in [root] + root.children(recursive=True):
                    try:
                        tot += p.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            peak[0] = max(peak[0], tot)
            time.sleep(0.1)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    _, err = proc.communicate()
    dt = time.perf_counter() - t0
    stop.set()
    th.join()
    if proc.returncode != 0:
        raise SystemExit(f"pixfuse pansharpen failed ({proc.returncode}):\n{err}")
    return dt, peak[0] / 2**20, err


def check_crop(pan: Path, ms: Path, method: str, sensor: str, c: int = 1024) -> None:
    from pixfuse.io.geotiff import read_window
    from pixfuse.registry import get_method
    from pixfuse.tiling import _call_method, pansharpen_array_tiled

    params = {"sensor": sensor} if sensor and "sensor" in get_method(method).params else {}
    cp = read_window(pan, 0, c, 0, c).astype(np.float32)
    cm = read_window(ms, 0, c // 4, 0, c // 4).astype(np.float32)
    whole = _call_method(method, cp, cm, 4, params)
    tiled = pansharpen_array_tiled(cp, cm, method, tile=256, **params)
    d = float(np.abs(tiled - whole).max())
    print(f"exactness on a {c}x{c} crop, tile 256: max |tiled - whole| = {d:.2e} "
          f"({d / float(whole.max() - whole.min()):.1e} of the data range)\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=20000)
    ap.add_argument("--tile", type=int, default=2048)
    ap.add_argument("--method", default="mtf-glp-hpm")
    ap.add_argument("--sensor", default="generic")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--scene", default="/tmp/pixfuse_large", help="folder for the built scene and outputs")
    ap.add_argument("--keep", action="store_true", help="keep the outputs")
    ap.add_argument("--check", action="store_true", help="also check tiled == whole on a 1024^2 crop")
    a = ap.parse_args()
    folder = Path(a.scene)
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    pan, ms = build_scene(folder, a.size)
    import rasterio

    with rasterio.open(pan) as ds:
        n = ds.width
    print(f"scene {n}x{n} PAN + {n // 4}x{n // 4}x4 MS (uint16, NBITS=11) in {folder}, ready in "
          f"{time.perf_counter() - t0:.1f} s; method {a.method}, sensor {a.sensor}, tile {a.tile}, "
          f"cores {os.cpu_count()}\n")
    if a.check:
        check_crop(pan, ms, a.method, a.sensor)
    print("| PAN size | method | tile | workers | wall (s) | Mpix/s | peak RSS (MiB) | load avg before/after | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    base = None
    outs = []
    for w in [int(v) for v in a.workers.split(",")]:
        out = folder / f"out_{n}_{a.method}_{w}.tif"
        l0 = os.getloadavg()[0]
        dt, peak, _ = run_cli(pan, ms, out, a.method, a.sensor, a.tile, w, [])
        l1 = os.getloadavg()[0]
        base = base or dt
        outs.append(out)
        print(f"| {n} | {a.method} | {a.tile} | {w} | {dt:.1f} | {n * n / dt / 1e6:.2f} | {peak:.0f} | "
              f"{l0:.2f} / {l1:.2f} | {base / dt:.2f} |", flush=True)
    if len(outs) >= 2:
        from pixfuse.io.geotiff import read_window

        same = all(np.array_equal(read_window(outs[0], r, r + 1024, r, r + 1024),
                                  read_window(outs[-1], r, r + 1024, r, r + 1024)) for r in (0, n // 2 - 512))
        print(f"\n{len(outs)} runs give identical outputs (two 1024x1024 windows compared): {same}")
    if not a.keep:
        for o in outs:
            o.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
