"""Issue 17, data safety and the regular expressions: the KB cache runs no planted code, concurrent checklist marks
all land, pack names never share a file, one recorder per file, a full disk ends a recording cleanly, streamed
logs read the same as whole ones, and every rewritten pattern stays fast on adversarial text."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
BMSDOC = [sys.executable, "-m", "tui.cli"]


# ---------------------------------------------------------------- the KB disk cache


class _Planted:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ["PLANTED_MARK"]),))


def test_a_planted_cache_file_is_never_unpickled(tmp_path, monkeypatch):
    from kb import load

    cache = tmp_path / "cache"
    mark = tmp_path / "pwned"
    monkeypatch.setenv("BMSDOC_CACHE_DIR", str(cache))
    monkeypatch.setenv("PLANTED_MARK", str(mark))
    monkeypatch.delenv("BMSDOC_NO_CACHE", raising=False)
    load._load_cached.cache_clear()
    load.load_kb(ROOT / "tests" / "data" / "tui_kb")  # writes the real cache and its key
    assert cache.stat().st_mode & 0o777 == 0o700 and (cache / "cache.key").stat().st_mode & 0o777 == 0o600
    real = next(cache.glob("kb-*.pickle"))
    for body in (pickle.dumps(_Planted()),  # no MAC at all
                 real.read_bytes()[:32] + pickle.dumps(_Planted())):  # a MAC of other content
        real.write_bytes(body)
        load._load_cached.cache_clear()
        kb = load.load_kb(ROOT / "tests" / "data" / "tui_kb")
        assert kb.rules and not mark.exists()
    # a directory others can write is not trusted either (and is closed again)
    os.chmod(cache, 0o777)
    load._load_cached.cache_clear()
    load.load_kb(ROOT / "tests" / "data" / "tui_kb")
    assert cache.stat().st_mode & 0o077 == 0 and not mark.exists()
    load._load_cached.cache_clear()


def test_the_cache_is_bounded_and_tampering_is_ignored(tmp_path, monkeypatch):
    from kb import load

    monkeypatch.setenv("BMSDOC_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.delenv("BMSDOC_NO_CACHE", raising=False)
    load._load_cached.cache_clear()
    load.load_kb(ROOT / "tests" / "data" / "tui_kb")
    real = next((tmp_path / "c").glob("kb-*.pickle"))
    assert real.stat().st_size < load.CACHE_MAX_BYTES
    data = bytearray(real.read_bytes())
    data[-5] ^= 0xFF
    real.write_bytes(bytes(data))
    assert load._read_cache(real) is None
    monkeypatch.setattr(load, "CACHE_MAX_BYTES", 100)
    assert load._read_cache(real) is None
    load._load_cached.cache_clear()


# ---------------------------------------------------------------- checklist progress


def _cli(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(BMSDOC + args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_ten_concurrent_marks_all_land(tmp_path):
    from engine.checklist import Progress

    env = {**os.environ, "BMSDOC_DATA_DIR": str(tmp_path), "BMSDOC_CACHE_DIR": str(tmp_path / "cache")}
    subprocess.run(BMSDOC + ["checklist", "--pack", "warm", "--json"], cwd=ROOT, env=env, capture_output=True)
    steps = ["wake", "sense-leads", "series-support", "fets-for-regen", "discharge-less", "dash-thresholds",
             "connectors-airflow", "externals", "integration", "first-rides"]
    procs = [_cli(["checklist", "--pack", "shared pack", "--mark", f"{s}=done:by {i}"], env)
             for i, s in enumerate(steps)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    os.environ["BMSDOC_DATA_DIR"] = str(tmp_path)
    try:
        from kb.load import load_kb

        kb = load_kb()
        from engine.checklist import get_checklist

        progress = Progress.load("shared pack", get_checklist(kb), kb.kb_version)
    finally:
        del os.environ["BMSDOC_DATA_DIR"]
    assert [progress.steps[s].status for s in steps] == ["done"] * 10
    assert {progress.steps[s].note for s in steps} == {f"by {i}" for i in range(10)}
    assert not list((tmp_path / "checklists").glob("*.tmp"))


def test_pack_names_map_to_distinct_files(tmp_path, monkeypatch):
    from engine.checklist import Progress

    monkeypatch.setenv("BMSDOC_DATA_DIR", str(tmp_path))
    names = ["my pack", "my/pack", "my-pack", "My Pack", "a" * 80 + "1", "a" * 80 + "2", "ünï", "\u00fcni"]
    paths = {Progress.path_for(n, "commissioning") for n in names}
    assert len(paths) == len(set(names))
    assert all(p.parent == tmp_path / "checklists" for p in paths)


def test_a_full_disk_while_saving_keeps_the_old_progress_and_leaves_no_tmp(tmp_path, monkeypatch):
    from engine import checklist
    from kb.errors import UserError

    target = tmp_path / "p.json"
    target.write_text("old")

    def full(fd):  # a full disk shows when the data is flushed to it
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(UserError, match="No space left"):
        checklist._atomic_write(target, "new" * 10000)
    monkeypatch.undo()
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


# ---------------------------------------------------------------- recordings


def _reading(i: int) -> dict:
    return {"cells": [3.9, 3.91 + i * 1e-4], "current": -2.0, "note": "x" * 300}


def test_a_second_recorder_on_one_file_is_refused(tmp_path, capsys):
    from drivers.record import Recorder, sessions
    from kb.errors import UserError
    from tui.cli import main

    db = tmp_path / "ride.sqlite"
    with Recorder(db) as first:
        first.start("first")
        with pytest.raises(UserError, match="being recorded by another bmsdoc"):
            Recorder(db)
        assert main(["watch", "--demo", "--record", str(db), "--fast"]) == 2
        assert "being recorded" in capsys.readouterr().err
        for i in range(50):
            first.add_reading(i, i * 0.1, _reading(i))
    assert [s.readings for s in sessions(db)] == [50]
    with Recorder(db) as again:  # the lock goes with the recorder
        again.start("after")


def test_a_full_disk_ends_the_recording_cleanly(tmp_path):
    from drivers.record import Recorder, RecordingStopped, sessions

    db = tmp_path / "ride.sqlite"
    rec = Recorder(db)
    rec.start("full")
    rec.flush()
    pages = rec.con.execute("PRAGMA page_count").fetchone()[0]
    rec.con.execute(f"PRAGMA max_page_count = {pages + 4}")  # SQLite's own "database or disk is full"
    with pytest.raises(RecordingStopped, match="disk is full.*interrupted") as stop:
        for i in range(100_000):
            rec.add_reading(i, i * 0.1, _reading(i))
            if i % 10 == 9:
                rec.flush()
    kept = rec.committed
    with pytest.raises(RecordingStopped):  # nothing after the stop pretends to work
        rec.add_reading(10**6, 1.0, _reading(0))
    rec.close()  # no "cannot commit - no transaction is active"
    (info,) = sessions(db)
    assert info.ended is None and info.readings == kept > 0
    assert str(kept) in str(stop.value)


# ---------------------------------------------------------------- logs


def _vesc_file(path: Path, rows: int, cut_last: bool = False) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_logs import generate

    generate(path, rows)
    if cut_last:
        with path.open("ab") as f:
            f.write(b"43200000;51.")


@pytest.mark.parametrize("cut", [False, True])
def test_streamed_vesc_log_reads_like_the_whole_file(tmp_path, monkeypatch, cut):
    from drivers.logs import load_log, text, vesc_rt

    f = tmp_path / "ride.csv"
    _vesc_file(f, 30_000, cut_last=cut)
    monkeypatch.setattr(text, "BLOCK_BYTES", 256 * 1024)  # several blocks
    streamed = load_log(f)
    name, lines = text.read_lines(f)
    delim, header = text.split_header(lines[0])
    whole = vesc_rt.load(name, lines, header, delim)
    for a, b in ((streamed.t_s, whole.t_s), (streamed.voltage, whole.voltage), (streamed.current, whole.current)):
        assert len(a) == len(b) > 29_000 and np.array_equal(a, b)
    assert streamed.notes == whole.notes
    assert any("cut short" in n for n in streamed.notes) == cut


def test_a_bad_value_deep_in_a_streamed_log_is_named_by_line(tmp_path, monkeypatch):
    from drivers.logs import load_log, text
    from kb.errors import UserError

    f = tmp_path / "ride.csv"
    _vesc_file(f, 20_000)
    lines = f.read_text().split("\n")
    cells = lines[15_000].split(";")
    cells[1] = "oops"
    lines[15_000] = ";".join(cells)
    f.write_text("\n".join(lines))
    monkeypatch.setattr(text, "BLOCK_BYTES", 128 * 1024)
    with pytest.raises(UserError, match=r"line 15001, column 2 \(input_voltage\): 'oops' is not a number"):
        load_log(f)


# ---------------------------------------------------------------- regular expressions: linear on adversarial text


def _timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


@pytest.mark.parametrize("line", ["a" + " " * 390 + "x", "a" + " -" * 195, "Cell voltage" + " \t" * 190,
                                  "a" * 399, "k:" + " " * 395 + "v", "x" * 100_000])
def test_key_value_pattern(line):
    from drivers.paste.keyvalue import match

    assert _timed(lambda: [match(line) for _ in range(50)]) < 0.5


@pytest.mark.parametrize("text", ["volt=[" * 50_000, "BmsSampl(" * 50_000, "volt=[1," * 30_000,
                                  "temp = [" + "1 " * 100_000])
def test_batmon_patterns(text):
    from drivers.paste import batmon

    assert _timed(batmon.parse, text) < 1.0


@pytest.mark.parametrize("line", ["- " * 100_000 + "3.9", "> " * 100_000, " " * 200_000 + "x", "-" * 200_000,
                                  "* " * 50_000 + "**" * 50_000])
def test_markdown_strip(line):
    from drivers.paste.text import strip_markdown

    assert _timed(strip_markdown, line) < 0.5


@pytest.mark.parametrize("text", ["a:" + "\n" * 200_000 + "x", ("word " * 20 + "\n") * 20_000,
                                  "a" * 300_000 + ":"])
def test_yaml_sniffing_pattern(text):
    from drivers.paste.structured import _YAMLISH

    assert _timed(_YAMLISH.search, text) < 0.5


def test_key_value_lines_still_read():
    from drivers.paste.keyvalue import match

    assert match("Pack voltage:   52.1 V")[1:] == (match("Pack voltage: 52.1 V")[1], "52.1 V")
    assert match("Charge MOS\tON")[2] == "ON"
    assert match("Cell voltage 1") is None  # an entity name ending in its index (Home Assistant), not a value
    assert match("SOC 87")[2] == "87"


@pytest.mark.parametrize("value", ["1" * 20_000 + "x", "1 " * 10_000 + "x", "1." * 20_000])
def test_list_values_of_long_digit_runs(value):
    from drivers.paste.text import field_value

    assert _timed(field_value, "cells", value) < 0.5
    assert field_value("cells", "3.91V 3.92 V, 3,93; 4150mV") == ([3.91, 3.92, 3.93, 4.15], None)


def test_home_assistant_entity_without_a_value_is_not_read_as_its_index():
    from drivers.paste import parse_text

    text = ("Sensors\nJK-BMS Cell voltage 1\n3,290 V\nJK-BMS Cell voltage 2\nNaN\nJK-BMS Cell voltage 3\n3,288 V\n"
            "JK-BMS Total voltage\n9,87 V\n")
    p = parse_text(text)
    assert p.fields["cells"] == [3.29, 3.288]  # never [3.29, 2.0, ...]: the index is no voltage
    assert any("without a value" in a for a in p.ambiguities) and any("cell 2" in a for a in p.ambiguities)
