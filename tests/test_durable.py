"""durable-rules against the reference evaluator: the same fired set on every reading, within the C core's limits."""

import random
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

durable = pytest.importorskip("durable.engine", reason="durable-rules does not build on this Python")

from engine.durable import MAX_RULES_PER_SHARD, MAX_TERMS_PER_SHARD, DurableEngine, compile_rule, terms  # noqa: E402
from engine.evaluate import rule_truth  # noqa: E402
from engine.reading import Reading  # noqa: E402
from kb.expr import And, Arith, Cmp, Lit, Or, Ref, parse  # noqa: E402
from kb.fields import CONDITION_FIELDS, FAMILIES, FIELDS  # noqa: E402
from kb.schema import Scope  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _expected(rules, values) -> set[str]:
    return {rid for rid, tree, scope in rules if rule_truth(scope, tree, values) is True}


# ---------------------------------------------------------------- the traps, one by one


def test_every_rule_starts_with_the_positive_discriminator():
    c = compile_rule("x", parse("balancing != true"), Scope(chemistry=["li-ion"]))
    assert c.condition["$and"][0] == {"kind": "reading"}


def test_missing_reference_or_arithmetic_field_never_fires():
    # durable alone would match `a > $m.c` when c is missing; the compiled guards must stop it
    rules = [("ref", parse("cell_max > cell_ovp"), Scope()),
             ("arith", parse("cell_max > cell_ovp - 0.05"), Scope()),
             ("lit-left", parse("current < 0 - battery_limit"), Scope())]
    eng = DurableEngine(rules)
    assert eng.fired({"cell_max": 4.3}) == set()
    assert eng.fired({"current": -50.0}) == set()
    assert eng.fired({"cell_max": 4.3, "cell_ovp": 4.25, "current": -50.0, "battery_limit": 40.0}) == \
        {"ref", "arith", "lit-left"}


def test_division_guards_and_real_division():
    rules = [("by-ref", parse("cell_mean > pack_voltage / series"), Scope()),
             ("by-expr", parse("cell_mean > pack_voltage / (series - 16)"), Scope())]
    eng = DurableEngine(rules)
    # integer values and divisors of zero: no crash (SIGFPE), no inf, and a zero divisor never fires
    cases = [({"cell_mean": 3.9, "pack_voltage": 62, "series": 16}, {"by-ref"}),  # 62/16 = 3.875; 62/0
             ({"cell_mean": 3.6, "pack_voltage": 7, "series": 2}, {"by-ref", "by-expr"}),  # 7/2 = 3.5, not 3
             ({"cell_mean": 3.4, "pack_voltage": 7, "series": 2}, {"by-expr"}),  # 7/-14 = -0.5
             ({"cell_mean": 3.9, "pack_voltage": 63.0, "series": 0}, {"by-expr"})]  # 63/0; 63/-16
    for values, want in cases:
        assert eng.fired(values) == want == _expected(rules, values)


def test_scope_is_compiled_too():
    rules = [("jk-only", parse("charge_fet == false"), Scope(families=["jk", "ant"])),
             ("liion", parse("charge_fet == false"), Scope(chemistry=["li-ion"])),
             ("lfp", parse("charge_fet == false"), Scope(chemistry=["lifepo4"]))]
    eng = DurableEngine(rules)
    assert eng.fired({"charge_fet": False}) == set()  # unknown chemistry is outside a chemistry scope
    assert eng.fired({"charge_fet": False, "chemistry": "li-ion"}) == {"liion"}
    assert eng.fired({"charge_fet": False, "bms": "ant", "chemistry": "lifepo4"}) == {"jk-only", "lfp"}
    assert eng.fired({"charge_fet": False, "bms": "daly", "chemistry": "li-ion"}) == {"liion"}


def test_reserved_and_non_finite_values_are_refused():
    eng = DurableEngine([("r", parse("soc > 1"), Scope())])
    for bad in ({"id": 3.0}, {"sid": "x"}, {"kind": "other"}, {"soc": float("nan")}, {"soc": float("inf")}):
        with pytest.raises(ValueError):
            eng.fired(bad)
    assert eng.fired({"soc": 50}) == {"r"}


