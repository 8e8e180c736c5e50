"""The selection advisor ranks the five families the way the handbook would, with reasons and citations."""

import json

import pytest

from engine.select import Needs, select
from kb.errors import UserError
from kb.load import load_kb
from tui.cli import main


def _rank(**needs):
    result = select(Needs(**needs), load_kb())
    return {r.family: r for r in result.ranking}, [r.family for r in result.ranking]


def test_cramped_uptime_critical_60a_deck_prefers_jbd_or_ant():
    by, order = _rank(series=20, continuous=60, space="cramped", uptime="critical")
    assert set(order[:2]) == {"ant", "jbd"}
    assert by["jk"].verdict == "avoid"  # self-burn reports and bulky busbars
    assert any("2" in p.citations and "11" in p.citations for p in by["jk"].pitfalls)
    assert by["daly"].verdict == "avoid"


def test_budget_36v_commuter_gets_daly():
    by, order = _rank(series=10, continuous=20, budget="low")
    assert order[0] == "daly" and by["daly"].verdict == "recommended"
    assert any("18" in p.citations for p in by["daly"].reasons)
    assert any("7" in p.citations for p in by["daly"].pitfalls)  # learning cycles, balancing near 4.18 V


def test_20s_150a_peak_with_120a_regen():
    by, order = _rank(series=20, continuous=70, peak=150, regen=120)
    assert order[0] == "ant"
    # the handbook's JK tripped at ~60 A when 70 A was asked and runs warm near 60 A: its 150 A label is no headroom
    assert by["jk"].verdict == "avoid" and order.index("jk") > order.index("ant")
    jk_text = " ".join(p.text for p in by["jk"].pitfalls)
    assert "60 A" in jk_text and any("jk-trip" in p.citations for p in by["jk"].pitfalls)
    assert not any("headroom" in p.text.lower() for p in by["jk"].reasons)
    assert by["daly"].verdict == "avoid"  # 70 A is beyond its rating
    for r in by.values():  # an "avoid" verdict never comes with reasons in the family's favour
        assert r.verdict != "avoid" or not r.reasons
    assert any("4" in p.citations for p in by["jk"].pitfalls)  # keep the charge FET on for regen
    by_hot, _ = _rank(series=20, continuous=70, peak=150, regen=150)
    assert all(any("6" in p.citations for p in r.pitfalls) for r in by_hot.values())  # the ~120 A cap


def test_22s_rules_out_jbd_and_its_overstated_listing():
    by, order = _rank(series=22, continuous=60)
    assert by["jbd"].verdict == "avoid"
    assert any("16" in p.citations for p in by["jbd"].pitfalls)
    assert order[0] == "ant" and any("ant-32s" in p.citations for p in by["ant"].reasons)


def test_no_room_for_discharge_fets_points_to_charge_only_unless_protection_is_mandatory():
    by, order = _rank(series=16, continuous=50, space="none")
    assert order[0] == "charge-only" and by["charge-only"].verdict == "recommended"
    assert "21" in by["charge-only"].citations
    by, _ = _rank(series=16, continuous=50, space="none", full_protection=True)
    assert by["charge-only"].verdict == "avoid"
    assert any("no-fet-smart" in p.citations for p in by["charge-only"].pitfalls)


def test_every_reason_and_pitfall_cites_the_handbook():
    kb = load_kb()
    for needs in [dict(series=20, continuous=60, space="cramped", uptime="critical", regen=130, budget="low",
                       integration="vesc-can"), dict(series=13, continuous=30)]:
        for r in select(Needs(**needs), kb).ranking:
            for p in r.reasons + r.pitfalls:
                assert p.citations and all(c in kb.sources for c in p.citations), p


def test_bad_needs_are_one_line_errors(capsys):
    with pytest.raises(UserError):
        Needs(series=20, continuous=60, peak=30)
    with pytest.raises(SystemExit) as e:
        main(["select", "--series", "twenty", "--continuous", "60"])
    assert e.value.code == 2
    assert "not a series count" in capsys.readouterr().err


def test_json_shape(capsys):
    assert main(["select", "--series", "20", "--continuous", "60", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d) >= {"kb_version", "ranking"}
    r = d["ranking"][0]
    assert set(r) >= {"family", "verdict", "score", "reasons", "pitfalls", "citations"}
    assert all(set(p) == {"text", "citations"} for p in r["reasons"] + r["pitfalls"])
