"""kb/flows.py's step model is a discriminated union, one model per step kind (and per answer type of an ask):
each says what that kind needs, and a mistake is still one file:line:col problem in the author's words."""

import pytest
from flows_support import build_content, col_of, line_of

from kb.errors import KBInvalid
from kb.flows import AskChoiceStep, AskNumberStep, CheckStep, ConcludeStep, MeasureStep
from kb.load import load_kb


def test_each_kind_names_only_what_it_takes():
    assert {"when", "yes", "no", "question"} <= set(CheckStep.model_fields) and "unit" not in CheckStep.model_fields
    assert "options" in AskChoiceStep.model_fields and "branches" not in AskChoiceStep.model_fields
    assert {"unit", "min", "max", "branches"} <= set(AskNumberStep.model_fields)
    assert "instruction" in MeasureStep.model_fields and "options" not in MeasureStep.model_fields
    assert {"title", "severity", "text", "remedy"} <= set(ConcludeStep.model_fields)
    assert "question" not in ConcludeStep.model_fields
    required = {n for n, f in CheckStep.model_fields.items() if f.is_required()}
    assert required == {"id", "kind", "question", "when", "yes", "no"}


def test_kind_and_type_mistakes_are_located_in_the_authors_words(tmp_path):
    root = build_content(tmp_path / "content")
    hot = root / "flows" / "hot-bms.yaml"
    text = hot.read_text()
    # a choice question given a unit, and a check step without its condition
    text = text.replace("    type: choice\n    question: What do you notice?\n",
                        "    type: choice\n    unit: V\n    question: What do you notice?\n", 1)
    hot.write_text(text)
    cut = root / "flows" / "cutout.yaml"
    ctext = cut.read_text().replace("    when: battery_limit > discharge_ocp\n", "", 1)
    cut.write_text(ctext)
    bal = root / "flows" / "balancing.yaml"
    btext = bal.read_text().replace("    kind: measure\n", "    kind: mesure\n", 1)
    bal.write_text(btext)
    with pytest.raises(KBInvalid) as e:
        load_kb(root, use_cache=False)
    got = [str(p) for p in e.value.problems]

    line = line_of(text, "    unit: V")
    assert f"content/flows/hot-bms.yaml:{line}:5: 'unit' does not apply to a choice question" in got, got
    kline = line_of(ctext, "kind: check", line_of(ctext, "- id: load-over-limit"))
    assert f"content/flows/cutout.yaml:{kline}:5: check step 'load-over-limit' needs 'when'" in got, got
    mline = line_of(btext, "kind: mesure")
    assert any(p.startswith(f"content/flows/balancing.yaml:{mline}:{col_of(btext, mline, 'mesure')}: ")
               and "'check', 'ask', 'measure' or 'conclude'" in p and "'mesure'" in p for p in got), got
