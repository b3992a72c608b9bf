"""Reports from the result store: CSV, Markdown, LaTeX and a self-contained HTML page.

Per dataset, a table of methods (rows) x metrics (columns): mean ± standard
deviation over the dataset's items, the method's rank for that metric in
parentheses (1 = best; ties share the average rank), the best value in bold,
an arrow after each metric name (↑ higher is better, ↓ lower is better), the
median fusion time and the mean rank over all metrics.  Below it: the Friedman
test with the Nemenyi post-hoc critical difference per metric (blocks =
images) and across metrics (blocks = metrics), and the Kendall-tau agreement
matrix between metrics' method rankings.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PixfuseError
from .stats import FriedmanResult, friedman_nemenyi, kendall_matrix, ranks
from .store import ResultStore


@dataclasses.dataclass
class MetricInfo:
    name: str
    display: str
    higher_is_better: bool
    convention: str

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


@dataclasses.dataclass
class MethodInfo:
    key: tuple[str, str]  # (method, params_hash)
    label: str
    external: bool
    params: dict[str, Any]


@dataclasses.dataclass
class DatasetReport:
    name: str
    task: str
    root: str
    items: list[str]
    methods: list[MethodInfo]
    metrics: list[MetricInfo]
    values: dict[tuple[int, int], dict[str, float]]  # (method idx, metric idx) -> {item: value}
    fuse_time: dict[int, dict[str, float]]  # method idx -> {item: median seconds}
    sizes: dict[str, tuple[int, int]]
    cache: dict[tuple[int, str], str]  # (method idx, item) -> fused image path
    failures: list[tuple[str, str, str, str]]  # (item, method label, metric, message)
    # computed
    mean: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    std: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    count: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0), dtype=int))
    rank: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    mean_rank: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    time_median: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    best: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    friedman: dict[str, FriedmanResult | None] = dataclasses.field(default_factory=dict)
    friedman_overall: FriedmanResult | None = None
    kendall: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))

    def compute(self) -> None:
        nm, nk = len(self.methods), len(self.metrics)
        self.mean = np.full((nm, nk), np.nan)
        self.std = np.full((nm, nk), np.nan)
        self.count = np.zeros((nm, nk), dtype=int)
        for (i, k), vals in self.values.items():
            v = np.array([x for x in vals.values() if x is not None and math.isfinite(x)], dtype=np.float64)
            self.count[i, k] = v.size
            if v.size:
                self.mean[i, k] = v.mean()
                self.std[i, k] = v.std(ddof=1) if v.size > 1 else 0.0
        self.rank = np.full((nm, nk), np.nan)
        self.best = np.zeros((nm, nk), dtype=bool)
        for k, m in enumerate(self.metrics):
            col = self.mean[:, k]
            if np.isfinite(col).any():
                self.rank[:, k] = ranks(col, m.higher_is_better)
                self.rank[~np.isfinite(col), k] = np.nan
                target = np.nanmax(col) if m.higher_is_better else np.nanmin(col)
                self.best[:, k] = np.isclose(col, target, rtol=1e-12, atol=0) & np.isfinite(col)
        with np.errstate(invalid="ignore"):
            self.mean_rank = np.array([np.nanmean(r) if np.isfinite(r).any() else np.nan for r in self.rank])
        self.time_median = np.array([
            float(np.median(list(self.fuse_time[i].values()))) if self.fuse_time.get(i) else np.nan
            for i in range(nm)
        ])
        names = [m.label for m in self.methods]
        for k, m in enumerate(self.metrics):
            table = np.array([[self.values.get((i, k), {}).get(it, np.nan) for i in range(nm)] for it in self.items],
                             dtype=np.float64).reshape(len(self.items), nm)
            self.friedman[m.name] = friedman_nemenyi(table, names, m.higher_is_better)
        if nk >= 2:
            self.friedman_overall = friedman_nemenyi(self.mean.T, names, [m.higher_is_better for m in self.metrics])
        self.kendall = kendall_matrix(self.mean.T, [m.higher_is_better for m in self.metrics])


def _pick_version(store: ResultStore, version: str | None) -> str:
    import pixfuse

    versions = [r[0] for r in store.query("SELECT version, MAX(created) FROM results GROUP BY version ORDER BY 2")]
    if not versions:
        raise PixfuseError(f"{store.path}: the store holds no results yet")
    if version is not None:
        if version not in versions:
            raise PixfuseError(f"no results for pixfuse version {version!r} (stored: {', '.join(versions)})")
        return version
    return pixfuse.__version__ if pixfuse.__version__ in versions else versions[-1]


def load_reports(store_path: str | os.PathLike[str], *, datasets: Sequence[str] | None = None,
                 methods: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
                 version: str | None = None) -> tuple[list[DatasetReport], dict[str, Any]]:
    """Read the store into one :class:`DatasetReport` per dataset (computed)."""
    with ResultStore(store_path, readonly=True) as st:
        ver = _pick_version(st, version)
        minfo = {r[0]: MetricInfo(r[0], r[2] or r[0], bool(r[1]), r[3] or "")
                 for r in st.query("SELECT name, higher_is_better, display, convention FROM metrics")}
        vinfo = {(r[0], r[1]): (r[2], bool(r[3]), json.loads(r[4] or "{}"))
                 for r in st.query("SELECT method, params_hash, label, external, params FROM variants")}
        dsinfo = {r[0]: (r[1], r[2]) for r in st.query("SELECT name, task, root FROM datasets")}
        rows = st.query("SELECT dataset, item, method, params_hash, metric, value FROM results WHERE version=? "
                        "ORDER BY dataset, method, params_hash, metric, item", (ver,))
        frows = st.query("SELECT dataset, item, method, params_hash, seconds, height, width, cache_path FROM fusions "
                         "WHERE version=?", (ver,))
        fails = st.query("SELECT dataset, item, method, params_hash, metric, message FROM failures WHERE version=?",
                         (ver,))
        runs = st.query("SELECT run_id, started, finished, config, fingerprint, protocol, stats FROM runs "
                        "ORDER BY started")
        fps = {r[0]: json.loads(r[1]) for r in st.query("SELECT id, info FROM fingerprints")}
    want_ds = set(datasets) if datasets else None
    want_m = {m.lower() for m in methods} if methods else None
    want_k = {m.lower() for m in metrics} if metrics else None
    by_ds: dict[str, list[tuple[Any, ...]]] = {}
    for r in rows:
        if want_ds and r[0] not in want_ds:
            continue
        label = vinfo.get((r[2], r[3]), (r[2],))[0]
        if want_m and r[2] not in want_m and str(label).lower() not in want_m:
            continue
        if want_k and r[4] not in want_k:
            continue
        by_ds.setdefault(r[0], []).append(r)
    if want_ds:
        missing = sorted(want_ds - set(by_ds))
        if missing:
            raise PixfuseError(f"no results for dataset(s) {', '.join(missing)} (stored: "
                               f"{', '.join(sorted(dsinfo)) or 'none'})")
    reports = []
    for ds, rs in sorted(by_ds.items()):
        mkeys: list[tuple[str, str]] = []
        kkeys: list[str] = []
        items: list[str] = []
        for r in rs:
            if (r[2], r[3]) not in mkeys:
                mkeys.append((r[2], r[3]))
            if r[4] not in kkeys:
                kkeys.append(r[4])
            if r[1] not in items:
                items.append(r[1])
        mkeys.sort(key=lambda k: (vinfo.get(k, ("", False))[1], vinfo.get(k, (k[0],))[0]))
        kkeys.sort()
        items.sort()
        mi = {k: i for i, k in enumerate(mkeys)}
        ki = {k: i for i, k in enumerate(kkeys)}
        values: dict[tuple[int, int], dict[str, float]] = {}
        for r in rs:
            values.setdefault((mi[(r[2], r[3])], ki[r[4]]), {})[r[1]] = r[5] if r[5] is not None else float("nan")
        ftime: dict[int, dict[str, float]] = {}
        sizes: dict[str, tuple[int, int]] = {}
        cache: dict[tuple[int, str], str] = {}
        for d, item, m, ph, sec, h, w, path in frows:
            if d != ds or (m, ph) not in mi:
                continue
            i = mi[(m, ph)]
            if sec is not None:
                ftime.setdefault(i, {})[item] = sec
            if h:
                sizes[item] = (h, w)
            if path:
                cache[(i, item)] = path
        labels = {k: vinfo.get(k, (k[0], False, {})) for k in mkeys}
        rep = DatasetReport(
            name=ds, task=dsinfo.get(ds, ("", ""))[0], root=dsinfo.get(ds, ("", ""))[1], items=items,
            methods=[MethodInfo(k, labels[k][0], labels[k][1], labels[k][2]) for k in mkeys],
            metrics=[minfo.get(k, MetricInfo(k, k, True, "")) for k in kkeys],
            values=values, fuse_time=ftime, sizes=sizes, cache=cache,
            failures=[(f[1], vinfo.get((f[2], f[3]), (f[2],))[0], f[4] or "(fusion)", f[5]) for f in fails
                      if f[0] == ds],
        )
        rep.compute()
        reports.append(rep)
    if not reports:
        raise PixfuseError("no results match the selection")
    meta = {"version": ver, "runs": runs, "fingerprints": fps, "store": str(Path(store_path).resolve())}
    return reports, meta


# ------------------------------------------------------------- formatting


def decimals_for(values: np.ndarray) -> int:
    """Decimals giving about 4 significant digits for the column's largest magnitude."""
    v = np.abs(np.asarray(values, dtype=np.float64))
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return 3
    mag = math.floor(math.log10(float(v.max())))
    return int(min(6, max(1, 3 - mag)))


