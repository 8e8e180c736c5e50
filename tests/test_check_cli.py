"""`bmsdoc check` end to end: findings by severity with evidence and citations, --json, and garbage in -> exit 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.check import check, durable_engine_for
from engine.reading import Reading
from kb.expr import parse
from kb.load import LoadedRule
from kb.schema import Rule

ROOT = Path(__file__).resolve().parent.parent
READINGS = Path(__file__).resolve().parent / "fixtures" / "readings"


def _rule(rid, when, severity, citations, families=(), message="", title=None, tests=None):
    rule = Rule.model_validate({
        "id": rid, "version": 1, "status": "stable", "title": title or rid, "severity": severity,
        "section": "regen", "scope": {"families": list(families)}, "when": when,
        "message": message or f"{rid} fired", "remedy": ["Do the first thing.", "Then the second."],
        "citations": list(citations),
        "tests": tests or [{"name": "a", "reading": {}, "fires": True}, {"name": "b", "reading": {}, "fires": False}],
    })
    return LoadedRule(rule=rule, tree=parse(when), doc="rules/test.yaml", line=1, fingerprint="x")


class FakeKB:
    """The slice of kb.load.KB that check() reads: rules and a version."""

    kb_version = "0.0.1-test"
    questions: dict = {}  # no question texts in content: the questions use the fields' own words

    def __init__(self):
        rules = [
            _rule("regen-charge-fet-off", "charge_fet == false and max_regen > 0", "critical", ["4", "6"],
                  families=["jk"], title="Charge FET off while regen can flow",
                  message="The charge FET is off while regen of {max_regen:.0f} A can flow."),
            _rule("cell-imbalance", "cell_delta > 0.03", "warning", ["9"], message="Cells {cell_delta:.3f} V apart."),
            _rule("fet-off-idle", "discharge_fet == false", "warning", ["ant-cutoff"]),
            _rule("hot-mosfet", "mos_temp > 70", "critical", ["12"]),
            _rule("soc-info", "soc < 20", "info", ["3"]),
            _rule("uvp-vs-dash", "cell_uvp >= dash_low_warning", "warning", ["7"]),
        ]
        self.rules = {r.rule.id: r for r in rules}


@pytest.fixture
def fake_kb(monkeypatch):
    import kb.load as loader

    fake = FakeKB()
    monkeypatch.setattr(loader, "load_kb", lambda root=None, **kw: fake)
    return fake


def test_jk_charge_fet_off_with_regen_is_critical_and_cites_4(fake_kb, bmsdoc):
    code, out, err = bmsdoc("check", READINGS / "jk_charge_fet_off_regen.json")
    assert code == 0, err
    critical = out.split("\nCRITICAL\n")[1].split("\nWARNING\n")[0]
    assert "Charge FET off while regen can flow  [regen-charge-fet-off]" in critical
    assert "The charge FET is off while regen of 30 A can flow." in critical
    assert "Evidence: bms = jk, charge_fet = false, max_regen = 30" in critical
    assert "1. Enable" not in critical and "1. Do the first thing." in critical
    assert "Sources: [^4] [^6]" in critical
    assert "1 critical, 0 warning, 0 info" in out


def test_json_output_has_the_contract_fields(fake_kb, bmsdoc):
    code, out, _ = bmsdoc("check", READINGS / "jk_charge_fet_off_regen.json", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["kb_version"] == "0.0.1-test" and doc["engine"] == "durable-rules"
    assert doc["reading"]["bms"] == "jk" and doc["reading"]["cell_delta"] == pytest.approx(0.004)
    (f,) = doc["findings"]
    assert f["rule"] == "regen-charge-fet-off" and f["severity"] == "critical" and f["citations"] == ["4", "6"]
    assert f["evidence"] == {"bms": "jk", "charge_fet": False, "max_regen": 30.0}
    assert f["remedy"] == ["Do the first thing.", "Then the second."]
    assert f["explanation"][0] == "scope: bms 'jk' in [jk]"
    not_checked = {n["rule"]: n["missing"] for n in doc["not_checked"]}
    assert not_checked == {"soc-info": ["soc"], "uvp-vs-dash": ["cell_uvp", "dash_low_warning"]}


@pytest.mark.parametrize("name", ["healthy_rested.json", "healthy_rested.yaml"])
def test_healthy_rested_pack_gives_no_warning_or_critical(fake_kb, bmsdoc, name):
    code, out, _ = bmsdoc("check", READINGS / name, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["findings"] == []
    assert doc["reading"]["cells"][0] == 3.95 and doc["reading"]["charge_fet"] is True


def test_missing_facts_become_ranked_questions_not_a_field_list(fake_kb, bmsdoc, tmp_path):
    """A charge FET seen off, nothing else: what decides the critical rule (which BMS, how much regen) is asked
    first, with why and how to read it; no 'Could not check N rules; give: ...' dump."""
    p = tmp_path / "r.json"
    p.write_text('{"charge_fet": false}')
    code, out, _ = bmsdoc("check", p)
    assert code == 0
    assert "Could not check" not in out
    assert "No warning or critical findings." in out
    asked = out.split("To check further, tell me (most decisive first):", 1)[1]
    first = asked.strip().splitlines()[0]
    assert first.startswith("1. ") and "[could reveal: critical]" in first
    _, out, _ = bmsdoc("check", p, "--json")
    qs = json.loads(out)["questions"]
    assert qs[0]["severity"] == "critical" and "regen-charge-fet-off" in qs[0]["rules"]
    assert {q["field"] for q in qs[:2]} <= {"bms", "regen_limit", "controller", "state"}


def test_flags_override_the_file_and_stdin_works(fake_kb, bmsdoc, monkeypatch, tmp_path):
    import io

    p = tmp_path / "r.yaml"
    p.write_text("family: ANT\ncharge_fet: off\nregen: 40\n")
    _, out, _ = bmsdoc("check", p, "--json")
    assert json.loads(out)["findings"] == []  # ANT: the JK rule is out of scope
    _, out, _ = bmsdoc("check", p, "--json", "--bms", "jikong", "--series", "20S")
    doc = json.loads(out)
    assert [f["rule"] for f in doc["findings"]] == ["regen-charge-fet-off"] and doc["reading"]["series"] == 20

    class Stdin(io.TextIOWrapper):
        def isatty(self):
            return False

    monkeypatch.setattr(sys, "stdin", Stdin(io.BytesIO(b'{"bms": "jk", "charge_fet": false, "regen_limit": 5}')))
    code, out, _ = bmsdoc("check", "-", "--explain")
    assert code == 0
    assert "  Why:\n    scope: bms 'jk' in [jk]\n    charge_fet false == false -> true\n    max_regen 5 > 0 -> true\n" in out


def test_both_engines_and_the_fallback_agree(fake_kb, monkeypatch):
    reading = Reading.parse(json.loads((READINGS / "jk_charge_fet_off_regen.json").read_text()) | {"mos_temp": 80})
    a = check(reading, kb=fake_kb)
    b = check(reading, kb=fake_kb, engine="evaluator")
    assert a.engine == "durable-rules" and b.engine == "evaluator"
    assert [f.to_json() for f in a.sorted_findings()] == [f.to_json() for f in b.sorted_findings()]
    assert {f.rule for f in a.findings} == {"regen-charge-fet-off", "hot-mosfet"}
    assert durable_engine_for(fake_kb) is durable_engine_for(fake_kb)  # compiled once per KB

    import engine.check
    import engine.durable

    # where durable-rules cannot be imported (Python 3.13+): the evaluator, and the report says so
    monkeypatch.setattr(engine.durable, "_IMPORT_ERROR", "durable-rules is not available (ImportError: test)")
    monkeypatch.setattr(engine.check, "_CACHE", {})
    c = check(reading, kb=fake_kb)
    assert c.engine == "evaluator" and "not available" in c.notes[0]
    assert {f.rule for f in c.findings} == {f.rule for f in a.findings}


# ---------------------------------------------------------------- garbage in: one line, exit 2, no traceback

GARBAGE = {
    "binary.bin": "binary",
    "empty.json": "empty",
    "list.json": "not a list",
    "nan.json": "NaN",
    "cell_1e9.json": "implausible",
    "unknown_family.json": "unknown BMS family 'tesla'",
    "unknown_field.json": "unknown field 'cell_voltagez'",
}


def _cli(*args, stdin=b""):
    return subprocess.run([sys.executable, "-m", "tui.cli", "check", *args], input=stdin, capture_output=True,
                          cwd=ROOT, timeout=60)


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_files_exit_2_with_one_line(name):
    r = _cli(str(READINGS / name))
    err = r.stderr.decode()
    assert r.returncode == 2 and r.stdout == b""
    assert err.count("\n") == 1 and err.startswith("bmsdoc: error: ") and GARBAGE[name] in err, err


@pytest.mark.parametrize("stdin", [b"", b"   \n", b"\xff\xfe\x00x", b"[1, 2]", b'{"cells": [3.9, Infinity]}',
                                   b"{not json", b"just some words", b'{"id": 3}', b"cells: [3.9, 1e9]",
                                   b'{"cells": "abc"}', b"- a\n- b\n", b"{" * 5000])
def test_garbage_on_stdin_exits_2_with_one_line(stdin):
    r = _cli("-", stdin=stdin)
    err = r.stderr.decode()
    assert r.returncode == 2 and err.count("\n") == 1 and err.startswith("bmsdoc: error: "), err
    assert "Traceback" not in err


def test_missing_file_and_bad_flags_exit_2():
    assert _cli(str(READINGS / "nope.json")).returncode == 2
    r = _cli(str(READINGS / "healthy_rested.json"), "--series", "99")
    assert r.returncode == 2 and b"out of range" in r.stderr
    r = _cli(str(READINGS / "healthy_rested.json"), "--bms", "tesla")
    assert r.returncode == 2 and r.stderr.decode().count("\n") == 1


# ---------------------------------------------------------------- the shipped knowledge base


def test_real_kb_jk_charge_fet_off_with_regen_is_critical_citing_4(kb):
    r = _cli(str(READINGS / "jk_charge_fet_off_regen.json"), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["kb_version"] == kb.kb_version
    assert any(f["severity"] == "critical" and "4" in f["citations"] for f in doc["findings"]), doc["findings"]


@pytest.mark.parametrize("name", ["healthy_rested.json", "healthy_rested.yaml"])
def test_real_kb_healthy_rested_pack_has_no_warning_or_critical(name, kb):
    r = _cli(str(READINGS / name), "--json")
    assert r.returncode == 0, r.stderr
    bad = [f for f in json.loads(r.stdout)["findings"] if f["severity"] in ("warning", "critical")]
    assert bad == []


def test_pasted_screen_goes_through_the_paste_parsers(fake_kb, bmsdoc, monkeypatch):
    import io

    class Stdin(io.TextIOWrapper):
        def isatty(self):
            return False

    text = b"Cell 1: 3.92\nCell 2: 3.95\nCell 3: 3.91\nbms: jk\ncharge_fet: off\nregen_limit: 40\n"
    monkeypatch.setattr(sys, "stdin", Stdin(io.BytesIO(text)))
    code, out, _ = bmsdoc("check", "-", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["reading"]["cells"] == [3.92, 3.95, 3.91] and doc["notes"]
    assert {f["rule"] for f in doc["findings"]} == {"regen-charge-fet-off", "cell-imbalance"}  # delta 0.04 V
