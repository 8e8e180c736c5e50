"""The diagnosis runner: every flow's answer scripts, reading-answered checks, answers in any order, changing an
answer, why/how, plain-data round trip, symptom matching, `bmsdoc kb test`, and the TUI adapter on top of it."""

import json

import pytest
from flows_support import build_content

from engine.flows import Session, match_symptom, run_flow_tests, start
from engine.reading import Reading
from kb.errors import UserError
from kb.load import load_kb


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    return load_kb(build_content(tmp_path_factory.mktemp("flows") / "content"), use_cache=False)


def _cases():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        k = load_kb(build_content(Path(d) / "content"), use_cache=False)
    return [pytest.param(fid, t, id=f"{fid}:{t.name}") for fid, f in k.flows.items() for t in f.tests]


@pytest.mark.parametrize("flow_id,script", _cases())
def test_answer_script_reaches_its_conclusion_by_its_path(kb, flow_id, script):
    s = Session(kb, flow_id, reading=script.reading or None, answers=script.answers)
    assert s.conclusion is not None, f"stopped at {s.next_step()}"
    assert s.conclusion.id == script.expect
    assert s.path_ids() == list(script.path)
    assert s.unused_answers() == []
    assert s.conclusion.citations and all(c in kb.sources for c in s.conclusion.citations)


def test_every_conclusion_of_every_flow_is_reached_by_a_script(kb):
    for fid, f in kb.flows.items():
        reached = {t.expect for t in f.tests}
        assert reached == {c.id for c in f.conclusions()}, fid


def test_kb_test_runs_the_flow_scripts(kb):
    from engine.kbtest import SUITES, run_all

    assert run_flow_tests in SUITES
    flow_results = [r for r in run_all(kb).results if r.kind == "flow"]
    assert len(flow_results) == sum(len(f.tests) for f in kb.flows.values())
    assert all(r.passed for r in flow_results), [r for r in flow_results if not r.passed]


def test_a_wrong_expectation_fails_with_a_reason(kb):
    f = kb.flows["cutout"]
    bad = f.tests[0].model_copy(update={"expect": "trip-thermal"})
    kb.flows["cutout"] = f.model_copy(update={"tests": [bad]})
    try:
        r = next(x for x in run_flow_tests(kb) if x.item == "cutout")
    finally:
        kb.flows["cutout"] = f
    assert not r.passed and "expected 'trip-thermal', got 'trip-overcurrent'" in r.detail


def test_checks_the_reading_answers_are_skipped_and_the_values_recorded(kb):
    s = start(kb, "cutout", reading=Reading.parse({"charge_fet": True, "regen_limit": 150, "charge_ocp": 100}))
    assert s.next_step().id == "when"
    s.answer("braking")  # the step asked now
    assert s.conclusion.id == "regen-over-charge-limit"
    auto = [e for e in s.path if e.auto]
    assert [e.step for e in auto] == ["braking-charge-fet", "braking-over-ocp"]
    assert auto[0].evidence == {"charge_fet": True} and auto[0].answer == "no"
    assert auto[1].evidence == {"max_regen": 150.0, "charge_ocp": 100.0} and auto[1].value is True


def test_a_check_the_reading_cannot_decide_is_asked(kb):
    s = start(kb, "cutout", reading={"regen_limit": 150})  # charge_ocp unknown
    s.answer("when", "braking").answer("braking-charge-fet", "no")
    p = s.next_step()
    assert p.id == "braking-over-ocp" and p.type == "yesno" and [o["value"] for o in p.options] == ["yes", "no"]


def test_the_riders_answer_wins_over_the_reading(kb):
    s = start(kb, "cutout", reading={"charge_fet": False}, answers={"when": "braking"})
    assert s.conclusion.id == "regen-no-path"
    s.answer("braking-charge-fet", "no")
    assert "regen-no-path" not in s.path_ids() and s.next_step().id == "braking-over-ocp"


def test_a_measure_step_is_answered_from_a_derived_reading_value(kb):
    s = start(kb, "no-wake", reading={"bms": "jk", "series": 20, "pack_voltage": 56.8}, answers={"jk-new": "no"})
    e = next(e for e in s.path if e.step == "jk-drained")
    assert e.auto and e.evidence == {"cell_mean": 2.84} and e.answer == "2.84 V"
    assert s.conclusion.id == "jk-low-wake"