def _n_images(n: int) -> str:
    return f"{n} image{'' if n == 1 else 's'}"


def fmt(x: float, d: int) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:.{d}f}"


def fmt_time(s: float) -> str:
    if s is None or not math.isfinite(s):
        return "–"
    if s < 0.01:
        return f"{s * 1000:.2f} ms"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    return f"{s:.2f} s"


def cell_text(rep: DatasetReport, i: int, k: int) -> tuple[str, str, str]:
    """(mean ± std, rank) strings of one table cell, with the column's decimals."""
    d = decimals_for(rep.mean[:, k])
    if not math.isfinite(rep.mean[i, k]):
        return "–", "", ""
    r = rep.rank[i, k]
    rs = (f"{r:g}" if math.isfinite(r) else "")
    return fmt(rep.mean[i, k], d), fmt(rep.std[i, k], d), rs


def write_csv(reports: Sequence[DatasetReport], out: Path) -> list[Path]:
    raw = out / "results.csv"
    with open(raw, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "item", "method", "params_hash", "metric", "higher_is_better", "value",
                    "fusion_seconds", "height", "width"])
        for rep in reports:
            for (i, k), vals in sorted(rep.values.items()):
                m, met = rep.methods[i], rep.metrics[k]
                for item in sorted(vals):
                    hw = rep.sizes.get(item, ("", ""))
                    w.writerow([rep.name, item, m.label, m.key[1], met.name, int(met.higher_is_better),
                                repr(float(vals[item])), repr(rep.fuse_time.get(i, {}).get(item, float("nan"))),
                                hw[0], hw[1]])
    summ = out / "summary.csv"
    with open(summ, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "method", "metric", "higher_is_better", "mean", "std", "n", "rank", "best",
                    "mean_rank", "median_fusion_seconds"])
        for rep in reports:
            for i, m in enumerate(rep.methods):
                for k, met in enumerate(rep.metrics):
                    w.writerow([rep.name, m.label, met.name, int(met.higher_is_better), repr(float(rep.mean[i, k])),
                                repr(float(rep.std[i, k])), int(rep.count[i, k]), repr(float(rep.rank[i, k])),
                                int(rep.best[i, k]), repr(float(rep.mean_rank[i])), repr(float(rep.time_median[i]))])
    return [raw, summ]


