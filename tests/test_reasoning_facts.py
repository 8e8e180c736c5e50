"""The reasoning layer from the user's side: what a technician infers from a reading, what is assumed and shown as
assumed, what is asked, and the maintainers' guards (basis for every number, mutation of every threshold)."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from engine.check import check, durable_engine_for, values_for
from engine.evaluate import rule_truth
from engine.facts import derive_facts
from engine.reading import Reading
from kb.errors import KBInvalid
from kb.load import CONTENT_DIR, load_kb
from tui.cli import main


@pytest.fixture(scope="module")
def kb():
    return load_kb()


def facts(data: dict, kb) -> dict:
    return derive_facts(Reading.parse(data), kb)


# ---------------------------------------------------------------- inference with provenance


def test_series_is_inferred_from_the_cell_count_and_says_so(kb):
    f = facts({"bms": "ant", "cells": [3.1] * 20}, kb)
    assert f["series"].value == 20 and f["series"].provenance == "inferred" and "20 cell" in f["series"].basis
    typed = facts({"series": 21, "cells": [3.1] * 20}, kb)
    assert typed["series"].value == 21 and typed["series"].provenance == "typed"


@pytest.mark.parametrize("data, chem", [
    ({"cells": [4.10, 4.11, 4.09]}, "li-ion"),                       # resting above where LFP can sit
    ({"series": 16, "charger_voltage": 58.4, "cells": [3.45, 3.44]}, "lifepo4"),  # 3.65 V per cell charger
    ({"series": 20, "charger_voltage": 84.0}, "li-ion"),
    ({"cell_ovp": 3.65}, "lifepo4"),
    ({"series": 10, "charger_voltage": 28.0}, "lto"),
])
def test_chemistry_is_inferred_from_voltages_and_chargers(kb, data, chem):
    f = facts(data, kb)
    assert f["chemistry"].value == chem and f["chemistry"].provenance == "inferred"
    assert f["chemistry_ambiguous"].value is False


def test_flat_mid_voltages_leave_the_chemistry_open_and_it_is_asked_first(kb):
    reading = Reading.parse({"cells": [3.25] * 16, "state": "idle"})
    rep = check(reading, kb=kb)
    assert "chemistry" not in rep.facts and rep.facts["chemistry_ambiguous"].value is True
    assert rep.questions and rep.questions[0].field == "chemistry"


def test_lfp_pack_gets_no_li_ion_charger_or_voltage_advice(kb):
    rep = check(Reading.parse({"series": 16, "charger_voltage": 58.4, "cells": [3.45] * 16}), kb=kb)
    text = " ".join(f.message + " ".join(f.remedy) for f in rep.findings)
    assert "4.2" not in text and "fewer cells" not in text
    assert not [f for f in rep.findings if f.severity in ("warning", "critical")]


@pytest.mark.parametrize("data, possible", [
    ({"state": "riding", "current": -25}, True),          # riding: scooter controllers regen unless turned off
    ({"controller": "vesc", "state": "idle"}, True),      # a regen-capable controller, even parked
    ({"state": "riding", "regen_limit": 0}, False),       # the rider turned regen off
    ({"state": "idle"}, None),                            # nothing says: unknown, so it is asked
])
def test_regen_possible(kb, data, possible):
    f = facts(data, kb)
    assert (f["regen_possible"].value if "regen_possible" in f else None) is possible


def test_handbook_defaults_are_used_and_shown_as_assumed(kb):
    rep = check(Reading.parse({"bms": "daly", "cells": [4.12, 4.05, 4.10, 4.11]}), kb=kb)
    f = next(f for f in rep.findings if f.rule == "balance.daly-waits-for-full")
    assert f.provenance["balance_start"] == "assumed"
    assert any("assumed 4.18" in a and "[^7]" in a for a in f.assumed)
    # an assumed value is not 'known': the flag the known()/unknown() tests read says so
    vals = values_for(Reading.parse({"bms": "jk", "cells": [4.1, 4.2]}), kb)
    assert vals["balance_trigger"] == 0.015 and vals.get("known__balance_trigger", False) is False


@pytest.mark.parametrize("cells, root", [
    ([-3.71, 3.70, 3.71, 3.69], "wiring.reversed-sense-pair"),
    ([3.70, 0.00, 7.40, 3.70], "wiring.lead-on-wrong-tap"),
    ([3.90, 3.90, 3.72, 4.08, 3.90, 3.90], "wiring.shifted-tap"),
])
def test_sense_lead_patterns_tell_one_story_and_never_advise_new_cells(kb, cells, root):
    rep = check(Reading.parse({"cells": cells, "state": "idle"}), kb=kb)
    roots = rep.root_findings()
    assert roots[0].rule == root or root in {f.rule for f in roots}
    shown = json.dumps(rep.to_json()["findings"])
    assert "replace" not in shown.lower() or "do not replace" in shown.lower()
    assert all(f.explained_by for f in rep.findings if f.rule.startswith("balance.spread"))


def test_over_a_limit_is_never_called_within_it(kb):
    rep = check(Reading.parse({"state": "riding", "current": -5, "cells": [4.536, 3.95, 3.94], "cell_ovp": 4.25}),
                kb=kb)
    assert all("within" not in f.message for f in rep.findings)


def test_check_json_carries_facts_with_provenance_and_ranked_questions(kb, capsys, tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("bms: jk\nstate: idle\ncharge_fet: off\ncells: 3.95 3.96 3.95\n")
    assert main(["check", str(p), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["facts"]["series"] == {"value": 3, "provenance": "inferred", "basis": "from the 3 cell voltages"}
    assert doc["facts"]["charge_fet"]["provenance"] == "measured"
    q = doc["questions"][0]
    assert q["severity"] == "critical" and "fet.charge-off-with-regen" in q["rules"] and q["ask"] and q["how"]


# ---------------------------------------------------------------- the differential test over derived facts


def _random_reading(rng: random.Random) -> dict:
    n = rng.choice([4, 13, 16, 20])
    base = rng.choice([3.3, 3.7, 4.0, 4.15])
    cells = [round(base + rng.uniform(-0.05, 0.05), 3) for _ in range(n)]
    if rng.random() < 0.2:
        cells[rng.randrange(n)] = rng.choice([0.0, -3.7, 7.4, 3.0])
    data = {"cells": cells}
    for name, choices in (("bms", ["jk", "ant", "jbd", "daly", "charge-only"]),
                          ("state", ["riding", "idle", "charging", "storage"]),
                          ("charge_fet", [True, False]), ("discharge_fet", [True, False]),
                          ("controller", ["vesc", "spintend", "stock"]), ("goal", ["longevity", "range"]),
                          ("chemistry", ["li-ion", "lifepo4"])):
        if rng.random() < 0.5:
            data[name] = rng.choice(choices)
    for name, lo, hi in (("current", -80, 20), ("mos_temp", 20, 95), ("regen_limit", 0, 150),
                         ("charger_voltage", 50, 90), ("cell_ovp", 3.6, 4.3), ("balance_trigger", 0.005, 0.05),
                         ("battery_limit", 20, 120), ("charge_ocp", 10, 100), ("days_idle", 0, 40)):
        if rng.random() < 0.35:
            data[name] = round(rng.uniform(lo, hi), 3)
    return data


def test_durable_rules_and_the_evaluator_agree_on_derived_facts(kb):
    eng = durable_engine_for(kb)
    if isinstance(eng, str):
        pytest.skip(eng)
    rng = random.Random(11)
    for _ in range(300):
        reading = Reading.parse(_random_reading(rng))
        values = values_for(reading, kb)
        want = {rid for rid, lr in kb.rules.items() if rule_truth(lr.rule.scope, lr.tree, values) is True}
        got = eng.fired(values) | {r for r in eng.evaluator_only if r in want}
        assert got == want, reading.given()


# ---------------------------------------------------------------- maintainers' guards


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, dst)
    return dst


def test_kb_validate_rejects_a_number_without_a_basis(tmp_path):
    root = _copy(tmp_path)
    f = root / "rules" / "thermal.yaml"
    f.write_text(f.read_text().replace('    basis: {ours: [90]}\n', '', 1))
    with pytest.raises(KBInvalid) as e:
        load_kb(root, use_cache=False)
    assert any("90" in p.message and "basis" in p.message for p in e.value.problems)


def test_kb_test_mutate_finds_a_threshold_no_test_guards(tmp_path, capsys):
    assert main(["kb", "test", "--mutate", "--engine", "evaluator"]) == 0
    assert "0 unguarded" in capsys.readouterr().out
    root = _copy(tmp_path)
    f = root / "rules" / "current.yaml"
    text = f.read_text()
    assert '      - {name: "125 A fires", fires: true, boundary: true, reading: {regen_limit: 125}}\n' in text
    f.write_text(text.replace('      - {name: "125 A fires", fires: true, boundary: true, reading: {regen_limit: 125}}\n', ""))
    assert main(["kb", "test", str(root), "--mutate", "--engine", "evaluator"]) == 1
    out = capsys.readouterr().out
    assert "UNGUARDED regen.above-community-cap: 120 -> 126" in out


def test_kb_diff_exits_1_when_the_version_is_not_bumped_enough(tmp_path, capsys):
    old, new = _copy(tmp_path / "a"), _copy(tmp_path / "b")
    f = new / "rules" / "current.yaml"
    text = f.read_text()
    start = text.index("  - id: regen.above-community-cap")
    block = text[start:].replace('when: "max_regen > 120"', 'when: "max_regen > 100"', 1) \
        .replace("basis: {handbook: [120]}", "basis: {handbook: [120, 100]}", 1)
    block = block.replace("version: 2", "version: 3", 1)  # the rule's own version moves with its logic
    f.write_text(text[:start] + block)
    assert main(["kb", "diff", str(old), str(new)]) == 1  # a rule's logic changed, kb_version did not move
    assert "major change (the new kb_version is not bumped enough)" in capsys.readouterr().out
    m = new / "manifest.yaml"
    text = m.read_text()
    major = int(text.split("kb_version:", 1)[1].split(".")[0].strip().strip('"'))
    import re

    m.write_text(re.sub(r'kb_version: *"?[0-9.]+"?', f'kb_version: "{major + 1}.0.0"', text, count=1))
    assert main(["kb", "diff", str(old), str(new)]) == 0


def test_a_deprecated_rule_is_never_run(tmp_path):
    root = _copy(tmp_path)
    f = root / "rules" / "current.yaml"
    text = f.read_text()
    start = text.index("  - id: regen.above-community-cap")
    f.write_text(text[:start] + text[start:].replace("status: stable", "status: deprecated", 1))
    kb2 = load_kb(root, use_cache=False)
    rep = check(Reading.parse({"regen_limit": 150}), kb=kb2)
    assert "regen.above-community-cap" not in {x.rule for x in rep.findings}
