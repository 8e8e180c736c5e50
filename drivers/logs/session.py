"""A session recorded by bmsdoc (`bmsdoc watch --record`): SQLite, schema in drivers/record.py's docstring.

Read-only: the file is opened with mode=ro, so analysing a recording (or a stranger's SQLite file) never
writes to it. Readings are stored as Reading.given() JSON, already in our units and sign convention (current
positive = charging). The session's family and context (series, limits) come along as analysis context.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from drivers.logs.data import LogData
from drivers.logs.text import Progress, carry_forward, monotonic
from kb.errors import UserError

NEEDED_TABLES = {"meta", "sessions", "readings"}


def _open(path: Path) -> sqlite3.Connection:
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as e:
        raise UserError(f"{path.name}: an unreadable SQLite file ({e})") from None
    if not NEEDED_TABLES <= tables:
        con.close()
        raise UserError(f"{path.name}: a SQLite file, but not a bmsdoc recording (no sessions/readings tables)")
    return con


def load(path: Path, progress: Progress | None = None, session: int | None = None) -> LogData:
    con = _open(path)
    try:
        ids = [r[0] for r in con.execute(
            "SELECT s.id FROM sessions s WHERE EXISTS (SELECT 1 FROM readings r WHERE r.session = s.id) "
            "ORDER BY s.id")]
        if not ids:
            raise UserError(f"{path.name}: the recording holds no readings")
        sid = ids[-1] if session is None else session
        if sid not in ids:
            raise UserError(f"{path.name}: no session {sid} with readings (sessions: {', '.join(map(str, ids))})")
        source, family, ctx_text = con.execute(
            "SELECT source, family, context FROM sessions WHERE id = ?", (sid,)).fetchone()
        rows = con.execute("SELECT seq, t, json FROM readings WHERE session = ? ORDER BY seq", (sid,)).fetchall()
    except sqlite3.DatabaseError as e:
        raise UserError(f"{path.name}: cannot read the recording ({e})") from None
    finally:
        con.close()
    notes = [f"session {sid} of {len(ids)} ({source})" + ("; the newest is analysed by default" if session is None
                                                          and len(ids) > 1 else "")]
    return _columns(path.name, rows, family, ctx_text, notes, progress)


def _columns(name: str, rows: list, family: str | None, ctx_text: str | None, notes: list[str],
             progress: Progress | None) -> LogData:
    n = len(rows)
    t = np.array([r[1] for r in rows], dtype=np.float64)
    volt = np.full(n, np.nan)
    cur = np.full(n, np.nan)
    mos = np.full(n, np.nan)
    cells: list[list[float]] = []
    temps: list[list[float]] = []
    for k, (seq, _, text) in enumerate(rows):  # one json.loads per reading: a session is 1-10 readings a second
        try:
            d = json.loads(text)
        except json.JSONDecodeError:
            raise UserError(f"{name}: reading {seq} is not valid JSON") from None
        c = d.get("cells") or []
        if d.get("pack_voltage") is not None:
            volt[k] = d["pack_voltage"]
        elif c:
            volt[k] = float(sum(c))
        if d.get("current") is not None:
            cur[k] = d["current"]
        if d.get("mos_temp") is not None:
            mos[k] = d["mos_temp"]
        cells.append(c)
        temps.append(d.get("temperatures") or [])
        if progress is not None and k % 4096 == 0:
            progress(k / n)
    if np.isnan(volt).all() or np.isnan(cur).all():
        raise UserError(f"{name}: the recorded readings carry no {'pack voltage' if np.isnan(volt).all() else 'current'}")
    volt, cur, mos = carry_forward(volt), carry_forward(cur), carry_forward(mos)
    first = int(np.argmax(~(np.isnan(volt) | np.isnan(cur))))
    cell_arr = _ragged(cells)
    temp_arr = _ragged(temps)
    if first:
        notes.append(f"the first {first} reading(s) lack voltage or current: skipped")
    sl = slice(first, None)
    t = monotonic(name, t[sl] - t[first], notes)
    pack_temps = {}
    if temp_arr is not None:
        pack_temps = {f"temp{j + 1}": temp_arr[sl, j] for j in range(temp_arr.shape[1])}
    if progress is not None:
        progress(1.0)
    context: dict = {}
    try:
        context = {k: v for k, v in json.loads(ctx_text or "{}").items() if v is not None}
    except (json.JSONDecodeError, AttributeError):
        notes.append("the session's context is unreadable: ignored")
    if family and "bms" not in context:
        context["bms"] = family
    return LogData(format="bmsdoc-session", source=name, t_s=t, voltage=volt[sl], current=cur[sl],
                   pack_temps=pack_temps, bms_mos_temp=None if np.isnan(mos).all() else mos[sl],
                   cells=None if cell_arr is None else cell_arr[sl], notes=notes, context=context)


def _ragged(rows: list[list[float]]) -> np.ndarray | None:
    """Rows of different lengths -> a NaN-padded array with values carried forward; None when all are empty."""
    width = max((len(r) for r in rows), default=0)
    if width == 0:
        return None
    a = np.full((len(rows), width), np.nan)
    for k, r in enumerate(rows):
        if r:
            a[k, :len(r)] = r
    return carry_forward(a)
