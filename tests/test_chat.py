"""The chat as a rider meets it: answers first with the number/verdict/action, facts kept across turns, flows that
never ask what was said, pasted readings, the command line (one turn, JSON lines on stdin, the empty question), and
the content-judged evaluation set."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drivers.paste import parse_to_reading
from engine.chat import NOT_COVERED, Dialogue

ROOT = Path(__file__).resolve().parents[1]
INTERNAL_ID = re.compile(r"\b[a-z]+(?:-[a-z0-9]+){1,}\b'|'[a-z]+-[a-z-]+'|is not an answer to")


def talk(kb, *turns: str) -> list[dict]:
    d = Dialogue(kb=kb, paste_parser=parse_to_reading)
    return [d.turn(t) for t in turns]


def first_sentence(r: dict) -> str:
    return re.split(r"(?<=[.!?])\s", r["answer"], maxsplit=1)[0]


# ---------------------------------------------------------------- the examples, answered first


def test_jbd_listing_24s_is_a_no_with_the_21s_ceiling(kb):
    r, = talk(kb, "is jbd ok for 24s? listing says up to 24s")
    assert first_sentence(r).startswith("No") and "21 S" in first_sentence(r) and "16" in r["citations"]
    assert "pre-charge" not in r["answer"]


def test_regen_setting_gives_the_120a_figure_under_the_charge_limit(kb):
    r, = talk(kb, "what regen limit should i set in vesc with a smart bms? 20s jk")
    assert re.search(r"120 A", first_sentence(r)) and "charge" in first_sentence(r) and "6" in r["citations"]


def test_daly_balances_only_from_4_18_and_does_not_ask_the_delta_back(kb):
    r, = talk(kb, "daly not balancing, cells sitting at 4.10v with 0.08v delta")
    assert "4.18 V" in first_sentence(r) and "7" in r["citations"]
    assert not r["follow_up"] or "delta" not in r["follow_up"].lower()


def test_board_series_is_not_the_pack_series(kb):
    d = Dialogue(kb=kb)
    r = d.turn("ant 32s on my 20s pack shuts off around 60v")
    assert "61.2 V" in r["answer"] and r["citations"] == ["ant-floor"]
    assert r["facts"]["series"] == 20 and r["facts"]["board_max_series"] == 32


def test_daly_zero_percent_is_soc_learning_not_wake(kb):
    r, = talk(kb, "daly app shows 0% but pack is at 4.1v a cell")
    assert re.search(r"learn|cycle", first_sentence(r) + r["answer"]) and "wake" not in r["answer"].lower()


def test_wake_thread_keeps_the_family_and_reads_57v_20s(kb):
    a, b = talk(kb, "my jk bms wont wake up", "tried the display already, pack reads 57v, its 20s")
    assert "8" in a["citations"] and a["follow_up"]  # asks only what it does not know: the pack voltage
    assert "57 V" in b["answer"] and "24" in b["citations"] and "dashboard" not in b["answer"]


def test_and_on_a_daly_switches_family_in_the_same_question(kb):
    a, b = talk(kb, "what balance trigger should i set on my jk", "and on a daly?")
    assert "0.015 V" in first_sentence(a)
    assert "4.18 V" in b["answer"] and "7" in b["citations"] and "0.015 V delta (" not in b["answer"]


def test_regen_above_charge_ocp_is_the_answer_not_paralleling(kb):
    r, = talk(kb, "regen set to 40a in vesc, bms charge ocp is 20 amps")
    assert re.search(r"below 20 A", first_sentence(r)) and "parallel" not in r["answer"].lower()


def test_longevity_on_a_daly_keeps_the_ceiling_and_says_it_will_not_balance(kb):
    _, r = talk(kb, "my daly isnt balancing the cells", "no, i only charge to 4.1 for longevity")
    assert "4.18 V" in r["answer"] and not re.search(r"lower[^.]*4\.15", r["answer"])


def test_selection_takes_every_constraint_said(kb):
    r, = talk(kb, "need a bms for 22s 100a cont, deck is tiny")
    assert first_sentence(r).startswith("**ANT Smart** is the pick") and "cramped" in r["answer"]
    avoid = r["answer"].split("Avoid:", 1)[1]
    assert "JK" in avoid and ("room" in avoid or "20 S" in avoid)  # the reason against JK, not one in its favour
    r, = talk(kb, "which bms for 13s 30a commuter, cheap")
    assert first_sentence(r).startswith("**Daly Smart** is the pick") and "low budget" in first_sentence(r)


def test_twenty_four_parallel_needs_several_boards(kb):
    r, = talk(kb, "20s24p pack for 300a+, will one bms handle that")
    assert "parallel" in first_sentence(r).lower() and "22" in r["citations"]


def test_answers_do_not_restate_footnotes(kb):
    for q in ("how often should i check IR on my daly", "what is the wake floor of the ant", "jk vs ant?"):
        r, = talk(kb, q)
        assert not re.search(r"\*\*Source \d+\*\*", r["answer"]), q


# ---------------------------------------------------------------- context and flows


def test_what_if_i_disable_the_charge_fet_after_regen(kb):
    _, r = talk(kb, "what regen limit for a 20s jk pack", "what if i disable the charge fet")
    assert "charge FET" in first_sentence(r) and "4" in r["citations"]


def test_a_new_symptom_starts_a_clean_thread(kb):
    a, b = talk(kb, "daly soc wrong after install", "different issue: my jk gets really hot at 90a")
    assert "7" in a["citations"]
    assert "60 A" in b["answer"] and "Daly" not in b["answer"] and b["facts"]["bms"] == "jk"


def test_selection_asks_only_for_what_is_missing_and_then_ranks(kb):
    a, b, c = talk(kb, "which bms should i get?", "its 16s", "about 50a cont")
    assert "series" in a["follow_up"].lower() and "current" in a["follow_up"].lower()
    assert "current" in b["follow_up"].lower() and "series" not in b["follow_up"].lower()
    assert c["follow_up"] is None and "is the pick" in c["answer"] and "16 S" in c["answer"]


def test_flow_started_from_prose_never_asks_what_was_said_and_takes_units(kb):
    d = Dialogue(kb=kb)
    a = d.turn("cells drifting apart on my ant")
    assert d.session is not None and a["follow_up"]  # a vague symptom starts the diagnosis
    b = d.turn("30mv like i said")
    assert not INTERNAL_ID.search(b["answer"]) and "bal-" not in b["answer"]
    assert abs(d.session.answers.get(next(iter(d.session.answers))) - 0.03) < 1e-9


def test_a_flow_answer_in_words_maps_to_an_option(kb):
    d = Dialogue(kb=kb)
    d.turn("bms not responding at all")
    p = d.session.next_step()
    assert p is not None and p.options
    d.turn("it's an ant")
    assert d.session.answers.get(p.id) == "ant" or d.session.reading is not None


def test_pasted_reading_is_checked(kb):
    r, = talk(kb, "cells 3.9 3.91 3.85 3.62\ncharge fet off\ncurrent -120 A")
    assert r["findings"] and r["citations"] and "checked the reading" in r["answer"]


def test_not_covered_says_so(kb):
    for q in ("how do I bake sourdough bread?", "what tire pressure should i run"):
        r, = talk(kb, q)
        assert NOT_COVERED in r["answer"] and r["citations"] == []


def test_adversarial_turn_is_answered_in_bounded_time(kb):
    d = Dialogue(kb=kb, paste_parser=parse_to_reading)
    for blob in ("a" * 100_000, "x=" * 50_000, "bms " * 25_000):
        t = time.perf_counter()
        r = d.turn(blob)
        assert time.perf_counter() - t < 3.0 and isinstance(r["answer"], str)


# ---------------------------------------------------------------- the evaluation set, judged by content


def test_eval_set_shape():
    sys.path.insert(0, str(ROOT))
    from bench.bench_chat import load_cases

    cases = load_cases()
    assert len(cases) >= 200 and sum(len(c["turns"]) > 1 for c in cases) >= 30
    for c in cases:
        judged = [t for t in c["turns"] if "must" in t or "must_not" in t]
        assert judged, c
        for t in c["turns"]:
            for p in [*t.get("must", []), *t.get("must_not", [])]:
                re.compile(p)


@pytest.mark.slow
def test_eval_accuracy_by_content(kb):
    sys.path.insert(0, str(ROOT))
    from bench.bench_chat import evaluate

    res = evaluate(kb=kb)
    # every case here was answered right when it was added: a few misses mean an answer that was right went wrong
    assert res["content"] >= 0.995, "\n".join(res["misses"])
    assert res["citation"] >= 0.98 and res["grounded"]


def test_a_wrong_answer_fails_its_case():
    """The judge itself: an answer that cites the right footnote but says the wrong thing is wrong by content."""
    sys.path.insert(0, str(ROOT))
    from bench.bench_chat import judge

    turn = {"q": "daly not balancing", "must": ["4\\.18"], "must_not": ["below the balance trigger"], "cite": ["7"]}
    ok, cite, _ = judge(turn, {"answer": "The delta is below the balance trigger.", "citations": ["7"], "follow_up": None})
    assert ok is False and cite is True


# ---------------------------------------------------------------- the command line


def _cli(*args, stdin: str | None = None):
    return subprocess.run([sys.executable, "-m", "tui", "chat", *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.slow
def test_cli_one_turn_json():
    out = _cli("which bms for a 20s 70A pack?", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"answer", "citations", "findings", "follow_up", "options"} <= set(data) and data["citations"]


@pytest.mark.slow
def test_cli_json_lines_from_stdin_keep_one_conversation():
    out = _cli("--json", stdin="what balance trigger should i set on my jk\n\nand on a daly?\n")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(lines) == 2 and "0.015" in lines[0]["answer"] and "4.18" in lines[1]["answer"]


def test_cli_empty_question_says_what_to_do_and_exits_2():
    out = _cli("")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "question" in out.stderr
