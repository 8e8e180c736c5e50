"""Recorded live sessions in SQLite: what was read, what was found, when, against which knowledge-base version.

Where: `--record FILE`, else sessions.sqlite in the user's data directory (BMSDOC_DATA_DIR overrides it, else
platformdirs.user_data_path("bmsdoc")). One file holds many sessions.

Durability: WAL journal, synchronous=NORMAL, and a commit at least every second while data is pending (a timer
commits a quiet stream too). A crash or `kill -9` loses at most the last second; committed data is never damaged
(SQLite's WAL recovery on the next open). A session whose `ended` is NULL was interrupted.

Schema (version 1; times in seconds on the stream's clock unless noted):

    meta(key TEXT PRIMARY KEY, value TEXT)                  -- schema_version
    sessions(id INTEGER PRIMARY KEY,
             started TEXT,      -- ISO 8601 UTC wall time of the start
             source TEXT,       -- "demo:jk/healthy-ride", "ble:C8:47:8C:10:20:30"
             family TEXT,       -- jk | jbd | ant | daly | NULL
             kb_version TEXT,   -- the knowledge base the findings came from
             context TEXT,      -- JSON: the settings/context the rider gave (series, regen_limit, ...)
             ended TEXT)        -- ISO 8601 UTC, NULL while recording or after a crash
    readings(session INTEGER, seq INTEGER, t REAL,
             json TEXT,         -- Reading.given(): canonical field names and units (kb.fields), current + = charging
             PRIMARY KEY (session, seq))
    findings(id INTEGER PRIMARY KEY, session INTEGER,
             t REAL,            -- when the finding appeared (t of the reading it first appeared on)
             seq INTEGER,       -- that reading's seq
             rule TEXT, severity TEXT,
             json TEXT,         -- Finding.to_json() as first seen
             cleared REAL)      -- t of the first reading without it (NULL: still active at the end)
    events(session INTEGER, t REAL, kind TEXT, detail TEXT)   -- connected / disconnected / reconnecting / error

A finding whose severity changes is cleared and raised again. Readers: `sessions()`, `load()`, `export()`.

One recorder per file: a Recorder holds an exclusive advisory lock (flock) on the database file for as long as
it is open, and a second recorder on the same file (another `watch --record`, the app) is refused with a clear
message instead of both fighting over SQLite's write lock (which made each lose readings while the busy wait
blocked the event loop). Readers never take that lock. A write that fails (disk full, I/O error) ends the
recording: what was committed stays, the session is left without `ended` (interrupted), and RecordingStopped
says so in one line.

Readers open the file read-only (`mode=ro`): they never create tables or switch another program's database to
WAL, and a file that is not a bmsdoc recording (no `meta.schema_version`, no `sessions` table) is refused.
Exports are written atomically (temporary file + rename) and never over the recording they come from.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.datadir import umask_mode
from kb.errors import UserError
from kb.schema import SEVERITY_ORDER

SCHEMA_VERSION = "1"
DB_NAME = "sessions.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY, started TEXT NOT NULL, source TEXT NOT NULL, family TEXT, kb_version TEXT,
    context TEXT, ended TEXT);
CREATE TABLE IF NOT EXISTS readings (
    session INTEGER NOT NULL REFERENCES sessions(id), seq INTEGER NOT NULL, t REAL NOT NULL, json TEXT NOT NULL,
    PRIMARY KEY (session, seq));
CREATE TABLE IF NOT EXISTS findings (
    id INTEGER PRIMARY KEY, session INTEGER NOT NULL REFERENCES sessions(id), t REAL NOT NULL, seq INTEGER,
    rule TEXT NOT NULL, severity TEXT NOT NULL, json TEXT NOT NULL, cleared REAL);
CREATE INDEX IF NOT EXISTS findings_session ON findings(session, t);
CREATE TABLE IF NOT EXISTS events (
    session INTEGER NOT NULL REFERENCES sessions(id), t REAL NOT NULL, kind TEXT NOT NULL, detail TEXT);
"""


