"""Fleet history in SQLite: one recording session per pack in the recordings database, so `bmsdoc history`
lists the packs beside the `watch --record` sessions (source `fleet:{pack}`).

It writes the tables of drivers.record (sessions, readings, findings, events; times t in seconds since the
pack's session started) plus one table of its own for the live overview:

    fleet_packs(pack TEXT PRIMARY KEY, session INTEGER, t0 REAL,   -- t0: the session's start, Unix seconds
                status TEXT, last_seen REAL, checked REAL,          -- Unix seconds
                findings TEXT, questions TEXT)                      -- JSON as last published

A transition (a finding raised or cleared, stale / fresh) is committed at once with the reading that caused it;
the overview is written in batches every second. Several workers may share one file (SQLite locking, WAL): a
finding is cleared by rule in SQL, not by a row id one process remembers.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drivers import record
from kb.errors import UserError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fleet_packs (
    pack TEXT PRIMARY KEY, session INTEGER NOT NULL, t0 REAL NOT NULL, status TEXT, last_seen REAL,
    checked REAL, findings TEXT, questions TEXT);
"""
SOURCE_PREFIX = "fleet:"
FLUSH_ROWS = 200  # overview rows per flush call (~5 ms)


def _open(path: Path, create: bool) -> sqlite3.Connection:
    con = record._connect(path, create=create)  # the recordings schema, WAL, one-line errors
    if create:
        con.executescript(_SCHEMA)
        return con
    # readers get a read-only connection (drivers.record): the fleet table must already be there
    if con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'fleet_packs'").fetchone() is None:
        con.close()
        raise UserError(f"no fleet data in {path} (start the service with: bmsdoc fleet --broker mqtt://HOST)")
    return con


@contextmanager
def _tx(con: sqlite3.Connection):
    """One explicit transaction (the recordings connection runs in autocommit mode)."""
    con.execute("BEGIN")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


def _text(data: Any) -> str | None:
    if data is None or isinstance(data, str):
        return data
    return data.decode() if isinstance(data, bytes) else _dumps(data)


class FleetStore:
    """Written by the processing thread of one worker only."""

    def __init__(self, path: str | Path | None = None, *, kb_version: str | None = None) -> None:
        self.path = Path(path) if path else record.default_path()
        self.kb_version = kb_version
        self.con = _open(self.path, create=True)
        self._sessions: dict[str, tuple[int, float]] = {}
        self._seq: dict[str, int] = {}
        self._dirty: dict[str, tuple] = {}
        self._written: dict[str, tuple[Any, Any]] = {}  # pack -> the findings and questions bytes last written
        self._last_flush = time.monotonic()
        self.flushing = False  # part of the dirty rows written: the rest goes in the next calls

    # -------------------------------------------------------------------------------- writing

    def session(self, pack: str, family: str | None = None, context: dict[str, Any] | None = None) -> tuple[int, float]:
        hit = self._sessions.get(pack)
        if hit:
            return hit
        row = self.con.execute("SELECT session, t0 FROM fleet_packs WHERE pack = ?", (pack,)).fetchone()
        if row:
            sid, t0 = int(row[0]), float(row[1])
            self.con.execute("UPDATE sessions SET ended = NULL WHERE id = ?", (sid,))
        else:
            t0 = time.time()
            cur = self.con.execute(
                "INSERT INTO sessions(started, source, family, kb_version, context) VALUES (?, ?, ?, ?, ?)",
                (record._now_iso(), SOURCE_PREFIX + pack, family, self.kb_version, _dumps(context or {})))
            sid = int(cur.lastrowid)
            self.con.execute("INSERT OR IGNORE INTO fleet_packs(pack, session, t0) VALUES (?, ?, ?)", (pack, sid, t0))
        seq = self.con.execute("SELECT COALESCE(MAX(seq), 0) FROM readings WHERE session = ?", (sid,)).fetchone()[0]
        self._seq[pack] = int(seq)
        self._sessions[pack] = (sid, t0)
        return sid, t0

    def active(self, pack: str) -> dict[str, tuple[str, float]]:
        """{rule: (severity, since in Unix seconds)} of the findings still open for the pack."""
        sid, t0 = self.session(pack)
        return {r: (s, t0 + t) for r, s, t in self.con.execute(
            "SELECT rule, severity, t FROM findings WHERE session = ? AND cleared IS NULL ORDER BY id", (sid,))}

    def transition(self, pack: str, when: float, reading: dict[str, Any], raised: Iterable[dict[str, Any]],
                   cleared: Iterable[tuple[str, float]]) -> None:
        """Record one reading's transitions: raised findings (to_json dicts) and cleared (rule, since) pairs."""
        sid, t0 = self.session(pack)
        t = when - t0
        self._seq[pack] += 1
        seq = self._seq[pack]
        with _tx(self.con):
            self.con.execute("INSERT OR REPLACE INTO readings(session, seq, t, json) VALUES (?, ?, ?, ?)",
                             (sid, seq, t, _dumps(reading)))
            for rule, since in cleared:
                n = self.con.execute("UPDATE findings SET cleared = ? WHERE session = ? AND rule = ? AND cleared IS NULL",
                                     (t, sid, rule)).rowcount
                if not n:  # raised by a worker that writes another file: keep the interval anyway
                    self.con.execute("INSERT INTO findings(session, t, seq, rule, severity, json, cleared) "
                                     "VALUES (?, ?, NULL, ?, '', '{}', ?)", (sid, since - t0, rule, t))
            for f in raised:
                self.con.execute("UPDATE findings SET cleared = ? WHERE session = ? AND rule = ? AND cleared IS NULL",
                                 (t, sid, f["rule"]))  # a severity change: the old one ends here
                self.con.execute("INSERT INTO findings(session, t, seq, rule, severity, json) VALUES (?, ?, ?, ?, ?, ?)",
                                 (sid, t, seq, f["rule"], f["severity"], _dumps(f)))

    def event(self, pack: str, when: float, kind: str, detail: str = "") -> None:
        sid, t0 = self.session(pack)
        with _tx(self.con):
            self.con.execute("INSERT INTO events(session, t, kind, detail) VALUES (?, ?, ?, ?)",
                             (sid, when - t0, kind, detail))

    def overview(self, pack: str, status: str, last_seen: float, checked: float | None,
                 findings: list[dict[str, Any]] | bytes | None, questions: list[Any] | bytes | None) -> None:
        """Findings and questions as lists, or as the JSON already made of them (what was published, UTF-8): then
        the same bytes object as last written is not written again (only the times are), so a thousand packs whose
        findings stand still cost a few small updates a second, not megabytes."""
        self._dirty[pack] = (status, last_seen, checked, findings, questions)

    def flush(self, force: bool = False) -> None:
        """Write the overview rows changed since the last flush, once a second; FLUSH_ROWS at a time (the caller
        calls again at once while `flushing`), so a large fleet's flush never holds the worker for long."""
        if not self._dirty or not force and not self.flushing and time.monotonic() - self._last_flush < 1.0:
            return
        batch = list(self._dirty.items()) if force else list(itertools.islice(self._dirty.items(), FLUSH_ROWS))
        rows = []
        for pack, (status, seen, checked, findings, questions) in batch:
            self.session(pack)
            last = self._written.get(pack, (None, None))
            if isinstance(findings, bytes) or isinstance(questions, bytes):
                self._written[pack] = (findings, questions)
            rows.append((status, seen, checked, None if findings is last[0] else _text(findings),
                         None if questions is last[1] else _text(questions), pack))
        with _tx(self.con):
            self.con.executemany("UPDATE fleet_packs SET status = ?, last_seen = ?, checked = COALESCE(?, checked), "
                                 "findings = COALESCE(?, findings), questions = COALESCE(?, questions) "
                                 "WHERE pack = ?", rows)
        for pack, _row in batch:
            del self._dirty[pack]
        self.flushing = bool(self._dirty)
        if not self.flushing:
            self._last_flush = time.monotonic()

    def close(self) -> None:
        if self.con is None:
            return
        try:
            self.flush(force=True)
            with _tx(self.con):
                for sid, _t0 in self._sessions.values():
                    self.con.execute("UPDATE sessions SET ended = ? WHERE id = ?", (record._now_iso(), sid))
        finally:
            self.con.close()
            self.con = None  # type: ignore[assignment]