def _friedman_lines(rep: DatasetReport) -> list[str]:
    lines = []
    for met in rep.metrics:
        fr = rep.friedman.get(met.name)
        if fr is None:
            lines.append(f"- {met.display}: Friedman test not applicable (needs 3+ methods and 2+ images with values for all)")
            continue
        sig = ", ".join(f"{a} > {b}" for a, b, _ in fr.significant_pairs[:12]) or "no pair"
        more = f" (+{len(fr.significant_pairs) - 12} more)" if len(fr.significant_pairs) > 12 else ""
        lines.append(f"- {met.display}: χ²={fr.statistic:.3f}, p={fr.p_value:.3g} (N={fr.n_blocks} images, "
                     f"k={fr.k}); Nemenyi CD={fr.cd:.3f} at α={fr.alpha}: {sig}{more}")
    fo = rep.friedman_overall
    if fo is not None:
        sig = ", ".join(f"{a} > {b}" for a, b, _ in fo.significant_pairs[:12]) or "no pair"
        lines.append(f"- across metrics (blocks = {fo.n_blocks} metrics): χ²={fo.statistic:.3f}, p={fo.p_value:.3g}; "
                     f"Nemenyi CD={fo.cd:.3f}: {sig}")
    return lines


def protocol_text(meta: dict[str, Any]) -> str:
    protos = []
    for r in meta["runs"]:
        try:
            t = json.loads(r[5] or "{}").get("text")
        except json.JSONDecodeError:
            t = None
        if t and t not in protos:
            protos.append(t)
    return "\n\n".join(protos) or "No timed runs in this store (external results only)."