def default_path() -> Path:
    from engine.datadir import data_dir

    return data_dir() / DB_NAME


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RecordingStopped(UserError):
    """A write failed (disk full, I/O error): the recording ended; the session stays marked interrupted."""


SQLITE_MAGIC = b"SQLite format 3\x00"


def _connect(path: Path, *, create: bool) -> sqlite3.Connection:
    if not create:
        return _connect_ro(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > 0 and not _is_recording(path):
            raise UserError(f"{path} is not a bmsdoc recording (another program's file?): record to a new file")
        con = sqlite3.connect(path, timeout=1.0, isolation_level=None)  # explicit transactions below
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.executescript(_SCHEMA)
        con.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
    except sqlite3.DatabaseError as e:
        raise UserError(f"{path} is not a bmsdoc recording database ({e})") from None
    except OSError as e:
        raise UserError(f"cannot open {path}: {e.strerror or e}") from None
    return con


def _is_recording(path: Path) -> bool:
    """A bmsdoc recording: SQLite with meta.schema_version and a sessions table (checked read-only)."""
    try:
        with path.open("rb") as f:
            if f.read(16) != SQLITE_MAGIC:
                return False
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"meta", "sessions", "readings", "findings", "events"} <= tables:
                return False
            return con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() is not None
        finally:
            con.close()
    except (OSError, sqlite3.Error):
        return False


def _connect_ro(path: Path) -> sqlite3.Connection:
    """Open a recording read-only, after making sure it is one."""
    if not path.exists():
        raise UserError(f"no recordings at {path} (record one with: bmsdoc watch --demo --record {path})")
    if path.is_dir():
        raise UserError(f"{path} is a directory, not a recording")
    if not _is_recording(path):
        raise UserError(f"{path} is not a bmsdoc recording (give a file written by bmsdoc watch --record)")
    try:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error as e:
        raise UserError(f"cannot open {path}: {e}") from None


def _lock_exclusive(path: Path) -> int | None:
    """An exclusive flock on the database file, held while recording (None where flock does not exist)."""
    try:
        import fcntl
    except ImportError:
        return None
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UserError(f"{path} is being recorded by another bmsdoc already: record to another file "
                        "(--record OTHER.sqlite) or stop the other recording first") from None
    except OSError:
        os.close(fd)
        return None
    return fd


