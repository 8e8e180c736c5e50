"""`bmsdoc log analyze` / `bmsdoc log trend` through the command line entry point."""

from __future__ import annotations

import io
import json
import os

import pytest
from test_logs_synth import REAL, healthy, latched_trip, write_rt_csv

from tui.cli import main

KB_ARGS = ["--kb", os.environ["BMSDOC_LOGS_TEST_KB"]] if os.environ.get("BMSDOC_LOGS_TEST_KB") else []


def test_analyze_json(kb, bmsdoc):
    code, out, err = bmsdoc("log", "analyze", str(REAL), "--series", "12", "--json", *KB_ARGS)
    assert code == 0, err
    d = json.loads(out)
    assert {"kb_version", "format", "samples", "duration_s", "events", "findings", "resistance_ohm"} <= set(d)
    assert d["format"] == "vesc-rt-csv" and d["samples"] == 1400 and d["trips"] == 0
    assert 0.06 <= d["resistance_ohm"] <= 0.08
    assert {e["kind"] for e in d["events"]} >= {"discharge_peak", "regen_peak"}


def test_analyze_human_output_for_a_healthy_and_a_tripped_ride(kb, bmsdoc, tmp_path):
    code, out, _ = bmsdoc("log", "analyze", str(REAL), *KB_ARGS)
    assert code == 0 and "No BMS trip in this log" in out and "Pack resistance: 0.07" in out
    p = write_rt_csv(latched_trip(), tmp_path / "trip.csv")
    code, out, _ = bmsdoc("log", "analyze", str(p), "--bms", "jk", "--series", "12", *KB_ARGS)
    assert code == 0 and "BMS TRIPS" in out
    assert "[log-trip-latched]" in out and "[^6]" in out and "[^jk-trip]" in out
    assert "CRITICAL" in out


@pytest.mark.parametrize("ext,magic", [(".png", b"\x89PNG"), (".svg", b"<svg")])
def test_plot(kb, bmsdoc, tmp_path, ext, magic):
    p = write_rt_csv(latched_trip(), tmp_path / "trip.csv")
    img = tmp_path / f"ride{ext}"
    code, out, err = bmsdoc("log", "analyze", str(p), "--plot", str(img), "--json", *KB_ARGS)
    assert code == 0, err
    data = img.read_bytes()
    assert len(data) > 5000 and magic in data[:400]
    json.loads(out)  # --json output stays clean with --plot


@pytest.mark.parametrize("argv,expected", [
    (["--plot", "ride.jpg"], "must end in .png or .svg"),
    (["--map", "time=1,voltage=2"], "current missing"),
    (["--bms", "acme"], "unknown BMS family"),
])
def test_bad_options_exit_2(bmsdoc, tmp_path, argv, expected):
    code, out, err = bmsdoc("log", "analyze", str(REAL), *[a if a != "ride.jpg" else str(tmp_path / a)
                                                                  for a in argv], *KB_ARGS)
    assert code == 2 and expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content,expected", [
    (b"", "empty"),
    (b"\x00\xff\x00\x10" * 100, "binary"),
    (b"a;b;c\n1;2;3\n", "line 1: not a log format"),
    ((REAL.read_text().splitlines()[0] + "\n1;x;3;\n").encode(), "line 2"),
])
def test_malformed_files_exit_2(bmsdoc, tmp_path, content, expected):
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    code, out, err = bmsdoc("log", "analyze", str(p), *KB_ARGS)
    assert code == 2 and expected in err and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("bmsdoc: error: ")


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["log", "analyze", str(REAL), "--series", "0"])
    code = e.value.code
    assert code == 2 and "out of range" in capsys.readouterr().err


def test_trend_across_logs(bmsdoc, tmp_path):
    a = write_rt_csv(healthy(seed=1, r_ohm=0.06), tmp_path / "a.csv")
    b = write_rt_csv(healthy(seed=2, r_ohm=0.09), tmp_path / "b.csv")
    code, out, err = bmsdoc("log", "trend", str(a), str(b), "--series", "12", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert [round(x["resistance_ohm"], 2) for x in d["logs"]] == [0.06, 0.09]
    assert 40 <= d["change_pct"] <= 60
    code, out, _ = bmsdoc("log", "trend", str(a), str(b))
    assert "Change from first to last: +" in out


def test_progress_bar_only_on_a_terminal(monkeypatch, tmp_path):
    from tui.commands import log as cmd

    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * (cmd.BIG_FILE_BYTES + 1))
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert cmd._progress_for(str(big)) is None  # not a TTY: no bar

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    monkeypatch.setattr("sys.stderr", tty)
    assert cmd._progress_for(str(tmp_path / "missing.csv")) is None
    small = tmp_path / "small.csv"
    small.write_text("x")
    assert cmd._progress_for(str(small)) is None
    bar = cmd._progress_for(str(big))
    bar(0.5)
    bar(1.0)
    bar.close()
    shown = tty.getvalue()
    assert " 50%" in shown and "100%" in shown and shown.endswith("\r")
