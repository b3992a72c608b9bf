"""Pansharpening benchmark: pixfuse vs GDAL (weighted Brovey) and OTB (rcs, lmvm, bayes), plus the
reduced-resolution (Wald protocol) Q2n / SAM / ERGAS table of every pixfuse method.

Set-up (Debian/Ubuntu, once):

    apt-get update && apt-get install -y gdal-bin python3-gdal otb-bin

The peers run as the command-line tools (``gdal_pansharpen.py``, ``otbcli_Pansharpening``) in a
subprocess, so their times include process start-up; the script also times ``gdal_pansharpen.py
--help`` and reports GDAL's time net of it.  Our times are in-process.  Scenes: the GeoEye-1, IKONOS
and WorldView-2 .mat files of ../shared/data/pansharpening (1280x1280 PAN, ratio 4).

Run:  PYTHONPATH=src python benchmarks/bench_pansharpen.py [--scenes GE1,IK,WV2] [--skip-methods]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import pixfuse  # noqa: E402
from pixfuse.io.mat import load_pansharpening_mat  # noqa: E402
from pixfuse.metrics import spectral as sp  # noqa: E402
from pixfuse.methods.pansharpening import upsample_ms  # noqa: E402
from pixfuse.ops.wald import reduce_resolution  # noqa: E402

DATA = (ROOT / ".." / "shared" / "data" / "pansharpening" / "grip_unina_pnn").resolve()
SCENES = {"GE1": "imgGE1.mat", "IK": "imgIK.mat", "WV2": "imgWV2.mat"}
CUT = 21


def write_tif(path: Path, arr: np.ndarray, pixel: float) -> None:
    """GeoTIFF with a simple north-up transform (pixel size ``pixel``, same origin for PAN and MS)."""
    import rasterio
    from rasterio.transform import from_origin

    a = arr if arr.ndim == 3 else arr[:, :, None]
    with rasterio.open(path, "w", driver="GTiff", width=a.shape[1], height=a.shape[0], count=a.shape[2],
                       dtype=a.dtype, crs="EPSG:32633", transform=from_origin(500000, 4000000, pixel, pixel)) as d:
        d.write(np.moveaxis(a, 2, 0))


def read_tif(path: Path) -> np.ndarray:
    import rasterio

    with rasterio.open(path) as d:
        return np.moveaxis(d.read(), 0, 2)


def run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr[-500:]}")
    return dt


def best_of(fn, n=3) -> float:
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def scores(ref: np.ndarray, f: np.ndarray) -> tuple[float, float, float]:
    s = sp.reference_scores(ref, f, ratio=4, cut=CUT, indices=("Q2n", "SAM", "ERGAS"))
    return s["Q2n"], s["SAM"], s["ERGAS"]


def table(rows: list[list], head: list[str]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        out.append("| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in r) + " |")
    return "\n".join(out)


def gdal_vs_brovey(sc, tmp: Path, gdal_overhead: float) -> list:
    """Full-resolution original integer data: GDAL weighted Brovey (-r nearest) vs ours rounded."""
    nb = sc.ms.shape[2]
    w = np.linspace(1.0, 2.0, nb)
    w = w / w.sum()
    pan_p, ms_p, out_p = tmp / "pan.tif", tmp / "ms.tif", tmp / "gdal_brovey.tif"
    write_tif(pan_p, sc.pan, 1.0)
    write_tif(ms_p, sc.ms, float(sc.ratio))
    cmd = ["gdal_pansharpen.py", str(pan_p), str(ms_p), str(out_p), "-r", "nearest", "-of", "GTiff", "-q"]
    for x in w:
        cmd += ["-w", repr(float(x))]
    t_gdal = min(run(cmd) for _ in range(3))
    g = read_tif(out_p).astype(np.float64)
    wts = ",".join(repr(float(x)) for x in w)

    def ours():
        return pixfuse.fuse([sc.pan, sc.ms], "brovey-gdal", weights=wts, upsampling="nearest")

    t_ours = best_of(ours)
    f = ours()
    maxv = np.iinfo(sc.pan.dtype).max
    fr = np.clip(np.floor(f + 0.5), 0, maxv)
    diff = np.abs(fr - g)
    return [sc.name, f"{sc.pan.dtype}", int((diff > 0).sum()), float(diff.max()), t_gdal, max(t_gdal - gdal_overhead, 1e-6),
            t_ours, t_ours / max(t_gdal - gdal_overhead, 1e-6)]


def otb_rows(red, tmp: Path) -> list[list]:
    rows = []
    ms_up = upsample_ms(red.ms, red.ratio).astype(np.float32)
    pan_p, xs_p = tmp / "pan_rr.tif", tmp / "xs_rr.tif"
    write_tif(pan_p, red.pan.astype(np.float32), 1.0)
    write_tif(xs_p, ms_up, 1.0)
    for m in ("rcs", "lmvm", "bayes"):
        out = tmp / f"otb_{m}.tif"
        cmd = ["otbcli_Pansharpening", "-inp", str(pan_p), "-inxs", str(xs_p), "-out", str(out), "float",
               "-method", m]
        t = min(run(cmd) for _ in range(2))
        f = read_tif(out).astype(np.float64)
        rows.append([f"OTB {m}", t, *scores(red.reference, f)])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", default="GE1,IK,WV2")
    ap.add_argument("--skip-methods", action="store_true", help="only the peer comparison")
    args = ap.parse_args()
    have_gdal = shutil.which("gdal_pansharpen.py") is not None
    have_otb = shutil.which("otbcli_Pansharpening") is not None
    print(f"pixfuse {pixfuse.__version__ if hasattr(pixfuse, '__version__') else ''}; numpy {np.__version__}")
    if have_gdal:
        v = subprocess.run(["gdalinfo", "--version"], capture_output=True, text=True).stdout.strip()
        print(f"GDAL: {v}")
        gdal_overhead = min(_help_time() for _ in range(3))
        print(f"gdal_pansharpen.py start-up (python + osgeo import, --help): {gdal_overhead:.3f} s")
    else:
        gdal_overhead = 0.0
        print("GDAL not found: install with apt-get install -y gdal-bin python3-gdal")
    if have_otb:
        print("OTB: otbcli_Pansharpening found")
    else:
        print("OTB not found: install with apt-get install -y otb-bin")
    methods = sorted(m["name"] for m in pixfuse.list_methods("pansharpening"))
    sensor_methods = {m["name"] for m in pixfuse.list_methods("pansharpening") if "sensor" in m["params"]}
    gdal_rows, all_rows = [], {}
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        for key in args.scenes.split(","):
            sc = load_pansharpening_mat(DATA / SCENES[key])
            sc.name = key
            red = reduce_resolution(sc.pan, sc.ms, sc.sensor, sc.ratio)
            rows = [["EXP (interp23tap)", 0.0, *scores(red.reference, upsample_ms(red.ms, 4))]]
            if not args.skip_methods:
                for m in methods:
                    kw = {"sensor": sc.sensor} if m in sensor_methods else {}
                    t0 = time.perf_counter()
                    f = pixfuse.fuse([red.pan, red.ms], m, **kw)
                    rows.append([m, time.perf_counter() - t0, *scores(red.reference, f)])
            if have_otb:
                try:
                    rows += otb_rows(red, tmp)
                except RuntimeError as exc:
                    print(f"OTB failed on {key}: {exc}")
            all_rows[key] = rows
            if have_gdal:
                gdal_rows.append(gdal_vs_brovey(sc, tmp, gdal_overhead))
            print(f"\n## {key} ({sc.sensor}, L={sc.bit_depth}) reduced resolution (Wald), cut {CUT}: "
                  f"PAN {red.pan.shape[0]}x{red.pan.shape[1]} -> fused vs original MS")
            print(table(rows, ["method", "time_s", "Q2n", "SAM_deg", "ERGAS"]))
    if gdal_rows:
        print("\n## GDAL weighted Brovey (gdal_pansharpen.py -r nearest, same weights) vs pixfuse brovey-gdal, "
              "full-resolution original integer data")
        print(table(gdal_rows, ["scene", "dtype", "pixels_differing", "max_abs_diff", "gdal_s (process)",
                                "gdal_s (net of start-up)", "pixfuse_s", "ratio pixfuse/gdal_net"]))


def _help_time() -> float:
    """Wall time of ``gdal_pansharpen.py --help``: interpreter start + osgeo import (exit code ignored)."""
    t0 = time.perf_counter()
    subprocess.run(["gdal_pansharpen.py", "--help"], capture_output=True, text=True)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