class Recorder:
    """Writes one session. Use as a context manager, or call close(); both mark the session ended."""

    def __init__(self, path: str | Path | None = None, *, commit_interval: float = 1.0) -> None:
        self.path = Path(path) if path else default_path()
        self.commit_interval = commit_interval
        self.con = _connect(self.path, create=True)
        try:
            self._lock_fd = _lock_exclusive(self.path)
        except UserError:
            self.con.close()
            raise
        self.stopped: str | None = None  # why the recording ended early (disk full, I/O error)
        self.session: int | None = None
        self._in_tx = False
        self._last_commit = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._active: dict[str, tuple[int, str]] = {}  # rule -> (finding row id, severity)
        self._last_t = 0.0
        self.readings = 0
        self.committed = 0  # readings known to be on disk

    # ------------------------------------------------------------------ writing

    def _write(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        """Every write goes through here: a failing write (disk full, I/O error) stops the recording cleanly."""
        if self.stopped is not None or self.con is None:
            raise RecordingStopped(self.stopped or "the recording is closed")
        try:
            return self.con.execute(sql, params)
        except sqlite3.OperationalError as e:  # SQLITE_FULL, SQLITE_IOERR, a lock held too long
            self._stop(e)
            raise RecordingStopped(self.stopped) from None

    def _stop(self, e: Exception) -> None:
        text = str(e)
        low = text.lower()
        why = ("the disk is full" if "full" in low else
               "another program kept the database locked (record to a file of its own)" if "locked" in low or "busy" in low
               else f"the database failed ({text})")
        self.stopped = (f"recording stopped: {why}; the {self.committed} readings saved until then are kept and "
                        f"session {self.session} is marked interrupted in {self.path}")
        self._timer_cancel()
        try:
            if self.con.in_transaction:
                self.con.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        self._in_tx = False

    def _timer_cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def start(self, source: str, *, family: str | None = None, kb_version: str | None = None,
              context: Mapping[str, Any] | None = None) -> int:
        cur = self._write(
            "INSERT INTO sessions(started, source, family, kb_version, context) VALUES (?, ?, ?, ?, ?)",
            (_now_iso(), source, family, kb_version, json.dumps(dict(context or {}), default=str)))
        self.session = int(cur.lastrowid)
        return self.session

    def _begin(self) -> None:
        if self.session is None:
            raise RuntimeError("Recorder.start() first")
        if not self._in_tx:
            self._write("BEGIN")
            self._in_tx = True

    def _written(self) -> None:
        elapsed = time.monotonic() - self._last_commit
        if elapsed >= self.commit_interval:
            self.flush()
            return
        if self._timer is None:  # make sure a quiet stream is committed within the interval too
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._timer = loop.call_later(self.commit_interval - elapsed, self._timed_flush)

    def _timed_flush(self) -> None:
        self._timer = None
        try:
            self.flush()
        except RecordingStopped:
            pass  # self.stopped is set: the next add_* call raises it where the caller can report it

    def add_reading(self, seq: int, t: float, reading: Any) -> None:
        data = reading.given() if hasattr(reading, "given") else dict(reading)
        self._begin()
        self._write("INSERT INTO readings(session, seq, t, json) VALUES (?, ?, ?, ?)",
                         (self.session, seq, float(t), json.dumps(data, ensure_ascii=False, default=str)))
        self.readings += 1
        self._last_t = float(t)
        self._written()

    def add_findings(self, seq: int, t: float, findings: Iterable[Any]) -> tuple[list[Any], list[str]]:
        """Record the findings of one reading. Returns (raised findings, cleared rule ids) against the last call."""
        now: dict[str, Any] = {}
        for f in findings:
            now[f.rule] = f
        raised: list[Any] = []
        cleared: list[str] = []
        self._begin()
        for rule, (row, sev) in list(self._active.items()):
            if rule not in now or now[rule].severity != sev:
                self._write("UPDATE findings SET cleared = ? WHERE id = ?", (float(t), row))
                del self._active[rule]
                cleared.append(rule)
        for rule, f in now.items():
            if rule in self._active:
                continue
            data = f.to_json() if hasattr(f, "to_json") else dict(f)
            cur = self._write(
                "INSERT INTO findings(session, t, seq, rule, severity, json) VALUES (?, ?, ?, ?, ?, ?)",
                (self.session, float(t), seq, rule, f.severity, json.dumps(data, ensure_ascii=False, default=str)))
            self._active[rule] = (int(cur.lastrowid), f.severity)
            raised.append(f)
        self._written()
        return raised, [r for r in cleared if r not in now]  # a severity change shows as raised, not cleared

    def add_event(self, t: float, kind: str, detail: str = "") -> None:
        self._begin()
        self._write("INSERT INTO events(session, t, kind, detail) VALUES (?, ?, ?, ?)",
                         (self.session, float(t), kind, detail))
        self.flush()  # connection changes are rare and worth keeping at once

    def add_live_event(self, ev: Any, findings: Iterable[Any] = ()) -> None:
        """Record one drivers.live event: a reading with the findings of its check, or a status event."""
        if ev.kind == "reading":
            self.add_reading(ev.seq, ev.t, ev.reading)
            self.add_findings(ev.seq, ev.t, findings)
        else:
            self.add_event(ev.t, ev.kind, ev.detail)

    def flush(self) -> None:
        self._timer_cancel()
        if self.stopped is not None:
            return  # called by the commit timer after a failed write: nothing more to commit
        if self._in_tx:
            self._write("COMMIT")
            self._in_tx = False
        self.committed = self.readings
        self._last_commit = time.monotonic()

    def close(self) -> None:
        """Mark the session ended and release the file. After a failed write the session stays interrupted."""
        if self.con is None:
            return
        try:
            if self.session is not None and self.stopped is None:
                try:
                    self._begin()
                    self._write("UPDATE sessions SET ended = ? WHERE id = ?", (_now_iso(), self.session))
                    self.flush()
                except RecordingStopped:
                    pass  # the disk filled up at the very end: the data so far is kept, the session interrupted
        finally:
            self._timer_cancel()
            self.con.close()
            self.con = None  # type: ignore[assignment]
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ---------------------------------------------------------------------- reading back


@dataclass
class SessionInfo:
    id: int
    started: str
    ended: str | None
    source: str
    family: str | None
    kb_version: str | None
    readings: int
    findings: int
    duration: float  # seconds between the first and the last reading
    worst: str | None  # the most severe finding raised
    context: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "started": self.started, "ended": self.ended, "interrupted": self.ended is None,
                "source": self.source, "family": self.family, "kb_version": self.kb_version,
                "readings": self.readings, "findings": self.findings, "duration": round(self.duration, 3),
                "worst": self.worst, "context": self.context}


