"""Exposure and focus stacks: pixfuse vs enfuse vs OpenCV MergeMertens, in one run.

Set-up (Debian/Ubuntu)::

    apt-get update && apt-get install -y enfuse        # enfuse 4.2 (enblend-enfuse)
    pip install -e '.[bench]'                           # or the project venv

Run::

    PYTHONPATH=src python benchmarks/bench_stacks.py [--repeat 5] [--quick] [--part exposure] [--threads 1]

For every sequence of ../shared/data/multi_exposure (Kede Ma MEF database,
MEFB pairs) and ../shared/data/multi_focus (Lytro pairs and triples, MFFW,
classic grey pairs) it prints

* in-process times (min of ``--repeat`` runs, images already decoded, no file
  I/O): our Mertens with the ``opencv`` preset vs ``cv2.createMergeMertens``
  (same parameters; max |difference| of the outputs shown), our best methods;
* whole-command times: ``enfuse`` (default exposure fusion, or focus stacking
  with ``--exposure-weight=0 --saturation-weight=0 --contrast-weight=1
  --hard-mask``) vs ``python -m pixfuse fuse --task ... -o out.png`` (process
  start, imports, decoding, fusion, encoding - the fair pair);
* quality: MEF-SSIM (``mef_ms_ssim``, MEFB convention) for exposures,
  Q_AB/F and other no-reference metrics for focus stacks;
* ratios (ours / peer; < 1 means pixfuse is faster);
* the Spearman correlation of MEF-SSIM with the MOS of the Kede Ma database.
"""
from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

import pixfuse
from pixfuse.io import read_image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
MEF_METHODS = ["mertens", "gff-mef", "fmmr", "spd-mef", "fmspd-mef", "mespd", "dsift-ef", "demef"]
MFF_METHODS = ["gfdf", "focus-stack", "dct", "quadtree", "boundary", "dsift-mff", "gff-mff", "imf"]
MFF_METRICS = ["qabf", "nmi", "qy", "qcb", "sf", "ag"]