def test_rules_that_expand_beyond_the_budget_are_left_to_the_evaluator():
    big = parse(" and ".join(f"(cell_min > {i} or cell_max > {i})" for i in range(7)))  # 2**7 terms
    assert terms(big) == 128
    eng = DurableEngine([("big", big, Scope()), ("small", parse("soc > 1"), Scope())])
    assert eng.evaluator_only == ["big"]
    assert eng.fired({"cell_min": 9.0, "soc": 5.0}) == {"small"}


def test_concurrent_callers_get_their_own_answers():
    eng = DurableEngine([("hot", parse("temp_max > 60"), Scope()), ("cold", parse("temp_min < 0"), Scope())])
    cases = [({"temp_max": 70.0, "temp_min": 10.0}, {"hot"}), ({"temp_max": 20.0, "temp_min": -5.0}, {"cold"}),
             ({"temp_max": 20.0, "temp_min": 10.0}, set())]
    errors = []

    def worker(k):
        for i in range(300):
            vals, want = cases[(i + k) % 3]
            got = eng.fired(vals)
            if got != want:
                errors.append((vals, got))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def _run_isolated(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


@pytest.mark.slow  # the C core in child processes
def test_the_64_term_limit_is_real_and_the_shard_budget_stays_below_it():
    # in a child process: error 303 can leave the C core unusable
    code = """
        import itertools
        from durable.engine import Host, MessageNotHandledException
        class H(Host):
            def _run(self): pass
        h = H()
        def run(c): pass
        for n in (%d, 64, 65):
            rs = {f"r{i}": {"all": [{"m": {"$and": [{"kind": "reading"}, {"$gt": {"a": float(i)}}]}}], "run": run}
                  for i in range(n)}
            h.register_rulesets({f"t{n}": rs})
            try:
                h.assert_fact(f"t{n}", {"kind": "reading", "sid": "s", "id": n, "a": 1000.0})
                print(n, "ok")
            except Exception as e:
                print(n, "error", e)
                break
    """ % MAX_TERMS_PER_SHARD
    out = _run_isolated(code).stdout.split("\n")
    assert out[:3] == [f"{MAX_TERMS_PER_SHARD} ok", "64 ok", "65 error Could not assert fact, error code: 303"]


def test_a_new_kb_can_be_compiled_after_readings_were_checked():
    # the fresh-session-plus-delete_state pattern segfaults here; assert+retract must not
    code = """
        from engine.durable import DurableEngine
        from kb.expr import parse
        from kb.schema import Scope
        a = DurableEngine([("a", parse("soc > 50"), Scope())])
        assert a.fired({"soc": 10.0}) == set() and a.fired({"soc": 60.0}) == {"a"}
        b = DurableEngine([("b", parse("soc < 50"), Scope())])
        assert b.fired({"soc": 10.0}) == {"b"} and a.fired({"soc": 60.0}) == {"a"}
        print("ok")
    """
    r = _run_isolated(code)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


# ---------------------------------------------------------------- differential: random rules, random readings

NUM = sorted(f for f in CONDITION_FIELDS if FIELDS[f].kind in ("number", "int"))
BOOL = sorted(f for f in CONDITION_FIELDS if FIELDS[f].kind == "bool")
ENUM = sorted(f for f in CONDITION_FIELDS if FIELDS[f].kind == "enum")
TEXT = sorted(f for f in CONDITION_FIELDS if FIELDS[f].kind == "text")
POOL = [0, 0.5, 1, 2, 3.0, 3.65, 4.2, 16, 30, 0.1 + 0.2, 0.3, -1.5]  # shared by rules and readings: equality hits
TEXTS = ["x", "under_voltage", 'quote"d', "Ünï"]


def _num_operand(rng: random.Random, depth: int = 0):
    r = rng.random()
    if r < 0.45 or depth > 1:
        return Lit(rng.choice(POOL))
    if r < 0.75:
        return Ref(rng.choice(NUM))
    op = rng.choice("+-*/")
    right = _num_operand(rng, depth + 1)
    if op == "/" and isinstance(right, Lit) and right.value == 0:
        right = Lit(2)
    return Arith(op, _num_operand(rng, depth + 1), right)


def _cmp(rng: random.Random) -> Cmp:
    r = rng.random()
    if r < 0.6:
        return Cmp(rng.choice(NUM), rng.choice(["<", "<=", ">", ">=", "==", "!="]), _num_operand(rng))
    if r < 0.8:
        rhs = Ref(rng.choice(BOOL)) if rng.random() < 0.2 else Lit(rng.random() < 0.5)
        return Cmp(rng.choice(BOOL), rng.choice(["==", "!="]), rhs)
    if r < 0.95:
        f = rng.choice(ENUM)
        return Cmp(f, rng.choice(["==", "!="]), Lit(rng.choice(FIELDS[f].values)))
    return Cmp(rng.choice(TEXT), rng.choice(["==", "!="]), Lit(rng.choice(TEXTS)))


def _tree(rng: random.Random, depth: int = 0):
    if depth >= 2 or rng.random() < 0.35:
        return _cmp(rng)
    items = tuple(_tree(rng, depth + 1) for _ in range(rng.randint(2, 3)))
    return And(items) if rng.random() < 0.6 else Or(items)


def _scope(rng: random.Random) -> Scope:
    fams = rng.sample(FAMILIES, rng.choice([0, 0, 1, 2]))
    chem = rng.sample(["li-ion", "lifepo4"], rng.choice([0, 0, 1, 2]))
    return Scope(families=fams, chemistry=chem)


RNG = random.Random(20240603)
RANDOM_RULES = [(f"r{i}", _tree(RNG), _scope(RNG)) for i in range(150)]
RANDOM_ENGINE = DurableEngine(RANDOM_RULES)
COMPILED = [r for r in RANDOM_RULES if r[0] not in RANDOM_ENGINE.evaluator_only]


def test_shards_respect_the_budget():
    assert len(RANDOM_ENGINE.shards) > 1
    for shard in RANDOM_ENGINE.shards:
        assert len(shard.rules) <= MAX_RULES_PER_SHARD
        assert shard.terms <= MAX_TERMS_PER_SHARD or len(shard.rules) == 1


values_st = st.fixed_dictionaries({}, optional={
    **{f: st.one_of(st.sampled_from(POOL), st.floats(-50, 50, allow_nan=False, allow_infinity=False)) for f in NUM},
    **{f: st.booleans() for f in BOOL},
    **{f: st.sampled_from(FIELDS[f].values) for f in ENUM},
    **{f: st.sampled_from(TEXTS) for f in TEXT},
})


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values_st)
def test_durable_and_evaluator_agree_on_generated_readings(values):
    assert RANDOM_ENGINE.fired(values) == _expected(COMPILED, values)


