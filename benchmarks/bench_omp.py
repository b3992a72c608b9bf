"""Before / after of the batched OMP behind the MST-SR methods (lp-sr, rp-sr, dwt-sr, nsst-sr).

The "before" OMP is ``src/pixfuse/ops/sparse.py`` of a git revision (``--before``,
default 1cf554d, the last commit with the previous implementation), loaded as a
module next to the working tree's and swapped into ``pixfuse.methods.sparse``;
everything else (transforms, fusion rules) is the same code.  Two modes:

``--mode time`` (default): per repetition, each case runs with the before and the
after OMP alternately (interleaved, same process), after one untimed warm-up of
each; prints the median process CPU time (all threads) and wall time.  Cases:
nsst-sr, lp-sr, dwt-sr on MSRS 00537D (640x480, IR grey + VIS colour) and nsst-sr
on the Harvard PET-MRI pair 25020 (256x256).

``--mode exact``: on 2 IVIF (MSRS 00537D, 00858N) and 2 medical pairs (Harvard
PET-MRI 25020, SPECT-MRI 10007) it captures the patch sets that nsst-sr and lp-sr
code, runs both OMPs on them single-threaded, and prints the fraction of signals
whose support (set of atoms) differs, the fraction whose atom sequence differs,
the largest first-divergence gap (float64 correlations of the two competing atoms
with the common-prefix least-squares residual, in float32 ulps of the signal norm:
below ~1 means a tie to float32 rounding), the max abs difference of the
approximations, and the max abs difference of the fused images.

Usage::

    PYTHONPATH=src python benchmarks/bench_omp.py [--mode time|exact] [--repeat 3] [--before 1cf554d]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import pixfuse  # noqa: E402
import pixfuse.methods.sparse as msparse  # noqa: E402
import pixfuse.ops.sparse as after  # noqa: E402
from pixfuse.io import read_image  # noqa: E402
from pixfuse.ops.color import rgb_to_gray  # noqa: E402

DATA = ROOT / ".." / "shared" / "data"
EPS32 = float(np.finfo(np.float32).eps)


def load_before(rev: str):
    src = subprocess.run(["git", "show", f"{rev}:src/pixfuse/ops/sparse.py"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "sparse_before.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("pixfuse.ops._sparse_before", path)
    mod = importlib.util.module_from_spec(spec)
    mod.__package__ = "pixfuse.ops"
    spec.loader.exec_module(mod)
    return mod


def ivif(name: str):
    ir, _ = read_image(DATA / "ivif" / "msrs" / "ir" / name)
    vi, _ = read_image(DATA / "ivif" / "msrs" / "vi" / name)
    return [ir, vi]


def medical(kind: str, other: str, name: str):
    mri, _ = read_image(DATA / "medical" / "harvard" / kind / "MRI" / name)
    o, _ = read_image(DATA / "medical" / "harvard" / kind / other / name)
    return [rgb_to_gray(mri) if mri.ndim == 3 else mri, o]


def run_time(before, repeat: int) -> None:
    msrs = ivif("00537D.png")
    pet = medical("PET-MRI", "PET", "25020.png")
    cases = [("nsst-sr", "MSRS 00537D 640x480", msrs), ("lp-sr", "MSRS 00537D 640x480", msrs),
             ("dwt-sr", "MSRS 00537D 640x480", msrs), ("nsst-sr", "Harvard PET-MRI 25020 256x256", pet)]
    impls = [("before", before.omp), ("after", after.omp)]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; median of {repeat}, "
          f"before/after interleaved per repetition")
    res: dict = {}
    for method, label, ims in cases:
        for tag, fn in impls:  # warm-up (frame windows, dictionary)
            msparse.omp = fn
            pixfuse.fuse(ims, method)
        for _ in range(repeat):
            for tag, fn in impls:
                msparse.omp = fn
                t0, c0 = time.perf_counter(), time.process_time()
                pixfuse.fuse(ims, method)
                res.setdefault((method, label, tag), []).append(
                    (time.process_time() - c0, time.perf_counter() - t0))
        print(f"  done {method} {label}: load average {os.getloadavg()[0]:.1f}", flush=True)
    msparse.omp = after.omp
    print("| method | image | before CPU s (wall s) | after CPU s (wall s) | CPU ratio |")
    print("|---|---|---:|---:|---:|")
    for method, label, _ in cases:
        b = res[(method, label, "before")]
        a = res[(method, label, "after")]
        bc, bw = statistics.median(c for c, _ in b), statistics.median(w for _, w in b)
        ac, aw = statistics.median(c for c, _ in a), statistics.median(w for _, w in a)
        print(f"| {method} | {label} | {bc:.2f} ({bw:.2f}) | {ac:.2f} ({aw:.2f}) | {bc / ac:.1f}x |")


def sequences_before(before, d, xt, tol):
    out_a, out_s, out_g = [], [], []
    for s in range(0, xt.shape[0], 4096):
        a, g, sel = before._omp_chunk(d, xt[s : s + 4096], tol, 64)
        out_a.append(a)
        out_s.append(sel)
        out_g.append(g)
    return np.concatenate(out_a), np.concatenate(out_s), np.concatenate(out_g)


def sequences_after(d, xt, tol):
    work = after._Work(after._CHUNK, 64, 64, d.shape[1])
    dt = np.ascontiguousarray(d.T)
    out_a, out_s, out_g = [], [], []
    for s in range(0, xt.shape[0], after._CHUNK):
        a, g, sel = after._omp_chunk(work, d, dt, np.ascontiguousarray(xt[s : s + after._CHUNK]), tol**2, 64)
        out_a.append(a)
        out_s.append(sel.copy())
        out_g.append(g)
    return np.concatenate(out_a), np.concatenate(out_s), np.concatenate(out_g)


def divergence_gaps(d, xt, sa, ca, sb, cb, idx):
    """Float64 first-divergence gap (ulps of ||x|| in float32) for the signals ``idx``."""
    d64 = d.astype(np.float64)
    worst, stops = 0.0, 0
    for i in idx:
        a, b = list(sa[i, : ca[i]]), list(sb[i, : cb[i]])
        p = next((t for t in range(min(len(a), len(b))) if a[t] != b[t]), None)
        if p is None:
            stops += 1
            continue
        x = xt[i].astype(np.float64)
        pre = a[:p]
        r = x - d64[:, pre] @ np.linalg.lstsq(d64[:, pre], x, rcond=None)[0] if pre else x
        c = np.abs(d64.T @ r)
        worst = max(worst, abs(c[a[p]] - c[b[p]]) / (EPS32 * np.linalg.norm(x)))
    return worst, stops


def run_exact(before) -> None:
    pairs = [("MSRS 00537D", ivif("00537D.png")), ("MSRS 00858N", ivif("00858N.png")),
             ("PET-MRI 25020", medical("PET-MRI", "PET", "25020.png")),
             ("SPECT-MRI 10007", medical("SPECT-MRI", "SPECT", "10007.png"))]
    d = after.load_sr_dictionary()
    print("| pair | method | signals | support differs | sequence differs | max gap (f32 ulps of |x|) "
          "| stop-test splits | max abs approx diff | fused: max abs diff | mean abs diff | pixels > 0.5/255 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, ims in pairs:
        for method in ("lp-sr", "nsst-sr"):
            captured = []
            real = after.omp

            def spy(dd, x, **kw):
                captured.append((np.array(x, np.float32), kw["tol"]))
                return real(dd, x, **kw)

            msparse.omp = spy
            fa = pixfuse.fuse(ims, method)
            msparse.omp = before.omp
            fb = pixfuse.fuse(ims, method)
            msparse.omp = after.omp
            x, tol = captured[0]
            xt = np.ascontiguousarray(x.T)
            ab, sb, gb = sequences_before(before, d, xt, tol)
            aa, sa, ga = sequences_after(d, xt, tol)
            cb, ca = (gb != 0).sum(1), (ga != 0).sum(1)
            supb = np.zeros((xt.shape[0], d.shape[1]), bool)
            supa = np.zeros_like(supb)
            rows = np.arange(xt.shape[0])[:, None]
            supb[np.broadcast_to(rows, sb.shape)[gb != 0], sb[gb != 0]] = True
            supa[np.broadcast_to(rows, sa.shape)[ga != 0], sa[ga != 0]] = True
            sup_diff = (supb != supa).any(1)
            seq_diff = np.array([ca[i] != cb[i] or not np.array_equal(sa[i, : ca[i]], sb[i, : cb[i]])
                                 for i in range(xt.shape[0])])
            gap, stops = divergence_gaps(d, xt, sb, cb, sa, ca, np.flatnonzero(seq_diff))
            n = xt.shape[0]
            fd = np.abs(np.asarray(fa, np.float64) - fb)
            print(f"| {label} | {method} | {n} | {sup_diff.sum()} ({sup_diff.mean():.3%}) | "
                  f"{seq_diff.sum()} ({seq_diff.mean():.3%}) | {gap:.2f} | {stops} | "
                  f"{np.abs(aa - ab).max():.2e} | {fd.max():.2e} | {fd.mean():.2e} | {np.mean(fd > 0.5 / 255):.3%} |",
                  flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("time", "exact"), default="time")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--before", default="1cf554d", help="git revision of the previous OMP")
    a = ap.parse_args()
    before = load_before(a.before)
    if a.mode == "time":
        run_time(before, a.repeat)
    else:
        run_exact(before)


if __name__ == "__main__":
    main()