def test_an_answer_to_a_field_step_feeds_later_checks(kb):
    # bal-delta fills cell_delta; the trigger check then compares it with the reading's balance trigger
    s = start(kb, "balancing", reading={"bms": "jk", "balance_trigger": 0.03})
    s.answer("bal-delta", 0.02)
    trig = next(e for e in s.path if e.step == "bal-trigger")
    assert trig.auto and trig.evidence == {"cell_delta": 0.02, "balance_trigger": 0.03}
    assert s.conclusion.id == "below-trigger"
    s.answer("bal-delta", "0.05 V")  # units are accepted when they are the step's unit
    assert s.next_step().id == "bal-active"


def test_answers_out_of_order_are_kept_until_the_walk_reaches_them(kb):
    s = start(kb, "hot-bms")
    s.answer("hot-jk", "yes")  # not asked yet
    assert s.next_step().id == "hot-what" and s.unused_answers() == ["hot-jk"]
    assert s.askable()[0].id == "hot-what" and "hot-jk" not in [p.id for p in s.askable()]
    s.answer("idle")
    assert s.conclusion.id == "jk-burn" and s.unused_answers() == []


def test_changing_an_earlier_answer_recomputes_everything_after_it(kb):
    s = start(kb, "cutout", answers={"when": "load", "load-over-limit": "no", "load-sag": "no", "load-hot": "yes"})
    assert s.conclusion.id == "trip-thermal"
    s.answer("when", "low")
    assert s.path_ids()[:2] == ["when", "low-ant"] and s.next_step().id == "low-ant"
    assert set(s.unused_answers()) == {"load-over-limit", "load-sag", "load-hot"}
    s.answer("when", "load")  # back again: the kept answers apply again
    assert s.conclusion.id == "trip-thermal"
    s.change("load-sag", "yes")
    assert s.conclusion.id == "trip-undervoltage-sag" and s.unused_answers() == ["load-hot"]
    s.change("load-sag", None)
    assert s.next_step().id == "load-sag"


def test_rewind_and_back(kb):
    s = start(kb, "controller-died", reading={"charge_fet": True}, answers={"died-when": "braking", "died-full": "no"})
    assert s.conclusion.id == "trip-design-failure"
    assert s.back() and s.next_step().id == "died-full"
    assert s.back() and s.next_step().id == "died-when"  # the reading's answer is not undone, the rider's is
    assert not s.back()
    s.answer("braking").answer("died-full", "yes")
    s.rewind(0)
    assert s.path == [] and s.answers == {}


def test_bad_answers_name_the_allowed_ones(kb):
    s = start(kb, "cutout")
    with pytest.raises(UserError, match="give load, braking, low, full"):
        s.answer("when", "sometimes")
    with pytest.raises(UserError, match="give yes or no"):
        s.answer("load-hot", "maybe")
    with pytest.raises(UserError, match="has no step 'wen'.*did you mean: when"):
        s.answer("wen", "load")
    with pytest.raises(UserError, match="is a conclusion"):
        s.answer("trip-thermal", "yes")
    e = start(kb, "external-battery")
    for bad in (151, -1, "lots", "90 V", True):
        with pytest.raises(UserError, match=r"give a number from 0 to 150 %"):
            e.answer("ext-capacity", bad)
    assert s.answers == {} and e.answers == {}
    with pytest.raises(UserError, match="no diagnosis flow 'cutuot'.*cutout"):
        start(kb, "cutuot")


def test_choice_answers_by_value_or_label(kb):
    s = start(kb, "cutout")
    s.answer("When The Battery Is Low")
    assert s.answers == {"when": "low"}


def test_why_names_the_flow_the_branches_and_the_conclusions_still_possible(kb):
    s = start(kb, "cutout", answers={"when": "braking"})
    why = s.why()
    assert "Scooter cuts out or goes dark mid-ride" in why
    assert "yes: can lead to 'Regen with the charge FET switched off'" in why
    assert "no: can lead to 'Regen current above the BMS's charge limit'" in why
    assert "[^4]" in why
    assert {c.id for c in s.possible()} == {"regen-no-path", "regen-over-charge-limit", "regen-over-voltage", "log-first-rides"}
    auto = start(kb, "cutout", reading={"charge_fet": False}, answers={"when": "braking"})
    assert "The reading answered it (charge_fet = false): yes." in auto.why("braking-charge-fet")
    assert "not on the current path" in s.why("low-dash")


