"""Where `bmsdoc health` reads a pack's history from: per-cell CSVs, bmsdoc recordings and fleet history (SQLite),
and any other log drivers.logs reads (VESC, LogUI, --map CSV) for the pack-level figures.

SQLite files are opened read-only (mode=ro). Each session with readings is one recording; fleet history is the
same schema with sessions named `fleet:{pack}` (drivers/mqtt/store.py), so `--pack NAME` picks a pack's sessions
(source `fleet:NAME`, a context `pack` of NAME, or NAME in the source). A session longer than a day and a half is
read a day's worth of readings at a time (by seq, through the primary key), so a fleet pack's months of history
make a trend without sitting in memory at once. Recordings are yielded one at a time.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
import warnings
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import numpy as np

from drivers.logs import cellcsv
from drivers.logs.text import carry_forward
from engine.health.data import Recording, from_log
from kb.errors import UserError

SQLITE_MAGIC = b"SQLite format 3\x00"
DAY_S = 86400.0
SPLIT_ABOVE_S = 1.5 * DAY_S
LOOKAHEAD = 2  # per-cell CSVs parsed ahead of the analysis


def _is_sqlite(p: Path) -> bool:
    try:
        with p.open("rb") as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def recordings(sources: list[str], *, pack: str | None = None, mapping: str | None = None,
               notes: list[str] | None = None) -> Iterator[Recording]:
    """Every recording of every source, in the order given (sessions oldest first).

    Per-cell CSVs are parsed up to LOOKAHEAD files ahead in a thread pool (pandas' parser releases the GIL for
    part of its work), so a month of daily files reads faster while at most a few days sit in memory."""
    notes = notes if notes is not None else []
    for src in sources:  # every argument checked before any work
        p = Path(src)
        if not p.exists():
            raise UserError(f"{src}: no such file")
        if p.is_dir():
            raise UserError(f"{src}: is a directory, not a log or recording")
    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for src in sources:
            p = Path(src)
            if _is_sqlite(p):
                yield from _drain(pending)
                yield from sessions(p, pack=pack, notes=notes)
                continue
            header = cellcsv.header_of(p)
            if mapping is None and header is not None and cellcsv.matches(header):
                pending.append(pool.submit(cellcsv.load, p))
                while len(pending) > LOOKAHEAD:
                    yield pending.popleft().result()
                continue
            yield from _drain(pending)
            from drivers.logs import load_log  # VESC, LogUI, --map CSV: pack figures only

            yield from_log(load_log(p, mapping=mapping))
        yield from _drain(pending)


def _drain(pending: deque) -> Iterator[Recording]:
    while pending:
        yield pending.popleft().result()


def sessions(path: Path, *, pack: str | None = None, notes: list[str]) -> Iterator[Recording]:
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as e:
        raise UserError(f"{path.name}: an unreadable SQLite file ({e})") from None
    try:
        if not {"sessions", "readings"} <= tables:
            notes.append(f"{path.name}: a SQLite file that is neither a bmsdoc recording nor fleet history: skipped")
            return
        rows = con.execute("SELECT s.id, s.started, s.source, s.context FROM sessions s WHERE EXISTS "
                           "(SELECT 1 FROM readings r WHERE r.session = s.id) ORDER BY s.id").fetchall()
        picked = [r for r in rows if pack is None or _is_pack(r[2], r[3], pack)]
        if pack is not None and not picked:
            known = sorted({_pack_of(r[2], r[3]) for r in rows} - {None})
            raise UserError(f"{path.name}: no recording of pack '{pack}'"
                            + (f" (packs: {', '.join(known[:8])})" if known else ""))
        for sid, started, _source, ctx in picked:
            n, s_lo, s_hi, t_lo, t_hi = con.execute(
                "SELECT COUNT(*), MIN(seq), MAX(seq), MIN(t), MAX(t) FROM readings WHERE session = ?", (sid,)).fetchone()
            ranges = [(s_lo, s_hi)]
            if t_hi - t_lo > SPLIT_ABOVE_S:  # days of history: read and analyse a day's worth of readings at a time
                per = max(2, int(n * DAY_S / (t_hi - t_lo)))
                ranges = [(a, min(a + per - 1, s_hi)) for a in range(s_lo, s_hi + 1, per)]
            for k, (a, b) in enumerate(ranges):
                cols = _columns_regex(con, sid, a, b) or _columns_blob(con, sid, a, b) or _columns_sql(con, sid, a, b)
                if cols is None:  # malformed JSON somewhere: row by row, keeping what can be read
                    cols = _columns_rows(con.execute("SELECT t, json FROM readings WHERE session = ? AND seq BETWEEN ? "
                                                     "AND ? ORDER BY seq", (sid, a, b)).fetchall())
                name = f"{path.name}#{sid}" + (f" day {k + 1}" if len(ranges) > 1 else "")
                rec = _session(name, cols, started, ctx, notes, t_lo)
                if rec is not None and rec.samples:
                    yield rec
    except sqlite3.DatabaseError as e:
        raise UserError(f"{path.name}: cannot read the recording ({e})") from None
    finally:
        con.close()


def _ctx(text: str | None) -> dict:
    try:
        d = json.loads(text or "{}")
        return d if isinstance(d, dict) else {}
    except json.JSONDecodeError:
        return {}


def _pack_of(source: str | None, ctx: str | None) -> str | None:
    c = _ctx(ctx)
    if isinstance(c.get("pack"), str):
        return c["pack"]
    if source and source.startswith("fleet:"):
        return source[len("fleet:"):]
    return None


def _is_pack(source: str | None, ctx: str | None, pack: str) -> bool:
    return _pack_of(source, ctx) == pack or (source is not None and pack in source)


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


SQL_COLUMNS = ("SELECT t, json_extract(json, '$.current'), json_extract(json, '$.pack_voltage'), "
               "json_extract(json, '$.soc'), json_extract(json, '$.balancing'), json_extract(json, '$.balance_current'), "
               "json_extract(json, '$.cells'), json_extract(json, '$.temperatures') "
               "FROM readings WHERE session = ? AND seq BETWEEN ? AND ? ORDER BY seq")


def _floats(col: tuple) -> np.ndarray:
    """Numbers (None -> NaN); anything else (a string) is NaN too, found the slow way."""
    try:
        return np.array(col, dtype=np.float64)
    except (TypeError, ValueError):
        return np.array([float(x) if isinstance(x, (int, float)) else np.nan for x in col], dtype=np.float64)


def _lists(col: tuple, reduce_max: bool = False) -> np.ndarray | None:
    """JSON number lists as text ('[3.31,3.32]') -> a (rows, width) array, NaN rows where missing; None when the
    rows differ in width or hold anything but numbers (then the row-by-row reader decides)."""
    idx = [k for k, s in enumerate(col) if isinstance(s, str) and len(s) > 2]
    if not idx:
        return np.empty((len(col), 0))
    widths = {col[k].count(",") + 1 for k in idx}
    if len(widths) != 1:
        return None
    width = widths.pop()
    body = ",".join(col[k][1:-1] for k in idx)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns (then stops) at the first token that is not a number
            vals = np.fromstring(body, dtype=np.float64, sep=",")
    except (ValueError, DeprecationWarning):
        return None
    if vals.size != width * len(idx) or not np.isfinite(vals).all():
        return None
    out = np.full((len(col), width), np.nan)
    out[idx] = vals.reshape(len(idx), width)
    return out


_X = "ifnull(json_extract(json, '$.{0}'), 'nan')"
SQL_BLOB = ("SELECT count(*), group_concat(line, ',') FROM (SELECT t || ',' || " + _X.format("current") + " || ',' || "
            + _X.format("pack_voltage") + " || ',' || " + _X.format("soc") + " || ',' || "
            "ifnull(json_extract(json, '$.balancing'), ifnull(abs(json_extract(json, '$.balance_current')) > 0.01, 'nan'))"
            " || ',' || ifnull(substr(json_extract(json, '$.cells'), 2, length(json_extract(json, '$.cells')) - 2), '')"
            " AS line FROM readings WHERE session = ? AND seq BETWEEN ? AND ? ORDER BY seq)")
BLOB_FIXED = 5  # t, current, pack_voltage, soc, balancing; then the cells


_NUM = r"(-?[0-9][0-9.eE+-]*|null|true|false)"
_KEYS = {k: re.compile(rf'"{k}": {_NUM}') for k in ("current", "pack_voltage", "soc", "balancing")}  # json.dumps' spacing
_CELLS = re.compile(r'"cells": \[([^\]]*)\]')


def _column(found: list[str], n: int) -> np.ndarray | None:
    if not found:
        return np.full(n, np.nan)
    if len(found) != n:
        return None
    text = ",".join(found).replace("null", "nan").replace("true", "1").replace("false", "0")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            a = np.fromstring(text, dtype=np.float64, sep=",")
    except (ValueError, DeprecationWarning):
        return None
    return a if a.size == n else None


def _columns_regex(con: sqlite3.Connection, sid: int, lo: int, hi: int) -> dict | None:
    """The fastest way through a long recording: the readings' JSON texts of a day joined into one, each field found
    by a compiled pattern (one per reading, else None) and parsed by numpy's C reader. Anything irregular (a field
    missing from some readings, a nested list, another cell count) returns None and the JSON readers below decide."""
    rows = con.execute("SELECT t, json FROM readings WHERE session = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                       (sid, lo, hi)).fetchall()
    n = len(rows)
    if n == 0:
        return None
    t = np.fromiter((r[0] for r in rows), dtype=np.float64, count=n)
    big = "\n".join(r[1] for r in rows)
    del rows
    cols = {}
    for key, rx in _KEYS.items():
        c = _column(rx.findall(big), n)
        if c is None:
            return None
        cols[key] = c
    cells = _CELLS.findall(big)
    if len(cells) != n or not cells[0].strip():
        return None
    width = cells[0].count(",") + 1
    import pandas as pd  # its C reader parses the cell lists about twice as fast as np.fromstring

    try:
        a = pd.read_csv(io.StringIO("\n".join(cells)), header=None, dtype=np.float64, engine="c").to_numpy()
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if a.shape != (n, width) or not np.isfinite(a).all():
        return None
    return {"t": t, "cur": cols["current"], "pv": cols["pack_voltage"], "soc": cols["soc"], "bal": cols["balancing"],
            "temp": np.full(n, np.nan), "cells": a}


def _columns_blob(con: sqlite3.Connection, sid: int, lo: int, hi: int) -> dict | None:
    """The fastest way through a long recording: SQLite writes the numbers of a day's readings as one text, numpy's C
    reader parses it. Any irregularity (a reading without cells, another cell count, a non-number) returns None and
    the per-column reader below decides."""
    try:
        first = con.execute("SELECT json_array_length(json, '$.cells') FROM readings WHERE session = ? AND seq >= ? "
                            "ORDER BY seq LIMIT 1", (sid, lo)).fetchone()
        width = int(first[0]) if first and first[0] else 0
        if width == 0:
            return None
        n, text = con.execute(SQL_BLOB, (sid, lo, hi)).fetchone()
    except sqlite3.OperationalError:  # malformed JSON
        return None
    if not n or not text:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            vals = np.fromstring(text, dtype=np.float64, sep=",")
    except (ValueError, DeprecationWarning):
        return None
    cols = BLOB_FIXED + width
    if vals.size != n * cols:
        return None
    a = vals.reshape(n, cols)
    return {"t": a[:, 0].copy(), "cur": a[:, 1].copy(), "pv": a[:, 2].copy(), "soc": a[:, 3].copy(),
            "bal": a[:, 4].copy(), "temp": np.full(n, np.nan), "cells": a[:, BLOB_FIXED:].copy()}


def _columns_sql(con: sqlite3.Connection, sid: int, lo: int, hi: int) -> dict | None:
    """The readings' fields pulled out by SQLite's JSON functions: no json.loads per reading (a month at 1 Hz is
    2.6 M readings)."""
    try:
        rows = con.execute(SQL_COLUMNS, (sid, lo, hi)).fetchall()
    except sqlite3.OperationalError:  # malformed JSON
        return None
    if not rows:
        return None
    t, cur, pv, soc, bal, bcur, cells, temps = zip(*rows)
    c = _lists(cells)
    tt = _lists(temps)
    if c is None or tt is None:
        return None
    b = _floats(bal)
    bc = _floats(bcur)
    b = np.where(np.isfinite(b), b, np.where(np.isfinite(bc), (np.abs(bc) > 0.01).astype(float), np.nan))
    with np.errstate(all="ignore"):
        temp = np.nanmax(tt, axis=1) if tt.shape[1] and np.isfinite(tt).any() else np.full(len(rows), np.nan)
    return {"t": np.array(t, dtype=np.float64), "cur": _floats(cur), "pv": _floats(pv), "soc": _floats(soc),
            "bal": b, "temp": temp, "cells": c}


def _columns_rows(rows: list) -> dict:
    n = len(rows)
    t = np.empty(n)
    cur = np.full(n, np.nan)
    pv = np.full(n, np.nan)
    soc = np.full(n, np.nan)
    temp = np.full(n, np.nan)
    bal = np.full(n, np.nan)
    cells: list[list[float]] = []
    for k, (tk, text) in enumerate(rows):
        t[k] = tk
        try:
            d = json.loads(text)
        except json.JSONDecodeError:
            d = {}
        c = d.get("cells")
        cells.append(c if isinstance(c, list) else [])
        for arr, key in ((cur, "current"), (pv, "pack_voltage"), (soc, "soc")):
            x = d.get(key)
            if isinstance(x, (int, float)):
                arr[k] = x
        b = d.get("balancing")
        if isinstance(b, bool):
            bal[k] = float(b)
        elif isinstance(d.get("balance_current"), (int, float)):
            bal[k] = float(abs(d["balance_current"]) > 0.01)
        tt = d.get("temperatures")
        if isinstance(tt, list) and tt and all(isinstance(x, (int, float)) for x in tt):
            temp[k] = max(tt)
    width = max((len(c) for c in cells), default=0)
    a = np.full((n, width), np.nan)
    for k, c in enumerate(cells):
        if len(c) == width:
            try:
                a[k] = c
            except (TypeError, ValueError):
                pass
    return {"t": t, "cur": cur, "pv": pv, "soc": soc, "bal": bal, "temp": temp, "cells": a}


def _session(name: str, cols: dict, started: str | None, ctx: str | None, notes: list[str],
             t_origin: float) -> Recording | None:
    """One recording from the columns; t_origin is the session's first t (a day of a longer session starts later)."""
    t, cur, pv, soc, bal, temp, a = (cols[k] for k in ("t", "cur", "pv", "soc", "bal", "temp", "cells"))
    width = a.shape[1]
    if np.isnan(cur).all():
        notes.append(f"{name}: no current recorded: skipped")
        return None
    a, cur = carry_forward(a), carry_forward(cur)
    t0 = float(t[0])
    t = np.maximum.accumulate(t - t0)
    ok = np.isfinite(cur) & (np.isfinite(a).all(axis=1) if width else True)
    context = _ctx(ctx)
    return Recording(name=name, t_s=t[ok], current=cur[ok], cells=a[ok],
                     pack_v=None if np.isnan(pv).all() else carry_forward(pv)[ok],
                     temp_c=None if np.isnan(temp).all() else carry_forward(temp)[ok],
                     soc=None if np.isnan(soc).all() else carry_forward(soc)[ok] / 100.0,
                     balancing=None if np.isnan(bal).all() else carry_forward(bal)[ok] > 0.5,
                     started=None if _epoch(started) is None else _epoch(started) + (t0 - t_origin), context=context)