def write_markdown(reports: Sequence[DatasetReport], meta: dict[str, Any], out: Path) -> Path:
    lines = ["# pixfuse benchmark report", "",
             f"pixfuse {meta['version']}; store `{meta['store']}`.", "",
             "Cells: mean ± standard deviation over the dataset's images, rank in parentheses (1 = best); "
             "best value in **bold**; ↑ higher is better, ↓ lower is better. Time: median fusion time per image.", ""]
    for rep in reports:
        lines += [f"## {rep.name} ({rep.task}, {_n_images(len(rep.items))})", ""]
        head = ["method"] + [f"{m.display} {m.arrow}" for m in rep.metrics] + ["time ↓", "mean rank ↓"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        best_mr = np.nanmin(rep.mean_rank) if np.isfinite(rep.mean_rank).any() else np.nan
        for i, m in enumerate(rep.methods):
            cells = [m.label + (" (external)" if m.external else "")]
            for k in range(len(rep.metrics)):
                mean, sd, rk = cell_text(rep, i, k)
                c = f"{mean} ± {sd}" if sd else mean
                if rep.best[i, k]:
                    c = f"**{c}**"
                cells.append(c + (f" ({rk})" if rk else ""))
            cells.append(fmt_time(rep.time_median[i]))
            mr = fmt(rep.mean_rank[i], 2)
            cells.append(f"**{mr}**" if math.isfinite(rep.mean_rank[i]) and rep.mean_rank[i] == best_mr else mr)
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", "Statistical significance (Friedman test, Nemenyi post-hoc):", ""] + _friedman_lines(rep) + [""]
        if rep.failures:
            lines += [f"Failures ({len(rep.failures)}):", ""]
            lines += [f"- {it} {lab} {met}: {msg}" for it, lab, met, msg in rep.failures[:50]] + [""]
    lines += ["## Timing protocol", "", protocol_text(meta), ""]
    p = out / "report.md"
    p.write_text("\n".join(lines), encoding="utf-8")
    return p


def _tex_escape(s: str) -> str:
    rep = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
           "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(rep.get(c, c) for c in s)


def write_latex(reports: Sequence[DatasetReport], meta: dict[str, Any], out: Path) -> Path:
    parts = ["% pixfuse benchmark tables (needs \\usepackage{booktabs})",
             f"% pixfuse {meta['version']}"]
    for rep in reports:
        nk = len(rep.metrics)
        parts += [r"\begin{table}[t]", r"\centering", r"\small",
                  rf"\caption{{{_tex_escape(rep.name)}: mean $\pm$ std over {_n_images(len(rep.items))}, rank in "
                  r"parentheses; best in bold; $\uparrow$/$\downarrow$: higher/lower is better.}",
                  r"\begin{tabular}{l" + "c" * (nk + 2) + "}", r"\toprule"]
        up, down = r"$\uparrow$", r"$\downarrow$"
        head = ["Method"] + [f"{_tex_escape(m.display)} {up if m.higher_is_better else down}"
                             for m in rep.metrics] + [f"Time (s) {down}", f"Mean rank {down}"]
        parts.append(" & ".join(head) + r" \\")
        parts.append(r"\midrule")
        best_mr = np.nanmin(rep.mean_rank) if np.isfinite(rep.mean_rank).any() else np.nan
        for i, m in enumerate(rep.methods):
            cells = [_tex_escape(m.label)]
            for k in range(nk):
                mean, sd, rk = cell_text(rep, i, k)
                c = f"{mean} $\\pm$ {sd}" if sd else mean
                if rep.best[i, k]:
                    c = rf"\textbf{{{c}}}"
                cells.append(c + (f" ({rk})" if rk else ""))
            t = rep.time_median[i]
            cells.append(f"{t:.4f}" if math.isfinite(t) else "--")
            mr = fmt(rep.mean_rank[i], 2)
            cells.append(rf"\textbf{{{mr}}}" if math.isfinite(rep.mean_rank[i]) and rep.mean_rank[i] == best_mr
                         else mr)
            parts.append(" & ".join(cells).replace("–", "--") + r" \\")
        parts += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    p = out / "report.tex"
    p.write_text("\n".join(parts), encoding="utf-8")
    return p


def make_report(store: str | os.PathLike[str], out: str | os.PathLike[str], *,
                formats: Sequence[str] = ("csv", "md", "tex", "html"), datasets: Sequence[str] | None = None,
                methods: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
                grid_items: Sequence[str] | None = None, n_grid: int = 2, version: str | None = None,
                thumb: int = 240) -> list[Path]:
    """Write the reports into ``out``; returns the files written.

    ``grid_items`` names the items shown in the HTML image grids (default:
    the first ``n_grid`` items of each dataset).
    """
    bad = set(formats) - {"csv", "md", "tex", "html"}
    if bad:
        raise PixfuseError(f"unknown report format(s) {', '.join(sorted(bad))}; use csv, md, tex, html")
    reports, meta = load_reports(store, datasets=datasets, methods=methods, metrics=metrics, version=version)
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    if "csv" in formats:
        files += write_csv(reports, o)
    if "md" in formats:
        files.append(write_markdown(reports, meta, o))
    if "tex" in formats:
        files.append(write_latex(reports, meta, o))
    if "html" in formats:
        from .html import write_html

        files.append(write_html(reports, meta, o, grid_items=grid_items, n_grid=n_grid, thumb=thumb))
    return files