def _best_time(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _best_time_cpu(fn, repeat: int) -> tuple[float, float, object]:
    """(min wall time, min process CPU time - all threads, last output)."""
    best, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return best, cpu, out


def _cmd_time(cmd: list[str], repeat: int, env: dict | None = None) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, env=env, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
        best = min(best, time.perf_counter() - t)
    return best


def _cmd_wall_cpu(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall time and the child's CPU time (user + system, ``getrusage``) of one run of ``cmd``."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = _cmd_time(cmd, 1, env)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return t, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def _cmd_pair(cmd_a: list[str] | None, cmd_b: list[str], repeat: int, env_b: dict | None = None
              ) -> tuple[float, float, float, float]:
    """Two commands run alternately (a, b, a, b, ...), so both see the same machine load.

    Returns min wall a, min wall b, min CPU a, min CPU b; CPU = the child's user + system time
    (``getrusage``), which a loaded machine inflates far less than the wall time.  ``cmd_a=None``
    (no peer tool) times ``cmd_b`` alone; a's figures are then NaN.
    """
    ta = ca = float("inf") if cmd_a is not None else float("nan")
    tb = cb = float("inf")
    pairs = ((cmd_a, None, "a"), (cmd_b, env_b, "b")) if cmd_a is not None else ((cmd_b, env_b, "b"),)
    for _ in range(repeat):
        for cmd, env, k in pairs:
            t, c = _cmd_wall_cpu(cmd, env)
            if k == "a":
                ta, ca = min(ta, t), min(ca, c)
            else:
                tb, cb = min(tb, t), min(cb, c)
    return ta, tb, ca, cb


def _read(p: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_image(p)[0]


def _metrics(fused: np.ndarray, srcs: list[np.ndarray], names: list[str]) -> dict[str, float]:
    """Each metric on its own; metrics that only accept two sources give nan for 3-frame stacks."""
    out = {}
    for m in names:
        try:
            out[m] = pixfuse.evaluate(fused, srcs, [m])[m]
        except pixfuse.errors.PixfuseError:
            out[m] = float("nan")
    return out


def _read_enfuse(p: Path) -> np.ndarray:
    """enfuse's TIFF (LZW, with alpha) via OpenCV, as float RGB in [0, 1]."""
    a = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    scale = 65535.0 if a.dtype == np.uint16 else 255.0
    if a.ndim == 3:
        a = cv2.cvtColor(a[:, :, :3], cv2.COLOR_BGR2RGB)
    return a.astype(np.float32) / np.float32(scale)


def exposure_sequences() -> list[tuple[str, list[Path]]]:
    seqs = []
    for d in sorted((DATA / "multi_exposure" / "kede_ma_mef" / "source").iterdir()):
        seqs.append((d.name.split("_")[0], sorted(d.glob("*.png"))))
    pairs = DATA / "multi_exposure" / "mefb_pairs"
    for a in sorted(pairs.glob("*_A.jpg")):
        seqs.append((a.stem[:-2], [a, a.with_name(a.stem[:-2] + "_B.jpg")]))
    return seqs


def focus_sequences() -> list[tuple[str, list[Path]]]:
    root = DATA / "multi_focus"
    seqs = []
    for sub in ("lytro", "mffw", "classic_gray"):
        for a in sorted((root / sub).glob("*_A.jpg")):
            seqs.append((a.stem[:-2], [a, a.with_name(a.stem[:-2] + "_B.jpg")]))
    for a in sorted((root / "lytro_triple").glob("*-A.jpg")):
        base = a.stem[:-2]
        seqs.append((base + " (3)", sorted((root / "lytro_triple").glob(base + "-*.jpg"))))
    return seqs


def mos_spearman() -> tuple[dict[str, float], float]:
    from scipy.stats import spearmanr

    kede = DATA / "multi_exposure" / "kede_ma_mef"
    rows = list(csv.DictReader(open(kede / "mos.csv")))
    per, allm, allq = {}, [], []
    for d in sorted((kede / "source").iterdir()):
        scene = d.name.split("_")[0]
        srcs = [_read(p) for p in sorted(d.glob("*.png"))]
        mos, q = [], []
        for r in rows:
            if r["scene"] == scene:
                mos.append(float(r["MOS_1to10"]))
                q.append(pixfuse.evaluate(_read(kede / "fused" / r["fused_file"]), srcs, ["mef_ms_ssim"])["mef_ms_ssim"])
        per[scene] = float(spearmanr(mos, q)[0])
        allm += mos
        allq += q
    return per, float(spearmanr(allm, allq)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="timing repetitions (min is reported)")
    ap.add_argument("--quick", action="store_true", help="skip the slow methods and the MOS correlation")
    ap.add_argument("--part", choices=("all", "exposure", "focus"), default="all", help="which half to run")
    ap.add_argument("--threads", type=int, default=0,
                    help="cv2.setNumThreads(N) for the in-process runs (OpenCV's MergeMertens and ours alike; "
                         "pixfuse's Mertens runs its frame chunks in the caller when N=1); 0 = OpenCV's default")
    args = ap.parse_args()
    if args.threads:
        cv2.setNumThreads(args.threads)
    enfuse = shutil.which("enfuse")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # an installed package has its .pyc files; without them every `python -m pixfuse` recompiles ~70 modules
    # (0.3 s).  The first (untimed-minimum) run writes them, as a user's first run would.
    bytecode_note = " (PYTHONDONTWRITEBYTECODE dropped for the pixfuse commands)" \
        if env.pop("PYTHONDONTWRITEBYTECODE", None) else ""
    py = sys.executable
    print(f"pixfuse {pixfuse.__version__}, OpenCV {cv2.__version__}, cv2 threads {cv2.getNumThreads()}, "
          f"CPUs {os.cpu_count()}, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}, "
          f"enfuse: {enfuse or 'NOT INSTALLED (apt-get install -y enfuse)'}{bytecode_note}")
    tmp = Path(tempfile.mkdtemp(prefix="bench_stacks_"))
    mef_methods = [m for m in MEF_METHODS if not (args.quick and m in ("dsift-ef", "spd-mef"))]
    if args.part != "focus":
        run_exposure(args, enfuse, env, py, tmp, mef_methods)
    if args.part != "exposure":
        run_focus(args, enfuse, env, py, tmp)
    if not args.quick and args.part != "focus":
        per, pooled = mos_spearman()
        print("\n## MEF-SSIM vs MOS (Kede Ma database, 8 fused images per scene)\n")
        print("| scene | Spearman |")
        print("|---|---|")
        for k, v in per.items():
            print(f"| {k} | {v:.3f} |")
        print(f"| mean of scenes | {np.mean(list(per.values())):.3f} |")
        print(f"| pooled (40 images) | {pooled:.3f} |")
    shutil.rmtree(tmp, ignore_errors=True)


def run_exposure(args, enfuse, env, py, tmp, mef_methods) -> None:
    # ------------------------------------------------------------------ exposures
    print("\n## Multi-exposure: in-process speed, Mertens vs OpenCV (equal parameters: contrast 1, saturation 1, "
          "exposure 0)\n")
    print("| sequence | frames | size | OpenCV s | ours s | ratio | OpenCV CPU s | ours CPU s | CPU ratio "
          "| max abs diff |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    mef_rows = []
    ratios, cpu_ratios = [], []
    for name, paths in exposure_sequences():
        imgs = [_read(p) for p in paths]
        u8 = [np.clip(np.rint(im * 255), 0, 255).astype(np.uint8) for im in imgs]
        mm = cv2.createMergeMertens()
        # interleaved repetitions, so both see the same machine load
        t_cv = c_cv = t_me = c_me = float("inf")
        for _ in range(args.repeat):
            t, c, cv_out = _best_time_cpu(lambda: mm.process(u8), 1)
            t_cv, c_cv = min(t_cv, t), min(c_cv, c)
            t, c, me_out = _best_time_cpu(lambda: pixfuse.fuse(imgs, "mertens", preset="opencv"), 1)
            t_me, c_me = min(t_me, t), min(c_me, c)
        diff = float(np.abs(np.clip(cv_out, 0, 1) - me_out).max())
        ratios.append(t_me / t_cv)
        cpu_ratios.append(c_me / c_cv)
        h, w = imgs[0].shape[:2]
        print(f"| {name} | {len(imgs)} | {w}x{h} | {t_cv:.4f} | {t_me:.4f} | {t_me / t_cv:.2f} | {c_cv:.4f} | "
              f"{c_me:.4f} | {c_me / c_cv:.2f} | {diff:.1e} |")
        mef_rows.append((name, paths, imgs, np.clip(cv_out, 0, 1)))
    print(f"\nMertens ratio (ours/OpenCV), geometric mean: wall {np.exp(np.mean(np.log(ratios))):.2f} "
          f"({min(ratios):.2f}-{max(ratios):.2f}), CPU {np.exp(np.mean(np.log(cpu_ratios))):.2f} "
          f"({min(cpu_ratios):.2f}-{max(cpu_ratios):.2f}); load average {os.getloadavg()[0]:.1f}")

    print("\n## Multi-exposure: MEF-SSIM (mef_ms_ssim, MEFB convention) and in-process time\n")
    head = ["sequence", "enfuse", "OpenCV"] + mef_methods + ["best ours - max(enfuse, OpenCV)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    cmd_rows = []
    enf_preset_psnr = []
    for name, paths, imgs, cv_out in mef_rows:
        q = {}
        if enfuse:
            out = tmp / f"enf_{name}.tif"
            t_enf = _cmd_time([enfuse, "-o", str(out)] + [str(p) for p in paths], 1)
            enf = _read_enfuse(out)
            q["enfuse"] = pixfuse.evaluate(enf, imgs, ["mef_ms_ssim"])["mef_ms_ssim"]
            ours_enf = pixfuse.fuse(imgs, "mertens", preset="enfuse")
            mse = float(np.mean((ours_enf - enf) ** 2))
            enf_preset_psnr.append((name, 10 * np.log10(1 / mse) if mse > 0 else float("inf")))
        else:
            t_enf = float("nan")
            q["enfuse"] = float("nan")
        q["OpenCV"] = pixfuse.evaluate(cv_out, imgs, ["mef_ms_ssim"])["mef_ms_ssim"]
        cells = [name, f"{q['enfuse']:.4f}", f"{q['OpenCV']:.4f}"]
        best = -1.0
        for m in mef_methods:
            t, out = _best_time(lambda: pixfuse.fuse(imgs, m), 1 if m in ("dsift-ef", "spd-mef", "gff-mef") else 2)
            v = pixfuse.evaluate(out, imgs, ["mef_ms_ssim"])["mef_ms_ssim"]
            best = max(best, v)
            cells.append(f"{v:.4f} ({t:.2f}s)")
        cells.append(f"{best - np.nanmax([q['enfuse'], q['OpenCV']]):+.4f}")
        print("| " + " | ".join(cells) + " |")
        # whole commands
        out = tmp / f"pf_{name}.png"
        pf_cmd = [py, "-m", "pixfuse", "fuse", "--task", "multi_exposure", "--overwrite", "-o", str(out)] \
            + [str(p) for p in paths]
        if enfuse:
            t_enf_all, t_pf, c_enf, c_pf = _cmd_pair([enfuse, "-o", str(tmp / "e.tif")] + [str(p) for p in paths],
                                                     pf_cmd, args.repeat, env)
        else:
            _, t_pf, _, c_pf = _cmd_pair(None, pf_cmd, args.repeat, env)
            t_enf_all = c_enf = float("nan")
        cmd_rows.append((name, t_enf_all, t_pf, c_enf, c_pf))
    default = pixfuse.api.DEFAULT_METHODS["multi_exposure"]
    print(f"\n## Multi-exposure whole commands: `enfuse -o out.tif FRAMES` vs "
          f"`python -m pixfuse fuse --task multi_exposure FRAMES -o out.png` (default method {default})\n")
    print("| sequence | enfuse s | pixfuse s | ratio | enfuse CPU s | pixfuse CPU s | CPU ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, te, tp, ce, cp in cmd_rows:
        print(f"| {name} | {te:.3f} | {tp:.3f} | {tp / te:.2f} | {ce:.3f} | {cp:.3f} | {cp / ce:.2f} |")
    print(f"(load average {os.getloadavg()[0]:.1f})")
    if enf_preset_psnr:
        print("\nPSNR (dB) between `mertens -p preset=enfuse` and enfuse's own output: "
              + ", ".join(f"{n} {v:.1f}" for n, v in enf_preset_psnr))



def run_focus(args, enfuse, env, py, tmp) -> None:
    mff_methods = [m for m in MFF_METHODS if not (args.quick and m in ("dsift-mff", "gff-mff"))]
    metrics = [m for m in MFF_METRICS if m in {x["name"] for x in pixfuse.list_metrics()}]
    missing = [m for m in MFF_METRICS if m not in metrics]
    print("\n## Multi-focus: Q_AB/F and in-process time (enfuse: whole command, hard mask)\n")
    if missing:
        print(f"(metrics not available in this tree: {', '.join(missing)})\n")
    head = ["set", "frames", "enfuse Q_AB/F (s)"] + [f"{m} Q_AB/F (s)" for m in mff_methods]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    detail = []
    focus_cmd = []
    for name, paths in focus_sequences():
        imgs = [_read(p) for p in paths]
        cells = [name, str(len(imgs))]
        res = {}
        if enfuse:
            out = tmp / f"enf_mf_{name.replace(' ', '_')}.tif"
            eargs = [enfuse, "--exposure-weight=0", "--saturation-weight=0", "--contrast-weight=1", "--hard-mask",
                     "-o", str(out)] + [str(p) for p in paths]
            te = _cmd_time(eargs, 1)
            enf = _read_enfuse(out)
            if enf.ndim == 3 and imgs[0].ndim == 2:
                enf = enf.mean(axis=2)
            res["enfuse"] = _metrics(enf, imgs, metrics)
            cells.append(f"{res['enfuse']['qabf']:.4f} ({te:.2f})")
        else:
            te = float("nan")
            cells.append("n/a")
        for m in mff_methods:
            t, out = _best_time(lambda: pixfuse.fuse(imgs, m), 1 if m in ("dsift-mff", "gff-mff") else args.repeat)
            res[m] = _metrics(out, imgs, metrics)
            cells.append(f"{res[m]['qabf']:.4f} ({t:.3f})")
        print("| " + " | ".join(cells) + " |")
        detail.append((name, res))
        outp = tmp / f"pf_mf_{name.replace(' ', '_')}.png"
        pf_cmd = [py, "-m", "pixfuse", "fuse", "--task", "multi_focus", "--overwrite", "-o", str(outp),
                  "--depth-map", str(tmp / "depth.png")] + [str(p) for p in paths]
        if enfuse:
            te, tp, ce, cp = _cmd_pair(eargs, pf_cmd, args.repeat, env)     # the whole-command pair, interleaved
        else:
            ce = float("nan")
            _, tp, _, cp = _cmd_pair(None, pf_cmd, args.repeat, env)
        focus_cmd.append((name, te, tp, ce, cp, res.get("enfuse", {}).get("qabf", float("nan")),
                          res[pixfuse.api.DEFAULT_METHODS["multi_focus"]]["qabf"]))
    dflt = pixfuse.api.DEFAULT_METHODS["multi_focus"]
    print(f"\n## Multi-focus whole commands: enfuse (hard mask) vs `python -m pixfuse fuse --task multi_focus "
          f"FRAMES -o out.png --depth-map d.png` (default method {dflt})\n")
    print("| set | enfuse s | pixfuse s | time ratio | enfuse CPU s | pixfuse CPU s | CPU ratio "
          "| enfuse Q_AB/F | pixfuse Q_AB/F |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, te, tp, ce, cp, qe, qp in focus_cmd:
        print(f"| {name} | {te:.3f} | {tp:.3f} | {tp / te:.2f} | {ce:.3f} | {cp:.3f} | {cp / ce:.2f} | {qe:.4f} "
              f"| {qp:.4f} |")
    print(f"(load average {os.getloadavg()[0]:.1f})")
    print(f"\n## Multi-focus: other no-reference metrics ({', '.join(metrics)}), enfuse vs {dflt}\n")
    print("| set | " + " | ".join(f"{m} enfuse / ours" for m in metrics) + " |")
    print("|---|" + "---|" * len(metrics))
    for name, res in detail:
        if "enfuse" in res:
            print(f"| {name} | " + " | ".join(f"{res['enfuse'][m]:.4f} / {res[dflt][m]:.4f}" for m in metrics) + " |")


if __name__ == "__main__":
    main()