def test_how_lists_the_path_with_the_readings_values_and_the_sources(kb):
    s = start(kb, "cutout", reading={"charge_fet": False, "regen_limit": 40}, answers={"when": "braking"})
    how = s.how()
    assert how.splitlines()[0] == "Concluded 'Regen with the charge FET switched off' (critical) in 'Scooter cuts out or goes dark mid-ride':"
    assert "1. When does it cut out? -> when braking or riding downhill" in how
    assert "-> yes (from the reading: charge_fet = false)" in how
    assert how.splitlines()[-1] == "Sources: [^4] [^6]"
    assert "Not concluded yet" in start(kb, "cutout").how()


def test_session_round_trips_as_plain_json(kb):
    s = start(kb, "balancing", reading={"bms": "daly", "cells": [4.10, 4.05, 4.12]})
    data = json.loads(json.dumps(s.to_json()))
    assert data["answers"] == {} and data["reading"]["cells"] == [4.10, 4.05, 4.12]
    again = Session.from_json(kb, data)
    assert again.path_ids() == s.path_ids() and again.conclusion.id == "daly-needs-voltage"
    half = start(kb, "cutout", answers={"when": "low"})
    restored = Session.from_json(kb, json.loads(json.dumps(half.to_json())))
    assert restored.next_step().id == "low-ant" and restored.answers == {"when": "low"}
    for bad in ([], {"answers": {}}, {"flow": "cutout", "answers": ["when"]}):
        with pytest.raises(UserError):
            Session.from_json(kb, bad)
    with pytest.raises(UserError, match="not an answer"):
        Session.from_json(kb, {"flow": "cutout", "answers": {"when": "never"}})


@pytest.mark.parametrize("text,flow", [
    ("my scooter cuts out when I brake hard", "cutout"),
    ("goes dark mid ride", "cutout"),
    ("fried the controller after the bms tripped", "controller-died"),
    ("the BMS will not wake up, no bluetooth", "no-wake"),
    ("cells not balancing and the delta keeps growing", "balancing"),
    ("bogus cell voltages after I repinned the harness", "bogus-cells"),
    ("battery percentage is wrong", "soc-wrong"),
    ("burning smell, burn marks on the bms", "hot-bms"),
    ("the app freezes and toggles misbehave", "app-firmware"),
    ("my external battery does not add range", "external-battery"),
    ("nuisance low voltage trips before the dash warns", "nuisance-trips"),
])
def test_symptoms_in_riders_words_find_their_flow(kb, text, flow):
    matches = match_symptom(kb, text)
    assert matches and matches[0].flow == flow, matches[:3]


def test_symptom_matching_ranks_and_gives_up_on_nonsense(kb):
    assert match_symptom(kb, "the the and") == []
    assert match_symptom(kb, "xylophone quantum") == []
    ms = match_symptom(kb, "cuts out", limit=3)
    assert len(ms) <= 3 and ms == sorted(ms, key=lambda m: -m.score)


def test_the_tui_adapter_drives_a_session(kb):
    from tui.screens.flowapi import Runner, flow_for, list_flows

    assert ("cutout", "Scooter cuts out or goes dark mid-ride") in list_flows(kb)
    r = Runner(kb, "cutout", Reading.parse({"charge_fet": False, "regen_limit": 30}))
    step = r.current()
    assert step["kind"] == "ask" and step["options"][1] == {"label": "when braking or riding downhill", "value": "braking"}
    r.answer(1)  # the second option, by index, as the screen does
    step = r.current()
    assert step["kind"] == "conclude" and step["question"] == "Regen with the charge FET switched off"
    assert step["citations"] == ["4", "6"] and step["remedy"]
    assert [p["auto"] for p in r.path()] == [False, True]
    report = r.report_markdown()
    assert "## Conclusion: Regen with the charge FET switched off (critical)" in report
    assert "- [^4] " in report and "(from the reading)" in report
    assert r.back() and r.current()["id"] == "when"
    assert "Not concluded" in r.report_markdown()

    class F:
        rule, citations = "no-such-rule", ["jk-trip"]
    assert flow_for(kb, F()) is not None
