"""The reference evaluator: Kleene truth, missing fields, explanations, scope and message templates."""

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.evaluate import evaluate, render_template, rule_truth, scope_truth, truth
from kb.expr import And, Cmp, Lit, Or, Ref, parse
from kb.schema import Scope


def test_fires_only_when_true_and_names_missing_fields():
    t = parse("charge_fet == false and max_regen > 0")
    assert evaluate(t, {"charge_fet": False, "max_regen": 30.0}).value is True
    o = evaluate(t, {"charge_fet": False})
    assert o.value is None and o.missing == ["max_regen"]
    o = evaluate(t, {"charge_fet": True})
    assert o.value is False and o.missing == []  # false and unknown is false: nothing to ask for


def test_kleene_or_and_not_equal_on_missing():
    t = parse("cell_delta > 0.05 or balancing")
    assert evaluate(t, {"cell_delta": 0.1}).value is True  # true or unknown
    assert evaluate(t, {"cell_delta": 0.01}).value is None  # false or unknown
    assert evaluate(t, {"cell_delta": 0.01, "balancing": False}).value is False
    # a != on a missing field is unknown, not true
    assert evaluate(parse("bms != 'jk'"), {}).value is None
    assert evaluate(parse("bms != 'jk'"), {"bms": "ant"}).value is True


def test_references_and_arithmetic_need_every_field():
    t = parse("cell_max > cell_ovp - 0.05")
    o = evaluate(t, {"cell_max": 4.21})
    assert o.value is None and o.missing == ["cell_ovp"]
    assert evaluate(t, {"cell_max": 4.21, "cell_ovp": 4.25}).value is True
    assert evaluate(t, {"cell_max": 4.19, "cell_ovp": 4.25}).value is False


def test_division_by_zero_is_unknown_and_explained():
    t = parse("cell_mean > pack_voltage / (series - 16)")
    o = evaluate(t, {"cell_mean": 3.9, "pack_voltage": 63.0, "series": 16})
    assert o.value is None and o.missing == []
    assert "division by zero" in o.explanation[0] and o.explanation[0].endswith("-> unknown")
    assert evaluate(t, {"cell_mean": 3.9, "pack_voltage": 63.0, "series": 17}).value is False  # 3.9 > 63 / 1
    assert evaluate(t, {"cell_mean": 3.9, "pack_voltage": 63.0, "series": 33}).value is True  # 3.9 > 63 / 17


def test_integer_values_divide_as_real_numbers():
    # 7 / 2 is 3.5, not 3 (durable-rules gets floats for the same reason)
    t = parse("cell_mean > pack_voltage / series")
    assert evaluate(t, {"cell_mean": 3.4, "pack_voltage": 7, "series": 2}).value is False
    assert evaluate(t, {"cell_mean": 3.6, "pack_voltage": 7, "series": 2}).value is True


def test_explanation_mirrors_the_tree_with_values():
    t = parse("cell_delta > balance_trigger and (balancing == false or max_regen > 0)")
    o = evaluate(t, {"cell_delta": 0.04, "balance_trigger": 0.015, "balancing": False})
    assert o.value is True
    assert o.explanation == [
        "cell_delta 0.04 > balance_trigger 0.015 -> true",
        "any of -> true",
        "  balancing false == false -> true",
        "  max_regen (missing) > 0 -> unknown",
    ]
    arith = evaluate(parse("cell_max > cell_ovp - 0.05"), {"cell_max": 4.21, "cell_ovp": 4.25})
    assert arith.explanation == ["cell_max 4.21 > (cell_ovp 4.25 - 0.05) = 4.2 -> true"]