def test_durable_and_evaluator_agree_on_a_seeded_sweep():
    # hypothesis explores and shrinks; this sweep adds volume cheaply (drawing 60-key dicts is hypothesis' cost)
    rng = random.Random(99)
    for _ in range(1500):
        values = {}
        for f in NUM:
            if rng.random() < 0.6:
                values[f] = rng.choice(POOL) if rng.random() < 0.5 else round(rng.uniform(-50, 50), rng.randint(0, 4))
        for f in BOOL:
            if rng.random() < 0.6:
                values[f] = rng.random() < 0.5
        for f in ENUM:
            if rng.random() < 0.6:
                values[f] = rng.choice(FIELDS[f].values)
        for f in TEXT:
            if rng.random() < 0.3:
                values[f] = rng.choice(TEXTS)
        assert RANDOM_ENGINE.fired(values) == _expected(COMPILED, values), values


def test_everything_wrong_reading_per_family_stays_within_limits():
    # a fact that makes every comparison against a pool value true where it can: many rules at once
    for fam in FAMILIES:
        for chem in (None, "lifepo4"):
            vals = {f: 30.0 for f in NUM} | {f: False for f in BOOL} | {"bms": fam, "state": "riding"}
            if chem:
                vals["chemistry"] = chem
            assert RANDOM_ENGINE.fired(vals) == _expected(COMPILED, vals)


# ---------------------------------------------------------------- the shipped knowledge base


def _kb_rules(kb):
    return [(rid, lr.tree, lr.rule.scope) for rid, lr in kb.rules.items()]


def test_kb_inline_rule_tests_agree_and_pass_on_both_engines(kb):
    from engine.check import durable_engine_for, values_for

    eng = durable_engine_for(kb)
    rules = _kb_rules(kb)
    for rid, lr in kb.rules.items():
        for t in lr.rule.tests:
            values = values_for(Reading.parse(t.reading), kb)  # derived facts, defaults and known() flags
            got = eng.fired(values) | {r for r in eng.evaluator_only if rule_truth(kb.rules[r].rule.scope, kb.rules[r].tree, values)}
            want = _expected(rules, values)
            assert got == want, (rid, t.name)
            assert (rid in got) == t.fires, (rid, t.name)


