"""Pack-health figures: a month of 1 Hz recordings of one 20S Li-ion pack (30 daily per-cell CSVs, 2,592,000 rows),
generated here by engine/health/synth.py (rides, rests and overnight charges; resistance creeping up 1 % a day,
one cell group at twice the resistance and another at 85 % capacity).

Prints, measured in a fresh subprocess (time inside it, peak memory = its VmHWM, else ru_maxrss):
  read      reading every file's bytes (the floor)
  health    `bmsdoc health`'s path (tui.commands.health.health_of): parse, steps, rests, capacity, trends, findings
and whether the month's verdicts name the two cells. Goals: health under 10 s and under 500 MB.

  .venv/bin/python bench/bench_health.py [--days 30] [--keep DIR] [--sqlite]   (a kept DIR is reused by the next run)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DAY = 86400
GOAL_S, GOAL_MB = 10.0, 500.0
HIGH_R, LOW_CAP = 6, 15


def generate_sqlite(out: Path, days: int) -> list[Path]:
    """The same month as one fleet-history session (drivers/mqtt/store.py's shape: source fleet:NAME, readings as
    Reading.given() JSON), written with plain sqlite3 in drivers/record.py's schema."""
    import sqlite3

    db = out / "fleet.sqlite"
    if db.exists():
        return [db]
    csvs = sorted(out.glob("day-*.csv"))[:days]
    if len(csvs) < days:
        csvs = generate(out, days)
    from drivers.logs import cellcsv

    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        CREATE TABLE sessions (id INTEGER PRIMARY KEY, started TEXT NOT NULL, source TEXT NOT NULL, family TEXT,
                               kb_version TEXT, context TEXT, ended TEXT);
        CREATE TABLE readings (session INTEGER NOT NULL, seq INTEGER NOT NULL, t REAL NOT NULL, json TEXT NOT NULL,
                               PRIMARY KEY (session, seq));
        CREATE TABLE findings (id INTEGER PRIMARY KEY, session INTEGER, t REAL, seq INTEGER, rule TEXT,
                               severity TEXT, json TEXT, cleared REAL);
        CREATE TABLE events (session INTEGER, t REAL, kind TEXT, detail TEXT);
        INSERT INTO meta VALUES ('schema_version', '1');
        INSERT INTO sessions VALUES (1, '2026-10-28T07:33:20+00:00', 'fleet:bench-pack', 'jk', '1.0.0', '{}', NULL);""")
    seq = 0
    for d, f in enumerate(csvs):
        rec = cellcsv.load(f)
        cells = [",".join(f"{v:.3f}" for v in row) for row in rec.cells]
        rows = [(1, seq + k, d * DAY + float(rec.t_s[k]),
                 f'{{"cells": [{cells[k]}], "current": {rec.current[k]:.2f}, "soc": {rec.soc[k] * 100:.1f}, '
                 f'"temperatures": [{rec.temp_c[k]:.1f}], "balancing": false}}') for k in range(rec.samples)]
        con.executemany("INSERT INTO readings VALUES (?, ?, ?, ?)", rows)
        seq += rec.samples
    con.commit()
    con.close()
    return [db]


def generate(out: Path, days: int) -> list[Path]:
    from engine.health import synth

    pack = synth.make_pack(20, "li-ion", high_r=HIGH_R, low_capacity=LOW_CAP, seed=2026)
    rng = np.random.default_rng(7)
    start = 1_793_000_000.0  # a November morning, Unix seconds
    files = []
    for d in range(days):
        cur = synth.cycle(pack, seed=d, soc_floor=float(rng.uniform(0.12, 0.45)), rest_s=1500)
        cur = np.concatenate((cur, np.zeros(max(0, DAY - len(cur)))))[:DAY]
        rec = synth.simulate(pack, cur, seed=d, started=start + d * DAY, name=f"day-{d + 1:02d}.csv")
        files.append(synth.write_csv(rec, out / f"day-{d + 1:02d}.csv"))
        pack.r0_ohm = pack.r0_ohm * 1.01  # ageing
        pack.soc = np.minimum(pack.soc, 1.0)
    return files


CHILD = textwrap.dedent("""
    import json, resource, sys, time
    sys.path.insert(0, {root!r})
    files = {files!r}
    t0 = time.perf_counter()
    if {mode!r} == "read":
        n = 0
        for f in files:  # in 16 MB pieces: the floor is the disk, not the memory
            with open(f, "rb") as fh:
                while chunk := fh.read(1 << 24):
                    n += len(chunk)
        out = {{"bytes": n}}
    else:
        from tui.commands.health import health_of
        import pandas, drivers.health_sources, engine.health
        from kb.load import load_kb
        load_kb()
        out0 = time.perf_counter() - t0
        rep = health_of(files)
        d = rep.to_json()
        out = {{"rows": d["pack"]["samples"], "flagged": [[c["cell"], c["verdict"]] for c in d["cells"]
                if c["verdict"] != "ok"], "findings": [f["rule"] for f in d["findings"]],
               "cycles": d["pack"]["equivalent_full_cycles"], "wh_out": d["pack"]["wh_out"]}}
    out["seconds"] = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu"] = ru.ru_utime + ru.ru_stime
    out["startup"] = out0 if {mode!r} != "read" else 0.0
    try:  # VmHWM: this process's own peak (ru_maxrss may count the parent's pages from before exec)
        hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        out["peak_mb"] = int(hwm.split()[1]) / 1024
    except (OSError, StopIteration):
        out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
""")


def measure(mode: str, files: list[Path]) -> dict:
    code = CHILD.format(root=str(ROOT), files=[str(f) for f in files], mode=mode)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--keep", metavar="DIR", help="write the CSVs here and keep them")
    ap.add_argument("--sqlite", action="store_true", help="the month as one fleet-history session in SQLite instead")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep or tmp)
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        files = sorted(out.glob("day-*.csv"))[:args.days]
        if len(files) < args.days:  # a --keep DIR from an earlier run is reused
            files = generate(out, args.days)
        if args.sqlite:
            files = generate_sqlite(out, args.days)
        size = sum(f.stat().st_size for f in files) / 1e6
        print(f"generated {args.days} days, {args.days * DAY:,} rows, {size:.0f} MB of {'SQLite' if args.sqlite else 'CSV'} in "
              f"{time.perf_counter() - t0:.1f} s")
        read = measure("read", files)
        h = measure("health", files)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a shared machine inflates the times)")
    print(f"read      {read['seconds']:6.2f} s  {read['peak_mb']:6.0f} MB peak")
    print(f"health    {h['seconds']:6.2f} s  {h['peak_mb']:6.0f} MB peak   (CPU {h['cpu']:.2f} s; imports + knowledge "
          f"base {h['startup']:.2f} s of the wall time; {h['rows']:,} rows; "
          f"goal < {GOAL_S:.0f} s and < {GOAL_MB:.0f} MB: {'met' if h['seconds'] < GOAL_S and h['peak_mb'] < GOAL_MB else 'MISSED'})")
    print(f"verdicts  {h['flagged']} (truth: cell {HIGH_R} high-resistance, cell {LOW_CAP} low-capacity)")
    print(f"findings  {sorted(set(h['findings']))}; {h['cycles']} equivalent full cycles, {h['wh_out']} Wh out")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
