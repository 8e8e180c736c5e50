"""What check() remembers between readings (the fleet and the live view check many a second), tested against
working it out afresh on every reading of the reasoning example sets and on copies of them with other values and
another family:
- the rules whose scope admits a family and chemistry (engine.check.rules_in_scope), with their conditions
  compiled to closures (engine.compiled), decide as rule_truth and the tree walker do;
- what was not checked and the ranked questions, remembered by what they depend on (_pending_cached)."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from engine import check as check_mod
from engine.check import check, rules_in_scope, values_for
from engine.evaluate import rule_truth, truth
from engine.reading import Reading
from kb.errors import UserError

DATA = Path(__file__).parent / "data"
OTHER_FAMILY = {"daly": "jk", "jk": "daly", "ant": "jbd", "jbd": "ant"}


_CACHE: list[Reading] = []


def _readings() -> list[Reading]:
    if not _CACHE:
        _CACHE.extend(_make_readings())
    return _CACHE


def _make_readings() -> list[Reading]:
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


def test_rules_in_scope_decide_every_rule_as_rule_truth_does(kb):
    excluded = 0
    for r in _readings():
        values = values_for(r, kb)
        scoped = {rid: (s, c) for rid, _lr, s, c in rules_in_scope(kb, values.get("bms"), values.get("chemistry"))}
        for rid, lr in kb.rules.items():
            if lr.rule.status == "deprecated":
                assert rid not in scoped
                continue
            expected = rule_truth(lr.rule.scope, lr.tree, values)
            if rid not in scoped:
                assert expected is False, (rid, r.given())
                excluded += 1
                continue
            s, condition = scoped[rid]
            assert condition(values) == truth(lr.tree, values), (rid, r.given())  # compiled = the tree walker
            t = condition(values)
            got = False if t is False else (None if t is None or s is None else True)
            assert got == expected, (rid, r.given())
    assert excluded  # family-scoped rules were left out for other families
