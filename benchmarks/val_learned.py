"""Model selection for the learned methods on a validation split carved from the TRAINING folder only.

Usage (from the repository root):

    PYTHONPATH=src python benchmarks/val_learned.py [--workers N] [--cache FILE] NAME=MODEL.npz [NAME=MODEL.npz ...]

The test pairs of ``bench_learned.py`` (TNO, MSRS, LLVIP, M3FD, RoadScene) are never read here.  Two sets:

* ``val``: the 22 pairs of ``../shared/data/ivif/train_roadscene`` that the training split holds out
  (``split_pairs(..., 10)``: every 10th pair by name; no shipped IVIF model trains on them).
* ``val-shift``: the same 22 pairs after a fixed, seeded photometric shift per pair that imitates
  night / thermal-camera conditions unlike RoadScene's daylight: the visible source darkened
  (gain 0.2-0.7, gamma 1-2), the infrared source re-exposed (gain 0.35-1, gamma 0.6-1.8), Gaussian noise of
  0.5-3 grey levels added to the visible source, both rounded to 8 bits (``shift_pair``).

Every candidate (a ``.npz`` from ``pixfuse train`` — run as ``pixnet`` with ``weights=PATH`` — or from
``pixfuse distill`` — run as ``pixlut``) is ranked, alone, against the classical IVIF methods (the
pool of ``bench_learned.py``, same four slow methods left out), metric by metric on the set means, as
``bench_learned.py`` ranks (EN, SD, SF, AG, MI, SCD, VIF, Q_AB/F, SSIM).  The classical means are cached in
``--cache`` (they do not change between candidates).
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_learned as bl  # noqa: E402
from pixfuse.learned.data import find_pairs, load_pair, split_pairs  # noqa: E402
from pixfuse.registry import get_metric, method_specs  # noqa: E402

SKIP = {"nsst-papcnn", "latlrr", "mdlatlrr", "nsst-sr"}


def shift_pair(a: np.ndarray, b: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded night-like photometric shift of pair ``i`` (infrared ``a``, visible ``b``), 8-bit rounded."""
    rng = np.random.default_rng([2026, i])
    gv, pv = rng.uniform(0.2, 0.7), rng.uniform(1.0, 2.0)
    gi, pi = rng.uniform(0.35, 1.0), np.exp(rng.uniform(np.log(0.6), np.log(1.8)))
    sig = rng.uniform(0.5, 3.0) / 255
    b2 = gv * b.astype(np.float64) ** pv + rng.normal(0, sig, b.shape)
    a2 = gi * a.astype(np.float64) ** pi
    q = lambda x: (np.rint(np.clip(x, 0, 1) * 255) / 255).astype(np.float32)  # noqa: E731
    return q(a2), q(b2)


def val_sets() -> dict[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    pairs = find_pairs(bl.DATA / "ivif" / "train_roadscene", "ivif")
    _, val = split_pairs(pairs, 10)
    plain, shifted = [], []
    for i, p in enumerate(val):
        a, b = load_pair(p)
        plain.append((p.id, a, b))
        shifted.append((p.id, *shift_pair(a, b, i)))
    return {"val": plain, "val-shift": shifted}


def _one(args):
    """``(label, metric means)`` of method ``kind`` (with ``weights=path`` for a learned one) over ``items``."""
    label, kind, path, items, metrics = args
    _, means, err = bl._one_method((kind, items, path, metrics))
    if err is not None:
        raise RuntimeError(f"{label}: {err}")
    return label, means


def _pmap(jobs, workers):
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as ex:
            return list(ex.map(_one, jobs))
    return [_one(j) for j in jobs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", help="NAME=PATH.npz")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--cache", default="/tmp/pixfuse_val_learned_cache.json")
    ap.add_argument("--show", action="store_true", help="print the metric means of the candidates")
    ap.add_argument("--teacher", default="", help="NAME of a network candidate: print every table candidate's "
                    "Q_AB/F and VIF as a percentage of its")
    args = ap.parse_args()
    metrics = bl.METRICS
    classical = [s.name for s in method_specs("ivif") if s.n_inputs[0] <= 2 and (s.n_inputs[1] or 2) >= 2
                 and s.name not in SKIP and s.name not in bl.LEARNED]
    sets = val_sets()
    cache_p = Path(args.cache)
    cache = json.loads(cache_p.read_text()) if cache_p.exists() else {}
    for sname, items in sets.items():
        todo = [m for m in classical if m not in cache.get(sname, {})]
        if todo:
            res = _pmap([(m, m, None, items, metrics) for m in todo], args.workers)
            cache.setdefault(sname, {}).update(dict(res))
            cache_p.write_text(json.dumps(cache, indent=0, sort_keys=True))
    cands = []
    for spec in args.models:
        name, _, path = spec.partition("=")
        with np.load(path, allow_pickle=False) as z:
            fmt = json.loads(z["meta"].item()).get("format")
        cands.append((name, "pixlut" if fmt == "pixfuse-lut" else "pixnet", path))
    jobs = [(f"{n}\t{s}", k, p, items, metrics) for n, k, p in cands for s, items in sets.items()]
    res = dict(_pmap(jobs, args.workers))
    print(f"pool: {len(classical)} classical methods; sets: " + ", ".join(f"{s} ({len(v)} pairs)" for s, v in sets.items()))
    print("| model | " + " | ".join(f"{s}: mean rank (#) | {s}: per-metric ranks" for s in sets) + " | average |")
    print("|---" * (2 * len(sets) + 2) + "|")
    for n, _, _ in cands:
        cells, tot = [], 0.0
        for s in sets:
            means = dict(cache[s])
            means[n] = res[f"{n}\t{s}"]
            rk = bl.ranks(means, metrics)
            pos = 1 + sum(1 for m in classical if rk[m] < rk[n])
            best = min(classical, key=lambda m: rk[m])
            per = []
            for k in metrics:
                sign = 1.0 if get_metric(k).higher_is_better else -1.0
                per.append(1 + sum(1 for m in classical if sign * means[m][k] > sign * means[n][k]))
            cells.append(f"{rk[n]:.2f} (#{pos}; {best} {rk[best]:.2f})")
            cells.append(" ".join(map(str, per)))
            tot += rk[n]
            if args.show:
                print(f"  {n} {s}: " + ", ".join(f"{k} {means[n][k]:.4g}" for k in metrics), file=sys.stderr)
        print(f"| {n} | " + " | ".join(cells) + f" | {tot / len(sets):.2f} |")
    if args.teacher:
        for n, kind, _ in cands:
            if kind != "pixlut":
                continue
            cells = []
            for s in sets:
                lut_m, net_m = res[n + "\t" + s], res[args.teacher + "\t" + s]
                cells.append(f"{s} " + ", ".join(f"{k} {100 * lut_m[k] / net_m[k]:.1f}%" for k in ("qabf", "vif")))
            print(f"{n} vs {args.teacher}: " + "; ".join(cells))

if __name__ == "__main__":
    main()