# ------------------------------------------------------------------------------------ reading back


def packs(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Every pack the fleet service has seen: {"pack", "status", "worst", "last_seen", "checked", "findings",
    "questions", "session"}."""
    p = Path(path) if path else record.default_path()
    if not p.exists():
        raise UserError(f"no fleet data at {p} (start the service with: bmsdoc fleet --broker mqtt://HOST)")
    con = _open(p, create=False)
    try:
        out = []
        for pack, sid, status, seen, checked, fj, qj in con.execute(
                "SELECT pack, session, status, last_seen, checked, findings, questions FROM fleet_packs ORDER BY pack"):
            findings = json.loads(fj) if fj else []
            out.append({"pack": pack, "session": sid, "status": status or "unknown", "last_seen": seen,
                        "checked": checked, "findings": findings, "questions": json.loads(qj) if qj else [],
                        "worst": findings[0] if findings else None})
        return out
    finally:
        con.close()


def history(pack: str, path: str | Path | None = None) -> dict[str, Any]:
    """One pack's recorded transitions: {"pack", "session", "t0", "findings": [...], "events": [...]} with Unix
    times (t0 + t)."""
    p = Path(path) if path else record.default_path()
    con = _open(p, create=False)
    try:
        row = con.execute("SELECT session, t0 FROM fleet_packs WHERE pack = ?", (pack,)).fetchone()
        if row is None:
            raise UserError(f"no fleet pack '{pack}' in {p}")
        sid, t0 = int(row[0]), float(row[1])
        findings = [{"time": t0 + t, "rule": r, "severity": s, "cleared": None if c is None else t0 + c}
                    for t, r, s, c in con.execute("SELECT t, rule, severity, cleared FROM findings WHERE session = ? "
                                                  "ORDER BY t, id", (sid,))]
        events = [{"time": t0 + t, "kind": k, "detail": d} for t, k, d in con.execute(
            "SELECT t, kind, detail FROM events WHERE session = ? ORDER BY rowid", (sid,))]
        return {"pack": pack, "session": sid, "t0": t0, "findings": findings, "events": events}
    finally:
        con.close()
