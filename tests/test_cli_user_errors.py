"""Issue 16, the command line as users type it: a symptom nothing matches, an empty history, a bad address."""

import pytest

from tui.cli import main


@pytest.mark.parametrize("symptom", ["my cat ate the bms", "the bms got wet", "my dog chewed the battery"])
def test_diagnose_a_symptom_no_flow_knows_lists_the_symptoms_and_exits_2(symptom, capsys):
    rc = main(["diagnose", symptom])
    out = capsys.readouterr()
    assert rc == 2 and out.out == ""  # no flow started: no question printed
    err = out.err.strip()
    assert len(err.splitlines()) == 1
    assert f"no diagnosis flow matches '{symptom}'" in err
    assert "hot-bms (BMS runs hot" in err and "cutout (" in err  # the symptoms it knows, by id and title


@pytest.mark.parametrize("symptom,flow", [("the bms is hot", "hot-bms"), ("bms runs hot", "hot-bms"),
                                          ("no bluetooth", "no-wake"), ("cuts out when braking", "cutout")])
def test_a_real_symptom_still_finds_its_flow(symptom, flow):
    from engine.flows import match_symptom
    from kb.load import load_kb

    ms = match_symptom(load_kb(), symptom)
    assert ms and ms[0].flow == flow


def test_generic_words_alone_match_no_flow():
    from engine.flows import generic_words, match_symptom
    from kb.load import load_kb

    kb = load_kb()
    assert {"bms", "battery"} <= generic_words(kb)
    assert match_symptom(kb, "my cat ate the bms") == []


def test_history_with_nothing_recorded_is_a_friendly_line_and_exit_0(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BMSDOC_DATA_DIR", str(tmp_path))
    assert main(["history"]) == 0
    out = capsys.readouterr()
    assert "no recorded sessions yet" in out.out and out.err == ""
    assert main(["history", "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
    assert not (tmp_path / "sessions.sqlite").exists()  # listing does not create the store


def test_history_of_a_database_that_is_not_there_is_still_an_error(tmp_path, capsys):
    assert main(["history", "--db", str(tmp_path / "nope.sqlite")]) == 2
    assert "no recordings at" in capsys.readouterr().err


@pytest.mark.parametrize("address", ["AA:BB", "C8:47:8C:10:20", "ZZ:47:8C:10:20:30", "hello", "C8:47:8C:10:20:30:40"])
def test_watch_a_bad_address_says_so_not_bluetooth_unavailable(address, capsys):
    with pytest.raises(SystemExit) as e:
        main(["watch", address])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "is not a Bluetooth address" in err and "Bluetooth is not available" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("address,canon", [("c8:47:8c:10:20:30", "C8:47:8C:10:20:30"),
                                           ("C8-47-8C-10-20-30", "C8:47:8C:10:20:30"),
                                           ("0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d", "0A1B2C3D-4E5F-6A7B-8C9D-0E1F2A3B4C5D")])
def test_good_addresses_are_accepted(address, canon):
    from tui.commands.argtypes import bluetooth_address

    assert bluetooth_address(address) == canon


def test_checklist_taps_without_the_series_are_not_confirmed_nor_done(tmp_path, monkeypatch, capsys):
    import json

    monkeypatch.setenv("BMSDOC_DATA_DIR", str(tmp_path))
    assert main(["checklist", "--taps", "sense-leads=0,3.6,7.2"]) == 0
    out = capsys.readouterr().out
    assert "lead order is right" not in out and out.startswith("not confirmed:") and "series" in out
    assert main(["checklist", "--json"]) == 0
    step = next(s for s in json.loads(capsys.readouterr().out)["steps"] if s["id"] == "sense-leads")
    assert step["status"] != "done" and step["taps"] == [0, 3.6, 7.2]
    # with the pack's series the same three taps confirm a 2S pack; on a 20S pack they are not enough
    assert main(["checklist", "--series", "2S", "--taps", "sense-leads=0,3.6,7.2"]) == 0
    assert "lead order is right" in capsys.readouterr().out
    assert main(["checklist", "--series", "20", "--taps", "sense-leads=0 3.6 7.2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("not confirmed:") and "21 taps" in out
    assert main(["checklist", "--json"]) == 0
    step = next(s for s in json.loads(capsys.readouterr().out)["steps"] if s["id"] == "sense-leads")
    assert step["status"] == "pending"  # a done step measured again without confirmation is open again
