"""The grounded chat: multi-turn dialogue, selection, pasted readings, not-covered, and the evaluation set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.paste import parse_to_reading
from engine.chat import NOT_COVERED, Dialogue
from kb.load import load_kb

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def kb():
    return load_kb()


def test_symptom_then_short_answers_reaches_the_conclusion(kb):
    d = Dialogue(kb=kb, paste_parser=parse_to_reading)
    r = d.turn("my jk bms keeps cutting out when i brake hard")
    assert r["follow_up"] and r["options"] and r["citations"]
    r = d.turn("2")  # "when braking or riding downhill"
    assert r["options"] == ["yes", "no"]
    r = d.turn("yes")
    assert "Conclusion" in r["answer"] and r["citations"] and r["follow_up"] is None
    assert d.session.concluded


def test_selection_with_missing_needs_asks_for_them(kb):
    d = Dialogue(kb=kb)
    r = d.turn("which bms should i get for my scooter?")
    assert "series" in r["follow_up"].lower() and "current" in r["follow_up"].lower()
    r = d.turn("it's 20s")
    assert "current" in r["follow_up"].lower() and "series" not in r["follow_up"].lower()
    r = d.turn("70A battery, 120 A regen")
    assert r["follow_up"] is None and "1." in r["answer"] and r["citations"]


def test_pasted_reading_mid_conversation_is_checked(kb):
    d = Dialogue(kb=kb, paste_parser=parse_to_reading)
    d.turn("cells not balancing, the delta keeps growing")
    assert d.session is not None and not d.session.concluded
    r = d.turn("cells 3.9 3.91 3.85 3.62\ncharge fet off\ncurrent -120 A")
    assert r["findings"] and r["citations"]
    assert "checked the reading" in r["answer"]


def test_unknown_topic_is_not_covered(kb):
    r = Dialogue(kb=kb).turn("how do I bake sourdough bread?")
    assert NOT_COVERED in r["answer"] and r["citations"] == []


def test_context_completes_an_earlier_question(kb):
    d = Dialogue(kb=kb)
    d.turn("what is the wake floor voltage?")
    r = d.turn("it's an ANT")
    assert d.facts["bms"] == "ant" and r["citations"]


def test_every_answer_cites_or_says_not_covered_and_accuracy(kb):
    sys.path.insert(0, str(ROOT))
    from bench.bench_chat import evaluate

    acc, p95, misses = evaluate()
    assert acc >= 0.9, misses
    assert p95 < 100


def test_cli_one_turn_json():
    out = subprocess.run([sys.executable, "-m", "tui", "chat", "which bms for a 20s 70A pack?", "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"answer", "citations", "findings", "follow_up", "options"} and data["citations"]
