"""check() remembers what was not checked and the ranked questions by what they depend on (engine.check
_pending_cached): readings that differ only in their values get them from the cache. Differential test: every
reading of the reasoning example sets, and copies of them with other values, must get exactly the questions and the
not-checked list that working them out afresh gives."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from engine import check as check_mod
from engine.check import check
from engine.reading import Reading
from kb.errors import UserError

DATA = Path(__file__).parent / "data"
OTHER_FAMILY = {"daly": "jk", "jk": "daly", "ant": "jbd", "jbd": "ant"}


def _readings() -> list[Reading]:
    from tui.commands.check import read_input

    out = []
    for path in sorted(DATA.glob("reasoning_cases*.yaml")):
        for case in YAML(typ="safe").load(path.read_text())["cases"]:
            data, _notes = read_input(case["input"])
            variants = [{k: _scaled(v, scale) for k, v in data.items()} for scale in (1.0, 1.004)]
            # the same fields with other values (what the fleet sees each second), and another family, whose
            # handbook defaults (assumed, quoted in the questions) differ
            variants.append({**data, "bms": OTHER_FAMILY.get(str(data.get("bms")), "daly")})
            for moved in variants:
                try:
                    out.append(Reading.parse(moved))
                except UserError:
                    continue
    return out


def _scaled(v, scale: float):
    if isinstance(v, bool) or not isinstance(v, (int, float, list)):
        return v
    if isinstance(v, list):
        return [_scaled(x, scale) for x in v]
    return round(v * scale, 4) if isinstance(v, float) else v


def _pending_json(report) -> tuple[list, list]:
    return [q.to_json() for q in report.questions], [(n.rule, n.title, n.missing) for n in report.not_checked]


def test_cached_questions_equal_fresh_ones_for_every_example_reading(kb):
    readings = _readings()
    assert len(readings) > 500
    fresh = []
    for r in readings:
        check_mod._PENDING_CACHE.clear()
        fresh.append(_pending_json(check(r, kb, engine="evaluator")))
    check_mod._PENDING_CACHE.clear()
    for i in reversed(range(len(readings))):  # another order: entries made by other readings are reused
        assert _pending_json(check(readings[i], kb, engine="evaluator")) == fresh[i], readings[i].given()
    cached = len(check_mod._PENDING_CACHE[id(kb)][1])
    assert cached < len(readings) * 0.8  # the cache was really used (readings with the same known facts share one)
    assert any(q for q, _nc in fresh)  # and there were questions to compare


def test_a_callers_changes_to_the_lists_do_not_reach_the_next_report(kb):
    r = Reading.parse({"cells": [3.9, 3.91, 3.7, 3.9], "bms": "jk"})
    first = check(r, kb)
    asked = [q.field for q in first.questions]
    assert asked
    first.questions.clear()
    first.not_checked.clear()
    again = check(r, kb)
    assert [q.field for q in again.questions] == asked
    assert again.not_checked
