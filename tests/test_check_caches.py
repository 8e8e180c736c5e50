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


def _random_values(fields: list[str], rnd) -> dict:
    """Values a rule may meet, of each field's kind: absent, None, zero (a divisor), ints and floats either side of
    typical thresholds, booleans, the field's words."""
    from kb.fields import FIELDS, KNOWN_PREFIX

    numbers = [0, 0.0, 1, 3, 13, 20, 2.5, 3.3, 3.65, 4.2, 4.25, 60.0, -12.0, 0.015, 1e-9]
    out = {}
    for f in fields:
        if rnd.random() < 0.15:
            continue
        spec = FIELDS.get(f)
        if f.startswith(KNOWN_PREFIX) or spec is not None and spec.kind == "bool":
            choices: list = [True, False]
        elif spec is not None and spec.kind == "enum":
            choices = list(spec.values or ["x"])
        elif spec is not None and spec.kind == "text":
            choices = ["E07", "cell overvoltage", ""]
        else:
            choices = numbers
        out[f] = rnd.choice([None, *choices])
    return out


def test_compiled_conditions_agree_with_the_tree_walker_on_random_values(kb):
    """Beyond the example readings: mixed types, missing fields and zero divisors in arithmetic (engine.compiled
    must give exactly engine.evaluate.truth's three-valued answer, or the fleet would decide differently)."""
    import random

    from engine.compiled import compile_truth
    from kb.expr import fields_of

    rnd = random.Random(7)
    compared = 0
    for rid, lr in kb.rules.items():
        fields = list(dict.fromkeys(fields_of(lr.tree)))
        fn = compile_truth(lr.tree)
        for _ in range(150):
            values = _random_values(fields, rnd)
            assert fn(values) == truth(lr.tree, values), (rid, values)
            compared += 1
    assert compared > 5000


def _opposite_pair_by_definition(cells: list[float]) -> float:
    """The docstring of engine.facts._opposite_pair, pair by pair with a median each (what it computed before it
    learnt to rule most pairs out first)."""
    import statistics

    best = 0.0
    for i in range(len(cells) - 1):
        rest = cells[:i] + cells[i + 2:]
        ref = statistics.median(rest)
        a, b = cells[i] - ref, cells[i + 1] - ref
        if a * b >= 0:
            continue
        small, large = sorted((abs(a), abs(b)))
        if small == 0 or large > 1.5 * small:
            continue
        if max(rest) - min(rest) <= small / 2:
            best = max(best, small)
    return best if len(cells) >= 3 else 0.0


def test_the_sense_lead_pattern_is_found_as_its_definition_says():
    """A tap landed between two others: +x on one cell, -x on its neighbour. The fast path must find every such
    pack the pair-by-pair definition finds, and the same x, on quiet packs, drifting ones, dead taps and shifts."""
    import random

    from engine.facts import _opposite_pair

    rnd = random.Random(11)
    found = 0
    for _ in range(20000):
        n = rnd.randint(3, 24)
        base = rnd.choice([3.3, 3.9, 4.1])
        cells = [round(base + rnd.gauss(0, rnd.choice([0.0005, 0.003, 0.02])), 3) for _ in range(n)]
        if rnd.random() < 0.5:
            i = rnd.randrange(n - 1)
            x = rnd.choice([0.01, 0.05, 0.2, 0.5, 1.0])
            cells[i] += x
            cells[i + 1] -= x * rnd.choice([1, 0.9, 1.1, 1.4, 2])
        if rnd.random() < 0.1:
            cells[rnd.randrange(n)] = 0.0
        expected = _opposite_pair_by_definition(cells)
        assert _opposite_pair(cells, 3.9) == expected, cells
        found += expected > 0
    assert found > 1000  # the random packs do include the pattern
