"""The answer cards as knowledge: content/answers.yaml is validated like the rules (numbers need a basis, citations a
footnote, conditions parse), and a fresh process answers card questions from the plain-data snapshot."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kb.errors import KBInvalid
from kb.load import load_kb

ROOT = Path(__file__).resolve().parents[1]
CARD = '''
  - id: test-card
    topic: balancing
    need: ["flux capacitor"]
    weight: 9
    answers:
      - when: "balance_trigger < 0.015"
        text: "Raise it to 0.015 V, or 0.5 V if you like."
    numbers: [{value: 0.015, unit: V, basis: handbook}]
    citations: ["9"]
'''


def _content_with(tmp_path: Path, extra: str) -> Path:
    root = tmp_path / "content"
    shutil.copytree(ROOT / "content", root)
    p = root / "answers.yaml"
    p.write_text(p.read_text(encoding="utf-8").rstrip() + "\n" + extra, encoding="utf-8")
    return root


@pytest.mark.slow
def test_a_number_without_basis_and_a_bad_footnote_are_problems(tmp_path):
    bad = CARD.replace('citations: ["9"]', 'citations: ["9", "no-such-note"]').replace(
        'when: "balance_trigger < 0.015"', 'when: "balance_triger < 0.015"')
    with pytest.raises(KBInvalid) as e:
        load_kb(_content_with(tmp_path, bad), use_cache=False)
    text = "\n".join(str(p) for p in e.value.problems)
    assert "answers.yaml" in text and "number 0.5 is not listed" in text
    assert "unknown footnote 'no-such-note'" in text and "balance_triger" in text


def test_a_valid_card_answers(tmp_path):
    from engine.chat import Dialogue

    kb = load_kb(_content_with(tmp_path, CARD.replace(", or 0.5 V if you like", "")), use_cache=False)
    r = Dialogue(kb=kb).turn("my flux capacitor balance trigger is 0.005v, what now")
    assert r["answer"].startswith("Raise it to 0.015 V") and r["citations"] == ["9"]


@pytest.mark.slow
def test_fresh_process_answers_from_the_snapshot_without_kb_models(tmp_path):
    """A card question in a new process must not import the KB's pydantic models (that is the 0.5 s budget)."""
    code = ("import sys, json; from tui.commands.chat import make_dialogue; d = make_dialogue(); "
            "r = d.turn('what balance trigger should i set on my jk'); "
            "print(json.dumps({'answer': r['answer'], 'pydantic': 'pydantic' in sys.modules}))")
    runs = []
    for _ in range(3):  # the first run builds the snapshot; content edited meanwhile (a shared tree) rebuilds it once more
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout))
        if len(runs) > 1 and runs[-1]["pydantic"] is False:
            break
    assert all("0.015 V" in r["answer"] for r in runs)
    assert runs[-1]["pydantic"] is False
