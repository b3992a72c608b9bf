"""Q_AB/F (multi-focus) / MEF-SSIM (multi-exposure) and time of single stack methods on the shared data.

Run::

    PYTHONPATH=src python benchmarks/paper_methods_stacks.py --focus dsift-mff quadtree --exposure demef

Prints, per Lytro / MFFW / classic-grey pair, Q_AB/F of each named multi-focus method and its in-process
time (min of ``--repeat``), and per Kede Ma sequence / MEFB pair the MEF-SSIM (``mef_ms_ssim``, MEFB
convention) of each named multi-exposure method.  Used for the before/after figures of docs/stacks.md
(run once on the old tree, once on the new one).  ``-p name=value`` passes a parameter to every method.
"""
from __future__ import annotations

import argparse
import ast
from pathlib import Path

import numpy as np

import pixfuse

# the same decoding and best-of timing as the peer benchmark (a sibling script: benchmarks/ is on sys.path)
from bench_stacks import _best_time as _timed, _read  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _cells(srcs: list[np.ndarray], metric: str, tot: dict[str, list[float]], params: dict,
           repeat: int) -> list[str]:
    """Fuse ``srcs`` with every method of ``tot``: "metric (seconds)" cells; the scores appended to ``tot``."""
    cells = []
    for m in tot:
        t, f = _timed(lambda: pixfuse.fuse(srcs, m, **params), repeat)
        q = pixfuse.evaluate(f, srcs, [metric])[metric]
        tot[m].append(q)
        cells.append(f"{q:.4f} ({t:.2f})")
    return cells


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--focus", nargs="*", default=[])
    ap.add_argument("--exposure", nargs="*", default=[])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--sets", nargs="*", default=["lytro", "mffw", "classic_gray"])
    ap.add_argument("-p", action="append", default=[], help="name=value for every method")
    args = ap.parse_args()
    params = {}
    for kv in args.p:
        k, v = kv.split("=", 1)
        try:
            params[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            params[k] = v
    if args.focus:
        print("| pair | " + " | ".join(f"{m} Q_AB/F (s)" for m in args.focus) + " |")
        print("|---|" + "---|" * len(args.focus))
        tot = {m: [] for m in args.focus}
        for sub in args.sets:
            for a in sorted((DATA / "multi_focus" / sub).glob("*_A.jpg")):
                srcs = [_read(a), _read(a.with_name(a.stem[:-2] + "_B.jpg"))]
                cells = _cells(srcs, "qabf", tot, params, args.repeat)
                print(f"| {a.stem[:-2]} {srcs[0].shape[1]}x{srcs[0].shape[0]} | " + " | ".join(cells) + " |")
        print("| mean | " + " | ".join(f"{np.mean(v):.4f}" for v in tot.values()) + " |")
    if args.exposure:
        print("\n| sequence | " + " | ".join(f"{m} MEF-SSIM (s)" for m in args.exposure) + " |")
        print("|---|" + "---|" * len(args.exposure))
        tot = {m: [] for m in args.exposure}
        seqs = [(d.name.split("_")[0], sorted(d.glob("*.png")))
                for d in sorted((DATA / "multi_exposure" / "kede_ma_mef" / "source").iterdir())]
        for a in sorted((DATA / "multi_exposure" / "mefb_pairs").glob("*_A.jpg")):
            seqs.append((a.stem[:-2], [a, a.with_name(a.stem[:-2] + "_B.jpg")]))
        for name, paths in seqs:
            srcs = [_read(p) for p in paths]
            cells = _cells(srcs, "mef_ms_ssim", tot, params, args.repeat)
            print(f"| {name} ({len(srcs)}) | " + " | ".join(cells) + " |")
        print("| mean | " + " | ".join(f"{np.mean(v):.4f}" for v in tot.values()) + " |")


if __name__ == "__main__":
    main()
