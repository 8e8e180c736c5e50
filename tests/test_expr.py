"""The condition language: what parses, what is refused (with the column), and the tree it builds."""

import pytest

from kb.expr import And, Cmp, ExprError, Lit, Or, Ref, fields_of, parse, render


def test_parses_comparisons_booleans_and_lists():
    t = parse("charge_fet == false and max_regen > 0")
    assert t == And((Cmp("charge_fet", "==", Lit(False)), Cmp("max_regen", ">", Lit(0))))
    assert parse("bms in ['jk', 'ant']") == Or((Cmp("bms", "==", Lit("jk")), Cmp("bms", "==", Lit("ant"))))
    assert parse("balancing") == Cmp("balancing", "==", Lit(True))


def test_not_is_pushed_down_to_comparisons():
    assert render(parse("not (cell_delta > balance_trigger or balancing)")) == \
        "(cell_delta <= balance_trigger and balancing != true)"
    assert render(parse("not not balancing")) == "balancing == true"
    assert render(parse("bms not in ['jk', 'daly']")) == "(bms != 'jk' and bms != 'daly')"


def test_literal_on_the_left_is_flipped_and_chains_split():
    assert parse("120 < max_regen") == Cmp("max_regen", ">", Lit(120))
    assert render(parse("0.5 < cell_min < 3")) == "(cell_min > 0.5 and cell_min < 3)"


def test_arithmetic_on_the_value_side():
    t = parse("cell_uvp < 61.2 / series")
    assert isinstance(t, Cmp) and t.field == "cell_uvp"
    assert fields_of(t) == ["cell_uvp", "series"]
    assert isinstance(parse("battery_limit > discharge_ocp").rhs, Ref)


@pytest.mark.parametrize("text, message, col", [
    ("cel_delta > 1", "unknown field 'cel_delta' (did you mean 'cell_delta'?)", 1),
    ("bms == 'foo'", "'foo' is not a value of 'bms'", 8),
    ("cells > 3", "'cells' is a list", 1),
    ("__import__('os').system('x')", "found a function call", 1),
    ("cell_delta.real > 1", "found an attribute", 1),
    ("balancing > 1", "'balancing' is yes/no", 13),
    ("3 < 4", "one side of a comparison must be a bare field", 1),
    ("pack_voltage == 'high'", "'pack_voltage' is a number", 17),
    ("state > 'idle'", "only == and != apply", 9),
    ("cell_min < 3 / 0", "division by zero", 16),
    ("soc", "'soc' is not a yes/no field", 1),
])
def test_refuses_with_message_and_column(text, message, col):
    with pytest.raises(ExprError) as e:
        parse(text)
    assert message in e.value.message
    assert e.value.col == col


def test_syntax_error_has_a_position():
    with pytest.raises(ExprError) as e:
        parse("cell_delta > > 1")
    assert e.value.message.startswith("syntax error")
    assert e.value.col >= 12
