"""`bench add-results`: external fused images scored like built-in methods; missing/corrupt files."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pixfuse.io import read_image, write_image

from conftest import data_path, run_cli

PLUGIN = str(Path(__file__).resolve().parent / "_bench_metrics.py")


def test_add_results_missing_and_corrupt(tmp_path):
    import pixfuse
    from pixfuse.bench import add_results, cli_config, run_benchmark
    from pixfuse.bench.worker import load_plugins

    load_plugins([PLUGIN])
    tno = data_path("ivif", "tno")
    store = tmp_path / "db" / "r.sqlite"
    # built-in 'average' on three items, for comparison
    cfg = cli_config([str(tno)], ["average"], ["tb_mean", "tb_dist"], store=str(store), executor="serial",
                     repeats=1, warmup=0, plugins=[PLUGIN])
    cfg.datasets = [cfg.datasets[0].__class__(path=str(tno), items=("17", "36", "cddfuse_07"))]
    st = run_benchmark(cfg, progress=False, log=lambda s: None)
    assert st.results_written == 6
    # the researcher's folder: 36 and cddfuse_07 (average, 16-bit PNG), 17 corrupt, 21 missing
    folder = tmp_path / "mine"
    for name in ("36", "cddfuse_07", "cddfuse_19"):
        a, _ = read_image(tno / "ir" / f"{name}.png")
        b, _ = read_image(tno / "vi" / f"{name}.png")
        write_image(folder / f"{name}.png", pixfuse.fuse([a, b], "average"), bit_depth=16)
    (folder / "17.png").write_bytes((folder / "36.png").read_bytes()[:200])  # truncated
    (folder / "notes.png").write_bytes(b"")  # matches no item: ignored with a message
    r = run_cli("bench", "add-results", tno, "MyNet", folder, "--store", store, "-k", "tb_mean", "-k", "tb_dist",
                "--plugin", PLUGIN)
    assert r.returncode == 1, r.stderr
    assert "missing: no fused image for item '21'" in r.stderr
    assert "unreadable:" in r.stderr and "17.png" in r.stderr
    assert "ignored: notes.png" in r.stderr
    assert "scored 3 images" in r.stdout
    con = sqlite3.connect(store)
    rows = {(m, i, k): v for m, i, k, v in con.execute("SELECT method, item, metric, value FROM results")}
    ext = con.execute("SELECT external, label FROM variants WHERE method='mynet'").fetchone()
    con.close()
    assert ext == (1, "mynet")
    assert {i for m, i, _ in rows if m == "mynet"} == {"36", "cddfuse_07", "cddfuse_19"}
    # same conventions: identical 16-bit images give identical values to the built-in method's
    for item in ("36", "cddfuse_07"):
        for k in ("tb_mean", "tb_dist"):
            assert rows[("mynet", item, k)] == rows[("average", item, k)]
    # re-running adds nothing; --replace rescoring keeps exactly one row per key
    rep = add_results(str(tno), "MyNet", folder, store=store, metrics=["tb_mean", "tb_dist"], log=lambda s: None)
    assert rep.results_written == 0 and rep.missing == ["21"] and rep.unreadable == ["17.png"]
    rep = add_results(str(tno), "MyNet", folder, store=store, metrics=["tb_mean"], replace=True, log=lambda s: None)
    assert rep.results_written == 3
    con = sqlite3.connect(store)
    assert con.execute("SELECT COUNT(*) FROM results WHERE method='mynet'").fetchone()[0] == 3
    con.close()
    # the report shows the external method next to the built-in one
    from pixfuse.bench import make_report

    files = make_report(store, tmp_path / "rep", formats=("md",))
    md = files[0].read_text()
    assert "| mynet (external) |" in md and "| average |" in md
    # wrong size: a clear failure for that image, the others still scored
    a, _ = read_image(folder / "cddfuse_07.png")  # 256x256; cddfuse_19 is 270x360
    write_image(folder / "cddfuse_19.png", a, bit_depth=16)
    rep = add_results(str(tno), "other", folder, store=store, metrics=["tb_mean"], log=lambda s: None)
    assert len(rep.failures) == 1 and "cddfuse_19" in rep.failures[0] and "HxW" in rep.failures[0]
    assert rep.results_written == 2  # 36 and cddfuse_07
