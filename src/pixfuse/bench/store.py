"""The result store: one SQLite file (WAL journal), safe against being killed.

Tables
------
``results``
    One row per (dataset, item, method, params_hash, version, metric,
    convention) — a UNIQUE key, so a re-run inserts only what is missing and
    a resumed run can never duplicate a row.  Holds the value, the metric's
    computation time, the run and the hardware/software fingerprint.
``fusions``
    One row per (dataset, item, method, params_hash, version): median fusion
    time, every timed repeat, warm-up count, thread limit, image size, the
    cached fused image's path.
``variants``, ``metrics``, ``datasets``, ``items``, ``fingerprints``, ``runs``
    What the keys mean (parameters, higher-is-better, source paths, machine).
``failures``
    Fusions or metrics that raised, with the message (skipped on re-runs
    unless ``retry_failed``).

Every finished job is written in one transaction (fusion row + all its metric
rows), so after a SIGKILL the store holds complete jobs only; WAL with
``synchronous=NORMAL`` keeps committed transactions across a process crash.
Only the driver process writes; workers return values.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS results(
  dataset TEXT NOT NULL, item TEXT NOT NULL, method TEXT NOT NULL, params_hash TEXT NOT NULL,
  version TEXT NOT NULL, metric TEXT NOT NULL, convention TEXT NOT NULL,
  value REAL, seconds REAL, fingerprint TEXT, run_id TEXT, created REAL,
  UNIQUE(dataset, item, method, params_hash, version, metric, convention));
CREATE TABLE IF NOT EXISTS fusions(
  dataset TEXT NOT NULL, item TEXT NOT NULL, method TEXT NOT NULL, params_hash TEXT NOT NULL,
  version TEXT NOT NULL, seconds REAL, times TEXT, warmup INTEGER, repeats INTEGER, threads INTEGER,
  height INTEGER, width INTEGER, channels INTEGER, n_sources INTEGER, cache_path TEXT,
  external INTEGER DEFAULT 0, fingerprint TEXT, run_id TEXT, created REAL,
  UNIQUE(dataset, item, method, params_hash, version));
CREATE TABLE IF NOT EXISTS variants(
  method TEXT NOT NULL, params_hash TEXT NOT NULL, params TEXT, label TEXT, external INTEGER DEFAULT 0,
  PRIMARY KEY(method, params_hash));
CREATE TABLE IF NOT EXISTS metrics(
  name TEXT PRIMARY KEY, higher_is_better INTEGER, display TEXT, convention TEXT, needs TEXT, citation TEXT);
CREATE TABLE IF NOT EXISTS datasets(
  name TEXT PRIMARY KEY, root TEXT, task TEXT, layout TEXT, crop INTEGER);
CREATE TABLE IF NOT EXISTS items(
  dataset TEXT NOT NULL, item TEXT NOT NULL, sources TEXT, reference TEXT, kind TEXT,
  PRIMARY KEY(dataset, item));
CREATE TABLE IF NOT EXISTS fingerprints(id TEXT PRIMARY KEY, info TEXT);
CREATE TABLE IF NOT EXISTS runs(
  run_id TEXT PRIMARY KEY, started REAL, finished REAL, config TEXT, fingerprint TEXT, protocol TEXT, stats TEXT);
CREATE TABLE IF NOT EXISTS failures(
  dataset TEXT NOT NULL, item TEXT NOT NULL, method TEXT NOT NULL, params_hash TEXT NOT NULL,
  version TEXT NOT NULL, metric TEXT NOT NULL, message TEXT, run_id TEXT, created REAL,
  UNIQUE(dataset, item, method, params_hash, version, metric));
"""


