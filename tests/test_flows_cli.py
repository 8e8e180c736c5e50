"""`bmsdoc diagnose` end to end: scripted (--answers --json), pre-answered (--reading), interactive over stdin,
and bad input -> one line on stderr, exit 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from flows_support import build_content

from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def content(tmp_path_factory):
    return str(build_content(tmp_path_factory.mktemp("cli") / "content"))


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_scripted_run_prints_conclusion_and_path(content, tmp_path, bmsdoc):
    answers = _write(tmp_path, "a.yaml", "when: load\nload-over-limit: no\nload-sag: yes\n")
    rc, out, err = bmsdoc("diagnose", "cutout", "--kb", content, "--answers", answers, "--json")
    assert rc == 0 and err == ""
    data = json.loads(out)
    assert data["flow"] == "cutout" and data["pending"] is None
    c = data["conclusion"]
    assert c["id"] == "trip-undervoltage-sag" and c["severity"] == "warning"
    assert c["citations"] == ["6", "ant-cutoff"] and c["remedy"] and c["title"] and c["text"]
    assert [p["step"] for p in data["path"]] == ["when", "load-over-limit", "load-sag"]
    assert [p["source"] for p in data["path"]] == ["answer", "answer", "answer"]


def test_scripted_run_with_a_reading_and_json_answers(content, tmp_path, bmsdoc):
    reading = _write(tmp_path, "r.json", json.dumps({"bms": "jk", "charge_fet": False, "regen_limit": 40}))
    answers = _write(tmp_path, "a.json", json.dumps({"when": "braking"}))
    rc, out, _ = bmsdoc(*["diagnose", "cuts", "out", "when", "braking", "--kb", content,
                               "--reading", reading, "--answers", answers, "--json"])
    data = json.loads(out)
    assert rc == 0 and data["conclusion"]["id"] == "regen-no-path" and data["conclusion"]["citations"] == ["4", "6"]
    auto = data["path"][1]
    assert auto["step"] == "braking-charge-fet" and auto["source"] == "reading" and auto["evidence"] == {"charge_fet": False}


def test_unfinished_script_reports_the_pending_question(content, tmp_path, bmsdoc):
    answers = _write(tmp_path, "a.yaml", "hot-what: hot\n")
    rc, out, _ = bmsdoc("diagnose", "hot-bms", "--kb", content, "--answers", answers, "--json")
    data = json.loads(out)
    assert rc == 0 and data["conclusion"] is None
    assert data["pending"]["id"] == "hot-current" and data["pending"]["allowed"] == "yes, no"
    rc, out, _ = bmsdoc("diagnose", "hot-bms", "--kb", content, "--answers", answers)
    assert rc == 0 and "Is the controller allowed to draw more battery current" in out and "add an answer for 'hot-current'" in out


def test_json_without_answers_gives_the_first_question(content, bmsdoc):
    rc, out, _ = bmsdoc("diagnose", "external-battery", "--kb", content, "--json")
    assert json.loads(out)["pending"]["id"] == "ext-tested"


def test_list(content, bmsdoc):
    rc, out, _ = bmsdoc("diagnose", "--list", "--kb", content)
    assert rc == 0 and "cutout" in out and "Scooter cuts out or goes dark mid-ride" in out
    rc, out, _ = bmsdoc("diagnose", "--list", "--json", "--kb", content)
    rows = json.loads(out)
    assert {r["id"] for r in rows} >= {"cutout", "no-wake", "balancing"} and all(r["symptoms"] for r in rows)


@pytest.mark.parametrize("argv,message", [
    (["diagnose", "frobnicate", "the", "widget"], "no diagnosis flow matches 'frobnicate the widget'"),
    (["diagnose", "--json"], "name the symptom or flow id"),
])
def test_bad_symptom_is_one_line_exit_2(content, bmsdoc, argv, message):
    rc, out, err = bmsdoc(*argv + ["--kb", content])
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_unknown_symptom_lists_close_matches(content, bmsdoc):
    rc, _, err = bmsdoc("diagnose", "cutuot", "--kb", content)
    assert rc == 2 and "closest: cutout" in err


@pytest.mark.parametrize("text,message", [
    ("- when\n- load\n", "answers must be a mapping"),
    ("when: sometimes\n", "'sometimes' is not an answer to 'when'"),
    ("wen: load\n", "no step 'wen'"),
    ("ext-capacity: 900\n", "give a number from 0 to 150"),
])
def test_bad_answers_file_is_one_line_exit_2(content, tmp_path, bmsdoc, text, message):
    flow = "external-battery" if "ext-" in text else "cutout"
    answers = _write(tmp_path, "a.yaml", text)
    rc, out, err = bmsdoc("diagnose", flow, "--kb", content, "--answers", answers, "--json")
    assert rc == 2 and out == "" and err.count("\n") == 1 and message in err


def test_bad_reading_file_is_one_line_exit_2(content, tmp_path, bmsdoc):
    reading = _write(tmp_path, "r.json", json.dumps({"charge_fet": "sideways"}))
    rc, out, err = bmsdoc("diagnose", "cutout", "--kb", content, "--reading", reading, "--json")
    assert rc == 2 and err.count("\n") == 1 and "charge_fet" in err
    rc, _, err = bmsdoc("diagnose", "cutout", "--kb", content, "--reading", str(tmp_path / "missing.json"))
    assert rc == 2 and "no such file" in err


def test_interactive_run_with_numbers_words_why_and_back(content, bmsdoc, monkeypatch):
    # 2 = braking; 'why'; a wrong answer; no; back; no; yes -> regen above the charge limit
    stdin = "2\nwhy\nmaybe\nno\nback\nno\nyes\n"
    rc, out, _ = bmsdoc("diagnose", "cuts", "out", "when", "braking", "--kb", content, stdin=stdin)
    assert rc == 0
    assert "Question 1: When does it cut out?" in out and "  2) when braking or riding downhill" in out
    assert "The answer decides the next step:" in out  # why
    assert "'maybe' is not an answer to 'braking-charge-fet': give yes or no" in out
    assert "(went back one answer)" in out
    assert out.count("Question 2: Is the BMS's charge FET") == 2  # asked again after 'back'
    assert "Conclusion (critical): Regen current above the BMS's charge limit" in out
    assert "Sources: [^6]" in out and "\n  [^6] " in out  # the source's summary follows
    assert "\x1b[" not in out  # no colour or cursor codes


def test_interactive_skips_what_the_reading_answers(content, tmp_path, bmsdoc, monkeypatch):
    reading = _write(tmp_path, "r.yaml", "bms: ant\n")
    rc, out, _ = bmsdoc("diagnose", "cutout", "--kb", content, "--reading", reading, stdin="3\n")
    assert rc == 0
    assert "- Is the BMS an ANT board? yes (from the reading: bms = ant)" in out
    assert "Conclusion (critical): ANT board cutting out near empty" in out


def test_end_of_input_and_quit_stop_cleanly(content, bmsdoc, monkeypatch):
    rc, out, err = bmsdoc("diagnose", "no-wake", "--kb", content, stdin="1\n")
    assert rc == 0 and "Question 2: Is the board new" in out and "Stopped before a conclusion." in out and err == ""
    rc, out, _ = bmsdoc("diagnose", "no-wake", "--kb", content, stdin="quit\n")
    assert rc == 0 and "Stopped before a conclusion." in out


def test_picking_a_flow_by_number_or_words(content, bmsdoc, monkeypatch):
    rc, out, _ = bmsdoc("diagnose", "--kb", content, stdin="99\nmy external battery adds no range\n1\n")
    assert rc == 0 and "Type a number from 1 to" in out
    assert "Diagnosing 'An extra or external battery does not add range'" in out
    assert "Conclusion (warning): Test the extra battery on its own first" not in out  # 1 = yes, so a measure comes
    assert "What share of its labelled capacity did it deliver?" in out


def test_the_installed_command_runs_over_a_pipe(content):
    exe = [sys.executable, "-m", "tui.cli"]
    p = subprocess.run(exe + ["diagnose", "external battery does not add range", "--kb", content],
                       input="2\n", capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "Conclusion (warning): Test the extra battery on its own first" in p.stdout
    assert "[^cheap-externals]" in p.stdout


def test_kb_test_fails_on_a_script_that_stops_short(tmp_path, capsys):
    root = build_content(tmp_path / "content")
    p = root / "flows" / "external-battery.yaml"
    p.write_text(p.read_text().replace("answers: {ext-tested: yes, ext-capacity: 40}", "answers: {ext-tested: yes, ext-capacity: 80}"))
    rc = main(["kb", "test", str(root), "--engine", "evaluator"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "FAIL flow external-battery :: weak" in out
    assert "expected 'weak-external', got no conclusion (stopped at 'ext-sharing')" in out
    assert "path ext-tested > ext-capacity > ext-sharing differs from ext-tested > ext-capacity > weak-external" in out
