"""The self-contained HTML report: inline CSS/JS, images as base64 PNG, plots as inline SVG.

No plotting library is needed: the box plots, the metric-vs-time scatter and
the Kendall-tau matrix are drawn by the small SVG helpers below.
"""
from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .report import DatasetReport, _friedman_lines, _n_images, cell_text, fmt, fmt_time, protocol_text

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354"]

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em auto;max-width:1400px;color:#222;
padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}h3{margin-top:1.5em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}th,td{border:1px solid #ddd;padding:.25em .5em;
text-align:right;white-space:nowrap}th{background:#f3f3f3;cursor:pointer;position:sticky;top:0}
td:first-child,th:first-child{text-align:left}td.best{font-weight:bold;background:#e8f5e9}
.rank{color:#888;font-size:.85em}.note{color:#555;font-size:.9em}.grid{display:flex;flex-wrap:wrap;gap:6px}
figure{margin:0;text-align:center;font-size:.75em}figure img{display:block;image-rendering:auto}
figure img.zoom{image-rendering:pixelated;margin-top:2px}.plots{display:flex;flex-wrap:wrap;gap:12px}
svg text{font-family:inherit}.scroll{overflow-x:auto}code{background:#f5f5f5;padding:0 .2em}
details{margin:.5em 0}
"""

JS = """
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,idx){
    th.title='click to sort';
    th.addEventListener('click',function(){
      var body=t.tBodies[0],rows=Array.from(body.rows),asc=th.dataset.dir!=='asc';
      t.querySelectorAll('th').forEach(function(h){h.dataset.dir='';});th.dataset.dir=asc?'asc':'desc';
      rows.sort(function(a,b){
        var x=a.cells[idx].dataset.v,y=b.cells[idx].dataset.v;
        var nx=parseFloat(x),ny=parseFloat(y);
        if(isNaN(nx)&&isNaN(ny))return asc?String(a.cells[idx].textContent).localeCompare(b.cells[idx].textContent)
          :String(b.cells[idx].textContent).localeCompare(a.cells[idx].textContent);
        if(isNaN(nx))return 1;if(isNaN(ny))return -1;return asc?nx-ny:ny-nx;});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
});
"""


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


# ------------------------------------------------------------------ images


def _to_u8(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img, dtype=np.float32)
    if a.ndim == 3 and a.shape[2] > 3:
        a = a[:, :, :3]
    if a.size and (a.min() < 0 or a.max() > 1):
        lo, hi = np.percentile(a, (1, 99))
        a = (a - lo) / max(hi - lo, 1e-12)
    return np.clip(np.rint(a * 255), 0, 255).astype(np.uint8)


def _png_b64(u8: np.ndarray) -> str:
    import cv2

    arr = u8[:, :, ::-1] if u8.ndim == 3 else u8
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr))
    if not ok:
        return ""
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def zoom_box(img: np.ndarray) -> tuple[int, int, int]:
    """(y, x, size) of the square with the most gradient energy — where methods differ most visibly."""
    import cv2

    g = np.asarray(img, dtype=np.float32)
    if g.ndim == 3:
        g = g[:, :, :3].mean(axis=2)
    h, w = g.shape
    s = max(8, min(h, w) // 5)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    energy = cv2.boxFilter(np.sqrt(gx * gx + gy * gy), -1, (s, s), normalize=True, borderType=cv2.BORDER_CONSTANT)
    half = s // 2
    inner = energy[half:h - (s - half) + 1, half:w - (s - half) + 1] if h > s and w > s else energy
    yy, xx = np.unravel_index(int(np.argmax(inner)), inner.shape)
    return int(yy), int(xx), s


def _thumb(img: np.ndarray, box: tuple[int, int, int], size: int) -> tuple[str, str]:
    """Base64 thumbnail with the zoom box drawn, and the zoomed crop."""
    import cv2

    u8 = _to_u8(img)
    h, w = u8.shape[:2]
    scale = min(1.0, size / max(h, w))
    th, tw = max(1, round(h * scale)), max(1, round(w * scale))
    t = cv2.resize(u8, (tw, th), interpolation=cv2.INTER_AREA) if scale < 1 else u8.copy()
    if t.ndim == 2:
        t = np.repeat(t[:, :, None], 3, axis=2)
    y, x, s = box
    y0, x0 = int(y * scale), int(x * scale)
    y1, x1 = min(th - 1, int((y + s) * scale)), min(tw - 1, int((x + s) * scale))
    red = np.array([220, 30, 30], dtype=np.uint8)
    t[y0:y1 + 1, [x0, x1]] = red
    t[[y0, y1], x0:x1 + 1] = red
    crop = u8[y:y + s, x:x + s]
    zs = max(1, size)  # the crop is shown as wide as the thumbnail
    z = cv2.resize(crop, (zs, zs), interpolation=cv2.INTER_NEAREST) if crop.size else crop
    return _png_b64(t), _png_b64(z)


def _grid_html(rep: DatasetReport, store_meta: dict[str, Any], items: Sequence[str], size: int) -> str:
    from ..io import read_image
    from .worker import centre_crop, load_fused

    info = store_meta.get("items", {}).get(rep.name, {})
    crop = store_meta.get("crops", {}).get(rep.name)
    out = []
    for item in items:
        if item not in rep.items:
            out.append(f"<p class=note>item {_e(item)} has no results in {_e(rep.name)}</p>")
            continue
        panels: list[tuple[str, np.ndarray]] = []
        srcs, kind = info.get(item, ([], "images"))
        if kind == "images":
            for i, p in enumerate(srcs):
                try:
                    panels.append((f"source {i + 1}: {Path(p).name}", centre_crop(read_image(p)[0], crop)))
                except Exception as exc:
                    out.append(f"<p class=note>cannot read source {_e(p)}: {_e(exc)}</p>")
        for i, m in enumerate(rep.methods):
            p = rep.cache.get((i, item))
            if not p:
                continue
            try:
                panels.append((m.label, load_fused(p)))
            except Exception as exc:
                out.append(f"<p class=note>cannot read {_e(p)}: {_e(exc)}</p>")
        if not panels:
            continue
        ref = next((a for _, a in panels if a.ndim >= 2), panels[0][1])
        box = zoom_box(ref)
        figs = []
        for label, img in panels:
            if img.shape[:2] != ref.shape[:2]:
                continue
            a, b = _thumb(img, box, size)
            figs.append(f"<figure><img src='{a}' alt='{_e(label)}'><img class=zoom src='{b}' alt='zoom'>"
                        f"<figcaption>{_e(label)}</figcaption></figure>")
        y, x, s = box
        out.append(f"<h4>{_e(item)} <span class=note>(zoom: {s}x{s} px at x={x}, y={y})</span></h4>"
                   f"<div class=grid>{''.join(figs)}</div>")
    return "\n".join(out)


# ------------------------------------------------------------------- plots


def _nice(lo: float, hi: float) -> tuple[float, float]:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0.0, 1.0
    if hi == lo:
        d = abs(hi) * 0.05 or 0.5
        return lo - d, hi + d
    pad = (hi - lo) * 0.06
    return lo - pad, hi + pad


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 x 10^k) inside [lo, hi]."""
    span = hi - lo
    if not (math.isfinite(span) and span > 0):
        return [lo]
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    out = []
    v = first
    while v <= hi + step * 1e-9 and len(out) < 20:
        out.append(0.0 if abs(v) < step * 1e-9 else v)
        v += step
    return out


def _tick_label(v: float) -> str:
    a = abs(v)
    if a != 0 and (a < 1e-3 or a >= 1e5):
        return f"{v:.2e}"
    return f"{v:.4g}"


def svg_boxplot(rep: DatasetReport, k: int, w: int = 380, h: int = 250) -> str:
    met = rep.metrics[k]
    data = [np.array([v for v in rep.values.get((i, k), {}).values() if v is not None and math.isfinite(v)])
            for i in range(len(rep.methods))]
    allv = np.concatenate([d for d in data if d.size]) if any(d.size for d in data) else np.array([0.0, 1.0])
    lo, hi = _nice(float(allv.min()), float(allv.max()))
    L, R, T, B = 58, 8, 22, 70
    pw, ph = w - L - R, h - T - B
    n = max(1, len(data))

    def Y(v: float) -> float:
        return T + ph - (v - lo) / (hi - lo) * ph

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' viewBox='0 0 {w} {h}'>",
             f"<text x='{w / 2}' y='14' text-anchor='middle' font-size='12' font-weight='bold'>"
             f"{_e(met.display)} {met.arrow}</text>"]
    for t in _ticks(lo, hi):
        parts.append(f"<line x1='{L}' x2='{L + pw}' y1='{Y(t):.1f}' y2='{Y(t):.1f}' stroke='#eee'/>"
                     f"<text x='{L - 4}' y='{Y(t) + 3:.1f}' text-anchor='end' font-size='9'>{_tick_label(t)}</text>")
    parts.append(f"<line x1='{L}' x2='{L}' y1='{T}' y2='{T + ph}' stroke='#999'/>")
    bw = pw / n
    for i, d in enumerate(data):
        cx = L + bw * (i + 0.5)
        col = PALETTE[i % len(PALETTE)]
        label = rep.methods[i].label
        parts.append(f"<text transform='translate({cx:.1f},{T + ph + 8}) rotate(-40)' text-anchor='end' "
                     f"font-size='9'>{_e(label[:22])}</text>")
        if not d.size:
            continue
        q1, med, q3 = np.percentile(d, (25, 50, 75))
        iqr = q3 - q1
        lo_w = d[d >= q1 - 1.5 * iqr].min()
        hi_w = d[d <= q3 + 1.5 * iqr].max()
        half = min(14.0, bw * 0.3)
        tip = (f"{label}: median {med:.4g}, IQR [{q1:.4g}, {q3:.4g}], mean {d.mean():.4g}, n={d.size}")
        parts.append(f"<g><title>{_e(tip)}</title>"
                     f"<line x1='{cx:.1f}' x2='{cx:.1f}' y1='{Y(lo_w):.1f}' y2='{Y(hi_w):.1f}' stroke='{col}'/>"
                     f"<rect x='{cx - half:.1f}' y='{Y(q3):.1f}' width='{2 * half:.1f}' "
                     f"height='{max(0.5, Y(q1) - Y(q3)):.1f}' fill='{col}' fill-opacity='0.35' stroke='{col}'/>"
                     f"<line x1='{cx - half:.1f}' x2='{cx + half:.1f}' y1='{Y(med):.1f}' y2='{Y(med):.1f}' "
                     f"stroke='{col}' stroke-width='2'/></g>")
        for v in d[(d < lo_w) | (d > hi_w)]:
            parts.append(f"<circle cx='{cx:.1f}' cy='{Y(v):.1f}' r='2' fill='none' stroke='{col}'/>")
        mean_y = Y(float(d.mean()))
        parts.append(f"<path d='M{cx - 3:.1f},{mean_y:.1f} l3,-3 l3,3 l-3,3 z' fill='{col}'/>")
    parts.append("</svg>")
    return "".join(parts)


def svg_scatter(rep: DatasetReport, k: int, w: int = 380, h: int = 250) -> str:
    met = rep.metrics[k]
    pts = [(math.log10(t), m, i) for i, (t, m) in enumerate(zip(rep.time_median, rep.mean[:, k]))
           if math.isfinite(t) and t > 0 and math.isfinite(m)]
    L, R, T, B = 58, 10, 22, 36
    pw, ph = w - L - R, h - T - B
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' viewBox='0 0 {w} {h}'>",
             f"<text x='{w / 2}' y='14' text-anchor='middle' font-size='12' font-weight='bold'>"
             f"{_e(met.display)} {met.arrow} vs fusion time</text>"]
    if not pts:
        parts.append(f"<text x='{w / 2}' y='{h / 2}' text-anchor='middle' font-size='11'>no timed methods</text></svg>")
        return "".join(parts)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1 = _nice(min(xs), max(xs))
    y0, y1 = _nice(min(ys), max(ys))

    def X(v: float) -> float:
        return L + (v - x0) / (x1 - x0) * pw

    def Y(v: float) -> float:
        return T + ph - (v - y0) / (y1 - y0) * ph

    for t in _ticks(y0, y1):
        parts.append(f"<line x1='{L}' x2='{L + pw}' y1='{Y(t):.1f}' y2='{Y(t):.1f}' stroke='#eee'/>"
                     f"<text x='{L - 4}' y='{Y(t) + 3:.1f}' text-anchor='end' font-size='9'>{_tick_label(t)}</text>")
    for t in _ticks(x0, x1):
        parts.append(f"<text x='{X(t):.1f}' y='{T + ph + 13}' text-anchor='middle' font-size='9'>"
                     f"{fmt_time(10 ** t)}</text>")
    parts.append(f"<text x='{L + pw / 2}' y='{h - 4}' text-anchor='middle' font-size='10'>median fusion time "
                 f"(log scale)</text>")
    parts.append(f"<rect x='{L}' y='{T}' width='{pw}' height='{ph}' fill='none' stroke='#999'/>")
    for lx, ly, i in pts:
        col = PALETTE[i % len(PALETTE)]
        lab = rep.methods[i].label
        parts.append(f"<g><title>{_e(lab)}: {ly:.4g}, {fmt_time(10 ** lx)}</title>"
                     f"<circle cx='{X(lx):.1f}' cy='{Y(ly):.1f}' r='4' fill='{col}'/>"
                     f"<text x='{X(lx) + 5:.1f}' y='{Y(ly) - 4:.1f}' font-size='8'>{_e(lab[:16])}</text></g>")
    parts.append("</svg>")
    return "".join(parts)


def svg_kendall(rep: DatasetReport, cell: int = 34) -> str:
    names = [m.display for m in rep.metrics]
    n = len(names)
    L, T = 90, 90
    w, h = L + n * cell + 10, T + n * cell + 10
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' viewBox='0 0 {w} {h}'>"]
    for i, nm in enumerate(names):
        parts.append(f"<text x='{L - 4}' y='{T + i * cell + cell / 2 + 3:.1f}' text-anchor='end' font-size='10'>"
                     f"{_e(nm)}</text>")
        parts.append(f"<text transform='translate({L + i * cell + cell / 2 + 3:.1f},{T - 4}) rotate(-60)' "
                     f"font-size='10'>{_e(nm)}</text>")
    for a in range(n):
        for b in range(n):
            v = rep.kendall[a, b]
            if math.isfinite(v):
                c = (int(255 - 160 * v), int(255 - 100 * v), 255) if v >= 0 else \
                    (255, int(255 + 100 * v), int(255 + 160 * v))
                fill = f"rgb({c[0]},{c[1]},{c[2]})"
                txt = f"{v:.2f}"
            else:
                fill, txt = "#f4f4f4", "–"
            parts.append(f"<g><title>{_e(names[a])} vs {_e(names[b])}: tau = {txt}</title>"
                         f"<rect x='{L + b * cell}' y='{T + a * cell}' width='{cell}' height='{cell}' fill='{fill}' "
                         f"stroke='#fff'/><text x='{L + b * cell + cell / 2}' y='{T + a * cell + cell / 2 + 3}' "
                         f"text-anchor='middle' font-size='9'>{txt}</text></g>")
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------- page


def _table(rep: DatasetReport) -> str:
    head = ["<th>method</th>"] + [
        f"<th title='{_e(m.convention)}'>{_e(m.display)} {m.arrow}</th>" for m in rep.metrics
    ] + ["<th>time ↓</th>", "<th>mean rank ↓</th>"]
    rows = []
    best_mr = np.nanmin(rep.mean_rank) if np.isfinite(rep.mean_rank).any() else np.nan
    for i, m in enumerate(rep.methods):
        tds = [f"<td data-v='{_e(m.label)}' title='{_e(json.dumps(m.params, default=str))}'>{_e(m.label)}"
               f"{' <span class=note>(external)</span>' if m.external else ''}</td>"]
        for k in range(len(rep.metrics)):
            mean, sd, rk = cell_text(rep, i, k)
            v = rep.mean[i, k]
            txt = f"{mean} ± {sd}" if sd else mean
            cls = " class=best" if rep.best[i, k] else ""
            tds.append(f"<td{cls} data-v='{v if math.isfinite(v) else ''}'>{txt}"
                       f"{f' <span class=rank>({rk})</span>' if rk else ''}</td>")
        t = rep.time_median[i]
        tds.append(f"<td data-v='{t if math.isfinite(t) else ''}'>{fmt_time(t)}</td>")
        mr = rep.mean_rank[i]
        cls = " class=best" if math.isfinite(mr) and mr == best_mr else ""
        tds.append(f"<td{cls} data-v='{mr if math.isfinite(mr) else ''}'>{fmt(mr, 2)}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return (f"<div class=scroll><table class=sortable><thead><tr>{''.join(head)}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _store_meta(store: str) -> dict[str, Any]:
    from .store import ResultStore

    items: dict[str, dict[str, tuple[list[str], str]]] = {}
    crops: dict[str, int | None] = {}
    with ResultStore(store, readonly=True) as st:
        for ds, item, srcs, kind in st.query("SELECT dataset, item, sources, kind FROM items"):
            items.setdefault(ds, {})[item] = (json.loads(srcs or "[]"), kind)
        for ds, crop in st.query("SELECT name, crop FROM datasets"):
            crops[ds] = crop
    return {"items": items, "crops": crops}


def write_html(reports: Sequence[DatasetReport], meta: dict[str, Any], out: Path, *,
               grid_items: Sequence[str] | None = None, n_grid: int = 2, thumb: int = 240) -> Path:
    smeta = _store_meta(meta["store"])
    body = [f"<h1>pixfuse benchmark report</h1><p class=note>pixfuse {_e(meta['version'])}; store "
            f"<code>{_e(meta['store'])}</code>. Cells: mean ± standard deviation over the images, rank in "
            "parentheses (1 = best), best in bold; ↑ higher is better, ↓ lower is better. Click a column to sort.</p>"]
    toc = " · ".join(f"<a href='#ds-{_e(r.name)}'>{_e(r.name)}</a>" for r in reports)
    body.append(f"<p>Datasets: {toc}</p>")
    for rep in reports:
        sizes = sorted(set(rep.sizes.values()))
        size_txt = ", ".join(f"{h}x{w}" for h, w in sizes[:6]) + (" …" if len(sizes) > 6 else "")
        body.append(f"<h2 id='ds-{_e(rep.name)}'>{_e(rep.name)} <span class=note>({_e(rep.task)}, "
                    f"{_n_images(len(rep.items))}{'; sizes (HxW) ' + size_txt if size_txt else ''})</span></h2>")
        body.append(_table(rep))
        items = [i for i in (grid_items or []) if i in rep.items] or rep.items[:n_grid]
        if items:
            body.append("<h3>Images</h3><p class=note>Every method on the chosen images; the red square is shown "
                        "enlarged (nearest neighbour) below each image.</p>")
            body.append(_grid_html(rep, smeta, items, thumb))
        body.append("<h3>Distribution per metric</h3><p class=note>Box: quartiles; line: median; diamond: mean; "
                    "whiskers: 1.5 IQR.</p><div class=plots>")
        body += [svg_boxplot(rep, k) for k in range(len(rep.metrics))]
        body.append("</div><h3>Metric vs time</h3><div class=plots>")
        body += [svg_scatter(rep, k) for k in range(len(rep.metrics))]
        body.append("</div>")
        if len(rep.metrics) >= 2:
            body.append("<h3>Metric agreement (Kendall τ between the metrics' method rankings)</h3>"
                        "<p class=note>1: the two metrics order the methods identically; -1: in reverse.</p>")
            body.append(svg_kendall(rep))
        body.append("<h3>Statistical significance</h3><p class=note>Friedman test over the images (per metric) and "
                    "over the metrics (mean ranks); pairs listed as “A > B” differ by more than the Nemenyi "
                    "critical difference (α = 0.05).</p><ul>")
        body += [f"<li>{_e(line[2:])}</li>" for line in _friedman_lines(rep)]
        body.append("</ul>")
        if rep.failures:
            body.append(f"<details><summary>{len(rep.failures)} failure(s)</summary><ul>")
            body += [f"<li>{_e(it)} {_e(lab)} {_e(met)}: {_e(msg)}</li>" for it, lab, met, msg in rep.failures[:200]]
            body.append("</ul></details>")
    body.append(f"<h2>Timing protocol</h2><p>{_e(protocol_text(meta)).replace(chr(10) * 2, '</p><p>')}</p>")
    fps = meta.get("fingerprints", {})
    if fps:
        body.append("<h2>Machines and software</h2>")
        for fid, info in fps.items():
            body.append(f"<details><summary>{_e(fid)}: {_e(info.get('cpu', ''))}, {_e(info.get('cpu_count'))} CPUs, "
                        f"Python {_e(info.get('python'))}</summary><pre>{_e(json.dumps(info, indent=1))}</pre>"
                        "</details>")
    runs = meta.get("runs", [])
    if runs:
        body.append("<h2>Runs</h2><table><tr><th>run</th><th>workers</th><th>wall</th><th>results</th></tr>")
        for r in runs:
            st = json.loads(r[6] or "{}")
            body.append(f"<tr><td>{_e(r[0])}</td><td>{_e(st.get('workers', ''))} {_e(st.get('executor', ''))}</td>"
                        f"<td>{fmt(st.get('wall_seconds', float('nan')), 1)} s</td>"
                        f"<td>{_e(st.get('results_written', ''))}</td></tr>")
        body.append("</table>")
    page = ("<!DOCTYPE html><html lang=en><head><meta charset='utf-8'><title>pixfuse benchmark report</title>"
            f"<style>{CSS}</style></head><body>{''.join(body)}<script>{JS}</script></body></html>")
    p = out / "report.html"
    p.write_text(page, encoding="utf-8")
    return p