@dataclass
class RecordedSession:
    info: SessionInfo
    readings: list[dict[str, Any]]  # {"seq", "t", "reading"}
    findings: list[dict[str, Any]]  # {"t", "seq", "rule", "severity", "cleared", "finding"}
    events: list[dict[str, Any]]  # {"t", "kind", "detail"}

    def to_json(self) -> dict[str, Any]:
        return {"session": self.info.to_json(), "readings": self.readings, "findings": self.findings,
                "events": self.events}


def sessions(path: str | Path | None = None) -> list[SessionInfo]:
    """Every recorded session, newest first."""
    con = _connect(Path(path) if path else default_path(), create=False)
    try:
        rows = con.execute("""
            SELECT s.id, s.started, s.ended, s.source, s.family, s.kb_version, s.context,
                   (SELECT COUNT(*) FROM readings r WHERE r.session = s.id),
                   (SELECT COUNT(*) FROM findings f WHERE f.session = s.id),
                   (SELECT COALESCE(MAX(t) - MIN(t), 0) FROM readings r WHERE r.session = s.id)
            FROM sessions s ORDER BY s.id DESC""").fetchall()
        out = []
        for r in rows:
            sevs = [x[0] for x in con.execute("SELECT DISTINCT severity FROM findings WHERE session = ?", (r[0],))]
            worst = min(sevs, key=lambda s: SEVERITY_ORDER.get(s, 9)) if sevs else None
            out.append(SessionInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[7], r[8], float(r[9] or 0.0), worst,
                                   _json_or(r[6], {})))
        return out
    finally:
        con.close()


def load(session_id: int, path: str | Path | None = None) -> RecordedSession:
    con = _connect(Path(path) if path else default_path(), create=False)
    try:
        info = next((s for s in sessions(con_path(con)) if s.id == session_id), None)
        if info is None:
            raise UserError(f"no recorded session {session_id} (bmsdoc history lists them)")
        readings = [{"seq": s, "t": t, "reading": _json_or(j, {})} for s, t, j in con.execute(
            "SELECT seq, t, json FROM readings WHERE session = ? ORDER BY seq", (session_id,))]
        findings = [{"t": t, "seq": s, "rule": r, "severity": v, "cleared": c, "finding": _json_or(j, {})}
                    for t, s, r, v, c, j in con.execute(
                        "SELECT t, seq, rule, severity, cleared, json FROM findings WHERE session = ? ORDER BY t, id",
                        (session_id,))]
        events = [{"t": t, "kind": k, "detail": d} for t, k, d in con.execute(
            "SELECT t, kind, detail FROM events WHERE session = ? ORDER BY rowid", (session_id,))]
        return RecordedSession(info, readings, findings, events)
    finally:
        con.close()