def test_scope_families_and_default_chemistry():
    jk = Scope(families=["jk"])
    assert scope_truth(jk, {"bms": "jk"}) == (True, [])
    assert scope_truth(jk, {"bms": "ant"}) == (False, [])
    assert scope_truth(jk, {}) == (None, ["bms"])  # a family-scoped rule needs to know the family
    assert scope_truth(Scope(), {}) == (True, [])
    liion = Scope(chemistry=["li-ion"])
    assert scope_truth(liion, {}) == (None, ["chemistry"])  # Li-ion advice needs the chemistry known or inferred
    assert scope_truth(liion, {"chemistry": "lifepo4"}) == (False, [])
    assert scope_truth(Scope(chemistry=["lifepo4"]), {}) == (None, ["chemistry"])
    t = parse("charge_fet == false")
    assert rule_truth(jk, t, {"charge_fet": False}) is None
    assert rule_truth(jk, t, {"charge_fet": True}) is False  # unknown scope and false condition: false
    assert rule_truth(Scope(families=["ant"]), t, {"bms": "jk", "charge_fet": False}) is False


def test_templates_fill_values_and_never_run_format_on_text():
    vals = {"max_regen": 30.4, "cell_delta": 0.04, "charge_fet": False, "series": 16.0}
    assert render_template("regen {max_regen:.0f} A, delta {cell_delta:.3f} V, FET {charge_fet}, {series:d}S",
                           vals) == "regen 30 A, delta 0.040 V, FET false, 16S"
    assert render_template("cell {cell_min:.3f} V", {}) == "cell ? V"
    # attribute access, indexing and positional fields are not placeholders: left exactly as written
    hostile = "{max_regen.__class__} {max_regen[0]} {0} {max_regen!r} {}"
    assert render_template(hostile, vals) == hostile
    assert render_template("{max_regen:!r}", vals) == "30.4"  # a spec that is not a simple number format


# ---------------------------------------------------------------- property: Kleene in NNF == unknown-as-false

FIELDS = ["cell_delta", "balance_trigger", "max_regen", "cell_min", "cell_uvp"]
BOOLS = ["charge_fet", "balancing"]


def _cmp():
    num = st.builds(lambda f, op, v: Cmp(f, op, Lit(v)), st.sampled_from(FIELDS),
                    st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), st.sampled_from([0, 0.015, 1, 3.0, 30]))
    ref = st.builds(lambda f, op, g: Cmp(f, op, Ref(g)), st.sampled_from(FIELDS),
                    st.sampled_from(["<", ">", "=="]), st.sampled_from(FIELDS))
    boo = st.builds(lambda f, op, v: Cmp(f, op, Lit(v)), st.sampled_from(BOOLS), st.sampled_from(["==", "!="]),
                    st.booleans())
    return st.one_of(num, ref, boo)


trees = st.recursive(_cmp(), lambda kids: st.one_of(
    st.builds(lambda xs: And(tuple(xs)), st.lists(kids, min_size=2, max_size=3)),
    st.builds(lambda xs: Or(tuple(xs)), st.lists(kids, min_size=2, max_size=3))), max_leaves=8)
readings = st.fixed_dictionaries({}, optional={
    **{f: st.sampled_from([0.0, 0.015, 0.5, 1.0, 3.0, 30.0, -2.0]) for f in FIELDS},
    **{b: st.booleans() for b in BOOLS}})


def _unknown_as_false(t, values) -> bool:
    if isinstance(t, Cmp):
        return truth(t, values) is True
    parts = [_unknown_as_false(i, values) for i in t.items]
    return all(parts) if isinstance(t, And) else any(parts)


@settings(max_examples=400, deadline=None)
@given(trees, readings)
def test_true_exactly_when_true_with_unknowns_taken_as_false(tree, values):
    # the property the durable-rules compiler relies on (the tree is in negation normal form)
    assert (truth(tree, values) is True) == _unknown_as_false(tree, values)
    o = evaluate(tree, values)
    assert o.value == truth(tree, values)
    assert set(o.missing) <= set(FIELDS + BOOLS) - set(values)
    if o.value is None:
        assert o.missing  # no division here, so an unknown always names what is missing