def _everything_wrong(fam: str) -> dict:
    return {"bms": fam, "series": 16, "cells": [4.35] * 8 + [2.4, 0.0] + [3.1] * 6, "pack_voltage": 40.0,
            "current": 260.0, "soc": 100, "temperatures": [75, -25], "mos_temp": 110, "charge_fet": False,
            "discharge_fet": False, "balancing": False, "balance_current": 0, "state": "riding", "cell_ovp": 4.5,
            "cell_ovp_recover": 4.5, "cell_uvp": 2.0, "cell_uvp_recover": 1.9, "balance_trigger": 0.5,
            "balance_start": 4.3, "charge_ocp": 300, "discharge_ocp": 500, "rated_continuous": 40, "rated_peak": 60,
            "regen_limit": 250, "battery_limit": 400, "dash_low_warning": 2.5, "dash_high_warning": 4.4,
            "controller": "vesc", "goal": "range", "days_idle": 400, "charge_target": 4.35, "fused": False,
            "uptime_critical": True}


def test_kb_everything_wrong_reading_per_family_agrees_within_limits(kb):
    from engine.check import check, values_for

    for fam in FAMILIES:
        reading = Reading.parse(_everything_wrong(fam))
        rep = check(reading, kb=kb, engine="durable")
        assert rep.engine == "durable-rules" and not rep.notes, rep.notes
        assert {f.rule for f in rep.findings} == _expected(_kb_rules(kb), values_for(reading, kb))


@pytest.fixture(scope="module")
def kb_engine(kb):
    from engine.check import durable_engine_for

    return kb, durable_engine_for(kb)


def _reading_values():
    num = {}
    for name in ("pack_voltage", "current", "soc", "mos_temp", "balance_current", "cell_ovp", "cell_uvp",
                 "balance_trigger", "charge_ocp", "discharge_ocp", "rated_continuous", "regen_limit",
                 "battery_limit", "dash_low_warning", "days_idle", "cell_ovp_recover", "cell_uvp_recover",
                 "balance_start", "rated_peak", "charge_target", "charger_voltage", "dash_high_warning", "duty"):
        lo, hi = FIELDS[name].bounds
        num[name] = st.floats(lo, hi, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 3))
    return st.fixed_dictionaries({}, optional={
        **num,
        "bms": st.sampled_from(FAMILIES), "chemistry": st.sampled_from(["li-ion", "lifepo4"]),
        "series": st.integers(1, 32),
        "cells": st.lists(st.floats(0.0, 4.5).map(lambda x: round(x, 3)), min_size=1, max_size=24),
        "temperatures": st.lists(st.integers(-30, 90), min_size=1, max_size=4),
        "charge_fet": st.booleans(), "discharge_fet": st.booleans(), "balancing": st.booleans(),
        "state": st.sampled_from(["riding", "idle", "charging", "storage"]),
        "controller": st.sampled_from(["vesc", "spintend", "stock"]), "goal": st.sampled_from(["longevity", "range"]),
        "fused": st.booleans(), "uptime_critical": st.booleans(),
    })


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.function_scoped_fixture])
@given(data=_reading_values())
def test_kb_engines_agree_on_generated_readings(kb_engine, data):
    kb, eng = kb_engine
    values = Reading.parse(data).values()
    rules = [r for r in _kb_rules(kb) if r[0] not in eng.evaluator_only]
    assert eng.fired(values) == _expected(rules, values)


def test_numbers_durable_cannot_parse_are_written_so_it_can():
    # Python writes 1e-05 and 1e+20; durable's parser needs 1.0e-05 (facts) and refuses the rule (literals)
    eng = DurableEngine([("tiny", parse("balance_current > 0.00001"), Scope()),
                         ("small", parse("balance_current > 0.0001"), Scope())])
    assert eng.evaluator_only == ["tiny"]
    assert eng.fired({"balance_current": 1e-05}) == set()
    assert eng.fired({"balance_current": 2e-04, "soc": 1e-300}) == {"small"}
    assert eng.fired({"balance_current": 1e-182}) == set()