def _json_or(text: Any, default: Any) -> Any:
    """A stored JSON column; a damaged one reads as `default` with a marker rather than failing the listing."""
    if text is None:
        return default
    from kb import untrusted

    try:
        value = untrusted.loads_json(str(text), what="stored value")
    except (ValueError, UserError):
        return {"_unreadable": untrusted.shown(str(text), 80)} if isinstance(default, dict) else default
    return value if isinstance(value, type(default)) else default


def con_path(con: sqlite3.Connection) -> Path:
    return Path(con.execute("PRAGMA database_list").fetchone()[2])


def _active_at(findings: list[dict[str, Any]], seq: int) -> list[str]:
    return [f"{f['rule']}:{f['severity']}" for f in findings
            if f["seq"] is not None and f["seq"] <= seq and (f["cleared_seq"] is None or seq < f["cleared_seq"])]


def export(session_id: int, out: str | Path, path: str | Path | None = None) -> int:
    """Write one session to FILE.csv (one row per reading) or FILE.json (everything). Returns the readings written.
    The file is written atomically and never over the recording it comes from."""
    import tempfile

    out = Path(out)
    src = Path(path) if path else default_path()
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise UserError(f"export to .csv or .json, not '{out.name}'")
    if _same_file(out, src) or any(_same_file(out, Path(str(src) + x)) for x in ("-wal", "-shm", "-journal")):
        raise UserError(f"--export {out} is the recording itself: give another file name")
    if out.exists() and _is_recording(out):
        raise UserError(f"--export {out} is a bmsdoc recording: give another file name")
    s = load(session_id, src)
    tmp = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
        umask_mode(tmp)
        tmp_path = Path(tmp)
        if suffix == ".json":
            tmp_path.write_text(_clean(json.dumps(s.to_json(), indent=2, ensure_ascii=False, default=str)) + "\n",
                                encoding="utf-8")
        else:
            _write_csv(s, tmp_path)
        with tmp_path.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, out)
        tmp = None
    except OSError as e:
        raise UserError(f"cannot write {out}: {e.strerror or e} (nothing was changed)") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return len(s.readings)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _clean(text: str) -> str:
    from kb.untrusted import clean

    return clean(text)


def _write_csv(s: RecordedSession, out: Path) -> None:
    from kb.fields import FIELDS

    # which reading seq a finding was cleared on: the first reading at or after its cleared time
    t_to_seq = [(r["t"], r["seq"]) for r in s.readings]
    for f in s.findings:
        f["cleared_seq"] = next((q for t, q in t_to_seq if f["cleared"] is not None and t >= f["cleared"]), None)
    lists = {"cells": 0, "temperatures": 0}
    scalars: list[str] = []
    for r in s.readings:
        for k, v in r["reading"].items():
            if k in lists:
                lists[k] = max(lists[k], len(v))
            elif k not in scalars:
                scalars.append(k)
    order = {name: i for i, name in enumerate(FIELDS)}
    scalars.sort(key=lambda k: order.get(k, len(order)))
    header = (["seq", "t"] + scalars + [f"cell_{i + 1}" for i in range(lists["cells"])]
              + [f"temp_{i + 1}" for i in range(lists["temperatures"])] + ["findings"])
    with out.open("w", newline="", encoding="utf-8", errors="replace") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in s.readings:
            rd = r["reading"]
            cells = list(rd.get("cells") or [])
            temps = list(rd.get("temperatures") or [])
            w.writerow([r["seq"], r["t"]] + [_cell(rd.get(k)) for k in scalars]
                       + cells + [""] * (lists["cells"] - len(cells))
                       + temps + [""] * (lists["temperatures"] - len(temps))
                       + [" ".join(_active_at(s.findings, r["seq"]))])


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v