class ResultStore:
    """Thin wrapper around the SQLite file (see the module docstring for the tables)."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False):
        self.path = Path(path)
        if readonly:
            if not self.path.exists():
                from ..errors import PixfuseError

                raise PixfuseError(f"{self.path}: no result store (run `pixfuse bench run` first)")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout=60000")
        if not readonly:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(SCHEMA)
        self.write_seconds = 0.0

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -------------------------------------------------------------- writing

    def _tx(self, statements: Iterable[tuple[str, Any]]) -> None:
        t0 = time.perf_counter()
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for sql, args in statements:
                if isinstance(args, list):
                    cur.executemany(sql, args)
                else:
                    cur.execute(sql, args)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            self.write_seconds += time.perf_counter() - t0

    def register(self, *, datasets: Iterable[Any] = (), variants: Iterable[Any] = (), metrics: Iterable[Any] = (),
                 fingerprint: tuple[str, dict[str, Any]] | None = None) -> None:
        """Record what keys mean (idempotent)."""
        st: list[tuple[str, Any]] = []
        for key, ds, crop in datasets:
            st.append(("INSERT OR REPLACE INTO datasets VALUES (?,?,?,?,?)",
                       (key, str(ds.root), ds.task, ds.layout, crop)))
            st.append(("INSERT OR REPLACE INTO items VALUES (?,?,?,?,?)",
                       [(key, it.name, json.dumps([str(p) for p in it.sources]),
                         str(it.reference) if it.reference else None, it.kind) for it in ds.items]))
        for v, external in variants:
            st.append(("INSERT OR REPLACE INTO variants VALUES (?,?,?,?,?)",
                       (v.method, v.params_hash, json.dumps(v.params, default=str, sort_keys=True), v.label,
                        int(external))))
        for s in metrics:
            st.append(("INSERT OR REPLACE INTO metrics VALUES (?,?,?,?,?,?)",
                       (s.name, int(bool(s.higher_is_better)), s.display, s.convention, s.needs, s.citation)))
        if fingerprint is not None:
            st.append(("INSERT OR IGNORE INTO fingerprints VALUES (?,?)",
                       (fingerprint[0], json.dumps(fingerprint[1], sort_keys=True))))
        self._tx(st)

    def start_run(self, run_id: str, config: dict[str, Any], fingerprint: str, protocol: dict[str, Any]) -> None:
        self._tx([("INSERT OR REPLACE INTO runs(run_id, started, config, fingerprint, protocol) VALUES (?,?,?,?,?)",
                   (run_id, time.time(), json.dumps(config, default=str), fingerprint, json.dumps(protocol)))])

    def finish_run(self, run_id: str, stats: dict[str, Any]) -> None:
        self._tx([("UPDATE runs SET finished=?, stats=? WHERE run_id=?", (time.time(), json.dumps(stats), run_id))])

    def write_job(self, key: tuple[str, str, str, str, str], *, fusion: dict[str, Any] | None,
                  metrics: list[tuple[str, str, float | None, float]], failures: list[tuple[str, str]],
                  fingerprint: str, run_id: str) -> None:
        """Store one finished (dataset, item, variant) job in a single transaction."""
        now = time.time()
        st: list[tuple[str, Any]] = []
        if fusion is not None:
            st.append(("INSERT OR REPLACE INTO fusions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       (*key, fusion.get("seconds"), json.dumps(fusion.get("times", [])), fusion.get("warmup"),
                        fusion.get("repeats"), fusion.get("threads"), fusion.get("height"), fusion.get("width"),
                        fusion.get("channels"), fusion.get("n_sources"), fusion.get("cache_path"),
                        int(fusion.get("external", 0)), fingerprint, run_id, now)))
        if metrics:
            st.append(("INSERT OR IGNORE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                       [(*key, m, conv, val, sec, fingerprint, run_id, now) for m, conv, val, sec in metrics]))
            st.append(("DELETE FROM failures WHERE dataset=? AND item=? AND method=? AND params_hash=? AND version=? "
                       "AND metric=?", [(*key, m) for m, _, _, _ in metrics]))
        if fusion is not None:
            st.append(("DELETE FROM failures WHERE dataset=? AND item=? AND method=? AND params_hash=? AND version=? "
                       "AND metric=''", key))
        if failures:
            st.append(("INSERT OR REPLACE INTO failures VALUES (?,?,?,?,?,?,?,?,?)",
                       [(*key, m, msg, run_id, now) for m, msg in failures]))
        if st:
            self._tx(st)

    def delete_method(self, dataset: str, method: str, params_hash: str) -> int:
        n = self.conn.execute("SELECT COUNT(*) FROM results WHERE dataset=? AND method=? AND params_hash=?",
                              (dataset, method, params_hash)).fetchone()[0]
        self._tx([(f"DELETE FROM {t} WHERE dataset=? AND method=? AND params_hash=?", (dataset, method, params_hash))
                  for t in ("results", "fusions", "failures")])
        return int(n)

    # -------------------------------------------------------------- reading

    def done_metrics(self, dataset: str, method: str, params_hash: str, version: str) -> dict[str, set[tuple[str, str]]]:
        """``{item: {(metric, convention), ...}}`` already stored."""
        out: dict[str, set[tuple[str, str]]] = {}
        for item, m, c in self.conn.execute(
            "SELECT item, metric, convention FROM results WHERE dataset=? AND method=? AND params_hash=? AND version=?",
            (dataset, method, params_hash, version),
        ):
            out.setdefault(item, set()).add((m, c))
        return out

    def fusions_done(self, dataset: str, method: str, params_hash: str, version: str) -> dict[str, str | None]:
        return {item: path for item, path in self.conn.execute(
            "SELECT item, cache_path FROM fusions WHERE dataset=? AND method=? AND params_hash=? AND version=?",
            (dataset, method, params_hash, version))}

    def failed(self, dataset: str, method: str, params_hash: str, version: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for item, m in self.conn.execute(
            "SELECT item, metric FROM failures WHERE dataset=? AND method=? AND params_hash=? AND version=?",
            (dataset, method, params_hash, version),
        ):
            out.setdefault(item, set()).add(m)
        return out

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql, args))

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])
