"""Recorded sessions: what is stored, how findings are kept (raised/cleared), reading back and exporting, the
history command, and durability: a kill -9 while recording leaves a readable database missing at most the last
second."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from drivers import record
from drivers.record import Recorder
from engine.reading import Reading
from tui.cli import main

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class F:
    rule: str
    severity: str
    citations: list[str] = field(default_factory=lambda: ["4"])

    def to_json(self) -> dict:
        return {"rule": self.rule, "severity": self.severity, "citations": self.citations}


def reading(i: int) -> Reading:
    return Reading.parse({"bms": "jk", "cells": [3.9, 3.9 - 0.01 * i], "current": -10.0 + i, "charge_fet": i < 3})


def make_session(db: Path) -> int:
    with Recorder(db) as rec:
        sid = rec.start("demo:jk/test", family="jk", kb_version="9.9.9", context={"series": 2})
        plan = [[], [F("a", "warning")], [F("a", "warning"), F("b", "critical")], [F("a", "critical")], []]
        for i, fs in enumerate(plan):
            rec.add_reading(i + 1, float(i), reading(i))
            rec.add_findings(i + 1, float(i), fs)
        rec.add_event(4.5, "ended", "end of the session")
    return sid


def test_sessions_readings_and_finding_transitions_are_stored(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    sid = make_session(db)
    [info] = record.sessions(db)
    assert (info.id, info.source, info.family, info.kb_version, info.readings) == (sid, "demo:jk/test", "jk",
                                                                                    "9.9.9", 5)
    assert info.ended is not None and info.worst == "critical" and info.duration == 4.0
    assert info.context == {"series": 2}
    s = record.load(sid, db)
    assert [r["seq"] for r in s.readings] == [1, 2, 3, 4, 5]
    assert s.readings[2]["reading"]["cells"] == [3.9, 3.88] and s.readings[2]["reading"]["charge_fet"] is True
    got = [(f["rule"], f["severity"], f["t"], f["cleared"]) for f in s.findings]
    # a: warning from 1 s, critical from 3 s (a severity change clears and raises again), gone at 4 s; b: 2..3 s
    assert got == [("a", "warning", 1.0, 3.0), ("b", "critical", 2.0, 3.0), ("a", "critical", 3.0, 4.0)]
    assert s.events == [{"t": 4.5, "kind": "ended", "detail": "end of the session"}]


def test_add_findings_reports_what_changed(tmp_path: Path) -> None:
    with Recorder(tmp_path / "r.sqlite") as rec:
        rec.start("x")
        raised, cleared = rec.add_findings(1, 0.0, [F("a", "warning")])
        assert [f.rule for f in raised] == ["a"] and cleared == []
        raised, cleared = rec.add_findings(2, 1.0, [F("a", "warning")])
        assert raised == [] and cleared == []
        raised, cleared = rec.add_findings(3, 2.0, [F("a", "critical")])
        assert [f.severity for f in raised] == ["critical"] and cleared == []
        raised, cleared = rec.add_findings(4, 3.0, [])
        assert raised == [] and cleared == ["a"]


def test_pending_data_is_committed_within_the_interval_even_when_the_stream_goes_quiet(tmp_path: Path) -> None:
    import asyncio

    db = tmp_path / "r.sqlite"

    def committed() -> int:
        con = sqlite3.connect(db)
        try:
            return con.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
        finally:
            con.close()

    async def go() -> tuple[int, int]:
        rec = Recorder(db, commit_interval=0.2)
        rec.start("x")
        rec.add_reading(1, 0.0, reading(0))
        rec.add_reading(2, 0.1, reading(1))
        before = committed()  # another reader sees nothing yet
        await asyncio.sleep(0.4)  # no more readings arrive: the timer commits
        after = committed()
        rec.close()
        return before, after

    assert asyncio.run(go()) == (0, 2)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_duplicate_records_are_impossible(tmp_path: Path) -> None:
    with Recorder(tmp_path / "r.sqlite") as rec:
        rec.start("x")
        rec.add_reading(1, 0.0, reading(0))
        with pytest.raises(sqlite3.IntegrityError):
            rec.add_reading(1, 0.5, reading(1))


def test_export_csv_and_json(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    sid = make_session(db)
    n = record.export(sid, tmp_path / "s.csv", db)
    rows = list(csv.DictReader((tmp_path / "s.csv").open()))
    assert n == 5 and len(rows) == 5
    assert rows[0]["cell_1"] == "3.9" and rows[1]["cell_2"] == "3.89" and rows[0]["current"] == "-10.0"
    assert rows[0]["charge_fet"] == "true" and rows[4]["charge_fet"] == "false"
    assert [r["findings"] for r in rows] == ["", "a:warning", "a:warning b:critical", "a:critical", ""]
    record.export(sid, tmp_path / "s.json", db)
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["session"]["id"] == sid and len(data["readings"]) == 5 and len(data["findings"]) == 3
    from kb.errors import UserError

    with pytest.raises(UserError):
        record.export(sid, tmp_path / "s.xlsx", db)
    with pytest.raises(UserError):
        record.load(99, db)


def test_history_command(tmp_path: Path, capsys) -> None:
    db = tmp_path / "r.sqlite"
    sid = make_session(db)
    assert main(["history", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "demo:jk/test" in out and "critical" in out
    assert main(["history", "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["readings"] == 5
    assert main(["history", str(sid), "--db", str(db)]) == 0
    assert "CRITICAL b" in capsys.readouterr().out
    out_csv = tmp_path / "x.csv"
    assert main(["history", str(sid), "--db", str(db), "--export", str(out_csv)]) == 0
    assert out_csv.exists()
    capsys.readouterr()
    for argv in (["history", "7", "--db", str(db)], ["history", "--db", str(tmp_path / "none.sqlite")],
                 ["history", "--db", str(db), "--export", "a.csv"],
                 ["history", str(sid), "--db", str(db), "--export", str(tmp_path / "x.txt")]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
    (tmp_path / "junk.sqlite").write_text("not a database at all " * 50)
    assert main(["history", "--db", str(tmp_path / "junk.sqlite")]) == 2


def test_watch_records_the_demo_to_the_data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys, kb) -> None:
    monkeypatch.setenv("BMSDOC_DATA_DIR", str(tmp_path))
    assert main(["watch", "--demo", "overcurrent-trip", "--family", "daly", "--fast", "--rate", "1", "--record"]) == 0
    out = capsys.readouterr().out
    assert "+ CRITICAL fet.discharge-off-while-riding" in out and "recorded as session 1" in out
    [info] = record.sessions()
    assert info.source == "demo:daly/overcurrent-trip" and info.readings == 60 and info.family == "daly"
    assert info.kb_version and info.context["battery_limit"] == 80
    s = record.load(1)
    crit = [f for f in s.findings if f["rule"] == "fet.discharge-off-while-riding"]
    assert crit and crit[0]["t"] == 27.0 and crit[0]["cleared"] is None  # latched to the end
    assert [e["kind"] for e in s.events] == ["connected", "ended"]


def test_watch_json_streams_one_object_per_line(capsys, kb) -> None:
    assert main(["watch", "--demo", "regen-charge-fet-off", "--family", "ant", "--fast", "--rate", "1",
                 "--duration", "14", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0]["event"] == "connected" and lines[-1]["event"] == "ended"
    readings = [x for x in lines if x["event"] == "reading"]
    assert len(readings) == 14 and all({"t", "seq", "reading", "findings"} <= set(x) for x in readings)
    assert readings[0]["reading"]["bms"] == "ant"
    at12 = readings[12]
    assert at12["t"] == 12.0
    assert any(f["severity"] == "critical" and "4" in f["citations"] for f in at12["findings"])
    # nothing critical before the first braking pushes a full cell past 4.25 V at 11 s; the trip follows at 12 s
    assert not any(f["severity"] == "critical" for x in readings[:11] for f in x["findings"])
    assert {f["rule"] for f in readings[11]["findings"] if f["severity"] == "critical"} == {"voltage.cell-over-voltage"}


# ---------------------------------------------------------------------- kill -9


@pytest.mark.slow  # a real child process, killed mid-recording
def test_kill_9_while_recording_loses_at_most_the_last_second(tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "tui.cli", "watch", "--demo", "healthy-ride", "--family", "jbd", "--rate", "20",
           "--speed", "1", "--json", "--record", str(db), "--kb", str(ROOT / "tests" / "data" / "tui_kb")]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[tuple[float, int]] = []  # (when the line arrived, seq)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            ev = json.loads(line)
            if ev["event"] == "reading":
                seen.append((time.monotonic(), ev["seq"]))
                if len(seen) >= 50:  # ~2.5 s of recording
                    break
        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(seen) >= 50, proc.stderr.read() if proc.stderr else ""
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    seqs = [r[0] for r in con.execute("SELECT seq FROM readings ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))  # no holes in what survived
    # everything printed more than a second before the kill made it to disk (a reading is recorded before it
    # is printed; 0.3 s of slack for the scheduler of a busy CI machine)
    must_have = [seq for at, seq in seen if killed_at - at > 1.3]
    assert must_have and set(must_have) <= set(seqs)
    con.close()
    [info] = record.sessions(db)  # and the reader copes with the interrupted session
    assert info.ended is None and info.readings == len(seqs)
